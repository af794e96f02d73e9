#!/usr/bin/env python3
"""Hostile clients against cassinyd's API socket (tests/integration/test_hostile.sh).

Holds IDLE idle connections and STREAMS event streams, measures /healthz while
they are held, and checks each bound the daemon claims: the stream limit, the
connection limit, heartbeats, the streams' lifetime, the request deadline for a
body or a head that trickles, the idle timeout, and that streams whose clients
left are freed at once. The bounds expected are arguments: the script that
starts the daemon writes the same numbers into its config.

Prints "ok - ..." / "not ok - ..." lines, figures as "# ..." lines.
"""
import argparse
import json
import os
import resource
import selectors
import socket
import statistics
import sys
import threading
import time

results = []


def check(desc, cond):
    results.append((desc, bool(cond)))
    print(("ok - " if cond else "not ok - ") + desc, flush=True)


def note(text):
    print("# " + text, flush=True)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)  # blocking: a full listen backlog makes it wait, not fail
    return s


def request(path, target, headers="", timeout=2.0):
    """One GET on a new connection: (status, head, body, seconds); status 0
    when the connection closed without an answer."""
    t0 = time.monotonic()
    try:
        s = connect(path)
    except OSError:
        return 0, "", b"", time.monotonic() - t0
    s.settimeout(timeout)
    data = b""
    try:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: cassiny\r\nConnection: close\r\n{headers}\r\n"
                  .encode())
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    finally:
        s.close()
    dt = time.monotonic() - t0
    head, _, body = data.partition(b"\r\n\r\n")
    return status_of(head), head.decode(errors="replace"), body, dt


def header(head, name):
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def status_of(head):
    try:
        return int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def send_read_head(s, req):
    """Sends req on s and reads until the answer's head is in:
    (status, head, what came after it); status 0 when none came."""
    s.settimeout(3)
    data = b""
    try:
        s.sendall(req)
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass  # refused or timed out
    head, _, rest = data.partition(b"\r\n\r\n")
    return status_of(head), head.decode(errors="replace"), rest


def open_stream(path):
    """An event stream whose answer's head was read: (socket, status, head, rest)."""
    s = connect(path)
    status, head, rest = send_read_head(
        s, b"GET /v1/events HTTP/1.1\r\nHost: cassiny\r\nAccept: text/event-stream\r\n\r\n")
    s.setblocking(False)
    return s, status, head, rest


def drain(socks, bufs, seconds):
    """Reads what arrives on socks for seconds; bufs[i] gathers socket i's bytes
    and None marks a socket whose peer closed."""
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        if bufs[i] is not None:
            sel.register(s, selectors.EVENT_READ, i)
    end = time.monotonic() + seconds
    while sel.get_map() and time.monotonic() < end:
        for key, _ in sel.select(max(0.0, end - time.monotonic())):
            i = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if chunk:
                bufs[i] += chunk
            else:
                bufs[i] = (bufs[i] or b"") + b"<EOF>"
                sel.unregister(key.fileobj)
    sel.close()


def healthz_latencies(path, n):
    out = []
    for _ in range(n):
        status, _, body, dt = request(path, "/healthz")
        out.append(dt if status == 200 and b'"ok"' in body else float("inf"))
    return out


class Watch:
    """A connection that sends first, then one byte of trickle a second (none
    when trickle is None), and notes when the daemon closes it."""

    def __init__(self, path, first, trickle):
        self.sock = connect(path)
        self.t0 = time.monotonic()
        self.closed_after = None
        self.data = b""
        self.sock.sendall(first)
        self.thread = threading.Thread(target=self.run, args=(trickle,), daemon=True)
        self.thread.start()

    def run(self, trickle):
        self.sock.settimeout(1.0)
        while time.monotonic() - self.t0 < 120:
            try:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.data += chunk
                continue
            except socket.timeout:
                pass
            except OSError:
                break
            if trickle:
                try:
                    self.sock.send(trickle)
                except OSError:
                    break
        else:
            return
        self.closed_after = time.monotonic() - self.t0
        self.sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--idle", type=int, default=1000, help="idle connections to hold")
    ap.add_argument("--streams", type=int, default=200, help="event streams to hold (the limit)")
    ap.add_argument("--max-connections", type=int, required=True)
    ap.add_argument("--idle-timeout", type=float, required=True)
    ap.add_argument("--request-timeout", type=float, required=True)
    ap.add_argument("--heartbeat", type=float, required=True)
    ap.add_argument("--lifetime", type=float, required=True)
    ap.add_argument("--probes", type=int, default=100)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    path = a.socket
    t_start = time.monotonic()

    # A request head and a body that trickle one byte a second, and one
    # connection that says nothing: watched from the start, checked at the end.
    slow_body = Watch(path, b"POST /v1/specs HTTP/1.1\r\nHost: cassiny\r\nContent-Type: "
                      b"application/yaml\r\nContent-Length: 1000\r\n\r\n", b"x")
    slow_head = Watch(path, b"GET /healthz HTTP/1.1\r\n", b"X")
    idle_one = Watch(path, b"", None)

    idle = [connect(path) for _ in range(a.idle)]
    note(f"{len(idle)} idle connections open after {time.monotonic() - t_start:.2f} s")

    t_streams = time.monotonic()
    streams = []
    for _ in range(a.streams):
        streams.append(open_stream(path))
    check(f"{a.streams} event streams are accepted while {a.idle} idle connections are held",
          all(st[1] == 200 for st in streams))
    status, head, body, dt = request(path, "/v1/events", "Accept: text/event-stream\r\n")
    check(f"event stream {a.streams + 1} is answered 503 with Retry-After ({status}, "
          f"{dt * 1000:.0f} ms)",
          status == 503 and header(head, "Retry-After") and
          header(head, "Content-Type") == "application/problem+json" and dt < 1.0)

    lat = healthz_latencies(path, a.probes)
    p50 = statistics.median(lat) * 1000
    mx = max(lat) * 1000
    note(f"/healthz with {a.idle} idle connections and {a.streams} event streams held: "
         f"p50 {p50:.1f} ms, max {mx:.1f} ms over {a.probes} requests")
    check(f"/healthz answers within 100 ms while they are held (max {mx:.1f} ms)", mx < 100)

    # Heartbeats: every stream hears from the daemon while nothing happens.
    bufs = [st[3] for st in streams]
    socks = [st[0] for st in streams]
    drain(socks, bufs, a.heartbeat * 2 + 0.5)
    beats = sum(1 for b in bufs if b is not None and b": keep-alive" in b)
    check(f"heartbeats arrive on every stream within {a.heartbeat * 2 + 0.5:.1f} s "
          f"({beats}/{len(bufs)})", beats == len(bufs))

    # Connections past the limit are told so at once.
    held = len(idle) + len(streams) + 3  # the Watch ones
    extra = [connect(path) for _ in range(max(0, a.max_connections - held))]
    over = connect(path)
    t0 = time.monotonic()
    _, ohead, _ = send_read_head(over, b"GET /healthz HTTP/1.1\r\nHost: cassiny\r\n\r\n")
    dt = time.monotonic() - t0
    over.close()
    check(f"connection {a.max_connections + 1} is answered 503 with Retry-After in "
          f"{dt * 1000:.0f} ms", ohead.startswith("HTTP/1.1 503") and
          header(ohead, "Retry-After") is not None and dt < 0.5)
    for s in extra:
        s.close()

    # Clients that leave free their streams at once: half of them hang up,
    # as many new ones are accepted right away.
    half = len(streams) // 2
    for s in socks[:half]:
        s.close()
    t0 = time.monotonic()
    # Each reopen is a request of its own (a few ms on a loaded machine);
    # a stream still held after its client left would take a heartbeat or
    # forever to notice.
    deadline = t0 + 3.0
    again = []
    refused = 0
    while len(again) < half and time.monotonic() < deadline:
        st = open_stream(path)
        if st[1] == 200:
            again.append(st)
        else:
            refused += 1
            st[0].close()
            time.sleep(0.01)
    note(f"{len(again)} of {half} streams reopened in {time.monotonic() - t0:.2f} s "
         f"after their clients hung up ({refused} refused on the way)")
    check(f"streams whose clients hung up are freed at once ({len(again)}/{half} reopened "
          f"within 3 s)", len(again) == half)

    # The lifetime: the streams still open from the start end with a retry hint.
    rest = socks[half:]
    rbufs = bufs[half:]
    left = a.lifetime + 3 - (time.monotonic() - t_streams)
    drain(rest, rbufs, max(left, 1.0))
    ended = sum(1 for b in rbufs if b and b"retry: " in b and (b.endswith(b"0\r\n\r\n") or
                                                                b.endswith(b"<EOF>")))
    check(f"the lifetime cap ends every stream with a retry hint ({ended}/{len(rest)})",
          ended == len(rest))

    # The request deadline cuts a trickle; the idle timeout an idle one.
    limit = max(a.request_timeout, a.idle_timeout) + 3
    for w in (slow_body, slow_head, idle_one):
        w.thread.join(max(0.1, limit - (time.monotonic() - w.t0)))
    dt = slow_body.closed_after
    answer = slow_body.data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
    check(f"a body trickling 1 byte/s is cut by the request deadline ({a.request_timeout:g} s): "
          f"after {dt if dt is None else round(dt, 1)} s, {answer}",
          dt is not None and dt < a.request_timeout + 1.5)
    dt = slow_head.closed_after
    check(f"a head trickling 1 byte/s is cut by the request deadline: after "
          f"{dt if dt is None else round(dt, 1)} s", dt is not None and
          dt < a.request_timeout + 1.5)
    dt = idle_one.closed_after
    check(f"an idle connection is closed after the idle timeout ({a.idle_timeout:g} s): after "
          f"{dt if dt is None else round(dt, 1)} s",
          dt is not None and a.idle_timeout - 1 <= dt <= a.idle_timeout + 2)

    # Everyone leaves; the next request is answered at once.
    for s in idle:
        s.close()
    for st in again:
        st[0].close()
    for s in rest:
        s.close()
    t0 = time.monotonic()
    status, _, _, dt = request(path, "/healthz")
    st = open_stream(path)
    st[0].close()
    total = time.monotonic() - t0
    check(f"after every client left, /healthz ({dt * 1000:.1f} ms) and a new event stream "
          f"({st[1]}) answer at once ({total * 1000:.0f} ms)",
          status == 200 and st[1] == 200 and total < 0.5)
    note(f"hostile.py took {time.monotonic() - t_start:.1f} s")
    failed = sum(1 for _, okay in results if not okay)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
