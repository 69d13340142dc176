# Shell helpers the bench scripts share, sourced from the source root under set -eu:
# a work folder removed on exit with its processes stopped, free ports, polling with a deadline, a
# single-process nginx, the tunnel benches' app and POST script, relay + agent through the tunnel,
# wrk bursts of 1 KiB POSTs, the machine's line and the history a relay's store holds. Uses $bin (the binaries).

# bench_init PREFIX: makes $work (/tmp/PREFIX.XXXXXX); every pid added to $pids is
# stopped when the script ends, and $work removed (HW_BENCH_KEEP=1 keeps it).
bench_init() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    pids=""
    trap bench_cleanup EXIT INT TERM
}
# Stops what the bench started and removes its folder (stores of hundreds of MB);
# HW_BENCH_KEEP=1 keeps the folder to look at.
bench_cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    [ "${HW_BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}

# A free TCP port on 127.0.0.1.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for CMD...: runs CMD every 0.1 s until it succeeds; fails after $wait_tries
# tries (100 unless the script sets more, for a slow start under valgrind).
wait_for() {
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt "${wait_tries:-100}" ] && return 1
        sleep 0.1
    done
}

# nginx_start NAME PORT LOCATION-BODY [UPSTREAM-PORT]: one single-process nginx (no
# master, one worker's work in one pid) in the foreground of a background job; sets
# $NAME to its pid and waits until it answers (a proxy: once its upstream answers too).
nginx_start() {
    up=""
    [ -n "${4:-}" ] && up="upstream next { server 127.0.0.1:$4; keepalive 64; }"
    mkdir -p "$work/$1"
    cat >"$work/$1/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/$1/nginx.pid;
error_log $work/$1/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_buffer_size 64k;
    $up
    server { listen 127.0.0.1:$2; location / { $3 } }
}
CONF
    nginx -c "$work/$1/nginx.conf" -p "$work/$1" &
    eval "$1=\$!"
    pids="$pids $!"
    wait_for curl -fs "http://127.0.0.1:$2/"
}

# wrk_post FILE: the wrk script that POSTs 1 KiB bodies (application/octet-stream).
wrk_post() {
    cat >"$1" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
}

# load_start: the two ends of the tunnel benches' load: an nginx answering 200 "ok" on a new
# port $target (the app the agents forward to; its pid in $nginx_pid), and $work/post.lua,
# the 1 KiB POSTs wrk_burst sends.
load_start() {
    target=$(port)
    nginx_start nginx_pid "$target" 'return 200 "ok\n";'
    wrk_post "$work/post.lua"
}

# machine_line: the CPU model, the core count and the load average, for a bench's first line.
machine_line() {
    echo "machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# wrk_burst SECONDS PORT: wrk at 64 connections for SECONDS, POSTing $work/post.lua (wrk_post) to
# channel "bench" of the relay on PORT; prints the 2xx answers per second and their count.
wrk_burst() {
    wrk -t1 -c64 -d"$1s" -s "$work/post.lua" "http://127.0.0.1:$2/t/bench/" >"$work/wrk.out"
    awk '/requests in/ {n = $1; d = $4; sub(/s,$/, "", d)} /Non-2xx/ {bad = $NF}
         END {printf "%.2f %d\n", (n - bad) / d, n - bad}' "$work/wrk.out"
}

# history_stored DB: the webhooks the relay's SQLite store DB holds finished (rows, and
# packed live webhooks: schema 10; a store of an older build has no packs table).
history_stored() {
    rows=$(sqlite3 "file:$1?mode=ro" "PRAGMA busy_timeout=2000; SELECT COUNT(*) FROM hookwire_events WHERE status > 1" 2>/dev/null | tail -1)
    packed=$(sqlite3 "file:$1?mode=ro" "PRAGMA busy_timeout=2000; SELECT COALESCE(SUM(delivered + failed), 0) FROM hookwire_packs" 2>/dev/null | tail -1)
    echo $((${rows:-0} + ${packed:-0}))
}
# history_at_least DB N: DB holds at least N finished webhooks (for wait_for).
history_at_least() { [ "$(history_stored "$1")" -ge "$2" ]; }

# tunnel_start DB RELAY-WRAP AGENT-WRAP [RELAY-OPTION...]: a token "bench" in the
# SQLite store DB, then a relay on new ports $web and $tun and an agent forwarding to
# $target, each waited for; sets $relay and $agent to their pids. A WRAP (words, may be
# empty) prefixes that command, e.g. valgrind. HW_RELAY_ARGS and HW_AGENT_ARGS add options.
# The token exists before the relay starts: a token added later works only after the
# relay's next read of the table (200 ms), and an agent faster than that gets 401.
tunnel_start() {
    tdb=$1; rwrap=$2; awrap=$3
    shift 3
    web=$(port); tun=$(port)
    token=$("$bin/hookwire-relay" --store "sqlite:$tdb" token add bench)
    $rwrap "$bin/hookwire-relay" --listen 127.0.0.1:$web --tunnel-listen 127.0.0.1:$tun \
        --store "sqlite:$tdb" --log-level warn "$@" ${HW_RELAY_ARGS:-} 2>"$work/relay.log" &
    relay=$!; pids="$pids $relay"
    wait_for curl -fs "http://127.0.0.1:$web/healthz"
    HOOKWIRE_TOKEN=$token $awrap "$bin/hookwire-agent" --relay ws://127.0.0.1:$tun \
        --forward $target --log-level warn ${HW_AGENT_ARGS:-} >"$work/agent.out" 2>"$work/agent.log" &
    agent=$!; pids="$pids $agent"
    wait_for grep -q Forwarding "$work/agent.out"
}
