#!/usr/bin/env python3
"""Holds many kept-alive connections to the model gateway at once.

gateway_load.py --port PORT --path PATH --connections N [--requests R]
                [--api-socket SOCK --api-idle M] [--timeout S]

Opens N TCP connections to 127.0.0.1:PORT, all at the same time, then sends R
requests (GET PATH) one after the other on every connection, all connections
in parallel, each waiting for its answer (keep-alive: the same connection is
reused). A connection whose every answer is a 2xx counts as "ok"; one the
gateway closed or reset (at connect or later) as "refused"; one still waiting
when S seconds are up as "hung". While all N are still open, it opens M idle
connections to the API's unix socket and sends GET /healthz on one more.
Prints one JSON object: {"ok", "refused", "hung", "statuses", "seconds",
"refused_seconds_max", "api_idle_open", "healthz", "healthz_seconds"}.
"""
import argparse
import json
import resource
import selectors
import socket
import sys
import time


class Conn:
    def __init__(self, sock, request, requests):
        self.sock = sock
        self.request = request
        self.left = requests
        self.out = b""
        self.buf = b""
        self.state = "connecting"  # sending, reading, done, refused
        self.statuses = []
        self.ended_at = None


def answer_length(buf):
    """Bytes of the first complete HTTP answer in buf, the status, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if len(buf) < end + 4 + length:
        return None
    return end + 4 + length, status


def healthz(path, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # Blocking: with a timeout, connect fails at once while the listen
        # backlog is full instead of waiting its turn.
        s.connect(path)
        s.settimeout(timeout)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    except OSError:
        return 0
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--connections", type=int, required=True)
    ap.add_argument("--requests", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--api-socket")
    ap.add_argument("--api-idle", type=int, default=0)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (a.path, a.port)).encode()
    sel = selectors.DefaultSelector()
    conns = []
    start = time.monotonic()
    for _ in range(a.connections):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", a.port))
        c = Conn(s, request, a.requests)
        conns.append(c)
        sel.register(s, selectors.EVENT_WRITE, c)

    def end(c, state):
        c.state = state
        c.ended_at = time.monotonic() - start
        sel.unregister(c.sock)

    deadline = start + a.timeout
    pending = len(conns)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
            c = key.data
            if c.state == "connecting":
                if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    end(c, "refused")
                    pending -= 1
                    continue
                c.state, c.out = "sending", c.request
            if c.state == "sending":
                try:
                    c.out = c.out[c.sock.send(c.out):]
                except OSError:
                    end(c, "refused")
                    pending -= 1
                    continue
                if not c.out:
                    c.state = "reading"
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            try:
                chunk = c.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                end(c, "refused")
                pending -= 1
                continue
            c.buf += chunk
            got = answer_length(c.buf)
            if not got:
                continue
            n, status = got
            c.buf = c.buf[n:]
            c.statuses.append(status)
            c.left -= 1
            if c.left == 0:
                end(c, "done")
                pending -= 1
            else:
                c.state, c.out = "sending", c.request
                sel.modify(c.sock, selectors.EVENT_WRITE, c)

    result = {
        "ok": sum(1 for c in conns if c.state == "done" and all(200 <= s < 300 for s in c.statuses)),
        "refused": sum(1 for c in conns if c.state == "refused"),
        "hung": sum(1 for c in conns if c.state not in ("done", "refused")),
        "statuses": {},
        "seconds": round(time.monotonic() - start, 3),
        "refused_seconds_max": max([c.ended_at for c in conns if c.state == "refused"] or [0]),
    }
    for c in conns:
        for s in c.statuses:
            result["statuses"][str(s)] = result["statuses"].get(str(s), 0) + 1

    # The API while the gateway's connections are still open.
    if a.api_socket:
        idle = []
        for _ in range(a.api_idle):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(a.api_socket)
            except OSError:
                s.close()
                break
            idle.append(s)
        result["api_idle_open"] = len(idle)
        t = time.monotonic()
        result["healthz"] = healthz(a.api_socket, 15)
        result["healthz_seconds"] = round(time.monotonic() - t, 3)
        for s in idle:
            s.close()
    for c in conns:
        c.sock.close()
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
