#!/bin/sh
# Builds cassiny/systemd-test:bookworm from Debian packages, without a
# container registry: a bookworm root whose PID 1 is systemd, with what
# tests/integration/test_systemd.sh needs to run cassinyd under it (systemd,
# dbus, curl, jq, python3, procps and the daemon's runtime libraries).
# cassinyd itself is not in the image: the test installs it into a container.
#
# Usage: build-systemd-image.sh [--tag TAG] [--mirror URL] [--security-mirror URL]
#                               [--snapshot YYYYMMDDTHHMMSSZ] [--force] [--dry-run]
#
# The flags mean what they mean for build-notebook-image.sh, which also
# resolves the apt sources for this script. Run it (systemd needs the cgroup
# file system and a writable /run; this is for the legacy cgroup hierarchy,
# tests/integration/test_systemd.sh also knows the unified one):
#   docker run -d --cap-add ALL --security-opt seccomp=unconfined \
#       --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
#       --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup --tmpfs /run --tmpfs /run/lock \
#       --stop-signal SIGRTMIN+3 \
#       cassiny/systemd-test:bookworm
#
# Progress goes to stderr; the image ID (sha256:...) is the last line on stdout.
set -eu

prog=build-systemd-image
here=$(cd "$(dirname "$0")" && pwd)
tag=cassiny/systemd-test:bookworm
suite=bookworm
snapshot=
source_args=
force=0
dry_run=0
. "$here/lib.sh"

usage() { sed -n '8,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
    img_arg "$@" || usage
    shift "$img_shift"
done

# The recipe's own hash (this script and the shared code): an image built
# from another recipe is rebuilt.
recipe=$(img_recipe "$0" "$here/lib.sh")
if [ $force = 0 ] && [ $dry_run = 0 ] && img_is_current "$recipe"; then
    img_log "$tag exists (use --force to rebuild)"
    img_id
    exit 0
fi

img_sources
# systemd and what a service manager in a container uses; the test's tools;
# the shared libraries cassinyd and cassinyctl link (ldd of a release build).
packages="systemd systemd-sysv dbus libpam-systemd procps curl jq python3 ca-certificates passwd \
libcurl4 libjansson4 libyaml-0-2 libsqlite3-0 libmicrohttpd12 libsystemd0 libssl3"
img_log "packages: $packages"
if [ $dry_run = 1 ]; then
    printf '%s\n' "$m1" ${m2:+"$m2"} ${m3:+"$m3"}
    exit 0
fi

img_preflight
start=$(date +%s)
work=$(mktemp -d -t cassiny-systemd-image.XXXXXX)
# shellcheck disable=SC2064
trap "rm -rf '$work'" EXIT
trap 'exit 130' INT TERM

# Units that have nothing to do in a container (no consoles, no udev, no
# kernel modules, a /sys the container may not write) are masked, so that
# `systemctl is-system-running` can reach "running".
masked="getty@tty1.service console-getty.service serial-getty@.service systemd-udevd.service \
systemd-udev-trigger.service systemd-udev-settle.service systemd-modules-load.service \
sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount \
systemd-remount-fs.service systemd-firstboot.service systemd-hwdb-update.service \
systemd-ask-password-console.path systemd-ask-password-wall.path systemd-networkd.service \
apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer"

img_mmdebstrap "$work/rootfs.tar" "$packages" \
    --customize-hook="chroot \"\$1\" systemctl mask $masked >/dev/null" \
    --customize-hook='chroot "$1" systemctl set-default multi-user.target >/dev/null' \
    --customize-hook=': > "$1/etc/machine-id"' \
    --customize-hook='echo cassiny-systemd-test > "$1/etc/hostname"'

img_import "$work/rootfs.tar" \
    --change 'ENV container=docker' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENTRYPOINT ["/lib/systemd/systemd"]' \
    --change "LABEL org.opencontainers.image.title=cassiny-systemd-test"
img_log "in $(($(date +%s) - start))s"
echo "$id"
