#!/usr/bin/env python3
"""hookwire-receiver behind a real Caddy with examples/Caddyfile.receiver.

Webhooks signed by the providers' own npm libraries (stripe, svix,
standardwebhooks, @octokit/webhooks-methods, twilio) and by Slack's and
Shopify's documented schemes (tests/node/sign.js) go through Caddy to the
receiver, are answered 200 with the event id, and reach the backend with the
body byte for byte, the header lines the receiver got (as stored) and a
Hookwire-Signature that the standardwebhooks library accepts given
Hookwire-Event-Id, Hookwire-Timestamp and Hookwire-Signature. Tampered ones get
401 and are not stored.
"""

import base64
import hashlib
import hmac
import json
import os

import hw_caddy
from hw_providers import body_for, node, sign, tamper, verify_with_library
from hw_receiver import SIGNING_SECRET, Receiver, event_count, store_query
from harness import (EVENT_ID_RE, HOP_BY_HOP, check, check_eq, free_port, request, run,
                     wait_until)

SW_SECRET = "whsec_" + base64.b64encode(b"receiver-caddy-standard-key-0123").decode()

# source name, provider, secret
SOURCES = [
    ("github", "github", "gh-caddy-secret"),
    ("stripe", "stripe", "whsec_stripe_caddy_secret"),
    ("svix", "svix", SW_SECRET),
    ("sw", "standard-webhooks", SW_SECRET),
    ("slack", "slack", "slack-caddy-signing-secret"),
    ("shopify", "shopify", "shopify-caddy-api-secret"),
    ("twilio", "twilio", "twilio-caddy-auth-token"),
]


def start_caddy(env, port, receiver_port, backend_port):
    root = env.path("www")
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>app</title>\n")
    hw_caddy.start_receiver_example(env, port, receiver_port, backend_port, root)


def case_provider_libraries_through_caddy(env):
    node()
    backend = env.target()
    store = "sqlite:" + env.path("receiver.db")
    port = free_port()
    public = "http://127.0.0.1:%d" % port
    sources = {}
    for name, provider, secret in SOURCES:
        secret_file = env.path(name + ".secret")
        with open(secret_file, "w") as f:
            f.write(secret + "\n")
        sources[name] = [("provider", provider), ("secret", "file:" + secret_file),
                         ("deliver-to", "http://127.0.0.1:%d/api/hooks" % backend.port)]
    rc = Receiver(env, store, sources, {"public-url": public}).start()
    start_caddy(env, port, rc.port, backend.port)
    delivered = 0
    for n, (name, provider, secret) in enumerate(SOURCES):
        path = "/api/webhooks/%s/in?n=%d" % (name, n)
        ctype = ("application/x-www-form-urlencoded" if provider == "twilio"
                 else "application/json")
        body = body_for(provider, n, "caddy")
        headers = [("Host", "127.0.0.1:%d" % port), ("Content-Type", ctype)] + sign(
            env, provider, secret, body, public + path)
        bad = request(port, "POST", path, headers, tamper(provider, body))
        check_eq((bad.status, bad.header("Hookwire-Error")), (401, "HW_SIGNATURE"),
                 provider + ": a tampered body is refused through Caddy")
        check_eq(event_count(store, "CAST(source AS CHAR) = '%s'" % name), 0,
                 provider + ": and not stored")
        resp = request(port, "POST", path, headers, body)
        check_eq(resp.status, 200, provider + ": signed by its library, acknowledged")
        eid = json.loads(resp.body)["id"]
        check(EVENT_ID_RE.match(eid), provider + ": with the event id", resp.body)
        delivered += 1
        req = backend.wait_requests(delivered)[-1]
        check_eq(req.header("Hookwire-Event-Id"), eid, provider + ": the backend got it")
        check_eq(req.body, body, provider + ": body byte for byte")
        check_eq(req.target, "/api/hooks/in?n=%d" % n, provider + ": path rest and query")
        stored = store_query(store, "SELECT headers FROM hookwire_events WHERE id = '%s'" %
                             eid)[0][0].encode()
        want = [l for l in stored.split(b"\r\n") if l and
                l.split(b":", 1)[0].decode().lower() not in HOP_BY_HOP]
        got = [l for l in req.header_lines if not l.lower().startswith(b"hookwire-")]
        check_eq(got, want, provider + ": the header lines as the receiver got them, in order")
        lower = {l.split(b":", 1)[0].lower(): l.split(b":", 1)[1].strip() for l in got}
        for hname, hvalue in headers:
            if hname.lower() != "host":
                check_eq(lower.get(hname.lower().encode()), hvalue.encode(),
                         provider + ": the provider's %s" % hname)
        hw = {k: req.header(k) for k in ("Hookwire-Event-Id", "Hookwire-Timestamp",
                                         "Hookwire-Signature")}
        if provider == "twilio":
            # The library's verify() returns the body parsed as JSON; a form body cannot be.
            key = base64.b64decode(SIGNING_SECRET[len("whsec_"):])
            mac = hmac.new(key, ("%s.%s." % (eid, hw["Hookwire-Timestamp"])).encode() + body,
                           hashlib.sha256).digest()
            check_eq(hw["Hookwire-Signature"], "v1," + base64.b64encode(mac).decode(),
                     provider + ": Hookwire-Signature by the Standard Webhooks scheme")
            continue
        check_eq(verify_with_library(env, SIGNING_SECRET, body, hw), (0, "ok"),
                 provider + ": standardwebhooks accepts Hookwire-Signature")
        check_eq(verify_with_library(env, SIGNING_SECRET, body + b" ", hw)[0], 1,
                 provider + ": and refuses it for another body")
    check_eq(event_count(store), len(SOURCES), "one event per provider, no tampered one")
    wait_until(lambda: event_count(store, "status = 2") == len(SOURCES), 10,
               "all recorded as delivered")


if __name__ == "__main__":
    run([case_provider_libraries_through_caddy])
