#!/bin/bash
# Notebooks at a stable address through the gateway, with the real Jupyter
# of cassiny/notebook:bookworm and no host port published
# (publishNotebookPorts: false): http://GATEWAY/notebooks/NAME/ for a
# kernel started over REST, code run over the kernel WebSocket, files
# through the contents API; the token checked before Jupyter sees anything;
# the same URL after a docker restart and a new run; culled and woken; a
# WebSocket whose Jupyter is killed under it.
set -u
build=$1
src=$2
SUITE=nbgw
. "$src/tests/integration/lib.sh"
IMAGE=${CASS_NOTEBOOK_IMAGE:-cassiny/notebook:bookworm}
WORK=$(mktemp -d /tmp/cassiny-nbgw.XXXXXX)
NAME=gw-$$
CULL=gwc-$$
NBC="python3 $src/tests/integration/nbclient.py"
cleanup() {
    cleanup_daemon
    for n in "$NAME" "$CULL"; do
        docker rm -f $(docker ps -aq --filter "label=io.cassiny.name=$n") >/dev/null 2>&1
    done
    true
}
trap cleanup EXIT

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    not_ok "image $IMAGE is present (build it with packaging/images/build-notebook-image.sh)"
    summary
    exit 1
fi
write_config
GWPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The gateway on TLS, as a team has it: a throwaway CA that curl and the
# WebSocket client trust (CURL_CA_BUNDLE), a certificate for 127.0.0.1.
PKI=$WORK/pki
mkdir -p "$PKI"
if ! { newca ca && issue server ca $'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'; }; then
    not_ok "openssl makes the gateway's certificate: $(tail -3 "$PKI/openssl.log")"
    summary
    exit 1
fi
chmod 600 "$PKI"/*.key
export CURL_CA_BUNDLE=$PKI/ca.pem
sed -i "s|^gateway: {port: 0}|gateway: {port: $GWPORT, tls: {cert: $PKI/server.pem, key: $PKI/server.key}}|" "$WORK/config.yaml"
echo "publishNotebookPorts: false" >>"$WORK/config.yaml"
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon starts"; summary; exit 1; }
GW=https://127.0.0.1:$GWPORT
check "plain HTTP to the TLS gateway gets no notebook" \
    bash -c '[ "$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$1/notebooks/x/")" != 200 ]' _ "$GWPORT"

spec() { # spec NAME [extra spec lines]
    printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: %s}\nspec:\n  image: %s\n  resources: {cpus: 1, memory: 1Gi}\n%s' "$1" "$IMAGE" "${2:-}"
}
run_field() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1" | jq -r "$2"; }
spec_run() { curl -s --unix-socket "$SOCK" "http://localhost/v1/specs/$1" | jq -r .runId; }
# code URL [curl args]: the status the gateway answers
code() {
    local u=$1
    shift
    curl -s -o "$WORK/out" -w '%{http_code}' "$@" "$u"
}
# wait_code SECONDS WANT URL [curl args]: polls until URL answers WANT
wait_code() {
    local end=$(($(date +%s) + $1)) want=$2 got
    shift 2
    while :; do
        got=$(code "$@")
        [ "$got" = "$want" ] && return 0
        [ "$(date +%s)" -ge $end ] && { echo "last answer $got: $(head -c 200 "$WORK/out")" >&2; return 1; }
        sleep 0.5
    done
}
kernel_idle() { # kernel_idle BASE TOKEN KERNEL_ID
    for _ in $(seq 1 120); do
        [ "$(curl -s -H "Authorization: token $2" "$1/api/kernels/$3" | jq -r .execution_state)" = idle ] && return 0
        sleep 0.5
    done
    return 1
}
# a_kernel_computes BASE TOKEN WHAT: a kernel started over REST runs 6*7
# over its WebSocket; prints the kernel id
a_kernel_computes() {
    local base=$1 tok=$2 what=$3 kid out
    kid=$(curl -s -X POST -H "Authorization: token $tok" -H 'Content-Type: application/json' -d '{"name":"python3"}' "$base/api/kernels" | jq -r .id)
    check "$what: a kernel starts over REST" grep -qE '^[0-9a-f-]{36}$' <<<"$kid"
    kernel_idle "$base" "$tok" "$kid"
    out=$($NBC exec "wss://${base#https://}/api/kernels/$kid/channels?token=$tok" '6*7' 2>&1)
    check "$what: code runs over the kernel WebSocket (6*7 = $out)" test "$out" = 42
    KERNEL=$kid
}
# contents_roundtrip BASE TOKEN FILE TEXT WHAT
contents_roundtrip() {
    local c
    c=$(code "$1/api/contents/$3" -X PUT -H "Authorization: token $2" -H 'Content-Type: application/json' \
        -d "$(jq -n --arg t "$4" '{type: "file", format: "text", content: $t}')")
    check "$5: a file is saved through the contents API ($c)" test "$c" = 201 -o "$c" = 200
    c=$(code "$1/api/contents/$3?content=1" -H "Authorization: token $2")
    check "$5: and read back" test "$c" = 200 -a "$(jq -r .content "$WORK/out")" = "$4"
}

# --- a notebook at its stable address, no host port
RUN=$(launch "$(spec "$NAME")")
st=$(wait_run "$RUN" 120 ready)
check "the notebook becomes ready ($st)" test "$st" = ready
URL=$(run_field "$RUN" .url)
TOKEN=${URL#*token=}
BASE=$GW/notebooks/$NAME
CID=$(run_field "$RUN" '.containers[0]')
check "its URL is the gateway's: $URL" test "$URL" = "$BASE/?token=$TOKEN"
check "no port is published on the host (publishNotebookPorts: false)" test "$(docker port "$CID" | wc -l)" = 0 -a "$(run_field "$RUN" '.ports | length')" = 0
check "Jupyter was told its base URL" grep -q -- "--NotebookApp.base_url=/notebooks/$NAME/" <<<"$(docker inspect --format '{{json .Config.Cmd}}' "$CID")"

c=$(code "$BASE/api/status?token=$TOKEN")
check "?token= gets through (200)" test "$c" = 200 -a "$(jq -r 'has("last_activity")' "$WORK/out")" = true
check "Authorization: token T gets through" test "$(code "$BASE/api/status" -H "Authorization: token $TOKEN")" = 200
check "/notebooks/NAME (no slash) redirects to /notebooks/NAME/" test "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$GW/notebooks/$NAME")" = "301 $BASE/"
curl -s -D "$WORK/headers" -o /dev/null "$URL"
cookie=$(grep -i '^set-cookie: cassiny-nb=' "$WORK/headers" | tr -d '\r')
check "a token login sets the cookie: ${cookie:0:40}..." grep -q . <<<"$cookie"
check "the cookie is HttpOnly, SameSite=Strict, Secure (TLS), Path=/notebooks/NAME/" bash -c 'grep -q "HttpOnly" <<<"$1" && grep -q "SameSite=Strict" <<<"$1" && grep -q "Secure" <<<"$1" && grep -q "Path=/notebooks/$2/;" <<<"$1"' _ "$cookie" "$NAME"
check "the cookie does not hold the token" bash -c '! grep -q -- "$1" <<<"$2"' _ "$TOKEN" "$cookie"
CV=$(sed -E 's/^[^=]*=([^;]*);.*/\1/' <<<"$cookie")
check "the cookie alone gets through" test "$(code "$BASE/api/status" -H "Cookie: cassiny-nb=$CV")" = 200
check "a browser session (cookie jar, redirects) opens the tree" test "$(curl -s -c "$WORK/jar" -b "$WORK/jar" -L -o /dev/null -w '%{http_code}' "$URL")" = 200
check "and later pages with the cookie only" test "$(code "$BASE/tree" -b "$WORK/jar")" = 200

# --- refused before Jupyter sees anything
MARK=denied-$$
c=$(code "$BASE/api/contents/$MARK")
check "no token: 401" test "$c" = 401
check "as problem+json" test "$(jq -r .status "$WORK/out")" = 401
check "with WWW-Authenticate" grep -qi '^www-authenticate: bearer' <<<"$(curl -s -D - -o /dev/null "$BASE/api/status")"
c=$(code "$BASE/api/contents/$MARK" -H 'Accept: text/html,application/xhtml+xml')
check "a browser without a token gets a page saying how to log in (401)" test "$c" = 401 && grep -q 'cassinyctl open' "$WORK/out"
check "a wrong ?token=: 403" test "$(code "$BASE/api/contents/$MARK?token=wrong$TOKEN")" = 403
check "a wrong Authorization token: 403" test "$(code "$BASE/api/contents/$MARK" -H "Authorization: token ${TOKEN}x")" = 403
check "a wrong cookie: 403" test "$(code "$BASE/api/contents/$MARK" -H "Cookie: cassiny-nb=${CV}0")" = 403
check "a WebSocket without a token: 401" test "$(code "$BASE/api/kernels/x/channels" -H 'Upgrade: websocket' -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')" = 401
check "Authorization: Basic: 400" test "$(code "$BASE/api/contents/$MARK" -H 'Authorization: Basic dXNlcjpwYXNz')" = 400
check "Authorization: token (empty): 400" test "$(code "$BASE/api/contents/$MARK" -H 'Authorization: token')" = 400
check "Authorization: Bearer (empty): 400" test "$(code "$BASE/api/contents/$MARK" -H 'Authorization: Bearer ')" = 400
check "Authorization: token with spaces in it: 400" test "$(code "$BASE/api/contents/$MARK" -H "Authorization: token $TOKEN extra")" = 400
BIG=$(head -c 6000 /dev/zero | tr '\0' A)
check "a 6,000-character token: 400" test "$(code "$BASE/api/contents/$MARK" -H "Authorization: token $BIG")" = 400
check "a 6,000-character ?token=: 400" test "$(code "$BASE/api/contents/$MARK?token=$BIG")" = 400
HUGE=$(head -c 100000 /dev/zero | tr '\0' A)
# Read the way a browser reads it: the gateway answers 431 and closes
# while the rest of the header is still on its way, and curl over TLS
# stops at its send error before it reads the answer (seen in CI).
c=$($NBC status "$BASE/api/contents/$MARK" "Authorization: token $HUGE")
check "a 100,000-character Authorization header: a 4xx ($c)" grep -q '^4' <<<"$c"
# A control that can fail the check below: the same path with the token
# reaches Jupyter, which logs its 404.
check "the same path with the token reaches Jupyter (404 from Jupyter)" test "$(code "$BASE/api/contents/$MARK-control" -H "Authorization: token $TOKEN")" = 404
sleep 0.5
check "Jupyter logged the request that had the token" grep -q "$MARK-control" <<<"$(docker logs "$CID" 2>&1)"
check "and none of the refused ones" test "$(docker logs "$CID" 2>&1 | grep "$MARK" | grep -vc "$MARK-control")" = 0
check "the gateway still serves" test "$(code "$BASE/api/status?token=$TOKEN")" = 200

# --- a real client: kernel, WebSocket, contents
a_kernel_computes "$BASE" "$TOKEN" "through the gateway"
out=$($NBC exec "wss://127.0.0.1:$GWPORT/notebooks/$NAME/api/kernels/$KERNEL/channels" 'print("via cookie")' "Cookie: cassiny-nb=$CV" 2>&1)
check "the kernel WebSocket with the cookie only ($out)" test "$out" = "via cookie"
contents_roundtrip "$BASE" "$TOKEN" "hello-$$.txt" "hello through the gateway" "through the gateway"
head -c 3000000 /dev/urandom | base64 -w0 >"$WORK/big.b64"
jq -n --rawfile c "$WORK/big.b64" '{type: "file", format: "base64", content: $c}' >"$WORK/big.json"
c=$(code "$BASE/api/contents/big-$$.bin" -X PUT -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' --data-binary @"$WORK/big.json")
check "a 3 MB upload through the contents API ($c, $(stat -c %s "$WORK/big.json") bytes of JSON)" test "$c" = 201 -o "$c" = 200
c=$(code "$BASE/api/contents/big-$$.bin?content=0" -H "Authorization: token $TOKEN")
check "arrives whole (size 3000000)" test "$c" = 200 -a "$(jq -r .size "$WORK/out")" = 3000000
head -c $((70 << 20)) /dev/zero >"$WORK/huge.bin"
c=$(code "$BASE/api/contents/huge.json" -X PUT -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' --data-binary @"$WORK/huge.bin")
check "a 70 MiB body: 413 from the gateway ($c)" test "$c" = 413
rm -f "$WORK/huge.bin"

# --- the URL stays: docker restart, then a new run
docker restart "$CID" >/dev/null
check "after docker restart the notebook answers again at the same URL" wait_code 120 200 "$BASE/api/status?token=$TOKEN"
check "the run's URL did not change" test "$(run_field "$RUN" .url)" = "$URL"
check "its kernel list answers through the gateway" test "$(code "$BASE/api/kernels" -H "Authorization: token $TOKEN")" = 200
RUN2=$(launch "$(spec "$NAME" "  env: {CHANGED: \"yes\"}
")")
check "a changed spec starts a new run" test -n "$RUN2" -a "$RUN2" != "$RUN"
st=$(wait_run "$RUN2" 120 ready)
check "which becomes ready ($st)" test "$st" = ready
check "with the same URL (the token carried over)" test "$(run_field "$RUN2" .url)" = "$URL"
check "which answers" wait_code 30 200 "$BASE/api/status" -b "$WORK/jar"
CID=$(run_field "$RUN2" '.containers[0]')

# --- a WebSocket whose Jupyter is killed under it
a_kernel_computes "$BASE" "$TOKEN" "the new run"
out=$($NBC upstream-gone "wss://127.0.0.1:$GWPORT/notebooks/$NAME/api/kernels/$KERNEL/channels?token=$TOKEN" "$CID" 2>&1)
check "docker kill mid-WebSocket: the gateway closes it" grep -qx 'closed.*' <<<"$out"
check "a frame sent after that ends cleanly, no hang ($(tr '\n' ' ' <<<"$out"))" grep -qE '^after-close: (eof|BrokenPipeError|ConnectionResetError|SSLEOFError|SSLZeroReturnError|SSLError)$' <<<"$out"
check "the gateway keeps serving" test "$(code "$GW/metrics")" = 200
check "the daemon is alive" kill -0 "$DAEMON_PID"
check "and the notebook comes back (restart: always)" wait_code 120 200 "$BASE/api/status?token=$TOKEN"

# A WebSocket held open through what follows (over a minute): past the
# gateway's 60 s connection timeout, and open when the daemon stops.
a_kernel_computes "$BASE" "$TOKEN" "after the kill"
mkfifo "$WORK/hold.in"
$NBC hold "wss://127.0.0.1:$GWPORT/notebooks/$NAME/api/kernels/$KERNEL/channels?token=$TOKEN" <"$WORK/hold.in" >"$WORK/hold.out" 2>&1 &
HOLD_PID=$!
exec 7>"$WORK/hold.in"
HOLD_T0=$(date +%s)

# --- culled is not gone
CRUN=$(launch "$(spec "$CULL" "  idleTimeout: 3s
")")
st=$(wait_run "$CRUN" 120 ready)
check "a notebook with idleTimeout 3s becomes ready ($st)" test "$st" = ready
CURL_=$(run_field "$CRUN" .url)
CTOK=${CURL_#*token=}
CBASE=$GW/notebooks/$CULL
st=$(wait_run "$CRUN" 60 stopped)
check "it is culled when idle ($(run_field "$CRUN" .reason))" test "$st" = stopped
LA=$(run_field "$CRUN" .lastActivity)
check "its run recorded Jupyter's last activity ($LA), the culler's clock" \
    bash -c '[ "$(date -d "$1" +%s 2>/dev/null)" -le "$(date -d "$2" +%s)" ]' _ "$LA" "$(run_field "$CRUN" .finishedAt)"
check "no token: 401, and it is not woken" test "$(code "$CBASE/api/status")" = 401 -a "$(spec_run "$CULL")" = "$CRUN"
check "a wrong token: 403, and it is not woken" test "$(code "$CBASE/api/status?token=x$CTOK")" = 403 -a "$(spec_run "$CULL")" = "$CRUN"
curl -s -D "$WORK/h" -o "$WORK/out" -w '%{http_code}' -H "Authorization: token $CTOK" "$CBASE/api/status" >"$WORK/c"
check "its owner's next request: 503 (starting)" test "$(cat "$WORK/c")" = 503
check "with Retry-After" grep -qi '^retry-after: [0-9]' "$WORK/h"
check "as problem+json saying it starts" test "$(jq -r .detail "$WORK/out" | grep -c starting)" = 1
CRUN2=$(spec_run "$CULL")
check "a new run of the same revision was started ($CRUN2)" test "$CRUN2" != "$CRUN" -a "$(run_field "$CRUN2" .revision)" = "$(run_field "$CRUN" .revision)"
c=$(code "$CBASE/tree?token=$CTOK" -H 'Accept: text/html')
check "a browser meanwhile gets a page that reloads itself ($c)" bash -c 'test "$1" = 503 -a "$(grep -c "http-equiv=\"refresh\"" "$2")" = 1 || test "$1" = 200' _ "$c" "$WORK/out"
check "the notebook comes back" wait_code 120 200 "$CBASE/api/status?token=$CTOK"
check "only one new run was started" test "$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs?name=$CULL" | jq '.runs | length')" = 2
check "at the same URL" test "$(run_field "$CRUN2" .url)" = "$CURL_"
a_kernel_computes "$CBASE" "$CTOK" "after waking"
contents_roundtrip "$CBASE" "$CTOK" "woken-$$.txt" "after waking" "after waking"

# --- API tokens (daemon/auth.c): the owner's gets through, another user's
# gets 403 before Jupyter sees it. The notebook here is the unix socket's
# (owner "local", which has no tokens); an admin's is refused like any
# other user's (test_teams checks a real owner's token gets through).
token_for() { # token_for USER SCOPE: prints a new token's secret
    curl -s --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' \
        -d "{\"user\": \"$1\", \"scope\": \"$2\"}" http://localhost/v1/tokens | jq -r .secret
}
OTHER=$(token_for mallory read)
check "another user's token is made" grep -q . <<<"$OTHER"
check "the notebook's owner is local" test "$(run_field "$(spec_run "$NAME")" .owner)" = local
check "another user's API token: 403" test "$(code "$BASE/api/contents/$MARK-other" -H "Authorization: Bearer $OTHER")" = 403
check "and on the other notebook" test "$(code "$CBASE/api/status" -H "Authorization: Bearer $OTHER")" = 403
sleep 0.5
check "and Jupyter did not see it" test "$(docker logs "$(run_field "$(spec_run "$NAME")" '.containers[0]')" 2>&1 | grep -c "$MARK-other")" = 0
check "an unknown API token: 401" test "$(code "$BASE/api/status" -H "Authorization: Bearer not-a-token-$$")" = 401
ADMIN=$(token_for root admin)
check "an admin's API token: 403, a notebook is its owner's only" test "$(code "$BASE/api/status" -H "Authorization: Bearer $ADMIN")" = 403
TID=$(curl -s --unix-socket "$SOCK" http://localhost/v1/tokens | jq -r '.tokens[] | select(.user == "root") | .id' | head -1)
curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null "http://localhost/v1/tokens/$TID"
check "a revoked API token: 401" test "$(code "$BASE/api/status" -H "Authorization: Bearer $ADMIN")" = 401
check "the refusal is audited with the token's id" grep -q "$TID" <<<"$(curl -s --unix-socket "$SOCK" http://localhost/v1/audit)"

# --- the held WebSocket: still working, then closed by the daemon's stop
echo 'print("still here")' >&7
for _ in $(seq 1 60); do grep -q 'still here' "$WORK/hold.out" && break; sleep 0.5; done
check "a WebSocket open for $(($(date +%s) - HOLD_T0)) s still carries code ($(tr '\n' ' ' <"$WORK/hold.out"))" grep -q '^still here' "$WORK/hold.out"
exec 7>&-
t0=$(date +%s%N)
stop_daemon
check "the daemon stops with a notebook WebSocket open, exit 0 in $((($(date +%s%N) - t0) / 1000000)) ms (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0
wait "$HOLD_PID"
check "and the client sees it closed" grep -qx closed "$WORK/hold.out"

summary
