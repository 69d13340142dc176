#!/usr/bin/env python3
"""Delivery contract: a webhook reaches the target byte-exact.

The body (its sha256) and the header lines (name case, raw value, order,
duplicates) arrive as sent, minus hop-by-hop headers, plus the five documented
headers; a GitHub HMAC made at the sender verifies at the target.
"""

import hashlib
import hmac
import os
import random
import urllib.parse

from harness import (EVENT_ID_RE, LOCALHOST, HttpConn, Reply, build_request, check,
                     check_added_headers, check_eq, expected_forwarded_lines, head_lines, run,
                     sha256, split_header_line, wait_until)

PUBLIC_HOST = "hooks.example.test"


def github_headers(secret, body, extra=()):
    """Headers as GitHub sends them, plus hop-by-hop ones and awkward formatting."""
    sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return [
        ("Host", PUBLIC_HOST),
        ("User-Agent", "GitHub-Hookshot/7e3f9a1"),
        ("Accept", "*/*"),
        ("X-GitHub-Event", "push"),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-%012x" % random.getrandbits(48)),
        ("X-GitHub-Hook-ID", "292430182"),
        ("X-Hub-Signature-256", sig),
        b"x-lower-case-name: lower",
        b"X-UPPER-CASE-NAME: UPPER",
        b"X-mIxEd-CaSe: MiXeD",
        b"X-Dup: first",
        b"X-Other: between",
        b"x-dup: second",
        b"X-DUP: third",
        b"X-Spaces:    padded   value  ",
        b"X-Tabs:\tTab\tInside\t",
        b"X-No-Space:tight",
        b"X-Empty:",
        b"X-Commas: a, b,,c ,",
        b"X-Quoted: \"quoted; value\", other=\"x,y\"",
        b"Connection: keep-alive, X-Hop-Named",
        b"X-Hop-Named: must not be forwarded",
        b"Keep-Alive: timeout=5, max=100",
        b"Proxy-Connection: keep-alive",
        b"TE: trailers",
        b"Trailer: X-Checksum",
        b"Upgrade: h2c",
        b"X-After-Hop: still here",
    ] + list(extra) + [("Content-Type", "application/json")]


def deliver(relay, target, path, headers, body, what, chunks=None, expect_line=None):
    """Sends one webhook, checks what the target saw, returns (response, recorded request)."""
    before = target.count()
    raw = build_request("POST", "/t/alice" + path, headers, body, chunks=chunks)
    sent = head_lines(raw)
    with HttpConn(relay.port) as c:
        c.send(raw)
        resp = c.read_response("POST")
    check_eq(resp.status, 200, what + ": status of the answer")
    got = target.wait_requests(before + 1)
    check_eq(len(got), before + 1, what + ": the target got exactly one request")
    req = got[-1]
    check_eq(req.request_line, (expect_line or "POST %s HTTP/1.1" % (path or "/")).encode(),
             what + ": request line at the target")
    check_eq(len(req.body), len(body), what + ": body length at the target")
    check_eq(sha256(req.body), sha256(body), what + ": body sha256 at the target")
    want = expected_forwarded_lines(sent)
    lines = list(req.header_lines)
    if chunks is not None:
        # The relay de-chunks, so the target must be told the length instead.
        cl = [l for l in lines if split_header_line(l)[0].lower() == "content-length"]
        check_eq(cl, [b"Content-Length: %d" % len(body)], what + ": Content-Length added")
        lines.remove(cl[0])
        check(not req.chunked, what + ": the target does not get chunked framing")
    n = len(want)
    check_eq(lines[:n], want, what + ": header lines at the target (original part)")
    host = next(split_header_line(l)[1] for l in sent
                if split_header_line(l)[0].lower() == "host")
    eid = check_added_headers(lines[n:], host, what)
    check_eq(resp.header("X-Seen-Event-Id"), eid, what + ": the answer is the target's")
    return resp, req


def signing_target_handler(secret):
    """The target checks X-Hub-Signature-256 the way a GitHub app does."""

    def handle(req):
        sig = req.header("X-Hub-Signature-256") or ""
        good = "sha256=" + hmac.new(secret, req.body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(sig.encode(), good.encode())
        return Reply(200, "OK", [("X-Signature", "valid" if ok else "invalid"),
                      ("X-Seen-Event-Id", req.header("Hookwire-Event-Id") or "")],
                     b"verified" if ok else b"bad signature")
    return handle


def case_github_signed(env):
    secret = os.urandom(32)
    relay, target, agent = env.stack(handler=signing_target_handler(secret))
    body = (b'{"ref":"refs/heads/main","before":"0000","after":"1a2b","repository":'
            b'{"full_name":"octo/hello","private":false},"pusher":{"name":"octocat"},'
            b'"head_commit":{"message":"Fix \\u00e9l\\u00e8ve \xc3\xa9","id":"1a2b"}}')
    resp, req = deliver(relay, target, "/github/push?source=gh&x=1",
                        github_headers(secret, body), body, "GitHub push")
    check_eq(resp.header("X-Signature"), "valid", "signature verified at the target")
    check_eq(resp.body, b"verified", "target's body comes back")
    eid = req.header("Hookwire-Event-Id")
    # The agent logs one line per request, with the status and the event id.
    wait_until(lambda: any("POST /github/push?source=gh&x=1 200" in l and "evt=" + eid in l
                           for l in agent.proc.stderr().splitlines()),
               5, "the agent's log line for %s" % eid)

    # A tampered body must not verify: proves the target really checks the HMAC.
    resp, _ = deliver(relay, target, "/github/push", github_headers(secret, body), body + b" ",
                      "tampered push")
    check_eq(resp.header("X-Signature"), "invalid", "a tampered body fails verification")


def case_bodies(env):
    secret = os.urandom(32)
    relay, target, agent = env.stack(handler=signing_target_handler(secret))
    form = urllib.parse.urlencode([("payload", '{"a": "b & c = d"}'), ("name", "élève"),
                                   ("empty", ""), ("plus", "1+1=2"), ("name", "dup")]).encode()
    bodies = [
        ("empty body", b"", []),
        ("empty body, explicit Content-Length: 0", b"", [b"Content-Length: 0"]),
        ("5 MiB binary body", os.urandom(5 * 1024 * 1024),
         [("Content-Type", "application/octet-stream")]),
        ("form-encoded body", form, [("Content-Type", "application/x-www-form-urlencoded")]),
        ("CRLFs and trailing spaces", b"line one  \r\nline two\t\r\n\r\n  \r\n trailing   \r\n\r\n",
         [("Content-Type", "text/plain; charset=utf-8")]),
        ("NUL bytes and high bytes", bytes(range(256)) * 3, []),
    ]
    seen = set()
    for what, body, extra in bodies:
        headers = github_headers(secret, body, extra)
        resp, req = deliver(relay, target, "/hook", headers, body, what)
        check_eq(resp.header("X-Signature"), "valid", what + ": signature verified")
        eid = req.header("Hookwire-Event-Id")
        check(eid not in seen, what + ": a new event id per webhook", eid)
        seen.add(eid)


def case_chunked_request(env):
    secret = os.urandom(32)
    relay, target, agent = env.stack(handler=signing_target_handler(secret))
    body = os.urandom(300 * 1024) + b"\r\n0\r\n\r\n tail that looks like a last chunk"
    headers = github_headers(secret, body)
    headers = [h for h in headers if not (isinstance(h, bytes) and h.startswith(b"Trailer"))]
    headers.append(("Transfer-Encoding", "chunked"))
    resp, req = deliver(relay, target, "/chunked", headers, body, "chunked request",
                        chunks=[1, 7, 4096, 65536, 100000, 3])
    check_eq(resp.header("X-Signature"), "valid", "chunked request: signature verified")


def case_query_and_paths(env):
    relay, target, agent = env.stack()
    cases = [
        ("/t/alice", "/"),
        ("/t/alice?x=1", "/?x=1"),
        ("/t/alice/", "/"),
        ("/t/alice/?x=1", "/?x=1"),
        ("/t/alice/a/b/c", "/a/b/c"),
        ("/t/alice/a%20b/c?q=1&q=2&empty=&enc=%2F%3F&utf=%C3%A9&up=../x",
         "/a%20b/c?q=1&q=2&empty=&enc=%2F%3F&utf=%C3%A9&up=../x"),
        ("/t/alice/deep/path/?a=1?b=2&c", "/deep/path/?a=1?b=2&c"),
        # Paths an app would normalise into others ("//x", "%2F", "..") are refused, as the
        # receiver refuses them: 65-request-edges.py.
    ]
    with HttpConn(relay.port) as c:
        for public, forwarded in cases:
            before = target.count()
            resp = c.request("GET", public, [("Host", PUBLIC_HOST)])
            check_eq(resp.status, 200, "GET %s: status" % public)
            req = target.wait_requests(before + 1)[-1]
            check_eq(req.request_line, ("GET %s HTTP/1.1" % forwarded).encode(),
                     "GET %s is forwarded as %s" % (public, forwarded))
            check_eq(req.body, b"", "GET %s: no body" % public)


def case_methods(env):
    relay, target, agent = env.stack()
    with HttpConn(relay.port) as c:
        for method, body in (("PUT", b"put body"), ("PATCH", b"{}"), ("DELETE", b""),
                             ("OPTIONS", b""), ("GET", b"")):
            before = target.count()
            resp = c.request(method, "/t/alice/m", [("Host", PUBLIC_HOST)], body)
            check_eq(resp.status, 200, "%s: status" % method)
            req = target.wait_requests(before + 1)[-1]
            check_eq(req.request_line, ("%s /m HTTP/1.1" % method).encode(),
                     "%s: request line" % method)
            check_eq(req.body, body, "%s: body" % method)


def case_host_header(env):
    """Host stays the public host by default; --host-header rewrite sets the target's."""
    relay, target, agent = env.stack()
    resp = relay.webhook("POST", "/t/alice/h", [("Host", PUBLIC_HOST)], b"x")
    check_eq(resp.status, 200, "keep: status")
    req = target.wait_requests(1)[-1]
    check_eq(req.header_values("Host"), [PUBLIC_HOST], "keep: Host is the public host")

    agent.stop()
    wait_until(lambda: not relay.channel_connected("alice"), 5, "alice disconnected")
    env.agent(relay, agent.token, "alice", "http://%s:%d" % (LOCALHOST, target.port),
                       args=["--host-header", "rewrite"], name="agent-rewrite")
    resp = relay.webhook("POST", "/t/alice/h", [("Host", PUBLIC_HOST)], b"x")
    check_eq(resp.status, 200, "rewrite: status")
    req = target.wait_requests(2)[-1]
    check_eq(req.header_values("Host"), ["%s:%d" % (LOCALHOST, target.port)],
             "rewrite: Host is the target's")
    check_eq(req.header("X-Forwarded-Host"), PUBLIC_HOST,
             "rewrite: X-Forwarded-Host keeps the public host")
    check(EVENT_ID_RE.match(req.header("Hookwire-Event-Id") or ""), "rewrite: event id")


if __name__ == "__main__":
    run([case_github_signed, case_bodies, case_chunked_request, case_query_and_paths,
         case_methods, case_host_header])
