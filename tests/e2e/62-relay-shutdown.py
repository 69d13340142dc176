#!/usr/bin/env python3
"""A clean relay stop (SIGTERM) in the middle of a drain, on SQLite and on MariaDB.

Events are queued with the agent stopped; the agent starts and the queue drains; SIGTERM
reaches the relay while it does. The relay takes no new webhook (503), lets the exchange
in flight finish, writes every delivery outcome it gathered and only then closes the
store: every event the app received is recorded delivered (none left pending), the relay
never logs an outcome it could not write, and after a restart of relay and agent the app
gets the rest, each event exactly once. Needs HOOKWIRE_TEST_MYSQL_URL (or
HOOKWIRE_TEST_NO_MYSQL=1).
"""

import json
import signal
import sqlite3
import threading
import time

from harness import (Agent, HttpConn, Reply, build_request, check, check_eq, request, run,
                     store_url, token_add, wait_until)
from hw_receiver import store_query
from offline_util import HOST, queue_one, received, stack, stores

DELIVERED = 2
ROUNDS = 3  # each round stops the relay at a different point of the drain


def statuses(store):
    """{event id: status} of every event in the store."""
    return {r[0]: int(r[1]) for r in
            store_query(store_url(store), "SELECT id, status FROM hookwire_events")}


def check_recorded(relay, store, target, what):
    """After the stop: each event the app received is delivered in the store."""
    rc = relay.proc.wait_exit(30)
    check_eq(rc, 0, what + ": the relay exits 0 after SIGTERM")
    err = relay.proc.stderr()
    check("cannot queue" not in err and "cannot record the delivery outcome" not in err,
          what + ": every gathered outcome was written", err[-1500:])
    st = statuses(store)
    got = {g[1] for g in received(target)}
    left = sorted((evt, st.get(evt)) for evt in got if st.get(evt) != DELIVERED)
    check(not left, what + ": every event the app received is recorded delivered",
          "%d of %d are not: %s" % (len(left), len(got), left[:5]))
    return st


def restart_and_finish(relay, agent, target, ids, what):
    """Relay and agent again: the app gets the rest, and no event twice."""
    agent.stop()
    relay.fixed_ports = True
    relay.start()
    agent.start()
    target.wait_requests(len(ids), timeout=60)
    wait_until(lambda: "channel=alice queue drained" in relay.proc.stderr(), 30,
               what + ": the restarted relay drains the rest")
    seen = [g[1] for g in received(target)]
    twice = sorted({e for e in seen if seen.count(e) > 1})
    check(not twice, what + ": no event reaches the app twice", twice[:5])
    check_eq(sorted(seen), sorted(ids), what + ": the app got every queued event")
    check_eq([g[0] for g in received(target)], list(range(len(ids))),
             what + ": in arrival order across the restart")
    agent.stop()
    relay.stop()


def case_sigterm_mid_drain(env):
    """SIGTERM while the drain runs at full speed: outcomes are gathered while a write is in
    flight, and the ones gathered last must still reach the store."""
    for rnd in range(ROUNDS):
        for kind, db in stores(env):  # a fresh store each round
            what = "%s round %d" % (kind, rnd + 1)
            relay, target, agent = stack(env, db)
            n = 300
            ids = [queue_one(relay, i) for i in range(n)]
            agent.start()
            stop_at = 20 + rnd * 60
            wait_until(lambda: target.count() >= stop_at, 30,
                       what + ": the drain reached event %d" % stop_at, interval=0.001)
            relay.proc.signal(signal.SIGTERM)
            check_recorded(relay, db, target, what)
            check(target.count() < n, what + ": the relay stopped mid-drain",
                  "the app already had all %d" % n)
            restart_and_finish(relay, agent, target, ids, what)


def case_answer_in_flight(env):
    """SIGTERM while the app holds its answer to one queued event: the relay turns new
    webhooks away, waits for that answer and records it before it closes the store."""
    release = threading.Event()
    held = 10

    def handler(req):
        if req.header("X-Seq") == str(held) and req.header("Hookwire-Attempt") == "1":
            release.wait(30)
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")

    for kind, store in stores(env):
        release.clear()
        relay, target, agent = stack(env, store, handler=handler)
        ids = [queue_one(relay, i) for i in range(40)]
        agent.start()
        wait_until(lambda: target.count() > held, 30, kind + ": the app holds event %d" % held)
        relay.proc.signal(signal.SIGTERM)
        wait_until(lambda: "waiting up to" in relay.proc.stderr() or not relay.proc.alive(), 10,
                   kind + ": the relay waits for the exchange in flight")
        check(relay.proc.alive(), kind + ": the relay waits for the app's answer",
              relay.proc.stderr()[-800:])
        resp = relay.webhook("POST", "/t/alice/late", [HOST], b"late")
        check_eq(resp.status, 503, kind + ": a webhook arriving while the relay stops")
        check(resp.header("Retry-After") is not None, kind + ": the 503 says when to retry")
        release.set()
        st = check_recorded(relay, store, target, kind)
        check_eq(st[ids[held]], DELIVERED, kind + ": the held event is recorded delivered")
        check_eq(target.count(), held + 1, kind + ": nothing was sent after SIGTERM")
        restart_and_finish(relay, agent, target, ids, kind)


def case_stop_with_store_locked(env):
    """SIGTERM while another process holds the SQLite store's write lock and history API
    replays wait for it: each caller got 503 after 5 s, and the replays no store thread had
    started were withdrawn then (they do not happen later), so the stop waits only for the
    one write already under way (the store's busy limit), not about 12 s per call queued."""
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    target = env.target()
    agent = Agent(env, relay, token, "alice", target.port)
    agent.start()
    for i in range(4):
        check_eq(relay.webhook("POST", "/t/alice/live?n=%d" % i, [HOST, ("X-Seq", str(i))],
                               b"{}").status, 200, "live webhook %d" % i)
    ids = [g[1] for g in received(target)]
    auth = [("Host", "127.0.0.1:%d" % relay.tunnel_port), ("Authorization", "Bearer " + token)]

    def listed():
        r = request(relay.tunnel_port, "GET", "/api/events?status=delivered", auth)
        return r.status == 200 and len(json.loads(r.body)["events"]) == len(ids)
    wait_until(listed, 10, "the live webhooks are recorded delivered")
    agent.stop()
    lock = sqlite3.connect(store, timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        codes = {}

        def replay(eid):
            codes[eid] = request(relay.tunnel_port, "POST", "/api/events/%s/replay" % eid,
                                 auth).status
        callers = [threading.Thread(target=replay, args=(e,)) for e in ids]
        for t in callers:
            t.start()
        for t in callers:
            t.join(30)
        check_eq(sorted(codes.values()), [503] * len(ids), "each replay waits 5 s, then 503")
        # Replays again, the stop asked for while they wait: each is answered 503 at once.
        sent, answers = [], {}

        def replay_at_stop(eid):
            with HttpConn(relay.tunnel_port) as c:
                c.send(build_request("POST", "/api/events/%s/replay" % eid, auth, b""))
                sent.append(eid)
                answers[eid] = c.read_response()
        callers = [threading.Thread(target=replay_at_stop, args=(e,)) for e in ids]
        for t in callers:
            t.start()
        wait_until(lambda: len(sent) == len(ids), 10, "the replays are sent")
        t0 = time.monotonic()
        relay.proc.signal(signal.SIGTERM)
        for t in callers:
            t.join(30)
        answered = time.monotonic() - t0
        check_eq(relay.proc.wait_exit(60), 0, "the relay exits 0")
        took = time.monotonic() - t0
    finally:
        lock.rollback()
        lock.close()
    check_eq(sorted((r.status, r.header("Hookwire-Error")) for r in answers.values()),
             [(503, "HW_SHUTTING_DOWN")] * len(ids), "a replay waiting at the stop gets 503")
    check(answered < 4, "and at once, not at its 5 s deadline", "%.1f s" % answered)
    check(took < 20, "the stop waits for the one write under way, not for each replay queued "
          "behind it", "%.1f s" % took)
    check(relay.proc.stderr().count("replayed after all") <= 1,
          "at most the replay under way at its 503 happens later", relay.proc.stderr()[-1500:])


def case_sigterm_mid_body(env):
    """A webhook whose body is still arriving when SIGTERM comes is read to its end and
    answered 503 HW_SHUTTING_DOWN with Retry-After (the sender retries), not cut without an
    answer; nothing of it reaches the app, and the relay exits 0."""
    relay, target, agent = env.stack()
    body = b"x" * 4000
    head = build_request("POST", "/t/alice/mid", [HOST], body)
    split = len(head) - 1000
    c = HttpConn(relay.port)
    c.send(head[:split])
    wait_until(lambda: relay.metric("hookwire_relay_held_bytes") >= 1, 10,
               "the relay holds the first part of the body")
    relay.proc.signal(signal.SIGTERM)
    wait_until(lambda: "relay: shutting down" in relay.proc.stderr(), 10, "the stop has begun")
    c.send(head[split:])
    r = c.read_response()
    check_eq((r.status, r.header("Hookwire-Error")), (503, "HW_SHUTTING_DOWN"),
             "the webhook is answered once its body is in")
    check(r.header("Retry-After") is not None, "the 503 says when to retry")
    check_eq(relay.proc.wait_exit(20), 0, "the relay exits 0")
    check_eq(target.count(), 0, "nothing reached the app")


if __name__ == "__main__":
    run([case_sigterm_mid_drain, case_answer_in_flight, case_stop_with_store_locked,
         case_sigterm_mid_body])
