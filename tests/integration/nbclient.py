#!/usr/bin/env python3
"""A small Jupyter client over a raw WebSocket (RFC 6455, standard library
only), for the gateway's notebook tests.

  nbclient.py exec URL CODE [HEADER...]
      URL is ws:// or wss://HOST:PORT/notebooks/NAME/api/kernels/ID/channels?...
      (wss: trusting $CURL_CA_BUNDLE);
      runs CODE in the kernel and prints its result (execute_result's
      text/plain, or the stream output).
  nbclient.py upstream-gone URL CONTAINER [HEADER...]
      runs 1+1, then `docker kill CONTAINER` while the WebSocket is open;
      prints "closed" when the gateway closed it within 20 s, then sends a
      frame on it and prints "after-close: ..." with what that did.
  nbclient.py hold URL [HEADER...]
      runs 1+1 and prints "open"; then for every line read on stdin runs
      it as code and prints the result; at the end of stdin waits (60 s at
      most) for the gateway to close the WebSocket and prints "closed".
  nbclient.py status URL [HEADER...]
      a GET of URL (http:// or https://), the whole request written before
      anything is read, a write refused by the server ignored; prints the
      status code of the answer, or 000 when none came. The way a browser
      reads an early answer (a 431 to a header too big, sent before the
      server closes), which curl over TLS does not: its send error ends the
      transfer before it reads.
HEADER is "Name: value", added to the upgrade request (to the GET in
status).
"""
import base64
import json
import os
import select
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.parse
import uuid


def connect(url, headers):
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    if u.scheme == "wss":
        # The CA the tests make, as curl takes it.
        ctx = ssl.create_default_context(cafile=os.environ.get("CURL_CA_BUNDLE"))
        s = ctx.wrap_socket(s, server_hostname=u.hostname)
    key = base64.b64encode(os.urandom(16)).decode()
    path = u.path + ("?" + u.query if u.query else "")
    lines = [
        "GET %s HTTP/1.1" % path,
        "Host: %s:%d" % (u.hostname, u.port),
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: " + key,
        "Sec-WebSocket-Version: 13",
    ] + headers
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        if not b:
            raise SystemExit("upgrade: connection closed; got %r" % head[:200])
        head += b
    head, rest = head.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n")[0]
    if b" 101 " not in status + b" ":
        raise SystemExit("upgrade refused: %s" % status.decode(errors="replace"))
    return s, bytearray(rest)


def send(s, payload, opcode=1):
    data = payload.encode() if isinstance(payload, str) else payload
    mask = os.urandom(4)
    n = len(data)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def read_exact(s, buf, n):
    while len(buf) < n:
        b = s.recv(65536)
        if not b:
            raise EOFError
        buf += b
    out = bytes(buf[:n])
    del buf[:n]
    return out


def complete_frame(buf):
    """Whether buf holds a whole frame."""
    if len(buf) < 2:
        return False
    n, at = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return False
        (n,), at = struct.unpack("!H", bytes(buf[2:4])), 4
    elif n == 127:
        if len(buf) < 10:
            return False
        (n,), at = struct.unpack("!Q", bytes(buf[2:10])), 10
    return len(buf) >= at + (4 if buf[1] & 0x80 else 0) + n


def recv(s, buf, pings=False):
    """One message: (opcode, payload); EOFError when the peer closed. A
    ping is answered, and returned too when pings is set."""
    while True:
        b0, b1 = read_exact(s, buf, 2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", read_exact(s, buf, 2))
        elif n == 127:
            (n,) = struct.unpack("!Q", read_exact(s, buf, 8))
        mask = read_exact(s, buf, 4) if b1 & 0x80 else None
        data = read_exact(s, buf, n)
        if mask:
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        op = b0 & 0x0F
        if op == 9:
            send(s, data, 10)
            if pings:
                return op, data
            continue
        if op == 8:
            raise EOFError
        return op, data


def execute(s, buf, code):
    session = uuid.uuid4().hex
    msg_id = uuid.uuid4().hex
    msg = {
        "header": {"msg_id": msg_id, "username": "test", "session": session,
                   "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }
    send(s, json.dumps(msg))
    out = []
    deadline = time.time() + 60
    while time.time() < deadline:
        op, data = recv(s, buf)
        if op != 1:
            continue
        m = json.loads(data)
        if m.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        t = m["header"]["msg_type"]
        if t == "execute_result":
            return m["content"]["data"]["text/plain"]
        if t == "stream":
            out.append(m["content"]["text"])
        if t == "error":
            return "error " + m["content"]["ename"]
        if t == "status" and m["content"]["execution_state"] == "idle":
            return "".join(out).strip()
    raise SystemExit("no result within 60 s")


def status(url, headers):
    u = urllib.parse.urlsplit(url)
    path = (u.path or "/") + ("?" + u.query if u.query else "")
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (u.hostname, u.port), "Connection: close"]
    request = ("\r\n".join(lines + headers) + "\r\n\r\n").encode()
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    tls = None
    if u.scheme == "https":
        # TLS over memory buffers: the socket's errors never reach the TLS
        # session, so what the server sent before its close is still read.
        ctx = ssl.create_default_context(cafile=os.environ.get("CURL_CA_BUNDLE"))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_hostname=u.hostname)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                s.sendall(outgoing.read())
                b = s.recv(65536)
                if not b:
                    return "000"
                incoming.write(b)
        s.sendall(outgoing.read())
        tls.write(request)
        request = outgoing.read()
    try:
        s.sendall(request)
    except OSError:
        pass
    head = b""
    while b"\r\n" not in head:
        try:
            b = s.recv(65536)
        except OSError:
            b = b""
        if not b:
            break
        if tls is None:
            head += b
            continue
        incoming.write(b)
        try:
            while True:
                b = tls.read(65536)
                if not b:
                    break
                head += b
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError, ssl.SSLEOFError):
            pass
    first = head.split(b"\r\n")[0].split()
    return first[1].decode() if len(first) > 1 and head.startswith(b"HTTP/") else "000"


def main():
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "status":
        print(status(url, sys.argv[3:]))
        return
    if mode == "exec":
        s, buf = connect(url, sys.argv[4:])
        print(execute(s, buf, sys.argv[3]))
        return
    if mode == "upstream-gone":
        s, buf = connect(url, sys.argv[4:])
        print("before:", execute(s, buf, "1+1"))
        sys.stdout.flush()
        subprocess.run(["docker", "kill", sys.argv[3]], check=True, stdout=subprocess.DEVNULL)
        s.settimeout(20)
        try:
            while True:
                recv(s, buf)
        except EOFError:
            print("closed")
        except (socket.timeout, TimeoutError):
            print("still open after 20 s")
            return
        except OSError as e:
            print("closed (%s)" % e.__class__.__name__)
        try:
            send(s, '{"channel": "shell"}')
            s.settimeout(5)
            b = s.recv(1)
            print("after-close: %s" % ("eof" if not b else "data"))
        except (BrokenPipeError, ConnectionResetError) as e:
            print("after-close: %s" % e.__class__.__name__)
        except (socket.timeout, TimeoutError):
            print("after-close: hang")
        except OSError as e:  # over TLS: the session's end (ssl.SSLError)
            print("after-close: %s" % e.__class__.__name__)
        return
    if mode == "hold":
        s, buf = connect(url, sys.argv[3:])
        print("open", execute(s, buf, "1+1"), flush=True)
        # Between lines, read what comes as a browser does: Jupyter pings
        # every 30 s and closes a WebSocket whose pings go unanswered.
        # Only whole frames are parsed (recv on a part would block), and a
        # read that brings none (TLS records of its own) waits at most 1 s.
        while True:
            try:
                while complete_frame(buf):
                    recv(s, buf, pings=True)
                ready = [s] if hasattr(s, "pending") and s.pending() else []
                if not ready:
                    ready, _, _ = select.select([sys.stdin, s], [], [], 10)
                if s in ready:
                    s.settimeout(1)
                    try:
                        b = s.recv(65536)
                    except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
                        b = None
                    s.settimeout(30)
                    if b == b"":
                        raise EOFError
                    buf += b or b""
                    continue
            except (EOFError, OSError) as e:
                print("closed while idle (%s)" % e.__class__.__name__, flush=True)
                return
            if sys.stdin in ready:
                line = sys.stdin.readline()
                if not line:
                    break
                started = time.time()
                print(execute(s, buf, line.strip()), "after %.0f s open" % (time.time() - started), flush=True)
        s.settimeout(60)
        try:
            while True:
                recv(s, buf)
        except (EOFError, OSError):
            print("closed", flush=True)
        return
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
