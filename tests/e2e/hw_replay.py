"""Helpers for the hookwire-replay tests: the stores each case runs on (a SQLite file and a
fresh MariaDB database), the replay CLI, and test events appended through the store with
tests/tools' hw-store-append."""

import os
import subprocess
import urllib.parse

from harness import BIN, REPLAY_BIN, check, check_eq
import hw_mysql
from hw_mysql import mariadb_argv

APPEND_BIN = os.path.join(BIN, "hw-store-append")
MYSQL_URL = os.environ.get("HOOKWIRE_TEST_MYSQL_URL")


def require_mysql():
    """MySQL tests fail without a server, unless HOOKWIRE_TEST_NO_MYSQL=1 says to skip them."""
    if not MYSQL_URL and os.environ.get("HOOKWIRE_TEST_NO_MYSQL") != "1":
        raise SystemExit("HOOKWIRE_TEST_MYSQL_URL is not set (scripts/test sets it; "
                         "HOOKWIRE_TEST_NO_MYSQL=1 skips the MySQL cases)")


def mysql_sql(url, sql, db=None):
    """Runs SQL on url's server (in database db, or url's); returns stdout (tab-separated)."""
    argv, env = mariadb_argv(url)
    db = db or urllib.parse.urlsplit(url).path.lstrip("/")
    r = subprocess.run(argv + ["-N", "-B", "-D", db, "-e", sql], env=env, capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0, "mariadb: " + sql[:60], r.stderr)
    return r.stdout


def fresh_database(name):
    """Creates (or empties) database `name` next to the test database; returns its URL."""
    return hw_mysql.fresh_database(MYSQL_URL, name)


def stores(env, tag):
    """[(label, url)]: a SQLite file in the case's directory and, with MariaDB, a database of
    this case's own."""
    out = [("sqlite", "sqlite:" + env.path(tag + ".db"))]
    if MYSQL_URL:
        out.append(("mysql", fresh_database("hookwire_test_replay_%s_%d" % (tag, os.getpid()))))
    return out


def sql(url, statement):
    """Runs one statement on the store at url (either backend); returns rows as lists."""
    if url.startswith("sqlite:"):
        import sqlite3
        con = sqlite3.connect(url[len("sqlite:"):], timeout=30)
        try:
            rows = [list(r) for r in con.execute(statement)]
            con.commit()
            return rows
        finally:
            con.close()
    return [line.split("\t") for line in mysql_sql(url, statement).splitlines()]


def replay(env, url, *args, timeout=120, penv=None, **kw):
    """Runs hookwire-replay ARGS --store URL (none when url is None), with the environment
    penv (default: ours); returns CompletedProcess (bytes)."""
    argv = [REPLAY_BIN] + list(args)
    if url:
        argv += ["--store", url]
    return subprocess.run(argv, cwd=env.dir, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=penv, **kw)


def replay_ok(env, url, *args, **kw):
    r = replay(env, url, *args, **kw)
    check_eq(r.returncode, 0, "hookwire-replay %s exits 0 (stderr %r)" %
             (" ".join(args), r.stderr.decode(errors="replace")))
    return r.stdout.decode()


def append(env, url, count=1, **fields):
    """Appends count events through the store; fields are hw-store-append's options
    (source, method, path, query, headers_file, body_file, received_ms, step_ms, verify, fail,
    deliver=True). Returns the ids in append order."""
    argv = [APPEND_BIN, "--store", url, "--count", str(count)]
    for k, v in fields.items():
        if k == "deliver":
            argv.append("--deliver")
        else:
            argv += ["--" + k.replace("_", "-"), str(v)]
    r = subprocess.run(argv, cwd=env.dir, capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, "hw-store-append %s" % " ".join(argv[3:]), r.stderr[-2000:])
    ids = r.stdout.split()
    check_eq(len(ids), count, "hw-store-append printed one id per event")
    return ids


def statuses(url, ids=None, source=None):
    """{id: status number} of the given events, or of every event of source."""
    where = "source = X'%s'" % source.encode().hex() if source else "id IN (%s)" % ",".join(
        "'%s'" % i for i in ids)
    return {r[0]: int(r[1]) for r in sql(url, "SELECT id, status FROM hookwire_events WHERE " +
                                        where)}
