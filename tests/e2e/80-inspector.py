#!/usr/bin/env python3
"""The agent's web inspector in a real headless Chromium (Debian's chromium, driven by
playwright-core from tests/node; no browser is downloaded).

tests/node/inspector.js opens the inspector, sends a signed webhook to the relay and
requires its row within a second without a reload; opens its detail; replays it as is and
edited; sends a webhook with a bad signature and requires the refusal with its reason; edits
a webhook whose body is past what the agent keeps, from the relay's whole copy. This
side then compares what the page showed with the bytes the app received: the exact header
lines and body, the replay's identical bytes, the edited body. Screenshots of the list and
the detail view are kept in build/test-artifacts/inspector/.
"""

import json
import os
import shutil
import subprocess

from harness import BIN, SOURCE, check, check_eq, run, wait_until
from hw_inspect import SECRET, Inspector, github_headers

NODE_DIR = os.path.join(SOURCE, "tests", "node")
ARTIFACTS = os.path.join(os.path.dirname(BIN), "test-artifacts", "inspector")
CHROMIUM = "/usr/bin/chromium"


def browser(env):
    node = shutil.which("node")
    check(node is not None, "node is installed (scripts/install-deps)")
    check(os.access(CHROMIUM, os.X_OK), "Debian's chromium is installed (scripts/install-deps)")
    check(os.path.isdir(os.path.join(NODE_DIR, "node_modules", "playwright-core")),
          "tests/node/node_modules has playwright-core (scripts/node-deps)")
    ins = Inspector(env)
    out_file = env.path("browser.json")
    r = subprocess.run([node, os.path.join(NODE_DIR, "inspector.js"), ins.url,
                        "http://127.0.0.1:%d/t/%s" % (ins.relay.port, ins.channel),
                        SECRET.decode(), ARTIFACTS, out_file],
                       capture_output=True, text=True, timeout=180, cwd=env.dir,
                       env=dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1",
                                NODE_PATH=os.path.join(NODE_DIR, "node_modules")))
    check(r.returncode == 0, "the browser script passes", r.stdout + r.stderr)
    with open(out_file) as f:
        seen = json.load(f)
    print("      row appeared %d ms after the webhook was sent; screenshots in %s" %
          (seen["appeared_ms"], ARTIFACTS))
    check(seen["appeared_ms"] < 1000, "the row appeared within a second", seen["appeared_ms"])
    check_eq(seen["page_errors"], [], "the page ran without errors")

    reqs = ins.app.requests
    check_eq(len(reqs), 5, "the app got the webhook, its replay, the edited replay, and the "
             "large webhook and its edited replay")
    first, replayed, edited, large, large_edited = reqs
    check_eq(first.header("Hookwire-Event-Id"), seen["event_id"], "the page showed the event")
    # The detail view: the request line and header lines exactly as the app got them.
    check_eq(seen["request_line"].encode("latin-1"), first.request_line, "the request line")
    check_eq([l.encode("latin-1") for l in seen["header_lines"]], first.header_lines,
             "the detail's header lines are the app's, in order, byte for byte")
    check_eq(seen["body_raw"].encode("utf-8"), first.body, "the detail's raw body is the app's")
    check_eq(json.loads(seen["body_json"]), json.loads(first.body), "the pretty JSON view")
    check("active" in (seen["json_tab_active"] or ""), "a JSON body opens in the JSON view")
    check(seen["curl"].startswith("curl -X POST 'http://localhost:%d/gh/push?src=browser'" %
                                  ins.app.port), "copy as curl targets the app", seen["curl"])
    # Replay as is: identical bytes but the attempt number.
    check_eq(replayed.body, first.body, "the replay's body is identical")
    strip = lambda ls: [l for l in ls if not l.lower().startswith(b"hookwire-attempt:")]
    check_eq(strip(replayed.header_lines), strip(first.header_lines),
             "the replay's header lines are identical (but Hookwire-Attempt)")
    check_eq(replayed.header("Hookwire-Attempt"), "2", "the replay is attempt 2")
    # Edited replay: the edited body, with its own length.
    check_eq(edited.body, seen["edited_body"].encode(), "the app got the edited body")
    check_eq(edited.header("Content-Length"), str(len(seen["edited_body"])),
             "the edited body's length")
    check("bad signature" in seen["refused_text"], "the refusal shows its reason",
          seen["refused_text"])
    check(seen["refused_line"].startswith("POST /t/alice/gh/forged HTTP/1.1"),
          "the refusal's detail shows its request line", seen["refused_line"])
    check_eq(seen["filtered_rows"], 1, "the status filter leaves the refusal alone")
    check_eq(seen["path_rows"], 3, "the path filter leaves the webhook's three exchanges")
    check_eq(seen["text_rows"], 1, "the text filter leaves the edited replay")
    # A body past what the agent keeps: the editor had it whole, from the relay's record.
    check_eq(len(large.body), seen["large_len"], "the large webhook reached the app whole")
    check_eq(seen["large_editor_len"], seen["large_len"], "the editor holds the whole body")
    check_eq(large_edited.body, large.body, "its edited replay, sent unchanged, is byte-exact")
    for name in ("list.png", "detail.png"):
        p = os.path.join(ARTIFACTS, name)
        check(os.path.getsize(p) > 10000, "the screenshot %s was saved" % p)


# A valid HTTP token (& $ ' are tchar) that a shell would run as commands.
HOSTILE_METHOD = "X&touch$IFS'PWNED'&"


def curl_quoting(env):
    """Copy as curl, from the page the agent serves, for a webhook whose method, query,
    header and body are made to break out of a shell command: run in sh, the command must
    hand curl exactly the webhook's bytes and run nothing else. The body starts with @, which
    --data-binary would take for a file to read (and send instead): it goes as --data-raw."""
    ins = Inspector(env)
    body = b"@/etc/hostname it's $(touch BODY) `touch TICK` & echo"
    headers = github_headers(body) + [("X-Quote", "a'b $(touch HEADER) \"c\" & d")]
    resp = ins.relay.webhook(HOSTILE_METHOD, "/t/%s/q?x='1'&y=$z" % ins.channel, headers, body)
    check_eq(resp.status, 200, "the webhook with an odd method is forwarded")
    got = ins.app.wait_requests(1)[0]
    check_eq(got.method, HOSTILE_METHOD, "the app got the method as sent")
    row = wait_until(lambda: next((r for r in ins.json("GET", "/api/captures")["captures"]
                                   if r["method"] == HOSTILE_METHOD and r["done"]), None),
                     10, "the inspector to record the webhook")
    node = shutil.which("node")
    check(node is not None, "node is installed (scripts/install-deps)")
    out_file = env.path("curl.txt")
    r = subprocess.run([node, os.path.join(NODE_DIR, "curl-of.js"), ins.url, row["id"], out_file],
                       capture_output=True, text=True, timeout=120, cwd=env.dir,
                       env=dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1",
                                NODE_PATH=os.path.join(NODE_DIR, "node_modules")))
    check(r.returncode == 0, "the browser script passes", r.stdout + r.stderr)
    with open(out_file) as f:
        cmd = f.read()
    # A stand-in curl records its arguments; the command runs in a folder of its own.
    work = env.path("shell")
    os.makedirs(os.path.join(work, "bin"))
    fake = os.path.join(work, "bin", "curl")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done >\"$ARGS_FILE\"\n")
    os.chmod(fake, 0o755)
    args_file = env.path("curl-args")
    subprocess.run(["sh", "-c", cmd], cwd=work, timeout=30, check=True,
                   env=dict(os.environ, PATH=os.path.join(work, "bin") + ":" + os.environ["PATH"],
                            ARGS_FILE=args_file))
    with open(args_file, "rb") as f:
        args = f.read().split(b"\0")[:-1]
    skip = (b"content-length:", b"transfer-encoding:", b"connection:")
    want = [b"-X", HOSTILE_METHOD.encode(),
            b"http://localhost:%d/q?x='1'&y=$z" % ins.app.port]
    for line in got.header_lines:
        if not line.lower().startswith(skip):
            want += [b"-H", line]
    want += [b"--data-raw", body]
    check(args == want, "curl gets the method, URL, header lines and body exactly",
          "got %r\nwant %r\ncommand: %s" % (args, want, cmd))
    check(sorted(os.listdir(work)) == ["bin"], "the command ran nothing else",
          "%r after: %s" % (os.listdir(work), cmd))


if __name__ == "__main__":
    run([browser, curl_quoting])
