#!/usr/bin/env python3
"""TLS on both relay ports (--tls-cert/--tls-key): webhooks over HTTPS (also when
the client offers h2 by ALPN), the agent over wss:// verifying the relay with
--ca-file, or accepting a self-signed relay with --insecure, and refusing it
without either."""

import hashlib

from harness import AGENT_BIN, Proc, Reply, check, check_eq, run, token_add, wait_until
from hw_tls import TlsRelay, https, self_signed


def agent(env, relay, token, target, args, name):
    return Proc(env, name, [AGENT_BIN, "--relay", relay.ws_url, "--forward", str(target.port)]
                + args, {"HOOKWIRE_TOKEN": token})


def case_tls_both_ports(env):
    key, cert = self_signed(env, "localhost")
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = TlsRelay(env, store, key, cert)
    target = env.target(lambda req: Reply(200, "OK", [], hashlib.sha256(req.body).hexdigest()
                                          .encode()))
    a = agent(env, relay, token, target, ["--ca-file", cert], "agent")
    wait_until(lambda: b"Forwarding https://" in open(a.stdout_path, "rb").read(), 10,
               "the agent is up over wss:// with --ca-file and prints an https URL")
    body = b"secure webhook \r\n body"
    for alpn in (None, ["h2", "http/1.1"]):
        status, head, answer = https(relay.port, "POST", "/t/alice/tls", body=body, cafile=cert,
                                      alpn=alpn)
        check_eq(status, 200, "HTTPS webhook (ALPN offered: %s)" % alpn)
        check_eq(answer, hashlib.sha256(body).hexdigest().encode(), "the app got the body")
    check_eq(target.wait_requests(2)[-1].header("X-Forwarded-Proto"), "https",
             "the app learns the request came over https")


def case_agent_trust(env):
    key, cert = self_signed(env, "localhost")
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = TlsRelay(env, store, key, cert)
    target = env.target()
    untrusting = agent(env, relay, token, target, [], "agent-no-ca")
    wait_until(lambda: b"cannot connect" in open(untrusting.stderr_path, "rb").read(), 10,
               "without --ca-file the self-signed relay is refused")
    check(b"Forwarding" not in open(untrusting.stdout_path, "rb").read(), "and never used")
    untrusting.stop()
    insecure = agent(env, relay, token, target, ["--insecure"], "agent-insecure")
    wait_until(lambda: b"Forwarding" in open(insecure.stdout_path, "rb").read(), 10,
               "--insecure accepts it")
    status, _, _ = https(relay.port, "POST", "/t/alice/x", body=b"{}", cafile=cert)
    check_eq(status, 200, "and delivers")


if __name__ == "__main__":
    run([case_tls_both_ports, case_agent_trust])
