#!/usr/bin/env python3
"""A sleeping laptop: the agent frozen with SIGSTOP keeps its socket open. The relay's
probe (a PING once webhooks wait on a silent tunnel) finds it dead within a few seconds;
the webhook that was in flight is kept and answered 202 (not 504 and lost), and later
webhooks queue. After SIGCONT the agent reconnects and the app receives every webhook in
arrival order, with the id from its 202. On SQLite and on MariaDB. When the store is
locked past --response-timeout while the webhook in flight is kept, its sender gets 503
HW_STORE_UNAVAILABLE (not the app's 504), and the log says what became of it.
"""

import json
import re
import signal
import sqlite3
import threading
import time

from harness import check, check_eq, check_error, request, run, wait_until
from hw_http import HttpConn
from offline_util import HOST, body_of, queue_one, received, stack, stores


def case_agent_frozen(env):
    for kind, store in stores(env):
        relay, target, agent = stack(env, store, start_agent=True)
        resp = relay.webhook("POST", "/t/alice/warm", [HOST, ("X-Seq", "-1")], b"warm")
        check_eq(resp.status, 200, kind + ": live before the freeze")
        agent.proc.signal(signal.SIGSTOP)
        try:
            out = {}

            def first():
                t0 = time.monotonic()
                out["resp"] = relay.webhook("POST", "/t/alice/hook?n=0",
                                            [HOST, ("X-Seq", "0")], body_of(0))
                out["took"] = time.monotonic() - t0

            th = threading.Thread(target=first, daemon=True)
            th.start()
            th.join(15)
            check(not th.is_alive(), kind + ": the in-flight webhook is answered")
            resp = out["resp"]
            check_eq(resp.status, 202, kind + ": the webhook in flight on the dead tunnel")
            check(out["took"] < 6.0, kind + ": found dead within a few seconds",
                  "%.1fs" % out["took"])
            ids = [json.loads(resp.body)["id"]]
            check_eq(resp.header("Hookwire-Error"), None, kind + ": no error code on a 202")
            ids += [queue_one(relay, i) for i in range(1, 10)]
        finally:
            agent.proc.signal(signal.SIGCONT)

        def all_seen():
            return len({g[0] for g in received(target) if g[0] >= 0}) == 10
        wait_until(all_seen, 40, kind + ": every webhook reaches the app after SIGCONT")
        got = [g for g in received(target) if g[0] >= 0]
        firsts = []
        for seq, evt, _, body in got:
            if seq not in [f[0] for f in firsts]:
                firsts.append((seq, evt, body))
        check_eq([f[0] for f in firsts], list(range(10)), kind + ": first arrivals in order")
        for seq, evt, body in firsts:
            check_eq(evt, ids[seq], kind + ": event %d keeps its id" % seq)
            check(body == body_of(seq), kind + ": event %d byte-exact" % seq)
        agent.stop()
        relay.stop()


def case_agent_frozen_just_connected(env):
    """The probe runs from a tunnel's first moments: an agent frozen right after it
    connected (and answered one webhook) is found as soon as one frozen later, not at the
    first plain heartbeat check (a quarter of --heartbeat after the connect: 15 s here)."""
    store = "sqlite:" + env.path("relay.db")
    relay, target, agent = stack(env, store, relay_args=["--heartbeat", "60s"], start_agent=True)
    resp = relay.webhook("POST", "/t/alice/warm", [HOST, ("X-Seq", "-1")], b"warm")
    check_eq(resp.status, 200, "live before the freeze")
    agent.proc.signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with HttpConn(relay.port, timeout=40) as c:
            resp = c.request("POST", "/t/alice/hook?n=0", [HOST, ("X-Seq", "0")], body_of(0))
        took = time.monotonic() - t0
        check_eq(resp.status, 202, "the webhook in flight on the dead tunnel is kept")
        check(took < 8.0, "found dead by the probe, not the heartbeat", "%.1fs" % took)
    finally:
        agent.proc.signal(signal.SIGCONT)
    wait_until(lambda: any(g[0] == 0 for g in received(target)), 40,
               "the webhook reaches the app after SIGCONT")
    agent.stop()
    relay.stop()


def case_agent_frozen_store_locked(env):
    """The store is locked past --response-timeout while the webhook from the dead tunnel
    waits for its commit: its sender gets 503 HW_STORE_UNAVAILABLE, not the app's 504. If
    the store's writer had not taken it yet (the relay's own periodic store jobs, such as
    retention, may hold the writer on the lock first), it is withdrawn and never written;
    if its commit had begun, it is queued once the lock goes and delivered under the id the
    log gave it. Which one comes is the writer's timing; each is checked for what it
    promises (60-offline-queue.py checks both for a webhook queued from the start)."""
    store = env.path("locked.db")
    relay, target, agent = stack(env, store, start_agent=True,
                                 relay_args=["--response-timeout", "8s"])
    auth = [("Authorization", "Bearer " + agent.token)]

    def shown(evt):
        return request(relay.tunnel_port, "GET", "/api/events/" + evt, auth)

    check_eq(relay.webhook("POST", "/t/alice/warm", [HOST, ("X-Seq", "-1")], b"warm").status,
             200, "live before the freeze")
    lock = sqlite3.connect(store, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    agent.proc.signal(signal.SIGSTOP)
    try:
        resp = relay.webhook("POST", "/t/alice/hook?n=0", [HOST, ("X-Seq", "0")], body_of(0))
        check_error(resp, 503, "HW_STORE_UNAVAILABLE",
                    "the webhook kept from the dead tunnel, its commit past --response-timeout")
        log = relay.proc.stderr()
        check("tunnel lost before the answer: queued" in log, "it was kept for the queue",
              log[-1500:])
        late = re.search(r"channel=alice evt=(evt_\w+) the store is still committing", log)
        gone = re.search(r"channel=alice evt=(evt_\w+) not queued: the store did not take it",
                         log)
        check(bool(late) != bool(gone), "one outcome, logged with its id", log[-1500:])
        lock.execute("ROLLBACK")
        lock.close()
        if late:
            wait_until(lambda: "evt=%s was queued after its sender was answered 503" %
                       late.group(1) in relay.proc.stderr(), 15,
                       "the late commit is logged once it ends")
    finally:
        agent.proc.signal(signal.SIGCONT)
    evt = (late or gone).group(1)
    if gone:
        check_eq((shown(evt).status, shown(evt).header("Hookwire-Error")),
                 (404, "HW_NOT_FOUND"), "the withdrawn webhook was never written")
    else:
        wait_until(lambda: json.loads(shown(evt).body)["status"] == "delivered", 40,
                   "once the agent is back the late one is delivered from the queue")
        got = [g for g in received(target) if g[0] == 0]
        check(got and all(g[1] == evt and g[3] == body_of(0) for g in got),
              "under the logged id, byte-exact", got)
    relay.proc.check_alive("keeps running")
    agent.stop()
    relay.stop()


def case_in_flight_keep_their_order(env):
    """Five webhooks in flight on the tunnel of a frozen agent are kept in the order they
    arrived, and a new agent (the frozen one killed, so it forwards nothing it had read)
    gets them in that order."""
    relay, target, agent = stack(env, env.path("order.db"), start_agent=True)
    agent.proc.signal(signal.SIGSTOP)
    out, threads = {}, []
    try:
        for i in range(5):
            def send(i=i):
                out[i] = relay.webhook("POST", "/t/alice/hook?n=%d" % i,
                                       [HOST, ("X-Seq", str(i))], body_of(i))
            threads.append(threading.Thread(target=send, daemon=True))
            threads[-1].start()
            # The next is sent once this one is on the tunnel: that is the arrival order.
            wait_until(lambda: relay.metric("hookwire_relay_channel_streams",
                                            channel="alice") == i + 1, 10,
                       "webhook %d in flight" % i)
        for t in threads:
            t.join(20)
        check_eq([out[i].status for i in range(5)], [202] * 5, "all five kept (202)")
        ids = [json.loads(out[i].body)["id"] for i in range(5)]
    finally:
        agent.kill()
    agent.start()
    target.wait_requests(5, timeout=30)
    got = received(target)
    check_eq([g[0] for g in got], list(range(5)), "delivered in arrival order")
    check_eq([g[1] for g in got], ids, "each under the id of its 202")
    agent.stop()
    relay.stop()


if __name__ == "__main__":
    run([case_agent_frozen, case_agent_frozen_just_connected, case_agent_frozen_store_locked, case_in_flight_keep_their_order])
