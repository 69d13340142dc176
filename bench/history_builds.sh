#!/bin/sh
# Two or more builds' history on/off ratios, measured in the same rounds: each build gets a
# relay with --history on and one with off (each with its agent) in front of one nginx, all
# started once; every round loads each of these relays for SECONDS with wrk (64 connections,
# 1 KiB POSTs), in an order rotated by one each round, and waits after each history-on burst
# until its store holds every answered webhook. A shared VM's speed drifts by 20% or more
# between runs minutes apart; builds compared in the same rounds see the same drift.
# Per build and round: the requests/s ratio (on / off), and the machine's busy CPU per
# answered webhook, from /proc/stat, over each burst and the wait for its records (off / on:
# the share of CPU that recording costs, steadier than the rates on a noisy machine).
# Prints each round, then per build the medians over the rounds, and for each build after the
# first the median of its per-round differences from the first build and the rounds it won.
# HW_NOWAIT=1 skips the wait for the records (for builds that write none, compared with one).
#   bench/history_builds.sh ROUNDS SECONDS NAME=BIN-DIR [NAME=BIN-DIR...]
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: $0 ROUNDS SECONDS NAME=BIN-DIR [NAME=BIN-DIR...]" >&2; exit 2; }
rounds=$1
secs=$2
shift 2
. bench/lib.sh
bench_init hookwire-builds
wait_tries=900

load_start
names=""
for v in "$@"; do
    name=${v%%=*}
    bin=${v#*=}
    case $name in *[!A-Za-z0-9_]* | "") echo "$0: a build's name is letters, digits, _" >&2; exit 2 ;; esac
    tunnel_start "$work/$name.on.db" "" "" --history on
    eval "web_${name}_on=$web answered_$name=0"
    tunnel_start "$work/$name.off.db" "" "" --history off
    eval "web_${name}_off=$web"
    names="$names $name"
done

# busy: the machine's busy jiffies so far (user, nice, system, irq, softirq).
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# load NAME HIST: one burst on that relay (and its records committed); sets rps_ and cpu_.
load() {
    eval "p=\$web_$1_$2"
    b0=$(busy)
    set -- "$1" "$2" $(wrk_burst "$secs" "$p")
    if [ "$2" = on ] && [ -z "${HW_NOWAIT:-}" ]; then
        eval "answered_$1=\$((answered_$1 + $4))"
        eval "wait_for history_at_least \"$work/$1.on.db\" \$answered_$1"
    fi
    b1=$(busy)
    eval "rps_$1_$2=$3 cpu_$1_$2=$(awk -v b=$((b1 - b0)) -v n="$4" -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "%.1f", b * 1e6 / hz / n}')"
}

machine_line
: >"$work/res"
r=1
while [ "$r" -le "$rounds" ]; do
    set --
    for n in $names; do set -- "$@" "$n:on" "$n:off"; done
    i=0
    while [ "$i" -lt $(((r - 1) % $#)) ]; do
        x=$1
        shift
        set -- "$@" "$x"
        i=$((i + 1))
    done
    for job in "$@"; do load "${job%%:*}" "${job#*:}"; done
    line="round $r:"
    for n in $names; do
        eval "a=\$rps_${n}_on b=\$rps_${n}_off ca=\$cpu_${n}_on cb=\$cpu_${n}_off"
        set -- $(awk -v a="$a" -v b="$b" -v ca="$ca" -v cb="$cb" 'BEGIN {printf "%.3f %.3f", a / b, cb / ca}')
        echo "$n $1 $2" >>"$work/res"
        line="$line $n $1 ($a / $b r/s), cpu $2 ($ca / $cb us)"
    done
    echo "$line"
    r=$((r + 1))
done
for n in $names; do
    for col in 2 3; do
        awk -v n="$n" -v c="$col" '$1 == n {print $c}' "$work/res" | sort -n
    done | awk -v n="$n" -v k="$rounds" '{v[NR] = $1}
        function med(o) { return k % 2 ? v[o + (k + 1) / 2] : (v[o + k / 2] + v[o + k / 2 + 1]) / 2 }
        END {printf "%s: median on / off %.3f (requests/s), %.3f (CPU per webhook) over %d rounds\n", n, med(0), med(k), k}'
done
# Paired against the first build, round by round (both saw the same machine in a round): the
# median of the differences and the rounds won, steadier than the difference of the medians.
set -- $names
[ $# -lt 2 ] || awk -v first="$1" '{i = ++seen[$1]; rps[$1, i] = $2; cpu[$1, i] = $3; if (!($1 in at)) {at[$1] = ++nb; nm[nb] = $1}}
    function med(x, m,   i, j, t) {
        for (i = 2; i <= m; i++) for (j = i; j > 1 && x[j - 1] > x[j]; j--) {t = x[j]; x[j] = x[j - 1]; x[j - 1] = t}
        return m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
    }
    END {
        for (b = 2; b <= nb; b++) {
            n = nm[b]; m = seen[first] < seen[n] ? seen[first] : seen[n]; wr = wc = 0
            for (i = 1; i <= m; i++) {
                dr[i] = rps[n, i] - rps[first, i]; dc[i] = cpu[n, i] - cpu[first, i]
                wr += dr[i] > 0; wc += dc[i] > 0
            }
            printf "%s against %s, round by round: median difference %+.3f (requests/s), %+.3f (CPU); won %d and %d of %d rounds\n", n, first, med(dr, m), med(dc, m), wr, wc, m
        }
    }' "$work/res"
