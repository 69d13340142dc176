#!/usr/bin/env python3
"""hookwire-replay on SQLite and on MariaDB, with events appended through the store
(tests/tools' hw-store-append): list and its filters as a table and as JSON lines with the
same ids, show and show --body byte-exact (binary and 5 MiB bodies), retry by id (--force for
delivered ones) and retry --failed [--dry-run], deliver to a live target with the receiver's
signature, purge and stats; and the one-line errors with their exit codes: usage (2), unknown
id, bad store URL, missing SQLite file, unreachable MySQL, a store newer than the binary (1).

Needs HOOKWIRE_TEST_MYSQL_URL (scripts/test sets it); fails without it unless
HOOKWIRE_TEST_NO_MYSQL=1.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import time

from harness import Reply, check, check_eq, run
from hw_replay import (MYSQL_URL, append, replay, replay_ok, require_mysql, sql, statuses,
                       stores)

PENDING, DELIVERED, FAILED = 1, 2, 3
SECRET = "whsec_" + base64.b64encode(b"replay-test-signing-key-32bytes!").decode()


def table_ids(out):
    """The ids of plain (piped) list output: the first field of each line."""
    return [line.split("\t")[0] for line in out.splitlines()]


def json_ids(out):
    objs = [json.loads(line) for line in out.splitlines()]
    return [o["id"] for o in objs], objs


def case_list_and_json(env):
    for label, url in stores(env, "list"):
        now = int(time.time() * 1000)
        failed = append(env, url, 3, source="github", path="/push", fail=503,
                        received_ms=now - 3 * 3600 * 1000)
        delivered = append(env, url, 2, source="stripe", path="/charge/ok", deliver=True,
                           received_ms=now - 2 * 3600 * 1000)
        pending = append(env, url, 4, source="stripe", path="/charge/new", query="a=1",
                         received_ms=now - 600 * 1000)
        what = label + ": "
        out = replay_ok(env, url, "list", "--status", "failed")
        check_eq(sorted(table_ids(out)), sorted(failed), what + "list --status failed")
        line = out.splitlines()[0].split("\t")
        check_eq(line[2:8], ["github", "POST", "/push", "failed", "1",
                             "503 backend answered an error"], what + "a failed row's fields")
        check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", line[1]), what + "ISO time",
              line[1])
        # Newest first, across every status; the JSON lines carry the same ids.
        everything = pending[::-1] + delivered[::-1] + failed[::-1]
        check_eq(table_ids(replay_ok(env, url, "list")), everything, what + "list, newest first")
        ids, objs = json_ids(replay_ok(env, url, "list", "--json"))
        check_eq(ids, everything, what + "--json lines carry the table's ids")
        check_eq((objs[0]["source"], objs[0]["path"], objs[0]["query"], objs[0]["status"]),
                 ("stripe", "/charge/new", "a=1", "pending"), what + "a JSON object's fields")
        check_eq(table_ids(replay_ok(env, url, "list", "--status", "delivered")),
                 delivered[::-1], what + "--status delivered")
        check_eq(table_ids(replay_ok(env, url, "list", "--source", "stripe", "--path",
                                     "/charge/n*")), pending[::-1], what + "--source --path")
        check_eq(table_ids(replay_ok(env, url, "list", "--since", "1h")), pending[::-1],
                 what + "--since 1h")
        check_eq(table_ids(replay_ok(env, url, "list", "--until", "90m", "--since", "150m")),
                 delivered[::-1], what + "--since 150m --until 90m")
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((now - 150 * 60 * 1000) / 1000))
        check_eq(table_ids(replay_ok(env, url, "list", "--until", iso)), failed[::-1],
                 what + "--until ISO 8601")
        check_eq(table_ids(replay_ok(env, url, "list", "--limit", "2")), everything[:2],
                 what + "--limit 2")
        ids, _ = json_ids(replay_ok(env, url, "list", "--json", "--status", "failed",
                                    "--source", "stripe"))
        check_eq(ids, [], what + "no match is no line")


def case_hostile_store(env):
    """A store written by something else: an id with control bytes is written escaped in the
    list (no byte of it reaches the terminal as it is), a time no year holds is '?', and
    --json stays valid JSON with the id as it is stored."""
    url = "sqlite:" + env.path("hostile.db")
    (eid,) = append(env, url, 1, source="github", path="/push")
    bad = "evt_\x1b]0;ID\x07"
    db = sqlite3.connect(url[len("sqlite:"):])
    db.execute("UPDATE hookwire_events SET id = ?, received_ms = ? WHERE id = ?",
               (bad, 1 << 62, eid))
    db.commit()
    db.close()
    r = replay(env, url, "list")
    check_eq(r.returncode, 0, "list exits 0 (stderr %r)" % r.stderr)
    check(b"\x1b" not in r.stdout and b"\x07" not in r.stdout, "no control byte is written",
          r.stdout)
    check(r.stdout.startswith(b"evt_\\x1b]0;ID\\x07\t?\t"), "the id escaped, the time '?'",
          r.stdout)
    obj = json.loads(replay_ok(env, url, "list", "--json").splitlines()[0])
    check_eq((obj["id"], obj["received"]), (bad, "?"), "--json: the id as stored, the time '?'")


def case_paging(env):
    """--limit above a page (1000) streams pages; --limit 0 lists everything."""
    for label, url in stores(env, "paging"):
        ids = append(env, url, 2500, source="many", received_ms=1700000000000, step_ms=10)
        out = replay_ok(env, url, "list", "--limit", "0")
        check_eq(table_ids(out), ids[::-1], label + ": --limit 0 lists all 2500, newest first")
        got, _ = json_ids(replay_ok(env, url, "list", "--limit", "1500", "--json"))
        check_eq(got, ids[::-1][:1500], label + ": --limit 1500 crosses a page")
        check_eq(len(table_ids(replay_ok(env, url, "list"))), 50, label + ": default limit 50")


def case_show_body(env):
    binary = bytes(range(256)) * 4 + b"\x00\r\n\x1b[31m" + os.urandom(4096)
    big = os.urandom(5 * 1024 * 1024)
    with open(env.path("binary.bin"), "wb") as f:
        f.write(binary)
    with open(env.path("big.bin"), "wb") as f:
        f.write(big)
    headers = (b"Host: hooks.example.test\r\nX-Dup: 1\r\nx-dup:  two \r\n"
               b"X-Odd: caf\xc3\xa9 \x01\r\nContent-Type: application/octet-stream\r\n")
    with open(env.path("headers.txt"), "wb") as f:
        f.write(headers)
    for label, url in stores(env, "body"):
        [bid] = append(env, url, source="bin", body_file=env.path("binary.bin"),
                       headers_file=env.path("headers.txt"), fail=500)
        [gid] = append(env, url, source="big", body_file=env.path("big.bin"))
        for eid, body in ((bid, binary), (gid, big)):
            r = replay(env, url, "show", eid, "--body")
            check_eq(r.returncode, 0, label + ": show --body exits 0")
            check_eq(hashlib.sha256(r.stdout).hexdigest(), hashlib.sha256(body).hexdigest(),
                     label + ": show --body is byte-exact (%d bytes)" % len(body))
            check_eq(r.stderr, b"", label + ": nothing on stderr")
        page = replay_ok(env, url, "show", bid)
        check("id           %s\n" % bid in page, label + ": show names the event", page)
        check("headers      5 lines, in order:\n  Host: hooks.example.test\n  X-Dup: 1\n"
              "  x-dup:  two \n  X-Odd: caf\\xc3\\xa9 \\x01\n" in page,
              label + ": header lines in order, exact, escaped", page)
        check(re.search(r"#1 .* status 500 .*error: backend answered an error\n"
                        r"      answer: down for maintenance", page),
              label + ": the attempt with its status, error and answer", page)
        check("sha256 " + hashlib.sha256(binary).hexdigest() in page, label + ": body hash", page)
        obj = json.loads(replay_ok(env, url, "show", bid, "--json"))
        check_eq(obj["headers"], ["Host: hooks.example.test", "X-Dup: 1", "x-dup:  two ",
                                  "X-Odd: caf\u00e9 \u0001",
                                  "Content-Type: application/octet-stream"],
                 label + ": show --json headers")
        check_eq([(a["http_status"], a["error"]) for a in obj["attempts_list"]],
                 [(500, "backend answered an error")], label + ": show --json attempts")
        check_eq(obj["body_len"], len(binary), label + ": body_len")


def case_retry(env):
    for label, url in stores(env, "retry"):
        what = label + ": "
        failed = append(env, url, 5, source="gh", fail=502)
        other = append(env, url, 2, source="other", fail=500)
        delivered = append(env, url, 1, source="gh", deliver=True)
        before = statuses(url, failed + other + delivered)
        out = replay_ok(env, url, "retry", "--failed", "--dry-run")
        check_eq(sorted(table_ids(out)[:-1]), sorted(failed + other), what + "dry run lists them")
        check_eq(out.splitlines()[-1],
                 "dry run: 7 failed events would be requeued; nothing changed", what + "count")
        check_eq(statuses(url, failed + other + delivered), before, what + "dry run changed nothing")
        check_eq(replay_ok(env, url, "retry", failed[0]), "requeued %s\n" % failed[0],
                 what + "retry ID")
        row = sql(url, "SELECT status, attempts, next_attempt_ms FROM hookwire_events WHERE "
                       "id = '%s'" % failed[0])[0]
        check_eq((int(row[0]), int(row[1])), (PENDING, 1), what + "pending, attempt count kept")
        check(int(row[2]) <= time.time() * 1000 + 1000, what + "due now", row)
        check_eq(replay_ok(env, url, "retry", "--failed", "--source", "gh"),
                 "requeued 4 failed events\n", what + "retry --failed --source gh")
        check_eq(set(statuses(url, failed).values()), {PENDING}, what + "gh's are pending")
        check_eq(set(statuses(url, other).values()), {FAILED}, what + "the filter held")
        r = replay(env, url, "retry", delivered[0])
        check_eq(r.returncode, 1, what + "a delivered event needs --force")
        check_eq(r.stderr.decode(), "hookwire-replay: retry: %s was delivered; --force sends it "
                 "again\n" % delivered[0], what + "one line")
        check_eq(statuses(url, delivered), {delivered[0]: DELIVERED}, what + "still delivered")
        replay_ok(env, url, "retry", "--force", delivered[0])
        check_eq(statuses(url, delivered), {delivered[0]: PENDING}, what + "forced")
        check_eq(replay_ok(env, url, "retry", "--failed"), "requeued 2 failed events\n",
                 what + "the rest")
        check_eq(replay_ok(env, url, "retry", "--failed"), "requeued 0 failed events\n",
                 what + "nothing left")


def one_line(r, code, what, pattern):
    err = r.stderr.decode(errors="replace")
    check_eq(r.returncode, code, what + ": exit status")
    check(err.count("\n") == 1 and err.endswith("\n"), what + ": one line on stderr", err)
    check(re.search(pattern, err), what + ": says why", err)


def case_errors(env):
    [(label, url)] = stores(env, "errors")[:1]
    [eid] = append(env, url, source="x")
    unknown = "evt_01m8v5dfsmy3mbyr6x776p1y3z"
    for args, pattern in (
            (["frobnicate"], r"unknown command frobnicate"),
            ([], r"usage|no store"),
            (["list", "--nope"], r"list: unknown option --nope"),
            (["list", "--status", "lost"], r"--status: expected"),
            (["list", "--since", "yesterday"], r"--since: expected an age"),
            (["list", "--since", "99999999999w"], r"--since: expected an age"),
            (["purge", "--before", "99999999999w", "--dry-run"], r"--before: expected an age"),
            (["list", "--limit", "-3"], r"--limit"),
            (["list", "--since", "1h", "--until", "2h"], r"--since must be before --until"),
            (["show"], r"which event"),
            (["show", "not-an-id"], r"not an event id"),
            # A bad id is echoed escaped: no terminal escape, one line.
            (["show", "evt_\x1b[31mX\n"], r"not an event id: evt_\\x1b\[31mX\\x0a"),
            (["retry", "evt_\x1b]0;T\x07"], r"not an event id: evt_\\x1b\]0;T\\x07"),
            (["retry"], r"give ids or --failed"),
            (["retry", "--failed", eid], r"not both"),
            (["retry", "--source", "x", eid], r"go with --failed"),
            (["retry", "--failed", "--force"], r"--force goes with ids: --failed requeues only "
             r"events still failed"),
            (["deliver", eid], r"--to URL is required"),
            (["deliver", eid, "--to", "ftp://example.test/"], r"expected http\(s\)://HOST"),
            (["deliver", eid, "--to", "http://127.0.0.1:9/"], r"signing secret is needed"),
            (["deliver", eid, "--to", "http://127.0.0.1:9/a b"], r"expected http\(s\)://HOST"),
            (["deliver", eid, "--to", "http://127.0.0.1:9/a\r\nX-Evil: 1"],
             r"expected http\(s\)://HOST"),
            (["deliver", eid, "--to", "http://user:s3cret@127.0.0.1:9/"],
             r"a user or password in the URL is not supported"),
            (["deliver", eid, "--to", "http://[::1]:9/"], r"an IPv6 address is not supported"),
            (["purge"], r"--before AGE is required"),
            (["purge", "--before", "1d", "--status", "pending"], r"pending events are never"),
            (["stats", "extra"], r"unexpected argument")):
        r = replay(env, url if args else None, *args)
        if not args:
            check_eq(r.returncode, 2, "no command: exit 2")
            continue
        one_line(r, 2, "usage error %s" % " ".join(args), pattern)
    r = replay(env, url, "deliver", eid, "--to", "http://user:s3cret@127.0.0.1:9/")
    check(b"s3cret" not in r.stderr + r.stdout, "the password in --to is not printed", r.stderr)
    for args in (["show", unknown], ["retry", unknown], ["deliver", unknown, "--to",
                                                          "http://127.0.0.1:9/",
                                                          "--signing-secret", SECRET]):
        one_line(replay(env, url, *args), 1, "unknown id (%s)" % args[0],
                 r"no event %s in sqlite:" % unknown)
    one_line(replay(env, "postgres://x/y", "list"), 2, "bad store URL", r"bad store URL")
    one_line(replay(env, "mysql://u@/db?bogus=1", "list"), 2, "bad MySQL URL", r"bad store URL")
    # A parameter on a SQLite URL (the store exists) is refused, not opened as a new file.
    one_line(replay(env, url + "?cache=shared", "list"), 2, "a SQLite URL with a parameter",
             r"bad store URL sqlite:.*\?cache=shared: sqlite:PATH takes no \?parameters")
    check(not os.path.exists(url[len("sqlite:"):] + "?cache=shared"),
          "no store is created under the name with the parameter")
    one_line(replay(env, "sqlite:" + env.path("typo.db"), "list"), 1, "missing SQLite file",
             r"no store at sqlite:.*typo\.db")
    check(not os.path.exists(env.path("typo.db")), "a missing SQLite file is not created")
    # What is not a store says so, and is left as it was.
    with open(env.path("empty.db"), "wb"):
        pass
    with open(env.path("noise.db"), "wb") as f:
        f.write(os.urandom(4096))
    os.mkdir(env.path("dir.db"))
    for name, why in (("empty.db", r"an empty file, not a store"),
                      ("noise.db", r"not a SQLite database"),
                      ("dir.db", r"a directory, not a store")):
        one_line(replay(env, "sqlite:" + env.path(name), "list"), 1, name,
                 r"cannot open the store sqlite:.*%s: %s" % (re.escape(name), why))
    check_eq(os.path.getsize(env.path("empty.db")), 0, "an empty file is left empty")
    # A SQLite store another process holds locked: it still reads (the schema is current, so
    # opening it takes no lock); a change says busy, not "cannot reach MySQL".
    if url.startswith("sqlite:"):
        lock = sqlite3.connect(url[len("sqlite:"):], isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            r = replay(env, url, "list")
            check_eq(r.returncode, 0, "a locked store lists (%r)" % r.stderr)
            check(eid.encode() in r.stdout, "with its events", r.stdout)
            one_line(replay(env, url, "retry", eid), 1, "a locked store",
                     r"the store sqlite:.* is busy: another process holds its lock")
        finally:
            lock.close()
    one_line(replay(env, "mysql://u:secret@127.0.0.1:1/db", "list"), 1, "unreachable MySQL",
             r"cannot reach MySQL at mysql://u:\*\*\*@127\.0\.0\.1:1/db")
    check(b"secret" not in replay(env, "mysql://u:secret@127.0.0.1:1/db", "list").stderr,
          "the password is never printed")
    one_line(replay(env, None, "list"), 2, "no store at all", r"no store: give --store")
    # A store written by a newer hookwire is refused with one line, for either backend.
    for label, newer in stores(env, "newer"):
        append(env, newer, source="x")
        sql(newer, "INSERT INTO hookwire_schema (version, applied_ms) VALUES (99, 0)")
        one_line(replay(env, newer, "list"), 1, label + ": newer schema",
                 r"written by a newer hookwire \(schema version above [0-9]+\)")
    # --help for the program and each command.
    r = replay(env, None, "--help")
    check_eq(r.returncode, 0, "--help exits 0")
    for cmd in ("list", "show", "retry", "deliver", "purge", "stats"):
        check(re.search(r"\n  %s " % cmd, r.stdout.decode()), "--help lists " + cmd)
        h = replay(env, None, cmd, "--help")
        check_eq(h.returncode, 0, cmd + " --help exits 0")
        check(h.stdout.decode().startswith("usage: hookwire-replay %s " % cmd), cmd + " --help",
              h.stdout)


def case_store_sources(env):
    """The store from --config (a receiver's or a relay's file), HOOKWIRE_STORE, and
    options before the command."""
    [(label, url)] = stores(env, "sources")[:1]
    ids = append(env, url, 2, source="cfg")
    with open(env.path("receiver.ini"), "w") as f:
        f.write("[receiver]\nlisten = 127.0.0.1:8090\nstore = env:REPLAY_TEST_STORE\n\n"
                "[source cfg]\nprovider = none\nallow-unverified = true\n"
                "deliver-to = http://127.0.0.1:3000/\n")
    with open(env.path("relay.ini"), "w") as f:
        f.write("[relay]\nstore = \"%s\"\n" % url)  # quoted, as the relay reads it too
    envs = dict(os.environ, REPLAY_TEST_STORE=url)
    out = replay(env, None, "list", "--config", env.path("receiver.ini"), penv=envs)
    check_eq(table_ids(out.stdout.decode()), ids[::-1], "--config: [receiver] store, env: value")
    out = replay(env, None, "--config", env.path("relay.ini"), "list")
    check_eq(table_ids(out.stdout.decode()), ids[::-1], "--config FILE before the command, "
             "[relay] store, its quotes dropped")
    out = replay(env, None, "list", penv=dict(os.environ, HOOKWIRE_STORE=url))
    check_eq(table_ids(out.stdout.decode()), ids[::-1], "HOOKWIRE_STORE")
    one_line(replay(env, None, "list", "--config", env.path("nope.ini")), 2, "missing config",
             r"nope\.ini: cannot read")
    # A store value read through file: that is no URL (a secrets file named by mistake) is
    # refused without its content.
    with open(env.path("secret.txt"), "w") as f:
        f.write("root:s3cret-hash-value:20228:0\n")
    with open(env.path("wrong.ini"), "w") as f:
        f.write("[receiver]\nstore = file:%s\n" % env.path("secret.txt"))
    r = replay(env, None, "list", "--config", env.path("wrong.ini"))
    one_line(r, 2, "a file: store value that is no URL", r"bad store URL in .*wrong\.ini \(read "
             r"through env: or file:, so not shown\): expected sqlite:PATH")
    check(b"s3cret" not in r.stderr + r.stdout, "the file's content is not printed", r.stderr)


def case_deliver(env):
    target = env.target(lambda req: Reply(201, "Created", [("Content-Type", "text/plain")],
                                          b"thanks, stored"))
    body = b'{"action":"opened","n":\x00\xff}'
    with open(env.path("body.bin"), "wb") as f:
        f.write(body)
    with open(env.path("headers.txt"), "wb") as f:
        f.write(b"Host: hooks.example.test\r\nX-GitHub-Event: push\r\nConnection: close\r\n"
                b"Hookwire-Signature: forged\r\nContent-Length: %d\r\n" % len(body))
    with open(env.path("receiver.ini"), "w") as f:
        f.write("[receiver]\nsigning_secret = '%s'\n" % SECRET)  # quotes are not the key's
    key = base64.b64decode(SECRET[len("whsec_"):])
    n = 0
    for label, url in stores(env, "deliver"):
        [eid] = append(env, url, source="gh", path="/push", query="x=1",
                       headers_file=env.path("headers.txt"), body_file=env.path("body.bin"),
                       fail=503)
        for how in (["--signing-secret", "env:REPLAY_SECRET"],
                    ["--config", env.path("receiver.ini")]):
            r = replay(env, url, "deliver", eid, "--to",
                       "http://127.0.0.1:%d/base/" % target.port, *how,
                       penv=dict(os.environ, REPLAY_SECRET=SECRET))
            check_eq(r.returncode, 0, label + ": deliver exits 0 on 2xx (%r)" % r.stderr)
            n += 1
            req = target.wait_requests(n)[-1]
            out = r.stdout.decode()
            check(re.match(r"^POST http://127\.0\.0\.1:\d+/base/ -> 201 in \d+ ms \(%s, attempt "
                           r"2\)\nanswer: 14 bytes: thanks, stored\n$" % eid, out),
                  label + ": deliver prints status, time and the answer", out)
            check_eq((req.method, req.target), ("POST", "/base/push?x=1"),
                     label + ": method and target joined as the receiver joins them")
            check_eq(req.body, body, label + ": the body, byte for byte")
            names = [l.split(b":")[0] for l in req.header_lines]
            check_eq(names, [b"Host", b"X-GitHub-Event", b"Content-Length", b"Hookwire-Event-Id",
                             b"Hookwire-Attempt", b"Hookwire-Timestamp", b"Hookwire-Signature"],
                     label + ": original lines (hop-by-hop and forged Hookwire-* dropped), ours")
            check_eq(req.header("Hookwire-Event-Id"), eid, label + ": Hookwire-Event-Id")
            ts = req.header("Hookwire-Timestamp")
            want = "v1," + base64.b64encode(hmac.new(key, b"%s.%s.%s" % (
                eid.encode(), ts.encode(), body), hashlib.sha256).digest()).decode()
            check_eq(req.header("Hookwire-Signature"), want,
                     label + ": the Standard Webhooks signature the receiver would send")
        check_eq(statuses(url, [eid]), {eid: FAILED}, label + ": the event's status is unchanged")
        r = replay(env, url, "deliver", eid, "--to", "http://127.0.0.1:1/", "--signing-secret",
                   SECRET, "--timeout", "2s")
        check_eq(r.returncode, 1, label + ": no answer is exit 1")
        check(re.match(r"^POST http://127\.0\.0\.1:1/ -> no answer \(.+\) in \d+ ms",
                       r.stdout.decode()), label + ": says there was no answer", r.stdout)
        r = replay(env, url, "deliver", eid, "--to", "http://nosuch.invalid/x",
                   "--signing-secret", SECRET)
        check_eq(r.returncode, 1, label + ": a name that does not resolve is exit 1")
        check(r.stdout.decode().startswith("POST http://nosuch.invalid/x -> no answer (cannot "
                                           "resolve nosuch.invalid: "),
              label + ": says the name does not resolve", r.stdout + r.stderr)


def case_purge_stats(env):
    for label, url in stores(env, "purge"):
        old = int(time.time() * 1000) - 40 * 86400 * 1000
        od = append(env, url, 3, source="a", deliver=True, received_ms=old)
        of = append(env, url, 2, source="b", fail=500, received_ms=old)
        op = append(env, url, 1, source="c", received_ms=old)
        young = append(env, url, 2, source="y", fail=500)
        st = json.loads(replay_ok(env, url, "stats", "--json"))
        check_eq((st["pending"], st["delivered"], st["failed"]), (1, 3, 4), label + ": stats")
        check_eq(st["failed_last_hour"], 2, label + ": failures of the last hour")
        check_eq([(s["source"], s["pending"], s["delivered"], s["failed"]) for s in
                  st["sources"]], [("a", 0, 3, 0), ("b", 0, 0, 2), ("c", 1, 0, 0), ("y", 0, 0, 2)], label + ": by source")
        text = replay_ok(env, url, "stats")
        check(re.search(r"events       8\n  pending    1\n  delivered  3\n  failed     4\n", text),
              label + ": stats as text", text)
        out = replay_ok(env, url, "purge", "--before", "30d", "--dry-run")
        check(out.startswith("dry run: 5 events received before "), label + ": purge dry run",
              out)
        check_eq(len(statuses(url, od + of + op + young)), 8, label + ": the dry run kept all")
        out = replay_ok(env, url, "purge", "--before", "30d", "--status", "failed")
        check(out.startswith("purged 2 events received before "), label + ": purge failed", out)
        out = replay_ok(env, url, "purge", "--before", "30d")
        check(out.startswith("purged 3 events "), label + ": purge the rest", out)
        check_eq(sorted(statuses(url, od + of + op + young)), sorted(op + young),
                 label + ": pending and young events stay")


def case_retry_unconfirmed(env):
    """A page whose requeue the database does not confirm (here a trigger makes the UPDATE
    fail) may have been requeued all the same, as when the COMMIT's answer is lost: the count
    printed is what was confirmed, and the line says how many more may have gone and how to
    see what is left."""
    path = env.path("unconfirmed.db")
    url = "sqlite:" + path
    failed = append(env, url, 3, source="gh", fail=500)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TRIGGER no_requeue BEFORE UPDATE ON hookwire_events "
               "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    r = replay(env, url, "retry", "--failed")
    db.execute("DROP TRIGGER no_requeue")
    db.close()
    check_eq(r.returncode, 1, "exit status (stderr %r)" % r.stderr)
    check_eq(r.stdout.decode(), "requeued 0 failed events, and perhaps the 3 of the page the "
             "database did not confirm: hookwire-replay list --status failed shows what is left\n",
             "the count says what is unsure")
    check_eq(set(statuses(url, failed).values()), {FAILED}, "the refused page was not requeued")
    check_eq(replay_ok(env, url, "retry", "--failed"), "requeued 3 failed events\n",
             "run again, it takes what is still failed")

if __name__ == "__main__":
    require_mysql()
    run([case_list_and_json, case_paging, case_show_body, case_retry, case_errors,
         case_store_sources, case_deliver, case_purge_stats, case_retry_unconfirmed,
         case_hostile_store])
