#!/usr/bin/env python3
"""Deliveries to https:// backends. The receiver verifies the backend's certificate against
deliver-ca-file (the test's own CA) and delivers byte for byte with its signature, one
kept-alive TLS connection for events in a row; without the CA it records each attempt as a
certificate failure naming the reason and delivers nothing; an unreadable deliver-ca-file
stops it at start. hookwire-replay deliver --to https://... verifies with --ca-file or the
config's deliver-ca-file, and reports a refused certificate as no answer, exit 1."""

import base64
import hashlib
import hmac
import os
import re

from harness import RECEIVER_BIN, Proc, Reply, check, check_eq, run, wait_until
from hw_receiver import SIGNING_SECRET, Receiver, event_count, github_headers, store_query
from hw_replay import append, replay, statuses
from hw_tls import ca_signed, server_context

FAILED = 3
KEY = base64.b64decode(SIGNING_SECRET[len("whsec_"):])


def backend(env, san="DNS:localhost,IP:127.0.0.1"):
    """An HTTPS backend with a certificate from a test CA; returns (target, CA file)."""
    key, cert, ca = ca_signed(env, "backend", san)
    target = env.target(lambda req: Reply(200, "OK", [("Content-Type", "text/plain")],
                                          b"stored " + req.target.encode()),
                        tls=server_context(key, cert))
    return target, ca


def receiver(env, target, options, schedule="5s"):
    store = "sqlite:" + env.path("receiver.db")
    opts = {"retry-schedule": schedule}
    opts.update(options)
    return Receiver(env, store, {"gh": [("provider", "github"), ("secret", "gh-secret-for-tests"),
                                        ("deliver-to", "https://localhost:%d/hooks" % target.port),
                                        ("concurrency", "4")]}, opts).start()


def check_signed(req, body, what):
    eid, ts = req.header("Hookwire-Event-Id"), req.header("Hookwire-Timestamp")
    want = "v1," + base64.b64encode(hmac.new(KEY, b"%s.%s.%s" % (eid.encode(), ts.encode(),
                                                                  body),
                                             hashlib.sha256).digest()).decode()
    check_eq(req.header("Hookwire-Signature"), want, what + ": the receiver's signature")


def case_receiver_trusts_ca_file(env):
    target, ca = backend(env)
    rcv = receiver(env, target, {"deliver-ca-file": ca})
    bodies = [b'{"n":%d,"bytes":"%s"}' % (i, os.urandom(3000 * i).hex().encode())
              for i in range(4)]
    for i, body in enumerate(bodies):
        resp = rcv.post("gh", body, github_headers(body, "https-%d" % i), path="/x/%d" % i)
        check_eq(resp.status, 200, "webhook %d is acknowledged" % i)
        # One at a time: the next goes on the connection the last one left idle.
        wait_until(lambda: event_count(rcv.store, "status = 2") == i + 1, 10,
                   "webhook %d delivered over https" % i)
    reqs = target.wait_requests(len(bodies))
    for i, (req, body) in enumerate(zip(reqs, bodies)):
        what = "delivery %d" % i
        check_eq((req.method, req.target), ("POST", "/hooks/x/%d" % i), what + ": target")
        check_eq(req.body, body, what + ": body byte for byte")
        check_eq(req.header("Host"), "hooks.example.test", what + ": the original Host")
        check_signed(req, body, what)
    check_eq(target.connections, 1, "the deliveries share one kept-alive TLS connection")
    check_eq(target.tls_failures, [], "no handshake failed")


def case_receiver_refuses_unknown_ca(env):
    target, ca = backend(env)
    rcv = receiver(env, target, {}, schedule="100ms 100ms")
    body = b'{"untrusted":true}'
    check_eq(rcv.post("gh", body, github_headers(body, "untrusted")).status, 200,
             "acknowledged though the backend is not trusted")
    wait_until(lambda: event_count(rcv.store, "status = %d" % FAILED) == 1, 15,
               "the event fails after its attempts")
    errors = [r[0] for r in store_query(rcv.store, "SELECT error FROM hookwire_attempts")]
    check_eq(errors, ["certificate verify failed: unable to get local issuer certificate"] * 3,
             "each attempt records the certificate's problem")
    check_eq(target.count(), 0, "nothing reached the untrusted backend")
    # The receiver records its third attempt as soon as its side of the handshake fails; the
    # backend's thread notes the refusal a moment later.
    wait_until(lambda: len(target.tls_failures) >= 3, 5, "the backend sees three handshakes")
    check_eq(len(target.tls_failures), 3, "each attempt's handshake was refused")
    log = rcv.proc.stderr()
    check(re.search(r"attempt 1: certificate verify failed: unable to get local issuer "
                    r"certificate, next in \d+ ms\n", log),
          "the receiver's log names the certificate's problem", log[-2000:])


def case_receiver_bad_ca_file(env):
    target, ca = backend(env)
    rcv = Receiver(env, "sqlite:" + env.path("r.db"),
                   {"gh": [("provider", "github"), ("secret", "s3cret-for-tests"),
                           ("deliver-to", "https://localhost:%d/" % target.port)]},
                   {"deliver-ca-file": env.path("missing.pem")})
    p = Proc(env, "receiver-bad-ca", [RECEIVER_BIN, "--config", rcv.write_config()])
    check_eq(p.wait_exit(10), 2, "an unreadable deliver-ca-file stops the receiver at start")
    check(re.search(r"receiver\.ini:\d+: deliver-ca-file: cannot load CA certificates from .*"
                    r"missing\.pem", p.stderr()), "one file:line: reason", p.stderr())


def case_replay_deliver_https(env):
    target, ca = backend(env)
    url = "sqlite:" + env.path("replay.db")
    with open(env.path("body.bin"), "wb") as f:
        f.write(b'{"replayed":"\x00\xff"}')
    [eid] = append(env, url, source="gh", path="/push", body_file=env.path("body.bin"), fail=503)
    ini = env.path("receiver.ini")
    with open(ini, "w") as f:
        f.write("[receiver]\nsigning-secret = %s\ndeliver-ca-file = %s\n" % (SIGNING_SECRET, ca))
    to = "https://localhost:%d/base/" % target.port
    for n, how in enumerate((["--ca-file", ca, "--signing-secret", SIGNING_SECRET],
                             ["--config", ini]), 1):
        r = replay(env, url, "deliver", eid, "--to", to, *how)
        out = r.stdout.decode()
        check_eq(r.returncode, 0, "deliver over https exits 0 (%s; %r)" % (how[0], r.stderr))
        check(re.match(r"^POST https://localhost:\d+/base/ -> 200 in \d+ ms \(%s, attempt 2\)\n"
                       r"answer: \d+ bytes: stored /base/push\n$" % eid, out),
              "deliver prints the https answer (%s)" % how[0], out)
        req = target.wait_requests(n)[-1]
        check_eq(req.target, "/base/push", "the https backend got the event's path")
        check_eq(req.body, b'{"replayed":"\x00\xff"}', "the body, byte for byte")
        check_signed(req, req.body, "replayed over https")
    r = replay(env, url, "deliver", eid, "--to", to, "--signing-secret", SIGNING_SECRET,
               "--timeout", "5s")
    out = r.stdout.decode()
    check_eq(r.returncode, 1, "a certificate no trusted CA signed: exit 1 (%r)" % r.stderr)
    check("no answer (certificate verify failed: unable to get local issuer certificate)" in out,
          "the outcome names the certificate's problem", out)
    check_eq(target.count(), 2, "the refused delivery never reached the backend")
    check_eq(statuses(url, [eid]), {eid: FAILED}, "the event's status is unchanged")
    r = replay(env, url, "deliver", eid, "--to", to, "--signing-secret", SIGNING_SECRET,
               "--ca-file", env.path("missing.pem"))
    check_eq(r.returncode, 2, "an unreadable --ca-file is a usage error")
    check("cannot load CA certificates" in r.stderr.decode(), "and says so", r.stderr)


if __name__ == "__main__":
    run([case_receiver_trusts_ca_file, case_receiver_refuses_unknown_ca,
         case_receiver_bad_ca_file, case_replay_deliver_https])
