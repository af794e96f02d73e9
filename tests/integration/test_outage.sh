#!/bin/bash
# Faults of the ground under the daemon, on a private Docker Engine (its own
# socket, data root and bridge; the machine's engine is never touched) and a
# private cassinyd pointed at it:
#   engine   the engine stopped and started again: /healthz and /metrics say
#            so within 2 s; specs applied meanwhile wait (pending,
#            engine-unavailable) and run when it is back, or fail with that
#            reason past limits.engineWaitSeconds; a Model's spec keeps
#            pointing at the revision that serves (and says it is degraded
#            while no replica answers); a notebook killed by the engine's
#            restart is started again, workspace kept.
#   disk     the state directory on an 8 MiB tmpfs filled while jobs run:
#            /healthz and /metrics say disk-full, apply answers 507, no job's
#            container goes before its end is recorded, a cut log says so;
#            the filler deleted, the daemon recovers by itself and the jobs'
#            records are whole.
# Prints the measured times of /healthz after each engine change.
set -u
build=$1
src=$2
SUITE=outage
. "$src/tests/integration/lib.sh"
BUSYBOX=${CASS_TEST_IMAGE:-cassiny/test-busybox:latest}
ROOT=$(mktemp -d /tmp/cassiny-out.XXXXXX)
ENG="$ROOT/engine"
BR=cassout$(($$ % 100000))
NET=10.$((200 + $$ % 50)).$(($$ % 250)).1/24
HTTPD=cassiny/outage-httpd:v1
P=out-$$
ctl="$build/cli/cassinyctl"
ENGINE_PID=
DISK=

D() { docker -H "unix://$ENG/docker.sock" "$@"; }
engine_up() { curl -fsS --max-time 1 --unix-socket "$ENG/docker.sock" http://localhost/_ping >/dev/null 2>&1; }
start_engine() {
    mkdir -p "$ENG"
    dockerd --host "unix://$ENG/docker.sock" --data-root "$ENG/data" --exec-root "$ENG/exec" \
        --pidfile "$ENG/docker.pid" --bridge="$BR" --iptables=false --ip-masq=false \
        --shutdown-timeout 2 >>"$ENG/dockerd.log" 2>&1 &
    ENGINE_PID=$!
}
stop_engine() {
    [ -n "$ENGINE_PID" ] || return 0
    kill -TERM "$ENGINE_PID" 2>/dev/null
    wait "$ENGINE_PID" 2>/dev/null
    ENGINE_PID=
}
cleanup() {
    cleanup_daemon_here
    if [ -n "$ENGINE_PID" ]; then
        D rm -f $(D ps -aq) >/dev/null 2>&1
        stop_engine
    fi
    # Shims the private engine left behind (they outlive it), by their ids.
    local p
    for p in $(grep -l -s -F "$ENG/exec" /proc/[0-9]*/cmdline | cut -d/ -f3); do
        kill "$p" 2>/dev/null
    done
    # What the engine left mounted (a container's overlay it did not clean), then its own.
    local m
    for m in $(awk -v r="$ROOT/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    ip link del "$BR" 2>/dev/null
    [ -n "${CASS_KEEP:-}" ] || rm -rf "$ROOT"
    true
}
cleanup_daemon_here() {
    stop_daemon
    if [ "$failed" -gt 0 ] && [ -f "${WORK:-/nonexistent}/cassinyd.log" ]; then
        echo "--- cassinyd log"
        tail -n 60 "$WORK/cassinyd.log"
    fi
}
trap cleanup EXIT

ms() { echo $(($(date +%s%N) / 1000000)); }
hz() { curl -s --max-time 2 --unix-socket "$SOCK" http://localhost/healthz | jq -r ".$1"; }
metric() { curl -s --max-time 2 --unix-socket "$SOCK" http://localhost/metrics | awk -v k="$1" '$1 == k {print $2}'; }
run_field() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1" | jq -r "$2"; }
spec_field() { curl -s --unix-socket "$SOCK" "http://localhost/v1/specs/$1" | jq -r "$2"; }
# until_true SECONDS COMMAND...: polls every 0.1 s; 0 when it held in time
until_true() {
    local end=$(($(ms) + $1 * 1000))
    shift
    until "$@"; do
        [ "$(ms)" -ge $end ] && return 1
        sleep 0.1
    done
}
# health_after ENGINE_STATE HEALTH: ms from the engine being in that state
# (as its own socket says) to /healthz saying HEALTH
health_after() {
    local want_up=$1 health=$2 t0= now
    local end=$(($(ms) + 60000))
    while [ "$(ms)" -lt $end ]; do
        now=$(ms)
        if [ -z "$t0" ]; then
            if { [ "$want_up" = up ] && engine_up; } || { [ "$want_up" = down ] && ! engine_up; }; then
                t0=$now
            fi
        fi
        if [ -n "$t0" ] && [ "$(hz engine)" = "$health" ]; then
            echo $(($(ms) - t0))
            return 0
        fi
        sleep 0.05
    done
    echo timeout
    return 1
}
# is 'COMMAND' VALUE: the command's output is VALUE (for until_true, which runs it again)
is() { [ "$(eval "$1")" = "$2" ]; }
within_2s() { [ "$1" != timeout ] && [ "$1" -le 2000 ]; }

job() { # job NAME COMMAND-AS-YAML-LIST
    printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: %s\n  resources: {cpus: 250m, memory: 32Mi}\n' \
        "$1" "$BUSYBOX" "$2"
}
notebook() { # notebook NAME WORKSPACE [restart]
    printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: %s}\nspec:\n  image: %s\n  port: 8080\n  workspace: %s\n  resources: {cpus: 250m, memory: 64Mi}\n%s' \
        "$1" "$HTTPD" "$2" "${3:+  restart: $3
}"
}
model() { # model NAME VERSION
    printf 'apiVersion: cassiny/v1\nkind: Model\nmetadata: {name: %s}\nspec:\n  image: %s\n  artifact: %s\n  version: %s\n  replicas: 1\n  health: {path: /cgi-bin/health, intervalSeconds: 1, timeoutSeconds: 1}\n  resources: {cpus: 250m, memory: 64Mi}\n' \
        "$1" "$HTTPD" "$WORK/data/model.bin" "$2"
}

# --- the private engine and its images
if ! ip link add name "$BR" type bridge || ! ip addr add "$NET" dev "$BR" || ! ip link set "$BR" up; then
    not_ok "a private bridge $BR for the private engine"
    summary
    exit 1
fi
start_engine
until_true 30 engine_up || { not_ok "the private engine answers"; tail -n 20 "$ENG/dockerd.log"; summary; exit 1; }
docker save "$BUSYBOX" | D load >/dev/null || { not_ok "$BUSYBOX loads into the private engine"; summary; exit 1; }
mkdir -p "$ROOT/image/www/cgi-bin" "$ROOT/image/www/api" "$ROOT/image/app"
printf '{"started": "2026-01-01T00:00:00.000000Z", "last_activity": "2026-01-01T00:00:00.000000Z", "connections": 0, "kernels": 0}\n' >"$ROOT/image/www/api/status"
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nok\\n"\n' >"$ROOT/image/www/cgi-bin/health"
printf '#!/bin/sh\nexec httpd -f -p "${CASSINY_MODEL_PORT:-8080}" -h /www\n' >"$ROOT/image/app/start.sh"
chmod -R a+rX "$ROOT/image"
chmod 755 "$ROOT/image/www/cgi-bin/health" "$ROOT/image/app/start.sh"
cid=$(D create "$BUSYBOX" true) && D cp "$ROOT/image/www" "$cid:/www" && D cp "$ROOT/image/app" "$cid:/app" &&
    D commit --change 'CMD ["/app/start.sh"]' "$cid" "$HTTPD" >/dev/null && D rm "$cid" >/dev/null ||
    { not_ok "the stand-in image builds in the private engine"; summary; exit 1; }

# ====================================================================== engine
WORK="$ROOT/engine-daemon"
mkdir -p "$WORK"
write_config
echo "model bytes" >"$WORK/data/model.bin"
cat >>"$WORK/config.yaml" <<CFG
dockerHost: unix://$ENG/docker.sock
limits: {engineWaitSeconds: 15}
CFG
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon starts"; summary; exit 1; }
check "the engine is connected at start" until_true 5 is 'hz engine' connected
check "cassiny_engine_connected is 1" test "$(metric cassiny_engine_connected)" = 1
reconnects0=$(metric cassiny_engine_reconnects_total)

NB=$(launch "$(notebook "$P-nb" "$P-ws")")
MODEL=$(launch "$(model "$P-m" v1)")
check "the notebook becomes ready" test "$(wait_run "$NB" 60 ready)" = ready
check "the model v1 becomes ready" test "$(wait_run "$MODEL" 60 ready)" = ready
NB_CID=$(run_field "$NB" '.containers[0]')
NB_TOKEN=$(run_field "$NB" .token)
WS_DIR=$(D inspect -f '{{range .Mounts}}{{if eq .Type "volume"}}{{.Destination}}{{end}}{{end}}' "$NB_CID")
check "the notebook's workspace is a volume ($WS_DIR) that takes a file" D exec "$NB_CID" sh -c "echo kept >'$WS_DIR/note.txt'"
V1_REV=$(spec_field "$P-m" .revision)

# --- the engine stops
kill -TERM "$ENGINE_PID"
down_ms=$(health_after down unreachable)
wait "$ENGINE_PID" 2>/dev/null
ENGINE_PID=
check "/healthz says unreachable within 2 s of the engine going (${down_ms} ms)" within_2s "$down_ms"
check "cassiny_engine_connected is 0" test "$(metric cassiny_engine_connected)" = 0
t_down=$(ms)

# Applied now: waits, and past limits.engineWaitSeconds (15 s) fails with the reason.
LATE=$(launch "$(job "$P-late" '[echo, late]')")
sleep 1.5
check "a job applied while the engine is down is pending, not failed (got $(run_field "$LATE" .status)/$(run_field "$LATE" .reason))" \
    test "$(run_field "$LATE" .status)/$(run_field "$LATE" .reason)" = pending/engine-unavailable
check "it never says image-not-found" test "$(run_field "$LATE" .reason)" != image-not-found
check "cassinyctl describe shows the reason" bash -c "'$ctl' --host '$HOST' describe '$P-late' | grep -q engine-unavailable"
check "the model says it is degraded: engine-unavailable ($(spec_field "$P-m" '.degraded // "-"'))" \
    until_true 10 is "spec_field $P-m '.degraded // empty'" engine-unavailable
check "cassinyctl get shows the model degraded" bash -c "'$ctl' --host '$HOST' get '$P-m' | grep -q 'degraded: engine-unavailable'"
st=$(wait_run "$LATE" 20 failed)
waited=$((($(ms) - t_down) / 1000))
check "past engineWaitSeconds (15 s) it fails, not before (got $st after $waited s)" test "$st" = failed -a "$waited" -ge 14
check "with reason engine-unavailable and a message naming the limit ($(run_field "$LATE" .error | head -c 80))" \
    bash -c "[ '$(run_field "$LATE" .reason)' = engine-unavailable ] && grep -q limits.engineWaitSeconds <<<'$(run_field "$LATE" .error)'"

# Applied a few seconds before the engine returns: they wait and then run.
JOBS=()
for i in 1 2 3; do JOBS+=("$(launch "$(job "$P-j$i" "[sh, -c, \"echo job $i\"]")")"); done
V2=$(launch "$(model "$P-m" v2)")
sleep 1.5
n=0
for j in "${JOBS[@]}"; do
    [ "$(run_field "$j" .status)/$(run_field "$j" .reason)" = pending/engine-unavailable ] && n=$((n + 1))
done
check "3 jobs applied meanwhile wait as pending/engine-unavailable ($n)" test $n = 3
check "the model's v2 waits as pending/engine-unavailable" test "$(run_field "$V2" .status)/$(run_field "$V2" .reason)" = pending/engine-unavailable
check "the spec still points at v1, which serves" test "$(spec_field "$P-m" .runId)" = "$MODEL" -a "$(spec_field "$P-m" .revision)" = "$V1_REV"
check "get shows the model ready (v1), not failed" test "$(spec_field "$P-m" .status)" = ready
code=$(apply_yaml "$(model "$P-m" v2)")
check "applying v2 again returns the waiting run, unchanged ($code)" test "$(jq -r '.specs[0].run.id + " " + (.specs[0].changed|tostring)' "$WORK/body")" = "$V2 false"

# --- the engine comes back
start_engine
up_ms=$(health_after up connected)
check "/healthz says connected within 2 s of the engine answering (${up_ms} ms)" within_2s "$up_ms"
check "cassiny_engine_connected is 1 again" test "$(metric cassiny_engine_connected)" = 1
check "cassiny_engine_reconnects_total went up" test "$(metric cassiny_engine_reconnects_total)" -gt "$reconnects0"
n=0
for j in "${JOBS[@]}"; do [ "$(wait_run "$j" 60 succeeded)" = succeeded ] && n=$((n + 1)); done
check "the 3 waiting jobs ran and succeeded ($n)" test $n = 3
check "their logs are theirs" test "$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/${JOBS[1]}/logs")" = "job 2"
check "the model's v2 takes over ($(wait_run "$V2" 60 ready))" test "$(run_field "$V2" .status)" = ready
check "and the spec points at it" until_true 5 is "spec_field $P-m .runId" "$V2"
check "the model is no longer degraded" until_true 10 is "spec_field $P-m '.degraded // empty'" ""
# Its record said ready all along (nobody could tell): wait for the restart
# itself, which the reconcile after the engine's return starts.
restarted() { [ "$(run_field "$NB" '.restarts // 0')" -ge 1 ] && [ "$(run_field "$NB" .status)" = ready ]; }
check "the notebook was restarted in the same run, and is ready again (restarts $(until_true 60 restarted; run_field "$NB" '.restarts // 0'), $(run_field "$NB" .status))" restarted
NB_CID2=$(run_field "$NB" '.containers[0]')
url=$(run_field "$NB" .url)
# In place as a rule; a new container of the same run when the restarted
# engine refuses to start the old one ("task ... already exists").
echo "# the notebook's container after the engine restart: ${NB_CID2:0:12} ($([ "$NB_CID2" = "$NB_CID" ] && echo the same || echo a new one))"
check "its container runs" test "$(D inspect -f '{{.State.Running}}' "$NB_CID2" 2>&1)" = true
check "its workspace kept ($(D exec "$NB_CID2" cat "$WS_DIR/note.txt" 2>&1))" is "D exec $NB_CID2 cat '$WS_DIR/note.txt'" kept
check "its token kept" test "${url#*token=}" = "$NB_TOKEN" -a -n "$NB_TOKEN"
check "its URL answers" test "$(curl -s -o /dev/null -w '%{http_code}' "${url%%/\?*}/api/status?token=${url#*token=}")" = 200
NEVER=$(launch "$(notebook "$P-nv" "$P-ws2" never)")
check "a notebook with restart: never becomes ready" test "$(wait_run "$NEVER" 60 ready)" = ready
kill -TERM "$ENGINE_PID"
down2_ms=$(health_after down unreachable)
wait "$ENGINE_PID" 2>/dev/null
ENGINE_PID=
check "/healthz says unreachable within 2 s of the second stop (${down2_ms} ms)" within_2s "$down2_ms"
start_engine
up2_ms=$(health_after up connected)
check "/healthz says connected within 2 s of the second start (${up2_ms} ms)" within_2s "$up2_ms"
echo "# healthz after the engine changed, ms: down $down_ms $down2_ms, up $up_ms $up2_ms"
check "after another engine restart, restart: always is ready again" test "$(wait_run "$NB" 60 ready)" = ready
check "and restart: never is failed ($(wait_run "$NEVER" 30 failed))" test "$(run_field "$NEVER" .status)" = failed
stop_daemon
check "cassinyd exits 0 at SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0
cleanup_daemon_here

# ======================================================================== disk
WORK="$ROOT/disk-daemon"
mkdir -p "$WORK/state"
DISK="$WORK/state"
mount -t tmpfs -o size=8m,mode=0700 "cassiny-test" "$DISK" || { not_ok "a tmpfs state directory"; summary; exit 1; }
write_config
echo "dockerHost: unix://$ENG/docker.sock" >>"$WORK/config.yaml"
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon on the tmpfs starts"; summary; exit 1; }
check "the store is ok at start" test "$(hz store)" = ok
# ~280 KB of output each, then a pause in which the disk is filled to 128 KiB
# short of full: the first log to be kept meets the end of the disk.
talk='[sh, -c, "i=0; while [ $i -lt 8000 ]; do echo \"line $i of a job that talks a lot\"; i=$((i+1)); done; sleep 6; echo done"]'
A=$(launch "$(job "$P-da" "$talk")")
B=$(launch "$(job "$P-db" "$talk")")
wait_run "$A" 30 running >/dev/null
wait_run "$B" 30 running >/dev/null
avail=$(df --output=avail -B1 "$DISK" | tail -n 1)
dd if=/dev/zero of="$DISK/filler" bs=4096 count=$(((avail - 131072) / 4096)) 2>/dev/null
exited() { [ "$(D inspect -f '{{.State.Status}}' "$(run_field "$1" '.containers[0]')" 2>/dev/null)" = exited ]; }
check "both jobs end while the disk is nearly full" until_true 20 eval 'exited "$A" && exited "$B"'
check "/healthz says store disk-full" until_true 5 is 'hz store' disk-full
check "cassiny_store_disk_full is 1" test "$(metric cassiny_store_disk_full)" = 1
code=$(api POST /v1/specs -H 'Content-Type: application/yaml' --data-binary "$(job "$P-new" '[echo, hi]')")
check "apply answers 507 problem+json ($code)" test "$code" = "507 application/problem+json"
check "saying why" grep -q 'full' "$WORK/body"
code=$(api POST "/v1/runs/$A/reproduce")
check "reproduce answers 507 too (${code%% *})" test "${code%% *}" = 507
sleep 2
cut=0
for r in "$A" "$B"; do
    cid=$(run_field "$r" '.containers[0]')
    st=$(run_field "$r" .status)
    present=$(D inspect -f '{{.State.Status}}' "$cid" 2>/dev/null || echo gone)
    check "job $r ended during the full disk: its container stays until its record and log are whole (status $st, container $present)" \
        test "$present" = exited
    if [ -f "$DISK/runs/$r/container.log" ]; then
        cut=$((cut + 1))
        check "its kept log, cut by the full disk, ends with the note ($(tail -n 1 "$DISK/runs/$r/container.log" | head -c 100))" \
            bash -c "tail -n 1 '$DISK/runs/$r/container.log' | grep -q '^\[cassiny: log cut here'"
        # The run says so too, unless its record itself waits for room.
        [ "$st" = running ] || check "and the run says so (logTruncated $(run_field "$r" .logTruncated))" \
            test "$(run_field "$r" .logTruncated)" = true
    fi
done
check "one of the logs was cut by the disk ($cut)" test "$cut" -ge 1
rm -f "$DISK/filler"
check "the daemon recovers by itself: /healthz store ok" until_true 8 is 'hz store' ok
check "cassiny_store_disk_full is 0" test "$(metric cassiny_store_disk_full)" = 0
for r in "$A" "$B"; do
    check "job $r: succeeded with exit code 0 ($(wait_run "$r" 30 succeeded)/$(run_field "$r" .exitCode))" \
        test "$(run_field "$r" .status)/$(run_field "$r" .exitCode)" = succeeded/0
    check "job $r: its container goes once its record is written" until_true 15 bash -c "! docker -H 'unix://$ENG/docker.sock' inspect '$(run_field "$r" '.containers[0]')' >/dev/null 2>&1"
    check "job $r: its whole log is kept (logTruncated $(run_field "$r" '.logTruncated // false'))" \
        test "$(run_field "$r" '.logTruncated // false')" = false
    lines=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r/logs" | grep -c 'of a job that talks')
    check "job $r: all 8000 lines and the end are in its log ($lines)" \
        bash -c "[ $lines = 8000 ] && curl -s --unix-socket '$SOCK' 'http://localhost/v1/runs/$r/logs' | tail -n 1 | grep -qx done"
    check "job $r: its end is the engine's (finishedAt $(run_field "$r" .finishedAt))" test "$(run_field "$r" .finishedAt)" != null
done
check "apply works again (202)" test "$(apply_yaml "$(job "$P-after" '[echo, after]')")" = 202
summary
