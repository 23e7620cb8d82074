#!/usr/bin/env python3
"""A stand-in Kubernetes API server for tests/integration/test_k8s.sh: HTTPS
(python's ssl, with a cert the test makes), bearer-token auth, and the two
requests sluice's pod source makes, served from one in-memory pod table
with a resourceVersion counter, as the real API server does:

  GET /api/v1/pods?fieldSelector=spec.nodeName=N           -> PodList (+ rv)
  GET /api/v1/pods?fieldSelector=...&watch=1&resourceVersion=R
      -> 200, chunked, one WatchEvent per line: every event in the history
         after R, then new ones as the test makes them; 410 (as an HTTP
         status, or as an ERROR event: see /_test/compact) when R is older
         than the compacted history.

The test drives it with POST /_test/<cmd> and a JSON body (no auth; it
listens on 127.0.0.1 only):
  event   {"type": ADDED|MODIFIED|DELETED, "pod": {...}}  change the table, rv+1
  bookmark                                                a BOOKMARK, rv+1
  silent_delete {"uid": U}     drop a pod with no event (as if compacted away)
  compact {"mode": "http"|"event"}   history before now is gone: 410 for it
  close                        end every open watch stream
  huge    {"uid": U, "bytes": N}   a MODIFIED event of pod U, about N bytes long
Every request, and every watch line sent, is logged as a JSON line to --log.
"""
import argparse
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Condition()
STATE = {
    "rv": 1000,
    "pods": {},          # uid -> pod object
    "history": [],       # (rv, line): every event, in order
    "min_rv": 0,         # watches from an rv below this get 410
    "gone_mode": "http",
    "close_gen": 0,
}
ARGS = None
LOG_LOCK = threading.Lock()


def log(entry):
    entry["t"] = time.time()
    with LOG_LOCK, open(ARGS.log, "a") as f:
        f.write(json.dumps(entry) + "\n")


def event_line(kind, obj):
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n"


def add_event(kind, pod):
    """Under LOCK: rv+1, the table and the history."""
    STATE["rv"] += 1
    rv = STATE["rv"]
    pod = json.loads(json.dumps(pod))
    pod.setdefault("metadata", {})["resourceVersion"] = str(rv)
    pod.setdefault("kind", "Pod")
    pod.setdefault("apiVersion", "v1")
    uid = pod["metadata"]["uid"]
    if kind == "DELETED":
        STATE["pods"].pop(uid, None)
    else:
        STATE["pods"][uid] = pod
    STATE["history"].append((rv, event_line(kind, pod)))
    LOCK.notify_all()
    return rv


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the JSON log says it all
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, message):
        self.reply(code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "message": message, "reason": reason,
                          "code": code})

    def chunk(self, data):
        data = data.encode() if isinstance(data, str) else data
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # ---- the test's controls ----
    def do_POST(self):
        u = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        cmd = u.path.rsplit("/", 1)[-1]
        out = {}
        with LOCK:
            if cmd == "event":
                out["rv"] = add_event(body["type"], body["pod"])
            elif cmd == "bookmark":
                STATE["rv"] += 1
                out["rv"] = STATE["rv"]
                STATE["history"].append((STATE["rv"], event_line(
                    "BOOKMARK", {"kind": "Pod", "apiVersion": "v1", "metadata": {
                        "resourceVersion": str(STATE["rv"])}})))
                LOCK.notify_all()
            elif cmd == "silent_delete":
                STATE["pods"].pop(body["uid"], None)
                STATE["rv"] += 1
                out["rv"] = STATE["rv"]
            elif cmd == "compact":
                STATE["rv"] += 1  # watches from before now: 410; lists are newer
                STATE["min_rv"] = STATE["rv"]
                STATE["history"] = []
                STATE["gone_mode"] = body.get("mode", "http")
                out["min_rv"] = STATE["min_rv"]
            elif cmd == "close":
                STATE["close_gen"] += 1
                LOCK.notify_all()
            elif cmd == "huge":
                pod = dict(STATE["pods"][body["uid"]])
                md = dict(pod["metadata"])
                md["annotations"] = {"big": "x" * int(body["bytes"])}
                pod["metadata"] = md
                STATE["rv"] += 1
                pod["metadata"]["resourceVersion"] = str(STATE["rv"])
                out["rv"] = STATE["rv"]
                STATE["history"].append((STATE["rv"], event_line("MODIFIED", pod)))
                LOCK.notify_all()
            else:
                self.reply(404, {"error": cmd})
                return
        log({"kind": "control", "cmd": cmd, **out})
        self.reply(200, out)

    # ---- the API ----
    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        watch = q.get("watch") in ("1", "true")
        auth = self.headers.get("Authorization", "")
        entry = {"kind": "watch" if watch else "list", "path": u.path, "query": q,
                 "auth": auth}
        if auth != "Bearer " + open(ARGS.token).read().strip():
            entry["status"] = 401
            log(entry)
            self.status(401, "Unauthorized", "Unauthorized")
            return
        if u.path != "/api/v1/pods":
            entry["status"] = 404
            log(entry)
            self.status(404, "NotFound", "the server could not find the requested resource")
            return
        node = q.get("fieldSelector", "").partition("spec.nodeName=")[2]
        if not watch:
            with LOCK:
                items = [p for p in STATE["pods"].values()
                         if p.get("spec", {}).get("nodeName") == node]
                rv = STATE["rv"]
            entry.update(status=200, rv=str(rv), pods=len(items))
            log(entry)
            self.reply(200, {"kind": "PodList", "apiVersion": "v1",
                             "metadata": {"resourceVersion": str(rv)}, "items": items})
            return
        self.watch(q, node, entry)

    def watch(self, q, node, entry):
        start = int(q.get("resourceVersion") or 0)
        with LOCK:
            gone = start < STATE["min_rv"]
            mode = STATE["gone_mode"]
            gen = STATE["close_gen"]
        if gone and mode == "http":
            entry["status"] = 410
            log(entry)
            self.status(410, "Expired", "too old resource version: %d" % start)
            return
        entry["status"] = 200
        log(entry)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if gone:
            line = event_line("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                        "status": "Failure", "reason": "Expired", "code": 410,
                                        "message": "too old resource version: %d" % start})
            log({"kind": "sent", "type": "ERROR", "code": 410})
            self.chunk(line)
            self.chunk(b"")
            return
        sent = start
        deadline = time.time() + int(q.get("timeoutSeconds") or 300)
        try:
            while time.time() < deadline:
                with LOCK:
                    todo = [(rv, line) for rv, line in STATE["history"] if rv > sent]
                    if not todo and STATE["close_gen"] == gen:
                        LOCK.wait(0.2)
                        continue
                    closing = STATE["close_gen"] != gen
                for rv, line in todo:
                    obj = json.loads(line)
                    on_node = obj["type"] == "BOOKMARK" or \
                        obj["object"].get("spec", {}).get("nodeName") == node
                    if on_node:  # logged first: a client may cut a long line short
                        log({"kind": "sent", "type": obj["type"], "rv": str(rv),
                             "bytes": len(line)})
                        self.chunk(line)
                    sent = rv
                if closing and not todo:
                    break
            log({"kind": "closed", "last_rv": str(sent)})
            self.chunk(b"")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
            log({"kind": "broken", "last_rv": str(sent), "error": str(e)})


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token", required=True, help="file with the token to accept")
    ap.add_argument("--pods", required=True, help="JSON list of the pods at start")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ARGS = ap.parse_args()
    for p in json.load(open(ARGS.pods)):
        with LOCK:
            add_event("ADDED", p)
    with LOCK:
        STATE["history"] = []  # the pods existed before anyone watched
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
