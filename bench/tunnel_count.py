#!/usr/bin/env python3
"""A fixed-count load client for profiling the tunnel (bench/tunnel_profile.sh).

Sends COUNT keep-alive 1 KiB POSTs (the same request as bench/tunnel.sh) spread over CONNS
connections, one request in flight per connection, and checks that every answer is a 200.
A fixed count, unlike wrk's fixed time, makes instruction and syscall counts per request
comparable between builds on a busy machine.

    bench/tunnel_count.py URL COUNT CONNS
"""
import selectors
import socket
import sys
import time
import urllib.parse

DEADLINE_S = 300


def request(host, port, path):
    body = b"x" * 1024
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/octet-stream\r\n"
        "X-Hub-Signature-256: sha256=" + "0" * 64 + "\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def answer_end(buf):
    """Returns the length of the first complete answer in buf, or 0."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    total = end + 4 + length
    return total if len(buf) >= total else 0


def main():
    url, count, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    u = urllib.parse.urlsplit(url)
    req = request(u.hostname, u.port, u.path or "/")
    sel = selectors.DefaultSelector()
    left = {"send": count, "recv": count}
    for _ in range(min(conns, count)):
        s = socket.create_connection((u.hostname, u.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
        s.sendall(req)
        left["send"] -= 1
    deadline = time.monotonic() + DEADLINE_S
    while left["recv"] > 0:
        if time.monotonic() > deadline:
            sys.exit(f"timed out with {left['recv']} answers missing")
        for key, _ in sel.select(timeout=1.0):
            s, buf = key.fileobj, key.data
            data = s.recv(65536)
            if not data:
                sys.exit("connection closed by the server")
            buf += data
            n = answer_end(buf)
            if not n:
                continue
            if not buf.startswith(b"HTTP/1.1 200"):
                sys.exit(f"unexpected answer: {bytes(buf[:80])!r}")
            del buf[:n]
            left["recv"] -= 1
            if left["send"] > 0:
                s.sendall(req)
                left["send"] -= 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()


if __name__ == "__main__":
    main()
