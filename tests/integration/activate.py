#!/usr/bin/env python3
"""A socket-activating supervisor for the restart test, the way systemd runs
cassinyd with cassinyd.socket, cassinyd-gateway.socket and Restart=on-failure
where there is no systemd as PID 1.

It binds the API's unix socket and the gateway's TCP socket once and keeps
them for its whole life; it runs the daemon with them as descriptors 3 and 4
(LISTEN_FDS=2, LISTEN_PID set in the child after the fork, before exec,
LISTEN_FDNAMES=api:gateway) and starts it again after RESTART_SEC when it
fails (an exit status other than 0, or a signal, as after kill -9). SIGHUP
is `systemctl restart`: SIGTERM to the daemon, then a start whatever its exit
status. SIGTERM or SIGINT is `systemctl stop`: SIGTERM to the daemon, then
the supervisor exits with the daemon's exit status.

With --self-bind it passes no socket: the daemon binds its own (how cassinyd
runs without socket activation, and how every daemon before it did). With
--only api or --only gateway it binds and passes that one only (as
cassinyd.socket to cassinyd.service and cassinyd-gateway.socket to
cassinyd-gateway.service): one supervisor runs cassinyd --no-gateway, another
cassinyd --gateway-only.

Usage: activate.py --api PATH --gateway HOST:PORT --pid-file F --exits F
                   --log F [--self-bind | --only api|gateway] -- CASSINYD [ARGS...]
The daemon's pid is written to the pid file at each start; each exit is one
line "PID STATUS" of the exits file (STATUS: the exit code, or -SIGNAL).
"""
import argparse
import os
import signal
import socket
import sys
import time

RESTART_SEC = 0.1  # cassinyd.service's RestartSec=


def listen_sockets(api_path, gateway, only):
    """The sockets the service manager holds: [(name, socket)]."""
    if only == "gateway":
        return [("gateway", listen_gateway(gateway))]
    if os.path.exists(api_path):
        os.unlink(api_path)
    api = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        api.bind(api_path)
    finally:
        os.umask(old)
    os.chmod(api_path, 0o660)  # SocketMode=0660
    api.listen(128)
    if only == "api":
        return [("api", api)]
    return [("api", api), ("gateway", listen_gateway(gateway))]


def listen_gateway(gateway):
    host, port = gateway.rsplit(":", 1)
    gw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    gw.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    gw.bind((host, int(port)))
    gw.listen(1024)  # Backlog= of cassinyd-gateway.socket
    return gw


def spawn(argv, log, sockets):
    pid = os.fork()
    if pid:
        return pid
    try:
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        env = dict(os.environ)
        if sockets:
            # Out of the way first, so that dup2 onto 3 cannot close 4's source.
            high = [os.dup(s.fileno()) for _, s in sockets]
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i, inheritable=True)
            env["LISTEN_FDS"] = str(len(sockets))
            env["LISTEN_PID"] = str(os.getpid())
            env["LISTEN_FDNAMES"] = ":".join(name for name, _ in sockets)
        else:
            for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
                env.pop(k, None)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(argv[0], argv, env)
    except BaseException as e:  # never return into the parent's code
        os.write(2, ("activate.py: exec %s: %s\n" % (argv[0], e)).encode())
    os._exit(127)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--pid-file", required=True)
    ap.add_argument("--exits", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--self-bind", action="store_true")
    ap.add_argument("--only", choices=("api", "gateway"))
    ap.add_argument("argv", nargs="+")
    a = ap.parse_args()
    sockets = None if a.self_bind else listen_sockets(a.api, a.gateway, a.only)

    state = {"child": 0, "restart": False, "stop": False}

    def on_restart(sig, frame):
        state["restart"] = True
        if state["child"]:
            os.kill(state["child"], signal.SIGTERM)

    def on_stop(sig, frame):
        state["stop"] = True
        if state["child"]:
            os.kill(state["child"], signal.SIGTERM)

    signal.signal(signal.SIGHUP, on_restart)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    status = 0
    while True:
        state["restart"] = False
        pid = spawn(a.argv, a.log, sockets)
        state["child"] = pid
        with open(a.pid_file + ".tmp", "w") as f:
            f.write("%d\n" % pid)
        os.rename(a.pid_file + ".tmp", a.pid_file)
        if state["stop"]:  # asked to stop while it was being started
            os.kill(pid, signal.SIGTERM)
        _, ws = os.waitpid(pid, 0)
        state["child"] = 0
        status = os.waitstatus_to_exitcode(ws)
        with open(a.exits, "a") as f:
            f.write("%d %d\n" % (pid, status))
        if state["stop"]:
            break
        if status == 0 and not state["restart"]:
            break  # Restart=on-failure: a clean exit of its own is final
        time.sleep(RESTART_SEC)
    if sockets and a.only != "gateway" and os.path.exists(a.api):
        os.unlink(a.api)
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
