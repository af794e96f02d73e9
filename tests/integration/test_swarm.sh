#!/bin/bash
# The Swarm backend on a real multi-node Swarm: the lab of
# packaging/swarm/lab.sh (Docker-in-Docker nodes and a registry on this
# machine), one already up when `lab.sh env` finds one, else started here and
# taken down at the end (CASSINY_LAB_KEEP=1 keeps it). A private cassinyd
# with engine: swarm on the lab's manager runs: 12 Jobs from one file,
# spread over at least two nodes; a reproduction on another node, identical;
# a Notebook ready with its workspace kept across a restart; a Model of 3
# replicas on at least two nodes through the gateway, rolled to a new
# version and a broken one rolled back under a request loop with zero failed
# requests; and a node drained under the loop, its replicas moved, zero
# failed. The shared host engine is never a Swarm member: only the lab's
# nodes are. CASS_ONLY=jobs|models|notebook|drain runs one part (drain
# starts the model it drains).
set -u
build=$1
src=$2
SUITE=swarm
. "$src/tests/integration/lib.sh"
LAB="$src/packaging/swarm/lab.sh"
CTL=("$build/cli/cassinyctl")
P=sw$$ # prefix of every spec name of this run
ONLY=${CASS_ONLY:-}
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
jqe() { jq -e "$@" >/dev/null; }
LOOP_PID=
STARTED_LAB=0

if lab_env=$("$LAB" env 2>/dev/null); then
    echo "# using the lab that is up"
else
    echo "# starting a lab (packaging/swarm/lab.sh up)"
    if ! "$LAB" up >"/tmp/cassiny-lab-up.$$.log" 2>&1; then
        tail -n 30 "/tmp/cassiny-lab-up.$$.log"
        not_ok "lab.sh up"
        summary
        exit 1
    fi
    rm -f "/tmp/cassiny-lab-up.$$.log"
    STARTED_LAB=1
    lab_env=$("$LAB" env)
fi
eval "$lab_env"
mdocker() { DOCKER_API_VERSION=1.41 docker -H "$CASSINY_LAB_DOCKER_HOST" "$@"; }
REG=$CASSINY_LAB_REGISTRY
BUSYBOX=$REG/cassiny/test-busybox:latest
MODEL_IMAGE=$REG/cassiny/model-server:bookworm
NOTEBOOK=$REG/cassiny/notebook:bookworm

# Everything a task mounts is on the shared root, which every node has at
# the same path: the state directory (job outputs) and the data.
WORK=$(mktemp -d "$CASSINY_LAB_SHARED/it-swarm.XXXXXX")
chmod 711 "$WORK"
mkdir -p "$WORK/data"
chmod 755 "$WORK/data"

cleanup() {
    [ -n "$LOOP_PID" ] && kill "$LOOP_PID" 2>/dev/null
    local inst
    inst=$(cat "$WORK/state/instance" 2>/dev/null)
    stop_daemon
    if [ -n "$inst" ]; then
        # shellcheck disable=SC2046 # ids are words
        mdocker service rm $(mdocker service ls -q --filter "label=io.cassiny.instance=$inst") \
            >/dev/null 2>&1
        # shellcheck disable=SC2046 # ids are words
        mdocker volume rm $(mdocker volume ls -q --filter "label=io.cassiny.instance=$inst") \
            >/dev/null 2>&1
    fi
    for n in $CASSINY_LAB_NODES; do
        mdocker node update --availability active "$n" >/dev/null 2>&1
    done
    cleanup_daemon
    if [ "$STARTED_LAB" = 1 ] && [ "${CASSINY_LAB_KEEP:-}" != 1 ]; then
        "$LAB" down >/dev/null 2>&1
    fi
    true
}
trap cleanup EXIT

cat >"$WORK/config.yaml" <<CFG
dockerHost: $CASSINY_LAB_DOCKER_HOST
engine: swarm
registries: [$REG]
policy:
  images: ["cassiny/*", "$REG/cassiny/*"]
  mountRoots: ["$WORK/data"]
  maxCpus: 4
  maxMemory: 8Gi
  maxGpus: 1
gateway: {port: 0}
limits: {maxRunningJobs: 6}
CFG
start_daemon "$build" --config "$WORK/config.yaml" || {
    not_ok "cassinyd starts on the lab"
    summary
    exit 1
}
c() { "${CTL[@]}" --host "$HOST" "$@"; }
run_json() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1"; }
run_field() { run_json "$1" | jq -r "$2"; }
node_of() { run_json "$1" | jq -r '[.nodes // {} | .[]] | .[0] // ""'; }
check "the daemon runs on the swarm backend" \
    jqe '.backend == "swarm"' <<<"$(curl -s --unix-socket "$SOCK" http://localhost/healthz)"

job() { # job NAME COMMAND
    printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  resources: {cpus: 0.1, memory: 64Mi}\n  outputs: /outputs\n  command: [sh, -c, %s]\n' \
        "$1" "$BUSYBOX" "$2"
}

# --- jobs -----------------------------------------------------------------------------
if want jobs; then
    file=
    for i in $(seq 1 12); do
        file+="$(job "$P-j$i" "'sleep 2; echo result-$i > /outputs/r.txt; echo done $i'")"$'\n---\n'
    done
    code=$(apply_yaml "$file")
    check "12 jobs in one file are accepted (got $code)" test "$code" = 202
    ids=$(jq -r '.specs[].run.id' "$WORK/body")
    check "12 runs" test "$(wc -w <<<"$ids")" = 12
    all_ok=1
    for id in $ids; do
        st=$(wait_run "$id" 240)
        [ "$st" = succeeded ] || { all_ok=0; echo "# $id: $st: $(run_field "$id" .error)"; }
    done
    check "all 12 succeed" test "$all_ok" = 1
    nodes=$(for id in $ids; do node_of "$id"; done | sort -u | grep -c .)
    check "their tasks ran on at least two nodes ($nodes)" test "$nodes" -ge 2
    first=$(head -n 1 <<<"$ids")
    check "outputs are hashed where the daemon sees them" \
        jqe '.outputs == [{"path":"r.txt","size":9,"sha256":"'"$(printf 'result-1\n' | sha256sum | cut -d' ' -f1)"'"}]' \
        <<<"$(run_json "$first")"
    check "its logs are kept from the service" grep -q 'done 1' <<<"$(c logs "$first" 2>&1)"
    check "the service is gone once the run ended" \
        test -z "$(mdocker service ls -q --filter "label=io.cassiny.run=$first")"
    check "describe names the node" grep -q "Nodes: .* on $(node_of "$first")" <<<"$(c describe "$P-j1" 2>&1)"

    # A reproduction on another node: the first one's node drained meanwhile.
    was=$(node_of "$first")
    mdocker node update --availability drain "$was" >/dev/null
    code=$(api POST "/v1/runs/$first/reproduce")
    again=$(jq -r .id "$WORK/body")
    st=$(wait_run "$again" 120)
    mdocker node update --availability active "$was" >/dev/null
    check "the reproduction succeeds (got $st)" test "$st" = succeeded
    check "on another node ($(node_of "$again"), not $was)" \
        test -n "$(node_of "$again")" -a "$(node_of "$again")" != "$was"
    check "identical to the original" jqe '.comparison.identical == true' <<<"$(run_json "$again")"
    check "with the same image" test "$(run_field "$again" .image.id)" = "$(run_field "$first" .image.id)"

    # A tag moved in the registry: a reproduction runs the digest its
    # original recorded, not what the tag names now.
    MOVED=$REG/cassiny/test-busybox:moved-$P
    mdocker pull -q "$BUSYBOX" >/dev/null 2>&1
    mdocker tag "$BUSYBOX" "$MOVED" && mdocker push -q "$MOVED" >/dev/null 2>&1
    tj=$(launch "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  resources: {cpus: 0.1, memory: 64Mi}\n  outputs: /outputs\n  command: [sh, -c, "if [ -e /moved ]; then echo moved; else echo original; fi > /outputs/which.txt"]\n' "$P-tag" "$MOVED")")
    st=$([ -n "$tj" ] && wait_run "$tj" 120)
    pinned=$(run_field "$tj" '.image.repoDigests[0] // ""')
    check "a job of a registry tag succeeds, pinned by digest ($st, ${pinned:-none})" \
        bash -c '[ "$1" = succeeded ] && [[ $2 == *@sha256:* ]]' _ "$st" "$pinned"
    mdocker rm -f "$P-mv" >/dev/null 2>&1
    mdocker run --user 0 --name "$P-mv" "$MOVED" touch /moved >/dev/null 2>&1 &&
        mdocker commit "$P-mv" "$MOVED" >/dev/null && mdocker push -q "$MOVED" >/dev/null 2>&1
    mdocker rm -f "$P-mv" >/dev/null 2>&1
    now=$(mdocker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$MOVED" 2>/dev/null | grep -m1 '@sha256:')
    check "the tag now names another image (${now##*@})" test -n "$now" -a "${now##*@}" != "${pinned##*@}"
    code=$(api POST "/v1/runs/$tj/reproduce")
    tr2=$(jq -r .id "$WORK/body")
    st=$(wait_run "$tr2" 120)
    check "its reproduction runs the recorded digest (${st}, $(run_field "$tr2" '.image.repoDigests[0] // ""'))" \
        test "$st $(run_field "$tr2" '.image.repoDigests[0] // ""')" = "succeeded $pinned"
    check "and its outputs are the original's (not the moved tag's)" jqe '.comparison.identical == true' <<<"$(run_json "$tr2")"

    bad=$(launch "$(job "$P-bad" "'exit 3'")")
    st=$(wait_run "$bad" 120)
    check "a job exiting 3 fails with its exit code ($st $(run_field "$bad" .exitCode))" \
        test "$st $(run_field "$bad" .exitCode)" = "failed 3"
    slow=$(launch "$(job "$P-slow" "'echo started; sleep 120'")
  timeoutSeconds: 4
")
    st=$(wait_run "$slow" 90)
    check "a job past its timeoutSeconds is stopped: failed, timeout ($st $(run_field "$slow" .reason))" \
        test "$st $(run_field "$slow" .reason)" = "failed timeout"
    check "its output is kept" grep -q started <<<"$(c logs "$slow" 2>&1)"
    gone=$(launch "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  outputs: /outputs\n  inputs: [{source: %s, target: /in}]\n  command: [sh, -c, "ls /in"]\n' \
        "$P-in" "$BUSYBOX" "$WORK/data/in")" 2>/dev/null)
    [ -z "$gone" ] && ok "a job whose input is missing is refused at apply" ||
        { st=$(wait_run "$gone" 60); check "a job whose input is missing fails ($st)" test "$st" = failed; }
fi

# --- notebook -------------------------------------------------------------------------
if want notebook; then
    NB=$P-nb
    VOL=$P-ws
    nb_spec() {
        printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: %s}\nspec:\n  image: %s\n  resources: {cpus: 0.5, memory: 768Mi}\n  workspace: %s\n' \
            "$NB" "$NOTEBOOK" "$VOL"
    }
    code=$(apply_yaml "$(nb_spec)")
    NR=$(jq -r '.specs[0].run.id' "$WORK/body")
    st=$(wait_run "$NR" 400 ready)
    check "a notebook is ready on the swarm (got $st: $(run_field "$NR" .error))" test "$st" = ready
    URL=$(run_field "$NR" .url)
    BASE=${URL%%/\?*}
    TOKEN=${URL#*token=}
    check "Jupyter answers through the gateway with its token" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/status?token=$TOKEN")" = 200
    manager=$(mdocker node ls --filter role=manager --format '{{.Hostname}}' | head -n 1)
    check "it runs where its workspace volume is (the manager, $manager)" \
        test "$(node_of "$NR")" = "$manager"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$BASE/api/contents/kept.txt?token=$TOKEN" \
        -H 'Content-Type: application/json' -d '{"type":"file","format":"text","content":"kept across restarts"}')
    check "a file is written into the workspace ($code)" test "$code" = 201

    # The daemon restarts, then the notebook is stopped and launched again.
    stop_daemon
    start_daemon "$build" --config "$WORK/config.yaml" || not_ok "cassinyd starts again"
    st=$(wait_run "$NR" 120 ready)
    check "after a daemon restart the notebook is still ready (got $st)" test "$st" = ready
    c delete "$NB" >/dev/null 2>&1
    code=$(apply_yaml "$(nb_spec)")
    NR2=$(jq -r '.specs[0].run.id' "$WORK/body")
    st=$(wait_run "$NR2" 300 ready)
    check "launched again, it is ready (got $st: $(run_field "$NR2" .error))" test "$st" = ready
    URL=$(run_field "$NR2" .url)
    BASE=${URL%%/\?*}
    TOKEN=${URL#*token=}
    got=$(curl -s "$BASE/api/contents/kept.txt?token=$TOKEN" | jq -r .content)
    check "its workspace survived (${got:-nothing})" test "$got" = "kept across restarts"
    c delete "$NB" --purge >/dev/null 2>&1
fi

# --- models ---------------------------------------------------------------------------
NAME=$P-iris
GW_BASE=$(curl -s --unix-socket "$SOCK" http://localhost/v1/version | jq -r .gateway)
GW_HOSTPORT=$(sed -E 's|^https?://([^/]+)/.*|\1|' <<<"$GW_BASE")
model_spec() { # model_spec VERSION ARTIFACT
    printf 'apiVersion: cassiny/v1\nkind: Model\nmetadata: {name: %s}\nspec:\n  image: %s\n  artifact: %s\n  version: %s\n  replicas: 3\n  resources: {cpus: 200m, memory: 384Mi}\n' \
        "$NAME" "$MODEL_IMAGE" "$2" "$1"
}
serving() { curl -s --unix-socket "$SOCK" "http://localhost/v1/specs/$NAME" | jq -r '.run.id // empty'; }
nodes_of() { run_json "$1" | jq -r '[.containers[] as $c | .nodes[$c] // empty] | .[]'; }
# The request loop (tests/integration/request_loop.py): GET of the model's
# metadata through the gateway, 20 a second, each on a new connection.
start_loop() {
    python3 "$src/tests/integration/request_loop.py" --tcp "$GW_HOSTPORT" \
        --path "/models/$NAME/v2/models/$NAME" --rate 20 --timeout 10 >"$WORK/loop.json" &
    LOOP_PID=$!
}
stop_loop() { # sets figures: the loop's JSON line (null when it printed none)
    kill -TERM "$LOOP_PID" 2>/dev/null
    wait "$LOOP_PID" 2>/dev/null
    LOOP_PID=
    figures=$(cat "$WORK/loop.json")
    figures=${figures:-null}
}
if want models || want drain; then
    M=$WORK/data/models
    mkdir -p "$M/v1" "$M/v2" "$M/v3"
    chmod -R a+rwx "$M"
    # Trained on this machine's own engine, in the serving image: the shared
    # root is where every node finds them.
    train() { # train VERSION ARGS...
        local v=$1
        shift
        docker run --rm -u 1000 --network none -v "$M:/out" -v "$src/examples/iris:/src:ro" \
            cassiny/model-server:bookworm python3 /src/train.py --out "/out/$v" "$@" >/dev/null
    }
    train v1 --model logreg
    train v2 --model forest --estimators 10 --max-depth 2
    echo "this is not a model" >"$M/v3/model.joblib"
    code=$(apply_yaml "$(model_spec v1 "$M/v1/model.joblib")")
    R1=$(jq -r '.specs[0].run.id' "$WORK/body")
    st=$(wait_run "$R1" 400 ready)
    check "a model of 3 replicas is ready on the swarm (got $st: $(run_field "$R1" .error))" test "$st" = ready
    n=$(nodes_of "$R1" | sort -u | grep -c .)
    check "its replicas run on at least two nodes ($n: $(nodes_of "$R1" | tr '\n' ' '))" test "$n" -ge 2
    code=$(curl -s -o /dev/null -w '%{http_code}' "${GW_BASE}$NAME/v2/models/$NAME")
    check "it answers through the gateway ($code)" test "$code" = 200
    metrics=$(curl -s --unix-socket "$SOCK" http://localhost/metrics)
    check "/metrics counts tasks per node" grep -qE '^cassiny_tasks\{node="node[0-9]+"\} [1-9]' <<<"$metrics"
fi
if want models; then
    start_loop
    sleep 2
    code=$(apply_yaml "$(model_spec v2 "$M/v2/model.joblib")")
    R2=$(jq -r '.specs[0].run.id' "$WORK/body")
    st=$(wait_run "$R2" 300 ready)
    sleep 2
    stop_loop
    check "it rolls to v2 (got $st: $(run_field "$R2" .error))" test "$st" = ready
    check "the v1 run is stopped, replaced" test "$(run_field "$R1" .status)" = stopped
    check "zero failed requests during the rollout ($figures)" \
        jqe '.requests > 20 and .failed == 0' <<<"$figures"

    start_loop
    sleep 2
    code=$(apply_yaml "$(model_spec v3 "$M/v3/model.joblib")")
    R3=$(jq -r '.specs[0].run.id' "$WORK/body")
    st=$(wait_run "$R3" 300)
    sleep 2
    stop_loop
    check "a broken v3 fails (got $st)" test "$st" = failed
    check "v2 still serves" test "$(run_field "$R2" .status)" = ready
    check "and the spec points back at it" test "$(serving)" = "$R2"
    check "zero failed requests while v3 was rolled back ($figures)" \
        jqe '.requests > 20 and .failed == 0' <<<"$figures"
    check "v3 left no service behind" \
        test -z "$(mdocker service ls -q --filter "label=io.cassiny.run=$R3")"
fi

# --- drain ----------------------------------------------------------------------------
if want drain; then
    R=$(serving)
    victim=$(nodes_of "$R" | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')
    start_loop
    sleep 2
    mdocker node update --availability drain "$victim" >/dev/null
    moved=0
    for _ in $(seq 1 240); do
        if [ "$(run_json "$R" | jq '.containers | length')" = 3 ] &&
            ! nodes_of "$R" | grep -qx "$victim" && [ "$(nodes_of "$R" | grep -c .)" = 3 ] &&
            [ "$(run_field "$R" .status)" = ready ]; then
            moved=1
            break
        fi
        sleep 0.5
    done
    sleep 2
    stop_loop
    mdocker node update --availability active "$victim" >/dev/null
    check "draining $victim moves its replicas to the other nodes ($(nodes_of "$R" | tr '\n' ' '))" \
        test "$moved" = 1
    check "zero failed requests during the drain ($figures)" \
        jqe '.requests > 20 and .failed == 0' <<<"$figures"
fi

summary
