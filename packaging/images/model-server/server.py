#!/usr/bin/env python3
"""Cassiny model server: serves one scikit-learn model over a subset of the Open
Inference Protocol (KServe v2, REST/JSON). Standard library + scikit-learn only.

Environment:
  CASSINY_MODEL_PATH     joblib file with a fitted estimator (default /models/model.joblib)
  CASSINY_MODEL_NAME     model name in URLs and responses (default "model")
  CASSINY_MODEL_VERSION  model version, reported in every response (default "1")
  CASSINY_MODEL_PORT     TCP port (default 8080); CASSINY_MODEL_HOST (default 0.0.0.0)
  CASSINY_MAX_BODY_BYTES request body limit (default 16 MiB)

Endpoints:
  GET  /v2/health/live                      200 while the process runs
  GET  /v2/health/ready                     200 once the model is loaded, else 503
  GET  /v2                                  server metadata
  GET  /v2/models/{name}[/versions/{v}]     model metadata
  GET  /v2/models/{name}[/versions/{v}]/ready
  POST /v2/models/{name}[/versions/{v}]/infer
       {"id": "...", "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64",
        "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}]}
       One input of shape [N, F] (data flat or nested), or several inputs of shape
       [N] / [N, 1] taken as columns in order. Outputs default to "predict".

Every response carries the header "Cassiny-Model-Version" and, in JSON bodies,
"model_version". Errors are {"error": "..."} with a 4xx/5xx status.

A joblib file is a pickle: loading it runs code. Serve only trusted models.
"""

import json
import logging
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVER_NAME = "cassiny-model-server"
SERVER_VERSION = "1"

MODEL_PATH = os.environ.get("CASSINY_MODEL_PATH", "/models/model.joblib")
MODEL_NAME = os.environ.get("CASSINY_MODEL_NAME", "model")
MODEL_VERSION = os.environ.get("CASSINY_MODEL_VERSION", "1")
HOST = os.environ.get("CASSINY_MODEL_HOST", "0.0.0.0")
PORT = int(os.environ.get("CASSINY_MODEL_PORT", "8080"))
MAX_BODY = int(os.environ.get("CASSINY_MAX_BODY_BYTES", str(16 << 20)))

log = logging.getLogger(SERVER_NAME)

# numpy and sklearn are imported lazily so that /v2/health/live answers at once.
np = None
state = {"model": None, "error": None, "loaded_at": None, "n_features": None}

DTYPES = {
    "BOOL": "bool", "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64",
    "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
    "FP16": "float16", "FP32": "float32", "FP64": "float64", "BYTES": "object",
}
OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform")

ROUTE = re.compile(
    r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<tail>/ready|/infer)?$")


class HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def load_model():
    global np
    try:
        t0 = time.monotonic()
        import numpy
        import joblib
        np = numpy
        model = joblib.load(MODEL_PATH)
        for method in ("predict", "transform"):
            if callable(getattr(model, method, None)):
                break
        else:
            raise TypeError("%s has neither predict nor transform" % type(model).__name__)
        state["n_features"] = getattr(model, "n_features_in_", None)
        state["model"] = model
        state["loaded_at"] = time.time()
        log.info("loaded %s (%s) from %s in %.2fs", MODEL_NAME, type(model).__name__,
                 MODEL_PATH, time.monotonic() - t0)
    except Exception as e:  # noqa: BLE001 - any failure makes the server useless
        state["error"] = "%s: %s" % (type(e).__name__, e)
        log.error("cannot load model from %s: %s", MODEL_PATH, state["error"])
        # A model server without its model should fail visibly: the container exits.
        os._exit(3)


def datatype_of(arr):
    kind = arr.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return ("INT" if kind == "i" else "UINT") + str(arr.dtype.itemsize * 8)
    if kind == "f":
        return "FP%d" % (arr.dtype.itemsize * 8)
    return "BYTES"


def to_array(inp):
    if not isinstance(inp, dict):
        raise HTTPError(400, "each input must be an object")
    name = inp.get("name", "?")
    shape, datatype, data = inp.get("shape"), inp.get("datatype"), inp.get("data")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise HTTPError(400, "input %r: shape must be a list of non-negative integers" % name)
    if datatype not in DTYPES:
        raise HTTPError(400, "input %r: datatype must be one of %s" % (name, ", ".join(DTYPES)))
    if data is None:
        raise HTTPError(400, "input %r: data is missing" % name)
    try:
        arr = np.asarray(data, dtype=DTYPES[datatype])
        return arr.reshape(shape), name
    except (ValueError, TypeError) as e:
        raise HTTPError(400, "input %r: data does not fit shape %s as %s: %s"
                        % (name, shape, datatype, e))


def infer(body):
    if not isinstance(body, dict):
        raise HTTPError(400, "request body must be a JSON object")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise HTTPError(400, "inputs must be a non-empty list")
    arrays = [to_array(i) for i in inputs]
    if len(arrays) == 1:
        x = arrays[0][0]
        if x.ndim == 1:
            x = x.reshape(1, -1)
        elif x.ndim != 2:
            raise HTTPError(400, "input %r: want shape [N, F], got %s" % (arrays[0][1], list(x.shape)))
    else:
        cols = []
        for arr, name in arrays:
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim != 1:
                raise HTTPError(400, "input %r: with several inputs each is one column, shape [N]" % name)
            cols.append(arr)
        if len({c.shape[0] for c in cols}) != 1:
            raise HTTPError(400, "inputs have different lengths")
        x = np.column_stack(cols)
    nf = state["n_features"]
    if nf is not None and x.shape[1] != nf:
        raise HTTPError(400, "model wants %d features, got %d" % (nf, x.shape[1]))

    wanted = body.get("outputs") or [{"name": "predict"}]
    if not isinstance(wanted, list) or not all(isinstance(o, dict) for o in wanted):
        raise HTTPError(400, "outputs must be a list of objects")
    model = state["model"]
    outputs = []
    for o in wanted:
        name = o.get("name")
        if name not in OUTPUT_METHODS or not callable(getattr(model, name, None)):
            have = [m for m in OUTPUT_METHODS if callable(getattr(model, m, None))]
            raise HTTPError(400, "output %r not available; this model has %s" % (name, have))
        try:
            y = np.asarray(getattr(model, name)(x))
        except Exception as e:  # noqa: BLE001 - the model rejected the data
            raise HTTPError(400, "%s failed: %s: %s" % (name, type(e).__name__, e))
        dt = datatype_of(y)
        data = y.ravel().tolist() if dt != "BYTES" else [str(v) for v in y.ravel()]
        out = {"name": name, "shape": list(y.shape), "datatype": dt, "data": data}
        if name == "predict_proba" and hasattr(model, "classes_"):
            out["parameters"] = {"classes": np.asarray(model.classes_).tolist()}
        outputs.append(out)
    resp = {"model_name": MODEL_NAME, "model_version": MODEL_VERSION, "outputs": outputs}
    if "id" in body:
        resp["id"] = body["id"]
    return resp


def model_metadata():
    model = state["model"]
    nf = state["n_features"]
    classes = getattr(model, "classes_", None)
    predict_type = datatype_of(np.asarray(classes)) if classes is not None else "FP64"
    meta = {
        "name": MODEL_NAME,
        "versions": [MODEL_VERSION],
        "platform": "sklearn",
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, nf if nf is not None else -1]}],
        "outputs": [{"name": m, "datatype": predict_type if m == "predict" else "FP64",
                     "shape": [-1] if m == "predict" else [-1, -1]}
                    for m in OUTPUT_METHODS if callable(getattr(model, m, None))],
        "parameters": {"estimator": type(model).__name__},
    }
    if hasattr(model, "classes_"):
        meta["parameters"]["classes"] = np.asarray(model.classes_).tolist()
    return meta


class Handler(BaseHTTPRequestHandler):
    server_version = "%s/%s" % (SERVER_NAME, SERVER_VERSION)
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

    def log_message(self, fmt, *args):
        log.info("%s %s", self.address_string(), fmt % args)

    def send_json(self, status, obj):
        obj.setdefault("model_version", MODEL_VERSION)
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cassiny-Model-Version", MODEL_VERSION)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self, method):
        path = self.path.split("?", 1)[0]
        ready = state["model"] is not None
        if path == "/v2/health/live":
            return 200, {"live": True}
        if path == "/v2/health/ready":
            return (200 if ready else 503), {"ready": ready}
        if path in ("/v2", "/v2/"):
            return 200, {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": []}
        m = ROUTE.match(path)
        if not m:
            raise HTTPError(404, "no such endpoint: %s" % path)
        if m.group("name") != MODEL_NAME:
            raise HTTPError(404, "no model named %r (this server has %r)" % (m.group("name"), MODEL_NAME))
        if m.group("version") not in (None, MODEL_VERSION):
            raise HTTPError(404, "model %r has no version %r (it is version %r)"
                            % (MODEL_NAME, m.group("version"), MODEL_VERSION))
        tail = m.group("tail")
        if tail == "/ready":
            return (200 if ready else 503), {"name": MODEL_NAME, "ready": ready}
        if not ready:
            raise HTTPError(503, "model is loading")
        if tail == "/infer":
            if method != "POST":
                raise HTTPError(405, "use POST for /infer")
            return 200, infer(self.read_json())
        if method != "GET":
            raise HTTPError(405, "use GET for model metadata")
        return 200, model_metadata()

    def read_json(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise HTTPError(411, "send a Content-Length; chunked bodies are not supported")
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HTTPError(411, "Content-Length required")
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            raise HTTPError(413, "body of %d bytes exceeds the limit of %d" % (n, MAX_BODY))
        raw = self.rfile.read(n)
        self._body_read = True
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise HTTPError(400, "body is not valid JSON: %s" % e)

    def discard_unread_body(self):
        """An answer given before the body was read (404, 405, ...) must not
        leave the body in the socket: on a kept-alive connection it would be
        read as the next request."""
        if getattr(self, "_body_read", False):
            return
        try:
            n = int(self.headers.get("Content-Length", "0") or "0")
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return
        while n > 0:
            chunk = self.rfile.read(min(n, 65536))
            if not chunk:
                break
            n -= len(chunk)

    def handle_method(self, method):
        self._body_read = False
        try:
            status, obj = self.route(method)
        except HTTPError as e:
            status, obj = e.status, {"error": str(e)}
        except Exception as e:  # noqa: BLE001 - keep serving
            log.exception("internal error")
            status, obj = 500, {"error": "internal error: %s" % type(e).__name__}
        self.discard_unread_body()
        self.send_json(status, obj)

    def do_GET(self):
        self.handle_method("GET")

    def do_HEAD(self):
        self.handle_method("GET")

    def do_POST(self):
        self.handle_method("POST")

    def do_PUT(self):
        self.handle_method("PUT")

    def do_DELETE(self):
        self.handle_method("DELETE")


def main():
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 2000))
    httpd = ThreadingHTTPServer((HOST, PORT), Handler)
    httpd.daemon_threads = True

    def stop(signum, _frame):
        log.info("signal %d, shutting down", signum)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=load_model, daemon=True).start()
    log.info("listening on %s:%d, model %s version %s", HOST, PORT, MODEL_NAME, MODEL_VERSION)
    httpd.serve_forever()
    httpd.server_close()


if __name__ == "__main__":
    main()
