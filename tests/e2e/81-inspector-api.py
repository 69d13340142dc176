#!/usr/bin/env python3
"""The agent's web inspector, its JSON API and its address checks.

A webhook through relay and agent is recorded by the inspector with the head and body the
app received and the app's answer; the relay's history pages through /api/events; the
event stream carries each exchange and stays open while idle, and streams whose clients do
not read are cut so that a new one is served; a webhook the relay kept
while the agent was away shows as queued; one event's detail merges the relay's record and
the exchanges seen here. Replay as is goes through the relay (a new attempt, same bytes);
an edited replay reaches the app with its edited body, also for an event this agent never
saw (method and target from the relay). Unknown ids answer 404, a bad edited replay 400, a
foreign Host or Origin 403, a second Origin or a cross-site Sec-Fetch-Site 403, a replay not
sent as application/json 415. A webhook with a bad signature, one the app did not answer in
time, and one sent while no agent was connected (--offline reject) show in /api/refused
with their reasons. A non-loopback --inspect is refused at startup without
--inspect-allow-remote; --inspect off listens on nothing; a port in use is one warning line
and the agent still forwards.
"""

import base64
import json
import os
import re
import socket
import subprocess
import threading
import time

from harness import (AGENT_BIN, LOCALHOST, Reply, check, check_eq, free_port, run, token_add,
                     wait_until)
from hw_inspect import Inspector, raw


def listening_sockets(pid):
    """The TCP ports process pid listens on (from /proc: its socket inodes in LISTEN)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:
                    ports.append(int(cols[1].split(":")[1], 16))
    return ports


def api(env):
    ins = Inspector(env)
    page = ins.call("GET", "/")
    check(b"<title>hookwire inspector</title>" in page.body, "/ serves the app's page")
    check_eq(ins.call("GET", "/app.js").status, 200, "the app's script is served")
    check_eq(ins.call("GET", "/nothing.js").status, 404, "an unknown asset is 404")

    body = b'{"action":"opened","n":1}'
    r = ins.webhook("/gh/hook?x=1", body)
    check_eq(r.status, 200, "the webhook is answered by the app")
    event_id = r.header("Hookwire-Event-Id") or ins.app.requests[-1].header("Hookwire-Event-Id")
    got = ins.app.requests[-1]
    row = ins.capture(event_id)
    check_eq((row["method"], row["path"], row["status"], row["kind"], row["verify"]),
             ("POST", "/gh/hook?x=1", 200, "live", "verified"), "the captured row")
    check_eq(row["size"], len(body), "the captured size")

    detail = ins.json("GET", "/api/events/%s" % event_id)
    cap = detail["captures"][0]
    check_eq(raw(cap["head"]), got.raw_head, "the detail's head is the one the app received")
    check_eq(base64.b64decode(cap["body_b64"]), got.body, "the detail's body is the app's")
    check(raw(cap["answer_head"]).startswith(b"HTTP/1.1 200 OK\r\n"), "the app's answer head")
    check_eq(base64.b64decode(cap["answer_b64"]), b"ok", "the app's answer body")
    check(detail["relay"] is not None and detail["relay"]["id"] == event_id,
          "the detail carries the relay's record", repr(detail)[:300])
    check("X-GitHub-Event: push\r\n" in detail["relay"]["headers"],
          "the relay's record has the header lines", detail["relay"]["headers"])
    check_eq(base64.b64decode(detail["body_b64"]), body, "the relay's copy of the body")

    events = ins.json("GET", "/api/events?limit=10")
    check(any(e["id"] == event_id for e in events["events"]), "/api/events lists the event")
    check_eq(ins.call("GET", "/api/events?limit=x!").status, 400, "a bad list argument is 400")
    check_eq(ins.call("GET", "/api/events?limit=100000").status, 400,
             "a limit the relay refuses is 400")

    # Unknown ids: well-formed but absent, and malformed.
    missing = "evt_01jbbbbbbbbbbbbbbbbbbbbbbb"
    check_eq(ins.call("GET", "/api/events/%s" % missing).status, 404, "an unknown id is 404")
    check_eq(ins.call("GET", "/api/events/evt_nope").status, 404, "a malformed id is 404")
    check_eq(ins.call("POST", "/api/events/%s/replay" % missing).status, 404,
             "replaying an unknown id is 404")
    check_eq(ins.call("POST", "/api/events/%s/replay" % missing,
                      json.dumps({"headers": "A: b", "body": "x"}).encode()).status, 404,
             "an edited replay of an unknown id is 404")
    check_eq(ins.call("GET", "/api/nothing").status, 404, "an unknown API is 404")
    check_eq(ins.call("POST", "/").status, 405, "POST of the page is 405")
    check_eq(ins.call("POST", "/nosuch").status, 404, "POST of no page is 404")
    r = ins.call("GET", "/style.css")
    check_eq((r.status, json.loads(r.body)), (404, {"error": "no such page"}),
             "an unknown page is 404, as JSON like every error")
    # The relay's refusal comes with its reason, not only its status.
    r = ins.call("GET", "/api/events?limit=0")
    check_eq(r.status, 400, "a limit the relay refuses is 400")
    err = json.loads(r.body)["error"]
    check(err.startswith("the relay answered 400: ") and len(err) > 26,
          "the 400 carries the relay's reason", err)
    # A path of the API with another method is 405, not "no such API"; HEAD reads as GET.
    for method, path in (("POST", "/api/info"), ("PUT", "/api/captures"),
                         ("DELETE", "/api/events"), ("POST", "/api/stream"),
                         ("GET", "/api/events/%s/replay" % missing)):
        r = ins.call(method, path)
        check_eq(r.status, 405, "%s %s is 405" % (method, path))
        check(b"method not allowed" in r.body, "%s %s: the 405 says why" % (method, path), r.body)
    r = ins.call("HEAD", "/api/info")
    check_eq((r.status, r.body), (200, b""), "HEAD /api/info: 200, the head alone")
    r = ins.call("PUT", "/api/info", headers=[("Host", "%s:%d" % (LOCALHOST, ins.port))])
    check_eq(r.status, 415, "a PUT without the JSON type is 415")
    check_eq(r.reason, "Unsupported Media Type", "the 415 has its reason phrase")

    # Edited replay: bad documents first.
    for bad in (b"{not json", b'{"headers": 3}', b'["headers"]', b'{"headers": "a"} x',
                b'{"headers": "X: y", "body": "\\ud800"}', b'{}', b'{"body": "x"}'):
        r = ins.call("POST", "/api/events/%s/replay" % event_id, bad)
        check_eq(r.status, 400, "edited replay %r is 400" % bad)
        check("JSON object" in json.loads(r.body)["error"], "the 400 says why, as JSON", r.body)
    r = ins.call("POST", "/api/events/%s/replay" % event_id,
                 json.dumps({"headers": "Bad Header Line\n", "body": ""}).encode())
    check_eq(r.status, 400, "edited header lines that are not HTTP are 400")
    # What a server refuses: two Host lines (an app could read either), a Host that is not one.
    for headers in ("Host: a\nHost: b", "Host: a,b", "Host: a:99999"):
        r = ins.call("POST", "/api/events/%s/replay" % event_id,
                     json.dumps({"headers": headers, "body": "x"}).encode())
        check_eq(r.status, 400, "an edited replay with %r is 400" % headers)
    n = len(ins.app.requests)
    check_eq(n, 1, "no bad replay reached the app")

    # Replay as is: through the relay, a new attempt with the same bytes.
    out = ins.json("POST", "/api/events/%s/replay" % event_id, status=202)
    check(out.get("replayed") is True, "the relay accepted the replay", repr(out))
    again = wait_until(lambda: len(ins.app.requests) >= 2 and ins.app.requests[1], 10,
                       "the replay reaches the app")
    check_eq(again.body, got.body, "the replayed body is the same bytes")
    strip = lambda lines: [l for l in lines if not l.lower().startswith(b"hookwire-attempt:")]
    check_eq(strip(again.header_lines), strip(got.header_lines),
             "the replayed header lines are the same (but the attempt number)")
    check_eq(again.header("Hookwire-Attempt"), "2", "the replay is attempt 2")
    ins.capture(event_id, kind="replayed")

    # Paging through the relay's history: two events, one per page, newest first.
    pages = []
    cursor = None
    while True:
        page = ins.json("GET", "/api/events?limit=1" + ("&cursor=%d" % cursor if cursor else ""))
        pages += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if not cursor or not page["events"]:
            break
    check_eq(len(pages), 1, "one stored event so far, on one page")

    # Edited replay: new body and a header changed, to the app directly.
    headers = raw(cap["head"]).split(b"\r\n", 1)[1].rstrip(b"\r\n").decode("latin-1")
    headers = headers.replace("X-GitHub-Event: push", "X-GitHub-Event: edited")
    edited = '{"action":"edited","n":2}'
    res = ins.json("POST", "/api/events/%s/replay" % event_id,
                   json.dumps({"headers": headers, "body": edited}).encode())
    check_eq(res["status"], 200, "the edited replay's answer status")
    third = wait_until(lambda: len(ins.app.requests) >= 3 and ins.app.requests[2], 10,
                       "the edited replay reaches the app")
    check_eq(third.body, edited.encode(), "the app gets the edited body")
    check_eq(third.header("X-GitHub-Event"), "edited", "the app gets the edited header")
    check_eq(third.header("Content-Length"), str(len(edited)), "the length is the edited body's")
    check_eq(third.target, "/gh/hook?x=1", "the edited replay keeps the request target")
    row = ins.capture(event_id, kind="edited")
    check_eq(row["seq"], res["seq"], "the edited replay is a new exchange in the list")
    second = ins.webhook("/gh/second", b'{"n":2}')
    check_eq(second.status, 200, "a second webhook is delivered")
    second_id = ins.app.requests[-1].header("Hookwire-Event-Id")
    ids = wait_until(lambda: [e["id"] for e in ins.json("GET", "/api/events")["events"]]
                     if len(ins.json("GET", "/api/events")["events"]) == 2 else None, 10,
                     "the relay lists both events")
    check_eq(ids, [second_id, event_id], "newest first")
    page = ins.json("GET", "/api/events?limit=1")
    check_eq([e["id"] for e in page["events"]], [second_id], "page 1 of 1 event")
    page = ins.json("GET", "/api/events?limit=1&cursor=%d" % page["next_cursor"])
    check_eq([e["id"] for e in page["events"]], [event_id], "page 2 continues with the older")

    # A refused webhook (bad signature at the edge) with its reason.
    r = ins.webhook("/gh/bad", b'{"forged":true}', tamper=True)
    check_eq(r.status, 401, "the tampered webhook is refused")
    refused = ins.json("GET", "/api/refused")["refused"]
    check(refused and refused[0]["reason"] == "bad signature" and refused[0]["status"] == 401,
          "the refusal shows with its reason", repr(refused)[:300])
    check(raw(refused[0]["head"]).startswith(b"POST /t/alice/gh/bad HTTP/1.1\r\n"),
          "the refusal keeps the request head")
    check_eq(base64.b64decode(refused[0]["body_b64"]), b'{"forged":true}', "and its body")

    # Another site's page must not read or replay: Host and Origin are checked.
    foreign = ins.call("GET", "/api/captures", headers=[("Host", "evil.test:%d" % ins.port)])
    check_eq(foreign.status, 403, "a foreign Host is 403")
    foreign = ins.call("GET", "/api/captures",
                       headers=[("Host", "%s:%d" % (LOCALHOST, ins.port)),
                                ("Origin", "http://evil.test")])
    check_eq(foreign.status, 403, "a foreign Origin is 403")


def cross_site(env):
    """A request that changes something comes only as JSON, from the inspector's own page:
    another content type is 415, a browser's Sec-Fetch-Site naming another site is 403 (but
    for a link followed to the page), and so is a second Origin line (a second Host is already
    400). None of them reaches the app or the relay."""
    ins = Inspector(env)
    r = ins.webhook("/gh/csrf", b'{"n":1}')
    check_eq(r.status, 200, "the webhook is delivered")
    event_id = ins.app.requests[-1].header("Hookwire-Event-Id")
    ins.capture(event_id)
    own = ("Host", "%s:%d" % (LOCALHOST, ins.port))
    origin = ("Origin", "http://%s:%d" % (LOCALHOST, ins.port))
    replay = "/api/events/%s/replay" % event_id
    edit = json.dumps({"headers": "Host: hooks.test", "body": "forged"}).encode()

    def refused(r, status, what, word):
        check_eq(r.status, status, what)
        check(word in json.loads(r.body)["error"], "the %d says why, as JSON" % status, r.body)

    refused(ins.call("POST", replay, edit, headers=[own, ("Content-Type", "text/plain")]), 415,
            "an edited replay as text/plain (a cross-site form can send it) is 415",
            "application/json")
    refused(ins.call("POST", replay, edit, headers=[own]), 415,
            "an edited replay with no Content-Type is 415", "application/json")
    refused(ins.call("POST", replay, headers=[own]), 415,
            "a replay as is with no Content-Type is 415", "application/json")
    refused(ins.call("POST", replay, headers=[own, ("Content-Type", "application/jsonx")]), 415,
            "a type that only begins with application/json is 415", "application/json")
    json_type = ("Content-Type", "application/json; charset=utf-8")
    for site in ("cross-site", "same-site"):
        refused(ins.call("POST", replay, headers=[own, json_type, ("Sec-Fetch-Site", site)]),
                403, "a replay with Sec-Fetch-Site: %s and no Origin is 403" % site,
                "Sec-Fetch-Site")
    refused(ins.call("GET", "/api/captures", headers=[own, ("Sec-Fetch-Site", "cross-site")]),
            403, "a cross-site read is 403 too", "Sec-Fetch-Site")
    page = ins.call("GET", "/", headers=[own, ("Sec-Fetch-Site", "cross-site"),
                                         ("Sec-Fetch-Mode", "navigate")])
    check_eq(page.status, 200, "a link to the inspector followed from another page opens it")
    refused(ins.call("GET", "/api/captures", headers=[own, ("Sec-Fetch-Site", "cross-site"),
                                                      ("Sec-Fetch-Mode", "navigate")]),
            403, "a navigation from another site does not read the API", "Sec-Fetch-Site")
    refused(ins.call("POST", replay, headers=[own, json_type, origin,
                                              ("Origin", "http://evil.test")]),
            403, "a second Origin line (another site's) is 403", "Origin")
    check_eq(len(ins.app.requests), 1, "no refused replay reached the app")
    check_eq(ins.json("GET", "/api/events/%s" % event_id)["relay"]["attempts"], 1,
             "no refused replay reached the relay")


def stream(env):
    """The server-sent event stream: a capture event per exchange, and an idle stream kept
    open past the server's 10 s answer-stall limit by its keep-alive comments."""
    ins = Inspector(env)
    sock = socket.create_connection((LOCALHOST, ins.port), timeout=10)
    sock.sendall(b"GET /api/stream HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (LOCALHOST.encode(),
                                                                        ins.port))
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        check(data, "the stream's head arrives")
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    check(head.startswith(b"HTTP/1.1 200"), "the stream is answered 200", head)
    check(b"Content-Type: text/event-stream" in head, "as text/event-stream", head)
    r = ins.webhook("/streamed", b'{"s":1}')
    check_eq(r.status, 200, "the webhook is delivered")
    start = time.monotonic()
    while buf.count(b"event: capture") < 2:
        data = sock.recv(4096)
        check(data, "the stream stays open while the exchange is sent", buf)
        buf += data
    check(b'"path":"/streamed"' in buf and b'"done":true' in buf,
          "the start and the end of the exchange come as capture events", buf)
    # Idle for longer than the server's answer-stall limit (10 s): the pings keep it open.
    while time.monotonic() - start < 12:
        data = sock.recv(4096)
        check(data, "the idle stream stays open past 10 s", "%.1fs" % (time.monotonic() - start))
        buf += data
    check(buf.count(b": ping") >= 2, "keep-alive comments arrive", buf[-200:])
    sock.close()


SSE_MAX = 32  # agent/inspect.c: event streams at once


def open_stream(ins):
    sock = socket.create_connection((LOCALHOST, ins.port), timeout=10)
    sock.sendall(b"GET /api/stream HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (LOCALHOST.encode(),
                                                                        ins.port))
    return sock


def stream_status(ins):
    """Opens a stream, reads its status, closes it: 200 (a slot was free) or 429."""
    sock = open_stream(ins)
    try:
        buf = b""
        while b"\r\n" not in buf:
            data = sock.recv(4096)
            check(data, "a status line for the stream", buf)
            buf += data
        return int(buf.split(b" ", 2)[1])
    finally:
        sock.close()


def stream_not_read(env):
    """Clients that open every event stream and never read cannot keep them while webhooks
    come: each stream whose client leaves its events untaken is closed with a log line, and
    a new stream is served again."""
    ins = Inspector(env)
    silent = [open_stream(ins) for _ in range(SSE_MAX)]
    try:
        wait_until(lambda: stream_status(ins) == 429, 10, "every stream slot is taken")
        # Two events of over 500 bytes each per webhook: some 400 KB for each stream, more
        # than a client's receive window and the 64 KiB a stream may leave untaken, and far
        # less than the kernel would hold for it on its own.
        for n in range(400):
            r = ins.webhook("/not-read/%d/%s" % (n, "p" * 400), b'{"n":1}')
            check_eq(r.status, 200, "the webhook is delivered")
        wait_until(lambda: stream_status(ins) == 200, 5,
                   "a new stream is served while the others do not read")
        check("event stream not read by its client" in ins.agent.proc.stderr(),
              "the cut is logged", ins.agent.proc.stderr()[-1500:])
    finally:
        for sock in silent:
            sock.close()


def queued(env):
    """A webhook kept by the relay while the agent was away is shown as queued when the agent
    comes back and gets it; the channel's public URL is in /api/info. The agent forwards
    under a path (--forward http://HOST:PORT/api): an edited replay of an event it never saw
    goes there too, as every request through the tunnel does."""
    ins = Inspector(env, forward_path="/api")
    check_eq(ins.json("GET", "/api/info")["public_url"],
             "http://%s:%d/t/alice/" % (LOCALHOST, ins.relay.port), "/api/info's public URL")
    r = ins.webhook("/before?q=1", b'{"before":1}')
    check_eq(r.status, 200, "a webhook before the restart is delivered")
    before_id = ins.app.requests[-1].header("Hookwire-Event-Id")
    ins.agent.stop()
    r = ins.webhook("/kept", b'{"kept":1}')
    check_eq(r.status, 202, "the relay keeps the webhook while the agent is away")
    event_id = json.loads(r.body)["id"]
    ins.agent.start()
    wait_until(lambda: ins.call("GET", "/").status == 200, 10, "the inspector is back")
    row = ins.capture(event_id)
    check_eq((row["kind"], row["attempt"], row["status"]), ("queued", 1, 200),
             "the queued webhook's row")
    # This agent never saw the first webhook: its detail and an edited replay of it come
    # from the relay's record.
    detail = ins.json("GET", "/api/events/%s" % before_id)
    check_eq(detail["captures"], [], "the restarted agent has no exchange of it")
    check_eq(base64.b64decode(detail["body_b64"]), b'{"before":1}', "the relay's body")
    res = ins.json("POST", "/api/events/%s/replay" % before_id,
                   json.dumps({"headers": "Host: hooks.test\nX-Edited: yes",
                               "body": "edited"}).encode())
    check_eq(res["status"], 200, "the edited replay of a relay-only event is answered")
    got = ins.app.requests[-1]
    check_eq((got.method, got.target, got.body, got.header("X-Edited")),
             ("POST", "/api/before?q=1", b"edited", "yes"),
             "the app gets it with the relay's method and target and the edited lines")


def refusals(env):
    """The relay's other refusals: no answer in time (504), and no agent with --offline
    reject (503), which the inspector shows once its agent is back."""
    release = threading.Event()

    def handle(req):
        if req.target == "/slow":
            release.wait(10)
        return Reply(200, "OK", [], b"ok")

    ins = Inspector(env, handler=handle,
                    relay_args=["--response-timeout", "500ms", "--offline", "reject"])
    ins.app.ignore_errors = True  # the late answer may find its connection gone
    r = ins.webhook("/slow", b'{"slow":1}')
    release.set()
    check_eq(r.status, 504, "the slow app's webhook times out at the relay")

    def refused(status):
        rows = ins.json("GET", "/api/refused")["refused"]
        return next((f for f in rows if f["status"] == status), None)
    f = wait_until(lambda: refused(504), 10, "the timeout shows in /api/refused")
    check_eq(f["reason"], "timeout: the app did not answer in time", "the timeout's reason")
    check(raw(f["head"]).startswith(b"POST /t/alice/slow"), "with its request line", f["head"])

    ins.agent.stop()
    r = ins.webhook("/while-away", b'{"away":1}')
    check_eq(r.status, 503, "with no agent and --offline reject, the relay refuses")
    ins.agent.start()
    wait_until(lambda: ins.call("GET", "/").status == 200, 10, "the inspector is back")
    f = refused(503)
    check(f is not None and f["reason"] == "no agent connected (--offline reject)",
          "the refusal made while the agent was away shows with its reason", repr(f))
    check_eq(base64.b64decode(f["body_b64"]), b'{"away":1}', "with its body")


def start_agent(env, *args):
    port = free_port()
    return subprocess.run([AGENT_BIN, "--relay", "ws://127.0.0.1:%d" % port] + list(args),
                          env=dict(os.environ, HOOKWIRE_TOKEN="hwt_x"), capture_output=True,
                          text=True, timeout=20, cwd=env.dir)


def addresses(env):
    r = start_agent(env, "--inspect", "0.0.0.0:%d" % free_port())
    check_eq(r.returncode, 2, "a non-loopback --inspect exits 2")
    lines = r.stderr.strip().splitlines()
    check(len(lines) == 1 and "--inspect-allow-remote" in lines[0],
          "one line names --inspect-allow-remote", r.stderr)
    r = start_agent(env, "--inspect", "127.0.0.1:abc")
    check_eq(r.returncode, 2, "a bad --inspect port exits 2")
    check("--inspect 127.0.0.1:abc" in r.stderr, "the line names the value", r.stderr)
    conf = env.path("agent.ini")
    with open(conf, "w") as f:
        f.write("[agent]\ninspect = 192.0.2.1:4040\n")
    r = start_agent(env, "--config", conf)
    check_eq(r.returncode, 2, "inspect = in the config file is checked too")
    check("--inspect-allow-remote" in r.stderr, "with the same line", r.stderr)


def off(env):
    ins = Inspector(env)
    check_eq(listening_sockets(ins.agent.proc.pid), [ins.port],
             "with --inspect, the agent listens on the inspector's port only")
    agent2 = env.agent(ins.relay, ins.token, ins.channel, ins.app.port, name="agent-off",
                       args=["--inspect", "off", "--takeover"])
    check_eq(listening_sockets(agent2.proc.pid), [], "with --inspect off, it listens on nothing")
    ins.agent.proc.expected_dead = True  # taken over: it exits 1 by design
    wait_until(lambda: not ins.agent.proc.alive(), 10, "the first agent gives way")


def port_in_use(env):
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind((LOCALHOST, 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        store = env.path("relay.db")
        token = token_add(env, store, "bob")
        relay = env.relay(store=store)
        app = env.target()
        agent = env.agent(relay, token, "bob", app.port,
                          args=["--inspect", "%s:%d" % (LOCALHOST, port)])
        lines = [l for l in agent.proc.stderr().splitlines() if "already in use" in l]
        check(len(lines) == 1 and "%s:%d is already in use" % (LOCALHOST, port) in lines[0],
              "one line says the inspector's port is in use", agent.proc.stderr())
        check("ERROR on binding" not in agent.proc.stderr(), "no lws bind error reaches the user")
        r = relay.webhook("POST", "/t/bob/x", [("Host", "h")], b"still forwarded")
        check_eq(r.status, 200, "the agent forwards without its inspector")
    finally:
        busy.close()


if __name__ == "__main__":
    run([api, cross_site, stream, stream_not_read, queued, refusals, addresses, off, port_in_use])
