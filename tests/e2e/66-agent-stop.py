#!/usr/bin/env python3
"""The agent's stop (SIGTERM): it sends GOAWAY, finishes the forwards in flight and exits 0.

Under 8 senders and an app that answers after 0.3 s, SIGTERM to the agent: every webhook
in flight gets the app's own answer (200, its body), nothing fails, the agent exits 0
well within --stop-timeout, and the relay routes nothing new to it: the webhooks that
arrive meanwhile are queued (202) and reach the app once when an agent connects again.
The app sees every webhook exactly once. The same while the relay drains its queue to the
agent: the event in delivery finishes, the next ones wait for the next agent. An app that never answers: the agent exits at
its deadline and says how many forwards it left; the relay queues those (202 to their
senders) and delivers them to the next agent. A second signal exits at once.
"""

import json
import signal
import threading
import time

from harness import (HttpConn, Reply, build_request, check, check_eq, run, token_add,
                     wait_until)

HOST = ("Host", "hooks.example.test")


class Senders:
    """n threads posting numbered webhooks on fresh connections until stopped, each until
    its first 202 (queued); every answer is kept as (body sent, status, body answered)."""

    def __init__(self, port, n):
        self.port = port
        self.results = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True)
                        for k in range(n)]
        for t in self.threads:
            t.start()

    def _run(self, k):
        i = 0
        while not self.stop.is_set():
            body = b'{"k":%d,"i":%d}' % (k, i)
            try:
                r = post(self.port, "/t/alice/hook", body)
                status, answer = r.status, r.body
            except (OSError, EOFError) as e:
                status, answer = 0, str(e).encode()
            with self.lock:
                self.results.append((body, status, answer))
            if status == 202:
                return
            i += 1

    def count(self, status):
        with self.lock:
            return sum(1 for r in self.results if r[1] == status)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        check(not any(t.is_alive() for t in self.threads), "every sender finished")
        with self.lock:
            return list(self.results)


def post(port, path, body):
    """One webhook on a fresh connection that waits up to 30 s for its answer."""
    with HttpConn(port, timeout=30) as c:
        c.send(build_request("POST", path, [HOST], body))
        return c.read_response("POST")


def seen(target):
    """The bodies of the webhooks the app received, in order."""
    with target.cond:
        return [r.body for r in target.requests]


def case_inflight_finish(env):
    """SIGTERM under load: answers in flight reach their senders, later arrivals queue."""
    def handle(req):
        time.sleep(0.3)  # the app's own slowness, what the stop must wait for
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok " + req.body)

    relay, target, agent = env.stack(handler=handle, agent_args=["--stop-timeout", "8s"])
    senders = Senders(relay.port, 8)
    try:
        wait_until(lambda: senders.count(200) >= 16, 20, "16 webhooks answered live")
        sent_at = time.monotonic()
        agent.proc.signal(signal.SIGTERM)
        rc = agent.proc.wait_exit(12)
        took = time.monotonic() - sent_at
        # Webhooks that arrive after the GOAWAY are queued: each sender ends at its first 202.
        wait_until(lambda: senders.count(202) == 8, 20, "each sender had a webhook queued")
    finally:
        results = senders.finish()
    check_eq(rc, 0, "the agent exits 0 after SIGTERM")
    check(took < 8, "the agent exits before its deadline once the forwards are done",
          "%.2fs" % took)
    log = agent.proc.stderr()
    stop_lines = [l for l in log.splitlines() if "stopping: finishing" in l]
    check_eq(len(stop_lines), 1, "one line for the stop")
    n_inflight = int(stop_lines[0].split("finishing ")[1].split(" ")[0])
    check(n_inflight >= 1, "forwards were in flight at SIGTERM", stop_lines[0])
    check("shutting down" in log and "client is shutting down" not in log,
          "no forward was dropped by the stop", log[-2000:])
    check("unfinished" not in log, "nothing was left unfinished", log[-2000:])
    check("agent is going away" in relay.proc.stderr(), "the relay read the GOAWAY",
          relay.proc.stderr()[-2000:])
    bad = [r for r in results if r[1] not in (200, 202)]
    check(not bad, "every sender got the app's answer or a 202", bad[:5])
    wrong = [r for r in results if r[1] == 200 and r[2] != b"ok " + r[0]]
    check(not wrong, "each 200 carries the app's answer to that webhook", wrong[:5])
    queued = [r[0] for r in results if r[1] == 202]
    for r in results:
        if r[1] == 202:
            check(json.loads(r[2]).get("queued") is True, "a 202 says queued", r[2])
    live = [r[0] for r in results if r[1] == 200]
    got = seen(target)
    check(all(got.count(b) == 1 for b in live), "the app saw each answered webhook once")
    check(not any(b in got for b in queued), "no queued webhook reached the stopped agent")
    # An agent connects again: the queue reaches the app, each once.
    agent.start()
    wait_until(lambda: all(b in seen(target) for b in queued), 30,
               "every queued webhook reaches the app")
    wait_until(lambda: "channel=alice queue drained" in relay.proc.stderr(), 10,
               "the relay drains its queue")
    got = seen(target)
    dup = [b for b in set(got) if got.count(b) != 1]
    check(not dup, "the app saw every webhook exactly once", dup[:5])
    check_eq(sorted(got), sorted(live + queued), "the app saw exactly what was sent")


def case_queue_drain(env):
    """SIGTERM while the relay drains its queue to the agent: the event being delivered
    finishes, the relay sends no further one to the stopping agent, and the next agent gets
    the rest: each event reaches the app exactly once."""
    def handle(req):
        time.sleep(0.3)  # the app's own slowness
        return Reply(200, "OK", [], b"ok")

    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    target = env.target(handle)
    bodies = [b'{"q":%d}' % i for i in range(20)]
    for b in bodies:
        r = post(relay.port, "/t/alice/q", b)
        check_eq(r.status, 202, "queued while no agent runs")
    agent = env.agent(relay, token, "alice", target.port, args=["--stop-timeout", "5s"])
    wait_until(lambda: len(seen(target)) >= 2, 10, "the drain reaches the app")
    sent_at = time.monotonic()
    agent.proc.signal(signal.SIGTERM)
    rc = agent.proc.wait_exit(10)
    took = time.monotonic() - sent_at
    at_stop = len(seen(target))
    check_eq(rc, 0, "the agent exits 0")
    check(took < 2, "the relay sent no more queued events to the stopping agent",
          "it took %.2fs and the app got %d of 20" % (took, at_stop))
    check(at_stop < 20 and "unfinished" not in agent.proc.stderr(),
          "the stop finished the delivery in flight only", at_stop)
    agent.start()
    wait_until(lambda: "channel=alice queue drained" in relay.proc.stderr(), 30,
               "the next agent gets the rest")
    got = seen(target)
    check_eq(sorted(got), sorted(bodies), "the app saw every queued event exactly once")


def case_deadline(env):
    """An app that never answers: the agent exits at its deadline, the relay queues."""
    held = threading.Event()
    release = threading.Event()
    held.set()

    def handle(req):
        if held.is_set():
            release.wait(30)
        return Reply(200, "OK", [], b"ok " + req.body)

    relay, target, agent = env.stack(handler=handle, relay_args=["--response-timeout", "30s"],
                                     agent_args=["--stop-timeout", "1500ms"])
    target.ignore_errors = True  # the held exchanges lose their connection
    bodies = [b'{"held":%d}' % i for i in range(4)]
    answers = {}

    def send(b):
        r = post(relay.port, "/t/alice/hold", b)
        answers[b] = (r.status, r.body)

    threads = [threading.Thread(target=send, args=(b,), daemon=True) for b in bodies]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(seen(target)) == 4, 10, "the app holds 4 webhooks")
        sent_at = time.monotonic()
        agent.proc.signal(signal.SIGTERM)
        rc = agent.proc.wait_exit(10)
        took = time.monotonic() - sent_at
        for t in threads:
            t.join(20)
    finally:
        held.clear()
        release.set()
    check_eq(rc, 0, "the agent exits 0 at its deadline")
    check(1.4 <= took < 4, "the agent waits for its deadline (1.5s), not longer", "%.2fs" % took)
    log = agent.proc.stderr()
    check(log.count("stop deadline passed: 4 forwards unfinished") == 1,
          "one line says what was left", log[-2000:])
    check(log.count("failed: the agent stopped before the app answered") == 4 and
          "client is shutting down" not in log, "each forward left says so", log[-2000:])
    for b in bodies:
        check(b in answers and answers[b][0] == 202, "the unfinished webhook was queued (202)",
              answers.get(b))
    agent.start()
    wait_until(lambda: all(seen(target).count(b) == 2 for b in bodies), 30,
               "the queued webhooks reach the app again")
    wait_until(lambda: "channel=alice queue drained" in relay.proc.stderr(), 10,
               "the relay drains its queue")
    got = seen(target)
    check(all(got.count(b) == 2 for b in bodies) and len(got) == 8,
          "each held webhook was delivered once more, nothing else", len(got))


def case_deadline_mid_answer(env):
    """An answer the app is still trickling at the stop's deadline cannot be queued (its head
    is out): the sender's answer is cut, and the agent says so, not that it left the webhook
    to the relay."""
    def handle(req):
        return Reply(200, "OK", [], b"x" * 200, action="trickle", partial=60, every=0.2)

    relay, target, agent = env.stack(handler=handle, relay_args=["--response-timeout", "30s"],
                                     agent_args=["--stop-timeout", "1s"])
    target.ignore_errors = True
    with HttpConn(relay.port) as c:
        c.send(build_request("POST", "/t/alice/trickle", [("Host", "hooks.example.test")],
                             b"{}"))
        head = c.reader.until(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 200"), "the app's answer has begun", head)
        agent.proc.signal(signal.SIGTERM)
        check_eq(agent.proc.wait_exit(10), 0, "the agent exits 0 at its deadline")
    log = agent.proc.stderr()
    check("POST /trickle failed: the agent stopped mid-answer: the answer was cut" in log,
          "the agent says the answer was cut", log[-1500:])
    check("stop deadline passed: 1 forwards unfinished" in log, "and what was left", log[-1500:])


def case_second_signal(env):
    """A second SIGTERM during the stop exits at once, long before --stop-timeout."""
    release = threading.Event()

    def handle(req):
        release.wait(30)
        return Reply(200, "OK", [], b"late")

    relay, target, agent = env.stack(handler=handle, relay_args=["--response-timeout", "30s"],
                                     agent_args=["--stop-timeout", "30s"])
    target.ignore_errors = True
    answer = []
    t = threading.Thread(target=lambda: answer.append(
        post(relay.port, "/t/alice/x", b"{}")), daemon=True)
    t.start()
    try:
        wait_until(lambda: len(seen(target)) == 1, 10, "the app holds the webhook")
        agent.proc.signal(signal.SIGTERM)
        wait_until(lambda: "stopping: finishing 1 forwards" in agent.proc.stderr(), 10,
                   "the agent begins its stop")
        check(agent.proc.alive(), "the agent waits for the forward in flight")
        sent_at = time.monotonic()
        agent.proc.signal(signal.SIGTERM)
        rc = agent.proc.wait_exit(10)
        took = time.monotonic() - sent_at
        t.join(20)
    finally:
        release.set()
    check_eq(rc, 0, "the agent exits 0 on the second signal")
    check(took < 2, "the second signal exits at once", "%.2fs" % took)
    check(answer and answer[0].status == 202, "the relay queued the dropped webhook",
          answer and answer[0].status)


if __name__ == "__main__":
    run([case_inflight_finish, case_queue_drain, case_deadline, case_deadline_mid_answer,
         case_second_signal])
