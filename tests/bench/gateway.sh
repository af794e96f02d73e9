#!/bin/bash
# The model gateway's cost: latency (p50, p99) and throughput of the same
# requests sent through cassinyd's gateway and straight to the replica it
# forwards to, in one run, with wrk from Debian. Loopback only, bounded:
# each measurement runs CASS_BENCH_SECONDS (10) with CASS_BENCH_CONNECTIONS
# (4) connections on 2 threads, after a 2 s warm-up.
#
#   tests/bench/gateway.sh BUILDDIR        (as root; installs wrk if missing)
#
# Measured: POST /v2/models/iris/infer (one iris row, predict) and
# GET /v2/health/ready (the smallest answer: the gateway's own cost shows
# most), each straight to the replica's published port and through
# http://127.0.0.1:PORT/models/NAME/... with one replica behind it, so both
# paths end at the same server. Prints a table and writes
# gateway-results.json (CASS_BENCH_GATEWAY_OUT) in the current directory.
# Everything it creates (daemon, containers, its mktemp directory) is
# removed at exit, also on failure or Ctrl-C.
set -u -o pipefail

BUILD=$(cd "${1:?usage: tests/bench/gateway.sh BUILDDIR}" && pwd) || exit 2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${CASS_BENCH_SECONDS:-10}
CONNS=${CASS_BENCH_CONNECTIONS:-4}
OUT=${CASS_BENCH_GATEWAY_OUT:-gateway-results.json}
IMAGE=${CASS_MODEL_IMAGE:-cassiny/model-server:bookworm}
DAEMON=$BUILD/daemon/cassinyd
NAME=bench-gw-$$

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench: $*"
    exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (it drives the Docker Engine)"
for tool in curl jq docker awk; do
    command -v $tool >/dev/null || die "needs $tool"
done
[ -x "$DAEMON" ] || die "no $DAEMON: build first"
if ! command -v wrk >/dev/null; then
    say "installing wrk (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1; } ||
        die "cannot install wrk"
fi
docker image inspect "$IMAGE" >/dev/null 2>&1 ||
    die "image $IMAGE missing (packaging/images/build-model-server-image.sh)"

WORK=$(mktemp -d /tmp/cassiny-bench-gw.XXXXXX)
DPID=
cleanup() {
    [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.name=$NAME") >/dev/null 2>&1
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.bench=$NAME") >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- a model: iris, trained in the serving image
mkdir -p "$WORK/data/iris"
chmod a+rwx "$WORK/data/iris"
docker run --rm -u 1000 --network none --label "io.cassiny.bench=$NAME" \
    -v "$WORK/data/iris:/out" -v "$SRC/examples/iris:/src:ro" "$IMAGE" \
    python3 /src/train.py --out /out >/dev/null || die "training failed"

cat >"$WORK/config.yaml" <<CFG
logLevel: warn
gateway: {address: 127.0.0.1, port: 0}
policy:
  images: ["cassiny/*"]
  mountRoots: ["$WORK/data"]
CFG
SOCK=$WORK/cassiny.sock
"$DAEMON" --state-dir "$WORK/state" --socket "$SOCK" --config "$WORK/config.yaml" \
    >"$WORK/cassinyd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do
    curl -fsS --unix-socket "$SOCK" http://localhost/healthz >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS --unix-socket "$SOCK" http://localhost/healthz >/dev/null 2>&1 ||
    { cat "$WORK/cassinyd.log" >&2; die "cassinyd did not start"; }
api() { curl -sS --unix-socket "$SOCK" "$@"; }

api -X POST -H 'Content-Type: application/yaml' -o "$WORK/apply.json" --data-binary "
apiVersion: cassiny/v1
kind: Model
metadata: {name: $NAME}
spec:
  image: $IMAGE
  artifact: $WORK/data/iris/model.joblib
  version: v1
  replicas: 1
  resources: {cpus: 1, memory: 512Mi}
" http://localhost/v1/specs
RUN=$(jq -r '.specs[0].run.id' "$WORK/apply.json")
[ "$RUN" != null ] || die "apply failed: $(cat "$WORK/apply.json")"
for _ in $(seq 300); do
    st=$(api "http://localhost/v1/runs/$RUN" | jq -r .status)
    [ "$st" = ready ] || [ "$st" = failed ] && break
    sleep 0.2
done
[ "$st" = ready ] || die "the model did not become ready ($st)"
GW=$(api "http://localhost/v1/runs/$RUN" | jq -r .url)
CID=$(api "http://localhost/v1/runs/$RUN" | jq -r '.containers[0]')
DIRECT="http://$(docker port "$CID" 8080 | grep -m1 '^127\.0\.0\.1:')/"
GW=${GW%/}/

# wrk's script: the POST body, and one machine-readable line at the end.
cat >"$WORK/infer.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [6.3, 2.8, 5.1, 1.5]}]}'
LUA
cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.mean, e.status,
    e.connect + e.read + e.write + e.timeout))
end
LUA
cat "$WORK/report.lua" >>"$WORK/infer.lua"
cp "$WORK/report.lua" "$WORK/get.lua"

# measure LABEL LUA URL: a warm-up, then the measured run; appends a JSON line.
measure() {
    local label=$1 lua=$2 url=$3 line
    wrk -t2 -c"$CONNS" -d2s -s "$lua" "$url" >/dev/null 2>&1
    line=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$lua" "$url" 2>&1 | grep '^RESULT') ||
        die "wrk failed on $url"
    read -r _ n dur p50 p99 mean bad errs <<<"$line"
    jq -cn --arg l "$label" --arg u "$url" --argjson n "$n" --argjson dur "$dur" --argjson p50 "$p50" \
        --argjson p99 "$p99" --argjson mean "$mean" --argjson bad "$bad" --argjson errs "$errs" \
        '{label: $l, url: $u, requests: $n, seconds: ($dur / 1e6), rps: ($n / ($dur / 1e6)),
          p50_us: $p50, p99_us: $p99, mean_us: $mean, non2xx: $bad, socket_errors: $errs}' \
        >>"$WORK/results.jsonl"
    say "  $label: $n requests, p50 ${p50} us, p99 ${p99} us"
}

say "gateway $GW, replica $DIRECT; ${SECS}s each, $CONNS connections"
: >"$WORK/results.jsonl"
measure infer-direct "$WORK/infer.lua" "${DIRECT}v2/models/$NAME/infer"
measure infer-gateway "$WORK/infer.lua" "${GW}v2/models/$NAME/infer"
measure ready-direct "$WORK/get.lua" "${DIRECT}v2/health/ready"
measure ready-gateway "$WORK/get.lua" "${GW}v2/health/ready"

jq -s --arg cpus "$(nproc)" --arg secs "$SECS" --arg conns "$CONNS" '
  (map({(.label): .}) | add) as $r
  | {host: {cpus: ($cpus | tonumber)}, seconds: ($secs | tonumber), connections: ($conns | tonumber),
     results: ., ratios: {
       infer: {p50: ($r["infer-gateway"].p50_us / $r["infer-direct"].p50_us),
               p99: ($r["infer-gateway"].p99_us / $r["infer-direct"].p99_us),
               rps: ($r["infer-gateway"].rps / $r["infer-direct"].rps)},
       ready: {p50: ($r["ready-gateway"].p50_us / $r["ready-direct"].p50_us),
               p99: ($r["ready-gateway"].p99_us / $r["ready-direct"].p99_us),
               rps: ($r["ready-gateway"].rps / $r["ready-direct"].rps)}}}' \
    "$WORK/results.jsonl" >"$OUT"

printf '\n%-14s %9s %9s %9s %8s %6s\n' path "req/s" "p50 ms" "p99 ms" requests non2xx
jq -r '.results[] | [.label, (.rps | floor), (.p50_us / 1000), (.p99_us / 1000), .requests, (.non2xx + .socket_errors)]
       | @tsv' "$OUT" | awk -F'\t' '{printf "%-14s %9d %9.2f %9.2f %8d %6d\n", $1, $2, $3, $4, $5, $6}'
jq -r '.ratios | to_entries[] | "gateway/direct \(.key): p50 x\(.value.p50 * 100 | round / 100), p99 x\(.value.p99 * 100 | round / 100), throughput x\(.value.rps * 100 | round / 100)"' "$OUT"
say "written to $OUT"
