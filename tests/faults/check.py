#!/usr/bin/env python3
"""The fault suite's invariants, checked against one settled daemon.

Usage: check.py SOCKET STATE_DIR WORKLOAD.json

WORKLOAD.json says what the last applied file asked for:
  {"jobs": [names], "notebooks": [names], "models": {name: {"replicas": N}}}

It reads the daemon's API on its unix socket and the Docker Engine on
/var/run/docker.sock (DOCKER_SOCK), and prints one line per broken
invariant; exit 1 when there is any:

  truth      no run in a state the engine contradicts: a live run's containers
             exist and run; succeeded only with startedAt, exitCode 0 and
             finishedAt; failed only with a reason
  orphans    every container with this daemon's instance label is listed by
             exactly one live run; a ready model lists `replicas` containers
  logs       every run that started and ended answers `logs` (200), or says
             why it cannot
  store      PRAGMA integrity_check is ok
  accepted   every applied spec ran or says why not: one current run per spec,
             jobs succeeded exactly once, notebooks and models ready on the
             spec's revision; no run without a spec
"""
import http.client
import json
import os
import socket
import sqlite3
import sys
import urllib.parse


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def get(sock, path):
    c = UnixHTTP(sock)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def get_json(sock, path):
    status, body = get(sock, path)
    if status != 200:
        raise RuntimeError("GET %s: %d %s" % (path, status, body[:200]))
    return json.loads(body)


def docker(path):
    return get_json(os.environ.get("DOCKER_SOCK", "/var/run/docker.sock"), path)


FINAL = ("succeeded", "failed", "stopped")


def main():
    sock, state_dir, workload_path = sys.argv[1:4]
    with open(workload_path) as f:
        want = json.load(f)
    problems = []

    def bad(kind, msg):
        problems.append("%s: %s" % (kind, msg))

    with open(os.path.join(state_dir, "instance")) as f:
        instance = f.read().strip()
    runs = get_json(sock, "/v1/runs?limit=1000")["runs"]
    specs = {s["name"]: s for s in get_json(sock, "/v1/specs")["specs"]}
    flt = urllib.parse.quote(json.dumps({"label": ["io.cassiny.instance=" + instance]}))
    containers = docker("/containers/json?all=1&filters=" + flt)
    state = {}
    for c in containers:
        state[c["Id"]] = docker("/containers/%s/json" % c["Id"])["State"]

    # truth
    for r in runs:
        rid, st = r["id"], r["status"]
        if st in ("running", "ready"):
            for cid in r.get("containers") or []:
                s = state.get(cid)
                if s is None:
                    bad("truth", "%s %s %s lists container %.12s, which is gone" % (r["name"], rid, st, cid))
                elif not s.get("Running"):
                    bad("truth", "%s %s %s lists container %.12s, which is %s" % (r["name"], rid, st, cid, s.get("Status")))
            if not r.get("startedAt"):
                bad("truth", "%s %s is %s without startedAt" % (r["name"], rid, st))
        if st == "succeeded":
            if not r.get("startedAt") or r.get("exitCode") != 0 or not r.get("finishedAt"):
                bad("truth", "%s %s succeeded with startedAt=%s exitCode=%s finishedAt=%s"
                    % (r["name"], rid, r.get("startedAt"), r.get("exitCode"), r.get("finishedAt")))
        if st == "failed" and not r.get("reason"):
            bad("truth", "%s %s failed without a reason" % (r["name"], rid))

    # orphans and duplicates
    owners = {}
    for r in runs:
        if r["status"] in FINAL:
            continue
        for cid in r.get("containers") or []:
            owners.setdefault(cid, []).append(r["id"])
    for c in containers:
        lab = c.get("Labels") or {}
        who = owners.get(c["Id"], [])
        if len(who) != 1:
            bad("orphans", "container %.12s (%s, run %s, %s) is listed by %d live runs"
                % (c["Id"], lab.get("io.cassiny.name"), lab.get("io.cassiny.run"), c.get("State"), len(who)))
    for r in runs:
        if r["kind"] == "Model" and r["status"] == "ready":
            n = want.get("models", {}).get(r["name"], {}).get("replicas")
            have = len(r.get("containers") or [])
            if n is not None and have != n:
                bad("orphans", "model %s %s is ready with %d containers, not %d" % (r["name"], r["id"], have, n))

    # logs
    for r in runs:
        if r["status"] not in FINAL or not r.get("startedAt"):
            continue
        status, body = get(sock, "/v1/runs/%s/logs" % r["id"])
        if status == 200:
            if r["kind"] == "Job" and r["status"] == "succeeded" and not body.strip():
                bad("logs", "%s %s succeeded but its kept log is empty" % (r["name"], r["id"]))
            continue
        try:
            why = json.loads(body).get("detail") or json.loads(body).get("title")
        except ValueError:
            why = None
        if status == 404 or not why:
            bad("logs", "%s %s (%s): logs answered %d %s" % (r["name"], r["id"], r["status"], status, body[:160]))

    # store
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state_dir, "cassiny.db"), uri=True, timeout=10)
    try:
        res = db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()
    if res != [("ok",)]:
        bad("store", "integrity_check: %s" % res[:5])

    # accepted
    names = set(want.get("jobs", [])) | set(want.get("notebooks", [])) | set(want.get("models", {}))
    by_name = {}
    for r in runs:
        by_name.setdefault(r["name"], []).append(r)
        if r["name"] not in specs:
            bad("accepted", "run %s of %s has no spec" % (r["id"], r["name"]))
    for n in sorted(names):
        s = specs.get(n)
        if not s:
            bad("accepted", "spec %s was applied but is not stored" % n)
            continue
        cur = next((r for r in by_name.get(n, []) if r["id"] == s.get("runId")), None)
        if not cur:
            bad("accepted", "spec %s points at run %s, which does not exist" % (n, s.get("runId")))
            continue
        if n in want.get("jobs", []):
            started = [r for r in by_name[n] if r.get("startedAt")]
            if cur["status"] != "succeeded":
                bad("accepted", "job %s: its run %s is %s (%s: %s)"
                    % (n, cur["id"], cur["status"], cur.get("reason"), cur.get("error")))
            if len(started) != 1:
                bad("accepted", "job %s ran %d times (%s)" % (n, len(started), " ".join(r["id"] for r in started)))
        else:
            if cur["status"] != "ready":
                bad("accepted", "%s %s: its run %s is %s (%s: %s)"
                    % (cur["kind"], n, cur["id"], cur["status"], cur.get("reason"), cur.get("error")))
            if cur["revision"] != s.get("revision"):
                bad("accepted", "%s: the spec is at %s but its run %s is of %s" % (n, s.get("revision"), cur["id"], cur["revision"]))
            serving = [r for r in by_name[n] if r["status"] == "ready"]
            if len(serving) != 1:
                bad("accepted", "%s: %d ready runs (%s), not 1" % (n, len(serving), " ".join(r["id"] for r in serving)))
            elif serving[0]["id"] != s.get("runId"):
                bad("accepted", "%s: the spec points at %s (%s) but %s serves"
                    % (n, s.get("runId"), cur["status"], serving[0]["id"]))

    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
