#!/bin/sh
# A private image registry (Debian's docker-registry) for tests and labs: a
# process of its own on a loopback address, with its storage, config and log
# in one directory, never the system service.
#
#   registry.sh start DIR [--address ADDR] [--port PORT]   prints ADDR:PORT
#   registry.sh push DIR IMAGE...     pushes each local IMAGE as ADDR:PORT/IMAGE
#   registry.sh stop DIR              stops it; DIR and its storage are kept
#
# ADDR defaults to 127.0.0.1 and PORT to 0 (a free port chosen by the
# system). The Docker Engine pulls from and pushes to 127.0.0.0/8 without TLS
# by default; another address needs TLS or the engine's insecure-registries.
# DIR/address holds ADDR:PORT while it runs, DIR/registry.pid its process.
set -eu

prog=registry.sh
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
usage() { sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

running() { # running DIR: the recorded process is alive and is the registry
    [ -f "$1/registry.pid" ] || return 1
    pid=$(cat "$1/registry.pid")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "docker-registry serve $1/config.yml"
}

start() {
    dir=$1
    shift
    address=127.0.0.1 port=0
    while [ $# -gt 0 ]; do
        case $1 in
        --address) [ $# -ge 2 ] || usage; address=$2; shift 2 ;;
        --port) [ $# -ge 2 ] || usage; port=$2; shift 2 ;;
        *) usage ;;
        esac
    done
    command -v docker-registry >/dev/null 2>&1 ||
        die "docker-registry is not installed (apt-get install docker-registry)"
    mkdir -p "$dir/storage"
    dir=$(cd "$dir" && pwd)
    if running "$dir"; then
        cat "$dir/address"
        return 0
    fi
    secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    cat >"$dir/config.yml" <<EOF
version: 0.1
log: {level: info, formatter: text}
storage:
  filesystem: {rootdirectory: $dir/storage}
  delete: {enabled: true}
http:
  addr: $address:$port
  secret: $secret
EOF
    rm -f "$dir/address"
    : >"$dir/registry.log"
    docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 &
    echo $! >"$dir/registry.pid"
    # The registry says where it listens (the port, when the system chose it).
    i=0
    while :; do
        listen=$(sed -n 's/.*msg="listening on \([^"]*\)".*/\1/p' "$dir/registry.log" | head -n1)
        if [ -n "$listen" ] &&
            curl -fsS -o /dev/null --max-time 2 "http://$listen/v2/" 2>/dev/null; then
            break
        fi
        i=$((i + 1))
        # Alive is enough here: just after the fork the process may not
        # have become docker-registry yet (running checks its command line).
        if [ $i -gt 100 ] || ! kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null; then
            tail -n 20 "$dir/registry.log" >&2
            stop "$dir"
            die "the registry did not come up"
        fi
        sleep 0.1
    done
    echo "$listen" >"$dir/address"
    echo "$listen"
}

push() {
    dir=$(cd "$1" && pwd)
    shift
    running "$dir" || die "no registry runs from $dir"
    address=$(cat "$dir/address")
    for image in "$@"; do
        docker tag "$image" "$address/$image"
        docker push "$address/$image" >&2
        docker rmi "$address/$image" >/dev/null
    done
}

stop() {
    dir=$(cd "$1" && pwd)
    if running "$dir"; then
        pid=$(cat "$dir/registry.pid")
        kill -TERM "$pid"
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/registry.pid" "$dir/address"
}

[ $# -ge 2 ] || usage
cmd=$1
shift
case $cmd in
start) start "$@" ;;
push) push "$@" ;;
stop) stop "$1" ;;
*) usage ;;
esac
