#!/usr/bin/env python3
"""Signature verification at the relay's edge ([channel NAME] sections).

A genuine GitHub, Stripe and Standard Webhooks webhook reaches the app through
the tunnel marked Hookwire-Verified: true; a tampered one is answered 401
HW_SIGNATURE and the app never sees it; with enforce = false both arrive,
marked true and false. A malformed secret stops the relay at startup with a
file:line message.
"""

import base64
import hashlib
import hmac
import json
import subprocess
import time

from harness import (RELAY_BIN, check, check_eq, run, token_add)

GITHUB_SECRET = b"gh-edge-secret"
STRIPE_SECRET = "whsec_stripe_edge_secret"
SW_KEY = b"standard-webhooks-key-0123456789"
SW_SECRET = "whsec_" + base64.b64encode(SW_KEY).decode()


def github(body, tamper=False):
    sig = "sha256=" + hmac.new(GITHUB_SECRET, body, hashlib.sha256).hexdigest()
    return [("Host", "hooks.test"), ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", "d-%d" % time.time_ns()), ("X-Hub-Signature-256", sig),
            ("Content-Type", "application/json")], (body + b" " if tamper else body)


def stripe(body, tamper=False):
    ts = str(int(time.time()))
    sig = hmac.new(STRIPE_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return [("Host", "hooks.test"), ("Stripe-Signature", "t=%s,v1=%s" % (ts, sig)),
            ("Content-Type", "application/json")], (body.replace(b"1", b"2") if tamper else body)


def standard(body, tamper=False):
    msg_id, ts = "msg_%d" % time.time_ns(), str(int(time.time()))
    mac = hmac.new(SW_KEY, ("%s.%s." % (msg_id, ts)).encode() + body, hashlib.sha256).digest()
    return [("Host", "hooks.test"), ("webhook-id", msg_id), ("webhook-timestamp", ts),
            ("webhook-signature", "v1," + base64.b64encode(mac).decode()),
            ("Content-Type", "application/json")], (body[:-1] if tamper else body)


SIGNATURE_HEADERS = ("x-hub-signature-256", "stripe-signature", "webhook-signature")

PROVIDERS = [("gh", "github", GITHUB_SECRET.decode(), github),
             ("st", "stripe", STRIPE_SECRET, stripe),
             ("sw", "standard-webhooks", SW_SECRET, standard)]


def write_config(env, enforce):
    """Secrets come from files, as in production (file:PATH), never inline."""
    lines = []
    for channel, provider, secret, _ in PROVIDERS:
        secret_file = env.path("%s.secret" % channel)
        with open(secret_file, "w") as f:
            f.write(secret + "\n")
        lines += ["[channel %s]" % channel, "verify = %s" % provider,
                  "secret = file:%s" % secret_file,
                  "enforce = %s" % ("true" if enforce else "false"), ""]
    path = env.path("relay.ini")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def setup(env, enforce):
    store = env.path("relay.db")
    tokens = {c: token_add(env, store, c) for c, _, _, _ in PROVIDERS}
    conf = write_config(env, enforce)
    relay = env.relay(store=store, args=["--config", conf])
    targets = {}
    for channel, _, _, _ in PROVIDERS:
        targets[channel] = env.target()
        env.agent(relay, tokens[channel], channel, targets[channel].port)
    return relay, targets


def send(relay, channel, sign, tamper):
    body = json.dumps({"id": "evt_%d" % time.time_ns(), "amount": 1234}).encode()
    headers, sent = sign(body, tamper)
    return relay.webhook("POST", "/t/%s/hook" % channel, headers, sent), sent


def case_enforced(env):
    relay, targets = setup(env, enforce=True)
    for channel, provider, _, sign in PROVIDERS:
        target = targets[channel]
        resp, sent = send(relay, channel, sign, tamper=False)
        check_eq(resp.status, 200, provider + ": a genuine webhook is forwarded")
        req = target.wait_requests(1)[-1]
        check_eq(req.body, sent, provider + ": the app got the body")
        check_eq(req.header("Hookwire-Verified"), "true", provider + ": marked verified")
        before = target.count()
        resp, _ = send(relay, channel, sign, tamper=True)
        check_eq(resp.status, 401, provider + ": a tampered webhook is refused")
        check_eq(resp.header("Hookwire-Error"), "HW_SIGNATURE", provider + ": its error code")
        # A genuine signature header given twice: which one the app reads is anyone's guess.
        body = json.dumps({"id": "evt_%d" % time.time_ns()}).encode()
        headers, sent = sign(body)
        twice = [h for h in headers if h[0].lower() in SIGNATURE_HEADERS]
        check_eq(len(twice), 1, provider + ": one signature header to repeat")
        resp = relay.webhook("POST", "/t/%s/hook" % channel, headers + twice, sent)
        check_eq((resp.status, resp.header("Hookwire-Error")), (401, "HW_SIGNATURE"),
                 provider + ": a repeated signature header is refused")
        resp, _ = send(relay, channel, sign, tamper=False)
        check_eq(resp.status, 200, provider + ": the next genuine one still passes")
        target.wait_requests(before + 1)
        check_eq(target.count(), before + 1,
                 provider + ": the app never saw the tampered or the doubled one")
    check(relay.metric("hookwire_relay_errors_total", code="HW_SIGNATURE") == 2 * len(PROVIDERS),
          "every refusal counted")
    check("signature failed: no_match" in relay.proc.stderr(), "the reason is logged")
    check_eq(relay.proc.stderr().count("signature failed: repeated_header"), len(PROVIDERS),
             "the repeated header is logged as such")


def case_marking(env):
    relay, targets = setup(env, enforce=False)
    for channel, provider, _, sign in PROVIDERS:
        target = targets[channel]
        for tamper, mark in ((False, "true"), (True, "false")):
            before = target.count()
            resp, sent = send(relay, channel, sign, tamper)
            check_eq(resp.status, 200, "%s tamper=%s: forwarded" % (provider, tamper))
            req = target.wait_requests(before + 1)[-1]
            check_eq(req.body, sent, "%s tamper=%s: body" % (provider, tamper))
            check_eq(req.header("Hookwire-Verified"), mark,
                     "%s tamper=%s: marked %s" % (provider, tamper, mark))


def case_unverified_channel_unmarked(env):
    relay, target, agent = env.stack(channel="plain")
    resp = relay.webhook("POST", "/t/plain/x", [("Host", "hooks.test")], b"{}")
    check_eq(resp.status, 200, "forwarded")
    check_eq(target.wait_requests(1)[-1].header("Hookwire-Verified"), None,
             "no mark on a channel without verification")


def case_bad_secret_stops_startup(env):
    path = env.path("bad.ini")
    with open(path, "w") as f:
        f.write("[channel sw]\nverify = standard-webhooks\nsecret = whsec_!!!notbase64\n")
    r = subprocess.run([RELAY_BIN, "--config", path, "--store", "sqlite:" + env.path("x.db")],
                       capture_output=True, text=True, timeout=10)
    check_eq(r.returncode, 2, "the relay refuses to start")
    check(r.stderr.startswith(path + ":3: "), "the error names file and line", r.stderr)
    check("!!!" not in r.stderr, "the secret is not echoed", r.stderr)
    # A fault found once the file is read (no secret at all) names the section's header line.
    with open(path, "w") as f:
        f.write("[relay]\nlisten = 127.0.0.1:9\n\n[channel gh]\nverify = github\n")
    r = subprocess.run([RELAY_BIN, "--config", path, "--store", "sqlite:" + env.path("x.db")],
                       capture_output=True, text=True, timeout=10)
    check_eq(r.returncode, 2, "the relay refuses to start without a secret")
    check_eq(r.stderr.strip().splitlines()[-1],
             path + ":4: [channel gh] secret: missing (at least one secret = ...)",
             "the error names file and the section's line")
    # enforce alone verifies nothing: refused, not a channel left open without a word.
    with open(path, "w") as f:
        f.write("[relay]\nlisten = 127.0.0.1:9\n\n[channel gh]\nenforce = true\n")
    r = subprocess.run([RELAY_BIN, "--config", path, "--store", "sqlite:" + env.path("x.db")],
                       capture_output=True, text=True, timeout=10)
    check_eq(r.returncode, 2, "the relay refuses enforce without a provider")
    check(r.stderr.strip().splitlines()[-1].startswith(
        path + ":4: [channel gh] enforce without a provider"), "and says so", r.stderr)
    # A key on the header's line would be dropped by the INI reader: refused.
    with open(path, "w") as f:
        f.write("[channel gh] verify = github\nsecret = s\n")
    r = subprocess.run([RELAY_BIN, "--config", path, "--store", "sqlite:" + env.path("x.db")],
                       capture_output=True, text=True, timeout=10)
    check_eq(r.returncode, 2, "the relay refuses text after a section header")
    check_eq(r.stderr.strip().splitlines()[-1], path + ":1: text after the section header's ']': "
             "put each key on a line of its own", "and names the line")


if __name__ == "__main__":
    run([case_enforced, case_marking, case_unverified_channel_unmarked,
         case_bad_secret_stops_startup])
