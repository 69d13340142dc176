#!/usr/bin/env python3
"""Every startup failure and every connection failure a new user meets, with the
exact line the program prints and its exit status (docs/cli.md): relay listen
addresses, quoted INI values, one port for both listeners, a port in use, a
missing config file, --public-url, the token in an agent config, the order of
config file and command line; the agent reaching the relay's webhook port, TLS
on a plain port and plain on a TLS port, an unknown host, a refused token; -h,
--version, colour and NO_COLOR, Ctrl-C, durations, a timeout, JSON log fields;
targets as people write them; token add's hints and token list's agent column;
`events` against a relay that trickles its answer or stalls its TLS handshake.
"""

import json
import os
import pty
import re
import select
import signal
import subprocess
import threading
import time

from harness import (AGENT_BIN, FAKE_RESOLVER, RECEIVER_BIN, RELAY_BIN, REPLAY_BIN, Proc,
                     RawServer, Reply, check, check_eq, free_port, get, read_head, request, run,
                     token_add, wait_until)
from hw_tls import TlsRelay, self_signed

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def runp(env, argv, extra_env=None, timeout=15):
    penv = {k: v for k, v in os.environ.items()
            if k not in ("HOOKWIRE_TOKEN", "HOOKWIRE_RELAY", "NO_COLOR")}
    penv.update(extra_env or {})
    return subprocess.run(argv, cwd=env.dir, env=penv, capture_output=True, text=True,
                          timeout=timeout)


def expect(r, status, line, what):
    """Exit status and stderr exactly one line, equal to line (a str) or matching it (a regex)."""
    check_eq(r.returncode, status, what + ": exit status (stderr %r)" % r.stderr)
    lines = r.stderr.splitlines()
    check_eq(len(lines), 1, what + ": one line on stderr (%r)" % r.stderr)
    if isinstance(line, str):
        check_eq(lines[0], line, what + ": the message")
    else:
        check(line.fullmatch(lines[0]), what + ": the message matches " + line.pattern, lines[0])
    check_eq(r.stdout, "", what + ": nothing on stdout")


def write(env, name, text):
    path = env.path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def relay_argv(env, *args):
    return [RELAY_BIN, "--store", "sqlite:" + env.path("relay.db")] + list(args)


def case_relay_startup_messages(env):
    token_add(env, env.path("relay.db"), "alice")  # the store exists: no schema line below
    a, b = free_port(), free_port()
    missing = env.path("nope.ini")
    key, cert = self_signed(env, "a")
    other_key, _ = self_signed(env, "b")
    junk = write(env, "junk.pem", "not PEM at all\n")
    table = [
        (["--listen", "18092"], 2,
         "--listen 18092: give an address with the port: --listen 127.0.0.1:18092 (this machine "
         "only) or --listen 0.0.0.0:18092 (every interface)"),
        (["--listen", "127.0.0.1"], 2, "--listen 127.0.0.1: add the port, e.g. 127.0.0.1:8080"),
        (["--listen", "127.0.0.1:abc"], 2,
         "--listen 127.0.0.1:abc: the port must be a number from 1 to 65535 (HOST:PORT)"),
        (["--tunnel-listen", "8081"], 2,
         "--tunnel-listen 8081: give an address with the port: --tunnel-listen 127.0.0.1:8081 "
         "(this machine only) or --tunnel-listen 0.0.0.0:8081 (every interface)"),
        (["--listen", "127.0.0.1:%d" % a, "--tunnel-listen", "127.0.0.1:%d" % a], 2,
         "--listen 127.0.0.1:%d and --tunnel-listen 127.0.0.1:%d use the same port: give the "
         "agents' tunnel a port of its own" % (a, a)),
        (["--config", missing], 2, "cannot read %s: No such file or directory" % missing),
        (["--listen", "0.0.0.0:%d" % a, "--tunnel-listen", "127.0.0.1:%d" % b], 2,
         "--listen 0.0.0.0:%d takes webhooks on every interface, but without --public-url their "
         "URLs would say localhost: set --public-url to the address senders use (e.g. "
         "--public-url https://hooks.example.com), or --listen 127.0.0.1:%d for local use" % (a, a)),
        (["--listen", "127.0.0.1:%d" % a, "--tunnel-listen", "127.0.0.1:%d" % b, "--public-url",
          "hooks.example.com"], 2,
         "--public-url hooks.example.com: expected the URL senders reach, http(s)://HOST[:PORT], "
         "e.g. https://hooks.example.com"),
        (["--listen", "127.0.0.1:%d" % a, "--tunnel-listen", "127.0.0.1:%d" % b, "--public-url",
          "ftp://x"], 2,
         "--public-url ftp://x: expected the URL senders reach, http(s)://HOST[:PORT], e.g. "
         "https://hooks.example.com"),
        (["--listen", "127.0.0.1:%d" % a, "--tunnel-listen", "127.0.0.1:%d" % b, "--log-format",
          "yaml"], 2, "--log-format yaml: expected text or json"),
        (["--no-such-option"], 2, "unknown option --no-such-option (see --help)"),
        # A bad value is named before how the values go together (--listen's default here).
        (["--offline", "maybe"], 2, "--offline: \"queue\" or \"reject\""),
        (["--log-level", "chatty"], 2, "--log-level chatty: expected error, warn, info or debug"),
        (["--listen", "127.0.0.1:%d" % a, "--tunnel-listen", "127.0.0.1:%d" % b,
          "--max-connections", "0"], 2,
         "--max-connections and --max-tunnel-connections must be positive"),
        (["--listen", "127.0.0.1:%d" % a, "--tunnel-listen", "127.0.0.1:%d" % b,
          "--max-tunnel-connections", "0"], 2,
         "--max-connections and --max-tunnel-connections must be positive"),
        (["--listen", "127.0.0.1:%d" % a, "--tunnel-listen", "127.0.0.1:%d" % b,
          "--max-held", "0"], 2, "--max-held must be positive"),
        # TLS files: which one, and what is wrong with it, before anything starts.
        (["--tls-cert", cert, "--tls-key", env.path("gone.key")], 2,
         "--tls-key %s: No such file or directory" % env.path("gone.key")),
        (["--tls-cert", env.path("gone.pem"), "--tls-key", key], 2,
         "--tls-cert %s: No such file or directory" % env.path("gone.pem")),
        (["--tls-cert", junk, "--tls-key", key], 2,
         "--tls-cert %s: no PEM certificate in it (no start line)" % junk),
        (["--tls-cert", cert, "--tls-key", junk], 2,
         "--tls-key %s: no PEM private key in it, or one with a passphrase" % junk),
        (["--tls-cert", cert, "--tls-key", other_key], 2,
         "--tls-key %s is not the key of the certificate in --tls-cert %s (the server's own "
         "certificate comes first in that file, its chain after it)" % (other_key, cert)),
        (["--tls-cert", env.dir, "--tls-key", key], 2, "--tls-cert %s: is a directory" % env.dir),
    ]
    for args, status, line in table:
        expect(runp(env, relay_argv(env, *args)), status, line, "relay " + " ".join(args))


def case_port_in_use(env):
    token_add(env, env.path("relay.db"), "alice")
    relay = env.relay(store=env.path("relay.db"))
    other = free_port()
    for args, addr, option in [
            (["--listen", "127.0.0.1:%d" % relay.port, "--tunnel-listen", "127.0.0.1:%d" % other],
             "127.0.0.1:%d" % relay.port, "--listen"),
            (["--listen", "127.0.0.1:%d" % other, "--tunnel-listen",
              "127.0.0.1:%d" % relay.tunnel_port], "127.0.0.1:%d" % relay.tunnel_port,
             "--tunnel-listen")]:
        expect(runp(env, relay_argv(env, *args)), 1,
               "%s is already in use: stop the program that holds it, or give %s another port" %
               (addr, option), "relay on a port in use (%s)" % option)
    # The receiver says it the same way.
    conf = write(env, "receiver.ini", "[receiver]\nlisten = 127.0.0.1:%d\nstore = sqlite:%s\n"
                 "signing-secret = env:TEST_SIGNING_SECRET\n\n[source demo]\nprovider = github"
                 "\nsecret = s3cret\ndeliver-to = http://127.0.0.1:9/\n" %
                 (relay.port, env.path("recv.db")))
    r = runp(env, [RECEIVER_BIN, "--config", conf],
             {"TEST_SIGNING_SECRET": "whsec_" + "dGVzdA" * 8})
    check_eq(r.returncode != 0, True, "the receiver does not start on a port in use")
    check("127.0.0.1:%d is already in use: stop the program that holds it, or give --listen "
          "another port" % relay.port in r.stderr, "the receiver names the port in use", r.stderr)
    check("ERROR on binding" not in r.stderr and "ERROR on binding" not in r.stdout,
          "lws's own binding message does not reach the user", r.stderr)


def case_config_file_rules(env):
    store = env.path("relay.db")
    token_add(env, store, "alice")
    a, b, c = free_port(), free_port(), free_port()
    # A quoted value is the value without its quotes.
    quoted = write(env, "quoted.ini", '[relay]\nlisten = "127.0.0.1:%d"\ntunnel-listen = '
                   "'127.0.0.1:%d'\n" % (a, b))
    p = Proc(env, "quoted", relay_argv(env, "--config", quoted))
    wait_until(lambda: p.check_alive("runs with quoted values") or
               _answers(a) and _answers(b), 10, "the relay listens on the quoted addresses")
    p.stop()
    # The command line wins over the config file, before or after it.
    for order in ("before", "after"):
        args = ["--listen", "127.0.0.1:%d" % c]
        argv = (relay_argv(env, *args, "--config", quoted) if order == "before"
                else relay_argv(env, "--config", quoted, *args))
        p = Proc(env, "order-" + order, argv)
        wait_until(lambda: p.check_alive("runs") or (_answers(c) and _answers(b)), 10,
                   "--listen given %s --config wins over the file" % order)
        check(not _answers(a), "the file's listen is not used (--listen %s --config)" % order)
        p.stop()
    # The agent's config file: the token does not go there, and it says where it goes.
    agent_ini = write(env, "agent.ini", "[agent]\nrelay = ws://127.0.0.1:1\ntoken = hwt_x\n")
    expect(runp(env, [AGENT_BIN, "--config", agent_ini]), 2,
           "%s:3: the token does not go on the command line or in a config file: put it in a "
           "file of its own and set token-file = PATH (or set HOOKWIRE_TOKEN)" % agent_ini,
           "token = in an agent config")
    expect(runp(env, [AGENT_BIN, "--token", "hwt_x", "--relay", "ws://127.0.0.1:1"]), 2,
           "--token: the token does not go on the command line or in a config file: put it in a "
           "file of its own and set token-file = PATH (or set HOOKWIRE_TOKEN)", "agent --token")
    missing = env.path("missing.ini")
    expect(runp(env, [AGENT_BIN, "--config", missing]), 2,
           "cannot read %s: No such file or directory" % missing, "agent --config missing")


def _answers(port):
    try:
        return get(port, "/healthz").status == 200
    except (OSError, EOFError):
        return False


def case_help_and_version(env):
    for binary in (RELAY_BIN, AGENT_BIN, RECEIVER_BIN, REPLAY_BIN):
        name = os.path.basename(binary)
        r = runp(env, [binary, "-h"])
        check_eq(r.returncode, 0, name + " -h exits 0")
        check(r.stdout.startswith("usage: " + name), name + " -h prints usage", r.stdout[:100])
        r = runp(env, [binary, "--version"])
        check_eq(r.returncode, 0, name + " --version exits 0")
        check(re.fullmatch(name + r" \d+\.\d+\.\d+ \(libwebsockets \d+\.\d+\.\d+, OpenSSL "
                           r"\d+\.\d+\.\d+\S*, libsodium \d+\.\d+\.\d+, (SQLite \d+\.\d+\.\d+, "
                           r"MariaDB client \d+\.\d+\.\d+|no SQLite: the agent keeps no store)"
                           r"\)\n", r.stdout), name + " --version names the libraries", r.stdout)
        check_eq(r.stderr, "", name + " --version: nothing on stderr")
    r = runp(env, [AGENT_BIN, "--version"])
    check("no SQLite" in r.stdout, "the agent says it links no SQLite", r.stdout)
    for opt in ("--forward-insecure", "--help, -h", "--version"):
        check(opt in runp(env, [AGENT_BIN, "--help"]).stdout, "agent --help lists " + opt)
    # A command's --help is help, with or without a relay and a token set.
    bare = {"HOOKWIRE_RELAY": "", "HOOKWIRE_TOKEN": ""}
    for args in (["events", "--help"], ["show", "--help"], ["replay", "-h"],
                 ["show", "evt_x", "--help"]):
        r = runp(env, [AGENT_BIN] + args, bare)
        check_eq(r.returncode, 0, "agent %s exits 0 (%r)" % (" ".join(args), r.stderr))
        check("events [--limit N]" in r.stdout, "agent %s prints the commands" % " ".join(args),
              r.stdout[:200])


def case_agent_connection_failures(env):
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    tok = {"HOOKWIRE_TOKEN": token}

    def agent_error(relay_url, message, what, extra=tok):
        r = runp(env, [AGENT_BIN, "--relay", relay_url, "3000"], extra)
        check_eq(r.returncode, 1, what + ": exit status 1 (%r)" % r.stderr)
        errors = [l for l in r.stderr.splitlines() if " ERROR " in l]
        check_eq(len(errors), 1, what + ": one ERROR line (%r)" % r.stderr)
        check_eq(re.sub("^" + TS + " ERROR agent: ", "", errors[0]), message, what)
        check(not re.search(r"lws_|SSL err|error:0", r.stderr), what + ": no lws/OpenSSL text",
              r.stderr)

    pub = "ws://127.0.0.1:%d" % relay.port
    agent_error(pub, "cannot connect to %s: that is the relay's webhook port, not its tunnel "
                "port: point --relay at the relay's --tunnel-listen port (8081 by default)" % pub,
                "agent at the webhook port")
    tls = "wss://127.0.0.1:%d" % relay.tunnel_port
    agent_error(tls, "cannot connect to %s: this port answers without TLS: use "
                "ws://127.0.0.1:%d" % (tls, relay.tunnel_port), "wss:// to a plain port")
    https = "https://127.0.0.1:%d" % relay.tunnel_port
    agent_error(https, "cannot connect to %s: this port answers without TLS: use "
                "ws://127.0.0.1:%d" % (tls, relay.tunnel_port), "https:// read as wss://")
    agent_error(relay.ws_url, "the relay refused the token (401): check HOOKWIRE_TOKEN or "
                "--token-file (the token `hookwire-relay token add CHANNEL` printed)",
                "a refused token", {"HOOKWIRE_TOKEN": "hwt_not-a-token"})
    r = runp(env, [AGENT_BIN, "--relay", "ws://nosuchhost.invalid:8081", "3000"], tok)
    expect(r, 1, re.compile(r"--relay ws://nosuchhost\.invalid:8081: cannot resolve "
                            r"nosuchhost\.invalid: .+: check the host name"), "an unknown host")
    expect(runp(env, [AGENT_BIN, "--relay", relay.ws_url, "--log-level", "loud"], tok), 2,
           "--log-level loud: expected error, warn, info or debug", "agent --log-level loud")
    expect(runp(env, [AGENT_BIN, "--relay", "127.0.0.1:8081", "3000"], tok), 2,
           "--relay 127.0.0.1:8081: give the scheme: ws://127.0.0.1:8081 (or "
           "wss://127.0.0.1:8081 when the relay has TLS)", "--relay without a scheme")
    # Nothing listening: a warning per attempt, each one line, and the agent keeps trying.
    dead = free_port()
    p = Proc(env, "refused", [AGENT_BIN, "--relay", "ws://127.0.0.1:%d" % dead, "3000"], tok)
    want = re.compile(TS + r" WARN  agent: cannot connect to ws://127\.0\.0\.1:%d: nothing "
                      r"answers at 127\.0\.0\.1:%d \(connection refused or unreachable\): is the "
                      r"relay running, and is %d its --tunnel-listen port\?; retrying in "
                      r"\d+\.\dms" % (dead, dead, dead))
    wait_until(lambda: sum(1 for l in p.stderr().splitlines() if want.fullmatch(l)) >= 2, 10,
               "two refused attempts, each said in one line")
    p.stop()


def case_agent_plain_to_tls(env):
    key, cert = self_signed(env, "localhost")
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = TlsRelay(env, store, key, cert)
    tunnel = relay.tunnel_port
    url = "ws://127.0.0.1:%d" % tunnel
    r = runp(env, [AGENT_BIN, "--relay", url, "3000"], {"HOOKWIRE_TOKEN": token})
    check_eq(r.returncode, 1, "ws:// to a TLS port: exit status 1 (%r)" % r.stderr)
    errors = [l for l in r.stderr.splitlines() if " ERROR " in l]
    check_eq(len(errors), 1, "ws:// to a TLS port: one ERROR line (%r)" % r.stderr)
    check_eq(re.sub("^" + TS + " ERROR agent: ", "", errors[0]),
             "cannot connect to %s: the relay closed the connection unanswered twice: this port "
             "speaks TLS: use wss://127.0.0.1:%d" % (url, tunnel), "ws:// to a TLS port")
    check("refused on the tunnel port: not TLS, and the port speaks TLS (closed)"
          in relay.proc.stderr(), "the relay logs each plain connection it closed")


def case_targets(env):
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    target = env.target()
    tok = {"HOOKWIRE_TOKEN": token}
    forms = [
        ([str(target.port)], "http://localhost:%d" % target.port, "/x"),
        (["--forward", ":%d" % target.port], "http://localhost:%d" % target.port, "/x"),
        (["--forward", "localhost:%d" % target.port], "http://localhost:%d" % target.port, "/x"),
        (["--forward", "http://localhost:%d/api/" % target.port],
         "http://localhost:%d/api" % target.port, "/api/x"),
        (["--relay-as-http", str(target.port)], "http://localhost:%d" % target.port, "/x"),
    ]
    seen = 0
    for args, shown, path in forms:
        relay_url = relay.ws_url
        if args[0] == "--relay-as-http":  # --relay http://HOST:PORT is read as ws://
            args, relay_url = args[1:], "http://127.0.0.1:%d" % relay.tunnel_port
        p = Proc(env, "target-%d" % seen, [AGENT_BIN, "--relay", relay_url] + args, tok)
        wait_until(lambda: p.check_alive("forwards") or "Forwarding" in p.stdout(), 10,
                   "agent %s is up" % args)
        check_eq(p.stdout(), "Forwarding http://127.0.0.1:%d/t/alice/ -> %s\n" % (relay.port,
                                                                                 shown),
                 "agent %s shows its target" % args)
        wait_until(lambda: relay.channel_connected("alice"), 10, "channel connected")
        r = relay.webhook("POST", "/t/alice/x", [("Host", "h")], b"hi")
        check_eq(r.status, 200, "a webhook through agent %s" % args)
        seen += 1
        check_eq(target.wait_requests(seen)[-1].target, path, "agent %s forwards to %s" %
                 (args, path))
        p.stop()
        wait_until(lambda: not relay.channel_connected("alice"), 10, "channel free again")
    # IPv6 is shown in brackets (the Forwarding line does not need the app to be up).
    p = Proc(env, "ipv6", [AGENT_BIN, "--relay", relay.ws_url, "--forward", "[::1]:9"], tok)
    wait_until(lambda: p.check_alive("runs") or "Forwarding" in p.stdout(), 10, "ipv6 agent up")
    check_eq(p.stdout(), "Forwarding http://127.0.0.1:%d/t/alice/ -> http://[::1]:9\n" %
             relay.port, "an IPv6 target is shown as [::1]:9")
    p.stop()
    bad = [
        (["--forward", "localhost"], 2,
         "--forward localhost: expected a port (3000), HOST:PORT (localhost:3000) or "
         "http(s)://HOST:PORT/PREFIX"),
        (["--forward", "ftp://x"], 2,
         "--forward ftp://x: expected a port (3000), HOST:PORT (localhost:3000) or "
         "http(s)://HOST:PORT/PREFIX"),
        (["3000", "4000"], 2,
         "unexpected argument \"4000\": give the target once, after the options (see --help)"),
    ]
    for args, status, line in bad:
        expect(runp(env, [AGENT_BIN, "--relay", relay.ws_url] + args, tok), status, line,
               "agent " + " ".join(args))
    # An https:// target (with the config file's forward-insecure) is shown as written;
    # tests/e2e/30-forward-https.py forwards to one.
    conf = write(env, "a.ini", "[agent]\nforward-insecure = true\nforward = http://x:1\n")
    p = Proc(env, "https-target", [AGENT_BIN, "--relay", relay.ws_url, "--config", conf,
                                   "--forward", "https://localhost:8443"], tok)
    wait_until(lambda: p.check_alive("runs") or "Forwarding" in p.stdout(), 10, "https agent up")
    check_eq(p.stdout(), "Forwarding http://127.0.0.1:%d/t/alice/ -> https://localhost:8443\n" %
             relay.port, "an https:// target is taken, the command line's over the file's")
    p.stop()

def case_logs(env):
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store, args=["--response-timeout", "300ms"])
    release = threading.Event()

    def app(req):
        if req.target == "/slow":
            release.wait(5)
        return Reply(200, "OK", [], b"ok")
    target = env.target(app)
    tok = {"HOOKWIRE_TOKEN": token}
    p = Proc(env, "text", [AGENT_BIN, "--relay", relay.ws_url, str(target.port)], tok)
    wait_until(lambda: p.check_alive("runs") or relay.channel_connected("alice"), 10, "up")
    check_eq(relay.webhook("POST", "/t/alice/fast", [("Host", "h")], b"x").status, 200, "fast")
    check_eq(relay.webhook("POST", "/t/alice/slow", [("Host", "h")], b"x").status, 504,
             "slow: the relay's timeout")
    release.set()
    fast = re.compile(TS + r" INFO  agent: POST /fast 200 \d+\.\dms evt=evt_[0-9a-z]{26}")
    slow = re.compile(TS + r" INFO  agent: POST /slow failed: timeout: the app did not answer "
                      r"within the relay's --response-timeout \d+\.\d(ms|s) evt=evt_[0-9a-z]{26}")
    wait_until(lambda: any(slow.fullmatch(l) for l in p.stderr().splitlines()), 10,
               "the timeout is logged as a timeout")
    check(any(fast.fullmatch(l) for l in p.stderr().splitlines()),
          "a duration is written as 3.5ms", p.stderr())
    # Ctrl-C: a clean exit, no warning.
    p.signal(signal.SIGINT)
    check_eq(p.wait_exit(10), 0, "the agent exits 0 on Ctrl-C")
    p.expected_dead = True
    check(" WARN " not in p.stderr() and " ERROR " not in p.stderr(),
          "no WARN or ERROR for a deliberate Ctrl-C", p.stderr())
    wait_until(lambda: not relay.channel_connected("alice"), 10, "channel free again")
    # JSON: the request's parts are fields.
    p = Proc(env, "json", [AGENT_BIN, "--relay", relay.ws_url, "--log-format", "json",
                           str(target.port)], tok)
    wait_until(lambda: p.check_alive("runs") or relay.channel_connected("alice"), 10, "up")
    r = relay.webhook("POST", "/t/alice/hook?a=1", [("Host", "h")], b"x")
    check_eq(r.status, 200, "a webhook with JSON logs")

    def logged():
        for l in p.stderr().splitlines():
            o = json.loads(l)
            if o["msg"].startswith("POST /hook"):
                return o
        return None
    wait_until(logged, 10, "the JSON line of the webhook")
    o = logged()
    check_eq((o["method"], o["path"], o["status"], o["level"]), ("POST", "/hook?a=1", 200, "INFO"),
             "method, path and status are fields")
    check(isinstance(o["duration_ms"], float) and o["duration_ms"] >= 0, "duration_ms", o)
    # Ctrl-C on the relay, with an agent connected: a clean exit, no warning either side.
    before = len(relay.proc.stderr())
    relay.proc.signal(signal.SIGINT)
    check_eq(relay.proc.wait_exit(10), 0, "the relay exits 0 on Ctrl-C")
    relay.proc.expected_dead = True
    tail = relay.proc.stderr()[before:]
    check(" WARN " not in tail and " ERROR " not in tail, "no WARN from the relay for Ctrl-C",
          tail)
    check(re.fullmatch(r"evt_[0-9a-z]{26}", o["event_id"]) and o["event_id"] in o["msg"],
          "event_id is a field", o)
    p.stop()


def _pty_stderr(env, argv, extra, want):
    """Runs argv with stderr on a terminal until want is seen; returns what it wrote there."""
    master, slave = pty.openpty()
    penv = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "HOOKWIRE_TOKEN")}
    penv.update(extra)
    penv.setdefault("TERM", "xterm")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
                         cwd=env.dir, env=penv)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 10
    try:
        while want not in out and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(10)
        os.close(master)
    check(want in out, "%s writes %r to the terminal" % (argv[0], want), out)
    return out


def case_colour(env):
    argv = [AGENT_BIN, "--relay", "ws://127.0.0.1:%d" % free_port(), "3000"]
    out = _pty_stderr(env, argv, {"HOOKWIRE_TOKEN": "hwt_x"}, b"retrying")
    check(b"\x1b[33mWARN \x1b[0m agent: cannot connect" in out, "WARN is yellow on a terminal",
          out)
    out = _pty_stderr(env, argv, {"HOOKWIRE_TOKEN": "hwt_x", "NO_COLOR": "1"}, b"retrying")
    check(b"\x1b[" not in out, "NO_COLOR: no escape sequences", out)
    p = Proc(env, "piped", argv, {"HOOKWIRE_TOKEN": "hwt_x"})
    wait_until(lambda: "retrying" in p.stderr(), 10, "a warning to a file")
    p.stop()
    check("\x1b[" not in p.stderr(), "no colour when stderr is not a terminal", p.stderr())


def case_store_password_hidden(env):
    """A MySQL store that cannot be opened is named without its password, by the relay and
    by its token commands (the line goes to the journal under systemd)."""
    url = "mysql://hookwire:S3cretPw@127.0.0.1:%d/x?timeout=1" % free_port()
    shown = "mysql://hookwire:***@127.0.0.1:"
    r = runp(env, [RELAY_BIN, "--store", url, "--listen", "127.0.0.1:%d" % free_port(),
                   "--tunnel-listen", "127.0.0.1:%d" % free_port()])
    check(r.returncode != 0 and "S3cretPw" not in r.stderr + r.stdout and
          "--store %s" % shown in r.stderr, "the relay hides the password", r.stderr)
    for verb in (["token", "list"], ["token", "add", "alice"]):
        r = runp(env, [RELAY_BIN, "--store", url] + verb)
        check(r.returncode != 0 and "S3cretPw" not in r.stderr + r.stdout and
              "cannot open store %s" % shown in r.stderr, " ".join(verb) + " hides it", r.stderr)
    # A password with an unescaped '@' (the last '@' ends it), and a URL that does not parse.
    for bad, name in (("mysql://u2:S3c@retPw@127.0.0.1:%d/x?timeout=1" % free_port(),
                       "mysql://u2:***@127.0.0.1:"),
                      ("mysql:/hookwire:S3cretPw@127.0.0.1/x", "mysql:***@127.0.0.1/x")):
        r = runp(env, [RELAY_BIN, "--store", bad, "token", "list"])
        check(r.returncode != 0 and "S3c" not in r.stderr + r.stdout and "retPw" not in r.stderr
              and name in r.stderr, "the password is hidden in " + name, r.stderr)


def case_tokens(env):
    store = env.path("relay.db")
    r = runp(env, [RELAY_BIN, "token", "--help"])
    check_eq((r.returncode, r.stderr), (0, ""), "token --help: exit 0, nothing on stderr")
    check("token add CHANNEL | token list | token revoke CHANNEL" in r.stdout,
          "token --help: the usage on stdout", r.stdout)
    expect(runp(env, [RELAY_BIN, "--store", "bogus:x", "token", "list"]), 2,
           "--store bogus:x: expected sqlite:PATH or mysql://USER@HOST[:PORT]/DB",
           "token list on a store URL of no kind")
    relay = env.relay(store=store)
    args = ["--store", "sqlite:" + store, "--listen", "127.0.0.1:%d" % relay.port,
            "--tunnel-listen", "127.0.0.1:%d" % relay.tunnel_port]
    r = runp(env, [RELAY_BIN] + args + ["--public-url", "https://hooks.example.com", "token",
                                        "add", "alice"])
    check_eq(r.returncode, 0, "token add exits 0")
    check(re.fullmatch(r"hwt_[A-Za-z0-9_-]{43}\n", r.stdout), "stdout is the token alone",
          r.stdout)
    token = r.stdout.strip()
    check_eq(r.stderr, "webhook URL: https://hooks.example.com/t/alice/\n"
             "agent:       HOOKWIRE_TOKEN=%s hookwire-agent --relay "
             "wss://hooks.example.com/tunnel 3000\n" % token, "token add's hints (behind a proxy)")
    r = runp(env, [RELAY_BIN] + args + ["token", "add", "bob"])
    bob = r.stdout.strip()
    check_eq(r.stderr, "webhook URL: http://127.0.0.1:%d/t/bob/\nagent:       HOOKWIRE_TOKEN=%s "
             "hookwire-agent --relay ws://127.0.0.1:%d 3000\n" % (relay.port, bob,
                                                                 relay.tunnel_port),
             "token add's hints (no proxy)")
    # --help after a command is the usage, never a channel named "--help".
    for cmd in (["add", "--help"], ["revoke", "--help"], ["list", "--help"], ["add", "-h"],
                ["revoke", "alice", "-h"]):
        r = runp(env, [RELAY_BIN] + args + ["token"] + cmd)
        what = "token " + " ".join(cmd)
        check_eq((r.returncode, r.stderr), (0, ""), what + ": exit 0, nothing on stderr")
        check("token add CHANNEL | token list | token revoke CHANNEL" in r.stdout,
              what + ": the usage on stdout", r.stdout)
    # A channel without a token is named, whether it never had one or lost it.
    expect(runp(env, [RELAY_BIN] + args + ["token", "revoke", "carol"]), 1,
           "channel carol has no token", "token revoke of a channel that never had one")
    for verb, opt in (("add", "--force"), ("revoke", "-x"), ("list", "--all")):
        expect(runp(env, [RELAY_BIN] + args + ["token", verb, opt]), 2,
               "token %s: unknown option %s (see hookwire-relay token --help)" % (verb, opt),
               "token %s %s" % (verb, opt))
    target = env.target()
    agent = env.agent(relay, token, "alice", target.port)
    r = runp(env, [RELAY_BIN] + args + ["token", "list"])
    check_eq(r.returncode, 0, "token list exits 0")
    rows = {l.split("\t")[0]: l.split("\t") for l in r.stdout.splitlines()}
    check(re.fullmatch(r"connected from 127\.0\.0\.1:\d+ since " + r"\d{4}-\d\d-\d\dT\d\d:\d\d:"
                       r"\d\dZ", rows["alice"][2]), "alice's agent is connected", rows)
    check_eq(rows["bob"][2], "not connected", "bob has no agent")
    check_eq(sorted(rows), ["alice", "bob"], "no channel was added or revoked by --help or "
             "an option")
    agent.stop()
    other = free_port()
    r = runp(env, [RELAY_BIN, "--store", "sqlite:" + store, "--tunnel-listen",
                   "127.0.0.1:%d" % other, "token", "list"])
    check_eq(r.stdout.splitlines()[0].split("\t")[2],
             "unknown: no relay answers at 127.0.0.1:%d (is it running, with this "
             "--tunnel-listen?)" % other, "without the relay the state is unknown, and says why")
    # /agents is for this machine only: through a proxy (a forwarding header) it is not there.
    r = request(relay.tunnel_port, "GET", "/agents",
                [("Host", "x"), ("X-Forwarded-For", "203.0.113.9")])
    check_eq(r.status, 404, "/agents through a proxy is not found")


def case_listen_names(env):
    """A listen address's host is resolved before the program listens: localhost serves on
    127.0.0.1 (lws takes a name for a network interface and would never listen, while the
    program logged that it did), for the relay's two ports, the receiver and the agent's
    inspector. A name that does not resolve, an address that is not this machine's and an
    IPv6 address stop the relay and the receiver with one line."""
    token = token_add(env, env.path("relay.db"), "alice")
    web, tun = free_port(), free_port()
    relay = Proc(env, "relay-localhost", relay_argv(env, "--listen", "localhost:%d" % web,
                                                    "--tunnel-listen", "localhost:%d" % tun))
    for port in (web, tun):
        wait_until(lambda: get(port, "/healthz").status == 200, 10,
                   "the relay answers on 127.0.0.1:%d, given localhost" % port)
    app = env.target()
    ins = free_port()
    with open(env.path("token"), "w") as f:
        f.write(token + "\n")
    agent = Proc(env, "agent-localhost", [AGENT_BIN, "--relay", "ws://127.0.0.1:%d" % tun,
                                          "--token-file", env.path("token"), "--forward",
                                          str(app.port), "--inspect", "localhost:%d" % ins])
    wait_until(lambda: get(ins, "/").status == 200, 10, "the inspector answers, given localhost")
    agent.stop()
    relay.stop()

    a, b = free_port(), free_port()
    for listen, line in [
            ("nosuch.invalid:%d" % a,
             re.compile(r"--listen nosuch\.invalid:%d: cannot resolve nosuch\.invalid: .+" % a)),
            ("192.0.2.1:%d" % a,
             "192.0.2.1:%d: 192.0.2.1 is not an address of this machine: use 127.0.0.1, 0.0.0.0 "
             "or one of its addresses in --listen" % a),
            ("[::1]:%d" % a,
             "--listen [::1]:%d: IPv6 addresses are not supported: give an IPv4 address" % a)]:
        expect(runp(env, relay_argv(env, "--listen", listen, "--tunnel-listen",
                                    "127.0.0.1:%d" % b)), 1, line, "relay --listen " + listen)
    expect(runp(env, relay_argv(env, "--listen", "127.0.0.1:%d" % a, "--tunnel-listen",
                                "nosuch.invalid:%d" % b)), 1,
           re.compile(r"--tunnel-listen nosuch\.invalid:%d: cannot resolve nosuch\.invalid: .+" % b),
           "relay --tunnel-listen nosuch.invalid")

    secret = {"TEST_SIGNING_SECRET": "whsec_" + "dGVzdA" * 8}
    for host, want in [("localhost", None), ("nosuch.invalid", "cannot resolve nosuch.invalid"),
                       ("192.0.2.1", "192.0.2.1 is not an address of this machine")]:
        port = free_port()
        conf = write(env, "recv-%s.ini" % host, "[receiver]\nlisten = %s:%d\nstore = sqlite:%s\n"
                     "signing-secret = env:TEST_SIGNING_SECRET\n\n[source demo]\nprovider = "
                     "github\nsecret = s3cret\ndeliver-to = http://127.0.0.1:9/\n" %
                     (host, port, env.path("recv.db")))
        if want is None:
            recv = Proc(env, "receiver-localhost", [RECEIVER_BIN, "--config", conf], secret)
            wait_until(lambda: get(port, "/healthz").status == 200, 10,
                       "the receiver answers on 127.0.0.1, given localhost")
            recv.stop()
            continue
        r = runp(env, [RECEIVER_BIN, "--config", conf], secret)
        check_eq(r.returncode, 1, "the receiver on %s does not start (stderr %r)" % (host, r.stderr))
        check(want in r.stderr, "the receiver says why it cannot listen on " + host, r.stderr)


def case_history_answer_framing(env):
    """`hookwire-agent events` reads the relay's answer as its framing says, whatever a proxy
    between does with the connection: a Content-Length answer on a connection left open ends
    at its length, a chunked one is decoded, an interim 100 is skipped; an error's words reach
    the terminal with their control bytes escaped."""
    doc = b'{"events":[],"next_cursor":null}\n'
    answers = {
        "length, kept open": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(doc), doc),
        "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                   % (len(doc), doc),
        "100 first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(doc), doc),
        "error": b"HTTP/1.1 500 Oops\r\nContent-Length: 15\r\n\r\nbad\x1b]0;t\x07 thing\n",
    }
    order = list(answers)

    def serve(conn):
        read_head(conn)
        conn.sendall(answers[order[len(srv.conns) - 1]])
        srv.stop.wait()  # the connection stays open: the answer's framing must end it

    with RawServer(serve) as srv:
        for name in order:
            argv = [AGENT_BIN, "--relay", "ws://127.0.0.1:%d" % srv.port, "events"]
            r = subprocess.run(argv, cwd=env.dir, env=dict(os.environ, HOOKWIRE_TOKEN="hwt_x"),
                               capture_output=True, timeout=20)
            if name == "error":
                check_eq(r.returncode, 1, name + ": exit 1")
                check_eq(r.stderr, b"events: the relay answered 500: bad\\x1b]0;t\\x07 thing\n",
                         name + ": the words, escaped")
                continue
            check_eq(r.returncode, 0, name + ": exit 0 (stderr %r)" % r.stderr)
            check_eq(r.stdout, doc, name + ": the body, whole and alone")


def case_history_call_deadline(env):
    """`hookwire-agent events` gives up on a relay that answers a byte at a time, never
    finishes a TLS handshake, or whose host name the name server never answers for, 30 s after
    it started, and says so in one line."""
    def serve(conn):
        # Plain: a head whose one header grows a byte every 0.3 s (a pace, not a wait), never
        # ending. TLS: silence.
        first = conn.recv(1)
        if first and first != b"\x16":
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while first and first != b"\x16" and not srv.stop.wait(0.3):
            conn.sendall(b"a")
        srv.stop.wait()

    srv = RawServer(serve)
    port = srv.port
    tok = {"HOOKWIRE_TOKEN": "hwt_deadline-test"}
    try:
        procs = {}
        for scheme in ("ws", "wss"):
            argv = [AGENT_BIN, "--relay", "%s://127.0.0.1:%d" % (scheme, port), "events"]
            penv = dict(os.environ, **tok)
            procs[scheme] = subprocess.Popen(argv, cwd=env.dir, env=penv, text=True,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The gate is never opened: the lookup is held for good.
        penv = dict(os.environ, LD_PRELOAD=FAKE_RESOLVER, HW_FAKE_NAME="held.test",
                    HW_FAKE_GATE=env.path("gai-gate"), **tok)
        procs["held"] = subprocess.Popen([AGENT_BIN, "--relay", "ws://held.test:%d" % port,
                                          "events"], cwd=env.dir, env=penv, text=True,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for scheme, p in procs.items():
            try:
                _, err = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                check(False, "%s://: events ends on its own deadline" % scheme)
            what = "events from a %s relay that never finishes its answer" % scheme
            check_eq(p.returncode, 1, what + ": exit status (stderr %r)" % err)
            if scheme == "held":
                check(os.path.exists(env.path("gai-gate.entered")), "the name was looked up")
                check_eq(err.splitlines(), ["events: held.test did not resolve: the name server "
                                            "did not answer within 30 s, or failed: check it and "
                                            "the host name in --relay"], what)
                continue
            check_eq(err.splitlines(), ["events: the relay at 127.0.0.1:%d did not answer within "
                                        "30 s: is --relay its tunnel port?" % port], what)
    finally:
        srv.close()


if __name__ == "__main__":
    run([case_relay_startup_messages, case_port_in_use, case_config_file_rules,
         case_history_call_deadline, case_history_answer_framing,
         case_help_and_version, case_agent_connection_failures, case_agent_plain_to_tls,
         case_targets, case_logs, case_colour, case_tokens, case_store_password_hidden,
         case_listen_names])
