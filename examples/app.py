#!/usr/bin/env python3
"""A small sample app for port 3000: logs every request it receives and
checks GitHub's X-Hub-Signature-256 with the secret in GITHUB_WEBHOOK_SECRET,
so you can see that a signature made by the sender survives the tunnel.

    GITHUB_WEBHOOK_SECRET=s3cret python3 examples/app.py [--port 3000]

Answers 200 {"verified": true} for a valid signature, 401 for a bad one, and
200 {"verified": null} when the request carries no GitHub signature.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hookwire-sample-app"

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sig = self.headers.get("X-Hub-Signature-256")
        secret = os.environ.get("GITHUB_WEBHOOK_SECRET", "")
        verified = None
        if sig is not None:
            mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            verified = hmac.compare_digest(sig, "sha256=" + mac)
        print("app: %s %s, %d bytes, event %s, signature %s" % (
            self.command, self.path, len(body), self.headers.get("Hookwire-Event-Id", "-"),
            {None: "absent", True: "VERIFIED", False: "INVALID"}[verified]), flush=True)
        out = json.dumps({"verified": verified, "bytes": len(body)}).encode() + b"\n"
        self.send_response(401 if verified is False else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    print("app: listening on http://%s:%d" % (args.host, args.port), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
