#!/usr/bin/env python3
"""The agent's own WebSocket client framing against a stand-in relay that sends
what a real relay may: a tunnel message split over fragments with a WebSocket
PING between them (answered with a PONG echoing it, the request still served),
a message over 64 KiB (64-bit length), a close (echoed), and frames a server
must not send (a text message, a masked frame: closed with status 1002, then a
new connection). A relay whose upgrade answer carries a wrong
Sec-WebSocket-Accept is never used."""

import base64
import hashlib
import socket
import struct
import threading
import time

from harness import LOCALHOST, Agent, check, check_eq, run, wait_until
from hw_ws import (T_DATA, T_END, T_HELLO, T_REQUEST, T_RESPONSE, WS_GUID, encode_request_payload,
                   tunnel_msg, ws_frame)

TOKEN = "hwt_framing-token"


def str16(b):
    return struct.pack(">H", len(b)) + b


class Conn:
    """One agent connection: WebSocket frames read in a thread, by opcode."""

    def __init__(self, sock, head):
        self.sock = sock
        self.head = head
        self.buf = b""
        self.frames = []  # (opcode, payload), unmasked
        self.closed = False
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

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
                check(b1 & 0x80, "every frame from the agent is masked", (b0, b1))
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self._exact(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self._exact(8))[0]
                key = self._exact(4)
                data = bytes(c ^ key[i % 4] for i, c in enumerate(self._exact(n)))
                with self.cond:
                    self.frames.append((b0 & 0x0F, data))
                    self.cond.notify_all()
        except (EOFError, OSError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, raw):
        try:
            self.sock.sendall(raw)
        except OSError:
            pass

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

    def wait_closed(self, what, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.closed:
                left = deadline - time.monotonic()
                check(left > 0, what)
                self.cond.wait(left)


class Relay:
    def __init__(self, good_accept=True):
        self.sock = socket.socket()
        self.sock.bind((LOCALHOST, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.good_accept = good_accept
        self.conns = []
        self.cond = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def ws_url(self):
        return "ws://%s:%d" % (LOCALHOST, self.port)

    def channel_connected(self, channel):
        return bool(self.conns) and not self.conns[-1].closed

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
            if not self.good_accept:
                accept = base64.b64encode(hashlib.sha1(key).digest())
            c = Conn(conn, head)
            # The answer and HELLO in one write: the agent must read frames that follow the head.
            hello = tunnel_msg(T_HELLO, 0, struct.pack(">BH", 1, 10) + str16(b"framing") +
                               str16(b"https://fake.example/t/framing/"))
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                         b"\r\nSec-WebSocket-Protocol: hookwire.v1\r\n\r\n" +
                         ws_frame(2, hello, mask=False))
            with self.cond:
                self.conns.append(c)
                self.cond.notify_all()

    def wait_conn(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.conns) < n:
                left = deadline - time.monotonic()
                check(left > 0, "agent connection #%d" % n, len(self.conns))
                self.cond.wait(left)
            return self.conns[n - 1]

    def close(self):
        self.sock.close()
        for c in self.conns:
            try:
                c.sock.close()
            except OSError:
                pass


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
        for n, (what, raw) in enumerate([
                ("a text message", ws_frame(1, b"hello", mask=False)),
                ("a masked frame", ws_frame(2, tunnel_msg(T_END, 9), mask=True))]):
            c.send(raw)
            op, data = c.wait(lambda f: f[0] == 8, what + ": the agent sends a close frame")
            check_eq(data[:2], struct.pack(">H", 1002), what + ": with status 1002")
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
