#!/bin/bash
# A daemon restart fails no request: cassinyd runs socket-activated under
# activate.py (the way systemd runs it with cassinyd.socket,
# cassinyd-gateway.socket and Restart=on-failure), with a Model of 2
# replicas (busybox httpd stand-ins), while one loop sends ~50 requests a
# second through the gateway and another as many to the API's /healthz,
# each on a new connection:
#
#   graceful   5 restarts (SIGTERM, started again): 0 failed requests, each exit 0
#   kill9      5 kill -9 (started again as after a failure): no request refused,
#              none answered 503 or timed out; only a request the killed daemon
#              held (accepted, not yet answered) is lost with it, at most one
#              per kill and loop (each loop has one request in flight)
#   replicas   the model's containers are the same ones after all ten: none was
#              stopped or replaced
#   split      the gateway in a process of its own (cassinyd --gateway-only, its
#              socket passed by a second supervisor, as cassinyd-gateway.service
#              runs) and the daemon without it (--no-gateway): 5 kill -9 of the
#              daemon fail no request to the model at all (none is held by the
#              killed process), 2 restarts of the gateway process none either,
#              and a model applied meanwhile is served
#
# Figures (requests, failures, longest latency) are printed per loop and phase.
# CASS_RESTART_SELF_BIND=1 runs the same against a daemon that binds its own
# sockets (as every daemon before socket activation did; BUILDDIR may be a
# build of an older tree): then the loops must see failures, which shows the
# test can tell. CASS_RESTART_COUNT changes the 5.
#
# Usage: test_restart.sh BUILDDIR SRCDIR
set -u
build=$1
src=$2
SUITE=restart
. "$src/tests/integration/lib.sh"
it="$src/tests/integration"
BUSYBOX=${CASS_TEST_IMAGE:-cassiny/test-busybox:latest}
SELF_BIND=${CASS_RESTART_SELF_BIND:-}
COUNT=${CASS_RESTART_COUNT:-5}
P=restart-$$
HTTPD=cassiny/restart-httpd-$$:v1 # private image: busybox httpd and a page
WORK=$(mktemp -d /tmp/cassiny-restart.XXXXXX)
SOCK="$WORK/cassiny.sock"
SUP_PID=
LOOPS=()

cleanup() {
    local p
    for p in "${LOOPS[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$SUP_PID" ] && kill "$SUP_PID" 2>/dev/null && reap "$SUP_PID" 60
    [ -n "${GW_SUP:-}" ] && kill "$GW_SUP" 2>/dev/null && reap "$GW_SUP" 60
    local inst
    inst=$(cat "$WORK/state/instance" 2>/dev/null)
    [ -n "$inst" ] && docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$inst") >/dev/null 2>&1
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.test=$P") >/dev/null 2>&1
    docker rmi "$HTTPD" >/dev/null 2>&1
    if [ "$failed" -gt 0 ] && [ -f "$WORK/cassinyd.log" ]; then
        mkdir -p "$build/tests/integration"
        cp "$WORK/cassinyd.log" "$build/tests/integration/restart-cassinyd.log"
        [ -f "$WORK/gateway.log" ] && cp "$WORK/gateway.log" "$build/tests/integration/restart-gateway.log"
        echo "# the daemon's warnings (whole log in tests/integration/restart-cassinyd.log):"
        grep -E '^(warn|error):' "$WORK/cassinyd.log" | tail -n 10 | sed 's/^/#   /'
    fi
    rm -rf "$WORK"
    true
}
trap cleanup EXIT

daemon_pid() { cat "$WORK/daemon.pid" 2>/dev/null; }
healthy() { curl -fsS --max-time 2 --unix-socket "$SOCK" -o /dev/null http://localhost/healthz 2>/dev/null; }
# up_after OLD_PID: waits (30 s at most) for a daemon other than OLD_PID to answer
up_after() {
    local old=$1 i
    for i in $(seq 300); do
        if [ "$(daemon_pid)" != "$old" ] && kill -0 "$(daemon_pid)" 2>/dev/null && healthy; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# restarts PHASE HOW: COUNT restarts of the daemon, each by HOW (hup: SIGHUP
# to the supervisor, systemctl restart; kill: kill -9 of the daemon, started
# again as after a failure), each waited for
restarts() {
    local phase=$1 how=$2 i old
    for i in $(seq "$COUNT"); do
        old=$(daemon_pid)
        if [ "$how" = hup ]; then kill -HUP "$SUP_PID"; else kill -KILL "$old"; fi
        up_after "$old" || not_ok "$phase, restart $i: a new daemon answers within 30 s"
        sleep 1.5
    done
}

# start_loops PHASE: a loop on the gateway and one on /healthz, in the background
start_loops() {
    python3 "$it/request_loop.py" --tcp "127.0.0.1:$PORT" --path "/models/$P/ping.txt" \
        >"$WORK/$1-gateway.json" 2>"$WORK/$1-gateway.err" &
    LOOPS=($!)
    python3 "$it/request_loop.py" --unix "$SOCK" --path /healthz \
        >"$WORK/$1-api.json" 2>"$WORK/$1-api.err" &
    LOOPS+=($!)
    sleep 1
}
stop_loops() {
    local p
    sleep 1
    for p in "${LOOPS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${LOOPS[@]}"; do wait "$p" 2>/dev/null; done
    LOOPS=()
}
# report PHASE WHAT: prints the loop's figures, checks its failures (kill9:
# apart from the requests the killed daemons held)
report() {
    local phase=$1 what=$2 f=$WORK/$1-$2.json n bad cut lat
    n=$(jq -r .requests "$f" 2>/dev/null)
    bad=$(jq -r .failed "$f" 2>/dev/null)
    cut=$(jq -r .cut "$f" 2>/dev/null)
    lat=$(jq -r '"\(.max_latency_ms) ms (median \(.median_ms) ms)"' "$f" 2>/dev/null)
    echo "# $phase, $what loop: ${n:-?} requests, ${bad:-?} failed (${cut:-?} cut by a kill)," \
        "longest ${lat:-?} $(jq -c '.errors // {}' "$f" 2>/dev/null)"
    [ -n "$n" ] && [ "$n" -gt 0 ] || { not_ok "$phase: the $what loop ran ($(head -c 300 "$WORK/$1-$2.err"))"; return; }
    if [ -n "$SELF_BIND" ]; then
        echo "# $phase, $what loop, first failures: $(jq -c .first "$f")"
        FAILED_TOTAL=$((FAILED_TOTAL + bad))
    elif [ "$phase" = kill9 ] || [ "$phase" = split-kill9 ]; then
        check "$phase: no request to the $what refused, answered 503 or timed out over $COUNT kills ($((bad - cut)) of $n)" \
            test "$bad" = "$cut"
        check "$phase: at most one request to the $what lost with each killed daemon ($cut in $COUNT kills)" \
            test "$cut" -le "$COUNT"
    else
        check "$phase: no request to the $what failed over $COUNT restarts ($bad of $n)" test "$bad" = 0
    fi
}

if ! docker image inspect "$BUSYBOX" >/dev/null 2>&1; then
    not_ok "image $BUSYBOX is present (packaging/images/build-test-image.sh builds it)"
    summary
    exit 1
fi
if ! make_httpd_image "$HTTPD" "$P" "$BUSYBOX"; then
    not_ok "the busybox httpd image $HTTPD is made from $BUSYBOX"
    summary
    exit 1
fi
write_config
if [ -z "$SELF_BIND" ]; then
    # A socket the daemon does not know (a unit file that disagrees with it)
    # stops it with its name rather than being ignored.
    python3 -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen()
os.dup2(os.dup(s.fileno()), 3)  # dup first: s may be 3, and close on exec
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="bogus")
os.execv(sys.argv[2], sys.argv[2:])' "$WORK/bogus.sock" "$build/daemon/cassinyd" --config "$WORK/config.yaml" \
        --state-dir "$WORK/state-bogus" --socket "$WORK/bogus.sock" >"$WORK/bogus.log" 2>&1
    rc=$?
    check "a passed socket of another name stops the daemon (exit $rc): $(grep -o 'is named "bogus"' "$WORK/bogus.log")" \
        test "$rc" = 1 -a -n "$(grep -o 'is named "bogus"' "$WORK/bogus.log")"
fi
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^gateway: .*/gateway: {port: $PORT}/" "$WORK/config.yaml"
echo "model bytes" >"$WORK/data/model.bin"
python3 "$it/activate.py" --api "$SOCK" --gateway "127.0.0.1:$PORT" --pid-file "$WORK/daemon.pid" \
    --exits "$WORK/exits" --log "$WORK/cassinyd.log" ${SELF_BIND:+--self-bind} -- \
    "$build/daemon/cassinyd" --config "$WORK/config.yaml" --state-dir "$WORK/state" \
    --socket "$SOCK" --log-level debug &
SUP_PID=$!
if ! up_after none; then
    not_ok "cassinyd comes up under activate.py"
    tail -n 20 "$WORK/cassinyd.log"
    summary
    exit 1
fi
if [ -z "$SELF_BIND" ]; then
    check "the daemon says it was socket-activated" grep -q 'socket-activated: the API socket passed, the gateway.s passed' "$WORK/cassinyd.log"
fi

spec=$(printf 'apiVersion: cassiny/v1\nkind: Model\nmetadata: {name: %s}\nspec:\n  image: %s\n  artifact: %s\n  version: v1\n  replicas: 2\n  health: {path: /health.txt, intervalSeconds: 1, timeoutSeconds: 1}\n  resources: {cpus: 250m, memory: 64Mi}\n' \
    "$P" "$HTTPD" "$WORK/data/model.bin")
run=$(launch "$spec")
st=$(wait_run "$run" 120 ready)
check "the model of 2 replicas is ready ($st)" test "$st" = ready
check "the gateway serves it" curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/models/$P/ping.txt"
before=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$run" | jq -r '.containers | sort | join(" ")')

FAILED_TOTAL=0
# graceful: SIGHUP to the supervisor is systemctl restart (SIGTERM, start again)
start_loops graceful
restarts graceful hup
stop_loops
report graceful gateway
report graceful api
graceful_exits=$(tail -n "$COUNT" "$WORK/exits" | awk '$2 != 0' | wc -l)
check "each of the $COUNT daemons stopped by SIGTERM exited 0 ($graceful_exits did not)" test "$graceful_exits" = 0

start_loops kill9
restarts kill9 kill
stop_loops
report kill9 gateway
report kill9 api

after=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$run" | jq -r '.containers | sort | join(" ")')
st=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$run" | jq -r .status)
if [ -z "$SELF_BIND" ]; then
    check "the model's containers are the same after $((2 * COUNT)) restarts (none replaced)" \
        test -n "$before" -a "$before" = "$after"
    check "the run is still ready ($st)" test "$st" = ready
    check "the new daemon put the replicas back before answering" \
        grep -q 'model replicas back in the rotation before the gateway answers' "$WORK/cassinyd.log"
else
    check "a daemon binding its own sockets fails requests at restarts ($FAILED_TOTAL failed)" \
        test "$FAILED_TOTAL" -gt 0
fi

if [ -n "$SELF_BIND" ]; then
    curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null "http://localhost/v1/specs/$P"
    kill -TERM "$SUP_PID"
    reap "$SUP_PID" 90 || not_ok "the supervisor and its cassinyd end within 90 s of SIGTERM"
    SUP_PID=
    summary
    exit
fi

# split: the same daemon stopped (SIGTERM), then the two processes of
# cassinyd.service and cassinyd-gateway.service, each under its own supervisor.
kill -TERM "$SUP_PID"
reap "$SUP_PID" 90 || not_ok "the supervisor and its cassinyd end within 90 s of SIGTERM"
DAEMON_STATUS=$REAPED
SUP_PID=
check "the last cassinyd exits 0 at SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0
GW_SUP=
gw_pid() { cat "$WORK/gateway.pid" 2>/dev/null; }
python3 "$it/activate.py" --only gateway --api "$SOCK" --gateway "127.0.0.1:$PORT" \
    --pid-file "$WORK/gateway.pid" --exits "$WORK/gateway-exits" --log "$WORK/gateway.log" -- \
    "$build/daemon/cassinyd" --gateway-only --config "$WORK/config.yaml" --state-dir "$WORK/state" \
    --socket "$SOCK" --log-level debug &
GW_SUP=$!
python3 "$it/activate.py" --only api --api "$SOCK" --gateway "127.0.0.1:$PORT" --pid-file "$WORK/daemon.pid" \
    --exits "$WORK/exits" --log "$WORK/cassinyd.log" -- \
    "$build/daemon/cassinyd" --no-gateway --config "$WORK/config.yaml" --state-dir "$WORK/state" \
    --socket "$SOCK" --log-level debug &
SUP_PID=$!
up_after "$(daemon_pid)" || not_ok "split: cassinyd --no-gateway comes up"
for i in $(seq 100); do
    curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$PORT/models/$P/ping.txt" 2>/dev/null && break
    sleep 0.1
done
check "split: the gateway process serves the model" curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/models/$P/ping.txt"
check "split: the daemon says another process serves the gateway" \
    grep -q "the gateway's another process's" "$WORK/cassinyd.log"
check "split: /v1/version names the gateway's port" \
    test "$(curl -s --unix-socket "$SOCK" http://localhost/v1/version | jq -r .gateway)" = "http://127.0.0.1:$PORT/models/"

start_loops split-kill9
restarts split-kill9 kill
stop_loops
report split-kill9 api
f=$WORK/split-kill9-gateway.json
echo "# split-kill9, gateway loop: $(jq -r .requests "$f") requests, $(jq -r .failed "$f") failed," \
    "longest $(jq -r .max_latency_ms "$f") ms $(jq -c '.errors // {}' "$f")"
check "split: no request to the model failed over $COUNT kill -9 of the daemon ($(jq -r .failed "$f") of $(jq -r .requests "$f"))" \
    test "$(jq -r .failed "$f")" = 0 -a "$(jq -r .requests "$f")" -gt 0

start_loops split-gateway
for i in 1 2; do
    old=$(gw_pid)
    kill -HUP "$GW_SUP"
    for k in $(seq 300); do [ "$(gw_pid)" != "$old" ] && kill -0 "$(gw_pid)" 2>/dev/null && break; sleep 0.1; done
    sleep 1.5
done
stop_loops
f=$WORK/split-gateway-gateway.json
echo "# split-gateway (2 restarts of the gateway process), gateway loop: $(jq -r .requests "$f") requests," \
    "$(jq -r .failed "$f") failed, longest $(jq -r .max_latency_ms "$f") ms $(jq -c '.errors // {}' "$f")"
check "split: no request to the model failed over 2 restarts of the gateway process ($(jq -r .failed "$f") of $(jq -r .requests "$f"))" \
    test "$(jq -r .failed "$f")" = 0 -a "$(jq -r .requests "$f")" -gt 0

after2=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$run" | jq -r '.containers | sort | join(" ")')
check "split: the model's containers are still the same ones" test "$before" = "$after2"
# A model applied now reaches the gateway process through the shared rotation.
spec2=$(printf 'apiVersion: cassiny/v1\nkind: Model\nmetadata: {name: %s-b}\nspec:\n  image: %s\n  artifact: %s\n  version: v1\n  replicas: 1\n  health: {path: /health.txt, intervalSeconds: 1, timeoutSeconds: 1}\n  resources: {cpus: 250m, memory: 64Mi}\n' \
    "$P" "$HTTPD" "$WORK/data/model.bin")
run2=$(launch "$spec2")
st=$(wait_run "$run2" 120 ready)
check "split: a model applied to the daemon is ready ($st)" test "$st" = ready
check "split: ... and the gateway process serves it" curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/models/$P-b/ping.txt"
curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null "http://localhost/v1/specs/$P-b"
for i in $(seq 100); do
    code=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/models/$P-b/ping.txt")
    [ "$code" = 503 ] && break
    sleep 0.1
done
check "split: deleted, the gateway process answers 503 for it ($code)" test "$code" = 503
m=$(curl -s "http://127.0.0.1:$PORT/metrics")
check "split: the gateway process's /metrics counts its requests" \
    grep -q "cassiny_gateway_requests_total{model=\"$P\",code=\"200\"}" <<<"$m"
check "split: ... and claims nothing of the engine it does not talk to" \
    test -z "$(grep cassiny_engine_connected <<<"$m")"

curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null "http://localhost/v1/specs/$P"
kill -TERM "$SUP_PID" "$GW_SUP"
reap "$SUP_PID" 90 || not_ok "split: the daemon's supervisor ends within 90 s of SIGTERM"
DAEMON_STATUS=$REAPED
reap "$GW_SUP" 90 || not_ok "split: the gateway's supervisor ends within 90 s of SIGTERM"
GW_STATUS=$REAPED
SUP_PID=
GW_SUP=
check "split: both exit 0 at SIGTERM (daemon $DAEMON_STATUS, gateway $GW_STATUS)" test "$DAEMON_STATUS" = 0 -a "$GW_STATUS" = 0
summary
