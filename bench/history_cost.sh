#!/bin/sh
# What recording the history costs the relay per live webhook, counted until every record is
# committed (a backlog left in the store's queue after the load would otherwise go uncounted):
# 1 KiB POSTs through relay + agent to nginx (return 200), with --history on and off.
#   native: wrk at 64 connections for SECONDS, then the relay's CPU µs per request (utime +
#           stime of all its threads, /proc) from the start of the load until the store holds
#           every answered webhook, the time that took after the load, and the peak RSS;
#   callgrind (HW_CALLGRIND=1): the relay under valgrind, 2,000 requests on 64 keep-alive
#           connections after 200 warm-up ones, instructions per request (all threads) until
#           every record is committed.
# Run by hand (nginx, wrk, sqlite3, valgrind); prints Markdown rows for bench/RESULTS.md.
#   bench/history_cost.sh [SECONDS]      (HW_BIN=DIR for other binaries, HW_HISTORY="on off")
set -eu
cd "$(dirname "$0")/.."
secs=${1:-5}
bin=${HW_BIN:-$(pwd)/build/bin}
. bench/lib.sh
bench_init hookwire-hist
wait_tries=600
ticks() { for t in /proc/$1/task/*; do awk '{print $14 + $15}' "$t/stat"; done | awk '{s += $1} END {print s}'; }
hz=$(getconf CLK_TCK)

load_start
# A fixed number of keep-alive POSTs on CONNS connections: client.py PORT N CONNS
cat >"$work/client.py" <<'PY'
import http.client, sys, threading
port, n, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
body = b"x" * 1024
def worker(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(k):
        c.request("POST", "/t/bench/", body, {"Content-Type": "application/octet-stream"})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
ts = [threading.Thread(target=worker, args=(n // conns + (i < n % conns),)) for i in range(conns)]
[t.start() for t in ts]; [t.join() for t in ts]
PY

# start HISTORY WRAPPER...: a relay and an agent on a fresh store
start() {
    hist=$1; shift
    db="$work/relay-$hist-$$-$(date +%s%N).db"
    tunnel_start "$db" "$*" "" --history "$hist"
}
stop() { kill $agent $relay; wait $agent $relay 2>/dev/null || true; }

machine_line
if [ "${HW_CALLGRIND:-0}" = 1 ]; then
    echo "| history | instructions per request (relay, all threads) |"
    echo "|---|---:|"
    for h in ${HW_HISTORY:-on off}; do
        start "$h" valgrind --tool=callgrind --callgrind-out-file="$work/cg.$h.%p" -q
        python3 "$work/client.py" $web 200 64
        [ "$h" = on ] && wait_for history_at_least "$db" 200
        callgrind_control -z $relay >/dev/null
        python3 "$work/client.py" $web 2000 64
        [ "$h" = on ] && wait_for history_at_least "$db" 2200
        callgrind_control -d $relay >/dev/null
        ir=$(callgrind_annotate "$(ls -t "$work"/cg.$h.* | head -1)" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(/,/, "", $1); print $1}')
        printf '| %s | %s |\n' "$h" "$(awk -v i="$ir" 'BEGIN {printf "%.0f", i / 2000}')"
        stop
    done
    exit 0
fi
echo "| history | answered 2xx/s (64 conns) | relay CPU µs/request, load | ... until all recorded | recorded after the load | peak RSS relay |"
echo "|---|---:|---:|---:|---:|---:|"
for h in ${HW_HISTORY:-on off}; do
    start "$h"
    t0=$(ticks $relay)
    wrk -t1 -c64 -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$web/t/bench/" >"$work/wrk.out"
    t1=$(ticks $relay)
    s0=$(date +%s%N)
    n=$(awk '/requests in/ {print $1}' "$work/wrk.out")
    bad=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.out"); bad=${bad:-0}
    want=$((n - bad))
    [ "$h" = on ] && wait_for history_at_least "$db" "$want"
    lag=$(( ($(date +%s%N) - s0) / 1000000 ))
    t2=$(ticks $relay)
    rss=$(awk '/VmHWM/ {print $2 " kB"}' "/proc/$relay/status")
    # Only answered webhooks count: a 429 (the history buffer full) is fast and would inflate it.
    dur=$(awk '/requests in/ {sub(/s,$/, "", $4); print $4}' "$work/wrk.out")
    rps=$(awk -v n="$want" -v d="$dur" 'BEGIN {printf "%.2f", n / d}')
    printf '| %s | %s%s | %s | %s | %s ms | %s |\n' "$h" "$rps" "$([ "$bad" != 0 ] && echo " ($bad refused)")" \
        "$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')" \
        "$(awk -v t=$((t2 - t0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')" \
        "$([ "$h" = on ] && echo $lag || echo 0)" "$rss"
    stop
done
