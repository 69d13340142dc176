#!/usr/bin/env python3
"""Live passthrough: the target's answer comes back to the sender.

Status, reason, header lines (case, order, duplicates; hop-by-hop dropped) and
body, for 2xx, 3xx, 4xx and 5xx answers, chunked answers, HEAD, and several
requests on one client connection.
"""

import os
import threading

from harness import (CheckFailed, HttpConn, Reply, build_request, check, check_eq, run, sha256,
                     split_header_line)

HOST = ("Host", "hooks.example.test")

# Lines the relay may add for its own hop to the sender.
OWN_HOP_LINES = {b"connection: close", b"transfer-encoding: chunked"}


def target_lines(reply):
    """What the sender must get from the target's header lines: all but hop-by-hop."""
    lines = reply.header_lines()
    named = set()
    for l in lines:
        n, v = split_header_line(l)
        if n.lower() == "connection":
            named |= {t.strip().lower() for t in v.split(",")}
    hop = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
           "proxy-connection"} | named
    return [l for l in lines if split_header_line(l)[0].lower() not in hop]


def sender_lines(resp):
    return [l for l in resp.header_lines if l.lower() not in OWN_HOP_LINES]


def answer_headers(status):
    return [
        ("Content-Type", "application/json; charset=utf-8"),
        b"x-lower-case: v1",
        b"X-UPPER-CASE: V2",
        b"X-MiXeD-cAsE: v3",
        b"Set-Cookie: a=1; Path=/",
        b"X-Between: x",
        b"set-cookie: b=2; HttpOnly",
        b"X-Spaces:   padded  value   ",
        b"X-Status: %d" % status,
        b"Connection: X-Target-Hop",
        b"X-Target-Hop: must not come back",
        b"Keep-Alive: timeout=5, max=100",
    ]


STATUSES = [
    (200, "OK", []),
    (201, "Created Here", [("Location", "/things/42")]),
    (204, "No Content", []),
    (302, "Found", [("Location", "https://example.test/elsewhere?x=1")]),
    (404, "Nothing Here", []),
    (500, "Internal Server Error", []),
    (503, "Down For Maintenance", [("Retry-After", "7")]),
]


def case_statuses(env):
    replies = {}

    def handle(req):
        return replies[req.target]

    relay, target, agent = env.stack(handler=handle)
    for status, reason, extra in STATUSES:
        body = b"" if status == 204 else (b'{"status":%d,"pad":"%s"}' %
                                           (status, os.urandom(8).hex().encode()))
        reply = Reply(status, reason, answer_headers(status) + extra, body)
        replies["/s/%d" % status] = reply
        what = "answer %d" % status
        resp = relay.webhook("POST", "/t/alice/s/%d" % status, [HOST], b"payload")
        check_eq(resp.status, status, what + ": status")
        check_eq(resp.reason, reason, what + ": reason phrase")
        check_eq(sender_lines(resp), target_lines(reply), what + ": header lines")
        check_eq(resp.body, body, what + ": body")
        check(resp.header("Hookwire-Error") is None, what + ": no Hookwire-Error on the "
              "target's own answer", resp.header("Hookwire-Error"))


def case_204_without_length(env):
    """No server may send Content-Length with a 204 (RFC 9110 8.6): the relay drops an app's."""
    def handle(req):
        if req.target == "/n":
            return Reply(204, "No Content", [("Content-Length", "0"), ("X-Kept", "yes")], b"")
        return Reply(200, "OK", [], b"after-204")

    relay, target, agent = env.stack(handler=handle)
    with HttpConn(relay.port) as c:
        resp = c.request("POST", "/t/alice/n", [HOST], b"x")
        check_eq(resp.status, 204, "204: status")
        check_eq(resp.header("Content-Length"), None, "204: the app's Content-Length is dropped")
        check_eq(resp.header("X-Kept"), "yes", "204: the app's other headers pass")
        resp = c.request("POST", "/t/alice/after", [HOST], b"y")
        check_eq((resp.status, resp.body), (200, b"after-204"),
                 "the next answer on the same connection")


def case_chunked_response(env):
    body = os.urandom(700 * 1024)
    reply = Reply(200, "OK", [("Content-Type", "application/octet-stream"), b"X-Odd: 1"], body,
                  chunked=True, chunks=[1, 10, 65536, 300000, 5])
    relay, target, agent = env.stack(handler=lambda req: reply)
    resp = relay.webhook("POST", "/t/alice/c", [HOST], b"x")
    check_eq(resp.status, 200, "chunked answer: status")
    check(resp.chunked, "a chunked target answer is re-chunked to an HTTP/1.1 sender",
          resp.header_lines)
    check_eq(resp.header("Content-Length"), None, "chunked answer: no Content-Length")
    check_eq(sender_lines(resp), target_lines(reply), "chunked answer: header lines")
    check_eq(resp.body, body, "chunked answer: body")


def case_head(env):
    def handle(req):
        if req.method == "HEAD":
            return Reply(200, "OK", [("Content-Type", "text/plain"), ("Content-Length", "1234"),
                                     ("X-Head", "yes")], b"", send_body=False)
        return Reply(200, "OK", [("X-After", "head")], b"after-head")

    relay, target, agent = env.stack(handler=handle)
    with HttpConn(relay.port) as c:
        resp = c.request("HEAD", "/t/alice/h", [HOST])
        check_eq(resp.status, 200, "HEAD: status")
        check_eq(resp.header("Content-Length"), "1234", "HEAD: the target's Content-Length")
        check_eq(resp.header("X-Head"), "yes", "HEAD: the target's headers")
        check_eq(target.wait_requests(1)[0].method, "HEAD", "HEAD reaches the target as HEAD")
        # No body bytes may follow a HEAD answer: the next answer must parse cleanly.
        resp = c.request("GET", "/t/alice/after", [HOST])
        check_eq(resp.status, 200, "GET after HEAD on the same connection: status")
        check_eq(resp.body, b"after-head", "GET after HEAD: body")


def case_keepalive(env):
    def handle(req):
        return Reply(200, "OK", [("X-Path", req.target), ("X-Body-Sha256", sha256(req.body))],
                     b"answer to " + req.target.encode() + b" " + req.body[:16])

    relay, target, agent = env.stack(handler=handle)
    bodies = [b"", b"small", os.urandom(100000), b"", os.urandom(3), os.urandom(70000)]
    with HttpConn(relay.port) as c:
        for i, body in enumerate(bodies):
            method = "POST" if body else "GET"
            resp = c.request(method, "/t/alice/k/%d" % i, [HOST], body)
            what = "request %d on one connection" % i
            check_eq(resp.status, 200, what + ": status")
            check_eq(resp.header("X-Path"), "/k/%d" % i, what + ": its own answer")
            check_eq(resp.header("X-Body-Sha256"), sha256(body), what + ": body at the target")
            check_eq(resp.body, b"answer to /k/%d " % i + body[:16], what + ": body")
            check(resp.header("Connection") is None or resp.header("Connection").lower() !=
                  "close", what + ": the relay keeps the connection open",
                  resp.header("Connection"))

        # Pipelined: three requests in one write, answers in order.
        c.send(b"".join(build_request("POST", "/t/alice/p/%d" % i, [HOST], b"p%d" % i)
                        for i in range(3)))
        for i in range(3):
            resp = c.read_response("POST")
            check_eq(resp.header("X-Path"), "/p/%d" % i, "pipelined answer %d in order" % i)

        # Connection: close from the sender is honoured after the answer.
        resp = c.request("GET", "/t/alice/last", [HOST, ("Connection", "close")])
        check_eq(resp.status, 200, "last request: status")
        check(c.closed_by_peer(), "the relay closes after a Connection: close request")
    check_eq(len(target.requests), len(bodies) + 4, "the target got every request once")


def case_close_after_big_answer(env):
    """When the relay closes the sender's connection after the answer (Connection: close, or
    an HTTP/1.0 sender whose answer has no length), every byte must be sent first."""
    big = os.urandom(2 * 1024 * 1024)

    def handle(req):
        if req.target == "/chunked":
            return Reply(200, "OK", [("Content-Type", "application/octet-stream")], big,
                         chunked=True, chunks=[65536])
        return Reply(200, "OK", [("Content-Type", "application/octet-stream")], big)

    relay, target, agent = env.stack(handler=handle)
    rounds = 20
    for i in range(rounds):
        for what, path, headers, version in (
                ("HTTP/1.1 sender with Connection: close", "/length",
                 [HOST, ("Connection", "close")], "HTTP/1.1"),
                ("HTTP/1.0 sender, chunked target answer", "/chunked", [HOST], "HTTP/1.0")):
            what = "round %d of %d, %s" % (i, rounds, what)
            with HttpConn(relay.port) as c:
                c.send(build_request("GET", "/t/alice" + path, headers, version=version))
                try:
                    resp = c.read_response("GET")
                except EOFError as e:
                    raise CheckFailed("%s: the answer was cut short (%s)" % (what, e)) from None
            check_eq(resp.status, 200, what + ": status")
            check(not resp.chunked, what + ": no chunked framing", resp.header_lines)
            check_eq(resp.body, big, what + ": body")


def case_pipelined_big_body(env):
    """A pipelined request with a large body (over the relay's 128 KiB buffer for unparsed
    input) behind one that is still being answered: both get their answers, in order."""
    sent = threading.Event()

    def handle(req):
        if req.target == "/first":
            # Answer once the second request is on its way, so that it arrives while the
            # relay still waits for this answer (bounded: a relay that stops reading is fine).
            sent.wait(2)
        return Reply(200, "OK", [("X-Path", req.target), ("X-Body-Sha256", sha256(req.body))],
                     b"answer to " + req.target.encode())

    relay, target, agent = env.stack(handler=handle)
    second = os.urandom(200 * 1024)
    data = (build_request("POST", "/t/alice/first", [HOST], b"one") +
            build_request("POST", "/t/alice/second", [HOST], second))
    with HttpConn(relay.port) as c:
        def send():
            try:
                c.sock.sendall(data)
            except OSError as e:
                c.send_error = e
            sent.set()
        t = threading.Thread(target=send, daemon=True)
        t.start()
        for path, body in (("/first", b"one"), ("/second", second)):
            try:
                resp = c.read_response("POST")
            except EOFError as e:
                raise CheckFailed("pipelined %s: the relay closed the connection instead of "
                                  "answering (%s); the target got %s" % (
                                      path, e, [r.target for r in target.requests])) from None
            check_eq((resp.status, resp.header("X-Path")), (200, path),
                     "pipelined answers come in order")
            check_eq(resp.header("X-Body-Sha256"), sha256(body), "pipelined %s: body" % path)
        t.join(10)
    check_eq([r.target for r in target.requests], ["/first", "/second"],
             "the target got both requests once")


def case_keepalive_big_bodies(env):
    """A client that sends its next request as soon as it has read the previous answer must
    not be cut off, whatever the size of that request's body (over the relay's 128 KiB
    unparsed-input buffer here). Bodies are made beforehand so requests follow at once."""
    def handle(req):
        return Reply(200, "OK", [("X-Body-Sha256", sha256(req.body))], b"ok")

    relay, target, agent = env.stack(handler=handle)
    rounds = 50
    bodies = [os.urandom(200 * 1024) for _ in range(rounds)]
    for i, body in enumerate(bodies):
        with HttpConn(relay.port) as c:
            resp = c.request("POST", "/t/alice/first", [HOST], b"small")
            check_eq(resp.status, 200, "round %d: first request" % i)
            try:
                resp = c.request("POST", "/t/alice/second", [HOST], body)
            except (EOFError, OSError) as e:
                raise CheckFailed(
                    "round %d of %d: the relay closed the keep-alive connection instead of "
                    "answering a second request with a %d-byte body (%r)" % (i, rounds,
                                                                            len(body), e)) from None
            check_eq(resp.status, 200, "round %d: second request" % i)
            check_eq(resp.header("X-Body-Sha256"), sha256(body), "round %d: body" % i)


if __name__ == "__main__":
    run([case_statuses, case_204_without_length, case_chunked_response, case_head, case_keepalive,
         case_close_after_big_answer, case_pipelined_big_body, case_keepalive_big_bodies])
