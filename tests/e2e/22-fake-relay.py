#!/usr/bin/env python3
"""The agent against a stand-in relay (a small WebSocket server speaking the tunnel
protocol): it sends its token as a bearer header with the hookwire.v1 subprotocol,
prints the URL from HELLO, refuses a request head that would not be exactly one
request (RESET, and the app never sees it), and reconnects by itself when the
relay goes silent for two heartbeat intervals."""

import base64
import hashlib
import socket
import struct
import threading
import time

from harness import LOCALHOST, Agent, check, check_eq, run, wait_until
from hw_ws import (T_DATA, T_END, T_HELLO, T_PING, T_PONG, T_REQUEST, T_RESET, T_RESPONSE,
                   WS_GUID, tunnel_msg)

TOKEN = "hwt_fake-relay-token"


def frame(payload, opcode=2):
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack(">BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
    return head + payload


def str16(b):
    return struct.pack(">H", len(b)) + b


class Session:
    """One agent connection to the fake relay."""

    def __init__(self, sock, request_head):
        self.sock = sock
        self.head = request_head
        self.buf = b""
        self.frames = []  # (type, stream, payload) received, in order
        self.cond = threading.Condition()
        self.closed = False
        self.silent = False  # stop answering PINGs
        threading.Thread(target=self._read, daemon=True).start()

    def header(self, name):
        for line in self.head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == name.lower().encode():
                return v.strip().decode()
        return None

    def send(self, *msgs):
        try:
            self.sock.sendall(frame(b"".join(msgs)))
        except OSError:
            pass

    def _exact(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read(self):
        try:
            while True:
                b0, b1 = self._exact(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self._exact(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self._exact(8))[0]
                key = self._exact(4)
                data = bytes(c ^ key[i % 4] for i, c in enumerate(self._exact(n)))
                if b0 & 0x0F == 8:
                    break
                while data:
                    mtype, _, _, sid, plen = struct.unpack(">BBHII", data[:12])
                    payload = data[12:12 + plen]
                    data = data[12 + plen:]
                    if mtype == T_PING and not self.silent:
                        self.send(tunnel_msg(T_PONG, 0, payload))
                    with self.cond:
                        self.frames.append((mtype, sid, payload))
                        self.cond.notify_all()
        except (EOFError, OSError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

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

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class FakeRelay:
    def __init__(self, channel="fake"):
        self.sock = socket.socket()
        self.sock.bind((LOCALHOST, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.channel = channel
        self.sessions = []
        self.cond = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def ws_url(self):
        return "ws://%s:%d" % (LOCALHOST, self.port)

    def channel_connected(self, channel):
        return bool(self.sessions) and not self.sessions[-1].closed

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(4096)
                if not data:
                    break
                head += data
            key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
                   if l.lower().startswith(b"sec-websocket-key:")][0]
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                         b"\r\nSec-WebSocket-Protocol: hookwire.v1\r\n\r\n")
            s = Session(conn, head)
            s.send(tunnel_msg(T_HELLO, 0, struct.pack(">BH", 1, 10) + str16(self.channel.encode())
                              + str16(b"https://fake.example/t/fake/")))
            with self.cond:
                self.sessions.append(s)
                self.cond.notify_all()

    def wait_session(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.sessions) < n:
                left = deadline - time.monotonic()
                check(left > 0, "agent connection #%d" % n, len(self.sessions))
                self.cond.wait(left)
            return self.sessions[n - 1]

    def close(self):
        self.sock.close()
        for s in self.sessions:
            s.close()


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
]


def case_bad_heads_are_refused(env):
    fake = FakeRelay()
    try:
        agent, target, s = start(env, fake)
        for i, (what, block) in enumerate(BAD):
            stream = i + 1
            s.send(*request(stream, block, b"hello"))
            payload = s.wait_frame(T_RESET, stream)
            check_eq(struct.unpack(">H", payload[:2])[0], 6, what + ": RESET with code protocol")
        s.send(*request(len(BAD) + 1, b"Host: h\r\nContent-Length: 2\r\n", b"ok"))
        s.wait_frame(T_END, len(BAD) + 1)
        reqs = target.wait_requests(1)
        check_eq([r.target for r in reqs], ["/hook"], "the app saw only the good request")
        check(all(b"/evil" not in r.raw_head for r in reqs), "nothing smuggled reached the app")
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


if __name__ == "__main__":
    run([case_handshake_and_delivery, case_bad_heads_are_refused, case_silent_relay_is_left])
