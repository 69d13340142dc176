#!/usr/bin/env python3
"""The agent's own WebSocket client framing against a stand-in relay that sends
what a real relay may: a tunnel message split over fragments with a WebSocket
PING between them (answered with a PONG echoing it, the request still served),
a message over 64 KiB (64-bit length), a close (echoed), and frames a server
must not send (a text message, a masked frame: closed with status 1002, then a
new connection). A relay whose upgrade answer carries a wrong
Sec-WebSocket-Accept is never used."""

import struct
import time

from harness import Agent, check, check_eq, run, wait_until
from hw_standin import StandInConn, StandInRelay
from hw_ws import T_DATA, T_END, T_REQUEST, T_RESPONSE, encode_request_payload, tunnel_msg, ws_frame

TOKEN = "hwt_framing-token"


class Conn(StandInConn):
    """One agent connection: WebSocket frames kept by opcode, unmasked."""

    def __init__(self, sock, head):
        self.frames = []  # (opcode, payload), unmasked
        super().__init__(sock, head)

    def on_frame(self, opcode, data, masked):
        check(masked, "every frame from the agent is masked", opcode)
        self.frames.append((opcode, data))
        return True

    def wait(self, pred, what, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for f in self.frames:
                    if pred(f):
                        return f
                left = deadline - time.monotonic()
                check(left > 0, what, [(op, d[:40]) for op, d in self.frames[-5:]])
                self.cond.wait(left)

    def wait_tunnel(self, mtype, stream, what):
        def has(f):
            data = f[1]
            if f[0] not in (0, 2):
                return False
            while len(data) >= 12:
                t, _, _, sid, plen = struct.unpack(">BBHII", data[:12])
                if t == mtype and sid == stream:
                    return True
                data = data[12 + plen:]
            return False
        return self.wait(has, what)


class Relay(StandInRelay):
    def __init__(self, good_accept=True):
        super().__init__(Conn, "framing", good_accept)


def request(stream, body):
    headers = b"Host: hooks.test\r\nContent-Length: %d\r\n" % len(body)
    msgs = [tunnel_msg(T_REQUEST, stream,
                       encode_request_payload(b"POST", b"/hook", headers, len(body)))]
    for i in range(0, len(body), 65536):
        msgs.append(tunnel_msg(T_DATA, stream, body[i:i + 65536]))
    msgs.append(tunnel_msg(T_END, stream))
    return b"".join(msgs)


def start(env, relay):
    target = env.target()
    agent = Agent(env, relay, TOKEN, "framing", target.port)
    agent.start(wait=False)
    conn = relay.wait_conn(1)
    wait_until(lambda: agent.forwarding_lines(), 10, "the agent reads HELLO sent with the 101")
    return agent, target, conn


def case_fragments_ping_large_close(env):
    relay = Relay()
    try:
        agent, target, c = start(env, relay)
        msg = request(1, b"fragmented")
        c.send(ws_frame(2, msg[:7], fin=False, mask=False) +
               ws_frame(9, b"are you there", mask=False) +
               ws_frame(0, msg[7:30], fin=False, mask=False) +
               ws_frame(0, msg[30:], mask=False))
        c.wait(lambda f: f == (10, b"are you there"), "a PONG echoing the PING's payload")
        c.wait_tunnel(T_END, 1, "the fragmented request is answered")
        check_eq(target.wait_requests(1)[0].body, b"fragmented", "the app got it whole")

        big = bytes(range(256)) * 400  # 102,400 bytes: a 64-bit WebSocket length
        c.send(ws_frame(2, request(3, big), mask=False))
        c.wait_tunnel(T_RESPONSE, 3, "the large request is answered")
        check_eq(target.wait_requests(2)[1].body, big, "the app got the 100 KiB body intact")

        c.send(ws_frame(8, struct.pack(">H", 1001) + b"bye", mask=False))
        op, data = c.wait(lambda f: f[0] == 8, "the agent echoes the close")
        check_eq(data[:2], struct.pack(">H", 1001), "with the relay's status")
        c.wait_closed("and closes the connection")
        relay.wait_conn(2)
        wait_until(lambda: len(agent.forwarding_lines()) >= 2, 10, "then connects again")
    finally:
        relay.close()


def case_bad_frames_close_1002(env):
    relay = Relay()
    try:
        agent, target, c = start(env, relay)
        for n, (what, raw, rule) in enumerate([
                ("a text message", ws_frame(1, b"hello", mask=False),
                 "a text WebSocket message or a reserved opcode (the tunnel is binary)"),
                ("a masked frame", ws_frame(2, tunnel_msg(T_END, 9), mask=True),
                 "a masked WebSocket frame from the server"),
                ("a tunnel RESPONSE", ws_frame(2, tunnel_msg(T_RESPONSE, 1, b"x"), mask=False),
                 "a RESPONSE sent to the agent")]):
            c.send(raw)
            op, data = c.wait(lambda f: f[0] == 8, what + ": the agent sends a close frame")
            check_eq(data[:2], struct.pack(">H", 1002), what + ": with status 1002")
            check("tunnel protocol error from the relay: %s: reconnecting" % rule
                  in agent.proc.stderr(), what + ": the agent's log names the broken rule",
                  agent.proc.stderr()[-600:])
            c.wait_closed(what + ": and closes the connection")
            c = relay.wait_conn(n + 2)
            wait_until(lambda: len(agent.forwarding_lines()) >= n + 2, 10,
                       what + ": the agent connects again")
        agent.proc.check_alive()
    finally:
        relay.close()


def case_wrong_accept_is_refused(env):
    relay = Relay(good_accept=False)
    try:
        target = env.target()
        agent = Agent(env, relay, TOKEN, "framing", target.port)
        agent.start(wait=False)
        c = relay.wait_conn(1)
        c.wait_closed("the agent drops a connection whose Sec-WebSocket-Accept is wrong")
        relay.wait_conn(2)
        wait_until(lambda: "not a valid WebSocket handshake" in agent.proc.stderr(), 5,
                   "the agent logs the refused upgrade")
        check_eq(agent.forwarding_lines(), [], "and never used the tunnel")
    finally:
        relay.close()


if __name__ == "__main__":
    run([case_fragments_ping_large_close, case_bad_frames_close_1002,
         case_wrong_accept_is_refused])
