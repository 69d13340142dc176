#!/usr/bin/env python3
"""History and replay for the developer, on SQLite and on MariaDB: `hookwire-agent
events`, `show ID [--body]` and `replay ID` through the relay's API on the tunnel port,
authorised by the channel token. Live webhooks are recorded with the app's status; a
queued event the app keeps failing is retried, then failed, and `replay` delivers it
once the app is fixed, as a new attempt with the same event id. A token for channel B
cannot list, show or replay channel A's events, and gets exactly the answer an id that
does not exist gets. The list's limit and cursor are decimal numbers in range, else 400.
An 8 MiB body is downloaded whole by a reader slower than any fixed deadline, a 20 MiB one
whole at all, and a reader that takes none of it is cut after --response-timeout, with a log
line; answers held in memory are capped by --max-held (429 past it). A replay of an event
whose queued attempt is under way is refused (409 HW_EVENT_IN_FLIGHT), and a call the store
cannot serve in 5 s (a lock held by another process) is answered 503 then.
"""

import json
import os
import select
import socket
import sqlite3
import struct
import subprocess
import threading
import time

from harness import (AGENT_BIN, LOCALHOST, REPLAY_BIN, Reply, build_request, check, check_eq,
                     free_port, holds_for, request, run, store_url, token_add, wait_until)
from offline_util import HOST, body_of, queue_one, received, stores


def cli(env, relay, token, *args):
    """Runs hookwire-agent ARGS against relay with token; returns CompletedProcess (bytes)."""
    e = dict(os.environ, HOOKWIRE_TOKEN=token)
    return subprocess.run([AGENT_BIN, "--relay", relay.ws_url] + list(args), cwd=env.dir,
                          env=e, capture_output=True, timeout=30)


def cli_json(env, relay, token, *args):
    r = cli(env, relay, token, *args)
    check_eq(r.returncode, 0, "hookwire-agent %s exits 0 (stderr %r)" % (" ".join(args),
                                                                         r.stderr[-300:]))
    return json.loads(r.stdout)


def broken_app(broken, seq=None):
    """An app handler that answers 500 while broken["on"] (only to X-Seq seq, when given),
    200 otherwise."""
    def handler(req):
        if broken["on"] and (seq is None or req.header("X-Seq") == seq):
            return Reply(500, "Internal Server Error", [("Content-Type", "text/plain")], b"boom")
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")
    return handler


def case_replay_after_failure(env):
    broken = {"on": True}
    handler = broken_app(broken, "1")

    for kind, store in stores(env):
        broken["on"] = True
        token = token_add(env, store, "alice")
        relay = env.relay(store=store, args=["--queue-retries", "2", "--queue-backoff", "50ms"])
        target = env.target(handler)
        ids = [queue_one(relay, i, size=300) for i in range(3)]
        agent = env.agent(relay, token, "alice", target.port)
        target.wait_requests(4, timeout=30)
        wait_until(lambda: cli_json(env, relay, token, "events", "--status", "failed")["events"],
                   10, kind + ": the failed event is listed")
        failed = cli_json(env, relay, token, "events", "--status", "failed")["events"]
        check_eq([e["id"] for e in failed], [ids[1]], kind + ": exactly event 1 failed")
        shown = cli_json(env, relay, token, "show", ids[1])
        check_eq(shown["status"], "failed", kind + ": show: status")
        check_eq([a["http_status"] for a in shown["attempts_list"]], [500, 500],
                 kind + ": show: both attempts with the app's status")
        check_eq((shown["method"], shown["path"], shown["query"]), ("POST", "/hook", "n=1"),
                 kind + ": show: the request line")
        raw = cli(env, relay, token, "show", ids[1], "--body")
        check(raw.returncode == 0 and raw.stdout == body_of(1, 300),
              kind + ": show --body gives the exact bytes")
        broken["on"] = False
        before = target.count()
        r = cli(env, relay, token, "replay", ids[1])
        check_eq(r.returncode, 0, kind + ": replay exits 0 (%r)" % r.stderr)
        target.wait_requests(before + 1, timeout=10)
        last = received(target)[-1]
        check_eq(last[:3], (1, ids[1], "3"), kind + ": the replay is attempt 3 of the same event")
        check(last[3] == body_of(1, 300), kind + ": the replay is byte-exact")
        wait_until(lambda: cli_json(env, relay, token, "show", ids[1])["status"] == "delivered",
                   10, kind + ": the replayed event becomes delivered")
        # A live webhook is recorded too, with the app's status.
        resp = relay.webhook("POST", "/t/alice/live", [HOST, ("X-Seq", "7")], b"live!")
        check_eq(resp.status, 200, kind + ": live passthrough")

        def live_listed():
            evs = cli_json(env, relay, token, "events", "--limit", "1")["events"]
            return evs and evs[0]["path"] == "/live" and evs[0]["status"] == "delivered" and evs[0]
        ev = wait_until(live_listed, 10, kind + ": the live webhook is recorded as delivered")
        check_eq((ev["attempts"], ev["last_status"]), (1, 200), kind + ": live attempt recorded")
        agent.stop()
        relay.stop()


def case_channel_isolation(env):
    for kind, store in stores(env):
        alice = token_add(env, store, "alice")
        bob = token_add(env, store, "bob")
        relay = env.relay(store=store)
        evt = queue_one(relay, 0)
        mine = cli_json(env, relay, alice, "events")["events"]
        check_eq([e["id"] for e in mine], [evt], kind + ": alice lists her event")
        check_eq(cli_json(env, relay, bob, "events")["events"], [],
                 kind + ": bob's list does not show alice's event")
        missing = "evt_" + "0" * 26
        for verb in ("show", "replay"):
            theirs = cli(env, relay, bob, verb, evt)
            none = cli(env, relay, bob, verb, missing)
            check_eq(theirs.returncode, 1, kind + ": bob cannot %s alice's event" % verb)
            check_eq(theirs.stderr, none.stderr,
                     kind + ": %s: the same answer as for an id that does not exist" % verb)
            check(b"404" in theirs.stderr, kind + ": %s: a 404" % verb, theirs.stderr)
        for method, path in (("GET", "/api/events/%s"), ("GET", "/api/events/%s/body"),
                             ("POST", "/api/events/%s/replay")):
            a = request(relay.tunnel_port, method, path % evt,
                        [("Authorization", "Bearer " + bob)])
            b = request(relay.tunnel_port, method, path % missing,
                        [("Authorization", "Bearer " + bob)])
            check_eq((a.status, a.header("Hookwire-Error"), a.body),
                     (b.status, b.header("Hookwire-Error"), b.body),
                     kind + ": %s %s: bob gets what a missing id gets" % (method, path))
        unauthorized = relay.metric("hookwire_relay_errors_total", code="HW_UNAUTHORIZED")
        not_found = relay.metric("hookwire_relay_errors_total", code="HW_NOT_FOUND")
        nobody = request(relay.tunnel_port, "GET", "/api/events", [])
        check_eq(nobody.status, 401, kind + ": no token, no history")
        check_eq(relay.metric("hookwire_relay_errors_total", code="HW_UNAUTHORIZED"),
                 unauthorized + 1, kind + ": the 401 is counted")
        wait_until(lambda: "api GET /api/events: no channel token or a wrong one (401)" in
                   relay.proc.stderr(), 10, kind + ": and logged")
        typo = request(relay.tunnel_port, "GET", "/api/event", [("Authorization",
                                                                   "Bearer " + alice)])
        check_eq(typo.status, 404, kind + ": a path that names nothing")
        check_eq(relay.metric("hookwire_relay_errors_total", code="HW_NOT_FOUND"), not_found + 1,
                 kind + ": the 404 is counted")
        # Only GET, HEAD and the replay's POST are taken: a DELETE must not read as done.
        for method, path in (("DELETE", "/api/events/" + evt), ("PUT", "/api/events/" + evt),
                             ("PATCH", "/api/events"), ("OPTIONS", "/api/events"),
                             ("POST", "/metrics"), ("DELETE", "/healthz")):
            r = request(relay.tunnel_port, method, path, [("Authorization", "Bearer " + alice)])
            check_eq((r.status, r.header("Hookwire-Error")), (404, "HW_NOT_FOUND"),
                     kind + ": %s %s" % (method, path))
        shown = cli_json(env, relay, alice, "show", evt)
        check_eq((shown["status"], shown["attempts"]), ("pending", 0),
                 kind + ": bob's replay attempt changed nothing")
        relay.stop()


def case_list_numbers(env):
    """limit and cursor are decimal numbers in range; anything else is 400, not a first page."""
    kind, store = stores(env)[0]
    alice = token_add(env, store, "alice")
    relay = env.relay(store=store)
    queue_one(relay, 0)
    auth = [("Authorization", "Bearer " + alice)]
    for query in ("limit=1", "limit=1000", "cursor=0", "cursor=9223372036854775807"):
        r = request(relay.tunnel_port, "GET", "/api/events?" + query, auth)
        check_eq(r.status, 200, kind + ": " + query)
    for query in ("limit=0", "limit=1001", "limit=", "limit=-5", "limit=+5",
                  "limit=99999999999999999999", "cursor=-5", "cursor=abc", "cursor=",
                  "cursor=9223372036854775808", "cursor=18446744073709551616", "cursor=1x"):
        r = request(relay.tunnel_port, "GET", "/api/events?" + query, auth)
        check_eq((r.status, r.header("Hookwire-Error")), (400, "HW_BAD_REQUEST"),
                 kind + ": " + query)
    relay.stop()


def case_retention(env):
    for kind, store in stores(env):
        token = token_add(env, store, "alice")
        relay = env.relay(store=store, args=["--retention", "1s"])
        target = env.target()
        delivered = queue_one(relay, 0)
        agent = env.agent(relay, token, "alice", target.port)
        target.wait_requests(1, timeout=10)
        # Its answer must reach the relay too: an agent stopped before that leaves it pending.
        wait_until(lambda: "queue drained" in relay.proc.stderr(), 10, kind + ": drained")
        agent.stop()
        wait_until(lambda: not relay.channel_connected("alice"), 5, kind + ": agent gone")
        waiting = queue_one(relay, 1)
        check(delivered != waiting, kind + ": two events")

        def only_waiting():
            return [e["id"] for e in cli_json(env, relay, token, "events")["events"]] == [waiting]
        wait_until(only_waiting, 15, kind + ": the delivered event is purged by itself after "
                   "--retention; the queued one is kept", interval=0.5)
        relay.stop()


def body_reader(relay, token, evt, rcvbuf):
    """A socket that has asked for evt's body, with a receive buffer of rcvbuf bytes."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((LOCALHOST, relay.tunnel_port))
    s.settimeout(30)
    s.sendall(build_request("GET", "/api/events/%s/body" % evt,
                            [("Host", "relay.test"), ("Authorization", "Bearer " + token),
                             ("Connection", "close")]))
    return s


def read_all(s):
    """Everything s sends until it closes."""
    got = bytearray()
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            s.close()
            return bytes(got)
        got += chunk


def case_body_download_budget(env):
    """Answers held in memory are capped by --max-held (a budget apart from the public
    port's): while a reader that takes nothing holds one 20 MiB body (more than the kernel's
    socket buffers take off the relay's hands), another body is answered 429 HW_OVERLOADED
    with Retry-After, and logged; once that reader goes, it comes whole."""
    store = env.path("budget.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store, args=["--max-held", "32M", "--response-timeout", "30s"])
    bodies, ids = [os.urandom(20 << 20) for _ in range(2)], []
    for i, body in enumerate(bodies):
        resp = relay.webhook("POST", "/t/alice/b%d" % i, [HOST], body)
        check_eq(resp.status, 202, "webhook %d is queued" % i)
        ids.append(json.loads(resp.body)["id"])
    # An answer of the relay's own (400 to an ambiguous head) is counted and given back too.
    bad = request(relay.tunnel_port, "GET", "/healthz",
                  [("Content-Length", "0"), ("Content-Length", "0")])
    check_eq(bad.status, 400, "an ambiguous head on the tunnel port")
    stuck = body_reader(relay, token, ids[0], 4096)
    last = {}

    def second():
        last["r"] = request(relay.tunnel_port, "GET", "/api/events/%s/body" % ids[1],
                            [("Authorization", "Bearer " + token)])
        return last["r"].status == 429
    wait_until(second, 10, "a second body waits while the first is held")
    check_eq((last["r"].header("Hookwire-Error"), last["r"].header("Retry-After")),
             ("HW_OVERLOADED", "1"), "the 429 names its cause and when to retry")
    check("is refused for now (429)" in relay.proc.stderr(), "the refusal is logged",
          relay.proc.stderr()[-800:])
    stuck.close()

    def whole():
        last["r"] = request(relay.tunnel_port, "GET", "/api/events/%s/body" % ids[1],
                            [("Authorization", "Bearer " + token)])
        return last["r"].status == 200
    wait_until(whole, 10, "once the first reader is gone the second body comes")
    check(last["r"].body == bodies[1], "byte-exact")
    # Every answer that left memory left the count (the /metrics answer is counted once built,
    # after it read the count).
    check_eq(relay.metric("hookwire_relay_api_held_bytes"), 0.0,
             "the answers' bytes are given back")
    relay.proc.check_alive("keeps running")
    relay.stop()


def case_body_download_paced(env):
    store = env.path("bodies.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store, args=["--response-timeout", "2s"])
    body = os.urandom(8 << 20)
    resp = relay.webhook("POST", "/t/alice/big", [HOST], body)
    check_eq(resp.status, 202, "an 8 MiB webhook is queued")
    evt = json.loads(resp.body)["id"]

    # 256 KiB every 0.2 s, about 7 s in all: a reader that keeps taking bytes is never cut.
    s = body_reader(relay, token, evt, 256 << 10)
    got = bytearray()
    started = time.monotonic()
    while True:
        chunk = s.recv(256 << 10)
        if not chunk:
            break
        got += chunk
        time.sleep(0.2)  # the pace of a slow reader, not a wait for an event
    s.close()
    head, _, rest = bytes(got).partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200"), "the body's answer is a 200", head[:200])
    check(rest == body, "a reader that keeps taking bytes gets the whole body, byte-exact "
          "(%d of %d bytes in %.1fs)" % (len(rest), len(body), time.monotonic() - started))

    # A body larger than any fixed answer buffer (the API's was 16 MiB) comes whole.
    big = os.urandom(20 << 20)
    resp = relay.webhook("POST", "/t/alice/bigger", [HOST], big)
    check_eq(resp.status, 202, "a 20 MiB webhook is queued")
    s = body_reader(relay, token, json.loads(resp.body)["id"], 1 << 20)
    big_head, _, big_rest = read_all(s).partition(b"\r\n\r\n")
    check(big_head.startswith(b"HTTP/1.1 200") and big_rest == big,
          "a 20 MiB body is downloaded whole, byte-exact", (big_head[:100], len(big_rest)))

    # A reader that takes nothing: cut once --response-timeout passes with no progress.
    s = body_reader(relay, token, evt, 4096)
    wait_until(lambda: "an API answer of %d bytes was cut before its end" %
               (len(rest) + len(head) + 4) in relay.proc.stderr(), 15,
               "the relay cuts and logs a reader that takes none of the body")
    s.close()
    # A reader that resets mid-answer: the line names its address, noted while it was there.
    cut = "conn=127.0.0.1 an API answer of %d bytes was cut before its end" % (
        len(rest) + len(head) + 4)
    s = body_reader(relay, token, evt, 4096)
    check(s.recv(1000).startswith(b"HTTP/1.1 200"), "the answer has begun")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    wait_until(lambda: relay.proc.stderr().count(cut) == 2, 15,
               "the cut answer of a reader that reset is logged with its address")
    check_eq(request(relay.tunnel_port, "GET", "/api/events/" + evt,
                     [("Authorization", "Bearer " + token)]).status, 200,
             "the API answers on after the cut")
    relay.proc.check_alive("keeps running")
    relay.stop()


def case_cli_mistakes(env):
    """The history commands' mistakes are named by the agent, one line each, before anything
    is sent: a limit, status or cursor out of range (exit 2), an id that is not one (exit 2,
    never echoed with its control bytes), an event the channel does not have (exit 1), a relay
    that does not resolve or where nothing listens. show --body on a terminal writes no body
    with control bytes (terminal escapes from a webhook's sender), and the same bytes whole
    to a file."""
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    body = b"hello \x1b]0;TITLE\x07\x1b[2Jred"
    resp = relay.webhook("POST", "/t/alice/esc", [HOST], body)
    check_eq(resp.status, 202, "a webhook queued while no agent is connected")
    evt = json.loads(resp.body)["id"]

    def one_line(r, status, want, what):
        check_eq(r.returncode, status, what + ": exit status (stderr %r)" % r.stderr)
        lines = r.stderr.decode("utf-8", "replace").splitlines()
        check_eq(len(lines), 1, what + ": one line on stderr (%r)" % r.stderr)
        check(want in lines[0], what + ": says " + want, lines[0])
        check(b"\x1b" not in r.stderr, what + ": no escape byte on stderr", r.stderr)

    for args, want in [
            (["--limit", "0"], "events --limit 0: expected a number from 1 to 1000"),
            (["--limit", "1001"], "events --limit 1001: expected a number from 1 to 1000"),
            (["--limit", "abc"], "events --limit abc: expected a number from 1 to 1000"),
            (["--status", "bogus"], "events --status bogus: expected pending, delivered, failed "
             "or all"),
            (["--cursor", "-1"], "events --cursor -1: expected the next_cursor of an earlier "
             "listing")]:
        one_line(cli(env, relay, token, "events", *args), 2, want, "events " + " ".join(args))
    listed = cli_json(env, relay, token, "events", "--status", "all")["events"]
    check_eq([e["id"] for e in listed], [evt], "--status all lists every event")
    one_line(cli(env, relay, token, "show", "not-an-id"), 2,
             "show: not-an-id is not an event id", "show not-an-id")
    one_line(cli(env, relay, token, "show", "evt_\x1b[31m"), 2, "show: that is not an event id",
             "show with an escape in the id")
    one_line(cli(env, relay, token, "replay", "evt_" + "0" * 26), 1,
             "replay: no such event on this channel (the relay answered 404)", "replay unknown")

    e = dict(os.environ, HOOKWIRE_TOKEN=token)
    for url, want in [("ws://nosuch.invalid:%d" % relay.tunnel_port,
                       "events: cannot resolve nosuch.invalid: check the host name in --relay"),
                      ("ws://127.0.0.1:%d" % free_port(), "events: nothing answers at 127.0.0.1:")]:
        r = subprocess.run([AGENT_BIN, "--relay", url, "events"], cwd=env.dir, env=e,
                           capture_output=True, timeout=30)
        one_line(r, 1, want, "events against " + url)

    # On a terminal the escapes are refused; redirected, the body comes whole.
    master, slave = os.openpty()
    try:
        r = subprocess.run([AGENT_BIN, "--relay", relay.ws_url, "show", evt, "--body"],
                           cwd=env.dir, env=e, stdout=slave, stderr=subprocess.PIPE, timeout=30)
        os.close(slave)
        slave = -1
        shown = b""
        while True:
            ready, _, _ = select.select([master], [], [], 0)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    check_eq(r.returncode, 1, "show --body on a terminal: exit status (%r)" % r.stderr)
    check(b"is binary (%d bytes): redirect stdout" % len(body) in r.stderr,
          "show --body on a terminal says to redirect", r.stderr)
    check(b"\x1b" not in shown, "nothing with an escape reached the terminal", shown)
    raw = cli(env, relay, token, "show", evt, "--body")
    check(raw.returncode == 0 and raw.stdout == body, "show --body to a pipe gives the exact bytes",
          raw.stdout)


def case_retry_from_replay_cli(env):
    """hookwire-replay retry on the relay's own store makes a failed event pending again from
    another process: the running relay finds it (it asks the store every 2 s while a channel's
    queue holds nothing it knows of) and delivers it through the agent, once, as the next attempt, without a
    restart, and logs that it found it."""
    broken = {"on": True}
    handler = broken_app(broken)

    for kind, store in stores(env):
        broken["on"] = True
        token = token_add(env, store, "alice")
        relay = env.relay(store=store, args=["--queue-retries", "2", "--queue-backoff", "50ms"])
        target = env.target(handler)
        evt = queue_one(relay, 0, size=100)
        agent = env.agent(relay, token, "alice", target.port)
        target.wait_requests(2, timeout=30)
        wait_until(lambda: cli_json(env, relay, token, "show", evt)["status"] == "failed", 10,
                   kind + ": the event fails after its two attempts")
        broken["on"] = False
        r = subprocess.run([REPLAY_BIN, "--store", store_url(store), "retry", evt], cwd=env.dir,
                           capture_output=True, timeout=30)
        check_eq(r.returncode, 0, kind + ": hookwire-replay retry exits 0 (%r)" % r.stderr)
        target.wait_requests(3, timeout=15)
        got = received(target)
        check_eq([(g[1], g[2]) for g in got], [(evt, "1"), (evt, "2"), (evt, "3")],
                 kind + ": the retried event reaches the app once more, as attempt 3")
        check(got[-1][3] == body_of(0, 100), kind + ": byte-exact")
        wait_until(lambda: cli_json(env, relay, token, "show", evt)["status"] == "delivered", 10,
                   kind + ": the event is delivered")
        check("evt=%s is pending, requeued outside the relay" % evt in relay.proc.stderr(),
              kind + ": the relay logs what it found", relay.proc.stderr()[-2000:])
        # Later rescans (every 2 s) find nothing: the event, delivered, is not sent again.
        holds_for(lambda: target.count() == 3, 5, kind + ": no further delivery")
        agent.stop()
        relay.stop()


def replay_refused(env, relay, token, evt, says, logged, when):
    """hookwire-agent replay EVT exits 1 saying `says`; the relay logs the call with `logged`."""
    r = cli(env, relay, token, "replay", evt)
    check_eq(r.returncode, 1, "replay %s exits 1 (%r)" % (when, r.stderr))
    check(says in r.stderr, "replay %s: the agent says why in one line" % when, r.stderr)
    check("api POST /api/events/%s/replay: %s" % (evt, logged) in relay.proc.stderr(),
          "replay %s: the relay logs it" % when, relay.proc.stderr()[-1500:])


def case_replay_in_flight(env):
    """A replay asked for while the queue's attempt of that event is still under way would be
    undone by that attempt's outcome: it is refused with 409 HW_EVENT_IN_FLIGHT (the agent
    says so in one line, exit 1), and works once the attempt has ended, as the next attempt."""
    gate = threading.Event()

    def handler(req):
        if req.header("Hookwire-Attempt") == "1":
            gate.wait(30)  # the app is slow with the first attempt
        return Reply(200, "OK", [("Content-Type", "text/plain")], b"ok")

    store = env.path("inflight.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store, args=["--response-timeout", "30s"])
    target = env.target(handler)
    try:
        evt = queue_one(relay, 0, size=100)
        # Queued, not yet sent: a replay adds no attempt, and says so.
        r = cli(env, relay, token, "replay", evt)
        check_eq(r.returncode, 0, "replay of a queued event exits 0 (%r)" % r.stderr)
        check_eq(json.loads(r.stdout), {"id": evt, "replayed": False, "pending": True},
                 "a replay of an event waiting for delivery says it is pending already")
        agent = env.agent(relay, token, "alice", target.port)
        target.wait_requests(1, timeout=15)
        replay_refused(env, relay, token, evt,
                       b"is being delivered right now: replay it once that attempt has ended",
                       "the event is being delivered", "during the attempt")
    finally:
        gate.set()
    wait_until(lambda: cli_json(env, relay, token, "show", evt)["status"] == "delivered", 10,
               "the first attempt delivers the event")
    r = cli(env, relay, token, "replay", evt)
    check_eq(r.returncode, 0, "replay once the attempt ended exits 0 (%r)" % r.stderr)
    target.wait_requests(2, timeout=10)
    check_eq([(g[1], g[2]) for g in received(target)], [(evt, "1"), (evt, "2")],
             "the app gets the event once more, as attempt 2")
    agent.stop()
    relay.stop()


def case_api_store_locked(env):
    """Another process holds the SQLite store's write lock: a replay through the API cannot
    be carried out, and its caller gets 503 HW_STORE_UNAVAILABLE after 5 s (within the
    agent's own 10 s), logged, instead of a connection closed with no answer. Once the lock
    is gone the store carries the replay out, and the relay logs that it did."""
    store = env.path("locked.db")
    token = token_add(env, store, "alice")
    relay = env.relay(store=store)
    evt = queue_one(relay, 0)
    lock = sqlite3.connect(store, timeout=1, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        replay_refused(env, relay, token, evt, b"the relay answered 503: storage is unavailable",
                       "the store is unavailable (503)", "while the store is locked")
    finally:
        lock.execute("COMMIT")
        lock.close()
    wait_until(lambda: "evt=%s replayed after all, though its caller was answered 503" % evt
               in relay.proc.stderr(), 20, "the late replay is logged")
    relay.proc.check_alive("keeps running")
    relay.stop()


if __name__ == "__main__":
    run([case_replay_after_failure, case_channel_isolation, case_list_numbers, case_retention,
         case_body_download_paced, case_body_download_budget, case_cli_mistakes,
         case_retry_from_replay_cli, case_replay_in_flight, case_api_store_locked])
