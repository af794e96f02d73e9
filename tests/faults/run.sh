#!/bin/bash
# The fault-injection suite: private daemons (tests/integration/lib.sh
# conventions) over one file of two Jobs (one with inputs and outputs), a
# Notebook and a 2-replica Model, all busybox stand-ins that start in a
# fraction of a second. Every trial crashes a daemon, starts it again
# without the fault, lets it settle, applies the same file again (the client
# never got its answer) and checks the invariants of check.py; then applies
# it once more, which must answer unchanged and run nothing.
#
# Scenarios (one table row each):
#   failpoints   the fail-point list of `cassinyd --list-failpoints` is the
#                list of CASS_FAILPOINT("...") uses in daemon/*.c
#   <step>       every named fail point (CASS_FAILPOINT=step): rollout steps
#                during a rollout from v1 to v2, reconcile steps at the start
#                after a crash that left a container to remove; three launch
#                steps again at their 4th hit (step:4)
#   random       kill -9 at a random moment of the workload (odd trials) or
#                of a rollout (even trials)
#   sigterm-rollout  SIGTERM at three steps of a rollout: the spec must
#                point at the revision that serves (finding 7)
#   finished-while-down  a job that ends while the daemon is down records the
#                engine's FinishedAt, not the restart's time (finding 9)
#
# Usage: tests/faults/run.sh BUILD SRC [--random N] [--seed S] [--parallel P]
#                            [--only PATTERN]
# Ends with "faults: N passed, M failed" (trials); a failed trial keeps its
# daemon logs in BUILD/tests/faults/.
set -u
build=${1:?usage: run.sh BUILD SRC [--random N] [--seed S] [--parallel P] [--only PATTERN]}
src=${2:?usage: run.sh BUILD SRC [--random N] [--seed S]}
. "$src/tests/integration/reap.sh"
shift 2
RANDOM_N=20
SEED=$(date +%s)
PARALLEL=3
ONLY=
while [ $# -gt 0 ]; do
    case $1 in
    --random) RANDOM_N=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --parallel) PARALLEL=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
BUSYBOX=${CASS_TEST_IMAGE:-cassiny/test-busybox:latest}
ROOT=$(mktemp -d /tmp/cassiny-faults.XXXXXX)
HTTPD=cassiny/faults-httpd-$$:v1
OUTDIR="$build/tests/faults"
mkdir -p "$OUTDIR"
rm -f "$OUTDIR"/*.log "$OUTDIR"/results
cassinyd="$build/daemon/cassinyd"

cleanup() {
    local inst p
    # Only a daemon of ours that still runs: a pid recorded long ago may be
    # another program's now (another suite's daemon, in CI).
    for p in $(cat "$ROOT"/*/pids 2>/dev/null); do
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$ROOT/" && kill -9 "$p" 2>/dev/null
    done
    for inst in $(cat "$ROOT"/*/state/instance 2>/dev/null); do
        docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$inst") >/dev/null 2>&1
    done
    docker rmi "$HTTPD" >/dev/null 2>&1
    rm -rf "$ROOT"
    true
}
trap cleanup EXIT

# The stand-in image: busybox httpd on $CASSINY_MODEL_PORT, /ping.txt its health.
make_httpd_image() {
    local dir="$ROOT/image" cid rc
    mkdir -p "$dir/www" "$dir/app"
    echo pong >"$dir/www/ping.txt"
    printf '#!/bin/sh\nexec httpd -f -p "${CASSINY_MODEL_PORT:-8080}" -h /www\n' >"$dir/app/start.sh"
    chmod -R a+rX "$dir"
    chmod 755 "$dir/app/start.sh"
    cid=$(docker create "$BUSYBOX" true) || return 1
    docker cp "$dir/www" "$cid:/www" && docker cp "$dir/app" "$cid:/app" &&
        docker commit --change 'CMD ["/app/start.sh"]' "$cid" "$HTTPD" >/dev/null
    rc=$?
    docker rm "$cid" >/dev/null
    return $rc
}

# workload DIR VERSION: the file (DIR/workload.yaml) and what it asks (DIR/workload.json)
workload() {
    local w=$1 v=$2
    cat >"$w/workload.yaml" <<EOF
apiVersion: cassiny/v1
kind: Job
metadata: {name: fj-in}
spec:
  image: $BUSYBOX
  command: [sh, -c, "sleep 2; cat /in/x.txt > /outputs/copy.txt; echo copied"]
  inputs: [{source: $w/data/in, target: /in}]
  outputs: /outputs
---
apiVersion: cassiny/v1
kind: Job
metadata: {name: fj-quick}
spec:
  image: $BUSYBOX
  command: [sh, -c, "echo quick"]
---
apiVersion: cassiny/v1
kind: Notebook
metadata: {name: fnb}
spec:
  image: $BUSYBOX
  resources: {cpus: 250m, memory: 64Mi}
  command: ["sh", "-c", "mkdir -p /tmp/w/api && echo '{\"last_activity\":\"2030-01-01T00:00:00Z\"}' > /tmp/w/api/status && exec httpd -f -p 8888 -h /tmp/w"]
---
apiVersion: cassiny/v1
kind: Model
metadata: {name: fm}
spec:
  image: $HTTPD
  artifact: $w/data/model.bin
  version: $v
  replicas: 2
  health: {path: /ping.txt, intervalSeconds: 1, timeoutSeconds: 1}
  resources: {cpus: 250m, memory: 64Mi}
  env: {V: "$v"}
EOF
    echo '{"jobs": ["fj-in", "fj-quick"], "notebooks": ["fnb"], "models": {"fm": {"replicas": 2}}}' \
        >"$w/workload.json"
}

# --- one daemon of a trial (W: its directory)
# dstart [FAILPOINT]: starts cassinyd; 0 when it answers, 1 when it died first
dstart() {
    local fp=${1:-} i=0
    if [ -n "$fp" ]; then
        CASS_FAILPOINT=$fp "$cassinyd" --state-dir "$W/state" --socket "$W/sock" --config "$W/config.yaml" \
            --log-level debug >>"$W/cassinyd.log" 2>&1 &
    else
        "$cassinyd" --state-dir "$W/state" --socket "$W/sock" --config "$W/config.yaml" \
            --log-level debug >>"$W/cassinyd.log" 2>&1 &
    fi
    DPID=$!
    echo "$DPID" >>"$W/pids"
    echo "--- cassinyd $DPID ${fp:+CASS_FAILPOINT=$fp}" >>"$W/cassinyd.log"
    until curl -fsS --unix-socket "$W/sock" http://localhost/healthz >/dev/null 2>&1; do
        kill -0 "$DPID" 2>/dev/null || return 1
        i=$((i + 1))
        [ $i -gt 150 ] && return 1
        sleep 0.1
    done
}
# dwait_death SECONDS: 0 when the daemon died (its status in DSTATUS) within SECONDS
dwait_death() {
    local end=$(($(date +%s) + $1))
    while alive "$DPID"; do
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.1
    done
    { wait "$DPID"; } 2>/dev/null
    DSTATUS=$?
    return 0
}
# dkill [SIG]: the daemon signalled (9 unless said) and waited for: one that
# has not ended 90 s after a SIGTERM is a problem of the trial, its threads shown
dkill() {
    kill "-${1:-9}" "$DPID" 2>/dev/null
    reap "$DPID" 90 >>"$W/hang.txt" || problem "cassinyd did not end within 90 s of SIG${1:-KILL}: $(head -c 2000 "$W/hang.txt")"
    DSTATUS=$REAPED
}
# apply_file: prints the status code, also kept in $W/apply.code
apply_file() {
    curl -sS --max-time 60 --unix-socket "$W/sock" -X POST -o "$W/apply.out" -w '%{http_code}' \
        -H 'Content-Type: application/yaml' --data-binary "@$W/workload.yaml" \
        http://localhost/v1/specs 2>/dev/null | tee "$W/apply.code"
}
runs_json() { curl -s --max-time 10 --unix-socket "$W/sock" "http://localhost/v1/runs?limit=1000"; }
# settle SECONDS: until no run is on its way (every one final or ready) and
# every spec of the file has a current run that is final or ready
settle() {
    local end=$(($(date +%s) + $1)) specs
    while :; do
        specs=$(curl -s --max-time 10 --unix-socket "$W/sock" http://localhost/v1/specs)
        if jq -e --argjson w "$(cat "$W/workload.json")" '
            [.specs[] | select(.name as $n | ($w.jobs + $w.notebooks + ($w.models | keys)) | index($n))]
            | length == ($w.jobs + $w.notebooks + ($w.models | keys) | length)
              and all(.status | IN("succeeded", "failed", "stopped", "ready"))' <<<"$specs" >/dev/null 2>&1 &&
            runs_json | jq -e '[.runs[] | select(.status | IN("pending","queued","creating","starting","running"))] | length == 0' >/dev/null 2>&1; then
            return 0
        fi
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.5
    done
}
# new_trial NAME: a fresh directory, config and data for one trial
new_trial() {
    W="$ROOT/$1"
    T0=$(date +%s)
    mkdir -p "$W/data/in"
    echo "input of $1" >"$W/data/in/x.txt"
    echo "model bytes of $1" >"$W/data/model.bin"
    cat >"$W/config.yaml" <<CFG
policy:
  images: ["cassiny/*"]
  mountRoots: ["$W/data"]
  maxCpus: 4
  maxMemory: 8Gi
  maxGpus: 0
gateway: {port: 0}
CFG
    workload "$W" v1
    : >"$W/problems"
}
problem() { echo "$*" >>"$W/problems"; }
# to_v2: the same file with the model at v2 (a rollout)
to_v2() { workload "$W" v2; }
# v1_settled: a daemon without faults that ran the v1 file to the end, then stopped
v1_settled() {
    dstart || { problem "the daemon did not start"; return 1; }
    [ "$(apply_file)" = 202 ] || { problem "v1 apply: $(head -c 300 "$W/apply.out")"; return 1; }
    settle 90 || { problem "v1 did not settle"; return 1; }
    dkill TERM
}

# recover: the daemon again without faults; the file applied again when the
# crash cut the apply short (a client that got no answer tries again; one
# that got its 202 does not), settled, checked, and applied once more
# (unchanged, nothing new)
recover() {
    local code before after
    dstart || { problem "the daemon did not start again after the crash"; return; }
    if [ "$(cat "$W/apply.code" 2>/dev/null)" != 202 ]; then
        code=$(apply_file)
        [ "$code" = 202 ] || problem "apply after the restart answered $code: $(head -c 300 "$W/apply.out")"
    fi
    settle 120 || problem "did not settle within 120 s: $(runs_json | jq -c '[.runs[] | select(.status | IN("succeeded","failed","stopped") | not) | {name, status, reason}]')"
    python3 "$src/tests/faults/check.py" "$W/sock" "$W/state" "$W/workload.json" >>"$W/problems" 2>&1
    before=$(runs_json | jq '.runs | length')
    code=$(apply_file)
    after=$(runs_json | jq '.runs | length')
    if [ "$code" != 202 ] || ! jq -e 'all(.specs[]; .changed == false)' "$W/apply.out" >/dev/null 2>&1; then
        problem "applying the same file again: $code $(jq -c '[.specs[]? | select(.changed) | .name]' "$W/apply.out" 2>/dev/null || head -c 200 "$W/apply.out")"
    fi
    [ "$before" = "$after" ] || problem "applying the same file again made $((after - before)) new runs"
    dkill TERM
    [ "$DSTATUS" = 0 ] || problem "cassinyd exited $DSTATUS at SIGTERM (ASan report?)"
}

# finish_trial SCENARIO NAME: records the result, keeps the logs of a failure
finish_trial() {
    local scen=$1 name=$2 inst
    inst=$(cat "$W/state/instance" 2>/dev/null)
    [ -n "$inst" ] && docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$inst") >/dev/null 2>&1
    if [ -s "$W/problems" ]; then
        echo "$scen FAIL $name" >>"$OUTDIR/results"
        { echo "=== $name"; cat "$W/problems"; } >"$OUTDIR/$name.problems.log"
        cp "$W/cassinyd.log" "$OUTDIR/$name.cassinyd.log"
        echo "not ok - $name ($(($(date +%s) - T0)) s):"
        sed 's/^/    /' "$W/problems" | head -n 20
    else
        echo "$scen ok $name" >>"$OUTDIR/results"
        echo "ok - $name ($(($(date +%s) - T0)) s)"
    fi
    rm -rf "$W/state" "$W/data"
}

# --- the scenarios
t_failpoint() { # t_failpoint STEP
    local step=$1 name="fp-${1//[.:]/-}"
    new_trial "$name"
    case $step in
    rollout.*)
        v1_settled || { finish_trial "$step" "$name"; return; }
        to_v2
        dstart "$step" || true
        apply_file >/dev/null
        ;;
    reconcile.*)
        # A crash that leaves a container for reconcile: a job's end
        # recorded, its container not yet removed.
        dstart job.before-container-removal || true
        apply_file >/dev/null
        dwait_death 60 || problem "job.before-container-removal was not reached in 60 s"
        dkill 9
        dstart "$step" || true
        ;;
    *)
        dstart "$step" || true
        apply_file >/dev/null
        ;;
    esac
    dwait_death 60 || problem "fail point $step was not reached in 60 s"
    dkill 9
    recover
    finish_trial "$step" "$name"
}

t_random() { # t_random I DELAY_MS
    local i=$1 ms=$2 name="random-$1"
    new_trial "$name"
    if [ $((i % 2)) = 0 ]; then
        v1_settled || { finish_trial random "$name"; return; }
        to_v2
        name="$name-rollout"
    fi
    dstart || { problem "the daemon did not start"; finish_trial random "$name"; return; }
    apply_file >/dev/null &
    local ap=$!
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    dkill 9
    wait $ap 2>/dev/null
    echo "killed after $ms ms" >>"$W/cassinyd.log"
    recover
    finish_trial random "$name"
}

# t_sigterm_rollout WHEN: SIGTERM once the rollout to v2 reached WHEN,
# decided from the record, not a clock (a loaded machine moves clocks):
#   creating  the new run has its first replica's container
#   healthy   its first replica passed its health check (the daemon's log)
#   retired   an old replica is gone from the old run
t_sigterm_rollout() {
    local when=$1 name="sigterm-rollout-$1" i new old reached=
    new_trial "$name"
    v1_settled || { finish_trial sigterm-rollout "$name"; return; }
    old=$(jq -r '.specs[] | select(.name == "fm") | .run.id' "$W/apply.out")
    to_v2
    dstart || { problem "the daemon did not start"; finish_trial sigterm-rollout "$name"; return; }
    apply_file >/dev/null
    new=$(jq -r '.specs[] | select(.name == "fm") | .run.id' "$W/apply.out")
    for i in $(seq 600); do
        case $when in
        creating) runs_json | jq -e --arg id "$new" '.runs[] | select(.id == $id and (.containers | length) >= 1)' >/dev/null 2>&1 ;;
        healthy) sed -n '/^--- cassinyd '"$DPID"'/,$p' "$W/cassinyd.log" | grep -q "replica 0 of fm healthy" ;;
        retired) runs_json | jq -e --arg id "$old" '.runs[] | select(.id == $id and (.containers | length) < 2)' >/dev/null 2>&1 ;;
        esac && { reached=1; break; }
        sleep 0.1
    done
    [ -n "$reached" ] || problem "the rollout did not reach $when in 60 s"
    dkill TERM
    [ "$DSTATUS" = 0 ] || problem "cassinyd exited $DSTATUS at SIGTERM mid-rollout"
    recover
    finish_trial sigterm-rollout "$name"
}

# A job that ends while the daemon is down: its finishedAt is the engine's
# FinishedAt, before the restart, not when the daemon noticed (finding 9).
t_finished_while_down() {
    local name=finished-while-down i fin restart
    new_trial "$name"
    dstart || { problem "the daemon did not start"; finish_trial "$name" "$name"; return; }
    apply_file >/dev/null
    for i in $(seq 100); do
        runs_json | jq -e '.runs[] | select(.name == "fj-in" and .status == "running")' >/dev/null 2>&1 && break
        sleep 0.1
    done
    dkill 9
    sleep 4 # fj-in ends 2 s after its start
    restart=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
    recover
    dstart || { problem "the daemon did not start"; finish_trial "$name" "$name"; return; }
    fin=$(runs_json | jq -r '[.runs[] | select(.name == "fj-in")][0].finishedAt')
    dkill TERM
    [[ "$fin" < "$restart" ]] || problem "fj-in finishedAt $fin is not before the restart at $restart"
    finish_trial "$name" "$name"
}

t_list() {
    new_trial failpoints
    local listed used
    listed=$("$cassinyd" --list-failpoints | sort)
    used=$(grep -ho 'CASS_FAILPOINT("[^"]*")' "$src"/daemon/*.c | sed 's/.*("\(.*\)")/\1/' | sort -u)
    [ -n "$listed" ] || problem "cassinyd --list-failpoints printed nothing"
    [ "$listed" = "$used" ] || problem "listed and used fail points differ: $(diff <(echo "$listed") <(echo "$used") | grep '^[<>]' | tr '\n' ' ')"
    CASS_FAILPOINT=no.such-step "$cassinyd" --state-dir "$W/state" --socket "$W/sock" \
        --config "$W/config.yaml" >"$W/bad.out" 2>&1 && problem "an unknown fail point name was accepted"
    finish_trial failpoints failpoints
}

# --- main
started=$(date +%s)
echo "# fault suite: seed $SEED, $RANDOM_N random kill points, $PARALLEL at a time"
docker image inspect "$BUSYBOX" >/dev/null 2>&1 || { echo "not ok - image $BUSYBOX is missing"; echo "faults: 0 passed, 1 failed"; exit 1; }
make_httpd_image || { echo "not ok - the stand-in image $HTTPD"; echo "faults: 0 passed, 1 failed"; exit 1; }

RANDOM=$SEED
TRIALS=("t_list")
for step in $("$cassinyd" --list-failpoints); do TRIALS+=("t_failpoint $step"); done
# The first hit of a launch step is whichever run got there first (a job,
# mostly): the 4th of 5 creates and starts is a model's or notebook's.
for step in launch.after-create:4 launch.after-create-recorded:4 launch.after-start:4; do
    TRIALS+=("t_failpoint $step")
done
for when in creating healthy retired; do TRIALS+=("t_sigterm_rollout $when"); done
TRIALS+=("t_finished_while_down")
for i in $(seq "$RANDOM_N"); do
    if [ $((i % 2)) = 0 ]; then ms=$((RANDOM % 4000)); else ms=$((RANDOM % 7000)); fi
    TRIALS+=("t_random $i $ms")
done

running=0
for t in "${TRIALS[@]}"; do
    if [ -n "$ONLY" ] && [[ "$t" != *$ONLY* ]]; then continue; fi
    ( $t ) 2>>"$OUTDIR/trials.err" &
    running=$((running + 1))
    if [ $running -ge "$PARALLEL" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

echo
printf '%-40s %7s %9s\n' scenario trials failures
awk '{ t[$1]++; if ($2 == "FAIL") f[$1]++; if (!($1 in o)) { o[$1] = ++n; k[n] = $1 } }
     END { for (i = 1; i <= n; i++) printf "%-40s %7d %9d\n", k[i], t[k[i]], f[k[i]] }' "$OUTDIR/results"
pass=$(grep -c ' ok ' "$OUTDIR/results")
fail=$(grep -c ' FAIL ' "$OUTDIR/results")
echo "# $(( $(date +%s) - started )) s; seed $SEED"
echo "faults: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
