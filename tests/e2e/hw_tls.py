"""Certificates for the HTTPS targets of the e2e tests, made by `openssl` in the case's
directory: a test CA and a server certificate it signs, or a self-signed one; and the server
side ssl.SSLContext a Target serves HTTPS with."""

import ssl
import subprocess

from hw_checks import check


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
