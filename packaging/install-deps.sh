#!/bin/sh
# Installs everything Cassiny needs to build, test and run on Debian 12.
# Usage (as root): packaging/install-deps.sh [--with-images] [--with-deb] [--with-tests]
#   --with-images  also what the image recipes need (mmdebstrap)
#   --with-tests   also what the test runner uses to show a hang (ps, gdb)
#   --with-deb     also what building and testing the Debian package needs
#                  (packaging/debian/build.sh, tests/package/test_deb.sh)
set -eu
pkgs="build-essential autoconf automake pkg-config git curl ca-certificates
libcurl4-openssl-dev libjansson-dev libyaml-dev libsqlite3-dev libmicrohttpd-dev libgnutls28-dev libssl-dev libsystemd-dev check
docker.io busybox-static clang clang-format jq bsdutils docker-registry socat prometheus python3
scdoc man-db groff-base bash-completion zsh"
for a in "$@"; do
    case $a in
    --with-images) pkgs="$pkgs mmdebstrap" ;;
    --with-tests) pkgs="$pkgs procps gdb" ;;
    # systemd: its pkg-config file says where units go (systemd-dev after 12).
    --with-deb) pkgs="$pkgs dpkg-dev debhelper lintian fakeroot mmdebstrap systemd" ;;
    *) echo "usage: $0 [--with-images] [--with-deb] [--with-tests]" >&2; exit 2 ;;
    esac
done
# node and npm, to build the dashboard (ui/) and for the API contract's
# linters (tests/openapi): Debian's, unless a node with its npm is there
# already (the nodejs of another repository brings npm and conflicts with
# Debian's npm package). chromium: the browser the dashboard's end-to-end
# tests drive (tests/ui, headless).
command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
command -v chromium >/dev/null 2>&1 || pkgs="$pkgs chromium"
missing=""
for p in $pkgs; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The services of docker-registry (a registry on :5000, every address)
    # and prometheus (a server on :9090) are not wanted: the first is for
    # packaging/registry.sh, which runs private registries on loopback
    # addresses, the second only for promtool. Debian's policy-rc.d keeps
    # the packages from starting anything while they are installed (unless
    # the machine has its own), and the units are disabled after.
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        guard=1
    fi
    rc=0
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
    [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
    [ $rc = 0 ] || exit $rc
    for unit in docker-registry prometheus; do
        case " $missing " in
        *" $unit "*)
            if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
                systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
            fi
            ;;
        esac
    done
fi
echo "install-deps: all dependencies present" >&2
