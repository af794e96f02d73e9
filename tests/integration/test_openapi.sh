#!/bin/bash
# api/openapi.yaml checked by tools that are not ours (pinned in
# tests/openapi/package-lock.json, installed here with npm ci): Redocly's and
# Spectral's linters with zero errors, then tests/openapi/contract.mjs, which
# compares the document with `cassinyd --list-routes`, validates its
# examples, and sends every documented operation (and undocumented ones) to a
# private daemon, validating each answer against the document with ajv.
set -u
build=$1
src=$2
SUITE=openapi
. "$src/tests/integration/lib.sh"
trap cleanup_daemon EXIT
doc="$src/api/openapi.yaml"
tools="$build/tests/openapi"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true SCARF_ANALYTICS=false

# The tools, once per lock file: npm ci without install scripts (none of
# them needs one; one only reports installs).
mkdir -p "$tools"
if ! cmp -s "$src/tests/openapi/package-lock.json" "$tools/package-lock.json" ||
    [ ! -d "$tools/node_modules" ]; then
    rm -rf "$tools/node_modules"
    cp "$src/tests/openapi/package.json" "$src/tests/openapi/package-lock.json" "$tools/"
    (cd "$tools" && npm ci --ignore-scripts --no-audit --no-fund) >"$tools/npm.log" 2>&1
    rc=$?
    check "npm ci installs the pinned tools" test $rc = 0 || tail -n 20 "$tools/npm.log"
fi
# ESM resolves packages next to the script.
cp "$src/tests/openapi/contract.mjs" "$tools/"
bin="$tools/node_modules/.bin"

"$bin/redocly" lint --config "$src/tests/openapi/redocly.yaml" --format stylish "$doc" >"$tools/redocly.log" 2>&1
rc=$?
sed 's/^/  redocly: /' "$tools/redocly.log"
check "redocly lint (recommended) finds no error" test $rc = 0
"$bin/spectral" lint --ruleset "$src/tests/openapi/spectral.yaml" --fail-severity error "$doc" >"$tools/spectral.log" 2>&1
rc=$?
sed 's/^/  spectral: /' "$tools/spectral.log"
check "spectral lint (spectral:oas) finds no error" test $rc = 0

"$build/daemon/cassinyd" --list-routes >"$tools/routes.txt"
check "cassinyd --list-routes lists the routes" test -s "$tools/routes.txt"

WORK=$(mktemp -d /tmp/cassiny-it.XXXXXX)
write_config
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon starts"; summary; exit 1; }
ok "daemon starts on a private socket"

# A real spec and run, so that the operations on {name} and {id} answer
# with their 200 bodies, which are validated too.
probe="oa-probe-$$"
printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: cassiny/test-busybox:latest\n  command: [sh, -c, "echo contract"]\n' "$probe" >"$WORK/probe.yaml"
run=$(launch "$(cat "$WORK/probe.yaml")")
check "the probe job launches ($run)" test -n "$run"
st=$(wait_run "$run" 60 succeeded)
check "the probe job succeeds ($st)" test "$st" = succeeded

node "$tools/contract.mjs" --doc "$doc" --routes "$tools/routes.txt" --examples "$src/examples" \
    --socket "$SOCK" --name "$probe" --run "$run" --spec "$WORK/probe.yaml" >"$tools/contract.log" 2>&1
rc=$?
grep -E '^(not ok|contract:)' "$tools/contract.log" || tail -n 20 "$tools/contract.log"
line=$(grep -E '^contract: [0-9]+ passed, [0-9]+ failed$' "$tools/contract.log")
if [ -n "$line" ]; then
    p=$(sed -E 's/contract: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed/\1/' <<<"$line")
    passed=$((passed + p))
    failed=$((failed + f))
    [ $rc = 0 ] || [ "$f" -gt 0 ] || not_ok "contract.mjs exits $rc"
else
    not_ok "contract.mjs ends with its tally (exit $rc)"
fi

# The reproduction the contract asked for may still run: stopped with the
# daemon's own API before the daemon stops.
for id in $(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs?name=$probe" | jq -r '.runs[] | select(.status == "running" or .status == "pending" or .status == "starting" or .status == "creating" or .status == "queued") | .id'); do
    curl -s --unix-socket "$SOCK" -X POST "http://localhost/v1/runs/$id/stop" >/dev/null
done
summary
