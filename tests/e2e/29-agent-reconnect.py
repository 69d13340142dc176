#!/usr/bin/env python3
"""The agent keeps trying, however a tunnel attempt ends.

A stand-in relay that accepts TCP and never answers the upgrade: the agent
gives up on each attempt at its handshake deadline and tries again, again and
again; once a real relay listens there, it connects and forwards. Then a real
relay frozen with SIGSTOP for 12 s (while the agent's heartbeat notices and its
attempts hang in the kernel's accept queue) and resumed: the agent is back
within its backoff bound.
"""

import os
import signal
import socket
import threading
import time

from harness import (LOCALHOST, Relay, check, check_eq, free_port, holds_for, run, token_add,
                     wait_until)

HOST = ("Host", "hooks.example.test")
HANDSHAKE = 10.0  # the agent's deadline for the WebSocket upgrade, in seconds
BACKOFF_MAX = 30.0  # the agent's longest wait between attempts, in seconds


class SilentRelay:
    """Accepts TCP on a port, reads and discards, never answers; records each
    connection's accept and close times."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOCALHOST, port))
        self.sock.listen(16)
        self.lock = threading.Lock()
        self.conns = []  # [accepted_at, closed_at or None, bytes received]
        self.open = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            rec = [time.monotonic(), None, 0]
            with self.lock:
                self.conns.append(rec)
                self.open.append(c)
            threading.Thread(target=self._drain, args=(c, rec), daemon=True).start()

    def _drain(self, c, rec):
        while True:
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if not data:
                with self.lock:
                    rec[1] = time.monotonic()
                return
            with self.lock:
                rec[2] += len(data)

    def snapshot(self):
        with self.lock:
            return [list(r) for r in self.conns]

    def close(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(), frees the port
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            for c in self.open:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()


def delivers(relay, target, what):
    body = os.urandom(500)
    before = target.count()
    resp = relay.webhook("POST", "/t/alice/r", [HOST], body)
    check_eq(resp.status, 200, what + ": status")
    check_eq(target.wait_requests(before + 1)[-1].body, body, what + ": body at the target")


def case_silent_relay(env):
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    port = free_port()
    silent = SilentRelay(port)
    relay = Relay(env, store=store, tunnel_port=port)  # started once the stand-in is gone
    target = env.target()
    try:
        agent = env.agent(relay, token, "alice", target.port, wait=False)
        t0 = time.monotonic()
        # Three attempts need two handshake deadlines and two backoff waits (<= 1 s, 2 s).
        wait_until(lambda: len(silent.snapshot()) >= 3, 3 * HANDSHAKE + 10,
                   "the agent to open a third connection to the silent relay", interval=0.1)
        # The third connection may be seen accepted before its upgrade request arrives.
        wait_until(lambda: all(c[2] > 0 for c in silent.snapshot()[:3]), 5,
                   "each attempt to send its upgrade request", interval=0.05)
        conns = silent.snapshot()
        print("      attempts at %s s" % ", ".join("%.1f" % (c[0] - t0) for c in conns))
        check(all(c[1] is not None for c in conns[:2]),
              "the agent closed each attempt it gave up on")
        for a, b in zip(conns, conns[1:3]):
            gap = b[0] - a[0]
            check(HANDSHAKE - 1 <= gap <= HANDSHAKE + BACKOFF_MAX + 2,
                  "the next attempt follows the handshake deadline plus a backoff wait",
                  "%.1fs" % gap)
        agent.proc.check_alive()
        check("retrying in" in agent.proc.stderr(), "the agent logged its next attempt")
    finally:
        silent.close()
    relay.fixed_ports = True
    relay.start()
    # The agent's backoff has grown to a few seconds at most; allow one full wait and a deadline.
    agent.wait_ready(timeout=BACKOFF_MAX + HANDSHAKE)
    delivers(relay, target, "through the real relay")


def case_relay_sigstop(env):
    relay, target, agent = env.stack(agent_args=["--heartbeat", "2s"])
    delivers(relay, target, "before SIGSTOP")
    relay.proc.signal(signal.SIGSTOP)
    try:
        # The agent notices the silence after two heartbeats and starts new attempts, which
        # the stopped relay's kernel accepts and nobody answers.
        wait_until(lambda: "tunnel down" in agent.proc.stderr(), 10,
                   "the agent to notice the stopped relay", interval=0.1)
        holds_for(lambda: agent.proc.alive(), 12.0 - 4.0, "the agent keeps running",
                  interval=0.5)
    finally:
        relay.proc.signal(signal.SIGCONT)
    t0 = time.monotonic()
    agent.wait_ready(connects=2, timeout=BACKOFF_MAX + HANDSHAKE + 2)
    print("      back %.1fs after SIGCONT" % (time.monotonic() - t0))
    delivers(relay, target, "after SIGCONT")


if __name__ == "__main__":
    run([case_silent_relay, case_relay_sigstop])
