#!/usr/bin/env python3
"""History of live webhooks, on SQLite and on MariaDB. A live webhook is recorded once,
finished, after its answer: a 2xx as delivered with one attempt and no attempt row of its
own, an app error as failed with its attempt, byte-exact and replayable. `--max-events N`
keeps each channel's newest N events by itself (queued ones are never purged). The bytes
held for records not yet committed are bounded by `--history-buffer`: past it a new live
webhook is refused with 429 HW_OVERLOADED and Retry-After, never forwarded unrecorded,
and once the held webhooks are answered and recorded, webhooks go through again. The
store thread runs at the service thread's nice value plus 10, so that recording yields the
core to the loop.
"""

import json
import os
import subprocess
import threading

from harness import (AGENT_BIN, Reply, check, check_eq, check_error, run, token_add,
                     wait_until)
from offline_util import HOST, body_of, queue_one, stores


def api(env, relay, token, *args):
    """hookwire-agent ARGS against relay; returns (returncode, stdout bytes, stderr bytes)."""
    e = dict(os.environ, HOOKWIRE_TOKEN=token)
    r = subprocess.run([AGENT_BIN, "--relay", relay.ws_url] + list(args), cwd=env.dir, env=e,
                       capture_output=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def api_json(env, relay, token, *args):
    rc, out, err = api(env, relay, token, *args)
    check_eq(rc, 0, "hookwire-agent %s exits 0 (stderr %r)" % (" ".join(args), err[-300:]))
    return json.loads(out)


def live(relay, i, channel="alice", size=0):
    return relay.webhook("POST", "/t/%s/live?n=%d" % (channel, i),
                         [HOST, ("Content-Type", "application/json"), ("X-Seq", str(i))],
                         body_of(i, size))


def case_live_records(env):
    def handler(req):
        if req.header("X-Seq") == "2":
            return Reply(503, "Service Unavailable", [("Content-Type", "text/plain")], b"down")
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")

    for kind, store in stores(env):
        token = token_add(env, store, "alice")
        relay = env.relay(store=store)
        target = env.target(handler)
        agent = env.agent(relay, token, "alice", target.port)
        check_eq(live(relay, 1, size=700).status, 200, kind + ": live 1 answered 200")
        check_eq(live(relay, 2, size=900).status, 503, kind + ": live 2 gets the app's 503")

        def both():
            evs = api_json(env, relay, token, "events")["events"]
            return len(evs) == 2 and evs
        evs = wait_until(both, 10, kind + ": both live webhooks are recorded")
        failed, ok = evs  # newest first
        check_eq((ok["status"], ok["attempts"], ok["last_status"]), ("delivered", 1, 200),
                 kind + ": a 2xx is recorded delivered, one attempt")
        check_eq((failed["status"], failed["attempts"], failed["last_status"]),
                 ("failed", 1, 503), kind + ": an app error is recorded failed, one attempt")
        shown = api_json(env, relay, token, "show", ok["id"])
        check_eq(shown["attempts_list"], [], kind + ": a plain success has no attempt row")
        check_eq((shown["method"], shown["path"], shown["query"]), ("POST", "/live", "n=1"),
                 kind + ": the request line")
        rc, raw, _ = api(env, relay, token, "show", ok["id"], "--body")
        check(rc == 0 and raw == body_of(1, 700), kind + ": the body is byte-exact")
        shown = api_json(env, relay, token, "show", failed["id"])
        check_eq([a["http_status"] for a in shown["attempts_list"]], [503],
                 kind + ": a failure keeps its attempt")
        # The app's id header is the event id, and a replay sends the same event again.
        first = target.wait_requests(2)[1]
        check_eq(first.header("Hookwire-Event-Id"), failed["id"],
                 kind + ": the recorded id is the one the app saw")
        rc, _, err = api(env, relay, token, "replay", failed["id"])
        check_eq(rc, 0, kind + ": replay of a failed live webhook (%r)" % err)
        target.wait_requests(3, timeout=10)
        again = target.requests[2]
        check_eq((again.header("Hookwire-Event-Id"), again.header("Hookwire-Attempt")),
                 (failed["id"], "2"), kind + ": the replay is attempt 2 of the same event")
        check(again.body == body_of(2, 900), kind + ": the replay is byte-exact")
        agent.stop()
        relay.stop()


def case_max_events(env):
    keep, sent, queued = 5, 12, 7
    for kind, store in stores(env):
        token = token_add(env, store, "alice")
        bob = token_add(env, store, "bob")
        relay = env.relay(store=store, args=["--max-events", str(keep)])
        target = env.target()
        agent = env.agent(relay, token, "alice", target.port)
        for i in range(sent):
            check_eq(live(relay, i).status, 200, kind + ": live %d" % i)
        # bob has no agent: his webhooks are queued, and queued ones are never purged.
        waiting = [queue_one(relay, i, channel="bob") for i in range(queued)]

        def purged():
            evs = api_json(env, relay, token, "events")["events"]
            return len(evs) == keep and evs
        evs = wait_until(purged, 20, kind + ": alice's history is cut to --max-events by itself",
                         interval=0.5)
        check_eq([e["query"] for e in evs], ["n=%d" % i for i in range(sent - 1, sent - keep - 1,
                                                                          -1)],
                 kind + ": the newest are kept")
        check_eq(sorted(e["id"] for e in api_json(env, relay, bob, "events")["events"]),
                 sorted(waiting), kind + ": bob's queued events are all kept")
        agent.stop()
        relay.stop()


def case_history_buffer(env):
    gate = threading.Event()

    def handler(req):
        if req.header("X-Seq") in ("1", "2"):
            gate.wait(30)
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")

    for kind, store in stores(env):
        gate.clear()
        token = token_add(env, store, "alice")
        relay = env.relay(store=store, args=["--history-buffer", "64K"])
        target = env.target(handler)
        agent = env.agent(relay, token, "alice", target.port)
        answers = {}

        def send(i):
            answers[i] = live(relay, i, size=40 * 1024)
        held = [threading.Thread(target=send, args=(i,)) for i in (1, 2)]
        for t in held:
            t.start()
        target.wait_requests(2, timeout=10)  # both in flight: 80 KiB held, over 64K
        wait_until(lambda: relay.metric("hookwire_relay_history_held_bytes") >= 64 * 1024, 5,
                   kind + ": the held bytes are reported")
        refused = live(relay, 3, size=100)
        check_error(refused, 429, "HW_OVERLOADED", kind + ": a webhook past --history-buffer")
        check(refused.header("Retry-After"), kind + ": the refusal says when to retry")
        check_eq(target.count(), 2, kind + ": the refused webhook never reached the app")
        check_eq(relay.metric("hookwire_relay_history_full_total"), 1,
                 kind + ": the refusal is counted")
        gate.set()
        for t in held:
            t.join(30)
        check_eq([answers[i].status for i in (1, 2)], [200, 200],
                 kind + ": the held webhooks are answered")
        wait_until(lambda: relay.metric("hookwire_relay_history_held_bytes") == 0, 10,
                   kind + ": their records commit and the buffer empties")
        check_eq(live(relay, 4, size=100).status, 200, kind + ": webhooks go through again")

        def recorded():
            evs = api_json(env, relay, token, "events")["events"]
            return len(evs) == 3 and evs
        evs = wait_until(recorded, 10, kind + ": every accepted webhook is recorded")
        check_eq(sorted(e["query"] for e in evs), ["n=1", "n=2", "n=4"],
                 kind + ": the refused one is not in the history, the accepted ones are")
        check_eq(relay.metric("hookwire_relay_history_lost_total"), 0,
                 kind + ": no record was lost")
        agent.stop()
        relay.stop()


def thread_nices(pid):
    """{tid: nice value} of each thread of pid, from /proc (field 19 of stat)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(tid)] = int(fields[16])  # after pid and (comm): state is field 3, nice 19
    return out


def case_store_thread_nice(env):
    relay = env.relay(store=env.path("nice.db"))  # the store thread starts with the relay
    nices = thread_nices(relay.proc.pid)
    main = nices.pop(relay.proc.pid)
    want = min(main + 10, 19)
    check_eq(sorted(set(nices.values())), [want],
             "the store thread runs at the loop's nice value %d plus 10, and no other thread "
             "of the relay is in between" % main)
    relay.stop()


if __name__ == "__main__":
    run([case_live_records, case_max_events, case_history_buffer, case_store_thread_nice])
