#!/bin/bash
# The gateway and the API under many connections, against the real engine
# and the real serving image: 1,100 kept-alive client connections open at
# once to the gateway, two requests on each, must get 1,024 or more answered
# and none left hanging; while they are open the API, with 1,050 more idle
# connections on its socket (descriptors past select()'s 1,024 either way),
# still answers /healthz; and a gateway at its connection limit refuses the
# connections past it at once.
set -u
build=$1
src=$2
SUITE=gateway-load
. "$src/tests/integration/lib.sh"
IMAGE=${CASS_MODEL_IMAGE:-cassiny/model-server:bookworm}
WORK=$(mktemp -d /tmp/cassiny-gwload.XXXXXX)
NAME=gwload-$$
LOAD="timeout 180 python3 $src/tests/integration/gateway_load.py"
cleanup() {
    cleanup_daemon
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.name=$NAME") >/dev/null 2>&1
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.test=$NAME") >/dev/null 2>&1
    true
}
trap cleanup EXIT
jqe() { jq -e "$@" >/dev/null; }
gateway_port() { curl -s --unix-socket "$SOCK" http://localhost/v1/version | jq -r .gateway | sed -E 's#^http://[^:]+:([0-9]+)/.*#\1#'; }

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    not_ok "image $IMAGE is present (build it with packaging/images/build-model-server-image.sh)"
    summary
    exit 1
fi
# The client and the daemon need well over 1,100 descriptors each.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
write_config
# The API's limit must let 1,050 idle connections and a /healthz in.
printf 'limits: {maxConnections: 1100}\n' >>"$WORK/config.yaml"
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon starts"; summary; exit 1; }

mkdir -p "$WORK/data/iris"
chmod a+rwx "$WORK/data/iris"
docker run --rm -u 1000 --network none --label "io.cassiny.test=$NAME" -v "$WORK/data/iris:/out" \
    -v "$src/examples/iris:/src:ro" "$IMAGE" python3 /src/train.py --out /out >/dev/null
code=$(apply_yaml "apiVersion: cassiny/v1
kind: Model
metadata: {name: $NAME}
spec:
  image: $IMAGE
  artifact: $WORK/data/iris/model.joblib
  version: v1
  replicas: 2
  resources: {cpus: 500m, memory: 512Mi}
  health: {intervalSeconds: 600, timeoutSeconds: 30}")
RUN=$(jq -r '.specs[0].run.id' "$WORK/body")
check "the model is applied ($code)" test "$code" = 202
st=$(wait_run "$RUN" 120 ready)
check "its two replicas become ready ($st)" test "$st" = ready

# --- 1,100 connections at once, two requests on each
PORT=$(gateway_port)
$LOAD --port "$PORT" --path "/models/$NAME/v2/health/ready" --connections 1100 --requests 2 \
    --timeout 90 --api-socket "$SOCK" --api-idle 1050 >"$WORK/load.json"
echo "# $(cat "$WORK/load.json")"
check "1,024 or more of 1,100 concurrent kept-alive connections get 2xx twice" \
    jqe '.ok >= 1024' "$WORK/load.json"
check "no connection is left hanging" jqe '.hung == 0' "$WORK/load.json"
check "the API holds 1,050 idle connections meanwhile" jqe '.api_idle_open == 1050' "$WORK/load.json"
check "and still answers /healthz" jqe '.healthz == 200' "$WORK/load.json"
check "the gateway still answers afterwards" \
    test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PORT/models/$NAME/v2/health/ready")" = 200
stop_daemon
check "cassinyd exits 0 at SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0

# --- past gateway.maxConnections: closed at once, never left waiting. No
# replica is needed: the answers within the limit are 503s.
printf 'gateway: {port: 0, maxConnections: 100}\n' >"$WORK/limit.yaml"
start_daemon "$build" --config "$WORK/limit.yaml" || { not_ok "daemon starts with a gateway limit"; summary; exit 1; }
PORT=$(gateway_port)
$LOAD --port "$PORT" --path /models/none/v2/health/ready --connections 150 --requests 1 \
    --timeout 20 >"$WORK/limit.json"
echo "# $(cat "$WORK/limit.json")"
check "100 connections within gateway.maxConnections get an answer (503: no replica)" \
    jqe '.statuses["503"] == 100' "$WORK/limit.json"
check "the 50 past it are closed" jqe '.refused == 50 and .hung == 0' "$WORK/limit.json"
check "at once (within 2 s)" jqe '.refused_seconds_max < 2' "$WORK/limit.json"
summary
