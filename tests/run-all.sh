#!/bin/bash
# Runs every test of Cassiny on a Debian 12 machine, as root: installs what
# is missing, starts a Docker Engine if none answers (and stops it after),
# builds with ASan+UBSan and -Werror, then runs the Check suites, the fuzz
# corpus replay, the integration suites against the real engine, the format
# check, the Debian package (tests/package/test_deb.sh) and `make distcheck`.
# Ends with one line "N passed, M failed".
#
# Usage: tests/run-all.sh [--no-distcheck]
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build="$src/build/test"
distcheck=1
for a in "$@"; do
    case $a in
    --no-distcheck) distcheck=0 ;;
    *) echo "usage: $0 [--no-distcheck]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "run-all: run as root (it installs packages and starts dockerd)" >&2; exit 2; }

step() { printf '\n=== %s ===\n' "$*"; }
started=$(date +%s)

step "dependencies"
"$src/packaging/install-deps.sh" --with-images --with-deb --with-tests

step "Docker Engine"
export CASS_ENGINE_PIDFILE=/run/cassiny-test-dockerd.pid
export CASS_ENGINE_LOG=${CASS_ENGINE_LOG:-/var/log/cassiny-test-dockerd.log}
cleanup() {
    "$src/packaging/engine.sh" stop || true
}
trap cleanup EXIT
"$src/packaging/engine.sh" start
"$src/packaging/images/build-test-image.sh" >/dev/null
echo "test image: $(docker image inspect --format '{{.Id}}' cassiny/test-busybox:latest)"
# The real notebook image: built once from Debian packages, skipped when present.
mkdir -p "$src/build"
if ! nb_id=$("$src/packaging/images/build-notebook-image.sh" 2>"$src/build/notebook-image.log"); then
    echo "notebook image build failed:"
    tail -n 30 "$src/build/notebook-image.log"
    exit 1
fi
echo "notebook image: $(tail -n 1 <<<"$nb_id")"
if ! ms_id=$("$src/packaging/images/build-model-server-image.sh" 2>"$src/build/model-server-image.log"); then
    echo "model-server image build failed:"
    tail -n 30 "$src/build/model-server-image.log"
    exit 1
fi
echo "model-server image: $(tail -n 1 <<<"$ms_id")"

step "build (ASan + UBSan, -Werror)"
cd "$src"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
rm -rf "$build"
mkdir -p "$build"
cd "$build"
"$src/configure" --enable-werror --enable-asan --enable-ubsan >configure.log 2>&1 ||
    { tail -n 30 configure.log; exit 1; }
make -j"$(nproc)" >make.log 2>&1 || { tail -n 60 make.log; exit 1; }
echo "built"

passed=0
failed=0
# Check prints "NN%: Checks: X, Failures: F, Errors: E" per suite.
tally_check_log() {
    local name=$1 log=$2 line x f e
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n 1 || true)
    if [ -z "$line" ]; then
        echo "$name: no Check summary (crashed?)"
        failed=$((failed + 1))
        return
    fi
    echo "$name: $line"
    x=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
    e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + x - f - e))
    failed=$((failed + f + e))
}
tally_plain_log() {
    local name=$1 log=$2 line p f
    line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    if [ -z "$line" ]; then
        echo "$name: no summary line"
        failed=$((failed + 1))
        return
    fi
    echo "$line"
    p=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    passed=$((passed + p))
    failed=$((failed + f))
}

step "unit tests (make check)"
status=0
make -j"$(nproc)" check >check.log 2>&1 || status=$?
for t in tests/unit/check_*.log; do
    tally_check_log "$(basename "$t" .log)" "$t"
done
for r in replay_spec replay_rest replay_engine; do
    tally_plain_log "$r" "tests/fuzz/$r.log"
done
tally_plain_log check_man tests/check_man.log
# The front-end's unit tests (npm test in ui/), run by make check too.
tally_plain_log check_ui_js tests/check_ui_js.log
if [ $status -ne 0 ]; then
    echo "make check failed:"
    grep -E '^(FAIL|ERROR|XPASS)' check.log || tail -n 40 check.log
    for t in tests/unit/check_*.log tests/fuzz/*.log; do
        grep -qE '^(FAIL|ERROR)' "${t%.log}.trs" 2>/dev/null && { echo "--- $t"; tail -n 40 "$t"; }
    done
    failed=$((failed + 1))
fi

step "integration tests (real Docker Engine, real daemon)"
status=0
# Each suite's start and end are shown as they happen (fd 3 is this stdout).
exec 3>&1
CASS_IT_PROGRESS=/dev/fd/3 make check-integration >integration.log 2>&1 || status=$?
exec 3>&-
cat integration.log | grep -E '(passed|failed|Checks:|^not ok|^FAIL)' || true
for l in tests/integration/*.log; do
    [ -e "$l" ] || continue
    case $l in
    *check_*) tally_check_log "$(basename "$l" .log)" "$l" ;;
    *) tally_plain_log "$(basename "$l" .log)" "$l" ;;
    esac
done
if [ $status -ne 0 ]; then
    echo "integration tests failed:"
    tail -n 80 integration.log
    failed=$((failed + 1))
fi

step "Debian package (build, lintian, install in a clean Debian 12 root, run, purge)"
status=0
timeout -k 30 1200 bash "$src/tests/package/test_deb.sh" "$build" "$src" >deb.log 2>&1 || status=$?
[ $status != 124 ] || echo "deb: stopped at its deadline of 1200 s" >>deb.log
grep -E '^(ok|not ok|# )' deb.log || true
sed -n '/^--- lintian/,/^--- end of lintian/p' deb.log
tally_plain_log deb deb.log
if [ $status -ne 0 ]; then
    echo "package test failed:"
    tail -n 40 deb.log
    failed=$((failed + 1))
fi

step "format"
if make check-format >format.log 2>&1; then
    echo "format: clean"
else
    echo "format: files differ from .clang-format:"
    grep -E 'error:' format.log | sed -E 's/:[0-9]+:[0-9]+: error.*//' | sort -u
    failed=$((failed + 1))
fi

if [ $distcheck = 1 ]; then
    step "make distcheck"
    # A deadline, as every integration suite has (tests/integration/run.sh).
    if timeout -k 30 1800 make distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >distcheck.log 2>&1; then
        grep -E 'archives ready|\.tar\.gz' distcheck.log | head -n 3
    else
        echo "distcheck failed:"
        tail -n 60 distcheck.log
        failed=$((failed + 1))
    fi
fi

step "summary ($(( $(date +%s) - started )) s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
