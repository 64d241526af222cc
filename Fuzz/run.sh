#!/usr/bin/env bash
# Builds the libFuzzer harnesses and runs them.
#
#   Fuzz/run.sh NAME SECONDS [libFuzzer options]   one harness (its output streams)
#   Fuzz/run.sh all SECONDS [libFuzzer options]    every harness in turn, one summary line each
#   Fuzz/run.sh smoke SECONDS                      as all, from the committed seeds only (CI)
#   Fuzz/run.sh build                              build only
#   Fuzz/run.sh list                               the harness names
#
# SECONDS is libFuzzer's -max_total_time (0: no limit, e.g. `Fuzz/run.sh npy 0 -runs=1000000`).
# Harnesses: Fuzz/Harnesses/NAME.swift, one executable `fuzz-NAME` each, present in the package
# only when CONVNET_FUZZ=1 is set while building; built with -sanitize=fuzzer,address into
# .build-fuzz (never .build). Each run starts from the committed seeds (Fuzz/Corpus/NAME, read
# only) and the working corpus Fuzz/findings/corpus/NAME, with Fuzz/Dictionaries/NAME.dict
# when there is one; crash, timeout and out-of-memory files go to Fuzz/findings/NAME/ and the
# log to Fuzz/findings/logs/NAME.log (Fuzz/findings is git-ignored). A finding, minimised
# (`.build-fuzz/debug/fuzz-NAME -minimize_crash=1 -runs=100000 FILE`), belongs in
# Tests/ConvNetTests/Data/FuzzRegressions/NAME/, which the test suite replays.
#
# Exit status: 0 when every harness ran clean, 1 on a finding or a failed build, 77 when the
# toolchain has no libFuzzer (swiftc -sanitize=fuzzer does not link), so that CI can skip.
set -uo pipefail
cd "$(dirname "$0")/.."

# One per Fuzz/Harnesses/NAME.swift (Package.swift makes `fuzz-NAME` of each the same way).
harnesses=($(cd Fuzz/Harnesses && ls -- *.swift | sed "s/\.swift$//"))
# Over -rss_limit_mb or -timeout (seconds per input) is a finding, like a crash.
defaults=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
scratch=.build-fuzz
findings=Fuzz/findings

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Whether swiftc can link a libFuzzer harness at all (toolchains without compiler-rt's fuzzer
# runtime, such as Xcode's, cannot).
probe() {
    local dir
    dir="$(mktemp -d)"
    printf '@_cdecl("LLVMFuzzerTestOneInput")\npublic func test(_ d: UnsafePointer<UInt8>?, _ n: Int) -> CInt { 0 }\n' >"$dir/probe.swift"
    if ! swiftc -sanitize=fuzzer,address -parse-as-library "$dir/probe.swift" -o "$dir/probe" >"$dir/log" 2>&1; then
        echo "no libFuzzer in this toolchain: swiftc -sanitize=fuzzer,address does not link ($(grep -m1 -iE 'error' "$dir/log" || echo 'see swiftc'))" >&2
        rm -rf "$dir"
        exit 77
    fi
    rm -rf "$dir"
}

build() {
    probe
    local products=()
    for name in "$@"; do products+=(--product "fuzz-$name"); done
    # The linker's "Cannot export local symbol '__asan_…'" warnings are noise.
    CONVNET_FUZZ=1 swift build --scratch-path "$scratch" -c debug \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library "${products[@]}" 2>&1 \
        | grep -v "Cannot export local symbol"
    local status=${PIPESTATUS[0]}
    if [ "$status" -ne 0 ]; then
        echo "error: the fuzz build failed (exit $status)" >&2
        exit 1
    fi
}

# run NAME SECONDS QUIET WORK [options]: one harness, new inputs kept in WORK/NAME; returns
# libFuzzer's exit status.
run() {
    local name=$1 seconds=$2 quiet=$3 work=$4
    shift 4
    local binary="$scratch/debug/fuzz-$name" log="$findings/logs/$name.log"
    mkdir -p "$work/$name" "$findings/$name" "$findings/logs"
    local options=("${defaults[@]}" -max_total_time="$seconds" -artifact_prefix="$findings/$name/")
    [ -f "Fuzz/Dictionaries/$name.dict" ] && options+=(-dict="Fuzz/Dictionaries/$name.dict")
    local status
    if [ "$quiet" = 1 ]; then
        "$binary" "${options[@]}" "$@" "$work/$name" "Fuzz/Corpus/$name" >"$log" 2>&1
        status=$?
    else
        "$binary" "${options[@]}" "$@" "$work/$name" "Fuzz/Corpus/$name" 2>&1 | tee "$log"
        status=${PIPESTATUS[0]}
    fi
    summarize "$name" "$status" "$log"
    return "$status"
}

# One line: executions, exec/s, coverage, and the finding if any.
summarize() {
    local name=$1 status=$2 log=$3
    local runs rate cov
    runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    rate=$(grep -m1 'stat::average_exec_per_sec' "$log" | awk '{print $2}')
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+' | awk '{print $2}')
    if [ "$status" -eq 0 ]; then
        printf 'fuzz %-20s ok       %10s runs  %7s exec/s  cov %s\n' "$name" "${runs:-?}" "${rate:-?}" "${cov:-?}"
    else
        local artifact
        artifact=$(grep -oE "(Test unit written to|written to) [^ ]+" "$log" | tail -n 1 | awk '{print $NF}')
        local what
        what=$(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|Fatal error|.*Fatal error:|ERROR: libFuzzer)' "$log")
        printf 'fuzz %-20s FAILED   exit %s  %s  %s\n' "$name" "$status" "${artifact:-"(no artifact)"}" "${what:-"see $log"}"
    fi
}

[ $# -ge 1 ] || usage
case "$1" in
list)
    printf '%s\n' "${harnesses[@]}"
    ;;
build)
    build
    ;;
all | smoke)
    [ $# -ge 2 ] || usage
    mode=$1 seconds=$2
    shift 2
    build
    work="$findings/corpus"
    if [ "$mode" = smoke ]; then
        # A throwaway working corpus: every smoke run starts from the seeds, in the same time.
        work="$(mktemp -d)"
        trap 'rm -rf "$work"' EXIT
    fi
    failed=0
    for name in "${harnesses[@]}"; do
        run "$name" "$seconds" 1 "$work" "$@" || failed=1
    done
    exit "$failed"
    ;;
*)
    [ $# -ge 2 ] || usage
    name=$1 seconds=$2
    shift 2
    if ! printf '%s\n' "${harnesses[@]}" | grep -qx -- "$name"; then
        echo "error: no harness '$name' (one of: ${harnesses[*]}, or all)" >&2
        exit 2
    fi
    build "$name"
    run "$name" "$seconds" 0 "$findings/corpus" "$@"
    ;;
esac
