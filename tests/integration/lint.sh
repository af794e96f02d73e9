#!/bin/bash
# Checks the test scripts for what has hung them before.
#
# - A bare timeout(1) around one of the build's (sanitized) binaries: it
#   signals the command's whole process group and then sends SIGCONT, and a
#   SIGCONT that lands while LeakSanitizer attaches at exit discards its
#   SIGSTOP, so that LeakSanitizer waits for ever (7 of 30 exits caught in
#   that window hung). reap.sh's deadline() is the one to use.
# - A bare wait for a daemon or supervisor asked to end: reap.sh's reap().
# Usage: lint.sh SRCDIR
set -u
src=$1
SUITE=lint
. "$src/tests/integration/lib.sh"
scripts=$(ls "$src"/tests/integration/*.sh "$src"/tests/faults/*.sh "$src"/tests/ui/*.sh "$src"/tests/package/*.sh)
# shellcheck disable=SC2086
bare=$(grep -nE '(^|[^-])\btimeout +(-[a-z]+ +)*[0-9]+ +"?\$(build|ctl|\{build\}|cassinyd|B)\b' $scripts | grep -v 'timeout --foreground')
check "no bare timeout(1) around a sanitized binary${bare:+: $bare}" test -z "$bare"
# shellcheck disable=SC2086
waits=$(grep -nE '^\s*wait "?\$(DAEMON_PID|SUP_PID|GW_SUP|DPID)"?\s*(2>/dev/null)?\s*$' $scripts)
check "no bare wait for a daemon or its supervisor${waits:+: $waits}" test -z "$waits"
summary
