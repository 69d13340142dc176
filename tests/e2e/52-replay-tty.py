#!/usr/bin/env python3
"""hookwire-replay on a real terminal (a private tmux server): list draws an aligned table
with a header, colours the status and ends with a count; retry --failed draws a progress bar
on stderr that reaches 100%; and the same commands piped write plain tab-separated lines with
no header, no colour and no bar. On SQLite and on MariaDB.

Needs tmux (scripts/install-deps) and HOOKWIRE_TEST_MYSQL_URL (scripts/test sets it).
"""

import re
import shlex
import subprocess
import time

from harness import REPLAY_BIN, check, check_eq, run, wait_until
from hw_replay import append, require_mysql, sql, stores

N_BULK = 20000


class Tmux:
    """A tmux server of our own (its own socket), one 200x50 window running sh."""

    def __init__(self, env):
        self.sock = env.path("tmux.sock")
        self.tmux("new-session", "-d", "-x", "200", "-y", "50", "-s", "t", "sh")
        self.n = 0

    def tmux(self, *args):
        r = subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True,
                           text=True, timeout=30)
        check(r.returncode == 0, "tmux %s" % args[0], r.stderr)
        return r.stdout

    def run(self, argv, timeout=120, colours=False):
        """Types the command into the terminal, waits for it to finish; returns the pane's
        text of its output and its exit status."""
        self.n += 1
        self.tmux("send-keys", "-t", "t", "clear; tmux -S %s clear-history -t t; " % self.sock
                  + " ".join(shlex.quote(a) for a in argv)
                  + "; echo __done%d__ $?" % self.n, "Enter")
        mark = re.compile(r"^__done%d__ (\d+)$" % self.n, re.M)
        wait_until(lambda: mark.search(self.capture()), timeout, "the command ends: %s" % argv[1])
        text = self.capture(colours)
        m = mark.search(self.capture())
        return text[:text.rfind("__done%d__" % self.n)], int(m.group(1))

    def capture(self, colours=False):
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "t",
                         *(["-e"] if colours else []))

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=30)


def case_table_and_progress(env):
    term = Tmux(env)
    try:
        for label, url in stores(env, "tty"):
            failed = append(env, url, 3, source="github", path="/push", fail=503)
            pending = append(env, url, 2, source="stripe", path="/charge")
            out, rc = term.run([REPLAY_BIN, "list", "--store", url])
            check_eq(rc, 0, label + ": list on a terminal")
            lines = [l for l in out.splitlines() if l.strip()]
            head = [i for i, l in enumerate(lines) if l.startswith("ID ")]
            check(len(head) == 1, label + ": one header row", out)
            h = lines[head[0]]
            check(re.match(r"^ID +RECEIVED \(UTC\) +SOURCE +METHOD +PATH +STATUS +ATT +LAST "
                           r"RESULT$", h), label + ": the header names the columns", h)
            rows = lines[head[0] + 1:head[0] + 6]
            check_eq([r.split()[0] for r in rows], pending[::-1] + failed[::-1],
                     label + ": one row per event, newest first")
            col = h.index("STATUS")
            check_eq([r[col:].split()[0] for r in rows], ["pending"] * 2 + ["failed"] * 3,
                     label + ": the status column lines up under its header")
            check("503 backend answered" in rows[-1], label + ": last result", rows[-1])
            check_eq(lines[head[0] + 6], "5 events", label + ": a count at the end")
            coloured, _ = term.run([REPLAY_BIN, "list", "--store", url], colours=True)
            check("\x1b[31mfailed" in coloured, label + ": failed in red on a terminal")
            # Piped, the same command writes plain lines: no header, no colour.
            out, rc = term.run(["sh", "-c", "%s list --store %s | cat" % (
                shlex.quote(REPLAY_BIN), shlex.quote(url))], colours=True)
            lines = [l for l in out.splitlines() if l.strip() and not l.startswith("clear")]
            # (The terminal shows the tabs as spaces; the plain form has ISO times.)
            check_eq([l.split()[0] for l in lines], pending[::-1] + failed[::-1],
                     label + ": piped, one line per event and nothing else: no header, no count")
            check(all(re.match(r"^evt_\w+ +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", l)
                      for l in lines), label + ": the plain form's ISO times", lines)
            check("\x1b[" not in out.replace("\x1b[39m", "").replace("\x1b[0m", ""),
                  label + ": no colour when piped", out)

            # A bulk retry draws its bar on the terminal's stderr, to 100%.
            append(env, url, N_BULK, source="bulk")
            sql(url, "UPDATE hookwire_events SET status = 3, attempts = 1 WHERE source = X'%s'"
                % b"bulk".hex())
            out, rc = term.run([REPLAY_BIN, "retry", "--failed", "--store", url])
            check_eq(rc, 0, label + ": retry --failed on a terminal")
            total = N_BULK + 3
            check(re.search(r"requeueing \[#{30}\] 100%% %d/%d +\d+/s" % (total, total), out),
                  label + ": the progress bar reached 100%", out)
            check("requeued %d failed events" % total in out, label + ": the count", out)
            # Piped stderr: no bar at all.
            sql(url, "UPDATE hookwire_events SET status = 3")
            out, rc = term.run(["sh", "-c", "%s retry --failed --store %s 2>%s" % (
                shlex.quote(REPLAY_BIN), shlex.quote(url), env.path("stderr"))])
            check_eq(rc, 0, label + ": retry with stderr to a file")
            with open(env.path("stderr")) as f:
                check_eq(f.read(), "", label + ": no progress bar when stderr is not a terminal")
            check("requeued %d failed events" % (N_BULK + 5) in out, label + ": the count", out)
    finally:
        term.close()


if __name__ == "__main__":
    require_mysql()
    run([case_table_and_progress])
