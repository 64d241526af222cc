#!/usr/bin/env bash
# Load on convnet-serve with wrk (Debian's package): requests/s and p50/p99 latency at 1, 8, 64
# and 256 connections, with dynamic batching on (--max-batch 64 --max-wait-ms 2, the defaults),
# on without waiting (--max-wait-ms 0: a batch is whatever queued while the previous forward pass
# ran) and off (--max-batch 1), and the mean batch size read from /metrics; prints a Markdown table.
#
# Usage: Benchmarks/serve_load.sh CHECKPOINT IMAGE [SECONDS per run, default 10]
# Build first: CONVNET_SERVE=1 swift build -c release --product convnet-serve
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint=$1 image=$2 seconds=${3:-10}
server=.build/release/convnet-serve
command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install wrk)"; exit 1; }
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name { print $2 }'; }

echo "| batching | connections | requests/s | p50 | p99 | mean batch | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for mode in "on, wait 2 ms:--max-batch 64 --max-wait-ms 2" "on, wait 0:--max-batch 64 --max-wait-ms 0" \
    "off:--max-batch 1"; do
    name=${mode%%:*} options=${mode#*:}
    log=$(mktemp)
    # shellcheck disable=SC2086
    "$server" "$checkpoint" --port 0 $options >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
    port=$(sed -n 's/^listening on http:.*:\([0-9]*\)$/\1/p' "$log")
    BODY_FILE="$image" wrk -t 2 -c 8 -d 2 -s Benchmarks/serve_post.lua "http://127.0.0.1:$port" >/dev/null  # warm-up
    for connections in 1 8 64 256; do
        threads=$((connections < 2 ? 1 : 2))
        sum0=$(metric convnet_batch_size_sum) count0=$(metric convnet_batch_size_count)
        out=$(BODY_FILE="$image" wrk -t "$threads" -c "$connections" -d "${seconds}s" --timeout 10s --latency \
            -s Benchmarks/serve_post.lua "http://127.0.0.1:$port")
        sum1=$(metric convnet_batch_size_sum) count1=$(metric convnet_batch_size_count)
        rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
        p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
        p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
        bad=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
        batch=$(awk -v s0="$sum0" -v s1="$sum1" -v c0="$count0" -v c1="$count1" \
            'BEGIN { if (c1 > c0) printf "%.1f", (s1 - s0) / (c1 - c0); else print "-" }')
        echo "| $name | $connections | $rps | $p50 | $p99 | $batch | ${bad:-0} |"
    done
    kill -TERM "$pid"
    wait "$pid" || echo "warning: convnet-serve exited with $?"
    rm -f "$log"
done
