#!/usr/bin/env python3
"""A clean stop (SIGTERM) drains: answers already started are written whole.

Relay: an app answers 24 MiB to a sender that reads nothing until the relay has begun to
stop; the relay goes on writing that answer while the sender reads, and exits 0 only after
the last byte left (the sender gets every byte, in order).
"""

import hashlib
import signal
import socket

from harness import (LOCALHOST, Reply, build_request, check, check_eq, run, wait_until)

HOST = ("Host", "hooks.example.test")
BIG = 24 << 20


def pattern(n):
    block = bytes(range(256)) * 4096
    return (block * (n // len(block) + 1))[:n]


def read_answer(sock, timeout):
    """Reads an answer with a Content-Length to its end; returns (head bytes, body bytes)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    check(length is not None, "the answer has a Content-Length", head)
    parts = [body]
    got = len(body)
    while got < length:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return head, b"".join(parts)


def case_relay_finishes_answers(env):
    """SIGTERM while a big answer waits for its sender to read: it still arrives whole."""
    big = pattern(BIG)

    def handle(req):
        return Reply(200, "OK", [("Content-Type", "application/octet-stream")], big)

    relay, target, agent = env.stack(handler=handle, relay_args=["--response-timeout", "20s"])
    target.ignore_errors = True
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.connect((LOCALHOST, relay.port))
    try:
        s.sendall(build_request("POST", "/t/alice/big", [HOST], b"{}"))
        wait_until(lambda: len(target.requests) == 1, 10, "the app got the webhook")
        relay.proc.signal(signal.SIGTERM)
        wait_until(lambda: "shutting down" in relay.proc.stderr(), 10,
                   "the relay begins its stop")
        head, body = read_answer(s, 20)
        check(head.startswith(b"HTTP/1.1 200 "), "the answer's status", head[:200])
        check(body is not None and len(body) == BIG, "every byte of the answer arrived",
              "%s of %d bytes" % (None if body is None else len(body), BIG))
        check_eq(hashlib.sha256(body).hexdigest(), hashlib.sha256(big).hexdigest(),
                 "the answer byte-exact")
    finally:
        s.close()
    check_eq(relay.proc.wait_exit(30), 0, "the relay exits 0 once the answer is out")


run([case_relay_finishes_answers])
