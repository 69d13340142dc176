#!/usr/bin/env python3
"""A live webhook the relay could not see through is recorded failed with what really
happened, on SQLite and on MariaDB, as `GET /api/events/ID` on the tunnel port shows it:
the app not answering within --response-timeout is a timeout (the sender got 504), and a
sender that closes its connection first is named as such. A queued event whose attempt the
agent resets (the app closed the connection without an answer) keeps the agent's own words,
as a live one does. Needs HOOKWIRE_TEST_MYSQL_URL (or
HOOKWIRE_TEST_NO_MYSQL=1).
"""

import json
import socket
import threading

from harness import LOCALHOST, Reply, check, check_eq, request, run, token_add, wait_until
from offline_util import HOST, queue_one, stack, stores


def last_event_id(target):
    """The Hookwire-Event-Id of the last request the app received."""
    with target.cond:
        return target.requests[-1].header("Hookwire-Event-Id")


def history(relay, token, evt):
    """GET /api/events/ID with the channel's token: the event as JSON."""
    r = request(relay.tunnel_port, "GET", "/api/events/" + evt,
                [("Host", "%s:%d" % (LOCALHOST, relay.tunnel_port)),
                 ("Authorization", "Bearer " + token)])
    check_eq(r.status, 200, "GET /api/events/%s" % evt)
    return json.loads(r.body)


def recorded_failed(relay, token, evt, what):
    """Waits for the event to be recorded; returns its one attempt's error."""
    def failed():
        doc = history(relay, token, evt)
        return doc["status"] == "failed" and doc
    doc = wait_until(failed, 10, what + ": the webhook is recorded failed")
    check_eq(len(doc["attempts_list"]), 1, what + ": one attempt")
    check_eq(doc["attempts_list"][0]["http_status"], 0, what + ": the app's status (none)")
    return doc["attempts_list"][0]["error"]


def case_causes(env):
    release = threading.Event()

    def handler(req):
        seq = req.header("X-Seq")
        if seq in ("slow", "gone"):
            release.wait(30)
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")

    for kind, store in stores(env):
        release.clear()
        token = token_add(env, store, "alice")
        relay = env.relay(store=store, args=["--response-timeout", "2s"])
        target = env.target(handler)
        target.ignore_errors = True  # the relay gives up on the held answers on purpose
        agent = env.agent(relay, token, "alice", target.port)

        # 1. No answer within --response-timeout: the sender gets 504.
        resp = relay.webhook("POST", "/t/alice/slow", [HOST, ("X-Seq", "slow")], b"{}")
        check_eq(resp.status, 504, kind + ": the app's silence is answered 504")
        evt = last_event_id(target)
        err = recorded_failed(relay, token, evt, kind + " timeout")
        check(err.startswith("timeout:") and "504" in err and "--response-timeout" in err,
              kind + ": the timeout is recorded as a timeout, with the sender's 504", err)

        # 2. The sender closes its connection while the app is still working.
        before = target.count()
        sock = socket.create_connection((LOCALHOST, relay.port), timeout=10)
        sock.sendall(b"POST /t/alice/gone HTTP/1.1\r\nHost: hooks.example.test\r\n"
                     b"X-Seq: gone\r\nContent-Length: 2\r\n\r\n{}")
        wait_until(lambda: target.count() > before, 10, kind + ": the app has the webhook")
        sock.close()
        evt = last_event_id(target)
        err = recorded_failed(relay, token, evt, kind + " sender gone")
        check_eq(err, "the sender closed the connection before the answer",
                 kind + ": the sender's close is recorded as such")
        release.set()
        agent.stop()
        relay.stop()


def case_queued_reset_keeps_the_agents_words(env):
    def handler(req):
        return Reply(action="close")  # no answer at all

    for kind, store in stores(env):
        relay, target, agent = stack(env, store, handler=handler,
                                     relay_args=["--queue-retries", "1"])
        target.ignore_errors = True
        evt = queue_one(relay, 0)
        token = agent.token
        agent.start()
        err = recorded_failed(relay, token, evt, kind + " queued, app closed")
        check(err.startswith("the agent reset the stream: ") and "closed" in err,
              kind + ": the queued attempt's error is the agent's own words", err)
        agent.stop()
        relay.stop()


if __name__ == "__main__":
    run([case_causes, case_queued_reset_keeps_the_agents_words])
