"""MariaDB for the tests: the `mariadb` client's argv for a store URL, a fresh
database next to the test database, and a private server (scripts/mariadb) for
cases that stop, freeze or kill it."""

import contextlib
import os
import signal
import subprocess
import sys
import urllib.parse

from harness import SOURCE, check



def require_url():
    """For a test that runs on MariaDB only, before its cases: HOOKWIRE_TEST_MYSQL_URL
    must be set (scripts/test sets it), or else the test fails, unless
    HOOKWIRE_TEST_NO_MYSQL=1 says to skip it (exit 0 without running a case)."""
    if os.environ.get("HOOKWIRE_TEST_MYSQL_URL"):
        return
    if os.environ.get("HOOKWIRE_TEST_NO_MYSQL") == "1":
        print("skipped: HOOKWIRE_TEST_NO_MYSQL=1")
        sys.exit(0)
    print("HOOKWIRE_TEST_MYSQL_URL is not set: run through scripts/test, which starts MariaDB")
    sys.exit(1)

def mariadb_argv(url):
    """(argv, env) to run the `mariadb` client against url's server, password in env."""
    u = urllib.parse.urlsplit(url)
    argv = ["mariadb", "--no-defaults", "-h", u.hostname, "-P", str(u.port or 3306),
            "-u", urllib.parse.unquote(u.username)]
    return argv, dict(os.environ, MYSQL_PWD=urllib.parse.unquote(u.password or ""))


def fresh_database(url, name):
    """Creates (or empties) database `name` on url's server; returns its URL."""
    argv, env = mariadb_argv(url)
    sql = "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s" % (name, name)
    r = subprocess.run(argv + ["-e", sql], env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "create database " + name, r.stderr)
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, ""))


def mariadb(cmd, datadir):
    """scripts/mariadb start|stop DIR: a private server; returns its env lines as a dict."""
    r = subprocess.run([os.path.join(SOURCE, "scripts", "mariadb"), cmd, datadir],
                       capture_output=True, text=True, timeout=180)
    check(r.returncode == 0, "scripts/mariadb %s" % cmd, r.stderr)
    env = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


class OwnServer:
    """A MariaDB server of one case's own: url, and freeze() / thaw() (SIGSTOP / SIGCONT)."""

    def __init__(self, env):
        self.url = env["HOOKWIRE_TEST_MYSQL_URL"]
        self.pid = int(env["HOOKWIRE_TEST_MYSQL_PID"])
        self.frozen = False

    def freeze(self):
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        os.kill(self.pid, signal.SIGCONT)
        self.frozen = False


@contextlib.contextmanager
def own_mariadb(env, name):
    """Starts a MariaDB server with its data in env.path(name) and yields it (OwnServer);
    thaws it if the case left it frozen, and stops it at the end."""
    datadir = env.path(name)
    os.makedirs(datadir)
    server = OwnServer(mariadb("start", datadir))
    try:
        yield server
    finally:
        if server.frozen:
            server.thaw()
        mariadb("stop", datadir)
