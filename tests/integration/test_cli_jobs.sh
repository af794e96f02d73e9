#!/bin/bash
# cassinyctl and Jobs against a private cassinyd and the real engine:
# apply --wait of a job (followed through the events stream), reproduce
# --wait (identical, a changed file named, changed inputs, a failure),
# events in table and -o json form with the transitions of a run in order
# and a resume across a daemon restart, describe and runs with outputs and
# lineage. The jobs are busybox shell commands.
set -u
build=$1
src=$2
SUITE=cli-jobs
. "$src/tests/integration/lib.sh"
ctl="$build/cli/cassinyctl"
IMAGE=${CASS_TEST_IMAGE:-cassiny/test-busybox:latest}
p="cj$$" # prefix of every name here, so that cleanup finds only ours
BG=()     # background cassinyctl processes

cleanup() {
    for pid in "${BG[@]}"; do kill "$pid" 2>/dev/null; done
    local inst
    inst=$(cat "${WORK:-/nonexistent}/state/instance" 2>/dev/null)
    stop_daemon
    [ -n "$inst" ] && docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$inst") >/dev/null 2>&1
    cleanup_daemon
    true
}
trap cleanup EXIT

WORK=$(mktemp -d /tmp/cassiny-cli-jobs.XXXXXX)
write_config
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon starts"; summary; exit 1; }
ok "daemon starts"
c() { "$ctl" --host "$HOST" "$@"; }
jqe() { jq -e "$@" >/dev/null; }
# job NAME SHELL-COMMAND [spec lines]: a busybox Job reading /in, writing /outputs
job() {
    cat <<EOF
apiVersion: cassiny/v1
kind: Job
metadata: {name: $1}
spec:
  image: $IMAGE
  command: ["sh", "-c", "$2"]
  inputs: [{source: $WORK/data/in, target: /in}]
  outputs: /outputs
${3:-}
EOF
}
# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN
wait_for() {
    local i
    for i in $(seq $(($3 * 10))); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# background COMMAND...: runs it in the background (stdout to $OUT), remembered for cleanup
background() {
    "$@" >"$OUT" 2>"$OUT.err" &
    BG+=($!)
    BGPID=$!
}
stop_background() { # its exit status
    kill -INT "$1" 2>/dev/null
    reap "$1" 60 || not_ok "a cassinyctl in the background ($1) ends within 60 s of SIGINT"
    return "$REAPED"
}
mkdir -p "$WORK/data/in"
echo "one" >"$WORK/data/in/data.txt"

# --- bad usage: exit 2 before anything is sent
usage "reproduce without a run" reproduce
usage "reproduce with a name instead of a run id" reproduce "$p-det"
usage "reproduce --timeout abc" reproduce --timeout abc r-01JD0000000000000000000000
usage "reproduce with two runs" reproduce r-01JD0000000000000000000000 r-01JD0000000000000000000001
usage "events with an argument" events now
usage "events --run with garbage" events --run ../x
usage "events --name with garbage" events --name Bad_Name
usage "events --since -1" events --since -1
c reproduce r-01JD0000000000000000000000 >/dev/null 2>"$WORK/err"
check "reproduce of a missing run exits 1" test $? = 1
check "reproduce of a missing run says so" grep -q "no run r-01JD0000000000000000000000" "$WORK/err"
"$ctl" --host "unix://$WORK/nothing.sock" events >/dev/null 2>"$WORK/err"
check "events exits 1 when the daemon is unreachable" test $? = 1
check "events says it cannot reach the daemon" grep -q "cannot reach cassinyd" "$WORK/err"

# --- apply --wait of a deterministic job, with events -o json following it
det="$p-det"
job "$det" "sleep 1; cat /in/data.txt > /outputs/copy.txt; mkdir /outputs/sub; echo done > /outputs/sub/status.txt" >"$WORK/det.yaml"
OUT="$WORK/events.json"
# timeout(1) itself, not reap.sh's deadline(): a function run in the
# background is a subshell, which ignores the SIGINT that stops it.
background timeout --foreground -k 10 120 "$ctl" --host "$HOST" events -o json --name "$det"
events_pid=$BGPID
sleep 0.5 # the stream starts at "now": let it open before the apply
c apply -f "$WORK/det.yaml" --wait --timeout 60 >"$WORK/out" 2>"$WORK/err"
rc=$?
check "apply --wait of a job exits 0 when it succeeds" test $rc = 0
check "apply --wait waits for the job to end, not only to run" grep -qE "^$det +succeeded +[0-9]+\.[0-9]s$" "$WORK/out"
check "progress went through running" grep -qE "^$det +running +[0-9]+\.[0-9]s$" "$WORK/out"
check "no status line repeats when not a terminal" test "$(grep -E "^$det  " "$WORK/out" | awk '{print $2}' | uniq -d | wc -l)" = 0
check "apply --wait ends with NAME succeeded" grep -qx "$det succeeded" "$WORK/out"
[ $rc = 0 ] || cat "$WORK/out" "$WORK/err"
run=$(c -o json runs "$det" | jq -r '.runs[0].id')

wait_for "$WORK/events.json" '"status":"succeeded"' 20
stop_background "$events_pid"
check "events -o json exits 0 when interrupted" test $? = 0
check "events -o json is one JSON object per line" test "$(jq -c . "$WORK/events.json" | wc -l)" = "$(wc -l <"$WORK/events.json")" -a -s "$WORK/events.json"
check "every line has an id, an event and the data" jqe -s 'all(.[]; (.id | type) == "number" and .event == "run" and (.data | type) == "object")' "$WORK/events.json"
statuses=$(jq -r "select(.data.id == \"$run\") | .data.status" "$WORK/events.json" | paste -sd ' ')
check "events show each transition of the run, in order ($statuses)" test "$statuses" = "pending creating starting running succeeded"
check "event ids increase" jqe -s '[.[].id] | . == (sort | unique)' "$WORK/events.json"
check "--name left out other names" jqe -s "all(.[]; .data.name == \"$det\")" "$WORK/events.json"
check "the final event has the reason and the exit code" jqe -s "map(select(.data.status == \"succeeded\"))[0].data | .reason == \"completed\" and .exitCode == 0" "$WORK/events.json"

# --- events in table form, replayed from the start for one run
OUT="$WORK/events.txt"
background "$ctl" --host "$HOST" events --since 0 --run "$run"
wait_for "$WORK/events.txt" "succeeded" 10
stop_background "$BGPID"
check "events prints TIME RUN NAME KIND STATUS REASON" grep -qE '^TIME +RUN +NAME +KIND +STATUS +REASON$' "$WORK/events.txt"
check "events --since 0 --run replays the run's history" test "$(tail -n +2 "$WORK/events.txt" | awk '{print $5}' | paste -sd ' ')" = "pending creating starting running succeeded"
check "an event line has the time, run, name, kind, status and reason" grep -qE "^20[0-9-]+T[0-9:.]+Z +$run +$det +Job +succeeded +completed$" "$WORK/events.txt"
OUT="$WORK/requests.txt"
background "$ctl" --host "$HOST" events --since 0
wait_for "$WORK/requests.txt" "request" 10
stop_background "$BGPID"
check "unfiltered events show requests as METHOD PATH -> STATUS actor" grep -qE "^20[0-9-]+T[0-9:.]+Z +request +POST /v1/specs -> 202 +uid:[0-9]+$" "$WORK/requests.txt"

# --- describe and runs of a job run
c describe "$run" >"$WORK/out"
check "describe RUN of a job exits 0" test $? = 0
for f in 'Status: +succeeded' 'Reason: +completed' 'Exit code: +0' 'Inputs digest: +[0-9a-f:sha]{64,}' \
    'Outputs digest: +[0-9a-f:sha]{64,}' 'Reproduced from: +-' 'Outputs:' 'PATH +SIZE +SHA256' \
    'copy\.txt +4 +[0-9a-f]{12}$' 'sub/status\.txt +5 +[0-9a-f]{12}$'; do
    check "describe of a job run shows ${f%%:*}" grep -qE "^ *$f" "$WORK/out"
done
check "describe NAME of a job shows its run's outputs" grep -qE '^ +copy\.txt ' <(c describe "$det")
c runs "$det" >"$WORK/out"
check "runs without reproductions has no REPRODUCES column" grep -qE '^RUN +NAME +KIND +STATUS +REASON +CREATED$' "$WORK/out"
check "runs shows the job's reason" grep -qE "^$run +$det +Job +succeeded +completed " "$WORK/out"

# --- reproduce --wait: identical
c reproduce "$run" --wait --timeout 60 >"$WORK/out" 2>"$WORK/err"
rc=$?
check "reproduce --wait of a deterministic job exits 0" test $rc = 0
check "reproduce prints the new run id first" grep -qE '^r-[0-9A-Z]{26}$' <(head -n 1 "$WORK/out")
check "reproduce --wait says the outputs are identical" grep -qx "identical to $run" "$WORK/out"
check "no inputs changed" test "$(grep -c 'inputs changed' "$WORK/out")" = 0
[ $rc = 0 ] || cat "$WORK/out" "$WORK/err"
rep=$(head -n 1 "$WORK/out")
check "the reproduction is recorded from the original" jqe ".reproducedFrom == \"$run\" and .comparison.identical == true" <(c -o json describe "$rep")
c describe "$rep" >"$WORK/out"
check "describe shows where a reproduction came from" grep -qE "^Reproduced from: +$run$" "$WORK/out"
check "describe shows the comparison" grep -qE "^Comparison: +outputs identical to $run$" "$WORK/out"
c runs "$det" >"$WORK/out"
check "runs shows REPRODUCES when a run is a reproduction" grep -qE '^RUN +NAME +KIND +STATUS +REASON +CREATED +REPRODUCES$' "$WORK/out"
check "runs names the original of the reproduction" grep -qE "^$rep +$det +Job +succeeded +completed +[^ ]+ +$run$" "$WORK/out"
check "runs shows - for runs that reproduce nothing" grep -qE "^$run +$det .* +-$" "$WORK/out"

c -o json reproduce "$run" --wait --timeout 60 >"$WORK/out.json" 2>"$WORK/err"
check "reproduce -o json --wait exits 0 when identical" test $? = 0
check "reproduce -o json --wait prints only the final run" jqe ".status == \"succeeded\" and .reproducedFrom == \"$run\" and .comparison.identical == true" "$WORK/out.json"
check "reproduce -o json keeps progress off stderr when it is not a terminal" test ! -s "$WORK/err"
c reproduce "$run" >"$WORK/out"
check "reproduce without --wait prints only the new run id" grep -qxE 'r-[0-9A-Z]{26}' "$WORK/out"
check "-o json reproduce without --wait prints the new run" jqe ".reproducedFrom == \"$run\" and (.status | type) == \"string\"" <(c -o json reproduce "$run")

# On a terminal: one line, redrawn in place.
script -qec "$ctl --host $HOST reproduce $run --wait --timeout 60" /dev/null >"$WORK/tty.out" 2>&1
check "reproduce --wait on a terminal exits 0" test $? = 0
check "terminal progress redraws its line with CR and clear-to-EOL" grep -q $'\r\e\[K'"$det" "$WORK/tty.out"
check "terminal output ends with the comparison" grep -q "identical to $run" "$WORK/tty.out"

# --- changed inputs: the copy differs and the inputs are named as changed
echo "two" >"$WORK/data/in/data.txt"
c reproduce "$run" --wait --timeout 60 >"$WORK/out" 2>"$WORK/err"
check "reproduce --wait exits 1 when an output changed" test $? = 1
check "the changed file is named" grep -qx "changed: copy.txt" "$WORK/out"
check "the unchanged file is not" test "$(grep -c 'status.txt' "$WORK/out")" = 0
check "it says the inputs changed" grep -qx "inputs changed since $run" "$WORK/out"
echo "one" >"$WORK/data/in/data.txt"

# --- a job that writes the time: reproduced, the file is named, exit 1
clock="$p-clock"
job "$clock" "echo same > /outputs/same.txt; date +%s%N > /outputs/time.txt; sleep 1" >"$WORK/clock.yaml"
c -o json apply -f "$WORK/clock.yaml" --wait --timeout 60 >"$WORK/out.json" 2>"$WORK/err"
check "apply -o json --wait of a job exits 0" test $? = 0
check "apply -o json --wait has the finished run with its outputs digest" jqe '.specs[0].run.status == "succeeded" and (.specs[0].run.outputsDigest | type) == "string"' "$WORK/out.json"
clock_run=$(jq -r '.specs[0].run.id' "$WORK/out.json")
c reproduce "$clock_run" --wait --timeout 60 >"$WORK/out" 2>"$WORK/err"
check "reproduce --wait of a job writing the time exits 1" test $? = 1
check "it says the outputs differ" grep -qx "outputs differ from $clock_run:" "$WORK/out"
check "it names the changed file" grep -qx "changed: time.txt" "$WORK/out"
check "it does not name the same file" test "$(grep -c 'same.txt' "$WORK/out")" = 0
check "the inputs did not change" test "$(grep -c 'inputs changed' "$WORK/out")" = 0
clock_rep=$(head -n 1 "$WORK/out")
c describe "$clock_rep" >"$WORK/out"
check "describe names the changed file of a reproduction" grep -qE "^  changed: +time\.txt$" "$WORK/out"
check "describe says it differs" grep -qE "^Comparison: +outputs differ from $clock_run$" "$WORK/out"

# --- a job that fails: apply and reproduce --wait exit 1 with the reason
bad="$p-bad"
job "$bad" "echo partial > /outputs/p.txt; exit 3" >"$WORK/bad.yaml"
c apply -f "$WORK/bad.yaml" --wait --timeout 60 >"$WORK/out" 2>"$WORK/err"
check "apply --wait of a failing job exits 1" test $? = 1
check "the failure names the run, reason and exit code" grep -qE "^cassinyctl: $bad failed \(run r-[0-9A-Z]{26}\): failed \(exit code 3\)$" "$WORK/err"
bad_run=$(c -o json runs "$bad" | jq -r '.runs[0].id')
c reproduce "$bad_run" --wait --timeout 60 >"$WORK/out" 2>"$WORK/err"
check "reproduce --wait of a failing job exits 1" test $? = 1
check "it says why" grep -qE "^cassinyctl: $bad failed \(run r-[0-9A-Z]{26}\): failed \(exit code 3\)$" "$WORK/err"
c describe "$bad_run" >"$WORK/out"
check "describe of a failed job shows its exit code" grep -qE '^Exit code: +3$' "$WORK/out"
check "describe of a failed job shows its reason" grep -qE '^Reason: +failed$' "$WORK/out"

# --- a job that outlives --timeout
slow="$p-slow"
job "$slow" "sleep 60" >"$WORK/slow.yaml"
t0=$(date +%s)
c apply -f "$WORK/slow.yaml" --wait --timeout 2 >"$WORK/out" 2>"$WORK/err"
check "apply --wait --timeout 2 of a long job exits 1" test $? = 1
check "it says it timed out while the job runs" grep -qE "timed out after 2s waiting for $slow \(still (running|starting|creating)\)" "$WORK/err"
check "it gave up in time" test $(($(date +%s) - t0)) -le 6
slow_run=$(c -o json runs "$slow" | jq -r '.runs[0].id')
c stop "$slow_run" >/dev/null

# --- events resume after the daemon restarts, missing nothing
OUT="$WORK/resume.json"
background "$ctl" --host "$HOST" events -o json --name "$det"
resume_pid=$BGPID
sleep 0.5
stop_daemon
check "events keeps running while the daemon is down" kill -0 "$resume_pid"
start_daemon "$build" --config "$WORK/config.yaml" || not_ok "daemon restarts"
resumed=$(c reproduce "$run")
wait_for "$WORK/resume.json" "\"id\":\"$resumed\",.*\"status\":\"succeeded\"" 30
stop_background "$resume_pid"
check "events says it reconnects" grep -q "reconnecting" "$WORK/resume.json.err"
check "after the restart events follow the new run from its start" test "$(jq -r "select(.data.id == \"$resumed\") | .data.status" "$WORK/resume.json" | paste -sd ' ')" = "pending creating starting running succeeded"

summary
