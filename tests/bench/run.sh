#!/bin/bash
# Benchmarks of cassinyd against a real Docker Engine. They pass or fail
# nothing: they print a table and write bench-results.json in the current
# directory. Three benchmarks in one run (tests/bench/README.md says what
# each measures):
#   launch    N busybox "notebooks" through cassinyd (one file, and one apply
#             at a time) versus the same creates and starts straight through
#             the Engine API; daemon CPU time per launch
#   notebook  a real Jupyter (cassiny/notebook:bookworm) through cassinyd
#             versus `docker run` of the same image
#   memory    cassinyd's RSS idle, and with a run history of 10,000 runs
#             (written by fill_store), and the latency of GET /v1/runs
#
#   tests/bench/run.sh BUILDDIR        (as root; `make bench` does this)
#
# Knobs (environment): CASS_BENCH_LAUNCHES (10), CASS_BENCH_REPS (3),
# CASS_BENCH_HISTORY (10000), CASS_BENCH_OUT (bench-results.json),
# CASS_BENCH_BUSYBOX (cassiny/test-busybox:latest), CASS_NOTEBOOK_IMAGE
# (cassiny/notebook:bookworm), DOCKER_SOCK (/var/run/docker.sock).
#
# Everything it creates (daemons, containers, volumes, its mktemp directory)
# is removed at exit, also on failure or Ctrl-C.
set -u -o pipefail

BUILD=$(cd "${1:?usage: tests/bench/run.sh BUILDDIR}" && pwd) || exit 2
N=${CASS_BENCH_LAUNCHES:-10}
REPS=${CASS_BENCH_REPS:-3}
HISTORY=${CASS_BENCH_HISTORY:-10000}
OUT=${CASS_BENCH_OUT:-bench-results.json}
BUSYBOX=${CASS_BENCH_BUSYBOX:-cassiny/test-busybox:latest}
NB_IMAGE=${CASS_NOTEBOOK_IMAGE:-cassiny/notebook:bookworm}
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
DAEMON=$BUILD/daemon/cassinyd
CTL=$BUILD/cli/cassinyctl
FILL=$BUILD/tests/bench/fill_store
READY_TIMEOUT=120 # seconds any one readiness wait may take
TAG=cassiny-bench-$$

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench: $*"
    exit 1
}

# --- preflight ----------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root (it drives the Docker Engine)"
for tool in curl jq docker awk; do
    command -v $tool >/dev/null || die "needs $tool"
done
for b in "$DAEMON" "$CTL" "$FILL"; do
    [ -x "$b" ] || die "$b is missing: run \`make bench\` in the build directory"
done
eng() { curl -sS --unix-socket "$DOCKER_SOCK" "$@"; }
ENGINE_API=$(eng http://localhost/version | jq -r .ApiVersion) && [ -n "$ENGINE_API" ] ||
    die "no Docker Engine answers on $DOCKER_SOCK"
ENGINE_VERSION=$(eng http://localhost/version | jq -r .Version)
EAPI=http://localhost/v$ENGINE_API
BUSYBOX_ID=$(eng "$EAPI/images/$BUSYBOX/json" | jq -er .Id) || die "image $BUSYBOX is missing"
eng "$EAPI/images/$NB_IMAGE/json" | jq -e .Id >/dev/null ||
    die "image $NB_IMAGE is missing (packaging/images/build-notebook-image.sh builds it)"
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)

WORK=$(mktemp -d -t cassiny-bench.XXXXXX) || die "mktemp failed"
declare -a DAEMON_PIDS=() STATE_DIRS=()

cleanup() {
    local pid dir inst ids
    trap - EXIT INT TERM
    for pid in "${DAEMON_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    for dir in "${STATE_DIRS[@]}"; do
        inst=$(cat "$dir/instance" 2>/dev/null) || continue
        ids=$(docker ps -aq --filter "label=io.cassiny.instance=$inst")
        [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
        ids=$(docker volume ls -q --filter "label=io.cassiny.instance=$inst")
        [ -n "$ids" ] && docker volume rm -f $ids >/dev/null 2>&1
    done
    ids=$(docker ps -aq --filter "label=io.cassiny.bench=$TAG")
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ------------------------------------------------------------------
now_us() { echo "${EPOCHREALTIME/./}"; }
# secs FROM_US TO_US: elapsed seconds with 3 decimals
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "null"; else if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
    else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "null" }'; }
json_nums() { printf '%s\n' "$@" | jq -s -c .; } # json_nums 1.2 3.4 -> [1.2,3.4]
# cpu_ticks PID: utime + stime of a process, in clock ticks
cpu_ticks() {
    local s
    s=$(<"/proc/$1/stat")
    s=${s##*) }
    set -- $s
    echo $((${12} + ${13}))
}
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # proc_kb PID VmRSS

# start_daemon NAME: a private cassinyd in $WORK/NAME; sets D_PID, D_SOCK, D_STATE
start_daemon() {
    local dir=$WORK/$1 i=0
    mkdir -p "$dir/data"
    cat >"$dir/config.yaml" <<CFG
policy:
  images: ["cassiny/*"]
  mountRoots: ["$dir/data"]
  maxCpus: 64
  maxMemory: 64Gi
limits:
  maxConcurrentLaunches: 4
CFG
    D_SOCK=$dir/cassiny.sock
    D_STATE=$dir/state
    STATE_DIRS+=("$D_STATE")
    "$DAEMON" --config "$dir/config.yaml" --state-dir "$D_STATE" --socket "$D_SOCK" \
        --log-level info --log-format json >"$dir/cassinyd.log" 2>&1 &
    D_PID=$!
    DAEMON_PIDS+=("$D_PID")
    until curl -fsS --unix-socket "$D_SOCK" http://localhost/healthz >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$D_PID" 2>/dev/null; then
            tail -n 20 "$dir/cassinyd.log" >&2
            die "cassinyd did not come up"
        fi
        sleep 0.05
    done
}
stop_daemon() { # stop_daemon PID
    kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null
    return 0
}
api() { curl -sS --unix-socket "$D_SOCK" "$@"; } # api [curl args] URL
ctl() { "$CTL" --host "unix://$D_SOCK" "$@"; }

# delete_specs NAME...: stop and remove specs (their runs stay)
delete_specs() {
    local n
    for n in "$@"; do
        api -o /dev/null -X DELETE "http://localhost/v1/specs/$n?purge=true"
    done
}
# remove_busybox NAME...: busybox httpd runs as PID 1 and ignores SIGTERM, so a
# DELETE would wait out the 10 s stop timeout for each: remove the containers
# first (the daemon marks those runs failed), then the specs; then let the
# daemon's events watcher settle before anything is measured again
remove_busybox() {
    local ids
    ids=$(docker ps -aq --filter "label=io.cassiny.instance=$(cat "$D_STATE/instance")")
    [ -n "$ids" ] && docker rm -f $ids >/dev/null
    delete_specs "$@"
    sleep 1
}

# server_span NAME...: seconds from the first createdAt to the last readyAt of
# the current runs of these specs, as the daemon recorded them
server_span() {
    local n
    for n in "$@"; do api "http://localhost/v1/specs/$n" | jq -r .runId; done |
        while read -r id; do api "http://localhost/v1/runs/$id"; done |
        jq -rs 'def ms: (.[0:19] + "Z" | fromdateiso8601) * 1000 + (.[20:23] | tonumber);
            if all(.[]; .readyAt != null) then
              (([.[].readyAt | ms] | max) - ([.[].createdAt | ms] | min)) / 1000
            else "null" end'
}

# wait_http URL...: polls each URL every 100 ms until all answer 200
wait_http() {
    local -a left=("$@") next
    local u end=$(($(date +%s) + READY_TIMEOUT))
    while [ ${#left[@]} -gt 0 ]; do
        next=()
        for u in "${left[@]}"; do
            [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$u")" = 200 ] || next+=("$u")
        done
        left=("${next[@]}")
        [ ${#left[@]} -eq 0 ] && return 0
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.1
    done
}

BB_CMD='mkdir -p /tmp/w/api && echo '"'"'{"last_activity":"2030-01-01T00:00:00Z"}'"'"' > /tmp/w/api/status && exec httpd -f -p 8888 -h /tmp/w'
bb_doc() { # bb_doc NAME: one busybox Notebook document
    jq -n --arg name "$1" --arg image "$BUSYBOX" --arg cmd "$BB_CMD" \
        '{apiVersion: "cassiny/v1", kind: "Notebook", metadata: {name: $name},
          spec: {image: $image, command: ["sh", "-c", $cmd],
                 resources: {cpus: 0.1, memory: "64Mi"}}}'
}

# direct_prepare NAME: the create body cassinyd would send for NAME, with its
# token, in $WORK/direct-NAME.json (made before the clock starts)
direct_prepare() {
    local token
    token=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    jq -n --arg image "$BUSYBOX_ID" --arg cmd "$BB_CMD" --arg tok "$token" \
        --arg tag "$TAG" --arg name "$1" \
        '{Image: $image, Cmd: ["sh", "-c", $cmd], User: "1000:1000",
          Env: ["JUPYTER_TOKEN=" + $tok], ExposedPorts: {"8888/tcp": {}},
          Labels: {"io.cassiny.bench": $tag, "io.cassiny.name": $name,
                   "io.cassiny.kind": "Notebook", "io.cassiny.run": ("r-" + $name),
                   "io.cassiny.revision": "sha256:bench"},
          HostConfig: {Memory: 67108864, NanoCpus: 100000000, CapDrop: ["ALL"],
                       SecurityOpt: ["no-new-privileges"],
                       PortBindings: {"8888/tcp": [{HostIp: "127.0.0.1", HostPort: ""}]}}}' \
        >"$WORK/direct-$1.json"
    echo "$token" >"$WORK/direct-$1.token"
}
# direct_launch NAME: POST create, POST start, GET inspect for the published
# port, through the Engine API; prints the status URL to poll
direct_launch() {
    local cid port
    cid=$(eng -X POST -H 'Content-Type: application/json' --data-binary "@$WORK/direct-$1.json" \
        "$EAPI/containers/create?name=$TAG-$1" | jq -er .Id) || return 1
    eng -f -X POST "$EAPI/containers/$cid/start" || return 1
    port=$(eng "$EAPI/containers/$cid/json" |
        jq -er '.NetworkSettings.Ports["8888/tcp"][0].HostPort') || return 1
    echo "http://127.0.0.1:$port/api/status?token=$(<"$WORK/direct-$1.token")"
}
# direct_parallel PREFIX: N launches, each waited for, at most 4 at a time (as
# cassinyd's default limits.maxConcurrentLaunches); fails unless all became ready
direct_parallel() {
    local i k=0
    local -a pids=()
    for i in $(seq 1 "$N"); do
        (
            u=$(direct_launch "$1-$i") && wait_http "$u" && touch "$WORK/ready-$1-$i"
        ) &
        pids+=($!)
        # never `wait` without ids here: the daemon is a child of this shell too
        if [ $((i - k)) -ge 4 ]; then
            wait "${pids[k]}"
            k=$((k + 1))
        fi
    done
    wait "${pids[@]}"
    for i in $(seq 1 "$N"); do [ -e "$WORK/ready-$1-$i" ] || return 1; done
}
direct_remove() {
    local ids
    ids=$(docker ps -aq --filter "label=io.cassiny.bench=$TAG")
    [ -n "$ids" ] && docker rm -f $ids >/dev/null
    return 0
}

# =============================================================================
say "bench: engine $ENGINE_VERSION (API $ENGINE_API), $NPROC CPUs; work dir $WORK"
start_daemon launch
A_PID=$D_PID
sleep 0.5
RSS_IDLE_EMPTY=$(proc_kb "$A_PID" VmRSS)

# --- 1. launch ----------------------------------------------------------------
declare -a L_FILE=() L_FILE_SRV=() L_FILE_CPU=() L_SEQ=() L_SEQ_SRV=() L_SEQ_CPU=() \
    L_DIR=() L_DPAR=() L_DSEQ=()
for rep in $(seq 1 "$REPS"); do
    # cassinyd, one file of N documents
    names=()
    : >"$WORK/batch.yaml"
    for i in $(seq 1 "$N"); do
        names+=("bf$rep-$i")
        { echo '---'; bb_doc "bf$rep-$i"; } >>"$WORK/batch.yaml"
    done
    c0=$(cpu_ticks "$A_PID")
    t0=$(now_us)
    ctl apply -f "$WORK/batch.yaml" --wait --timeout $READY_TIMEOUT >"$WORK/apply.log" 2>&1 ||
        { cat "$WORK/apply.log" >&2; die "apply of $N notebooks failed"; }
    t1=$(now_us)
    c1=$(cpu_ticks "$A_PID")
    L_FILE+=("$(secs "$t0" "$t1")")
    L_FILE_CPU+=("$(awk -v d=$((c1 - c0)) -v n="$N" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", d * 1000 / hz / n }')")
    L_FILE_SRV+=("$(server_span "${names[@]}")")
    remove_busybox "${names[@]}"

    # straight through the Engine API: N creates + starts, then readiness
    for i in $(seq 1 "$N"); do direct_prepare "df$rep-$i"; done
    t0=$(now_us)
    urls=()
    for i in $(seq 1 "$N"); do
        u=$(direct_launch "df$rep-$i") || die "direct launch failed"
        urls+=("$u")
    done
    wait_http "${urls[@]}" || die "direct containers did not answer"
    t1=$(now_us)
    L_DIR+=("$(secs "$t0" "$t1")")
    direct_remove
    sleep 0.5

    # straight through the Engine API, 4 at a time, each waited for
    for i in $(seq 1 "$N"); do direct_prepare "dp$rep-$i"; done
    t0=$(now_us)
    direct_parallel "dp$rep" || die "direct containers (4 at a time) did not answer"
    t1=$(now_us)
    L_DPAR+=("$(secs "$t0" "$t1")")
    direct_remove
    sleep 0.5

    # cassinyd, N applies one after the other
    names=()
    for i in $(seq 1 "$N"); do
        names+=("bs$rep-$i")
        bb_doc "bs$rep-$i" >"$WORK/one-$i.yaml"
    done
    c0=$(cpu_ticks "$A_PID")
    t0=$(now_us)
    for i in $(seq 1 "$N"); do
        ctl apply -f "$WORK/one-$i.yaml" --wait --timeout $READY_TIMEOUT >"$WORK/apply.log" 2>&1 ||
            { cat "$WORK/apply.log" >&2; die "apply of bs$rep-$i failed"; }
    done
    t1=$(now_us)
    c1=$(cpu_ticks "$A_PID")
    L_SEQ+=("$(secs "$t0" "$t1")")
    L_SEQ_CPU+=("$(awk -v d=$((c1 - c0)) -v n="$N" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", d * 1000 / hz / n }')")
    # one at a time, the server-side span would include the client's gaps: sum per run
    s=0
    for n in "${names[@]}"; do s=$(awk -v a="$s" -v b="$(server_span "$n")" 'BEGIN { printf "%.3f", a + b }'); done
    L_SEQ_SRV+=("$s")
    remove_busybox "${names[@]}"

    # straight through the Engine API, one at a time, each waited for
    for i in $(seq 1 "$N"); do direct_prepare "ds$rep-$i"; done
    t0=$(now_us)
    for i in $(seq 1 "$N"); do
        u=$(direct_launch "ds$rep-$i") || die "direct launch failed"
        wait_http "$u" || die "direct container did not answer"
    done
    t1=$(now_us)
    L_DSEQ+=("$(secs "$t0" "$t1")")
    direct_remove
    sleep 0.5
    say "bench: launch rep $rep: file ${L_FILE[-1]}s, direct ${L_DIR[-1]}s, direct 4 at a time ${L_DPAR[-1]}s, sequential ${L_SEQ[-1]}s, direct sequential ${L_DSEQ[-1]}s"
done

# --- 3. notebook ----------------------------------------------------------------
declare -a NB_CASS=() NB_SRV=() NB_DOCKER=()
NB_CPUS=$NPROC
for rep in $(seq 1 "$REPS"); do
    name=nb$rep
    cat >"$WORK/nb.yaml" <<YAML
apiVersion: cassiny/v1
kind: Notebook
metadata: {name: $name}
spec:
  image: $NB_IMAGE
  resources: {cpus: $NB_CPUS, memory: 2Gi}
YAML
    t0=$(now_us)
    ctl -o json apply -f "$WORK/nb.yaml" --wait --timeout $READY_TIMEOUT >"$WORK/nb.json" 2>"$WORK/apply.log" ||
        { cat "$WORK/apply.log" >&2; die "apply of the notebook failed"; }
    url=$(jq -er '.specs[0].run.url' "$WORK/nb.json") || die "no URL in the apply reply"
    wait_http "${url%%/\?*}/api/status?token=${url#*token=}" || die "the notebook URL does not answer"
    t1=$(now_us)
    NB_CASS+=("$(secs "$t0" "$t1")")
    NB_SRV+=("$(server_span "$name")")
    delete_specs "$name"
    sleep 1

    t0=$(now_us)
    cid=$(docker run -d -p 127.0.0.1::8888 -e JUPYTER_TOKEN=x --label "io.cassiny.bench=$TAG" "$NB_IMAGE") ||
        die "docker run failed"
    port=$(docker port "$cid" 8888/tcp | head -n 1)
    wait_http "http://127.0.0.1:${port##*:}/api/status?token=x" || die "docker run's Jupyter does not answer"
    t1=$(now_us)
    NB_DOCKER+=("$(secs "$t0" "$t1")")
    direct_remove
    sleep 1
    say "bench: notebook rep $rep: cassinyd ${NB_CASS[-1]}s, docker run ${NB_DOCKER[-1]}s"
done
RSS_AFTER_LAUNCHES=$(proc_kb "$A_PID" VmRSS)
LAUNCHES_DONE=$((REPS * (2 * N + 1)))
stop_daemon "$A_PID"

# --- 2. memory ------------------------------------------------------------------
mkdir -p "$WORK/history"
t0=$(now_us)
"$FILL" "$WORK/history/state" "$HISTORY" >/dev/null 2>"$WORK/fill.log" ||
    { cat "$WORK/fill.log" >&2; die "fill_store failed"; }
t1=$(now_us)
FILL_S=$(secs "$t0" "$t1")
t0=$(now_us)
start_daemon history
t1=$(now_us)
START_S=$(secs "$t0" "$t1")
B_PID=$D_PID
sleep 0.5
RSS_IDLE_HISTORY=$(proc_kb "$B_PID" VmRSS)
[ "$(api 'http://localhost/v1/runs?limit=1' | jq '.runs | length')" = 1 ] || die "the history is not served"
declare -a T_RUNS100=() T_RUNS1000=() T_SPECS=()
for i in 1 2 3 4 5; do
    T_RUNS1000+=("$(api -o /dev/null -w '%{time_total}' 'http://localhost/v1/runs?limit=1000')")
done
for i in 1 2 3; do
    T_SPECS+=("$(api -o /dev/null -w '%{time_total}' 'http://localhost/v1/specs')")
done
for i in $(seq 1 20); do
    T_RUNS100+=("$(api -o /dev/null -w '%{time_total}' 'http://localhost/v1/runs?limit=100')")
done
# every run, a page of 1000 at a time, following the cursor (server time per page)
declare -a T_PAGES=()
cursor='' pages=0 total=0
while :; do
    T_PAGES+=("$(api -o "$WORK/page.json" -w '%{time_total}' \
        "http://localhost/v1/runs?limit=1000${cursor:+&cursor=$cursor}")")
    total=$((total + $(jq '.runs | length' "$WORK/page.json")))
    pages=$((pages + 1))
    cursor=$(jq -r '.next // empty' "$WORK/page.json")
    [ -z "$cursor" ] || [ $pages -ge 1000 ] && break
done
RSS_AFTER_QUERIES=$(proc_kb "$B_PID" VmRSS)
HWM_HISTORY=$(proc_kb "$B_PID" VmHWM)
DB_KB=$(du -k "$WORK/history/state/cassiny.db" | cut -f1)
stop_daemon "$B_PID"
ms_list() { for v in "$@"; do awk -v v="$v" 'BEGIN { printf "%.2f\n", v * 1000 }'; done; }
mapfile -t T_RUNS100 < <(ms_list "${T_RUNS100[@]}")
mapfile -t T_RUNS1000 < <(ms_list "${T_RUNS1000[@]}")
mapfile -t T_SPECS < <(ms_list "${T_SPECS[@]}")
mapfile -t T_PAGES < <(ms_list "${T_PAGES[@]}")
ALL_PAGES_MS=$(printf '%s\n' "${T_PAGES[@]}" | awk '{ s += $1 } END { printf "%.1f", s }')

# --- report ---------------------------------------------------------------------
M_FILE=$(median "${L_FILE[@]}")
M_DIR=$(median "${L_DIR[@]}")
M_DPAR=$(median "${L_DPAR[@]}")
M_SEQ=$(median "${L_SEQ[@]}")
M_DSEQ=$(median "${L_DSEQ[@]}")
M_NB=$(median "${NB_CASS[@]}")
M_NBD=$(median "${NB_DOCKER[@]}")

jq -n \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg engine "$ENGINE_VERSION" \
    --arg kernel "$(uname -r)" --argjson nproc "$NPROC" --argjson clk "$CLK_TCK" \
    --argjson n "$N" --argjson reps "$REPS" --argjson history "$HISTORY" \
    --argjson file "$(json_nums "${L_FILE[@]}")" --argjson file_srv "$(json_nums "${L_FILE_SRV[@]}")" \
    --argjson file_cpu "$(json_nums "${L_FILE_CPU[@]}")" \
    --argjson seq "$(json_nums "${L_SEQ[@]}")" --argjson seq_srv "$(json_nums "${L_SEQ_SRV[@]}")" \
    --argjson seq_cpu "$(json_nums "${L_SEQ_CPU[@]}")" \
    --argjson dir "$(json_nums "${L_DIR[@]}")" --argjson dpar "$(json_nums "${L_DPAR[@]}")" --argjson dseq "$(json_nums "${L_DSEQ[@]}")" \
    --argjson nb "$(json_nums "${NB_CASS[@]}")" --argjson nb_srv "$(json_nums "${NB_SRV[@]}")" \
    --argjson nbd "$(json_nums "${NB_DOCKER[@]}")" --argjson nb_cpus "$NB_CPUS" --arg nb_image "$NB_IMAGE" \
    --argjson rss_empty "$RSS_IDLE_EMPTY" --argjson rss_launch "$RSS_AFTER_LAUNCHES" \
    --argjson launches_done "$LAUNCHES_DONE" \
    --argjson rss_hist "$RSS_IDLE_HISTORY" --argjson rss_q "$RSS_AFTER_QUERIES" \
    --argjson hwm "$HWM_HISTORY" --argjson db_kb "$DB_KB" --argjson fill_s "$FILL_S" \
    --argjson start_s "$START_S" \
    --argjson r100 "$(json_nums "${T_RUNS100[@]}")" --argjson r1000 "$(json_nums "${T_RUNS1000[@]}")" \
    --argjson specs "$(json_nums "${T_SPECS[@]}")" --argjson pages "$pages" --argjson total "$total" \
    --argjson all_ms "$ALL_PAGES_MS" --argjson pages_ms "$(json_nums "${T_PAGES[@]}")" '
  def med: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r2: . * 100 | round / 100;
  def side($w): {wall_s: $w, median_s: ($w | med)};
  {
    date: $date,
    machine: {cpus: $nproc, kernel: $kernel, docker_engine: $engine, clk_tck: $clk},
    launch: {
      notebooks: $n, repetitions: $reps,
      cassinyd_one_file: (side($file) + {server_span_s: $file_srv, server_span_median_s: ($file_srv | med),
        cpu_ms_per_launch: $file_cpu, cpu_ms_per_launch_median: ($file_cpu | med)}),
      engine_api_direct: side($dir),
      ratio_one_file: (($file | med) / ($dir | med) | r2),
      engine_api_direct_4_at_a_time: side($dpar),
      ratio_one_file_vs_4_at_a_time: (($file | med) / ($dpar | med) | r2),
      cassinyd_sequential: (side($seq) + {server_sum_s: $seq_srv, server_sum_median_s: ($seq_srv | med),
        cpu_ms_per_launch: $seq_cpu, cpu_ms_per_launch_median: ($seq_cpu | med)}),
      engine_api_direct_sequential: side($dseq),
      ratio_sequential: (($seq | med) / ($dseq | med) | r2)
    },
    memory: {
      rss_kb_idle_empty: $rss_empty,
      rss_kb_after_launches: $rss_launch, launches_before: $launches_done,
      history_runs: $history, database_kb: $db_kb, fill_s: $fill_s, daemon_start_s: $start_s,
      rss_kb_idle_with_history: $rss_hist,
      rss_kb_after_queries: $rss_q, hwm_kb_with_history: $hwm,
      get_runs_limit100_ms: $r100, get_runs_limit100_median_ms: ($r100 | med),
      get_runs_limit1000_ms: $r1000, get_runs_limit1000_median_ms: ($r1000 | med),
      get_specs_ms: $specs, get_specs_median_ms: ($specs | med),
      all_runs_paged: {pages: $pages, runs: $total, total_ms: $all_ms, page_ms: $pages_ms}
    },
    notebook: {
      image: $nb_image, spec_cpus: $nb_cpus,
      cassinyd: (side($nb) + {server_span_s: $nb_srv, server_span_median_s: ($nb_srv | med)}),
      docker_run: side($nbd),
      ratio: (($nb | med) / ($nbd | med) | r2)
    }
  }' >"$OUT" || die "could not write $OUT"

kb_mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
{
    echo
    echo "cassinyd benchmarks ($NPROC CPUs, Docker Engine $ENGINE_VERSION; median of $REPS)"
    echo
    printf '%-58s %12s %12s %7s\n' "LAUNCH ($N busybox notebooks, to all ready)" "apply --wait" "engine API" ratio
    printf '%-58s %11ss %11ss %6s×\n' "  one file of $N docs | API: create+start each, then poll" "$M_FILE" "$M_DIR" "$(ratio "$M_FILE" "$M_DIR")"
    printf '%-58s %11ss %11ss %6s×\n' "  one file of $N docs | API: 4 at a time, each polled" "$M_FILE" "$M_DPAR" "$(ratio "$M_FILE" "$M_DPAR")"
    printf '%-58s %11ss %11ss %6s×\n' "  $N applies in turn | API: one at a time, each polled" "$M_SEQ" "$M_DSEQ" "$(ratio "$M_SEQ" "$M_DSEQ")"
    printf '%-58s %11ss\n' "  daemon-side span, one file (first created .. last ready)" "$(median "${L_FILE_SRV[@]}")"
    printf '%-58s %11ss\n' "  daemon-side sum, one at a time (created .. ready)" "$(median "${L_SEQ_SRV[@]}")"
    printf '%-58s %10.1fms\n' "  cassinyd CPU (user+sys) per launch, one file" "$(median "${L_FILE_CPU[@]}")"
    printf '%-58s %10.1fms\n' "  cassinyd CPU (user+sys) per launch, one at a time" "$(median "${L_SEQ_CPU[@]}")"
    echo
    printf '%-58s %12s %12s %7s\n' "NOTEBOOK ($NB_IMAGE, to /api/status 200)" "apply --wait" "docker run" ratio
    printf '%-58s %11ss %11ss %6s×\n' "  one notebook | docker run -d + poll every 100 ms" "$M_NB" "$M_NBD" "$(ratio "$M_NB" "$M_NBD")"
    printf '%-58s %11ss\n' "  daemon-side (created .. ready)" "$(median "${NB_SRV[@]}")"
    echo
    echo "MEMORY (cassinyd VmRSS)"
    printf '%-58s %14s\n' "  idle, right after start, empty state" "$(kb_mib "$RSS_IDLE_EMPTY")"
    printf '%-58s %14s\n' "  after $LAUNCHES_DONE launches" "$(kb_mib "$RSS_AFTER_LAUNCHES")"
    printf '%-58s %14s\n' "  idle, right after start, $HISTORY runs in history" "$(kb_mib "$RSS_IDLE_HISTORY")"
    printf '%-58s %14s\n' "  after GET /v1/runs?limit=1000 ×5, /v1/specs ×3, all pages" "$(kb_mib "$RSS_AFTER_QUERIES")"
    printf '%-58s %14s\n' "  peak (VmHWM)" "$(kb_mib "$HWM_HISTORY")"
    printf '%-58s %14s\n' "  database size" "$(kb_mib "$DB_KB")"
    printf '%-58s %12sms\n' "  GET /v1/runs?limit=100 (median of 20)" "$(median "${T_RUNS100[@]}")"
    printf '%-58s %12sms\n' "  GET /v1/runs?limit=1000 (median of 5)" "$(median "${T_RUNS1000[@]}")"
    printf '%-58s %12sms\n' "  GET /v1/specs (median of 3)" "$(median "${T_SPECS[@]}")"
    printf '%-58s %12sms\n' "  all $total runs, $pages pages of 1000 (sum)" "$ALL_PAGES_MS"
    echo
    echo "results: $OUT"
}
