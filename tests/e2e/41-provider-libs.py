#!/usr/bin/env python3
"""The providers' own libraries against hookwire's verifiers and signer.

Webhooks signed by the official npm libraries (@octokit/webhooks-methods,
stripe, svix, standardwebhooks, twilio) and by Slack's and Shopify's
documented schemes (tests/node/sign.js) are verified by the relay's edge
verification ([channel NAME] sections), a real binary running common/sig:
each genuine one reaches the app marked verified with its body byte-exact,
each tampered one is refused 401 HW_SIGNATURE and never reaches the app.

The other way round, a delivery signature made by common/sig's signer
(hw-sign-delivery) is accepted by the official standardwebhooks library
(tests/node/verify-hookwire.js), for a whsec_ and a raw secret, and refused
once the body, the secret or the time is wrong. The Node and Python examples
in docs/receiver.md, run as written, accept it too and refuse a changed body.
"""

import base64
import json
import os
import re
import subprocess
import time

from harness import BIN, SOURCE, check, check_eq, run, token_add
from hw_providers import NODE_DIR, body_for, node, sign, tamper, verify_with_library
from hw_receiver import Receiver

PUBLIC = "http://hooks.test"
SW_SECRET = "whsec_" + base64.b64encode(b"provider-libs-standard-key-01234").decode()

# channel, provider, secret, body maker
CHANNELS = [
    ("gh", "github", "gh-lib-secret"),
    ("st", "stripe", "whsec_stripe_lib_secret"),
    ("sv", "svix", SW_SECRET),
    ("sw", "standard-webhooks", SW_SECRET),
    ("sl", "slack", "slack-lib-signing-secret"),
    ("sh", "shopify", "shopify-lib-api-secret"),
    ("tw", "twilio", "twilio-lib-auth-token"),
]


def write_config(env):
    lines = []
    for channel, provider, secret in CHANNELS:
        secret_file = env.path("%s.secret" % channel)
        with open(secret_file, "w") as f:
            f.write(secret + "\n")
        lines += ["[channel %s]" % channel, "verify = %s" % provider,
                  "secret = file:%s" % secret_file, ""]
    path = env.path("relay.ini")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def case_official_libraries_verify_at_the_edge(env):
    store = env.path("relay.db")
    tokens = {c: token_add(env, store, c) for c, _, _ in CHANNELS}
    relay = env.relay(store=store, args=["--config", write_config(env), "--public-url", PUBLIC])
    targets = {}
    for channel, _, _ in CHANNELS:
        targets[channel] = env.target()
        env.agent(relay, tokens[channel], channel, targets[channel].port)
    for n, (channel, provider, secret) in enumerate(CHANNELS):
        target, path = targets[channel], "/t/%s/hook?src=lib" % channel
        ctype = ("application/x-www-form-urlencoded" if provider == "twilio"
                 else "application/json")
        body = body_for(provider, n, "lib")
        headers = [("Host", "hooks.test"), ("Content-Type", ctype)] + sign(env, provider, secret,
                                                                           body, PUBLIC + path)
        resp = relay.webhook("POST", path, headers, body)
        check_eq(resp.status, 200, provider + ": signed by its library, verified by hookwire")
        req = target.wait_requests(1)[-1]
        check_eq(req.body, body, provider + ": the app got the body byte-exact")
        check_eq(req.header("Hookwire-Verified"), "true", provider + ": marked verified")

        bad = relay.webhook("POST", path, headers, tamper(provider, body))
        check_eq(bad.status, 401, provider + ": a tampered body is refused")
        check_eq(bad.header("Hookwire-Error"), "HW_SIGNATURE", provider + ": its error code")
        # A genuine request after it proves the tampered one never reached the app.
        body2 = body_for(provider, n + 100, "lib")
        headers2 = [("Host", "hooks.test"), ("Content-Type", ctype)] + sign(
            env, provider, secret, body2, PUBLIC + path)
        check_eq(relay.webhook("POST", path, headers2, body2).status, 200,
                 provider + ": the next genuine one passes")
        reqs = target.wait_requests(2)
        check_eq([r.body for r in reqs], [body, body2],
                 provider + ": the app saw the two genuine ones only")
    check("signature failed: no_match" in relay.proc.stderr() or
          "signature failed: body_hash_mismatch" in relay.proc.stderr(),
          "the relay logged why")


def case_receiver_public_url_with_trailing_slash(env):
    """[receiver] public-url = http://hooks.test/ names the same URL Twilio signed."""
    secret = "twilio-lib-auth-token"
    secret_file = env.path("tw.secret")
    with open(secret_file, "w") as f:
        f.write(secret + "\n")
    backend = env.target()
    receiver = Receiver(env, "sqlite:" + env.path("receiver.db"), {
        "tw": [("provider", "twilio"), ("secret", "file:" + secret_file),
               ("deliver-to", "http://127.0.0.1:%d/hook" % backend.port)]},
        options={"public-url": PUBLIC + "/"}).start()
    path = "/api/webhooks/tw"
    ctype = [("Host", "hooks.test"), ("Content-Type", "application/x-www-form-urlencoded")]
    body = body_for("twilio", 1, "recv")
    resp = receiver.post("tw", body, ctype + sign(env, "twilio", secret, body, PUBLIC + path))
    check_eq(resp.status, 200, "twilio: signed for %s%s, accepted with public-url %s/" %
             (PUBLIC, path, PUBLIC))
    check_eq(backend.wait_requests(1)[-1].body, body, "twilio: delivered byte-exact")
    bad = receiver.post("tw", tamper("twilio", body),
                        ctype + sign(env, "twilio", secret, body, PUBLIC + path))
    check_eq(bad.status, 401, "twilio: a tampered body is still refused")
    receiver.stop()


def sign_delivery(env, secret, event_id, ts, body):
    body_file = env.path("delivery.bin")
    with open(body_file, "wb") as f:
        f.write(body)
    r = subprocess.run([os.path.join(BIN, "hw-sign-delivery"), event_id, str(ts), body_file],
                       env=dict(os.environ, HW_SIGNING_SECRET=secret), capture_output=True,
                       text=True, timeout=15)
    check_eq((r.returncode, r.stderr), (0, ""), "hw-sign-delivery signed")
    return json.loads(r.stdout)


def case_delivery_signature_accepted_by_standardwebhooks(env):
    body = b'{"id":"evt_1","data":{"x":[1,2,3]}}\n'
    for secret in (SW_SECRET, "a-raw-secret-of-32-bytes-length!"):
        kind = "whsec_" if secret.startswith("whsec_") else "raw"
        now = int(time.time())
        headers = sign_delivery(env, secret, "evt_01JDELIVERYTEST000000000001", now, body)
        check(headers["Hookwire-Signature"].startswith("v1,"), kind + ": v1,BASE64")
        check_eq(verify_with_library(env, secret, body, headers), (0, "ok"),
                 kind + ": standardwebhooks accepts hookwire's signature")
        rc, why = verify_with_library(env, secret, body + b" ", headers)
        check_eq(rc, 1, kind + ": a changed body is refused (%s)" % why)
        other = "whsec_" + base64.b64encode(b"some-other-signing-key-000000000").decode()
        rc, why = verify_with_library(env, other, body, headers)
        check_eq(rc, 1, kind + ": another secret is refused (%s)" % why)
        old = sign_delivery(env, secret, "evt_01JDELIVERYTEST000000000002", now - 3600, body)
        rc, why = verify_with_library(env, secret, body, old)
        check_eq(rc, 1, kind + ": an hour-old timestamp is refused (%s)" % why)


def doc_example(lang):
    """The first ```lang block of docs/receiver.md's section on checking signatures."""
    with open(os.path.join(SOURCE, "docs", "receiver.md")) as f:
        text = f.read()
    section = text.split("## Checking the signature in the backend", 1)
    check(len(section) == 2, "docs/receiver.md has the section")
    m = re.search(r"```%s\n(.*?)```" % lang, section[1], re.S)
    check(m is not None, "the section has a %s example" % lang)
    return m.group(1)


NODE_RUNNER = """
const fs = require("node:fs");
const body = fs.readFileSync(process.argv[2]);
const headers = Object.fromEntries(Object.entries(JSON.parse(process.argv[3]))
  .map(([k, v]) => [k.toLowerCase(), v]));
try { verifyHookwire(body, headers); console.log("ok"); } catch (e) { console.log("refused"); }
"""

PYTHON_RUNNER = """
import json, sys
body = open(sys.argv[1], "rb").read()
print("ok" if verify_hookwire(body, json.loads(sys.argv[2])) else "refused")
"""


def case_docs_examples_check_the_signature(env):
    secret = SW_SECRET
    body = b'{"id":"evt_doc","amount":42}'
    headers = sign_delivery(env, secret, "evt_01JDOCEXAMPLE0000000000001", int(time.time()), body)
    js = env.path("check.js")
    with open(js, "w") as f:
        f.write(doc_example("js") + NODE_RUNNER)
    py = env.path("check.py")
    with open(py, "w") as f:
        f.write(doc_example("python") + PYTHON_RUNNER)
    for sent, want in ((body, "ok"), (body.replace(b"42", b"43"), "refused")):
        path = env.path("doc-body.bin")
        with open(path, "wb") as f:
            f.write(sent)
        r = subprocess.run([node(), js, path, json.dumps(headers)], capture_output=True,
                           text=True, timeout=30, cwd=NODE_DIR,
                           env=dict(os.environ, HOOKWIRE_SIGNING_SECRET=secret,
                                    NODE_PATH=os.path.join(NODE_DIR, "node_modules")))
        check_eq((r.stdout.strip(), r.stderr), (want, ""), "the Node example says " + want)
        r = subprocess.run(["python3", py, path, json.dumps(headers)], capture_output=True,
                           text=True, timeout=30,
                           env=dict(os.environ, HOOKWIRE_SIGNING_SECRET=secret))
        check_eq((r.stdout.strip(), r.stderr), (want, ""), "the Python example says " + want)


if __name__ == "__main__":
    run([case_official_libraries_verify_at_the_edge,
         case_receiver_public_url_with_trailing_slash,
         case_delivery_signature_accepted_by_standardwebhooks,
         case_docs_examples_check_the_signature])
