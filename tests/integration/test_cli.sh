#!/bin/bash
# cassinyctl against a private cassinyd and the real engine: every verb, its
# table and -o json|yaml forms, exit codes, and the progress of apply --wait.
# The notebooks are busybox httpd serving a fake /api/status, so no Jupyter
# is needed. Every container made here is removed at exit.
set -u
build=$1
src=$2
SUITE=cli
. "$src/tests/integration/lib.sh"
ctl="$build/cli/cassinyctl"
IMAGE=cassiny/test-busybox:latest
p="ct$$" # prefix of every name here, so that cleanup finds only ours
NAMES=("$p-nb" "$p-chatty" "$p-bad" "$p-slow" "$p-ws")
CFG=$(mktemp /tmp/cassiny-cli-cfg.XXXXXX)

cleanup() {
    for n in "${NAMES[@]}"; do
        ids=$(docker ps -aq --filter "label=io.cassiny.name=$n")
        [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
    done
    rm -f "$CFG"
    cleanup_daemon
}
trap cleanup EXIT

# notebook NAME [SHELL PREFIX]: a Notebook spec that becomes ready on busybox.
notebook() {
    local pre=${2:-}
    cat <<EOF
apiVersion: cassiny/v1
kind: Notebook
metadata: {name: $1}
spec:
  image: $IMAGE
  command: ["sh", "-c", "${pre}mkdir -p /tmp/w/api && echo '{\"last_activity\":\"2030-01-01T00:00:00Z\"}' > /tmp/w/api/status && exec httpd -f -p 8888 -h /tmp/w"]
EOF
}

printf 'policy: {images: ["cassiny/*"], mountRoots: ["/tmp"]}\ngateway: {port: 0}\n' >"$CFG"
start_daemon "$build" --config "$CFG" || { not_ok "daemon starts"; summary; exit 1; }
ok "daemon starts with a policy allowing $IMAGE"
c() { "$ctl" --host "$HOST" "$@"; }
jqe() { jq -e "$@" >/dev/null; }
quiet() { "$@" >/dev/null 2>&1; }
nb="$p-nb"

# --- bad usage: exit 2 before anything is sent
usage "get with a name that is not a DNS label" get Bad_Name
usage "get with an unknown kind and a name" get widgets "$nb"
usage "get with three arguments" get notebook a b
usage "describe with garbage" describe 'r-%2e%2e'
usage "describe without an argument" describe
usage "open with garbage" open ../etc
usage "stop with a name instead of a run id" stop "$nb"
usage "stop with a lowercase run id" stop r-01jd0000000000000000000000
usage "logs without an argument" logs
usage "logs --tail with a non-number" logs --tail x "$nb"
usage "runs --status bogus" runs --status bogus
usage "runs --kind bogus" runs --kind bogus
usage "runs --limit 0" runs --limit 0
usage "delete with two names" delete a b
usage "apply without -f" apply
usage "apply --dry-run --wait" apply --dry-run --wait -f /dev/null
usage "apply --timeout abc" apply --timeout abc -f /dev/null
usage "-o xml after the verb" get -o xml
"$ctl" --host "unix://$WORK/nothing.sock" get >/dev/null 2>&1
check "get exits 1 when the daemon is unreachable" test $? = 1
"$ctl" --host "unix://$WORK/nothing.sock" logs "$nb" >/dev/null 2>&1
check "logs exits 1 when the daemon is unreachable" test $? = 1

# --- nothing yet
c get "$nb" >/dev/null 2>"$WORK/err"
check "get of a missing spec exits 1" test $? = 1
check "get of a missing spec says so" grep -q "no spec named $nb" "$WORK/err"
c describe "$nb" >/dev/null 2>&1
check "describe of a missing spec exits 1" test $? = 1
c describe r-01JD0000000000000000000000 >/dev/null 2>"$WORK/err"
check "describe of a missing run exits 1" test $? = 1
c stop r-01JD0000000000000000000000 >/dev/null 2>&1
check "stop of a missing run exits 1" test $? = 1
c delete "$nb" >/dev/null 2>&1
check "delete of a missing spec exits 1" test $? = 1

# --- apply --wait, not on a terminal: plain progress lines, then the URL
notebook "$nb" >"$WORK/nb.yaml"
start=$(date +%s)
c apply -f "$WORK/nb.yaml" --wait --timeout 60 >"$WORK/out" 2>"$WORK/err"
rc=$?
check "apply --wait of a notebook exits 0" test $rc = 0
check "apply prints KIND NAME REVISION RUN STATUS" grep -qE '^KIND +NAME +REVISION +RUN +STATUS' "$WORK/out"
check "apply table shows a 12-hex revision and the run" grep -qE "^Notebook +$nb +[0-9a-f]{12} +r-[0-9A-Z]{26} +[a-z]+ +applied$" "$WORK/out"
check "progress has one plain line per status change, with elapsed time" grep -qE "^$nb +(accepted|queued|creating container|waiting for Jupyter).* [0-9]+\.[0-9]s$" "$WORK/out"
check "progress ends with a ready line" grep -qE "^$nb +ready +[0-9]+\.[0-9]s$" "$WORK/out"
check "no terminal escapes when stdout is not a terminal" test "$(grep -c $'\r\|\e' "$WORK/out")" = 0
check "no status line repeats when not a terminal" test "$(grep -E "^$nb  " "$WORK/out" | awk '{print $2}' | uniq -d | wc -l)" = 0
check "apply --wait ends with the URL (the gateway's)" grep -qE "^$nb is ready: http://[0-9.]+:[0-9]+/notebooks/$nb/\?token=[A-Za-z0-9_%-]+$" "$WORK/out"
url=$(sed -n "s/^$nb is ready: //p" "$WORK/out")
check "the URL answers" curl -fsS -o /dev/null "${url%%/\?*}/api/status?token=${url#*token=}"
[ $rc = 0 ] || cat "$WORK/out" "$WORK/err"

c apply -f "$WORK/nb.yaml" >"$WORK/out"
check "applying the same spec again says unchanged" grep -qE "^Notebook +$nb .* ready +unchanged$" "$WORK/out"
c -o json apply -f "$WORK/nb.yaml" --wait >"$WORK/out.json" 2>"$WORK/err"
check "apply -o json --wait exits 0" test $? = 0
check "apply -o json --wait prints only JSON, with the final run" jqe ".specs[0].changed == false and .specs[0].run.status == \"ready\" and (.specs[0].run.url | startswith(\"http://\"))" "$WORK/out.json"
check "apply -o json --wait keeps progress off stderr when it is not a terminal" test ! -s "$WORK/err"
c apply -f "$WORK/nb.yaml" -o yaml >"$WORK/out.yaml"
check "apply -o yaml (after the verb) prints YAML" grep -q '^specs:' "$WORK/out.yaml"
c apply --dry-run -f "$WORK/nb.yaml" >"$WORK/out"
check "apply --dry-run still prints the dry-run table" grep -qE "^Notebook +$nb +[0-9a-f]{12} +valid \(dry run\)$" "$WORK/out"
run=$(jq -r '.specs[0].run.id' "$WORK/out.json")

# On a terminal: one line per run, updated in place with \r and clear-to-EOL.
notebook "$p-ws" >"$WORK/ws.yaml"
printf '  workspace: %s\n' "$p-ws" >>"$WORK/ws.yaml"
script -qec "$ctl --host $HOST apply -f $WORK/ws.yaml --wait --timeout 60" /dev/null >"$WORK/tty.out" 2>&1
check "apply --wait on a terminal exits 0" test $? = 0
check "terminal progress redraws its line with CR and clear-to-EOL" grep -q $'\r\e\[K'"$p-ws" "$WORK/tty.out"
check "terminal progress ends with the URL" grep -qE "$p-ws is ready: http://" "$WORK/tty.out"

# --- get
c get >"$WORK/out"
check "get exits 0" test $? = 0
check "get prints NAME KIND STATUS URL AGE" grep -qE '^NAME +KIND +STATUS +URL +AGE$' "$WORK/out"
check "get lists the notebook as ready with its URL" grep -qE "^$nb +Notebook +ready +http://[^ ]+ +[0-9]+[smhd]$" "$WORK/out"
for k in notebook notebooks Notebook NOTEBOOKS; do
    check "get $k lists the notebook" grep -q "^$nb " <(c get "$k")
done
check "get job leaves the notebook out" test "$(c get jobs 2>/dev/null | grep -c "^$nb ")" = 0
c get "$nb" >"$WORK/out"
check "get NAME shows one spec" test "$(grep -c . "$WORK/out")" = 2
check "get notebook NAME exits 0" quiet c get notebook "$nb"
c get job "$nb" >/dev/null 2>&1
check "get job NAME of a notebook exits 1" test $? = 1
check "get -o json is the specs list" jqe ".specs | map(select(.name == \"$nb\")) | length == 1" <(c -o json get)
check "get -o json NAME is the spec with its run" jqe ".name == \"$nb\" and .run.id == \"$run\"" <(c get "$nb" -o json)
check "get -o yaml lists specs" grep -q '^specs:' <(c get -o yaml)

# --- describe
c describe "$nb" >"$WORK/out"
check "describe NAME exits 0" test $? = 0
for f in 'Name: +'"$nb" 'Kind: +Notebook' 'Revision: +sha256:[0-9a-f]{64}' 'Status: +ready' \
    'URL: +http://' 'Image: +'"$IMAGE" 'ID: +sha256:[0-9a-f]{64}' 'RepoDigests:' \
    'Containers: +[0-9a-f]{12}' 'Ports: +[0-9.]+:[0-9]+->8888' 'Created: +20' 'Ready: +20' \
    "Run: +$run"; do
    check "describe shows ${f%%:*}" grep -qE "^ *$f" "$WORK/out"
done
c describe "$run" >"$WORK/out"
check "describe RUN shows that run" grep -qE "^Run: +$run" "$WORK/out"
check "describe -o json NAME has the canonical spec" jqe '.spec.kind == "Notebook" and .run.image.id != null' <(c -o json describe "$nb")
check "describe -o json RUN is the run" jqe ".id == \"$run\" and .status == \"ready\"" <(c -o json describe "$run")
check "describe -o yaml RUN is YAML" grep -q "^id: $run" <(c -o yaml describe "$run")

# --- open
check "open prints the URL" test "$(c open "$nb")" = "$url"
check "open -o json has the URL" jqe ".url == \"$url\"" <(c -o json open "$nb")

# --- logs: a notebook that writes control characters, then more later
chatty="$p-chatty"
notebook "$chatty" "printf 'hello\\\\033[31mred\\\\001\\\\n'; echo line2; (sleep 2; echo later) & " >"$WORK/chatty.yaml"
c apply -f "$WORK/chatty.yaml" --wait --timeout 60 >/dev/null
check "apply --wait of a second notebook exits 0" test $? = 0
chatty_run=$(c -o json get "$chatty" | jq -r .runId)
# -f: what the container writes later arrives while the stream is open.
c logs -f "$chatty" >"$WORK/follow" 2>&1 &
fpid=$!
for _ in $(seq 60); do grep -q '^later$' "$WORK/follow" 2>/dev/null && break; sleep 0.1; done
check "logs -f prints output as it arrives" grep -q '^later$' "$WORK/follow"
check "logs -f is still following" kill -0 $fpid
check "logs -f printed the earlier lines first" test "$(head -n 2 "$WORK/follow" | tail -n 1)" = line2
c logs "$chatty" >"$WORK/logs"
check "logs NAME exits 0" test $? = 0
check "logs passes bytes unchanged when stdout is not a terminal" grep -q $'hello\e\[31mred\x01$' "$WORK/logs"
check "logs --tail 1 prints the last line" test "$(c logs --tail 1 "$chatty")" = later
check "logs --tail 1 prints one line" test "$(c logs "$chatty" --tail 1 | wc -l)" = 1
script -qec "$ctl --host $HOST logs $chatty" /dev/null >"$WORK/tty.logs" 2>&1
check "logs on a terminal shows control characters as ?" grep -q 'hello?\[31mred?' "$WORK/tty.logs"
check "logs on a terminal lets no escape through" test "$(grep -c $'\e' "$WORK/tty.logs")" = 0
check "logs RUN is the same as logs NAME" cmp -s <(c logs "$chatty_run") "$WORK/logs"
c stop "$chatty_run" >/dev/null # ends the container, and with it the stream
for _ in $(seq 50); do kill -0 $fpid 2>/dev/null || break; sleep 0.2; done
check "logs -f ends when the container ends" bash -c "! kill -0 $fpid 2>/dev/null"
kill $fpid 2>/dev/null
wait $fpid 2>/dev/null

# --- stop
c stop "$chatty_run" >"$WORK/out"
check "stop of a stopped run exits 0" test $? = 0
check "stop prints stopped RUN" grep -qx "stopped $chatty_run" "$WORK/out"
check "the stopped run is stopped" jqe '.status == "stopped"' <(c -o json describe "$chatty_run")
c open "$chatty" >/dev/null 2>"$WORK/err"
check "open of a stopped notebook exits 1" test $? = 1
check "open says the notebook is not ready" grep -q "not ready" "$WORK/err"

# --- a notebook that fails and one that never gets ready
cat >"$WORK/bad.yaml" <<EOF
apiVersion: cassiny/v1
kind: Notebook
metadata: {name: $p-bad}
spec:
  image: $IMAGE
  command: ["sh", "-c", "echo boom >&2; exit 3"]
EOF
c apply -f "$WORK/bad.yaml" --wait --timeout 60 >"$WORK/out" 2>"$WORK/err"
check "apply --wait of a failing notebook exits 1" test $? = 1
check "the failure is reported with the run's reason" grep -qE "^cassinyctl: $p-bad failed \(run r-[0-9A-Z]{26}\): " "$WORK/err"
check "progress shows the failure" grep -qE "^$p-bad +failed +[0-9.]+s$" "$WORK/out"
cat >"$WORK/slow.yaml" <<EOF
apiVersion: cassiny/v1
kind: Notebook
metadata: {name: $p-slow}
spec:
  image: $IMAGE
  command: ["sleep", "600"]
EOF
t0=$(date +%s)
c -o json apply -f "$WORK/slow.yaml" --wait --timeout 2 >"$WORK/out.json" 2>"$WORK/err"
check "apply --wait --timeout 2 of a notebook that never answers exits 1" test $? = 1
check "it says it timed out" grep -q "timed out after 2s waiting for $p-slow" "$WORK/err"
check "it gave up in time" test $(($(date +%s) - t0)) -le 8
check "-o json still prints the runs as they were" jqe '.specs[0].run.status | test("pending|queued|creating|starting")' "$WORK/out.json"

# --- runs
c runs >"$WORK/out"
check "runs exits 0" test $? = 0
check "runs prints RUN NAME KIND STATUS REASON CREATED" grep -qE '^RUN +NAME +KIND +STATUS +REASON +CREATED$' "$WORK/out"
check "runs shows RFC 3339 times when not a terminal" grep -qE "^$run +$nb +Notebook +ready +- +20[0-9-]+T[0-9:.]+Z$" "$WORK/out"
check "runs NAME shows only that name" test "$(c runs "$nb" | tail -n +2 | grep -vc " $nb ")" = 0
check "runs --status stopped shows the stopped run" grep -q "^$chatty_run " <(c runs --status stopped)
check "runs --status ready leaves out the stopped run" test "$(c runs --status ready | grep -c "^$chatty_run ")" = 0
check "runs --kind notebooks works" grep -q "^$run " <(c runs --kind notebooks)
check "runs --kind job shows none of ours" test "$(c runs --kind job 2>/dev/null | grep -c " $p-")" = 0
check "runs --limit 2 shows two" test "$(c runs --limit 2 | tail -n +2 | wc -l)" = 2
check "runs -o json --limit 2 has two runs and a next cursor" jqe '(.runs | length) == 2 and (.next | type) == "string"' <(c runs -o json --limit 2)
check "runs -o yaml is YAML" grep -q '^runs:' <(c -o yaml runs --limit 1)
check "runs on a terminal shows ages" grep -qE "$run .* [0-9]+[smhd] ago" <(script -qec "$ctl --host $HOST runs $nb" /dev/null)

# --- delete
c delete "$nb" >"$WORK/out"
check "delete exits 0" test $? = 0
check "delete prints deleted NAME" grep -qx "deleted $nb" "$WORK/out"
c get "$nb" >/dev/null 2>&1
check "a deleted spec is gone from get" test $? = 1
check "its runs stay in the history" grep -q "^$run " <(c runs "$nb")
c delete "$nb" >/dev/null 2>&1
check "deleting it again exits 1" test $? = 1
c delete --purge "$p-ws" >"$WORK/out"
check "delete --purge exits 0" test $? = 0
check "delete --purge says the volume went too" grep -qx "deleted $p-ws and its workspace volume" "$WORK/out"
check "the workspace volume is gone" bash -c "! docker volume inspect $p-ws >/dev/null 2>&1"
check "delete -o json is the daemon's reply" jqe '.deleted == true' <(c -o json delete "$chatty")
for n in "$p-bad" "$p-slow"; do c delete "$n" >/dev/null; done
check "no spec of ours is left" test "$(c get 2>/dev/null | grep -c "^$p-")" = 0

summary
