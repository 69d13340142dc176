#!/bin/sh
# Throughput and latency of webhooks through relay + agent, next to the same
# load straight to the target, in one run: 1 KiB POSTs with wrk at 1 and 64
# connections to a fast local nginx (return 200). Also the peak RSS of relay
# and agent under that load. Run by hand (as root, after scripts/install-deps
# --bench and scripts/build); prints a Markdown table for bench/RESULTS.md.
#   bench/tunnel.sh [SECONDS]
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-10}
bin=${HW_BIN:-$root/build/bin}
work=$(mktemp -d /tmp/hookwire-bench.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { i=0; until "$@" >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.1; done; }

target=$(port); web=$(port); tun=$(port)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_buffer_size 64k;
    server { listen 127.0.0.1:$target; location / { return 200 "ok\n"; } }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
wait_for curl -fs "http://127.0.0.1:$target/"

"$bin/hookwire-relay" --listen 127.0.0.1:$web --tunnel-listen 127.0.0.1:$tun \
    --store "sqlite:$work/relay.db" --log-level warn 2>"$work/relay.log" &
relay=$!; pids="$pids $relay"
wait_for curl -fs "http://127.0.0.1:$web/healthz"
token=$("$bin/hookwire-relay" --store "sqlite:$work/relay.db" token add bench)
HOOKWIRE_TOKEN=$token "$bin/hookwire-agent" --relay ws://127.0.0.1:$tun --forward $target \
    --log-level warn >"$work/agent.out" 2>"$work/agent.log" &
agent=$!; pids="$pids $agent"
wait_for grep -q Forwarding "$work/agent.out"

cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["X-Hub-Signature-256"] = "sha256=0000000000000000000000000000000000000000000000000000000000000000"
LUA

run() { # run NAME URL CONNS
    out=$(wrk -t1 -c"$3" -d"${secs}s" --latency -s "$work/post.lua" "$2")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s ", $0}')
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$3" "$rps" "$p50" "$p99" "${errs:-none}"
}
rss() { awk '/VmHWM/ {print $2 " kB"}' "/proc/$1/status"; }

echo "machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) cores"
echo "command: bench/tunnel.sh $secs"
echo
echo "| path | connections | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|---|"
run "direct to nginx" "http://127.0.0.1:$target/" 1
run "relay + agent" "http://127.0.0.1:$web/t/bench/" 1
run "direct to nginx" "http://127.0.0.1:$target/" 64
run "relay + agent" "http://127.0.0.1:$web/t/bench/" 64
echo
echo "peak RSS after the runs: relay $(rss $relay), agent $(rss $agent)"
