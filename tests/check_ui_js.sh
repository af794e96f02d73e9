#!/bin/sh
# The front-end's unit tests (ui/test, node:test: `npm test`), in the build
# tree's copy of ui/ that `make` built the dashboard in. A build that embeds
# a prebuilt ui/dist (a release tarball) has no node_modules: skipped (77).
# Ends with "ui-unit: N passed, M failed" (from node's "# pass"/"# fail").
ui=${UI_BUILD_DIR:-ui}
if [ "${UI_BUILD:-no}" != yes ] || [ ! -d "$ui/node_modules" ]; then
    echo "ui-unit: the dashboard was not built here (a prebuilt ui/dist): skipped"
    exit 77
fi
[ -d "$ui/test" ] || { echo "ui-unit: $ui has no test/"; echo "ui-unit: 0 passed, 1 failed"; exit 1; }
out=$(cd "$ui" && ${NPM:-npm} test 2>&1)
rc=$?
printf '%s\n' "$out"
pass=$(printf '%s\n' "$out" | sed -n 's/^# pass \([0-9]*\)$/\1/p' | tail -n 1)
fail=$(printf '%s\n' "$out" | sed -n 's/^# fail \([0-9]*\)$/\1/p' | tail -n 1)
if [ -z "$pass" ]; then
    echo "ui-unit: 0 passed, 1 failed (no tally from npm test, exit $rc)"
    exit 1
fi
[ $rc = 0 ] || [ "${fail:-0}" -gt 0 ] || fail=1
echo "ui-unit: $pass passed, ${fail:-0} failed"
[ $rc = 0 ]
