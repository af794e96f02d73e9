#!/bin/bash
# Teams on one server: users with scoped tokens on the API's TCP listener.
# No token is 401, a read token cannot apply (403), revoked and expired
# tokens are 401, two users see only their own specs, runs, logs and events
# (others' are 404 and absent from lists), an admin sees everyone's but not
# a notebook's URL and token, a name another user holds is refused, and
# every refusal is in the audit log with the token's id. Busybox stand-ins.
# Usage: test_teams.sh BUILDDIR SRCDIR
set -u
SUITE=teams
build=$1
src=$2
. "$src/tests/integration/lib.sh"

BUSYBOX=${CASS_TEST_IMAGE:-cassiny/test-busybox:latest}
HTTPD=cassiny/teams-httpd-$$:v1
P=tm-$$
WORK=$(mktemp -d /tmp/cassiny-teams.XXXXXX)
cleanup() {
    stop_daemon
    local inst
    inst=$(cat "$WORK/state/instance" 2>/dev/null)
    [ -n "$inst" ] && docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$inst") >/dev/null 2>&1
    docker rmi "$HTTPD" >/dev/null 2>&1
    rm -rf "$WORK"
    true
}
trap cleanup EXIT

if ! make_httpd_image "$HTTPD" "$P" "$BUSYBOX"; then
    not_ok "the busybox httpd image is made"
    summary
    exit 1
fi
write_config
printf 'listen: {address: 127.0.0.1, port: 0}\n' >>"$WORK/config.yaml"
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "the daemon starts"; summary; exit 1; }
TCP=$(sed -n 's|.*API also on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/cassinyd.log" | head -n 1)
check "the daemon listens on TCP too (port ${TCP:-none})" test -n "$TCP"
BASE="http://127.0.0.1:$TCP"

# as USER_TOKEN METHOD PATH [BODY]: over TCP with a bearer token ("" for
# none); prints the status, the body in $WORK/body
as() {
    local tok=$1 method=$2 path=$3 body=${4:-}
    local args=(-s -o "$WORK/body" -w '%{http_code}' -X "$method" --max-time 20)
    [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/yaml' --data-binary "$body")
    curl "${args[@]}" "$BASE$path"
}
# token USER SCOPE [EXPIRES]: made by the local admin on the unix socket; sets TOK and TID
token() {
    local body
    body=$(jq -nc --arg u "$1" --arg s "$2" --arg e "${3:-}" \
        '{user: $u, scope: $s} + (if $e == "" then {} else {expiresIn: $e} end)')
    curl -s --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' -d "$body" \
        -o "$WORK/tok.json" http://localhost/v1/tokens
    TOK=$(jq -r .secret "$WORK/tok.json")
    TID=$(jq -r .id "$WORK/tok.json")
}
job() { printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [sh, -c, "echo out of %s; sleep %s"]\n  resources: {cpus: 250m, memory: 32Mi}\n' "$1" "$BUSYBOX" "$1" "${2:-30}"; }
notebook() { printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: %s}\nspec:\n  image: %s\n  port: 8080\n  resources: {cpus: 250m, memory: 64Mi}\n' "$1" "$HTTPD"; }
audited() { # audited TOKEN_ID WHAT: the audit log has a refusal with that token id
    curl -s --unix-socket "$SOCK" "http://localhost/v1/audit?limit=1000" |
        jq -e --arg t "$1" --arg w "$2" '[.entries[] | select(.tokenId == $t and .action == "refused" and ((.target // "") | contains($w)))] | length > 0' >/dev/null
}

token alice write; ALICE=$TOK
token bob write; BOB=$TOK
token carol read; CAROL=$TOK CAROL_ID=$TID
token root admin; ADMIN=$TOK
token dave write; DAVE=$TOK DAVE_ID=$TID
token erin write 1s; ERIN=$TOK ERIN_ID=$TID
check "a token's secret is shown once: the list has none ($(jq -c '.tokens | length' <(curl -s --unix-socket "$SOCK" http://localhost/v1/tokens)) tokens)" \
    bash -c '! curl -s --unix-socket "$1" http://localhost/v1/tokens | grep -qF "$2"' _ "$SOCK" "$ALICE"
check "the secret is not in the database files" \
    bash -c '! grep -qF "$1" "$2"/cassiny.db* 2>/dev/null' _ "$ALICE" "$WORK/state"

# --- who may come in
code=$(as "" GET /v1/specs)
check "no token: 401 ($code)" test "$code" = 401
check "... a problem that says a token is needed" jq -e '.status == 401 and (.detail | test("token"))' "$WORK/body"
check "... audited, without a user or token" \
    bash -c 'curl -s --unix-socket "$1" "http://localhost/v1/audit?limit=1000" | jq -e "[.entries[] | select(.action == \"refused\" and .status == 401 and .user == null and .target == \"GET /v1/specs\")] | length >= 1" >/dev/null' _ "$SOCK"
before=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/audit?limit=1000" | jq '[.entries[] | select(.action == "refused" and .user == null)] | length')
for i in $(seq 200); do echo "url = \"$BASE/v1/runs\""; echo "output = /dev/null"; done >"$WORK/flood.cfg"
t0=$(date +%s)
curl -s -K "$WORK/flood.cfg"
t1=$(date +%s)
after=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/audit?limit=1000" | jq '[.entries[] | select(.action == "refused" and .user == null)] | length')
check "200 tokenless requests in $((t1 - t0 + 1)) s: at most 10 a second audited ($((after - before)))" \
    test $((after - before)) -ge 1 -a $((after - before)) -le $((10 * (t1 - t0 + 1)))
check "/healthz needs none ($(as "" GET /healthz))" test "$(as "" GET /healthz)" = 200
check "/v1/version needs none" test "$(as "" GET /v1/version)" = 200
for bad in "Basic YWxpY2U6eA==" "Bearer" "Bearer a b" "bearer$ALICE" "Bearer $(head -c 8000 /dev/zero | tr '\0' a)"; do
    code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "Authorization: $bad" "$BASE/v1/specs")
    check "malformed Authorization \"${bad:0:24}...\": 401 ($code)" test "$code" = 401
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(head -c 100000 /dev/zero | tr '\0' a)" "$BASE/v1/specs")
check "a 100 kB token: refused with a 4xx ($code), the daemon serves on" \
    bash -c '[ "$1" -ge 400 ] && [ "$1" -lt 500 ] && [ "$(curl -s -o /dev/null -w "%{http_code}" "$2/healthz")" = 200 ]' _ "$code" "$BASE"
code=$(as "$CAROL" POST /v1/specs "$(job "$P-c")")
check "a read token cannot apply: 403 ($code)" test "$code" = 403
check "... audited with carol's token id" audited "$CAROL_ID" "POST /v1/specs"
check "a read token reads: 200" test "$(as "$CAROL" GET /v1/specs)" = 200

# --- each user's own
code=$(as "$ALICE" POST /v1/specs "$(job "$P-a")")
A_RUN=$(jq -r '.specs[0].run.id' "$WORK/body")
check "alice applies her job (202)" test "$code" = 202
code=$(as "$BOB" POST /v1/specs "$(job "$P-b")")
B_RUN=$(jq -r '.specs[0].run.id' "$WORK/body")
check "bob applies his job (202)" test "$code" = 202
owner_of() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1" | jq -r .owner; }
check "the runs are owned by who applied ($(owner_of "$A_RUN") $(owner_of "$B_RUN"))" \
    test "$(owner_of "$A_RUN")/$(owner_of "$B_RUN")" = alice/bob
as "$ALICE" GET /v1/specs >/dev/null
check "alice's list has her spec and not bob's ($(jq -c '[.specs[].name]' "$WORK/body"))" \
    jq -e --arg a "$P-a" --arg b "$P-b" '([.specs[].name] | index($a) != null) and ([.specs[].name] | index($b) == null)' "$WORK/body"
check "bob's spec is 404 for alice" test "$(as "$ALICE" GET "/v1/specs/$P-b")" = 404
check "bob's run is 404 for alice" test "$(as "$ALICE" GET "/v1/runs/$B_RUN")" = 404
check "bob's logs are 404 for alice" test "$(as "$ALICE" GET "/v1/runs/$B_RUN/logs")" = 404
check "alice cannot stop bob's run (404)" test "$(as "$ALICE" POST "/v1/runs/$B_RUN/stop")" = 404
check "alice cannot delete bob's spec (404)" test "$(as "$ALICE" DELETE "/v1/specs/$P-b")" = 404
check "alice cannot reproduce bob's run (404)" test "$(as "$ALICE" POST "/v1/runs/$B_RUN/reproduce")" = 404
check "bob's run's spec is 404 for alice" test "$(as "$ALICE" GET "/v1/runs/$B_RUN/spec")" = 404
check "bob's revisions are 404 for alice" test "$(as "$ALICE" GET "/v1/specs/$P-b/revisions")" = 404
code=$(as "$ALICE" GET "/v1/runs/$A_RUN/spec")
check "alice's run's spec is the revision it ran ($code)" \
    jq -e --arg r "$(jq -r .revision <<<"$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$A_RUN")")" --arg n "$P-a" \
    '.revision == $r and .name == $n and .spec.kind == "Job" and .spec.metadata.name == $n' "$WORK/body"
code=$(as "$ALICE" GET "/v1/specs/$P-a/revisions")
check "alice's revisions: one, the current ($code)" jq -e '(.revisions | length) == 1 and .revisions[0].current' "$WORK/body"
check "a run's inputs are listed file by file (none here: [])" \
    bash -c '[ "$1" = 200 ] && jq -e ".inputs == []" "$2"' _ "$(as "$ALICE" GET "/v1/runs/$A_RUN")" "$WORK/body"
as "$ALICE" GET "/v1/runs?limit=1000" >/dev/null
check "alice's run list has only her runs ($(jq -c '[.runs[].owner] | unique' "$WORK/body"))" \
    jq -e '[.runs[].owner] | unique == ["alice"]' "$WORK/body"
code=$(as "$ALICE" POST /v1/specs "$(job "$P-b")")
check "alice cannot take bob's name: 409 naming metadata.name ($code)" \
    bash -c '[ "$1" = 409 ] && jq -e ".errors[0].path == \"metadata.name\" and .errors[0].line == 3" "$2" >/dev/null' _ "$code" "$WORK/body"
check "bob's job still runs after all that" test "$(wait_run "$B_RUN" 20 running)" = running
as "$ADMIN" GET "/v1/runs?limit=1000" >/dev/null
check "admin sees everyone's runs" jq -e '[.runs[].owner] | (index("alice") != null and index("bob") != null)' "$WORK/body"
check "admin reads bob's run" test "$(as "$ADMIN" GET "/v1/runs/$B_RUN")" = 200
check "admin sees alice's job's logs" \
    bash -c 'sleep 2; curl -s -H "Authorization: Bearer $1" "$2/v1/runs/$3/logs" | grep -q "out of $4"' _ "$ADMIN" "$BASE" "$A_RUN" "$P-a"

# --- a notebook's URL and token: its owner's only
code=$(as "$ALICE" POST /v1/specs "$(notebook "$P-nb")")
NB_RUN=$(jq -r '.specs[0].run.id' "$WORK/body")
st=$(wait_run "$NB_RUN" 40 ready)
check "alice's notebook is ready ($st)" test "$st" = ready
as "$ALICE" GET "/v1/runs/$NB_RUN" >/dev/null
check "alice sees her notebook's URL with its token" jq -e '.url | test("token=")' "$WORK/body"
as "$ADMIN" GET "/v1/runs/$NB_RUN" >/dev/null
check "admin sees the notebook, without URL or token ($(jq -c '{url, token}' "$WORK/body"))" \
    jq -e '.status == "ready" and .url == null and (has("token") | not)' "$WORK/body"
as "$ADMIN" GET "/v1/specs/$P-nb" >/dev/null
check "... nor in the spec's view" bash -c '! grep -q "token=" "$1"' _ "$WORK/body"
GW=$(curl -s --unix-socket "$SOCK" http://localhost/v1/version | jq -r .gateway)
NBURL="${GW%models/}notebooks/$P-nb/api/status"
gw_as() { curl -s -o /dev/null -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} "$NBURL"; }
check "alice's API token opens her notebook through the gateway ($(gw_as "$ALICE"))" test "$(gw_as "$ALICE")" = 200
check "bob's API token gets 403 at the gateway ($(gw_as "$BOB"))" test "$(gw_as "$BOB")" = 403
check "no token gets 401 at the gateway ($(gw_as ""))" test "$(gw_as "")" = 401
curl -s -N --max-time 3 -H "Authorization: Bearer $ADMIN" "$BASE/v1/events?since=0" >"$WORK/admin-events"
check "admin's event stream since 0 has alice's notebook but no notebook token ($(grep -c '^event: run' "$WORK/admin-events") run events)" \
    bash -c 'grep -q "$2" "$1" && ! grep -q "token=" "$1"' _ "$WORK/admin-events" "$NB_RUN"
curl -s -N --max-time 3 -H "Authorization: Bearer $BOB" "$BASE/v1/events?since=0" >"$WORK/bob-events"
check "bob's event stream since 0 has his run and nothing of alice's" \
    bash -c 'grep -q "$2" "$1" && ! grep -q "$3" "$1" && ! grep -q "$4" "$1"' _ "$WORK/bob-events" "$B_RUN" "$A_RUN" "$NB_RUN"
curl -s -N --max-time 3 -H "Authorization: Bearer $ALICE" "$BASE/v1/events?since=0" >"$WORK/alice-events"
check "alice's event stream has her notebook's URL with its token" grep -q 'token=' "$WORK/alice-events"

# --- revoked and expired
curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null "http://localhost/v1/tokens/$DAVE_ID"
check "a revoked token: 401" test "$(as "$DAVE" GET /v1/specs)" = 401
check "... audited with its id" audited "$DAVE_ID" "revoked"
sleep 2
check "an expired token: 401" test "$(as "$ERIN" GET /v1/specs)" = 401
check "... audited with its id" audited "$ERIN_ID" "expired"
check "a token made by alice for bob is refused (403)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' -d '{"user":"bob","scope":"read"}' "$BASE/v1/tokens")" = 403
check "alice makes a read token of her own (201)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' -d '{"scope":"read","name":"ci"}' "$BASE/v1/tokens")" = 201
check "... but not an admin one (403)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' -d '{"scope":"admin"}' "$BASE/v1/tokens")" = 403
check "the audit log is admin's only: alice gets 403" test "$(as "$ALICE" GET /v1/audit)" = 403

# --- the CLI over TCP
ctl() { "$build/cli/cassinyctl" --host "$BASE" "$@"; }
out=$(ctl --token "$ALICE" get 2>&1)
check "cassinyctl --host http://... --token alice: get lists her specs only" \
    bash -c 'grep -q "$2" <<<"$1" && ! grep -q "$3" <<<"$1"' _ "$out" "$P-a" "$P-b"
out=$(ctl --token "$ALICE" token list 2>&1)
check "cassinyctl token list as alice: her tokens only" \
    bash -c 'grep -q alice <<<"$1" && ! grep -qw bob <<<"$1"' _ "$out"
out=$(CASSINY_TOKEN=$ADMIN ctl token create --user frank --scope read --expires 1h --name laptop 2>&1)
check "cassinyctl token create prints the secret once" grep -q 'secret (shown this once' <<<"$out"
out=$(CASSINY_TOKEN=$ADMIN ctl -o json audit --user carol 2>&1)
check "cassinyctl audit --user carol (admin): her refusal with its token id" \
    jq -e --arg t "$CAROL_ID" '[.entries[] | select(.tokenId == $t and .status == 403)] | length > 0' <<<"$out"
ctl get >/dev/null 2>"$WORK/err"
rc=$?
check "cassinyctl over TCP without a token: exit 1 and says a token is needed ($(head -c 120 "$WORK/err"))" \
    bash -c '[ $1 = 1 ] && grep -qi token "$2"' _ $rc "$WORK/err"
check "the daemon serves on" kill -0 "$DAEMON_PID"

stop_daemon
check "cassinyd exits 0 at SIGTERM" test "$DAEMON_STATUS" = 0
summary
