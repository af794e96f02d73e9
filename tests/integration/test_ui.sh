#!/bin/bash
# The web dashboard from outside, with curl: the embedded bundle served at
# /ui/ (every file of ui/dist, byte for byte, with its type, the CSP and the
# other headers, index.html for the app's routes), the session (login,
# whoami, logout, the cookies' flags, Secure over TLS), the session cookie
# authenticating /v1 and /v1/events, the CSRF check refusing changes
# without X-CSRF-Token or from another Origin, others' names 404 for a
# user's cookie, failed logins in the audit log; then a release tarball
# built with node and npm shadowed by stubs that fail, whose daemon serves
# the same bundle. Busybox job stand-ins.
# Usage: test_ui.sh BUILDDIR SRCDIR
set -u
SUITE=ui
build=$1
src=$2
. "$src/tests/integration/lib.sh"

BUSYBOX=${CASS_TEST_IMAGE:-cassiny/test-busybox:latest}
ROOT=$(mktemp -d /tmp/cassiny-ui.XXXXXX)
WORK="$ROOT/plain"
mkdir -p "$WORK"
cleanup() {
    stop_daemon
    remove_instances_under "$ROOT"
    if [ "$failed" -gt 0 ] && [ -f "$WORK/cassinyd.log" ]; then
        echo "--- cassinyd log"
        tail -n 40 "$WORK/cassinyd.log"
    fi
    rm -rf "$ROOT"
    true
}
trap cleanup EXIT

# The bundle the build embedded: the build tree's when it built one.
dist="$build/ui/dist"
[ -f "$dist/index.html" ] || dist="$src/ui/dist"
check "the build has a ui/dist with index.html ($dist)" test -f "$dist/index.html"

write_config
printf 'listen: {address: 127.0.0.1, port: 0}\n' >>"$WORK/config.yaml"
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "the daemon starts"; summary; exit 1; }
TCP=$(sed -n 's|.*API also on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/cassinyd.log" | head -n 1)
check "the daemon listens on TCP too (port ${TCP:-none})" test -n "$TCP"
BASE="http://127.0.0.1:$TCP"
JAR="$WORK/jar"
CSP="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

# get URL [curl args]: status in the output, headers in $WORK/h, body in $WORK/body
get() {
    local url=$1
    shift
    rm -f "$WORK/body"
    curl -s -D "$WORK/h" -o "$WORK/body" -w '%{http_code}' --max-time 20 "$@" "$url"
}
# hdr NAME: the value of a response header of the last get (the first one)
hdr() { grep -i "^$1:" "$WORK/h" | head -n 1 | sed -e 's/^[^:]*: *//' -e 's/\r$//'; }

# --- the files
code=$(get "$BASE/ui/")
check "GET /ui/ on TCP needs no login: 200 ($code)" test "$code" = 200
check "it is the embedded index.html, byte for byte" cmp -s "$WORK/body" "$dist/index.html"
check "Content-Type text/html ($(hdr Content-Type))" test "$(hdr Content-Type)" = "text/html; charset=utf-8"
check "Content-Security-Policy is the strict one" test "$(hdr Content-Security-Policy)" = "$CSP"
check "X-Content-Type-Options: nosniff" test "$(hdr X-Content-Type-Options)" = nosniff
check "Referrer-Policy: no-referrer" test "$(hdr Referrer-Policy)" = no-referrer
check "index.html is revalidated: Cache-Control no-cache ($(hdr Cache-Control))" test "$(hdr Cache-Control)" = no-cache
etag=$(hdr ETag)
code=$(get "$BASE/ui/" -H "If-None-Match: $etag")
check "If-None-Match with its ETag ($etag) answers 304 ($code) without a body" \
    bash -c '[ "$1" = 304 ] && [ ! -s "$2" ]' _ "$code" "$WORK/body"
check "the index names no third-party host" bash -c '! grep -Eo "(src|href)=\"[^\"]*\"" "$1" | grep -Eq "//"' _ "$dist/index.html"
check "the index has no inline script or style" \
    bash -c '! grep -Eiq "<script>|<script [^>]*>[^<]|<style|style=" "$1"' _ "$dist/index.html"

nfiles=0
bytes=0
while IFS= read -r f; do
    nfiles=$((nfiles + 1))
    bytes=$((bytes + $(stat -c %s "$dist/$f")))
    code=$(get "$BASE/ui/$f")
    ct=$(hdr Content-Type)
    cc=$(hdr Cache-Control)
    case $f in
    *.js) want_ct="text/javascript; charset=utf-8" ;;
    *.css) want_ct="text/css; charset=utf-8" ;;
    *.html) want_ct="text/html; charset=utf-8" ;;
    *) want_ct=$ct ;;
    esac
    case ${f##*/} in
    *-[A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9][A-Z0-9]*.*) want_cc="public, max-age=31536000, immutable" ;;
    *) want_cc=no-cache ;;
    esac
    if [ "$code" = 200 ] && cmp -s "$WORK/body" "$dist/$f" && [ "$ct" = "$want_ct" ] &&
        [ "$cc" = "$want_cc" ] && [ "$(hdr Content-Security-Policy)" = "$CSP" ]; then
        ok "/ui/$f: 200, the same bytes, $ct, $cc"
    else
        not_ok "/ui/$f: $code, $ct, $cc (want $want_ct, $want_cc)"
    fi
done < <(cd "$dist" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
echo "# the embedded bundle: $nfiles files, $bytes bytes"
check "the binary carries the bundle: its index.html is in cassinyd" \
    grep -qF "$(grep -o 'app-[A-Z0-9]*\.js' "$dist/index.html" | head -n 1)" "$build/daemon/cassinyd"

code=$(get "$BASE/ui")
check "GET /ui redirects to /ui/ ($code, Location $(hdr Location))" test "$code" = 301 -a "$(hdr Location)" = /ui/
code=$(get "$BASE/ui/runs/r-01ABCDEF")
check "an app route /ui/runs/ID answers index.html ($code)" cmp -s "$WORK/body" "$dist/index.html"
code=$(get "$BASE/ui/assets/nosuch-ABCDEFGH.js")
check "a missing file answers 404 problem+json ($code, $(hdr Content-Type))" \
    test "$code" = 404 -a "$(hdr Content-Type)" = application/problem+json
code=$(get "$BASE/ui/" -X POST)
check "POST /ui/ answers 405 with Allow: GET, HEAD ($code, $(hdr Allow))" test "$code" = 405 -a "$(hdr Allow)" = "GET, HEAD"
code=$(get "$BASE/ui/api/nosuch")
check "an unknown /ui/api route is the router's 404 ($code $(jq -r .type "$WORK/body"))" \
    test "$code" = 404 -a "$(jq -r .type "$WORK/body")" = urn:cassiny:problem:no-such-route
code=$(curl -s --unix-socket "$SOCK" -o "$WORK/body" -w '%{http_code}' http://localhost/ui/)
check "on the unix socket too ($code)" cmp -s "$WORK/body" "$dist/index.html"

# --- the session
code=$(curl -s --unix-socket "$SOCK" -o "$WORK/body" -w '%{http_code}' http://localhost/ui/api/whoami)
check "whoami on the unix socket: the local admin, no login ($(jq -c . "$WORK/body"))" \
    jq -e '.user == "local" and .scope == "admin" and .local == true and (has("tokenId") | not)' "$WORK/body" >/dev/null
code=$(get "$BASE/ui/api/whoami")
check "whoami on TCP without a session: 401 ($code)" test "$code" = 401
token() { # token USER SCOPE: made on the unix socket; sets TOK and TID
    curl -s --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' \
        -d "{\"user\":\"$1\",\"scope\":\"$2\"}" -o "$WORK/tok.json" http://localhost/v1/tokens
    TOK=$(jq -r .secret "$WORK/tok.json")
    TID=$(jq -r .id "$WORK/tok.json")
}
token alice write; ALICE=$TOK ALICE_ID=$TID
token bob write; BOB=$TOK
login() { # login TOKEN [curl args]: into $JAR
    local t=$1
    shift
    get "$BASE/ui/api/login" -c "$JAR" -X POST -H 'Content-Type: application/json' \
        --data-binary "{\"token\":\"$t\"}" "$@"
}
code=$(login "not-a-token-$$")
check "a login with an unknown token: 401 problem+json ($code), no cookie" \
    test "$code" = 401 -a "$(hdr Content-Type)" = application/problem+json -a -z "$(hdr Set-Cookie)"
check "the failed login is in the audit log as a refusal" bash -c \
    'curl -s --unix-socket "$1" "http://localhost/v1/audit?limit=1000" | jq -e "[.entries[] | select(.action == \"refused\" and .target == \"POST /ui/api/login\" and .status == 401)] | length > 0" >/dev/null' _ "$SOCK"
code=$(get "$BASE/ui/api/login" -X POST -H 'Content-Type: text/plain' --data-binary "{\"token\":\"$ALICE\"}")
check "a login that is not application/json (a form's): 415 ($code)" test "$code" = 415
code=$(login "$ALICE" -H 'Origin: http://evil.example')
check "a login from another site's page (Origin): 403 csrf ($code)" \
    test "$code" = 403 -a "$(jq -r .type "$WORK/body")" = urn:cassiny:problem:csrf
rm -f "$JAR"
code=$(login "$ALICE")
check "alice logs in: 204 ($code)" test "$code" = 204
sess=$(grep -i '^Set-Cookie: cassiny-session=' "$WORK/h" | tr -d '\r')
csrfc=$(grep -i '^Set-Cookie: cassiny-csrf=' "$WORK/h" | tr -d '\r')
check "the session cookie holds the token: HttpOnly, SameSite=Strict, Path=/, not Secure on plain HTTP ($sess)" \
    test "$sess" = "Set-Cookie: cassiny-session=$ALICE; Path=/; HttpOnly; SameSite=Strict"
check "the CSRF cookie is for the page to read: not HttpOnly ($csrfc)" \
    bash -c '[[ $1 =~ ^Set-Cookie:\ cassiny-csrf=[0-9a-f]{64}\;\ Path=/\;\ SameSite=Strict$ ]]' _ "$csrfc"
CSRF=$(awk '$6 == "cassiny-csrf" { print $7 }' "$JAR")
check "the login is audited as alice" bash -c \
    'curl -s --unix-socket "$1" "http://localhost/v1/audit?limit=1000" | jq -e "[.entries[] | select(.target == \"/ui/api/login\" and .user == \"alice\" and .status == 204)] | length == 1" >/dev/null' _ "$SOCK"
code=$(get "$BASE/ui/api/whoami" -b "$JAR")
check "whoami with the cookie: alice, write, her token ($(jq -c . "$WORK/body"))" jq -e --arg t "$ALICE_ID" \
    '.user == "alice" and .scope == "write" and .tokenId == $t and .local == false' "$WORK/body" >/dev/null

# --- the cookie on /v1
code=$(get "$BASE/v1/specs" -b "$JAR")
check "GET /v1/specs with the cookie: 200 ($code)" test "$code" = 200
curl -s -N -D "$WORK/h" -o "$WORK/body" --max-time 2 -b "$JAR" "$BASE/v1/events" >/dev/null
check "GET /v1/events (an EventSource) with the cookie: 200 text/event-stream ($(hdr Content-Type))" \
    bash -c 'head -n 1 "$1" | grep -q " 200" && [ "$2" = text/event-stream ]' _ "$WORK/h" "$(hdr Content-Type)"
job() { printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [sh, -c, "echo %s"]\n  resources: {cpus: 250m, memory: 32Mi}\n' "$1" "$BUSYBOX" "$1"; }
apply() { # apply COOKIE_ARGS... -- YAML: prints the status
    get "$BASE/v1/specs" -X POST -H 'Content-Type: application/yaml' "$@"
}
A=ui-a-$$
code=$(apply -b "$JAR" --data-binary "$(job "$A")")
check "a change with the cookie and no X-CSRF-Token: 403 csrf ($code, $(jq -r .type "$WORK/body"))" \
    test "$code" = 403 -a "$(jq -r .type "$WORK/body")" = urn:cassiny:problem:csrf
check "  and nothing was applied" bash -c '[ "$(curl -s --unix-socket "$1" -o /dev/null -w "%{http_code}" http://localhost/v1/specs/$2)" = 404 ]' _ "$SOCK" "$A"
# The value with its last digit changed (a 0 is made a 1: one in 16 ends in 0).
[ "${CSRF: -1}" = 0 ] && OTHER_CSRF=${CSRF%?}1 || OTHER_CSRF=${CSRF%?}0
code=$(apply -b "$JAR" -H "X-CSRF-Token: $OTHER_CSRF" --data-binary "$(job "$A")")
check "with another X-CSRF-Token: 403 ($code)" test "$code" = 403
code=$(apply -b "cassiny-session=$ALICE" -H "X-CSRF-Token: $CSRF" --data-binary "$(job "$A")")
check "with the header but without the CSRF cookie: 403 ($code)" test "$code" = 403
code=$(apply -b "$JAR" -H "X-CSRF-Token: $CSRF" -H 'Origin: http://evil.example' --data-binary "$(job "$A")")
check "with the right header from another Origin: 403 ($code)" test "$code" = 403
code=$(apply -b "$JAR" -H "X-CSRF-Token: $CSRF" -H "Origin: $BASE" --data-binary "$(job "$A")")
check "with the right header (and its own Origin): 202 ($code)" test "$code" = 202
run=$(jq -r '.specs[0].run.id' "$WORK/body")
check "  the spec is alice's" bash -c '[ "$(curl -s --unix-socket "$1" http://localhost/v1/specs/$2 | jq -r .owner)" = alice ]' _ "$SOCK" "$A"
st=$(wait_run "$run" 60 succeeded)
check "  its run ends ($st)" test "$st" = succeeded
code=$(get "$BASE/v1/specs?dryRun=true" -X POST -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/yaml' --data-binary "$(job "$A")")
check "Authorization: Bearer needs no CSRF value ($code)" test "$code" = 200
code=$(curl -s --unix-socket "$SOCK" -o "$WORK/body" -w '%{http_code}' -X POST -H 'Origin: http://evil.example' \
    "http://localhost/v1/runs/$run/stop")
check "on the unix socket a change from another site's page (Origin) is refused too: 403 ($code)" test "$code" = 403

# --- others' names
B=ui-b-$$
code=$(apply -H "Authorization: Bearer $BOB" --data-binary "$(job "$B")")
check "bob applies $B with his token ($code)" test "$code" = 202
code=$(get "$BASE/v1/specs/$B" -b "$JAR")
check "alice's cookie gets 404 for bob's spec ($code)" test "$code" = 404
code=$(get "$BASE/v1/runs?name=$B" -b "$JAR")
check "  and his runs are not in her list ($(jq '.runs | length' "$WORK/body"))" jq -e '.runs | length == 0' "$WORK/body" >/dev/null
code=$(get "$BASE/v1/specs/$B" -X DELETE -b "$JAR" -H "X-CSRF-Token: $CSRF")
check "  and she cannot delete it: 404 ($code)" test "$code" = 404

# --- logout, revocation
code=$(get "$BASE/ui/api/logout" -X POST -b "$JAR")
check "logout with the cookie but no X-CSRF-Token: 403 ($code)" test "$code" = 403
code=$(get "$BASE/ui/api/logout" -X POST -b "$JAR" -c "$JAR" -H "X-CSRF-Token: $CSRF")
check "logout: 204 ($code)" test "$code" = 204
check "  both cookies are cleared (Max-Age=0)" bash -c \
    '[ "$(grep -ci "^Set-Cookie: cassiny-\(session\|csrf\)=; .*Max-Age=0" "$1")" = 2 ]' _ "$WORK/h"
code=$(get "$BASE/ui/api/whoami" -b "cassiny-session=")
check "  whoami with the cleared cookie: 401 ($code)" test "$code" = 401
code=$(login "$BOB" -b "cassiny-session=$ALICE")
check "a login over another valid session needs no CSRF value: 204 ($code)" test "$code" = 204
code=$(login "$ALICE")
curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null "http://localhost/v1/tokens/$ALICE_ID"
code=$(get "$BASE/ui/api/whoami" -b "$JAR")
check "a session whose token was revoked: 401 ($code, $(jq -r .detail "$WORK/body"))" test "$code" = 401
code=$(get "$BASE/v1/specs" -b "$JAR")
check "  on /v1 too ($code)" test "$code" = 401
stop_daemon
check "cassinyd exits 0 at SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0

# --- over TLS: the cookies are Secure
PKI="$ROOT/pki"
mkdir -p "$PKI"
if newca ca && issue server ca $'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'; then
    WORK="$ROOT/tls"
    SOCK=
    mkdir -p "$WORK"
    printf 'gateway: {port: 0}\nlisten:\n  address: 127.0.0.1\n  port: 0\n  tls: {cert: %s, key: %s}\n' \
        "$PKI/server.pem" "$PKI/server.key" >"$WORK/config.yaml"
    if start_daemon "$build" --config "$WORK/config.yaml"; then
        TLS=$(sed -n 's|.*API also on https://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/cassinyd.log" | head -n 1)
        token carol read
        code=$(get "https://127.0.0.1:$TLS/ui/api/login" --cacert "$PKI/ca.pem" -X POST \
            -H 'Content-Type: application/json' --data-binary "{\"token\":\"$TOK\"}")
        check "over TLS the login answers 204 ($code)" test "$code" = 204
        check "  both cookies are Secure" bash -c \
            '[ "$(grep -ci "^Set-Cookie: cassiny-\(session\|csrf\)=.*; Secure" "$1")" = 2 ]' _ "$WORK/h"
        code=$(get "https://127.0.0.1:$TLS/ui/" --cacert "$PKI/ca.pem")
        check "  and /ui/ is served over TLS ($code)" cmp -s "$WORK/body" "$dist/index.html"
        stop_daemon
        check "cassinyd (TLS) exits 0 at SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0
    else
        not_ok "the daemon starts with listen.tls"
    fi
else
    not_ok "the test PKI is made ($(tail -n 3 "$PKI/openssl.log"))"
fi

# --- a release tarball builds without node
if [ "${CASS_UI_SKIP_TARBALL:-}" = 1 ]; then
    echo "# CASS_UI_SKIP_TARBALL=1: the tarball build is skipped"
else
    T="$ROOT/tarball"
    mkdir -p "$T/stubs" "$T/dist"
    for p in node npm npx; do
        printf '#!/bin/sh\necho "%s was run: $*" >>"%s/ran"\nexit 127\n' "$p" "$T" >"$T/stubs/$p"
        chmod +x "$T/stubs/$p"
    done
    if (cd "$T/dist" && "$src/configure" >configure.log 2>&1 && make dist >dist.log 2>&1); then
        tarball=$(ls "$T"/dist/cassiny-*.tar.gz)
        ok "make dist makes $(basename "$tarball")"
        check "  it carries ui/dist built, the sources of ui/, and no node_modules" bash -c \
            'l=$(tar -tzf "$1"); grep -q "/ui/dist/index.html$" <<<"$l" && grep -q "/ui/package-lock.json$" <<<"$l" && ! grep -q node_modules <<<"$l"' _ "$tarball"
        tar -C "$T" -xzf "$tarball"
        tree=$(ls -d "$T"/cassiny-*/)
        if (cd "$tree" && PATH="$T/stubs:$PATH" ./configure >configure.log 2>&1 &&
            PATH="$T/stubs:$PATH" make -j2 daemon/cassinyd >make.log 2>&1); then
            ok "the tarball configures and builds cassinyd with node and npm failing"
        else
            not_ok "the tarball builds without node: $(tail -n 5 "$tree/configure.log" "$tree/make.log" 2>/dev/null)"
        fi
        check "  node and npm were never run ($(cat "$T/ran" 2>/dev/null))" test ! -e "$T/ran"
        if [ -x "$tree/daemon/cassinyd" ]; then
            WORK="$T/run"
            mkdir -p "$WORK"
            if start_daemon "$tree"; then
                code=$(curl -s --unix-socket "$SOCK" -o "$WORK/body" -w '%{http_code}' http://localhost/ui/)
                check "  its cassinyd serves the same index.html ($code)" cmp -s "$WORK/body" "$dist/index.html"
                stop_daemon
            else
                not_ok "  its cassinyd starts"
            fi
        fi
    else
        not_ok "make dist: $(tail -n 10 "$T/dist/configure.log" "$T/dist/dist.log" 2>/dev/null)"
    fi
fi
summary
