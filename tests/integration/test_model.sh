#!/bin/bash
# Models end to end against the real engine, the real daemon and the real
# serving image (cassiny/model-server:bookworm): scikit-learn models trained
# in the image on iris are served behind the gateway; a request loop runs
# through a rollout v1 -> v2, a broken v3, a replica killed behind the
# daemon's back and a rollback, and must see no failed request; the run
# records the artifact's sha256; delete leaves the gateway answering 503.
set -u
build=$1
src=$2
SUITE=model
. "$src/tests/integration/lib.sh"
IMAGE=${CASS_MODEL_IMAGE:-cassiny/model-server:bookworm}
WORK=$(mktemp -d /tmp/cassiny-model.XXXXXX)
NAME=iris-$$
LOOP_PID=
cleanup() {
    [ -n "$LOOP_PID" ] && kill "$LOOP_PID" 2>/dev/null && wait "$LOOP_PID" 2>/dev/null
    stop_daemon
    if [ "$failed" -gt 0 ] && [ -d "$build/tests/integration" ]; then
        # Kept for a look: the daemon's whole log and every request of the loop.
        cp "$WORK/cassinyd.log" "$build/tests/integration/model-cassinyd.log" 2>/dev/null
        cp "$WORK/loop.log" "$build/tests/integration/model-requests.log" 2>/dev/null
    fi
    cleanup_daemon
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.name=$NAME") >/dev/null 2>&1
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.test=$NAME") >/dev/null 2>&1
    true
}
trap cleanup EXIT
jqe() { jq -e "$@" >/dev/null; }
section() { echo "# $* (at ${SECONDS}s)"; }

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    not_ok "image $IMAGE is present (build it with packaging/images/build-model-server-image.sh)"
    summary
    exit 1
fi
write_config # its gateway takes a free port (port 0)
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon starts"; summary; exit 1; }

# --- artifacts: trained inside the serving image, as the example says
M="$WORK/data/models"
mkdir -p "$M/v1" "$M/v2" "$M/v3"
chmod -R a+rwx "$M"
in_image() { # in_image CMD...: the serving image as uid 1000, the models at /out, the example at /src
    docker run --rm -u 1000 --network none --label "io.cassiny.test=$NAME" -v "$M:/out" \
        -v "$src/examples/iris:/src:ro" "$IMAGE" "$@"
}
in_image python3 /src/train.py --out /out/v1 --model logreg >/dev/null
in_image python3 /src/train.py --out /out/v2 --model forest --estimators 10 --max-depth 2 >/dev/null
echo "this is not a model" >"$M/v3/model.joblib"
check "v1 and v2 artifacts are trained in the image" test -s "$M/v1/model.joblib" -a -s "$M/v2/model.joblib"

# The request every check sends: six flowers, some near the class borders.
cat >"$WORK/req.json" <<'JSON'
{"id": "t", "inputs": [{"name": "input-0", "shape": [6, 4], "datatype": "FP64",
 "data": [5.1, 3.5, 1.4, 0.2, 6.0, 2.7, 5.1, 1.6, 6.3, 2.8, 5.1, 1.5,
          5.9, 3.0, 4.2, 1.5, 6.7, 3.0, 5.2, 2.3, 4.9, 2.5, 4.5, 1.7]}],
 "outputs": [{"name": "predict"}, {"name": "predict_proba"}]}
JSON
# What each model predicts locally, in the same image: {"v1": {predict, predict_proba}, ...}
cp "$WORK/req.json" "$M/req.json"
in_image python3 -c '
import json, joblib, numpy as np
req = json.load(open("/out/req.json"))
x = np.asarray(req["inputs"][0]["data"], dtype="float64").reshape(req["inputs"][0]["shape"])
out = {}
for v in ("v1", "v2"):
    m = joblib.load("/out/%s/model.joblib" % v)
    out[v] = {"predict": np.asarray(m.predict(x)).ravel().tolist(),
              "predict_proba": np.asarray(m.predict_proba(x)).ravel().tolist()}
print(json.dumps(out))' >"$WORK/local.json"
check "the models predict locally" jqe '.v1.predict | length == 6' "$WORK/local.json"
check "v1 and v2 are different models" jqe '.v1.predict_proba != .v2.predict_proba' "$WORK/local.json"

spec() { # spec VERSION ARTIFACT [extra spec lines]
    printf 'apiVersion: cassiny/v1\nkind: Model\nmetadata: {name: %s}\nspec:\n  image: %s\n  artifact: %s\n  version: %s\n  replicas: 2\n  resources: {cpus: 500m, memory: 512Mi}\n%s' \
        "$NAME" "$IMAGE" "$2" "$1" "${3:-}"
}
run_field() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1" | jq -r "$2"; }
replicas() { # replicas [RUN]: running containers of the model (of RUN if given)
    docker ps -q --filter "label=io.cassiny.name=$NAME" ${1:+--filter "label=io.cassiny.run=$1"} \
        --filter status=running | wc -l
}
GW_BASE=$(curl -s --unix-socket "$SOCK" http://localhost/v1/version | jq -r .gateway)
check "/v1/version names the gateway (port 0: the system's choice)" \
    grep -qE '^http://127\.0\.0\.1:[1-9][0-9]*/models/$' <<<"$GW_BASE"
GW="${GW_BASE}$NAME"
INFER="$GW/v2/models/$NAME/infer"
infer() { # infer OUTFILE: one inference through the gateway; prints "STATUS VERSION REPLICA"
    curl -s -o "$1" -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/req.json" \
        --max-time 10 -w '%{http_code} %header{cassiny-model-version} %header{cassiny-replica}' "$INFER"
}
matches() { # matches BODY VERSION: the gateway's answer is what that model predicts locally
    jq -e --slurpfile l "$WORK/local.json" --arg v "$2" \
        '[.outputs[] | {(.name): .data}] | add == $l[0][$v]' "$1" >/dev/null
}

# The request loop: one inference at a time through the gateway until the
# stop file appears (and at most 150 s), one line per request:
# "STATUS VERSION REPLICA".
start_loop() {
    rm -f "$WORK/stop"
    : >"$WORK/loop.log"
    (
        end=$(($(date +%s) + 150))
        while [ ! -e "$WORK/stop" ] && [ "$(date +%s)" -lt $end ]; do
            curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
                --data-binary @"$WORK/req.json" --max-time 10 \
                -w '%{http_code} %header{cassiny-model-version} %header{cassiny-replica}\n' \
                "$INFER" >>"$WORK/loop.log"
        done
    ) &
    LOOP_PID=$!
}
stop_loop() {
    touch "$WORK/stop"
    wait "$LOOP_PID" 2>/dev/null
    LOOP_PID=
}
lines() { wc -l <"$WORK/loop.log"; }
failures() { # failures [FROM_LINE]: requests that did not get a 2xx (shown on stderr)
    tail -n +"${1:-1}" "$WORK/loop.log" | awk '$1 !~ /^2/ {n++; if (n <= 5) print "#   " $0 >"/dev/stderr"} END {print n + 0}'
}
versions() { # versions [FROM_LINE]: the distinct versions, in order of first answer
    tail -n +"${1:-1}" "$WORK/loop.log" | awk '!seen[$2]++ {printf "%s%s", sep, $2; sep=" "}'
}
wait_for() { # wait_for SECONDS 'SHELL CONDITION': polls until it holds (evaluated each time)
    local end=$(($(date +%s) + $1))
    until eval "$2"; do
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.2
    done
}

# --- v1: two replicas behind the gateway
section "v1: two replicas behind the gateway"
t0=$(date +%s%N)
code=$(apply_yaml "$(spec v1 "$M/v1/model.joblib")")
check "apply v1 answers 202" test "$code" = 202
RUN1=$(jq -r '.specs[0].run.id' "$WORK/body")
st=$(wait_run "$RUN1" 60 ready)
check "v1 becomes ready (got $st in $((($(date +%s%N) - t0) / 1000000)) ms)" test "$st" = ready
check "the run's URL is the model's gateway URL" test "$(run_field "$RUN1" .url)" = "$GW/"
check "two replicas run" test "$(replicas "$RUN1")" = 2
sha1=$(sha256sum "$M/v1/model.joblib" | cut -d' ' -f1)
check "the run records the artifact's sha256 (= sha256sum)" \
    test "$(run_field "$RUN1" '.artifacts[0].sha256')" = "$sha1"
check "and its path" test "$(run_field "$RUN1" '.artifacts[0].path')" = "$M/v1/model.joblib"
CID=$(run_field "$RUN1" '.containers[0]')
# The source the engine got is the artifact pinned at launch (a bind mount
# of it in the state directory's pins, docs/security.md), or the artifact's
# own path where the daemon cannot pin; either way the very file is there.
mnt=$(docker inspect --format '{{range .Mounts}}{{if eq .Destination "/model/model.joblib"}}{{.RW}} {{.Source}}{{end}}{{end}}' "$CID")
check "the artifact is mounted read-only at /model/model.joblib, pinned ($mnt)" \
    bash -c 'case $1 in "false $2/state/pins/"* | "false $3") exit 0 ;; *) exit 1 ;; esac' _ "$mnt" "$WORK" "$M/v1/model.joblib"
check "and it is the artifact that was hashed" \
    test "$(docker exec "$CID" sha256sum /model/model.joblib | cut -d' ' -f1)" = "$sha1"
check "the replica is labelled" \
    test "$(docker inspect --format '{{index .Config.Labels "io.cassiny.kind"}} {{index .Config.Labels "io.cassiny.run"}}' "$CID")" = "Model $RUN1"
check "its port is published on loopback only" \
    grep -qE '^127\.0\.0\.1:[0-9]+$' <<<"$(docker port "$CID" 8080 | head -n1)"
check "the server gets name and version" \
    grep -q "CASSINY_MODEL_VERSION=v1" <<<"$(docker inspect --format '{{join .Config.Env " "}}' "$CID")"

out=$(infer "$WORK/r1.json")
check "infer through the gateway answers 200 from v1 ($out)" grep -q '^200 v1 [0-9a-f]' <<<"$out"
check "with what v1 predicts locally" matches "$WORK/r1.json" v1
check "the body names the version" jqe '.model_version == "v1" and .model_name == "'"$NAME"'"' "$WORK/r1.json"
reps=$(for i in 1 2 3 4; do infer /dev/null | cut -d' ' -f3; done | sort -u | grep -c .)
check "round robin: four requests reach both replicas" test "$reps" = 2
code=$(curl -s -o "$WORK/meta.json" -w '%{http_code}' "$GW/v2/models/$NAME")
check "GET metadata through the gateway" test "$code" = 200
code=$(curl -s -o "$WORK/p.json" -w '%{http_code}' "${GW_BASE%/models/}/other")
check "the gateway answers 404 outside /models/" test "$code" = 404

# --- v1 -> v2 under a request loop
section "v1 -> v2 under a request loop"
start_loop
wait_for 20 '[ "$(lines)" -ge 5 ]'
code=$(apply_yaml "$(spec v2 "$M/v2/model.joblib")")
RUN2=$(jq -r '.specs[0].run.id' "$WORK/body")
check "apply v2 answers 202 with a new run" test "$code" = 202 -a "$RUN2" != "$RUN1"
st=$(wait_run "$RUN2" 90 ready)
mark=$(($(lines) + 2))
check "v2 becomes ready" test "$st" = ready
wait_for 20 '[ "$(lines)" -ge $((mark + 10)) ]'
check "v1's run is stopped, replaced" test "$(run_field "$RUN1" .status)" = stopped
curl -s --unix-socket "$SOCK" -o "$WORK/v1.log" "http://localhost/v1/runs/$RUN1/logs"
check "v1's kept log holds both replicas' output ($(grep -c 'listening on' "$WORK/v1.log") starts, $(grep -c '^\[cassiny: the output of container' "$WORK/v1.log") second container)" \
    test "$(grep -c 'listening on' "$WORK/v1.log") $(grep -c '^\[cassiny: the output of container [0-9a-f]\{12\} follows\]$' "$WORK/v1.log")" = "2 1"
check "two v2 replicas run and no v1" test "$(replicas "$RUN2") $(replicas)" = "2 2"
n=$(lines)
check "no failed request in $n during the rollout" test "$(failures)" = 0
check "the answers switch from v1 to v2 ($(versions))" test "$(versions)" = "v1 v2"
check "after ready only v2 answers ($(versions $mark))" test "$(versions $mark)" = v2
out=$(infer "$WORK/r2.json")
check "v2 answers with what v2 predicts locally" matches "$WORK/r2.json" v2
sha2=$(sha256sum "$M/v2/model.joblib" | cut -d' ' -f1)
check "v2's run records v2's sha256" test "$(run_field "$RUN2" '.artifacts[0].sha256')" = "$sha2"

# --- a broken v3 (the artifact is not a model): v2 keeps serving
section "a broken v3"
before=$(lines)
code=$(apply_yaml "$(spec v3 "$M/v3/model.joblib")")
RUN3=$(jq -r '.specs[0].run.id' "$WORK/body")
check "apply v3 answers 202" test "$code" = 202
st=$(wait_run "$RUN3" 150 ready)
check "v3's run fails" test "$st" = failed
check "with reason not-healthy" test "$(run_field "$RUN3" .reason)" = not-healthy
err=$(run_field "$RUN3" .error)
check "and says why ($err)" test -n "$err" -a "$err" != null
wait_for 20 '[ "$(lines)" -ge $((before + 20)) ]'
check "no failed request during v3's attempt ($(($(lines) - before)) requests)" test "$(failures "$before")" = 0
check "v2 answered all of them" test "$(versions "$before")" = v2
check "v2 is still ready" test "$(run_field "$RUN2" .status)" = ready
check "the spec points back at v2's run" \
    test "$(curl -s --unix-socket "$SOCK" "http://localhost/v1/specs/$NAME" | jq -r .runId)" = "$RUN2"
wait_for 10 '[ "$(replicas)" = 2 ]'
check "v3's replicas are gone, v2's two remain" test "$(replicas) $(replicas "$RUN2")" = "2 2"

# --- a replica removed behind the daemon's back is replaced
section "a replica removed behind the daemon's back"
before=$(lines)
VICTIM=$(run_field "$RUN2" '.containers[0]')
docker rm -f "$VICTIM" >/dev/null
wait_for 30 '[ "$(run_field "$RUN2" ".replacements // 0")" -ge 1 ]'
check "the run counts a replacement ($(run_field "$RUN2" .replacements))" test "$(run_field "$RUN2" '.replacements // 0')" -ge 1
wait_for 30 '[ "$(replicas "$RUN2")" = 2 ]'
check "a replacement replica runs (2 again)" test "$(replicas "$RUN2")" = 2
check "the removed container is no longer in the run" \
    test "$(run_field "$RUN2" "[.containers[] | select(. == \"$VICTIM\")] | length")" = 0
check "both replicas answer again" test "$(run_field "$RUN2" '.containers | length')" = 2
wait_for 20 '[ "$(lines)" -ge $((before + 20)) ]'
check "no failed request while a replica died ($(($(lines) - before)) requests)" test "$(failures "$before")" = 0

# --- rollback: back to v1 with no failed request
section "rollback"
before=$(lines)
code=$(curl -s --unix-socket "$SOCK" -X POST -o "$WORK/body" -w '%{http_code}' "http://localhost/v1/specs/$NAME/rollback")
RUN4=$(jq -r '.id // .run.id // empty' "$WORK/body")
check "rollback answers 202 with a new run ($code)" test "$code" = 202 -a -n "$RUN4"
st=$([ -n "$RUN4" ] && wait_run "$RUN4" 90 ready)
mark=$(($(lines) + 2))
check "the rollback run becomes ready" test "$st" = ready
check "on v1's revision" test "$(run_field "$RUN4" .revision)" = "$(run_field "$RUN1" .revision)"
wait_for 20 '[ "$(lines)" -ge $((mark + 10)) ]'
check "no failed request during the rollback ($(($(lines) - before)) requests)" test "$(failures "$before")" = 0
check "answers switch from v2 to v1 ($(versions "$before"))" test "$(versions "$before")" = "v2 v1"
check "after ready only v1 answers" test "$(versions $mark)" = v1
check "v2's run is stopped" test "$(run_field "$RUN2" .status)" = stopped
out=$(infer "$WORK/r4.json")
check "v1 answers with what v1 predicts locally again" matches "$WORK/r4.json" v1

# ...and forward again to a given revision
REV2=$(run_field "$RUN2" .revision)
code=$(curl -s --unix-socket "$SOCK" -X POST -o "$WORK/body" -w '%{http_code}' "http://localhost/v1/specs/$NAME/rollback?to=$REV2")
RUN5=$(jq -r '.id // .run.id // empty' "$WORK/body")
check "rollback ?to=v2's revision answers 202 ($code)" test "$code" = 202 -a -n "$RUN5"
check "and serves v2" test "$([ -n "$RUN5" ] && wait_run "$RUN5" 90 ready)" = ready
check "on v2's revision" test "$(run_field "$RUN5" .revision)" = "$REV2"
stop_loop
check "the whole loop: $(lines) requests, none failed" test "$(failures)" = 0 -a "$(lines)" -gt 50

# --- the server's own errors pass through, and leave nothing behind
section "errors of the server"
code=$(curl -s -o "$WORK/p.json" -w '%{http_code} %{content_type}' "$GW/v2/models/$NAME/versions/v9/infer" \
    -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/req.json")
check "the server's 404 for an unknown version passes through unchanged ($code)" \
    test "$code" = "404 application/json"
# The kept-alive connection that carried it must still be usable.
bad=$(for i in 1 2 3 4 5 6; do infer /dev/null | cut -d' ' -f1; done | grep -vc '^200$')
check "the requests after it on the same kept-alive connections succeed ($bad of 6 failed)" test "$bad" = 0

# --- policy: an artifact outside the mount roots is refused
section "policy"
code=$(apply_yaml "$(spec v9 /etc/passwd)")
check "an artifact outside policy.mountRoots is refused (403)" test "$code" = 403
check "naming spec.artifact" jqe '.errors[] | select(.path == "spec.artifact")' "$WORK/body"

# --- delete: every replica goes, the gateway answers 503
section "delete"
code=$(curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null -w '%{http_code}' "http://localhost/v1/specs/$NAME")
check "delete answers 200" test "$code" = 200
check "delete removes every replica" test -z "$(docker ps -aq --filter "label=io.cassiny.name=$NAME")"
code=$(curl -s -o "$WORK/p.json" -w '%{http_code} %{content_type}' -X POST \
    -H 'Content-Type: application/json' --data-binary @"$WORK/req.json" "$INFER")
check "the gateway answers 503 problem+json without a ready replica ($code)" \
    test "$code" = "503 application/problem+json"
check "the problem names the model" jqe '.status == 503 and (.detail | contains("'"$NAME"'"))' "$WORK/p.json"
check "the last run is stopped" test "$(run_field "$RUN5" .status)" = stopped

# --- metrics: what an operator alerts on, as Prometheus reads it
section "metrics"
curl -s -o /dev/null "${GW_BASE}made-up-$$/x"
curl -s --unix-socket "$SOCK" -o "$WORK/metrics.txt" http://localhost/metrics
# metric VALUE_OF SERIES: the sample's value ("" when absent)
metric() { awk -v s="$1" '$1 == s { print $2 }' "$WORK/metrics.txt"; }
ge() { awk -v a="${1:-0}" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1
check "promtool check metrics finds nothing to say ($(tr '\n' ' ' <"$WORK/promtool.out" | head -c 300))" \
    bash -c '[ $1 = 0 ] && [ ! -s "$2" ]' _ $? "$WORK/promtool.out"
code=$(curl -s -o "$WORK/gw-metrics.txt" -w '%{http_code}' "${GW_BASE%models/}metrics")
check "the gateway's port serves the same page for Prometheus ($code, promtool: $(promtool check metrics <"$WORK/gw-metrics.txt" 2>&1 | head -c 200))" \
    bash -c '[ "$1" = 200 ] && grep -q "^cassiny_rollouts_started_total{model=\"$2\"} 5$" "$3" && [ -z "$(promtool check metrics <"$3" 2>&1)" ]' _ "$code" "$NAME" "$WORK/gw-metrics.txt"
m="model=\"$NAME\""
check "rollouts started: v1, v2, v3 and the two rollbacks ($(metric "cassiny_rollouts_started_total{$m}"))" \
    test "$(metric "cassiny_rollouts_started_total{$m}")" = 5
check "rollouts succeeded: all but v3 ($(metric "cassiny_rollouts_finished_total{$m,result=\"succeeded\"}"))" \
    test "$(metric "cassiny_rollouts_finished_total{$m,result=\"succeeded\"}")" = 4
check "rolled back: v3, with v2 serving on ($(metric "cassiny_rollouts_finished_total{$m,result=\"rolled_back\"}"))" \
    test "$(metric "cassiny_rollouts_finished_total{$m,result=\"rolled_back\"}")" = 1
ok200=$(metric "cassiny_gateway_requests_total{$m,code=\"200\"}")
check "gateway requests answered 200 for $NAME: $ok200, at least the loop's $(lines)" ge "$ok200" "$(lines)"
check "the server's own 404 is counted as the model's 404" \
    ge "$(metric "cassiny_gateway_requests_total{$m,code=\"404\"}")" 1
check "the 503 after the delete is the gateway's error no-ready-replica, without the deleted name" \
    ge "$(metric 'cassiny_gateway_errors_total{model="(none)",reason="no-ready-replica"}')" 1
check "the latency histogram of $NAME counts every answer" \
    test "$(metric "cassiny_gateway_request_duration_seconds_count{$m}")" = \
    "$(grep "^cassiny_gateway_requests_total{$m," "$WORK/metrics.txt" | awk '{ n += $2 } END { print n }')"
check "a made-up model name is not a label of its own" bash -c '! grep -q "made-up-" "$1"' _ "$WORK/metrics.txt"
check "launch durations of Models: 4, all but v3 ($(metric 'cassiny_launch_duration_seconds_count{kind="Model"}'))" \
    test "$(metric 'cassiny_launch_duration_seconds_count{kind="Model"}')" = 4
check "API requests by route, method and code: the applies" \
    ge "$(metric 'cassiny_api_requests_total{route="/v1/specs",method="POST",code="202"}')" 3
check "API requests by route: the run pages by their pattern" \
    ge "$(metric 'cassiny_api_requests_total{route="/v1/runs/{id}",method="GET",code="200"}')" 1
check "runs by kind and final status: the stopped Models" \
    ge "$(metric 'cassiny_runs_total{kind="Model",status="stopped"}')" 4

summary
