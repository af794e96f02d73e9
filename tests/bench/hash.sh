#!/bin/bash
# Benchmark of input hashing (cass_outputs_manifest_parallel and its hash
# cache). It passes or fails nothing: it prints a table and writes
# hash-bench-results.json in the current directory. Two benchmarks on the
# same machine in one run, with the page cache warm (every file read once
# before any timing):
#   (a) 2 GiB in 16 files: a first hash with the new code on NPROC threads
#       (and on one) against `openssl dgst -sha256` of the same files, one
#       process reading them in turn; MB/s and the ratio
#   (b) 2 GiB in 10,000 files (100 directories of 100): a first hash with an
#       empty cache, the same without a cache, and a second verify of the
#       unchanged tree with the cache, in ms
#
#   tests/bench/hash.sh BUILDDIR        (`make bench-hash` does this)
#
# Knobs (environment): CASS_BENCH_REPS (3; the verify runs 5 × REPS
# times), CASS_BENCH_THREADS (nproc), CASS_BENCH_OUT
# (hash-bench-results.json), CASS_BENCH_DIR (where the 2 GiB go:
# /var/tmp, else BUILDDIR if /var/tmp has too little room).
#
# Its temporary directory is removed at exit, also on failure or Ctrl-C.
set -u -o pipefail

BUILD=$(cd "${1:?usage: tests/bench/hash.sh BUILDDIR}" && pwd) || exit 2
REPS=${CASS_BENCH_REPS:-3}
NPROC=$(nproc)
THREADS=${CASS_BENCH_THREADS:-$NPROC}
OUT=${CASS_BENCH_OUT:-hash-bench-results.json}
TOOL=$BUILD/tests/bench/hash_tree
BIG_N=16
BIG_SIZE=$((128 * 1024 * 1024))    # 16 × 128 MiB = 2 GiB
SMALL_DIRS=100
SMALL_PER_DIR=100
SMALL_SIZE=214748                  # 10,000 × 214,748 B = 2 GiB less 3.6 kB
NEED_KB=$((2 * 1024 * 1024 + 262144)) # one set at a time, and some room
RACY_S=2.5                         # CASS_HASHCACHE_RACY_MS and a margin

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench: $*"
    exit 1
}

# --- preflight ----------------------------------------------------------------
for tool in openssl jq awk split df; do
    command -v $tool >/dev/null || die "needs $tool"
done
[ -x "$TOOL" ] || die "$TOOL is missing: run \`make bench-hash\` in the build directory"
avail_kb() { df -Pk "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'; }
# Not /tmp: it is often a small tmpfs, and a tmpfs would hold the files in
# memory twice over.
BASE=${CASS_BENCH_DIR:-}
if [ -z "$BASE" ]; then
    BASE=/var/tmp
    [ "$(avail_kb "$BASE")" -ge "$NEED_KB" ] 2>/dev/null || BASE=$BUILD
fi
[ "$(avail_kb "$BASE")" -ge "$NEED_KB" ] 2>/dev/null ||
    die "$BASE has less than $((NEED_KB / 1024)) MiB free"
MEM_KB=$(awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo)
[ "$MEM_KB" -ge $((NEED_KB + 524288)) ] ||
    say "bench: warning: only $((MEM_KB / 1024)) MiB of memory available: the page cache may not hold 2 GiB, and the figures then include disk reads"

WORK=$(mktemp -d "$BASE/cassiny-hash-bench.XXXXXX") || die "mktemp in $BASE failed"
cleanup() {
    trap - EXIT INT TERM
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_us() { echo "${EPOCHREALTIME/./}"; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e3 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "null"; else if (NR % 2) printf "%.1f", v[(NR + 1) / 2];
    else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "null" }'; }
mbps() { awk -v b="$1" -v ms="$2" 'BEGIN { if (ms > 0) printf "%.0f", b / 1e3 / ms; else print "null" }'; }
json_nums() { printf '%s\n' "$@" | jq -s -c .; }
# tree_ms READ ARGS...: runs hash_tree, sets TREE_MS and TREE_CPU to the wall
# and CPU ms of each manifest and TREE_OPEN to the cache's open time; dies if
# a manifest read another number of files than READ
tree_ms() {
    local want=$1
    shift
    "$TOOL" "$@" >"$WORK/tree.out" 2>"$WORK/tree.err" ||
        { cat "$WORK/tree.err" >&2; die "hash_tree $* failed"; }
    [ ! -s "$WORK/tree.err" ] || { cat "$WORK/tree.err" >&2; die "hash_tree $*: the cache failed"; }
    jq -r --argjson r "$want" 'select(.read != null and .read != $r) | .read' "$WORK/tree.out" |
        grep -q . && die "hash_tree $*: read other than $want files: $(cat "$WORK/tree.out")"
    mapfile -t TREE_MS < <(jq -r 'select(.ms != null) | .ms' "$WORK/tree.out")
    mapfile -t TREE_CPU < <(jq -r 'select(.ms != null) | .cpu_ms' "$WORK/tree.out")
    TREE_OPEN=$(jq -r 'select(.open_ms != null) | .open_ms' "$WORK/tree.out")
    [ "${#TREE_MS[@]}" -gt 0 ] || die "hash_tree $*: no timing"
}
warm() { find "$1" -type f -exec cat {} + >/dev/null; }

# --- (a) 2 GiB in 16 files ------------------------------------------------------
say "bench: writing $BIG_N files of $((BIG_SIZE / 1048576)) MiB in $WORK"
mkdir "$WORK/big"
for i in $(seq -w 1 $BIG_N); do
    openssl rand -out "$WORK/big/f$i" $BIG_SIZE || die "openssl rand failed"
done
BIG_BYTES=$((BIG_N * BIG_SIZE))
warm "$WORK/big"
warm "$WORK/big"
declare -a A_OSSL=() A_PAR=() A_ONE=() A_OSSL_CPU=() A_PAR_CPU=() A_ONE_CPU=()
TIMEFORMAT='%R %U %S' # bash's time: wall, user, system seconds
for rep in $(seq 1 "$REPS"); do
    t0=$(now_us)
    { time (cd "$WORK/big" && openssl dgst -sha256 -r f* >"$WORK/openssl.sums"); } 2>"$WORK/time.out" ||
        die "openssl dgst failed"
    t1=$(now_us)
    A_OSSL+=("$(ms_between "$t0" "$t1")")
    A_OSSL_CPU+=("$(awk '{ printf "%.1f", ($2 + $3) * 1000 }' "$WORK/time.out")")
    tree_ms $BIG_N -t "$THREADS" -m "$WORK/ours.sums" "$WORK/big"
    A_PAR+=("${TREE_MS[@]}")
    A_PAR_CPU+=("${TREE_CPU[@]}")
    tree_ms $BIG_N -t 1 "$WORK/big"
    A_ONE+=("${TREE_MS[@]}")
    A_ONE_CPU+=("${TREE_CPU[@]}")
    say "bench: (a) rep $rep: openssl ${A_OSSL[-1]} ms, $THREADS threads ${A_PAR[-1]} ms, 1 thread ${A_ONE[-1]} ms"
done
# Both must have computed the same hashes.
diff <(sed 's/ \*/ /' "$WORK/openssl.sums" | sort -k2) <(sed 's/  / /' "$WORK/ours.sums" | sort -k2) \
    >/dev/null || die "openssl and cass_outputs_manifest_parallel disagree on the hashes"
rm -rf "$WORK/big"

# --- (b) 2 GiB in 10,000 files --------------------------------------------------
SMALL_N=$((SMALL_DIRS * SMALL_PER_DIR))
say "bench: writing $SMALL_N files of $SMALL_SIZE bytes in $SMALL_DIRS directories"
mkdir "$WORK/small"
for d in $(seq -w 0 $((SMALL_DIRS - 1))); do
    mkdir "$WORK/small/d$d"
    openssl rand $((SMALL_PER_DIR * SMALL_SIZE)) |
        split -b $SMALL_SIZE -a 2 -d - "$WORK/small/d$d/f" || die "writing d$d failed"
done
[ "$(find "$WORK/small" -type f | wc -l)" = "$SMALL_N" ] || die "not $SMALL_N files were written"
SMALL_BYTES=$((SMALL_N * SMALL_SIZE))
# The cache does not trust a file changed in the last CASS_HASHCACHE_RACY_MS
# before its hashing began: inputs written that recently are hashed again.
sleep "$RACY_S"
warm "$WORK/small"
warm "$WORK/small"
declare -a B_FIRST=() B_NOCACHE=() B_VERIFY=() B_VERIFY_CPU=() B_OPEN=()
for rep in $(seq 1 "$REPS"); do
    rm -f "$WORK"/cache.db*
    tree_ms $SMALL_N -t "$THREADS" -c "$WORK/cache.db" "$WORK/small"
    B_FIRST+=("${TREE_MS[@]}")
    tree_ms $SMALL_N -t "$THREADS" "$WORK/small"
    B_NOCACHE+=("${TREE_MS[@]}")
    # a new process: the cache is opened again, as by a restarted daemon
    tree_ms 0 -t "$THREADS" -n 5 -c "$WORK/cache.db" "$WORK/small"
    B_VERIFY+=("${TREE_MS[@]}")
    B_VERIFY_CPU+=("${TREE_CPU[@]}")
    B_OPEN+=("$TREE_OPEN")
    say "bench: (b) rep $rep: first ${B_FIRST[-1]} ms, no cache ${B_NOCACHE[-1]} ms, verify ${TREE_MS[*]} ms"
done
CACHE_KB=$(du -ck "$WORK"/cache.db* | awk 'END { print $1 }')
rm -rf "$WORK/small"

# --- report ---------------------------------------------------------------------
M_OSSL=$(median "${A_OSSL[@]}")
M_PAR=$(median "${A_PAR[@]}")
M_ONE=$(median "${A_ONE[@]}")
M_OSSL_CPU=$(median "${A_OSSL_CPU[@]}")
M_PAR_CPU=$(median "${A_PAR_CPU[@]}")
M_ONE_CPU=$(median "${A_ONE_CPU[@]}")
M_FIRST=$(median "${B_FIRST[@]}")
M_NOCACHE=$(median "${B_NOCACHE[@]}")
M_VERIFY=$(median "${B_VERIFY[@]}")
M_VERIFY_CPU=$(median "${B_VERIFY_CPU[@]}")
M_OPEN=$(median "${B_OPEN[@]}")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

jq -n \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg kernel "$(uname -r)" \
    --arg openssl "$(openssl version)" --arg load "$LOAD" --arg dir "$BASE" \
    --argjson nproc "$NPROC" --argjson threads "$THREADS" --argjson reps "$REPS" \
    --argjson big_n "$BIG_N" --argjson big_bytes "$BIG_BYTES" \
    --argjson ossl "$(json_nums "${A_OSSL[@]}")" --argjson par "$(json_nums "${A_PAR[@]}")" \
    --argjson one "$(json_nums "${A_ONE[@]}")" --argjson par_cpu "$(json_nums "${A_PAR_CPU[@]}")" \
    --argjson ossl_cpu "$(json_nums "${A_OSSL_CPU[@]}")" --argjson one_cpu "$(json_nums "${A_ONE_CPU[@]}")" \
    --argjson small_n "$SMALL_N" --argjson small_bytes "$SMALL_BYTES" \
    --argjson first "$(json_nums "${B_FIRST[@]}")" --argjson nocache "$(json_nums "${B_NOCACHE[@]}")" \
    --argjson verify "$(json_nums "${B_VERIFY[@]}")" \
    --argjson verify_cpu "$(json_nums "${B_VERIFY_CPU[@]}")" --argjson open "$(json_nums "${B_OPEN[@]}")" \
    --argjson cache_kb "$CACHE_KB" '
  def med: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r2: . * 100 | round / 100;
  def side($ms; $bytes): {ms: $ms, median_ms: ($ms | med),
    mb_per_s: ($bytes / 1000 / ($ms | med) | round)};
  def cpu($ms; $cpu; $bytes): {cpu_ms: $cpu, cpu_median_ms: ($cpu | med),
    mb_per_cpu_s: ($bytes / 1000 / ($cpu | med) | round),
    cores_used: (($cpu | med) / ($ms | med) | r2)};
  {
    date: $date,
    machine: {cpus: $nproc, kernel: $kernel, openssl: $openssl, loadavg_at_end: $load,
              directory: $dir},
    threads: $threads, repetitions: $reps,
    big_files: {
      files: $big_n, bytes: $big_bytes,
      openssl_dgst_sequential: (side($ossl; $big_bytes) + cpu($ossl; $ossl_cpu; $big_bytes)),
      parallel: (side($par; $big_bytes) + cpu($par; $par_cpu; $big_bytes)),
      parallel_one_thread: (side($one; $big_bytes) + cpu($one; $one_cpu; $big_bytes)),
      ratio_parallel_vs_openssl: (($ossl | med) / ($par | med) | r2),
      ratio_one_thread_vs_openssl: (($ossl | med) / ($one | med) | r2)
    },
    many_files: {
      files: $small_n, bytes: $small_bytes,
      first_hash_empty_cache: side($first; $small_bytes),
      first_hash_no_cache: side($nocache; $small_bytes),
      verify_unchanged_with_cache: {ms: $verify, median_ms: ($verify | med),
        cpu_ms: $verify_cpu, cpu_median_ms: ($verify_cpu | med), files_read: 0},
      cache_open_ms: $open, cache_kb: $cache_kb
    }
  }' >"$OUT" || die "could not write $OUT"

{
    echo
    echo "input hashing ($NPROC CPUs, $THREADS threads, page cache warm; median of $REPS; load average at end $LOAD)"
    echo
    printf '%-52s %10s %7s %7s %11s %6s\n' "(a) $BIG_N files, $((BIG_BYTES / 1048576)) MiB" \
        wall MB/s ratio "MB/CPU-s" cores
    row() { # row LABEL WALL_MS CPU_MS
        printf '%-52s %8sms %7s %6s× %11s %6s\n' "$1" "$2" "$(mbps "$BIG_BYTES" "$2")" \
            "$(ratio "$M_OSSL" "$2")" "$(mbps "$BIG_BYTES" "$3")" "$(ratio "$3" "$2")"
    }
    row "  openssl dgst -sha256, one process, files in turn" "$M_OSSL" "$M_OSSL_CPU"
    row "  manifest_parallel, $THREADS threads, first hash" "$M_PAR" "$M_PAR_CPU"
    row "  manifest_parallel, 1 thread, first hash" "$M_ONE" "$M_ONE_CPU"
    echo
    printf '%-62s %10s %8s\n' "(b) $SMALL_N files in $SMALL_DIRS directories, $((SMALL_BYTES / 1048576)) MiB" time MB/s
    printf '%-62s %8sms %8s\n' "  first hash, empty cache (reads all, writes $SMALL_N rows)" \
        "$M_FIRST" "$(mbps "$SMALL_BYTES" "$M_FIRST")"
    printf '%-62s %8sms %8s\n' "  first hash, no cache" "$M_NOCACHE" "$(mbps "$SMALL_BYTES" "$M_NOCACHE")"
    printf '%-62s %8sms\n' "  second verify, unchanged, with cache (0 files read; median of $((5 * REPS)))" "$M_VERIFY"
    printf '%-62s %8sms\n' "    its CPU time (user + system)" "$M_VERIFY_CPU"
    printf '%-62s %8sms\n' "  opening the cache ($((CACHE_KB)) kB with its WAL)" "$M_OPEN"
    echo
    echo "results: $OUT"
}
