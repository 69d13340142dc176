#!/usr/bin/env python3
"""TLS on both relay ports (--tls-cert/--tls-key): webhooks over HTTPS (also when
the client offers h2 by ALPN), the agent over wss:// verifying the relay with
--ca-file, or accepting a self-signed relay with --insecure, and refusing it
without either."""

import hashlib
import socket
import ssl
import subprocess

from harness import (AGENT_BIN, RELAY_BIN, Proc, Reply, check, check_eq, free_port, run,
                     token_add, wait_until)


def make_cert(env):
    key, cert = env.path("key.pem"), env.path("cert.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True, timeout=60)
    check_eq(r.returncode, 0, "openssl makes a test certificate")
    return key, cert


def https(port, cert, method, path, body=b"", alpn=None):
    """One HTTPS request with raw bytes; returns (status, headers text, body)."""
    ctx = ssl.create_default_context(cafile=cert)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n" % (method.encode(), path.encode(), len(body))
                      + body)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), head.decode("latin-1"), rest


class TlsRelay:
    def __init__(self, env, store, key, cert):
        self.port, self.tunnel_port = free_port(), free_port()
        self.cert = cert
        self.proc = Proc(env, "relay", [
            RELAY_BIN, "--listen", "127.0.0.1:%d" % self.port, "--tunnel-listen",
            "127.0.0.1:%d" % self.tunnel_port, "--store", "sqlite:" + store, "--tls-cert", cert,
            "--tls-key", key])

        def up():
            self.proc.check_alive("the TLS relay is running")
            try:
                return https(self.port, cert, "GET", "/healthz")[0] == 200
            except OSError:
                return False
        wait_until(up, 10, "the relay answers /healthz over HTTPS")

    @property
    def ws_url(self):
        return "wss://localhost:%d" % self.tunnel_port


def agent(env, relay, token, target, args, name):
    return Proc(env, name, [AGENT_BIN, "--relay", relay.ws_url, "--forward", str(target.port)]
                + args, {"HOOKWIRE_TOKEN": token})


def case_tls_both_ports(env):
    key, cert = make_cert(env)
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
        status, head, answer = https(relay.port, cert, "POST", "/t/alice/tls", body, alpn)
        check_eq(status, 200, "HTTPS webhook (ALPN offered: %s)" % alpn)
        check_eq(answer, hashlib.sha256(body).hexdigest().encode(), "the app got the body")
    check_eq(target.wait_requests(2)[-1].header("X-Forwarded-Proto"), "https",
             "the app learns the request came over https")


def case_agent_trust(env):
    key, cert = make_cert(env)
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
    status, _, _ = https(relay.port, cert, "POST", "/t/alice/x", b"{}")
    check_eq(status, 200, "and delivers")


if __name__ == "__main__":
    run([case_tls_both_ports, case_agent_trust])
