#!/usr/bin/env python3
"""examples/Caddyfile with a real Caddy in front of the relay: one address serves
both ports by path. The agent connects through Caddy to /tunnel, a GitHub-signed
webhook posted to Caddy reaches the app with its body byte-exact and its
signature valid, and the answer comes back through Caddy. The relay's /metrics and
/agents are not reachable through Caddy's address (channel names are webhook URLs),
while they still answer on the tunnel port itself; the history API (/api/...) is,
and answers only with a channel's token.

The test runs the example as written, only with the address and the relay's
ports replaced (and Caddy's admin endpoint and TLS off, since this is loopback).
"""

import hashlib
import hmac
import os
import re
import subprocess

import hw_caddy
from harness import Agent, Reply, check, check_eq, free_port, get, request, run, token_add

SECRET = b"caddy-test-secret"


class ThroughCaddy:
    """The relay as the agent sees it: its tunnel URL is caddy's /tunnel."""

    def __init__(self, relay, port):
        self.relay, self.port = relay, port

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/tunnel" % self.port

    def channel_connected(self, channel):
        return self.relay.channel_connected(channel)


def case_relay_behind_caddy(env):
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    port = free_port()
    conf = hw_caddy.caddyfile(env, "Caddyfile", (
        ("hooks.example.com", "http://127.0.0.1:%d" % port),
        ("127.0.0.1:8081", "127.0.0.1:%d" % relay.tunnel_port),
        ("127.0.0.1:8080", "127.0.0.1:%d" % relay.port)))

    def ready():
        r = get(port, "/t/nobody/x")
        return r.status == 404 and r.header("Hookwire-Error") == "HW_UNKNOWN_CHANNEL"
    hw_caddy.start(env, conf, ready, "caddy proxies /t/ to the relay's public port")

    seen = []

    def handle(req):
        mac = "sha256=" + hmac.new(SECRET, req.body, hashlib.sha256).hexdigest()
        seen.append(hmac.compare_digest(mac, req.header("X-Hub-Signature-256") or ""))
        return Reply(201, "Created", [("X-App", "yes")], b"stored " + req.body[:8])

    target = env.target(handle)
    agent = Agent(env, ThroughCaddy(relay, port), token, "alice", target.port).start()
    check(agent.forwarding_lines(), "the agent's tunnel runs through caddy")
    body = os.urandom(1 << 20) + b"\r\n  \r\n"
    sig = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    resp = request(port, "POST", "/t/alice/github?x=1",
                   [("Host", "127.0.0.1:%d" % port), ("X-Hub-Signature-256", sig),
                    ("X-GitHub-Event", "push"), ("Content-Type", "application/octet-stream")],
                   body)
    check_eq((resp.status, resp.header("X-App")), (201, "yes"), "the app's answer via caddy")
    check_eq(resp.body, b"stored " + body[:8], "its body")
    req = target.wait_requests(1)[-1]
    check_eq(hashlib.sha256(req.body).hexdigest(), hashlib.sha256(body).hexdigest(),
             "the body reached the app byte-exact")
    check_eq(req.target, "/github?x=1", "path and query")
    check_eq(seen, [True], "the GitHub signature made by the sender verifies at the app")
    check(re.match(r"^evt_", req.header("Hookwire-Event-Id") or ""), "the relay's event id")
    check_private(env, relay, port, token)


def check_private(env, relay, port, token):
    """/metrics and /agents answer on the tunnel port, and never through Caddy; /api/ answers
    through Caddy to a channel's token only."""
    direct = get(relay.tunnel_port, "/metrics")
    check(direct.status == 200 and b"hookwire_relay_" in direct.body,
          "the tunnel port itself serves /metrics", direct.status)
    auth = ("Authorization", "Bearer " + token)
    probes = [("GET", "/metrics"), ("GET", "/metrics/"), ("GET", "/METRICS"),
              ("GET", "//metrics"), ("GET", "/metrics?x=1"), ("GET", "/tunnel/../metrics"),
              ("GET", "/t/../metrics"), ("GET", "/t/%2e%2e/metrics"), ("GET", "/healthz"),
              ("GET", "/agents"), ("GET", "/tunnel/../agents"), ("GET", "/api/../metrics"),
              ("GET", "/api/../agents")]
    for method, path in probes:
        r = request(port, method, path, [("Host", "127.0.0.1:%d" % port), auth], b"")
        what = "%s %s through caddy" % (method, path)
        check(r.status >= 400, what + " is refused", r.status)
        check(b"hookwire_relay_" not in r.body, what + " shows no metrics", r.body[:200])
        # Whatever answers, it is never the tunnel port: only the public port's /t/ routing
        # (HW_UNKNOWN_CHANNEL, HW_NOT_FOUND for a path that is not a webhook) or Caddy itself.
        check(r.header("Hookwire-Error") in (None, "HW_UNKNOWN_CHANNEL"),
              what + " is answered by caddy or the public port, not the tunnel port",
              (r.status, r.header("Hookwire-Error"), r.body[:200]))
    # The history API: only with the channel's token, and only that channel's events.
    wrong = ("Authorization", "Bearer hwt_not-a-token")
    for method, path in [("GET", "/api/events"), ("GET", "/api/events?limit=5"),
                         ("GET", "/api/events/evt_01m8v55v3g03zk15ss5x187b7r"),
                         ("POST", "/api/events/evt_01m8v55v3g03zk15ss5x187b7r/replay")]:
        r = request(port, method, path, [("Host", "127.0.0.1:%d" % port), wrong], b"")
        check_eq((r.status, r.header("Hookwire-Error")), (401, "HW_UNAUTHORIZED"),
                 "%s %s through caddy with a wrong token" % (method, path))
    r = request(port, "GET", "/api/events", [("Host", "127.0.0.1:%d" % port), auth], b"")
    check_eq(r.status, 200, "GET /api/events through caddy with alice's token")
    check(b"evt_" in r.body, "alice's events through caddy", r.body[:200])


if __name__ == "__main__":
    run([case_relay_behind_caddy])
