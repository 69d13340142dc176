"""A minimal RFC 6455 WebSocket client over a raw socket, able to send malformed
frames, and the tunnel protocol's message layout (a 12-byte big-endian header:
type u8, flags u8, reserved u16, stream id u32, payload length u32)."""

import base64
import hashlib
import os
import socket
import struct
import time

from hw_checks import CheckFailed, check, check_eq
from hw_http import IO_TIMEOUT, LOCALHOST, HttpConn, Response, build_request

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

T_HELLO, T_REQUEST, T_RESPONSE, T_DATA, T_END = 1, 2, 3, 4, 5
T_WINDOW, T_RESET, T_PING, T_PONG, T_GOAWAY = 6, 7, 8, 9, 10
TUNNEL_HDR = 12
TUNNEL_MAX_PAYLOAD = 1024 * 1024


def tunnel_msg(mtype, stream=0, payload=b"", flags=0, length=None):
    """One tunnel message; `length` overrides the payload length field (to lie)."""
    return struct.pack(">BBHII", mtype, flags, 0, stream,
                       len(payload) if length is None else length) + payload


def parse_tunnel_msg(msg):
    check(len(msg) >= TUNNEL_HDR, "tunnel message has a 12-byte header", msg)
    mtype, flags, _, stream, plen = struct.unpack(">BBHII", msg[:TUNNEL_HDR])
    check_eq(plen, len(msg) - TUNNEL_HDR, "tunnel message length field")
    return mtype, flags, stream, msg[TUNNEL_HDR:]


def _str16(b):
    return struct.pack(">H", len(b)) + b


def encode_request_payload(method, target, headers, body_len=0, event_id=b"evt_x"):
    return (struct.pack(">Q", body_len) + _str16(event_id) + _str16(method) + _str16(target) +
            struct.pack(">I", len(headers)) + headers)


def parse_hello(payload):
    version, hb = struct.unpack(">BH", payload[:3])
    n = struct.unpack(">H", payload[3:5])[0]
    channel = payload[5:5 + n].decode()
    m = struct.unpack(">H", payload[5 + n:7 + n])[0]
    url = payload[7 + n:7 + n + m].decode()
    return version, hb, channel, url


def ws_frame(opcode, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack(">BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack(">BBH", b0, mbit | 126, n)
    else:
        head = struct.pack(">BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    if n:
        k = (key * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")
    return head + key + payload


class Handshake:
    def __init__(self):
        self.status = 0
        self.response = None
        self.ws = None


class WebSocket:
    """A minimal RFC 6455 client over a raw socket."""

    def __init__(self, sock, reader):
        self.sock = sock
        self.reader = reader
        self.close_code = None

    @staticmethod
    def connect(port, path="/tunnel", token=None, headers=(), subprotocol="hookwire.v1",
                timeout=IO_TIMEOUT):
        """Performs the upgrade; returns a Handshake (with .ws when the server said 101)."""
        key = base64.b64encode(os.urandom(16))
        lines = [("Host", "%s:%d" % (LOCALHOST, port)), ("Upgrade", "websocket"),
                 ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key.decode()),
                 ("Sec-WebSocket-Version", "13")]
        if subprotocol:
            lines.append(("Sec-WebSocket-Protocol", subprotocol))
        if token is not None:
            lines.append(("Authorization", "Bearer " + token))
        lines += list(headers)
        conn = HttpConn(port, timeout=timeout)
        conn.send(build_request("GET", path, lines))
        h = Handshake()
        head = conn.reader.until(b"\r\n\r\n", limit=1 << 20)
        r = Response()
        first, _, rest = head[:-4].partition(b"\r\n")
        parts = first.split(b" ", 2)
        r.status = int(parts[1])
        r.reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        r.header_lines = rest.split(b"\r\n") if rest else []
        r.raw_head = head
        h.status, h.response = r.status, r
        if r.status != 101:
            n = r.header("Content-Length")
            if n is not None:
                r.body = conn.reader.exact(int(n))
            conn.sock.close()
            return h
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        check_eq(r.header("Sec-WebSocket-Accept"), accept, "Sec-WebSocket-Accept")
        h.ws = WebSocket(conn.sock, conn.reader)
        return h

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload, **kw):
        self.sock.sendall(ws_frame(opcode, payload, **kw))

    def send_binary(self, payload):
        self.send_frame(OP_BINARY, payload)

    def recv_frame(self, timeout=IO_TIMEOUT):
        """(fin, opcode, payload); raises EOFError when the connection ends."""
        self.sock.settimeout(timeout)
        try:
            b0, b1 = self.reader.exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self.reader.exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self.reader.exact(8))[0]
            key = self.reader.exact(4) if b1 & 0x80 else None
            payload = self.reader.exact(n)
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        check(key is None, "server frames are not masked")
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=IO_TIMEOUT):
        """The next data message as (opcode, payload), answering WebSocket pings."""
        deadline = time.monotonic() + timeout
        parts, first_op = [], None
        while True:
            fin, op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                raise EOFError("close frame, code %s" % self.close_code)
            if first_op is None:
                first_op = op
            parts.append(payload)
            if fin:
                return first_op, b"".join(parts)

    def recv_tunnel(self, timeout=IO_TIMEOUT):
        op, msg = self.recv_message(timeout)
        check_eq(op, OP_BINARY, "tunnel messages are binary")
        return parse_tunnel_msg(msg)

    def wait_closed(self, timeout=5.0):
        """Reads until the server closes; returns "close CODE" or "eof". Fails on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed("the relay kept the connection open for %.1fs" % timeout)
            try:
                self.recv_message(left)
            except EOFError:
                return "close %s" % self.close_code if self.close_code else "eof"
            except socket.timeout:
                continue
            except OSError:
                return "eof"

    def close(self):
        self.sock.close()
