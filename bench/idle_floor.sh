#!/bin/sh
# What a busy loop that does no work of its own costs the tunnel: one relay with --history off
# and its agent in front of one nginx, loaded with wrk (64 connections, 1 KiB POSTs) for
# SECONDS alone, then beside a shell loop in SCHED_IDLE (which gets only time no other thread
# wants), then beside the same loop at nice 19, in an order rotated each round. The loops
# write nothing and share no lock; what they cost is the scheduler's, on this machine: the
# floor under any thread that works beside the live path (the relay's store thread).
# Prints each round's requests/s and ratios, then the medians over the rounds.
#   bench/idle_floor.sh ROUNDS SECONDS
set -eu
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 ROUNDS SECONDS" >&2; exit 2; }
rounds=$1
secs=$2
bin=${HW_BIN:-$PWD/build-rel/bin}
. bench/lib.sh
bench_init hookwire-floor

load_start
tunnel_start "$work/off.db" "" "" --history off
wrk_burst 2 "$web" >/dev/null # warm-up

# burst KIND: one burst alone (none), beside a SCHED_IDLE loop (idle) or a nice 19 loop
# (nice19); sets rps_KIND to its 2xx answers per second.
burst() {
    loop=""
    case $1 in
    idle) chrt --idle 0 sh -c 'while :; do :; done' & loop=$! ;;
    nice19) nice -n 19 sh -c 'while :; do :; done' & loop=$! ;;
    esac
    pids="$pids $loop"
    set -- "$1" $(wrk_burst "$secs" "$web")
    eval "rps_$1=$2"
    if [ -n "$loop" ]; then
        kill "$loop"
        wait "$loop" 2>/dev/null || true
    fi
}

machine_line
: >"$work/res"
r=1
while [ "$r" -le "$rounds" ]; do
    case $((r % 3)) in
    0) order="none idle nice19" ;;
    1) order="idle nice19 none" ;;
    *) order="nice19 none idle" ;;
    esac
    for k in $order; do burst "$k"; done
    set -- $(awk -v a="$rps_none" -v i="$rps_idle" -v n="$rps_nice19" 'BEGIN {printf "%.3f %.3f", i / a, n / a}')
    echo "$1 $2" >>"$work/res"
    echo "round $r: alone $rps_none r/s, SCHED_IDLE loop $rps_idle ($1), nice 19 loop $rps_nice19 ($2)"
    r=$((r + 1))
done
for col in 1 2; do
    awk -v c="$col" '{print $c}' "$work/res" | sort -n
done | awk -v k="$rounds" '{v[NR] = $1}
    function med(o) { return k % 2 ? v[o + (k + 1) / 2] : (v[o + k / 2] + v[o + k / 2 + 1]) / 2 }
    END {printf "median beside / alone: SCHED_IDLE loop %.3f, nice 19 loop %.3f over %d rounds\n", med(0), med(k), k}'
