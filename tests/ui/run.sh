#!/bin/bash
# The dashboard end to end in a real browser: Debian's Chromium, headless,
# driven by playwright-core (e2e.mjs), against a real cassinyd with a TCP
# listener, the real engine and the real images (cassiny/notebook:bookworm,
# cassiny/model-server:bookworm). Screenshots of every page go to
# BUILD/test/ui-screenshots/.
# Usage: run.sh BUILD SRC
set -u
build=$1
src=$2
SUITE=ui-browser
. "$src/tests/integration/lib.sh"
CHROMIUM=${CASS_CHROMIUM:-/usr/bin/chromium}
NB_IMAGE=cassiny/notebook:bookworm
MODEL_IMAGE=cassiny/model-server:bookworm
WORK=$(mktemp -d /tmp/cassiny-ui.XXXXXX)
SHOTS="$build/test/ui-screenshots"
TAG=ui$$
cleanup() {
    stop_daemon
    local inst
    inst=$(cat "$WORK/state/instance" 2>/dev/null)
    [ -n "$inst" ] && docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$inst") >/dev/null 2>&1
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.test=$TAG") >/dev/null 2>&1
    docker volume rm -f "$TAG-ws" >/dev/null 2>&1
    if [ "$failed" -gt 0 ] && [ -f "$WORK/cassinyd.log" ]; then
        cp "$WORK/cassinyd.log" "$SHOTS/cassinyd.log" 2>/dev/null
        echo "--- cassinyd log (last 40 lines; all of it in $SHOTS/cassinyd.log)"
        tail -n 40 "$WORK/cassinyd.log"
    fi
    rm -rf "$WORK"
    true
}
trap cleanup EXIT
mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png "$SHOTS"/cassinyd.log

for need in "$CHROMIUM" node npm; do
    command -v "$need" >/dev/null || { not_ok "$need is installed (apt-get install chromium nodejs npm)"; summary; exit 1; }
done
for img in "$NB_IMAGE" "$MODEL_IMAGE"; do
    docker image inspect "$img" >/dev/null 2>&1 ||
        { not_ok "image $img is present (packaging/images/)"; summary; exit 1; }
done
# playwright-core from the lockfile, into the build tree (no browser download: it drives Debian's).
E2E="$build/tests/ui"
mkdir -p "$E2E"
cp "$src/tests/ui/package.json" "$src/tests/ui/package-lock.json" "$src/tests/ui/e2e.mjs" "$E2E/"
if ! cmp -s "$E2E/package-lock.json" "$E2E/node_modules/.package-lock.json.copy" 2>/dev/null; then
    (cd "$E2E" && npm ci --no-audit --no-fund --prefer-offline) >"$E2E/npm.log" 2>&1 ||
        { tail -n 20 "$E2E/npm.log"; not_ok "npm ci of tests/ui"; summary; exit 1; }
    cp "$E2E/package-lock.json" "$E2E/node_modules/.package-lock.json.copy"
fi

write_config
printf 'listen: {address: 127.0.0.1, port: 0}\n' >>"$WORK/config.yaml"
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "the daemon starts"; summary; exit 1; }
TCP=$(sed -n 's|.*API also on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/cassinyd.log" | head -n 1)
check "the daemon listens on TCP (port ${TCP:-none})" test -n "$TCP"
[ -n "$TCP" ] || { summary; exit 1; }

token() { # token USER SCOPE: a new token's secret, made by the local admin on the unix socket
    curl -s --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' \
        -d "{\"user\": \"$1\", \"scope\": \"$2\"}" http://localhost/v1/tokens | jq -r .secret
}
ADMIN=$(token root admin)
ALICE=$(token alice write)
BOB=$(token bob write)
check "tokens for an admin and two users" test -n "$ADMIN" -a -n "$ALICE" -a -n "$BOB" -a "$ALICE" != null

# The example notebook, its mounts under the policy's root, its workspace this suite's own.
mkdir -p "$WORK/data/churn" "$WORK/data/scratch"
chmod a+rwx "$WORK/data/scratch"
sed -e "s|name: churn-analysis|name: churn-$TAG|" -e "s|/srv/data/churn|$WORK/data/churn|" \
    -e "s|/srv/scratch/churn|$WORK/data/scratch|" -e "s|workspace: churn-ws|workspace: $TAG-ws|" \
    "$src/examples/notebook.yaml" >"$WORK/notebook.yaml"

# Two model artifacts, trained in the serving image as examples/iris says.
M="$WORK/data/models"
mkdir -p "$M/v1" "$M/v2"
chmod -R a+rwx "$M"
for v in "v1 logreg" "v2 forest"; do
    set -- $v
    docker run --rm -u 1000 --network none --label "io.cassiny.test=$TAG" -v "$M:/out" \
        -v "$src/examples/iris:/src:ro" "$MODEL_IMAGE" python3 /src/train.py --out "/out/$1" --model "$2" >/dev/null
done
check "the model artifacts v1 and v2 are trained" test -s "$M/v1/model.joblib" -a -s "$M/v2/model.joblib"

CASS_UI_BASE="http://127.0.0.1:$TCP" CASS_UI_SHOTS="$SHOTS" CASS_UI_CHROMIUM="$CHROMIUM" \
    CASS_UI_ADMIN="$ADMIN" CASS_UI_ALICE="$ALICE" CASS_UI_BOB="$BOB" CASS_UI_TAG="$TAG" \
    CASS_UI_NOTEBOOK="$WORK/notebook.yaml" CASS_UI_MODELS="$M" \
    node "$E2E/e2e.mjs" >"$WORK/e2e.out" 2>&1
rc=$?
cat "$WORK/e2e.out"
passed=$((passed + $(grep -c '^ok - ' "$WORK/e2e.out")))
failed=$((failed + $(grep -c '^not ok - ' "$WORK/e2e.out")))
check "the browser suite ran to its end (exit $rc)" grep -q '^# e2e done' "$WORK/e2e.out"
shots=$(ls "$SHOTS"/*.png 2>/dev/null | wc -l)
check "screenshots of the pages in $SHOTS ($shots)" test "$shots" -ge 10
summary
