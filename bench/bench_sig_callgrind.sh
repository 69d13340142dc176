#!/bin/sh
# Instructions per signature verification, counted by callgrind: machine load
# does not change them, so the ratio to raw OpenSSL HMAC is repeatable where
# wall-clock rates on a shared machine are not. Usage (from the repo root,
# after building): bench/bench_sig_callgrind.sh [build/bin/bench_sig]
# Prints a Markdown table. Setup (key generation, signing) is subtracted by
# running each case with 0 and with N iterations.
set -eu
bin=${1:-build/bin/bench_sig}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# instructions WHAT BYTES N: total instructions executed by one run.
instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" --count "$1" "$2" "$3" \
        >/dev/null 2>"$tmp/err"
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/out"
}

# per_call WHAT BYTES N: instructions per iteration.
per_call() {
    a=$(instructions "$1" "$2" 0)
    b=$(instructions "$1" "$2" "$3")
    echo $(( (b - a) / $3 ))
}

for bytes in 1024 1048576; do
    if [ "$bytes" = 1024 ]; then n=2000; else n=8; fi
    raw256=$(per_call raw-sha256 "$bytes" "$n")
    raw1=$(per_call raw-sha1 "$bytes" "$n")
    echo
    echo "### $bytes-byte body, instructions per verification"
    echo
    echo "| what | instructions | raw HMAC instructions | vs raw (raw / ours) |"
    echo "|---|---:|---:|---:|"
    for p in github stripe standard-webhooks slack shopify paddle hmac twilio; do
        raw=$raw256
        [ "$p" = twilio ] && raw=$raw1
        ours=$(per_call "$p" "$bytes" "$n")
        echo "| $p | $ours | $raw | $(( 100 * raw / ours ))% |"
    done
done
