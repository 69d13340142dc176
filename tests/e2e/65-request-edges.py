#!/usr/bin/env python3
"""Request bytes at the edges of HTTP/1.1 framing, on the relay's public port and on the
receiver: each gets a definite answer within a deadline, the program stays responsive for
other clients, and nothing is forwarded that should not be.

Empty lines before the request line (RFC 9112 2.2: ignored) are skipped however many there
are; two of them once made the head scan loop forever on the service thread.

The tunnel port's API takes no request body: an HTTP/1.0 keep-alive request that carries
one, with another request pipelined behind it, once made the relay's loop spin (lws went
on offering the pipelined bytes) so that neither port answered and SIGTERM went unheard; it
is answered, the connection closes, and the relay serves on.

A path that would lead out of the agent's --forward path once the app normalises it (a dot
or empty segment, an encoded slash, a '#') is refused by the relay with 400, as the receiver
does: the app never sees it.

A method longer than the stores keep (32 bytes) is a malformed request (400) on both,
not forwarded unrecorded by the relay nor answered 413 by the receiver.

A chunked body's trailer section and its chunk extensions are capped (64 KiB each): 100,000
trailer lines, or a chunk extension on every one-byte chunk, get 400 instead of being read
for as long as the sender keeps the body's rate floor.
"""

from harness import LOCALHOST, HttpConn, check, check_eq, get, run, wait_until
from hw_receiver import Receiver

HOST = b"Host: hooks.example.test\r\n"


def answer_to(port, data, timeout=5.0):
    """Sends data on a fresh connection; returns the first answer (a Response)."""
    with HttpConn(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response("POST")


def receiver(env, target):
    """A receiver with one GitHub source delivering to target, started."""
    return Receiver(env, "sqlite:" + env.path("receiver.db"), {"gh": [
        ("provider", "github"), ("secret", "s"),
        ("deliver-to", "http://%s:%d/hooks" % (LOCALHOST, target.port))]}).start()


def case_empty_lines_before_request(env):
    relay, target, agent = env.stack()
    rc = receiver(env, target)
    for n in (1, 2, 3, 8):
        lead = b"\r\n" * n
        r = answer_to(relay.port, lead + b"POST /t/alice/lead HTTP/1.1\r\n" + HOST +
                      b"Content-Length: 2\r\n\r\n{}")
        check_eq(r.status, 200, "relay: %d empty lines before the request line" % n)
        check_eq(get(relay.port, "/healthz").status, 200, "relay: still serving others")
        r = answer_to(rc.port, lead + b"GET /healthz HTTP/1.1\r\n" + HOST + b"\r\n")
        check_eq(r.status, 200, "receiver: %d empty lines before the request line" % n)
        check_eq(get(rc.port, "/healthz").status, 200, "receiver: still serving others")
    check_eq(len(target.requests), 4, "the app got each webhook once")
    check(all(req.target == "/lead" and req.body == b"{}" for req in target.requests),
          "as sent", [(q.target, q.body) for q in target.requests])


def case_relay_path_escapes(env):
    relay, target, agent = env.stack()
    for path in (b"/t/alice/../admin", b"/t/alice/x/%2e%2E/y", b"/t/alice//evil/x",
                 b"/t/alice/a%2fb", b"/t/alice/..;/x", b"/t/alice/x/..#", b"/t/alice/a\\b",
                 b"/t/alice/..%00", b"/t/alice/%252e%252e/x", b"/t/alice/%c0%ae%c0%ae/x",
                 b"/t/alice/%ef%bc%8e%ef%bc%8e/x", b"/t/alice/\xef\xbc\x8e\xef\xbc\x8e/x"):
        r = answer_to(relay.port, b"POST " + path + b" HTTP/1.1\r\n" + HOST +
                      b"Content-Length: 2\r\n\r\n{}")
        check_eq((r.status, r.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"), path)
    # Repeats of one warning are written 10 to a second: the last two are counted, later.
    wait_until(lambda: relay.proc.stderr().count("path refused (a dot or empty segment, an "
                                                 "encoded slash, a '#' or an escape a decoder "
                                                 "could misread)") == 10, 10,
               "the refused paths to be logged")
    r = answer_to(relay.port, b"POST /t/alice/v1.2/...?next=../x HTTP/1.1\r\n" + HOST +
                  b"Content-Length: 2\r\n\r\n{}")
    check_eq(r.status, 200, "dots inside a name, and in the query, pass")
    check_eq([q.target for q in target.wait_requests(1)], ["/v1.2/...?next=../x"],
             "the app saw only that one, as sent")


def case_tunnel_port_request_with_body(env):
    relay, target, agent = env.stack()
    second = b"POST /healthz HTTP/1.0\r\n" + HOST + b"Content-Length: 3\r\n\r\ndef"
    for version, extra in ((b"1.0", b"Connection: keep-alive\r\n"), (b"1.1", b"")):
        for path in (b"/healthz", b"/metrics", b"/api/events"):
            what = "HTTP/%s POST %s with a body and a pipelined request" % (
                version.decode(), path.decode())
            data = (b"POST " + path + b" HTTP/" + version + b"\r\n" + HOST + extra +
                    b"Content-Length: 3\r\n\r\nabc" + second)
            with HttpConn(relay.tunnel_port, timeout=5) as c:
                c.send(data)
                r = c.read_response("POST")
                check(r.status in (200, 401, 404), what + ": answered", r.status)
            for port, name in ((relay.tunnel_port, "tunnel"), (relay.port, "public")):
                check_eq(get(port, "/healthz").status, 200,
                         what + ": the %s port still answers" % name)
    r = relay.webhook("POST", "/t/alice/after", [("Host", "h")], b"{}")
    check_eq(r.status, 200, "webhooks still flow")


def case_tunnel_port_bodiless_post(env):
    """A POST, PUT or PATCH with no body declared, to any path of the tunnel port: answered,
    then closed, so that such requests cannot hold --max-tunnel-connections' slots for good
    (lws would wait for their body with no deadline)."""
    relay = env.relay(args=["--max-tunnel-connections", "8"])
    for method in (b"POST", b"PUT", b"PATCH"):
        for path in (b"/healthz", b"/metrics", b"/nowhere", b"/api/events/x/replay"):
            what = "%s %s with no body" % (method.decode(), path.decode())
            with HttpConn(relay.tunnel_port, timeout=5) as c:
                c.send(method + b" " + path + b" HTTP/1.1\r\n" + HOST + b"\r\n")
                r = c.read_response()
                check(r.status in (401, 404, 405), what + ": answered", r.status)
                check(c.closed_by_peer(5), what + ": then closed")
    check_eq(get(relay.tunnel_port, "/healthz").status, 200, "the tunnel port has room")


def case_chunked_framing_floods(env):
    relay, target, agent = env.stack()
    rc = receiver(env, target)
    floods = {
        "trailers": b"3\r\nabc\r\n0\r\n" + b"X-T: 1\r\n" * 100000 + b"\r\n",
        "extensions": b"1;ext=value\r\nx\r\n" * 20000 + b"0\r\n\r\n",
    }
    for what, body in floods.items():
        for port, path, name in ((relay.port, b"/t/alice/flood", "relay"),
                                 (rc.port, b"/api/webhooks/gh", "receiver")):
            with HttpConn(port, timeout=10) as c:
                c.send_background(b"POST " + path + b" HTTP/1.1\r\n" + HOST +
                                  b"Transfer-Encoding: chunked\r\n\r\n" + body)
                r = c.read_response("POST")
            check_eq((r.status, r.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"),
                     "%s: a chunked body with a flood of %s" % (name, what))
    check_eq(len(target.requests), 0, "nothing was forwarded")
    ok = b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
    with HttpConn(relay.port, timeout=10) as c:
        c.send(b"POST /t/alice/ok HTTP/1.1\r\n" + HOST +
               b"Transfer-Encoding: chunked\r\n\r\n" + ok)
        check_eq(c.read_response("POST").status, 200, "relay: a body with a trailer still passes")


def case_method_too_long(env):
    relay, target, agent = env.stack()
    rc = receiver(env, target)
    for port, path, name in ((relay.port, b"/t/alice/m", "relay"),
                             (rc.port, b"/api/webhooks/gh", "receiver")):
        r = answer_to(port, b"M" * 33 + b" " + path + b" HTTP/1.1\r\n" + HOST +
                      b"Content-Length: 2\r\n\r\n{}")
        check_eq((r.status, r.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"),
                 "%s: a method of 33 bytes" % name)
    check_eq(len(target.requests), 0, "nothing was forwarded")
    r = answer_to(relay.port, b"M" * 32 + b" /t/alice/m HTTP/1.1\r\n" + HOST +
                  b"Content-Length: 2\r\n\r\n{}")
    check_eq(r.status, 200, "relay: a method of 32 bytes passes")
    check_eq([q.method for q in target.requests], ["M" * 32], "as sent")


def case_http10_keep_alive(env):
    """An HTTP/1.0 request that asks to keep the connection gets "Connection: keep-alive" on
    an answer after which the connection stays open (a 1.0 client takes an answer without it
    as the last), and an error answer closes the connection."""
    relay, target, agent = env.stack()
    rc = receiver(env, target)
    ka = b"Connection: keep-alive\r\n"
    for port, first, name in ((relay.port, b"POST /t/alice/old HTTP/1.0\r\n" + HOST + ka +
                               b"Content-Length: 2\r\n\r\n{}", "relay webhook"),
                              (rc.port, b"GET /healthz HTTP/1.0\r\n" + HOST + ka + b"\r\n",
                               "receiver /healthz")):
        with HttpConn(port, timeout=5.0) as c:
            c.send(first)
            r = c.read_response("POST")
            check_eq((r.status, r.header("Connection")), (200, "keep-alive"), name)
            c.send(b"GET /healthz HTTP/1.0\r\n" + HOST + ka + b"\r\n")
            r = c.read_response("GET")
            check_eq((r.status, r.header("Connection")), (200, "keep-alive"),
                     name + ": a second request on the same connection")
            c.send(b"GET /nope HTTP/1.0\r\n" + HOST + ka + b"\r\n")
            r = c.read_response("GET")
            check_eq((r.status, r.header("Connection")), (404, "close"), name + ": an error")
            check(c.closed_by_peer(3.0), name + ": the connection closes after the error")
    with HttpConn(relay.port, timeout=5.0) as c:
        c.send(b"GET /healthz HTTP/1.1\r\n" + HOST + b"\r\n")
        r = c.read_response("GET")
        check_eq((r.status, r.header("Connection")), (200, None),
                 "HTTP/1.1: keep-alive goes without saying")


def case_invalid_host(env):
    """RFC 9112 3.2: a Host that is not a uri-host[:port] gets 400, on both programs."""
    relay, target, agent = env.stack()
    rc = receiver(env, target)
    for port, path, name in ((relay.port, b"/t/alice/h", "relay"),
                             (rc.port, b"/api/webhooks/gh", "receiver")):
        for host in (b"a b", b"evil.test/x", b"u@h"):
            r = answer_to(port, b"POST " + path + b" HTTP/1.1\r\nHost: " + host +
                          b"\r\nContent-Length: 2\r\n\r\n{}")
            check_eq((r.status, r.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"),
                     "%s: Host %r" % (name, host))
    check_eq(len(target.requests), 0, "nothing was forwarded")


run([case_empty_lines_before_request, case_tunnel_port_request_with_body,
     case_tunnel_port_bodiless_post,
     case_chunked_framing_floods, case_method_too_long, case_http10_keep_alive,
     case_invalid_host, case_relay_path_escapes])
