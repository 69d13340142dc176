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
work=$(mktemp -d /tmp/hookwire-profile.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { i=0; until "$@" >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 300 ] && exit 1; sleep 0.1; done; }
# wrap NAME: the command prefix for the process under the tool, if it is NAME.
wrap() {
    if [ "$who" = "$1" ] && [ "$tool" = callgrind ]; then
        echo "valgrind --tool=callgrind --callgrind-out-file=$work/callgrind.out --dump-instr=no"
    fi
}

target=$(port); web=$(port); tun=$(port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_buffer_size 64k;
    server { listen 127.0.0.1:$target; location / { return 200 "ok\n"; } }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids="$pids $!"
wait_for curl -fs "http://127.0.0.1:$target/"

token=$("$bin/hookwire-relay" --store "sqlite:$work/relay.db" token add bench)
$(wrap relay) "$bin/hookwire-relay" --listen 127.0.0.1:$web --tunnel-listen 127.0.0.1:$tun \
    --store "sqlite:$work/relay.db" --log-level warn ${HW_RELAY_ARGS:-} 2>"$work/relay.log" &
relay=$!; pids="$pids $relay"
wait_for curl -fs "http://127.0.0.1:$web/healthz"
HOOKWIRE_TOKEN=$token $(wrap agent) "$bin/hookwire-agent" --relay ws://127.0.0.1:$tun \
    --forward $target --log-level warn ${HW_AGENT_ARGS:-} >"$work/agent.out" 2>"$work/agent.log" &
agent=$!; pids="$pids $agent"
wait_for grep -q Forwarding "$work/agent.out"
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
