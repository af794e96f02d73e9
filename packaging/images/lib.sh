# Shared by the bookworm image recipes (sourced, POSIX sh). The caller sets
# prog, tag, suite, snapshot, source_args (--mirror=..., --security-mirror=...,
# --snapshot=... words without spaces), force, dry_run, here (this directory)
# and a usage function.
#
#   img_arg ARGS...                 one of the common flags (see below)
#   img_log / img_die MESSAGE      progress and fatal errors on stderr
#   img_id                          the ID of $tag, or nothing (exit 1)
#   img_recipe FILE...              sha256 prefix of the recipe's files
#   img_is_current RECIPE           $tag exists and was built from RECIPE
#   img_sources                     sets m1 m2 m3, the apt source lines, as the
#                                   notebook recipe resolves them
#   img_preflight                   root, engine, mmdebstrap (installed if missing)
#   img_mmdebstrap TARBALL PACKAGES [mmdebstrap options...]
#                                   a bookworm root with PACKAGES, docs and locales
#                                   left out, packages.txt and image-info.json
#                                   ($img_info_extra: more JSON members) recorded
#   img_import TARBALL [docker import options...]
#                                   imports it as $tag with the suite, snapshot and
#                                   recipe ($recipe) labels; the previous image, if
#                                   untagged now, is removed

# img_arg ARGS...: takes the flags every recipe has (--tag, --mirror,
# --security-mirror, --snapshot, --force, --dry-run) off the front of ARGS;
# sets img_shift to the words used, returns 1 for another flag.
img_arg() {
    img_shift=1
    case $1 in
    --tag|--mirror|--security-mirror|--snapshot)
        [ $# -ge 2 ] || usage
        case $2 in *[[:space:]]*|'') img_die "$1: bad value '$2'" ;; esac
        img_shift=2
        set -- "$1=$2" ;;
    esac
    case $1 in
    --tag=*) tag=${1#*=} ;;
    --mirror=*|--security-mirror=*|--snapshot=*)
        case ${1#*=} in *[[:space:]]*|'') img_die "${1%%=*}: bad value '${1#*=}'" ;; esac
        source_args="$source_args $1"
        case $1 in --snapshot=*) snapshot=${1#*=} ;; esac ;;
    --force) force=1 ;;
    --dry-run) dry_run=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) return 1 ;;
    esac
}

img_log() { printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "$prog" "$*" >&2; }
img_die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
img_id() { docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null; }

img_recipe() { cat "$@" | sha256sum | cut -c1-16; }

img_is_current() {
    img_id >/dev/null &&
        [ "$(docker image inspect --format '{{index .Config.Labels "io.cassiny.image.recipe"}}' "$tag" 2>/dev/null)" = "$1" ]
}

img_sources() {
    _errs=$(mktemp)
    set -f
    # shellcheck disable=SC2086 # source_args: words without spaces
    if ! _lines=$("$here/build-notebook-image.sh" --dry-run $source_args 2>"$_errs"); then
        grep -v ': packages:' "$_errs" >&2
        rm -f "$_errs"
        img_die "cannot resolve the apt sources"
    fi
    set +f
    rm -f "$_errs"
    img_log "suite $suite, snapshot ${snapshot:-none}, apt sources:"
    printf '%s\n' "$_lines" | while IFS= read -r l; do img_log "  $l"; done
    m1=$(printf '%s\n' "$_lines" | sed -n 1p)
    m2=$(printf '%s\n' "$_lines" | sed -n 2p)
    m3=$(printf '%s\n' "$_lines" | sed -n 3p)
    [ -n "$m1" ] || img_die "no apt source lines"
}

img_preflight() {
    [ "$(id -u)" = 0 ] || img_die "must run as root (mmdebstrap --mode=root, docker import)"
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || img_die "cannot talk to the Docker Engine"
    if ! command -v mmdebstrap >/dev/null; then
        img_log "installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y mmdebstrap >&2
    fi
    built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    if [ -n "${snapshot:-}" ] && [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
        _d=$snapshot
        SOURCE_DATE_EPOCH=$(date -u -d "${_d%%T*} $(echo "${_d#*T}" | sed 's/^\(..\)\(..\)\(..\)Z$/\1:\2:\3/')" +%s)
        export SOURCE_DATE_EPOCH
    fi
    if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
        built=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
    fi
    old_id=$(img_id) || old_id=
}

img_mmdebstrap() {
    _tarball=$1 _packages=$2
    shift 2
    _arch=$(dpkg --print-architecture)
    _info=$(dirname "$_tarball")/image-info.json
    cat >"$_info" <<EOF
{
  "image": "$tag",
  "distribution": "debian",
  "suite": "$suite",
  "architecture": "$_arch",
  "snapshot": "${snapshot:-none}",
  "built": "$built",
  "builder": "packaging/images/$prog.sh",
  "recipe": "$recipe",
  "mmdebstrap": "$(mmdebstrap --version | awk '{print $2}')",
  "variant": "apt",
  "packages_requested": "$_packages",
  "packages_file": "/usr/share/cassiny/packages.txt"${img_info_extra:+,
  $img_info_extra}
}
EOF
    [ -z "${snapshot:-}" ] || set -- --aptopt='Acquire::Check-Valid-Until "false"' "$@"
    img_log "mmdebstrap $suite -> rootfs tarball (takes minutes)"
    mmdebstrap --variant=apt --mode=root --format=tar --architectures="$_arch" \
        --components=main \
        --include="$(printf '%s' "$_packages" | tr ' ' ',')" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/lintian/*' \
        "$@" \
        --customize-hook='mkdir -p "$1/usr/share/cassiny"' \
        --customize-hook="copy-in $_info /usr/share/cassiny" \
        --customize-hook='dpkg-query --admindir="$1/var/lib/dpkg" -W | LC_ALL=C sort > "$1/usr/share/cassiny/packages.txt"' \
        --customize-hook='rm -rf "$1/var/cache/apt"/*.bin "$1/var/cache/debconf"/*-old "$1/var/lib/dpkg"/*-old "$1/var/log"/*.log "$1/var/log/apt"/*' \
        "$suite" "$_tarball" "$m1" ${m2:+"$m2"} ${m3:+"$m3"} >&2 || img_die "mmdebstrap failed"
    img_log "rootfs tarball $(du -h "$_tarball" | cut -f1)"
}

img_import() {
    _tarball=$1
    shift
    img_log "docker import -> $tag"
    docker import "$@" \
        --change "LABEL org.opencontainers.image.created=$built" \
        --change "LABEL org.opencontainers.image.base.name=debian:$suite" \
        --change "LABEL io.cassiny.image.suite=$suite" \
        --change "LABEL io.cassiny.image.snapshot=${snapshot:-none}" \
        --change "LABEL io.cassiny.image.recipe=$recipe" \
        --message "$prog: mmdebstrap $suite, snapshot ${snapshot:-none}" \
        "$_tarball" "$tag" >/dev/null || img_die "docker import failed"
    rm -f "$_tarball"
    id=$(img_id) || img_die "image $tag missing after import"
    if [ -n "$old_id" ] && [ "$old_id" != "$id" ] &&
        [ -z "$(docker image inspect --format '{{join .RepoTags ""}}' "$old_id" 2>/dev/null)" ]; then
        if docker image rm "$old_id" >/dev/null 2>&1; then img_log "removed the previous, now untagged $old_id"; fi
    fi
    img_log "built $tag $id, $(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')"
}
