#!/bin/sh
# The alerting rules an operator is given (packaging/prometheus) are valid
# for Prometheus, fire as tests/prometheus/alerts_test.yml says, and name
# only series cassinyd writes. Run by `make check`.
set -u
src=${srcdir:-.}
rules="$src/packaging/prometheus/cassiny-alerts.yml"
# Skipped (77) without it, like the man page check without man: CI installs
# it (packaging/install-deps.sh), and so does a package build with checks.
command -v promtool >/dev/null 2>&1 || { echo "promtool not found (Debian package prometheus): skipped"; exit 77; }
status=0
promtool check rules "$rules" || status=1
promtool test rules "$src/tests/prometheus/alerts_test.yml" || status=1
# Series the rules use, without a histogram's suffixes, each a string in
# the daemon's source (metrics.c's families, the scrape's own gauges).
for m in $(grep -oE 'cassiny_[a-z_]+' "$rules" | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
    if ! grep -qF "\"$m\"" "$src/daemon/metrics.c" "$src/api/routes.c"; then
        echo "check_alerts: $rules uses $m, which cassinyd does not write"
        status=1
    fi
done
[ $status = 0 ] && echo "check_alerts: rules valid, their tests pass, every series exists"
exit $status
