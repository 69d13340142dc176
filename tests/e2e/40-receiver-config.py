#!/usr/bin/env python3
"""hookwire-receiver's configuration: [receiver] and [source NAME] sections.

A good file passes --check-config and the summary shows what was built; the
command line wins over the file wherever --config stands; examples/receiver.ini
with every source uncommented is valid; each kind of mistake stops the program
with exit 2 and one line "file:line: reason" pointing at the right line, and no
secret ever appears in the output.
"""

import os
import re
import subprocess

from harness import RECEIVER_BIN, REPLAY_BIN, SOURCE, check, check_eq, run

SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
GITHUB_SECRET = "gh-secret-do-not-print"
DISCORD_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

GOOD = """\
[receiver]
listen = 127.0.0.1:18090
path_prefix = /hooks/in
retry-schedule = 1s 2s 3s
signing-secret = env:TEST_SIGNING_SECRET

[source github]
provider = github
secret = file:{secret_file}
deliver_to = http://127.0.0.1:3000/gh

[source slack]
provider = slack
secret = slack-signing
deliver-to = https://backend.internal/slack
concurrency = 2

[source zoom]
provider = zoom
secret = zoom-token
deliver-to = http://127.0.0.1:3000/zoom

[source plain]
provider = none
allow_unverified = true
deliver-to = http://127.0.0.1:3000/plain
"""


def receiver(env, args, extra_env=None):
    penv = dict(os.environ, TEST_SIGNING_SECRET=SIGNING)
    penv.update(extra_env or {})
    return subprocess.run([RECEIVER_BIN] + args, cwd=env.dir, env=penv, capture_output=True,
                          text=True, timeout=15)


def write(env, name, text):
    path = env.path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def good_config(env):
    secret_file = write(env, "gh.secret", GITHUB_SECRET + "\n")
    return write(env, "good.ini", GOOD.format(secret_file=secret_file))


def case_good_file(env):
    conf = good_config(env)
    r = receiver(env, ["--config", conf, "--check-config"])
    check_eq((r.returncode, r.stderr), (0, ""), "a good file passes --check-config")
    lines = r.stdout.splitlines()
    check(lines[0].startswith("config ok: listen 127.0.0.1:18090, store sqlite:"
                              "./hookwire-receiver.db, webhooks at /hooks/in/SOURCE, "
                              "4 delivery attempts, 4 sources"), "the summary", lines[0])
    check_eq(lines[1:], [
        "source github: provider github, 1 secret, deliver to http://127.0.0.1:3000/gh, "
        "concurrency 8",
        "source slack: provider slack, 1 secret, deliver to https://backend.internal/slack, "
        "concurrency 2, handshake answered here",
        "source zoom: provider zoom, 1 secret, deliver to http://127.0.0.1:3000/zoom, "
        "concurrency 8, handshake answered here",
        "source plain: provider none, 0 secrets, deliver to http://127.0.0.1:3000/plain, "
        "concurrency 8",
    ], "each source in file order, with '_' and '-' keys alike")
    for secret in (GITHUB_SECRET, SIGNING, "slack-signing", "zoom-token"):
        check(secret not in r.stdout + r.stderr, "no secret in the output")
    r = receiver(env, ["--config", conf, "--check-config", "--store",
                       "mysql://hw:p@ss-w0rd@db.internal/hooks"])
    check_eq(r.returncode, 0, "a MySQL store passes --check-config")
    check("store mysql://hw:***@db.internal/hooks," in r.stdout, "its password masked whole",
          r.stdout.splitlines()[:1])


def case_command_line_wins(env):
    conf = good_config(env)
    for args in (["--listen", "127.0.0.1:7001", "--store", "sqlite:/tmp/x.db", "--config", conf],
                 ["--config=" + conf, "--listen=127.0.0.1:7001", "--store", "sqlite:/tmp/x.db"]):
        r = receiver(env, args + ["--check-config"])
        check_eq(r.returncode, 0, "check passes (%s)" % args[0])
        check(r.stdout.startswith("config ok: listen 127.0.0.1:7001, store sqlite:/tmp/x.db,"),
              "--listen and --store win over the file, before or after --config", r.stdout)
    r = receiver(env, ["--config", conf, "--check-config", "--store",
                       "mysql://hw:pa55word@127.0.0.1:3306/hw"])
    check("store mysql://hw:***@127.0.0.1:3306/hw," in r.stdout, "the password is masked",
          r.stdout)
    check("pa55word" not in r.stdout, "never printed")


def case_example_is_valid(env):
    """examples/receiver.ini with every source section uncommented."""
    with open(os.path.join(SOURCE, "examples", "receiver.ini")) as f:
        text = f.read()
    body, sources = [], 0
    in_sources = False
    for line in text.splitlines():
        if re.match(r"^;\[source ", line):
            in_sources = True
            sources += 1
        if in_sources and re.match(r"^;(\[|[a-z][a-z_-]* = )", line):
            line = line[1:]
        body.append(line)
    check(sources >= 8, "the example has a source for each common provider", sources)
    conf = write(env, "example.ini", "\n".join(body) + "\n")
    secrets = {"GITHUB_WEBHOOK_SECRET": "gh", "STRIPE_WEBHOOK_SECRET": "whsec_stripe",
               "CLERK_WEBHOOK_SECRET": SIGNING, "SLACK_SIGNING_SECRET": "sl",
               "SHOPIFY_API_SECRET": "sh", "TWILIO_AUTH_TOKEN": "tw",
               "DISCORD_PUBLIC_KEY": DISCORD_KEY, "ZOOM_WEBHOOK_SECRET_TOKEN": "zm",
               "GITLAB_WEBHOOK_TOKEN": "gl"}
    # Twilio's section asks for public-url in [receiver]; given here as an operator would.
    r = receiver(env, ["--config", conf, "--check-config", "--signing-secret",
                       "env:TEST_SIGNING_SECRET", "--public-url", "https://www.example.com"],
                 secrets)
    check_eq((r.returncode, r.stderr), (0, ""), "the uncommented example is a valid config")
    check("%d sources" % sources in r.stdout, "every example source was built", r.stdout)


# (what, file text, line the error must point at, words the reason must hold)
BAD_FILES = [
    ("unknown provider", "[source a]\nprovider = gihtub\nsecret = x\n", 2, ["provider", "unknown"]),
    ("missing secret", "[source a]\nprovider = github\ndeliver-to = http://127.0.0.1:1/\n", 1,
     ["secret", "missing"]),
    ("no deliver-to", "\n[source a]\nprovider = github\nsecret = x\n", 2, ["deliver-to"]),
    ("bad URL", "[source a]\nprovider = github\nsecret = x\ndeliver-to = ftp://h/x\n", 4,
     ["deliver-to", "http"]),
    ("URL without host", "[source a]\nprovider = github\nsecret = x\ndeliver-to = http:///x\n",
     4, ["deliver-to"]),
    # A file that is otherwise whole: port 0 alone makes it wrong.
    ("URL with port 0", "[receiver]\nsigning-secret = env:TEST_SIGNING_SECRET\n\n[source a]\n"
     "provider = github\nsecret = x\ndeliver-to = http://127.0.0.1:0/x\n", 7,
     ["[source a] deliver-to: expected an http:// or https:// URL"]),
    ("URL with a password",
     "[source a]\nprovider = github\nsecret = x\ndeliver-to = http://u:hunter2@127.0.0.1:1/x\n",
     4, ["deliver-to", "password", "not supported"]),
    ("URL with a space",
     "[source a]\nprovider = github\nsecret = x\ndeliver-to = http://127.0.0.1:1/a b\n",
     4, ["deliver-to", "http"]),
    ("URL with an IPv6 address",
     "[source a]\nprovider = github\nsecret = x\ndeliver-to = http://[::1]:3000/x\n",
     4, ["deliver-to", "IPv6"]),
    ("bad retry step", "[receiver]\nlisten = 127.0.0.1:1\nretry_schedule = 5s 5x\n", 3,
     ["retry-schedule", "5x"]),
    ("bad deliver-timeout", "[receiver]\ndeliver-timeout = soon\n", 2, ["deliver-timeout"]),
    ("a key given twice", "[receiver]\nlisten = 127.0.0.1:1\n\nlisten = 127.0.0.1:2\n", 4,
     ["listen is set twice in [receiver] (first on line 2)"]),
    ("a source key given twice", "[source a]\nprovider = github\nprovider = stripe\n", 3,
     ["provider is set twice in [source a]"]),
    ("bad tolerance", "[source a]\nprovider = github\ntolerance = 5m\n", 3, ["tolerance"]),
    ("none without allow-unverified",
     "[source a]\nprovider = none\ndeliver-to = http://127.0.0.1:1/\n", 1, ["allow-unverified"]),
    ("secret with none", "[source a]\nprovider = none\nsecret = x\n", 3, ["secret", "none"]),
    ("allow-unverified with a provider",
     "[source a]\nprovider = github\nsecret = x\nallow-unverified = true\n"
     "deliver-to = http://127.0.0.1:1/\n", 1, ["allow-unverified"]),
    ("duplicate source", "[source a]\nprovider = github\n\n[source b]\n\n[source a]\n", 6,
     ["duplicate"]),
    ("invalid source name", "[source Stripe_Live]\nprovider = stripe\n", 1, ["invalid source name"]),
    ("empty source name", "[source ]\n", 1, ["section"]),
    ("unknown section", "[receiver]\n[sources a]\nprovider = github\n", 2, ["unknown section"]),
    ("unknown source key", "[source a]\nprovider = github\ndelivery = http://x/\n", 3,
     ["unknown key", "delivery"]),
    ("unknown receiver key", "[receiver]\nlisten = 127.0.0.1:1\nlistne = x\n", 3, ["listne"]),
    ("bad concurrency", "[source a]\nconcurrency = 0\n", 2, ["concurrency"]),
    ("too many store writers", "[receiver]\nstore-writers = 17\n", 2, ["store-writers", "16"]),
    ("a parameter on a SQLite URL", "[receiver]\nstore = sqlite:/tmp/x.db?cache=shared\n", 2,
     ["store: sqlite:PATH takes no ?parameters"]),
    ("a MySQL URL without its database", "[receiver]\nstore = mysql://u:hunter2@h\n", 2,
     ["store: mysql:// needs one database name"]),
    ("bad path prefix", "[receiver]\npath-prefix = /api/webhooks/\n", 2, ["path-prefix"]),
    ("bad listen", "[receiver]\nlisten = nowhere\n", 2, ["listen"]),
    ("bad public-url", "[receiver]\npublic-url = https://h/x?y=1\n", 2, ["public-url"]),
    ("provider twice", "[source a]\nprovider = github\nprovider = stripe\n", 3, ["provider"]),
    ("short signing secret", "[receiver]\nsigning-secret = hunter2\n", 2,
     ["signing-secret", "16 bytes"]),
    ("twilio without public-url",
     "[receiver]\nlisten = 127.0.0.1:1\n\n[source tw]\nprovider = twilio\nsecret = t\n"
     "deliver-to = http://127.0.0.1:1/\n", 4, ["twilio", "public-url"]),
    ("malformed whsec secret", "[source a]\nprovider = svix\nsecret = whsec_!!!notbase64\n", 3,
     ["secret"]),
]


def case_bad_files(env):
    for i, (what, text, line, words) in enumerate(BAD_FILES):
        conf = write(env, "bad%d.ini" % i, text)
        r = receiver(env, ["--config", conf, "--check-config"])
        check_eq(r.returncode, 2, what + ": exit 2")
        lines = r.stderr.strip().splitlines()
        check_eq(len(lines), 1, what + ": one line on stderr (%r)" % r.stderr)
        check(lines[0].startswith("%s:%d: " % (conf, line)),
              "%s: the error points at line %d" % (what, line), lines[0])
        for w in words:
            check(w in lines[0], "%s: the reason mentions %s" % (what, w), lines[0])
        check_eq(r.stdout, "", what + ": nothing on stdout")
        for secret in ("hunter2", "!!!"):
            check(secret not in r.stderr, what + ": the secret is not echoed", r.stderr)


def case_bad_command_line(env):
    conf = good_config(env)
    cases = [
        (["--retry-schedule", "5s 5q"], ["--retry-schedule", "5q"]),
        (["--listen", "x"], ["--listen"]),
        (["--listen", "18092"], ["--listen 18092: give an address with the port: --listen "
                                 "127.0.0.1:18092 (this machine only)"]),
        (["--max-body", "0"], ["--max-body"]),
        (["--max-held", "1M"], ["max-held", "at least max-body"]),
        (["--store-writers", "0"], ["--store-writers"]),
        (["--deliver-timeout", "1h"], ["--deliver-timeout"]),
        (["--signing-secret", "short"], ["--signing-secret"]),
        (["--path-prefix", "api"], ["--path-prefix"]),
        (["--path-prefix", "/api/../admin"], ["--path-prefix", "'..'"]),
        (["--path-prefix", "/./hooks"], ["--path-prefix", "'.'"]),
        (["extra"], ["extra"]),
        (["--config", conf], ["--config: given twice", "reads one file"]),
    ]
    for args, words in cases:
        r = receiver(env, ["--config", conf, "--check-config"] + args)
        check_eq(r.returncode, 2, "%s: exit 2" % args)
        lines = r.stderr.strip().splitlines()
        check_eq(len(lines), 1, "%s: one line (%r)" % (args, r.stderr))
        for w in words:
            check(w in lines[0], "%s: mentions %s" % (args, w), lines[0])
    r = receiver(env, ["--check-config"])
    check_eq(r.returncode, 2, "no config: exit 2")
    check("no sources" in r.stderr, "no config: says there are no sources", r.stderr)
    r = receiver(env, ["--config", conf, "--check-config"], {"TEST_SIGNING_SECRET": ""})
    check_eq(r.returncode, 2, "empty signing secret: exit 2")
    nosign = write(env, "nosign.ini", GOOD.replace("signing-secret = env:TEST_SIGNING_SECRET\n",
                                                   "").format(secret_file=env.path("gh.secret")))
    r = receiver(env, ["--config", nosign, "--check-config"])
    check_eq(r.returncode, 2, "no signing secret: exit 2")
    check("signing-secret: missing" in r.stderr, "says it is missing", r.stderr)
    r = receiver(env, ["--config", env.path("no-such.ini"), "--check-config"])
    check_eq(r.returncode, 2, "a missing file: exit 2")
    check_eq(r.stderr, "cannot read %s: No such file or directory\n" % env.path("no-such.ini"),
             "a missing file: cannot read FILE: reason")


UNCLOSED = ("a quoted value is not closed (a \" ;\" inside a value starts a comment: put such "
            "a secret in a file, file:PATH)")


def case_quoted_values(env):
    """inih takes " ;" for the start of a comment, even inside quotes: the value it hands over
    opens a quote it does not close, and is refused rather than taken cut short."""
    secret_file = env.path("gh.secret")
    good = GOOD.format(secret_file=secret_file)
    write(env, "gh.secret", GITHUB_SECRET + "\n")
    cut = [("secret = file:%s" % secret_file, 'secret = "abc ; def"', "secret"),
           ("listen = 127.0.0.1:18090", 'listen = "127.0.0.1:18090 ; local"', "listen"),
           ("concurrency = 2", 'concurrency = "2', "concurrency")]
    for i, (line, quoted, key) in enumerate(cut):
        conf = write(env, "cut%d.ini" % i, good.replace(line, quoted))
        at = good.splitlines().index(line) + 1
        r = receiver(env, ["--config", conf, "--check-config"])
        check_eq((r.returncode, r.stdout), (2, ""), quoted + ": exit 2, nothing on stdout")
        check_eq(r.stderr, "%s:%d: %s: %s\n" % (conf, at, key, UNCLOSED), quoted + ": the line")
    # hookwire-replay reads the receiver's file with the same words.
    conf = write(env, "cut-store.ini", good.replace("[receiver]\n",
                                                    '[receiver]\nstore = "sqlite:a ; b.db"\n'))
    r = subprocess.run([REPLAY_BIN, "--config", conf, "list"], cwd=env.dir, capture_output=True,
                       text=True, timeout=15)
    check_eq((r.returncode, r.stdout), (2, ""), "replay: exit 2, nothing on stdout")
    check_eq(r.stderr, "hookwire-replay: %s:2: store: %s\n" % (conf, UNCLOSED),
             "replay: the line")
    # Whole quotes still go, and a ';' with no space before it is part of the value.
    for line, quoted in [("secret = slack-signing", 'secret = "slack;signing"'),
                         ("listen = 127.0.0.1:18090", 'listen = "127.0.0.1:18090"'),
                         ("secret = zoom-token", "secret = 'zoom token'")]:
        conf = write(env, "whole.ini", good.replace(line, quoted))
        r = receiver(env, ["--config", conf, "--check-config"])
        check_eq((r.returncode, r.stderr), (0, ""), quoted + ": accepted")


if __name__ == "__main__":
    run([case_good_file, case_command_line_wins, case_example_is_valid, case_bad_files,
         case_bad_command_line, case_quoted_values])
