#!/usr/bin/env python3
"""History of live webhooks, on SQLite and on MariaDB. A live webhook is recorded once,
finished, after its answer: a 2xx as delivered with one attempt and no attempt row of its
own, an app error as failed with its attempt, byte-exact and replayable. `--max-events N`
keeps each channel's newest N events by itself (queued ones are never purged). The bytes
held for records not yet committed are bounded by `--history-buffer`: past it a new live
webhook is refused with 429 HW_OVERLOADED and Retry-After, never forwarded unrecorded,
and once the held webhooks are answered and recorded, webhooks go through again. The
store thread runs at the service thread's nice value plus 10, so that recording yields the
core to the loop, and in SCHED_IDLE while it writes only live history, lifted back at once
when a queued webhook waits for its commit; a relay that could not lift it again (no
CAP_SYS_NICE) says so and keeps SCHED_OTHER.
"""

import json
import os
import re
import shutil
import subprocess
import threading

from harness import (AGENT_BIN, RELAY_BIN, SOURCE, Reply, check, check_eq, check_error, run,
                     token_add,
                     wait_until)
from offline_util import HOST, body_of, queue_one, stack, stores


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
        check_eq([(a["http_status"], a["duration_ms"], a["error"]) for a in shown["attempts_list"]],
                 [(200, None, "")], kind + ": a plain success shows its one attempt from the "
                 "event (no row of its own, so no duration)")
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


def case_record_lost_is_counted(env):
    """A live webhook answered while the store cannot commit (its directory removed under
    the relay) is logged and counted as lost history; its sender still got the app's 200."""
    os.mkdir(env.path("data"))
    relay, target, agent = stack(env, env.path("data/relay.db"), start_agent=True)
    shutil.rmtree(env.path("data"))
    resp = relay.webhook("POST", "/t/alice/lost", [HOST], b"{}")
    check_eq(resp.status, 200, "the app's answer goes back")
    wait_until(lambda: relay.metric("hookwire_relay_history_lost_total") == 1.0, 10,
               "the record the store could not commit is counted")
    check("cannot record the webhook" in relay.proc.stderr(), "and logged",
          relay.proc.stderr()[-800:])


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


SCHED_OTHER, SCHED_IDLE = 0, 5


def thread_stats(pid):
    """{tid: (name, nice value, scheduling policy)} of each thread of pid, from /proc."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            head, tail = f.read().rsplit(")", 1)
        fields = tail.split()  # after pid and (comm): state is field 3, nice 19, policy 41
        out[int(tid)] = (head.split("(", 1)[1], int(fields[16]), int(fields[38]))
    return out


def store_policy(relay):
    return [p for name, _, p in thread_stats(relay.proc.pid).values() if name == "hw-store"]


def has_sys_nice():
    """Whether this process holds CAP_SYS_NICE (bit 23 of CapEff), as the relay it starts will."""
    with open("/proc/self/status") as f:
        caps = [line.split()[1] for line in f if line.startswith("CapEff:")]
    return bool(int(caps[0], 16) >> 23 & 1)


def recorded_all(relay):
    """Every live record committed: nothing held (read off /metrics, not through a store job)."""
    return relay.metric("hookwire_relay_history_held_bytes") == 0


def case_store_thread_nice(env):
    relay = env.relay(store=env.path("nice.db"))  # the store thread starts with the relay
    stats = thread_stats(relay.proc.pid)
    main = stats.pop(relay.proc.pid)[1]
    want = min(main + 10, 19)
    check_eq(sorted(set(nice for _, nice, _ in stats.values())), [want],
             "the store thread runs at the loop's nice value %d plus 10, and no other thread "
             "of the relay is in between" % main)
    check_eq([name for name, _, _ in stats.values()], ["hw-store"], "the store thread's name")
    relay.stop()


def case_store_thread_idle(env):
    """SCHED_IDLE while it writes live history alone, SCHED_OTHER between batches; a queued
    webhook's commit is written in SCHED_OTHER."""
    store = env.path("idle.db")
    token = token_add(env, store, "alice")
    token_add(env, store, "bob")
    relay = env.relay(store=store)
    target = env.target()
    agent = env.agent(relay, token, "alice", target.port)
    if not has_sys_nice():
        # Without the privilege the relay cannot lift the thread again, so it never drops it.
        check("keeps its share of busy cores" in relay.proc.stderr(),
              "without CAP_SYS_NICE the relay says why its store thread keeps SCHED_OTHER")
    want_idle = SCHED_IDLE if has_sys_nice() else SCHED_OTHER
    stop = threading.Event()
    answers = []

    def flow():
        while not stop.is_set():
            answers.append(live(relay, len(answers) + 1).status)
    sender = threading.Thread(target=flow)
    sender.start()
    try:
        # A batch of live history takes a fraction of a millisecond: look until one is under way.
        wait_until(lambda: store_policy(relay) == [want_idle], 30,
                   "the store thread seen writing live history in SCHED_IDLE", interval=0.001)
    finally:
        stop.set()
        sender.join()
    check_eq(set(answers), {200}, "every live webhook answered by the app")
    wait_until(lambda: recorded_all(relay), 10, "the live webhooks are committed")
    check_eq(store_policy(relay), [SCHED_OTHER],
             "between batches the store thread is back in SCHED_OTHER (it never takes the "
             "queue's lock in SCHED_IDLE)")
    # bob has no agent: his webhook waits for its commit, so the thread is lifted before it.
    queue_one(relay, 1, channel="bob")
    check_eq(store_policy(relay), [SCHED_OTHER],
             "a webhook answered 202 had its commit written in SCHED_OTHER")
    agent.stop()
    relay.stop()


def case_store_thread_unprivileged(env):
    """A relay without CAP_SYS_NICE says why in one line and never drops the thread."""
    store = env.path("unpriv.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store, wrap=["setpriv", "--bounding-set=-sys_nice"])
    target = env.target()
    agent = env.agent(relay, token, "alice", target.port)
    lines = [line for line in relay.proc.stderr().splitlines()
             if "keeps its share of busy cores" in line]
    check_eq(len(lines), 1, "one line says the store thread keeps SCHED_OTHER")
    check("CAP_SYS_NICE" in lines[0] and "LimitNICE" in lines[0],
          "the line says what would allow it", lines[0])
    for i in range(3):
        check_eq(live(relay, i).status, 200, "live %d" % i)
    wait_until(lambda: recorded_all(relay), 10, "the live webhooks are committed")
    check_eq(store_policy(relay), [SCHED_OTHER], "the store thread stays in SCHED_OTHER")
    agent.stop()
    relay.stop()


def case_systemd_unit(env):
    """examples/hookwire-relay.service lets the store thread set its nice value and leave
    SCHED_IDLE: no filtered system call would kill the relay, and RLIMIT_NICE covers nice 10."""
    tool = shutil.which("systemd-analyze")
    check(tool is not None, "systemd-analyze is installed")
    with open(os.path.join(SOURCE, "examples", "hookwire-relay.service")) as f:
        text = f.read()
    def calls(group, seen):
        """The system calls of group, with those of the groups it names (once each)."""
        seen.add(group)
        r = subprocess.run([tool, "syscall-filter", group], capture_output=True, text=True,
                           timeout=60)
        check_eq(r.returncode, 0, "systemd-analyze knows " + group)
        out = set()
        for w in r.stdout.split()[1:]:  # the first word is the group itself
            if w.startswith("@"):
                out |= calls(w, seen) if w not in seen else set()
            elif re.fullmatch(r"[a-z_0-9]+", w):
                out.add(w)
        return out
    denied = set()
    for line in re.findall(r"(?m)^SystemCallFilter=~(.*)$", text):
        for group in line.split():
            denied |= calls(group, set())
    needed = {"setpriority", "sched_setscheduler", "sched_getscheduler", "getpriority"}
    check_eq(sorted(needed & denied), [], "the store thread's scheduling calls are not filtered")
    m = re.search(r"(?m)^LimitNICE=\+(\d+)$", text)
    check(m is not None and int(m.group(1)) <= 10,
          "LimitNICE lets a thread at nice 10 leave SCHED_IDLE", m and m.group(0))
    unit = env.path("hookwire-relay.service")
    with open(unit, "w") as f:
        f.write(text.replace("/usr/local/bin/hookwire-relay", RELAY_BIN))
    r = subprocess.run([tool, "verify", unit], capture_output=True, text=True, timeout=60)
    check_eq((r.returncode, r.stderr.strip()), (0, ""), "systemd-analyze verify: no complaint")


if __name__ == "__main__":
    run([case_live_records, case_record_lost_is_counted, case_max_events, case_history_buffer, case_store_thread_nice,
         case_store_thread_idle, case_store_thread_unprivileged, case_systemd_unit])
