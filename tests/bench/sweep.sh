#!/bin/bash
# A sweep of Jobs in one file beside notebooks: how long the sweep takes
# through cassinyd against the same containers driven straight through the
# Engine API with the same parallelism (the anchor), and how long a notebook
# takes to become ready alone and while the sweep runs. Passes or fails
# nothing; prints a table and writes sweep-results.json.
#
#   tests/bench/sweep.sh BUILDDIR        (as root, with a Docker Engine)
#
# Knobs: CASS_BENCH_JOBS (200), CASS_BENCH_JOB_SECONDS (1: each job sleeps
# this long), CASS_BENCH_RUNNING_JOBS (4: limits.maxRunningJobs, and the
# anchor's parallelism), CASS_BENCH_NOTEBOOKS (3: launched during the sweep),
# CASS_BENCH_SWEEP_OUT, CASS_BENCH_BUSYBOX, CASS_NOTEBOOK_IMAGE, DOCKER_SOCK.
# Everything it creates is removed at exit, also on failure or Ctrl-C.
set -u -o pipefail

BUILD=$(cd "${1:?usage: tests/bench/sweep.sh BUILDDIR}" && pwd) || exit 2
JOBS=${CASS_BENCH_JOBS:-200}
JOB_S=${CASS_BENCH_JOB_SECONDS:-1}
PAR=${CASS_BENCH_RUNNING_JOBS:-4}
NBS=${CASS_BENCH_NOTEBOOKS:-3}
OUT=${CASS_BENCH_SWEEP_OUT:-sweep-results.json}
BUSYBOX=${CASS_BENCH_BUSYBOX:-cassiny/test-busybox:latest}
NB_IMAGE=${CASS_NOTEBOOK_IMAGE:-cassiny/notebook:bookworm}
DSOCK=${DOCKER_SOCK:-/var/run/docker.sock}
DAEMON=$BUILD/daemon/cassinyd
TAG=bench-sweep-$$

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench: $*"
    exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (it drives the Docker Engine)"
for tool in curl jq docker awk; do command -v $tool >/dev/null || die "needs $tool"; done
[ -x "$DAEMON" ] || die "no $DAEMON: build first"
docker image inspect "$BUSYBOX" >/dev/null 2>&1 || die "image $BUSYBOX missing"
docker image inspect "$NB_IMAGE" >/dev/null 2>&1 || die "image $NB_IMAGE missing"

WORK=$(mktemp -d -t cassiny-bench-sweep.XXXXXX) || die "mktemp failed"
DPID=
cleanup() {
    trap - EXIT INT TERM
    [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
    local inst ids
    inst=$(cat "$WORK/state/instance" 2>/dev/null)
    [ -n "$inst" ] && ids=$(docker ps -aq --filter "label=io.cassiny.instance=$inst") &&
        [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
    ids=$(docker ps -aq --filter "label=io.cassiny.bench=$TAG")
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
eng() { curl -sS --unix-socket "$DSOCK" "$@"; }

# --- the anchor: the same containers, PAR at a time, straight through the API
API=$(eng http://localhost/version | jq -r .ApiVersion)
anchor_worker() { # anchor_worker FIRST STEP
    local i=$1 id
    while [ "$i" -lt "$JOBS" ]; do
        id=$(eng -X POST -H 'Content-Type: application/json' \
            "http://localhost/v$API/containers/create" \
            -d "{\"Image\":\"$BUSYBOX\",\"Cmd\":[\"sleep\",\"$JOB_S\"],\"Labels\":{\"io.cassiny.bench\":\"$TAG\"},\"HostConfig\":{\"NetworkMode\":\"none\",\"Init\":true}}" |
            jq -r .Id)
        eng -X POST "http://localhost/v$API/containers/$id/start" >/dev/null
        eng -X POST "http://localhost/v$API/containers/$id/wait" >/dev/null
        eng -X DELETE "http://localhost/v$API/containers/$id?force=1" >/dev/null
        i=$((i + $2))
    done
}
say "anchor: $JOBS containers of 'sleep $JOB_S', $PAR at a time, through the Engine API"
t0=$(now)
for w in $(seq 0 $((PAR - 1))); do anchor_worker "$w" "$PAR" & done
wait
ANCHOR_S=$(since "$t0")

# --- cassinyd
mkdir -p "$WORK/data"
cat >"$WORK/config.yaml" <<CFG
gateway: {port: 0}
policy:
  images: ["cassiny/*"]
  mountRoots: ["$WORK/data"]
limits:
  maxConcurrentLaunches: 4
  maxRunningJobs: $PAR
CFG
"$DAEMON" --config "$WORK/config.yaml" --state-dir "$WORK/state" --socket "$WORK/sock" \
    --log-level warn >"$WORK/cassinyd.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do
    curl -fsS --unix-socket "$WORK/sock" http://localhost/healthz >/dev/null 2>&1 && break
    sleep 0.05
done
api() { curl -sS --unix-socket "$WORK/sock" "$@"; }
post() { api -X POST -H 'Content-Type: application/yaml' --data-binary @"$1" http://localhost/v1/specs; }

notebook() { # notebook NAME -> seconds from apply to ready
    printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: %s}\nspec: {image: %s}\n' \
        "$1" "$NB_IMAGE" >"$WORK/$1.yaml"
    local t run st
    t=$(now)
    run=$(post "$WORK/$1.yaml" | jq -r '.specs[0].run.id')
    for _ in $(seq 1200); do
        st=$(api "http://localhost/v1/runs/$run" | jq -r .status)
        [ "$st" = ready ] && break
        [ "$st" = failed ] && { echo null; return; }
        sleep 0.05
    done
    since "$t"
    api -X DELETE "http://localhost/v1/specs/$1" >/dev/null
}

say "a notebook alone"
NB_ALONE=$(notebook "nb-alone-$$")

for i in $(seq 0 $((JOBS - 1))); do
    printf -- '---\napiVersion: cassiny/v1\nkind: Job\nmetadata: {name: sweep-%d}\nspec: {image: %s, command: [sleep, "%s"], outputs: /outputs}\n' \
        "$i" "$BUSYBOX" "$JOB_S"
done >"$WORK/sweep.yaml"
say "cassinyd: $JOBS jobs in one file, limits.maxRunningJobs $PAR, and $NBS notebooks during it"
t0=$(now)
post "$WORK/sweep.yaml" >"$WORK/applied.json"
[ "$(jq '.specs | length' "$WORK/applied.json")" = "$JOBS" ] || die "apply: $(head -c 300 "$WORK/applied.json")"
NB_DURING=()
for n in $(seq "$NBS"); do
    sleep 2
    NB_DURING+=("$(notebook "nb-during-$n-$$")")
done
while :; do
    left=$(api "http://localhost/v1/runs?kind=Job&limit=1000" |
        jq '[.runs[] | select(.status != "succeeded" and .status != "failed")] | length')
    [ "$left" = 0 ] && break
    sleep 0.2
done
SWEEP_S=$(since "$t0")
FAILED=$(api "http://localhost/v1/runs?kind=Job&status=failed&limit=1000" | jq '.runs | length')
RATIO=$(awk -v a="$SWEEP_S" -v b="$ANCHOR_S" 'BEGIN { printf "%.2f", a / b }')

printf '\n%-44s %10s\n' "measurement" "seconds"
printf '%-44s %10s\n' "anchor: $JOBS containers, $PAR at a time" "$ANCHOR_S"
printf '%-44s %10s\n' "cassinyd: $JOBS jobs, maxRunningJobs $PAR" "$SWEEP_S"
printf '%-44s %10s\n' "ratio cassinyd / anchor" "$RATIO"
printf '%-44s %10s\n' "jobs failed" "$FAILED"
printf '%-44s %10s\n' "notebook ready, alone" "$NB_ALONE"
for n in "${!NB_DURING[@]}"; do
    printf '%-44s %10s\n' "notebook ready during the sweep ($((n + 1)))" "${NB_DURING[$n]}"
done
jq -n --argjson jobs "$JOBS" --argjson par "$PAR" --argjson anchor "$ANCHOR_S" \
    --argjson sweep "$SWEEP_S" --argjson failed "$FAILED" --argjson alone "$NB_ALONE" \
    --argjson during "$(printf '%s\n' "${NB_DURING[@]}" | jq -s -c .)" \
    '{jobs: $jobs, maxRunningJobs: $par, anchorSeconds: $anchor, sweepSeconds: $sweep,
      ratio: ($sweep / $anchor), jobsFailed: $failed, notebookAloneSeconds: $alone,
      notebookDuringSweepSeconds: $during}' >"$OUT"
say "wrote $OUT"
