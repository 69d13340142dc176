#!/usr/bin/env python3
"""A token added while the relay runs works at once: an agent started right after
`token add` connects (the relay must not refuse a token its last table read predates),
and a token that does not exist is still refused, within a few seconds."""

import time

from harness import check, check_eq, run, wait_until


def case_fresh_token_connects(env):
    relay = env.relay()
    target = env.target()
    for i in range(5):
        channel = "fresh-%d" % i
        token = relay.token_add(channel)
        # No pause between the token's creation and the agent's first upgrade.
        agent = env.agent(relay, token, channel, target.port, name="agent-%d" % i)
        check(agent.proc.alive(), "agent %d is running after connecting" % i)
        r = relay.webhook("POST", "/t/%s/hook" % channel, [("Host", "hooks.example"), ("Content-Type", "text/plain")],
                          b"fresh %d" % i)
        check_eq(r.status, 200, "webhook through the new channel %s" % channel)


def case_unknown_token_refused(env):
    relay = env.relay()
    target = env.target()
    start = time.monotonic()
    agent = env.agent(relay, "hwt_" + "x" * 43, "nobody", target.port, wait=False)
    wait_until(lambda: not agent.proc.alive(), 10, "the agent with an unknown token exits")
    agent.proc.expected_dead = True
    check_eq(agent.proc.returncode(), 1, "the agent exits 1 on a refused token")
    check(time.monotonic() - start < 10, "refused within 10 s")


if __name__ == "__main__":
    run([case_fresh_token_connects, case_unknown_token_refused])
