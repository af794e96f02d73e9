#!/bin/sh
# PID 1's child in cassiny/swarm-node (tini is PID 1): prepares what dockerd
# needs inside a privileged container, then becomes dockerd with the
# container's command as its arguments. /etc/docker/daemon.json, if mounted,
# is read by dockerd itself.
#
# Where the outer engine cannot grant --privileged (no CAP_SYS_RESOURCE to
# hand out), the node runs with every other capability and no seccomp or
# AppArmor profile instead; the engine then mounts /sys and the cgroup
# tree read-only, and with CAP_SYS_ADMIN they are made writable here.
set -eu
for m in /sys /sys/fs/cgroup /sys/fs/cgroup/*; do
    if mountpoint -q "$m" && grep -q "^[^ ]* $m [^ ]* ro[, ]" /proc/mounts; then
        # The cgroup hierarchies are bind mounts of the node's subtree: a
        # remount of the file system itself is refused as busy.
        mount -o remount,rw "$m" 2>/dev/null || mount -o remount,bind,rw "$m" 2>/dev/null || true
    fi
done
# AppArmor and other LSMs look for securityfs; a fresh container has none.
if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
    mount -t securityfs none /sys/kernel/security 2>/dev/null || true
fi
# On the unified cgroup hierarchy the container's processes sit in its root
# cgroup, where controllers cannot be handed down: move them into a child
# and enable every controller for the nested engine's containers.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
    sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers \
        >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
fi
# A stale pid file from before a restart of the node container.
rm -f /var/run/docker.pid /run/docker/containerd/containerd.pid
exec dockerd "$@"
