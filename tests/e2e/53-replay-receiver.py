#!/usr/bin/env python3
"""hookwire-replay with a real hookwire-receiver, on SQLite and on MariaDB: while the backend
is down (answering 503) the receiver's deliveries exhaust a short retry schedule and the
events become failed; `list --status failed` shows exactly those (not the ones delivered
before the outage), `retry --failed --dry-run` counts them and changes nothing, and with the
backend back `retry --failed` gets every one delivered by the running receiver exactly once.

Needs HOOKWIRE_TEST_MYSQL_URL (scripts/test sets it) and a receiver that serves.
"""

import base64
import json
import re
import threading

from harness import (RECEIVER_BIN, LOCALHOST, Proc, Reply, check, check_eq, free_port, get,
                     holds_for, request, run, wait_until)
from hw_replay import replay, replay_ok, require_mysql, statuses, stores

PENDING, DELIVERED, FAILED = 1, 2, 3
SECRET = "whsec_" + base64.b64encode(b"replay-test-signing-key-32bytes!").decode()


class Backend:
    """The app behind the receiver: answers 503 while down, 200 while up, and counts the
    requests it answered 200 per Hookwire-Event-Id."""

    def __init__(self, env):
        self.up = True
        self.lock = threading.Lock()
        self.ok = {}
        self.target = env.target(self.handle)

    def handle(self, req):
        eid = req.header("Hookwire-Event-Id")
        with self.lock:
            if not self.up:
                return Reply(503, "Service Unavailable", [("Content-Type", "text/plain")],
                             b"down for maintenance")
            self.ok[eid] = self.ok.get(eid, 0) + 1
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")


def start_receiver(env, url, backend):
    port = free_port()
    cfg = env.path("receiver.ini")
    with open(cfg, "w") as f:
        f.write("[receiver]\nlisten = %s:%d\nstore = %s\nsigning-secret = %s\n"
                "retry-schedule = 100ms 100ms\ndeliver-timeout = 2s\n\n"
                "[source app]\nprovider = none\nallow-unverified = true\n"
                "deliver-to = http://%s:%d/hooks\n" % (LOCALHOST, port, url, SECRET, LOCALHOST,
                                                       backend.target.port))
    proc = Proc(env, "receiver-%d" % port, [RECEIVER_BIN, "--config", cfg])

    def ready():
        proc.check_alive("is running while starting")
        try:
            return get(port, "/healthz").status == 200
        except (OSError, EOFError):
            return False
    wait_until(ready, 10, "the receiver answers /healthz")
    return proc, port


def post(port, n, tag):
    ids = []
    for i in range(n):
        body = json.dumps({"tag": tag, "n": i}).encode()
        r = request(port, "POST", "/api/webhooks/app/push", [("Host", "hooks.example.test"),
                                                              ("Content-Type",
                                                               "application/json")], body)
        check_eq(r.status, 200, "the receiver stored webhook %s/%d" % (tag, i))
        ids.append(json.loads(r.body)["id"])
    return ids


def case_failed_then_replayed(env):
    for label, url in stores(env, "recv"):
        what = label + ": "
        backend = Backend(env)
        proc, port = start_receiver(env, url, backend)
        before = post(port, 2, "before")
        wait_until(lambda: set(statuses(url, before).values()) == {DELIVERED}, 30,
                   what + "the first events delivered")
        with backend.lock:
            backend.up = False
        down = post(port, 5, "down")
        wait_until(lambda: set(statuses(url, down).values()) == {FAILED}, 60,
                   what + "the events of the outage failed after their retries")
        log = proc.stderr()
        for eid in down:
            check(re.search(r"evt=%s source=app attempt 1: status 503, next in \d+ ms\n" % eid,
                            log), what + "the log names the status of a retried attempt",
                  log[-2000:])
            check(re.search(r"evt=%s source=app attempt \d+: status 503, attempts exhausted: "
                            r"failed\n" % eid, log),
                  what + "the log names the status of the last attempt", log[-2000:])
        out = replay_ok(env, url, "list", "--status", "failed")
        check_eq(sorted(l.split("\t")[0] for l in out.splitlines()), sorted(down),
                 what + "list --status failed shows exactly the outage's events")
        snapshot = statuses(url, before + down)
        out = replay_ok(env, url, "retry", "--failed", "--dry-run")
        check_eq(out.splitlines()[-1], "dry run: 5 failed events would be requeued; "
                 "nothing changed", what + "the dry run counts them")
        check_eq(statuses(url, before + down), snapshot, what + "the dry run changed nothing")
        with backend.lock:
            backend.up = True
        check_eq(replay_ok(env, url, "retry", "--failed"), "requeued 5 failed events\n",
                 what + "retry --failed")
        wait_until(lambda: set(statuses(url, down).values()) == {DELIVERED}, 30,
                   what + "the running receiver delivered every requeued event")
        holds_for(lambda: all(backend.ok.get(i) == 1 for i in before + down), 1.5,
                  what + "each event reached the backend exactly once")
        proc.stop()


def case_retry_while_delivering(env):
    """retry of an event the receiver is delivering right now (pending, its lease live) would
    cancel the lease and send it a second time alongside: it is refused with why (exit 1),
    and the event reaches the backend once; --force requeues it anyway. An id given twice is
    requeued once."""
    for label, url in stores(env, "busy"):
        what = label + ": "
        gate = threading.Event()
        seen = []

        def handler(req):
            seen.append(req.header("Hookwire-Event-Id"))
            gate.wait(30)
            return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")
        backend = type("B", (), {})()
        backend.target = env.target(handler)
        proc, port = start_receiver(env, url, backend)
        [eid] = post(port, 1, "busy")
        wait_until(lambda: seen == [eid], 10, what + "the delivery under way")
        r = replay(env, url, "retry", eid)
        err = r.stderr.decode(errors="replace")
        check_eq(r.returncode, 1, what + "retry while it is delivered: exit 1 (%r)" % err)
        check("%s is being delivered now" % eid in err and "--force" in err,
              what + "says it is being delivered, and --force", err)
        gate.set()
        wait_until(lambda: statuses(url, [eid])[eid] == DELIVERED, 10, what + "delivered")
        check_eq(seen, [eid], what + "sent once")
        check_eq(replay_ok(env, url, "retry", eid, eid, "--force"), "requeued %s\n" % eid,
                 what + "an id given twice is requeued once")
        wait_until(lambda: seen == [eid, eid], 10, what + "the forced retry is delivered")
        proc.stop()


if __name__ == "__main__":
    require_mysql()
    run([case_failed_then_replayed, case_retry_while_delivering])
