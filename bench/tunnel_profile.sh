#!/bin/sh
# Instructions (callgrind) or system calls (strace -c -f) per request of the relay or the
# agent, the other processes native: figures that a busy machine does not disturb. 1 KiB
# POSTs (as in tunnel.sh) through relay + agent to a local nginx (return 200), 200 warm-up
# requests, then COUNT requests on 1 connection and COUNT on 64, counted separately.
#   bench/tunnel_profile.sh callgrind|strace relay|agent [COUNT]
# HW_BIN=DIR for other binaries; HW_RELAY_ARGS as in tunnel.sh. Prints one line per
# connection count; callgrind's dumps (for callgrind_annotate) stay in the printed folder.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
tool=$1; who=$2; count=${3:-2000}
bin=${HW_BIN:-$root/build/bin}
. bench/lib.sh
bench_init hookwire-profile
wait_tries=300
# wrap NAME: the command prefix for the process under the tool, if it is NAME.
wrap() {
    if [ "$who" = "$1" ] && [ "$tool" = callgrind ]; then
        echo "valgrind --tool=callgrind --callgrind-out-file=$work/callgrind.out --dump-instr=no"
    fi
}

target=$(port)
nginx_start nginx_pid "$target" 'return 200 "ok\n";'
tunnel_start "$work/relay.db" "$(wrap relay)" "$(wrap agent)"
[ "$who" = relay ] && pid=$relay || pid=$agent
url="http://127.0.0.1:$web/t/bench/"
python3 bench/tunnel_count.py "$url" 200 8

for c in 1 64; do
    if [ "$tool" = callgrind ]; then
        callgrind_control -z "$pid" >/dev/null
        python3 bench/tunnel_count.py "$url" "$count" $c
        callgrind_control -d "conns$c" "$pid" >/dev/null
        f=$(ls -t "$work"/callgrind.out.* | head -1)
        total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$f")
        echo "$who, $c connection(s): $((total / count)) instructions per request ($f)"
    else
        strace -c -f -p "$pid" -o "$work/strace.$c" 2>/dev/null &
        st=$!
        sleep 1 # strace attaches asynchronously: nothing to poll for
        python3 bench/tunnel_count.py "$url" "$count" $c
        kill -INT "$st"; wait "$st" || true
        awk -v n="$count" -v who="$who" -v c="$c" '
            $NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
                all += $4; if ($4 / n >= 0.01) list = list sprintf(", %s %.2f", $NF, $4 / n) }
            END { printf "%s, %s connection(s): %.2f syscalls per request%s\n", who, c, all / n, list }' \
            "$work/strace.$c"
    fi
done
echo "files: $work"
