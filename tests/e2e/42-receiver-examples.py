#!/usr/bin/env python3
"""The receiver's deployment examples, run by the real tools.

examples/Caddyfile.receiver with a real Caddy: webhooks under /api/webhooks/
reach the receiver's address byte-exact (and nothing else does), the rest of
/api/ reaches the backend on :3000, and every other path is the static site,
with unknown paths falling back to index.html. Recording servers stand on the
receiver's and the backend's ports: this test is about the routing.

examples/hookwire-receiver.service passes systemd-analyze verify without a
warning, and its hardening scores "OK" or better in systemd-analyze security.
"""

import hashlib
import hmac
import os
import re
import shutil
import subprocess

import hw_caddy
from harness import (RECEIVER_BIN, SOURCE, Reply, check, check_eq, free_port, get, request,
                     run)

SECRET = b"caddy-receiver-secret"


def case_caddy_routes_the_platform(env):
    root = env.path("www")
    os.makedirs(os.path.join(root, "assets"))
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>app</title>\n")
    with open(os.path.join(root, "assets", "app.js"), "w") as f:
        f.write("console.log('app');\n")
    receiver = env.target(lambda req: Reply(200, "OK", [("Content-Type", "application/json")],
                                            b'{"id":"evt_stand_in"}'))
    backend = env.target(lambda req: Reply(200, "OK", [("X-Backend", "yes")], b"api"))
    port = free_port()
    hw_caddy.start_receiver_example(env, port, receiver.port, backend.port, root)

    body = os.urandom(256 << 10) + b'{"action":"opened"}\r\n'
    sig = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    resp = request(port, "POST", "/api/webhooks/github/push?x=1",
                   [("Host", "127.0.0.1:%d" % port), ("X-Hub-Signature-256", sig),
                    ("X-GitHub-Event", "push"), ("Content-Type", "application/octet-stream")],
                   body)
    check_eq((resp.status, resp.body), (200, b'{"id":"evt_stand_in"}'),
             "a webhook is answered by the receiver's address")
    req = receiver.wait_requests(1)[-1]
    check_eq(req.target, "/api/webhooks/github/push?x=1", "path and query reach the receiver")
    check_eq(hashlib.sha256(req.body).hexdigest(), hashlib.sha256(body).hexdigest(),
             "the body reaches the receiver byte-exact")
    check_eq(req.header("X-Hub-Signature-256"), sig, "the signature header is intact")
    check_eq(backend.count(), 0, "the backend never saw the webhook")

    resp = request(port, "POST", "/api/users?page=2", [("Host", "127.0.0.1:%d" % port)],
                   b'{"name":"x"}')
    check_eq((resp.status, resp.header("X-Backend")), (200, "yes"), "/api/* goes to the backend")
    check_eq(backend.wait_requests(1)[-1].target, "/api/users?page=2", "with its path")
    check_eq(receiver.count(), 1, "the receiver saw only the webhook")

    for path, want in (("/", b"<!doctype html>"), ("/settings/profile", b"<!doctype html>"),
                       ("/assets/app.js", b"console.log")):
        resp = get(port, path)
        check_eq(resp.status, 200, "GET %s is served" % path)
        check(resp.body.startswith(want), "GET %s: %s" % (path, want), resp.body[:60])
    check_eq((receiver.count(), backend.count()), (1, 1), "the site never reaches either")


def case_systemd_unit(env):
    tool = shutil.which("systemd-analyze")
    check(tool is not None, "systemd-analyze is installed")
    with open(os.path.join(SOURCE, "examples", "hookwire-receiver.service")) as f:
        text = f.read()
    check("/usr/local/bin/hookwire-receiver" in text, "the unit runs the installed binary")
    for key in ("DynamicUser=yes", "StateDirectory=hookwire-receiver", "Restart=on-failure",
                "NoNewPrivileges=yes", "ProtectSystem=strict"):
        check(re.search(r"(?m)^%s$" % re.escape(key), text), "the unit sets " + key)
    unit = env.path("hookwire-receiver.service")
    with open(unit, "w") as f:
        f.write(text.replace("/usr/local/bin/hookwire-receiver", RECEIVER_BIN))
    r = subprocess.run([tool, "verify", unit], capture_output=True, text=True, timeout=60)
    check_eq((r.returncode, r.stderr.strip()), (0, ""), "systemd-analyze verify: no complaint")
    r = subprocess.run([tool, "security", "--offline=yes", unit], capture_output=True, text=True,
                       timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
    check(m is not None, "systemd-analyze security scored the unit", r.stdout[-500:])
    check(float(m.group(1)) <= 2.0, "exposure %s %s is at most 2.0" % (m.group(1), m.group(2)))


if __name__ == "__main__":
    run([case_caddy_routes_the_platform, case_systemd_unit])
