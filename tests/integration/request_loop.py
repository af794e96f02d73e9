#!/usr/bin/env python3
"""A continuous request loop for the restart test: GET PATH about RATE times
a second, each on a new connection (so that every request goes through the
listening socket), until SIGTERM; then one JSON line of figures on stdout.

A request counts as failed when it gets no answer (refused, reset, no
listener, timed out) or an answer other than 200; its latency runs from the
connect to the end of the body, a wait in a listening socket's backlog
included. "cut" counts the failures of a connection that was accepted and
then closed or reset without an answer, as when the process that accepted
it is killed while it holds the request.

Usage: request_loop.py (--tcp HOST:PORT | --unix PATH) --path PATH [--rate N]
"""
import argparse
import http.client
import json
import signal
import socket
import sys
import time


CUT = ("RemoteDisconnected", "ConnectionResetError", "BrokenPipeError", "IncompleteRead")


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def one(a):
    if a.unix:
        conn = UnixConnection(a.unix, a.timeout)
    else:
        host, port = a.tcp.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=a.timeout)
    try:
        conn.request("GET", a.path, headers={"Connection": "close"})
        r = conn.getresponse()
        r.read()
        return None if r.status == 200 else "HTTP %d" % r.status
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp")
    ap.add_argument("--unix")
    ap.add_argument("--path", required=True)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))
    period = 1.0 / a.rate
    n = 0
    fails = {}
    first_fail = []
    worst = 0.0
    took_all = []
    t_start = time.monotonic()
    nxt = t_start
    while not stop:
        t0 = time.monotonic()
        err = one(a)
        took = time.monotonic() - t0
        n += 1
        worst = max(worst, took)
        took_all.append(took)
        if err:
            fails[err] = fails.get(err, 0) + 1
            if len(first_fail) < 5:
                first_fail.append("%.2f s: %s" % (t0 - t_start, err))
        nxt += period
        pause = nxt - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            nxt = time.monotonic()
    cut = sum(v for k, v in fails.items() if k in CUT)
    print(json.dumps({"requests": n, "failed": sum(fails.values()), "cut": cut, "errors": fails,
                      "first": first_fail, "max_latency_ms": round(worst * 1000, 1),
                      "median_ms": round(sorted(took_all)[len(took_all) // 2] * 1000, 1)
                      if took_all else 0,
                      "seconds": round(time.monotonic() - t_start, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
