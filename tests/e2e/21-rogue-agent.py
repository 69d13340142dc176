#!/usr/bin/env python3
"""A token holder whose agent misbehaves cannot make the relay send the webhook's
sender a broken or smuggled HTTP answer: a response head with injected lines,
hop-by-hop framing headers, a Content-Length that disagrees with the announced
body, a 1xx status or a reason with control bytes gets 502 HW_LOCAL_ERROR; a
body longer than announced is never passed on past its length, and one that ends
early is cut. A stand-in agent speaking the tunnel protocol plays the rogue."""

import struct
import threading

from harness import HttpConn, build_request, check, check_eq, run, token_add
from hw_ws import (OP_BINARY, T_DATA, T_END, T_HELLO, T_REQUEST, T_RESPONSE, WebSocket,
                   parse_hello, tunnel_msg)

HOST = ("Host", "hooks.example.test")
UNKNOWN = (1 << 64) - 1


def response_payload(status, headers, body_len, reason=b"OK"):
    return (struct.pack(">HQ", status, body_len) + struct.pack(">H", len(reason)) + reason +
            struct.pack(">I", len(headers)) + headers)


def frames(ws):
    """The tunnel messages of the next WebSocket message (the relay batches them)."""
    op, msg = ws.recv_message(5)
    check_eq(op, OP_BINARY, "tunnel messages are binary")
    out = []
    while msg:
        mtype, _, _, sid, plen = struct.unpack(">BBHII", msg[:12])
        out.append((mtype, sid, msg[12:12 + plen]))
        msg = msg[12 + plen:]
    return out


def rogue_agent(env, relay, token):
    h = WebSocket.connect(relay.tunnel_port, token=token)
    check_eq(h.status, 101, "the rogue's upgrade")
    mtype, _, payload = frames(h.ws)[0]
    check_eq(mtype, T_HELLO, "HELLO first")
    check_eq(parse_hello(payload)[2], "mallory", "channel")
    return h.ws


def next_request(ws):
    """Reads messages until a REQUEST and its END; returns its stream id."""
    stream = None
    while True:
        for mtype, sid, _ in frames(ws):
            if mtype == T_REQUEST:
                stream = sid
            elif mtype == T_END and sid == stream:
                return stream


def exchange(relay, ws, answer):
    """Sends one webhook; the rogue answers it with answer(stream) messages. Returns the raw
    bytes the sender received until the relay closed or answered."""
    result = {}

    def sender():
        with HttpConn(relay.port) as c:
            c.send(build_request("POST", "/t/mallory/x", [HOST, ("Connection", "close")], b"{}"))
            c.sock.settimeout(10)
            result["raw"] = c.reader.rest()

    t = threading.Thread(target=sender)
    t.start()
    stream = next_request(ws)
    for msg in answer(stream):
        ws.send_binary(msg)
    t.join(15)
    check(not t.is_alive(), "the sender got its answer or a closed connection")
    return result.get("raw", b"")


def head(stream, status, headers, body_len, reason=b"OK"):
    return tunnel_msg(T_RESPONSE, stream, response_payload(status, headers, body_len, reason))


BAD_HEADS = [
    ("injected lines", lambda s: [head(s, 200, b"X-A: 1\r\n\r\nHTTP/1.1 200 OK\r\nX-B:2\r\n", 0),
                                  tunnel_msg(T_END, s)]),
    ("Transfer-Encoding from the agent", lambda s: [
        head(s, 200, b"Transfer-Encoding: chunked\r\n", UNKNOWN), tunnel_msg(T_END, s)]),
    ("Content-Length disagrees", lambda s: [
        head(s, 200, b"Content-Length: 5\r\n", 50), tunnel_msg(T_DATA, s, b"x" * 50),
        tunnel_msg(T_END, s)]),
    ("length announced without Content-Length", lambda s: [
        head(s, 200, b"X-A: 1\r\n", 3), tunnel_msg(T_DATA, s, b"abc"), tunnel_msg(T_END, s)]),
    ("a 101 answer", lambda s: [head(s, 101, b"Upgrade: x\r\n", 0), tunnel_msg(T_END, s)]),
    ("control bytes in the reason", lambda s: [
        head(s, 200, b"Content-Length: 0\r\n", 0, reason=b"OK\r\nX-Evil: 1"),
        tunnel_msg(T_END, s)]),
    ("header without a colon", lambda s: [head(s, 200, b"NoColonHere\r\n", 0),
                                          tunnel_msg(T_END, s)]),
]


def case_bad_heads(env):
    store = env.path("relay.db")
    token = token_add(env, store, "mallory")
    relay = env.relay(store=store)
    ws = rogue_agent(env, relay, token)
    for what, answer in BAD_HEADS:
        raw = exchange(relay, ws, answer)
        check(raw.startswith(b"HTTP/1.1 502 ") and b"\r\nHookwire-Error: HW_LOCAL_ERROR\r\n" in raw,
              what + ": the sender gets 502 HW_LOCAL_ERROR", raw[:300])
        check(b"X-Evil" not in raw and b"X-B" not in raw, what + ": nothing injected", raw[:300])
    check(relay.proc.alive(), "the relay survives")
    ws.close()


def case_body_longer_than_announced(env):
    store = env.path("relay.db")
    token = token_add(env, store, "mallory")
    relay = env.relay(store=store)
    ws = rogue_agent(env, relay, token)
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    raw = exchange(relay, ws, lambda s: [
        head(s, 200, b"Content-Length: 5\r\n", 5), tunnel_msg(T_DATA, s, b"hello" + smuggled),
        tunnel_msg(T_END, s)])
    check(raw.startswith(b"HTTP/1.1 200 "), "the head went out", raw[:200])
    check_eq(raw.partition(b"\r\n\r\n")[2], b"hello",
             "exactly the announced length reaches the sender, nothing past it")
    raw = exchange(relay, ws, lambda s: [
        head(s, 200, b"Content-Length: 10\r\n", 10), tunnel_msg(T_DATA, s, b"short"),
        tunnel_msg(T_END, s)])
    check(raw.startswith(b"HTTP/1.1 200 "), "the head went out", raw[:200])
    check_eq(raw.partition(b"\r\n\r\n")[2], b"short",
             "an answer that ends early is passed on as far as it went, then cut")
    raw = exchange(relay, ws, lambda s: [
        head(s, 200, b"Content-Length: 2\r\nX-Ok: yes\r\n", 2), tunnel_msg(T_DATA, s, b"ok"),
        tunnel_msg(T_END, s)])
    check(raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(b"\r\n\r\nok"),
          "a well-formed answer still passes", raw)
    ws.close()


if __name__ == "__main__":
    run([case_bad_heads, case_body_longer_than_announced])
