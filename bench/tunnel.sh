#!/bin/sh
# Throughput, latency and CPU cost of webhooks through relay + agent, in one
# run next to the same load straight to the target and through a chain of two
# nginx reverse proxies (the same two hops done by a general-purpose proxy):
# 1 KiB POSTs with wrk at 1 and 64 connections to a fast local nginx (return
# 200). For every row, the CPU microseconds per request of each process
# (utime+stime from /proc over the run, divided by the requests wrk counted),
# and the peak RSS of relay and agent. Run by hand (as root, after
# scripts/install-deps --bench and scripts/build); prints Markdown for
# bench/RESULTS.md.
#   bench/tunnel.sh [SECONDS]        (HW_BIN=DIR to use other binaries;
#                                     HW_RELAY_ARGS="--history off" for the relay without
#                                     history recording)
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-10}
bin=${HW_BIN:-$root/build/bin}
. bench/lib.sh
bench_init hookwire-bench
# CPU ticks (utime + stime) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

target=$(port); proxy1=$(port); proxy2=$(port)
nginx_start target_pid "$target" 'return 200 "ok\n";'
proxy_loc='proxy_pass http://next; proxy_http_version 1.1; proxy_set_header Connection "";'
nginx_start proxy2_pid "$proxy2" "$proxy_loc" "$target"
nginx_start proxy1_pid "$proxy1" "$proxy_loc" "$proxy2"

tunnel_start "$work/relay.db" "" ""

cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["X-Hub-Signature-256"] = "sha256=0000000000000000000000000000000000000000000000000000000000000000"
LUA

# run NAME URL CONNS "label:pid ...": one wrk run and its row. wrk's own CPU
# comes from the shell that waited for it (its children's ticks).
run() {
    before=""
    for lp in $4; do before="$before $(ticks "${lp#*:}")"; done
    sh -c 'wrk -t1 -c"$1" -d"$2s" --latency -s "$3" "$4" >"$5"; awk "{print \$16 + \$17}" /proc/$$/stat >"$5.ticks"' \
        wrk "$3" "$secs" "$work/post.lua" "$2" "$work/wrk.out"
    out=$(cat "$work/wrk.out")
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s ", $0}')
    cpu="wrk $(awk -v t="$(cat "$work/wrk.out.ticks")" -v n="$reqs" -v hz="$hz" \
        'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
    set -- "$1" "$2" "$3" "$4"
    i=1
    for lp in $4; do
        b=$(echo $before | cut -d' ' -f$i)
        a=$(ticks "${lp#*:}")
        cpu="$cpu, ${lp%%:*} $(awk -v t="$((a - b))" -v n="$reqs" -v hz="$hz" \
            'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
        i=$((i + 1))
    done
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$3" "$rps" "$p50" "$p99" "$cpu" \
        "${errs:-none}"
}
rss() { awk '/VmHWM/ {print $2 " kB"}' "/proc/$1/status"; }

echo "machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) cores"
echo "command: ${HW_RELAY_ARGS:+HW_RELAY_ARGS=\"$HW_RELAY_ARGS\" }bench/tunnel.sh $secs"
echo
echo "| path | connections | requests/s | p50 | p99 | CPU µs per request | errors |"
echo "|---|---|---|---|---|---|---|"
for c in 1 64; do
    run "direct to nginx" "http://127.0.0.1:$target/" $c "target:$target_pid"
    run "two nginx proxies" "http://127.0.0.1:$proxy1/" $c \
        "target:$target_pid proxy1:$proxy1_pid proxy2:$proxy2_pid"
    run "relay + agent" "http://127.0.0.1:$web/t/bench/" $c \
        "target:$target_pid relay:$relay agent:$agent"
done
echo
echo "peak RSS after the runs: relay $(rss $relay), agent $(rss $agent)"
