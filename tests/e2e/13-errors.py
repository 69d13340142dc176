#!/usr/bin/env python3
"""Every failure has its own status and Hookwire-Error code.

Each case provokes one failure for real (nothing is faked), checks the status,
the Hookwire-Error header and the text body, that the relay counted it in
hookwire_relay_errors_total{code=...}, and where it matters that the target
never saw the request.
"""

import os
import socket
import threading
import time

from harness import (AGENT_BIN, HttpConn, Proc, Reply, WebSocket, build_request, check,
                     check_eq, check_error, free_port, parse_hello, run, token_add, wait_until,
                     T_HELLO)
from hw_http import read_head

HOST = ("Host", "hooks.example.test")


def error_count(relay, code):
    return relay.metric("hookwire_relay_errors_total", code=code) or 0.0


def send_raw(port, data, method="POST"):
    """Sends bytes that the relay may answer before reading them all; returns the answer
    and whether the relay closed the connection afterwards."""
    with HttpConn(port) as c:
        c.send_background(data)
        resp = c.read_response(method)
        closed = c.closed_by_peer(5)
    return resp, closed


def gate():
    """An event the target waits on; set by the test when it wants the answer to go."""
    ev = threading.Event()
    return ev, (lambda: ev.wait(30))


def case_unknown_channel(env):
    relay, target, agent = env.stack()
    before = error_count(relay, "HW_UNKNOWN_CHANNEL")
    paths = ["/t/nobody/x", "/t/nobody", "/t/Alice/x", "/t/al_ice/x", "/t/" + "a" * 64 + "/x",
             "/t//x", "/t/alice%2Fx/y"]
    for path in paths:
        resp = relay.webhook("POST", path, [HOST], b"{}")
        check_error(resp, 404, "HW_UNKNOWN_CHANNEL", "POST " + path)
    check_eq(error_count(relay, "HW_UNKNOWN_CHANNEL") - before, float(len(paths)),
             "errors_total{HW_UNKNOWN_CHANNEL} counted each")
    # A valid 63-character name is just unknown, not invalid: same answer.
    resp = relay.webhook("POST", "/t/" + "b" * 63 + "/x", [HOST], b"{}")
    check_error(resp, 404, "HW_UNKNOWN_CHANNEL", "63-character unknown channel")
    check_eq(target.count(), 0, "the target never saw those requests")


def case_not_found(env):
    relay, target, agent = env.stack()
    before = error_count(relay, "HW_NOT_FOUND")
    paths = ["/", "/webhooks", "/t", "/tx/alice/x", "/T/alice/x", "/alice/x"]
    for path in paths:
        resp = relay.webhook("POST", path, [HOST], b"{}")
        check_error(resp, 404, "HW_NOT_FOUND", "POST " + path)
    check_eq(error_count(relay, "HW_NOT_FOUND") - before, float(len(paths)),
             "errors_total{HW_NOT_FOUND} counted each")
    check_eq(target.count(), 0, "the target never saw those requests")


def case_agent_offline(env):
    # Rejection is --offline reject; the default queues (60-offline-queue.py).
    relay, target, agent = env.stack(relay_args=["--offline", "reject"])
    relay.token_add("carol")
    before = error_count(relay, "HW_AGENT_OFFLINE")
    # The relay reads the token table every 200 ms: the new channel exists within a second.
    resp = wait_until(lambda: (lambda r: r if r.status != 404 else None)(
        relay.webhook("POST", "/t/carol/x", [HOST], b"{}")), 2, "carol's token reaches the relay")
    check_error(resp, 503, "HW_AGENT_OFFLINE", "channel with a token but no agent")
    ra = resp.header("Retry-After") or ""
    check(ra.isdigit() and int(ra) > 0, "503 carries Retry-After in seconds", ra)

    agent.stop()
    wait_until(lambda: not relay.channel_connected("alice"), 5, "alice disconnected")
    resp = relay.webhook("POST", "/t/alice/x", [HOST], b"{}")
    check_error(resp, 503, "HW_AGENT_OFFLINE", "channel whose agent stopped")
    check(resp.header("Retry-After"), "503 carries Retry-After after the agent left")
    check_eq(error_count(relay, "HW_AGENT_OFFLINE") - before, 2.0,
             "errors_total{HW_AGENT_OFFLINE}")
    check_eq(target.count(), 0, "the target never saw those requests")


def case_local_refused(env):
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    port = free_port()
    agent = env.agent(relay, token, "alice", port)
    resp = relay.webhook("POST", "/t/alice/x", [HOST], b"{}")
    check_error(resp, 502, "HW_LOCAL_REFUSED", "nothing listens on the target port")
    check_eq(error_count(relay, "HW_LOCAL_REFUSED"), 1.0, "errors_total{HW_LOCAL_REFUSED}")
    wait_until(lambda: "POST /x failed:" in agent.proc.stderr(), 5,
               "the agent's log line for the refused request")


def case_local_timeout(env):
    ev, wait = gate()

    def handle(req):
        if req.target == "/slow":
            wait()
        return Reply(200, "OK", [], b"late" if req.target == "/slow" else b"fast")

    relay, target, agent = env.stack(relay_args=["--response-timeout", "500ms"], handler=handle)
    target.ignore_errors = True  # its late answer may find the connection gone
    t0 = time.monotonic()
    resp = relay.webhook("POST", "/t/alice/slow", [HOST], b"{}")
    took = time.monotonic() - t0
    ev.set()
    check_error(resp, 504, "HW_LOCAL_TIMEOUT", "target slower than --response-timeout")
    check(0.45 <= took < 5.0, "the relay waited about --response-timeout (500ms)",
          "%.2fs" % took)
    check_eq(error_count(relay, "HW_LOCAL_TIMEOUT"), 1.0, "errors_total{HW_LOCAL_TIMEOUT}")
    resp = relay.webhook("POST", "/t/alice/fast", [HOST], b"{}")
    check_eq((resp.status, resp.body), (200, b"fast"), "a fast request still works afterwards")


def case_body_too_large(env):
    limit = 100000
    relay, target, agent = env.stack(relay_args=["--max-body", str(limit)])
    body = os.urandom(limit)
    resp = relay.webhook("POST", "/t/alice/ok", [HOST], body)
    check_eq(resp.status, 200, "a body of exactly --max-body is delivered")
    check_eq(target.wait_requests(1)[0].body, body, "that body at the target")

    # Announced too large: answered from the head alone, without waiting for the body.
    with HttpConn(relay.port) as c:
        c.send(build_request("POST", "/t/alice/big", [HOST, ("Content-Length", str(limit + 1))]))
        resp = c.read_response("POST")
    check_error(resp, 413, "HW_BODY_TOO_LARGE", "Content-Length one over --max-body")

    resp, closed = send_raw(relay.port, build_request("POST", "/t/alice/big", [HOST],
                                                      os.urandom(limit + 1)))
    check_error(resp, 413, "HW_BODY_TOO_LARGE", "body one over --max-body")
    check(closed, "the relay closes the connection after 413 (the body was not read)")

    resp, closed = send_raw(relay.port, build_request(
        "POST", "/t/alice/big", [HOST, ("Transfer-Encoding", "chunked")], os.urandom(limit + 1),
        chunks=[10000]))
    check_error(resp, 413, "HW_BODY_TOO_LARGE", "chunked body over --max-body")
    check_eq(error_count(relay, "HW_BODY_TOO_LARGE"), 3.0, "errors_total{HW_BODY_TOO_LARGE}")
    check_eq(target.count(), 1, "no oversized body reached the target")


def case_overloaded(env):
    ev, wait = gate()

    def handle(req):
        wait()
        return Reply(200, "OK", [], req.target.encode())

    relay, target, agent = env.stack(relay_args=["--max-streams", "2"], handler=handle)
    results = {}

    def send(name):
        results[name] = relay.webhook("POST", "/t/alice/" + name, [HOST], b"{}")

    held = [threading.Thread(target=send, args=(n,), daemon=True) for n in ("one", "two")]
    for t in held:
        t.start()
    try:
        target.wait_requests(2, timeout=10)
        resp = relay.webhook("POST", "/t/alice/three", [HOST], b"{}")
    finally:
        ev.set()
    check_error(resp, 429, "HW_OVERLOADED", "a third request with --max-streams 2")
    ra = resp.header("Retry-After") or ""
    check(ra.isdigit(), "429 carries Retry-After in seconds", ra)
    for t in held:
        t.join(30)
    for n in ("one", "two"):
        check_eq((results[n].status, results[n].body), (200, b"/" + n.encode()),
                 "held request %s completes once the target answers" % n)
    check_eq(target.count(), 2, "the refused request never reached the target")
    check_eq(error_count(relay, "HW_OVERLOADED"), 1.0, "errors_total{HW_OVERLOADED}")
    resp = relay.webhook("POST", "/t/alice/four", [HOST], b"{}")
    check_eq(resp.status, 200, "requests flow again below the limit")


def case_bad_request(env):
    """Each malformed request gets 400 HW_BAD_REQUEST and a closed connection, and the relay's
    log line for it names the rule it broke."""
    relay, target, agent = env.stack()
    head = b"POST /t/alice/x HTTP/1.1\r\nHost: h\r\n"
    no_colon = ("a header line without a name and colon (obs-fold, a space before the colon, "
                "no colon)")
    bad = [
        ("not HTTP", b"NOT HTTP AT ALL\r\n\r\n", "a version other than HTTP/1.0 or HTTP/1.1"),
        ("header line without a colon", head + b"Bad Header Line\r\n\r\n", no_colon),
        ("space before the colon", head + b"X-Bad : v\r\n\r\n", no_colon),
        ("non-numeric Content-Length", head + b"Content-Length: abc\r\n\r\n",
         "a Content-Length that is not a number of bytes"),
        ("conflicting Content-Lengths", head + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n"
         b"hello!", "two different Content-Length values"),
        ("Content-Length with Transfer-Encoding",
         head + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         "Content-Length with Transfer-Encoding"),
        ("bad chunk size", head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
         "a malformed chunked body"),
        ("control character in the target", b"GET /t/alice/\x01x HTTP/1.1\r\nHost: h\r\n\r\n",
         "a request target that is empty or holds a control character"),
        ("two Host headers", b"GET /t/alice/x HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n",
         "two Host headers"),
        ("a bare LF", b"GET /t/alice/x HTTP/1.1\nHost: h\n\n", "a line ending in LF without CR"),
    ]
    for what, data, rule in bad:
        resp, closed = send_raw(relay.port, data)
        check_error(resp, 400, "HW_BAD_REQUEST", what)
        check(closed, what + ": the relay closes the connection after 400")
        line = "-> 400 HW_BAD_REQUEST (%s)" % rule
        wait_until(lambda: line in relay.proc.stderr(), 5, what + ": the log line names the rule")
    check_eq(error_count(relay, "HW_BAD_REQUEST"), float(len(bad)), "errors_total{HW_BAD_REQUEST}")
    check_eq(target.count(), 0, "no malformed request reached the target")


def case_headers_too_large(env):
    relay, target, agent = env.stack()
    big = b"X-Big: " + b"v" * (60 * 1024)
    resp = relay.webhook("POST", "/t/alice/x", [HOST, big], b"{}")
    check_eq(resp.status, 200, "a 60 KiB head is accepted")
    check(big in target.wait_requests(1)[0].header_lines, "the 60 KiB header arrives intact")

    huge = b"X-Huge: " + b"v" * (70 * 1024)
    resp, closed = send_raw(relay.port, build_request("POST", "/t/alice/x", [HOST, huge], b"{}"))
    check_error(resp, 431, "HW_HEADERS_TOO_LARGE", "a 70 KiB header line")
    many = [b"X-Many-%05d: %s" % (i, b"w" * 60) for i in range(1100)]
    resp, closed = send_raw(relay.port, build_request("POST", "/t/alice/x", [HOST] + many, b"{}"))
    check_error(resp, 431, "HW_HEADERS_TOO_LARGE", "a head over 64 KiB in many lines")
    check_eq(error_count(relay, "HW_HEADERS_TOO_LARGE"), 2.0, "errors_total{HW_HEADERS_TOO_LARGE}")
    check_eq(target.count(), 1, "no oversized head reached the target")


def case_agent_disconnected(env):
    ev, wait = gate()

    def handle(req):
        wait()
        return Reply(200, "OK", [], b"too late")

    # 502 is --offline reject; the default keeps the webhook (60-offline-sigstop.py).
    relay, target, agent = env.stack(handler=handle, relay_args=["--offline", "reject"])
    target.ignore_errors = True  # the agent it answers is gone
    out = {}
    t = threading.Thread(target=lambda: out.update(
        r=relay.webhook("POST", "/t/alice/x", [HOST], b"{}")), daemon=True)
    t.start()
    try:
        target.wait_requests(1, timeout=10)
        agent.kill()
        t.join(10)
    finally:
        ev.set()
    check("r" in out, "the sender got an answer after the agent died")
    check_error(out["r"], 502, "HW_AGENT_DISCONNECTED", "agent killed mid-request")
    check_eq(error_count(relay, "HW_AGENT_DISCONNECTED"), 1.0,
             "errors_total{HW_AGENT_DISCONNECTED}")


def case_local_error(env):
    behaviours = {
        "/close": Reply(action="close"),
        "/garbage": Reply(action="garbage"),
        "/s999": Reply(999, "Odd", [], b"x"),
        "/partial-head": Reply(200, "OK", [("Content-Type", "text/plain")], b"x" * 100,
                               action="partial", partial=20),
    }

    def handle(req):
        return behaviours.get(req.target) or Reply(200, "OK", [], b"fine")

    relay, target, agent = env.stack(handler=handle)
    for path in behaviours:
        resp = relay.webhook("POST", "/t/alice" + path, [HOST], b"{}")
        check_error(resp, 502, "HW_LOCAL_ERROR", "target " + path[1:])
    check_eq(error_count(relay, "HW_LOCAL_ERROR"), float(len(behaviours)),
             "errors_total{HW_LOCAL_ERROR}")
    # The agent's log line says what was wrong with the app's answer, not just "malformed".
    wait_until(lambda: "POST /garbage failed: malformed answer head: a malformed status line"
               in agent.proc.stderr(), 5, "the agent's log line names the broken rule")
    check("POST /s999 failed: malformed answer head: status 999 is outside 100-599"
          in agent.proc.stderr(), "a status past 599 is a failure in the agent's log too",
          agent.proc.stderr()[-1500:])

    resp = relay.webhook("POST", "/t/alice/fine", [HOST], b"{}")
    check_eq((resp.status, resp.body), (200, b"fine"), "the tunnel still works afterwards")


def case_early_answer_then_reset(env):
    """An app that answers 413 from the head alone and closes without reading the 3 MiB body
    (the close resets the connection): its answer was sent before the reset, and the sender
    gets it, not a 502 for a connection closed early."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def app():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            read_head(conn)
            conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n"
                         b"Connection: close\r\n\r\ntoo big!")
            conn.close()  # the body is unread: the kernel resets the connection

    threading.Thread(target=app, daemon=True).start()
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    agent = env.agent(relay, token, "alice", srv.getsockname()[1])
    try:
        resp = relay.webhook("POST", "/t/alice/upload", [HOST], os.urandom(3 << 20))
        check_eq((resp.status, resp.body), (413, b"too big!"), "the app's own answer")
    finally:
        srv.close()
    check("failed: the target closed the connection early" not in agent.proc.stderr(),
          "the agent does not call it a failure", agent.proc.stderr()[-1500:])


def case_target_closes_mid_body(env):
    """The target sends its head and part of the body, then closes. The sender gets either
    that head and exactly the bytes the target sent before the connection ends (when the
    relay had started answering), or a clean 502 HW_LOCAL_ERROR (when it had not); never an
    empty reply. Repeated, since which one happens depends on timing."""
    body = b"y" * 100
    head = Reply(200, "OK", [("Content-Type", "text/plain")], body).encode("POST")[:-len(body)]
    cut = 10

    def handle(req):
        if req.target != "/partial-body":
            return Reply(200, "OK", [], b"fine")
        return Reply(200, "OK", [("Content-Type", "text/plain")], body, action="partial",
                     partial=len(head) + cut)

    relay, target, agent = env.stack(handler=handle)
    outcomes = {"cut short": 0, "502": 0}
    for i in range(100):
        what = "round %d" % i
        with HttpConn(relay.port) as c:
            c.send(build_request("POST", "/t/alice/partial-body", [HOST], b"{}"))
            c.sock.settimeout(10)
            data = c.reader.rest()
        check(data, what + ": the sender gets an answer, not an empty reply (%s so far)" %
              outcomes)
        if data.startswith(b"HTTP/1.1 200 "):
            check_eq(data, head + body[:cut],
                     what + ": the answer is cut short where the target stopped")
            outcomes["cut short"] += 1
        else:
            check(data.startswith(b"HTTP/1.1 502 ") and
                  b"\r\nHookwire-Error: HW_LOCAL_ERROR\r\n" in data,
                  what + ": otherwise a 502 HW_LOCAL_ERROR", data[:300])
            outcomes["502"] += 1
    print("      outcomes: %s" % outcomes)
    resp = relay.webhook("POST", "/t/alice/fine", [HOST], b"{}")
    check_eq((resp.status, resp.body), (200, b"fine"), "the tunnel still works afterwards")


def case_unauthorized(env):
    relay, target, agent = env.stack()
    for what, token, extra in (("no Authorization", None, []),
                               ("wrong token", "hwt_" + os.urandom(32).hex(), []),
                               ("empty bearer", "", []),
                               ("Basic credentials", None, [("Authorization", "Basic YTpi")])):
        h = WebSocket.connect(relay.tunnel_port, token=token, headers=extra)
        check_eq(h.status, 401, what + ": upgrade status")
        check_error(h.response, 401, "HW_UNAUTHORIZED", what)
    # One channel, one agent: the token's own agent steps aside first (70-one-agent.py).
    agent.stop()
    wait_until(lambda: not relay.channel_connected("alice"), 5, "alice's agent is gone")
    h = WebSocket.connect(relay.tunnel_port, token=agent.token)
    check_eq(h.status, 101, "the right token upgrades")
    mtype, _, stream, payload = h.ws.recv_tunnel(5)
    check_eq((mtype, stream, parse_hello(payload)[2]), (T_HELLO, 0, "alice"),
             "the relay says HELLO for channel alice")
    h.ws.close()

    bad = Proc(env, "agent-wrong-token",
               [AGENT_BIN, "--relay", relay.ws_url, "--forward", str(target.port)],
               {"HOOKWIRE_TOKEN": "hwt_" + os.urandom(32).hex()})
    rc = bad.wait_exit(15)
    check_eq(rc, 1, "an agent with a wrong token exits with status 1")
    check("401" in bad.stderr(), "its log says the relay answered 401", bad.stderr())


if __name__ == "__main__":
    run([case_unknown_channel, case_not_found, case_agent_offline, case_local_refused,
         case_local_timeout, case_body_too_large, case_overloaded, case_bad_request,
         case_headers_too_large, case_agent_disconnected, case_local_error,
         case_target_closes_mid_body, case_unauthorized, case_early_answer_then_reset])
