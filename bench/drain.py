#!/usr/bin/env python3
"""Draining the offline queue: N queued 1 KiB webhooks (default 10,000) go to a fast local
app (nginx, `return 200`) through relay + agent once the agent connects. The time is
taken from the relay's own log lines ("agent connected: draining N queued events" to
"queue drained"), so the client and app speed do not count. Run by hand (after
scripts/install-deps --bench); prints a Markdown line for bench/RESULTS.md.
    bench/drain.py [N] [STORE_URL]        (HW_BIN=DIR to use other binaries)"""

import datetime
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import BIN, port, wait_for

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
WORK = tempfile.mkdtemp(prefix="hookwire-drain.")
STORE = sys.argv[2] if len(sys.argv) > 2 else "sqlite:%s/relay.db" % WORK


def http_ok(p, path):
    with socket.create_connection(("127.0.0.1", p), timeout=2) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        return s.recv(64).startswith(b"HTTP/1.1 200")


def sender(p, count, body, errors):
    """count POSTs on one keep-alive connection, each must be answered 202."""
    s = socket.create_connection(("127.0.0.1", p), timeout=10)
    req = (b"POST /t/bench/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream"
           b"\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    buf = b""
    for _ in range(count):
        s.sendall(req)
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, _, buf = buf.partition(b"\r\n\r\n")
        n = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
        while len(buf) < n:
            buf += s.recv(65536)
        buf = buf[n:]
        if not head.startswith(b"HTTP/1.1 202"):
            errors.append(head.split(b"\r\n")[0])
    s.close()


def stamp(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")


def main():
    procs = []
    try:
        target, web, tun = port(), port(), port()
        conf = os.path.join(WORK, "nginx.conf")
        with open(conf, "w") as f:
            f.write("daemon off; master_process off; worker_processes 1; pid %s/nginx.pid;\n"
                    "error_log %s/error.log; events { worker_connections 1024; }\n"
                    "http { access_log off; client_body_buffer_size 64k;\n"
                    "server { listen 127.0.0.1:%d; location / { return 200 \"ok\\n\"; } } }\n"
                    % (WORK, WORK, target))
        procs.append(subprocess.Popen(["nginx", "-c", conf, "-p", WORK]))
        wait_for(lambda: http_ok(target, "/"))
        token = subprocess.run([BIN + "/hookwire-relay", "--store", STORE, "token", "add",
                                "bench"], capture_output=True, text=True, check=True).stdout.strip()
        log = open(os.path.join(WORK, "relay.log"), "w")
        procs.append(subprocess.Popen([BIN + "/hookwire-relay", "--listen", "127.0.0.1:%d" % web,
                                       "--tunnel-listen", "127.0.0.1:%d" % tun, "--store", STORE,
                                       "--max-queued", str(N)], stderr=log))
        wait_for(lambda: http_ok(web, "/healthz"))
        body = bytes(i % 256 for i in range(1024))
        errors, threads, per = [], [], N // 8
        t0 = time.monotonic()
        for i in range(8):
            th = threading.Thread(target=sender, args=(web, per + (N % 8 if i == 0 else 0), body,
                                                       errors))
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
        queued_s = time.monotonic() - t0
        if errors:
            raise SystemExit("not all queued: %s" % errors[:3])
        env = dict(os.environ, HOOKWIRE_TOKEN=token)
        procs.append(subprocess.Popen([BIN + "/hookwire-agent", "--relay", "ws://127.0.0.1:%d" % tun,
                                       "--forward", str(target), "--log-level", "warn"], env=env,
                                      stdout=subprocess.DEVNULL))
        relay_log = os.path.join(WORK, "relay.log")
        wait_for(lambda: "queue drained" in open(relay_log).read(), 120)
        lines = open(relay_log).read().splitlines()
        start = [l for l in lines if "draining" in l][0]
        end = [l for l in lines if "queue drained" in l][0]
        secs = (stamp(end) - stamp(start)).total_seconds()
        print("| %s | %d | %.2f s (%.0f/s) | %.2f s |" % (STORE.split(":")[0], N, secs, N / secs,
                                                        queued_s))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(10)
        if os.environ.get("HW_BENCH_KEEP") != "1":
            shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
