#!/bin/sh
# Builds cassiny/model-server:bookworm from Debian packages, without a container
# registry: mmdebstrap bookworm (python3, python3-sklearn) plus
# model-server/server.py into a tarball, then `docker import` it.
#
# Usage: build-model-server-image.sh [--tag TAG] [--mirror URL] [--security-mirror URL]
#                                    [--snapshot YYYYMMDDTHHMMSSZ] [--with-toolchain]
#                                    [--force] [--verify] [--dry-run]
#
# The flags mean what they mean for build-notebook-image.sh, which also resolves
# the apt sources for this script. --verify trains an iris classifier inside the
# image, serves it read-only with all capabilities dropped, and runs
# model-server/smoke_test.py against it.
#
# Run the image with the model mounted read-only:
#   docker run -d -p 8080:8080 -v DIR:/models:ro -e CASSINY_MODEL_NAME=iris \
#       -e CASSINY_MODEL_VERSION=1 cassiny/model-server:bookworm
#
# Progress goes to stderr; the image ID (sha256:...) is the last line on stdout.
set -eu

prog=build-model-server-image
here=$(cd "$(dirname "$0")" && pwd)
tag=cassiny/model-server:bookworm
suite=bookworm
snapshot=
source_args=
force=0
toolchain=0
verify=0
dry_run=0

. "$here/lib.sh"
log() { img_log "$@"; }
die() { img_die "$@"; }
usage() { sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
    if img_arg "$@"; then shift "$img_shift"; continue; fi
    case $1 in
    --with-toolchain) toolchain=1; shift ;;
    --verify) verify=1; shift ;;
    *) usage ;;
    esac
done

# ---------------------------------------------------------------------------
# Verification: train iris in the image, serve it hardened, run the smoke test
# ---------------------------------------------------------------------------
do_verify() {
    vdir=$(mktemp -d -t cassiny-model-verify.XXXXXX)
    chmod 0777 "$vdir"
    cname=cassiny-verify-model-$$
    # shellcheck disable=SC2064
    trap "docker rm -f '$cname' >/dev/null 2>&1 || true; rm -rf '$vdir'; ${cleanup_cmd:-:}" EXIT
    log "verify: training an iris classifier (sklearn.datasets.load_iris ships with scikit-learn)"
    docker run --rm --network none --user 1000:1000 -v "$vdir:/out" "$tag" python3 -c '
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
import joblib
X, y = load_iris(return_X_y=True)
m = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
joblib.dump(m, "/out/model.joblib")
print("trained, accuracy on training data %.2f" % m.score(X, y))' >&2 ||
        { log "verify: training failed"; return 1; }
    version=2025.05-$$
    t0=$(date +%s.%N)
    cid=$(docker run -d --name "$cname" -p 127.0.0.1::8080 \
        --read-only --cap-drop ALL --security-opt no-new-privileges --user 1000:1000 \
        -v "$vdir:/models:ro" -e CASSINY_MODEL_NAME=iris -e "CASSINY_MODEL_VERSION=$version" \
        "$tag") || { log "verify: docker run failed"; return 1; }
    port=$(docker port "$cid" 8080/tcp | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -n1)
    i=0 code=000
    while [ $i -lt 600 ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/v2/health/ready" || true)
        [ "$code" = 200 ] && break
        [ "$(docker inspect -f '{{.State.Running}}' "$cid")" = true ] || break
        sleep 0.1; i=$((i + 1))
    done
    t1=$(date +%s.%N)
    if [ "$code" != 200 ]; then
        log "verify: never ready (last $code); log:"; docker logs "$cid" 2>&1 | tail -n 20 >&2
        return 1
    fi
    log "verify: ready after $(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}')s (docker run to /v2/health/ready 200)"
    log "verify: $(curl -s "http://127.0.0.1:$port/v2/models/iris")"
    if ! docker exec -i "$cid" python3 - "http://127.0.0.1:8080" iris "$version" \
            < "$here/model-server/smoke_test.py" >&2; then
        log "verify: smoke test failed; log:"; docker logs "$cid" 2>&1 | tail -n 20 >&2
        return 1
    fi
    # A server whose model cannot be loaded must exit, not hang around unready.
    if docker run --rm --read-only --cap-drop ALL --user 1000:1000 \
        -e CASSINY_MODEL_PATH=/nonexistent.joblib "$tag" >/dev/null 2>&1; then rc=0; else rc=$?; fi
    if [ "$rc" = 3 ]; then log "verify: missing model -> exit 3 (ok)"
    else log "verify: missing model -> exit $rc (want 3)"; return 1; fi
    docker rm -f "$cid" >/dev/null
    rm -rf "$vdir"
    # shellcheck disable=SC2064
    trap "${cleanup_cmd:-:}" EXIT
    log "verify: ok"
}

# The recipe's own hash (this script, the server, the shared code): an
# image built from another recipe is rebuilt.
recipe=$(img_recipe "$0" "$here/model-server/server.py" "$here/lib.sh")
if [ $force = 0 ] && [ $dry_run = 0 ] && img_is_current "$recipe"; then
    log "$tag exists (use --force to rebuild)"
    if [ $verify = 1 ]; then do_verify || die "verification failed"; fi
    img_id
    exit 0
fi

img_sources
packages="python3 python3-sklearn python3-joblib python3-numpy ca-certificates tini passwd"
log "packages: $packages"
if [ $dry_run = 1 ]; then
    printf '%s\n' "$m1" ${m2:+"$m2"} ${m3:+"$m3"}
    exit 0
fi

[ -f "$here/model-server/server.py" ] || die "$here/model-server/server.py missing"
img_preflight
start=$(date +%s)
work=$(mktemp -d -t cassiny-model-image.XXXXXX)
cleanup_cmd="rm -rf '$work'"
# shellcheck disable=SC2064
trap "$cleanup_cmd" EXIT
trap 'exit 130' INT TERM

cp "$here/model-server/server.py" "$work/server.py"
img_info_extra='"toolchain_files": '"$([ $toolchain = 1 ] && echo true || echo false)"',
  "server": "/usr/lib/cassiny/model-server/server.py",
  "server_sha256": "'"$(sha256sum "$work/server.py" | cut -d' ' -f1)"'"'
set -- \
    --customize-hook='chroot "$1" groupadd --gid 1000 model' \
    --customize-hook='chroot "$1" useradd --uid 1000 --gid 1000 --create-home --home-dir /home/model --shell /usr/sbin/nologin model' \
    --customize-hook='mkdir -p "$1/models" "$1/usr/lib/cassiny/model-server"' \
    --customize-hook="copy-in $work/server.py /usr/lib/cassiny/model-server" \
    --customize-hook='chmod 0755 "$1/usr/lib/cassiny/model-server/server.py"'
if [ $toolchain = 0 ]; then
    # python3-sklearn -> python3-scipy -> python3-pythran pulls in g++ and -dev
    # packages; dpkg records them as installed but their files are skipped.
    set -- "$@" \
        --dpkgopt='path-exclude=/usr/include/*' \
        --dpkgopt='path-exclude=/usr/lib/gcc/*' \
        --dpkgopt='path-exclude=/usr/lib/*.a' \
        --dpkgopt='path-exclude=/usr/lib/*/lib?san.so*' \
        --dpkgopt='path-exclude=/usr/lib/*/libubsan.so*'
fi
img_mmdebstrap "$work/rootfs.tar" "$packages" "$@"

img_import "$work/rootfs.tar" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/home/model' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
    --change 'ENV PYTHONUNBUFFERED=1' \
    --change 'ENV CASSINY_MODEL_PATH=/models/model.joblib' \
    --change 'ENV CASSINY_MODEL_NAME=model' \
    --change 'ENV CASSINY_MODEL_VERSION=1' \
    --change 'ENV CASSINY_MODEL_PORT=8080' \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /home/model' \
    --change 'EXPOSE 8080' \
    --change 'ENTRYPOINT ["/usr/bin/tini", "--"]' \
    --change 'CMD ["python3", "/usr/lib/cassiny/model-server/server.py"]' \
    --change "LABEL org.opencontainers.image.title=cassiny-model-server"
log "in $(($(date +%s) - start))s"

if [ $verify = 1 ]; then do_verify || die "verification failed"; fi
echo "$id"
