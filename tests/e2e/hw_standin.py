"""A stand-in relay for agent tests: a loopback listener that answers the agent's
WebSocket upgrade (101 with hookwire.v1 and a HELLO) and reads the agent's frames
in a thread per connection. Tests subclass StandInConn to decide what a frame
means (tunnel messages, or raw WebSocket opcodes) and StandInRelay to shape the
upgrade answer."""

import base64
import hashlib
import socket
import struct
import threading
import time

from harness import LOCALHOST, check
from hw_http import read_head
from hw_ws import T_HELLO, WS_GUID, tunnel_msg, ws_frame


def str16(b):
    return struct.pack(">H", len(b)) + b


def hello(channel, url):
    """A HELLO message: version 1, heartbeat 10 s, the channel and its public URL."""
    return tunnel_msg(T_HELLO, 0, struct.pack(">BH", 1, 10) + str16(channel) + str16(url))


class StandInConn:
    """One agent connection. Every frame from the agent is unmasked and handed to
    on_frame(opcode, payload) on the reader thread, under self.cond."""

    def __init__(self, sock, head):
        self.sock = sock
        self.head = head
        self.buf = b""
        self.closed = False
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def header(self, name):
        for line in self.head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == name.lower().encode():
                return v.strip().decode()
        return None

    def send(self, raw):
        try:
            self.sock.sendall(raw)
        except OSError:
            pass

    def on_frame(self, opcode, payload, masked):
        """Called for each frame; return False to stop reading."""
        raise NotImplementedError

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
                key = self._exact(4) if b1 & 0x80 else b"\0\0\0\0"
                data = bytes(c ^ key[i % 4] for i, c in enumerate(self._exact(n)))
                with self.cond:
                    more = self.on_frame(b0 & 0x0F, data, bool(b1 & 0x80))
                    self.cond.notify_all()
                if more is False:
                    break
        except (EOFError, OSError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait_closed(self, what, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.closed:
                left = deadline - time.monotonic()
                check(left > 0, what)
                self.cond.wait(left)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class StandInRelay:
    """Accepts agents on a loopback port; each upgrade becomes conn_class(sock, head).
    channel names the channel HELLO announces."""

    def __init__(self, conn_class, channel, good_accept=True):
        self.sock = socket.socket()
        self.sock.bind((LOCALHOST, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conn_class = conn_class
        self.channel = channel
        self.good_accept = good_accept
        self.conns = []
        self.hellos = []  # HELLO payloads for the next connections, in turn; then a good one
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
            head = read_head(conn)
            key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
                   if l.lower().startswith(b"sec-websocket-key:")][0]
            digest = hashlib.sha1(key + WS_GUID if self.good_accept else key).digest()
            c = self.conn_class(conn, head)
            # The answer and HELLO in one write: the agent must read frames that follow the head.
            url = b"https://fake.example/t/%s/" % self.channel.encode()
            with self.cond:
                first = (tunnel_msg(T_HELLO, 0, self.hellos.pop(0)) if self.hellos else
                         hello(self.channel.encode(), url))
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                         base64.b64encode(digest) +
                         b"\r\nSec-WebSocket-Protocol: hookwire.v1\r\n\r\n" +
                         ws_frame(2, first, mask=False))
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
            c.close()
