#!/usr/bin/env python3
"""Request heads: one header limit for every hop, and a cost linear in their size.

The relay accepts at most HW_HEADERS_ACCEPTED (120) header lines from a sender, so
that with the lines it adds the agent's parser still holds them all: 120 pass
through to the app intact, 121 to 128 get 431 HW_HEADERS_TOO_LARGE from the relay
(never a 502 blamed on the app). A 62 KB head sent one byte per segment completes,
and costs the relay about the CPU of four quarter-size heads sent the same way (the
head is not re-parsed from the start on each read, which would cost about 4x).
"""

import os
import socket
import time

from harness import (LOCALHOST, HttpConn, build_request, check, check_eq, run, token_add,
                     wait_until)

HOST = ("Host", "hooks.example.test")
ACCEPTED = 120
PACE = 0.00003  # seconds between segments, so that the relay reads most of them apart


def headers(n):
    """n header lines in all: Host, X-H..., and the Content-Length of a 2-byte body."""
    return [HOST] + [("X-H%03d" % i, "v%d" % i) for i in range(n - 2)] + [
        ("Content-Length", "2")]


def case_header_count(env):
    relay, target, agent = env.stack()
    sent = headers(ACCEPTED)
    resp = relay.webhook("POST", "/t/alice/many", sent, b"{}")
    check_eq(resp.status, 200, "%d header lines pass" % ACCEPTED)
    req = target.wait_requests(1)[-1]
    got = [(n, v) for n, v in req.headers() if n.startswith("X-H")]
    check_eq(got, [(n, v) for n, v in sent if n.startswith("X-H")],
             "the app sees every sender line, in order, intact")
    for n in (ACCEPTED + 1, 124, 126, 128):
        resp = relay.webhook("POST", "/t/alice/many", headers(n), b"{}")
        check_eq(resp.status, 431, "%d header lines: 431 at the relay" % n)
        check_eq(resp.header("Hookwire-Error"), "HW_HEADERS_TOO_LARGE", "its code")
    check_eq(target.count(), 1, "none of those reached the app")


def padded(host, size):
    """Headers for a request of size bytes in all: Host, then an X-Pad line."""
    pad = size - len(build_request("POST", "/t/alice/big", [("Host", host), ("X-Pad", "")], b"{}"))
    return [("Host", host), ("X-Pad", "p" * pad)]


def case_largest_heads_reach_the_app(env):
    """What the relay lets through reaches the app, live or queued, though the lines the relay
    adds (X-Forwarded-Host repeats Host) make the head the agent builds larger than 64 KiB."""
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    target = env.target()
    agent = env.agent(relay, token, "alice", target.port)
    cases = [("a head of 65,400 bytes", padded("hooks.example.test", 65400)),
             ("a Host of 33,000 bytes", padded("h" * 33000, 40000))]
    for n, (what, sent) in enumerate(cases, 1):
        resp = relay.webhook("POST", "/t/alice/big", sent, b"{}")
        check_eq(resp.status, 200, what + ": answered by the app")
        req = target.wait_requests(n)[-1]
        check_eq((req.header("Host"), req.header("X-Pad")), (sent[0][1], sent[1][1]),
                 what + ": its lines reach the app intact")
    agent.kill()
    wait_until(lambda: not relay.channel_connected("alice"), 10, "the agent is gone")
    for what, sent in cases:
        resp = relay.webhook("POST", "/t/alice/big", sent, b"{}")
        check_eq(resp.status, 202, what + ", agent offline: queued")
    env.agent(relay, token, "alice", target.port)
    got = target.wait_requests(4, timeout=30)[2:]
    check_eq([(r.header("Host"), r.header("X-Pad")) for r in got],
             [(sent[0][1], sent[1][1]) for _, sent in cases],
             "the queued ones are delivered once the agent is back")


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def trickled_head(size):
    pad = size - len(build_request("POST", "/t/alice/big-head", [HOST, ("X-Pad", "")], b""))
    return build_request("POST", "/t/alice/big-head", [HOST, ("X-Pad", "p" * pad)], b"")


def send_trickled(port, data):
    """Sends data one byte per segment; returns the answer's status."""
    with HttpConn(port, timeout=60) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            c.sock.send(data[i:i + 1])
            until = time.perf_counter() + PACE
            while time.perf_counter() < until:
                pass
        return c.read_response("POST").status


def case_trickled_head_cost(env):
    relay, target, agent = env.stack(relay_args=["--head-timeout", "120s"])
    hz = os.sysconf("SC_CLK_TCK")
    size = 62 * 1024
    # The same bytes and segments either way: four quarter-size heads, then one whole.
    # Linear parsing costs about the same for both; re-parsing per read about 4x more.
    cost = {}
    for parts in (4, 1):
        data = trickled_head(size // parts)
        t0 = cpu_ticks(relay.proc.pid)
        for _ in range(parts):
            check_eq(send_trickled(relay.port, data), 200,
                     "a %d-byte head sent a byte at a time completes" % len(data))
        cost[parts] = max(cpu_ticks(relay.proc.pid) - t0, 1)
    ratio = cost[1] / cost[4]
    print("      relay CPU: %.2fs for four %d-byte heads, %.2fs for one of %d (x%.1f)" % (
        cost[4] / hz, size // 4, cost[1] / hz, size, ratio))
    # System calls dominate here, so the bound is loose; tests/unit/test_net_reader.c
    # measures the parsing alone.
    check(ratio < 2, "a head's CPU cost is linear in its size", "x%.1f" % ratio)
    check(cost[1] / hz < 10, "a 62 KB trickled head costs the relay well under 10 s of CPU",
          "%.2fs" % (cost[1] / hz))


run([case_header_count, case_largest_heads_reach_the_app, case_trickled_head_cost])
