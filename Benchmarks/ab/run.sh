#!/usr/bin/env bash
# A/B of two ConvNet commits on the same machine: instruction counts (callgrind, portable
# builds, one thread: deterministic) and median step times (native builds, alternating).
#
#   bash Benchmarks/ab/run.sh OLD_COMMIT [NEW_COMMIT]    # NEW defaults to the working tree
#
# Builds the harness (harness.swift) against both trees in a temporary folder; needs valgrind.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
old="$1"
work="$(mktemp -d)"
trap 'git -C "$root" worktree remove --force "$work/old" >/dev/null 2>&1 || true; git -C "$root" worktree remove --force "$work/newtree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$root" worktree add --detach "$work/old" "$old" >/dev/null
newtree="$root"
if [ $# -ge 2 ]; then git -C "$root" worktree add --detach "$work/newtree" "$2" >/dev/null; newtree="$work/newtree"; fi
for side in old new; do
    tree=$([ $side = old ] && echo "$work/old" || echo "$newtree")
    mkdir -p "$work/h-$side/Sources/h"
    cp "$root/Benchmarks/ab/harness.swift" "$work/h-$side/Sources/h/main.swift"
    cat > "$work/h-$side/Package.swift" <<MANIFEST
// swift-tools-version:6.0
import PackageDescription
let package = Package(name: "h", platforms: [.macOS(.v13)], dependencies: [.package(path: "$tree")],
    targets: [.executableTarget(name: "h", dependencies: [.product(name: "ConvNet", package: "$(basename "$tree")")],
                                path: "Sources/h", swiftSettings: [.unsafeFlags(["-O"])])])
MANIFEST
    if ! (cd "$work/h-$side" && swift build -c release && CONVNET_PORTABLE=1 swift build -c release --scratch-path .build-portable) \
        > "$work/build-$side.log" 2>&1; then
        tail -20 "$work/build-$side.log"
        exit 1
    fi
done
echo "== instructions (callgrind, portable builds, CONVNET_THREADS=1)"
for point in "W1 1 10" "W1 64 2" "W2 64 5" "W3 64 1"; do
    for side in old new; do
        set -- $point
        count=$(CONVNET_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$work/h-$side/.build-portable/release/h" $1 $2 $3 count 2>&1 | grep -o "Collected : [0-9]*" | grep -o "[0-9]*")
        echo "$side $1 b$2 x$3: $count"
    done
done
echo "== median times (native builds, 2 threads, alternating, 10 rounds)"
for round in $(seq 1 10); do
    for side in old new; do
        echo "$side $("$work/h-$side/.build/release/h" W1 1 1000 time) | $("$work/h-$side/.build/release/h" W3 64 8 time)"
    done
done
