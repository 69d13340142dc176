#!/usr/bin/env python3
"""A receiver that stops (SIGTERM) gives back the leases of the events it did not send, so that
the next start delivers them at once instead of after the lease.

With `lease = 30m`, `concurrency = 2` and a backend that holds every delivery, 40 acknowledged
events wait in the receiver's memory (leased at their append): 2 in flight, 38 queued. SIGTERM:
the receiver exits 0 and logs that it released all 40 leases. In the store, every event is
pending, unleased and due, with no attempt counted (the two cut in flight included). A second
receiver on the same store, the backend now answering at once, delivers all 40 within 60 s (far
below the 30-minute lease the events would otherwise wait out), each once in that run, and each
is recorded delivered with `attempts = 1`.

On SQLite, and on MariaDB from HOOKWIRE_TEST_MYSQL_URL (a fresh database); without that URL the
test fails unless HOOKWIRE_TEST_NO_MYSQL=1.
"""

import collections
import json
import os
import signal
import sys
import threading
import time

from harness import Reply, check, check_eq, run, wait_until
from hw_receiver import Receiver, event_count, fresh_database, github_headers

MYSQL_URL = os.environ.get("HOOKWIRE_TEST_MYSQL_URL")
EVENTS = 40
CONCURRENCY = 2


class HeldBackend:
    """A target that holds every delivery until opened, then answers 200 at once; counts the
    deliveries of each run by Hookwire-Event-Id."""

    def __init__(self, env):
        self.lock = threading.Lock()
        self.opened = threading.Event()
        self.run = 1
        self.seen = {1: collections.Counter(), 2: collections.Counter()}
        self.target = env.target(self.handle)
        # The held deliveries' connections are cut by the receiver's stop.
        self.target.ignore_errors = True

    def handle(self, req):
        with self.lock:
            self.seen[self.run][req.header("Hookwire-Event-Id")] += 1
        self.opened.wait(60)
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")

    def count(self, run):
        with self.lock:
            return dict(self.seen[run])


def released_on_stop(env, store):
    backend = HeldBackend(env)
    src = {"gh": [("provider", "github"), ("secret", "gh-secret-for-tests"),
                  ("deliver-to", "http://127.0.0.1:%d/in" % backend.target.port),
                  ("concurrency", str(CONCURRENCY))]}
    opts = {"lease": "30m"}
    rc = Receiver(env, store, src, opts).start()
    acked = set()
    for n in range(EVENTS):
        body = b'{"n":%d}' % n
        resp = rc.post("gh", body, github_headers(body, "release-%d" % n))
        check_eq(resp.status, 200, "event %d acknowledged" % n)
        acked.add(json.loads(resp.body)["id"])
    check_eq(len(acked), EVENTS, "distinct event ids")
    wait_until(lambda: sum(backend.count(1).values()) == CONCURRENCY, 10,
               "the backend holds %d deliveries" % CONCURRENCY)

    rc.proc.signal(signal.SIGTERM)
    check_eq(rc.proc.wait_exit(20), 0, "the receiver exits 0")
    backend.opened.set()
    check("leases of events not sent, given back at the stop: %d released, 0 no longer this "
          "receiver's, 0 not (they lapse)" % EVENTS in rc.proc.stderr(),
          "the receiver logs the leases it released", rc.proc.stderr()[-2000:])
    check_eq(sum(backend.count(1).values()), CONCURRENCY, "nothing else was sent in the first run")

    now_ms = int(time.time() * 1000)
    check_eq(event_count(store), EVENTS, "every event stored")
    check_eq(event_count(store, "status = 1"), EVENTS, "every event still pending")
    check_eq(event_count(store, "COALESCE(lease_until, 0) <> 0"), 0, "no event leased")
    check_eq(event_count(store, "next_attempt_ms > %d" % now_ms), 0, "every event due")
    check_eq(event_count(store, "attempts <> 0"), 0, "no attempt counted")

    with backend.lock:
        backend.run = 2
    rc2 = Receiver(env, store, src, opts, name="receiver2").start()
    wait_until(lambda: acked <= set(backend.count(2)), 60,
               "the next start delivers every event, long before the lease")
    wait_until(lambda: event_count(store, "status = 2") == EVENTS, 30,
               "every event recorded delivered")
    counts = backend.count(2)
    check_eq(sorted(k for k, v in counts.items() if v != 1), [], "each delivered once")
    check_eq(set(counts), acked, "only the acknowledged events were delivered")
    check_eq(event_count(store, "attempts <> 1"), 0, "one attempt each")
    rc2.stop()


def case_sqlite(env):
    released_on_stop(env, "sqlite:" + env.path("receiver.db"))


def case_mariadb(env):
    released_on_stop(env, fresh_database(MYSQL_URL, "hookwire_test_release_%d" % os.getpid()))


if __name__ == "__main__":
    cases = [case_sqlite]
    if MYSQL_URL:
        cases.append(case_mariadb)
    elif os.environ.get("HOOKWIRE_TEST_NO_MYSQL") == "1":
        print("MariaDB case NOT run: HOOKWIRE_TEST_NO_MYSQL=1")
    else:
        print("HOOKWIRE_TEST_MYSQL_URL is not set (scripts/mariadb start DIR prints it); "
              "set HOOKWIRE_TEST_NO_MYSQL=1 to run on SQLite only")
        sys.exit(1)
    run(cases)
