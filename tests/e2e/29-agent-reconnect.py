#!/usr/bin/env python3
"""The agent keeps trying, however a tunnel attempt ends.

A stand-in relay that accepts TCP and never answers the upgrade: the agent
gives up on each attempt at its handshake deadline and tries again, again and
again; once a real relay listens there, it connects and forwards. Then a real
relay frozen with SIGSTOP for 12 s (while the agent's heartbeat notices and its
attempts hang in the kernel's accept queue) and resumed: the agent is back
within its backoff bound. Then the relay's host name, looked up off the
agent's loop (tests/tools/fake_resolver.c plays the name server): a lookup
held by a name server that does not answer ends the attempt at the same
deadline while the inspector still answers and SIGTERM still stops the agent;
a name whose first address refuses connections is reached at its second, and
one whose first address takes the connection and never answers, at the next
attempt.
"""

import json
import os
import re
import signal
import socket
import threading
import time

from harness import (AGENT_BIN, FAKE_RESOLVER, LOCALHOST, HttpConn, Proc, Relay, check, check_eq,
                     free_port, holds_for, run, token_add, wait_until)

HOST = ("Host", "hooks.example.test")
HANDSHAKE = 10.0  # the agent's deadline for the WebSocket upgrade, in seconds
BACKOFF_MAX = 30.0  # the agent's longest wait between attempts, in seconds
CHECK_RESOLVE = 3.0  # how long the agent's start waits for the relay's name, in seconds


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


def named_agent(env, name, fake_env, inspect_port=None):
    """A relay with a token for alice, a target, and an agent started with --relay
    ws://NAME:PORT, the name answered by the fake name server as fake_env says."""
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    target = env.target()
    argv = [AGENT_BIN, "--forward", str(target.port), "--relay",
            "ws://%s:%d" % (name, relay.tunnel_port)]
    if inspect_port:
        argv += ["--inspect", "%s:%d" % (LOCALHOST, inspect_port)]
    extra = {"HOOKWIRE_TOKEN": token, "LD_PRELOAD": FAKE_RESOLVER, "HW_FAKE_NAME": name}
    extra.update(fake_env)
    return relay, target, Proc(env, "agent", argv, extra_env=extra)


def tunnel_up(relay, agent, timeout, what):
    def up():
        agent.check_alive("is running while waiting for its tunnel")
        return ("Forwarding " in agent.stdout() and relay.channel_connected("alice"))
    wait_until(up, timeout, what)


def lookups(gate):
    """How many lookups the fake name server has held so far (one byte each)."""
    try:
        return os.path.getsize(gate + ".entered")
    except OSError:
        return 0


def inspector_info(port):
    """The inspector's /api/info, asked with a short deadline: a loop that is not serving
    fails it in seconds."""
    try:
        with HttpConn(port, timeout=3.0) as c:
            r = c.request("GET", "/api/info", [("Host", "%s:%d" % (LOCALHOST, port)),
                                               ("Connection", "close")])
    except OSError as e:
        check(False, "the inspector answers /api/info within 3 s", repr(e))
    check_eq(r.status, 200, "the inspector answers /api/info")
    return json.loads(r.body)


def case_relay_name_held(env):
    """A name server that does not answer for the relay's name does not stop the agent's
    loop: the inspector answers while the lookup is held, and the attempt ends at its
    handshake deadline saying the name did not resolve. Once the name server answers, the
    next attempt connects to the address it gave and webhooks go through."""
    gate = env.path("gai-gate")
    inspect = free_port()
    relay, target, agent = named_agent(env, "held.test", {"HW_FAKE_GATE": gate}, inspect)
    # The start's own lookup gives up after a few seconds; the first attempt then looks again.
    wait_until(lambda: lookups(gate) >= 2, CHECK_RESOLVE + 10,
               "the first attempt to look the relay's name up (the start's lookup held too)")
    check_eq(inspector_info(inspect)["public_url"], "",
             "the inspector answers while the attempt's lookup is held, with no tunnel yet")
    line = re.compile(r"cannot connect to ws://held\.test:%d: timeout: held\.test did not "
                      r"resolve within 10\.0s \(is the name server answering\?\); retrying in "
                      % relay.tunnel_port)
    wait_until(lambda: line.search(agent.stderr()), HANDSHAKE + 5,
               "the attempt to end at its deadline, saying the name did not resolve")
    check("did not resolve within 3 s" in agent.stderr(),
          "the start said it went on without the name", agent.stderr()[-2000:])
    check("upgrade" not in agent.stderr(), "no upgrade was waited for", agent.stderr()[-2000:])
    check_eq(inspector_info(inspect)["public_url"], "", "the inspector answers after it")
    with open(gate, "w"):
        pass
    tunnel_up(relay, agent, HANDSHAKE + 5, "the tunnel to come up once the name resolves")
    check(inspector_info(inspect)["public_url"].endswith("/t/alice/"),
          "the inspector shows the tunnel's public URL")
    delivers(relay, target, "through the tunnel to held.test")


def case_stop_while_name_held(env):
    """SIGTERM while the relay's name is held: the agent exits at once, cleanly."""
    gate = env.path("gai-gate")
    relay, target, agent = named_agent(env, "held.test", {"HW_FAKE_GATE": gate})
    wait_until(lambda: lookups(gate) >= 2, CHECK_RESOLVE + 10,
               "the first attempt to look the relay's name up")
    t0 = time.monotonic()
    agent.signal(signal.SIGTERM)
    check_eq(agent.wait_exit(5), 0, "the agent exits 0 on SIGTERM during the lookup")
    check(time.monotonic() - t0 < 2, "at once", "%.1fs" % (time.monotonic() - t0))
    check("shutting down" in agent.stderr() and "cannot connect" not in agent.stderr(),
          "a stop, not a failed attempt", agent.stderr()[-2000:])


def case_relay_name_addresses(env):
    """The relay's name has two addresses and the first refuses connections (nothing listens
    on 127.0.0.3): the same attempt goes on to the second, and the tunnel comes up at once."""
    relay, target, agent = named_agent(env, "two.test", {"HW_FAKE_ANSWER": "127.0.0.3 127.0.0.1"})
    tunnel_up(relay, agent, 10, "the tunnel to come up through the second address")
    check("cannot connect" not in agent.stderr(), "in the first attempt", agent.stderr()[-2000:])
    delivers(relay, target, "through the tunnel to two.test")


def case_relay_silent_first_address(env):
    """The relay's name has two addresses and the first takes the connection and never answers
    (a listener on 127.0.0.2 that accepts nothing; to the agent, like an address that drops
    every packet): the attempt ends at its handshake deadline, and the next one starts at the
    second address instead of waiting on the first again, so the tunnel comes up."""
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    target = env.target()
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        silent.bind(("127.0.0.2", relay.tunnel_port))
        silent.listen(16)
        agent = Proc(env, "agent", [AGENT_BIN, "--forward", str(target.port), "--relay",
                                    "ws://two.test:%d" % relay.tunnel_port],
                     extra_env={"HOOKWIRE_TOKEN": token, "LD_PRELOAD": FAKE_RESOLVER,
                                "HW_FAKE_NAME": "two.test",
                                "HW_FAKE_ANSWER": "127.0.0.2 127.0.0.1"})
        tunnel_up(relay, agent, HANDSHAKE + 15, "the tunnel to come up through the second address")
        check("no answer from 127.0.0.2 by the attempt's 10.0s deadline: the next attempt "
              "tries 127.0.0.1 first" in agent.stderr(), "the agent says why it changed address",
              agent.stderr()[-2000:])
        delivers(relay, target, "through the tunnel to two.test")
    finally:
        silent.close()


if __name__ == "__main__":
    run([case_silent_relay, case_relay_sigstop, case_relay_name_held, case_stop_while_name_held,
         case_relay_name_addresses, case_relay_silent_first_address])
