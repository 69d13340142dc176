#!/bin/sh
# hookwire-replay at scale: (1) `list` against a store of 1,000,000 events (filled by
# bench_store_scale: 8 sources, 30 days, 10% pending, 10% failed, 80% delivered), each
# listing run 21 times as a whole process (start, open, query, print, exit), median and p90;
# (2) `retry --failed` over 100,000 failed events: appended through the store with
# hw-store-append, marked failed with one UPDATE, then requeued (wall time, peak RSS).
#
#   bench/replay.sh SCALE_URL BULK_URL      (run from the repository root after a build)
#
# SCALE_URL must already hold bench_store_scale's 1,000,000 events (bench_store_scale -n
# 1000000 -r 3 URL fills it). BULK_URL is emptied: a SQLite path or a MySQL database of its own.
set -eu
scale=$1
bulk=$2
bin=build/bin

echo "| command | rows | median ms | p90 ms |"
echo "|---|---:|---:|---:|"
python3 - "$bin/hookwire-replay" "$scale" <<'PY'
import statistics, subprocess, sys, time
replay, url = sys.argv[1], sys.argv[2]
for args in (["list"], ["list", "--status", "failed"], ["list", "--status", "failed", "--source", "src3"],
             ["list", "--status", "delivered", "--source", "src3", "--json"],
             ["list", "--status", "pending", "--since", "1d"], ["list", "--source", "src3", "--since", "2d"],
             ["list", "--path", "/ho*k"], ["show-newest"]):
    if args == ["show-newest"]:
        eid = subprocess.run([replay, "list", "--limit", "1", "--store", url], capture_output=True,
                             text=True).stdout.split("\t")[0]
        args = ["show", eid]
    runs = []
    for _ in range(21):
        t = time.perf_counter()
        r = subprocess.run([replay] + args + ["--store", url], capture_output=True)
        runs.append((time.perf_counter() - t) * 1000)
        assert r.returncode == 0, r.stderr
    runs.sort()
    print("| `%s` | %d | %.1f | %.1f |" % (" ".join(args), len(r.stdout.splitlines()),
                                          statistics.median(runs), runs[18]))
PY

# Runs one statement on the bulk store, either backend.
bulk_sql() {
    case $bulk in
    sqlite:*) sqlite3 "${bulk#sqlite:}" "$1" ;;
    mysql://*)
        python3 - "$bulk" "$1" <<'PY'
import os, subprocess, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
subprocess.run(["mariadb", "--no-defaults", "-h", u.hostname, "-P", str(u.port or 3306), "-u",
                urllib.parse.unquote(u.username), "-D", u.path.lstrip("/"), "-e", sys.argv[2]],
               env=dict(os.environ, MYSQL_PWD=urllib.parse.unquote(u.password or "")), check=True)
PY
        ;;
    esac
}

case $bulk in
sqlite:*) rm -f "${bulk#sqlite:}" "${bulk#sqlite:}-wal" "${bulk#sqlite:}-shm" ;;
mysql://*) bulk_sql "DROP TABLE IF EXISTS hookwire_attempts, hookwire_events, hookwire_schema, hookwire_tokens" ;;
esac
$bin/hw-store-append --store "$bulk" --count 100000 --source bulk >/dev/null 2>&1
bulk_sql "UPDATE hookwire_events SET status = 3, attempts = 1"
/usr/bin/time -f "retry --failed: %e s wall, %M KiB peak RSS" $bin/hookwire-replay retry --failed --store "$bulk"
