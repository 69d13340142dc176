#!/bin/sh
# Throughput with history on against off, side by side: two relay + agent pairs (one with
# --history on, one with off) in front of one nginx, started once and loaded in turn by wrk
# (64 connections, 1 KiB POSTs) for SECONDS each, PAIRS times, the order swapped every pair.
# After each burst on the history-on relay it waits until the store holds every answered
# webhook, so that no burst shares the cores with the records of the one before. The host
# noise of a shared VM drifts over tens of seconds and moves whole runs by 10-20%
# (history_ratio.sh starts a fresh relay per run); the two halves of a pair, seconds
# apart, see nearly the same machine. Only 2xx answers count.
# Prints each pair's requests/s and ratio, then the median and the quartiles.
#   bench/history_ab.sh [PAIRS] [SECONDS]      (HW_BIN=DIR for other binaries)
set -eu
cd "$(dirname "$0")/.."
pairs=${1:-20}
secs=${2:-3}
bin=${HW_BIN:-$(pwd)/build/bin}
. bench/lib.sh
bench_init hookwire-ab
wait_tries=600

load_start
db_on="$work/on.db"
tunnel_start "$db_on" "" "" --history on
web_on=$web
tunnel_start "$work/off.db" "" "" --history off
web_off=$web
answered=0 # 2xx answers of the history-on relay so far

# on: a burst on the history-on relay, then its records all committed; prints requests/s.
on() {
    set -- $(wrk_burst "$secs" "$web_on")
    answered=$((answered + $2))
    wait_for history_at_least "$db_on" "$answered"
    echo "$1"
}
off() { set -- $(wrk_burst "$secs" "$web_off"); echo "$1"; }

machine_line
echo "| pair | on requests/s | off requests/s | on / off |"
echo "|---|---:|---:|---:|"
: >"$work/ratios"
i=1
while [ "$i" -le "$pairs" ]; do
    if [ $((i % 2)) = 1 ]; then a=$(on); b=$(off); else b=$(off); a=$(on); fi
    r=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')
    echo "$r" >>"$work/ratios"
    printf '| %d | %s | %s | %s |\n' "$i" "$a" "$b" "$r"
    i=$((i + 1))
done
sort -n "$work/ratios" | awk '{v[NR] = $1}
    function q(p,  k) { k = 1 + (NR - 1) * p; return v[int(k)] + (k - int(k)) * (v[int(k) + 1] - v[int(k)]) }
    END {printf "median on / off over %d pairs: %.3f (quartiles %.3f, %.3f)\n", NR, q(0.5), q(0.25), q(0.75)}'
