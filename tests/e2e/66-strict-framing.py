#!/usr/bin/env python3
"""Malformed bytes that must be refused at once, not left to a timeout or a size cap.

A request head whose lines end in LF alone (no CR) gets 400 HW_BAD_REQUEST as soon as the
LF arrives, on the relay's public port and on the receiver: such a head never holds the
CRLF blank line, so it once waited for the head timeout (408, 10 s by default).
"""

import time

from harness import HttpConn, LOCALHOST, check, check_eq, get, run
from hw_receiver import Receiver

HOST = b"Host: hooks.example.test\r\n"
PROMPT = 3.0  # seconds: well under the 10 s head timeout


def case_bare_lf_head(env):
    relay, target, agent = env.stack()
    rc = Receiver(env, "sqlite:" + env.path("receiver.db"), {"gh": [
        ("provider", "github"), ("secret", "s"),
        ("deliver-to", "http://%s:%d/hooks" % (LOCALHOST, target.port))]}).start()
    heads = [
        b"POST /t/alice/lf HTTP/1.1\nHost: h\nContent-Length: 2\n\n{}",
        b"POST /t/alice/lf HTTP/1.1\r\nHost: h\nContent-Length: 2\r\n\r\n{}",
        b"POST /t/alice/lf HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\n{}",
    ]
    for port, name in ((relay.port, "relay"), (rc.port, "receiver")):
        for head in heads:
            start = time.monotonic()
            with HttpConn(port, timeout=PROMPT) as c:
                c.send(head)
                r = c.read_response("POST")
                check_eq((r.status, r.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"),
                         "%s: %r" % (name, head))
                check(c.closed_by_peer(PROMPT), "%s: the connection is closed" % name)
            took = time.monotonic() - start
            check(took < PROMPT, "%s: answered at once" % name, took)
        check_eq(get(port, "/healthz").status, 200, "%s: still serving others" % name)
    check_eq(len(target.requests), 0, "nothing was forwarded")


run([case_bare_lf_head])
