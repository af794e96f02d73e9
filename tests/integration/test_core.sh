#!/bin/bash
# The daemon's core under load, against the real engine and the real daemon,
# with busybox stand-ins that start in a fraction of a second: busybox httpd
# serves a static /api/status (Jupyter's readiness answer) for notebooks, and
# for models a CGI health check that counts its answers and can be slower
# than the health timeout one time in three (HEALTH_FLAKY in its env) or fail
# every time from a given moment on (SICK_FROM). Each test has a daemon, state
# directory and config of its own.
#
#   jobs-notebook        N long jobs under limits.maxConcurrentRuns: N do not hold a notebook back
#   jobs-queued          a job beyond limits.maxRunningJobs waits as queued, and starts when one
#                        ends (skipped, saying so, when the daemon's config has no such key)
#   overload-flaky       a replica whose health answer is now and then too slow is not replaced
#   overload-all         while every replica fails its health check the gateway still forwards
#   revision             a Model's dry-run revision is the revision apply stores
#   concurrent-notebook  20 concurrent applies of one notebook: one container runs, delete
#                        leaves none
#   concurrent-model     the same for a model of 2 replicas
#   pids                 resources.pids and policy.defaultPids hold a fork bomb
#   workspace            a volume Cassiny did not make is never mounted or purged
#   launch-policy        reproduce, rollback and a replacement replica are checked at launch
#   network              notebooks and replicas on Cassiny's network: no traffic between them
#   race                 CASS_RACE_TRIES (500) launches against a loop swapping the input for a
#                        symbolic link out of the roots: none reads outside
#   inspect              each kind's hardening as docker inspect shows it; a job cannot
#                        write to / but can to /tmp and its outputs
#   pull                 a missing image is pulled only from a registry in registries:
#                        none by default (no pull call reaches the engine), a private
#                        registry (packaging/registry.sh) when it is listed
#
# CASS_ONLY=NAME[,NAME...] runs only the tests whose names start with one of
# them (CASS_ONLY=overload runs both overload tests); CASS_SKIP=NAME[,...]
# leaves those out.
set -u
CASS_SKIP=${CASS_SKIP:-}
build=$1
src=$2
SUITE=core
. "$src/tests/integration/lib.sh"
BUSYBOX=${CASS_TEST_IMAGE:-cassiny/test-busybox:latest}
ROOT=$(mktemp -d /tmp/cassiny-core.XXXXXX)
P=core-$$                      # prefix of every spec name of this run
HTTPD=cassiny/core-httpd-$$:v1 # private image: busybox httpd and its pages
TESTS="jobs-notebook jobs-queued overload-flaky overload-all revision concurrent-notebook concurrent-model pids workspace inspect pull launch-policy race network reload model-auth"
LOOP_PID=
SKIPPED=()

# Containers of every daemon this suite started, by their instance label.
remove_instance_containers() {
    local inst
    for inst in $(cat "$ROOT"/*/state/instance 2>/dev/null); do
        docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$inst") >/dev/null 2>&1
    done
}
cleanup() {
    pull_cleanup
    [ -n "$LOOP_PID" ] && kill "$LOOP_PID" 2>/dev/null && wait "$LOOP_PID" 2>/dev/null
    stop_daemon
    remove_instance_containers
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.test=$P") >/dev/null 2>&1
    docker rmi "$HTTPD" >/dev/null 2>&1
    rm -rf "$ROOT"
    true
}
trap cleanup EXIT

short() { local c out=; for c in "$@"; do out="$out${out:+ }${c:0:12}"; done; echo "${out:-none}"; }
ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v m="$1" 'BEGIN { printf "%.1f", m / 1000 }'; }
run_field() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1" | jq -r "$2"; }
spec_run() { curl -s --unix-socket "$SOCK" "http://localhost/v1/specs/$1" | jq -r '.runId // empty'; }
delete_spec() { curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null -w '%{http_code}' "http://localhost/v1/specs/$1"; }
# finish NAME...: deletes the test's specs, then ends the test
finish() {
    local t0 n
    t0=$(ms)
    for n in "$@"; do delete_spec "$n" >/dev/null; done
    note "deleted $* in $(secs $(($(ms) - t0))) s"
    end_test
}
# containers NAME [docker ps filters]: ids of this daemon's containers of NAME, any state
containers() {
    local name=$1
    shift
    docker ps -aq --filter "label=io.cassiny.instance=$INSTANCE" --filter "label=io.cassiny.name=$name" "$@"
}
# states NAME: this daemon's containers of NAME counted by state ("none" if there are none)
states() {
    local s
    s=$(docker ps -a --filter "label=io.cassiny.instance=$INSTANCE" --filter "label=io.cassiny.name=$1" \
        --format '{{.State}}' | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')
    echo "${s:-none}"
}
# running_of RUN...: how many of these runs have status running
running_of() {
    local r n=0
    for r in "$@"; do [ "$(run_field "$r" .status)" = running ] && n=$((n + 1)); done
    echo $n
}

# --- the stand-in image: busybox httpd on $CASSINY_MODEL_PORT (8080 without)
make_httpd_image() {
    local dir="$ROOT/image" cid
    mkdir -p "$dir/www/cgi-bin" "$dir/www/api" "$dir/app"
    printf '{"started": "2026-01-01T00:00:00.000000Z", "last_activity": "2026-01-01T00:00:00.000000Z", "connections": 0, "kernels": 0}\n' \
        >"$dir/www/api/status"
    echo pong >"$dir/www/ping.txt"
    cat >"$dir/www/cgi-bin/health" <<'SH'
#!/bin/sh
# Counts its answers in /tmp/health.n. From the time $SICK_FROM (seconds
# since the epoch) on every answer is a 503, in every replica, replacements
# too; with /tmp/flaky every third one takes 2 s, more than the 1 s timeout.
n=$(($(cat /tmp/health.n 2>/dev/null || echo 0) + 1))
echo "$n" >/tmp/health.n
if [ -n "${SICK_FROM:-}" ] && [ "$(date +%s)" -ge "$SICK_FROM" ]; then
    printf 'Status: 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nsick %s\n' "$n"
    exit 0
fi
if [ -e /tmp/flaky ] && [ $((n % 3)) = 0 ]; then
    echo "$n" >>/tmp/health.slow
    sleep 2
fi
printf 'Content-Type: text/plain\r\n\r\nok %s\n' "$n"
SH
    cat >"$dir/app/start.sh" <<'SH'
#!/bin/sh
[ -n "${HEALTH_FLAKY:-}" ] && touch /tmp/flaky
exec httpd -f -p "${CASSINY_MODEL_PORT:-8080}" -h /www
SH
    chmod -R a+rX "$dir"
    chmod 755 "$dir/www/cgi-bin/health" "$dir/app/start.sh"
    cid=$(docker create --label "io.cassiny.test=$P" "$BUSYBOX" true) || return 1
    docker cp "$dir/www" "$cid:/www" && docker cp "$dir/app" "$cid:/app" &&
        docker commit --change 'CMD ["/app/start.sh"]' --change "LABEL io.cassiny.test=$P" \
            "$cid" "$HTTPD" >/dev/null
    local rc=$?
    docker rm "$cid" >/dev/null
    return $rc
}

# --- specs
notebook() { # notebook NAME [ENV_VALUE]
    printf 'apiVersion: cassiny/v1\nkind: Notebook\nmetadata: {name: %s}\nspec:\n  image: %s\n  port: 8080\n  resources: {cpus: 250m, memory: 64Mi}\n  env: {V: "%s"}\n' \
        "$1" "$HTTPD" "${2:-0}"
}
job() { # job NAME SECONDS: a job that sleeps
    printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [sleep, "%s"]\n  resources: {cpus: 250m, memory: 32Mi}\n' \
        "$1" "$BUSYBOX" "$2"
}
model() { # model NAME [env lines of the form '    K: "v"']
    printf 'apiVersion: cassiny/v1\nkind: Model\nmetadata: {name: %s}\nspec:\n  image: %s\n  artifact: %s\n  version: v1\n  replicas: 2\n  health: {path: /cgi-bin/health, intervalSeconds: 1, timeoutSeconds: 1}\n  resources: {cpus: 250m, memory: 64Mi}\n  env:\n    V: "0"\n%s' \
        "$1" "$HTTPD" "$WORK/data/model.bin" "${2:-}"
}

# begin NAME [config lines]: a fresh daemon on its own socket, state, config
# and data for test NAME; 1 (with the daemon's complaint in $WORK/start.out)
# when it does not come up.
begin() {
    T=$1
    shift
    WORK="$ROOT/$T"
    mkdir -p "$WORK"
    write_config
    echo "model bytes of $T" >"$WORK/data/model.bin"
    [ $# -gt 0 ] && printf '%s\n' "$@" >>"$WORK/config.yaml"
    T_FAILED=$failed
    T_START=$SECONDS
    echo "# $T"
    if ! start_daemon "$build" --config "$WORK/config.yaml" >"$WORK/start.out" 2>&1; then
        stop_daemon # it refused to start: no exit status to check at the end
        return 1
    fi
    INSTANCE=$(cat "$WORK/state/instance")
    GATEWAY=$(curl -s --unix-socket "$SOCK" http://localhost/v1/version | jq -r .gateway)
}
# end_test: stops the test's daemon (it must exit 0), removes what it left,
# and after a failure keeps its log and shows its warnings.
end_test() {
    [ -n "$LOOP_PID" ] && kill "$LOOP_PID" 2>/dev/null && wait "$LOOP_PID" 2>/dev/null
    LOOP_PID=
    if [ -n "${DAEMON_PID:-}" ]; then
        note "stopping the daemon"
        stop_daemon
        check "$T: cassinyd exits 0 at SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0
    fi
    docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$INSTANCE") >/dev/null 2>&1
    if [ "$failed" -gt "$T_FAILED" ] && [ -f "$WORK/cassinyd.log" ]; then
        mkdir -p "$build/tests/integration"
        cp "$WORK/cassinyd.log" "$build/tests/integration/core-$T-cassinyd.log" 2>/dev/null
        echo "# $T: the daemon's warnings (whole log in tests/integration/core-$T-cassinyd.log):"
        grep -E '^(warn|error):' "$WORK/cassinyd.log" | tail -n 8 | sed 's/^/#   /'
    fi
    echo "# $T took $((SECONDS - T_START)) s"
}
note() { echo "# $T: $* (at $((SECONDS - T_START)) s)"; }
daemon_failed() {
    not_ok "$T: cassinyd starts: $(tail -n 3 "$WORK/start.out" | tr '\n' ' ')"
    echo "# $T took $((SECONDS - T_START)) s"
}

# --- 1. Jobs block everything else: with limits.maxConcurrentRuns N, N long
# jobs must not keep a notebook waiting for one of them to end.
t_jobs_notebook() {
    begin jobs-notebook 'limits: {maxConcurrentRuns: 2}' || { daemon_failed; return; }
    local t0 alone st took limit nb j1 j2 running
    t0=$(ms)
    nb=$(launch "$(notebook "$P-alone")")
    st=$([ -n "$nb" ] && wait_run "$nb" 30 ready)
    alone=$(($(ms) - t0))
    check "$T: a notebook alone becomes ready (got $st after $(secs $alone) s)" test "$st" = ready
    delete_spec "$P-alone" >/dev/null

    j1=$(launch "$(job "$P-j1" 60)")
    j2=$(launch "$(job "$P-j2" 60)")
    wait_run "$j1" 20 running >/dev/null
    wait_run "$j2" 20 running >/dev/null
    check "$T: two 60 s jobs run (maxConcurrentRuns: 2)" test "$(running_of "$j1" "$j2")" = 2
    # About the time a notebook takes alone, with room for a busy machine.
    limit=$((alone * 3 + 2000))
    [ $limit -lt 8000 ] && limit=8000
    t0=$(ms)
    nb=$(launch "$(notebook "$P-nb")")
    st=$([ -n "$nb" ] && wait_run "$nb" $(((limit + 999) / 1000)) ready)
    took=$(($(ms) - t0))
    running=$(running_of "$j1" "$j2")
    check "$T: the notebook becomes ready while both jobs run (notebook $st after $(secs $took) s, limit $(secs $limit) s, alone $(secs $alone) s; jobs still running: $running of 2)" \
        test "$st" = ready -a "$running" = 2
    finish "$P-j1" "$P-j2" "$P-nb"
}

# ...and a job beyond limits.maxRunningJobs waits as queued, with launch
# workers to spare (maxConcurrentRuns 4), until a running job ends.
t_jobs_queued() {
    if ! begin jobs-queued 'limits: {maxConcurrentRuns: 4, maxRunningJobs: 2}'; then
        if grep -q 'maxRunningJobs: unknown field' "$WORK/start.out"; then
            echo "# skip: $T: this cassinyd's config schema has no limits.maxRunningJobs (it says: $(grep -o 'limits.maxRunningJobs: unknown field.*' "$WORK/start.out"))"
            SKIPPED+=("$T")
            echo "# $T took $((SECONDS - T_START)) s"
        else
            daemon_failed
        fi
        return
    fi
    local j1 j2 j3 t0 st
    j1=$(launch "$(job "$P-q1" 60)")
    j2=$(launch "$(job "$P-q2" 60)")
    wait_run "$j1" 20 running >/dev/null
    wait_run "$j2" 20 running >/dev/null
    check "$T: two jobs run" test "$(running_of "$j1" "$j2")" = 2
    j3=$(launch "$(job "$P-q3" 60)")
    sleep 2 # time enough for a daemon that ignores the limit to start it
    st=$(run_field "$j3" .status)
    check "$T: a third job waits as queued (status $st; running: $(running_of "$j1" "$j2") of the first two)" \
        test "$st" = queued
    if [ "$st" = queued ]; then
        t0=$(ms)
        curl -s --unix-socket "$SOCK" -X POST -o /dev/null "http://localhost/v1/runs/$j1/stop"
        st=$(wait_run "$j3" 15 running)
        check "$T: when one running job ends the queued one starts (got $st after $(secs $(($(ms) - t0))) s)" \
            test "$st" = running
    fi
    finish "$P-q1" "$P-q2" "$P-q3"
}

# --- 2. Overload kills healthy replicas: a replica whose health answer is
# too slow one time in three is never replaced for it.
t_overload_flaky() {
    begin overload-flaky || { daemon_failed; return; }
    local run st ids0 ids reps t0 elapsed c counts slow_ok=1
    run=$(launch "$(model "$P-flaky" '    HEALTH_FLAKY: "1"
')")
    st=$([ -n "$run" ] && wait_run "$run" 30 ready)
    check "$T: a model of 2 replicas with a flaky health check becomes ready (got $st)" test "$st" = ready
    note "ready"
    ids0=$(run_field "$run" '.containers | sort | join(" ")')
    check "$T: with 2 containers ($ids0)" test "$(wc -w <<<"$ids0")" = 2
    # 15 s, or until the first replacement.
    t0=$(ms)
    while :; do
        reps=$(run_field "$run" '.replacements // 0')
        ids=$(run_field "$run" '.containers | sort | join(" ")')
        elapsed=$(($(ms) - t0))
        [ "$reps" != 0 ] || [ "$ids" != "$ids0" ] || [ $elapsed -ge 15000 ] && break
        sleep 0.5
    done
    note "watched"
    counts=
    for c in $ids0; do
        local n s
        n=$(docker exec "$c" cat /tmp/health.n 2>/dev/null) || n=gone
        s=$(docker exec "$c" sh -c 'cat /tmp/health.slow 2>/dev/null | wc -l' 2>/dev/null) || s=gone
        counts="$counts ${c:0:12}: $n answers, $s slow;"
        [ "$s" != gone ] && [ "$s" -ge 1 ] || slow_ok=0
    done
    check "$T: no replica is replaced for single slow health answers (replacements: $reps after $(secs $elapsed) s; containers before: $(short $ids0), now: $(short $ids))" \
        test "$reps" = 0 -a "$ids" = "$ids0"
    if [ "$ids" = "$ids0" ]; then
        check "$T: the replicas did answer too slowly now and then (${counts% ;})" test $slow_ok = 1
    else
        echo "# $T: the daemon said: $(grep -m1 'failed its health check' "$WORK/cassinyd.log" | sed 's/^.*run /run /')"
    fi
    finish "$P-flaky"
}

# ...and while every replica fails its health check with its container
# running, the gateway keeps forwarding to them: no request gets a 503. The
# replicas turn sick together at a time set in their env, SICK_FROM, so that
# a replacement would be sick too.
t_overload_all() {
    begin overload-all || { daemon_failed; return; }
    local name="$P-sick" run st url c code elapsed n bad n503 ports sick_from
    sick_from=$(($(date +%s) + 10))
    run=$(launch "$(model "$name" "    SICK_FROM: \"$sick_from\"
")")
    st=$([ -n "$run" ] && wait_run "$run" 9 ready)
    check "$T: a model of 2 replicas becomes ready before its replicas turn sick (got $st)" test "$st" = ready
    if [ "$st" != ready ]; then
        finish "$name"
        return
    fi
    url="${GATEWAY}$name/ping.txt"
    check "$T: the gateway forwards to it ($url)" test "$(curl -s --max-time 5 "$url")" = pong
    ports=$(for c in $(run_field "$run" '.containers[]'); do docker port "$c" 8080 | head -n 1; done)
    : >"$WORK/loop.log"
    (
        end=$(($(date +%s) + 30))
        while [ ! -e "$WORK/stop" ] && [ "$(date +%s)" -lt $end ]; do
            if [ "$(date +%s)" -ge "$sick_from" ] && [ ! -e "$WORK/sick" ]; then
                echo sick >>"$WORK/loop.log"
                touch "$WORK/sick"
            fi
            curl -s -o /dev/null --max-time 5 -w '%{http_code}\n' "$url" >>"$WORK/loop.log"
        done
    ) &
    LOOP_PID=$!
    while [ "$(date +%s)" -lt "$sick_from" ]; do sleep 0.2; done
    code=$(for c in $ports; do
        curl -s -o /dev/null --max-time 3 -w '%{http_code}' "http://$c/cgi-bin/health" | sed 's/^000$/gone/'
        echo
    done | tr '\n' ' ')
    check "$T: every replica's health check now answers 503 (or its container is already gone: ${code% })" \
        grep -qE '^((503|gone) ){2}$' <<<"$code"
    # Three of the daemon's health rounds at least, or until the first failure.
    while :; do
        elapsed=$(($(ms) - sick_from * 1000))
        [ -e "$WORK/sick" ] && sed '1,/^sick$/d' "$WORK/loop.log" | grep -qv '^200$' && break
        [ $elapsed -ge 8000 ] && break
        sleep 0.25
    done
    touch "$WORK/stop"
    wait "$LOOP_PID" 2>/dev/null
    LOOP_PID=
    check "$T: before that the gateway answered 200 ($(sed '/^sick$/,$d' "$WORK/loop.log" | sort | uniq -c | tr -s ' \n' ' '))" \
        test -z "$(sed '/^sick$/,$d' "$WORK/loop.log" | grep -v '^200$')"
    sed '1,/^sick$/d' "$WORK/loop.log" >"$WORK/sick.log"
    n=$(wc -l <"$WORK/sick.log")
    bad=$(grep -vc '^200$' "$WORK/sick.log")
    n503=$(grep -c '^503$' "$WORK/sick.log")
    check "$T: with every replica failing its health check the gateway still answers ($n requests, $n503 answered 503, $((bad - n503)) other failures, in the $(secs $elapsed) s since the replicas turned sick)" \
        test "$bad" = 0 -a "$n" -ge 5
    finish "$name"
}

# --- 3. A Model's dry-run revision is the revision apply stores.
t_revision() {
    begin revision || { daemon_failed; return; }
    local name="$P-rev" yaml dry code arev srev rrev run
    yaml=$(model "$name")
    code=$(api POST '/v1/specs?dryRun=true' -H 'Content-Type: application/yaml' --data-binary "$yaml")
    dry=$(jq -r '.specs[0].revision' "$WORK/body")
    check "$T: the dry run answers 200 with a revision ($dry)" test "${code%% *}" = 200 -a "$dry" != null
    run=$(launch "$yaml")
    arev=$(jq -r '.specs[0].revision' "$WORK/body")
    srev=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/specs/$name" | jq -r .revision)
    rrev=$(run_field "$run" .revision)
    check "$T: apply gives the dry run's revision (dry run: $dry, apply: $arev)" test "$arev" = "$dry"
    check "$T: the spec and its run store the dry run's revision (spec: $srev, run: $rrev)" \
        test "$srev" = "$dry" -a "$rrev" = "$dry"
    finish "$name"
}

# --- 4. 20 concurrent applies of one name with 20 different specs: once
# settled one set of containers runs; delete leaves none.
# concurrent KIND WANT: KIND is notebook or model, WANT its containers
concurrent() {
    local kind=$1 want=$2 name="$P-$1" i y codes t0 elapsed runs busy cur curst settled=0 pids=()
    for i in $(seq 20); do
        if [ "$kind" = notebook ]; then y=$(notebook "$name" "$i"); else y=$(model "$name" "    W: \"$i\"
"); fi
        curl -s --unix-socket "$SOCK" -X POST -o "$WORK/apply.$i" -w '%{http_code}\n' --max-time 60 \
            -H 'Content-Type: application/yaml' --data-binary "$y" http://localhost/v1/specs >"$WORK/code.$i" &
        pids+=($!)
    done
    wait "${pids[@]}" # not a bare wait: the daemon is a child of this shell too
    note "20 applies answered"
    codes=$(cat "$WORK"/code.* | sort | uniq -c | awk '{printf "%s%s x %s", sep, $1, $2; sep=", "}')
    check "$T: 20 concurrent applies of $name are accepted (answers: $codes)" \
        test "$(cat "$WORK"/code.* | grep -c '^202$')" = 20
    # Settled: no run of the name is still launching (60 s at most); then 2 s
    # more for stopped runs to lose their containers.
    t0=$(ms)
    while [ $(($(ms) - t0)) -lt 60000 ]; do
        runs=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs?name=$name&limit=100")
        busy=$(jq '[.runs[] | select(.status | IN("pending", "queued", "creating", "starting"))] | length' <<<"$runs")
        if [ "$busy" = 0 ]; then
            settled=1
            break
        fi
        sleep 0.5
    done
    elapsed=$(($(ms) - t0))
    note "settled (or gave up)"
    sleep 2
    runs=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs?name=$name&limit=100" |
        jq -r '[.runs[].status] | group_by(.) | map("\(length) \(.[0])") | join(", ")')
    cur=$(spec_run "$name")
    curst=$(run_field "$cur" .status)
    check "$T: the applies settle (after $(secs $elapsed) s no run is launching; runs: $runs)" test $settled = 1
    check "$T: the spec's run $cur is ready (it is $curst)" test "$curst" = ready
    local nrun ncur nall
    nrun=$(containers "$name" --filter status=running | wc -l)
    ncur=$(containers "$name" --filter status=running --filter "label=io.cassiny.run=$cur" | wc -l)
    nall=$(containers "$name" | wc -l)
    check "$T: once settled exactly $want container(s) of $name run, all of the spec's run (running: $nrun, of run $cur: $ncur)" \
        test "$nrun" = "$want" -a "$ncur" = "$want"
    check "$T: and no other container of $name exists (containers by state: $(states "$name"))" \
        test "$nall" = "$want"
    t0=$(ms)
    code=$(delete_spec "$name")
    check "$T: delete answers 200 (got $code after $(secs $(($(ms) - t0))) s)" test "$code" = 200
    # Delete removes them before it answers: a moment's grace, no more.
    t0=$(ms)
    while [ -n "$(containers "$name")" ] && [ $(($(ms) - t0)) -lt 3000 ]; do sleep 0.2; done
    note "deleted"
    nall=$(containers "$name" | wc -l)
    check "$T: after delete no container of $name is left ($nall left: $(states "$name"))" test "$nall" = 0
}
t_concurrent_notebook() {
    begin concurrent-notebook || { daemon_failed; return; }
    concurrent notebook 1
    end_test
}
t_concurrent_model() {
    begin concurrent-model || { daemon_failed; return; }
    concurrent model 2
    end_test
}

# --- the tests asked for
# --- 5. No process limit: a fork bomb in a job must stay inside its own
# container (resources.pids, and policy.defaultPids when the spec sets none).
t_pids() {
    begin pids || { daemon_failed; return; }
    local bomb dflt cid st out
    bomb=$(launch "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [sh, -c, "sleep 3; n=0; while [ $n -lt 200 ]; do sleep 60 & n=$((n+1)); echo started $n; done; wait"]\n  timeoutSeconds: 8\n  resources: {cpus: 250m, memory: 64Mi, pids: 32}\n' "$P-bomb" "$BUSYBOX")")
    dflt=$(launch "$(job "$P-dflt" 30)")
    wait_run "$bomb" 20 running >/dev/null
    wait_run "$dflt" 20 running >/dev/null
    cid=$(run_field "$bomb" '.containers[0]')
    check "$T: the spec's pids is the container's PidsLimit ($(docker inspect --format '{{.HostConfig.PidsLimit}}' "$cid" 2>&1))" \
        test "$(docker inspect --format '{{.HostConfig.PidsLimit}}' "$cid")" = 32
    check "$T: without resources.pids the limit is policy.defaultPids (1024)" \
        test "$(docker inspect --format '{{.HostConfig.PidsLimit}}' "$(run_field "$dflt" '.containers[0]')")" = 1024
    st=$(wait_run "$bomb" 30 failed)
    check "$T: the fork bomb fails, status $st" test "$st" = failed
    out=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$bomb/logs")
    n=$(grep -o 'started [0-9]*' <<<"$out" | tail -n 1 | grep -o '[0-9]*')
    check "$T: it was held at the limit (${n:-no} processes started of the 200 it asked for)" test "${n:-999}" -lt 32
    check "$T: its log says the forks were refused" grep -qi "fork\|resource temporarily unavailable" <<<"$out"
    code=$(apply_yaml "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [/bin/true]\n  resources: {cpus: 250m, memory: 32Mi, pids: 100000}\n' "$P-greedy" "$BUSYBOX")")
    check "$T: a spec over policy.maxPids is refused (403, got $code)" test "$code" = 403
    finish "$P-bomb" "$P-dflt"
}

# --- 6. workspace: takes any existing Docker volume. A volume that Cassiny
# did not make is never mounted, and never removed by --purge.
t_workspace() {
    begin workspace || { daemon_failed; return; }
    local vol=foreign-$P own=ws-$P run st code cid
    docker volume create "$vol" >/dev/null
    echo secret >"$WORK/secret"
    docker run --rm -u 0 -v "$vol:/v" -v "$WORK:/w:ro" "$BUSYBOX" cp /w/secret /v/secret
    code=$(apply_yaml "$(notebook "$P-ws" | sed '/^  port:/i\  workspace: '"$vol")")
    check "$T: a notebook naming a volume Cassiny did not make is refused at apply (403, got $code)" test "$code" = 403
    check "$T: naming spec.workspace and its line ($(jq -c '[.errors[]? | select((.field // .path) == "spec.workspace") | .line]' "$WORK/body"))" \
        jq -e '[.errors[]? | select((.field // .path) == "spec.workspace" and .line == 6)] | length == 1' "$WORK/body" >/dev/null
    check "$T: nothing of it was mounted into a container" test -z "$(docker ps -aq --filter volume="$vol")"

    # A workspace Cassiny made, then replaced behind its back by another's.
    run=$(launch "$(notebook "$P-own" | sed '/^  port:/i\  workspace: '"$own")")
    st=$(wait_run "$run" 30 ready)
    check "$T: a notebook with a new workspace is ready (got $st)" test "$st" = ready
    curl -s --unix-socket "$SOCK" -X POST -o /dev/null "http://localhost/v1/runs/$run/stop"
    wait_run "$run" 20 stopped >/dev/null
    for cid in $(containers "$P-own"); do docker rm -f "$cid" >/dev/null; done
    docker volume rm -f "$own" >/dev/null
    docker volume create "$own" >/dev/null
    docker run --rm -u 0 -v "$own:/v" -v "$WORK:/w:ro" "$BUSYBOX" cp /w/secret /v/secret
    code=$(apply_yaml "$(notebook "$P-own" 1 | sed '/^  port:/i\  workspace: '"$own")")
    check "$T: re-applying it once the volume is another's is refused (403, got $code)" test "$code" = 403
    code=$(curl -s --unix-socket "$SOCK" -X DELETE -o "$WORK/del.json" -w '%{http_code}' "http://localhost/v1/specs/$P-own?purge=true")
    check "$T: delete --purge refuses to remove it (got $code)" test "$code" = 403
    check "$T: and the volume is still there, with its data" \
        test "$(docker run --rm -u 0 -v "$own:/v:ro" "$BUSYBOX" cat /v/secret)" = secret
    docker volume rm -f "$vol" "$own" >/dev/null
    curl -s --unix-socket "$SOCK" -X DELETE -o /dev/null "http://localhost/v1/specs/$P-own"
    end_test
}

# --- 7. The policy only at apply: reproduce, rollback and a replacement
# replica launched again without a check. A path that became a symbolic link
# out of the roots is refused at every launch, and nothing of what it points
# to is read.
t_launch_policy() {
    begin launch-policy || { daemon_failed; return; }
    local r1 r2 st out m2 rb code cid before
    mkdir -p "$WORK/data/x" "$WORK/outside"
    echo inside >"$WORK/data/x/marker"
    echo "secret outside the roots" >"$WORK/outside/marker"
    echo "model bytes v2" >"$WORK/data/model2.bin"
    echo "secret model outside the roots" >"$WORK/outside/model.bin"
    r1=$(launch "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [sh, -c, "sleep 1; cat /in/marker"]\n  inputs: [{source: %s, target: /in}]\n  resources: {cpus: 250m, memory: 32Mi}\n' "$P-read" "$BUSYBOX" "$WORK/data/x")")
    st=$(wait_run "$r1" 30)
    check "$T: a job reading its input a second after its start succeeds (got $st)" test "$st" = succeeded
    check "$T: and read it through the pinned mount, gone by then ($(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r1/logs"))" \
        test "$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r1/logs")" = inside
    mv "$WORK/data/x" "$WORK/data/x.real"
    ln -s "$WORK/outside" "$WORK/data/x"
    code=$(curl -s --unix-socket "$SOCK" -X POST -o "$WORK/body" -w '%{http_code}' "http://localhost/v1/runs/$r1/reproduce")
    r2=$(jq -r '.id // .run.id // empty' "$WORK/body")
    st=$([ -n "$r2" ] && wait_run "$r2" 30)
    out=$([ -n "$r2" ] && curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r2/logs")
    check "$T: reproduce after the input became a link out of the roots: refused ($code, run ${st:-none}, $(run_field "${r2:-none}" .reason))" \
        test "$code" = 403 -o "$st/$(run_field "${r2:-none}" .reason)" = failed/policy-refused
    check "$T: naming spec.inputs[0].source ($(jq -r '.detail // .errors[0].message // empty' "$WORK/body" | head -c 80)$(run_field "${r2:-none}" .error | head -c 120))" \
        grep -q 'spec.inputs\[0\].source' <<<"$(cat "$WORK/body"; run_field "${r2:-none}" .error)"
    check "$T: and nothing outside the roots was read" test -z "$(grep secret <<<"$out")"

    # A model at v1, then v2; v1's artifact becomes a link out of the roots.
    rb=$(launch "$(model "$P-m")")
    st=$(wait_run "$rb" 40 ready)
    check "$T: model v1 is ready (got $st)" test "$st" = ready
    m2=$(launch "$(model "$P-m" | sed "s|$WORK/data/model.bin|$WORK/data/model2.bin|; s|version: v1|version: v2|")")
    st=$(wait_run "$m2" 40 ready)
    check "$T: model v2 is ready (got $st)" test "$st" = ready
    mv "$WORK/data/model.bin" "$WORK/data/model.bin.real"
    ln -s "$WORK/outside/model.bin" "$WORK/data/model.bin"
    code=$(curl -s --unix-socket "$SOCK" -X POST -o "$WORK/body" -w '%{http_code}' "http://localhost/v1/specs/$P-m/rollback")
    r2=$(jq -r '.id // .run.id // empty' "$WORK/body")
    st=$([ -n "$r2" ] && wait_run "$r2" 40 ready)
    check "$T: rollback to a revision whose artifact is now a link out of the roots: refused ($code, run ${st:-none}, $(run_field "${r2:-none}" .reason))" \
        test "$code" = 403 -o "$st/$(run_field "${r2:-none}" .reason)" = failed/policy-refused
    check "$T: naming spec.artifact" grep -q 'spec.artifact' <<<"$(cat "$WORK/body"; run_field "${r2:-none}" .error)"
    check "$T: v2 still serves ($(run_field "$m2" .status))" test "$(run_field "$m2" .status)" = ready

    # A replacement replica of v2 after its artifact became such a link.
    mv "$WORK/data/model2.bin" "$WORK/data/model2.bin.real"
    ln -s "$WORK/outside/model.bin" "$WORK/data/model2.bin"
    before=$(run_field "$m2" '.containers | length')
    cid=$(run_field "$m2" '.containers[0]')
    docker kill "$cid" >/dev/null 2>&1
    st=$(wait_run "$m2" 30 failed)
    check "$T: the replacement of a replica whose artifact is now a link out of the roots is refused ($st, $(run_field "$m2" .reason))" \
        test "$st/$(run_field "$m2" .reason)" = failed/policy-refused
    local leaked=
    for cid in $(containers "$P-m"); do
        docker inspect --format '{{range .Mounts}}{{.Source}} {{end}}' "$cid" 2>/dev/null | grep -q outside && leaked="$leaked $cid"
    done
    check "$T: no container of the model mounts anything outside the roots${leaked:+ (these do:$leaked)}" test -z "$leaked"
    finish "$P-read" "$P-m"
}

# --- 8. Swap after the check: right after the check, a directory of the
# spec becomes a symbolic link to a directory outside the roots. Every
# launch of CASS_RACE_TRIES (500) jobs races a loop that exchanges the two
# names as fast as it can; not one may read what lies outside.
t_race() {
    begin race 'limits: {maxConcurrentLaunches: 4, maxRunningJobs: 6}' || { daemon_failed; return; }
    local n=${CASS_RACE_TRIES:-500} i yaml= code swaps runs r st inside=0 outside=0 refused=0 other=0 out t0 digests=
    mkdir -p "$WORK/data/in" "$WORK/outside"
    echo inside >"$WORK/data/in/marker"
    echo outside >"$WORK/outside/marker"
    ln -s "$WORK/outside" "$WORK/data/in.swap"
    for i in $(seq "$n"); do
        yaml="$yaml$(printf -- '---\napiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [cat, /in/marker]\n  inputs: [{source: %s, target: /in}]\n  resources: {cpus: 100m, memory: 16Mi}\n' "$P-race-$i" "$BUSYBOX" "$WORK/data/in")
"
    done
    code=$(apply_yaml "$yaml")
    check "$T: $n jobs reading one input are accepted (got $code)" test "$code" = 202
    runs=$(jq -r '.specs[].run.id' "$WORK/body")
    t0=$SECONDS
    "$build/tests/integration/swap_loop" "$WORK/data/in" "$WORK/data/in.swap" >"$WORK/swaps" &
    LOOP_PID=$!
    for r in $runs; do
        st=$(wait_run "$r" 600)
        case "$st/$(run_field "$r" .reason)" in
        succeeded/*)
            out=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r/logs")
            case $out in *outside*) outside=$((outside + 1)) ;; *inside*) inside=$((inside + 1)) ;; *) other=$((other + 1)) ;; esac
            digests="$digests $(run_field "$r" .inputsDigest)"
            ;;
        failed/policy-refused) refused=$((refused + 1)) ;;
        *) other=$((other + 1)); [ $other -le 3 ] && note "run $r: $st $(run_field "$r" '"\(.reason): \(.error)"' | head -c 200)" ;;
        esac
    done
    kill "$LOOP_PID" 2>/dev/null
    wait "$LOOP_PID" 2>/dev/null
    LOOP_PID=
    swaps=$(cat "$WORK/swaps")
    note "$n launches in $((SECONDS - t0)) s against ${swaps:-?} swaps: $inside read the input, $refused refused, $outside read outside the roots, $other other"
    check "$T: not one of $n launches read outside the roots (got $outside)" test "$outside" = 0
    check "$T: the race was run: the loop swapped (${swaps:-0} times) and launches got through ($inside)" \
        test "${swaps:-0}" -gt 1000 -a "$inside" -gt 0
    check "$T: every launch read its input or was refused ($other other)" test "$other" = 0
    check "$T: and every run that read it recorded the inputs it read (one digest: $(tr ' ' '\n' <<<"$digests" | sort -u | grep -c .))" \
        test "$(tr ' ' '\n' <<<"$digests" | sort -u | grep -c .)" = 1
    for i in $(seq "$n"); do delete_spec "$P-race-$i" >/dev/null; done
    end_test
}

# --- 9. Containers of different specs shared the default bridge: a
# notebook reached a model replica directly, past the gateway. Both are on
# Cassiny's own network now, with traffic between its containers off.
t_network() {
    begin network || { daemon_failed; return; }
    local nb m st ncid rcid ip icc nets
    nb=$(launch "$(notebook "$P-nb")")
    m=$(launch "$(model "$P-mod")")
    st=$(wait_run "$nb" 30 ready)
    check "$T: the notebook is ready through its published port (got $st)" test "$st" = ready
    st=$(wait_run "$m" 40 ready)
    check "$T: the model is ready (got $st)" test "$st" = ready
    ncid=$(run_field "$nb" '.containers[0]')
    rcid=$(run_field "$m" '.containers[0]')
    nets=$(docker inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$ncid" "$rcid" | sort -u)
    check "$T: both are on the network cassiny, and only there ($nets)" test "$nets" = "cassiny "
    icc=$(docker network inspect --format '{{index .Options "com.docker.network.bridge.enable_icc"}} {{index .Labels "io.cassiny.network"}}' cassiny)
    check "$T: a network of Cassiny's own with traffic between containers off ($icc)" test "$icc" = "false "
    ip=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$rcid")
    check "$T: the host reaches the replica at $ip:8080" \
        curl -fsS --max-time 3 -o /dev/null "http://$ip:8080/cgi-bin/health"
    # busybox wget crashes in this image; nc's exit status says whether it connected
    check "$T: nc connects from the notebook to its own server (the probe works)" \
        docker exec "$ncid" nc -w 3 127.0.0.1 8080 </dev/null
    check "$T: the notebook does not reach the replica at $ip:8080" \
        test "$(docker exec "$ncid" nc -w 3 "$ip" 8080 </dev/null >/dev/null 2>&1; echo $?)" != 0
    check "$T: the model still answers through the gateway" \
        curl -fsS --max-time 3 -o /dev/null "${GATEWAY}$P-mod/cgi-bin/health"
    finish "$P-nb" "$P-mod"
}

# --- 10. Hardening: every kind's container, as the engine has it. The root
# file system is read-only, /tmp a bounded tmpfs without exec, setuid or
# devices, no capabilities, no privilege gain, the default seccomp profile,
# a process limit, CPU and memory limits and a non-root user.
# hardened KIND CID [MEMORY NANOCPUS]: every option, from docker inspect
hardened() {
    local kind=$1 cid=$2 mem=${3:-67108864} cpus=${4:-250000000} j tmp user
    j=$(docker inspect "$cid" | jq '.[0]')
    check "$T: $kind: ReadonlyRootfs is true" test "$(jq .HostConfig.ReadonlyRootfs <<<"$j")" = true
    tmp=$(jq -r '.HostConfig.Tmpfs["/tmp"] // "none"' <<<"$j")
    check "$T: $kind: /tmp is a tmpfs with noexec, nosuid, nodev and a size ($tmp)" \
        bash -c '[[ ,$1, == *,noexec,* && ,$1, == *,nosuid,* && ,$1, == *,nodev,* && ,$1, == *,size=[0-9]* ]]' _ "$tmp"
    check "$T: $kind: CapDrop is [ALL] ($(jq -c .HostConfig.CapDrop <<<"$j"))" \
        test "$(jq -c .HostConfig.CapDrop <<<"$j")" = '["ALL"]'
    check "$T: $kind: SecurityOpt has no-new-privileges and leaves seccomp on ($(jq -c .HostConfig.SecurityOpt <<<"$j"))" \
        test "$(jq '(.HostConfig.SecurityOpt | index("no-new-privileges") != null) and ([.HostConfig.SecurityOpt[] | select(startswith("seccomp"))] | length == 0)' <<<"$j")" = true
    check "$T: $kind: PidsLimit is policy.defaultPids ($(jq .HostConfig.PidsLimit <<<"$j"))" \
        test "$(jq .HostConfig.PidsLimit <<<"$j")" = 1024
    check "$T: $kind: Memory $mem and NanoCpus $cpus ($(jq -c '[.HostConfig.Memory, .HostConfig.NanoCpus]' <<<"$j"))" \
        test "$(jq -c '[.HostConfig.Memory, .HostConfig.NanoCpus]' <<<"$j")" = "[$mem,$cpus]"
    check "$T: $kind: not privileged" test "$(jq .HostConfig.Privileged <<<"$j")" = false
    user=$(jq -r .Config.User <<<"$j")
    check "$T: $kind: the user is not root ($user)" \
        bash -c 'u=${1%%:*}; [ -n "$u" ] && [ "$u" != root ] && [[ $u == *[!0]* ]]' _ "$user"
}
t_inspect() {
    begin inspect || { daemon_failed; return; }
    local nb md jb st cid out
    # No resources: the defaults (1 CPU, 1Gi). Writing to / must fail, to
    # /tmp and the outputs work, nothing on /tmp may run, and the kernel
    # shows the seccomp filter, no privilege gain and no capabilities.
    jb=$(launch "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [sh, -c, "%s"]\n' "$P-jb" "$BUSYBOX" \
        'sleep 3; if echo x > /x; then echo ROOT-WRITTEN; exit 1; fi; echo t > /tmp/t || exit 2; echo o > $CASSINY_OUTPUTS/o.txt || exit 3; cp /bin/busybox /tmp/bb; /tmp/bb true && echo TMP-EXEC; grep -E \"^(Seccomp|NoNewPrivs|CapEff):\" /proc/self/status')")
    st=$(wait_run "$jb" 20 running)
    check "$T: the job runs (got $st)" test "$st" = running
    [ "$st" = running ] && hardened job "$(run_field "$jb" '.containers[0]')" 1073741824 1000000000
    nb=$(launch "$(notebook "$P-nb")")
    md=$(launch "$(model "$P-md")")
    st=$(wait_run "$nb" 30 ready)
    check "$T: the notebook is ready on a read-only root (got $st)" test "$st" = ready
    [ "$st" = ready ] && hardened notebook "$(run_field "$nb" '.containers[0]')"
    cid=$(run_field "$nb" '.containers[0]')
    check "$T: notebook: without a workspace its work directory is a tmpfs too ($(docker inspect --format '{{json .HostConfig.Tmpfs}}' "$cid" 2>&1))" \
        test "$(docker inspect "$cid" | jq -r '.[0] | .HostConfig.Tmpfs[.Config.WorkingDir] // empty | contains("noexec")')" = true
    st=$(wait_run "$md" 30 ready)
    check "$T: the model is ready on a read-only root (got $st)" test "$st" = ready
    [ "$st" = ready ] && hardened model "$(run_field "$md" '.containers[0]')"
    st=$(wait_run "$jb" 30 succeeded)
    out=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$jb/logs")
    check "$T: job: writing to / fails, to /tmp and the outputs works (got $st, exit $(run_field "$jb" .exitCode))" test "$st" = succeeded
    check "$T: job: the write to / was refused as a read-only file system" grep -q "Read-only file system" <<<"$out"
    check "$T: job: the file it wrote to the outputs is recorded" test "$(run_field "$jb" '[.outputs[].path] | join(",")')" = o.txt
    check "$T: job: nothing copied to /tmp may run (noexec)" bash -c '! grep -q TMP-EXEC <<<"$1"' _ "$out"
    check "$T: job: the kernel shows the seccomp filter (Seccomp: 2)" grep -Eq "Seccomp:[[:space:]]+2" <<<"$out"
    check "$T: job: and no privilege gain (NoNewPrivs: 1)" grep -Eq "NoNewPrivs:[[:space:]]+1" <<<"$out"
    check "$T: job: and no capabilities (CapEff: 0)" grep -Eq "CapEff:[[:space:]]+0+$" <<<"$out"
    finish "$P-nb" "$P-md" "$P-jb"
}

# --- 11. A cache miss on an allowed reference pulls it from Docker Hub.
# Pulls come only from the config's registries. The daemon talks to the
# engine through a proxy that records every request, so that "no pull was
# made" is seen, not assumed; a private registry (packaging/registry.sh)
# provides the image that may be pulled.
PULL_PROXY_PID=
REGISTRY_DIR=
pull_cleanup() {
    [ -n "$PULL_PROXY_PID" ] && kill "$PULL_PROXY_PID" 2>/dev/null && wait "$PULL_PROXY_PID" 2>/dev/null
    PULL_PROXY_PID=
    [ -n "$REGISTRY_DIR" ] && sh "$src/packaging/registry.sh" stop "$REGISTRY_DIR"
    REGISTRY_DIR=
}
# pull_calls: POST /images/create requests seen by the proxy so far
pull_calls() { grep -c 'POST /v[0-9.]*/images/create' "$ROOT/engine-proxy.log" 2>/dev/null; }
# image_pulls IMAGE SINCE: the engine's pull events for IMAGE since SINCE
image_pulls() {
    docker events --since "$2" --until "$(date +%s)" --filter type=image --filter event=pull \
        --filter "image=$1" --format '{{.Action}} {{.Actor.ID}}' | wc -l
}
t_pull() {
    local addr ref run st err t0 before
    for tool in socat docker-registry; do
        if ! command -v $tool >/dev/null; then
            not_ok "pull: $tool is installed (packaging/install-deps.sh installs it)"
            return
        fi
    done
    socat -v UNIX-LISTEN:"$ROOT/engine.sock",fork,mode=600 UNIX-CONNECT:/var/run/docker.sock \
        2>"$ROOT/engine-proxy.log" &
    PULL_PROXY_PID=$!
    REGISTRY_DIR="$ROOT/registry"
    if ! addr=$(sh "$src/packaging/registry.sh" start "$REGISTRY_DIR"); then
        not_ok "pull: a private registry starts (packaging/registry.sh)"
        pull_cleanup
        return
    fi
    ref=$addr/cassiny/test-busybox:latest
    sh "$src/packaging/registry.sh" push "$REGISTRY_DIR" "$BUSYBOX" >"$ROOT/push.log" 2>&1
    check "pull: $BUSYBOX is pushed to the private registry as $ref, and not tagged so locally" \
        bash -c 'curl -fsS "http://$1/v2/cassiny/test-busybox/tags/list" | grep -q latest && ! docker image inspect "$2" >/dev/null 2>&1' _ "$addr" "$ref"
    IMAGES_EXTRA="$addr/cassiny/*"

    # The default config: no registries, so nothing is pulled.
    begin pull-default "dockerHost: unix://$ROOT/engine.sock" || { daemon_failed; pull_cleanup; return; }
    t0=$(date +%s)
    before=$(pull_calls)
    run=$(launch "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: cassiny/does-not-exist:1\n  command: [/bin/true]\n' "$P-missing")")
    st=$(wait_run "$run" 30 failed)
    err=$(run_field "$run" .error)
    check "$T: a missing cassiny/does-not-exist:1 fails its run (got $st)" test "$st" = failed
    check "$T: with reason image-not-found (got $(run_field "$run" .reason))" test "$(run_field "$run" .reason)" = image-not-found
    check "$T: and an error naming the registries rule ($err)" \
        grep -q "was not pulled: registry docker.io is not in registries (none)" <<<"$err"
    check "$T: the engine was asked about the image (the proxy is in the way)" \
        grep -q 'GET /v[0-9.]*/images/cassiny/does-not-exist:1/json' "$ROOT/engine-proxy.log"
    check "$T: and no pull call was made ($(($(pull_calls) - before)) POST /images/create)" test "$(pull_calls)" = "$before"
    check "$T: the engine's events show no pull of it" test "$(image_pulls cassiny/does-not-exist:1 "$t0")" = 0
    run=$(launch "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [/bin/true]\n' "$P-private" "$ref")")
    st=$(wait_run "$run" 30 failed)
    err=$(run_field "$run" .error)
    check "$T: the private registry's image is refused too with registries empty (got $st: $err)" \
        bash -c '[ "$1" = failed ] && grep -q "registry $2 is not in registries (none)" <<<"$3"' _ "$st" "$addr" "$err"
    check "$T: and not pulled" test "$(pull_calls)" = "$before"
    finish "$P-missing" "$P-private"

    # registries: [the private one]: its image is pulled, and runs.
    begin pull-registry "dockerHost: unix://$ROOT/engine.sock" "registries: [\"$addr\"]" ||
        { daemon_failed; pull_cleanup; return; }
    t0=$(date +%s)
    before=$(pull_calls)
    run=$(launch "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [sh, -c, "echo pulled and ran"]\n' "$P-private" "$ref")")
    st=$(wait_run "$run" 60 succeeded)
    check "$T: with registries: [$addr] the image is pulled and the job succeeds (got $st: $(run_field "$run" .error))" test "$st" = succeeded
    check "$T: one pull call was made ($(($(pull_calls) - before)))" test "$(($(pull_calls) - before))" = 1
    check "$T: the run records first the digest the registry holds for the tag ($(run_field "$run" '.image.repoDigests[0]'))" \
        test "$(run_field "$run" '.image.repoDigests[0]')" = "$addr/cassiny/test-busybox@$(registry_digest "$addr" cassiny/test-busybox latest)"
    check "$T: the engine's events show the pull of $ref by that digest" \
        test "$(image_pulls "$(run_field "$run" '.image.repoDigests[0]')" "$t0")" -ge 1
    run=$(launch "$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: cassiny/does-not-exist:1\n  command: [/bin/true]\n' "$P-missing")")
    st=$(wait_run "$run" 30 failed)
    check "$T: a reference without a registry part is still not pulled (docker.io is not listed): $(run_field "$run" .error)" \
        bash -c '[ "$1" = failed ] && grep -q "registry docker.io is not in registries ($2)" <<<"$3"' _ "$st" "$addr" "$(run_field "$run" .error)"
    t_pull_moved "$addr"
    finish "$P-private" "$P-missing" "$P-pin" "$P-pin-new"
    docker rmi "$ref" >/dev/null 2>&1
    IMAGES_EXTRA=
    pull_cleanup
}
# registry_digest ADDR REPO TAG: the manifest digest the registry serves for REPO:TAG
registry_digest() {
    curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://$1/v2/$2/manifests/$3" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}
# pin_image ADDR REF TEXT: pushes an image whose /home/user/marker holds TEXT as
# ADDR/REF, leaving nothing of it in the engine
pin_image() {
    local c="$P-mk-$$" id
    docker run --name "$c" --label "io.cassiny.test=$P" "$BUSYBOX" sh -c "echo $3 > /home/user/marker" >/dev/null &&
        id=$(docker commit "$c" 2>/dev/null) && docker rm "$c" >/dev/null &&
        docker tag "$id" "$1/$2" && docker push "$1/$2" >>"$ROOT/push.log" 2>&1 &&
        docker rmi -f "$id" >/dev/null # its tag and the digest the push added
}
# A tag moved in the registry: a new apply runs what the tag names now, a
# reproduction what the run recorded, by digest, pulled again when the
# engine no longer has it.
t_pull_moved() {
    local addr=$1 pref="$1/cassiny/pin-$P:1" r1 r2 r3 d1 st
    local spec
    spec=$(printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  command: [cat, /home/user/marker]\n' "$P-pin" "$pref")
    pin_image "$addr" "cassiny/pin-$P:1" original || { not_ok "$T: an image is pushed as $pref"; return; }
    r1=$(launch "$spec")
    st=$(wait_run "$r1" 60 succeeded)
    d1=$(run_field "$r1" '.image.repoDigests[0]')
    check "$T: a job of $pref runs what the tag names (got $st: $(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r1/logs"))" \
        test "$st/$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r1/logs")" = succeeded/original
    check "$T: and records it by digest ($d1)" \
        test "$d1" = "$addr/cassiny/pin-$P@$(registry_digest "$addr" "cassiny/pin-$P" 1)"
    pin_image "$addr" "cassiny/pin-$P:1" moved || { not_ok "$T: the tag $pref is moved"; return; }
    docker rmi -f "$(run_field "$r1" .image.id)" >/dev/null 2>&1
    check "$T: the engine no longer has the first image ($(run_field "$r1" .image.id))" \
        bash -c '! docker image inspect "$1" >/dev/null 2>&1' _ "$(run_field "$r1" .image.id)"
    r2=$(curl -s --unix-socket "$SOCK" -X POST "http://localhost/v1/runs/$r1/reproduce" | jq -r '.id // empty')
    st=$(wait_run "$r2" 60 succeeded)
    check "$T: after the tag moved, the reproduction runs the recorded image (got $st: $(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r2/logs") $(run_field "$r2" .error))" \
        test "$st/$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r2/logs")" = succeeded/original
    check "$T: with the same digest and image ID" \
        test "$(run_field "$r2" '.image.repoDigests[0] + " " + .image.id')" = "$(run_field "$r1" '.image.repoDigests[0] + " " + .image.id')"
    check "$T: pulled again by digest from the registry" grep -q "POST /v[0-9.]*/images/create?fromImage=[^ &]*pin-$P&tag=sha256%3A" "$ROOT/engine-proxy.log"
    r3=$(launch "${spec/"name: $P-pin"/"name: $P-pin-new"}")
    st=$(wait_run "$r3" 60 succeeded)
    check "$T: a new apply runs what the tag names now (got $st: $(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r3/logs"))" \
        test "$st/$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$r3/logs")" = succeeded/moved
    check "$T: under the new digest" \
        test "$(run_field "$r3" '.image.repoDigests[0]')" = "$addr/cassiny/pin-$P@$(registry_digest "$addr" "cassiny/pin-$P" 1)"
    check "$T: the daemon asked the engine for the tag's digest (GET /distribution)" \
        grep -q "GET /v[0-9.]*/distribution/$addr/cassiny/pin-$P:1/json" "$ROOT/engine-proxy.log"
    docker rmi -f "$(run_field "$r3" .image.id)" "$(run_field "$r1" .image.id)" >/dev/null 2>&1
}

# --- 14. A reload (SIGHUP, what `systemctl reload` sends) puts the config's
# policy and logLevel in effect for every launch from then on, and leaves
# the runs that run as they are; a config that does not parse changes
# nothing.
# hup_until ERE: SIGHUP to the daemon, then up to 5 s for a log line matching ERE
hup_until() {
    local n=0
    kill -HUP "$DAEMON_PID"
    until grep -qE "$1" "$WORK/cassinyd.log" || [ $n -gt 50 ]; do
        sleep 0.1
        n=$((n + 1))
    done
}
t_reload() {
    CASS_LOG_FROM_CONFIG=1 begin reload 'logLevel: info' || { daemon_failed; return; }
    local nb jb cid code st
    nb=$(launch "$(notebook "$P-nb")")
    jb=$(launch "$(job "$P-jb" 60)")
    st=$(wait_run "$nb" 30 ready)
    check "$T: a 64Mi notebook is ready under maxMemory 8Gi (got $st)" test "$st" = ready
    st=$(wait_run "$jb" 30 running)
    check "$T: a 60 s job runs (got $st)" test "$st" = running
    cid=$(run_field "$nb" '.containers[0]')
    check "$T: at logLevel info the log has no debug line" \
        test "$(grep -c '^debug:' "$WORK/cassinyd.log")" = 0
    sed -i -e 's/^  maxMemory: 8Gi$/  maxMemory: 48Mi/' -e 's/^logLevel: info$/logLevel: debug/' "$WORK/config.yaml"
    hup_until 'reloaded .*policy and logLevel \(debug\) in effect'
    check "$T: SIGHUP: the daemon says it reloaded the policy and the log level" \
        grep -qE 'reloaded .*policy and logLevel \(debug\) in effect' "$WORK/cassinyd.log"
    code=$(apply_yaml "$(notebook "$P-nb2")")
    check "$T: a new 64Mi notebook is refused under maxMemory 48Mi (got $code: $(jq -c '.errors[0] // .' "$WORK/body" | head -c 200))" \
        bash -c '[ "$1" = 403 ] && grep -q maxMemory "$2"' _ "$code" "$WORK/body"
    code=$(apply_yaml "$(job "$P-jb2" 1)")
    check "$T: a 32Mi job is still accepted (got $code)" test "$code" = 202
    check "$T: the running notebook kept its container ($(short "$cid"))" \
        test "$(run_field "$nb" '.containers[0]')/$(run_field "$nb" .status)/$(docker inspect --format '{{.State.Running}}' "$cid" 2>&1)" = "$cid/ready/true"
    check "$T: the running job still runs" test "$(run_field "$jb" .status)" = running
    check "$T: at logLevel debug debug lines appear" \
        bash -c 'sleep 1; grep -q "^debug:" "$1"' _ "$WORK/cassinyd.log"
    # A config that does not parse: logged with its line, nothing changes.
    printf 'policy: [unclosed\n' >>"$WORK/config.yaml"
    hup_until 'reload: invalid config'
    check "$T: an invalid config at reload is logged with its file and line" \
        grep -qE 'reload: invalid config: .*config.yaml:[0-9]+:[0-9]+' "$WORK/cassinyd.log"
    code=$(apply_yaml "$(notebook "$P-nb3")")
    check "$T: ... and the policy in effect stays the reloaded one (64Mi refused: $code)" test "$code" = 403
    check "$T: ... and the daemon still serves" curl -fsS --unix-socket "$SOCK" -o /dev/null http://localhost/healthz
    finish "$P-nb" "$P-jb" "$P-jb2"
}

# --- 15. spec.auth: a model that takes only its own tokens, checked by the
# gateway before anything reaches a replica.
t_model_auth() {
    begin model-auth || { daemon_failed; return; }
    local good=tok-good-$$ bad=tok-bad-$$ hash m st code
    hash=$(printf %s "$good" | sha256sum | cut -d' ' -f1)
    m=$(launch "$(model "$P-am" "  auth:
    tokens: [{sha256: $hash, name: ci}]
")")
    st=$(wait_run "$m" 40 ready)
    check "$T: a model with spec.auth is ready (got $st)" test "$st" = ready
    code=$(curl -s -o "$WORK/p.json" -w '%{http_code}' "${GATEWAY}$P-am/ping.txt")
    check "$T: no token: 401 from the gateway ($code: $(jq -r .detail "$WORK/p.json" 2>/dev/null))" test "$code" = 401
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $bad" "${GATEWAY}$P-am/ping.txt")
    check "$T: another token: 403 ($code)" test "$code" = 403
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Basic eDp5" "${GATEWAY}$P-am/ping.txt")
    check "$T: a malformed Authorization: 401 ($code)" test "$code" = 401
    code=$(curl -s -o "$WORK/pong" -w '%{http_code}' -H "Authorization: Bearer $good" "${GATEWAY}$P-am/ping.txt")
    check "$T: its token: 200 from a replica ($code $(cat "$WORK/pong"))" test "$code/$(cat "$WORK/pong")" = 200/pong
    check "$T: no replica saw the refused requests (their logs have one GET of ping.txt)" \
        test "$(for c in $(run_field "$m" '.containers[]'); do docker logs "$c" 2>&1; done | grep -c 'ping.txt')" -le 1
    check "$T: /metrics counts the refusals by reason" \
        bash -c 'curl -s --unix-socket "$1" http://localhost/metrics | grep -q "^cassiny_gateway_errors_total{model=\"$2\",reason=\"no-token\"} 2$"' _ "$SOCK" "$P-am"
    finish "$P-am"
}

selected() { # selected NAME: not in CASS_SKIP, and CASS_ONLY is unset or one of its words starts NAME
    local w
    for w in ${CASS_SKIP//,/ }; do
        case $1 in "$w"*) return 1 ;; esac
    done
    [ -z "${CASS_ONLY:-}" ] && return 0
    for w in ${CASS_ONLY//,/ }; do
        case $1 in "$w"*) return 0 ;; esac
    done
    return 1
}
if ! docker image inspect "$BUSYBOX" >/dev/null 2>&1; then
    not_ok "image $BUSYBOX is present (packaging/images/build-test-image.sh builds it)"
    summary
    exit 1
fi
if ! make_httpd_image; then
    not_ok "the busybox httpd image $HTTPD is made from $BUSYBOX"
    summary
    exit 1
fi
ran=0
for t in $TESTS; do
    selected "$t" || continue
    ran=$((ran + 1))
    "t_${t//-/_}"
done
[ $ran -gt 0 ] || not_ok "CASS_ONLY=${CASS_ONLY:-} names none of the tests: $TESTS"
[ ${#SKIPPED[@]} -gt 0 ] && echo "# skipped: ${SKIPPED[*]}"
summary
