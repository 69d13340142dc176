#!/usr/bin/env python3
"""A rogue tunnel client is cut off; everyone else keeps working.

A WebSocket client holding a valid token for channel "mallory" sends malformed
tunnel messages, one kind per connection. Each time the relay must close that
connection, count a protocol error and log the rule it broke, while a real agent for "alice" keeps
delivering webhooks (a sender thread runs throughout) and the relay keeps
running and finally exits cleanly (under the sanitizer build a leak or memory
error makes that exit fail).
"""

import os
import struct
import threading

from harness import (OP_BINARY, OP_TEXT, T_DATA, T_END, T_HELLO, T_PING, T_REQUEST,
                     T_RESPONSE, T_WINDOW, TUNNEL_HDR, TUNNEL_MAX_PAYLOAD, CheckFailed, Reply,
                     WebSocket, check, check_eq, encode_request_payload, parse_hello, run,
                     token_add, tunnel_msg, wait_until, ws_frame)

HOST = ("Host", "hooks.example.test")


def garbage_short(ws):
    ws.send_binary(os.urandom(TUNNEL_HDR - 5))


def garbage_long(ws):
    msg = bytearray(os.urandom(200))
    msg[0] = T_DATA
    msg[8:12] = struct.pack(">I", 7777)  # never the real length
    ws.send_binary(bytes(msg))


def text_message(ws):
    ws.send_frame(OP_TEXT, b"hello relay, this is text")


def length_too_long(ws):
    ws.send_binary(tunnel_msg(T_PING, 0, b"12345678", length=100))


def length_too_short(ws):
    ws.send_binary(tunnel_msg(T_PING, 0, b"x" * 50, length=5))


def request_from_agent(ws):
    ws.send_binary(tunnel_msg(T_REQUEST, 1, encode_request_payload(
        b"POST", b"/", b"Host: x\r\n", 0)))


def response_unknown_stream(ws):
    payload = struct.pack(">HQ", 200, 0) + struct.pack(">H", 2) + b"OK" + struct.pack(">I", 0)
    ws.send_binary(tunnel_msg(T_RESPONSE, 99, payload))


def data_never_opened(ws):
    # A stream above every one the relay opened: it cannot be late news of a closed one.
    ws.send_binary(tunnel_msg(T_DATA, 12345, b"late data"))


def window_zero(ws):
    ws.send_binary(tunnel_msg(T_WINDOW, 1, struct.pack(">I", 0)))


def control_on_stream(ws):
    ws.send_binary(tunnel_msg(T_PING, 5, b"12345678"))


def end_with_payload(ws):
    ws.send_binary(tunnel_msg(T_END, 1, b"x"))


def oversized(ws):
    # A consistent header, but a payload one byte over the protocol's largest message.
    ws.send_binary(tunnel_msg(0x7F, 1, b"\0" * (TUNNEL_MAX_PAYLOAD + 1)))


def oversized_fragmented(ws):
    msg = tunnel_msg(0x7F, 1, b"\0" * (TUNNEL_MAX_PAYLOAD + 1))
    step = 60000
    for i in range(0, len(msg), step):
        last = i + step >= len(msg)
        ws.send_raw(ws_frame(OP_BINARY if i == 0 else 0, msg[i:i + step], fin=last))


# Each attack, and the rule the relay's log line names for it. The log writes 10 lines of one
# kind a second (HW_LOG_REPEAT_BURST) and counts the rest, so the attacks that repeat a rule
# come last and their lines are not checked.
ROGUE = [(garbage_short, "a frame header cut by the end of its WebSocket message"),
         (garbage_long, "a frame longer than what is left of its WebSocket message"),
         (text_message, "a text WebSocket message (the tunnel is binary)"),
         (length_too_long, "a frame longer than what is left of its WebSocket message"),
         (request_from_agent, "a REQUEST sent to the relay"),
         (response_unknown_stream, "a RESPONSE on a stream never opened"),
         (window_zero, "a malformed WINDOW"),
         (control_on_stream, "a connection message (HELLO, PING, PONG, GOAWAY) on a stream"),
         (end_with_payload, "END with a payload"),
         (oversized, "a frame over the largest payload (1 MiB)"),
         (length_too_short, None),
         (oversized_fragmented, None),
         # Its line would pass the log's limit on like warnings in a burst; unit test_mux names it.
         (data_never_opened, None)]


def rogue_connect(relay, token):
    h = WebSocket.connect(relay.tunnel_port, token=token)
    check_eq(h.status, 101, "mallory's upgrade")
    check_eq(h.response.header("Sec-WebSocket-Protocol"), "hookwire.v1", "subprotocol")
    mtype, _, stream, payload = h.ws.recv_tunnel(5)
    check_eq((mtype, stream), (T_HELLO, 0), "the relay opens with HELLO")
    check_eq(parse_hello(payload)[2], "mallory", "HELLO names mallory's channel")
    wait_until(lambda: relay.channel_connected("mallory"), 5, "mallory connected")
    return h.ws


def case_rogue_client(env):
    store = env.path("relay.db")
    alice = token_add(env, store, "alice")
    mallory = token_add(env, store, "mallory")
    relay = env.relay(store=store)
    target = env.target(lambda req: Reply(200, "OK", [], b"echo " + req.body))
    env.agent(relay, alice, "alice", target.port)

    # Alice's webhooks keep flowing during the whole attack.
    stop = threading.Event()
    results = []

    def sender():
        i = 0
        while not stop.is_set():
            body = b"webhook %d" % i
            try:
                r = relay.webhook("POST", "/t/alice/during", [HOST], body)
                results.append((r.status, r.body == b"echo " + body))
            except Exception as e:
                results.append(("exception", repr(e)))
            i += 1

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        errors = relay.metric("hookwire_relay_protocol_errors_total")
        check_eq(errors, 0.0, "no protocol error before the attack")

        for attack, rule in ROGUE:
            logged = relay.proc.stderr().count("channel=mallory tunnel protocol error: %s" %
                                               rule)
            ws = rogue_connect(relay, mallory)
            attack(ws)
            how = ws.wait_closed(5)
            ws.close()
            check(how in ("eof", "close 1002"), attack.__name__ + ": closed as a protocol error",
                  how)
            errors += 1
            wait_until(lambda: relay.metric("hookwire_relay_protocol_errors_total") == errors, 5,
                       "%s: protocol_errors_total to reach %d" % (attack.__name__, errors))
            wait_until(lambda: not relay.channel_connected("mallory"), 5,
                       attack.__name__ + ": mallory no longer connected")
            if rule:
                check_eq(relay.proc.stderr().count("channel=mallory tunnel protocol error: " +
                                                   rule),
                         logged + 1, attack.__name__ + ": the log line names the broken rule")
            relay.proc.check_alive("survives " + attack.__name__)
            check(relay.channel_connected("alice"), attack.__name__ + ": alice still connected")
        n = len(results)
        wait_until(lambda: len(results) > n + 2, 10, "webhooks still flowing after the attack")
    finally:
        stop.set()
        t.join(30)
    bad = [r for r in results if r != (200, True)]
    check(not bad, "every webhook for alice delivered during the attack",
          "%d of %d failed, e.g. %s" % (len(bad), len(results), bad[:5]))
    check(len(results) >= len(ROGUE), "webhooks were sent throughout", len(results))
    check_eq(target.count(), len(results), "the target got each of alice's webhooks")


def case_websocket_violations(env):
    """RFC 6455 violations below the tunnel protocol also end the connection."""
    store = env.path("relay.db")
    mallory = token_add(env, store, "mallory")
    relay = env.relay(store=store)
    violations = [
        ("reserved opcode 3", lambda ws: ws.send_frame(3, b"x")),
        ("RSV1 set without an extension", lambda ws: ws.send_frame(OP_BINARY, b"x" * 20, rsv=4)),
        ("continuation without a start", lambda ws: ws.send_frame(0, b"x" * 20)),
    ]
    for what, attack in violations:
        ws = rogue_connect(relay, mallory)
        attack(ws)
        try:
            how = ws.wait_closed(5)
        except CheckFailed as e:
            raise CheckFailed("%s: the relay must close the connection, but %s" % (what, e))
        ws.close()
        check(how.startswith(("eof", "close")), what + ": connection closed", how)
        wait_until(lambda: not relay.channel_connected("mallory"), 5,
                   what + ": mallory no longer connected")
        relay.proc.check_alive("survives " + what)


if __name__ == "__main__":
    run([case_rogue_client, case_websocket_violations])
