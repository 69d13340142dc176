#!/usr/bin/env python3
"""Malformed bytes that must be refused at once, not left to a timeout or a size cap.

A request head whose lines end in LF alone (no CR) gets 400 HW_BAD_REQUEST as soon as the
LF arrives, on the relay's public port and on the receiver: such a head never holds the
CRLF blank line, so it once waited for the head timeout (408, 10 s by default).

On the tunnel port, a WebSocket frame that declares a payload longer than a tunnel message
may be (2 MiB), up to 2^64 - 1, closes the tunnel with 1009 as soon as its first payload
bytes arrive, with one log line naming the agent's address, instead of being read until
the size cap or the heartbeat ends it.

Once the relay has found a tunnel broken (a protocol error), the channel has no agent at
once: the webhook in flight on it is queued (202) and the next one too, without waiting
for the agent to acknowledge the close (a rogue agent never does).

The tunnel port's own requests (the token-gated API, /metrics, /healthz) get 400 and a
closed connection for a head whose framing is ambiguous (Content-Length with
Transfer-Encoding, either of them twice), a second Host, a Host that is not host[:port]
(a list, a port that is not a number) or a NUL byte in a header, as the public port answers
the same head; an upgrade to /tunnel with such a head gets 400.

A flood of one warning (here refused upgrades, as fast as a client can make them) gives a
bounded number of log lines, and the lines plus the repeats they count account for every
attempt.
"""

import os
import re
import struct
import threading
import time

from harness import (HttpConn, LOCALHOST, OP_BINARY, OP_TEXT, T_HELLO, T_REQUEST,
                     WebSocket, build_request, check, check_eq, get, run, token_add,
                     wait_until)
from hw_receiver import Receiver


def types(msg):
    """The tunnel message types in one WebSocket message (the relay batches them)."""
    out = []
    while len(msg) >= 12:
        mtype, _, _, _, plen = struct.unpack(">BBHII", msg[:12])
        out.append(mtype)
        msg = msg[12 + plen:]
    return out

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


def rogue_stack(env):
    """env.stack() for alice, and a token for the rogue's channel mallory."""
    token = token_add(env, env.path("relay.db"), "mallory")
    return env.stack() + (token,)


def rogue(relay, token):
    """A raw WebSocket on the tunnel port for mallory, past its HELLO."""
    h = WebSocket.connect(relay.tunnel_port, token=token)
    check_eq(h.status, 101, "the rogue's upgrade")
    op, msg = h.ws.recv_message(5)
    check_eq((op, types(msg)[:1]), (OP_BINARY, [T_HELLO]), "HELLO first")
    return h.ws


def frame_head(length, mask=True):
    """A binary frame's head declaring length (64-bit form), with a mask key when masked."""
    return (struct.pack(">BBQ", 0x82, (0x80 if mask else 0) | 127, length) +
            (os.urandom(4) if mask else b""))


def case_oversized_frame(env):
    relay, target, agent, token = rogue_stack(env)

    def refused():
        """Frames the log reports refused: its lines, and the repeats it counted."""
        n = 0
        for ln in relay.proc.stderr().splitlines():
            if "conn=127.0.0.1 channel=mallory" in ln and "too big" in ln:
                m = re.search(r"relay: (\d+) more like this", ln)
                n += int(m.group(1)) if m else 1
        return n

    def refused_after_another_line():
        # Repeats of a line are counted for a second and reported with the next line logged:
        # a refused upgrade is logged.
        check_eq(WebSocket.connect(relay.tunnel_port, token="hwt_wrong").status, 401,
                 "a wrong token is refused")
        return refused() == len(lengths)

    # 2^63 and up (the top bit set) lws refuses itself, closing without a word.
    ws = rogue(relay, token)
    ws.send_raw(frame_head((1 << 64) - 1) + b"x" * 100)
    check_eq(ws.wait_closed(PROMPT), "eof", "a frame of 2^64 - 1 bytes is refused")
    wait_until(lambda: not relay.channel_connected("mallory"), 5, "mallory is free again")
    lengths = ((1 << 63) - 1, (1 << 62), 2 * 1024 * 1024 + 1)
    for i, length in enumerate(lengths):
        ws = rogue(relay, token)
        start = time.monotonic()
        ws.send_raw(frame_head(length) + b"x" * 100)
        closed = ws.wait_closed(PROMPT)
        check_eq(closed, "close 1009", "a frame of %d bytes is refused" % length)
        check(time.monotonic() - start < PROMPT, "at once", time.monotonic() - start)
        ws.sock.close()
        wait_until(lambda: not relay.channel_connected("mallory"), 5, "mallory is free again")
    check(refused() >= 1, "the first is logged at once, naming the agent's address and why")
    wait_until(refused_after_another_line, 5, "each refused frame is logged or counted")


def case_broken_tunnel_queues_at_once(env):
    relay, target, agent, token = rogue_stack(env)
    ws = rogue(relay, token)
    out = {}

    def sender():
        with HttpConn(relay.port, timeout=PROMPT * 2) as c:
            c.send(build_request("POST", "/t/mallory/inflight", [("Host", "h")], b"{}"))
            out["r"] = c.read_response("POST")

    t = threading.Thread(target=sender)
    t.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        op, msg = ws.recv_message(5)
        if T_REQUEST in types(msg):
            break
    # A text message is a protocol error; the rogue then never answers the close.
    start = time.monotonic()
    ws.send_frame(OP_TEXT, b"not the tunnel protocol")
    t.join(PROMPT)
    check(not t.is_alive(), "the in-flight webhook is answered at once")
    check_eq(out["r"].status, 202, "the in-flight webhook is queued")
    r = relay.webhook("POST", "/t/mallory/next", [("Host", "h")], b"{}")
    check_eq(r.status, 202, "the next webhook is queued")
    took = time.monotonic() - start
    check(took < PROMPT, "without waiting for the close acknowledgement", took)
    ws.sock.close()


AMBIGUOUS = {
    "Content-Length and Transfer-Encoding":
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two Content-Lengths": b"Content-Length: 0\r\nContent-Length: 5\r\n\r\n",
    "two Transfer-Encodings":
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "a NUL byte in a header": b"User-Agent: a\x00b\r\n\r\n",
    "a second Host": b"Host: other.example.test\r\n\r\n",
}


def case_tunnel_port_ambiguous_heads(env):
    relay, target, agent, token = rogue_stack(env)
    for path in (b"/api/events", b"/agents", b"/api/refused", b"/metrics", b"/healthz"):
        for what, rest in AMBIGUOUS.items():
            for port, name in ((relay.tunnel_port, "tunnel"), (relay.port, "public")):
                if name == "public" and path != b"/healthz":
                    continue
                with HttpConn(port, timeout=PROMPT) as c:
                    c.send(b"GET " + path + b" HTTP/1.1\r\n" + HOST + rest)
                    r = c.read_response("GET")
                    check_eq((r.status, r.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"),
                             "%s port %s: %s" % (name, path.decode(), what))
                    check(c.closed_by_peer(PROMPT), "%s port %s: %s: the connection is closed" %
                          (name, path.decode(), what))
    for path in (b"/api/events", b"/healthz"):
        for bad in (b"h,evil.example", b"h:abc", b"h:99999", b"*", b"[::1"):
            for port, name in ((relay.tunnel_port, "tunnel"), (relay.port, "public")):
                with HttpConn(port, timeout=PROMPT) as c:
                    c.send(b"GET " + path + b" HTTP/1.1\r\nHost: " + bad + b"\r\n\r\n")
                    r = c.read_response("GET")
                    check_eq((r.status, r.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"),
                             "%s port %s: Host %s" % (name, path.decode(), bad))
    # Whitespace around the value is allowed (RFC 9110 5.5) on both ports.
    for port, name in ((relay.tunnel_port, "tunnel"), (relay.port, "public")):
        with HttpConn(port, timeout=PROMPT) as c:
            c.send(b"GET /healthz HTTP/1.1\r\nHost:  h.example:8080 \t\r\n\r\n")
            check_eq(c.read_response("GET").status, 200, name + " port: a Host with whitespace")
    for what, headers in (("two Content-Lengths", [("Content-Length", "0")] * 2),
                          ("a second Host", [("Host", "other.example.test")]),
                          ("a NUL byte in a header", [("User-Agent", "a\x00b")])):
        h = WebSocket.connect(relay.tunnel_port, token=token, headers=headers)
        check_eq(h.status, 400, "an upgrade with " + what)
    check_eq(rogue(relay, token).close(), None, "a plain upgrade still passes")
    check_eq(get(relay.tunnel_port, "/healthz").status, 200, "a plain request still passes")


def case_log_flood_bounded(env):
    """Refused upgrades as fast as they go: a bounded number of lines, each attempt counted."""
    relay, target, agent = env.stack()
    sent = [0]

    def refuse_one():
        check_eq(WebSocket.connect(relay.tunnel_port, token="hwt_wrong").status, 401,
                 "a wrong token is refused")
        sent[0] += 1

    def logged():
        """(lines about refused upgrades, attempts they account for)."""
        lines = [ln for ln in relay.proc.stderr().splitlines()
                 if "tunnel upgrade refused: missing or invalid token" in ln]
        n = 0
        for ln in lines:
            m = re.search(r"relay: (\d+) more like this", ln)
            n += int(m.group(1)) if m else 1
        return lines, n

    def all_accounted():
        # A count is written with the first line logged after its one-second window.
        refuse_one()
        return logged()[1] == sent[0]

    start = time.monotonic()
    for _ in range(300):
        refuse_one()
    wait_until(all_accounted, 5, "every refused upgrade is logged or counted")
    took = time.monotonic() - start
    lines, _ = logged()
    check(any("more like this" in ln for ln in lines), "repeats were counted", lines[-3:])
    # Per started second: at most ten lines and one count.
    check(len(lines) <= 11 * (int(took) + 2), "a bounded number of lines",
          (len(lines), sent[0], took))


run([case_bare_lf_head, case_oversized_frame, case_broken_tunnel_queues_at_once,
     case_tunnel_port_ambiguous_heads, case_log_flood_bounded])
