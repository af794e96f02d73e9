# Sourced by lib.sh and the fault suite: waiting for a process, bounded.
# alive PID: PID runs (a zombie, ended but not yet waited for, does not)
alive() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "${st%% *}" != Z ]
}
# descendants PID: the processes under PID, children first
descendants() {
    local c
    for c in $(pgrep -P "$1"); do
        descendants "$c"
        echo "$c"
    done
}
# show_procs PID...: what these processes run (ps), and the threads' stacks
# of the first 8 when gdb is there; each line starts with "#"
show_procs() {
    local p
    ps -o pid,etime,stat,wchan:24,args -p "$(tr -s ' \n' ',' <<<"$*" | sed 's/^,//; s/,$//')" | sed 's/^/#   /'
    command -v gdb >/dev/null || return 0
    for p in "${@:1:8}"; do
        echo "#   threads of $p:"
        timeout 60 gdb -p "$p" -batch -ex 'thread apply all bt 15' 2>/dev/null |
            grep -E '^(Thread|#[0-9])' | head -n 120 | sed 's/^/#     /'
    done
}
# reap PID SECONDS: waits for PID (a child of this shell, asked to end) to
# end; its exit status in REAPED. One still running after SECONDS hangs: it
# fails, after it printed what PID and its children run (show_procs) and
# killed them all, so that a hang is a red test with its evidence instead of
# a suite that never ends.
reap() {
    local pid=$1 t=$2 i
    for ((i = 0; i < t * 10; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        echo "# $pid still runs $t s after it was asked to end; what it runs:"
        local all
        all="$(descendants "$pid") $pid"
        # shellcheck disable=SC2086 # a list of pids
        show_procs $all
        # shellcheck disable=SC2086
        kill -KILL $all 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    REAPED=$?
    [ "$i" -lt $((t * 10)) ]
}

# deadline SECONDS COMMAND...: COMMAND, stopped (SIGTERM, SIGKILL 10 s later)
# after SECONDS. Not a bare timeout(1) around a sanitized binary: a bare one
# signals its whole process group and then sends SIGCONT, and a SIGCONT
# discards the SIGSTOP of LeakSanitizer's ptrace attach at exit, so that
# LeakSanitizer waits for that stop for ever (seen: cassinyctl events after
# its SIGINT, in test_cli_jobs). --foreground signals the command alone and
# sends no SIGCONT. For a command run in the background and stopped with
# SIGINT, write `timeout --foreground -k 10 N` out: a function in the
# background is a subshell, and such a subshell ignores SIGINT.
deadline() {
    local t=$1
    shift
    timeout --foreground -k 10 "$t" "$@"
}
