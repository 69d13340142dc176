#!/bin/sh
# Where history on costs, burst by burst: a relay with --history on and one with off (each
# with its agent) in front of one nginx, loaded in turn with wrk for SECONDS (64 connections,
# 1 KiB POSTs), ROUNDS times. Per burst: requests/s, the machine's idle share during the burst
# (/proc/stat; a share the load leaves unused is throughput lost beyond the CPU it costs), and
# the user and system CPU per answered webhook of the relay's service thread and of its store
# thread (/proc/PID/task, counted until every record of an on burst is committed).
#   bench/history_split.sh ROUNDS SECONDS
# HW_BIN=DIR for other binaries.
set -eu
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 ROUNDS SECONDS" >&2; exit 2; }
rounds=$1
secs=$2
bin=${HW_BIN:-$(pwd)/build/bin}
. bench/lib.sh
bench_init hookwire-split
wait_tries=900

load_start
tunnel_start "$work/on.db" "" "" --history on
relay_on=$relay web_on=$web
tunnel_start "$work/off.db" "" "" --history off
relay_off=$relay web_off=$web

# ticks PID: "NAME UTIME STIME" per thread name (clock ticks), threads of one name summed.
ticks() {
    for t in /proc/"$1"/task/*; do
        awk -v n="$(cat "$t/comm")" '{print n, $14, $15}' "$t/stat"
    done | awk '{u[$1] += $2; s[$1] += $3} END {for (k in u) print k, u[k], s[k]}' | sort
}
# machine: busy and idle jiffies so far.
machine() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat; }

machine_line
answered=0
r=1
while [ "$r" -le "$rounds" ]; do
    for mode in on off; do
        eval "pid=\$relay_$mode port=\$web_$mode"
        ticks "$pid" >"$work/t0"
        m0=$(machine)
        set -- $(wrk_burst "$secs" "$port")
        m1=$(machine)
        rps=$1 n=$2
        if [ "$mode" = on ]; then
            answered=$((answered + n))
            wait_for history_at_least "$work/on.db" "$answered"
        fi
        ticks "$pid" >"$work/t1"
        idle=$(echo "$m0 $m1" | awk '{b = $3 - $1; i = $4 - $2; printf "%.1f", 100 * i / (b + i)}')
        threads=$(join "$work/t0" "$work/t1" | awk -v n="$n" -v hz="$(getconf CLK_TCK)" '
            {printf "%s %.2f+%.2f us ", $1, ($4 - $2) * 1e6 / hz / n, ($5 - $3) * 1e6 / hz / n}')
        echo "round $r $mode: $rps r/s, idle $idle% of the machine; per webhook (user+system): $threads"
    done
    r=$((r + 1))
done
