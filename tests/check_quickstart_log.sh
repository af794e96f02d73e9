#!/bin/sh
# The quickstart's daemon log holds the ends of containers' output: it must
# be made 0640 in a 0750 directory even under a umask of 000 and over an
# existing world-readable file (it was 0644 once). Runs
# packaging/quickstart/run-daemon.sh with a stand-in for cassinyd.
top=$(cd "${srcdir:-.}" && pwd -P) || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -m 0755 "$tmp/log"
echo old >"$tmp/log/cassinyd.log"
chmod 0666 "$tmp/log/cassinyd.log"
cat >"$tmp/daemon" <<'SH'
#!/bin/sh
echo "container output tail: secret"
echo "$$" >"$(dirname "$0")/ran"
SH
chmod +x "$tmp/daemon"
(umask 000 && LOG_DIR="$tmp/log" CASSINYD="$tmp/daemon" sh "$top/packaging/quickstart/run-daemon.sh" --config x) || exit 1
i=0
while [ ! -s "$tmp/ran" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
fail=0
dm=$(stat -c %a "$tmp/log")
fm=$(stat -c %a "$tmp/log/cassinyd.log")
[ "$dm" = 750 ] || { echo "log directory is $dm, not 750"; fail=1; }
[ "$fm" = 640 ] || { echo "log file is $fm, not 640"; fail=1; }
grep -q 'secret' "$tmp/log/cassinyd.log" || { echo "the daemon's output did not reach the log"; fail=1; }
[ $fail = 0 ] && echo "log directory 0750, log file 0640, the daemon's output in it"
exit $fail
