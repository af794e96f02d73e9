#!/bin/sh
# Runs the integration suites against the real Docker Engine.
# Usage: run.sh BUILDDIR SRCDIR   (called by `make check-integration`)
set -u
build=$1
src=$2
status=0
mkdir -p "$build/tests/integration"

# On a private engine of its own, so it runs beside the others (and its
# engine restarts touch nothing of theirs).
bash "$src/tests/integration/test_outage.sh" "$build" "$src" >"$build/tests/integration/outage.log" 2>&1 &
outage_pid=$!

echo "--- engine client against the real engine"
"$build/tests/integration/check_engine_live" >"$build/tests/integration/check_engine_live.log" 2>&1 || status=1
tail -n 15 "$build/tests/integration/check_engine_live.log"

echo "--- cassinyd and cassinyctl"
bash "$src/tests/integration/test_daemon.sh" "$build" "$src" >"$build/tests/integration/daemon.log" 2>&1 || status=1
cat "$build/tests/integration/daemon.log"

echo "--- cassinyctl verbs"
bash "$src/tests/integration/test_cli.sh" "$build" "$src" >"$build/tests/integration/cli.log" 2>&1 || status=1
cat "$build/tests/integration/cli.log"

echo "--- cassinyctl and jobs: events, reproduce, outputs"
bash "$src/tests/integration/test_cli_jobs.sh" "$build" "$src" >"$build/tests/integration/cli_jobs.log" 2>&1 || status=1
cat "$build/tests/integration/cli_jobs.log"

echo "--- notebooks end to end (real Jupyter)"
bash "$src/tests/integration/test_notebook.sh" "$build" "$src" >"$build/tests/integration/notebook.log" 2>&1 || status=1
cat "$build/tests/integration/notebook.log"

echo "--- jobs, reproduce, events (real engine)"
bash "$src/tests/integration/test_job.sh" "$build" "$src" >"$build/tests/integration/job.log" 2>&1 || status=1
cat "$build/tests/integration/job.log"

echo "--- models end to end (real serving image, gateway, rollouts)"
bash "$src/tests/integration/test_model.sh" "$build" "$src" >"$build/tests/integration/model.log" 2>&1 || status=1
cat "$build/tests/integration/model.log"
echo "--- the daemon's core under load (busybox stand-ins; CASS_ONLY=NAME runs one test)"
bash "$src/tests/integration/test_core.sh" "$build" "$src" >"$build/tests/integration/core.log" 2>&1 || status=1
cat "$build/tests/integration/core.log"

echo "--- the gateway and the API under 1,100 connections"
bash "$src/tests/integration/test_gateway_load.sh" "$build" "$src" >"$build/tests/integration/gateway_load.log" 2>&1 || status=1
cat "$build/tests/integration/gateway_load.log"
echo "--- engine outage and full disk (private engine, tmpfs state directory)"
wait $outage_pid || status=1
cat "$build/tests/integration/outage.log"
exit $status
