#!/usr/bin/env python3
"""The README's "Using it" block, run as written behind a real Caddy with
examples/Caddyfile. The block is read from README.md; only the host (and with it
https/wss, since Caddy serves plain HTTP on loopback here), the relay's two ports,
the app's port, the token and the event id are replaced. Each line runs in a
shell with the programs on PATH; a line ending in "&" is started in the
background. Then a webhook to the public URL reaches the app at the path the
block's comment promises, `events` lists it, and `replay` delivers it again.
"""

import os
import re
import shlex
import shutil

from harness import (BIN, SOURCE, Proc, Reply, check, check_eq, free_port, get, request, run,
                     wait_until)


def readme_block():
    with open(os.path.join(SOURCE, "README.md")) as f:
        text = f.read()
    m = re.search(r"^## Using it\n.*?^```sh\n(.*?)^```", text, re.M | re.S)
    check(m is not None, "README.md has a Using it section with a sh block")
    return m.group(1)


def caddyfile(env, ports, caddy_port):
    with open(os.path.join(SOURCE, "examples", "Caddyfile")) as f:
        text = f.read()
    text = text.replace("hooks.example.com {", "http://127.0.0.1:%d {" % caddy_port)
    text = text.replace("127.0.0.1:8081", "127.0.0.1:%d" % ports["tunnel"])
    text = text.replace("127.0.0.1:8080", "127.0.0.1:%d" % ports["public"])
    path = env.path("Caddyfile")
    with open(path, "w") as f:
        f.write("{\n\tadmin off\n\tauto_https off\n}\n\n" + text)
    return path


def substitute(line, ports, caddy_port, app_port, values):
    """The block's line with this machine's addresses; nothing else changes."""
    line = line.replace("https://hooks.example.com", "http://127.0.0.1:%d" % caddy_port)
    line = line.replace("wss://hooks.example.com", "ws://127.0.0.1:%d" % caddy_port)
    line = line.replace("127.0.0.1:8080", "127.0.0.1:%d" % ports["public"])
    line = line.replace("127.0.0.1:8081", "127.0.0.1:%d" % ports["tunnel"])
    # The app's port is the agent's target: the word 3000 on a command.
    line = re.sub(r"(?<=\s)3000(?=\s|$)", str(app_port), line)
    line = line.replace("localhost:3000", "localhost:%d" % app_port)
    for placeholder, value in values.items():
        line = line.replace(placeholder, value)
    return line


def case_readme_behind_caddy(env):
    caddy = shutil.which("caddy")
    check(caddy is not None, "caddy is installed (scripts/install-deps installs it)")
    block = readme_block()
    ports = {"public": free_port(), "tunnel": free_port()}
    caddy_port = free_port()
    seen = []

    def app(req):
        seen.append(req)
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"got " + req.body)
    target = env.target(app)
    conf = caddyfile(env, ports, caddy_port)
    Proc(env, "caddy", [caddy, "run", "--config", conf, "--adapter", "caddyfile"],
         {"HOME": env.dir, "XDG_DATA_HOME": env.dir, "XDG_CONFIG_HOME": env.dir})
    shell_env = {"PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    values = {}
    outputs = []
    background = 0
    for raw in block.splitlines():
        command = raw.split("  #")[0].strip()
        promise = re.match(r"^# webhooks to (\S+) now reach (\S+)", command)
        if promise:
            # The block's promise, kept: a webhook to the public URL reaches the app's path.
            public = substitute(promise.group(1), ports, caddy_port, target.port, values)
            local = substitute(promise.group(2), ports, caddy_port, target.port, values)
            m = re.match(r"^http://127\.0\.0\.1:%d(/t/alice/\S+)$" % caddy_port, public)
            check(m is not None, "the promised webhook URL is the Caddy address", public)
            check_eq(local, "http://localhost:%d/github" % target.port, "the promised app URL")
            r = request(caddy_port, "POST", m.group(1), [("Host", "127.0.0.1:%d" % caddy_port),
                                                         ("Content-Type", "application/json")],
                        b'{"n":1}')
            check_eq(r.status, 200, "the webhook through Caddy is answered by the app")
            check_eq(r.body, b'got {"n":1}', "the app's answer comes back")
            check_eq(seen[0].target, "/github", "the app gets the path the README promises")
            continue
        if not command or command.startswith("#"):
            continue
        line = substitute(command, ports, caddy_port, target.port, values)
        check("..." not in line, "every placeholder of the README is known by now: " + line)
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            shell_env[name] = shlex.split(value)[0]
            continue
        if line.endswith("&"):
            background += 1
            proc = Proc(env, "readme-%d" % background, ["bash", "-c", "exec " + line[:-1]],
                        shell_env)
            if "hookwire-relay" in line:
                def relay_up():
                    proc.check_alive("(the README's relay) is running")
                    try:
                        return (get(ports["public"], "/healthz").status == 200 and
                                get(caddy_port, "/t/nobody/x").status == 404)
                    except (OSError, EOFError):
                        return False
                wait_until(relay_up, 15, "the README's relay answers, and Caddy in front of it")
            else:
                wait_until(lambda: proc.check_alive("(the README's agent) is running") or
                           "Forwarding " in proc.stdout(), 15, "the README's agent is forwarding")
                outputs.append(proc)
            continue
        r = Proc(env, "readme-cmd-%d" % len(values), ["bash", "-c", line], shell_env)
        check_eq(r.wait_exit(15), 0, "README line exits 0: " + line)
        r.expected_dead = True
        out = r.stdout()
        if " token add " in line:
            tokens = re.findall(r"^hwt_\S+$", out, re.M)
            check_eq(len(tokens), 1, "token add prints the token on stdout: %r" % out)
            values["hwt_..."] = tokens[0]
            hint = r.stderr()
            check("webhook URL: http://127.0.0.1:%d/t/alice/" % caddy_port in hint,
                  "token add names the webhook URL the README promises", hint)
            check("--relay ws://127.0.0.1:%d/tunnel" % caddy_port in hint,
                  "token add names the agent's --relay as the README gives it", hint)
            continue
        if line.rstrip().endswith(" events"):
            ids = re.findall(r"evt_[0-9a-z]{26}", out)
            check(ids, "events lists the webhook sent through Caddy", out)
            values["evt_..."] = ids[0]
            print("events: %d listed, replaying %s" % (len(ids), ids[0]))
            continue
        if " replay " in line:
            wait_until(lambda: len(seen) == 2, 10, "replay delivers the webhook to the app again")
            check_eq(seen[1].body, b'{"n":1}', "the replayed body is the original")
            continue
    check_eq(len(outputs), 1, "the block starts one agent")
    agent = outputs[0]
    check("Forwarding http://127.0.0.1:%d/t/alice/ -> http://localhost:%d" %
          (caddy_port, target.port) in agent.stdout(),
          "the agent shows the public URL and the app", agent.stdout())


if __name__ == "__main__":
    run([case_readme_behind_caddy])
