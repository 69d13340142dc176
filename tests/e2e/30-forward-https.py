#!/usr/bin/env python3
"""The agent forwards to an https:// app: with --forward-insecure (or forward-insecure = true
in the config file) a self-signed app gets each webhook byte for byte and the sender gets the
app's answer byte for byte, large bodies both ways, over one kept-alive TLS connection, and
an app that drops its connections after each answer loses none; the connect deadline covers
the TLS handshake, and an app that answers in plain HTTP is named as such.
Without it the certificate is checked: a self-signed app is refused (the sender gets 502
HW_LOCAL_REFUSED, the agent logs the certificate's problem and keeps serving), an app whose
CA the agent trusts (the system store, here SSL_CERT_FILE) is accepted by name, and refused
when reached by an address its certificate does not name."""

import os
import socket
import threading
import time

from harness import (AGENT_BIN, Agent, HttpConn, Proc, Reply, build_request, check, check_eq,
                     check_error, expected_forwarded_lines, head_lines, run, sha256, token_add,
                     wait_until)
from hw_tls import ca_signed, self_signed, server_context

HOST = ("Host", "hooks.example.test")


def echo(req):
    """Answers with what arrived: the body's hash and size, and a large body on /big."""
    if req.target.startswith("/big"):
        body = bytes(range(256)) * 12289  # a bit over 3 MiB: many TLS records, paced
        return Reply(200, "OK", [("Content-Type", "application/octet-stream"), b"X-Big: yes"],
                     body)
    return Reply(201, "Made Here", [b"x-Lower: v1", ("X-Sha", sha256(req.body)),
                                    b"Set-Cookie: a=1", b"set-cookie: b=2"],
                 b"got " + str(len(req.body)).encode() + b" " + req.body[:32])


def start(env, forward, args=(), extra_env=None, name="agent"):
    """A relay of its own, a token and an agent forwarding to `forward`, with extra_env added
    to the agent's environment; returns (relay, agent) once the tunnel is up."""
    store = env.path(name + "-relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store, name=name + "-relay")
    a = Agent(env, relay, token, "alice", forward, name=name)
    a.proc = Proc(env, name, [AGENT_BIN, "--forward", forward, "--relay", relay.ws_url]
                  + list(args), dict(extra_env or {}, HOOKWIRE_TOKEN=token))
    return relay, a.wait_ready()


def send_and_check(relay, target, c, i, body, what):
    headers = [HOST, b"X-Case: Keep Me", ("Content-Type", "application/octet-stream"),
               b"x-dup: 1", b"X-Dup: 2"]
    resp = c.request("POST", "/t/alice/in/%d?q=%d" % (i, i), headers, body)
    check_eq(resp.status, 201, what + ": the app's status")
    check_eq(resp.reason, "Made Here", what + ": the app's reason phrase")
    check_eq([l for l in resp.header_lines if l.lower().startswith((b"x-", b"set-cookie"))],
             [b"x-Lower: v1", b"X-Sha: " + sha256(body).encode(), b"Set-Cookie: a=1",
              b"set-cookie: b=2"], what + ": the app's header lines")
    check_eq(resp.body, b"got %d " % len(body) + body[:32], what + ": the app's body")
    req = target.wait_requests(i + 1)[i]
    check_eq(req.target, "/in/%d?q=%d" % (i, i), what + ": path and query at the app")
    sent = head_lines(build_request("POST", "/", headers, body))
    check_eq(req.header_lines[:len(sent)], expected_forwarded_lines(sent),
             what + ": header lines at the app, in order, as sent")
    check_eq(req.body, body, what + ": body at the app, byte for byte")


def case_insecure_self_signed(env):
    key, cert = self_signed(env, "app")
    target = env.target(echo, tls=server_context(key, cert))
    relay, agent = start(env, "https://localhost:%d" % target.port,
                         ["--forward-insecure"])
    bodies = [b"first", os.urandom(1 << 20), b"", os.urandom(70000), b"last"]
    with HttpConn(relay.port) as c:
        for i, body in enumerate(bodies):
            send_and_check(relay, target, c, i, body, "webhook %d over https" % i)
        resp = c.request("GET", "/t/alice/big", [HOST])
        check_eq(resp.status, 200, "large answer: status")
        check_eq(resp.body, bytes(range(256)) * 12289, "large answer: body byte for byte")
    check_eq(target.connections, 1, "every request went over one kept-alive TLS connection")
    check_eq(target.tls_failures, [], "no handshake failed")
    check("certificate" not in agent.proc.stderr(), "no certificate complaint in the log",
          agent.proc.stderr())


def case_app_drops_connections(env):
    """An app that closes each TLS connection after answering, unannounced (no close_notify,
    no Connection: close), and one whose answer's end is the close itself."""
    def handle(req):
        if req.target == "/until-close":
            return Reply(200, "OK", [b"X-Framing: close"], b"body ends at the close " * 500,
                         auto_length=False, close=True)
        return Reply(200, "OK", [("X-Sha", sha256(req.body))], req.body[::-1], close=True)

    key, cert = self_signed(env, "app")
    target = env.target(handle, tls=server_context(key, cert))
    relay, agent = start(env, "https://localhost:%d" % target.port, ["--forward-insecure"])
    with HttpConn(relay.port) as c:
        for i in range(6):
            body = os.urandom(1000 * i)
            resp = c.request("POST", "/t/alice/drop/%d" % i, [HOST], body)
            check_eq((resp.status, resp.header("X-Sha"), resp.body),
                     (200, sha256(body), body[::-1]),
                     "request %d after the app dropped the last connection" % i)
        resp = c.request("GET", "/t/alice/until-close", [HOST])
        check_eq((resp.status, resp.body), (200, b"body ends at the close " * 500),
                 "an answer framed by the close of its TLS connection")
    check_eq(target.count(), 7, "each request reached the app once")


def case_handshake_deadline(env):
    """An app that takes the connection and never answers the ClientHello: the agent's connect
    deadline (5 s) covers the handshake, and the sender gets 504 HW_LOCAL_TIMEOUT."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held = []
    try:
        relay, agent = start(env, "https://127.0.0.1:%d" % silent.getsockname()[1],
                             ["--forward-insecure"])
        t0 = time.monotonic()
        resp = relay.webhook("POST", "/t/alice/silent", [HOST], b"{}")
        took = time.monotonic() - t0
        check_error(resp, 504, "HW_LOCAL_TIMEOUT", "an app silent after the TCP connect")
        check(4 <= took < 9, "the agent's 5 s connect deadline ended it, not the relay's 10 s",
              took)
        silent.settimeout(5)
        held.append(silent.accept()[0])
        line = wait_until(lambda: [l for l in agent.proc.stderr().splitlines()
                                   if "POST /silent failed:" in l], 5, "the agent's log line")
        check("TLS handshake timeout" in line[0], "the log line says the handshake timed out",
              line[0])
    finally:
        for c in held:
            c.close()
        silent.close()


def case_plain_app(env):
    """https:// given for an app that speaks plain HTTP (it answers the ClientHello with a 400):
    502 HW_LOCAL_REFUSED, and the log says what happened."""
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.bind(("127.0.0.1", 0))
    plain.listen(8)
    plain.settimeout(10)
    served = []

    def serve():
        try:
            conn, _ = plain.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            served.append(conn.recv(4096))
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        relay, agent = start(env, "https://127.0.0.1:%d" % plain.getsockname()[1])
        resp = relay.webhook("POST", "/t/alice/plain", [HOST], b"{}")
        check_error(resp, 502, "HW_LOCAL_REFUSED", "https:// to a plain HTTP app")
        th.join(10)
        check(served and served[0][:1] == b"\x16", "the app got a TLS ClientHello", served)
        line = wait_until(lambda: [l for l in agent.proc.stderr().splitlines()
                                   if "POST /plain failed:" in l], 5, "the agent's log line")
        check("TLS handshake failed: the peer answered in plain HTTP, not TLS" in line[0],
              "the log line says the app speaks plain HTTP", line[0])
    finally:
        plain.close()


def case_config_file(env):
    key, cert = self_signed(env, "app")
    target = env.target(echo, tls=server_context(key, cert))
    ini = env.path("agent.ini")
    with open(ini, "w") as f:
        f.write("[agent]\nforward-insecure = true\n")
    relay, agent = start(env, "https://127.0.0.1:%d" % target.port, ["--config", ini])
    with HttpConn(relay.port) as c:
        send_and_check(relay, target, c, 0, b'{"from":"ini"}', "forward-insecure from the INI")


def case_verify_refuses_self_signed(env):
    key, cert = self_signed(env, "app")
    target = env.target(echo, tls=server_context(key, cert))
    relay, agent = start(env, "https://localhost:%d" % target.port)
    for i in range(2):
        resp = relay.webhook("POST", "/t/alice/refused", [HOST], b"{}")
        check_error(resp, 502, "HW_LOCAL_REFUSED",
                    "a self-signed app without --forward-insecure (%d)" % i)
    line = wait_until(lambda: [l for l in agent.proc.stderr().splitlines()
                               if "POST /refused failed:" in l], 5,
                      "the agent's log line for the refused certificate")
    check("certificate verify failed: self-signed certificate" in line[0],
          "the log line names the certificate's problem", line[0])
    check_eq(target.count(), 0, "the app never got the webhook")
    # The app's side notes a failed handshake when its thread sees the close, which may come
    # after the relay has answered.
    wait_until(lambda: len(target.tls_failures) >= 2, 5,
               "each attempt's handshake was refused by the agent")
    check_eq(len(target.tls_failures), 2, "one refused handshake per attempt")
    agent.proc.check_alive("keeps serving after refusing a certificate")


def case_verify_trusted_ca(env):
    key, cert, ca = ca_signed(env, "app", "DNS:localhost")
    target = env.target(echo, tls=server_context(key, cert))
    # The system store, as OpenSSL finds it: SSL_CERT_FILE points it at the test's CA.
    relay, agent = start(env, "https://localhost:%d" % target.port,
                         extra_env={"SSL_CERT_FILE": ca})
    with HttpConn(relay.port) as c:
        send_and_check(relay, target, c, 0, os.urandom(5000), "a trusted CA, the right name")
    relay2, agent2 = start(env, "https://127.0.0.1:%d" % target.port,
                           extra_env={"SSL_CERT_FILE": ca}, name="agent-by-ip")
    resp = relay2.webhook("POST", "/t/alice/by-ip", [HOST], b"{}")
    check_error(resp, 502, "HW_LOCAL_REFUSED", "a certificate that does not name 127.0.0.1")
    line = wait_until(lambda: [l for l in agent2.proc.stderr().splitlines()
                               if "POST /by-ip failed:" in l], 5,
                      "the agent's log line for the wrong name")
    check("certificate verify failed: IP address mismatch" in line[0],
          "the log line says the address does not match", line[0])
    check_eq(target.count(), 1, "only the first webhook reached the app")


if __name__ == "__main__":
    run([case_insecure_self_signed, case_app_drops_connections, case_handshake_deadline,
         case_plain_app, case_config_file, case_verify_refuses_self_signed,
         case_verify_trusted_ca])
