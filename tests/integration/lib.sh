# Shared by the integration scripts: assertions with a tally, and a private
# cassinyd on its own socket and state directory, removed at exit.
. "$(dirname "${BASH_SOURCE[0]}")/reap.sh"
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...
    local d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# Ends the suite: a daemon still running is stopped and must exit 0 (under
# ASan that also means no leak was reported), then the tally.
summary() {
    if [ -n "${DAEMON_PID:-}" ]; then
        stop_daemon
        check "cassinyd exits 0 at SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0
    fi
    echo "${SUITE:-tests}: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# start_daemon BUILD [extra cassinyd flags]: sets WORK, SOCK, HOST, DAEMON_PID
start_daemon() {
    local build=$1
    shift
    WORK=${WORK:-$(mktemp -d /tmp/cassiny-it.XXXXXX)}
    SOCK="$WORK/cassiny.sock"
    HOST="unix://$SOCK"
    mkdir -p "$WORK"
    # A suite's daemon never takes the machine's gateway port.
    case " $* " in
    *" --config "*) ;;
    *)
        printf 'gateway: {port: 0}\n' >"$WORK/default-config.yaml"
        set -- --config "$WORK/default-config.yaml" "$@"
        ;;
    esac
    # CASS_LOG_FROM_CONFIG=1: the config's logLevel, not --log-level debug
    [ "${CASS_LOG_FROM_CONFIG:-}" = 1 ] || set -- --log-level debug "$@"
    "$build/daemon/cassinyd" --state-dir "$WORK/state" --socket "$SOCK" \
        "$@" >"$WORK/cassinyd.log" 2>&1 &
    DAEMON_PID=$!
    local i=0
    until curl -fsS --unix-socket "$SOCK" http://localhost/healthz >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$DAEMON_PID" 2>/dev/null; then
            echo "cassinyd did not come up; its log:"
            cat "$WORK/cassinyd.log"
            return 1
        fi
        sleep 0.1
    done
}

stop_daemon() {
    [ -n "${DAEMON_PID:-}" ] || return 0
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    reap "$DAEMON_PID" "${CASS_STOP_SECONDS:-90}" ||
        not_ok "cassinyd ($DAEMON_PID) ends within ${CASS_STOP_SECONDS:-90} s of SIGTERM"
    DAEMON_STATUS=$REAPED
    DAEMON_PID=
}

cleanup_daemon() {
    stop_daemon
    if [ "$failed" -gt 0 ] && [ -f "${WORK:-/nonexistent}/cassinyd.log" ]; then
        echo "--- cassinyd log"
        tail -n 50 "$WORK/cassinyd.log"
    fi
    [ -n "${WORK:-}" ] && rm -rf "$WORK"
}

# remove_instances_under DIR: the containers of every daemon whose state
# directory is DIR/*/state (a suite that starts several), removed.
remove_instances_under() {
    local inst
    for inst in $(cat "$1"/*/state/instance 2>/dev/null); do
        docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$inst") >/dev/null 2>&1
    done
    true
}

# api METHOD PATH [curl args]: prints "STATUS CONTENT-TYPE" and leaves the body in $WORK/body
api() {
    local m=$1 p=$2
    shift 2
    curl -sS --unix-socket "$SOCK" -X "$m" -o "$WORK/body" \
        -w '%{http_code} %{content_type}' "$@" "http://localhost$p"
}

# run_status RUN_ID: the run's status (a suite whose API is elsewhere
# defines its own after sourcing this file)
run_status() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1" | jq -r .status; }

# wait_run RUN_ID SECONDS STATUS...: polls until the run has one of the
# statuses (or any final one); prints the status it ended in.
wait_run() {
    local id=$1 secs=$2
    shift 2
    local end=$(($(date +%s) + secs)) st
    while :; do
        st=$(run_status "$id")
        for want in "$@" succeeded failed stopped; do
            [ "$st" = "$want" ] && { echo "$st"; return 0; }
        done
        [ "$(date +%s)" -ge $end ] && { echo "$st"; return 1; }
        sleep 0.2
    done
}

# apply_yaml YAML: POSTs a spec, leaves the reply in $WORK/body, prints the status code.
apply_yaml() {
    curl -sS --unix-socket "$SOCK" -X POST -o "$WORK/body" -w '%{http_code}' \
        -H 'Content-Type: application/yaml' --data-binary "$1" http://localhost/v1/specs
}

# launch YAML: applies it and prints the run id (empty, and why on stderr, on failure)
launch() {
    local code
    code=$(apply_yaml "$1")
    [ "$code" = 202 ] || { echo "apply answered $code: $(head -c 300 "$WORK/body")" >&2; return 1; }
    jq -r '.specs[0].run.id' "$WORK/body"
}

# A private config: images of the project (and the pattern in
# $IMAGES_EXTRA, when set), mounts under $WORK/data.
write_config() {
    mkdir -p "$WORK/data"
    cat >"$WORK/config.yaml" <<CFG
policy:
  images: ["cassiny/*"${IMAGES_EXTRA:+, \"$IMAGES_EXTRA\"}]
  mountRoots: ["$WORK/data"]
  maxCpus: 4
  maxMemory: 8Gi
  maxGpus: 0
gateway: {port: 0}
CFG
}

# usage DESCRIPTION ARGS...: cassinyctl (the suite's `c` function) must exit
# 2 with a message for bad usage.
usage() {
    local d=$1
    shift
    c "$@" >/dev/null 2>"$WORK/err"
    local rc=$?
    if [ $rc = 2 ] && [ -s "$WORK/err" ]; then ok "$d exits 2"; else not_ok "$d exits 2 (rc=$rc)"; fi
}

# make_httpd_image TAG LABEL BUSYBOX: an image from BUSYBOX running busybox
# httpd on $CASSINY_MODEL_PORT (a model replica's stand-in) that serves
# /ping.txt ("pong") and /health.txt, labelled io.cassiny.test=LABEL.
make_httpd_image() {
    local tag=$1 label=$2 busybox=$3 dir cid rc
    dir=$(mktemp -d /tmp/cassiny-httpd.XXXXXX)
    mkdir -p "$dir/www/api"
    echo pong >"$dir/www/ping.txt"
    echo ok >"$dir/www/health.txt"
    # What a notebook's readiness check and idle culling read of Jupyter.
    printf '{"started": "2026-01-01T00:00:00.000000Z", "last_activity": "2026-01-01T00:00:00.000000Z", "connections": 0, "kernels": 0}\n' \
        >"$dir/www/api/status"
    chmod -R a+rX "$dir"
    cid=$(docker create --label "io.cassiny.test=$label" "$busybox" true) || { rm -rf "$dir"; return 1; }
    docker cp "$dir/www" "$cid:/www" &&
        docker commit --change 'CMD ["sh", "-c", "exec httpd -f -p ${CASSINY_MODEL_PORT:-8080} -h /www"]' \
            --change "LABEL io.cassiny.test=$label" "$cid" "$tag" >/dev/null
    rc=$?
    docker rm "$cid" >/dev/null
    rm -rf "$dir"
    return $rc
}

# A throwaway PKI in $PKI (openssl's output in $PKI/openssl.log):
# newca NAME makes a CA (NAME.pem, NAME.key); issue NAME CA EXTENSIONS a
# certificate of NAME signed by CA with those x509v3 extensions.
pki() { openssl "$@" >>"$PKI/openssl.log" 2>&1; }
newca() {
    pki req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=cassiny test $1" -keyout "$PKI/$1.key" -out "$PKI/$1.pem"
}
issue() {
    pki req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr" &&
        printf '%s\n' "$3" >"$PKI/$1.ext" &&
        pki x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.pem" -CAkey "$PKI/$2.key" -CAcreateserial \
            -days 2 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem"
}
