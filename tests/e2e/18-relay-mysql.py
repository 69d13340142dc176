#!/usr/bin/env python3
"""The relay on a MySQL store (MariaDB started by the test command): tokens are
created, listed, used and revoked through mysql://; while the database is down
an agent's upgrade gets 503 HW_STORE_UNAVAILABLE and the agent keeps retrying,
and once the database is back it connects by itself, without a relay restart.

Needs HOOKWIRE_TEST_MYSQL_URL (scripts/test sets it); fails without it unless
HOOKWIRE_TEST_NO_MYSQL=1, so CI cannot skip it silently.
"""

import os
import subprocess
import sys
import urllib.parse

from harness import SOURCE, check, check_eq, relay_cli, run, token_add, wait_until

HOST = ("Host", "hooks.example.test")

URL = os.environ.get("HOOKWIRE_TEST_MYSQL_URL")


def fresh_database(url, name):
    """Creates (or empties) database `name` on url's server; returns its URL."""
    u = urllib.parse.urlsplit(url)
    argv = ["mariadb", "--no-defaults", "-h", u.hostname, "-P", str(u.port or 3306),
            "-u", urllib.parse.unquote(u.username)]
    env = dict(os.environ, MYSQL_PWD=urllib.parse.unquote(u.password or ""))
    sql = "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s" % (name, name)
    r = subprocess.run(argv + ["-e", sql], env=env, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "create database " + name, r.stderr)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, ""))


def cli(env, store, *args):
    r = relay_cli(env, store, *args)
    check_eq(r.returncode, 0, "hookwire-relay %s" % " ".join(args))
    return r.stdout


def mariadb(cmd, datadir):
    r = subprocess.run([os.path.join(SOURCE, "scripts", "mariadb"), cmd, datadir],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "scripts/mariadb %s" % cmd, r.stderr)
    env = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


def case_tokens_and_delivery(env):
    store = fresh_database(URL, "hookwire_test_relay_%d" % os.getpid())
    token = token_add(env, store, "alice")
    check_eq(token_add(env, store, "bob")[:4], "hwt_", "a second channel")
    listed = cli(env, store, "token", "list")
    check_eq(sorted(l.split("\t")[0] for l in listed.splitlines()), ["alice", "bob"],
             "token list on MySQL")
    check(token not in listed, "the list never shows a token")
    relay = env.relay(store=store)
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


def case_database_down(env):
    datadir = env.path("mariadb")
    os.makedirs(datadir)
    own = mariadb("start", datadir)
    try:
        store = own["HOOKWIRE_TEST_MYSQL_URL"]
        token = token_add(env, store, "alice")
        relay = env.relay(store=store)
        target = env.target()
        agent = env.agent(relay, token, "alice", target.port)
        mariadb("stop", datadir)
        agent.kill()
        agent = env.agent(relay, token, "alice", target.port, wait=False)
        wait_until(lambda: relay.metric("hookwire_relay_errors_total",
                                        code="HW_STORE_UNAVAILABLE") >= 1, 30,
                   "the upgrade is refused with 503 while the database is down")
        check(agent.proc.alive(), "the agent keeps retrying instead of exiting")
        resp = relay.webhook("POST", "/t/alice/x", [HOST], b"{}")
        check_eq((resp.status, resp.header("Hookwire-Error")), (503, "HW_STORE_UNAVAILABLE"),
                 "a webhook for a channel the relay cannot check")
        mariadb("start", datadir)
        wait_until(lambda: relay.channel_connected("alice"), 60,
                   "the agent connects by itself once the database is back")
        resp = relay.webhook("POST", "/t/alice/x", [HOST], b"{}")
        check_eq(resp.status, 200, "traffic flows again, relay never restarted")
    finally:
        mariadb("stop", datadir)


if __name__ == "__main__":
    if not URL:
        if os.environ.get("HOOKWIRE_TEST_NO_MYSQL") == "1":
            print("skipped: HOOKWIRE_TEST_NO_MYSQL=1")
            sys.exit(0)
        print("HOOKWIRE_TEST_MYSQL_URL is not set: run through scripts/test, which starts MariaDB")
        sys.exit(1)
    run([case_tokens_and_delivery, case_database_down])
