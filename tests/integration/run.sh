#!/bin/bash
# Runs the integration suites against the real Docker Engine, CASS_IT_JOBS
# (default 3) at a time: each suite has its own daemons, sockets, state and
# spec names, so they do not see each other. The suites that measure time
# (engine outage, hostile clients, load) and the Swarm suite (a lab of
# Docker-in-Docker nodes) run alone at the end. Each suite's output goes to its log, printed in
# the order of the list below once all have ended.
#
# Each suite has a deadline (CASS_IT_TIMEOUT seconds, 1,500 unless set; the
# fault suite twice that): a suite past it is stopped (SIGTERM to its whole
# session, so its trap cleans up; SIGKILL 30 s later), counted failed, and
# its log says what it was running then. A suite that hangs thus shows which one it was instead
# of running CI out of time. A line per start and end goes to the file
# CASS_IT_PROGRESS names as it happens (run-all.sh passes its stdout).
# Usage: run.sh BUILDDIR SRCDIR   (called by `make check-integration`)
set -u
build=$1
src=$2
it="$src/tests/integration"
logs="$build/tests/integration"
mkdir -p "$logs"
jobs=${CASS_IT_JOBS:-3}
limit=${CASS_IT_TIMEOUT:-1500}
progress=${CASS_IT_PROGRESS:-/dev/null}
. "$it/reap.sh"

# name|what it is|command, longest first so that the lanes end together
suites=(
    "faults|the fault suite: kill -9 at every fail point and 20 random points (tests/faults)|bash $src/tests/faults/run.sh $build $src --random 20 --parallel 2"
    "systemd|cassinyd under systemd as PID 1: verify, Type=notify, stop, kill -9, reload, hardening|bash $it/test_systemd.sh $build $src"
    "notebook|notebooks end to end (real Jupyter)|bash $it/test_notebook.sh $build $src"
    "nbgw|notebooks through the gateway: auth, WebSocket kernels, contents, culled and woken (real Jupyter)|bash $it/test_nbgw.sh $build $src"
    "model|models end to end (real serving image, gateway, rollouts)|bash $it/test_model.sh $build $src"
    "ui_browser|the dashboard in Chromium (Playwright): notebooks, runs, comparisons, a live rollout, apply; screenshots in BUILD/test/ui-screenshots|bash $src/tests/ui/run.sh $build $src"
    "core|the daemon's core under load (busybox stand-ins; CASS_ONLY=NAME runs one test)|env CASS_SKIP=race bash $it/test_core.sh $build $src"
    "core_race|500 launches against a loop that swaps their input for a link out of the roots|env CASS_ONLY=race bash $it/test_core.sh $build $src"
    "restart|daemon restarts under request loops: socket activation, 5 SIGTERM and 5 kill -9|bash $it/test_restart.sh $build $src"
    "job|jobs, reproduce, events (real engine)|bash $it/test_job.sh $build $src"
    "cli_jobs|cassinyctl and jobs: events, reproduce, outputs|bash $it/test_cli_jobs.sh $build $src"
    "cli|cassinyctl verbs|bash $it/test_cli.sh $build $src"
    "openapi|api/openapi.yaml: Redocly and Spectral lint it, its routes, examples and every live answer checked against it|bash $it/test_openapi.sh $build $src"
    "ui|the dashboard with curl: the embedded bundle, CSP, login, the session cookie, CSRF, a tarball built without node|bash $it/test_ui.sh $build $src"
    "teams|users with scoped tokens on the TCP listener: 401, 403, owners, secrets, audit|bash $it/test_teams.sh $build $src"
    "daemon|cassinyd and cassinyctl|bash $it/test_daemon.sh $build $src"
    "tls|the API and the gateway over TLS: a throwaway CA, mutual TLS, stalled handshakes|bash $it/test_tls.sh $build $src"
    "completion|shell completion of cassinyctl (bash, zsh) against a live daemon|bash $it/test_completion.sh $build $src"
    "check_engine_live|engine client against the real engine|$build/tests/integration/check_engine_live"
    "lint|the test scripts: no bare timeout(1) around a sanitized binary, no bare wait for a daemon asked to end|bash $it/lint.sh $src"
)
alone=(
    "outage|engine outage and full disk (a private engine, a tmpfs state directory)|bash $it/test_outage.sh $build $src"
    "hostile|hostile clients on the API socket: 1,000 idle, 200 streams, trickles|bash $it/test_hostile.sh $build $src"
    "gateway_load|the gateway and the API under 1,100 connections|bash $it/test_gateway_load.sh $build $src"
    "swarm|the Swarm backend on a 3-node lab Swarm (packaging/swarm/lab.sh up and down): jobs, notebook, model rollouts and a node drain|bash $it/test_swarm.sh $build $src"
)

status=0
declare -A pid_of
say() { echo "$*"; echo "$*" >>"$progress"; }
# watch NAME PID T: after T s, if PID (the leader of the suite's own
# session) still runs, writes what its session runs into the suite's log and
# stops it: SIGTERM to the session (the suite's trap cleans up), SIGKILL 30 s
# later.
watch() {
    local name=$1 p=$2 t=$3
    sleep "$t" &
    wait $! 2>/dev/null || return
    kill -0 "$p" 2>/dev/null || return
    {
        echo "$name: stopped at its deadline of $t s; what it ran then:"
        ps -eo pid,sid,etime,stat,wchan:20,args --forest | awk -v s="$p" 'NR == 1 || $2 == s'
        # shellcheck disable=SC2046 # a list of pids
        show_procs $(ps -eo pid,sid | awk -v s="$p" '$2 == s && $1 != s { print $1 }')
    } >>"$logs/$name.log"
    kill -TERM -- "-$p" 2>/dev/null
    sleep 30
    kill -KILL -- "-$p" 2>/dev/null
}
run_one() { # run_one ENTRY: starts it in the background, under its deadline
    local name=${1%%|*} rest=${1#*|}
    local cmd=${rest#*|} t=$limit
    [ "$name" = faults ] && t=$((2 * limit))
    say "--- start $name ($(date +%T), deadline ${t} s)"
    rm -f "$logs/$name.rc"
    (
        s=$(date +%s)
        # A session of its own, so that the deadline reaches all it started.
        # shellcheck disable=SC2086 # the command is words on purpose
        setsid $cmd >"$logs/$name.log" 2>&1 &
        p=$!
        watch "$name" "$p" "$t" &
        w=$!
        wait "$p" 2>/dev/null
        rc=$?
        pkill -P "$w" sleep 2>/dev/null
        kill "$w" 2>/dev/null
        # What a suite leaves running is its defect: said, and stopped.
        left=$(ps -eo pid,sid,args | awk -v s="$p" '$2 == s && $1 != s')
        if [ -n "$left" ]; then
            printf '%s: left running after it ended (stopped now):\n%s\n' "$name" "$left" >>"$logs/$name.log"
            kill -TERM -- "-$p" 2>/dev/null
            sleep 5
            kill -KILL -- "-$p" 2>/dev/null
        fi
        echo $rc >"$logs/$name.rc"
        say "--- end $name ($(date +%T), $(($(date +%s) - s)) s, exit $rc)"
    ) &
    pid_of[$name]=$!
}
finish() { # finish ENTRY: waits for it, then prints its log
    local name=${1%%|*} rest=${1#*|}
    local what=${rest%%|*}
    wait "${pid_of[$name]}" 2>/dev/null
    [ "$(cat "$logs/$name.rc" 2>/dev/null)" = 0 ] || status=1
    echo "--- $what [$name]"
    case $name in
    check_*) tail -n 15 "$logs/$name.log" ;;
    *) grep -v '^debug: ' "$logs/$name.log" ;;
    esac
}

running=0
for s in "${suites[@]}"; do
    if [ $running -ge "$jobs" ]; then
        wait -n 2>/dev/null || true
        running=$((running - 1))
    fi
    run_one "$s"
    running=$((running + 1))
done
for s in "${suites[@]}"; do finish "$s"; done
for s in "${alone[@]}"; do
    run_one "$s"
    finish "$s"
done
exit $status
