#!/bin/bash
# The Debian package, end to end, as root: builds it from a `make dist`
# tarball (packaging/debian/build.sh), runs lintian on it, installs it with
# apt into a clean Debian 12 root made with mmdebstrap (cached by recipe
# hash), checks what the maintainer scripts made and that nothing was started
# or enabled, runs the installed cassinyd in the root (a plain process in a
# private network namespace) against the host's Docker Engine socket bound in,
# reaches it with the installed cassinyctl, then purges the package and checks
# that nothing it made is left.
#
# Usage: tests/package/test_deb.sh BUILDDIR SRCDIR
#   BUILDDIR  a configured build of SRCDIR (make dist runs there); the package
#             and the scratch root go under BUILDDIR/deb-test
#   CASS_DEB_CACHE  where the base root tarball is kept
#                   (default /var/cache/cassiny-test)
#   DOCKER_HOST     the engine to bind in (default unix:///var/run/docker.sock)
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUILDDIR SRCDIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "test_deb: run as root (apt, chroot, mounts)" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
src=$(cd "$2" && pwd) || exit 2
SUITE=deb
# shellcheck source=../integration/lib.sh
. "$src/tests/integration/lib.sh"

work="$build/deb-test"
root="$work/root"
cache=${CASS_DEB_CACHE:-/var/cache/cassiny-test}
engine_sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
engine_sock=${engine_sock#unix://}
suite_start=$(date +%s)
mounts=()
pid=
timing() { echo "# $1: $(($(date +%s) - $2)) s"; }
quiet() { "$@" >/dev/null 2>&1; }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }
# unshare (pid) waits for cassinyd, its child, and exits with its status:
# the signal goes to cassinyd.
stop_in_root() {
    pkill -TERM -P "$pid" 2>/dev/null
    wait "$pid"
}
cleanup() {
    [ -z "$pid" ] || stop_in_root 2>/dev/null
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" 2>/dev/null
    done
    # Only once nothing is mounted in it (/dev is bound in).
    if ! mounted_under "$root"; then rm -rf --one-file-system "$root"; fi
}
mounted_under() { awk -v d="$1/" 'index($2 "/", d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; }
trap cleanup EXIT
bind() { # bind SOURCE TARGET_IN_ROOT [ro]
    mount --bind "$1" "$root$2" && mounts+=("$root$2") &&
        { [ "${3:-}" != ro ] || mount -o remount,bind,ro "$root$2"; }
}
# Processes whose root directory is the scratch root.
procs_in_root() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline")"
    done
}

# A run that was killed may have left its mounts: undone before anything is removed.
awk -v d="$work/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
if mounted_under "$work"; then
    echo "test_deb: something is still mounted under $work; not removing it" >&2
    exit 1
fi
rm -rf --one-file-system "$work"
mkdir -p "$work"

# --- build -------------------------------------------------------------------
t=$(date +%s)
if make -C "$build" dist >"$work/dist.log" 2>&1; then
    tarball=$(ls -t "$build"/cassiny-*.tar.gz | head -n 1)
    "$src/packaging/debian/build.sh" --tarball "$tarball" "$work/out" >"$work/build.log" 2>&1
    status=$?
else
    tail -n 20 "$work/dist.log"
    status=1
fi
check "the package builds from the make dist tarball (dpkg-buildpackage -b, make check inside)" \
    test $status = 0
timing "build" "$t"
deb=$(ls "$work"/out/cassiny_*.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
    tail -n 40 "$work/build.log"
    summary
    exit 1
fi
grep -E '^# (TOTAL|PASS|FAIL|ERROR):' "$work/out/build.log" | sed 's/^/make check in the build: /'
version=$(dpkg-deb -f "$deb" Version)
check "the package's version ($version) is the project's" \
    grep -qF "AC_INIT([cassiny], [$version]" "$src/configure.ac"

echo "--- dpkg-deb -c (the package's files)"
dpkg-deb -c "$deb" | awk '{ print $1, $6, $7, $8 }'
echo "--- lintian --fail-on error,warning"
lintian --fail-on error,warning --display-info "$work"/out/cassiny_*.changes >"$work/lintian.log" 2>&1
status=$?
cat "$work/lintian.log"
echo "--- end of lintian ($(wc -l <"$work/lintian.log") lines)"
check "lintian: no error or warning" test $status = 0

# --- a clean Debian 12 root, cached by recipe ---------------------------------
# The mirrors are the host's apt sources, resolved as the image recipes do.
if ! sources=$("$src/packaging/images/build-notebook-image.sh" --dry-run 2>"$work/sources.log"); then
    cat "$work/sources.log"
    not_ok "apt sources for the Debian 12 root"
    summary
    exit 1
fi
recipe="mmdebstrap --variant=apt --mode=root --format=tar bookworm
$sources"
hash=$(printf '%s\n' "$recipe" | sha256sum | cut -c1-16)
base="$cache/deb-root-$hash.tar"
mkdir -p "$cache" "$cache/apt-archives/partial"
t=$(date +%s)
cached=yes
[ -s "$base" ] || cached=no
(
    flock 9
    if [ ! -s "$base" ]; then
        echo "# making the Debian 12 root ($hash): mmdebstrap, a minute or two"
        mapfile -t lines <<<"$sources"
        mmdebstrap --variant=apt --mode=root --format=tar \
            --customize-hook="dpkg-query --admindir=\"\$1/var/lib/dpkg\" -W >'$base.packages.tmp'" \
            bookworm "$base.tmp" "${lines[@]}" >"$work/mmdebstrap.log" 2>&1 &&
            mv "$base.packages.tmp" "$base.packages" && mv "$base.tmp" "$base"
    fi
) 9>"$cache/.deb-root.lock"
check "a clean Debian 12 root ($base, $(wc -l <"$base.packages" 2>/dev/null || echo 0) packages)" test -s "$base"
timing "Debian 12 root (cached: $cached)" "$t"
[ -s "$base" ] || { tail -n 20 "$work/mmdebstrap.log"; summary; exit 1; }
mkdir -p "$root"
tar -C "$root" -xf "$base"
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
bind /dev /dev
# apt's downloads are kept across runs; the base root stays untouched.
bind "$cache/apt-archives" /var/cache/apt/archives
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# --- install -------------------------------------------------------------------
# What the package has, and which of it the clean root already had (/usr/bin):
# after the purge, nothing else may be left.
{
    dpkg-deb -c "$deb" | awk '{ print $6 }' | sed -e 's|^\.||' -e 's|/$||' | grep -v '^$'
    printf '%s\n' /var/lib/cassiny /run/cassiny /etc/cassiny
} | sort -u >"$work/files.txt"
while read -r f; do
    if [ -e "$root$f" ] || [ -L "$root$f" ]; then echo "$f"; fi
done <"$work/files.txt" >"$work/before.txt"
t=$(date +%s)
cp "$deb" "$root/tmp/"
# Depends alone must be enough: recommends (docker.io) are not installed.
in_root apt-get update -qq >"$work/apt.log" 2>&1 &&
    in_root sh -c "cd /tmp && apt-get install -y -q --no-install-recommends ./$(basename "$deb")" \
        >>"$work/apt.log" 2>&1
status=$?
check "apt install ./$(basename "$deb") in the clean root" test $status = 0
[ $status = 0 ] || tail -n 30 "$work/apt.log"
timing "apt install (dependencies from the mirror, kept in $cache/apt-archives)" "$t"

gid=$(in_root getent group cassiny | cut -d: -f3)
check "the cassiny group exists, a system group (gid ${gid:-none})" \
    test -n "$gid" -a "${gid:-1000}" -lt 1000
check "/var/lib/cassiny is 0700 root:root ($(stat -c '%a %U:%G' "$root/var/lib/cassiny" 2>&1))" \
    test "$(stat -c '%a %U:%G' "$root/var/lib/cassiny" 2>/dev/null)" = "700 root:root"
check "/etc/cassiny/cassinyd.yaml is the shipped default" \
    cmp -s "$root/etc/cassiny/cassinyd.yaml" "$src/packaging/cassinyd.yaml"
conffiles=$(in_root dpkg-query -W -f='${Conffiles}' cassiny)
check "dpkg registers /etc/cassiny/cassinyd.yaml as a conffile (${conffiles//$'\n'/ })" \
    grep -qE '^ /etc/cassiny/cassinyd.yaml [0-9a-f]{32}$' <<<"$conffiles"
check "the unit runs the installed daemon with the installed config" \
    grep -qx 'ExecStart=/usr/sbin/cassinyd --no-gateway --config /etc/cassiny/cassinyd.yaml' \
    "$root/lib/systemd/system/cassinyd.service"
check "the gateway's unit runs the installed daemon's gateway with the installed config" \
    grep -qx 'ExecStart=/usr/sbin/cassinyd --gateway-only --config /etc/cassiny/cassinyd.yaml' \
    "$root/lib/systemd/system/cassinyd-gateway.service"
check "nothing runs in the root after the install ($(procs_in_root | tr '\n' ';'))" \
    test -z "$(procs_in_root)"
for u in cassinyd.service cassinyd-gateway.service cassinyd.socket cassinyd-gateway.socket; do
    state=$(in_root systemctl is-enabled "$u" 2>&1)
    check "$u is not enabled ($state)" test "$state" = disabled
done
enabled=$(find "$root/etc/systemd" -name 'cassinyd*' 2>/dev/null)
check "no cassinyd unit is linked under /etc/systemd ($enabled)" test -z "$enabled"
v=$(in_root cassinyd --version 2>&1)
check "cassinyd --version in the root: $v" grep -qF "cassinyd $version " <<<"$v"
help=$(in_root cassinyd --help 2>&1)
check "cassinyd's built-in paths are Debian's" \
    grep -qF '(default /etc/cassiny/cassinyd.yaml if present)' <<<"$help"
check "cassinyd's default socket is /run/cassiny/cassiny.sock" \
    grep -qF 'default /run/cassiny/cassiny.sock)' <<<"$help"
ex=/usr/share/doc/cassiny/examples/notebook.yaml
check "cassinyctl validate -f $ex in the root" quiet in_root cassinyctl validate -f "$ex"
check "the installed config is valid (cassinyd --check-config)" \
    quiet in_root cassinyd --check-config --config /etc/cassiny/cassinyd.yaml
ctl_help=$(in_root cassinyctl --help 2>&1)
check "cassinyctl's default host is unix:///run/cassiny/cassiny.sock" \
    grep -qF 'unix:///run/cassiny/cassiny.sock' <<<"$ctl_help"

# --- it works: the installed daemon on the host's engine ------------------------
t=$(date +%s)
if curl -fsS --max-time 5 --unix-socket "$engine_sock" http://localhost/_ping >/dev/null 2>&1; then
    touch "$root/run/docker.sock"
    bind "$engine_sock" /run/docker.sock
    # Its own network namespace: the default gateway port (127.0.0.1:8480)
    # is the root's alone. The engine is reached over the unix socket.
    unshare --net --fork sh -c 'ip link set lo up && exec "$@"' sh \
        chroot "$root" /usr/sbin/cassinyd --config /etc/cassiny/cassinyd.yaml \
        >"$work/cassinyd.log" 2>&1 &
    pid=$!
    sock="$root/run/cassiny/cassiny.sock"
    for _ in $(seq 100); do
        curl -fsS --unix-socket "$sock" http://localhost/healthz >"$work/healthz" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    check "the installed cassinyd serves /run/cassiny/cassiny.sock in the root" test -S "$sock"
    check "/healthz says the engine is connected ($(jq -c . "$work/healthz" 2>/dev/null))" \
        test "$(jq -r .engine "$work/healthz" 2>/dev/null)" = connected
    # Ids: the host's names are not the root's.
    check "the socket is 0660 root:cassiny ($(stat -c '%a %u:%g' "$sock" 2>&1), cassiny is $gid)" \
        test "$(stat -c '%a %u:%g' "$sock" 2>/dev/null)" = "660 0:$gid"
    out=$(in_root cassinyctl -o json version 2>&1)
    check "cassinyctl in the root reaches it (cassinyctl version: daemon $version)" \
        test "$(jq -r '.server.version' <<<"$out" 2>/dev/null)" = "$version"
    check "and the daemon reaches the engine (Docker $(jq -r '.server.engine.version' <<<"$out" 2>/dev/null))" \
        test -n "$(jq -r '.server.engine.version // empty' <<<"$out" 2>/dev/null)"
    check "cassinyctl get in the root answers" quiet in_root cassinyctl get
    check "its state is in /var/lib/cassiny" test -s "$root/var/lib/cassiny/instance"
    stop_in_root
    status=$?
    pid=
    check "cassinyd exits 0 at SIGTERM ($status)" test $status = 0
    [ "$failed" = 0 ] || { echo "--- cassinyd log"; tail -n 30 "$work/cassinyd.log"; echo "--- cassinyctl version"; echo "$out"; }
    umount "$root/run/docker.sock" && unset 'mounts[-1]'
    rm -f "$root/run/docker.sock"
else
    not_ok "no Docker Engine answers on $engine_sock (packaging/engine.sh start)"
fi
timing "the daemon in the root" "$t"

# --- purge ---------------------------------------------------------------------
listed=$(in_root dpkg -L cassiny | grep -c .)
in_root apt-get purge -y -q cassiny >"$work/purge.log" 2>&1
check "apt purge cassiny" test $? = 0
left=()
while read -r f; do
    [ -e "$root$f" ] || [ -L "$root$f" ] || continue
    grep -qxF -- "$f" "$work/before.txt" && continue
    # A directory a dependency also has (/usr/lib/sysusers.d: systemd) stays.
    [ -d "$root$f" ] && in_root dpkg -S "$f" >/dev/null 2>&1 && continue
    left+=("$f")
done <"$work/files.txt"
echo "# dpkg -L cassiny listed $listed paths; $(grep -c . "$work/files.txt") checked after the purge"
check "nothing the package listed or made is left (${left[*]:-})" test ${#left[@]} = 0
named=$(cd "$root" && find . -xdev -name '*cassiny*' -not -path './tmp/*' \
    -not -path './var/cache/apt/*' -not -path './var/log/*' -not -path './var/lib/dpkg/*' 2>/dev/null)
check "no path named *cassiny* is left in the root (${named//$'\n'/ })" test -z "$named"
check "the cassiny group stays (Debian keeps system accounts; README.Debian)" \
    in_root getent group cassiny >/dev/null

timing "the whole suite" "$suite_start"
summary
