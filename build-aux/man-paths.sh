#!/bin/sh
# Prints the sed script that puts the daemon's default paths into the man
# page sources (@CONFIG@, @SOCKET@, @STATEDIR@), taken from the built daemon
# itself, so that the pages say what this build does.
# Usage: man-paths.sh PATH/TO/cassinyd
set -eu
daemon=$1
tmp=${TMPDIR:-/tmp}/man-paths.$$
trap 'rm -f "$tmp"' EXIT
: >"$tmp"
config=$("$daemon" --help | sed -n 's/.*--config FILE.*(default \([^ ]*\) if present).*/\1/p')
# --check-config prints the config as JSON, two spaces deep, keys sorted.
defaults=$("$daemon" --check-config --config "$tmp")
key() { printf '%s\n' "$defaults" | sed -n "s/^  \"$1\": \"\\([^\"]*\\)\",\\{0,1\\}\$/\\1/p"; }
socket=$(key socket)
statedir=$(key stateDir)
for v in "$config" "$socket" "$statedir"; do
    case $v in
    /*) ;;
    *) echo "man-paths.sh: cannot read the default paths from $daemon" >&2; exit 1 ;;
    esac
    case $v in *'|'*) echo "man-paths.sh: '|' in a path: $v" >&2; exit 1 ;; esac
done
printf 's|@CONFIG@|%s|g\ns|@SOCKET@|%s|g\ns|@STATEDIR@|%s|g\n' "$config" "$socket" "$statedir"
