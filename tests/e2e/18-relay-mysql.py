#!/usr/bin/env python3
"""The relay on a MySQL store (MariaDB started by the test command): tokens are
created, listed, used and revoked through mysql://. The relay answers token
checks from memory (a table read every 200 ms through the store thread): while
the database is down, known agents connect and webhooks flow, an unknown token
gets 503 HW_STORE_UNAVAILABLE and its agent keeps retrying, and once the
database is back it gets 401, without a relay restart; the history record of a webhook
answered while the database was down is written once it is back. With MariaDB frozen by
SIGSTOP, webhooks for a connected channel keep flowing, each answered at once.

Needs HOOKWIRE_TEST_MYSQL_URL (scripts/test sets it); fails without it unless
HOOKWIRE_TEST_NO_MYSQL=1, so CI cannot skip it silently.
"""

import json
import os
import subprocess
import time

from harness import (WebSocket, check, check_eq, relay_cli, request, run, token_add,
                     wait_until)
from hw_mysql import fresh_database, mariadb, mariadb_argv, own_mariadb, require_url

HOST = ("Host", "hooks.example.test")

URL = os.environ.get("HOOKWIRE_TEST_MYSQL_URL")


def cli(env, store, *args):
    r = relay_cli(env, store, *args)
    check_eq(r.returncode, 0, "hookwire-relay %s" % " ".join(args))
    return r.stdout


def case_tokens_and_delivery(env):
    store = fresh_database(URL, "hookwire_test_relay_%d" % os.getpid())
    token = token_add(env, store, "alice")
    check_eq(token_add(env, store, "bob")[:4], "hwt_", "a second channel")
    listed = cli(env, store, "token", "list")
    check_eq(sorted(l.split("\t")[0] for l in listed.splitlines()), ["alice", "bob"],
             "token list on MySQL")
    check(token not in listed, "the list never shows a token")
    # bob's 503 below is --offline reject; queueing on MySQL is 60-offline-queue.py.
    relay = env.relay(store=store, args=["--offline", "reject"])
    target = env.target()
    agent = env.agent(relay, token, "alice", target.port)
    resp = relay.webhook("POST", "/t/alice/hook", [HOST], b'{"on":"mysql"}')
    check_eq(resp.status, 200, "delivered through a relay on MySQL")
    check_eq(target.wait_requests(1)[-1].body, b'{"on":"mysql"}', "the app got it")
    resp = relay.webhook("POST", "/t/carol/hook", [HOST], b"{}")
    check_eq(resp.status, 404, "a channel without a token is unknown")
    resp = relay.webhook("POST", "/t/bob/hook", [HOST], b"{}")
    check_eq((resp.status, resp.header("Hookwire-Error")), (503, "HW_AGENT_OFFLINE"),
             "bob has a token but no agent")
    cli(env, store, "token", "revoke", "alice")
    agent.kill()
    again = env.agent(relay, token, "alice", target.port, wait=False)
    wait_until(lambda: again.proc.returncode() is not None, 10, "agent with a revoked token exits")
    check_eq(again.proc.returncode(), 1, "exit status for a refused token")
    again.proc.expected_dead = True


def upgrade_status(relay, token):
    """The status of a tunnel upgrade with token (a 101 is closed at once)."""
    h = WebSocket.connect(relay.tunnel_port, token=token)
    if h.status == 101:
        h.ws.close()
    return h.status, h.response


def outage(env, datadir):
    """A private MariaDB in datadir with alice's token, a relay on it, an app and alice's
    agent; then the database stops, and a webhook to /t/alice/during-outage is answered by
    the app while the relay keeps its history record for later. Returns (token, relay, app,
    agent)."""
    store = mariadb("start", datadir)["HOOKWIRE_TEST_MYSQL_URL"]
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    target = env.target()
    agent = env.agent(relay, token, "alice", target.port)
    mariadb("stop", datadir)
    resp = relay.webhook("POST", "/t/alice/during-outage", [HOST], b'{"kept":1}')
    check_eq(resp.status, 200, "a connected channel keeps working with the database down")
    wait_until(lambda: "its history record is written again later" in relay.proc.stderr(),
               30, "the relay keeps the record the store could not take")
    return token, relay, target, agent


def case_database_down(env):
    """The relay answers tokens from memory: with the database stopped, known agents connect
    and their webhooks flow; what it cannot check (an unknown token or channel) gets 503 and
    the agent keeps retrying; once the database is back the unknown token gets 401."""
    datadir = env.path("mariadb")
    os.makedirs(datadir)
    try:
        token, relay, target, agent = outage(env, datadir)
        agent.kill()
        wait_until(lambda: not relay.channel_connected("alice"), 10, "alice disconnected")
        agent = env.agent(relay, token, "alice", target.port, wait=False)
        wait_until(lambda: relay.channel_connected("alice"), 15,
                   "a known token connects while the database is down")
        stranger = "hwt_" + os.urandom(32).hex()
        status, resp = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(
            upgrade_status(relay, stranger)), 15, "an unknown token gets 503 once the table is old")
        check_eq(resp.header("Hookwire-Error"), "HW_STORE_UNAVAILABLE", "503 names the store")
        ra = resp.header("Retry-After") or ""
        check(ra.isdigit() and int(ra) > 0, "the 503 carries Retry-After", ra)
        before = relay.metric("hookwire_relay_errors_total", code="HW_STORE_UNAVAILABLE")
        retrying = env.agent(relay, stranger, "x", target.port, wait=False)
        wait_until(lambda: relay.metric("hookwire_relay_errors_total",
                                        code="HW_STORE_UNAVAILABLE") >= before + 2, 30,
                   "the unknown agent's upgrades are refused with 503 again and again")
        check(retrying.proc.alive(), "an agent refused with 503 keeps retrying")
        resp = relay.webhook("POST", "/t/carol/x", [HOST], b"{}")
        check_eq((resp.status, resp.header("Hookwire-Error")), (503, "HW_STORE_UNAVAILABLE"),
                 "a webhook for a channel the relay cannot check")
        mariadb("start", datadir)
        wait_until(lambda: retrying.proc.returncode() is not None, 60,
                   "once the database is back the unknown token is refused for good")
        check_eq(retrying.proc.returncode(), 1, "and the agent exits 1")
        retrying.proc.expected_dead = True
        check_eq(upgrade_status(relay, stranger)[0], 401, "the unknown token now gets 401")
        resp = relay.webhook("POST", "/t/alice/x", [HOST], b"{}")
        check_eq(resp.status, 200, "traffic flows, relay never restarted")

        def recorded():
            r = request(relay.tunnel_port, "GET", "/api/events?limit=100",
                        [("Host", "127.0.0.1:%d" % relay.tunnel_port),
                         ("Authorization", "Bearer " + token)])
            check_eq(r.status, 200, "alice's history")
            return [e for e in json.loads(r.body)["events"] if e["path"] == "/during-outage"]
        evs = wait_until(recorded, 60, "the webhook answered during the outage is in the history")
        check_eq([(e["status"], e["last_status"]) for e in evs], [("delivered", 200)],
                 "recorded once, delivered with the app's status")
        check_eq(relay.metric("hookwire_relay_history_lost_total"), 0.0, "no history lost")
    finally:
        mariadb("stop", datadir)


def case_database_down_at_stop(env):
    """The relay stops while the database is still down: the history record it kept is
    counted lost and logged in one line, and the relay exits 0 (no record leaks)."""
    datadir = env.path("mariadb")
    os.makedirs(datadir)
    try:
        _, relay, _, agent = outage(env, datadir)
        agent.stop()
        relay.stop()
        check("1 history record not written: the store was unavailable until the stop"
              in relay.proc.stderr(), "the stop says what it could not write",
              relay.proc.stderr()[-800:])
    finally:
        mariadb("stop", datadir)


def case_database_hung(env):
    """MariaDB frozen with SIGSTOP while an agent connects: the relay's loop never waits on
    it, so webhooks for the connected channel keep flowing, each answered at once, and the
    new agent (a known token) connects."""
    with own_mariadb(env, "mariadb") as db:
        store = db.url + "?timeout=2"
        alice = token_add(env, store, "alice")
        bob = token_add(env, store, "bob")
        relay = env.relay(store=store)
        target = env.target()
        env.agent(relay, alice, "alice", target.port)
        check_eq(relay.webhook("POST", "/t/alice/x", [HOST], b"{}").status, 200, "before")
        db.freeze()
        late = env.agent(relay, bob, "bob", target.port, wait=False)
        stranger_status = None
        sent = 0
        t_end = time.monotonic() + 8  # longer than the store timeout, several refreshes
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            resp = relay.webhook("POST", "/t/alice/x", [HOST], b"{}")
            check_eq(resp.status, 200, "webhook %d while MariaDB is frozen" % sent)
            check(time.monotonic() - t0 < 1.0, "answered at once, not after the store timeout",
                  time.monotonic() - t0)
            sent += 1
            if stranger_status is None and sent == 20:
                t0 = time.monotonic()
                stranger_status = upgrade_status(relay, "hwt_" + os.urandom(32).hex())[0]
                check(time.monotonic() - t0 < 1.0, "an upgrade is answered at once too")
        print("      %d webhooks answered while MariaDB was frozen" % sent)
        check(sent >= 50, "webhooks kept flowing", sent)
        check(stranger_status in (401, 503), "an unknown token: 401 or 503, never a hang",
              stranger_status)
        wait_until(lambda: relay.channel_connected("bob"), 10,
                   "an agent with a known token connects while MariaDB is frozen")
        check(late.proc.alive(), "bob's agent runs")
        db.thaw()
        check_eq(relay.webhook("POST", "/t/bob/x", [HOST], b"{}").status, 200, "bob delivers")


def case_migration_outlasts_call_timeout(env):
    """A migration may take longer than the fail-fast timeout of ordinary calls (an index on a
    large table, or another process's migration holding the lock): with ?timeout=1 and the
    migration lock held by another client for about 3 s, opening a fresh store waits for the
    lock and creates the schema (before, the lock wait hit the 1 s read timeout and the open
    failed with "Lost connection")."""
    store = fresh_database(URL, "hookwire_test_relay_mig_%d" % os.getpid())
    name = store.rsplit("/", 1)[1]
    argv, menv = mariadb_argv(store)
    lock = "'hookwire_schema.%s'" % name
    holder = subprocess.Popen(argv + ["-N", "-B", name, "-e", "SELECT GET_LOCK(%s, 10); "
                                      "SELECT SLEEP(3); SELECT RELEASE_LOCK(%s)" % (lock, lock)],
                              env=menv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def held():
            r = subprocess.run(argv + ["-N", "-B", name, "-e", "SELECT IS_USED_LOCK(%s)" % lock],
                               env=menv, capture_output=True, text=True, timeout=30)
            return r.stdout.strip() not in ("", "NULL")
        wait_until(held, 10, "the other client holds the migration lock")
        r = relay_cli(env, store + ("&" if "?" in store else "?") + "timeout=1", "token", "add",
                      "alice")
        check_eq(r.returncode, 0, "token add waits for the lock and migrates: " + r.stderr)
        check(r.stdout.startswith("hwt_"), "and prints the token", r.stdout)
    finally:
        holder.wait(timeout=30)
    check_eq(holder.returncode, 0, "the other client held and released the lock")


if __name__ == "__main__":
    require_url()
    run([case_tokens_and_delivery, case_database_down, case_database_down_at_stop,
         case_database_hung,
         case_migration_outlasts_call_timeout])
