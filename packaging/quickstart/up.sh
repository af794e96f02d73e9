#!/bin/bash
# Sets Cassiny up on a fresh Debian 12 machine and runs its main job, as
# root: installs the dependencies, builds and installs cassinyd and
# cassinyctl, starts a Docker Engine if none answers, builds the notebook
# image from Debian packages if it is missing, starts cassinyd with its state
# in /var/lib/cassiny, applies examples/notebook.yaml and prints the URL of
# the running Jupyter and of the web dashboard. Running it again is harmless: what is already there is
# kept, and an unchanged spec is not relaunched.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "up: run as root" >&2; exit 2; }
step() { printf '==> %s\n' "$*" >&2; }
ui_port=8470

step "dependencies"
"$src/packaging/install-deps.sh" --with-images

step "build and install"
cd "$src"
autoreconf -fi >/dev/null 2>&1
mkdir -p build/release
cd build/release
# The daemon's built-in paths (config, state, socket) and the unit's
# ExecStart follow these; make install puts the units in /etc/systemd/system.
[ -f Makefile ] || "$src/configure" --prefix=/usr/local --sysconfdir=/etc --localstatedir=/var \
    --runstatedir=/run --with-systemdsystemunitdir=/etc/systemd/system >configure.log
make -j"$(nproc)" >make.log 2>&1 || { tail -n 40 make.log; exit 1; }
make install >/dev/null
getent group cassiny >/dev/null || groupadd --system cassiny
mkdir -p /etc/cassiny
if [ ! -f /etc/cassiny/cassinyd.yaml ]; then
    install -m 0644 "$src/packaging/cassinyd.yaml" /etc/cassiny/cassinyd.yaml
    # The dashboard for this machine's browsers: the API on loopback TCP
    # too, plain HTTP (the daemon takes that on loopback only; a team's
    # server uses listen.tls instead, docs/dashboard.md).
    printf '\n# Added by packaging/quickstart/up.sh: the API and the dashboard (/ui/)\n# on loopback TCP for this machine (docs/dashboard.md).\nlisten: {address: 127.0.0.1, port: %s}\n' \
        "$ui_port" >>/etc/cassiny/cassinyd.yaml
fi

step "Docker Engine"
CASS_ENGINE_PIDFILE=/run/cassiny-dockerd.pid "$src/packaging/engine.sh" start

step "notebook image (a few minutes the first time)"
"$src/packaging/images/build-notebook-image.sh" | tail -n 1

step "cassinyd"
sock=/run/cassiny/cassiny.sock
if curl -fsS --unix-socket "$sock" http://localhost/healthz >/dev/null 2>&1; then
    echo "cassinyd already serving on $sock" >&2
elif [ -d /run/systemd/system ]; then
    # The sockets are systemd's, so that a restart refuses no request
    # (make install put the units in place).
    systemctl daemon-reload
    systemctl enable --now cassinyd.socket cassinyd-gateway.socket cassinyd.service cassinyd-gateway.service
else
    # Its log (/var/log/cassiny) is never world-readable.
    "$src/packaging/quickstart/run-daemon.sh" --config /etc/cassiny/cassinyd.yaml
fi
for _ in $(seq 50); do
    curl -fsS --unix-socket "$sock" http://localhost/healthz >/dev/null 2>&1 && break
    sleep 0.2
done

step "check"
cassinyctl version
for f in "$src"/examples/*.yaml; do
    cassinyctl validate -f "$f" >/dev/null
done

step "the example project"
# examples/job.yaml and notebook-job.yaml read it from here (under the
# default policy.mountRoots). Replaced only when it differs: running this
# again changes nothing.
dest=/srv/cassiny/examples/churn
if ! diff -rq "$src/examples/churn" "$dest" >/dev/null 2>&1; then
    mkdir -p "$(dirname "$dest")"
    rm -rf "$dest.new"
    cp -R "$src/examples/churn" "$dest.new"
    chmod -R u=rwX,go=rX "$dest.new"
    rm -rf "$dest"
    mv "$dest.new" "$dest"
fi

step "the example notebook"
# The example mounts two host directories; the policy wants them to exist.
mkdir -p /srv/data/churn /srv/scratch/churn
chown 1000:1000 /srv/scratch/churn
cassinyctl apply -f "$src/examples/notebook.yaml" --wait
url=$(cassinyctl open churn-analysis)
code=$(curl -s -o /dev/null -w '%{http_code}' "${url%%/\?*}/api/status?token=${url#*token=}")
[ "$code" = 200 ] || { echo "up: Jupyter answered $code" >&2; exit 1; }

step "the dashboard"
# A token of user admin (scope admin) to log in with, kept in a file of
# root's: made once, again only when that one no longer works.
listen_port=$(sed -n 's/^listen: {address: 127\.0\.0\.1, port: \([0-9]*\)}$/\1/p' /etc/cassiny/cassinyd.yaml)
dashboard=""
if [ -n "$listen_port" ]; then
    tokfile=/root/.config/cassiny/dashboard-token
    if ! [ -s "$tokfile" ] || ! curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$tokfile")" \
        "http://127.0.0.1:$listen_port/ui/api/whoami"; then
        install -d -m 0700 "$(dirname "$tokfile")"
        (umask 077 && cassinyctl -o json token create --user admin --scope admin --name dashboard |
            jq -r .secret >"$tokfile")
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$listen_port/ui/")
    [ "$code" = 200 ] || { echo "up: the dashboard answered $code" >&2; exit 1; }
    dashboard="http://127.0.0.1:$listen_port/ui/ (log in with the token in $tokfile)"
fi
echo
echo "Jupyter is running: $url"
if [ -n "$dashboard" ]; then
    echo "The dashboard: $dashboard"
else
    echo "The dashboard: /etc/cassiny/cassinyd.yaml has no loopback listen:, see docs/dashboard.md"
fi
