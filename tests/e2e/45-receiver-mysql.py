#!/usr/bin/env python3
"""hookwire-receiver on MariaDB, end to end with the real binaries.

SIGKILL in the middle of a 2,000-request load: every request answered 2xx is in
the store, and after a restart each is delivered. Two receivers sharing one
database deliver 1,000 events exactly once each; with one of them killed mid-run
the other still delivers them all (after the dead one's leases). With the
test's own MariaDB stopped, webhooks get 503 and never 2xx, /readyz says so;
once it is back the same receiver acknowledges and delivers again. With the database frozen
(SIGSTOP), /readyz says 503 within 5 s of its last passing check. Stopped while the
database is frozen, it refuses new connections at once rather than leaving them unanswered.

Needs HOOKWIRE_TEST_MYSQL_URL (scripts/test sets it); fails without it unless
HOOKWIRE_TEST_NO_MYSQL=1, so CI cannot skip it silently.
"""

import collections
import json
import os
import signal
import socket
import threading

from hw_receiver import (Load, Receiver, event_count, event_ids, fresh_database, github_headers,
                         mariadb)
from harness import LOCALHOST, Reply, check, check_eq, get, holds_for, run, wait_until
from hw_mysql import own_mariadb, require_url

URL = os.environ.get("HOOKWIRE_TEST_MYSQL_URL")


class Backend:
    """A target that counts deliveries by Hookwire-Event-Id."""

    def __init__(self, env):
        self.lock = threading.Lock()
        self.seen = collections.Counter()
        self.target = env.target(self.handle)

    def handle(self, req):
        with self.lock:
            self.seen[req.header("Hookwire-Event-Id")] += 1
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")

    def ids(self):
        with self.lock:
            return set(self.seen)

    def counts(self):
        with self.lock:
            return dict(self.seen)


def source(backend, concurrency=16):
    return {"gh": [("provider", "github"), ("secret", "gh-secret-for-tests"),
                   ("deliver-to", "http://127.0.0.1:%d/in" % backend.target.port),
                   ("concurrency", str(concurrency))]}


OPTS = {"deliver-timeout": "1s", "lease": "3s", "retry-schedule": "200ms 400ms 800ms 1s 1s"}


def case_sigkill_mid_load(env):
    store = fresh_database(URL, "hookwire_test_recv_kill_%d" % os.getpid())
    backend = Backend(env)
    rc = Receiver(env, store, source(backend), OPTS).start()
    load = Load(rc.port, "gh", 2000, conns=16).start()
    wait_until(lambda: len(load.acked) >= 600, 60, "600 acknowledged")
    rc.kill()
    load.join(120)
    acked = set(load.acked.values())
    print("      %d acknowledged before SIGKILL, %d refused or cut" %
          (len(acked), load.sent() - len(acked)))
    check(not (acked - event_ids(store)), "every acknowledged event is in the store",
          sorted(acked - event_ids(store))[:5])
    rc2 = Receiver(env, store, source(backend), OPTS, name="receiver2").start()
    wait_until(lambda: acked <= backend.ids(), 60, "after a restart every one is delivered")
    wait_until(lambda: event_count(store, "status <> 2") == 0, 30,
               "and recorded as delivered")
    rc2.stop()


def case_two_receivers_exactly_once(env):
    store = fresh_database(URL, "hookwire_test_recv_two_%d" % os.getpid())
    backend = Backend(env)
    a = Receiver(env, store, source(backend), OPTS, name="recv-a").start()
    b = Receiver(env, store, source(backend), OPTS, name="recv-b").start()
    la = Load(a.port, "gh", 500, conns=8)
    lb = Load(b.port, "gh", 500, conns=8)
    lb.next = 500  # delivery ids load-501..load-1000
    lb.total = 1000
    la.start()
    lb.start()
    la.join(120)
    lb.join(120)
    acked = set(la.acked.values()) | set(lb.acked.values())
    check_eq(len(acked), 1000, "1,000 events acknowledged")
    wait_until(lambda: acked <= backend.ids(), 60, "all delivered")
    wait_until(lambda: event_count(store, "status = 2") == 1000, 30, "all recorded delivered")
    counts = backend.counts()
    check_eq([k for k, v in counts.items() if v != 1], [], "each delivered exactly once")
    da = a.metric("hookwire_receiver_delivered_total")
    db = b.metric("hookwire_receiver_delivered_total")
    print("      delivered by a: %d, by b: %d" % (da, db))
    check_eq(da + db, 1000, "the two receivers' deliveries add up")

    # One killed mid-run: the survivor delivers the rest, the dead one's leased events too.
    backend.seen.clear()
    la = Load(a.port, "gh", 1500, conns=8)
    la.next = 1000
    lb = Load(b.port, "gh", 2000, conns=8)
    lb.next = 1500
    la.start()
    lb.start()
    wait_until(lambda: len(la.acked) >= 200, 60, "a acknowledged 200")
    a.kill()
    la.join(120)
    lb.join(120)
    acked = set(la.acked.values()) | set(lb.acked.values())
    print("      %d acknowledged in the second run" % len(acked))
    wait_until(lambda: acked <= backend.ids(), 60, "every acknowledged event delivered by b")
    wait_until(lambda: event_count(store, "status <> 2") == 0, 30, "none left pending")


def case_database_down(env):
    datadir = env.path("mariadb")
    os.makedirs(datadir)
    own = mariadb("start", datadir)
    try:
        store = own["HOOKWIRE_TEST_MYSQL_URL"] + "?timeout=2"
        backend = Backend(env)
        rc = Receiver(env, store, source(backend), OPTS).start()
        body = b'{"before":1}'
        resp = rc.post("gh", body, github_headers(body, "before"))
        check_eq(resp.status, 200, "acknowledged with the database up")
        wait_until(lambda: get(rc.port, "/readyz").status == 200, 10, "ready")
        mariadb("stop", datadir)
        statuses = collections.Counter()
        for n in range(20):
            body = b'{"down":%d}' % n
            resp = rc.post("gh", body, github_headers(body, "down-%d" % n))
            statuses[resp.status] += 1
            if resp.status == 503:
                ra = resp.header("Retry-After") or ""
                check(ra.isdigit() and int(ra) > 0, "the 503 carries Retry-After", ra)
                check_eq(resp.header("Hookwire-Error"), "HW_STORE_UNAVAILABLE", "its code")
        check_eq(dict(statuses), {503: 20}, "503 and no 2xx while the database is down")
        check("source=gh append failed: service unavailable: not stored (the sender gets 503 "
              "and retries)" in rc.proc.stderr(), "the log says a refused append was not stored",
              rc.proc.stderr()[-2000:])
        wait_until(lambda: get(rc.port, "/readyz").status == 503, 10, "/readyz says 503")
        rc.proc.check_alive("survives the database going away")
        mariadb("start", datadir)

        def acked():
            body = b'{"after":1}'
            r = rc.post("gh", body, github_headers(body, "after"))
            return r.status == 200 and json.loads(r.body)["id"]
        after = wait_until(acked, 60, "acknowledged again once the database is back")
        wait_until(lambda: get(rc.port, "/readyz").status == 200, 10, "ready again")
        wait_until(lambda: after in backend.ids(), 30, "and delivered, without a restart")
        check_eq(event_count(store), 2, "nothing refused was stored")
        rc.stop()
    finally:
        mariadb("stop", datadir)


def case_writers_after_restart(env):
    """mariadbd killed and started again while the receiver runs (two store writers, the
    default): once the database answers again, a burst of webhooks is acknowledged whole,
    not 503 for those whose batch went to a writer other than the one that found the
    database back."""
    with own_mariadb(env, "mariadb-restart") as db:
        backend = Backend(env)
        rc = Receiver(env, db.url + "?timeout=2", source(backend), OPTS).start()
        wait_until(lambda: get(rc.port, "/readyz").status == 200, 10, "ready")
        body = b'{"before":1}'
        check_eq(rc.post("gh", body, github_headers(body, "before")).status, 200, "stored")
        os.kill(db.pid, signal.SIGKILL)
        for n in range(4):
            body = b'{"down":%d}' % n
            check_eq(rc.post("gh", body, github_headers(body, "down-%d" % n)).status, 503,
                     "503 while the database is away (%d)" % n)
        wait_until(lambda: not os.path.exists("/proc/%d" % db.pid), 30, "mariadbd gone")
        wait_until(lambda: get(rc.port, "/readyz").status == 503, 10, "/readyz says 503")
        db.pid = int(mariadb("start", env.path("mariadb-restart"))["HOOKWIRE_TEST_MYSQL_PID"])
        wait_until(lambda: "MySQL reachable again" in rc.proc.stderr() and
                   get(rc.port, "/readyz").status == 200, 30, "ready again")
        for burst in range(3):
            answers = []

            def post(n):
                body = b'{"burst":%d,"n":%d}' % (burst, n)
                answers.append(rc.post("gh", body, github_headers(body, "b%d-%d" % (burst, n))))
            threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            check_eq(sorted(a.status for a in answers), [200] * 8,
                     "burst %d after the restart: every webhook acknowledged" % burst)
        rc.stop()


def case_readyz_frozen_database(env):
    """A database that stops answering (SIGSTOP) holds the receiver's next check until its
    timeout (10 s here, tried three times by the client library); /readyz says 503 within 5 s
    of the last check that passed, so a load balancer takes the receiver out, and 200 again
    once the database answers."""
    with own_mariadb(env, "mariadb-ready") as db:
        backend = Backend(env)
        rc = Receiver(env, db.url + "?timeout=10", source(backend), OPTS).start()
        wait_until(lambda: get(rc.port, "/readyz").status == 200, 10, "ready")
        db.freeze()
        wait_until(lambda: get(rc.port, "/readyz").status == 503, 8,
                   "/readyz says 503 while the database is frozen")
        check("hookwire_receiver_ready 0" in get(rc.port, "/metrics").body.decode(),
              "/metrics says not ready", "")
        db.thaw()
        wait_until(lambda: get(rc.port, "/readyz").status == 200, 60, "ready again")
        rc.stop()


def case_stop_with_frozen_database(env):
    """SIGTERM while the database is frozen (SIGSTOP) and a delivery is in flight: once the
    drain is over the receiver stops listening, so a new connection is refused at once (a
    proxy tries another upstream) instead of being accepted and left unanswered while the
    store waits for the database; the receiver exits 0 once the database answers."""
    release = threading.Event()

    def hold(req):
        release.wait(60)
        return Reply(200, "OK", [], b"ok")

    with own_mariadb(env, "mariadb-frozen") as db:
        try:
            backend = env.target(hold)
            backend.ignore_errors = True
            rc = Receiver(env, db.url + "?timeout=10", {"gh": [
                ("provider", "github"), ("secret", "gh-secret-for-tests"),
                ("deliver-to", "http://127.0.0.1:%d/in" % backend.port)]}).start()
            wait_until(lambda: get(rc.port, "/readyz").status == 200, 10, "ready")
            body = b'{"frozen":1}'
            check_eq(rc.post("gh", body, github_headers(body, "frozen-1")).status, 200,
                     "acknowledged")
            wait_until(lambda: len(backend.requests) == 1, 10, "its delivery is in flight")
            db.freeze()
            rc.proc.signal(signal.SIGTERM)
            wait_until(lambda: "stopped listening on" in rc.proc.stderr(), 30,
                       "the drain ends and the receiver stops listening")
            try:
                socket.create_connection((LOCALHOST, rc.port), timeout=5).close()
                refused = False
            except ConnectionRefusedError:
                refused = True
            check(refused, "a new connection is refused at once")
            rc.proc.check_alive("still closing its store against the frozen database")
            db.thaw()
            check_eq(rc.proc.wait_exit(60), 0, "it exits 0 once the database answers")
        finally:
            release.set()

if __name__ == "__main__":
    require_url()
    run([case_sigkill_mid_load, case_two_receivers_exactly_once, case_database_down,
         case_writers_after_restart, case_readyz_frozen_database, case_stop_with_frozen_database])
