#!/usr/bin/env python3
"""A sender that never reads its answer is cut at --response-timeout.

The answer timeout counts only bytes that leave for the sender: bytes that merely
reached a buffer (the relay's, lws's or the kernel's) are not progress. An answer of
2 MiB and one of 64 MiB, which the buffers ahead of a small receive window cannot hold,
are both cut within --response-timeout plus a small margin, measured; so is
one of 300 KiB, which sits whole in the kernel's send queue (the relay watches that
queue shrink).
"""

import socket
import time

from harness import (LOCALHOST, Reply, build_request, check, run, wait_until)

HOST = ("Host", "hooks.example.test")
TIMEOUT = 2.0
MARGIN = 2.0


def case_sender_never_reads(env):
    sizes = {"/swallowed": 300 << 10, "/two-mib": 2 << 20, "/sixty-four-mib": 64 << 20}
    bodies = {t: b"a" * n for t, n in sizes.items()}

    def handle(req):
        return Reply(200, "OK", [], bodies.get(req.target, b"fine"))

    relay, target, agent = env.stack(handler=handle, relay_args=[
        "--response-timeout", "%ds" % TIMEOUT])
    target.ignore_errors = True  # the app's writes fail once the stream is dropped
    for path in sizes:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((LOCALHOST, relay.port))
        try:
            t0 = time.monotonic()
            s.sendall(build_request("POST", "/t/alice" + path, [HOST], b"{}"))
            wait_until(lambda: relay.metric("hookwire_relay_public_connections") == 1, 5,
                       "the relay holds the connection")
            wait_until(lambda: relay.metric("hookwire_relay_public_connections") == 0,
                       TIMEOUT + MARGIN + 5, "the relay closes the connection")
            took = time.monotonic() - t0
            print("      %s: closed after %.2fs" % (path, took))
            check(TIMEOUT - 0.2 <= took <= TIMEOUT + MARGIN, "cut at --response-timeout",
                  "%s closed after %.2fs" % (path, took))
            wait_until(lambda: relay.metric("hookwire_relay_channel_streams", channel="alice")
                       == 0, 5, "the agent's stream is freed")
        finally:
            s.close()
    resp = relay.webhook("POST", "/t/alice/ok", [HOST], b"{}")
    check(resp.status == 200 and resp.body == b"fine", "the channel still works", resp.status)


run([case_sender_never_reads])
