#!/bin/sh
# Installs everything Cassiny needs to build, test and run on Debian 12.
# Usage (as root): packaging/install-deps.sh [--with-images] [--with-deb]
#   --with-images  also what the image recipes need (mmdebstrap)
#   --with-deb     also what building and testing the Debian package needs
#                  (packaging/debian/build.sh, tests/package/test_deb.sh)
set -eu
pkgs="build-essential autoconf automake pkg-config git curl ca-certificates
libcurl4-openssl-dev libjansson-dev libyaml-dev libsqlite3-dev libmicrohttpd-dev libssl-dev libsystemd-dev check
docker.io busybox-static clang clang-format jq bsdutils docker-registry socat"
for a in "$@"; do
    case $a in
    --with-images) pkgs="$pkgs mmdebstrap" ;;
    # systemd: its pkg-config file says where units go (systemd-dev after 12).
    --with-deb) pkgs="$pkgs dpkg-dev debhelper lintian fakeroot mmdebstrap systemd" ;;
    *) echo "usage: $0 [--with-images] [--with-deb]" >&2; exit 2 ;;
    esac
done
missing=""
for p in $pkgs; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    # docker-registry is for packaging/registry.sh, which runs private
    # registries on loopback addresses; the system service its package starts
    # (on :5000, every address) is not wanted: stopped when installed here.
    case " $missing " in
    *" docker-registry "*)
        if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
            systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
        fi
        ;;
    esac
fi
echo "install-deps: all dependencies present" >&2
