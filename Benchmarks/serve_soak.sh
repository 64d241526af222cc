#!/usr/bin/env bash
# Soak run of convnet-serve: wrk at a fixed load for SECONDS (default 600) with a corrupt image
# in every hundred requests of each connection; prints the server's resident memory every 30 s
# and, at the end, its answers by status from /metrics (every error should be one of the 400s
# for the corrupt images, about requests / 100) and its exit status after SIGTERM.
#
# Usage: Benchmarks/serve_soak.sh CHECKPOINT IMAGE CORRUPT_IMAGE [SECONDS] [CONNECTIONS, default 16]
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint=$1 image=$2 corrupt=$3 seconds=${4:-600} connections=${5:-16}
log=$(mktemp)
.build/release/convnet-serve "$checkpoint" --port 0 >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
port=$(sed -n 's/^listening on http:.*:\([0-9]*\)$/\1/p' "$log")
rss() { awk '/VmRSS/ { print $2 " kB" }' "/proc/$pid/status"; }
echo "start: RSS $(rss)"
BODY_FILE="$image" CORRUPT_FILE="$corrupt" wrk -t 2 -c "$connections" -d "${seconds}s" --timeout 10s --latency \
    -s Benchmarks/serve_post.lua "http://127.0.0.1:$port" >"$log.wrk" &
wrk_pid=$!
elapsed=0
while kill -0 "$wrk_pid" 2>/dev/null; do
    sleep 30
    elapsed=$((elapsed + 30))
    echo "${elapsed} s: RSS $(rss)"
done
wait "$wrk_pid"
cat "$log.wrk"
echo "answers by status (from /metrics):"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^convnet_requests_total|^convnet_batch_size_(sum|count)'
echo "end: RSS $(rss)"
kill -TERM "$pid"
wait "$pid" && echo "exit status 0 after SIGTERM" || echo "exit status $? after SIGTERM"
rm -f "$log" "$log.wrk"
