#!/bin/bash
# Hostile clients on the API socket (tests/integration/hostile.py): 1,000
# idle connections and 200 event streams held while /healthz must answer
# within 100 ms; the stream limit, the connection limit, heartbeats, the
# streams' lifetime, the request deadline for a trickled head or body and
# the idle timeout each hold; streams whose clients left are freed at once.
# cassinyctl events crosses the end of a stream's lifetime quietly. Short
# limits keep it under 40 s. Then a clean SIGTERM with a stream open.
set -u
build=$1
src=$2
SUITE=hostile
. "$src/tests/integration/lib.sh"
WORK=$(mktemp -d /tmp/cassiny-hostile.XXXXXX)
NAME=hostile-$$
cleanup() {
    [ -n "${EVENTS_PID:-}" ] && kill "$EVENTS_PID" 2>/dev/null
    cleanup_daemon
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.name=$NAME") >/dev/null 2>&1
    true
}
trap cleanup EXIT

IDLE=1000 STREAMS=200 MAXCONN=1250
IDLE_TIMEOUT=10 REQUEST_TIMEOUT=12 HEARTBEAT=1 LIFETIME=7
# The client and the daemon need well over 1,200 descriptors each.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
write_config
cat >>"$WORK/config.yaml" <<CFG
limits:
  maxConnections: $MAXCONN
  maxEventStreams: $STREAMS
  idleTimeoutSeconds: $IDLE_TIMEOUT
  requestTimeoutSeconds: $REQUEST_TIMEOUT
  heartbeatSeconds: $HEARTBEAT
  eventStreamLifetimeSeconds: $LIFETIME
CFG
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon starts"; summary; exit 1; }

while IFS= read -r line; do
    case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) not_ok "${line#not ok - }" ;;
    *) echo "$line" ;;
    esac
done < <(timeout 90 python3 "$src/tests/integration/hostile.py" "$SOCK" --idle $IDLE \
    --streams $STREAMS --max-connections $MAXCONN --idle-timeout $IDLE_TIMEOUT \
    --request-timeout $REQUEST_TIMEOUT --heartbeat $HEARTBEAT --lifetime $LIFETIME 2>&1;
    echo "exit $?")

check "the daemon logged no FD_SETSIZE refusal" bash -c "! grep -q FD_SETSIZE '$WORK/cassinyd.log'"

# cassinyctl events across the end of a stream's lifetime: it reconnects
# from its last event without a word, and the events after it still come.
"$build/cli/cassinyctl" --host "$HOST" events -o json --name "$NAME" >"$WORK/events.json" \
    2>"$WORK/events.err" &
EVENTS_PID=$!
sleep $((LIFETIME + 2))
printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: cassiny/test-busybox:latest\n  command: ["true"]\n  resources: {cpus: 250m, memory: 32Mi}\n' \
    "$NAME" >"$WORK/job.yaml"
code=$(api POST /v1/specs -H 'Content-Type: application/yaml' --data-binary @"$WORK/job.yaml")
check "a job is applied after the stream's lifetime ended ($code)" test "${code%% *}" = 202
for _ in $(seq 300); do
    grep -q '"status":"succeeded"' "$WORK/events.json" && break
    sleep 0.1
done
check "cassinyctl events shows the job's events after it reconnected" \
    grep -q '"status":"succeeded"' "$WORK/events.json"
check "cassinyctl events reconnected without a word ($(head -c 200 "$WORK/events.err"))" \
    test ! -s "$WORK/events.err"
check "cassinyctl events is still following" kill -0 "$EVENTS_PID"
kill "$EVENTS_PID" 2>/dev/null
wait "$EVENTS_PID" 2>/dev/null
EVENTS_PID=
# Streams open at shutdown end, and the daemon still exits 0 (summary).
curl -sS -N --unix-socket "$SOCK" -H 'Accept: text/event-stream' http://localhost/v1/events \
    >"$WORK/sse-at-stop" 2>&1 &
sse=$!
sleep 0.5
summary
rc=$?
wait $sse 2>/dev/null
exit $rc
