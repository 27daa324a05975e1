#!/usr/bin/env python3
"""A key-value service that knows nothing of Upstart, as a user would bring it: its own flags
(--port, --state, --data, --version, --peer), JSON-RPC over lines, its state in one JSON file
written atomically, and it never says where it listens. It stops on SIGINT (writing
`stopped-v<N>` into --data first) and ignores SIGTERM, so a test sees which signal stopped it.
At start it writes `started-v<N>.json` (its arguments) into --data. Standard library only."""

import argparse
import json
import os
import signal
import socketserver
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--state", required=True)
parser.add_argument("--data", required=True)
parser.add_argument("--version", type=int, choices=[1, 2], required=True)
parser.add_argument("--peer", action="append", default=[])
args = parser.parse_args()

FIELD = "entries" if args.version == 1 else "items"
PARAMS = {
    "get": ["key"],
    "put": ["key", "value", "ttl_ms"],
    "delete": ["key"],
    "replicate": [FIELD],
}
lock = threading.Lock()


def load():
    try:
        with open(args.state) as f:
            return json.load(f)[FIELD]
    except FileNotFoundError:
        return {}


def save():
    tmp = args.state + ".tmp"
    with open(tmp, "w") as f:
        json.dump({FIELD: items}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, args.state)


items = load()
if not os.path.exists(args.state):
    save()


def call(method, params):
    if method not in PARAMS or (method == "delete" and args.version == 1):
        raise LookupError(method)
    if isinstance(params, list):
        params = dict(zip(PARAMS[method], params))
    params = params or {}
    with lock:
        if method == "get":
            return items.get(params["key"])
        if method == "put":
            if args.version == 1:
                items[params["key"]] = params["value"]
            else:
                ttl = params.get("ttl_ms")
                expires = None if ttl is None else int(time.time() * 1000) + ttl
                items[params["key"]] = {"value": params["value"], "expires_at": expires}
            save()
            return None
        if method == "delete":
            existed = items.pop(params["key"], None) is not None
            save()
            return existed
        return None


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            try:
                request = json.loads(line)
            except ValueError:
                return
            answer = {"jsonrpc": "2.0", "id": request.get("id")}
            try:
                answer["result"] = call(request.get("method"), request.get("params"))
            except LookupError:
                answer["error"] = {"code": -32601, "message": "no such method"}
            except (KeyError, TypeError) as e:
                answer["error"] = {"code": -32602, "message": "invalid params: %s" % e}
            self.wfile.write((json.dumps(answer) + "\n").encode())
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def stop(signum, frame):
    with open(os.path.join(args.data, "stopped-v%d" % args.version), "w") as f:
        f.write(signal.Signals(signum).name)
    os._exit(0)


signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
server = Server(("127.0.0.1", args.port), Handler)
with open(os.path.join(args.data, "started-v%d.json" % args.version), "w") as f:
    json.dump({"argv": sys.argv[1:], "peers": args.peer}, f)
server.serve_forever()
