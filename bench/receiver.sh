#!/bin/sh
# Acknowledged webhooks/s through hookwire-receiver: 1 KiB GitHub-signed POSTs
# (each with its own X-GitHub-Delivery, so none is a duplicate) from wrk at 64
# connections, answered only after the commit. In one run, next to nginx
# answering `return 200` (the HTTP ceiling) and bench_store's group-commit
# append rate (the storage ceiling): the receiver on SQLite and on MariaDB,
# first delivering to a fast nginx at the same time (concurrency 64), where
# delivered/s is counted from /metrics, then with delivery held back (the
# backend accepts the connection and never answers, concurrency 1: one event
# in flight), which is ingest alone. p50/p99 are wrk's; RSS is the receiver's peak (VmHWM);
# CPU per acknowledgement is the receiver's (and, given its pid in HW_BENCH_MYSQL_PID or
# HOOKWIRE_TEST_MYSQL_PID, mariadbd's) user + system time over the row divided by the requests
# acknowledged: less disturbed by other work on the machine than the rates. Prints Markdown for
# bench/RESULTS.md.
#   HW_BENCH_MYSQL_URL=mysql://... bench/receiver.sh [SECONDS]   (HW_BIN=DIR for other binaries)
# HW_BENCH_STORE_WRITERS=N sets the receiver's store-writers (MySQL group
# commits in flight; unset: the receiver's default).
# HW_BENCH_BACKENDS="mariadb" runs the receiver rows of one backend only, and
# HW_BENCH_CEILINGS=0 leaves out nginx and bench_store (for interleaved
# before/after runs of two builds).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-10}
bin=${HW_BIN:-$root/build/bin}
mysql_url=${HW_BENCH_MYSQL_URL:?set HW_BENCH_MYSQL_URL to an empty MariaDB database}
. bench/lib.sh
bench_init hookwire-bench-recv
# cpu PID: user + system clock ticks of a process so far (0 when there is none).
cpu() { if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }
hz=$(getconf CLK_TCK)
mysql_pid=${HW_BENCH_MYSQL_PID:-${HOOKWIRE_TEST_MYSQL_PID:-}}
metric() { curl -fs "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

nginx_port=$(port)
nginx_start nginx_pid "$nginx_port" 'return 200 "ok\n";'

# A backend that accepts connections and never answers: delivery held back.
hold_port=$(port)
python3 -c "import socket,time
s=socket.socket(); s.bind(('127.0.0.1',$hold_port)); s.listen(64)
conns=[]
while True: conns.append(s.accept())" &
pids="$pids $!"

secret=bench-github-secret
body=$(python3 -c 'print("{\"action\":\"opened\",\"pad\":\"" + "x" * 997 + "\"}", end="")')
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | awk '{print $NF}')
cat >"$work/post.lua" <<LUA
local n = 0
local id = 0
local prefix = "x"
function setup(thread) id = id + 1; thread:set("tid", id) end
-- Each row passes its own prefix: a delivery id repeated across rows would be a duplicate.
function init(args) prefix = args[1] or "x" end
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["X-Hub-Signature-256"] = "sha256=$sig"
function request()
    n = n + 1
    wrk.headers["X-GitHub-Delivery"] = string.format("%s-%d-%d", prefix, tid or 0, n)
    return wrk.format(nil, "/api/webhooks/gh")
end
LUA

# row LABEL TARGET_PORT [RECEIVER_PID]: one wrk run; prints a table row.
row() {
    out=$(wrk -t1 -c64 -d"${secs}s" --latency -s "$work/post.lua" "http://127.0.0.1:$2/api/webhooks/gh" -- "$(date +%s%N)" 2>&1)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s ", $0}')
    echo "$1|$rps|$p50|$p99|${errs:-none}"
}

# receiver NAME STORE DELIVER_PORT CONCURRENCY: starts one; sets rport and rpid.
receiver() {
    rport=$(port)
    cat >"$work/$1.ini" <<INI
[receiver]
listen = 127.0.0.1:$rport
store = $2
${HW_BENCH_STORE_WRITERS:+store-writers = $HW_BENCH_STORE_WRITERS}
signing-secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
log-level = warn
deliver-timeout = 10m
lease = 30m

[source gh]
provider = github
secret = $secret
deliver-to = http://127.0.0.1:$3/in
concurrency = $4
INI
    "$bin/hookwire-receiver" --config "$work/$1.ini" 2>"$work/$1.log" &
    rpid=$!
    pids="$pids $rpid"
    wait_for curl -fs "http://127.0.0.1:$rport/healthz"
}

# The MariaDB server's sizing and durability, which decide the p99 (bench/README.md).
mysql_settings() {
    python3 - "$mysql_url" <<'PY'
import os, subprocess, sys, urllib.parse as up
u = up.urlsplit(sys.argv[1])
q = dict(up.parse_qsl(u.query))
cmd = ["mysql", "--no-defaults", "-N", "-B", "-u", up.unquote(u.username or "")]
env = dict(os.environ)
env.pop("MYSQL_PWD", None)
if u.password:
    env["MYSQL_PWD"] = up.unquote(u.password)  # not on the command line, where ps shows it
cmd += ["--socket=" + q["socket"]] if "socket" in q else \
       ["--protocol=tcp", "-h", u.hostname, "-P", str(u.port or 3306)]
sql = ("SELECT @@version, @@innodb_buffer_pool_size >> 20, @@innodb_log_file_size >> 20, "
       "@@innodb_flush_log_at_trx_commit, @@innodb_doublewrite")
r = subprocess.run(cmd + ["-e", sql], capture_output=True, text=True, env=env,
                   stdin=subprocess.DEVNULL)
if r.returncode:
    print("settings not readable: " + r.stderr.strip())
else:
    v, pool, redo, flush, dw = r.stdout.split()
    print(f"{v}, buffer pool {pool} MiB, redo log {redo} MiB, "
          f"innodb_flush_log_at_trx_commit={flush}, doublewrite={dw}")
PY
}
case "${HW_BENCH_BACKENDS:-sqlite mariadb}" in *mariadb*) echo "- MariaDB: $(mysql_settings)" ;; esac
echo "- load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| path | acknowledged/s | p50 | p99 | delivered/s | receiver peak RSS | receiver CPU µs/ack | mariadbd CPU µs/ack | errors |"
echo "|---|---|---|---|---|---|---|---|---|"
backends=${HW_BENCH_BACKENDS:-sqlite mariadb}
ceilings=${HW_BENCH_CEILINGS:-1}
[ "$ceilings" = 0 ] || r=$(row "nginx return 200 (HTTP ceiling)" "$nginx_port")
[ "$ceilings" = 0 ] || echo "$r" | awk -F'|' '{printf "| %s | %s | %s | %s | - | - | - | - | %s |\n", $1, $2, $3, $4, $5}'
for store in sqlite: "$mysql_url"; do
    kind=SQLite; case $store in mysql:*) kind=MariaDB ;; esac
    case " $backends " in *" $(echo $kind | tr 'A-Z' 'a-z') "*) ;; *) continue ;; esac
    for mode in deliver held; do
        name=$(echo "$kind-$mode" | tr 'A-Z' 'a-z')
        case $store in sqlite:*) store="sqlite:$work/$name.db" ;; esac
        if [ $mode = held ]; then receiver "$name" "$store" "$hold_port" 1
        else receiver "$name" "$store" "$nginx_port" 64; fi
        d0=$(metric "$rport" hookwire_receiver_delivered_total)
        c0=$(cpu "$rpid"); m0=$(cpu "$mysql_pid")
        r=$(row "receiver, $kind, delivery $mode" "$rport")
        c1=$(cpu "$rpid"); m1=$(cpu "$mysql_pid")
        d1=$(metric "$rport" hookwire_receiver_delivered_total)
        dup=$(metric "$rport" hookwire_receiver_duplicates_total)
        # Every request must have been a new event: a duplicate is answered without a commit.
        [ "$dup" = 0 ] || r="$r (duplicates: $dup)"
        rss=$(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$rpid/status")
        dps=$(python3 -c "print(round(($d1 - $d0) / $secs))")
        [ $mode = held ] && dps="-"
        acks=$(echo "$r" | awk -F'|' -v s="$secs" '{print $2 * s}')
        rcpu=$(python3 -c "print(round(($c1 - $c0) * 1e6 / $hz / max($acks, 1)))")
        mcpu=$(python3 -c "print(round(($m1 - $m0) * 1e6 / $hz / max($acks, 1)))")
        [ "$kind" = MariaDB ] && [ -n "$mysql_pid" ] || mcpu="-"
        echo "$r" | awk -F'|' -v d="$dps" -v m="$rss" -v rc="$rcpu" -v mc="$mcpu" \
            '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, d, m, rc, mc, $5}'
        kill "$rpid"; wait "$rpid" 2>/dev/null || true
    done
done
if [ "$ceilings" != 0 ]; then
    echo
    echo "Storage ceiling (bench_store, group commit, same databases):"
    echo
    "$bin/bench_store" -t "$secs" -r 1 "sqlite:$work/store.db" "$mysql_url" 2>/dev/null
fi
echo "- load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
