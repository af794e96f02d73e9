#!/bin/sh
# Builds cassiny/test-busybox:latest, a tiny image for tests, from Debian's
# busybox-static in a second or two. No registry needed. Prints the image ID.
# Usage: build-test-image.sh [TAG]
set -eu
tag=${1:-cassiny/test-busybox:latest}
if id=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null); then
    echo "$id"
    exit 0
fi
bb=/bin/busybox
[ -x "$bb" ] || { echo "build-test-image: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
file_out=$(LC_ALL=C ldd "$bb" 2>&1 || true)
case $file_out in
*"not a dynamic"*|*"statically linked"*) ;;
*) echo "build-test-image: $bb is not static (apt-get install busybox-static)" >&2; exit 1 ;;
esac
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/home/user" "$root/work"
cp "$bb" "$root/bin/busybox"
for app in $("$bb" --list); do
    [ "$app" = busybox ] || ln -s busybox "$root/bin/$app"
done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
chown 1000:1000 "$root/home/user" "$root/work"
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/bin' \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /work' \
    --change 'CMD ["/bin/sh"]' \
    --message "cassiny test image from busybox-static $(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || echo unknown)" \
    - "$tag" >/dev/null
docker image inspect --format '{{.Id}}' "$tag"
