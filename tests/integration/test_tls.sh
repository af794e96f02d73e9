#!/bin/bash
# The API's TCP listener and the gateway over TLS, with a throwaway CA made
# here with openssl: cassinyctl and curl over https (with the CA, without it,
# with the wrong one), mutual TLS with listen.tls.clientCA, plain HTTP
# refused beyond loopback at start, bad PEM files named with their config
# line, and hostile clients on the TLS port (stalled and trickled
# handshakes, garbage, plain HTTP). Each part has a daemon of its own on a
# private unix socket; the TCP ports are the system's choice (port: 0),
# read from the daemon's log.
# Usage: test_tls.sh BUILDDIR SRCDIR
set -u
build=$1
src=$2
SUITE=tls
. "$src/tests/integration/lib.sh"
BUSYBOX=${CASS_TEST_IMAGE:-cassiny/test-busybox:latest}
ROOT=$(mktemp -d /tmp/cassiny-tls.XXXXXX)
P=tls-$$
HTTPD=cassiny/tls-httpd-$$:v1
PKI="$ROOT/pki"
cleanup() {
    stop_daemon
    remove_instances_under "$ROOT"
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.test=$P") >/dev/null 2>&1
    docker rmi "$HTTPD" >/dev/null 2>&1
    rm -rf "$ROOT"
    true
}
trap cleanup EXIT
ctl() { "$build/cli/cassinyctl" "$@"; }
# token USER SCOPE: a new token's secret, made on the unix socket (the local admin)
token() {
    curl -s --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' \
        -d "{\"user\": \"$1\", \"scope\": \"$2\"}" http://localhost/v1/tokens | jq -r '.secret // empty'
}

# --- the throwaway PKI: a CA, a server certificate for 127.0.0.1 and
# localhost signed by it, a second CA that signed nothing of the server's,
# a client CA with a client certificate, and a client certificate of the
# wrong CA.
mkdir -p "$PKI"
if ! { newca ca && newca other-ca && newca client-ca &&
    issue server ca $'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth' &&
    issue client client-ca 'extendedKeyUsage=clientAuth' &&
    issue stranger other-ca 'extendedKeyUsage=clientAuth'; }; then
    not_ok "openssl makes the test PKI: $(tail -5 "$PKI/openssl.log")"
    summary
    exit 1
fi
chmod 600 "$PKI"/*.key
ok "a throwaway CA, a server certificate for 127.0.0.1 and localhost, a client CA"

# begin NAME CONFIG: a daemon of its own for part NAME with CONFIG (YAML
# text) as its config; sets WORK, TLS_PORT (the API's TCP port, when it has
# one) and GW_PORT.
begin() {
    stop_daemon
    WORK="$ROOT/$1"
    mkdir -p "$WORK"
    printf '%s\n' "$2" >"$WORK/config.yaml"
    echo "# $1"
    start_daemon "$build" --config "$WORK/config.yaml" || return 1
    TLS_PORT=$(sed -n 's|.*API also on https\?://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/cassinyd.log" | head -1)
    GW_PORT=$(curl -s --unix-socket "$SOCK" http://localhost/v1/version | jq -r .gateway | sed 's|.*:\([0-9]*\)/models/|\1|')
}
TLS_CFG="listen:
  address: 127.0.0.1
  port: 0
  tls: {cert: $PKI/server.pem, key: $PKI/server.key}"
LIMITS="limits: {idleTimeoutSeconds: 3, requestTimeoutSeconds: 6}"

# --- cassinyctl and curl over https
begin https "gateway: {port: 0}
$TLS_CFG
$LIMITS" || not_ok "the daemon starts with listen.tls"
check "the daemon logs its TLS listener and port ($TLS_PORT)" test -n "$TLS_PORT"
URL="https://127.0.0.1:$TLS_PORT"
ctl --host "$URL" --cacert "$PKI/ca.pem" version >"$WORK/out" 2>"$WORK/err"
check "cassinyctl --host $URL --cacert ca.pem version works (rc=$?)" grep -q '^Daemon:  cassinyd' "$WORK/out"
CASSINY_CACERT="$PKI/ca.pem" ctl --host "https://localhost:$TLS_PORT" -o json version >"$WORK/out" 2>"$WORK/err"
check "\$CASSINY_CACERT and the name localhost work too" jq -e '.server.version' "$WORK/out" >/dev/null
untrusted() { # untrusted DESCRIPTION ARGS...: cassinyctl must fail with the plain message
    local d=$1
    shift
    ctl --host "$URL" "$@" version >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    if [ $rc = 1 ] && grep -q "the server's certificate is not trusted (.*): pass --cacert FILE" "$WORK/err" &&
        ! grep -q '^Daemon:' "$WORK/out"; then
        ok "$d: exit 1, $(head -c 200 "$WORK/err")"
    else
        not_ok "$d: want exit 1 and the message, got rc=$rc: $(head -c 300 "$WORK/err")"
    fi
}
untrusted "without --cacert (the system store does not know the test CA)"
untrusted "with a CA that did not sign the server's certificate" --cacert "$PKI/other-ca.pem"
ctl --host "$URL" --cacert "$ROOT/none.pem" version >/dev/null 2>"$WORK/err"
check "a --cacert file that does not exist is named (rc=$?)" grep -q "none.pem" "$WORK/err"
check "curl over https with the CA: /healthz is 200" \
    test "$(curl -sS --cacert "$PKI/ca.pem" -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TLS_PORT/healthz" 2>"$WORK/err")
check "plain http to the TLS port gets no HTTP answer (code $code, $(head -c 80 "$WORK/err"))" test "$code" = 000
# The TCP listener is a network one: a caller shows a token there (401
# without), not on the unix socket. The audit trail tells where a request
# came from: the peer's address on TCP, the uid on the unix socket.
TOKEN=$(token alice write)
check "a token for alice is made on the unix socket" test -n "$TOKEN"
code=$(curl -s --cacert "$PKI/ca.pem" -o /dev/null -w '%{http_code}' "$URL/v1/specs")
check "over TLS without a token the API answers 401 ($code)" test "$code" = 401
code=$(curl -s --cacert "$PKI/ca.pem" -H "Authorization: Bearer $TOKEN" -o /dev/null -w '%{http_code}' "$URL/v1/specs")
check "and with alice's token 200 ($code)" test "$code" = 200
printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s-job}\nspec:\n  image: %s\n  command: ["true"]\n  resources: {cpus: 250m, memory: 32Mi}\n' \
    "$P" "$BUSYBOX" >"$WORK/job.yaml"
ctl --host "$URL" --cacert "$PKI/ca.pem" --token "$TOKEN" apply -f "$WORK/job.yaml" >"$WORK/out" 2>&1
curl -s --max-time 2 --unix-socket "$SOCK" "http://localhost/v1/events?since=0" >"$WORK/events" 2>/dev/null
check "a request over TLS is recorded with the peer's ADDR:PORT as its actor" \
    grep -q '"action":"POST","actor":"127\.0\.0\.1:[0-9]*"\|"actor":"127\.0\.0\.1:[0-9]*"' "$WORK/events"

# Handshake time: curl's time to the end of the TLS handshake, 20 times.
for _ in $(seq 20); do
    curl -s --cacert "$PKI/ca.pem" -o /dev/null -w '%{time_appconnect} %{time_connect}\n' "$URL/healthz"
done | awk '{print ($1 - $2) * 1000}' | sort -n >"$WORK/hs"
echo "# TLS handshake on loopback (20 runs): median $(sed -n 10p "$WORK/hs") ms, max $(tail -1 "$WORK/hs") ms"

# --- hostile clients on the TLS port: 100 connections that send nothing,
# 100 that send half a ClientHello, 5 that trickle one byte a second,
# garbage, and plain HTTP; requests keep being answered meanwhile.
# libmicrohttpd counts a handshake as activity only once it is done, so the
# idle timeout (limits.idleTimeoutSeconds) bounds a handshake from the
# connection's start, trickled or not; the request deadline
# (limits.requestTimeoutSeconds) bounds it too (see the mtls part).
python3 - "$TLS_PORT" "$PKI/ca.pem" >"$WORK/hostile.out" 2>&1 <<'PY' &
import os, socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    return s
# A TLS record header announcing a 512-byte handshake, and 40 bytes of it.
half = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + os.urandom(29)
t0 = time.monotonic()
silent = [conn() for _ in range(100)]
halves = [conn() for _ in range(100)]
for s in halves:
    s.send(half)
trickle = [conn() for _ in range(5)]
closed = {}
def watch(group, name):
    for i, s in enumerate(group):
        key = (name, i)
        if key in closed:
            continue
        try:
            if s.recv(4096) == b"":
                closed[key] = time.monotonic() - t0
        except BlockingIOError:
            pass
        except OSError:
            closed[key] = time.monotonic() - t0
# Requests over TLS while they are held: one every 0.2 s; held counts
# those answered while all 205 were still open.
ctx = ssl.create_default_context(cafile=ca)
served, failed, held, tick = 0, 0, 0, 0
while time.monotonic() - t0 < 14 and len(closed) < 205:
    if tick % 10 == 0:
        for i, s in enumerate(trickle):
            if ("trickle", i) not in closed:
                try:
                    s.send(half[(tick // 10) % len(half):][:1])
                except OSError:
                    pass
    if tick % 2 == 0:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
                    t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    ok = t.recv(64).startswith(b"HTTP/1.1 200")
                    served += ok
                    held += ok and not closed
        except OSError as e:
            failed += 1
            print("request failed:", e)
    watch(silent, "silent"); watch(halves, "half"); watch(trickle, "trickle")
    tick += 1
    time.sleep(0.1)
def worst(name):
    v = [t for (n, _), t in closed.items() if n == name]
    return "%d closed, last at %.1f s" % (len(v), max(v)) if v else "0 closed"
print("silent:", worst("silent"))
print("half:", worst("half"))
print("trickle:", worst("trickle"))
print("served %d failed %d, %d of them while all 205 were open" % (served, failed, held))
PY
HOSTILE_PID=$!
# Garbage, and a plain HTTP request, to the TLS port meanwhile.
garbage() { # garbage FILE: sends it, prints what came back (hex, 80 bytes at most)
    python3 - "$TLS_PORT" "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(open(sys.argv[2], "rb").read())
t0, got = time.monotonic(), b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
except OSError:
    pass
print("%.1f %s" % (time.monotonic() - t0, got[:80].hex() or "-"))
PY
}
head -c 8192 /dev/urandom >"$WORK/garbage"
printf 'GET /v1/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >"$WORK/plain"
read -r secs reply < <(garbage "$WORK/garbage")
check "8 KiB of garbage to the TLS port: the connection is closed (in $secs s)" awk -v s="$secs" 'BEGIN { exit !(s < 8) }'
read -r secs reply < <(garbage "$WORK/plain")
check "a plain HTTP request to the TLS port is not answered in plain text (closed in $secs s, reply $reply)" \
    sh -c "! printf '%s' '$reply' | grep -qi '^485454502f'"
wait $HOSTILE_PID
cat "$WORK/hostile.out" | sed 's/^/# /'
last() { sed -n "s/^$1: \([0-9]*\) closed, last at \([0-9.]*\) s/\1 \2/p" "$WORK/hostile.out"; }
read -r n t < <(last silent)
check "100 silent TLS connections are closed by the idle timeout (3 s): $n, the last at ${t:-?} s" \
    awk -v n="${n:-0}" -v t="${t:-99}" 'BEGIN { exit !(n == 100 && t < 7) }'
read -r n t < <(last half)
check "100 half ClientHellos are closed by the idle timeout: $n, the last at ${t:-?} s" \
    awk -v n="${n:-0}" -v t="${t:-99}" 'BEGIN { exit !(n == 100 && t < 7) }'
read -r n t < <(last trickle)
check "5 handshakes trickled a byte a second are closed by the idle timeout too: $n, the last at ${t:-?} s" \
    awk -v n="${n:-0}" -v t="${t:-99}" 'BEGIN { exit !(n == 5 && t < 7) }'
check "requests over TLS were answered while 205 handshakes stalled ($(grep '^served' "$WORK/hostile.out"))" \
    grep -q '^served [1-9][0-9]* failed 0, [1-9][0-9]* of them while all 205 were open$' "$WORK/hostile.out"
check "and after them" \
    test "$(curl -sS --cacert "$PKI/ca.pem" -o /dev/null -w '%{http_code}' "$URL/v1/version")" = 200
check "the daemon is still running" kill -0 "$DAEMON_PID"
stop_daemon
check "cassinyd exits 0 at SIGTERM after all that (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0

# --- mutual TLS: a certificate signed by clientCA is required
begin mtls "gateway: {port: 0}
listen:
  address: 127.0.0.1
  port: 0
  tls: {cert: $PKI/server.pem, key: $PKI/server.key, clientCA: $PKI/client-ca.pem}
limits: {idleTimeoutSeconds: 30, requestTimeoutSeconds: 2}" ||
    not_ok "the daemon starts with listen.tls.clientCA"
URL="https://127.0.0.1:$TLS_PORT"
check "the log says clients need a certificate" grep -q 'clients need a certificate signed by listen.tls.clientCA' "$WORK/cassinyd.log"
mcode() { curl -s --max-time 10 --cacert "$PKI/ca.pem" -o /dev/null -w '%{http_code}' "$@" "$URL/v1/version"; }
check "a client with the client certificate is served" test "$(mcode --cert "$PKI/client.pem" --key "$PKI/client.key")" = 200
check "a client without a certificate is refused (code $(mcode))" test "$(mcode)" = 000
check "a client with a certificate of another CA is refused" \
    test "$(mcode --cert "$PKI/stranger.pem" --key "$PKI/stranger.key")" = 000
ctl --host "$URL" --cacert "$PKI/ca.pem" version >/dev/null 2>"$WORK/err"
check "cassinyctl without a client certificate fails (exit $?)" test -s "$WORK/err"
check "the unix socket needs none" test "$(api GET /v1/version)" = "200 application/json"
# A silent handshake with a request deadline shorter than the idle timeout:
# the hub shuts it down, without its plain-text 408 inside TLS.
read -r secs reply < <(python3 - "$TLS_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
t0, got = time.monotonic(), b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
except OSError:
    pass
print("%.1f %s" % (time.monotonic() - t0, got[:40].hex() or "-"))
PY
)
check "a silent handshake is shut by the request deadline (2 s) when it is the shorter: ${secs:-?} s, nothing sent ($reply)" \
    awk -v s="${secs:-99}" -v r="$reply" 'BEGIN { exit !(s >= 1.5 && s < 5 && r == "-") }'

stop_daemon
check "the mutual-TLS daemon exits 0 at SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0

# --- socket activation: a TCP socket passed as api-tcp (as a .socket unit
# with FileDescriptorName=api-tcp would) is served with listen.tls.
WORK="$ROOT/activated"
mkdir -p "$WORK"
printf 'gateway: {port: 0}\n%s\n' "$TLS_CFG" >"$WORK/config.yaml"
SOCK="$WORK/cassiny.sock"
python3 - "$SOCK" "$WORK/port" "$build/daemon/cassinyd" --config "$WORK/config.yaml" \
    --state-dir "$WORK/state" --socket "$SOCK" >"$WORK/cassinyd.log" 2>&1 <<'PY' &
import os, socket, sys
path, port_file, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
api = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
api.bind(path)
api.listen(128)
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.bind(("127.0.0.1", 0))
tcp.listen(128)
open(port_file, "w").write("%d\n" % tcp.getsockname()[1])
high = [os.dup(api.fileno()), os.dup(tcp.fileno())]
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i, inheritable=True)
env = dict(os.environ, LISTEN_FDS="2", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="api:api-tcp")
os.execve(argv[0], argv, env)
PY
DAEMON_PID=$!
for _ in $(seq 100); do
    curl -fsS --unix-socket "$SOCK" http://localhost/healthz >/dev/null 2>&1 && break
    sleep 0.1
done
PORT=$(cat "$WORK/port" 2>/dev/null)
check "the daemon takes a passed api-tcp socket" grep -q "the API's TCP socket passed" "$WORK/cassinyd.log"
check "and serves TLS on it (port ${PORT:-?})" \
    test "$(curl -s --max-time 10 --cacert "$PKI/ca.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:${PORT:-1}/healthz")" = 200
stop_daemon
check "cassinyd exits 0 at SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0

# --- plain HTTP: loopback only, with a warning
begin plain "gateway: {port: 0}
listen: {address: 127.0.0.1, port: 0}" || not_ok "a plain loopback listener starts"
check "a plain loopback listener logs that it is plain HTTP" grep -q 'warn: API also on http://127.0.0.1:[0-9]*: plain HTTP' "$WORK/cassinyd.log"
ctl --host "http://127.0.0.1:$TLS_PORT" version >"$WORK/out" 2>&1
check "cassinyctl --host http://127.0.0.1:$TLS_PORT works on it" grep -q '^Daemon:' "$WORK/out"
stop_daemon

# refused DESCRIPTION LINE REASON CONFIG: the daemon must not start, and must
# name the line and the reason; --check-config says the same.
refused() {
    local d=$1 line=$2 reason=$3
    WORK="$ROOT/refused"
    mkdir -p "$WORK"
    printf '%s\n' "$4" >"$WORK/refused.yaml"
    deadline 20 "$build/daemon/cassinyd" --config "$WORK/refused.yaml" --state-dir "$WORK/state" \
        --socket "$WORK/refused.sock" >"$WORK/refused.log" 2>&1
    local rc=$?
    deadline 20 "$build/daemon/cassinyd" --check-config --config "$WORK/refused.yaml" >"$WORK/check.log" 2>&1
    local crc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $crc -ne 0 ] && grep -qF "refused.yaml:$line:" "$WORK/refused.log" &&
        grep -qF -- "$reason" "$WORK/refused.log" && [ ! -e "$WORK/refused.sock" ]; then
        ok "$d: exit $rc (--check-config $crc), line $line: $(grep -F "refused.yaml:$line:" "$WORK/refused.log" | head -1 | cut -c1-160)"
    else
        not_ok "$d: expected a non-zero exit naming line $line and \"$reason\", got rc=$rc, --check-config $crc: $(head -c 400 "$WORK/refused.log")"
    fi
}
ADDR=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -v '^127\.' | grep -v ':' | grep . | head -1)
ADDR=${ADDR:-0.0.0.0}
refused "listen on $ADDR without tls" 3 "plain HTTP on a non-loopback address would send tokens in the clear" \
    "gateway: {port: 0}
listen:
  address: $ADDR
  port: 0"
refused "listen on 0.0.0.0 without tls" 2 "plain HTTP on a non-loopback address would send tokens in the clear" \
    "gateway: {port: 0}
listen: {address: 0.0.0.0, port: 0}"
refused "a certificate file that does not exist" 5 "cannot be read" \
    "gateway: {port: 0}
listen:
  address: 127.0.0.1
  port: 0
  tls: {cert: $ROOT/missing.pem,
        key: $PKI/server.key}"
# listen_tls CERT KEY [CLIENT_CA]: a config whose tls block starts on line 5
# (cert on 6, key on 7, clientCA on 8).
listen_tls() {
    printf 'gateway: {port: 0}\nlisten:\n  address: 127.0.0.1\n  port: 0\n  tls:\n    cert: %s\n    key: %s\n' "$1" "$2"
    [ $# -gt 2 ] && printf '    clientCA: %s\n' "$3"
}
refused "a key given as the certificate" 6 "holds no PEM certificate" \
    "$(listen_tls "$PKI/server.key" "$PKI/server.key")"
refused "a key that is not the certificate's" 7 "is not the key of the certificate" \
    "$(listen_tls "$PKI/server.pem" "$PKI/client.key")"
refused "a client CA that is not PEM" 8 "holds no PEM certificate" \
    "$(listen_tls "$PKI/server.pem" "$PKI/server.key" "$PKI/server.csr")"
refused "gateway.tls with a key that is not the certificate's" 5 "is not the key of the certificate" \
    "gateway:
  port: 0
  tls:
    cert: $PKI/server.pem
    key: $PKI/stranger.key"

# --- the gateway on TLS serves a model and its /metrics
if ! make_httpd_image "$HTTPD" "$P" "$BUSYBOX"; then
    not_ok "the busybox httpd image $HTTPD is made from $BUSYBOX"
else
    mkdir -p "$ROOT/gateway/data"
    echo "model bytes" >"$ROOT/gateway/data/model.bin"
    begin gateway "policy:
  images: [\"cassiny/*\"]
  mountRoots: [\"$ROOT/gateway/data\"]
gateway:
  port: 0
  tls: {cert: $PKI/server.pem, key: $PKI/server.key}
$TLS_CFG" || not_ok "the daemon starts with gateway.tls"
    GW="https://127.0.0.1:$GW_PORT"
    check "the daemon says its models are at https://" \
        test "$(curl -s --unix-socket "$SOCK" http://localhost/v1/version | jq -r .gateway)" = "$GW/models/"
    printf 'apiVersion: cassiny/v1\nkind: Model\nmetadata: {name: %s-m}\nspec:\n  image: %s\n  artifact: %s\n  version: v1\n  replicas: 1\n  health: {path: /health.txt, intervalSeconds: 1, timeoutSeconds: 1}\n  resources: {cpus: 250m, memory: 64Mi}\n' \
        "$P" "$HTTPD" "$ROOT/gateway/data/model.bin" >"$WORK/model.yaml"
    ctl --host "https://127.0.0.1:$TLS_PORT" --cacert "$PKI/ca.pem" --token "$(token bob write)" apply -f "$WORK/model.yaml" --wait --timeout 90 >"$WORK/apply.out" 2>&1
    check "a model applied over https with --wait is ready ($(tail -1 "$WORK/apply.out"))" test $? = 0
    check "the gateway on TLS serves the model with --cacert" \
        test "$(curl -s --max-time 10 --cacert "$PKI/ca.pem" "$GW/models/$P-m/ping.txt")" = pong
    curl -s --max-time 10 --cacert "$PKI/ca.pem" "$GW/metrics" >"$WORK/metrics"
    check "and its /metrics" grep -q "^cassiny_gateway_requests_total{model=\"$P-m\",code=\"200\"} [1-9]" "$WORK/metrics"
    check "without the CA curl refuses the gateway's certificate" \
        test "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$GW/models/$P-m/ping.txt")" = 000
    check "plain http to the gateway's TLS port gets no answer" \
        test "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/models/$P-m/ping.txt")" = 000
    curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null "http://localhost/v1/specs/$P-m"
fi
summary
