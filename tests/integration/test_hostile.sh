#!/bin/bash
# Hostile clients on the API socket (tests/integration/hostile.py): 1,000
# idle connections and 200 event streams held while /healthz must answer
# within 100 ms; the stream limit, the connection limit, heartbeats, the
# streams' lifetime, the request deadline for a trickled head or body and
# the idle timeout each hold; streams whose clients left are freed at once.
# Short limits keep it under 30 s. Then a clean SIGTERM with streams open.
set -u
build=$1
src=$2
SUITE=hostile
. "$src/tests/integration/lib.sh"
trap cleanup_daemon EXIT
WORK=$(mktemp -d /tmp/cassiny-hostile.XXXXXX)

IDLE=1000 STREAMS=200 MAXCONN=1250
IDLE_TIMEOUT=10 REQUEST_TIMEOUT=12 HEARTBEAT=1 LIFETIME=7
# The client and the daemon need well over 1,200 descriptors each.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
cat >"$WORK/config.yaml" <<CFG
gateway: {port: 0}
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
# Streams open at shutdown end, and the daemon still exits 0 (summary).
curl -sS -N --unix-socket "$SOCK" -H 'Accept: text/event-stream' http://localhost/v1/events \
    >"$WORK/sse-at-stop" 2>&1 &
sse=$!
sleep 0.5
summary
wait $sse 2>/dev/null
