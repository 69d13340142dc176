#!/usr/bin/env python3
"""The offline queue (--offline queue, the default), on SQLite and on MariaDB.

With no agent connected every webhook is committed to the store and answered 202 with
its event id; when the agent connects they reach the app in arrival order, byte-exact,
each once, with the id from the 202 as Hookwire-Event-Id; afterwards live passthrough
resumes. Queued events survive a relay SIGKILL. Past --max-queued the relay answers
429 HW_QUEUE_FULL and keeps what is queued. An app that answers 500 for a queued event
gets it again (same id, Hookwire-Attempt 2, 3), then the event is failed and the queue
moves on; one that never answers, or stops mid-answer, is cut at --response-timeout and
tried again in place. A SQLite store deleted under the relay gets 503, never 202; one that stays locked
past --response-timeout gets 503 HW_STORE_UNAVAILABLE, and the webhook is either withdrawn
before it is written or, when its commit had begun, queued under the id the log named. Needs
HOOKWIRE_TEST_MYSQL_URL (or HOOKWIRE_TEST_NO_MYSQL=1).
"""

import os
import re
import shutil
import sqlite3
import threading

from harness import Reply, check, check_eq, check_error, run, token_add, wait_until
from offline_util import (HOST, body_of, check_in_order_once, queue_one, received, stack,
                          stores)


def live_resumes(relay, target, what):
    """Once the queue is empty a webhook is passed through live: the app's own 200."""
    wait_until(lambda: "channel=alice queue drained" in relay.proc.stderr(), 10,
               what + ": the relay reports the queue drained")
    before = target.count()
    resp = relay.webhook("POST", "/t/alice/live", [HOST, ("X-Seq", "live")], b"live")
    check_eq(resp.status, 200, what + ": live passthrough resumes after the drain")
    check_eq(resp.body, b"ok", what + ": the app's own answer")
    check_eq(target.count(), before + 1, what + ": the app saw the live webhook")


def case_hundred_while_stopped(env):
    for kind, store in stores(env):
        relay, target, agent = stack(env, store)
        ids = [queue_one(relay, i, size=1024) for i in range(100)]
        check_eq(len(set(ids)), 100, kind + ": 100 distinct event ids")
        check_eq(target.count(), 0, kind + ": nothing reached the app while no agent ran")
        check_eq(relay.metric("hookwire_relay_queued_total"), 100.0, kind + ": queued_total")
        check_eq(relay.metric("hookwire_relay_queue_depth"), 100.0, kind + ": queue_depth")
        agent.start()
        target.wait_requests(100, timeout=30)
        check_in_order_once(target, ids, size=1024, what=kind)
        live_resumes(relay, target, kind)
        check_eq(relay.metric("hookwire_relay_drained_total"), 100.0, kind + ": drained_total")
        check_eq(relay.metric("hookwire_relay_queue_depth"), 0.0, kind + ": queue_depth after")
        agent.stop()
        relay.stop()


def case_relay_sigkill(env):
    for kind, store in stores(env):
        relay, target, agent = stack(env, store)
        ids = [queue_one(relay, i) for i in range(30)]
        relay.proc.kill()
        relay.fixed_ports = True
        relay.start()
        check("30 queued events waiting" in relay.proc.stderr(),
              kind + ": the restarted relay found the queue", relay.proc.stderr()[-500:])
        agent.start()
        target.wait_requests(30, timeout=30)
        check_in_order_once(target, ids, what=kind + " after SIGKILL")
        live_resumes(relay, target, kind + " after SIGKILL")
        agent.stop()
        relay.stop()


def case_queue_full(env):
    for kind, store in stores(env):
        relay, target, agent = stack(env, store, relay_args=["--max-queued", "5"])
        ids = [queue_one(relay, i) for i in range(5)]
        for _ in range(2):
            check_error(relay.webhook("POST", "/t/alice/hook", [HOST, ("X-Seq", "99")], b"x"),
                        429, "HW_QUEUE_FULL", kind + ": past --max-queued")
        agent.start()
        target.wait_requests(5, timeout=30)
        check_in_order_once(target, ids, what=kind + " after the 429s")
        live_resumes(relay, target, kind)
        agent.stop()
        relay.stop()


def case_app_fails(env):
    def handler(req):
        if req.header("X-Seq") == "1":
            return Reply(500, "Internal Server Error", [("Content-Type", "text/plain")], b"boom")
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")

    for kind, store in stores(env):
        relay, target, agent = stack(env, store, handler=handler,
                                     relay_args=["--queue-retries", "3", "--queue-backoff",
                                                 "100ms"])
        ids = [queue_one(relay, i) for i in range(3)]
        agent.start()
        target.wait_requests(5, timeout=30)
        got = received(target)
        check_eq([(g[0], g[2]) for g in got], [(0, "1"), (1, "1"), (1, "2"), (1, "3"), (2, "1")],
                 kind + ": event 1 tried three times, in place, then the queue moves on")
        check_eq([g[1] for g in got], [ids[0], ids[1], ids[1], ids[1], ids[2]],
                 kind + ": the same event id on every attempt")
        check(all(g[3] == body_of(g[0]) for g in got), kind + ": every attempt byte-exact")
        wait_until(lambda: "failed after 3 attempts" in relay.proc.stderr(), 10,
                   kind + ": the relay logs the failed event")
        live_resumes(relay, target, kind)
        agent.stop()
        relay.stop()


def case_app_stalls(env):
    """A queued event whose answer never comes is cut at --response-timeout, and one whose
    body does not end within as long again after its head (here trickled a byte every 0.3 s,
    never still for the timeout): a failed attempt, retried after the backoff, and the queue
    moves on."""
    gate = threading.Event()

    def handler(req):
        first = req.header("Hookwire-Attempt") == "1"
        if req.header("X-Seq") == "1" and first:
            # The head and part of the body, then a byte at a time.
            return Reply(200, "OK", [], b"x" * 100, action="trickle", partial=60, release=gate)
        if req.header("X-Seq") == "2" and first:
            return Reply(200, "OK", [], b"ok", action="stall", partial=0, release=gate)
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")

    try:
        for kind, store in stores(env):
            relay, target, agent = stack(env, store, handler=handler,
                                         relay_args=["--response-timeout", "1s",
                                                     "--queue-backoff", "100ms"])
            ids = [queue_one(relay, i) for i in range(3)]
            agent.start()
            target.wait_requests(5, timeout=30)
            got = received(target)
            check_eq([(g[0], g[2]) for g in got], [(0, "1"), (1, "1"), (1, "2"), (2, "1"),
                                                   (2, "2")],
                     kind + ": each stalled event tried again, in place, then the next")
            check_eq([g[1] for g in got], [ids[0], ids[1], ids[1], ids[2], ids[2]],
                     kind + ": the same event id on every attempt")
            log = relay.proc.stderr()
            check("evt=%s timeout: the app's answer did not end within --response-timeout of "
                  "its head" % ids[1] in log, kind + ": the trickled answer is logged", log[-800:])
            check("evt=%s timeout: the app did not answer within --response-timeout" % ids[2]
                  in log, kind + ": the missing answer is logged", log[-800:])
            live_resumes(relay, target, kind)
            check_eq(relay.metric("hookwire_relay_drained_total"), 3.0, kind + ": all drained")
            agent.stop()
            relay.stop()
    finally:
        gate.set()


def case_store_deleted(env):
    """The store's directory removed under a running relay: nothing more is answered 202,
    since it would go to a file lost at exit."""
    os.mkdir(env.path("data"))
    store = env.path("data/relay.db")
    relay, target, agent = stack(env, store)
    queue_one(relay, 0)
    shutil.rmtree(env.path("data"))
    for i in range(1, 3):
        check_error(relay.webhook("POST", "/t/alice/hook", [HOST, ("X-Seq", str(i))], b"{}"),
                    503, "HW_STORE_UNAVAILABLE", "webhook %d once the file is gone" % i)
    check("the database file was deleted or replaced while in use" in relay.proc.stderr(),
          "the relay's log says why", relay.proc.stderr()[-1000:])
    relay.proc.check_alive("keeps running")
    relay.stop()


def case_store_locked(env):
    """Another process holds the SQLite store's write lock for longer than --response-timeout
    (1s): the queued webhook's sender gets 503 HW_STORE_UNAVAILABLE, not the app's 504. The
    first webhook's commit had begun (it waits for the lock); the second still waited in the
    queue and is withdrawn, so only the first is kept, under the id the log gave it."""
    store = env.path("locked.db")
    relay, target, agent = stack(env, store, relay_args=["--response-timeout", "1s"])
    first = queue_one(relay, 0)
    lock = sqlite3.connect(store, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    answers = {}

    def post(i):
        answers[i] = relay.webhook("POST", "/t/alice/hook?n=%d" % i,
                                   [HOST, ("Content-Type", "application/json"),
                                    ("X-Seq", str(i))], body_of(i))

    sender = threading.Thread(target=post, args=(1,))
    sender.start()
    wait_until(lambda: "the store is still committing it" in relay.proc.stderr(), 10,
               "the relay logs the webhook whose commit outlasted --response-timeout")
    sender.join(10)
    check_error(answers[1], 503, "HW_STORE_UNAVAILABLE", "a commit past --response-timeout")
    check_eq(answers[1].header("Retry-After"), "10", "the 503 says when to retry")
    post(2)
    check_error(answers[2], 503, "HW_STORE_UNAVAILABLE", "a webhook queued behind it")
    log = relay.proc.stderr()
    late = re.search(r"channel=alice evt=(evt_\w+) the store is still committing", log)
    gone = re.search(r"channel=alice evt=(evt_\w+) not queued: the store did not take it", log)
    check(late and gone, "both outcomes are logged with their ids", log[-1500:])
    lock.execute("ROLLBACK")
    lock.close()
    wait_until(lambda: "evt=%s was queued after its sender was answered 503" % late.group(1)
               in relay.proc.stderr(), 15, "the late commit is logged once it ends")
    agent.start()
    target.wait_requests(2, timeout=30)
    wait_until(lambda: "channel=alice queue drained" in relay.proc.stderr(), 10,
               "the relay reports the queue drained")
    check_eq([(g[0], g[1]) for g in received(target)], [(0, first), (1, late.group(1))],
             "the webhook whose commit began is delivered under the logged id; the withdrawn "
             "one is not")
    live_resumes(relay, target, "after the lock")
    relay.proc.check_alive("keeps running")
    agent.stop()
    relay.stop()


def case_reject_mode(env):
    for kind, store in stores(env):
        relay, target, agent = stack(env, store, relay_args=["--offline", "reject"])
        check_error(relay.webhook("POST", "/t/alice/hook", [HOST], b"{}"), 503,
                    "HW_AGENT_OFFLINE", kind + ": --offline reject")
        check_error(relay.webhook("POST", "/t/nobody/hook", [HOST], b"{}"), 404,
                    "HW_UNKNOWN_CHANNEL", kind + ": unknown channel")
        relay.stop()
        relay2, _, _ = stack(env, store.replace("relay-", "relay2-") if kind == "sqlite"
                             else store, channel="bob")
        check_error(relay2.webhook("POST", "/t/nobody/hook", [HOST], b"{}"), 404,
                    "HW_UNKNOWN_CHANNEL", kind + ": an unknown channel is not queued")
        relay2.stop()


def case_per_channel_policy(env):
    for kind, store in stores(env):
        token_add(env, store, "alice")
        token_add(env, store, "bob")
        conf = env.path("relay-%s.ini" % kind)
        with open(conf, "w") as f:
            f.write("[relay]\noffline = queue\n\n[channel bob]\noffline = reject\n")
        relay = env.relay(store=store, args=["--config", conf])
        queue_one(relay, 0)
        check_error(relay.webhook("POST", "/t/bob/hook", [HOST], b"{}"), 503, "HW_AGENT_OFFLINE",
                    kind + ": [channel bob] offline = reject")
        relay.stop()


if __name__ == "__main__":
    run([case_hundred_while_stopped, case_relay_sigkill, case_queue_full, case_app_fails,
         case_app_stalls, case_store_deleted, case_store_locked, case_reject_mode, case_per_channel_policy])
