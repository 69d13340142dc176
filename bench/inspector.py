#!/usr/bin/env python3
"""The inspector's API over a relay history of N stored events (default 10,000, 1 KiB
bodies, all delivered, one channel): the time of GET /api/events pages (50 and 1,000
events, first and deep), of walking the whole history in pages of 1,000, and of one
event's detail, measured at the agent's inspector and, for comparison, at the relay's own
history API. Each timing is a fresh connection, a request and the whole answer read; 30 runs
each, median, p95 and max. Run by hand after a build; prints Markdown for bench/RESULTS.md.
    bench/inspector.py [N]                (HW_BIN=DIR to use other binaries)"""

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import BIN, port, wait_for

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
RUNS = 30
WORK = tempfile.mkdtemp(prefix="hookwire-inspector-bench.")
STORE = "sqlite:%s/relay.db" % WORK


def get(p, path, token=None):
    c = http.client.HTTPConnection("127.0.0.1", p, timeout=30)
    headers = {"Host": "127.0.0.1:%d" % p}
    if token:
        headers["Authorization"] = "Bearer " + token
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        raise SystemExit("GET %s: %d %r" % (path, r.status, body[:200]))
    return body


def timed(fn):
    runs = []
    for _ in range(RUNS):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    runs.sort()
    return statistics.median(runs), runs[int(len(runs) * 0.95) - 1], runs[-1]


def main():
    procs = []
    try:
        with open(os.path.join(WORK, "body"), "wb") as f:
            f.write(b'{"n":"' + b"x" * 1010 + b'"}')
        with open(os.path.join(WORK, "headers"), "wb") as f:
            f.write(b"Host: hooks.example\r\nContent-Type: application/json\r\n"
                    b"X-GitHub-Event: push\r\nUser-Agent: GitHub-Hookshot/bench\r\n")
        t = time.perf_counter()
        subprocess.run([os.path.join(BIN, "hw-store-append"), "--store", STORE, "--count",
                        str(N), "--source", "bench", "--path", "/hook", "--headers-file",
                        os.path.join(WORK, "headers"), "--body-file", os.path.join(WORK, "body"),
                        "--deliver"], check=True, stdout=subprocess.DEVNULL)
        fill_s = time.perf_counter() - t
        token = subprocess.run([os.path.join(BIN, "hookwire-relay"), "--store", STORE, "token",
                                "add", "bench"], check=True, capture_output=True,
                               text=True).stdout.split()[0]
        pub, tun, ins = port(), port(), port()
        log = open(os.path.join(WORK, "relay.log"), "wb")
        procs.append(subprocess.Popen([os.path.join(BIN, "hookwire-relay"), "--listen",
                                       "127.0.0.1:%d" % pub, "--tunnel-listen",
                                       "127.0.0.1:%d" % tun, "--store", STORE],
                                      stdout=log, stderr=log))
        wait_for(lambda: get(tun, "/healthz"), 20)
        alog = open(os.path.join(WORK, "agent.log"), "wb")
        procs.append(subprocess.Popen([os.path.join(BIN, "hookwire-agent"), "--relay",
                                       "ws://127.0.0.1:%d" % tun, "--forward", str(port()),
                                       "--inspect", "127.0.0.1:%d" % ins],
                                      env=dict(os.environ, HOOKWIRE_TOKEN=token),
                                      stdout=alog, stderr=alog))
        wait_for(lambda: get(ins, "/api/info"), 20)
        first = json.loads(get(ins, "/api/events?limit=1000"))
        check_n = len(first["events"])
        assert check_n == min(N, 1000), check_n
        mid_cursor = first["next_cursor"]
        for _ in range(4):
            mid_cursor = json.loads(get(ins, "/api/events?limit=1000&cursor=%d" % mid_cursor))[
                "next_cursor"] or mid_cursor
        one = first["events"][0]["id"]

        def walk(p, tok=None):
            cursor, seen = 0, 0
            while True:
                page = json.loads(get(p, "/api/events?limit=1000" +
                                      ("&cursor=%d" % cursor if cursor else ""), tok))
                seen += len(page["events"])
                cursor = page["next_cursor"]
                if not cursor or not page["events"]:
                    break
            assert seen == N, seen

        rows = [
            ("page of 50, newest", "/api/events?limit=50"),
            ("page of 1,000, newest", "/api/events?limit=1000"),
            ("page of 1,000, from the middle", "/api/events?limit=1000&cursor=%d" % mid_cursor),
            ("one event's detail (record + 1 KiB body)", "/api/events/%s" % one),
        ]
        print("%d events stored (filled in %.1f s); %d runs per row, ms" % (N, fill_s, RUNS))
        print()
        print("| request | inspector median | p95 | max | relay API median | p95 | max |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, path in rows:
            a = timed(lambda: get(ins, path))
            # The relay's own call for a detail is the record alone (the inspector adds its body).
            b = timed(lambda: get(tun, path, token))
            print("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |" % ((name,) + a + b))
        a = timed(lambda: walk(ins))
        b = timed(lambda: walk(tun, token))
        print("| all %d events, pages of 1,000 | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |" %
              ((N,) + a + b))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(10)
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
