#!/usr/bin/env python3
"""The agent against a stand-in relay (a small WebSocket server speaking the tunnel
protocol): it sends its token as a bearer header with the hookwire.v1 subprotocol,
prints the URL from HELLO, refuses a request head that would not be exactly one
request (RESET, and the app never sees it), and reconnects by itself when the
relay goes silent for two heartbeat intervals, or trickles one endless message."""

import struct
import threading
import time

from harness import Agent, check, check_eq, run, wait_until
from hw_standin import StandInConn, StandInRelay, str16
from hw_ws import (T_DATA, T_END, T_HELLO, T_PING, T_PONG, T_REQUEST, T_RESET, T_RESPONSE,
                   tunnel_msg, ws_frame)

TOKEN = "hwt_fake-relay-token"


class Session(StandInConn):
    """One agent connection to the fake relay: tunnel messages, in order."""

    def __init__(self, sock, head):
        self.frames = []  # (type, stream, payload) received, in order
        self.silent = False  # stop answering PINGs
        super().__init__(sock, head)

    def send(self, *msgs):
        super().send(ws_frame(2, b"".join(msgs), mask=False))

    def on_frame(self, opcode, data, masked):
        if opcode == 8:
            return False
        while data:
            mtype, _, _, sid, plen = struct.unpack(">BBHII", data[:12])
            payload = data[12:12 + plen]
            data = data[12 + plen:]
            if mtype == T_PING and not self.silent:
                self.send(tunnel_msg(T_PONG, 0, payload))
            self.frames.append((mtype, sid, payload))
        return True

    def wait_frame(self, mtype, stream, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for f in self.frames:
                    if f[0] == mtype and f[1] == stream:
                        return f[2]
                left = deadline - time.monotonic()
                check(left > 0 and not self.closed, "the agent sends type %d on stream %d" %
                      (mtype, stream), self.frames[-5:])
                self.cond.wait(left)


class FakeRelay(StandInRelay):
    def __init__(self):
        super().__init__(Session, "fake")

    def wait_session(self, n, timeout=15):
        return self.wait_conn(n, timeout)


def request(stream, headers, body=b"", method=b"POST", target=b"/hook"):
    payload = (struct.pack(">Q", len(body)) + str16(b"evt_fake") + str16(method) + str16(target)
               + struct.pack(">I", len(headers)) + headers)
    msgs = [tunnel_msg(T_REQUEST, stream, payload)]
    if body:
        msgs.append(tunnel_msg(T_DATA, stream, body))
    msgs.append(tunnel_msg(T_END, stream))
    return msgs


def start(env, fake, args=()):
    target = env.target()
    agent = Agent(env, fake, TOKEN, "fake", target.port, args=list(args))
    agent.start(wait=False)
    session = fake.wait_session(1)
    wait_until(lambda: agent.forwarding_lines(), 10, "the agent prints the URL from HELLO")
    return agent, target, session


def case_handshake_and_delivery(env):
    fake = FakeRelay()
    try:
        agent, target, s = start(env, fake)
        check_eq(s.header("Authorization"), "Bearer " + TOKEN, "the token travels as a bearer")
        check_eq(s.header("Sec-WebSocket-Protocol"), "hookwire.v1", "the subprotocol")
        check(s.head.startswith(b"GET /tunnel HTTP/1.1\r\n"), "the tunnel path", s.head[:60])
        check("https://fake.example/t/fake/" in agent.forwarding_lines()[0],
              "the printed URL is HELLO's", agent.forwarding_lines())
        s.send(*request(1, b"Host: hooks.test\r\nContent-Length: 5\r\nX-A: b\r\n", b"hello"))
        head = s.wait_frame(T_RESPONSE, 1)
        check_eq(struct.unpack(">H", head[:2])[0], 200, "the app's status comes back")
        s.wait_frame(T_END, 1)
        req = target.wait_requests(1)[0]
        check_eq((req.body, req.header("X-A")), (b"hello", "b"), "the app got the request")
    finally:
        fake.close()


BAD = [
    ("a second request smuggled in the header block",
     b"Host: h\r\nContent-Length: 0\r\n\r\nGET /evil HTTP/1.1\r\nHost: h\r\n"),
    ("Transfer-Encoding in the block", b"Host: h\r\nTransfer-Encoding: chunked\r\n"),
    ("Content-Length that disagrees with the body", b"Host: h\r\nContent-Length: 99\r\n"),
    ("a header without a colon", b"Host: h\r\nBroken line\r\n"),
    ("two Host lines", b"Host: h\r\nHost: evil\r\n"),
    ("an absolute-form target", b"Host: h\r\n", b"http://evil/"),
    ("a target that is not a path", b"Host: h\r\n", b"evil"),
]


def case_bad_heads_are_refused(env):
    fake = FakeRelay()
    try:
        agent, target, s = start(env, fake)
        for i, (what, block, *target_) in enumerate(BAD):
            stream = i + 1
            s.send(*request(stream, block, b"hello", target=target_[0] if target_ else b"/hook"))
            payload = s.wait_frame(T_RESET, stream)
            check_eq(struct.unpack(">H", payload[:2])[0], 6, what + ": RESET with code protocol")
        s.send(*request(len(BAD) + 1, b"Host: h\r\nContent-Length: 2\r\n", b"ok"))
        s.wait_frame(T_END, len(BAD) + 1)
        reqs = target.wait_requests(1)
        check_eq([r.target for r in reqs], ["/hook"], "the app saw only the good request")
        check(all(b"evil" not in r.raw_head for r in reqs), "nothing smuggled reached the app")
    finally:
        fake.close()


def case_path_leaving_prefix_is_refused(env):
    """Under --forward's path (http://HOST:PORT/api), a path that would lead out of it once the
    app normalises it (a dot or empty segment, an encoded slash) is refused with a RESET and
    never reaches the app, whatever relay sent it; dots inside a name and in the query pass."""
    fake = FakeRelay()
    try:
        target = env.target()
        agent = Agent(env, fake, TOKEN, "fake", "http://127.0.0.1:%d/api" % target.port)
        agent.start(wait=False)
        s = fake.wait_session(1)
        bad = [b"/../admin/delete", b"/%2e%2e/admin", b"/a/..;/b", b"//evil/x", b"/a%2Fb",
               b"/x/..#"]
        for i, path in enumerate(bad):
            s.send(*request(i + 1, b"Host: h\r\nContent-Length: 2\r\n", b"{}", target=path))
            payload = s.wait_frame(T_RESET, i + 1)
            check_eq(struct.unpack(">H", payload[:2])[0], 2, "%r: RESET refused" % path)
        good = len(bad) + 1
        s.send(*request(good, b"Host: h\r\nContent-Length: 2\r\n", b"ok",
                        target=b"/v1.2/hook?next=../x"))
        s.wait_frame(T_END, good)
        reqs = target.wait_requests(1)
        check_eq([r.target for r in reqs], ["/api/v1.2/hook?next=../x"],
                 "the app saw only the good request, under /api")
        wait_until(lambda: agent.proc.stderr().count("path refused: it would leave --forward's "
                                                     "path") == len(bad), 10,
                   "each refused path to be logged")
    finally:
        fake.close()


def case_body_beyond_declared_length(env):
    """DATA past the length a REQUEST declared is a broken stream: the agent resets it, and
    the app never sees the extra bytes (they would read as a second request). So is an END
    before that length."""
    fake = FakeRelay()
    try:
        agent, target, s = start(env, fake)
        smuggled = b"GET /evil HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
        msgs = request(1, b"Host: h\r\nContent-Length: 5\r\n", b"hello")
        msgs[1] = tunnel_msg(T_DATA, 1, b"hello" + smuggled)
        s.send(*msgs)
        payload = s.wait_frame(T_RESET, 1)
        check_eq(struct.unpack(">H", payload[:2])[0], 6, "RESET with code protocol")
        s.send(*request(3, b"Host: h\r\nContent-Length: 2\r\n", b"ok"))
        s.wait_frame(T_END, 3)
        reqs = target.wait_requests(1)
        check(all(r.target != "/evil" for r in target.requests), "nothing smuggled reached the app",
              [r.target for r in target.requests])
        check_eq([r.body for r in reqs if r.target == "/hook"][-1:], [b"ok"],
                 "the next request goes through")
        wait_until(lambda: "more body than the request declared" in agent.proc.stderr(), 10,
                   "the agent says why")
        # Short of the declared length: the app would wait for the rest.
        msgs = request(5, b"Host: h\r\nContent-Length: 10\r\n", b"0123456789")
        msgs[1] = tunnel_msg(T_DATA, 5, b"short")
        s.send(*msgs)
        payload = s.wait_frame(T_RESET, 5)
        check_eq(struct.unpack(">H", payload[:2])[0], 6, "a short body: RESET with code protocol")
        wait_until(lambda: "the request body ended before its declared length" in
                   agent.proc.stderr(), 10, "the agent says why")
        # A length the relay can never send (unknown): the head itself is refused.
        headers = b"Host: h\r\n"
        s.send(tunnel_msg(T_REQUEST, 7, struct.pack(">Q", 2**64 - 1) + str16(b"evt_fake") +
                          str16(b"POST") + str16(b"/hook") + struct.pack(">I", len(headers)) +
                          headers))
        payload = s.wait_frame(T_RESET, 7)
        check_eq(struct.unpack(">H", payload[:2])[0], 6, "an unknown length: RESET protocol")
    finally:
        fake.close()


def case_silent_relay_is_left(env):
    fake = FakeRelay()
    try:
        agent, target, s = start(env, fake, args=["--heartbeat", "1s"])
        s.silent = True
        t0 = time.monotonic()
        s2 = fake.wait_session(2, timeout=10)
        took = time.monotonic() - t0
        check(took < 4.5, "the agent reconnects within about 2.25 heartbeats plus backoff", took)
        wait_until(lambda: s.closed, 5, "the agent closed the silent connection")
        wait_until(lambda: len(agent.forwarding_lines()) >= 2, 10, "the agent is back up")
        check_eq(s2.header("Authorization"), "Bearer " + TOKEN, "same token on reconnect")
    finally:
        fake.close()


def case_trickling_relay_is_left(env):
    """A relay that trickles the bytes of one endless WebSocket message (and answers no PING
    meanwhile) sends no whole message: the agent finds it silent and reconnects."""
    fake = FakeRelay()
    stop = threading.Event()
    try:
        agent, target, s = start(env, fake, args=["--heartbeat", "1s"])
        s.silent = True

        def trickle():
            StandInConn.send(s, struct.pack(">BBQ", 0x82, 127, 1 << 20))
            while not stop.wait(0.2) and not s.closed:
                try:
                    StandInConn.send(s, b"\0")
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        s2 = fake.wait_session(2, timeout=10)
        wait_until(lambda: s.closed, 5, "the agent closed the trickling connection")
        wait_until(lambda: len(agent.forwarding_lines()) >= 2, 10, "the agent is back up")
        check_eq(s2.header("Authorization"), "Bearer " + TOKEN, "same token on reconnect")
    finally:
        stop.set()
        fake.close()


def case_bad_hello_reconnects(env):
    """A HELLO of this version that does not decode is a protocol error: the agent closes
    with 1002, says why, and connects again; a HELLO of another version stops it."""
    good = struct.pack(">BH", 1, 10) + str16(b"fake") + str16(b"https://fake.example/t/fake/")
    fake = FakeRelay()
    try:
        fake.hellos = [good[:6], good + b"x", b""]
        target = env.target()
        agent = Agent(env, fake, TOKEN, "fake", target.port)
        agent.start(wait=False)
        fake.wait_session(4)
        wait_until(lambda: agent.forwarding_lines(), 10, "the agent is up on the fourth try")
        log = agent.proc.stderr()
        check_eq(log.count("tunnel protocol error from the relay: a malformed HELLO: "
                           "reconnecting"), 3, "each bad HELLO is named once")
        check("protocol version" not in log, "no talk of versions", log[-600:])
        agent.proc.check_alive("after three bad HELLOs")
        agent.stop()
    finally:
        fake.close()
    fake = FakeRelay()
    try:
        fake.hellos = [struct.pack(">BH", 2, 10) + str16(b"fake")]
        agent = Agent(env, fake, TOKEN, "fake", env.target().port)
        agent.start(wait=False)
        check_eq(agent.proc.wait_exit(10), 1, "another version stops the agent")
        check("the relay speaks tunnel protocol version 2; this agent speaks 1: stopping" in
              agent.proc.stderr(), "and it says which", agent.proc.stderr()[-400:])
    finally:
        fake.close()


def case_second_hello_reconnects(env):
    """The relay sends one HELLO, as the tunnel opens. A second, which would rename the tunnel
    under the agent, is a protocol error: the agent says so, never shows the second URL, and
    connects again."""
    fake = FakeRelay()
    try:
        agent, target, s = start(env, fake)
        other = struct.pack(">BH", 1, 10) + str16(b"other") + str16(b"https://evil.example/")
        s.send(tunnel_msg(T_HELLO, 0, other))
        fake.wait_session(2)
        wait_until(lambda: "tunnel protocol error from the relay: a second HELLO: reconnecting"
                   in agent.proc.stderr(), 10, "the agent names the second HELLO")
        check(all("evil.example" not in line for line in agent.forwarding_lines()),
              "the second HELLO's URL is never shown", agent.forwarding_lines())
        agent.stop()
    finally:
        fake.close()


def case_hello_url_is_shown_clean(env):
    """The public URL a relay announces is the relay's words: the agent's Forwarding line shows
    its control bytes as \\xHH, never as a terminal escape or a forged next line."""
    evil = b"https://fake.example/t/fake/\x1b]0;pwn\x07\r\nFAKE LINE"
    fake = FakeRelay()
    try:
        fake.hellos = [struct.pack(">BH", 1, 10) + str16(b"fake") + str16(evil)]
        agent = Agent(env, fake, TOKEN, "fake", env.target().port)
        agent.start(wait=False)
        lines = wait_until(lambda: agent.forwarding_lines(), 10, "the Forwarding line")
        check_eq(lines[0].split(" -> ")[0],
                 "Forwarding https://fake.example/t/fake/\\x1b]0;pwn\\x07\\x0d\\x0aFAKE LINE",
                 "the URL with its control bytes escaped")
        out = agent.proc.stdout()
        check("\x1b" not in out and "\nFAKE LINE" not in out, "nothing raw reaches stdout", out)
        agent.stop()
    finally:
        fake.close()


if __name__ == "__main__":
    run([case_handshake_and_delivery, case_bad_heads_are_refused, case_path_leaving_prefix_is_refused,
         case_body_beyond_declared_length, case_silent_relay_is_left, case_trickling_relay_is_left,
         case_bad_hello_reconnects, case_second_hello_reconnects, case_hello_url_is_shown_clean])
