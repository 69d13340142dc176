#!/usr/bin/env python3
"""Channels are isolated by their tokens, and tokens are managed safely.

An agent holding bob's token cannot receive alice's webhooks, whatever it asks
for; `token add` refuses an existing channel; `token list` shows channels and
never a token or its hash; the store keeps no token in clear; `token revoke`
makes the token fail the upgrade with 401.
"""

import base64
import glob
import hashlib
import re
import time

from harness import (AGENT_BIN, Proc, WebSocket, T_HELLO, check, check_eq, check_error,
                     parse_hello, run, token_add, wait_until)

HOST = ("Host", "hooks.example.test")


def store_bytes(store):
    """Every file of the SQLite store (database, journal, WAL, shared memory)."""
    data = b""
    for path in glob.glob(store + "*"):
        with open(path, "rb") as f:
            data += f.read()
    return data


def case_bob_cannot_get_alice(env):
    store = env.path("relay.db")
    token_add(env, store, "alice")
    bob = token_add(env, store, "bob")
    # The 503 for alice is --offline reject; the default would queue it.
    relay = env.relay(store=store, args=["--offline", "reject"])

    # A raw client with bob's token asking for alice in every way it can still gets bob.
    for what, path, extra in (("?channel=alice", "/tunnel?channel=alice", []),
                              ("a channel header", "/tunnel", [("X-Hookwire-Channel", "alice"),
                                                               ("Hookwire-Channel", "alice")]),
                              ("alice's path", "/tunnel/alice", []),
                              ("two tokens", "/tunnel", [("Authorization", "Bearer hwt_x")])):
        h = WebSocket.connect(relay.tunnel_port, path=path, token=bob, headers=extra)
        if h.status == 101:
            mtype, _, _, payload = h.ws.recv_tunnel(5)
            check_eq((mtype, parse_hello(payload)[2]), (T_HELLO, "bob"),
                     "bob's token with %s is still bob" % what)
        else:
            check(h.status in (400, 401, 404), "bob's token with %s: refused or bob" % what,
                  h.status)
        check(not relay.channel_connected("alice"), "alice not connected after " + what)
        check_error(relay.webhook("POST", "/t/alice/secret", [HOST], b"for alice only"), 503,
                    "HW_AGENT_OFFLINE", "alice's webhook while bob's client tried " + what)
        if h.ws:
            h.ws.close()
            wait_until(lambda: not relay.channel_connected("bob"), 5, "bob's client gone")

    target = env.target()
    agent = env.agent(relay, bob, "bob", target.port)
    check(all("/t/bob/" in l for l in agent.forwarding_lines()),
          "bob's agent is told bob's URL", agent.forwarding_lines())
    check_error(relay.webhook("POST", "/t/alice/secret", [HOST], b"for alice only"), 503,
                "HW_AGENT_OFFLINE", "alice's webhook while only bob's agent is up")
    check(not relay.channel_connected("alice"), "alice is not connected")
    resp = relay.webhook("POST", "/t/bob/ping", [HOST], b"for bob")
    check_eq(resp.status, 200, "bob's own webhook")
    check_eq([(r.target, r.body) for r in target.requests], [("/ping", b"for bob")],
             "bob's target saw only bob's webhook")


def case_token_add_existing(env):
    store = env.path("relay.db")
    first = token_add(env, store, "alice")
    relay = env.relay(store=store)
    r = relay.cli("token", "add", "alice")
    check(r.returncode != 0, "token add of an existing channel fails", r.returncode)
    check_eq(r.stdout, "", "and prints no token")
    check(r.stderr.strip(), "and says why")
    h = WebSocket.connect(relay.tunnel_port, token=first)
    check_eq(h.status, 101, "the first token still works")
    h.ws.close()
    for bad in ("Alice", "al_ice", "a" * 64, ""):
        r = relay.cli("token", "add", bad)
        check(r.returncode != 0 and r.stdout == "", "token add of invalid name %r fails" % bad,
              (r.returncode, r.stdout))


def case_token_list(env):
    store = env.path("relay.db")
    channels = ["alice", "bob", "carol-2", "d" * 63]
    t0 = time.time()
    tokens = [token_add(env, store, c) for c in channels]
    check_eq(len(set(tokens)), len(tokens), "every token is different")
    relay = env.relay(store=store)
    r = relay.cli("token", "list")
    check_eq(r.returncode, 0, "token list succeeds")
    rows = [l.split("\t") for l in r.stdout.splitlines()]
    check(all(len(row) == 3 for row in rows), "each line is channel<TAB>created<TAB>agent",
          r.stdout)
    check_eq(sorted(row[0] for row in rows), sorted(channels), "token list lists the channels")
    for ch, created, _agent in rows:
        m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$", created)
        check(m, "created time of %s is ISO 8601 UTC" % ch, created)
        ts = time.mktime(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        check(abs(ts - t0) < 120, "created time of %s is now" % ch, created)
    out = r.stdout + r.stderr
    for tok in tokens:
        check(tok not in out and tok[4:] not in out, "token list never shows a token")
    check("hwt_" not in out, "token list shows nothing token-like")
    rest = "\n".join(row[1] for row in rows) + r.stderr
    check(not re.search(r"[A-Za-z0-9+/=_-]{32,}", rest), "token list shows no hash", out)
    for tok in tokens:
        for algo in ("sha256", "sha512", "blake2b"):
            d = hashlib.new(algo, tok.encode()).digest()
            check(d.hex() not in out.lower() and base64.b64encode(d).decode()[:20] not in out,
                  "token list does not show the token's %s" % algo)
    data = store_bytes(store)
    check(data, "the store exists")
    for tok in tokens:
        check(tok.encode() not in data and tok[4:].encode() not in data,
              "the store does not keep tokens in clear")


def case_token_revoke(env):
    store = env.path("relay.db")
    alice = token_add(env, store, "alice")
    bob = token_add(env, store, "bob")
    relay = env.relay(store=store)
    h = WebSocket.connect(relay.tunnel_port, token=alice)
    check_eq(h.status, 101, "alice's token works before the revoke")
    h.ws.close()

    r = relay.cli("token", "revoke", "alice")
    check_eq(r.returncode, 0, "token revoke succeeds")
    # The relay reads the token table every 200 ms: the revoke takes effect within a second.
    def upgrade(token):
        h = WebSocket.connect(relay.tunnel_port, token=token)
        if h.status == 101:
            h.ws.close()
        return h
    h = wait_until(lambda: (lambda h: h if h.status != 101 else None)(upgrade(alice)), 2,
                   "the revoke reaches the relay")
    check_eq(h.status, 401, "the revoked token's upgrade")
    check_error(h.response, 401, "HW_UNAUTHORIZED", "revoked token")
    h = WebSocket.connect(relay.tunnel_port, token=bob)
    check_eq(h.status, 101, "other channels' tokens still work")
    h.ws.close()
    r = relay.cli("token", "list")
    check_eq([l.split("\t")[0] for l in r.stdout.splitlines()], ["bob"],
             "token list no longer shows alice")
    check_error(relay.webhook("POST", "/t/alice/x", [HOST], b"{}"), 404, "HW_UNKNOWN_CHANNEL",
                "webhook for a revoked channel")

    agent = Proc(env, "agent-revoked", [AGENT_BIN, "--relay", relay.ws_url, "--forward", "1"],
                 {"HOOKWIRE_TOKEN": alice})
    check_eq(agent.wait_exit(15), 1, "an agent with the revoked token exits with status 1")

    new = token_add(env, store, "alice")
    check(new != alice, "a new token after the revoke is a different token")
    # A new token works within about a second, without restarting the relay.
    h = wait_until(lambda: (lambda h: h if h.status == 101 else None)(upgrade(new)), 2,
                   "the new token reaches the relay")
    check_eq(h.status, 101, "the new token works")
    check_eq(WebSocket.connect(relay.tunnel_port, token=alice).status, 401,
             "the old token stays revoked")


if __name__ == "__main__":
    run([case_bob_cannot_get_alice, case_token_add_existing, case_token_list, case_token_revoke])
