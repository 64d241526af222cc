#!/usr/bin/env bash
# Builds the DocC documentation of the ConvNet library (Sources/ConvNet/ConvNet.docc and every
# `///` comment) into .build/docs with the toolchain's own tools, no package dependency:
#
#   1. swift build: the release build with the test command's flags (skipped with --prebuilt);
#   2. swift-symbolgraph-extract: the public symbols of the built ConvNet module;
#   3. docc convert: the catalog and the symbol graph, warnings treated as errors
#      (a broken ``Symbol`` link, an undocumented parameter, ...).
#
# Usage: Scripts/docs.sh [--prebuilt] [OUTPUT]      (default .build/docs; exit 1 on any warning)
# --prebuilt skips step 1 and reads the modules the test command has just built (CI: `swift test`
# and `swift build --target` plan the same flags differently, and the build took two minutes
# again); without them it builds as usual.
# To read it: python3 -m http.server -d .build/docs 8000, then open
# http://localhost:8000/documentation/convnet/ (or `docc preview Sources/ConvNet/ConvNet.docc
# --additional-symbol-graph-dir .build/docs-symbol-graphs` while writing).
set -euo pipefail
cd "$(dirname "$0")/.."
prebuilt=0
if [ "${1:-}" = "--prebuilt" ]; then
    prebuilt=1
    shift
fi
output="${1:-.build/docs}"
graphs=.build/docs-symbol-graphs

tool() {  # a toolchain tool: on the PATH beside swift, or through xcrun on macOS
    if command -v "$1" >/dev/null 2>&1; then command -v "$1"; else xcrun --find "$1"; fi
}
extract=$(tool swift-symbolgraph-extract)
docc=$(tool docc)

flags=(-c release -Xswiftc -enable-testing)
bin=$(swift build "${flags[@]}" --show-bin-path)
if [ "$prebuilt" -eq 0 ] || { [ ! -e "$bin/Modules/ConvNet.swiftmodule" ] && [ ! -e "$bin/ConvNet.swiftmodule" ]; }; then
    swift build "${flags[@]}" --target ConvNet
fi
modules="$bin/Modules"
[ -d "$modules" ] || modules="$bin"
triple=$(swift -print-target-info | sed -n 's/.*"triple": *"\([^"]*\)".*/\1/p' | head -n 1)
sdk=()
if [ "$(uname)" = Darwin ]; then sdk=(-sdk "$(xcrun --show-sdk-path)"); fi

rm -rf "$graphs"
mkdir -p "$graphs"
"$extract" -module-name ConvNet -I "$modules" -target "$triple" ${sdk[@]+"${sdk[@]}"} \
    -minimum-access-level public -skip-inherited-docs -output-dir "$graphs"

rm -rf "$output"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$docc" convert Sources/ConvNet/ConvNet.docc --additional-symbol-graph-dir "$graphs" \
    --fallback-display-name ConvNet --fallback-bundle-identifier org.convnet.ConvNet \
    --output-path "$output" --warnings-as-errors >"$log" 2>&1 || status=$?
cat "$log"
if [ "$status" -ne 0 ] || grep -qE '^(warning|error):' "$log"; then
    echo "error: the documentation has warnings or errors (above)" >&2
    exit 1
fi
echo "documentation: $output/documentation/convnet/index.html (no warnings)"
