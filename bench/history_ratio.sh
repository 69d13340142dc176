#!/bin/sh
# Throughput with history recording on against off, as the median of PAIRS runs of
# history_cost.sh (on, then off, each SECONDS long, fresh relay and store each): on this
# kind of shared VM one pair moves by 10-20%, so a 5% goal is judged on the median.
# Prints each pair's requests/s and ratio, then the median ratio.
#   bench/history_ratio.sh [PAIRS] [SECONDS]      (HW_BIN=DIR for other binaries)
set -eu
cd "$(dirname "$0")/.."
pairs=${1:-7}
secs=${2:-10}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "| pair | on requests/s | off requests/s | on / off |"
echo "|---|---:|---:|---:|"
i=1
while [ "$i" -le "$pairs" ]; do
    rows=$(bench/history_cost.sh "$secs" 2>/dev/null | awk -F'|' '$2 ~ /^ (on|off) $/ {gsub(/ /, "", $2); gsub(/ /, "", $3); print $2, $3}')
    on=$(echo "$rows" | awk '$1 == "on" {print $2}')
    off=$(echo "$rows" | awk '$1 == "off" {print $2}')
    ratio=$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.3f", a / b}')
    echo "$ratio" >>"$out"
    printf '| %d | %s | %s | %s |\n' "$i" "$on" "$off" "$ratio"
    i=$((i + 1))
done
printf 'median on / off over %d pairs: %s\n' "$pairs" "$(sort -n "$out" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')"
