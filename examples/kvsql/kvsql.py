#!/usr/bin/env python3
"""kvsql: a key-value service over JSON-RPC (one JSON object per line over TCP), its state in a
SQLite database. Standard library only; it knows nothing of Upstart.

    python3 kvsql.py --listen-port PORT --db FILE --schema 1|2 [--peer HOST:PORT ...]

Schema 1 keeps `entries (key TEXT PRIMARY KEY, value TEXT)` and answers get/put/replicate.
Schema 2 keeps `items (key TEXT PRIMARY KEY, value TEXT, expires_at INTEGER)` (an optional
expiry in unix milliseconds) and adds `delete` and `put(key, value, ttl_ms)`.
On opening, the service creates its table, or adds the columns it lacks. It stops on SIGTERM.

Replication: a `put` is answered only once every `--peer` took it, sent as a `replicate` call
in this schema's shape (schema 1: `{"entries": [{"key", "value"}]}`, schema 2: `{"items":
{KEY: {"value", "expires_at"}}}`) over one persistent connection per peer. A peer that cannot be
reached is tried again with backoff for up to REPLICATION_BOUND seconds, then skipped (and
logged): a node down for longer misses the write (there is no anti-entropy). A `replicate`
received is applied, not passed on. Deletes are not replicated: `replicate` cannot say so.
"""

import argparse
import json
import signal
import socket
import socketserver
import sqlite3
import sys
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


def row_of(key):
    """The `replicate` params of the stored row of `key`, in this schema's shape."""
    stored = get(key)
    if args.schema == 1:
        return {"entries": [{"key": key, "value": stored}]}
    return {"items": {key: stored}}


REPLICATION_BOUND = 20.0
PEER_TIMEOUT = 5.0


class Peer:
    """One peer: a persistent connection, opened on first use and reopened after a failure."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.addr = (host, int(port))
        self.lock = threading.Lock()
        self.conn = None
        self.next_id = 0

    def close(self):
        if self.conn is not None:
            self.conn[1].close()
            self.conn[0].close()
            self.conn = None

    def send(self, params):
        """One `replicate(params)`, reconnecting once; raises OSError when it does not take."""
        with self.lock:
            for attempt in range(2):
                try:
                    if self.conn is None:
                        s = socket.create_connection(self.addr, timeout=PEER_TIMEOUT)
                        self.conn = (s, s.makefile("rb"))
                    s, r = self.conn
                    self.next_id += 1
                    request = {"jsonrpc": "2.0", "id": self.next_id, "method": "replicate",
                               "params": params}
                    s.sendall((json.dumps(request) + "\n").encode())
                    line = r.readline()
                    if not line:
                        raise OSError("the connection closed")
                    answer = json.loads(line)
                except (OSError, ValueError) as e:
                    self.close()
                    if attempt == 1:
                        raise OSError(str(e))
                    continue
                if answer.get("error") is not None:
                    raise OSError("error answer: %s" % json.dumps(answer["error"]))
                return


PEERS = [Peer(p) for p in args.peer]


def replicate(params):
    """Sends `params` to every peer, one after the other, each until it takes it (or
    REPLICATION_BOUND passes)."""
    for peer in PEERS:
        deadline = time.monotonic() + REPLICATION_BOUND
        pause = 0.02
        while True:
            try:
                peer.send(params)
                break
            except OSError as e:
                if time.monotonic() + pause >= deadline:
                    print("kvsql: cannot replicate to %s:%d: %s; giving up" % (peer.addr + (e,)),
                          file=sys.stderr, flush=True)
                    break
                time.sleep(pause)
                pause = min(pause * 2, 0.5)


def call(method, params):
    """The answer to `method`; for a client's `put`, the answer is null and what it returns is
    the `replicate` params to send to the peers (outside the lock)."""
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
            return row_of(params["key"])
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
                method = request.get("method")
                result = call(method, request.get("params"))
                if method == "put":
                    # Outside the lock: a peer's `replicate` may come in meanwhile.
                    replicate(result)
                    result = None
                answer["result"] = result
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
