#!/usr/bin/env python3
"""Command lines: --help, unknown options, bad values, and where the agent's
token and relay come from."""

import os
import re
import subprocess

from harness import (AGENT_BIN, RECEIVER_BIN, RELAY_BIN, SOURCE, check, check_eq, run, token_add)

# Options the design documents; the option tables in the sources may add more.
DOCUMENTED = {
    RELAY_BIN: ["listen", "tunnel-listen", "store", "public-url", "max-body", "response-timeout",
                "heartbeat", "max-streams", "log-level", "help"],
    AGENT_BIN: ["relay", "token-file", "forward", "heartbeat", "host-header", "help"],
    RECEIVER_BIN: ["listen", "store", "path-prefix", "public-url", "max-body", "deliver-timeout",
                   "retry-schedule", "signing-secret", "check-config", "help"],
}
TABLES = {RELAY_BIN: "relay/config.c", AGENT_BIN: "agent/config.c",
          RECEIVER_BIN: "receiver/config.c"}


def table_options(binary):
    """Long option names from the program's option table in the source."""
    with open(os.path.join(SOURCE, TABLES[binary])) as f:
        names = re.findall(r'\bOPT\(\s*"([a-z0-9-]+)"', f.read())
    check(len(names) >= 5, "found the option table in " + TABLES[binary], names)
    return names


def runp(env, argv, extra_env=None, timeout=15):
    penv = {k: v for k, v in os.environ.items() if k not in ("HOOKWIRE_TOKEN", "HOOKWIRE_RELAY")}
    penv.update(extra_env or {})
    return subprocess.run(argv, cwd=env.dir, env=penv, capture_output=True, text=True,
                          timeout=timeout)


def check_one_line_error(r, what, mentions=()):
    check(r.returncode != 0, what + ": exits non-zero", r.returncode)
    lines = r.stderr.strip().splitlines()
    check_eq(len(lines), 1, what + ": one line on stderr (%r)" % r.stderr)
    for m in mentions:
        check(m in lines[0], "%s: the error mentions %s" % (what, m), lines[0])
    check_eq(r.stdout, "", what + ": nothing on stdout")
    return lines[0]


def case_help(env):
    for binary in (RELAY_BIN, AGENT_BIN, RECEIVER_BIN):
        name = os.path.basename(binary)
        r = runp(env, [binary, "--help"])
        check_eq(r.returncode, 0, name + " --help exits 0")
        check(r.stdout.startswith("usage: " + name), name + " --help starts with usage",
              r.stdout[:200])
        listed = set(re.findall(r"(?m)^\s+--([a-z0-9-]+)", r.stdout))
        for opt in sorted(set(table_options(binary)) | set(DOCUMENTED[binary])):
            check(opt in listed, "%s --help lists --%s" % (name, opt), sorted(listed))
        check_eq(os.listdir(env.dir), [], name + " --help creates no files")
    r = runp(env, [RELAY_BIN, "--help"])
    for sub in ("token add", "token list", "token revoke"):
        check(sub in r.stdout, "relay --help mentions `%s`" % sub)


def case_unknown_option(env):
    for binary in (RELAY_BIN, AGENT_BIN, RECEIVER_BIN):
        name = os.path.basename(binary)
        r = runp(env, [binary, "--no-such-option"], {"HOOKWIRE_TOKEN": "hwt_x"})
        check_one_line_error(r, name + " --no-such-option", ["--no-such-option"])
    r = runp(env, [RELAY_BIN, "--store", "sqlite:" + env.path("r.db"), "token", "frobnicate"])
    check(r.returncode != 0, "relay token frobnicate fails", r.returncode)
    check(r.stderr.strip(), "relay token frobnicate says why")


def case_bad_values(env):
    cases = [
        ([RELAY_BIN, "--max-body", "lots"], "relay --max-body lots", ["max-body"]),
        ([RELAY_BIN, "--response-timeout", "soon"], "relay --response-timeout soon",
         ["response-timeout"]),
        ([RELAY_BIN, "--max-streams", "-3"], "relay --max-streams -3", ["max-streams"]),
        ([RELAY_BIN, "--listen", "127.0.0.1:18092", "--tunnel-listen", "127.0.0.1:18092"],
         "relay with both listeners on one port", ["same port", "18092"]),
        ([RELAY_BIN, "--listen", "18092"], "relay --listen without a host",
         ["127.0.0.1:18092"]),
        ([RELAY_BIN, "--listen", "127.0.0.1:abc"], "relay --listen with a bad port",
         ["HOST:PORT"]),
        ([AGENT_BIN, "--relay", "127.0.0.1:1"], "agent --relay without a scheme", ["--relay"]),
        ([AGENT_BIN, "--relay", "ws://127.0.0.1:1", "--forward", "ftp://x"],
         "agent --forward ftp://x", ["--forward"]),
        ([AGENT_BIN, "--relay", "ws://127.0.0.1:1", "--host-header", "maybe"],
         "agent --host-header maybe", ["--host-header"]),
    ]
    for argv, what, mentions in cases:
        check_one_line_error(runp(env, argv, {"HOOKWIRE_TOKEN": "hwt_x"}), what, mentions)


def case_agent_without_token(env):
    argv = [AGENT_BIN, "--relay", "ws://127.0.0.1:1", "--forward", "3000"]
    r = runp(env, argv)
    line = check_one_line_error(r, "agent without a token", ["HOOKWIRE_TOKEN", "--token-file"])
    check_eq(r.returncode, 2, "agent without a token exits 2 (%s)" % line)
    r = runp(env, argv, {"HOOKWIRE_TOKEN": ""})
    check_eq(r.returncode, 2, "agent with an empty HOOKWIRE_TOKEN exits 2")
    missing = env.path("no-such-token-file")
    r = runp(env, argv + ["--token-file", missing])
    check_one_line_error(r, "agent with a missing token file", ["no-such-token-file"])
    check_eq(r.returncode, 2, "agent with a missing token file exits 2")
    empty = env.path("empty-token")
    open(empty, "w").close()
    r = runp(env, argv + ["--token-file", empty])
    check_one_line_error(r, "agent with an empty token file")
    check_eq(r.returncode, 2, "agent with an empty token file exits 2")
    r = runp(env, [AGENT_BIN, "--forward", "3000"], {"HOOKWIRE_TOKEN": "hwt_x"})
    check_one_line_error(r, "agent without a relay", ["--relay", "HOOKWIRE_RELAY"])


def case_token_file_and_relay_env(env):
    """The token from --token-file (with a trailing newline), the relay from HOOKWIRE_RELAY."""
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    target = env.target()
    path = env.path("token")
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    agent = env.agent(relay, token, "alice", target.port, token_file=path, relay_env=True)
    check_eq(agent.forwarding_lines(), ["Forwarding http://127.0.0.1:%d/t/alice/ -> "
                                        "http://localhost:%d" % (relay.port, target.port)],
             "the agent prints its public URL and target")
    resp = relay.webhook("POST", "/t/alice/x", [("Host", "h")], b"via token file")
    check_eq(resp.status, 200, "a webhook through an agent configured from file and env")
    check_eq(target.wait_requests(1)[0].body, b"via token file", "body at the target")


if __name__ == "__main__":
    run([case_help, case_unknown_option, case_bad_values, case_agent_without_token,
         case_token_file_and_relay_env])
