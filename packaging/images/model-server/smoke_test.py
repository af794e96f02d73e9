#!/usr/bin/env python3
"""Smoke test for server.py serving an iris classifier (standard library only).

Usage: smoke_test.py BASE_URL MODEL_NAME MODEL_VERSION
  e.g. smoke_test.py http://127.0.0.1:8080 iris 1
Exits non-zero on the first failed check.
"""

import http.client
import json
import sys
import urllib.parse

base, name, version = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
u = urllib.parse.urlsplit(base)
failures = 0


def request(method, path, body=None, headers=None, raw=None):
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    text = r.read()
    conn.close()
    try:
        obj = json.loads(text) if text else None
    except ValueError:
        obj = text
    return r.status, r.getheader("Cassiny-Model-Version"), obj


def check(what, method, path, want_status, body=None, test=None, **kw):
    global failures
    status, hdr, obj = request(method, path, body, **kw)
    ok = status == want_status and hdr == version
    ok = ok and isinstance(obj, dict) and obj.get("model_version") == version
    if ok and test is not None:
        ok = bool(test(obj))
    print("%s %s: %s %s -> %d %s" % ("ok  " if ok else "FAIL", what, method, path, status,
                                     json.dumps(obj)[:200]))
    if not ok:
        failures += 1
    return obj


iris = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]
flat = [v for row in iris for v in row]
m = "/v2/models/%s" % name
mv = "%s/versions/%s" % (m, version)

check("live", "GET", "/v2/health/live", 200, test=lambda o: o["live"] is True)
check("ready", "GET", "/v2/health/ready", 200, test=lambda o: o["ready"] is True)
check("server metadata", "GET", "/v2", 200, test=lambda o: o["name"])
check("model metadata", "GET", m, 200,
      test=lambda o: o["name"] == name and o["versions"] == [version] and o["inputs"][0]["shape"] == [-1, 4])
check("versioned metadata", "GET", mv, 200)
check("model ready", "GET", mv + "/ready", 200, test=lambda o: o["ready"] is True)
check("infer flat FP64", "POST", m + "/infer", 200,
      {"id": "r1", "inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": flat}]},
      test=lambda o: o["id"] == "r1" and o["model_name"] == name
      and o["outputs"][0]["name"] == "predict" and o["outputs"][0]["shape"] == [3]
      and o["outputs"][0]["data"] == [0, 1, 2])
check("infer nested FP32 + predict_proba", "POST", mv + "/infer", 200,
      {"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP32", "data": iris}],
       "outputs": [{"name": "predict"}, {"name": "predict_proba"}]},
      test=lambda o: o["outputs"][0]["data"] == [0, 1, 2] and o["outputs"][1]["shape"] == [3, 3]
      and abs(sum(o["outputs"][1]["data"][0:3]) - 1) < 1e-6)
check("infer one column per input", "POST", m + "/infer", 200,
      {"inputs": [{"name": "f%d" % j, "shape": [3], "datatype": "FP64", "data": [r[j] for r in iris]}
                  for j in range(4)]},
      test=lambda o: o["outputs"][0]["data"] == [0, 1, 2])
check("unknown model", "POST", "/v2/models/nope/infer", 404, {"inputs": []})
check("unknown version", "GET", m + "/versions/0-nope", 404)
check("unknown endpoint", "GET", "/v1/models", 404)
check("GET on infer", "GET", m + "/infer", 405)
check("wrong feature count", "POST", m + "/infer", 400,
      {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]})
check("data does not fit shape", "POST", m + "/infer", 400,
      {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3]}]})
check("bad datatype", "POST", m + "/infer", 400,
      {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FLOAT", "data": [1, 2, 3, 4]}]})
check("unknown output", "POST", m + "/infer", 400,
      {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}],
       "outputs": [{"name": "__class__"}]})
check("bad JSON", "POST", m + "/infer", 400, raw=b"{not json")
check("deeply nested JSON", "POST", m + "/infer", 400, raw=b"[" * 100000 + b"]" * 100000)
check("body too large", "POST", m + "/infer", 413, raw=b"{}",
      headers={"Content-Length": str(1 << 40)})
check("still serving", "GET", "/v2/health/ready", 200)

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
