"""Webhooks as the providers send them: bodies of each provider's shape, signed by
the providers' own npm libraries (tests/node/sign.js), and hookwire's delivery
signature checked by the standardwebhooks library (tests/node/verify-hookwire.js)."""

import json
import os
import shutil
import subprocess

from harness import SOURCE, check, check_eq

NODE_DIR = os.path.join(SOURCE, "tests", "node")


def node():
    """The node executable, once tests/node's packages are installed."""
    exe = shutil.which("node")
    check(exe is not None, "node is installed (scripts/install-deps)")
    check(os.path.isdir(os.path.join(NODE_DIR, "node_modules", "standardwebhooks")),
          "tests/node/node_modules is installed (scripts/node-deps)")
    return exe


def body_for(provider, n, tag):
    """Webhook body number n: a form for Twilio, JSON with non-ASCII text for the rest."""
    if provider == "twilio":
        return ("From=%%2B1555000%04d&To=%%2B15559876543&Body=Hello+there+%d" % (n, n)).encode()
    return json.dumps({"id": "evt_%s_%d" % (tag, n), "amount": 1234, "note": "caf\u00e9 \u2713"},
                      ensure_ascii=False).encode()


def tamper(provider, body):
    """The body with one signed byte changed."""
    if provider == "twilio":
        return body.replace(b"Hello", b"Jello")
    return body.replace(b"1234", b"1235")


def sign(env, provider, secret, body, url):
    """The provider's signature headers for body (Twilio signs the full URL too)."""
    path = env.path("body-%s.bin" % provider)
    with open(path, "wb") as f:
        f.write(body)
    args = [node(), os.path.join(NODE_DIR, "sign.js"), provider, secret, path]
    if provider == "twilio":
        args.append(url)
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    check_eq((r.returncode, r.stderr), (0, ""), provider + ": sign.js signed the body")
    return [tuple(h) for h in json.loads(r.stdout)["headers"]]


def verify_with_library(env, secret, body, headers):
    """(exit code, output) of the standardwebhooks library checking a delivery's signature."""
    path = env.path("verify.bin")
    with open(path, "wb") as f:
        f.write(body)
    r = subprocess.run([node(), os.path.join(NODE_DIR, "verify-hookwire.js"), secret, path,
                        json.dumps(headers)], capture_output=True, text=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).strip()
