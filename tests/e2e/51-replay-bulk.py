#!/usr/bin/env python3
"""hookwire-replay's bulk work on SQLite and on MariaDB: `retry --failed` over 100,000 failed
events requeues every one with a peak RSS under 64 MiB (the listing streams in pages of 1000),
and Ctrl-C (SIGINT) in the middle of it stops between pages, leaving a consistent store: the
events printed as requeued are exactly the pending ones (the newest, page by page), every other
one is still failed and untouched, and the exit status is 1 with one line saying so.

The events are appended through the store (hw-store-append, group commit) and then marked
failed with one UPDATE: recording 100,000 attempts one by one would take minutes.

Needs HOOKWIRE_TEST_MYSQL_URL (scripts/test sets it); fails without it unless
HOOKWIRE_TEST_NO_MYSQL=1.
"""

import os
import re
import signal
import subprocess
import time

from harness import REPLAY_BIN, check, check_eq, run, wait_until
from hw_replay import append, require_mysql, sql, stores

N = 100000
RSS_MAX_KIB = 64 * 1024


def sanitized():
    """ASan keeps freed memory in quarantine and maps shadow memory: the RSS bound holds for
    the normal build only (the sanitizer build checks the rest)."""
    with open(REPLAY_BIN, "rb") as f:
        return b"AddressSanitizer" in f.read()


def failed_store(env, url):
    append(env, url, N, source="bulk", received_ms=int(time.time() * 1000) - 3600 * 1000)
    sql(url, "UPDATE hookwire_events SET status = 3, attempts = 1, last_status = 503, "
             "last_error = X'%s'" % b"backend down".hex())
    counts = dict(map(tuple, sql(url, "SELECT status, COUNT(*) FROM hookwire_events "
                                      "GROUP BY status")))
    check_eq({int(k): int(v) for k, v in counts.items()}, {3: N}, "%d failed events" % N)


def by_status(url):
    rows = sql(url, "SELECT status, COUNT(*), MIN(seq), MAX(seq), MIN(attempts), MAX(attempts) "
                    "FROM hookwire_events GROUP BY status")
    return {int(r[0]): [int(x) for x in r[1:]] for r in rows}


def case_retry_100k_rss(env):
    for label, url in stores(env, "bulk"):
        failed_store(env, url)
        t0 = time.monotonic()
        # The peak RSS of the replay process itself: a child forked from this test would
        # carry the test's own resident pages into its ru_maxrss, which survives exec. So
        # /usr/bin/time (a small process) starts it when it is there.
        timer = ["/usr/bin/time", "-f", "%M", "-o", env.path("rss")] if os.access(
            "/usr/bin/time", os.X_OK) else []
        with open(env.path("out"), "wb") as out, open(env.path("err"), "wb") as err:
            p = subprocess.Popen(timer + [REPLAY_BIN, "retry", "--failed", "--store", url],
                                 stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=env.dir)
            _, status, usage = os.wait4(p.pid, 0)
        took = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss
        if timer:
            with open(env.path("rss")) as f:
                peak = int(f.read().split()[-1])
        with open(env.path("out")) as f:
            out = f.read()
        with open(env.path("err")) as f:
            err = f.read()
        check_eq(p.returncode, 0, label + ": retry --failed exits 0 (%r)" % err)
        check_eq(out, "requeued %d failed events\n" % N, label + ": the count")
        check_eq(err, "", label + ": no progress bar and no noise when stderr is not a terminal")
        if not sanitized():
            check(peak < RSS_MAX_KIB, label + ": peak RSS under 64 MiB", "%d KiB" % peak)
        st = by_status(url)
        check_eq(list(st), [1], label + ": every event is pending")
        check_eq((st[1][0], st[1][3], st[1][4]), (N, 1, 1), label + ": attempt counts kept")
        print("      %s: requeued %d in %.2f s, peak RSS %d KiB" % (label, N, took, peak))


def case_ctrl_c(env):
    for label, url in stores(env, "sigint"):
        failed_store(env, url)
        with open(env.path("out"), "wb") as out, open(env.path("err"), "wb") as err:
            p = subprocess.Popen([REPLAY_BIN, "retry", "--failed", "--store", url], stdout=out,
                                 stderr=err, stdin=subprocess.DEVNULL, cwd=env.dir)
            # Interrupt once the first pages are in: the work is under way, far from done.
            wait_until(lambda: p.poll() is not None or
                       int(sql(url, "SELECT COUNT(*) FROM hookwire_events WHERE status = 1")
                           [0][0]) > 0, 60, label + ": the first page requeued")
            p.send_signal(signal.SIGINT)
            rc = p.wait(60)
        with open(env.path("out")) as f:
            out = f.read()
        with open(env.path("err")) as f:
            err = f.read()
        m = re.match(r"^requeued (\d+) failed events?\n$", out)
        check(m, label + ": prints how many were requeued", out)
        done = int(m.group(1))
        check(0 < done < N, label + ": interrupted in the middle", done)
        check_eq(rc, 1, label + ": an interrupted retry exits 1")
        check_eq(err, "hookwire-replay: retry: interrupted: %d events requeued, the rest "
                 "untouched\n" % done, label + ": one line on stderr")
        st = by_status(url)
        check_eq(sorted(st), [1, 3], label + ": only pending and failed events")
        check_eq(st[1][0], done, label + ": pending events = the count printed")
        check_eq(st[3][0], N - done, label + ": the rest are still failed")
        check(st[1][1] > st[3][2], label + ": the requeued ones are the newest, page by page",
              st)
        check_eq((st[1][3], st[1][4], st[3][3], st[3][4]), (1, 1, 1, 1),
                 label + ": attempt counts untouched")
        untouched = sql(url, "SELECT COUNT(*) FROM hookwire_events WHERE status = 3 AND "
                             "lease_token = 0 AND last_status = 503")
        check_eq(int(untouched[0][0]), N - done, label + ": failed ones never touched")
        print("      %s: interrupted after %d of %d" % (label, done, N))


if __name__ == "__main__":
    require_mysql()
    run([case_retry_100k_rss, case_ctrl_c])
