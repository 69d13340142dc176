"""Certificates for the HTTPS targets of the e2e tests, made by `openssl` in the case's
directory: a test CA and a server certificate it signs, or a self-signed one; the server
side ssl.SSLContext a Target serves HTTPS with; a relay with TLS on both ports and one raw
HTTPS request to it."""

import socket
import ssl
import subprocess

from harness import RELAY_BIN, Proc, free_port
from hw_checks import check, wait_until


def _openssl(args, what):
    r = subprocess.run(["openssl"] + args, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "openssl " + what, r.stderr)


def self_signed(env, tag, san="DNS:localhost,IP:127.0.0.1"):
    """A self-signed server certificate; returns (key path, cert path)."""
    key, cert = env.path(tag + "-key.pem"), env.path(tag + "-cert.pem")
    _openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
              "-days", "2", "-subj", "/CN=" + tag, "-addext", "subjectAltName=" + san],
             "makes a self-signed certificate")
    return key, cert


def ca_signed(env, tag, san="DNS:localhost,IP:127.0.0.1"):
    """A test CA and a server certificate it signed for san; returns (key, cert, ca cert)."""
    ca_key, ca = env.path(tag + "-ca-key.pem"), env.path(tag + "-ca.pem")
    key, csr, cert = (env.path(tag + "-key.pem"), env.path(tag + ".csr"),
                      env.path(tag + "-cert.pem"))
    ext = env.path(tag + ".ext")
    _openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
              "-days", "2", "-subj", "/CN=hookwire test CA " + tag], "makes a test CA")
    _openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
              "-subj", "/CN=" + tag], "makes a certificate request")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n" % san)
    _openssl(["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
              "-out", cert, "-days", "2", "-extfile", ext], "signs the server certificate")
    return key, cert, ca


def server_context(key, cert):
    """The server side of a Target that speaks HTTPS with this certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def https(port, method, path, headers=(), body=b"", cafile=None, alpn=None, host=b"localhost"):
    """One HTTPS request with raw bytes on a fresh connection to 127.0.0.1:port (Connection:
    close, the whole answer read). With cafile the server must show a certificate for
    localhost that cafile vouches for; without, any certificate is taken (for cases that
    compare the certificate themselves). alpn: protocols to offer. Returns (status, raw
    head, body)."""
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    head = b"%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n" % (
        method.encode(), path.encode(), host, len(body))
    for k, v in headers:
        head += b"%s: %s\r\n" % (k.encode(), v.encode())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(head + b"\r\n" + body)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    h, _, rest = data.partition(b"\r\n\r\n")
    return int(h.split(b" ")[1]), h, rest


class TlsRelay:
    """A relay with TLS on both ports (--tls-cert cert --tls-key key, then args) and a
    SQLite store; up once /healthz answers over HTTPS with a certificate cert vouches for."""

    def __init__(self, env, store, key, cert, args=()):
        self.port, self.tunnel_port = free_port(), free_port()
        self.cert = cert
        self.proc = Proc(env, "relay", [
            RELAY_BIN, "--listen", "127.0.0.1:%d" % self.port, "--tunnel-listen",
            "127.0.0.1:%d" % self.tunnel_port, "--store", "sqlite:" + store, "--tls-cert", cert,
            "--tls-key", key] + list(args))

        def up():
            self.proc.check_alive("the TLS relay is running")
            try:
                return https(self.port, "GET", "/healthz", cafile=cert)[0] == 200
            except OSError:
                return False
        wait_until(up, 10, "the relay answers /healthz over HTTPS")

    @property
    def ws_url(self):
        return "wss://localhost:%d" % self.tunnel_port
