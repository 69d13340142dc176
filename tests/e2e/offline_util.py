"""Shared pieces of the offline-queue tests (60-offline-*.py): the stores each case runs
on (SQLite, and MariaDB from HOOKWIRE_TEST_MYSQL_URL in a fresh database per case), sending
numbered webhooks, and reading what the app received."""

import json
import os
import sys

from harness import check, check_eq, token_add
from hw_mysql import fresh_database

HOST = ("Host", "hooks.example.test")
MYSQL_URL = os.environ.get("HOOKWIRE_TEST_MYSQL_URL")

if not MYSQL_URL and os.environ.get("HOOKWIRE_TEST_NO_MYSQL") != "1":
    print("HOOKWIRE_TEST_MYSQL_URL is not set (scripts/mariadb start DIR prints it); "
          "set HOOKWIRE_TEST_NO_MYSQL=1 to run on SQLite only")
    sys.exit(1)

_count = [0]


def stores(env):
    """The stores a case runs on: a SQLite file, then a fresh MariaDB database."""
    out = [("sqlite", env.path("relay-%d.db" % len(env.procs)))]
    if MYSQL_URL:
        _count[0] += 1
        out.append(("mysql", fresh_database(
            MYSQL_URL, "hookwire_test_offline_%d_%d" % (os.getpid(), _count[0]))))
    return out


def body_of(i, size=0):
    """Webhook number i: a JSON line, padded to size bytes with bytes of every value."""
    b = json.dumps({"n": i}).encode() + b"\n"
    if size > len(b):
        b += bytes((i + k) % 256 for k in range(size - len(b)))
    return b


def queue_one(relay, i, path="/hook", size=0, channel="alice"):
    """Sends webhook i while the channel queues; checks the 202 and returns the event id."""
    resp = relay.webhook("POST", "/t/%s%s?n=%d" % (channel, path, i),
                         [HOST, ("Content-Type", "application/json"), ("X-Seq", str(i))],
                         body_of(i, size))
    check_eq(resp.status, 202, "webhook %d while offline: status" % i)
    doc = json.loads(resp.body)
    check(doc.get("queued") is True and doc.get("id", "").startswith("evt_"),
          "webhook %d: the 202 names the queued event" % i, resp.body)
    return doc["id"]


def received(target):
    """(X-Seq, Hookwire-Event-Id, Hookwire-Attempt, body) of every request the app saw."""
    with target.cond:
        reqs = list(target.requests)
    return [(int(r.header("X-Seq") or -1), r.header("Hookwire-Event-Id"),
             r.header("Hookwire-Attempt"), r.body) for r in reqs]


def check_in_order_once(target, ids, size=0, what=""):
    """The app saw exactly events 0..len(ids)-1, once each, in order, byte-exact, with
    their ids and attempt 1."""
    got = received(target)
    check_eq([g[0] for g in got], list(range(len(ids))), what + ": arrival order, each once")
    for i, (seq, evt, attempt, body) in enumerate(got):
        check_eq(evt, ids[i], what + ": event %d keeps its id" % i)
        check_eq(attempt, "1", what + ": event %d is a first attempt" % i)
        check(body == body_of(i, size), what + ": event %d byte-exact" % i)


def stack(env, store, relay_args=(), start_agent=False, handler=None, channel="alice"):
    """Relay on store with a token for channel, a recording app; the agent is not started
    unless asked. Returns relay, target, agent (an Agent object, started or not)."""
    from harness import Agent
    token = token_add(env, store, channel)
    relay = env.relay(store=store, args=list(relay_args))
    target = env.target(handler)
    agent = Agent(env, relay, token, channel, target.port)
    if start_agent:
        agent.start()
    return relay, target, agent
