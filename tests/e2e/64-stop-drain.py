#!/usr/bin/env python3
"""A clean stop (SIGTERM) drains: answers already started are written whole, and the health
endpoints tell a load balancer to stop sending.

Relay: an app answers 24 MiB to a sender that reads nothing until the relay has begun to
stop; the relay goes on writing that answer while the sender reads, and exits 0 only after
the last byte left (the sender gets every byte, in order). SIGTERM under a load of webhooks
queued for an absent agent: every event the relay committed was answered 202 to its sender
(the stop once ended with commits in flight, and closed their connections unanswered).
While an exchange keeps the relay
stopping, /healthz answers 503 on the public and the tunnel port, and a new webhook
503 HW_SHUTTING_DOWN. Receiver: while a delivery
in flight keeps it draining, /healthz and /readyz answer 503, a new webhook 503 HW_SHUTTING_DOWN; SIGTERM under a load of
webhooks: every event the receiver committed was answered 200 to its sender (the drain once
ended as the last commit was answered, before the answers were written, and those senders
saw their connection close instead). SIGHUP does not stop the receiver.
"""

import hashlib
import json
import signal
import socket
import sqlite3
import threading

from harness import (LOCALHOST, HttpConn, Reply, build_request, check, check_eq, check_error, get,
                     run, token_add, wait_until)
from hw_receiver import Load, Receiver, github_headers, store_query

HOST = ("Host", "hooks.example.test")
BIG = 24 << 20


def pattern(n):
    block = bytes(range(256)) * 4096
    return (block * (n // len(block) + 1))[:n]


def read_answer(sock, timeout):
    """Reads an answer with a Content-Length to its end; returns (head bytes, body bytes)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    check(length is not None, "the answer has a Content-Length", head)
    parts = [body]
    got = len(body)
    while got < length:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return head, b"".join(parts)


def case_relay_finishes_answers(env):
    """SIGTERM while a big answer waits for its sender to read: it still arrives whole."""
    big = pattern(BIG)

    def handle(req):
        return Reply(200, "OK", [("Content-Type", "application/octet-stream")], big)

    relay, target, agent = env.stack(handler=handle, relay_args=["--response-timeout", "20s"])
    target.ignore_errors = True
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.connect((LOCALHOST, relay.port))
    try:
        s.sendall(build_request("POST", "/t/alice/big", [HOST], b"{}"))
        wait_until(lambda: len(target.requests) == 1, 10, "the app got the webhook")
        relay.proc.signal(signal.SIGTERM)
        wait_until(lambda: "shutting down" in relay.proc.stderr(), 10,
                   "the relay begins its stop")
        head, body = read_answer(s, 20)
        check(head.startswith(b"HTTP/1.1 200 "), "the answer's status", head[:200])
        check(body is not None and len(body) == BIG, "every byte of the answer arrived",
              "%s of %d bytes" % (None if body is None else len(body), BIG))
        check_eq(hashlib.sha256(body).hexdigest(), hashlib.sha256(big).hexdigest(),
                 "the answer byte-exact")
    finally:
        s.close()
    check_eq(relay.proc.wait_exit(30), 0, "the relay exits 0 once the answer is out")


def case_relay_answers_what_it_queues(env):
    """SIGTERM while 8 senders post to a channel whose agent is away, three times: each event
    the relay committed to its queue was answered 202."""
    for rnd in range(3):
        store = env.path("relay-%d.db" % rnd)
        token_add(env, store, "alice")
        relay = env.relay(store=store, name="relay-%d" % rnd)
        acked, lock, stop = set(), threading.Lock(), threading.Event()

        def sender(k):
            i = 0
            while not stop.is_set():
                try:
                    with HttpConn(relay.port, timeout=10) as c:
                        body = b'{"k":%d,"i":%d}' % (k, i)
                        c.send(build_request("POST", "/t/alice/q", [HOST], body))
                        r = c.read_response("POST")
                    if r.status == 202:
                        with lock:
                            acked.add(json.loads(r.body)["id"])
                except (OSError, EOFError):
                    if not relay.proc.alive():
                        return
                i += 1

        threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(8)]
        for t in threads:
            t.start()
        wait_until(lambda: len(acked) >= 200, 30, "200 webhooks queued")
        relay.proc.signal(signal.SIGTERM)
        check_eq(relay.proc.wait_exit(30), 0, "the relay exits 0")
        stop.set()
        for t in threads:
            t.join(30)
        stored = {row[0] for row in store_query("sqlite:" + store,
                                                "SELECT id FROM hookwire_events")}
        check(not (acked - stored), "every event answered 202 is stored", len(acked - stored))
        check(not (stored - acked), "round %d: every stored event was answered 202" % (rnd + 1),
              "%d of %d were not" % (len(stored - acked), len(stored)))


def case_relay_healthz_while_stopping(env):
    """An exchange in flight keeps the relay stopping: both /healthz answer 503 meanwhile."""
    release = threading.Event()

    def handle(req):
        release.wait(30)
        return Reply(200, "OK", [], b"late but fine")

    relay, target, agent = env.stack(handler=handle, relay_args=["--response-timeout", "20s"])
    check_eq(get(relay.port, "/healthz").status, 200, "public /healthz while serving")
    check_eq(get(relay.tunnel_port, "/healthz").status, 200, "tunnel /healthz while serving")
    answers = []
    t = threading.Thread(target=lambda: answers.append(
        relay.webhook("POST", "/t/alice/held", [HOST], b"{}")))
    t.start()
    try:
        wait_until(lambda: len(target.requests) == 1, 10, "the app holds the webhook")
        relay.proc.signal(signal.SIGTERM)
        wait_until(lambda: "waiting up to" in relay.proc.stderr(), 10,
                   "the relay waits for the exchange in flight")
        for port, what in ((relay.port, "public"), (relay.tunnel_port, "tunnel")):
            r = get(port, "/healthz")
            check_eq(r.status, 503, what + " /healthz while the relay stops")
            check(r.header("Retry-After") is not None, what + " /healthz 503 has Retry-After")
        r = relay.webhook("POST", "/t/alice/late", [HOST], b"{}")
        check_error(r, 503, "HW_SHUTTING_DOWN", "a webhook while the relay stops")
        check_eq(r.header("Retry-After"), "5", "its Retry-After")
        check_eq(len(target.requests), 1, "the app never saw it")
        wait_until(lambda: "/t/alice/late -> 503 HW_SHUTTING_DOWN" in relay.proc.stderr(), 10,
                   "the relay logs the refusal")
    finally:
        release.set()
        t.join(30)
    check(answers and answers[0].status == 200 and answers[0].body == b"late but fine",
          "the held webhook still gets the app's answer", answers and answers[0].status)
    check_eq(relay.proc.wait_exit(30), 0, "the relay exits 0")


def case_receiver_health_while_draining(env):
    """A delivery in flight keeps the receiver draining: /healthz and /readyz answer 503."""
    release = threading.Event()

    def handle(req):
        release.wait(30)
        return Reply(200, "OK", [], b"ok")

    backend = env.target(handle)
    backend.ignore_errors = True
    rc = Receiver(env, "sqlite:" + env.path("receiver.db"), {"gh": [
        ("provider", "github"), ("secret", "gh-secret-for-tests"),
        ("deliver-to", "http://127.0.0.1:%d/hooks" % backend.port)]}).start()
    try:
        check_eq(get(rc.port, "/healthz").status, 200, "/healthz while serving")
        wait_until(lambda: get(rc.port, "/readyz").status == 200, 10, "/readyz while serving")
        body = b'{"n":1}'
        check_eq(rc.post("gh", body, github_headers(body, "d-1")).status, 200, "acknowledged")
        wait_until(lambda: len(backend.requests) == 1, 10, "the delivery is in flight")
        rc.proc.signal(signal.SIGTERM)
        wait_until(lambda: "shutting down" in rc.proc.stderr(), 10, "the receiver drains")
        for path in ("/healthz", "/readyz"):
            r = get(rc.port, path)
            check_eq(r.status, 503, path + " while the receiver drains")
            check(r.header("Retry-After") is not None, path + " 503 has Retry-After")
        late = b'{"n":2}'
        r = rc.post("gh", late, github_headers(late, "d-2"))
        check_error(r, 503, "HW_SHUTTING_DOWN", "a webhook while the receiver drains")
        check(r.header("Retry-After") is not None, "its Retry-After")
    finally:
        release.set()
    check_eq(rc.proc.wait_exit(30), 0, "the receiver exits 0")


def case_receiver_answers_what_it_commits(env):
    """SIGTERM under load, three times: no committed event goes unanswered."""
    for rnd in range(3):
        store = "sqlite:" + env.path("receiver-%d.db" % rnd)
        backend = env.target()
        rc = Receiver(env, store, {"gh": [
            ("provider", "github"), ("secret", "gh-secret-for-tests"),
            ("deliver-to", "http://127.0.0.1:%d/hooks" % backend.port)]},
            name="receiver-%d" % rnd).start()
        load = Load(rc.port, "gh", 100000, conns=8).start()
        wait_until(lambda: len(load.acked) >= 200, 30, "200 acknowledged")
        rc.proc.signal(signal.SIGTERM)
        check_eq(rc.proc.wait_exit(15), 0, "the receiver exits 0")
        load.stop = True
        load.join(60)
        acked = set(load.acked.values())
        stored = {row[0] for row in store_query(store, "SELECT id FROM hookwire_events")}
        check(not (acked - stored), "every acknowledged event is stored", len(acked - stored))
        check(not (stored - acked), "round %d: every stored event was answered 200" % (rnd + 1),
              "%d of %d were not" % (len(stored - acked), len(stored)))


def case_receiver_sighup_runs_on(env):
    """SIGHUP (systemctl reload, a log rotation) does not end the receiver: it says that a
    change takes a restart, and goes on taking webhooks."""
    backend = env.target()
    rc = Receiver(env, "sqlite:" + env.path("receiver.db"), {"gh": [
        ("provider", "github"), ("secret", "gh-secret-for-tests"),
        ("deliver-to", "http://127.0.0.1:%d/hooks" % backend.port)]}).start()
    rc.proc.signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP: the receiver does not reload its configuration (restart it to "
               "apply a change); running on" in rc.proc.stderr(), 10, "the SIGHUP line")
    rc.proc.check_alive("after SIGHUP")
    body = b'{"n":1}'
    check_eq(rc.post("gh", body, github_headers(body, "h-1")).status, 200, "acknowledged after")
    wait_until(lambda: len(backend.requests) == 1, 10, "and delivered")
    rc.proc.stop()


def case_receiver_answers_when_the_store_does_not(env):
    """SIGTERM while the store cannot take a commit (SQLite locked by another process): when
    the drain is over, the sender still waiting gets 503 HW_STORE_UNAVAILABLE, with a log
    line naming its event, rather than a connection closed unanswered at exit."""
    path = env.path("locked.db")
    backend = env.target()
    rc = Receiver(env, "sqlite:" + path, {"gh": [
        ("provider", "github"), ("secret", "gh-secret-for-tests"),
        ("deliver-to", "http://127.0.0.1:%d/hooks" % backend.port)]}).start()
    body = b'{"n":0}'
    check_eq(rc.post("gh", body, github_headers(body, "l-0")).status, 200, "stored before")
    lock = sqlite3.connect(path, isolation_level=None, timeout=30)
    answers = []

    def post():
        b = b'{"n":1}'
        with HttpConn(rc.port, timeout=60) as c:
            answers.append(c.request("POST", "/api/webhooks/gh", github_headers(b, "l-1"), b))
    sender = threading.Thread(target=post)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        sender.start()
        wait_until(lambda: rc.metric("hookwire_receiver_received_total") == 2, 10,
                   "the webhook to be appended")
        rc.proc.signal(signal.SIGTERM)
        sender.join(30)
        check(answers, "the sender got an answer before the lock was gone")
        check_error(answers[0], 503, "HW_STORE_UNAVAILABLE", "the waiting sender")
        check("at the end of the stop's drain" in rc.proc.stderr() or
              "by the end of the stop's drain" in rc.proc.stderr(),
              "the log says what became of its event", rc.proc.stderr()[-1500:])
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    rc.proc.wait_exit(60)


run([case_relay_finishes_answers, case_relay_answers_what_it_queues,
     case_relay_healthz_while_stopping,
     case_receiver_health_while_draining, case_receiver_answers_what_it_commits,
     case_receiver_sighup_runs_on, case_receiver_answers_when_the_store_does_not])
