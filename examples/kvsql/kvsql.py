#!/usr/bin/env python3
"""kvsql: a key-value service over JSON-RPC (one JSON object per line over TCP), its state in a
SQLite database. Standard library only; it knows nothing of Upstart.

    python3 kvsql.py --listen-port PORT --db FILE --schema 1|2 [--peer HOST:PORT ...]

Schema 1 keeps `entries (key TEXT PRIMARY KEY, value TEXT)` and answers get/put/replicate.
Schema 2 keeps `items (key TEXT PRIMARY KEY, value TEXT, expires_at INTEGER)` (an optional
expiry in unix milliseconds) and adds `delete` and `put(key, value, ttl_ms)`.
On opening, the service creates its table, or adds the columns it lacks. It stops on SIGTERM.
"""

import argparse
import json
import signal
import socketserver
import sqlite3
import threading
import time

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--listen-port", type=int, required=True)
parser.add_argument("--db", required=True)
parser.add_argument("--schema", type=int, choices=[1, 2], required=True)
parser.add_argument("--peer", action="append", default=[])
args = parser.parse_args()

TABLE = "entries" if args.schema == 1 else "items"
COLUMNS = {"value": "TEXT"} if args.schema == 1 else {"value": "TEXT", "expires_at": "INTEGER"}
PARAMS = {
    "get": ["key"],
    "put": ["key", "value"] if args.schema == 1 else ["key", "value", "ttl_ms"],
    "delete": ["key"],
    "replicate": ["entries" if args.schema == 1 else "items"],
}

db = sqlite3.connect(args.db, check_same_thread=False, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS %s (key TEXT PRIMARY KEY)" % TABLE)
have = {row[1] for row in db.execute("PRAGMA table_info(%s)" % TABLE)}
for name, kind in COLUMNS.items():
    if name not in have:
        db.execute("ALTER TABLE %s ADD COLUMN %s %s" % (TABLE, name, kind))
lock = threading.Lock()


def as_int(v):
    # A column written by another program may hold the number as text.
    return None if v is None else int(v)


def get(key):
    row = db.execute("SELECT * FROM %s WHERE key = ?" % TABLE, (key,)).fetchone()
    if row is None:
        return None
    cols = [d[0] for d in db.execute("SELECT * FROM %s LIMIT 0" % TABLE).description]
    rec = dict(zip(cols, row))
    if args.schema == 1:
        return rec["value"]
    return {"value": rec["value"], "expires_at": as_int(rec["expires_at"])}


def put(key, value, expires_at=None):
    if args.schema == 1:
        db.execute("INSERT OR REPLACE INTO entries (key, value) VALUES (?, ?)", (key, value))
    else:
        db.execute(
            "INSERT OR REPLACE INTO items (key, value, expires_at) VALUES (?, ?, ?)",
            (key, value, expires_at),
        )


def call(method, params):
    if method not in PARAMS or (method == "delete" and args.schema == 1):
        raise LookupError(method)
    if isinstance(params, list):
        params = dict(zip(PARAMS[method], params))
    params = params or {}
    with lock:
        if method == "get":
            return get(params["key"])
        if method == "put":
            ttl = params.get("ttl_ms")
            expires = None if ttl is None else int(time.time() * 1000) + ttl
            put(params["key"], params["value"], expires)
            return None
        if method == "delete":
            cur = db.execute("DELETE FROM items WHERE key = ?", (params["key"],))
            return cur.rowcount > 0
        if method == "replicate":
            if args.schema == 1:
                for e in params["entries"]:
                    put(e["key"], e["value"])
            else:
                for key, item in params["items"].items():
                    put(key, item["value"], item.get("expires_at"))
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
            except (KeyError, TypeError, AttributeError) as e:
                answer["error"] = {"code": -32602, "message": "invalid params: %s" % e}
            self.wfile.write((json.dumps(answer) + "\n").encode())
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def stop(signum, frame):
    with lock:
        db.close()
    raise SystemExit(0)


signal.signal(signal.SIGTERM, stop)
server = Server(("127.0.0.1", args.listen_port), Handler)
try:
    server.serve_forever()
except SystemExit:
    pass
