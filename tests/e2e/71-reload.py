#!/usr/bin/env python3
"""SIGHUP reloads the relay's TLS certificate and key and its [channel] sections without
dropping connected agents: new TLS connections get the new certificate (compared by its
SHA-256 fingerprint), the agent connected before the reload keeps its tunnel (webhooks
still flow through the same agent process, and the relay counts no new agent connect),
the relay keeps running. A broken certificate or config on SIGHUP keeps the old one."""

import hashlib
import hmac
import os
import signal
import socket
import ssl

from harness import (AGENT_BIN, RELAY_BIN, Proc, Reply, check, check_eq, free_port, get,
                     parse_metrics, request, run, token_add, wait_until)
from hw_tls import https, self_signed

HOST = b"hooks.example.test"


def pem_fingerprint(cert):
    with open(cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def served_fingerprint(port):
    """SHA-256 of the certificate a new TLS connection to port is given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def install(src_key, src_cert, key, cert):
    """Replaces the files at key/cert as a renewal hook would (write aside, then rename)."""
    for src, dst in ((src_key, key), (src_cert, cert)):
        with open(src, "rb") as f:
            data = f.read()
        with open(dst + ".new", "wb") as f:
            f.write(data)
        os.replace(dst + ".new", dst)


class Relay:
    def __init__(self, env, store, args):
        self.port, self.tunnel_port = free_port(), free_port()
        self.proc = Proc(env, "relay", [
            RELAY_BIN, "--listen", "127.0.0.1:%d" % self.port, "--tunnel-listen",
            "127.0.0.1:%d" % self.tunnel_port, "--store", "sqlite:" + store] + args)

    def metrics(self, tls):
        if tls:
            status, _, body = https(self.tunnel_port, "GET", "/metrics", host=HOST)
        else:
            r = get(self.tunnel_port, "/metrics")
            status, body = r.status, r.body
        check_eq(status, 200, "GET /metrics")
        return parse_metrics(body.decode())

    def hup(self):
        self.proc.signal(signal.SIGHUP)

    def log_count(self, text):
        return self.proc.stderr().count(text)


def connects(m):
    return m.get(("hookwire_relay_agent_connects_total", ()))


def reloads(m, result):
    return m.get(("hookwire_relay_config_reloads_total", (("result", result),)))


def case_sighup_new_certificate(env):
    key, cert = env.path("live.key"), env.path("live.pem")
    a_key, a_cert = self_signed(env, "a")
    b_key, b_cert = self_signed(env, "b")
    install(a_key, a_cert, key, cert)
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = Relay(env, store, ["--tls-cert", cert, "--tls-key", key, "--metrics-channels"])
    wait_until(lambda: relay.proc.check_alive("relay runs") or
               served_fingerprint(relay.port) == pem_fingerprint(a_cert), 10,
               "the relay serves certificate a")
    check_eq(served_fingerprint(relay.tunnel_port), pem_fingerprint(a_cert),
             "the tunnel port serves certificate a")
    target = env.target(lambda req: Reply(200, "OK", [], b"got " + req.body))
    agent = Proc(env, "agent", [AGENT_BIN, "--relay", "wss://localhost:%d" % relay.tunnel_port,
                                "--forward", str(target.port), "--ca-file", a_cert],
                 {"HOOKWIRE_TOKEN": token})
    wait_until(lambda: "Forwarding https://" in agent.stdout(), 10, "the agent is up over wss")
    check_eq(https(relay.port, "POST", "/t/alice/one", body=b"1", host=HOST)[2], b"got 1",
             "a webhook before the reload")
    check_eq(connects(relay.metrics(True)), 1.0, "one agent connect before the reload")

    # A renewal: new files at the same paths, then SIGHUP.
    install(b_key, b_cert, key, cert)
    relay.hup()
    wait_until(lambda: served_fingerprint(relay.port) == pem_fingerprint(b_cert), 10,
               "new connections to the public port get certificate b")
    check_eq(served_fingerprint(relay.tunnel_port), pem_fingerprint(b_cert),
             "and on the tunnel port")
    relay.proc.check_alive("keeps running after SIGHUP")
    check_eq(https(relay.port, "POST", "/t/alice/two", body=b"2", host=HOST)[2], b"got 2",
             "a webhook after the reload flows through the same agent")
    m = relay.metrics(True)
    check_eq(connects(m), 1.0, "the agent did not reconnect (agent connects still 1)")
    check_eq(reloads(m, "ok"), 1.0, "the reload is counted")
    check_eq(m.get(("hookwire_relay_channel_connected", (("channel", "alice"),))), 1.0,
             "alice is still connected")
    agent.check_alive("the agent keeps running")
    check_eq(agent.stdout().count("Forwarding "), 1, "the agent never reconnected")
    check_eq([r.body for r in target.requests], [b"1", b"2"], "the app got both webhooks")

    # A broken certificate on SIGHUP keeps the one in use.
    with open(cert, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    relay.hup()
    wait_until(lambda: reloads(relay.metrics(True), "failed") == 1.0, 10,
               "the broken reload is refused")
    check_eq(relay.log_count("keeping the running configuration"), 1,
             "one line says the running configuration stays")
    check_eq(relay.log_count("SIGHUP: --tls-cert %s: no PEM certificate in it" % cert), 1,
             "the line names the option, the file and what is wrong with it")
    check_eq(served_fingerprint(relay.port), pem_fingerprint(b_cert),
             "new connections still get certificate b")
    # A key file gone (a renewal hook half done): named with the system's reason.
    install(b_key, b_cert, key, cert)
    os.unlink(key)
    relay.hup()
    wait_until(lambda: reloads(relay.metrics(True), "failed") == 2.0, 10,
               "the reload without a key is refused")
    check_eq(relay.log_count("SIGHUP: --tls-key %s: No such file or directory: keeping the "
                             "running configuration" % key), 1, "the missing key is named")
    # The key of another certificate.
    install(a_key, b_cert, key, cert)
    relay.hup()
    wait_until(lambda: reloads(relay.metrics(True), "failed") == 3.0, 10,
               "the reload with a mismatched key is refused")
    check_eq(relay.log_count("SIGHUP: --tls-key %s is not the key of the certificate in "
                             "--tls-cert %s" % (key, cert)), 1, "the mismatch is named")
    check_eq(served_fingerprint(relay.port), pem_fingerprint(b_cert),
             "new connections still get certificate b")
    check_eq(https(relay.port, "POST", "/t/alice/three", body=b"3", host=HOST)[2], b"got 3",
             "webhooks still flow")
    check_eq(connects(relay.metrics(True)), 1.0, "still the same agent connection")


def sign(secret, body):
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def write_config(path, secret_line):
    with open(path + ".new", "w") as f:
        f.write("[relay]\nmetrics-channels = true\n\n[channel alice]\nverify = github\n%s\n"
                % secret_line)
    os.replace(path + ".new", path)


def case_sighup_channel_sections(env):
    conf = env.path("relay.ini")
    write_config(conf, "secret = old-secret-0123456789")
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = Relay(env, store, ["--config", conf])
    target = env.target(lambda req: Reply(200, "OK", [], b"ok"))
    agent = Proc(env, "agent", [AGENT_BIN, "--relay", "ws://127.0.0.1:%d" % relay.tunnel_port,
                                "--forward", str(target.port)], {"HOOKWIRE_TOKEN": token})
    wait_until(lambda: "Forwarding " in agent.stdout(), 10, "the agent is up")

    def post(secret):
        body = os.urandom(16).hex().encode()
        return request(relay.port, "POST", "/t/alice/gh", [
            ("Host", HOST.decode()), ("X-Hub-Signature-256", sign(secret, body)),
            ("X-GitHub-Event", "push"), ("Connection", "close")], body).status

    old, new = b"old-secret-0123456789", b"new-secret-9876543210"
    check_eq((post(old), post(new)), (200, 401), "before: the old secret verifies")

    # A broken [channel] section: refused, the old one stays.
    write_config(conf, "secret = new-secret-9876543210\nfrobnicate = yes")
    relay.hup()
    wait_until(lambda: reloads(relay.metrics(False), "failed") == 1.0, 10,
               "the broken config is refused")
    check_eq(relay.log_count("keeping the running configuration"), 1,
             "one line says the running configuration stays")
    line = [l for l in relay.proc.stderr().splitlines() if "keeping the running" in l][0]
    check(" ERROR relay: SIGHUP: %s:" % conf in line and "frobnicate" in line,
          "the log line names the file, its line and the bad key", line)
    relay.proc.check_alive("keeps running")
    check_eq((post(old), post(new)), (200, 401), "after a broken reload: still the old secret")

    # A good one: applied, with the agent still connected.
    write_config(conf, "secret = new-secret-9876543210")
    relay.hup()
    wait_until(lambda: reloads(relay.metrics(False), "ok") == 1.0, 10, "the new config loads")
    check_eq((post(old), post(new)), (401, 200), "after the reload: the new secret verifies")
    m = relay.metrics(False)
    check_eq(connects(m), 1.0, "the agent did not reconnect")
    check_eq(agent.stdout().count("Forwarding "), 1, "the agent never reconnected")
    agent.check_alive("the agent keeps running")

    # [relay] options that take a restart: applied on none, and named.
    with open(conf + ".new", "w") as f:
        f.write("[relay]\nmetrics-channels = true\nmax-streams = 7\nheartbeat = 3s\n\n"
                "[channel alice]\nverify = github\nsecret = new-secret-9876543210\n")
    os.replace(conf + ".new", conf)
    relay.hup()
    wait_until(lambda: reloads(relay.metrics(False), "ok") == 2.0, 10, "the config reloads")
    check_eq(relay.log_count("SIGHUP: changed in the configuration, not applied until a "
                             "restart: heartbeat, max-streams"), 1,
             "the options that take a restart are named")
    check_eq(post(new), 200, "the channel sections still apply")


if __name__ == "__main__":
    run([case_sighup_new_certificate, case_sighup_channel_sections])
