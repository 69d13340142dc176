#!/usr/bin/env python3
"""One channel, one agent: a second live agent for a channel is refused with 409
HW_CHANNEL_BUSY, says in one line who holds the channel and exits 1; `--takeover`
replaces the holder, which says why in one line and exits 1 without fighting back; a
frozen holder (SIGSTOP) loses the channel to a newcomer within a few seconds without
`--takeover`; `token revoke` cuts a live tunnel at once. Every case runs on a SQLite
store and again on MariaDB (HOOKWIRE_TEST_MYSQL_URL, set by the test command; without it
the MariaDB cases fail unless HOOKWIRE_TEST_NO_MYSQL=1)."""

import functools
import os
import re
import signal
import sys

from harness import WebSocket, check, check_eq, check_error, run, token_add, wait_until
from hw_mysql import fresh_database

HOST = ("Host", "hooks.example.test")
MYSQL_URL = os.environ.get("HOOKWIRE_TEST_MYSQL_URL")


def stack(env, backend):
    """A relay on the backend's store with a token for alice, a target and alice's agent."""
    if backend == "mysql":
        store = fresh_database(MYSQL_URL, "hookwire_test_one_agent_%d" % os.getpid())
    else:
        store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    target = env.target()
    return relay, target, env.agent(relay, token, "alice", target.port)


def tunnel_local_ports(pid, relay_port):
    """Local ports of pid's TCP connections to 127.0.0.1:relay_port (from /proc)."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    ports = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            local, remote, state, inode = cols[1], cols[2], cols[3], cols[9]
            if inode in inodes and int(remote.split(":")[1], 16) == relay_port and state == "01":
                ports.append(int(local.split(":")[1], 16))
    return ports


def busy_lines(agent_proc):
    return [l for l in agent_proc.stderr().splitlines() if "held by another agent" in l]


def post(relay, body):
    return relay.webhook("POST", "/t/alice/hook", [HOST], body)


def case_second_agent_refused(env, backend):
    relay, target, first = stack(env, backend)
    ports = tunnel_local_ports(first.proc.pid, relay.tunnel_port)
    check_eq(len(ports), 1, "the first agent holds one tunnel connection")
    holder = "127.0.0.1:%d" % ports[0]

    # The relay's answer itself: 409, the code, the holder and when it connected.
    token = first.token
    h = WebSocket.connect(relay.tunnel_port, token=token)
    check_error(h.response, 409, "HW_CHANNEL_BUSY", "second upgrade for a held channel")
    check_eq(h.response.header("Hookwire-Holder"), holder, "the 409 names the holder's address")
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                   h.response.header("Hookwire-Holder-Since") or ""),
          "the 409 says since when (UTC)", h.response.header("Hookwire-Holder-Since"))

    second = env.agent(relay, token, "alice", target.port, wait=False, name="second")
    check_eq(second.proc.wait_exit(15), 1, "the second agent exits with status 1")
    lines = busy_lines(second.proc)
    check_eq(len(lines), 1, "the second agent says it in one line")
    check(holder in lines[0], "the line names the holder's address %s" % holder, lines[0])
    check(re.search(r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[0]),
          "the line says since when", lines[0])
    check("--takeover" in lines[0], "the line says how to take over", lines[0])
    check_eq(second.forwarding_lines(), [], "the second agent never got the tunnel")

    # The holder kept its tunnel all along: one connect, and webhooks still reach it.
    check_eq(relay.metric("hookwire_relay_agent_connects_total"), 1.0,
             "the relay saw one agent connect")
    first.proc.check_alive("keeps running")
    check_eq(len(first.forwarding_lines()), 1, "the holder never reconnected")
    check_eq(post(relay, b"still mine").status, 200, "webhook through the holder")
    check_eq(target.requests[-1].body, b"still mine", "the app got it")
    check(relay.metric("hookwire_relay_errors_total", code="HW_CHANNEL_BUSY") >= 2,
          "busy refusals are counted")


def case_takeover(env, backend):
    relay, target1, first = stack(env, backend)
    target2 = env.target()
    second = env.agent(relay, first.token, "alice", target2.port, args=["--takeover"],
                       name="second", wait=False)
    wait_until(lambda: second.forwarding_lines(), 10, "the --takeover agent gets the tunnel")
    check_eq(first.proc.wait_exit(10), 1, "the replaced agent exits with status 1")
    lines = [l for l in first.proc.stderr().splitlines() if "took this channel over" in l]
    check_eq(len(lines), 1, "the replaced agent says why in one line")
    ports = tunnel_local_ports(second.proc.pid, relay.tunnel_port)
    check(any(("127.0.0.1:%d" % p) in lines[0] for p in ports),
          "the line names the new holder's address", (lines[0], ports))
    check_eq(len(first.forwarding_lines()), 1, "the replaced agent did not fight back")
    wait_until(lambda: relay.channel_connected("alice"), 5, "the channel is connected")
    check_eq(post(relay, b"to the new one").status, 200, "webhook after the takeover")
    check_eq([r.body for r in target2.requests], [b"to the new one"],
             "the new agent's app got it")
    check_eq(target1.requests, [], "the old agent's app got nothing")
    second.proc.check_alive("keeps running")


def case_frozen_holder_replaced(env, backend):
    relay, target1, first = stack(env, backend)
    target2 = env.target()
    first.proc.signal(signal.SIGSTOP)  # a sleeping laptop: its socket stays open
    second = env.agent(relay, first.token, "alice", target2.port, name="second", wait=False)
    # The relay pings the holder (2 s), the newcomer comes back once and wins.
    wait_until(lambda: second.forwarding_lines(), 8,
               "the newcomer replaces the frozen holder without --takeover")
    check_eq(relay.metric("hookwire_relay_holders_dropped_total"), 1.0,
             "the relay counts one silent holder dropped")
    check_eq(post(relay, b"after wake").status, 200, "webhook through the newcomer")
    check_eq([r.body for r in target2.requests], [b"after wake"], "the newcomer's app got it")
    # The old laptop wakes up: its tunnel is gone and the channel is held by a live agent.
    first.proc.signal(signal.SIGCONT)
    check_eq(first.proc.wait_exit(15), 1, "the woken holder finds the channel taken and exits 1")
    check_eq(len(busy_lines(first.proc)), 1, "and says so in one line")
    second.proc.check_alive("keeps the channel")
    check_eq(len(second.forwarding_lines()), 1, "the newcomer kept its tunnel")


def case_revoke_cuts_live_tunnel(env, backend):
    relay, target, agent = stack(env, backend)
    check_eq(post(relay, b"before").status, 200, "webhook before the revoke")
    r = relay.cli("token", "revoke", "alice")
    check_eq(r.returncode, 0, "token revoke succeeds")
    wait_until(lambda: not relay.channel_connected("alice"), 2,
               "the relay closes the live tunnel within a second or two")
    check_eq(agent.proc.wait_exit(10), 1, "the agent, refused on reconnect, exits 1")
    check("revoked" in agent.proc.stderr(), "the agent logs that the relay closed it: revoked",
          agent.proc.stderr()[-2000:])
    check_error(post(relay, b"after"), 404, "HW_UNKNOWN_CHANNEL", "webhook after the revoke")


def cases():
    out = []
    for backend in ("sqlite", "mysql"):
        for fn in (case_second_agent_refused, case_takeover, case_frozen_holder_replaced,
                   case_revoke_cuts_live_tunnel):
            if backend == "mysql" and not MYSQL_URL:
                continue
            case = functools.partial(fn, backend=backend)
            case.__name__ = "%s_%s" % (fn.__name__, backend)
            out.append(case)
    return out


if __name__ == "__main__":
    if not MYSQL_URL and os.environ.get("HOOKWIRE_TEST_NO_MYSQL") != "1":
        print("HOOKWIRE_TEST_MYSQL_URL is not set: run through scripts/test, which starts MariaDB")
        sys.exit(1)
    run(cases())
