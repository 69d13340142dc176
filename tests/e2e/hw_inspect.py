"""Helpers for the inspector's tests: a stack (relay with edge verification on one
channel, a recording app, an agent with its inspector on a free loopback port) and calls
to the inspector's JSON API."""

import hashlib
import hmac
import json
import os

from harness import LOCALHOST, check, free_port, request, token_add, wait_until

SECRET = b"inspector-edge-secret"


def github_headers(body, tamper=False):
    """A GitHub webhook's header lines, signed with SECRET (or a wrong signature)."""
    sig = hmac.new(SECRET + (b"x" if tamper else b""), body, hashlib.sha256).hexdigest()
    return [("Host", "hooks.test"), ("User-Agent", "GitHub-Hookshot/inspector"),
            ("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "d-%s" % os.urandom(6).hex()),
            ("X-Hub-Signature-256", "sha256=" + sig), ("Content-Type", "application/json")]


class Inspector:
    """The relay, app and agent of one case, with the agent's inspector at self.port."""

    def __init__(self, env, channel="alice", handler=None, relay_args=(), forward_path=""):
        store = env.path("relay.db")
        conf = env.path("relay.ini")
        with open(env.path("edge.secret"), "wb") as f:
            f.write(SECRET + b"\n")
        with open(conf, "w") as f:
            f.write("[channel %s]\nverify = github\nsecret = file:%s\nenforce = true\n" %
                    (channel, env.path("edge.secret")))
        self.channel = channel
        self.token = token_add(env, store, channel)
        self.relay = env.relay(store=store, args=["--config", conf] + list(relay_args))
        self.app = env.target(handler)
        self.port = free_port()
        forward = ("http://%s:%d%s" % (LOCALHOST, self.app.port, forward_path) if forward_path
                   else self.app.port)
        self.agent = env.agent(self.relay, self.token, channel, forward,
                               args=["--inspect", "%s:%d" % (LOCALHOST, self.port)])
        wait_until(lambda: self.call("GET", "/").status == 200, 10, "the inspector answers")

    @property
    def url(self):
        return "http://%s:%d/" % (LOCALHOST, self.port)

    def call(self, method, path, body=b"", headers=None):
        """A request to the inspector; with no headers given, its own Host and, for a method
        that changes something, the JSON content type the inspector requires."""
        hs = headers
        if hs is None:
            hs = [("Host", "%s:%d" % (LOCALHOST, self.port))]
            if method not in ("GET", "HEAD"):
                hs.append(("Content-Type", "application/json"))
        return request(self.port, method, path, hs + [("Connection", "close")], body)

    def json(self, method, path, body=b"", status=200):
        r = self.call(method, path, body)
        check(r.status == status, "%s %s answers %d" % (method, path, status),
              "got %d: %r" % (r.status, r.body[:300]))
        return json.loads(r.body)

    def webhook(self, path, body, tamper=False):
        return self.relay.webhook("POST", "/t/%s%s" % (self.channel, path),
                                  github_headers(body, tamper), body)

    def capture(self, event_id, done=True, kind=None):
        """Waits for the inspector's record of an exchange of event_id; returns its row."""
        def find():
            for row in self.json("GET", "/api/captures")["captures"]:
                if (row["id"] == event_id and (row["done"] or not done) and
                        (kind is None or row["kind"] == kind)):
                    return row
            return None
        return wait_until(find, 10, "the inspector records %s (%s)" % (event_id, kind))


def raw(s):
    """A JSON string the inspector wrote byte by byte (\\u00XX is a byte) as bytes."""
    return s.encode("latin-1")
