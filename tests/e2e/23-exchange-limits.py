#!/usr/bin/env python3
"""Limits on one exchange, on the relay's memory, and on the headers hookwire owns.

An answer that stops moving (the app stalls mid-body, or the sender stops reading)
is cut after --response-timeout and frees the agent's stream, so it cannot use up
--max-streams. Senders cannot forge Hookwire-* headers, and an app's Hookwire-Error
never reaches a sender. HEAD answers written by the relay have no body. An app
answer that lists Content-Length in Connection, or answers 101, is handled. The
agent does not resend a request once any byte of an answer arrived. Request bodies
held at once stay within --max-held (429 past it).
"""

import threading

from harness import (EVENT_ID_RE, HttpConn, Reply, build_request, check, check_eq, run,
                     wait_until)

HOST = ("Host", "hooks.example.test")


def streams(relay):
    return relay.metric("hookwire_relay_channel_streams", channel="alice")


def case_stalled_app_is_cut(env):
    release = threading.Event()
    body = b"y" * 100

    def handle(req):
        if req.target == "/stall":
            head = Reply(200, "OK", [], body).encode(req.method)[:-len(body)]
            return Reply(200, "OK", [], body, action="stall", partial=len(head) + 10,
                         release=release)
        return Reply(200, "OK", [], b"fine")

    relay, target, agent = env.stack(handler=handle, relay_args=["--response-timeout", "1s"])
    try:
        with HttpConn(relay.port) as c:
            c.send(build_request("POST", "/t/alice/stall", [HOST], b"{}"))
            c.sock.settimeout(10)
            raw = c.reader.rest()
        check(raw.startswith(b"HTTP/1.1 200 "), "the head went out", raw[:100])
        check_eq(raw.partition(b"\r\n\r\n")[2], b"y" * 10, "as far as the app got, then cut")
        wait_until(lambda: streams(relay) == 0, 5, "the agent's stream is freed")
        check("the answer stalled (nothing more came to send): closing" in relay.proc.stderr(),
              "the relay's log blames the answer, not the sender", relay.proc.stderr()[-1000:])
        wait_until(lambda: "POST /stall failed: timeout: the app did not answer" in
                   agent.proc.stderr(), 5, "the agent's log calls it the app's timeout")
    finally:
        release.set()
    resp = relay.webhook("POST", "/t/alice/ok", [HOST], b"{}")
    check_eq(resp.status, 200, "the channel still works")


def case_sender_not_reading(env):
    # Past what the sockets and the relay hold between them, so the answer has to stop.
    big = b"z" * (32 << 20)

    def handle(req):
        return Reply(200, "OK", [], big if req.target == "/big" else b"fine")

    relay, target, agent = env.stack(handler=handle, relay_args=[
        "--response-timeout", "1s", "--max-streams", "2"])
    target.ignore_errors = True  # the agent drops the app's connections it no longer reads
    idle = [HttpConn(relay.port) for _ in range(2)]
    try:
        for c in idle:
            c.send(build_request("POST", "/t/alice/big", [HOST], b"{}"))
        target.wait_requests(2)
        wait_until(lambda: streams(relay) == 0, 10,
                   "streams of senders that stopped reading are freed")
        check_eq(relay.proc.stderr().count("the peer stopped reading the answer: closing"), 2,
                 "the relay's log names the sender, twice")
        wait_until(lambda: agent.proc.stderr().count(
            "POST /big failed: cancelled by the relay: the webhook's sender stopped reading the "
            "answer") == 2, 5, "the agent's log does not blame the app")
        check("timeout" not in agent.proc.stderr(), "nor calls it a timeout",
              agent.proc.stderr()[-1000:])
        resp = relay.webhook("POST", "/t/alice/ok", [HOST], b"{}")
        check_eq((resp.status, resp.body), (200, b"fine"), "others are served, not 429")
    finally:
        for c in idle:
            c.close()


def case_forged_hookwire_headers(env):
    relay, target, agent = env.stack()
    resp = relay.webhook("POST", "/t/alice/x", [
        HOST, ("Hookwire-Event-Id", "evt_forged"), ("Hookwire-Verified", "true"),
        ("hookwire-attempt", "9"), ("X-Keep", "yes")], b"{}")
    check_eq(resp.status, 200, "forwarded")
    req = target.wait_requests(1)[-1]
    ids = req.header_values("Hookwire-Event-Id")
    check(len(ids) == 1 and EVENT_ID_RE.match(ids[0]) and ids[0] != "evt_forged",
          "only the relay's event id", ids)
    check_eq(req.header_values("Hookwire-Attempt"), ["1"], "only the relay's attempt")
    check_eq(req.header_values("Hookwire-Verified"), [], "no verdict on an unverified channel")
    check_eq(req.header("X-Keep"), "yes", "other headers pass")


def case_app_headers(env):
    def handle(req):
        if req.target == "/conn-length":
            return Reply(200, "OK", [("Connection", "Content-Length"), ("Content-Length", "5")],
                         b"hello")
        if req.target == "/fake-error":
            return Reply(500, "Oops", [("Hookwire-Error", "HW_FAKE")], b"app error")
        if req.target == "/upgrade":
            return Reply(101, "Switching Protocols", [("Upgrade", "x"), ("Connection", "Upgrade")],
                         b"", auto_length=False, send_body=False)
        return Reply(200, "OK", [], b"fine")

    relay, target, agent = env.stack(handler=handle)
    resp = relay.webhook("POST", "/t/alice/conn-length", [HOST], b"{}")
    check_eq((resp.status, resp.body), (200, b"hello"),
             "an answer whose Connection names Content-Length arrives whole")
    resp = relay.webhook("POST", "/t/alice/fake-error", [HOST], b"{}")
    check_eq((resp.status, resp.body), (500, b"app error"), "the app's own error passes")
    check_eq(resp.header("Hookwire-Error"), None, "but never with a Hookwire-Error header")
    resp = relay.webhook("POST", "/t/alice/upgrade", [HOST], b"{}")
    check_eq((resp.status, resp.header("Hookwire-Error")), (502, "HW_LOCAL_ERROR"),
             "a 101 from the app is an error")
    resp = relay.webhook("POST", "/t/alice/after", [HOST], b"{}")
    check_eq((resp.status, resp.body), (200, b"fine"), "the next webhook is fine")


def case_head_answers_have_no_body(env):
    relay, target, agent = env.stack()
    with HttpConn(relay.port) as c:
        for target_path in ("/healthz", "/t/nobody/x", "/nowhere"):
            c.send(build_request("HEAD", target_path, [HOST]))
            resp = c.read_response("HEAD")
            check_eq(resp.body, b"", "HEAD %s: no body" % target_path)
            c.send(build_request("GET", "/healthz", [HOST]))
            resp = c.read_response("GET")
            check_eq((resp.status, resp.body), (200, b"ok\n"),
                     "HEAD %s: the next answer on the connection is read intact" % target_path)


def case_no_resend_after_partial_answer(env):
    def handle(req):
        if req.target == "/second":
            return Reply(200, "OK", [], b"x" * 10, action="partial", partial=17)
        return Reply(200, "OK", [], b"first")

    relay, target, agent = env.stack(handler=handle)
    resp = relay.webhook("POST", "/t/alice/first", [HOST], b"{}")
    check_eq(resp.status, 200, "the first answer keeps the connection for reuse")
    resp = relay.webhook("POST", "/t/alice/second", [HOST], b"{}")
    check_eq((resp.status, resp.header("Hookwire-Error")), (502, "HW_LOCAL_ERROR"),
             "a broken answer is an error")
    seen = [r.target for r in target.wait_requests(2)]
    check_eq(seen.count("/second"), 1, "not resent once part of an answer arrived")


def case_held_bytes_budget(env):
    release = threading.Event()

    def handle(req):
        if req.target == "/hold":
            release.wait(20)
        return Reply(200, "OK", [], b"done")

    relay, target, agent = env.stack(handler=handle, relay_args=["--max-held", "1M"])
    held = relay.metric
    first = {}

    def slow_sender():
        first["resp"] = relay.webhook("POST", "/t/alice/hold", [HOST], b"a" * (700 << 10))

    t = threading.Thread(target=slow_sender)
    t.start()
    try:
        target.wait_requests(1)
        check_eq(held("hookwire_relay_held_bytes"), 700 << 10, "the first body is held")
        resp = relay.webhook("POST", "/t/alice/more", [HOST], b"b" * (500 << 10))
        check_eq((resp.status, resp.header("Hookwire-Error")), (429, "HW_OVERLOADED"),
                 "past --max-held the relay refuses more")
        check(resp.header("Retry-After") is not None, "with Retry-After")
        resp = relay.webhook("POST", "/t/alice/small", [HOST], b"c" * (100 << 10))
        check_eq(resp.status, 200, "a body that fits the budget still goes through")
    finally:
        release.set()
        t.join(20)
    check_eq(first["resp"].status, 200, "the held webhook completes")
    wait_until(lambda: held("hookwire_relay_held_bytes") == 0, 5, "all bytes released")
    resp = relay.webhook("POST", "/t/alice/more", [HOST], b"b" * (500 << 10))
    check_eq(resp.status, 200, "and the larger one fits now")


def case_host_rules(env):
    relay, target, agent = env.stack()
    for what, headers in (("HTTP/1.1 without Host", []),
                          ("two Host headers", [HOST, ("Host", "other.example")])):
        with HttpConn(relay.port) as c:
            c.send(build_request("POST", "/t/alice/x", headers, b"{}"))
            resp = c.read_response("POST")
        check_eq((resp.status, resp.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"), what)
    check_eq(target.count(), 0, "neither reached the app")
    with HttpConn(relay.port) as c:
        c.send(build_request("POST", "/t/alice/old", [], b"{}", version="HTTP/1.0"))
        resp = c.read_response("POST")
    check_eq(resp.status, 200, "HTTP/1.0 without Host is fine")
    req = target.wait_requests(1)[-1]
    check_eq(req.header("Host"), "localhost:%d" % target.port,
             "the app, spoken to in HTTP/1.1, gets a Host")
    resp = relay.webhook("POST", "/t/alice/conn", [HOST, ("Connection", "host, content-length")],
                         b"12345")
    check_eq(resp.status, 200, "Connection naming Host and Content-Length")
    req = target.wait_requests(2)[-1]
    check_eq((req.header("Host"), req.body), ("hooks.example.test", b"12345"),
             "cannot strip Host or the body's length")


if __name__ == "__main__":
    run([case_stalled_app_is_cut, case_sender_not_reading, case_forged_hookwire_headers,
         case_app_headers, case_head_answers_have_no_body, case_no_resend_after_partial_answer,
         case_held_bytes_budget, case_host_rules])
