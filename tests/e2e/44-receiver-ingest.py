#!/usr/bin/env python3
"""hookwire-receiver on SQLite, end to end with the real binary.

A signed webhook is answered 200 {"id"} after its commit and reaches the backend
with the original method, path rest, query, header lines and body, plus
Hookwire-* headers whose signature checks out; the same provider delivery sent
three times at once is stored and delivered once; a tampered one is 401 and not
stored. With the backend down the attempts follow the retry schedule and the
event ends failed; a Retry-After is honoured. With the store's directory removed under it,
webhooks get 503 and /readyz says so. Slack, Discord and Zoom handshakes
are answered as each provider requires and neither stored nor delivered. A 30
MiB body gets 413; a client sending one byte a second holds up nobody; SIGTERM
in the middle of a load loses no acknowledged event. /metrics counts what happened
(stored, duplicates, rejected by reason, latencies) and shows the backlog by source.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time

from hw_receiver import (SIGNING_SECRET, Load, Receiver, event_count, event_ids, github_headers,
                         store_query)
from harness import (EVENT_ID_RE, FAKE_RESOLVER, HOP_BY_HOP, RECEIVER_BIN, SOURCE, HttpConn,
                     Proc, RawServer, Reply, build_request, check, check_eq, check_error,
                     free_port, get, holds_for, parse_metrics, read_head, request, run, wait_until)

SLACK_SECRET = "slack-signing-secret-for-tests"
ZOOM_SECRET = "zoom-secret-token-for-tests"


def gh_source(port, **extra):
    keys = [("provider", "github"), ("secret", "gh-secret-for-tests"),
            ("deliver-to", "http://127.0.0.1:%d/hooks" % port)]
    return keys + list(extra.items())


def plain_source(port):
    """An unsigned source (provider = none) delivering to port."""
    return [("provider", "none"), ("allow-unverified", "true"),
            ("deliver-to", "http://127.0.0.1:%d/hooks" % port)]


def sqlite_store(env, name="receiver.db"):
    return "sqlite:" + env.path(name)


def verify_hookwire(req, body):
    """The Standard Webhooks check a backend does, by the documented scheme."""
    key = base64.b64decode(SIGNING_SECRET[len("whsec_"):])
    eid, ts = req.header("Hookwire-Event-Id"), req.header("Hookwire-Timestamp")
    mac = hmac.new(key, ("%s.%s." % (eid, ts)).encode() + body, hashlib.sha256).digest()
    return req.header("Hookwire-Signature") == "v1," + base64.b64encode(mac).decode()


def case_ingest_deliver_dedup(env):
    backend = env.target()
    store = sqlite_store(env)
    rc = Receiver(env, store, {"gh": gh_source(backend.port)}).start()
    body = b'{"action":"opened","n":1,"text":"caf\xc3\xa9"}'
    headers = github_headers(body, "delivery-1") + [("X-Custom", "  spaced  value ")]
    resp = rc.post("gh", body, headers, path="/x/y?a=1&b=2")
    check_eq(resp.status, 200, "a signed webhook is acknowledged")
    eid = json.loads(resp.body)["id"]
    check(EVENT_ID_RE.match(eid), "the answer carries the event id", resp.body)
    check_eq(event_count(store), 1, "it was committed before the answer")
    req = backend.wait_requests(1)[0]
    check_eq((req.method, req.target), ("POST", "/hooks/x/y?a=1&b=2"), "method, path and query")
    check_eq(req.body, body, "the body byte for byte")
    sent = [b"%s: %s" % (n.encode(), v.encode()) for n, v in headers
            if n.lower() not in HOP_BY_HOP]
    got = [l for l in req.header_lines if not l.lower().startswith(b"hookwire-")]
    check_eq([l for l in got if l in sent], sent, "the original header lines, in order")
    check_eq(req.header("Hookwire-Event-Id"), eid, "Hookwire-Event-Id is the acknowledged id")
    check_eq(req.header("Hookwire-Attempt"), "1", "first attempt")
    check(verify_hookwire(req, body), "Hookwire-Signature verifies (Standard Webhooks scheme)")
    wait_until(lambda: event_count(store, "status = 2") == 1, 10, "recorded as delivered")

    # The same provider delivery three times at once: one event, one delivery.
    body2 = b'{"action":"closed","n":2}'
    results = []

    def send():
        results.append(rc.post("gh", body2, github_headers(body2, "delivery-2")))
    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check_eq([r.status for r in results], [200, 200, 200], "all three are acknowledged")
    ids = {json.loads(r.body)["id"] for r in results}
    check_eq(len(ids), 1, "with the same id")
    check_eq(event_count(store, "CAST(dedup_key AS CHAR) = 'delivery-2'"), 1, "stored once")
    backend.wait_requests(2)
    wait_until(lambda: event_count(store, "status = 2") == 2, 10, "delivered")
    holds_for(lambda: len(backend.requests) == 2, 1.0, "and delivered once")
    check_eq(rc.metric("hookwire_receiver_duplicates_total"), 2, "two duplicates counted")

    # Tampered: refused, never stored or delivered.
    bad = rc.post("gh", body2.replace(b"closed", b"opened"), github_headers(body2, "delivery-3"))
    check_eq((bad.status, bad.header("Hookwire-Error")), (401, "HW_SIGNATURE"), "tampered body")
    check_eq(event_count(store), 2, "the tampered one was not stored")
    unknown = rc.post("nope", body, github_headers(body, "delivery-4"))
    check_eq((unknown.status, unknown.header("Hookwire-Error")), (404, "HW_UNKNOWN_SOURCE"),
             "an unknown source")
    check_eq(rc.metric("hookwire_receiver_rejected_total", reason="signature"), 1,
             "rejected{reason=signature}")
    check_eq(len(backend.requests), 2, "nothing else reached the backend")
    m = rc.metrics()
    check_eq(m[("hookwire_receiver_stored_total", ())], 2, "stored_total")
    check_eq(m[("hookwire_receiver_ingest_seconds_count", ())], 4,
             "one ingest latency per acknowledgement (2 stored, 2 duplicates)")
    check_eq(m[("hookwire_receiver_delivered_total", ())], 2, "delivered_total")
    check_eq(m[("hookwire_receiver_delivery_seconds_count", ())], 2, "delivery latencies")
    check_eq(m[("hookwire_receiver_rejected_total", (("reason", "unknown_source"),))], 1,
             "rejected{reason=unknown_source}")
    check_eq(rc.metric("hookwire_receiver_ready"), 1, "ready")
    check_eq(m[("hookwire_receiver_leased_at_append_total", ())], 2,
             "both leased to this receiver by their append")
    check_eq(m[("hookwire_receiver_claimed_total", ())], 0, "delivered from memory: no claim")


def case_leading_empty_lines(env):
    """RFC 9112 2.2: empty lines before a request line are ignored, and are not part of it:
    a stray CRLF after a body must not turn the next webhook's request line into a header."""
    backend = env.target()
    store = sqlite_store(env)
    rc = Receiver(env, store, {"plain": plain_source(backend.port)}).start()
    head = b"POST /api/webhooks/plain/%d HTTP/1.1\r\nHost: x\r\nX-N: %d\r\nContent-Length: 2\r\n\r\n"
    with HttpConn(rc.port) as c:
        c.send(b"\r\n" + head % (1, 1) + b"h1" + b"\r\n" + head % (2, 2) + b"h2")
        for n in (1, 2):
            resp = c.read_response("POST")
            check_eq(resp.status, 200, "webhook %d (after an empty line) is acknowledged" % n)
    reqs = backend.wait_requests(2)
    got = sorted((r.target, r.body, r.header("X-N"),
                  [l for l in r.header_lines if b"HTTP/1.1" in l or not l]) for r in reqs)
    check_eq(got, [("/hooks/1", b"h1", "1", []), ("/hooks/2", b"h2", "2", [])],
             "each delivered with its own header lines, no request line among them")
    wait_until(lambda: event_count(store, "status = 2") == 2, 10, "both recorded as delivered")


def case_path_escapes(env):
    """A path that a normalising backend would route outside deliver-to's path is refused
    with 400 before its body is read, and nothing is stored or delivered. So are what HTTP
    allows but backends' parsers refuse, which would be acknowledged and never delivered: a
    raw byte past ASCII in the target, a method not in capital letters. A '#' in the target
    (no fragment in a request) is refused too: Node's URL parser would end the path there and
    read "/..#" as "/..". Two identical
    Content-Length lines are one length: the delivery carries one. Whitespace around its
    value is legal but refused by Node's parser: the delivery carries the plain length."""
    backend = env.target()
    store = sqlite_store(env)
    rc = Receiver(env, store, {"plain": plain_source(backend.port)}).start()
    paths = ("/ok/../../admin/reset", "/ok/%2e%2e/%2E%2e/admin", "/a%2Fb", "/./x", "/..;/admin",
             "/%2e%2e;/x", "/..%3B/x", "//evil.example/x")
    for path in paths:
        resp = rc.post("plain", b"{}", [("Host", "hooks.test")], path=path)
        check_eq((resp.status, resp.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"), path)
    raw = [b"POST /api/webhooks/plain/caf\xc3\xa9 HTTP/1.1", b"POST /api/webhooks/plain/x?\xff=1 HTTP/1.1",
           b"post /api/webhooks/plain/x HTTP/1.1"]
    for line in raw:
        with HttpConn(rc.port) as c:
            c.send(line + b"\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            resp = c.read_response("POST")
        check_eq((resp.status, resp.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"), line)
    wait_until(lambda: rc.proc.stderr().count("path refused (a dot or empty segment, an encoded "
                                              "slash, a byte past ASCII, a '#' or an escape a "
                                              "decoder could misread)")
               == len(paths) + 2,
               10, "each refused path to be logged")
    wait_until(lambda: "method refused (not capital letters, which backends require): post" in
               rc.proc.stderr(), 10, "the refused method to be logged")
    # After the log checks: the log writes at most 10 lines of one kind in a burst.
    # Escapes a lenient decoder reads as other bytes: NUL, '%' decoded twice, overlong UTF-8.
    fragments = ("/..#", "/a/..#x", "/x#frag", "/x?a=1#b", "/x/..%00", "/%252e%252e/admin",
                 "/%c0%ae%c0%ae/admin", "/100%")
    for path in fragments:
        resp = rc.post("plain", b"{}", [("Host", "hooks.test")], path=path)
        check_eq((resp.status, resp.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"), path)
    check_eq(rc.metric("hookwire_receiver_rejected_total", reason="invalid"),
             len(paths) + len(fragments) + 3, "counted as rejected{reason=invalid}")
    resp = rc.post("plain", b"{}", [("Host", "hooks.test")], path="/v1.2/...")
    check_eq(resp.status, 200, "dots inside a segment are fine")
    check_eq(backend.wait_requests(1)[0].target, "/hooks/v1.2/...", "and delivered as sent")
    with HttpConn(rc.port) as c:
        c.send(b"POST /api/webhooks/plain/dup HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
               b"Content-Length: 2\r\n\r\n{}")
        check_eq(c.read_response("POST").status, 200, "two identical Content-Length lines: 200")
    got = backend.wait_requests(2)[1]
    check_eq([l for l in got.header_lines if l.lower().startswith(b"content-length:")],
             [b"Content-Length: 2"], "the delivery carries one Content-Length line")
    for n, line in enumerate((b"Content-Length: 2\t", b"content-length:\t 2 ")):
        with HttpConn(rc.port) as c:
            c.send(b"POST /api/webhooks/plain/ows HTTP/1.1\r\nHost: x\r\n%s\r\nX-After: 1\r\n"
                   b"\r\n{}" % line)
            check_eq(c.read_response("POST").status, 200, "%r: 200" % line)
        got = backend.wait_requests(3 + n)[2 + n]
        check_eq([l for l in got.header_lines if l.lower().startswith(b"content-length:")],
                 [b"Content-Length: 2"], "%r is delivered as the plain length" % line)
        check_eq(got.header_lines.index(b"X-After: 1") - got.header_lines.index(b"Host: x"), 2,
                 "%r: in its place among the original lines" % line)
    check_eq(event_count(store), 4, "only those four were stored")


def gated_backend(env):
    """A backend that holds every request until the returned gate is set (30 s at most)."""
    gate = threading.Event()

    def handler(req):
        gate.wait(30)
        return Reply(200, "OK", [], b"ok")
    return gate, env.target(handler)


def case_window_spills_to_claims(env):
    """Past a source's window in memory (32 x concurrency), new events are appended due and
    claimed in store order once the window drains; nothing is delivered twice or skipped."""
    store = sqlite_store(env)
    gate, backend = gated_backend(env)
    rc = Receiver(env, store, {"gh": gh_source(backend.port, concurrency="1")},
                  {"deliver-timeout": "40s", "lease": "60s"}).start()
    sent = []

    def post(n):
        body = b'{"n":%d}' % n
        check_eq(rc.post("gh", body, github_headers(body, "w-%d" % n)).status, 200, "stored")
        sent.append(body)
    for n in range(40):
        post(n)
    check_eq(rc.metric("hookwire_receiver_leased_at_append_total"), 32,
             "the first 32 leased at append (the window of concurrency 1)")
    check_eq(rc.metric("hookwire_receiver_deliveries_in_flight"), 1,
             "one delivery in flight (concurrency 1), the rest wait in memory")
    gate.set()
    wait_until(lambda: event_count(store, "status = 2") == 40, 30, "all 40 delivered")
    check_eq([r.body for r in backend.requests], sent, "in the order they came, each once")
    check_eq(rc.metric("hookwire_receiver_claimed_total"), 8, "the 8 past the window claimed")
    # Once a claim has come back short, new events are leased at append again.
    n = 40
    while rc.metric("hookwire_receiver_leased_at_append_total") == 32:
        check(n < 60, "events are leased at append again", n)
        post(n)
        n += 1
        wait_until(lambda: event_count(store, "status = 2") == n, 30, "delivered")
    wait_until(lambda: len(backend.requests) == n, 10, "every event delivered")
    holds_for(lambda: len(backend.requests) == n, 0.5, "and no more")
    check_eq(sorted(r.body for r in backend.requests), sorted(sent), "each exactly once")


def attempts(store, eid):
    return [(int(a), int(s)) for a, s in store_query(
        store, "SELECT at_ms, http_status FROM hookwire_attempts WHERE event_id = '%s' "
        "ORDER BY n" % eid)]


def case_backend_down_follows_schedule(env):
    store = sqlite_store(env)
    dead = free_port()
    rc = Receiver(env, store, {"gh": gh_source(dead)},
                  {"retry-schedule": "200ms 400ms 800ms", "deliver-timeout": "1s",
                   "lease": "5s"}).start()
    body = b'{"down":true}'
    resp = rc.post("gh", body, github_headers(body, "down-1"))
    check_eq(resp.status, 200, "acknowledged with the backend down")
    eid = json.loads(resp.body)["id"]
    wait_until(lambda: event_count(store, "status = 3") == 1, 15, "the event ends failed")
    at = attempts(store, eid)
    check_eq(len(at), 4, "the first attempt and three retries")
    check_eq({s for _, s in at}, {0}, "no answer: refused connections")
    for (a, _), (b, _), step in zip(at, at[1:], (200, 400, 800)):
        gap = b - a
        check(step * 0.8 - 20 <= gap <= step * 1.2 + 250,
              "retry after about %d ms (+-20%%)" % step, gap)
    err = store_query(store, "SELECT last_error FROM hookwire_events WHERE id = '%s'" % eid)
    check(err and err[0][0], "the error is recorded", err)
    check_eq(rc.metric("hookwire_receiver_failed_total"), 1, "failed counted")
    check_eq(rc.metric("hookwire_receiver_retries_total"), 3, "retries counted")


def case_store_deleted(env):
    """The store's directory removed under a running receiver: SQLite would go on writing to
    the nameless file and lose it at exit, so the receiver refuses (503), /readyz says so, and
    the log says why."""
    backend = env.target()
    os.mkdir(env.path("data"))
    store = "sqlite:" + env.path("data/receiver.db")
    rc = Receiver(env, store, {"gh": gh_source(backend.port)}).start()
    body = b'{"before":1}'
    check_eq(rc.post("gh", body, github_headers(body, "before")).status, 200,
             "acknowledged while the file is there")
    wait_until(lambda: get(rc.port, "/readyz").status == 200, 10, "ready")
    shutil.rmtree(env.path("data"))
    for n in range(3):
        body = b'{"after":%d}' % n
        resp = rc.post("gh", body, github_headers(body, "after-%d" % n))
        check_eq(resp.status, 503, "refused once the file is gone (%d)" % n)
        check_eq(resp.header("Hookwire-Error"), "HW_STORE_UNAVAILABLE", "its code (%d)" % n)
    wait_until(lambda: get(rc.port, "/readyz").status == 503, 10, "/readyz says 503")
    log = rc.proc.stderr()
    # Once per connection that met it (ingest, claims and outcomes each have one), not per try.
    said = log.count("the database file was deleted or replaced while in use")
    check(1 <= said <= 3, "the log says why, once per store connection", said)
    # The claims that fail every second say so once, not every second.
    wait_until(lambda: "cannot claim events" in rc.proc.stderr(), 10, "the claims fail")
    holds_for(lambda: rc.proc.stderr().count("cannot claim events") == 1, 3,
              "the failing claims are logged once")
    rc.proc.check_alive("keeps running to say so")


def case_answer_timeout(env):
    """A store that takes no commit for longer than the answer timeout (30 s; here SQLite
    locked by another process): the senders get 503, and each event is either withdrawn
    (never stored: a log line says so with its id) or, if a commit has it already, logged as
    possibly stored and delivered, which it is once the store answers again."""
    store = sqlite_store(env)
    backend = env.target()
    rc = Receiver(env, store, {"plain": plain_source(backend.port)}).start()
    check_eq(rc.post("plain", b"{}", [("Host", "x")]).status, 200, "stored before the lock")
    backend.wait_requests(1)
    lock = sqlite3.connect(store[len("sqlite:"):], isolation_level=None, timeout=30)
    lock.execute("BEGIN EXCLUSIVE")
    # 48 MiB: a commit takes at most 32 MiB, so some wait behind a commit the lock holds up
    # (and few enough that the log writes each line: at most 10 of a kind at once).
    body = b"x" * (4 * 1024 * 1024)
    answers = []

    def post(n):
        with HttpConn(rc.port, timeout=60) as c:  # past the answer timeout
            answers.append(c.request("POST", "/api/webhooks/plain/%d" % n, [("Host", "x")], body))
    threads = [threading.Thread(target=post, args=(n,)) for n in range(12)]
    try:
        for t in threads:
            t.start()
        withdrawn = "not stored: the store did not take it by the answer timeout"
        pending = "the store is still committing it at the answer timeout"
        wait_until(lambda: withdrawn in rc.proc.stderr() and pending in rc.proc.stderr(), 60,
                   "both kinds of answer timeout to be logged")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    for t in threads:
        t.join(60)
    check_eq({(a.status, a.header("Hookwire-Error")) for a in answers},
             {(503, "HW_STORE_UNAVAILABLE")}, "every sender got 503")

    def ids(what):
        return {l.split(" evt=")[1].split()[0] for l in rc.proc.stderr().splitlines()
                if what in l}
    gone, maybe = ids(withdrawn), ids(pending)
    wait_until(lambda: ids("stored after all, after its sender got 503") == maybe, 30,
               "each event still in a commit to be stored once the lock is gone")
    check(not (gone & event_ids(store)), "a withdrawn event is never stored")
    check(maybe <= event_ids(store), "those logged as possibly stored are stored")
    wait_until(lambda: len(backend.requests) == 1 + len(maybe), 30, "and delivered")
    check_eq({r.header("Hookwire-Event-Id") for r in backend.requests[1:]}, maybe,
             "exactly those are delivered")
    check(ids("-> 503 HW_STORE_UNAVAILABLE") >= gone | maybe,
          "the 503 lines name the events they refused")


def case_backlog_metrics(env):
    """Pending events show in /metrics as the backlog of their source and the oldest age."""
    store = sqlite_store(env)
    rc = Receiver(env, store, {"gh": gh_source(free_port()), "other": gh_source(free_port())},
                  {"retry-schedule": "1h", "deliver-timeout": "1s"}).start()
    for n in range(3):
        body = b'{"pending":%d}' % n
        check_eq(rc.post("gh", body, github_headers(body, "p-%d" % n)).status, 200, "stored")

    def backlog():
        m = rc.metrics()
        return (m.get(("hookwire_receiver_backlog", (("source", "gh"),))),
                m.get(("hookwire_receiver_backlog", (("source", "other"),))))
    wait_until(lambda: backlog() == (3, 0), 15, "backlog{source=gh} 3, {source=other} 0",
               interval=0.2)
    check(rc.metric("hookwire_receiver_oldest_pending_seconds") > 0, "the oldest pending age")
    wait_until(lambda: event_count(store, "attempts = 1") == 3, 10, "one refused attempt each")
    check_eq(rc.metric("hookwire_receiver_retries_total"), 3, "each waits for its retry")


def case_retry_after_is_honoured(env):
    store = sqlite_store(env)
    calls = []

    def handler(req):
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Reply(503, "Service Unavailable", [("Retry-After", "2")], b"busy")
        return Reply(204, "No Content")
    backend = env.target(handler)
    rc = Receiver(env, store, {"gh": gh_source(backend.port)},
                  {"retry-schedule": "1500ms 1500ms", "deliver-timeout": "1s"}).start()
    body = b'{"retry":"after"}'
    resp = rc.post("gh", body, github_headers(body, "ra-1"))
    eid = json.loads(resp.body)["id"]
    wait_until(lambda: event_count(store, "status = 2") == 1, 15, "delivered on the retry")
    at = attempts(store, eid)
    check_eq([s for _, s in at], [503, 204], "503 then 204 recorded")
    gap = at[1][0] - at[0][0]
    # The step alone would give 1200..1800 ms; Retry-After: 2 asks for 2000 ms.
    check(1950 <= gap <= 2600, "the retry waited for Retry-After (2 s)", gap)
    excerpt = store_query(store, "SELECT excerpt FROM hookwire_attempts WHERE event_id = '%s' "
                          "ORDER BY n LIMIT 1" % eid)
    check_eq(excerpt[0][0], "busy", "the answer's excerpt is recorded")


def node_discord_sign(env, body, ts):
    """Signs timestamp+body with a fresh Ed25519 key in Node; returns (public hex, sig hex)."""
    node = shutil.which("node")
    check(node is not None, "node is installed (scripts/install-deps)")
    path = env.path("discord-body.bin")
    with open(path, "wb") as f:
        f.write(body)
    js = ("const c=require('node:crypto'),fs=require('node:fs');"
          "const {publicKey,privateKey}=c.generateKeyPairSync('ed25519');"
          "const b=fs.readFileSync(process.argv[1]);"
          "const s=c.sign(null,Buffer.concat([Buffer.from(process.argv[2]),b]),privateKey);"
          "const pub=publicKey.export({format:'der',type:'spki'}).subarray(-32);"
          "console.log(pub.toString('hex')+' '+s.toString('hex'));")
    r = subprocess.run([node, "-e", js, path, str(ts)], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0, "node signed the Discord body", r.stderr)
    return r.stdout.split()


def case_handshakes(env):
    store = sqlite_store(env)
    backend = env.target()
    ts = int(time.time())
    ping = b'{"type":1,"id":"123","application_id":"456"}'
    pub, sig = node_discord_sign(env, ping, ts)
    rc = Receiver(env, store, {
        "sl": [("provider", "slack"), ("secret", SLACK_SECRET),
               ("deliver-to", "http://127.0.0.1:%d/" % backend.port)],
        "dc": [("provider", "discord"), ("secret", pub),
               ("deliver-to", "http://127.0.0.1:%d/" % backend.port)],
        "zm": [("provider", "zoom"), ("secret", ZOOM_SECRET),
               ("deliver-to", "http://127.0.0.1:%d/" % backend.port)],
    }).start()

    body = b'{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",' \
           b'"type":"url_verification"}'
    base = b"v0:%d:" % ts + body
    sh = [("Host", "hooks.example.test"), ("Content-Type", "application/json"),
          ("X-Slack-Request-Timestamp", str(ts)),
          ("X-Slack-Signature", "v0=" + hmac.new(SLACK_SECRET.encode(), base,
                                                  hashlib.sha256).hexdigest())]
    resp = rc.post("sl", body, sh)
    check_eq((resp.status, resp.body),
             (200, b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
             "Slack: the challenge echoed")
    check(resp.header("Content-Type").startswith("text/plain"), "Slack: as text/plain")

    dh = [("Host", "hooks.example.test"), ("Content-Type", "application/json"),
          ("X-Signature-Ed25519", sig), ("X-Signature-Timestamp", str(ts))]
    resp = rc.post("dc", ping, dh)
    check_eq((resp.status, json.loads(resp.body)), (200, {"type": 1}), "Discord: PONG")
    check(resp.header("Content-Type").startswith("application/json"), "Discord: as JSON")
    bad = rc.post("dc", ping.replace(b"123", b"124"), dh)
    check_eq(bad.status, 401, "Discord: a forged PING is refused (Discord's own check)")

    token = "qgg8vlvZRS6UYooatFL8Aw"
    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": token},
                       "event_ts": ts * 1000}).encode()
    base = b"v0:%d:" % ts + body
    zh = [("Host", "hooks.example.test"), ("Content-Type", "application/json"),
          ("x-zm-request-timestamp", str(ts)),
          ("x-zm-signature", "v0=" + hmac.new(ZOOM_SECRET.encode(), base,
                                               hashlib.sha256).hexdigest())]
    resp = rc.post("zm", body, zh)
    want = hmac.new(ZOOM_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
    check_eq((resp.status, json.loads(resp.body)),
             (200, {"plainToken": token, "encryptedToken": want}), "Zoom: the HMAC'd token")
    # Signed, but a handshake that cannot be answered: 400 with its code and a log line.
    bad = b'{"token":"x","challenge":"has space","type":"url_verification"}'
    base = b"v0:%d:" % ts + bad
    sh[-1] = ("X-Slack-Signature", "v0=" + hmac.new(SLACK_SECRET.encode(), base,
                                                     hashlib.sha256).hexdigest())
    check_error(rc.post("sl", bad, sh), 400, "HW_BAD_REQUEST", "Slack: a challenge with a space")
    wait_until(lambda: "source=sl handshake refused: Slack url_verification: challenge: missing, "
               "longer than 256 bytes, or not plain printable text" in rc.proc.stderr(), 10,
               "the refused handshake is logged with its rule")
    check_eq(rc.metric("hookwire_receiver_rejected_total", reason="invalid"), 1,
             "counted as rejected{reason=invalid}")
    check_eq(event_count(store), 0, "handshakes are not stored")
    check_eq(rc.metric("hookwire_receiver_handshakes_total"), 2 + 1, "three answered")
    check_eq(len(backend.requests), 0, "nor delivered")


def case_limits_and_slow_client(env):
    store = sqlite_store(env)
    backend = env.target()
    rc = Receiver(env, store, {"gh": gh_source(backend.port)}).start()
    big = 30 * 1024 * 1024
    with HttpConn(rc.port) as c:
        c.send_background(b"POST /api/webhooks/gh HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                          b"Content-Type: application/json\r\n\r\n" % big + b"x" * big)
        resp = c.read_response("POST")
    check_eq((resp.status, resp.header("Hookwire-Error")), (413, "HW_BODY_TOO_LARGE"),
             "a 30 MiB body")

    # One byte a second: its request never completes, and nobody waits for it.
    stop = threading.Event()
    slow = HttpConn(rc.port)
    data = build_request("POST", "/api/webhooks/gh", github_headers(b"{}", "slow"), b"{}")

    def trickle():
        for i in range(len(data)):
            if stop.is_set():
                return
            try:
                slow.send(data[i:i + 1])
            except OSError:
                return
            stop.wait(1.0)
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        for n in range(20):
            body = b'{"fast":%d}' % n
            t0 = time.monotonic()
            resp = rc.post("gh", body, github_headers(body, "fast-%d" % n))
            check_eq(resp.status, 200, "webhook %d next to the slow client" % n)
            check(time.monotonic() - t0 < 1.0, "answered at once", time.monotonic() - t0)
    finally:
        stop.set()
        t.join(5)
        slow.close()
    check_eq(event_count(store), 20, "the fast ones are stored")


def stored_once_room(rc, store, delivery, body, within, what, waits=None):
    """Posts body (a GitHub push, X-GitHub-Delivery delivery) until it is answered 200, for up
    to within seconds, and checks it was stored. A status in waits means "no room yet"; any
    other fails (waits None: every status waits). Returns the 200."""
    def post():
        r = rc.post("gh", body, github_headers(body, delivery))
        if waits is not None:
            check(r.status == 200 or r.status in waits, what + ": 200 or %r" % (waits,), r.status)
        return r if r.status == 200 else None
    resp = wait_until(post, within, what)
    check(json.loads(resp.body)["id"] in event_ids(store), "it was stored")
    return resp


def case_held_bytes_capped(env):
    """Bodies read before their signature is checked are bounded by max-held: two senders
    that stall with most of a body sent hold it; a complete webhook that needs the room
    sheds one of them (closed, an info line, shed_total) and is stored."""
    store = sqlite_store(env)
    backend = env.target()
    rc = Receiver(env, store, {"gh": gh_source(backend.port)},
                  options={"max-body": "64K", "max-held": "128K"}).start()
    stalled = []
    try:
        for n in range(2):
            c = HttpConn(rc.port)
            c.send(b"POST /api/webhooks/gh HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n"
                   b"Content-Type: application/json\r\n\r\n" + b"x" * 60000)
            stalled.append(c)
        wait_until(lambda: rc.metric("hookwire_receiver_held_bytes") >= 120000, 10,
                   "the stalled bodies are held")
        # 429 while neither stalled sender has been silent long enough to be shed.
        stored_once_room(rc, store, "held-1", b'{"pad":"%s"}' % (b"p" * 60000), 10,
                         "the webhook gets room by shedding a stalled sender", waits=(429,))
    finally:
        for c in stalled:
            c.close()
    check(rc.metric("hookwire_receiver_shed_total") >= 1, "shed_total counts it",
          rc.metric("hookwire_receiver_shed_total"))
    wait_until(lambda: "shed: its request stalled while the server was at its limit of body "
               "bytes held" in rc.proc.stderr(), 5, "one info line names the shed connection")


def case_sigterm_under_load(env):
    store = sqlite_store(env)
    backend = env.target()
    rc = Receiver(env, store, {"gh": gh_source(backend.port)}).start()
    load = Load(rc.port, "gh", 100000, conns=8).start()
    wait_until(lambda: len(load.acked) >= 300, 30, "300 acknowledged")
    rc.proc.p.send_signal(signal.SIGTERM)
    check_eq(rc.proc.wait_exit(10), 0, "exit 0 within 10 s of SIGTERM under load")
    load.stop = True
    load.join(60)
    acked = set(load.acked.values())
    print("      %d acknowledged before and during the drain, statuses %s" %
          (len(acked), load.statuses))
    check(not (acked - event_ids(store)), "every acknowledged event is in the store",
          len(acked - event_ids(store)))
    check(set(load.statuses) <= {200, 503}, "answers are 200 or 503 (shutting down)",
          load.statuses)


def case_drain_closes_kept_alive(env):
    """Once SIGTERM's drain begins, every answer says Connection: close and the connection
    ends after it: a sender (or a proxy) on a kept-alive connection never sends a next
    request into the close, where it would get no answer."""
    store = sqlite_store(env)
    gate, backend = gated_backend(env)
    rc = Receiver(env, store, {"plain": plain_source(backend.port)}).start()
    check_eq(rc.post("plain", b"{}", [("Host", "x")]).status, 200, "one webhook stored")
    backend.wait_requests(1)  # its delivery hangs: the drain waits for it
    try:
        with HttpConn(rc.port) as c:
            c.send(build_request("POST", "/api/webhooks/plain/a", [("Host", "x"),
                                                                   ("Content-Length", "2")]) + b"{}")
            first = c.read_response("POST")
            check_eq((first.status, first.header("Connection")), (200, None),
                     "before the stop: 200, kept alive")
            rc.proc.p.send_signal(signal.SIGTERM)
            wait_until(lambda: "draining" in rc.proc.stderr() or
                       get(rc.port, "/healthz").status == 503, 10, "the drain to begin")
            c.send(build_request("POST", "/api/webhooks/plain/b", [("Host", "x"),
                                                                   ("Content-Length", "2")]) + b"{}")
            during = c.read_response("POST")
            check_eq((during.status, during.header("Hookwire-Error"), during.header("Connection")),
                     (503, "HW_SHUTTING_DOWN", "close"), "during the drain: 503, closing")
            check_eq(c.reader.rest(), b"", "and the connection ends after it")
    finally:
        gate.set()
    check_eq(rc.proc.wait_exit(20), 0, "exit 0")


def case_endpoints_are_read_only(env):
    """/healthz, /readyz and /metrics answer GET and HEAD; another method is 404, as on the
    relay's tunnel port, so that a POST /healthz never reads as done."""
    rc = Receiver(env, sqlite_store(env), {"plain": plain_source(env.target().port)}).start()
    wait_until(lambda: get(rc.port, "/readyz").status == 200, 10, "ready")
    for path in ("/healthz", "/readyz", "/metrics"):
        check_eq(request(rc.port, "HEAD", path, [("Host", "x")]).status, 200, "HEAD " + path)
        for method in ("POST", "DELETE", "PUT"):
            check_error(request(rc.port, method, path, [("Host", "x")], b"{}"), 404,
                        "HW_NOT_FOUND", "%s %s" % (method, path))
    check_eq(get(rc.port, "/healthz").status, 200, "GET /healthz")


def case_sigterm_mid_body(env):
    """A webhook whose body is still arriving when SIGTERM comes is read to its end and
    answered 503 HW_SHUTTING_DOWN (the provider retries), not cut without an answer; then the
    receiver exits 0. Nothing of it is stored."""
    store = sqlite_store(env)
    backend = env.target()
    rc = Receiver(env, store, {"gh": gh_source(backend.port)}).start()
    body = b'{"mid":"body","pad":"' + b"x" * 4000 + b'"}'
    c = HttpConn(rc.port)
    head = build_request("POST", "/api/webhooks/gh", github_headers(body, "mid-1"), body)
    split = len(head) - 1000
    c.send(head[:split])
    wait_until(lambda: rc.metric("hookwire_receiver_held_bytes") >= 1, 10,
               "the receiver holds the first part of the body")
    rc.proc.p.send_signal(signal.SIGTERM)
    wait_until(lambda: "receiver: shutting down" in rc.proc.stderr(), 10, "the stop has begun")
    c.send(head[split:])
    r = c.read_response()
    check_eq((r.status, r.header("Hookwire-Error")), (503, "HW_SHUTTING_DOWN"),
             "the webhook is answered once its body is in")
    check_eq(rc.proc.wait_exit(10), 0, "the receiver exits 0")
    check_eq(event_count(store), 0, "nothing was stored")


def case_stop_with_store_locked(env):
    """SIGTERM while another process holds the SQLite store's write lock and an append waits
    for it: the sender gets 503 at the end of the 5 s drain, and what the exit still asks of
    the store (the append, the leases' release) waits 1 s in all, not the busy limit (about
    10 s) for each call: the receiver exits 0 within 15 s. The append is not stored."""
    store = sqlite_store(env)
    backend = env.target()
    rc = Receiver(env, store, {"gh": gh_source(backend.port)}).start()
    lock = sqlite3.connect(store[len("sqlite:"):], timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    answers = []
    body = b'{"locked":1}'
    sender = threading.Thread(target=lambda: answers.append(
        rc.post("gh", body, github_headers(body, "locked-1")).status))
    try:
        sender.start()
        wait_until(lambda: rc.metric("hookwire_receiver_received_total") >= 1, 10,
                   "the webhook is in, its append waiting for the lock")
        rc.proc.p.send_signal(signal.SIGTERM)
        check_eq(rc.proc.wait_exit(15), 0, "the receiver exits 0 within 15 s")
        sender.join(10)
        check_eq(answers, [503], "the sender got 503")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    check_eq(event_count(store), 0, "the append was not stored")


def case_fd_limit_fitted(env):
    """Under a low open files limit the receiver fits its connection cap beneath it (one warn
    line names the limit, what else takes descriptors, and the cap), so that at the cap a
    quiet connection is shed for a new sender instead of accept() running out of
    descriptors: with 300 idle connections under a limit of 256, a webhook is stored."""
    store = sqlite_store(env)
    backend = env.target()
    rc = Receiver(env, store, {"gh": gh_source(backend.port)})
    rc.proc = Proc(env, rc.name, ["prlimit", "--nofile=256:256", RECEIVER_BIN, "--config",
                                  rc.write_config()])
    rc.wait_ready()
    m = re.search(r"open files limit 256 cannot hold 10000 sender connections beside the (\d+) "
                  r"the deliveries, the store and the listener take: the cap is (\d+) ",
                  rc.proc.stderr())
    check(m, "one line says the cap was fitted under the limit", rc.proc.stderr())
    check_eq(int(m.group(1)) + int(m.group(2)), 255,
             "the cap and the rest fill the limit, but one kept for the connection past the cap")
    # The readiness probe's connection must be gone before the idle ones arrive: closing
    # later, it would free a slot for the webhook. This connection, kept alive, is one of them.
    probe = HttpConn(rc.port)
    idle = [probe.sock]

    def open_connections():
        m = parse_metrics(probe.request("GET", "/metrics", [("Host", "x")]).body.decode())
        return m.get(("hookwire_receiver_connections", ()), 0) == 1
    wait_until(open_connections, 10, "only the probe's connection is open")
    try:
        for _ in range(299):
            idle.append(socket.create_connection(("127.0.0.1", rc.port), timeout=5))
        stored_once_room(rc, store, "fd-limit-1", b'{"fd":"limit"}', 15,
                         "a webhook is stored beside 300 idle connections")
    finally:
        for c in idle:
            c.close()
    check(rc.metric("hookwire_receiver_shed_total") >= 1, "quiet connections were shed",
          rc.metric("hookwire_receiver_shed_total"))
    rc.proc.check_alive("keeps running")


def stalled_answer(env, status_line, schedule, recorded):
    """Posts one webhook to a backend that answers status_line with 7 bytes of a declared 100
    and then never finishes; waits until recorded(store, eid). Returns the store, the event's
    attempts (http_status, error) and how many connections the backend got."""
    store = sqlite_store(env)

    def serve(conn):
        read_head(conn)
        conn.sendall(status_line + b"\r\nContent-Length: 100\r\n\r\n1234567")

    with RawServer(serve) as backend:
        rc = Receiver(env, store, {"gh": gh_source(backend.port)},
                      {"retry-schedule": schedule, "deliver-timeout": "1s"}).start()
        body = b'{"stalled":"%s"}' % status_line
        resp = rc.post("gh", body, github_headers(body, "stall-%s" % status_line[9:12].decode()))
        check_eq(resp.status, 200, "acknowledged")
        eid = json.loads(resp.body)["id"]
        wait_until(lambda: recorded(store, eid), 15, "the attempt's outcome is recorded")
        at = store_query(store, "SELECT http_status, error FROM hookwire_attempts WHERE "
                         "event_id = '%s'" % eid)
        return store, at, len(backend.conns)


def case_2xx_head_is_the_verdict(env):
    """A backend that answers 200 and then never finishes its body (7 bytes of a declared 100)
    has said delivered: the event is delivered after one attempt, which keeps the 200 and
    says the body did not complete, and it is not sent again."""
    store, at, conns = stalled_answer(env, b"HTTP/1.1 200 OK", "200ms 200ms",
                                      lambda store, eid: event_count(store, "status = 2") == 1)
    check_eq(len(at), 1, "one attempt")
    check_eq(int(at[0][0]), 200, "it keeps the backend's 200")
    check("did not complete" in (at[0][1] or ""), "and says the body did not complete", at)
    check_eq(conns, 1, "the backend got the event once")


def case_error_head_then_stall(env):
    """A backend that answers 500 and then never finishes its body: the attempt keeps the 500
    and says the body did not complete, and the event is retried (no verdict of delivery)."""
    store, at, _ = stalled_answer(env, b"HTTP/1.1 500 Internal Server Error", "1h",
                                  attempt_errors)
    check_eq(int(at[0][0]), 500, "it keeps the backend's 500")
    check("did not complete" in (at[0][1] or ""), "and says the body did not complete", at)
    check_eq(event_count(store, "status = 1"), 1, "the event stays pending, to be retried")


def case_backend_name_unresolved(env):
    """A deliver-to host name that does not resolve: the attempt's error, and the log, say so."""
    store = sqlite_store(env)
    src = [("provider", "github"), ("secret", "gh-secret-for-tests"),
           ("deliver-to", "http://nosuch.invalid:9/hooks")]
    rc = Receiver(env, store, {"gh": src}, {"retry-schedule": "1h"}).start()
    body = b'{"name":"unresolved"}'
    resp = rc.post("gh", body, github_headers(body, "unresolved-1"))
    check_eq(resp.status, 200, "acknowledged")
    eid = json.loads(resp.body)["id"]
    wait_until(lambda: store_query(store, "SELECT error FROM hookwire_attempts WHERE event_id = "
                                   "'%s'" % eid), 15, "an attempt is recorded")
    at = store_query(store, "SELECT error FROM hookwire_attempts WHERE event_id = '%s'" % eid)
    check(re.fullmatch(r"cannot resolve nosuch\.invalid: .+", at[0][0]),
          "the attempt's error names the name and the resolver's reason", at)
    check("attempt 1: " + at[0][0] in rc.proc.stderr(), "the log line says it too",
          rc.proc.stderr()[-800:])


def case_backend_name_addresses(env):
    """A backend name with two addresses, where the first cannot be had: refused when tried,
    or (IPv6, which the receiver does not use) not even tried. Each delivery goes to the second
    address in its first attempt, and the name is looked up once for all of them."""
    for answer in ("127.0.0.3 127.0.0.1", "::1 127.0.0.1"):
        first = answer.split()[0].replace(":", "6")
        store = sqlite_store(env, first + ".db")
        backend = env.target()
        log = env.path("lookups-" + first)
        src = [("provider", "github"), ("secret", "gh-secret-for-tests"),
               ("deliver-to", "http://two.test:%d/hooks" % backend.port)]
        rc = Receiver(env, store, {"gh": src}, {"retry-schedule": "1h"}, name="receiver-" + first)
        rc.proc = Proc(env, rc.name, [RECEIVER_BIN, "--config", rc.write_config()], extra_env={
            "LD_PRELOAD": FAKE_RESOLVER, "HW_FAKE_NAME": "two.test", "HW_FAKE_ANSWER": answer,
            "HW_FAKE_LOG": log})
        rc.wait_ready()
        sent = []
        for n in range(3):
            body = b'{"addresses":%d}' % n
            resp = rc.post("gh", body, github_headers(body, "two-%d" % n))
            check_eq(resp.status, 200, "acknowledged")
            eid = json.loads(resp.body)["id"]
            sent.append(body)
            wait_until(lambda: attempt_errors(store, eid), 15, answer + ": an attempt is recorded")
            at = store_query(store, "SELECT http_status FROM hookwire_attempts WHERE "
                             "event_id = '%s'" % eid)
            check_eq([int(s) for (s,) in at], [200], answer + ": one attempt, answered 200")
        check_eq([r.body for r in backend.requests], sent, answer + ": the backend got each once")
        with open(log) as f:
            check_eq(len(f.read()), 1, answer + ": the name was looked up once")
        rc.stop()


def case_failed_name_not_asked_again(env):
    """A backend name that does not resolve is not looked up again for each delivery: for 5 s
    the failure stands, and every attempt in that time fails with it. Four webhooks, each
    delivered once, one after the other, take one lookup between them when they are done
    within those 5 s; once the 5 s are over, the next delivery looks the name up again."""
    store = sqlite_store(env)
    log = env.path("lookups-gone")
    src = [("provider", "github"), ("secret", "gh-secret-for-tests"),
           ("deliver-to", "http://gone.test:9/hooks")]
    rc = Receiver(env, store, {"gh": src}, {"retry-schedule": "1h"}, name="receiver-gone")
    rc.proc = Proc(env, rc.name, [RECEIVER_BIN, "--config", rc.write_config()], extra_env={
        "LD_PRELOAD": FAKE_RESOLVER, "HW_FAKE_NAME": "gone.test", "HW_FAKE_ANSWER": "",
        "HW_FAKE_LOG": log})
    rc.wait_ready()

    def lookups():
        try:
            return os.path.getsize(log)
        except OSError:
            return 0

    def deliver_one(n):
        body = b'{"gone":%d}' % n
        resp = rc.post("gh", body, github_headers(body, "gone-%d" % n))
        check_eq(resp.status, 200, "acknowledged")
        eid = json.loads(resp.body)["id"]
        wait_until(lambda: attempt_errors(store, eid), 15, "an attempt is recorded")
        errors = attempt_errors(store, eid)
        check(len(errors) == 1 and re.fullmatch(r"cannot resolve gone\.test: .+", errors[0]),
              "the attempt fails naming the name and the reason", errors)

    t0 = time.monotonic()
    for n in range(4):
        deliver_one(n)
    took = time.monotonic() - t0
    if took < 5:
        check_eq(lookups(), 1, "the name was looked up once for the four attempts")
    else:
        check(lookups() < 4, "fewer lookups than attempts (the four took %.1f s)" % took,
              lookups())
    before = lookups()
    n = 4
    deadline = time.monotonic() + 15
    while lookups() == before:
        check(time.monotonic() < deadline, "a delivery after the 5 s looks the name up again",
              lookups())
        deliver_one(n)
        n += 1
    rc.stop()


def case_lease_handed_back(env):
    """An event that waits for a delivery slot until its lease would end before an attempt
    could is given back: a warning names it, _handed_back_total counts it, and it is claimed
    and sent again. The backend never answers; one slot, attempts of 1.5 s, leases of 2 s."""
    store = sqlite_store(env)
    heads = []

    def serve(conn):
        heads.append(read_head(conn))
        srv.stop.wait()

    with RawServer(serve) as srv:
        rc = Receiver(env, store, {"gh": gh_source(srv.port, concurrency=1)},
                      {"retry-schedule": "1h", "deliver-timeout": "1500ms", "lease": "2s"}).start()
        ids = []
        for n in range(2):
            body = b'{"slot":%d}' % n
            resp = rc.post("gh", body, github_headers(body, "slot-%d" % n))
            check_eq(resp.status, 200, "acknowledged")
            ids.append(json.loads(resp.body)["id"])
        wait_until(lambda: rc.metric("hookwire_receiver_handed_back_total") >= 1, 15,
                   "an event is given back")
        waited = [i for i in ids if "evt=%s source=gh waited for a delivery slot until its "
                  "lease would end before an attempt could: given back to be claimed again" % i
                  in rc.proc.stderr()]
        check(len(waited) == 1, "one warning names the event given back", rc.proc.stderr())
        wait_until(lambda: any(waited[0].encode() in h for h in heads), 15,
                   "the event given back is claimed and sent")


def case_claimed_bytes_capped(env):
    """Claimed events are held up to 64 MiB of headers and bodies per source, not as many as
    the window (8 times the concurrency) allows: with five events of 17 MB due and a backend
    that holds every delivery, four are claimed (the fourth passes 64 MiB) and the fifth waits
    in the store."""
    store = sqlite_store(env)

    def serve(conn):
        read_head(conn)
        srv.stop.wait()

    with RawServer(serve) as srv:
        rc = Receiver(env, store, {"gh": gh_source(srv.port, concurrency=1)},
                      {"deliver-timeout": "60s", "lease": "5m"}).start()
        for n in range(5):
            body = b'{"n":%d,"pad":"' % n + b"x" * (17 * 1000 * 1000) + b'"}'
            check_eq(rc.post("gh", body, github_headers(body, "big-%d" % n)).status, 200,
                     "event %d acknowledged" % n)
        wait_until(lambda: rc.metric("hookwire_receiver_claimed_total") >= 4, 30,
                   "four events are claimed")
        holds_for(lambda: rc.metric("hookwire_receiver_claimed_total") == 4, 1.0,
                  "and no fifth while they hold 64 MiB")


def attempt_errors(store, eid):
    return [e for (e,) in store_query(store, "SELECT error FROM hookwire_attempts WHERE "
                                      "event_id = '%s' ORDER BY n" % eid)]


def case_backend_lookup_stalls(env):
    """The backend's host name is looked up off the receiver's loop: while the resolver holds
    the lookup (a name server that does not answer), webhooks are still acknowledged and
    /healthz answers; the delivery fails at its connect timeout, saying the name did not
    resolve; once the resolver answers, the events are delivered to the address it gave."""
    store = sqlite_store(env)
    backend = env.target()
    gate = env.path("gai-gate")
    src = [("provider", "github"), ("secret", "gh-secret-for-tests"),
           ("deliver-to", "http://held.test:%d/hooks" % backend.port)]
    rc = Receiver(env, store, {"gh": src}, {"retry-schedule": "200ms 200ms 200ms 200ms 200ms",
                                            "deliver-timeout": "1s"})
    rc.proc = Proc(env, rc.name, [RECEIVER_BIN, "--config", rc.write_config()], extra_env={
        "LD_PRELOAD": FAKE_RESOLVER,
        "HW_FAKE_NAME": "held.test", "HW_FAKE_GATE": gate})
    rc.wait_ready()
    first = b'{"lookup":"held"}'
    resp = rc.post("gh", first, github_headers(first, "held-1"))
    check_eq(resp.status, 200, "acknowledged")
    eid = json.loads(resp.body)["id"]
    wait_until(lambda: os.path.exists(gate + ".entered"), 10, "the backend's name is looked up")
    second = b'{"lookup":"still held"}'
    resp = rc.post("gh", second, github_headers(second, "held-2"))
    check_eq(resp.status, 200, "a webhook is acknowledged while the lookup is held")
    check_eq(get(rc.port, "/healthz").status, 200, "and /healthz answers")
    wait_until(lambda: attempt_errors(store, eid), 10, "an attempt is recorded while held")
    check_eq(attempt_errors(store, eid)[0], "held.test did not resolve in time",
             "the attempt failed at its deadline, naming the name")
    check_eq(len(backend.requests), 0, "nothing was delivered while the name had no address")
    with open(gate + ".entered") as f:
        check_eq(len(f.read()), 1, "one lookup, however many attempts waited for it")
    with open(gate, "w"):
        pass
    backend.wait_requests(2, timeout=15)
    check_eq(sorted(r.body for r in backend.requests), sorted([first, second]),
             "once the resolver answers, both events are delivered")
    wait_until(lambda: event_count(store, "status = 2") == 2, 10, "and marked delivered")


if __name__ == "__main__":
    run([case_endpoints_are_read_only, case_drain_closes_kept_alive, case_ingest_deliver_dedup, case_leading_empty_lines, case_path_escapes, case_window_spills_to_claims,
         case_backend_down_follows_schedule,
         case_store_deleted, case_answer_timeout, case_backlog_metrics, case_retry_after_is_honoured, case_handshakes,
         case_limits_and_slow_client, case_held_bytes_capped, case_sigterm_under_load,
         case_sigterm_mid_body, case_stop_with_store_locked, case_fd_limit_fitted,
         case_2xx_head_is_the_verdict, case_error_head_then_stall, case_backend_name_unresolved,
         case_backend_lookup_stalls, case_backend_name_addresses, case_failed_name_not_asked_again,
         case_lease_handed_back,
         case_claimed_bytes_capped])
