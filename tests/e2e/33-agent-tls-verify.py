#!/usr/bin/env python3
"""The agent's own TLS for wss:// checks the relay's name, not only its
certificate chain: a certificate trusted through --ca-file but made out to
another name is refused; a relay addressed by IP address is accepted when its
certificate names that address and refused when it names only a DNS name."""

import socket
import ssl
import subprocess

from harness import (AGENT_BIN, RELAY_BIN, Proc, check, check_eq, free_port, run, token_add,
                     wait_until)


def make_cert(env, tag, san):
    key, cert = env.path(tag + "-key.pem"), env.path(tag + "-cert.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=" + tag, "-addext",
                        "subjectAltName=" + san], capture_output=True, text=True, timeout=60)
    check_eq(r.returncode, 0, "openssl makes a test certificate")
    return key, cert


def healthz(port):
    """GET /healthz over TLS without verifying (the test's certificates may name anything)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def tls_relay(env, store, key, cert):
    """A relay with TLS on both ports; returns its tunnel port once it answers."""
    port, tunnel_port = free_port(), free_port()
    proc = Proc(env, "relay-" + str(tunnel_port), [
        RELAY_BIN, "--listen", "127.0.0.1:%d" % port, "--tunnel-listen",
        "127.0.0.1:%d" % tunnel_port, "--store", "sqlite:" + store, "--tls-cert", cert,
        "--tls-key", key])
    wait_until(lambda: proc.check_alive("is running") or healthz(port), 10,
               "the TLS relay answers /healthz")
    return tunnel_port


def agent(env, url, token, target, cert, name):
    return Proc(env, name, [AGENT_BIN, "--relay", url, "--forward", str(target.port),
                            "--ca-file", cert], {"HOOKWIRE_TOKEN": token})


def refused(env, a, what):
    wait_until(lambda: b"cannot connect" in open(a.stderr_path, "rb").read(), 10, what)
    check(b"Forwarding" not in open(a.stdout_path, "rb").read(), what + ": never used")
    check(b"TLS" in open(a.stderr_path, "rb").read(), what + ": the log says TLS refused it")
    a.check_alive("keeps trying")
    a.stop()


def case_wrong_name(env):
    key, cert = make_cert(env, "other", "DNS:other.test")
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    tunnel = tls_relay(env, store, key, cert)
    target = env.target()
    refused(env, agent(env, "wss://localhost:%d" % tunnel, token, target, cert, "agent-wrong-name"),
            "a trusted certificate for other.test is refused for localhost")


def case_ip_address(env):
    key, cert = make_cert(env, "ip", "IP:127.0.0.1")
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    tunnel = tls_relay(env, store, key, cert)
    target = env.target()
    url = "wss://127.0.0.1:%d" % tunnel
    a = agent(env, url, token, target, cert, "agent-ip")
    wait_until(lambda: b"Forwarding" in open(a.stdout_path, "rb").read(), 10,
               "a certificate for IP 127.0.0.1 is accepted at wss://127.0.0.1")
    a.stop()
    key2, cert2 = make_cert(env, "dns-only", "DNS:localhost")
    store2 = env.path("relay2.db")
    token2 = token_add(env, store2, "bob")
    tunnel2 = tls_relay(env, store2, key2, cert2)
    refused(env, agent(env, "wss://127.0.0.1:%d" % tunnel2, token2, target, cert2,
                       "agent-ip-mismatch"),
            "a certificate naming only localhost is refused at wss://127.0.0.1")


if __name__ == "__main__":
    run([case_wrong_name, case_ip_address])
