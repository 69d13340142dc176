#!/usr/bin/env python3
"""Slow senders cannot take the relay down for everyone.

10,000 connections each holding a partial head, plus bodies stopped short that pin
most of --max-held, while a steady legitimate load of webhooks arrives on fresh
connections: the relay sheds the stalled connections to make room, and at least 99%
of the legitimate webhooks reach the app. A head trickled a byte at a time is cut at
--head-timeout with 408 (the deadline is not reset by each byte).
"""

import os
import re
import resource
import socket
import subprocess
import threading
import time

from harness import (LOCALHOST, RELAY_BIN, CheckFailed, HttpConn, build_request, check, check_eq,
                     free_port, get, parse_metrics, run, token_add, wait_until)

HOST = ("Host", "hooks.example.test")
ATTACKERS = 10000


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    check(hard >= need, "this test needs %d descriptors" % need, "hard limit %d" % hard)


def open_partial(port, data):
    s = socket.create_connection((LOCALHOST, port), timeout=30)
    s.sendall(data)
    return s


def case_slowloris_with_legit_load(env):
    raise_fd_limit(ATTACKERS + 2000)
    relay, target, agent = env.stack(relay_args=["--head-timeout", "120s", "--max-held", "64K"])
    socks = []
    try:
        # Five bodies stopped short pin 60 KiB of the 64 KiB budget.
        for _ in range(5):
            socks.append(open_partial(relay.port, build_request(
                "POST", "/t/alice/slow-body", [HOST, ("Content-Length", "12288")]) +
                b"b" * 12287))
        t0 = time.monotonic()
        partial = b"POST /t/alice/x HTTP/1.1\r\nHost: hooks.example.test\r\nX-Slow: "
        for _ in range(ATTACKERS):
            socks.append(open_partial(relay.port, partial))
        print("      %d partial heads open in %.1fs" % (len(socks), time.monotonic() - t0))
        wait_until(lambda: relay.metric("hookwire_relay_public_connections") >= ATTACKERS, 30,
                   "the relay holds the attackers' connections")
        body = b"{" + b"x" * 2046 + b"}"

        def probe():
            with HttpConn(relay.port, timeout=20) as c:
                return c.request("POST", "/t/alice/probe", [HOST, ("Connection", "close")],
                                 body).status

        # A reader is shed once it has been silent for the relay's shed window: until
        # then the newest attackers look like any sender and a newcomer gets 429. The
        # load starts once the attack is established, which a first webhook shows.
        wait_until(lambda: probe() == 200, 30, "a webhook gets through the established attack")

        results = []
        lock = threading.Lock()

        def sender(n):
            for i in range(n):
                try:
                    with HttpConn(relay.port, timeout=20) as c:
                        resp = c.request("POST", "/t/alice/legit", [HOST, ("Connection", "close")],
                                         body)
                        status = resp.status
                except OSError as e:
                    status = repr(e)
                with lock:
                    results.append(status)
                time.sleep(0.02)  # a steady rate, not a flood

        threads = [threading.Thread(target=sender, args=(50,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        check_eq(len(results), 200, "every legitimate sender finished")
        ok = sum(1 for s in results if s == 200)
        got = sum(1 for r in target.requests if r.target == "/legit")
        shed = relay.metric("hookwire_relay_shed_total") or 0
        print("      legit: %d/200 answered 200, %d reached the app, %d shed" % (ok, got, shed))
        check(ok >= 198, "at least 99% of legitimate webhooks answered",
              "%d of 200; others: %r" % (ok, [s for s in results if s != 200][:5]))
        check(got >= 198, "at least 99% reached the app", "%d" % got)
        check(shed >= 1, "stalled connections were shed")
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: relay.metric("hookwire_relay_public_connections") == 0, 30,
               "every connection is gone")
    check_eq(relay.metric("hookwire_relay_held_bytes"), 0, "the held bytes are released")


def case_trickled_head_is_cut(env):
    relay, target, agent = env.stack(relay_args=["--head-timeout", "2s"])
    head = build_request("POST", "/t/alice/x", [HOST, ("X-Pad", "p" * 200)], b"")
    with HttpConn(relay.port) as c:
        t0 = time.monotonic()
        c.sock.settimeout(0.3)
        answer = b""
        for byte in head[:-2]:
            try:
                c.sock.send(bytes([byte]))
            except OSError:
                break
            try:
                answer = c.sock.recv(4096)
                break  # the relay answered (or closed)
            except socket.timeout:
                pass
            check(time.monotonic() - t0 < 6, "the relay cut the trickle", "still open")
        elapsed = time.monotonic() - t0
        c.sock.settimeout(5)
        while True:
            more = c.sock.recv(4096)
            if not more:
                break
            answer += more
    check(answer.startswith(b"HTTP/1.1 408 "), "408 for a head that never completed", answer[:80])
    check(b"Hookwire-Error: HW_REQUEST_TIMEOUT\r\n" in answer, "with its code", answer[:200])
    check(1.8 <= elapsed <= 3.5, "cut at --head-timeout though bytes kept coming",
          "%.2fs" % elapsed)
    check_eq(target.count(), 0, "nothing reached the app")


def case_tunnel_port_cap_and_connect(env):
    """The tunnel port: a CONNECT (which lws would keep open with no deadline) and a method
    lws does not know (it would answer with its own 403 page) get the relay's 400 and a
    closed connection at once, and past --max-tunnel-connections new connections are closed
    at accept, while the public port keeps serving; a freed slot is used again."""
    relay, target, agent = env.stack(relay_args=["--max-tunnel-connections", "4"])
    for what, line in (("CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n"),
                       ("an unknown method", b"BREW /pot HTTP/1.1\r\nHost: x\r\n")):
        with HttpConn(relay.tunnel_port, timeout=5) as c:
            c.send(line + b"\r\n")
            r = c.read_response(what)
            check_eq((r.status, r.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"), what)
            check(c.closed_by_peer(3.0), "the connection is closed after " + what)
    check_eq(relay.proc.stderr().count("refused on the tunnel port: a CONNECT, or a method it "
                                       "does not serve (400)"), 2, "each refusal is logged")

    def open_count(conn=None):
        """Tunnel-port connections the relay counts, the one asking included: on a fresh
        connection, or on conn, kept alive (it then stays one of the counted)."""
        try:
            if conn is None:
                return relay.metric("hookwire_relay_tunnel_connections")
            conn.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            r = conn.read_response("GET /metrics")
            return parse_metrics(r.body.decode()).get(("hookwire_relay_tunnel_connections", ()))
        except (OSError, CheckFailed):
            return None  # refused at accept while the port is full
    # The agent's tunnel and this call: two.
    wait_until(lambda: open_count() == 2, 10, "the agent's tunnel alone to be counted")
    # A kept-alive connection asks from now on, so that no closing one is in the count:
    # the agent, it and two idle connections fill the four slots.
    asker = HttpConn(relay.tunnel_port, timeout=5)
    wait_until(lambda: open_count(asker) == 2, 10,
               "the closed /metrics calls to leave the count")
    idle = [socket.create_connection((LOCALHOST, relay.tunnel_port), timeout=10)
            for _ in range(2)]
    try:
        wait_until(lambda: open_count(asker) == 4, 10, "the idle connections to be counted")
        extra = socket.create_connection((LOCALHOST, relay.tunnel_port), timeout=10)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = extra.recv(100)
        except ConnectionResetError:
            got = b""
        check_eq(got, b"", "a fifth connection is closed without an answer")
        extra.close()
        check("new ones closed at accept" in relay.proc.stderr(), "the cap is logged")
        body = b"through the public port while the tunnel port is full"
        resp = relay.webhook("POST", "/t/alice/full", [HOST], body)
        check_eq(resp.status, 200, "the public port keeps serving")
        check_eq(target.wait_requests(1)[-1].body, body, "and the agent keeps forwarding")
    finally:
        for s in idle:
            s.close()
        asker.close()
    wait_until(lambda: open_count() == 2, 10, "the closed connections to leave the count")
    check(relay.metric("hookwire_relay_tunnel_full_total") >= 1, "the refusal is counted")
    check(agent.proc.alive() and relay.channel_connected("alice"), "the agent stayed connected")


def case_fd_limit_leaves_agents_room(env):
    """Under an open files limit too small for both ports' caps (a container's 256), the relay
    says so in one line and runs with caps that fit: a flood of idle public connections past
    the limit is closed at accept, the tunnel port still answers and takes a new agent, and
    once the flood is gone webhooks flow again."""
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store, wrap=["prlimit", "--nofile=256:256", "--"])
    check("open files limit 256 cannot hold --max-connections 10000 and "
          "--max-tunnel-connections 1024 (and 64 for the store and listeners): running with 144 "
          "and 48" in relay.proc.stderr(), "the limit and the caps it leaves are logged",
          relay.proc.stderr()[-600:])
    target = env.target()
    flood = []
    try:
        for _ in range(300):
            flood.append(socket.create_connection((LOCALHOST, relay.port), timeout=10))
        wait_until(lambda: relay.metric("hookwire_relay_public_connections") == 144, 10,
                   "the public port to hold its cap")
        check_eq(get(relay.tunnel_port, "/healthz").status, 200,
                 "the tunnel port answers during the flood")
        agent = env.agent(relay, token, "alice", target.port)
        check(relay.channel_connected("alice"), "an agent connects during the flood")
    finally:
        for s in flood:
            s.close()
    wait_until(lambda: relay.metric("hookwire_relay_public_connections") == 0, 10,
               "the flood to leave the count")
    resp = relay.webhook("POST", "/t/alice/after", [HOST], b"after the flood")
    check_eq(resp.status, 200, "webhooks flow again")
    check_eq(target.wait_requests(1)[-1].body, b"after the flood", "and reach the app")
    check(agent.proc.alive(), "the agent stayed up")


def case_fd_limit_caps_follow_the_limit(env):
    """The caps a limit leaves never fall as the limit rises (the tunnel port keeps at most a
    quarter of the room), and a limit that cannot hold a relay is refused in one line before
    the store is made."""
    caps = []
    for n in (600, 1103, 1104, 1200, 5000, 11087):
        store = env.path("relay-%d.db" % n)
        token_add(env, store, "alice")
        relay = env.relay(store=store, wrap=["prlimit", "--nofile=%d:%d" % (n, n), "--"])
        m = re.search(r"running with (\d+) and (\d+);", relay.proc.stderr())
        check(m, "limit %d: the caps are logged" % n, relay.proc.stderr()[-400:])
        caps.append((int(m.group(1)), int(m.group(2))))
        relay.stop()
    check(all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(caps, caps[1:])),
          "neither cap falls as the limit rises", caps)
    check_eq(caps[-1], (9999, 1024), "one descriptor short: the public cap gives it")
    store = env.path("small.db")
    r = subprocess.run(["prlimit", "--nofile=80:80", "--", RELAY_BIN, "--store", "sqlite:" + store,
                        "--listen", "127.0.0.1:%d" % free_port(), "--tunnel-listen",
                        "127.0.0.1:%d" % free_port()], capture_output=True, text=True, timeout=20)
    check_eq((r.returncode, r.stderr), (1, "open files limit 80 is too low for a relay: raise it "
                                           "to at least 88 (ulimit -n, LimitNOFILE=)\n"),
             "a limit of 80: one line, exit 1")
    check(not os.path.exists(store), "and no store was made")


run([case_slowloris_with_legit_load, case_trickled_head_is_cut, case_tunnel_port_cap_and_connect,
     case_fd_limit_leaves_agents_room, case_fd_limit_caps_follow_the_limit])
