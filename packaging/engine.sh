#!/bin/sh
# Starts a Docker Engine if none answers, and stops only the one it started.
#   packaging/engine.sh start   -> exit 0 once /_ping answers
#   packaging/engine.sh stop    -> stops the dockerd this script started
#   packaging/engine.sh status
# Environment: DOCKER_SOCK (default /var/run/docker.sock),
#   CASS_ENGINE_LOG (default /var/log/cassiny-dockerd.log),
#   CASS_ENGINE_PIDFILE (default /run/cassiny-dockerd.pid).
set -eu
sock=${DOCKER_SOCK:-/var/run/docker.sock}
log=${CASS_ENGINE_LOG:-/var/log/cassiny-dockerd.log}
pidfile=${CASS_ENGINE_PIDFILE:-/run/cassiny-dockerd.pid}

ping() {
    curl -fsS --max-time 2 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1
}

case "${1:-}" in
start)
    if ping; then
        echo "engine: a Docker Engine already answers on $sock" >&2
        exit 0
    fi
    # A systemd host: let the service manager run it.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 &&
        systemctl start docker.service 2>/dev/null; then
        echo "engine: started docker.service" >&2
    else
        command -v dockerd >/dev/null || { echo "engine: dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
        echo "engine: starting dockerd (log: $log)" >&2
        nohup dockerd --host "unix://$sock" --pidfile "$pidfile.dockerd" >>"$log" 2>&1 &
        echo $! >"$pidfile"
    fi
    i=0
    while ! ping; do
        i=$((i + 1))
        if [ "$i" -gt 120 ]; then
            echo "engine: no answer on $sock after 60 s; last log lines:" >&2
            tail -n 20 "$log" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
    echo "engine: ready" >&2
    ;;
stop)
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 60 ]; do
            sleep 0.5
            i=$((i + 1))
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    echo "engine: stopped the dockerd we started" >&2
    ;;
status)
    if ping; then echo "up"; else echo "down"; exit 1; fi
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
