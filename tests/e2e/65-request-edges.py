#!/usr/bin/env python3
"""Request bytes at the edges of HTTP/1.1 framing, on the relay's public port and on the
receiver: each gets a definite answer within a deadline, the program stays responsive for
other clients, and nothing is forwarded that should not be.

Empty lines before the request line (RFC 9112 2.2: ignored) are skipped however many there
are; two of them once made the head scan loop forever on the service thread.
"""

from harness import LOCALHOST, HttpConn, check, check_eq, get, run
from hw_receiver import Receiver

HOST = b"Host: hooks.example.test\r\n"


def answer_to(port, data, timeout=5.0):
    """Sends data on a fresh connection; returns the first answer (a Response)."""
    with HttpConn(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response("POST")


def case_empty_lines_before_request(env):
    relay, target, agent = env.stack()
    rc = Receiver(env, "sqlite:" + env.path("receiver.db"), {"gh": [
        ("provider", "github"), ("secret", "s"),
        ("deliver-to", "http://%s:%d/hooks" % (LOCALHOST, target.port))]}).start()
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


run([case_empty_lines_before_request])
