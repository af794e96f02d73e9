#!/bin/bash
# cassinyd on a private socket, driven with curl and cassinyctl: health,
# version with the real engine, dry runs, and bad input of every kind,
# after which the daemon must still serve. Then a clean SIGTERM.
set -u
build=$1
src=$2
SUITE=daemon
. "$src/tests/integration/lib.sh"
trap cleanup_daemon EXIT
ctl="$build/cli/cassinyctl"

start_daemon "$build" || { not_ok "daemon starts"; summary; exit 1; }
ok "daemon starts on a private socket"

check "socket is mode 0660 or stricter" test "$(stat -c %a "$SOCK")" -le 660

r=$(api GET /healthz)
check "GET /healthz answers 200 JSON" test "$r" = "200 application/json"
sleep 1.5
api GET /healthz >/dev/null
check "healthz says the engine is connected ($(jq -r .engine "$WORK/body"))" jq -e '.engine == "connected"' "$WORK/body"
check "healthz names the backend (engine: auto on a plain engine is docker)" jq -e '.backend == "docker"' "$WORK/body"

r=$(api GET /v1/version)
check "GET /v1/version answers 200" test "${r%% *}" = 200
check "version names the engine's version" jq -e '.engine.version | test("^[0-9]+\\.")' "$WORK/body"
check "version names the negotiated API version" jq -e '.engine.negotiatedApiVersion | test("^1\\.[0-9]+$")' "$WORK/body"
check "version names the backend" jq -e '.engine.backend == "docker"' "$WORK/body"
check "the log says which backend was chosen" grep -q 'backend docker' "$WORK/cassinyd.log"

check "GET /v1/openapi.yaml is 200 application/yaml" test "$(api GET /v1/openapi.yaml)" = "200 application/yaml"
out=$("$ctl" --host "$HOST" version)
check "cassinyctl version shows the engine" grep -q '^Engine:  Docker' <<<"$out"
"$ctl" --host "$HOST" -o json version >"$WORK/v.json"
check "cassinyctl -o json version is JSON" jq -e '.server.version' "$WORK/v.json"

# A dry run answers what apply would: the whole policy runs, so an example
# whose host paths are missing here is refused (403) naming the field, and
# the client's exit code says so.
for f in "$src"/examples/*.yaml; do
    r=$(api POST '/v1/specs?dryRun=true' -H 'Content-Type: application/yaml' --data-binary @"$f")
    if [ "${r%% *}" = 200 ]; then
        check "dry run of $(basename "$f") returns a sha256 revision" jq -e '.specs[0].revision | test("^sha256:[0-9a-f]{64}$")' "$WORK/body"
        "$ctl" --host "$HOST" apply --dry-run -f "$f" >/dev/null 2>&1
        rc=$? # before any $(...) below resets it
        check "cassinyctl apply --dry-run -f examples/$(basename "$f") exits 0" test $rc = 0
    else
        check "dry run of examples/$(basename "$f") is refused by the policy (${r%% *})" test "${r%% *}" = 403
        check "the refusal names the field" jq -e '[.errors[].path | startswith("spec.")] | all' "$WORK/body"
        "$ctl" --host "$HOST" apply --dry-run -f "$f" >/dev/null 2>&1
        rc=$?
        check "cassinyctl apply --dry-run -f examples/$(basename "$f") exits 1" test $rc = 1
    fi
    check "cassinyctl validate -f examples/$(basename "$f") exits 0" "$ctl" validate -f "$f"
done

# The dry run is apply's answer, policy and all: a mount under a look-alike
# of the root (/srvx for /srv) and a missing path are refused by both, with
# the same items.
f="$WORK/paths.yaml"
printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: paths}\nspec:\n  image: cassiny/notebook:bookworm\n  mounts:\n  - {source: /srvx/data, target: /a}\n  - {source: /srv/missing-%s, target: /b}\n' "$$" >"$f"
r=$(api POST '/v1/specs?dryRun=true' -H 'Content-Type: application/yaml' --data-binary @"$f")
dry=$(jq -c '[.errors[] | [.path, .line, .message]]' "$WORK/body")
check "a dry run refuses /srvx and a missing path under /srv (${r%% *})" test "${r%% *}" = 403
check "naming both mounts' sources" jq -e '[.errors[].path] == ["spec.mounts[0].source", "spec.mounts[1].source"]' "$WORK/body"
r=$(api POST '/v1/specs' -H 'Content-Type: application/yaml' --data-binary @"$f")
check "apply answers the same (${r%% *}, the same items)" test "${r%% *}/$(jq -c '[.errors[] | [.path, .line, .message]]' "$WORK/body")" = "403/$dry"

# Same spec, same revision, wherever it is validated.
f="$WORK/plain.yaml"
printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: plain}\nspec: {image: cassiny/notebook:bookworm}\n' >"$f"
api POST '/v1/specs?dryRun=true' --data-binary @"$f" -H 'Content-Type: application/yaml' >/dev/null
rev_daemon=$(jq -r '.specs[0].revision' "$WORK/body")
rev_client=$("$ctl" -o json validate -f "$f" | jq -r '.[0].revision')
check "daemon and client agree on the revision" test "$rev_daemon" = "$rev_client"

# --- bad input: each gets a problem+json with the right status
bad() { # bad DESCRIPTION EXPECTED_STATUS CURL_ARGS...
    local d=$1 want=$2
    shift 2
    local r
    r=$(api POST '/v1/specs?dryRun=true' "$@")
    if [ "${r%% *}" = "$want" ] && [ "${r#* }" = "application/problem+json" ] &&
        jq -e ".status == $want and (.title | length > 0)" "$WORK/body" >/dev/null; then
        ok "$d -> $want problem+json"
    else
        not_ok "$d -> expected $want problem+json, got $r: $(head -c 300 "$WORK/body")"
    fi
}
H=(-H 'Content-Type: application/yaml')
bad "malformed YAML" 400 "${H[@]}" --data-binary $'apiVersion: cassiny/v1\nkind: [Notebook\n'
bad "unknown field" 422 "${H[@]}" --data-binary $'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: a}\nspec:\n  image: cassiny/notebook:bookworm\n  resources: {cpu: 1}\n'
check "unknown field error names the path and line" jq -e '.errors[] | select(.path == "spec.resources.cpu" and .line == 6)' "$WORK/body"
bad "bad name" 422 "${H[@]}" --data-binary $'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: Bad_Name}\nspec: {image: x}\n'
bad "path traversal in a mount" 422 "${H[@]}" --data-binary $'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: a}\nspec:\n  image: cassiny/notebook:bookworm\n  mounts: [{source: /srv/../etc, target: /data}]\n'
bad "empty body" 422 "${H[@]}" --data-binary ''
head -c 2000000 /dev/zero | tr '\0' 'a' >"$WORK/huge"
bad "2 MB body" 413 "${H[@]}" --data-binary @"$WORK/huge"
bad "2 MB chunked body" 413 "${H[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/huge"
{ printf 'a: '; for _ in $(seq 200); do printf '['; done; for _ in $(seq 200); do printf ']'; done; echo; } >"$WORK/deep"
bad "nesting 200 deep" 413 "${H[@]}" --data-binary @"$WORK/deep"
bad "billion laughs" 422 "${H[@]}" --data-binary $'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
bad "non-UTF-8 bytes" 400 "${H[@]}" --data-binary $'apiVersion: cassiny/v1\nkind: \xff\xfe\n'
bad "wrong content type" 415 -H 'Content-Type: text/plain' --data-binary 'x: 1'
r=$(api POST '/v1/specs?dryRun=maybe' "${H[@]}" --data-binary @"$src/examples/job.yaml")
check "a bad dryRun value is 400, never a real apply" test "$r" = "400 application/problem+json"
r=$(api GET /v1/nope)
check "unknown path -> 404 problem+json" test "$r" = "404 application/problem+json"
r=$(api DELETE /v1/version)
check "wrong method -> 405 problem+json" test "$r" = "405 application/problem+json"

# Bytes outside a name in the path are refused before any route sees them:
# "NAME%00anything" must never mean NAME.
printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: keepme}\nspec: {image: cassiny/test-busybox:latest, command: [/bin/true]}\n' >"$WORK/keep.yaml"
r=$(api POST /v1/specs -H 'Content-Type: application/yaml' --data-binary @"$WORK/keep.yaml")
check "a spec to keep is applied (${r%% *})" test "${r%% *}" = 202
r=$(api DELETE '/v1/specs/keepme%00anything')
check "DELETE /v1/specs/NAME%00anything is 400 ($r)" test "$r" = "400 application/problem+json"
r=$(api GET /v1/specs/keepme)
check "and NAME is still there" test "${r%% *}" = 200
for p in '/v1/specs/a%2Fb' '/v1/specs/a%2fb/rollback' '/v1/runs/%7F' '/v1/specs/x%0a' '/v1/specs/x%zz'; do
    r=$(api GET "$p")
    check "GET $p is 400" test "$r" = "400 application/problem+json"
done
r=$(api DELETE /v1/specs/keepme)
check "NAME itself is deleted as usual (${r%% *})" test "${r%% *}" = 200

# The invalid examples from the case folders, through the client.
inv="$src/tests/data/specs/invalid"
n=0
for d in "$inv"/*/; do
    [ -f "$d/input.yaml" ] || continue
    "$ctl" validate -f "$d/input.yaml" >/dev/null 2>"$WORK/err"
    rc=$?
    if [ $rc -ne 2 ] || ! grep -qE '^[^:]+(:[0-9]+:[0-9]+)?: [^ ]+: ' "$WORK/err"; then
        not_ok "cassinyctl validate $(basename "$d") exits 2 with FILE:LINE:COL lines (rc=$rc: $(head -c 200 "$WORK/err"))"
    fi
    n=$((n + 1))
done
check "cassinyctl validate refused all $n invalid cases with exit 2" test "$n" -gt 0
"$ctl" --host "$HOST" apply --dry-run -f "$inv/unknown-field-cpu/input.yaml" 2>"$WORK/err" >/dev/null
check "apply --dry-run of an invalid spec exits 2" test $? = 2
check "apply --dry-run prints FILE:LINE:COL: path: message" grep -qE 'input.yaml:[0-9]+:[0-9]+: spec\.' "$WORK/err"
"$ctl" --host "unix://$WORK/nothing.sock" version >/dev/null 2>&1
check "cassinyctl exits 1 when the daemon is unreachable" test $? = 1
"$ctl" --host "$HOST" frobnicate >/dev/null 2>&1
check "cassinyctl exits 2 on an unknown verb" test $? = 2

# Many concurrent requests, then still healthy.
pids=()
for i in $(seq 40); do
    curl -s --unix-socket "$SOCK" -o /dev/null http://localhost/healthz &
    pids+=($!)
done
wait "${pids[@]}"
r=$(api GET /healthz)
check "daemon still serves after all of the above" test "$r" = "200 application/json"
check "daemon process is alive" kill -0 "$DAEMON_PID"
curl -s --unix-socket "$SOCK" -o /dev/null http://localhost/v1/no-such-route
r=$(api GET /metrics)
check "GET /metrics is Prometheus text" grep -q '^cassiny_api_requests_total{route="/healthz",method="GET",code="200"} ' "$WORK/body"
check "promtool check metrics finds nothing to say: $(promtool check metrics <"$WORK/body" 2>&1 | head -c 300)" \
    bash -c 'out=$(promtool check metrics <"$1" 2>&1) && [ -z "$out" ]' _ "$WORK/body"
check "an unrouted path is counted as route (none), not by its own name" \
    bash -c 'grep -q "^cassiny_api_requests_total{route=\"(none)\"" "$1" && ! grep -q "no-such" "$1"' _ "$WORK/body"

# Clean shutdown.
stop_daemon
check "SIGTERM exits 0" test "$DAEMON_STATUS" = 0
check "socket removed at shutdown" test ! -e "$SOCK"
check "database survives in the state directory" test -s "$WORK/state/cassiny.db"

# Refuses to share a socket with a live daemon.
start_daemon "$build" || not_ok "restart"
"$build/daemon/cassinyd" --state-dir "$WORK/state2" --socket "$SOCK" >"$WORK/second.log" 2>&1
check "a second daemon on the same socket refuses to start" test $? != 0
check "the first daemon still serves" test "$(api GET /healthz)" = "200 application/json"

stop_daemon
rm -rf "$WORK"
WORK=

# A dead engine: the daemon starts, says so, and keeps serving.
start_daemon "$build" --docker-host unix:///nonexistent/docker.sock || not_ok "start without an engine"
r=$(api GET /v1/version)
check "version with a dead engine is still 200" test "${r%% *}" = 200
check "version with a dead engine names the error" jq -e '.engine.error | length > 0' "$WORK/body"
printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: plain}\nspec: {image: cassiny/notebook:bookworm}\n' >"$WORK/plain.yaml"
r=$(api POST '/v1/specs?dryRun=true' -H 'Content-Type: application/yaml' --data-binary @"$WORK/plain.yaml")
check "dry run works without an engine" test "${r%% *}" = 200
check "healthz with a dead engine is 200" test "$(api GET /healthz)" = "200 application/json"
sleep 2 # the engine is pinged every second
api GET /healthz >/dev/null
check "healthz says the engine is unreachable ($(jq -r .engine "$WORK/body"))" jq -e '.engine == "unreachable"' "$WORK/body"
check "healthz with a dead engine still names the backend" jq -e '.backend == "docker"' "$WORK/body"
api GET /metrics >/dev/null
check "metrics say the engine is not connected" grep -q '^cassiny_engine_connected 0$' "$WORK/body"
stop_daemon

# Config that this build cannot honour stops the daemon at start with the
# file's line and the reason; nothing is served.
refused() { # refused DESCRIPTION LINE REASON YAML
    local d=$1 line=$2 reason=$3
    printf '%s' "$4" >"$WORK/refused.yaml"
    # bounded: a daemon that wrongly accepts the config would serve forever
    deadline 20 "$build/daemon/cassinyd" --config "$WORK/refused.yaml" --state-dir "$WORK/state3" \
        --socket "$WORK/refused.sock" >"$WORK/refused.log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF "refused.yaml:$line:" "$WORK/refused.log" &&
        grep -qF "$reason" "$WORK/refused.log" && [ ! -e "$WORK/refused.sock" ]; then
        ok "$d: exit $rc, line $line named"
    else
        not_ok "$d: expected a non-zero exit naming line $line and \"$reason\", got rc=$rc: $(head -c 400 "$WORK/refused.log")"
    fi
}
# engine: swarm on this engine, which is no Swarm manager: refused at start
# with the reason rather than at every launch.
printf 'gateway: {port: 0}\nengine: swarm\n' >"$WORK/refused.yaml"
deadline 20 "$build/daemon/cassinyd" --config "$WORK/refused.yaml" --state-dir "$WORK/state3" \
    --socket "$WORK/refused.sock" >"$WORK/refused.log" 2>&1
rc=$?
check "engine: swarm on an engine that is no Swarm manager: exit 1 with the reason (rc=$rc)" \
    bash -c '[ "$1" = 1 ] && grep -q "not an active Swarm manager (its Swarm state is inactive)" "$2" && [ ! -e "$3" ]' \
    _ "$rc" "$WORK/refused.log" "$WORK/refused.sock"
refused "listen: on a non-loopback address without tls" 3 \
    "plain HTTP on a non-loopback address would send tokens in the clear" \
    $'gateway: {port: 0}\n\nlisten: {address: 0.0.0.0, port: 8443}\n'
refused "maxConcurrentRuns with maxConcurrentLaunches" 4 "deprecated" \
    $'gateway: {port: 0}\nlimits:\n  maxConcurrentLaunches: 2\n  maxConcurrentRuns: 2\n'
deadline 20 "$build/daemon/cassinyd" --check-config --config "$WORK/refused.yaml" >/dev/null 2>&1
check "--check-config refuses what the daemon would refuse" test $? != 0

# The deprecated name alone still works, with a warning naming its line.
printf 'gateway: {port: 0}\nengine: docker\nlimits:\n  maxConcurrentRuns: 3\n' >"$WORK/alias.yaml"
start_daemon "$build" --config "$WORK/alias.yaml" || not_ok "start with limits.maxConcurrentRuns"
check "the deprecated key is named with its line" grep -q 'alias.yaml:4:.*maxConcurrentRuns.*deprecated' "$WORK/cassinyd.log"
api GET /healthz >/dev/null
check "engine: docker is the docker backend" jq -e '.backend == "docker"' "$WORK/body"

summary
