#!/bin/sh
# Builds cassiny/swarm-node:bookworm from Debian packages, without a container
# registry: a bookworm root with Debian's docker.io (dockerd, containerd, runc,
# the CLI) whose entry point becomes dockerd. It is the node of
# packaging/swarm/lab.sh, a Docker Engine inside a privileged container.
#
# Usage: build-swarm-node-image.sh [--tag TAG] [--mirror URL] [--security-mirror URL]
#                                  [--snapshot YYYYMMDDTHHMMSSZ] [--force] [--dry-run]
#
# The flags mean what they mean for build-notebook-image.sh, which also
# resolves the apt sources for this script. Run it privileged, with the
# node's /var/lib/docker on a host directory (overlay2 does not work on the
# container's own overlay root), and dockerd's flags as the command:
#   docker run -d --privileged -v DIR:/var/lib/docker \
#       -v daemon.json:/etc/docker/daemon.json:ro cassiny/swarm-node:bookworm
#
# Progress goes to stderr; the image ID (sha256:...) is the last line on stdout.
set -eu

prog=build-swarm-node-image
here=$(cd "$(dirname "$0")" && pwd)
tag=cassiny/swarm-node:bookworm
suite=bookworm
snapshot=
source_args=
force=0
dry_run=0
. "$here/lib.sh"

usage() { sed -n '7,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
    img_arg "$@" || usage
    shift "$img_shift"
done

# The recipe's own hash (this script, the entry point, the shared code): an
# image built from another recipe is rebuilt.
recipe=$(img_recipe "$0" "$here/swarm-node/entry.sh" "$here/lib.sh")
if [ $force = 0 ] && [ $dry_run = 0 ] && img_is_current "$recipe"; then
    img_log "$tag exists (use --force to rebuild)"
    img_id
    exit 0
fi

img_sources
# docker.io brings containerd, runc, tini and iptables; mount for the entry
# point; procps and iproute2
# for looking around in a node, ca-certificates for registries with TLS.
packages="docker.io containerd runc tini iptables mount iproute2 procps ca-certificates pigz xz-utils"
img_log "packages: $packages"
if [ $dry_run = 1 ]; then
    printf '%s\n' "$m1" ${m2:+"$m2"} ${m3:+"$m3"}
    exit 0
fi

[ -f "$here/swarm-node/entry.sh" ] || img_die "$here/swarm-node/entry.sh missing"
img_preflight
start=$(date +%s)
work=$(mktemp -d -t cassiny-swarm-node-image.XXXXXX)
# shellcheck disable=SC2064
trap "rm -rf '$work'" EXIT
trap 'exit 130' INT TERM

cp "$here/swarm-node/entry.sh" "$work/entry.sh"
img_info_extra='"entry": "/usr/lib/cassiny/swarm-node/entry.sh",
  "entry_sha256": "'"$(sha256sum "$work/entry.sh" | cut -d' ' -f1)"'"'
# The package's own service start is kept out of the build (no init runs),
# and its docker group is not needed: only root talks to the node's engine.
img_mmdebstrap "$work/rootfs.tar" "$packages" \
    --customize-hook='mkdir -p "$1/usr/lib/cassiny/swarm-node" "$1/etc/docker" "$1/var/lib/docker"' \
    --customize-hook="copy-in $work/entry.sh /usr/lib/cassiny/swarm-node" \
    --customize-hook='chmod 0755 "$1/usr/lib/cassiny/swarm-node/entry.sh"' \
    --customize-hook='echo cassiny-swarm-node > "$1/etc/hostname"'

img_import "$work/rootfs.tar" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'VOLUME /var/lib/docker' \
    --change 'EXPOSE 2375 2377 7946' \
    --change 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/lib/cassiny/swarm-node/entry.sh"]' \
    --change 'CMD []' \
    --change "LABEL org.opencontainers.image.title=cassiny-swarm-node"
img_log "in $(($(date +%s) - start))s"
echo "$id"
