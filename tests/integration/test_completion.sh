#!/bin/bash
# Shell completion of cassinyctl against a private cassinyd: bash's function
# is called the way bash calls it (COMP_WORDS and COMP_CWORD set, COMPREPLY
# read), for verbs, flags, -o values, kinds, a spec name and a run id from
# the live daemon, a file name, and an unreachable daemon; zsh's is
# registered by compinit and run with words and CURRENT set and compadd
# recorded (zsh -f: no zle, so no terminal to drive). Every container made
# here is removed at exit.
set -u
build=$1
src=$2
SUITE=completion
. "$src/tests/integration/lib.sh"
IMAGE=cassiny/test-busybox:latest
p="cp$$" # prefix of every name here, so that cleanup finds only ours
job="$p-job"
CFG=$(mktemp /tmp/cassiny-completion-cfg.XXXXXX)

cleanup() {
    ids=$(docker ps -aq --filter "label=io.cassiny.name=$job")
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
    rm -f "$CFG"
    cleanup_daemon
}
trap cleanup EXIT

printf 'policy: {images: ["cassiny/*"], mountRoots: ["/tmp"]}\ngateway: {port: 0}\n' >"$CFG"
start_daemon "$build" --config "$CFG" || { not_ok "daemon starts"; summary; exit 1; }
ok "daemon starts"
export PATH="$build/cli:$PATH"
export CASSINY_HOST=$HOST
cat >"$WORK/job.yaml" <<EOF
apiVersion: cassiny/v1
kind: Job
metadata: {name: $job}
spec:
  image: $IMAGE
  command: ["true"]
EOF
cassinyctl apply -f "$WORK/job.yaml" >/dev/null 2>"$WORK/err" || cat "$WORK/err"
run=$(cassinyctl -o json runs "$job" | jq -r '.runs[0].id')
check "a job and its run to complete ($run)" test -n "$run" -a "$run" != null

# --- bash
# shellcheck source=/dev/null
. "$src/packaging/completion/bash/cassinyctl"
check "the bash script registers _cassinyctl for cassinyctl" \
    test "$(complete -p cassinyctl)" = "complete -F _cassinyctl cassinyctl"

# comp WORD...: COMPREPLY, one a line, for the line typed up to the last word.
comp() {
    COMP_WORDS=(cassinyctl "$@")
    COMP_CWORD=$#
    COMPREPLY=()
    _cassinyctl
    printf '%s\n' "${COMPREPLY[@]}"
}
# expect DESCRIPTION EXPECTED WORD...: the replies, sorted, are exactly EXPECTED.
expect() {
    local d=$1 want=$2 got
    shift 2
    got=$(comp "$@" | sort | tr '\n' ' ' | sed 's/ $//')
    if [ "$got" = "$want" ]; then ok "bash: $d: $got"; else not_ok "bash: $d: got '$got', want '$want'"; fi
}
# has DESCRIPTION CANDIDATE WORD...: the replies include CANDIDATE.
has() {
    local d=$1 want=$2
    shift 2
    if comp "$@" | grep -qxF -- "$want"; then ok "bash: $d"; else not_ok "bash: $d: no $want in '$(comp "$@" | tr '\n' ' ')'"; fi
}

expect "a verb prefix" "reproduce" re
expect "another verb prefix" "reproduce rollback runs" r
has "every verb at the start" version ""
comp "" | grep -q __complete && not_ok "bash: the hidden verb is offered" || ok "bash: the hidden verb is not offered"
expect "a flag of apply" "--dry-run" apply --d
expect "the flags of runs" "--kind --limit --output --status -o" runs -
expect "the options before the verb" "--help --host" --h
expect "-o after the verb" "json table yaml" get -o ""
expect "-o before the verb" "json" -o j
expect "a kind as get's first argument" "notebook" get no
expect "the kinds of --kind" "job model notebook" runs --kind ""
expect "--kind=VALUE in one word (split at = as bash does)" "model" runs --kind = m
expect "a status of --status" "failed" runs --status fa
expect "image's action" "push" image ""
expect "the flags of image" "--output --registry -o" image push x -
expect "no completion of an image reference" "" image push ""
has "a spec name from the daemon" "$job" describe "$p"
expect "a name of that kind after get KIND" "$job" get job "$p"
expect "no Job name after get notebook" "" get notebook "$p"
has "a spec name for --name" "$job" events --name ""
has "a run id from the daemon" "$run" stop r-
has "a run id for logs NAME|RUN" "$run" logs "${run:0:6}"
expect "nothing after stop's one argument" "" stop "$run" ""
touch "$WORK/spec-one.yaml"
expect "a file name after -f" "$WORK/spec-one.yaml" apply -f "$WORK/spec-o"
# The host typed on the line is the one asked: bash splits it at ":".
CASSINY_HOST=unix:///nonexistent/cassiny.sock \
    has "the daemon of --host on the line" "$job" --host unix : "//$SOCK" describe "$p"
start=$(date +%s%N)
got=$(CASSINY_HOST=unix:///nonexistent/cassiny.sock comp describe "")
ms=$((($(date +%s%N) - start) / 1000000))
check "an unreachable daemon: no candidates, no error, at once (${ms} ms)" \
    test -z "$got" -a "$ms" -lt 3000

# A daemon that accepts and never answers: the helper gives up after its
# short timeout (1.5 s, once for the names and run ids together) with
# nothing printed.
socat UNIX-LISTEN:"$WORK/mute.sock",fork EXEC:"sleep 30" 2>/dev/null &
mute=$!
for _ in $(seq 50); do [ -S "$WORK/mute.sock" ] && break; sleep 0.1; done
listening=no
[ -S "$WORK/mute.sock" ] && listening=yes
start=$(date +%s%N)
got=$(CASSINY_HOST="unix://$WORK/mute.sock" comp describe "")
ms=$((($(date +%s%N) - start) / 1000000))
kill "$mute" 2>/dev/null
wait "$mute" 2>/dev/null
check "a daemon that does not answer: no candidates within the timeout (${ms} ms)" \
    test "$listening" = yes -a -z "$got" -a "$ms" -ge 1000 -a "$ms" -lt 2500

# --- zsh
if command -v zsh >/dev/null 2>&1; then
    zdir="$src/packaging/completion/zsh"
    check "zsh -n accepts _cassinyctl" zsh -n "$zdir/_cassinyctl"
    got=$(zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit && compinit -u -d "$2/zcompdump"
        print -r -- "${_comps[cassinyctl]}"' zsh "$zdir" "$WORK")
    check "compinit registers _cassinyctl for cassinyctl ($got)" test "$got" = _cassinyctl
    # zcomp WORD...: what _cassinyctl hands compadd (or FILES for _files).
    zcomp() {
        zsh -f -c 'fpath=("$1" $fpath); shift; autoload -Uz _cassinyctl
            compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@"; }
            _files() { print -r -- FILES; }
            words=(cassinyctl "$@"); CURRENT=${#words}
            _cassinyctl' zsh "$zdir" "$@" | sort | tr '\n' ' ' | sed 's/ $//'
    }
    zexpect() {
        local d=$1 want=$2 got
        shift 2
        got=$(zcomp "$@")
        if [ "$got" = "$want" ]; then ok "zsh: $d: $got"; else not_ok "zsh: $d: got '$got', want '$want'"; fi
    }
    zexpect "a verb prefix" "reproduce" re
    zexpect "a flag of apply" "--dry-run" apply --d
    zexpect "a kind" "job model notebook" runs --kind ""
    zexpect "--kind=VALUE" "--kind=model" runs --kind=m
    zexpect "a spec name from the daemon" "$job" get job "$p"
    zexpect "a run id from the daemon" "$run" reproduce "${run:0:8}"
    zexpect "a file name after -f" "FILES" validate -f ""
else
    not_ok "zsh is not installed (packaging/install-deps.sh installs it)"
fi

summary
