#!/bin/bash
# Notebooks end to end against the real engine, the real daemon and the
# real Jupyter in cassiny/notebook:bookworm: launch, token, a kernel that
# computes, pinned image IDs, workspaces, delete, kill -9, containers
# removed behind the daemon's back, idle culling, and the policy.
set -u
build=$1
src=$2
SUITE=notebook
. "$src/tests/integration/lib.sh"
IMAGE=${CASS_NOTEBOOK_IMAGE:-cassiny/notebook:bookworm}
WORK=$(mktemp -d /tmp/cassiny-nb.XXXXXX)
NAME=nb-$$
VOL=ws-$$
cleanup() {
    cleanup_daemon
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.name=$NAME") >/dev/null 2>&1
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.name=$NAME-idle") >/dev/null 2>&1
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.name=$NAME-busy") >/dev/null 2>&1
    docker volume rm -f "$VOL" >/dev/null 2>&1
    [ -n "${IMAGE_ID:-}" ] && docker tag "$IMAGE_ID" "$IMAGE" >/dev/null 2>&1
    true
}
trap cleanup EXIT

if ! IMAGE_ID=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null); then
    not_ok "image $IMAGE is present (build it with packaging/images/build-notebook-image.sh)"
    summary
    exit 1
fi
write_config
# A fixed gateway port: the notebooks' URLs are on it, and stay valid across
# the daemon's restart below.
GWPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^gateway: {port: 0}/gateway: {port: $GWPORT}/" "$WORK/config.yaml"
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon starts"; summary; exit 1; }

spec() { # spec NAME [extra spec lines]
    printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: %s}\nspec:\n  image: %s\n  resources: {cpus: 1, memory: 1Gi}\n%s' "$1" "$IMAGE" "${2:-}"
}
run_field() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1" | jq -r "$2"; }

# --- launch
t0=$(date +%s%N)
code=$(apply_yaml "$(spec "$NAME" "  workspace: $VOL
")")
check "apply answers 202" test "$code" = 202
RUN=$(jq -r '.specs[0].run.id' "$WORK/body")
check "the reply carries the new run" grep -q '^r-' <<<"$RUN"
st=$(wait_run "$RUN" 120 ready)
t1=$(date +%s%N)
check "the run becomes ready (got $st in $(((t1 - t0) / 1000000)) ms)" test "$st" = ready
URL=$(run_field "$RUN" .url)
BASE=${URL%%/\?*}
PORT=$(run_field "$RUN" '.ports[0].hostPort')
TOKEN=${URL#*token=}
check "URL is on the gateway, /notebooks/NAME/, with a token" grep -qE "^http://127\.0\.0\.1:$GWPORT/notebooks/$NAME/\?token=[A-Za-z0-9_-]{43}\$" <<<"$URL"
check "Jupyter answers 200 with the token through the gateway" test "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/status?token=$TOKEN")" = 200
check "the gateway answers 401 without it" test "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/status")" = 401
check "Jupyter answers on its published port under its base URL" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/notebooks/$NAME/api/status?token=$TOKEN")" = 200
check "and 403 there without the token" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/notebooks/$NAME/api/status")" = 403
check "the URL itself opens (200 after redirects)" test "$(curl -sL -o /dev/null -w '%{http_code}' "$URL")" = 200

# A kernel started through Jupyter's REST API computes 1+1.
KID=$(curl -s -X POST "$BASE/api/kernels?token=$TOKEN" -H 'Content-Type: application/json' -d '{"name":"python3"}' | jq -r .id)
check "a kernel starts through the REST API" grep -qE '^[0-9a-f-]{36}$' <<<"$KID"
CID=$(run_field "$RUN" '.containers[0]')
exec_kernel() { # exec_kernel KERNEL_ID CODE [wait]: runs CODE in that kernel, prints its result
    docker exec -i "$CID" python3 - "$1" "$2" "${3:-wait}" <<'PY'
import sys, glob, os, time
from jupyter_client import BlockingKernelClient
from jupyter_core.paths import jupyter_runtime_dir
kid, code, mode = sys.argv[1:4]
path = os.path.join(jupyter_runtime_dir(), "kernel-%s.json" % kid)
for _ in range(100):
    if os.path.exists(path): break
    time.sleep(0.1)
c = BlockingKernelClient(connection_file=path)
c.load_connection_file()
c.start_channels()
c.wait_for_ready(timeout=30)
msg_id = c.execute(code)
if mode != "wait":
    time.sleep(1)
    sys.exit(0)
while True:
    m = c.get_iopub_msg(timeout=30)
    if m["parent_header"].get("msg_id") != msg_id: continue
    if m["msg_type"] == "execute_result":
        print(m["content"]["data"]["text/plain"]); break
    if m["msg_type"] == "error":
        print("error", m["content"]["ename"]); break
PY
}
# kernel_idle BASE TOKEN KERNEL_ID: waits (60 s at most) until the kernel is
# idle. Before that its heartbeat may not answer yet, and the client takes
# that for a dead kernel (seen on a loaded machine, hardened or not).
kernel_idle() {
    for _ in $(seq 1 120); do
        [ "$(curl -s "$1/api/kernels/$3?token=$2" | jq -r .execution_state)" = idle ] && return 0
        sleep 0.5
    done
    return 1
}
kernel_idle "$BASE" "$TOKEN" "$KID"
check "the kernel answers 1+1 = 2" test "$(exec_kernel "$KID" '1+1')" = 2

# --- the image is pinned by ID
check "the run records the image ID of docker image inspect" test "$(run_field "$RUN" .image.id)" = "$IMAGE_ID"
check "the container was created from the image ID" test "$(docker inspect --format '{{.Image}}' "$CID")" = "$IMAGE_ID"
docker tag cassiny/test-busybox:latest "$IMAGE"
code=$(apply_yaml "$(spec "$NAME" "  workspace: $VOL
")")
check "re-applying the unchanged spec after a re-tag changes nothing" jq -e '.specs[0].changed == false and .specs[0].run.id == "'"$RUN"'"' "$WORK/body"
check "the same container still runs" test "$(docker inspect --format '{{.State.Running}}' "$CID")" = true
docker tag "$IMAGE_ID" "$IMAGE"

# --- the container is hardened
check "no capabilities (CapDrop ALL)" test "$(docker inspect --format '{{json .HostConfig.CapDrop}}' "$CID")" = '["ALL"]'
check "no-new-privileges" grep -q no-new-privileges <<<"$(docker inspect --format '{{json .HostConfig.SecurityOpt}}' "$CID")"
check "not privileged" test "$(docker inspect --format '{{.HostConfig.Privileged}}' "$CID")" = false
check "not root inside" test "$(docker exec "$CID" id -u)" != 0
check "labelled with name, kind, run, revision" test "$(docker inspect --format '{{index .Config.Labels "io.cassiny.run"}}' "$CID")" = "$RUN"
check "memory limit applied" test "$(docker inspect --format '{{.HostConfig.Memory}}' "$CID")" = 1073741824
check "the root file system is read-only" test "$(docker inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$CID")" = true
check "and cannot be written to" bash -c '! docker exec "$1" touch /home/jovyan/x 2>/dev/null' _ "$CID"
check "Jupyter's home is the workspace ($(docker exec "$CID" sh -c 'echo $HOME'))" test "$(docker exec "$CID" sh -c 'echo $HOME')" = /home/jovyan/work
check "its runtime files are on the /tmp tmpfs" bash -c 'docker exec "$1" sh -c "ls /tmp/jupyter-runtime" | grep -q "^kernel-.*\.json$"' _ "$CID"

# --- the workspace survives a changed spec
docker exec "$CID" sh -c 'echo kept > /home/jovyan/work/note.txt'
code=$(apply_yaml "$(spec "$NAME" "  workspace: $VOL
  env: {CHANGED: \"yes\"}
")")
RUN2=$(jq -r '.specs[0].run.id' "$WORK/body")
check "a changed spec starts a new run" test "$RUN2" != "$RUN" -a "$code" = 202
check "the new run becomes ready" test "$(wait_run "$RUN2" 120 ready)" = ready
check "the old run is stopped as replaced" test "$(run_field "$RUN" .status)" = stopped
CID2=$(run_field "$RUN2" '.containers[0]')
check "the file written in the workspace is still there" test "$(docker exec "$CID2" cat /home/jovyan/work/note.txt)" = kept
check "the old container is gone" test -z "$(docker ps -aq --filter "id=$CID")"
check "the old run's logs were kept" test -s "$WORK/state/runs/$RUN/container.log"
code=$(curl -s --unix-socket "$SOCK" -o "$WORK/logs" -w '%{http_code}' "http://localhost/v1/runs/$RUN/logs")
check "logs of a finished run are served from the state directory" test "$code" = 200 -a -s "$WORK/logs"
code=$(curl -s --unix-socket "$SOCK" -o "$WORK/logs" -w '%{http_code}' "http://localhost/v1/runs/$RUN2/logs?tail=5")
check "logs of a live run come from the engine" test "$code" = 200 -a -s "$WORK/logs"

# --- kill -9 of the daemon and a restart keep the run and the URL
URL2=$(run_field "$RUN2" .url)
kill -9 "$DAEMON_PID"
reap "$DAEMON_PID" 30 || not_ok "cassinyd ends at kill -9"
DAEMON_PID=
start_daemon "$build" --config "$WORK/config.yaml" || not_ok "daemon restarts"
sleep 1
check "after kill -9 and restart the run is still ready" test "$(run_field "$RUN2" .status)" = ready
check "with the same URL" test "$(run_field "$RUN2" .url)" = "$URL2"
check "which still answers" test "$(curl -s -o /dev/null -w '%{http_code}' "${URL2%%/\?*}/api/status?token=${URL2#*token=}")" = 200

# --- a container removed behind the daemon's back is noticed
docker rm -f "$CID2" >/dev/null
st=$(wait_run "$RUN2" 20 failed)
check "its run is marked failed" test "$st" = failed
check "with a reason" test "$(run_field "$RUN2" .reason)" != null

# ...also when the daemon was down at the time
code=$(apply_yaml "$(spec "$NAME" "  workspace: $VOL
")")
RUN3=$(jq -r '.specs[0].run.id' "$WORK/body")
check "re-applying after a failure starts a new run" test "$(wait_run "$RUN3" 120 ready)" = ready
CID3=$(run_field "$RUN3" '.containers[0]')
stop_daemon
docker rm -f "$CID3" >/dev/null
start_daemon "$build" --config "$WORK/config.yaml" || not_ok "daemon restarts"
check "a container removed while the daemon was down is noticed at start" test "$(wait_run "$RUN3" 20 failed)" = failed
check "reason container-vanished" test "$(run_field "$RUN3" .reason)" = container-vanished

# --- an orphan (labelled, no live run) is removed at start
ORPHAN=$(docker create --label io.cassiny.run=r-00000000000000000000000000 \
    --label "io.cassiny.instance=$(cat "$WORK/state/instance")" cassiny/test-busybox:latest true)
stop_daemon
start_daemon "$build" --config "$WORK/config.yaml" || not_ok "daemon restarts"
sleep 1
check "a labelled container with no run is removed" test -z "$(docker ps -aq --filter "id=$ORPHAN")"

# --- delete and purge
code=$(apply_yaml "$(spec "$NAME" "  workspace: $VOL
")")
RUN4=$(jq -r '.specs[0].run.id' "$WORK/body")
wait_run "$RUN4" 120 ready >/dev/null
CID4=$(run_field "$RUN4" '.containers[0]')
code=$(curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null -w '%{http_code}' "http://localhost/v1/specs/$NAME")
check "delete answers 200" test "$code" = 200
check "delete removes the container" test -z "$(docker ps -aq --filter "id=$CID4")"
check "delete keeps the workspace volume" docker volume inspect "$VOL"
check "the run stays, stopped" test "$(run_field "$RUN4" .status)" = stopped
check "runs are kept after delete" test "$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs?name=$NAME" | jq '.runs | length')" -ge 4
apply_yaml "$(spec "$NAME" "  workspace: $VOL
")" >/dev/null
RUN5=$(jq -r '.specs[0].run.id' "$WORK/body")
wait_run "$RUN5" 120 ready >/dev/null
curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null "http://localhost/v1/specs/$NAME?purge=true"
check "delete --purge removes the volume too" test -z "$(docker volume ls -q --filter "name=^$VOL\$")"

# --- idle culling: an idle notebook is stopped, a busy kernel spares one
apply_yaml "$(spec "$NAME-idle" "  idleTimeout: 5s
")" >/dev/null
IDLE=$(jq -r '.specs[0].run.id' "$WORK/body")
apply_yaml "$(spec "$NAME-busy" "  idleTimeout: 5s
")" >/dev/null
BUSY=$(jq -r '.specs[0].run.id' "$WORK/body")
wait_run "$IDLE" 120 ready >/dev/null
wait_run "$BUSY" 120 ready >/dev/null
BURL=$(run_field "$BUSY" .url)
BBASE=${BURL%%/\?*}
BTOK=${BURL#*token=}
BK=$(curl -s -X POST "$BBASE/api/kernels?token=$BTOK" -H 'Content-Type: application/json' -d '{"name":"python3"}' | jq -r .id)
CID=$(run_field "$BUSY" '.containers[0]')
kernel_idle "$BBASE" "$BTOK" "$BK"
exec_kernel "$BK" 'import time; time.sleep(40)' nowait >/dev/null
st=$(wait_run "$IDLE" 30 stopped)
check "an idle notebook (idleTimeout 5s) is stopped" test "$st" = stopped
check "and the run says why" grep -q '^idle' <<<"$(run_field "$IDLE" .reason)"
sleep 6
check "a notebook with a busy kernel is spared" test "$(run_field "$BUSY" .status)" = ready
culled=$(curl -s --unix-socket "$SOCK" http://localhost/metrics | awk '$1 == "cassiny_notebooks_culled_total" { print $2 }')
check "/metrics counts the one culled notebook (cassiny_notebooks_culled_total $culled)" test "$culled" = 1

# --- policy: each rule refuses, nothing is created
before=$(docker ps -aq --filter "label=io.cassiny.instance=$(cat "$WORK/state/instance")" | wc -l)
refused() { # refused DESCRIPTION FIELD YAML
    local code
    code=$(apply_yaml "$3")
    if [ "$code" = 403 ] && jq -e --arg p "$2" '.errors[] | select(.path == $p)' "$WORK/body" >/dev/null; then
        ok "policy refuses $1 (403 naming $2)"
    else
        not_ok "policy refuses $1: got $code $(head -c 300 "$WORK/body")"
    fi
}
P='apiVersion: cassiny/v1
kind: Notebook
metadata: {name: refused}
spec:
'
refused "an image outside policy.images" spec.image "$P  image: evil/miner:latest
"
mkdir -p "$WORK/data/ok"
refused "a mount outside policy.mountRoots" 'spec.mounts[0].source' "$P  image: $IMAGE
  mounts: [{source: /etc, target: /data}]
"
refused "the Docker socket" 'spec.mounts[0].source' "$P  image: $IMAGE
  mounts: [{source: /var/run/docker.sock, target: /var/run/docker.sock}]
"
refused "a symlink out of the roots" 'spec.mounts[0].source' "$(ln -sfn /etc "$WORK/data/link"; echo "$P  image: $IMAGE
  mounts: [{source: $WORK/data/link, target: /data}]
")"
refused "memory over policy.maxMemory" spec.resources.memory "$P  image: $IMAGE
  resources: {memory: 9Gi}
"
refused "cpus over policy.maxCpus" spec.resources.cpus "$P  image: $IMAGE
  resources: {cpus: 5}
"
refused "GPUs when policy.maxGpus is 0" spec.resources.gpus "$P  image: $IMAGE
  resources: {gpus: 1}
"
after=$(docker ps -aq --filter "label=io.cassiny.instance=$(cat "$WORK/state/instance")" | wc -l)
check "refused specs created no container" test "$before" = "$after"
check "refused specs created no spec" test "$(curl -s --unix-socket "$SOCK" http://localhost/v1/specs/refused -o /dev/null -w '%{http_code}')" = 404

summary
