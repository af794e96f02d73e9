#!/bin/sh
# Builds cassiny/notebook:bookworm from Debian packages, without a container
# registry: mmdebstrap bookworm into a tarball, then `docker import` it.
#
# Usage: build-notebook-image.sh [--tag TAG] [--mirror URL] [--security-mirror URL]
#                                [--snapshot YYYYMMDDTHHMMSSZ] [--with-toolchain]
#                                [--force] [--verify] [--dry-run]
#
#   --tag TAG              image tag (default cassiny/notebook:bookworm)
#   --mirror URL           Debian archive to use instead of the one in the host's
#                          apt sources (sources.list, sources.list.d/*.list|*.sources)
#   --security-mirror URL  Debian security archive, or "none" (default: derived
#                          from a snapshot-style --mirror, else from the apt sources)
#   --snapshot DATE        pin to a snapshot-style mirror date, e.g. 20250520T000000Z;
#                          the mirror must be snapshot-style (.../archive/debian[/DATE])
#   --with-toolchain       keep C/C++ headers, gcc internals and static libraries
#                          (dropped by default: python3-scipy depends on
#                          python3-pythran, which pulls in g++ and -dev packages
#                          worth ~440 MB that a notebook does not use)
#   --force                rebuild even if TAG exists
#   --verify               after building (or finding) the image, start it, check
#                          /api/status with and without the token, run 1+1 in a
#                          kernel, and repeat with a read-only root; exits non-zero
#                          on failure
#   --dry-run              print the resolved build inputs (stderr) and the apt
#                          source lines (stdout) and exit
#
# Progress goes to stderr; the image ID (sha256:...) is the last line on stdout.
# Must run as root (mmdebstrap is installed with apt-get if missing).
set -eu

prog=build-notebook-image
tag=cassiny/notebook:bookworm
suite=bookworm
mirror=
security_mirror=
snapshot=
force=0
toolchain=0
verify=0
dry_run=0
apt_etc=${CASSINY_APT_ETC:-/etc/apt}

log() { printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "$prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
usage() { sed -n '5,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
    --tag) [ $# -ge 2 ] || usage; tag=$2; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --mirror) [ $# -ge 2 ] || usage; mirror=$2; shift 2 ;;
    --mirror=*) mirror=${1#*=}; shift ;;
    --security-mirror) [ $# -ge 2 ] || usage; security_mirror=$2; shift 2 ;;
    --security-mirror=*) security_mirror=${1#*=}; shift ;;
    --snapshot) [ $# -ge 2 ] || usage; snapshot=$2; shift 2 ;;
    --snapshot=*) snapshot=${1#*=}; shift ;;
    --force) force=1; shift ;;
    --with-toolchain) toolchain=1; shift ;;
    --verify) verify=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) usage ;;
    esac
done

if [ -n "$snapshot" ]; then
    printf '%s\n' "$snapshot" | grep -Eq '^[0-9]{8}T[0-9]{6}Z$' ||
        die "--snapshot wants YYYYMMDDTHHMMSSZ, e.g. 20250520T000000Z (got '$snapshot')"
fi

# ---------------------------------------------------------------------------
# Verification (also usable on its own: --verify on an existing image)
# ---------------------------------------------------------------------------
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true; }

# verify_run NAME BASE_URL [docker run options...]: starts the image, checks the
# API, a kernel and nbconvert, removes the container. Sets startup_seconds.
verify_run() {
    vname=$1; bu=$2; shift 2
    token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    cname=cassiny-verify-notebook-$$-$vname
    t0=$(date +%s.%N)
    cid=$(docker run -d --name "$cname" -p 127.0.0.1::8888 "$@" "$tag" \
        python3 -m notebook --ip=0.0.0.0 --port=8888 --no-browser \
        "--NotebookApp.token=$token" "--NotebookApp.base_url=$bu") ||
        { log "verify[$vname]: docker run failed"; return 1; }
    # shellcheck disable=SC2064
    trap "docker rm -f '$cid' >/dev/null 2>&1 || true; ${cleanup_cmd:-:}" EXIT
    port=$(docker port "$cid" 8888/tcp | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -n1)
    [ -n "$port" ] || { log "verify[$vname]: no published port"; docker rm -f "$cid" >/dev/null; return 1; }
    base=http://127.0.0.1:$port${bu%/}
    i=0 code=000
    while [ $i -lt 600 ]; do
        code=$(http_code "$base/api/status?token=$token")
        [ "$code" = 200 ] && break
        if [ "$(docker inspect -f '{{.State.Running}}' "$cid")" != true ]; then
            log "verify[$vname]: container exited; its log:"
            docker logs "$cid" >&2 2>&1 | tail -n 30 >&2
            docker rm -f "$cid" >/dev/null; return 1
        fi
        sleep 0.1; i=$((i + 1))
    done
    t1=$(date +%s.%N)
    startup_seconds=$(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}')
    fail=0
    if [ "$code" != 200 ]; then
        log "verify[$vname]: /api/status never answered 200 (last $code)"; fail=1
    else
        log "verify[$vname]: /api/status 200 after ${startup_seconds}s: $(curl -s "$base/api/status?token=$token")"
        c=$(http_code "$base/api/status")
        if [ "$c" = 403 ]; then log "verify[$vname]: /api/status without token -> 403 (ok)"
        else log "verify[$vname]: /api/status without token -> $c (want 403)"; fail=1; fi
        c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: token $token" "$base/api/status")
        if [ "$c" = 200 ]; then log "verify[$vname]: token in 'Authorization: token' header -> 200 (ok)"
        else log "verify[$vname]: token in Authorization header -> $c (want 200)"; fail=1; fi
        c=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: token $token" \
            -d '{"type":"notebook","content":{"cells":[],"metadata":{},"nbformat":4,"nbformat_minor":5}}' \
            "$base/api/contents/verify.ipynb")
        if [ "$c" = 201 ] || [ "$c" = 200 ]; then log "verify[$vname]: saving a notebook in the work dir -> $c (ok)"
        else log "verify[$vname]: saving a notebook -> $c (want 201)"; fail=1; fi
        c=$(http_code "$base/tree?token=$token")
        if [ "$c" = 200 ]; then log "verify[$vname]: /tree -> 200 (ok)"
        else log "verify[$vname]: /tree -> $c (want 200)"; fail=1; fi
        # Static assets come from Debian's libjs-* packages via symlinks.
        for asset in components/jquery/jquery.min.js components/requirejs/require.js \
                     components/codemirror/lib/codemirror.js style/style.min.css; do
            c=$(http_code "$base/static/$asset")
            [ "$c" = 200 ] || { log "verify[$vname]: /static/$asset -> $c (want 200)"; fail=1; }
        done
        kid=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"name":"python3"}' \
            "$base/api/kernels?token=$token" | sed -n 's/^{"id": *"\([0-9a-f-]*\)".*/\1/p') || kid=
        if [ -z "$kid" ]; then
            log "verify[$vname]: POST /api/kernels failed"; fail=1
        else
            out=$(docker exec -i "$cid" python3 - "$kid" <<'EOF' 2>&1
import sys
from jupyter_client import BlockingKernelClient
from jupyter_core.paths import jupyter_runtime_dir
import os
cf = os.path.join(jupyter_runtime_dir(), "kernel-%s.json" % sys.argv[1])
kc = BlockingKernelClient(connection_file=cf)
kc.load_connection_file()
kc.start_channels()
kc.wait_for_ready(timeout=60)
msg_id = kc.execute("1+1")
result = None
while True:
    msg = kc.get_iopub_msg(timeout=60)
    if msg["parent_header"].get("msg_id") != msg_id:
        continue
    if msg["msg_type"] == "execute_result":
        result = msg["content"]["data"]["text/plain"]
    if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
        break
kc.stop_channels()
print(result)
EOF
            ) || true
            if [ "$(printf '%s\n' "$out" | tail -n1)" = 2 ]; then
                log "verify[$vname]: kernel $kid ran 1+1 -> 2 (ok)"
            else
                log "verify[$vname]: kernel did not answer 2: $out"; fail=1
            fi
            log "verify[$vname]: /api/kernels: $(curl -s "$base/api/kernels?token=$token")"
            c=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$base/api/kernels/$kid?token=$token")
            [ "$c" = 204 ] || { log "verify[$vname]: DELETE kernel -> $c (want 204)"; fail=1; }
        fi
    fi
    # The scientific stack, and executing a notebook headless with nbconvert
    # (what a Job that runs a notebook would do).
    out=$(docker exec -i "$cid" sh -c 'cd /tmp && python3 - && python3 -m nbconvert --to notebook --execute --output out.ipynb in.ipynb >/dev/null 2>&1 && python3 -c "import nbformat; nb = nbformat.read(\"out.ipynb\", 4); print(nb.cells[0].outputs[0].text.strip())"' <<'EOF' 2>&1
import nbformat
from nbformat.v4 import new_notebook, new_code_cell
nb = new_notebook(cells=[new_code_cell(
    "import pandas, sklearn\n"
    "from sklearn.datasets import load_iris\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "X, y = load_iris(return_X_y=True, as_frame=True)\n"
    "m = LogisticRegression(max_iter=1000).fit(X, y)\n"
    "print('iris', pandas.__version__, sklearn.__version__, round(m.score(X, y), 2))")])
nbformat.write(nb, "in.ipynb")
EOF
    ) || true
    case $out in
    iris*) log "verify[$vname]: nbconvert --execute with pandas+sklearn: $out (ok)" ;;
    *) log "verify[$vname]: nbconvert --execute failed: $out"; fail=1 ;;
    esac
    if [ $fail != 0 ]; then
        log "verify[$vname]: container log:"; docker logs "$cid" 2>&1 | tail -n 30 >&2
    fi
    docker rm -f "$cid" >/dev/null
    # shellcheck disable=SC2064
    trap "${cleanup_cmd:-:}" EXIT
    return $fail
}

do_verify() {
    verify_run plain / || return 1
    plain_startup=$startup_seconds
    # Hardened, as the daemon's policy runs it, under a base URL. With a read-only
    # root Jupyter needs a writable HOME (~/.local/share/jupyter/runtime holds the
    # server and kernel connection files; ~/.ipython, ~/.jupyter) and a writable
    # notebook dir (a volume in practice); /tmp for nbconvert and user code.
    verify_run hardened /user/verify/ --read-only --cap-drop ALL \
        --security-opt no-new-privileges --user 1000:1000 \
        --tmpfs /tmp:rw,nosuid,nodev,size=64m \
        --tmpfs /home/jovyan:rw,nosuid,nodev,size=64m,uid=1000,gid=1000,mode=0700 \
        --tmpfs /home/jovyan/work:rw,nosuid,nodev,size=64m,uid=1000,gid=1000,mode=0755 || return 1
    log "verify: ok (startup to /api/status 200: ${plain_startup}s plain, ${startup_seconds}s hardened)"
}

image_id() { docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null; }

# ---------------------------------------------------------------------------
# Fast path
# ---------------------------------------------------------------------------
# The recipe's own hash: an image built from another recipe is rebuilt.
recipe=$(cat "$0"  | sha256sum | cut -c1-16)
if [ $force = 0 ] && [ $dry_run = 0 ] && id=$(image_id) &&
    [ "$(docker image inspect --format '{{index .Config.Labels "io.cassiny.image.recipe"}}' "$tag" 2>/dev/null)" = "$recipe" ]; then
    log "$tag exists (use --force to rebuild)"
    if [ $verify = 1 ]; then do_verify || die "verification failed"; fi
    echo "$id"
    exit 0
fi

# ---------------------------------------------------------------------------
# Mirrors: from the host's apt sources unless given
# ---------------------------------------------------------------------------
# Prints "URI SUITE" for every enabled deb entry in the apt sources.
apt_sources() {
    for f in "$apt_etc/sources.list" "$apt_etc"/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '
        { sub(/#.*/, "") }
        $1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            if (i + 1 <= NF) print $i, $(i + 1)
        }' "$f"
    done
    for f in "$apt_etc"/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
        function flush(  n, m, i, j, u, s) {
            if ((" " types " ") ~ / deb / && enabled !~ /^(no|false)$/) {
                n = split(uris, u, " "); m = split(suites, s, " ")
                for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j]
            }
            types = uris = suites = enabled = last = ""
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ {
            if (last == "uris") uris = uris " " $0
            else if (last == "suites") suites = suites " " $0
            else if (last == "types") types = types " " $0
            next
        }
        {
            k = tolower($0); sub(/:.*/, "", k)
            v = $0; sub(/^[^:]*:[ \t]*/, "", v); gsub(/[ \t]+/, " ", v)
            last = k
            if (k == "types") types = v
            else if (k == "uris") uris = v
            else if (k == "suites") suites = v
            else if (k == "enabled") enabled = tolower(v)
        }
        END { flush() }' "$f"
    done
}

# with_snapshot URL: replace a trailing snapshot date with $snapshot, or append it.
with_snapshot() {
    u=${1%/}
    case ${u##*/} in
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) u=${u%/*} ;;
    *) [ "$mirror_from" = --mirror ] || die "--snapshot needs a snapshot-style mirror; the apt sources' $u is not one: pass --mirror http://MIRROR/archive/debian" ;;
    esac
    echo "$u/$snapshot"
}

if [ -z "$mirror" ]; then
    mirror=$(apt_sources | awk -v s="$suite" '$2 == s { print $1; exit }')
    [ -n "$mirror" ] || die "no '$suite' entry in $apt_etc/sources.list{,.d/*.list,.d/*.sources}; pass --mirror URL"
    if [ -z "$security_mirror" ]; then
        security_mirror=$(apt_sources | awk -v s="$suite" '$2 == s "-security" || $2 == s "/updates" { print $1; exit }')
    fi
    mirror_from="apt sources"
else
    mirror_from="--mirror"
    if [ -z "$security_mirror" ] && [ -n "$snapshot" ]; then
        # snapshot-style layout: .../archive/debian -> .../archive/debian-security
        m=${mirror%/}
        case ${m##*/} in [0-9]*T*Z) m=${m%/*} ;; esac
        case $m in */debian) security_mirror=$m-security ;; esac
    fi
    if [ -z "$security_mirror" ]; then
        security_mirror=$(apt_sources | awk -v s="$suite" '$2 == s "-security" || $2 == s "/updates" { print $1; exit }')
    fi
fi
[ "$security_mirror" != none ] || security_mirror=
mirror=${mirror%/}
security_mirror=${security_mirror%/}
if [ -n "$snapshot" ]; then
    mirror=$(with_snapshot "$mirror")
    [ -z "$security_mirror" ] || security_mirror=$(with_snapshot "$security_mirror")
fi

m1="deb $mirror $suite main"
m2="deb $mirror $suite-updates main"
m3=
[ -z "$security_mirror" ] || m3="deb $security_mirror $suite-security main"

packages="python3 python3-notebook python3-pandas python3-sklearn python3-nbconvert \
python3-ipykernel python3-jupyter-client python3-jupyter-core ca-certificates tini passwd"

log "suite $suite, snapshot ${snapshot:-none}, mirrors from $mirror_from:"
log "  $m1"
log "  $m2"
if [ -n "$m3" ]; then log "  $m3"; else log "  (no security archive found; pass --security-mirror URL to add one)"; fi
log "packages: $packages"
if [ $dry_run = 1 ]; then
    printf '%s\n' "$m1" "$m2" ${m3:+"$m3"}
    exit 0
fi
old_id=$(image_id) || old_id=

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap --mode=root, docker import)"
command -v docker >/dev/null || die "docker CLI missing"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "cannot talk to the Docker Engine"
if ! command -v mmdebstrap >/dev/null; then
    log "installing mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y mmdebstrap >&2
fi

start=$(date +%s)
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    built=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
fi
work=$(mktemp -d -t cassiny-notebook-image.XXXXXX)
cleanup_cmd="rm -rf '$work'"
# shellcheck disable=SC2064
trap "$cleanup_cmd" EXIT
trap 'exit 130' INT TERM

arch=$(dpkg --print-architecture)
mkdir -p "$work/cassiny"
cat > "$work/cassiny/image-info.json" <<EOF
{
  "image": "$tag",
  "distribution": "debian",
  "suite": "$suite",
  "architecture": "$arch",
  "snapshot": "${snapshot:-none}",
  "built": "$built",
  "builder": "packaging/images/build-notebook-image.sh",
  "mmdebstrap": "$(mmdebstrap --version | awk '{print $2}')",
  "variant": "apt",
  "toolchain_files": $([ $toolchain = 1 ] && echo true || echo false),
  "packages_requested": "$packages",
  "packages_file": "/usr/share/cassiny/packages.txt"
}
EOF

set -- --variant=apt --mode=root --format=tar --architectures="$arch" \
    --components=main \
    --include="$(printf '%s' "$packages" | tr ' ' ',')" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='chroot "$1" groupadd --gid 1000 jovyan' \
    --customize-hook='chroot "$1" useradd --uid 1000 --gid 1000 --create-home --home-dir /home/jovyan --shell /bin/bash jovyan' \
    --customize-hook='install -d -o 1000 -g 1000 -m 0755 "$1/home/jovyan/work"' \
    --customize-hook='mkdir -p "$1/usr/share/cassiny"' \
    --customize-hook="copy-in $work/cassiny/image-info.json /usr/share/cassiny" \
    --customize-hook='dpkg-query --admindir="$1/var/lib/dpkg" -W | LC_ALL=C sort > "$1/usr/share/cassiny/packages.txt"' \
    --customize-hook='rm -rf "$1/var/cache/apt"/*.bin "$1/var/cache/debconf"/*-old "$1/var/lib/dpkg"/*-old "$1/var/log"/*.log "$1/var/log/apt"/*'
if [ $toolchain = 0 ]; then
    # dpkg still records these packages as installed; only the files are skipped
    # (the same mechanism as the doc exclusions, kept in the image's dpkg.cfg.d).
    set -- "$@" \
        --dpkgopt='path-exclude=/usr/include/*' \
        --dpkgopt='path-exclude=/usr/lib/gcc/*' \
        --dpkgopt='path-exclude=/usr/lib/*.a' \
        --dpkgopt='path-exclude=/usr/lib/*/lib?san.so*' \
        --dpkgopt='path-exclude=/usr/lib/*/libubsan.so*'
fi
if [ -n "$snapshot" ]; then
    set -- --aptopt='Acquire::Check-Valid-Until "false"' "$@"
fi

log "mmdebstrap $suite -> rootfs tarball (takes minutes)"
tarball=$work/rootfs.tar
if [ -n "$snapshot" ] && [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    # Reproducible file times: pin them to the snapshot date.
    d=$snapshot
    SOURCE_DATE_EPOCH=$(date -u -d "${d%%T*} $(echo "${d#*T}" | sed 's/^\(..\)\(..\)\(..\)Z$/\1:\2:\3/')" +%s)
    export SOURCE_DATE_EPOCH
fi
mmdebstrap "$@" "$suite" "$tarball" "$m1" "$m2" ${m3:+"$m3"} >&2 || die "mmdebstrap failed"
log "rootfs tarball $(du -h "$tarball" | cut -f1)"

log "docker import -> $tag"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/home/jovyan' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SHELL=/bin/bash' \
    --change 'ENV PYDEVD_DISABLE_FILE_VALIDATION=1' \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /home/jovyan/work' \
    --change 'EXPOSE 8888' \
    --change 'ENTRYPOINT ["/usr/bin/tini", "--"]' \
    --change 'CMD ["python3", "-m", "notebook", "--ip=0.0.0.0", "--port=8888", "--no-browser"]' \
    --change "LABEL org.opencontainers.image.created=$built" \
    --change "LABEL org.opencontainers.image.title=cassiny-notebook" \
    --change "LABEL org.opencontainers.image.base.name=debian:$suite" \
    --change "LABEL io.cassiny.image.suite=$suite" \
    --change "LABEL io.cassiny.image.snapshot=${snapshot:-none}" \
    --change "LABEL io.cassiny.image.recipe=$recipe" \
    --message "cassiny notebook image: mmdebstrap $suite, snapshot ${snapshot:-none}" \
    "$tarball" "$tag" >/dev/null || die "docker import failed"
rm -f "$tarball"
id=$(image_id) || die "image $tag missing after import"
if [ -n "$old_id" ] && [ "$old_id" != "$id" ] &&
   [ -z "$(docker image inspect --format '{{join .RepoTags ""}}' "$old_id" 2>/dev/null)" ]; then
    if docker image rm "$old_id" >/dev/null 2>&1; then log "removed the previous, now untagged $old_id"; fi
fi
log "built $tag $id in $(($(date +%s) - start))s, $(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')"

if [ $verify = 1 ]; then do_verify || die "verification failed"; fi
echo "$id"
