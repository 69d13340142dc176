#!/usr/bin/env python3
"""Two protocol details at the relay's two ports.

An upgrade to /tunnel with a valid token but without the hookwire.v1 subprotocol is
refused (400, never 101: it would live on as a WebSocket no agent code serves), and
an agent with the subprotocol still connects. An HTTP/1.0 sender's
"Expect: 100-continue" is ignored (RFC 9110 10.1.1): no interim 100, just the answer;
an HTTP/1.1 sender still gets its 100 Continue, unless its channel does not exist (404 at
once). A CONNECT is answered 404 and the connection closed.
"""

from harness import HttpConn, WebSocket, build_request, check, check_eq, run, wait_until

HOST = ("Host", "hooks.example.test")


def case_upgrade_without_subprotocol(env):
    relay, target, agent = env.stack()
    token = agent.token
    for sub in (None, "chat", "http"):
        h = WebSocket.connect(relay.tunnel_port, token=token, subprotocol=sub)
        check(h.status != 101, "no 101 without hookwire.v1 (offered %r)" % sub, h.status)
        check_eq(h.status, 400, "refused as a bad request")
        check_eq(h.response.header("Hookwire-Error"), "HW_BAD_REQUEST", "its code")
    check(relay.channel_connected("alice"), "the real agent stays connected")
    # One channel, one agent: the real agent steps aside before the raw upgrade takes alice.
    agent.stop()
    wait_until(lambda: not relay.channel_connected("alice"), 5, "the real agent is gone")
    h = WebSocket.connect(relay.tunnel_port, token=token)
    check_eq(h.status, 101, "with hookwire.v1 the upgrade goes through")
    h.ws.sock.close()


def case_http10_expect_continue(env):
    relay, target, agent = env.stack()
    with HttpConn(relay.port) as c:
        c.send(build_request("POST", "/t/alice/old", [HOST, ("Expect", "100-continue"),
                                                      ("Content-Length", "2")],
                             version="HTTP/1.0"))
        c.send(b"{}")
        resp = c.read_response("POST")
    check_eq(resp.interim, [], "no 100 Continue for an HTTP/1.0 sender")
    check_eq(resp.status, 200, "the app's answer")
    check_eq(target.wait_requests(1)[-1].body, b"{}", "the body reached the app")
    with HttpConn(relay.port) as c:
        c.send(build_request("POST", "/t/alice/new", [HOST, ("Expect", "100-continue"),
                                                      ("Content-Length", "2")]))
        c.send(b"{}")
        resp = c.read_response("POST")
    check_eq(resp.interim, [100], "HTTP/1.1 still gets 100 Continue")
    check_eq(resp.status, 200, "then the app's answer")


def case_expect_unknown_channel(env):
    """A sender that waits for 100 Continue on a channel that does not exist gets its 404 at
    once, not an invitation to send the body first."""
    relay, target, agent = env.stack()
    with HttpConn(relay.port) as c:
        c.send(build_request("POST", "/t/nobody/x", [HOST, ("Expect", "100-continue"),
                                                     ("Content-Length", "2")]))
        resp = c.read_response("POST")
        check_eq(resp.interim, [], "no 100 Continue for a channel that does not exist")
        check_eq((resp.status, resp.header("Hookwire-Error")), (404, "HW_UNKNOWN_CHANNEL"),
                 "its 404, before any body")
        check_eq(c.reader.rest(), b"", "and the connection ends")


def case_connect_ends_the_connection(env):
    """What follows a CONNECT is tunnel data (RFC 9110 9.3.6): the relay answers 404 and
    closes, and never reads those bytes as another webhook."""
    relay, target, agent = env.stack()
    with HttpConn(relay.port) as c:
        c.send(b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n" +
               build_request("POST", "/t/alice/smuggled", [HOST, ("Content-Length", "2")]) +
               b"{}")
        resp = c.read_response("CONNECT")
        check_eq((resp.status, resp.header("Connection")), (404, "close"), "404, closing")
        check_eq(c.reader.rest(), b"", "nothing more is answered")
    check_eq(target.count(), 0, "the bytes after the CONNECT never reached the app")
    # A CONNECT whose target is a webhook path is no webhook either: nothing reaches the app.
    with HttpConn(relay.port) as c:
        c.send(b"CONNECT /t/alice/ HTTP/1.1\r\nHost: x\r\n\r\n" +
               build_request("POST", "/t/alice/smuggled", [HOST, ("Content-Length", "2")]) +
               b"{}")
        resp = c.read_response("CONNECT /t/alice/")
        check_eq((resp.status, resp.header("Connection")), (404, "close"),
                 "CONNECT /t/alice/: 404, closing")
        check_eq(c.reader.rest(), b"", "nothing more is answered")
    check_eq(target.count(), 0, "neither the CONNECT nor what followed it reached the app")


run([case_upgrade_without_subprotocol, case_http10_expect_continue, case_expect_unknown_channel,
     case_connect_ends_the_connection])
