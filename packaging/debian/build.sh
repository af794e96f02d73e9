#!/bin/sh
# Builds the Debian package from a checkout, as root on Debian 12: installs
# the build dependencies, makes a release tarball (make dist: only what the
# project distributes, nothing of the checkout's own builds), unpacks it with
# packaging/debian as debian/, and runs dpkg-buildpackage -b (the unit tests
# run at build time). Prints the path of the .deb last.
#
# Usage: packaging/debian/build.sh [--tarball cassiny-X.tar.gz] [OUTDIR]
#   OUTDIR   where the .deb, .buildinfo and .changes go (default build/deb)
#   --tarball  use this `make dist` tarball instead of making one
# Then: apt install ./build/deb/cassiny_*.deb
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
tarball=
out=
while [ $# -gt 0 ]; do
    case $1 in
    --tarball) [ $# -ge 2 ] || { echo "build.sh: --tarball needs a file" >&2; exit 2; }; tarball=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "usage: $0 [--tarball FILE] [OUTDIR]" >&2; exit 2 ;;
    *) out=$1; shift ;;
    esac
done
out=${out:-$src/build/deb}
[ "$(id -u)" = 0 ] || { echo "build.sh: run as root (it installs the build dependencies)" >&2; exit 2; }
step() { printf '==> %s\n' "$*" >&2; }

step "build dependencies"
"$src/packaging/install-deps.sh" --with-deb

mkdir -p "$out"
out=$(cd "$out" && pwd)
work="$out/work"
rm -rf "$work"
mkdir -p "$work"
if [ -z "$tarball" ]; then
    step "release tarball (make dist)"
    (cd "$src" && autoreconf -fi >/dev/null 2>&1) || (cd "$src" && autoreconf -fi)
    mkdir -p "$work/dist"
    (cd "$work/dist" && "$src/configure" >configure.log 2>&1 && make dist >dist.log 2>&1) ||
        { tail -n 30 "$work/dist/configure.log" "$work/dist/dist.log" 2>/dev/null; exit 1; }
    tarball=$(ls "$work"/dist/cassiny-*.tar.gz)
fi
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")

step "unpack $(basename "$tarball")"
mkdir -p "$work/src"
tar -C "$work/src" -xzf "$tarball"
tree=$(ls -d "$work"/src/cassiny-*)
cp -R "$tree/packaging/debian" "$tree/debian"
(cd "$tree" && dpkg-checkbuilddeps)

step "dpkg-buildpackage -b (compiles, runs make check; a few minutes)"
# dh builds and tests in parallel only when told so.
DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}
export DEB_BUILD_OPTIONS
if ! (cd "$tree" && dpkg-buildpackage -b -us -uc >"$out/build.log" 2>&1); then
    tail -n 60 "$out/build.log" >&2
    echo "build.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
    exit 1
fi
rm -f "$out"/cassiny_*.deb "$out"/cassiny-dbgsym_*.deb "$out"/cassiny_*.buildinfo "$out"/cassiny_*.changes
mv "$work"/src/cassiny_* "$out"/
for f in "$work"/src/cassiny-dbgsym_*; do [ -e "$f" ] && mv "$f" "$out"/; done
rm -rf "$work"
ls "$out"/cassiny_*.deb
