"""Raw HTTP/1.1 for the end-to-end tests, where bytes matter.

Builds requests byte for byte, sends them and parses answers (Content-Length,
chunked, or up to EOF) with HttpConn, and serves a recording target: a threaded
socket server that keeps each request exactly as received (request line, raw
header lines in order, body) and answers as the test programs it (status,
reason, headers, chunked or not, partial, garbage, or closing without an
answer; a handler that blocks makes a slow app).
"""

import socket
import threading
import time
import traceback

from hw_checks import CheckFailed, check

LOCALHOST = "127.0.0.1"
IO_TIMEOUT = 30.0  # seconds any single socket operation may block

# Hop-by-hop headers (RFC 9110 7.6.1 plus the proxy ones): never forwarded.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


def _line(h):
    if isinstance(h, bytes):
        return h
    if isinstance(h, str):
        return h.encode("latin-1")
    return ("%s: %s" % h).encode("latin-1")


def split_header_line(line):
    """b"Name: value" -> ("Name", "value" with surrounding whitespace removed)."""
    name, _, value = line.partition(b":")
    return name.decode("latin-1"), value.decode("latin-1").strip(" \t")


def chunk_body(body, sizes):
    """Encodes body in chunks of the given sizes (cycled), then the last chunk."""
    out, i, k = [], 0, 0
    while i < len(body):
        n = max(1, sizes[k % len(sizes)])
        part = body[i:i + n]
        out.append(b"%x\r\n%s\r\n" % (len(part), part))
        i += len(part)
        k += 1
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def build_request(method, target, headers=(), body=b"", chunks=None, version="HTTP/1.1",
                  auto_length=True):
    """Exact request bytes. headers: raw lines (bytes/str) or (name, value) pairs, sent as given.
    chunks: chunk sizes to send body chunked (the caller adds Transfer-Encoding).
    auto_length: append Content-Length when there is a body and no framing header."""
    lines = [("%s %s %s" % (method, target, version)).encode("latin-1")]
    lines += [_line(h) for h in headers]
    names = {split_header_line(l)[0].lower() for l in lines[1:]}
    if (chunks is None and auto_length and body and "content-length" not in names and
            "transfer-encoding" not in names):
        lines.append(b"Content-Length: %d" % len(body))
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    return head + (chunk_body(body, chunks) if chunks is not None else body)


def read_head(sock):
    """Reads from sock until the blank line ending a head (or EOF); returns all it read."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            break
        head += data
    return head


def head_lines(raw):
    """The header lines (without CRLF) of a raw message: everything between the first line and
    the blank line."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")[1:]


class Message:
    """Common accessors for a parsed request or response."""

    header_lines = ()

    def headers(self):
        return [split_header_line(l) for l in self.header_lines]

    def header_values(self, name):
        return [v for n, v in self.headers() if n.lower() == name.lower()]

    def header(self, name):
        v = self.header_values(name)
        return v[0] if v else None


class Response(Message):
    def __init__(self):
        self.version = self.reason = ""
        self.status = 0
        self.status_line = b""
        self.header_lines = []
        self.body = b""
        self.raw_head = b""
        self.chunked = False
        self.interim = []  # 1xx status codes seen before the final answer

    def __repr__(self):
        return "<Response %d %r %d bytes>" % (self.status, self.reason, len(self.body))


class _Reader:
    """Buffered reads from a socket with a deadline per call."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False
        self.reset = False

    def fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            self.reset = True
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def until(self, sep, limit=1 << 24):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise CheckFailed("no %r within %d bytes" % (sep, limit))
            if not self.fill():
                raise EOFError("connection closed after %d bytes while waiting for %r: %r" %
                               (len(self.buf), sep, bytes(self.buf[:200])))

    def exact(self, n):
        while len(self.buf) < n:
            if not self.fill():
                raise EOFError("connection closed after %d of %d bytes" % (len(self.buf), n))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def rest(self):
        while self.fill():
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def chunked(self):
        """Decodes a chunked body; returns (body, raw bytes as received)."""
        body, raw = bytearray(), bytearray()
        while True:
            line = self.until(b"\r\n")
            raw += line
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailer section
                    t = self.until(b"\r\n")
                    raw += t
                    if t == b"\r\n":
                        return bytes(body), bytes(raw)
            data = self.exact(size + 2)
            check(data[-2:] == b"\r\n", "chunk data ends with CRLF", data[-2:])
            raw += data
            body += data[:-2]


def _has_chunked(msg):
    te = ",".join(msg.header_values("Transfer-Encoding")).lower()
    return te.split(",")[-1].strip() == "chunked" if te else False


class HttpConn:
    """One client connection: send exact bytes, read responses (keep-alive capable)."""

    def __init__(self, port, host=LOCALHOST, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = _Reader(self.sock)
        self.send_error = None
        self._sender = None

    def send(self, data):
        self.sock.sendall(data)

    def send_background(self, data):
        """Sends in a thread, for servers that may answer (and close) before reading it all."""
        def run():
            try:
                self.sock.sendall(data)
            except OSError as e:
                self.send_error = e
        self._sender = threading.Thread(target=run, daemon=True)
        self._sender.start()

    def read_response(self, method="GET"):
        r = Response()
        while True:
            head = self.reader.until(b"\r\n\r\n", limit=1 << 20)
            first, _, rest = head[:-4].partition(b"\r\n")
            parts = first.split(b" ", 2)
            check(len(parts) >= 2 and parts[0].startswith(b"HTTP/"),
                  "response starts with a status line", first[:200])
            status = int(parts[1])
            if 100 <= status < 200 and status != 101:
                r.interim.append(status)
                continue
            break
        r.raw_head = head
        r.status_line = first
        r.version = parts[0].decode()
        r.status = status
        r.reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        r.header_lines = rest.split(b"\r\n") if rest else []
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return r
        if _has_chunked(r):
            r.chunked = True
            r.body, _ = self.reader.chunked()
        elif r.header("Content-Length") is not None:
            r.body = self.reader.exact(int(r.header("Content-Length")))
        else:
            r.body = self.reader.rest()
        return r

    def request(self, method, target, headers=(), body=b"", **kw):
        self.send(build_request(method, target, headers, body, **kw))
        return self.read_response(method)

    def closed_by_peer(self, timeout=5.0):
        """True when the server closes the connection within timeout (no extra bytes)."""
        self.sock.settimeout(timeout)
        try:
            extra = self.reader.rest()
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        check(not extra, "no bytes after the response", extra[:200])
        return True

    def close(self):
        if self._sender:
            self._sender.join(IO_TIMEOUT)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def request(port, method, target, headers=(), body=b"", **kw):
    """One request on a fresh connection; returns the Response."""
    with HttpConn(port) as c:
        return c.request(method, target, headers, body, **kw)


def get(port, path):
    return request(port, "GET", path, [("Host", "%s:%d" % (LOCALHOST, port)),
                                       ("Connection", "close")])


def expected_forwarded_lines(sent_lines):
    """The original header lines a target must see, in order: minus hop-by-hop headers and
    those the Connection header names."""
    named = set()
    for l in sent_lines:
        n, v = split_header_line(l)
        if n.lower() == "connection":
            named |= {t.strip().lower() for t in v.split(",") if t.strip()}
    return [l for l in sent_lines
            if split_header_line(l)[0].lower() not in HOP_BY_HOP | named]


class Request(Message):
    """One request as the target received it."""

    def __init__(self, conn_no, raw_head):
        self.conn_no = conn_no
        self.raw_head = raw_head
        lines = raw_head[:-4].split(b"\r\n")
        self.request_line = lines[0]
        parts = lines[0].decode("latin-1").split(" ")
        self.method = parts[0]
        self.target = parts[1] if len(parts) > 1 else ""
        self.version = parts[2] if len(parts) > 2 else ""
        self.header_lines = lines[1:]
        self.body = b""
        self.raw_body = b""
        self.chunked = False

    def __repr__(self):
        return "<Request %s %s %d bytes>" % (self.method, self.target, len(self.body))


class Reply:
    """What the target answers to one request.

    headers: raw lines (bytes/str) or (name, value) pairs, sent as given.
    chunked: send the body with chunked framing (chunk sizes from `chunks`).
    auto_length: add Content-Length when not chunked and none is given.
    send_body: False to send headers only (as for HEAD).
    action: "answer"; "close" (close without answering); "garbage" (non-HTTP bytes, close);
            "partial" (the first `partial` bytes of the answer, then close);
            "stall" (the first `partial` bytes, then nothing until `release` is set);
            "trickle" (the first `partial` bytes, then one byte every `every` seconds
            until all is sent or `release` is set).
    close: close the connection after answering."""

    def __init__(self, status=200, reason="OK", headers=(), body=b"", chunked=False,
                 chunks=(4096,), auto_length=True, send_body=True, action="answer", partial=0,
                 close=False, release=None, every=0.3):
        self.status, self.reason, self.headers, self.body = status, reason, list(headers), body
        self.chunked, self.chunks, self.auto_length = chunked, list(chunks), auto_length
        self.send_body, self.action, self.partial, self.close = send_body, action, partial, close
        self.release = release or threading.Event()
        self.every = every

    def header_lines(self):
        lines = [_line(h) for h in self.headers]
        names = {split_header_line(l)[0].lower() for l in lines}
        if self.chunked and "transfer-encoding" not in names:
            lines.append(b"Transfer-Encoding: chunked")
        elif (not self.chunked and self.auto_length and "content-length" not in names and
              self.status >= 200 and self.status not in (204, 304)):
            lines.append(b"Content-Length: %d" % len(self.body))
        return lines

    def encode(self, method):
        head = b"HTTP/1.1 %d %s\r\n" % (self.status, self.reason.encode("latin-1"))
        head += b"".join(l + b"\r\n" for l in self.header_lines()) + b"\r\n"
        if not self.send_body or method == "HEAD" or self.status in (204, 304):
            return head
        return head + (chunk_body(self.body, self.chunks) if self.chunked else self.body)


class RawServer:
    """A loopback listener for peers no HTTP server would be: serve(conn) runs on a thread of
    its own for each connection accepted. stop is set by close(), which also closes the
    listener and every connection; serve may wait on it. Usable as a context manager."""

    def __init__(self, serve):
        self.sock = socket.socket()
        self.sock.bind((LOCALHOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = threading.Event()
        threading.Thread(target=self._accept, args=(serve,), daemon=True).start()

    def _accept(self, serve):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(serve, conn), daemon=True).start()

    @staticmethod
    def _run(serve, conn):
        try:
            serve(conn)
        except OSError:
            pass  # the peer, or close(), ended the connection

    def close(self):
        self.stop.set()
        self.sock.close()
        for c in self.conns:
            c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def default_handler(req):
    return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")


class Target:
    """A threaded HTTP/1.1 server on 127.0.0.1 that records every request byte-exactly
    and answers with handler(request) -> Reply. Supports keep-alive, Content-Length and
    chunked request bodies. With tls (an ssl.SSLContext for the server side) it speaks HTTPS;
    handshakes the client refused are kept in tls_failures, not counted as errors."""

    def __init__(self, handler=None, port=None, tls=None):
        self.handler = handler or default_handler
        self.tls = tls
        self.tls_failures = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOCALHOST, port or 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.errors = []
        self.ignore_errors = False  # set when the test makes its peers vanish on purpose
        self.connections = 0
        self.cond = threading.Condition()
        self.conns = []
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.cond:
                if self.closing:
                    conn.close()
                    return
                self.connections += 1
                n = self.connections
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def _serve(self, conn, n):
        conn.settimeout(120)
        if self.tls is not None:
            raw = conn
            try:
                conn = self.tls.wrap_socket(raw, server_side=True)
            except (OSError, ValueError) as e:
                with self.cond:
                    self.tls_failures.append("connection %d: %r" % (n, e))
                    self.cond.notify_all()
                raw.close()
                return
            with self.cond:
                # close() shuts down what the thread serves: the TLS socket now.
                self.conns = [conn if c is raw else c for c in self.conns]
        rd = _Reader(conn)
        try:
            while True:
                try:
                    head = rd.until(b"\r\n\r\n", limit=1 << 20)
                except EOFError:
                    return
                req = Request(n, head)
                if _has_chunked(req):
                    req.chunked = True
                    req.body, req.raw_body = rd.chunked()
                elif req.header("Content-Length") is not None:
                    req.body = req.raw_body = rd.exact(int(req.header("Content-Length")))
                with self.cond:
                    self.requests.append(req)
                    self.cond.notify_all()
                reply = self.handler(req)
                if reply.action == "close":
                    return
                if reply.action == "garbage":
                    conn.sendall(b"\x00\xffthis is not HTTP at all\r\n\r\n")
                    return
                data = reply.encode(req.method)
                if reply.action == "partial":
                    conn.sendall(data[:reply.partial])
                    return
                if reply.action == "trickle":
                    conn.sendall(data[:reply.partial])
                    for i in range(reply.partial, len(data)):
                        if reply.release.wait(reply.every):
                            break
                        try:
                            conn.sendall(data[i:i + 1])
                        except OSError:
                            return  # cut short by the client: what a trickle is for
                    return
                if reply.action == "stall":
                    conn.sendall(data[:reply.partial])
                    reply.release.wait(30)
                    return
                conn.sendall(data)
                if reply.close or (req.header("Connection") or "").lower() == "close":
                    return
        except (OSError, EOFError) as e:
            if not self.closing:
                with self.cond:
                    self.errors.append("connection %d: %r" % (n, e))
        except Exception:
            with self.cond:
                self.errors.append("connection %d: %s" % (n, traceback.format_exc()))
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def count(self):
        with self.cond:
            return len(self.requests)

    def wait_requests(self, n, timeout=IO_TIMEOUT):
        """Waits until at least n requests were received; returns them all."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CheckFailed("target got %d requests within %.0fs, expected %d" %
                                      (len(self.requests), timeout, n))
                self.cond.wait(left)
            return list(self.requests)

    def close(self):
        with self.cond:
            self.closing = True
            conns = list(self.conns)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
