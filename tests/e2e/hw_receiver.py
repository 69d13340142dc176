"""Helpers for the receiver's end-to-end tests: a running hookwire-receiver with a
written config, GitHub-signed webhooks, a look into its store (SQLite through the
standard library, MariaDB through the `mariadb` client) and a private MariaDB."""

import hashlib
import hmac
import os
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse

from harness import (RECEIVER_BIN, START_TIMEOUT, HttpConn, Proc, build_request,
                     check, free_port, get, parse_metrics, request, wait_until)
from hw_mysql import fresh_database, mariadb, mariadb_argv  # noqa: F401 (45 imports them from here)

SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
GITHUB_SECRET = "gh-secret-for-tests"


def github_headers(body, delivery=None, secret=GITHUB_SECRET, event="push"):
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    h = [("Host", "hooks.example.test"), ("Content-Type", "application/json"),
         ("X-GitHub-Event", event), ("X-Hub-Signature-256", "sha256=" + sig)]
    if delivery:
        h.append(("X-GitHub-Delivery", delivery))
    return h


class Receiver:
    """hookwire-receiver on a free port with [receiver] keys and [source NAME] sections."""

    def __init__(self, env, store, sources, options=None, name="receiver", port=None):
        self.env, self.store, self.sources, self.name = env, store, sources, name
        self.port = port or free_port()
        self.options = {"signing-secret": SIGNING_SECRET, "log-level": "info"}
        self.options.update(options or {})
        self.proc = None

    def write_config(self):
        path = self.env.path(self.name + ".ini")
        lines = ["[receiver]", "listen = 127.0.0.1:%d" % self.port, "store = " + self.store]
        lines += ["%s = %s" % kv for kv in self.options.items()]
        for src, keys in self.sources.items():
            lines += ["", "[source %s]" % src] + ["%s = %s" % kv for kv in keys]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self, wait=True):
        self.proc = Proc(self.env, self.name, [RECEIVER_BIN, "--config", self.write_config()])
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        def up():
            self.proc.check_alive("is running")
            try:
                return get(self.port, "/healthz").status == 200
            except OSError:
                return False
        wait_until(up, timeout, "%s answers /healthz" % self.name)

    def post(self, source, body, headers, path="", **kw):
        return request(self.port, "POST", "/api/webhooks/%s%s" % (source, path), headers, body,
                       **kw)

    def metrics(self):
        return parse_metrics(get(self.port, "/metrics").body.decode())

    def metric(self, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return self.metrics().get(key, 0)

    def kill(self):
        self.proc.kill()

    def stop(self):
        self.proc.stop()


def store_query(store, sql):
    """Rows of sql (tuples of str/int/bytes) on a sqlite: path or a mysql:// URL."""
    if store.startswith("sqlite:"):
        db = sqlite3.connect("file:%s?mode=ro" % store[7:], uri=True, timeout=30)
        try:
            return [tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                          for v in r) for r in db.execute(sql).fetchall()]
        finally:
            db.close()
    argv, env = mariadb_argv(store)
    argv += ["-N", "-B", urllib.parse.urlsplit(store).path.lstrip("/"), "-e", sql]
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "mariadb: " + sql, r.stderr)
    return [tuple(line.split("\t")) for line in r.stdout.splitlines()]


def event_count(store, where="1=1"):
    return int(store_query(store, "SELECT COUNT(*) FROM hookwire_events WHERE " + where)[0][0])


def event_ids(store, where="1=1"):
    return {r[0] for r in store_query(store, "SELECT id FROM hookwire_events WHERE " + where)}


class Load:
    """Threads posting GitHub-signed webhooks on keep-alive connections until stopped or
    `total` are sent; records each answer's status and, for 200, the event id."""

    def __init__(self, port, source, total, conns=8, path_prefix="/api/webhooks"):
        self.port, self.source, self.total, self.conns = port, source, total, conns
        self.prefix = path_prefix
        self.lock = threading.Lock()
        self.next = 0
        self.acked = {}  # delivery id -> event id
        self.statuses = {}
        self.errors = 0
        self.stop = False
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(conns)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _take(self):
        with self.lock:
            if self.stop or self.next >= self.total:
                return None
            self.next += 1
            return self.next

    def _run(self):
        conn = None
        while True:
            n = self._take()
            if n is None:
                break
            delivery = "load-%d" % n
            body = b'{"n":%d,"pad":"%s"}' % (n, b"x" * 200)
            try:
                if conn is None:
                    conn = HttpConn(self.port, timeout=30)
                conn.send(build_request("POST", "%s/%s" % (self.prefix, self.source),
                                        github_headers(body, delivery), body))
                resp = conn.read_response("POST")
            except (OSError, EOFError, Exception):
                with self.lock:
                    self.errors += 1
                if conn:
                    try:
                        conn.close()
                    except OSError:
                        pass
                conn = None
                continue
            with self.lock:
                self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1
                if 200 <= resp.status < 300:
                    import json
                    self.acked[delivery] = json.loads(resp.body)["id"]
            if resp.header("Connection") == "close":
                conn.close()
                conn = None
        if conn:
            conn.close()

    def sent(self):
        with self.lock:
            return self.next

    def join(self, timeout=120):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        check(not any(t.is_alive() for t in self.threads), "the load finished in time")


def wait_port_closed(port, timeout):
    def closed():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return False
        except OSError:
            return True
    wait_until(closed, timeout, "port %d closed" % port)
