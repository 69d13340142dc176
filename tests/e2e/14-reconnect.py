#!/usr/bin/env python3
"""Losing and regaining the tunnel.

Agent killed and restarted; relay restarted (the agent comes back by itself);
agent frozen with SIGSTOP for 30 s (the relay notices through heartbeats, the
agent returns after SIGCONT); target down when the agent starts.
"""

import os
import signal
import time

from harness import check, check_eq, check_error, free_port, holds_for, run, token_add, wait_until

HOST = ("Host", "hooks.example.test")
HEARTBEAT = 10.0  # the default --heartbeat of both programs, in seconds


def delivers(relay, target, what):
    """One webhook goes through and reaches the target."""
    body = os.urandom(1000)
    before = target.count()
    resp = relay.webhook("POST", "/t/alice/r", [HOST], body)
    check_eq(resp.status, 200, what + ": status")
    check_eq(target.wait_requests(before + 1)[-1].body, body, what + ": body at the target")


def case_agent_killed(env):
    # The 503 below is --offline reject; the default queues (60-offline-queue.py).
    relay, target, agent = env.stack(relay_args=["--offline", "reject"])
    delivers(relay, target, "before the kill")
    agent.kill()
    wait_until(lambda: not relay.channel_connected("alice"), 5,
               "the relay to see the killed agent's tunnel close")
    check_eq(relay.metric("hookwire_relay_agents_connected"), 0.0, "agents_connected")
    check_error(relay.webhook("POST", "/t/alice/r", [HOST], b"{}"), 503, "HW_AGENT_OFFLINE",
                "while no agent runs")
    agent.start()
    delivers(relay, target, "after the restart")
    check_eq(relay.metric("hookwire_relay_agents_connected"), 1.0, "agents_connected")


def case_relay_restarted(env):
    relay, target, agent = env.stack()
    delivers(relay, target, "before the relay restart")
    pid = agent.proc.pid
    relay.restart()
    agent.wait_ready(connects=2, timeout=20)
    check(agent.proc.alive() and agent.proc.pid == pid,
          "the same agent process reconnected by itself")
    delivers(relay, target, "after the relay restart")
    check("tunnel down" in agent.proc.stderr(), "the agent logged the lost tunnel")


def case_sigstop_30s(env):
    # The 503s below are --offline reject; the default queues (60-offline-sigstop.py).
    relay, target, agent = env.stack(relay_args=["--offline", "reject"])
    delivers(relay, target, "before SIGSTOP")
    timeouts = relay.metric("hookwire_relay_heartbeat_timeouts_total")
    check_eq(timeouts, 0.0, "no heartbeat timeout while the agent is healthy")
    t0 = time.monotonic()
    agent.proc.signal(signal.SIGSTOP)

    # Silent for two intervals is dead; allow half an interval for the check itself and a
    # second for scheduling and polling. Keep watching past that deadline so that a late
    # relay still shows how late it was and the rest of the scenario still runs; the
    # deadline is checked at the end.
    deadline = 2 * HEARTBEAT + HEARTBEAT / 2 + 1.0
    wait_until(lambda: (not relay.channel_connected("alice") and
                        relay.metric("hookwire_relay_heartbeat_timeouts_total") >= 1),
               3 * HEARTBEAT + HEARTBEAT / 2, "the relay to drop the stopped agent (channel "
               "disconnected and heartbeat_timeouts_total >= 1)", interval=0.1)
    noticed = time.monotonic() - t0
    print("      relay noticed the stopped agent after %.1fs" % noticed)
    check(noticed > HEARTBEAT - 0.5, "the relay waits at least one interval before giving up",
          "%.1fs" % noticed)
    check("agent silent" in relay.proc.stderr(), "the relay logged the silent agent")
    check_error(relay.webhook("POST", "/t/alice/r", [HOST], b"{}"), 503, "HW_AGENT_OFFLINE",
                "while the agent is stopped")

    # The agent stays stopped for 30 s in all; meanwhile nothing reconnects for alice.
    holds_for(lambda: not relay.channel_connected("alice") and agent.proc.alive(),
              max(0.0, 30.0 - (time.monotonic() - t0)), "alice stays offline while stopped",
              interval=0.5)
    agent.proc.signal(signal.SIGCONT)
    agent.wait_ready(connects=2, timeout=20)
    delivers(relay, target, "after SIGCONT")
    check_eq(relay.metric("hookwire_relay_agents_connected"), 1.0, "one agent connected")
    check(noticed <= deadline, "the relay noticed the stopped agent within %.0fs (two and a "
          "half heartbeat intervals, plus a second)" % deadline, "it took %.1fs" % noticed)


def case_target_down_at_start(env):
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    port = free_port()
    agent = env.agent(relay, token, "alice", port)  # nothing listens on port yet
    check_error(relay.webhook("POST", "/t/alice/r", [HOST], b"{}"), 502, "HW_LOCAL_REFUSED",
                "target not started")
    wait_until(lambda: "failed:" in agent.proc.stderr(), 5, "the agent to log the failure")
    target = env.target(port=port)
    delivers(relay, target, "after the target started")
    check_eq(len(agent.forwarding_lines()), 1, "the agent kept its first tunnel")
    agent.proc.check_alive()


if __name__ == "__main__":
    run([case_agent_killed, case_relay_restarted, case_target_down_at_start, case_sigstop_30s])
