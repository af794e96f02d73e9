#!/bin/sh
# A Docker Swarm cluster on one machine, to try scale-out and to test on:
# N Docker-in-Docker nodes (privileged containers of cassiny/swarm-node:bookworm,
# built from Debian's docker.io by packaging/images/build-swarm-node-image.sh)
# on a bridge network of their own, node1 the manager and the others workers,
# plus a registry (Debian's docker-registry, packaging/registry.sh) on the
# bridge's gateway address holding the Cassiny images, and a shared directory
# at the same path in every node.
#
#   lab.sh up [--nodes N] [--dir DIR] [--shared PATH]   start (or complete) it
#   lab.sh down [--dir DIR] [--purge]                   remove all of it
#   lab.sh env [--dir DIR]                              shell lines: where it is
#   lab.sh status [--dir DIR]                           nodes, swarm, registry
#
# DIR (default $CASSINY_LAB_DIR or /var/lib/cassiny-lab) holds each node's
# /var/lib/docker and daemon.json and the lab's state; it must not be on
# overlayfs (the nodes' overlay2 sits on it). The registry's storage is a
# cache in $CASSINY_LAB_CACHE (default /var/cache/cassiny-lab), kept by down
# so that the next up pushes only layers it lacks; down --purge removes it.
# PATH (default $CASSINY_LAB_SHARED or /srv/cassiny-lab) is bind-mounted into
# every node at PATH: job inputs, outputs and model artifacts go there.
# $CASSINY_LAB_NAME (default cassiny-lab) names the network and the node
# containers (NAME-node1...). up is idempotent; it ends by printing the lines
# to add to cassinyd.yaml.
#
# Lab only: every node's engine API is plain HTTP (tcp://NODE:2375, no TLS,
# no authentication) on the lab bridge, which only this machine reaches, and
# the registry is plain HTTP too. docs/scale-out.md says what real machines
# need instead.
set -eu

prog=lab.sh
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
image=cassiny/swarm-node:bookworm
api_port=2375
push_images="cassiny/test-busybox:latest cassiny/model-server:bookworm cassiny/notebook:bookworm"

log() { printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "$prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
usage() { sed -n '10,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

dir=${CASSINY_LAB_DIR:-/var/lib/cassiny-lab}
cache=${CASSINY_LAB_CACHE:-/var/cache/cassiny-lab}
purge=0
shared=${CASSINY_LAB_SHARED:-/srv/cassiny-lab}
name=${CASSINY_LAB_NAME:-cassiny-lab}
nodes=3

[ $# -ge 1 ] || usage
cmd=$1
shift
while [ $# -gt 0 ]; do
    case $1 in
    --nodes) [ $# -ge 2 ] || usage; nodes=$2; shift 2 ;;
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
    --shared) [ $# -ge 2 ] || usage; shared=$2; shift 2 ;;
    --purge) purge=1; shift ;;
    -h|--help) usage ;;
    *) usage ;;
    esac
done
case $nodes in ''|*[!0-9]*) die "--nodes: not a number: $nodes" ;; esac
if [ "$nodes" -lt 1 ] || [ "$nodes" -gt 16 ]; then die "--nodes: 1 to 16, not $nodes"; fi
case $dir in /*) ;; *) die "--dir must be an absolute path: $dir" ;; esac
case $cache in /*) ;; *) die "CASSINY_LAB_CACHE must be an absolute path: $cache" ;; esac
case $shared in /*) ;; *) die "--shared must be an absolute path: $shared" ;; esac
case $name in *[!a-z0-9-]*|'') die "CASSINY_LAB_NAME: lower-case letters, digits and '-' only" ;; esac

# The lab's state, written by up and read by the other commands, so that
# they work without repeating up's options.
state=$dir/lab.env
lab_nodes=
regdir=$cache/$name/registry
load_state() {
    [ -f "$state" ] || return 1
    # shellcheck disable=SC1090
    . "$state"
    regdir=$cache/$name/registry
}

node_ctr() { echo "$name-node$1"; }
node_ip() { docker inspect -f "{{(index .NetworkSettings.Networks \"$name\").IPAddress}}" "$(node_ctr "$1")" 2>/dev/null; }
ndocker() { # ndocker K ARGS...: the docker CLI against node K's engine
    _k=$1
    shift
    docker -H "tcp://$(node_ip "$_k"):$api_port" "$@"
}

# wait_engine K: node K's engine answers, within 3 minutes (a deadline, not a
# wait: on a machine busy with other suites a node's dockerd is slow to start)
wait_engine() {
    _i=0
    while :; do
        _ip=$(node_ip "$1") || _ip=
        if [ -n "$_ip" ] && curl -fsS --max-time 2 -o /dev/null "http://$_ip:$api_port/_ping" 2>/dev/null; then
            return 0
        fi
        _i=$((_i + 1))
        if [ $_i -gt 900 ] || [ "$(docker inspect -f '{{.State.Running}}' "$(node_ctr "$1")" 2>/dev/null)" != true ]; then
            docker logs --tail 30 "$(node_ctr "$1")" >&2 2>&1 || true
            die "the engine of $(node_ctr "$1") did not come up"
        fi
        sleep 0.2
    done
}

# How a node runs: --privileged where the engine can grant it; an engine
# that cannot hand out CAP_SYS_RESOURCE (itself confined, as in some VMs and
# CI runners) refuses every privileged container, and then a node gets all
# the other capabilities, no seccomp or AppArmor profile and unmasked /proc
# (the entry point makes /sys and the cgroups writable). Sets node_opts.
node_options() {
    if docker run --rm --privileged --network none --entrypoint /bin/true "$image" >/dev/null 2>&1; then
        node_opts=--privileged
    else
        log "the engine grants no --privileged container; nodes run with every capability but CAP_SYS_RESOURCE"
        node_opts="--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
--security-opt apparmor=unconfined --security-opt systempaths=unconfined"
    fi
}

swarm_state() { ndocker "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

# The address of the lab's registry: on the bridge's gateway, which every node
# reaches, on a port chosen once and kept so that the nodes' daemon.json
# stays right across restarts.
registry_up() {
    gw=$1
    port=0
    [ -f "$dir/registry.port" ] && port=$(cat "$dir/registry.port")
    # 9>&-: the registry outlives this script and must not hold its lock.
    reg=$("$top/packaging/registry.sh" start "$regdir" --address "$gw" --port "$port" 9>&-)
    echo "${reg##*:}" >"$dir/registry.port"
}

# The host engine trusts plain HTTP only on loopback, so images are pushed
# through a loopback forwarder to the registry; a registry stores
# repositories without the host part, so nodes pull the same manifests under
# GW:PORT/NAME.
push_all() {
    present=
    for im in $push_images; do
        if docker image inspect "$im" >/dev/null 2>&1; then present="$present $im"
        else log "not pushing $im: not on this engine (packaging/images/ builds it)"; fi
    done
    [ -n "$present" ] || return 0
    command -v socat >/dev/null 2>&1 || die "socat is not installed (apt-get install socat)"
    fport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    socat "TCP-LISTEN:$fport,bind=127.0.0.1,reuseaddr,fork" "TCP:$reg" 2>/dev/null 9>&- &
    fpid=$!
    # shellcheck disable=SC2064
    trap "kill $fpid 2>/dev/null || true" EXIT
    _i=0
    until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$fport/v2/" 2>/dev/null; do
        _i=$((_i + 1))
        [ $_i -lt 50 ] || die "the forwarder to the registry at $reg did not answer"
        sleep 0.1
    done
    for im in $present; do
        log "pushing $im to $reg"
        docker tag "$im" "127.0.0.1:$fport/$im"
        if ! docker push "127.0.0.1:$fport/$im" >"$dir/push.log" 2>&1; then
            docker rmi "127.0.0.1:$fport/$im" >/dev/null 2>&1 || true
            tail -n 5 "$dir/push.log" >&2
            die "docker push $im failed"
        fi
        docker rmi "127.0.0.1:$fport/$im" >/dev/null
    done
    kill $fpid 2>/dev/null || true
    wait $fpid 2>/dev/null || true
    trap - EXIT
}

print_env() {
    echo "CASSINY_LAB_DOCKER_HOST=tcp://$(node_ip 1):$api_port"
    echo "CASSINY_LAB_REGISTRY=$(cat "$regdir/address")"
    _l=
    _k=1
    while [ $_k -le "$nodes" ]; do _l="$_l node$_k"; _k=$((_k + 1)); done
    echo "CASSINY_LAB_NODES=\"${_l# }\""
    echo "CASSINY_LAB_SHARED=$shared"
    echo "CASSINY_LAB_DIR=$dir"
    echo "CASSINY_LAB_NETWORK=$name"
}

print_yaml() {
    cat <<EOF
# The lab cluster (packaging/swarm/lab.sh; plain HTTP, this machine only).
dockerHost: tcp://$(node_ip 1):$api_port
engine: swarm
registries: [$(cat "$regdir/address")]
policy:
  images:
    - cassiny/*
    - $(cat "$regdir/address")/cassiny/*
  mountRoots:
    - $shared
EOF
}

up() {
    command -v docker >/dev/null 2>&1 || die "the docker CLI is not installed"
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "cannot talk to the Docker Engine"
    if load_state && [ "$lab_nodes" != "$nodes" ]; then
        die "a lab of $lab_nodes nodes is up from $dir; lab.sh down first"
    fi
    mkdir -p "$dir" "$shared"
    dir=$(cd "$dir" && pwd)
    fstype=$(stat -f -c %T "$dir")
    [ "$fstype" != overlayfs ] || die "$dir is on overlayfs; the nodes' overlay2 storage cannot sit on it (--dir)"
    printf 'lab_nodes=%s\nname=%s\nshared=%s\ncache=%s\n' "$nodes" "$name" "$shared" "$cache" >"$state"

    if ! docker image inspect "$image" >/dev/null 2>&1; then
        log "building $image (packaging/images/build-swarm-node-image.sh, minutes)"
        "$top/packaging/images/build-swarm-node-image.sh" >/dev/null || die "cannot build $image"
    fi

    if ! docker network inspect "$name" >/dev/null 2>&1; then
        log "network $name"
        docker network create --driver bridge --label "io.cassiny.lab=$dir" "$name" >/dev/null
    fi
    gw=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "$name")
    [ -n "$gw" ] || die "network $name has no gateway address"
    registry_up "$gw"
    log "registry at $reg"

    node_options
    k=1
    while [ $k -le "$nodes" ]; do
        c=$(node_ctr $k)
        mkdir -p "$dir/nodes/node$k/docker"
        cat >"$dir/nodes/node$k/daemon.json" <<EOF
{
  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:$api_port"],
  "tls": false,
  "storage-driver": "overlay2",
  "insecure-registries": ["$reg"],
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "2"}
}
EOF
        running=$(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null) || running=
        case $running in
        true) ;;
        false) log "starting $c again"; docker start "$c" >/dev/null ;;
        *)
            log "node $c"
            # --cgroupns private: the node's engine makes its containers'
            # cgroups under the node's own, not beside the host's.
            # shellcheck disable=SC2086 # node_opts: words without spaces
            docker run -d --name "$c" --hostname "node$k" $node_opts --cgroupns private \
                --network "$name" --label "io.cassiny.lab=$dir" \
                -v "$dir/nodes/node$k/docker:/var/lib/docker" \
                -v "$dir/nodes/node$k/daemon.json:/etc/docker/daemon.json:ro" \
                -v "$shared:$shared" \
                "$image" >/dev/null
            ;;
        esac
        k=$((k + 1))
    done
    k=1
    while [ $k -le "$nodes" ]; do wait_engine $k; k=$((k + 1)); done

    ip1=$(node_ip 1)
    if [ "$(swarm_state 1)" != active ]; then
        log "swarm init on node1 ($ip1)"
        ndocker 1 swarm init --advertise-addr "$ip1" >/dev/null
    fi
    token=$(ndocker 1 swarm join-token -q worker)
    k=2
    while [ $k -le "$nodes" ]; do
        if [ "$(swarm_state $k)" != active ]; then
            log "node$k joins"
            ndocker $k swarm join --token "$token" --advertise-addr "$(node_ip $k)" "$ip1:2377" >/dev/null
        fi
        k=$((k + 1))
    done
    # Every node Ready before up returns (within 2 minutes, for a busy machine).
    i=0
    while [ "$(ndocker 1 node ls --format '{{.Status}}' | grep -c '^Ready$')" -lt "$nodes" ]; do
        i=$((i + 1))
        [ $i -lt 600 ] || { ndocker 1 node ls >&2; die "not all $nodes nodes are Ready"; }
        sleep 0.2
    done

    push_all
    log "up: $nodes nodes, manager $ip1, registry $reg, shared $shared"
    print_yaml
}

down() {
    if load_state; then :; fi
    ids=$(docker ps -aq --filter "label=io.cassiny.lab=$dir")
    if [ -n "$ids" ]; then
        log "removing the nodes"
        # shellcheck disable=SC2086
        docker rm -f -v $ids >/dev/null
    fi
    if docker network inspect "$name" >/dev/null 2>&1 &&
        [ "$(docker network inspect -f '{{index .Labels "io.cassiny.lab"}}' "$name")" = "$dir" ]; then
        log "removing network $name"
        docker network rm "$name" >/dev/null
    fi
    if [ -d "$regdir" ]; then
        "$top/packaging/registry.sh" stop "$regdir"
    fi
    # What up made in DIR; the shared directory is the user's data and
    # stays, the registry's storage unless --purge.
    rm -rf "$dir/nodes" "$dir/registry.port" "$dir/push.log" "$state"
    rmdir "$dir" 2>/dev/null || true
    rm -f "$regdir/config.yml" "$regdir/registry.log"
    if [ $purge = 1 ]; then
        rm -rf "$regdir"
        rmdir "$cache/$name" "$cache" 2>/dev/null || true
    fi
    log "down"
}

status() {
    load_state || { echo "no lab in $dir"; exit 1; }
    nodes=$lab_nodes
    rc=0
    k=1
    while [ $k -le "$nodes" ]; do
        c=$(node_ctr $k)
        st=$(docker inspect -f '{{.State.Status}}' "$c" 2>/dev/null) || st=missing
        printf '%s\t%s\t%s\t%s\n' "node$k" "$c" "$st" "$(node_ip $k || true)"
        [ "$st" = running ] || rc=1
        k=$((k + 1))
    done
    if [ -f "$regdir/address" ] &&
        curl -fsS --max-time 2 -o /dev/null "http://$(cat "$regdir/address")/v2/" 2>/dev/null; then
        echo "registry $(cat "$regdir/address") up"
    else
        echo "registry down"
        rc=1
    fi
    ndocker 1 node ls 2>/dev/null || { echo "swarm: the manager does not answer"; rc=1; }
    exit $rc
}

# One up or down of a lab at a time (a test suite and a user may both ask).
lock() {
    mkdir -p "$cache"
    exec 9>"$cache/$name.lock"
    if ! flock -w 600 9; then die "another lab.sh holds $cache/$name.lock"; fi
}

case $cmd in
up) lock; up ;;
down) lock; down ;;
env)
    load_state || die "no lab in $dir (lab.sh up)"
    nodes=$lab_nodes
    [ -f "$regdir/address" ] || die "the lab's registry is not running (lab.sh up)"
    [ -n "$(node_ip 1)" ] || die "node1 is not running (lab.sh up)"
    print_env
    ;;
status) status ;;
*) usage ;;
esac
