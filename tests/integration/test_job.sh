#!/bin/bash
# Jobs end to end against the real engine and the real daemon: outputs
# hashed, logs kept after the container is gone, reproductions compared
# with their original (identical, a changed file named, changed inputs
# noticed, the recorded image ID used after the tag moved, a missing image
# named), timeout / non-zero exit / OOM reasons, a notebook executed with
# nbconvert in cassiny/notebook:bookworm, kill -9 of the daemon mid-job, the
# events stream, the concurrency limit, and the examples (examples/job.yaml
# and notebook-job.yaml over a copy of examples/churn) reproducing identical.
set -u
build=$1
src=$2
SUITE=job
. "$src/tests/integration/lib.sh"
BUSYBOX=${CASS_TEST_IMAGE:-cassiny/test-busybox:latest}
NOTEBOOK=${CASS_NOTEBOOK_IMAGE:-cassiny/notebook:bookworm}
WORK=$(mktemp -d /tmp/cassiny-job.XXXXXX)
P=job-$$                        # prefix of every spec name of this run
RETAG=cassiny/job-retag-$$:v1   # private tags: never move a shared one
GONE=cassiny/job-gone-$$:v1
CTL=("$build/cli/cassinyctl")
EVENTS_PID=
cleanup() {
    [ -n "$EVENTS_PID" ] && kill "$EVENTS_PID" 2>/dev/null
    local inst
    inst=$(cat "$WORK/state/instance" 2>/dev/null)
    stop_daemon
    [ -n "$inst" ] && docker rm -f $(docker ps -aq --filter "label=io.cassiny.instance=$inst") >/dev/null 2>&1
    docker rm -f $(docker ps -aq --filter "name=^cassiny-$P") >/dev/null 2>&1
    docker rmi "$RETAG" "$GONE" >/dev/null 2>&1
    cleanup_daemon
    true
}
trap cleanup EXIT

for img in "$BUSYBOX" "$NOTEBOOK"; do
    if ! docker image inspect "$img" >/dev/null 2>&1; then
        not_ok "image $img is present (packaging/images/ builds it)"
        summary
        exit 1
    fi
done
BUSYBOX_ID=$(docker image inspect --format '{{.Id}}' "$BUSYBOX")
NOTEBOOK_ID=$(docker image inspect --format '{{.Id}}' "$NOTEBOOK")
write_config
start_daemon "$build" --config "$WORK/config.yaml" || { not_ok "daemon starts"; summary; exit 1; }
INSTANCE=$(cat "$WORK/state/instance")

# job NAME IMAGE [spec lines]: a Job spec ($MEM of memory, default 256Mi)
job() {
    printf 'apiVersion: cassiny/v1\nkind: Job\nmetadata: {name: %s}\nspec:\n  image: %s\n  resources: {cpus: 1, memory: %s}\n%s' "$1" "$2" "${MEM:-256Mi}" "${3:-}"
}
jqe() { jq -e "$@" >/dev/null; }
# checkv DESCRIPTION SHOW COMMAND...: as check, and on failure shows the
# output of the shell text SHOW
checkv() {
    local d=$1 show=$2
    shift 2
    if "$@"; then ok "$d"; else not_ok "$d"; eval "$show" 2>&1 | sed 's/^/# /'; fi
}
# reproduce RUN: POSTs the reproduction, prints the new run id
reproduce() {
    local code
    code=$(api POST "/v1/runs/$1/reproduce")
    [ "${code%% *}" = 202 ] || { echo "reproduce answered $code: $(head -c 300 "$WORK/body")" >&2; return 1; }
    jq -r '.id // .run.id' "$WORK/body"
}
run_field() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1" | jq -r "$2"; }
run_json() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1"; }
outdir() { echo "$WORK/state/runs/$1/outputs"; }
# no_container RUN...: no container of these runs is left (the daemon
# removes a job's container just after recording its end: allow it 10 s)
no_container() {
    local i r left
    for i in $(seq 50); do
        left=
        for r in "$@"; do
            [ -n "$(docker ps -aq --filter "label=io.cassiny.run=$r")" ] && left=1
        done
        [ -z "$left" ] && return 0
        sleep 0.2
    done
    return 1
}
# manifest_matches RUN: the run's outputs are exactly the files of its
# outputs directory, with their sizes and sha256
manifest_matches() {
    local dir want got
    dir=$(outdir "$1")
    want=$(cd "$dir" && find . -type f | sed 's|^\./||' | sort | while read -r f; do
        printf '%s %s %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
    done)
    got=$(run_field "$1" '.outputs | sort_by(.path)[] | "\(.path) \(.size) \(.sha256)"')
    [ -n "$want" ] && [ "$want" = "$got" ]
}
logs_of() { curl -s --unix-socket "$SOCK" "http://localhost/v1/runs/$1/logs"; }

mkdir -p "$WORK/data/det" "$WORK/data/ic" "$WORK/data/nb"
echo "seed=7" >"$WORK/data/det/params.txt"
echo "alpha=1" >"$WORK/data/ic/params.txt"

# --- a notebook job: started first, it takes a few seconds
printf 'city,customers,churned\nlyon,120,9\nparis,300,27\nnantes,80,4\n' >"$WORK/data/nb/customers.csv"
# nbformat 4.5 with explicit cell ids: without them nbformat invents random
# ones on every read, and the executed notebook would differ run to run.
cat >"$WORK/data/nb/churn.ipynb" <<'IPYNB'
{
 "cells": [
  {"cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# Churn rate by city"]},
  {"cell_type": "code", "execution_count": null, "id": "rates", "metadata": {}, "outputs": [],
   "source": ["import os\n", "import pandas as pd\n",
              "df = pd.read_csv('/in/customers.csv')\n",
              "df['rate'] = (df.churned / df.customers).round(4)\n",
              "df.to_csv(os.path.join(os.environ['CASSINY_OUTPUTS'], 'rates.csv'), index=False)\n",
              "print('total', df.customers.sum())"]},
  {"cell_type": "code", "execution_count": null, "id": "show", "metadata": {}, "outputs": [],
   "source": ["df.sort_values('rate')"]}
 ],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
 "nbformat": 4,
 "nbformat_minor": 5
}
IPYNB
NB=$(launch "$(job "$P-nb" "$NOTEBOOK" "  notebook: /in/churn.ipynb
  inputs: [{source: $WORK/data/nb, target: /in}]
  timeoutSeconds: 120
")")

# --- a deterministic job, with the events of its run streamed
DET_YAML=$(job "$P-det" "$BUSYBOX" "  command: [sh, -c, 'echo hello from the job; echo hello > \$CASSINY_OUTPUTS/a.txt; mkdir \$CASSINY_OUTPUTS/sub; seq 1 100 > \$CASSINY_OUTPUTS/sub/b.txt; cat /in/params.txt > /outputs/params.txt']
  inputs: [{source: $WORK/data/det, target: /in}]
  timeoutSeconds: 60
")
DET=$(launch "$DET_YAML")
check "a job is accepted with a run" grep -q '^r-' <<<"$DET"
curl -sN --unix-socket "$SOCK" "http://localhost/v1/events?run=$DET&since=0" >"$WORK/events-det" 2>/dev/null &
EVENTS_PID=$!
st=$(wait_run "$DET" 60)
check "the job succeeds (got $st)" test "$st" = succeeded
check "reason completed, exit code 0" test "$(run_field "$DET" '"\(.reason) \(.exitCode)"')" = "completed 0"
check "finishedAt is recorded" test "$(run_field "$DET" .finishedAt)" != null
check "the run records the image ID" test "$(run_field "$DET" .image.id)" = "$BUSYBOX_ID"
check "outputs: every file with its size and sha256" manifest_matches "$DET"
check "nested outputs are named by relative path" test "$(run_field "$DET" '[.outputs[].path] | sort | join(",")')" = "a.txt,params.txt,sub/b.txt"
check "an outputsDigest is recorded" grep -qE '^[0-9a-f]{64}$' <<<"$(run_field "$DET" .outputsDigest)"
check "an inputsDigest is recorded" grep -qE '^[0-9a-f]{64}$' <<<"$(run_field "$DET" .inputsDigest)"
check "its inputs file by file, under their targets: in/params.txt with its sha256" \
    test "$(run_field "$DET" '[.inputs[] | "\(.path)=\(.sha256)"] | join(",")')" = "in/params.txt=$(sha256sum "$WORK/data/det/params.txt" | cut -d' ' -f1)"
check "the container is removed" no_container "$DET"
check "the logs are kept in the state directory" grep -q 'hello from the job' "$WORK/state/runs/$DET/container.log"
check "and served after the container is gone" grep -q 'hello from the job' <<<"$(logs_of "$DET")"
check "outputs dir is mounted at /outputs (also \$CASSINY_OUTPUTS)" test "$(cat "$(outdir "$DET")/params.txt")" = seed=7

sleep 0.5
kill "$EVENTS_PID" 2>/dev/null
wait "$EVENTS_PID" 2>/dev/null
EVENTS_PID=
seq_det=$(sed -n 's/^data: //p' "$WORK/events-det" | jq -r .status | tr '\n' ' ')
check "the events stream shows each transition in order ($seq_det)" \
    grep -qE '^pending (queued )?creating starting running succeeded $' <<<"$seq_det"
check "every event is a run event with an id" \
    test "$(grep -c '^event: run$' "$WORK/events-det")" = "$(grep -c '^id: ' "$WORK/events-det")"
ids=$(sed -n 's/^id: //p' "$WORK/events-det")
check "event ids increase" test "$ids" = "$(sort -n <<<"$ids")"
check "the last event carries the exit code" test "$(sed -n 's/^data: //p' "$WORK/events-det" | tail -n 1 | jq -r '"\(.reason) \(.exitCode)"')" = "completed 0"
second=$(sed -n 2p <<<"$ids")
curl -s --max-time 2 -H "Last-Event-ID: $second" --unix-socket "$SOCK" \
    "http://localhost/v1/events?run=$DET" >"$WORK/events-resume" 2>/dev/null
seq_resume=$(sed -n 's/^data: //p' "$WORK/events-resume" | jq -r .status | tr '\n' ' ')
check "Last-Event-ID resumes after that event ($seq_resume)" \
    test "$seq_resume" = "$(sed -n 's/^data: //p' "$WORK/events-det" | tail -n +3 | jq -r .status | tr '\n' ' ')"

code=$(apply_yaml "$DET_YAML")
check "re-applying a job that succeeded runs nothing" jqe '.specs[0].changed == false and .specs[0].run.id == "'"$DET"'"' "$WORK/body"

# --- reproduce it: identical
DET2=$(reproduce "$DET")
check "reproduce answers 202 with a new run" test -n "$DET2" -a "$DET2" != "$DET"
st=$(wait_run "$DET2" 60)
check "the reproduction succeeds (got $st)" test "$st" = succeeded
check "it names its original" test "$(run_field "$DET2" .reproducedFrom)" = "$DET"
check "with the original's revision" test "$(run_field "$DET2" .revision)" = "$(run_field "$DET" .revision)"
check "and image ID" test "$(run_field "$DET2" .image.id)" = "$BUSYBOX_ID"
check "comparison: identical, inputs unchanged" jqe '.comparison | .identical == true and .inputsChanged == false and .added == [] and .removed == [] and .changed == [] and .original == "'"$DET"'"' <<<"$(run_json "$DET2")"
check "the same outputsDigest" test "$(run_field "$DET2" .outputsDigest)" = "$(run_field "$DET" .outputsDigest)"
check "its outputs are its own fresh directory" manifest_matches "$DET2"

curl -s --max-time 1 --unix-socket "$SOCK" "http://localhost/v1/events?name=$P-det&since=0" >"$WORK/events-name" 2>/dev/null
check "?name= streams only that spec's runs, the reproduction included" \
    test "$(sed -n 's/^data: //p' "$WORK/events-name" | jq -r .id | sort -u | tr '\n' ' ')" = "$(printf '%s\n' "$DET" "$DET2" | sort | tr '\n' ' ')"

# --- a job that writes the time: the reproduction names the changed file
# busybox date has no %N: the seconds and the uptime (1/100 s) together
# differ between any two runs.
TIME=$(launch "$(job "$P-time" "$BUSYBOX" "  command: [sh, -c, 'date +%s > /outputs/time.txt; cat /proc/uptime >> /outputs/time.txt; echo fixed > /outputs/same.txt']
")")
wait_run "$TIME" 60 >/dev/null
TIME2=$(reproduce "$TIME")
st=$(wait_run "$TIME2" 60)
check "a job writing the time, reproduced, succeeds (got $st)" test "$st" = succeeded
checkv "comparison: not identical, time.txt changed, nothing else" 'run_json "$TIME2" | jq -c .comparison' \
    jqe '.comparison | .identical == false and .changed == ["time.txt"] and .added == [] and .removed == [] and .inputsChanged == false' <<<"$(run_json "$TIME2")"

# cassinyctl reproduce --wait: 0 when identical, 1 when the outputs differ
if "${CTL[@]}" --help 2>&1 | grep -q '^  reproduce'; then
    out=$("${CTL[@]}" --host "$HOST" reproduce "$DET" --wait 2>&1)
    check "cassinyctl reproduce --wait exits 0 when identical" test $? = 0
    out=$("${CTL[@]}" --host "$HOST" reproduce "$TIME" --wait 2>&1)
    rc=$?
    check "cassinyctl reproduce --wait exits 1 when outputs differ" test $rc = 1
    check "and names the changed file" grep -q time.txt <<<"$out"
else
    echo "# skip: this cassinyctl has no reproduce verb yet"
fi

# --- inputs changed between the runs
IC=$(launch "$(job "$P-inputs" "$BUSYBOX" "  command: [sh, -c, 'cp /in/params.txt /outputs/; echo const > /outputs/const.txt']
  inputs: [{source: $WORK/data/ic, target: /in}]
")")
wait_run "$IC" 60 >/dev/null
echo "alpha=2" >"$WORK/data/ic/params.txt"
IC2=$(reproduce "$IC")
wait_run "$IC2" 60 >/dev/null
check "changed inputs: comparison.inputsChanged true" jqe '.comparison.inputsChanged == true' <<<"$(run_json "$IC2")"
check "and the file copied from them changed" jqe '.comparison | .identical == false and .changed == ["params.txt"]' <<<"$(run_json "$IC2")"
check "the inputsDigest differs" test "$(run_field "$IC2" .inputsDigest)" != "$(run_field "$IC" .inputsDigest)"

# --- the tag moves to another image: the reproduction uses the recorded ID
docker tag "$BUSYBOX" "$RETAG"
WHICH="  command: [sh, -c, 'if [ -e /etc/debian_version ]; then echo debian; else echo busybox; fi > /outputs/image.txt']
"
RT=$(launch "$(job "$P-retag" "$RETAG" "$WHICH")")
wait_run "$RT" 60 >/dev/null
check "the job ran busybox" test "$(cat "$(outdir "$RT")/image.txt")" = busybox
docker tag "$NOTEBOOK" "$RETAG"
RT2=$(reproduce "$RT")
st=$(wait_run "$RT2" 60)
check "after the tag moved the reproduction succeeds (got $st)" test "$st" = succeeded
check "its image.id is the original's, not the tag's" test "$(run_field "$RT2" .image.id)" = "$BUSYBOX_ID" -a "$NOTEBOOK_ID" != "$BUSYBOX_ID"
check "and that image really ran (its output says busybox)" test "$(cat "$(outdir "$RT2")/image.txt")" = busybox
check "so the outputs are identical" jqe '.comparison.identical == true' <<<"$(run_json "$RT2")"
docker rmi "$RETAG" >/dev/null

# --- the recorded image is gone: the reproduction fails and says which
cid=$(docker create "$BUSYBOX" true)
docker commit --change "LABEL io.cassiny.test=$P" "$cid" "$GONE" >/dev/null
docker rm "$cid" >/dev/null
GONE_ID=$(docker image inspect --format '{{.Id}}' "$GONE")
GJ=$(launch "$(job "$P-gone" "$GONE" "  command: [sh, -c, 'echo x > /outputs/x']
")")
wait_run "$GJ" 60 >/dev/null
no_container "$GJ"
docker rmi "$GONE" >/dev/null
GJ2=$(reproduce "$GJ")
st=$(wait_run "$GJ2" 30)
check "reproducing a run whose image is gone fails (got $st)" test "$st" = failed
check "with reason image-not-found" test "$(run_field "$GJ2" .reason)" = image-not-found
check "and an error naming the missing image ID" grep -qF "$GONE_ID" <<<"$(run_field "$GJ2" .error)"

# --- timeout, non-zero exit, OOM (three at once)
t0=$(date +%s)
TO=$(launch "$(job "$P-timeout" "$BUSYBOX" "  command: [sleep, '30']
  timeoutSeconds: 2
")")
EX=$(launch "$(job "$P-exit" "$BUSYBOX" "  command: [sh, -c, 'echo about to fail >&2; exit 3']
")")
# 8 MiB of memory (the schema's floor is 6Mi); busybox tail keeps all of a
# 64 MiB line in memory.
OOM=$(launch "$(MEM=8Mi job "$P-oom" "$BUSYBOX" "  command: [sh, -c, 'head -c 64m /dev/zero | tail >/dev/null']
")")
st=$(wait_run "$TO" 30)
t1=$(date +%s)
check "a job over timeoutSeconds fails (got $st after $((t1 - t0)) s)" test "$st" = failed -a $((t1 - t0)) -lt 15
check "with reason timeout" test "$(run_field "$TO" .reason)" = timeout
st=$(wait_run "$EX" 30)
check "a job exiting 3 fails (got $st)" test "$st" = failed
check "with reason failed and exitCode 3" test "$(run_field "$EX" '"\(.reason) \(.exitCode)"')" = "failed 3"
check "its stderr is in the logs" grep -q 'about to fail' <<<"$(logs_of "$EX")"
st=$(wait_run "$OOM" 30)
check "a job over its memory limit fails (got $st)" test "$st" = failed
checkv "with reason oom" 'run_json "$OOM" | jq -c "{status, reason, exitCode, oomKilled, error}"; grep -F "$OOM" "$WORK/cassinyd.log"' \
    test "$(run_field "$OOM" .reason)" = oom
check "no container left by the failed jobs" no_container "$TO" "$EX" "$OOM"
code=$(apply_yaml "$(job "$P-exit" "$BUSYBOX" "  command: [sh, -c, 'echo about to fail >&2; exit 3']
")")
check "re-applying an unchanged job that failed runs it again" jqe '.specs[0].changed == true and .specs[0].run.id != "'"$EX"'"' "$WORK/body"
wait_run "$(jq -r '.specs[0].run.id' "$WORK/body")" 30 >/dev/null

# --- the notebook job
st=$(wait_run "$NB" 120)
check "the notebook job succeeds (got $st)" test "$st" = succeeded
check "its outputs are the executed notebook and the CSV, hashed" \
    test "$(run_field "$NB" '[.outputs[].path] | sort | join(",")')" = "churn.ipynb,rates.csv"
check "the manifest matches the files" manifest_matches "$NB"
check "the CSV holds the computed rates" grep -q '^paris,300,27,0.09$' "$(outdir "$NB")/rates.csv"
check "the notebook was executed (outputs and execution counts)" \
    jqe '.cells[1].execution_count == 1 and (.cells[1].outputs[0].text | join("") | test("total 500"))' "$(outdir "$NB")/churn.ipynb"
NB2=$(reproduce "$NB")
st=$(wait_run "$NB2" 120)
check "the notebook job reproduced succeeds (got $st)" test "$st" = succeeded
checkv "and is identical, executed notebook included" \
    'run_json "$NB2" | jq -c .comparison; diff "$(outdir "$NB")/churn.ipynb" "$(outdir "$NB2")/churn.ipynb" | head -n 20' \
    jqe '.comparison.identical == true' <<<"$(run_json "$NB2")"

# --- the examples: examples/job.yaml and notebook-job.yaml over a copy of
# examples/churn, applied with cassinyctl, reproduce identical
mkdir -p "$WORK/data/examples"
cp -R "$src/examples/churn" "$WORK/data/examples/churn"
chmod -R go=rX "$WORK/data/examples"
for ex in job notebook-job; do
    sed "s|/srv/cassiny/examples/churn|$WORK/data/examples/churn|" "$src/examples/$ex.yaml" >"$WORK/$ex.yaml"
    "${CTL[@]}" --host "$HOST" apply -f "$WORK/$ex.yaml" --wait >"$WORK/ctl.out" 2>&1
    checkv "examples/$ex.yaml: apply --wait exits 0" 'cat "$WORK/ctl.out"' test $? = 0
done
EXJ=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs?name=train-churn" | jq -r '.runs[0].id')
EXN=$(curl -s --unix-socket "$SOCK" "http://localhost/v1/runs?name=explore-churn" | jq -r '.runs[0].id')
check "train-churn wrote metrics.json and model.joblib" test "$(run_field "$EXJ" '"\(.status) \([.outputs[].path] | sort | join(","))"')" = "succeeded metrics.json,model.joblib"
check "with the metrics it logged" grep -q '"accuracy"' <<<"$(logs_of "$EXJ")"
check "explore-churn wrote the executed notebook and summary.csv" test "$(run_field "$EXN" '"\(.status) \([.outputs[].path] | sort | join(","))"')" = "succeeded explore.ipynb,summary.csv"
EXJ2=$(reproduce "$EXJ")
EXN2=$(reproduce "$EXN")
wait_run "$EXJ2" 120 >/dev/null
wait_run "$EXN2" 120 >/dev/null
checkv "train-churn reproduces identical (model.joblib included)" 'run_json "$EXJ2" | jq -c "{status, comparison}"' \
    jqe '.comparison.identical == true' <<<"$(run_json "$EXJ2")"
checkv "explore-churn reproduces identical (executed notebook included)" 'run_json "$EXN2" | jq -c "{status, comparison}"' \
    jqe '.comparison.identical == true' <<<"$(run_json "$EXN2")"

# --- kill -9 of the daemon mid-job: one job ends while it is down, one after
K1=$(launch "$(job "$P-kill-a" "$BUSYBOX" "  command: [sh, -c, 'echo start-a; sleep 2; echo a > /outputs/a.txt; echo end-a']
")")
K2=$(launch "$(job "$P-kill-b" "$BUSYBOX" "  command: [sh, -c, 'echo start-b; sleep 8; echo b > /outputs/b.txt; echo end-b']
")")
wait_run "$K1" 30 running >/dev/null
wait_run "$K2" 30 running >/dev/null
K1C=$(run_field "$K1" '.containers[0]')
kill -9 "$DAEMON_PID"
reap "$DAEMON_PID" 30 || not_ok "cassinyd ends at kill -9"
DAEMON_PID=
docker wait "$K1C" >/dev/null 2>&1
start_daemon "$build" --config "$WORK/config.yaml" || not_ok "daemon restarts"
st=$(wait_run "$K1" 20)
check "a job that ended while the daemon was down is recorded (got $st)" test "$st" = succeeded
check "with its outputs" test "$(run_field "$K1" '[.outputs[].path] | join(",")')" = a.txt
check "and its logs" grep -q end-a <<<"$(logs_of "$K1")"
check "the running job is still running after the restart" test "$(run_field "$K2" .status)" = running
st=$(wait_run "$K2" 30)
check "and its completion is recorded (got $st)" test "$st" = succeeded
check "with its outputs" test "$(run_field "$K2" '[.outputs[].path] | join(",")')" = b.txt
check "and its logs, start to end" grep -qz 'start-b.*end-b' <<<"$(logs_of "$K2")"
check "both containers are removed" no_container "$K1" "$K2"

# --- the job limit: one job at a time, three jobs
stop_daemon
check "the daemon exits cleanly on SIGTERM (status $DAEMON_STATUS)" test "$DAEMON_STATUS" = 0
cat >>"$WORK/config.yaml" <<CFG
limits:
  maxRunningJobs: 1
CFG
start_daemon "$build" --config "$WORK/config.yaml" || not_ok "daemon restarts with maxRunningJobs 1"
Q='  command: [sh, -c, "sleep 1; echo ok > /outputs/ok"]
'
code=$(apply_yaml "$(job "$P-q1" "$BUSYBOX" "$Q")
---
$(job "$P-q2" "$BUSYBOX" "$Q")
---
$(job "$P-q3" "$BUSYBOX" "$Q")")
Q1=$(jq -r '.specs[0].run.id' "$WORK/body")
Q2=$(jq -r '.specs[1].run.id' "$WORK/body")
Q3=$(jq -r '.specs[2].run.id' "$WORK/body")
check "three jobs are accepted at once" test "$code" = 202 -a -n "$Q3"
check "the later two wait as queued" test "$(run_field "$Q2" .status) $(run_field "$Q3" .status)" = "queued queued"
wait_run "$Q3" 60 >/dev/null
check "all three succeed" test "$(run_field "$Q1" .status) $(run_field "$Q2" .status) $(run_field "$Q3" .status)" = "succeeded succeeded succeeded"
curl -s --max-time 1 --unix-socket "$SOCK" "http://localhost/v1/events?since=0" >"$WORK/events-q" 2>/dev/null
order=$(sed -n 's/^data: //p' "$WORK/events-q" |
    jq -r --arg a "$Q1" --arg b "$Q2" --arg c "$Q3" \
        'select(.id == $a or .id == $b or .id == $c) | select(.status == "running" or .status == "succeeded") |
         "\(if .id == $a then 1 elif .id == $b then 2 else 3 end)\(.status[0:1])"' | tr '\n' ' ')
check "they run one at a time, in order ($order)" test "$order" = "1r 1s 2r 2s 3r 3s "
check "the queued ones went through queued" test "$(sed -n 's/^data: //p' "$WORK/events-q" | jq -r --arg b "$Q2" --arg c "$Q3" 'select((.id == $b or .id == $c) and .status == "queued") | .id' | sort -u | wc -l)" = 2

# --- a long output: the kept log is its end, where failures explain themselves
LONG=$(launch "$(job "long-$$" cassiny/test-busybox:latest '  command: ["sh", "-c", "i=0; while [ $i -lt 1200 ]; do head -c 8192 /dev/zero | tr \"\\\\0\" x; echo; i=$((i+1)); done; echo THE-END"]
')")
wait_run "$LONG" 60 succeeded >/dev/null
LOG="$WORK/state/runs/$LONG/container.log"
check "a 9.8 MB output is kept as at most 8 MiB and a line" test "$(stat -c %s "$LOG")" -le $((8 * 1024 * 1024 + 100))
check "the kept log ends with the output's end" test "$(tail -n 1 "$LOG")" = THE-END
check "and says what was dropped" grep -q '^\[cassiny: the first [0-9]* bytes of this log were dropped\]' "$LOG"

# --- nothing left behind
check "no container of this daemon is left" test -z "$(docker ps -aq --filter "label=io.cassiny.instance=$INSTANCE")"
check "cassinyd logged no sanitizer report" eval '! grep -qE "AddressSanitizer|runtime error:" "$WORK/cassinyd.log"'

summary
