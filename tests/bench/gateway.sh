#!/bin/bash
# The model gateway against HAProxy: throughput, latency (p50, p99) and
# errors of the same requests sent straight to the replicas, through
# HAProxy (Debian's, round robin over the same replicas, connections to them
# reused) and through cassinyd's gateway, in one run, with wrk from Debian.
# Loopback only, bounded: for each connection count in CASS_BENCH_CONNECTIONS
# ("64 256 1024") and each path, each target gets a 2 s warm-up and
# CASS_BENCH_SECONDS (10) measured, with wrk -t2 --timeout 5s.
#
#   tests/bench/gateway.sh BUILDDIR   (as root; installs wrk and haproxy if missing)
#
# The model's health checks run all along (every CASS_BENCH_HEALTH_INTERVAL,
# default 2 s, with a 1 s timeout), and the end says how many replicas the
# daemon replaced under the load (it must be 0: overload is not an outage).
# Paths (CASS_BENCH_PATHS, "infer ready"): POST /v2/models/NAME/infer (one
# iris row) and GET /v2/health/ready (the smallest answer: the proxy's own
# cost shows most). CASS_BENCH_REPLICAS (2) replicas of the iris model;
# "direct" is one wrk per replica, each with its share of the connections
# (requests and errors summed, the worse p50/p99 of the two). Prints a table
# and writes gateway-results.json (CASS_BENCH_GATEWAY_OUT) in the current
# directory. Everything it creates (daemon, HAProxy, containers, its mktemp
# directory) is removed at exit, also on failure or Ctrl-C; with
# CASS_BENCH_LOGS=DIR the daemon's and HAProxy's logs are copied there first.
set -u -o pipefail

BUILD=$(cd "${1:?usage: tests/bench/gateway.sh BUILDDIR}" && pwd) || exit 2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${CASS_BENCH_SECONDS:-10}
CONNS_LIST=${CASS_BENCH_CONNECTIONS:-64 256 1024}
REPLICAS=${CASS_BENCH_REPLICAS:-2}
PATHS=${CASS_BENCH_PATHS:-infer ready}
ROUNDS=${CASS_BENCH_ROUNDS:-3}
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
for tool in curl jq docker awk python3; do
    command -v $tool >/dev/null || die "needs $tool"
done
[ -x "$DAEMON" ] || die "no $DAEMON: build first"
for n in $CONNS_LIST $REPLICAS $ROUNDS; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "CASS_BENCH_CONNECTIONS, _REPLICAS and _ROUNDS take positive integers"
done
for pkg in wrk haproxy; do
    command -v $pkg >/dev/null && continue
    say "installing $pkg (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkg >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkg >/dev/null 2>&1; } ||
        die "cannot install $pkg"
done
# wrk, the daemon and HAProxy inherit it: 1024 connections need more than 1024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] || die "ulimit -n is $(ulimit -n): too few descriptors"
docker image inspect "$IMAGE" >/dev/null 2>&1 ||
    die "image $IMAGE missing (packaging/images/build-model-server-image.sh)"

WORK=$(mktemp -d /tmp/cassiny-bench-gw.XXXXXX)
DPID=
HPID=
cleanup() {
    [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
    [ -n "$HPID" ] && kill "$HPID" 2>/dev/null && wait "$HPID" 2>/dev/null
    [ -n "${CASS_BENCH_LOGS:-}" ] && cp "$WORK"/*.log "$WORK"/*.cfg "$CASS_BENCH_LOGS"/ 2>/dev/null
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
logLevel: ${CASS_BENCH_LOG_LEVEL:-warn}
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
  replicas: $REPLICAS
  resources: {cpus: 1, memory: 512Mi}
  health: {intervalSeconds: ${CASS_BENCH_HEALTH_INTERVAL:-2}, timeoutSeconds: 1}
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
GW=${GW%/}/
# The replicas' published ports: where the gateway forwards to, and HAProxy too.
REPS=()
for cid in $(api "http://localhost/v1/runs/$RUN" | jq -r '.containers[]'); do
    REPS+=("$(docker port "$cid" 8080 | grep -m1 '^127\.0\.0\.1:')")
done
[ "${#REPS[@]}" = "$REPLICAS" ] || die "expected $REPLICAS replicas, found ${#REPS[@]}"

# --- HAProxy on free loopback ports, round robin over the same replicas:
# "haproxy" as configured out of the box (every client request goes to a
# replica at once), "haproxy-q" with "maxconn $QUEUE" per server, the
# gateway's own bound of requests in flight per replica (the rest wait in
# HAProxy's queue), so that the two proxies are compared on equal terms.
QUEUE=${CASS_BENCH_HAPROXY_MAXCONN:-16}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HPORT=$(free_port)
HPORTQ=$(free_port)
backend() { # backend NAME [SERVER OPTIONS]
    printf 'backend %s\n  balance roundrobin\n' "$1"
    local i=0 r
    for r in "${REPS[@]}"; do
        i=$((i + 1))
        printf '  server r%d %s %s\n' $i "$r" "${2:-}"
    done
}
{
    printf 'global\n  maxconn 8000\n'
    printf 'defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n'
    printf '  timeout queue 30s\n  http-reuse always\n  maxconn 8000\n'
    printf 'frontend plain\n  bind 127.0.0.1:%s\n  default_backend replicas\n' "$HPORT"
    printf 'frontend queued\n  bind 127.0.0.1:%s\n  default_backend replicas-q\n' "$HPORTQ"
    backend replicas
    backend replicas-q "maxconn $QUEUE"
} >"$WORK/haproxy.cfg"
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
HPID=$!
for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$HPORT/v2/health/ready" 2>/dev/null && break
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$HPORT/v2/health/ready" ||
    { cat "$WORK/haproxy.log" >&2; die "haproxy did not start"; }
HAPROXY=http://127.0.0.1:$HPORT/
HAPROXYQ=http://127.0.0.1:$HPORTQ/

# wrk's script: the POST body, and one machine-readable line at the end.
cat >"$WORK/infer.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [6.3, 2.8, 5.1, 1.5]}]}'
LUA
cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.timeout, e.status))
end
LUA
cat "$WORK/report.lua" >>"$WORK/infer.lua"
cp "$WORK/report.lua" "$WORK/ready.lua"

# wrk1 CONNS LUA URL: a warm-up, then the measured run; prints its RESULT line.
wrk1() {
    wrk -t2 -c"$1" -d2s --timeout 5s -s "$2" "$3" >/dev/null 2>&1
    # No RESULT line (wrk gives up when it cannot connect at all): a
    # failed sample, all zero, and the run goes on.
    wrk -t2 -c"$1" -d"${SECS}s" --timeout 5s -s "$2" "$3" 2>&1 | grep '^RESULT' || {
        say "  wrk failed on $3"
        echo "RESULT 0 0 0 0 0 0 0 0 0 failed"
    }
}

# measure TARGET CONNS PATH URL...: one wrk per URL at once, the connections
# shared out; appends one JSON line (requests and errors summed, the worse
# percentiles).
measure() {
    local target=$1 conns=$2 path=$3
    shift 3
    local n=$# i=0 u c pids=()
    for u in "$@"; do
        c=$(((conns + n - 1 - i) / n))
        [ "$c" -ge 2 ] || c=2
        wrk1 "$c" "$WORK/$path.lua" "$u" >"$WORK/wrk.$i" &
        pids+=($!)
        i=$((i + 1))
    done
    wait "${pids[@]}"
    cat "$WORK"/wrk.* | awk -v t="$target" -v c="$conns" -v p="$path" '
      { n += $2; if ($3 > dur) dur = $3; if ($4 > p50) p50 = $4; if ($5 > p99) p99 = $5
        conn += $6; rd += $7; wr += $8; to += $9; st += $10; if ($11 == "failed") failed = 1 }
      END { printf "{\"target\":\"%s\",\"connections\":%d,\"path\":\"%s\",\"requests\":%d,\"seconds\":%f,\"rps\":%f,\"p50_us\":%d,\"p99_us\":%d,\"failed\":%s,\"errors\":{\"connect\":%d,\"read\":%d,\"write\":%d,\"timeout\":%d,\"non2xx\":%d}}\n",
              t, c, p, n, dur / 1e6, dur ? n / (dur / 1e6) : 0, p50, p99, failed ? "true" : "false", conn, rd, wr, to, st }' >>"$WORK/results.jsonl"
    rm -f "$WORK"/wrk.*
    say "  $conns connections, $path, $target: $(tail -n 1 "$WORK/results.jsonl" | jq -r '"\(.rps | floor) req/s, p50 \(.p50_us / 1000) ms, p99 \(.p99_us / 1000) ms, errors \(.errors | add)"')"
}

direct_urls() { # direct_urls SUFFIX: the URL of every replica
    local r
    for r in "${REPS[@]}"; do printf 'http://%s%s\n' "$r" "$1"; done
}

say "gateway $GW, HAProxy $HAPROXY and $HAPROXYQ, replicas ${REPS[*]}; ${SECS}s each"
: >"$WORK/results.jsonl"
# Targets take turns, CASS_BENCH_ROUNDS (3) times, each round in another
# order: on a shared machine the load changes from one second to the next.
TARGETS=(direct haproxy haproxy-q gateway)
for conns in $CONNS_LIST; do
    for path in $PATHS; do
        case $path in
        infer) suffix=v2/models/$NAME/infer ;;
        ready) suffix=v2/health/ready ;;
        *) die "unknown path $path (infer, ready)" ;;
        esac
        for round in $(seq "$ROUNDS"); do
            for k in 0 1 2 3; do
                target=${TARGETS[$(((k + round - 1) % 4))]}
                case $target in
                direct) mapfile -t urls < <(direct_urls "/$suffix") ;;
                haproxy) urls=("$HAPROXY$suffix") ;;
                haproxy-q) urls=("$HAPROXYQ$suffix") ;;
                gateway) urls=("$GW$suffix") ;;
                esac
                measure "$target" "$conns" "$path" "${urls[@]}"
            done
        done
    done
done

# The table: per connection count, path and target, the median round (by
# requests/s) and the errors summed over the rounds.
jq -s --arg cpus "$(nproc)" --arg secs "$SECS" --arg reps "$REPLICAS" --arg rounds "$ROUNDS" '
  def over($a; $b): if $b == 0 then null else $a / $b end;
  def ratio($g; $h): {rps: over($g.rps; $h.rps), p50: over($g.p50_us; $h.p50_us),
                      p99: over($g.p99_us; $h.p99_us)};
  (group_by([.connections, .path, .target]) | map(
     (sort_by(.rps) | .[(length / 2 | floor)]) as $m
     | $m + {rounds: length, errors: (map(.errors) | reduce .[] as $e ({}; . as $a
         | $e | with_entries(.value += ($a[.key] // 0)))),
             failed_rounds: map(select(.failed)) | length,
             rps_all: map(.rps | floor)})) as $medians
  | {host: {cpus: ($cpus | tonumber)}, seconds: ($secs | tonumber), replicas: ($reps | tonumber),
     rounds: ($rounds | tonumber), samples: ., results: $medians,
     ratios: ($medians | group_by([.connections, .path]) | map(
       (map({(.target): .}) | add) as $r
       | {connections: .[0].connections, path: .[0].path,
          gateway_over_haproxy: ratio($r.gateway; $r.haproxy),
          gateway_over_haproxy_q: ratio($r.gateway; $r["haproxy-q"])}))}' \
    "$WORK/results.jsonl" >"$OUT"

printf '\n%5s %-6s %-9s %9s %9s %9s %8s %6s %6s %7s %7s  %s\n' conns path target "req/s" "p50 ms" "p99 ms" \
    connect read write timeout non2xx "req/s of each round"
jq -r '.results[] | [.connections, .path, .target, (.rps | floor), (.p50_us / 1000), (.p99_us / 1000),
       .errors.connect, .errors.read, .errors.write, .errors.timeout, .errors.non2xx,
       (.rps_all | map(tostring) | join(" "))] | @tsv' "$OUT" |
    awk -F'\t' '{printf "%5d %-6s %-9s %9d %9.2f %9.2f %8d %6d %6d %7d %7d  %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12}'
echo
jq -r 'def x: if . == null then "n/a" else "x\(. * 100 | round / 100)" end;
       .ratios[] | "\(.connections) connections, \(.path): gateway/haproxy throughput \(.gateway_over_haproxy.rps | x), p50 \(.gateway_over_haproxy.p50 | x), p99 \(.gateway_over_haproxy.p99 | x); gateway/haproxy-q throughput \(.gateway_over_haproxy_q.rps | x), p50 \(.gateway_over_haproxy_q.p50 | x), p99 \(.gateway_over_haproxy_q.p99 | x)"' "$OUT"
# Overload must not become an outage: the health checks ran all along (every
# CASS_BENCH_HEALTH_INTERVAL s, 1 s timeout), and no replica may have been
# replaced for being slow under load.
api "http://localhost/v1/runs/$RUN" >"$WORK/run-after.json"
printf 'model run %s after the load: status %s, replicas replaced %s, containers %s\n' "$RUN" \
    "$(jq -r .status "$WORK/run-after.json")" "$(jq -r '.replacements // 0' "$WORK/run-after.json")" \
    "$(jq -r '.containers | length' "$WORK/run-after.json")"
say "written to $OUT"
