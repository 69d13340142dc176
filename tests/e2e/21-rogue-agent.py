#!/usr/bin/env python3
"""A token holder whose agent misbehaves cannot make the relay send the webhook's
sender a broken or smuggled HTTP answer: a response head with injected lines,
hop-by-hop framing headers, a Content-Length that disagrees with the announced
body, a 1xx status or a reason with control bytes gets 502 HW_LOCAL_ERROR, and so does a
RESPONSE message that does not decode (a status that is not three digits, a payload cut
short or with bytes after it); the relay's log names the rule each broke. A
body longer than announced is never passed on past its length, and one that ends
early is cut. A queued event's answer that breaks its announced length is a failed attempt,
never a delivery. An agent that says GOAWAY and keeps its tunnel open is closed, and a
revoked token cuts such a tunnel at once. One that trickles an endless message is as silent
as a mute one. A stand-in agent speaking the tunnel protocol plays the rogue."""

import json
import struct
import threading
import time

from harness import (LOCALHOST, HttpConn, build_request, check, check_eq, relay_cli, request,
                     run, token_add, wait_until)
from hw_ws import (OP_BINARY, T_DATA, T_END, T_GOAWAY, T_HELLO, T_PING, T_PONG, T_REQUEST,
                   T_RESPONSE, WebSocket, parse_hello, tunnel_msg)

HOST = ("Host", "hooks.example.test")
UNKNOWN = (1 << 64) - 1


def response_payload(status, headers, body_len, reason=b"OK"):
    return (struct.pack(">HQ", status, body_len) + struct.pack(">H", len(reason)) + reason +
            struct.pack(">I", len(headers)) + headers)


def history(relay, token, path):
    """GET path of the relay's history API with the channel's token: the JSON answer."""
    r = request(relay.tunnel_port, "GET", path, [("Host", "%s:%d" % (LOCALHOST, relay.tunnel_port)),
                                                 ("Authorization", "Bearer " + token)])
    check_eq(r.status, 200, "GET " + path)
    return json.loads(r.body)


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


def next_request(ws, within=30):
    """Reads messages until a REQUEST and its END; returns its stream id. Answers the relay's
    PINGs as an agent does meanwhile: a rogue's silence is not what these cases test, and a
    queued event may come only once the outcome before it is committed, which on a busy
    machine can take longer than the relay's patience with a silent agent."""
    stream = None
    deadline = time.monotonic() + within
    while True:
        check(time.monotonic() < deadline, "a request comes within %ds" % within)
        for mtype, sid, payload in frames(ws):
            if mtype == T_PING:
                ws.send_binary(tunnel_msg(T_PONG, 0, payload))
            elif mtype == T_REQUEST:
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
    ("injected lines", "a header line without a name and colon",
     lambda s: [head(s, 200, b"X-A: 1\r\n\r\nHTTP/1.1 200 OK\r\nX-B:2\r\n", 0),
                tunnel_msg(T_END, s)]),
    ("Transfer-Encoding from the agent", "a hop-by-hop header", lambda s: [
        head(s, 200, b"Transfer-Encoding: chunked\r\n", UNKNOWN), tunnel_msg(T_END, s)]),
    ("Content-Length disagrees", "a Content-Length other than the body's announced length",
     lambda s: [head(s, 200, b"Content-Length: 5\r\n", 50), tunnel_msg(T_DATA, s, b"x" * 50),
                tunnel_msg(T_END, s)]),
    ("length announced without Content-Length", "no Content-Length for a body of known length",
     lambda s: [head(s, 200, b"X-A: 1\r\n", 3), tunnel_msg(T_DATA, s, b"abc"),
                tunnel_msg(T_END, s)]),
    ("a 101 answer", "a status outside 200-599",
     lambda s: [head(s, 101, b"Upgrade: x\r\n", 0), tunnel_msg(T_END, s)]),
    ("control bytes in the reason", "a control byte in the reason phrase", lambda s: [
        head(s, 200, b"Content-Length: 0\r\n", 0, reason=b"OK\r\nX-Evil: 1"),
        tunnel_msg(T_END, s)]),
    ("header without a colon", "a header line without a name and colon",
     lambda s: [head(s, 200, b"NoColonHere\r\n", 0), tunnel_msg(T_END, s)]),
]

# RESPONSE messages that do not decode at all.
BAD_FRAMES = [
    ("status 0", "a RESPONSE whose status is not three digits",
     lambda s: [head(s, 0, b"Content-Length: 0\r\n", 0), tunnel_msg(T_END, s)]),
    ("status 1000", "a RESPONSE whose status is not three digits",
     lambda s: [head(s, 1000, b"Content-Length: 0\r\n", 0), tunnel_msg(T_END, s)]),
    ("a RESPONSE cut short", "a RESPONSE shorter than its fields",
     lambda s: [tunnel_msg(T_RESPONSE, s, struct.pack(">HQ", 200, 0)), tunnel_msg(T_END, s)]),
    ("bytes after the header block", "a RESPONSE with bytes after its header block",
     lambda s: [tunnel_msg(T_RESPONSE, s, response_payload(200, b"", 0) + b"xx"),
                tunnel_msg(T_END, s)]),
]


def refused_heads(env, cases):
    """Each answer of cases gets the sender 502 HW_LOCAL_ERROR, nothing of it reaches the
    sender, and the relay's log names the rule it broke."""
    store = env.path("relay.db")
    token = token_add(env, store, "mallory")
    relay = env.relay(store=store)
    ws = rogue_agent(env, relay, token)
    for what, rule, answer in cases:
        raw = exchange(relay, ws, answer)
        check(raw.startswith(b"HTTP/1.1 502 ") and b"\r\nHookwire-Error: HW_LOCAL_ERROR\r\n" in raw,
              what + ": the sender gets 502 HW_LOCAL_ERROR", raw[:300])
        check(b"X-Evil" not in raw and b"X-B" not in raw, what + ": nothing injected", raw[:300])
        wait_until(lambda: any(rule in line and "answering 502" in line
                               for line in relay.proc.stderr().splitlines()), 10,
                   what + ": the relay's log names the rule (%s)" % rule)
    check(relay.proc.alive(), "the relay survives")

    def recorded():
        events = history(relay, token, "/api/events?status=failed&limit=100")["events"]
        return len(events) == len(cases) and [e["last_error"] for e in events]
    errors = wait_until(recorded, 10, "every refused webhook is recorded failed")
    for what, rule, _ in cases:
        check(any(rule in e and "the sender got 502" in e for e in errors),
              what + ": its history names the rule", errors)
    ws.close()


def case_bad_heads(env):
    refused_heads(env, BAD_HEADS)


def case_bad_frames(env):
    refused_heads(env, BAD_FRAMES)


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

    def recorded():
        events = history(relay, token, "/api/events?limit=100")["events"]
        return len(events) == 3 and events
    ok, short, long = wait_until(recorded, 10, "the three answers are recorded")  # newest first
    for what, ev, err in (("more body", long, "more body than its Content-Length"),
                          ("less body", short, "ended before its Content-Length")):
        check_eq((ev["status"], ev["last_status"]), ("failed", 200),
                 what + ": failed, with the status the app did answer")
        check(err in ev["last_error"], what + ": the history says why", ev["last_error"])
    shown = history(relay, token, "/api/events/" + ok["id"])
    check_eq([(a["at_ms"], a["duration_ms"], a["http_status"], a["error"])
              for a in shown["attempts_list"]], [(shown["received_ms"], None, 200, "")],
             "a plain success shows its one attempt, from the event")
    ws.close()


def case_queued_answer_broken_length(env):
    """A queued event's answer whose body is longer or shorter than its announced length is
    a failed attempt, as a live webhook's is, never a delivery; the history says why."""
    store = env.path("relay.db")
    token = token_add(env, store, "mallory")
    relay = env.relay(store=store, args=["--queue-retries", "1"])
    ids = []
    for i in range(2):
        resp = relay.webhook("POST", "/t/mallory/q%d" % i, [HOST], b"{}")
        check_eq(resp.status, 202, "webhook %d is queued while no agent is connected" % i)
        ids.append(json.loads(resp.body)["id"])
    ws = rogue_agent(env, relay, token)
    for body_len, sent in ((5, b"x" * 10), (50, b"x" * 10)):
        s = next_request(ws)
        ws.send_binary(head(s, 200, b"Content-Length: %d\r\n" % body_len, body_len))
        ws.send_binary(tunnel_msg(T_DATA, s, sent))
        ws.send_binary(tunnel_msg(T_END, s))
    for evt, err in zip(ids, ("more body than its Content-Length",
                              "it ended before its Content-Length")):
        ev = wait_until(lambda: (lambda e: e["status"] != "pending" and e)(
            history(relay, token, "/api/events/" + evt)), 10, evt + ": its attempt is recorded")
        check_eq((ev["status"], ev["last_status"]), ("failed", 200),
                 "failed, with the status the app did answer")
        check("malformed answer from the app: " + err in ev["last_error"], "the history says why",
              ev["last_error"])
    ws.close()


def case_goaway_kept_open(env):
    """An agent that says GOAWAY but keeps its tunnel open is closed by the relay once it has
    nothing in flight, so a token holder cannot pile up tunnels by saying GOAWAY and
    connecting again; and revoking the token cuts such a tunnel at once, even with a webhook
    in flight."""
    store = env.path("relay.db")
    token = token_add(env, store, "mallory")
    relay = env.relay(store=store)
    ws = rogue_agent(env, relay, token)
    ws.send_binary(tunnel_msg(T_GOAWAY, 0, b"agent stopping"))
    ws.wait_closed(8)
    check("channel=mallory agent said GOAWAY and has nothing in flight, but keeps its tunnel: "
          "closing it" in relay.proc.stderr(), "the relay says why it closed the tunnel",
          relay.proc.stderr()[-1500:])

    ws = rogue_agent(env, relay, token)
    sender = threading.Thread(target=lambda: relay.webhook("POST", "/t/mallory/x", [HOST],
                                                           b"{}"))
    sender.start()
    next_request(ws)  # in flight, never answered
    ws.send_binary(tunnel_msg(T_GOAWAY, 0, b"agent stopping"))
    wait_until(lambda: "agent is going away" in relay.proc.stderr(), 5, "the GOAWAY is read")
    r = relay_cli(env, store, "token", "revoke", "mallory")
    check_eq(r.returncode, 0, "token revoke (%r)" % r.stderr)
    ws.wait_closed(8)
    check("channel=mallory token revoked: closing tunnel" in relay.proc.stderr(),
          "the revoke is logged", relay.proc.stderr()[-1500:])
    sender.join(30)
    relay.proc.check_alive("keeps running")


def case_trickled_message(env):
    """An agent that trickles the bytes of one endless WebSocket message, a byte every
    0.2 s, sends no whole message: the relay's heartbeat finds it silent as it finds a mute
    one, closes its tunnel, and the channel's next webhook is queued (202)."""
    store = env.path("relay.db")
    token = token_add(env, store, "mallory")
    relay = env.relay(store=store, args=["--heartbeat", "1s"])
    ws = rogue_agent(env, relay, token)
    stop = threading.Event()

    def trickle():
        # A masked binary frame of 1 MiB begins; its payload then comes a byte at a time.
        ws.send_raw(struct.pack(">BBQ", 0x82, 0xff, 1 << 20) + b"\0\0\0\0")
        while not stop.wait(0.2):
            try:
                ws.send_raw(b"\0")
            except OSError:
                return

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        ws.wait_closed(10)
    finally:
        stop.set()
        t.join(5)
    check("channel=mallory agent silent for" in relay.proc.stderr(),
          "the relay says the trickling agent is silent", relay.proc.stderr()[-1500:])
    wait_until(lambda: relay.webhook("POST", "/t/mallory/after", [HOST], b"{}").status == 202,
               10, "the next webhook is queued")
    relay.proc.check_alive("keeps running")


if __name__ == "__main__":
    run([case_bad_heads, case_bad_frames, case_body_longer_than_announced,
         case_queued_answer_broken_length, case_goaway_kept_open, case_trickled_message])
