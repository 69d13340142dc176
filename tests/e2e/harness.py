"""End-to-end test harness for hookwire (Python 3 standard library only).

Starts the real binaries from $HW_BIN on free loopback ports, each test case in
its own temporary directory; waits for readiness by polling with a deadline;
stops every program with SIGTERM and requires exit status 0; prints the
programs' logs when anything fails. Also provides the raw pieces the tests
need to see bytes exactly: a recording HTTP target, an HTTP client that sends
exact bytes, and a WebSocket client that can send malformed frames.

A test file lists its cases and calls run(); each case is a function taking an
Env. Cases run in order; `python3 NN-name.py CASE...` runs only those named.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

# The tests import everything they need from this module.
from hw_checks import CheckFailed, check, check_eq, holds_for, sha256, wait_until  # noqa: F401
from hw_http import (HOP_BY_HOP, IO_TIMEOUT, LOCALHOST, HttpConn, RawServer,  # noqa: F401
                     Reply, Request, Response, Target, build_request, chunk_body,
                     expected_forwarded_lines, get, head_lines, read_head, request,
                     split_header_line)
from hw_ws import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, T_DATA,  # noqa: F401
                   T_END, T_GOAWAY, T_HELLO, T_PING, T_PONG, T_REQUEST, T_RESET, T_RESPONSE,
                   T_WINDOW, TUNNEL_HDR, TUNNEL_MAX_PAYLOAD, WebSocket, encode_request_payload,
                   parse_hello, parse_tunnel_msg, tunnel_msg, ws_frame)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.environ.get("HW_SOURCE") or os.path.dirname(os.path.dirname(HERE)))
# Absolute, since the programs run in each case's temporary directory.
BIN = os.path.abspath(os.environ.get("HW_BIN") or os.path.join(SOURCE, "build", "bin"))
RELAY_BIN = os.path.join(BIN, "hookwire-relay")
AGENT_BIN = os.path.join(BIN, "hookwire-agent")
RECEIVER_BIN = os.path.join(BIN, "hookwire-receiver")
REPLAY_BIN = os.path.join(BIN, "hookwire-replay")
# LD_PRELOADed to play a name server for one name (tests/tools/fake_resolver.c).
FAKE_RESOLVER = os.path.join(BIN, "hw-fake-resolver.so")

START_TIMEOUT = 10.0  # seconds for a program to become ready
STOP_TIMEOUT = 10.0  # seconds for a program to exit after SIGTERM
LOG_TAIL = 200  # lines of each log printed on failure

EVENT_ID_RE = re.compile(r"^evt_[0-9A-Za-z]{26}$")


_handed_out = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now, and that this process has
    not handed out before (two programs of one test never get the same port)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOCALHOST, 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


# ---------------------------------------------------------------------------
# Processes


class Proc:
    """One running program with stdout and stderr captured to files."""

    def __init__(self, env, name, argv, extra_env=None):
        self.env = env
        self.name = name
        self.argv = list(argv)
        # Many agents run at once in the suite: none takes the inspector's default port
        # (127.0.0.1:4040) unless its test asks for an inspector on the command line.
        if self.argv and self.argv[0] == AGENT_BIN and not any(a.startswith("--inspect")
                                                               for a in self.argv):
            self.argv[1:1] = ["--inspect", "off"]
        self.stdout_path = env.path(name + ".stdout")
        self.stderr_path = env.path(name + ".stderr")
        penv = dict(os.environ)
        # The agent's settings come only from what each test passes.
        for k in ("HOOKWIRE_TOKEN", "HOOKWIRE_RELAY"):
            penv.pop(k, None)
        penv.update(extra_env or {})
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.p = subprocess.Popen(self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                      cwd=env.dir, env=penv)
        self.pid = self.p.pid
        self.expected_dead = False
        self.stopped = False  # SIGSTOPped
        env.procs.append(self)

    def alive(self):
        return self.p.poll() is None

    def returncode(self):
        return self.p.poll()

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def check_alive(self, what="still running"):
        rc = self.p.poll()
        check(rc is None, "%s %s" % (self.name, what), "it exited with status %s" % rc)

    def signal(self, sig):
        os.kill(self.pid, sig)
        if sig == signal.SIGSTOP:
            self.stopped = True
        elif sig == signal.SIGCONT:
            self.stopped = False

    def kill(self):
        """SIGKILL, on purpose: the process is not expected to exit cleanly."""
        self.expected_dead = True
        if self.alive():
            self.p.kill()
        self.p.wait(STOP_TIMEOUT)

    def wait_exit(self, timeout):
        """Waits for the process to exit by itself; returns its status."""
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise CheckFailed("%s did not exit within %.1fs" % (self.name, timeout))
        finally:
            self.expected_dead = True

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; requires exit status 0 within timeout."""
        if self.expected_dead:
            return
        self.expected_dead = True
        rc = self.p.poll()
        check(rc is None, "%s was still running at shutdown" % self.name,
              "it had exited with status %s" % rc)
        if self.stopped:
            self.signal(signal.SIGCONT)
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise CheckFailed("%s did not exit within %.1fs of SIGTERM" % (self.name, timeout))
        check(rc == 0, "%s exits cleanly on SIGTERM" % self.name, "exit status %s" % rc)

    def abort(self):
        """Best-effort stop after a failure: SIGTERM, then SIGKILL."""
        if self.p.poll() is not None:
            return
        try:
            if self.stopped:
                os.kill(self.pid, signal.SIGCONT)
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        except OSError:
            pass

    def dump(self):
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            rc = self.p.poll()
            print("==== %s %s (pid %d, %s, %d lines%s) ====" % (
                self.name, label, self.pid, "running" if rc is None else "exit %s" % rc,
                len(lines), ", last %d" % LOG_TAIL if len(lines) > LOG_TAIL else ""))
            for line in lines[-LOG_TAIL:]:
                print("    " + line)


def store_url(store):
    """A store given as a path means a SQLite file; a URL (mysql://...) is used as is."""
    return store if store.startswith(("sqlite:", "mysql://")) else "sqlite:" + store


def relay_cli(env, store, *args):
    """Runs `hookwire-relay --store STORE ARGS...`; returns CompletedProcess (text)."""
    return subprocess.run([RELAY_BIN, "--store", store_url(store)] + list(args), cwd=env.dir,
                          capture_output=True, text=True, timeout=30)


def token_add(env, store, channel):
    """Creates a token for channel in store and returns it."""
    r = relay_cli(env, store, "token", "add", channel)
    check(r.returncode == 0, "token add %s succeeds" % channel,
          "exit %s, stderr %r" % (r.returncode, r.stderr))
    lines = r.stdout.splitlines()
    check(len(lines) == 1 and lines[0].startswith("hwt_"),
          "token add %s prints one hwt_ token line" % channel, repr(r.stdout))
    return lines[0]


class Relay:
    """hookwire-relay on 127.0.0.1 with a public and a tunnel port."""

    def __init__(self, env, store=None, args=(), port=None, tunnel_port=None, name="relay",
                 metrics_channels=True, wrap=()):
        self.env = env
        self.wrap = list(wrap)  # a command that execs the relay (same pid), e.g. setpriv
        self.store = store or env.path("relay.db")
        # Tests watch channels through /metrics; 72-metrics.py checks the default (no names).
        self.args = (["--metrics-channels"] if metrics_channels else []) + list(args)
        self.fixed_ports = port is not None or tunnel_port is not None
        self.port = port or free_port()
        self.tunnel_port = tunnel_port or free_port()
        self.name = name
        self.proc = None
        self.starts = 0

    @property
    def ws_url(self):
        return "ws://%s:%d" % (LOCALHOST, self.tunnel_port)

    def start(self):
        for attempt in range(3):
            self.starts += 1
            name = self.name if self.starts == 1 else "%s-%d" % (self.name, self.starts)
            self.proc = Proc(self.env, name, self.wrap + [
                RELAY_BIN, "--listen", "%s:%d" % (LOCALHOST, self.port), "--tunnel-listen",
                "%s:%d" % (LOCALHOST, self.tunnel_port), "--store", store_url(self.store)
            ] + self.args)
            if self._wait_ready():
                return self
            if self.fixed_ports or attempt == 2:
                break
            # Another test may have taken a port between our probe and the bind.
            self.port, self.tunnel_port = free_port(), free_port()
        raise CheckFailed("%s did not start: exit status %s" % (self.name,
                                                                self.proc.returncode()))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.proc.alive():
                self.proc.expected_dead = True
                return False
            try:
                if (get(self.port, "/healthz").status == 200 and
                        get(self.tunnel_port, "/healthz").status == 200):
                    return True
            except (OSError, EOFError):
                pass
            time.sleep(0.02)
        raise CheckFailed("%s did not answer /healthz on both ports within %.0fs" %
                          (self.name, START_TIMEOUT))

    def stop(self):
        self.proc.stop()

    def restart(self):
        """Clean stop, then start again on the same ports and store."""
        self.stop()
        self.fixed_ports = True
        return self.start()

    def token_add(self, channel):
        return token_add(self.env, self.store, channel)

    def cli(self, *args):
        return relay_cli(self.env, self.store, *args)

    def metrics(self):
        """The /metrics samples as {(name, ((label, value), ...)): float}."""
        r = get(self.tunnel_port, "/metrics")
        check(r.status == 200, "GET /metrics answers 200", r.status)
        return parse_metrics(r.body.decode())

    def metric(self, name, **labels):
        """One sample's value, or None when the relay does not report it."""
        return self.metrics().get((name, tuple(sorted(labels.items()))))

    def channel_connected(self, channel):
        return self.metric("hookwire_relay_channel_connected", channel=channel) == 1

    def webhook(self, method, path, headers=(), body=b"", **kw):
        """Sends one request to the public port on a fresh connection."""
        return request(self.port, method, path, headers, body, **kw)


class Agent:
    """hookwire-agent for one channel, forwarding to `forward`. The token goes in
    HOOKWIRE_TOKEN, or in --token-file when token_file names a file; the relay URL goes in
    --relay, or in HOOKWIRE_RELAY when relay_env is true."""

    def __init__(self, env, relay, token, channel, forward, args=(), name="agent",
                 token_file=None, relay_env=False):
        self.env = env
        self.relay = relay
        self.token = token
        self.channel = channel
        self.forward = str(forward)
        self.args = list(args)
        self.name = name
        self.token_file = token_file
        self.relay_env = relay_env
        self.proc = None
        self.starts = 0

    def start(self, wait=True):
        self.starts += 1
        name = self.name if self.starts == 1 else "%s-%d" % (self.name, self.starts)
        argv = [AGENT_BIN, "--forward", self.forward] + self.args  # Proc adds --inspect off
        extra = {}
        if self.relay_env:
            extra["HOOKWIRE_RELAY"] = self.relay.ws_url
        else:
            argv += ["--relay", self.relay.ws_url]
        if self.token_file:
            argv += ["--token-file", self.token_file]
        else:
            extra["HOOKWIRE_TOKEN"] = self.token
        self.proc = Proc(self.env, name, argv, extra)
        if wait:
            self.wait_ready()
        return self

    def forwarding_lines(self):
        return [l for l in self.proc.stdout().splitlines() if l.startswith("Forwarding ")]

    def wait_ready(self, connects=1, timeout=START_TIMEOUT):
        """Waits for the agent's `connects`-th "Forwarding" line and the relay's view."""
        def ready():
            self.proc.check_alive("is running while waiting for its tunnel")
            return (len(self.forwarding_lines()) >= connects and
                    self.relay.channel_connected(self.channel))
        wait_until(ready, timeout, "%s tunnel up (Forwarding line #%d and channel %s connected)" %
                   (self.name, connects, self.channel))
        return self

    def stop(self):
        self.proc.stop()

    def kill(self):
        self.proc.kill()


# ---------------------------------------------------------------------------
# Relay metrics and the relay's own answers


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$', line)
        check(m is not None, "metrics line is well-formed", line)
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                         m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def check_added_headers(lines, host, what):
    """Checks that `lines` are exactly the five headers the relay appends, in order;
    returns the event id."""
    check_eq([split_header_line(l)[0] for l in lines],
             ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Hookwire-Event-Id",
              "Hookwire-Attempt"], what + ": names of the appended headers")
    vals = [split_header_line(l)[1] for l in lines]
    check_eq(vals[0], LOCALHOST, what + ": X-Forwarded-For")
    check_eq(vals[1], "http", what + ": X-Forwarded-Proto")
    check_eq(vals[2], host, what + ": X-Forwarded-Host")
    check(EVENT_ID_RE.match(vals[3]), what + ": Hookwire-Event-Id is evt_ + 26 chars", vals[3])
    check_eq(vals[4], "1", what + ": Hookwire-Attempt")
    return vals[3]


def check_error(resp, status, code, what):
    """Checks one of the relay's own error answers."""
    check_eq(resp.status, status, what + ": status")
    check_eq(resp.header_values("Hookwire-Error"), [code], what + ": Hookwire-Error")
    ctype = resp.header("Content-Type") or ""
    check(ctype.startswith("text/plain"), what + ": text/plain body", ctype)
    check(resp.body.strip(), what + ": the body says what went wrong", resp.body)


# ---------------------------------------------------------------------------
# Per-case environment and the runner


class Env:
    """Temporary directory, processes and servers of one test case."""

    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="hw-e2e-%s-" % name)
        self.procs = []
        self.targets = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def relay(self, **kw):
        return Relay(self, **kw).start()

    def agent(self, relay, token, channel, forward, wait=True, **kw):
        return Agent(self, relay, token, channel, forward, **kw).start(wait=wait)

    def target(self, handler=None, port=None, tls=None):
        t = Target(handler, port, tls)
        self.targets.append(t)
        return t

    def stack(self, channel="alice", relay_args=(), agent_args=(), handler=None):
        """A relay with a token for channel, a recording target and an agent, all ready."""
        store = self.path("relay.db")
        token = token_add(self, store, channel)
        relay = self.relay(store=store, args=relay_args)
        target = self.target(handler)
        agent = self.agent(relay, token, channel, target.port, args=agent_args)
        return relay, target, agent

    def finish(self):
        """Stops everything: SIGTERM in reverse start order, each must exit 0."""
        failures = []
        for p in reversed(self.procs):
            try:
                p.stop()
            except CheckFailed as e:
                failures.append(str(e))
        for t in self.targets:
            t.close()
            if t.errors and not t.ignore_errors:
                failures.append("target on port %d had errors: %s" % (t.port, t.errors[:5]))
        check(not failures, "clean shutdown", "; ".join(failures))

    def abort(self):
        for p in reversed(self.procs):
            p.abort()
        for t in self.targets:
            t.close()

    def dump(self):
        for p in self.procs:
            p.dump()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def run(cases):
    """Runs the cases (functions taking an Env); exits 1 if any failed."""
    for path in (RELAY_BIN, AGENT_BIN):
        if not os.access(path, os.X_OK):
            print("missing binary %s (set HW_BIN)" % path)
            sys.exit(1)
    only = set(sys.argv[1:])
    unknown = only - {fn.__name__ for fn in cases}
    if unknown:
        print("no such case: %s (cases: %s)" % (" ".join(sorted(unknown)),
                                                " ".join(fn.__name__ for fn in cases)))
        sys.exit(2)
    failed = []
    t_all = time.monotonic()
    for fn in cases:
        name = fn.__name__
        if only and name not in only:
            continue
        env = Env(name)
        t0 = time.monotonic()
        try:
            fn(env)
            env.finish()
            print("ok    %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
            env.cleanup()
        except KeyboardInterrupt:
            env.abort()
            raise
        except BaseException as e:
            print("FAIL  %s (%.1fs): %s" % (name, time.monotonic() - t0, e), flush=True)
            if not isinstance(e, CheckFailed):
                traceback.print_exc(file=sys.stdout)
            else:
                tb = traceback.extract_tb(e.__traceback__)
                mine = [f for f in tb if not os.path.basename(f.filename).startswith(
                    ("harness.py", "hw_"))]
                if mine:
                    print("      at %s:%d" % (os.path.basename(mine[-1].filename),
                                              mine[-1].lineno))
            env.abort()
            env.dump()
            print("      files kept in %s" % env.dir)
            failed.append(name)
    print("%d failed: %s" % (len(failed), " ".join(failed)) if failed else
          "all passed (%.1fs)" % (time.monotonic() - t_all), flush=True)
    sys.exit(1 if failed else 0)
