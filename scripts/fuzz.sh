#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, `swiftc -sanitize=fuzzer,address`) of ModScope's untrusted-input
# parsers: npy, npz, csv (ArrayFiles), wire (BatchRuntime's WireCodec.decode) and onnx (the ONNX loader).
#
#   scripts/fuzz.sh build                 compile every target into .build-fuzz/
#   scripts/fuzz.sh run [SECONDS] [T...]  build, then fuzz each target (or the named ones) for SECONDS (45)
#   scripts/fuzz.sh run runs:N [T...]     the same for N inputs each from a fixed seed (what .ci/run does: the
#                                         same inputs on every run, so a red CI is reproducible here)
#
# Each target is compiled from the module's own sources (instrumented) plus its entry in Fuzz/Targets;
# SwiftProtobuf (onnx) and swift-log (wire) are linked uninstrumented from the SwiftPM debug build, which
# `swift build` makes first. Seeds: Fuzz/Corpus/<target>/ (committed); new inputs go to
# .build-fuzz/corpus/<target>/. A crash writes .build-fuzz/crash-<target>-* and makes the script fail; turn
# each into a regression test in the normal suite (Fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTC=${SWIFTC:-swiftc}
OUT=.build-fuzz
TARGETS_ALL=(npy npz csv wire onnx)
# Per-input limits: 2 s (a slow input is a finding: `timeout-*`), 3 GiB of RSS, inputs up to 64 KiB.
FUZZ_FLAGS=(-timeout=2 -rss_limit_mb=3072 -max_len=65536 -print_final_stats=1)
# shellcheck disable=SC2054 # the comma belongs to swiftc's -sanitize= value
SANITIZE=(-sanitize=fuzzer,address -parse-as-library -Onone -g)
# Library modules compiled to one object (-wmo -emit-module): full -g makes the Linux driver add a module-wrap job
# writing the same .o ("multiple producers"), so they carry line tables only.
# shellcheck disable=SC2054
SANITIZE_LIBRARY=(-sanitize=fuzzer,address -parse-as-library -Onone -gline-tables-only)

debug_build() {
    [ -d .build/debug/Modules ] || swift build --product modscope >/dev/null
    BIN=$(swift build --show-bin-path)
}

build_target() {
    local target=$1 dir="$OUT/$1" entry="Fuzz/Targets/Fuzz${1^^}.swift"
    [ "$target" = wire ] && entry=Fuzz/Targets/FuzzWire.swift
    [ "$target" = onnx ] && entry=Fuzz/Targets/FuzzONNX.swift
    mkdir -p "$dir"
    case "$target" in
    npy | npz | csv)
        "$SWIFTC" "${SANITIZE[@]}" -module-name ArrayFiles -I Sources/CZlib \
            Sources/ArrayFiles/*.swift Fuzz/Targets/FuzzSupport.swift "$entry" -o "$dir/fuzz-$target" ;;
    wire)
        debug_build
        clang -c -O1 -msse4.2 -msha -I Sources/CChecksumKernels/include Sources/CChecksumKernels/ChecksumKernels.c \
            -o "$dir/ChecksumKernels.o"
        # SwiftPM synthesises this C target's module map; outside SwiftPM we write it.
        printf 'module CChecksumKernels {\n    header "%s"\n    export *\n}\n' \
            "$PWD/Sources/CChecksumKernels/include/CChecksumKernels.h" >"$dir/module.modulemap"
        "$SWIFTC" "${SANITIZE_LIBRARY[@]}" -emit-module -emit-module-path "$dir/ArrayFiles.swiftmodule" -module-name ArrayFiles \
            -I Sources/CZlib -c -wmo Sources/ArrayFiles/*.swift -o "$dir/ArrayFiles.o"
        "$SWIFTC" "${SANITIZE[@]}" -module-name BatchRuntime -I "$dir" -I "$BIN/Modules" \
            -I Sources/CChecksumKernels/include -I Sources/CZlib \
            Sources/BatchRuntime/*.swift "$entry" "$dir/ArrayFiles.o" "$dir/ChecksumKernels.o" \
            "$BIN"/Logging.build/*.o -lz -o "$dir/fuzz-wire" ;;
    onnx)
        debug_build
        clang -c -O1 -I Sources/CBLASLoader/include Sources/CBLASLoader/loader.c -o "$dir/CBLASLoader.o"
        printf 'module CBLASLoader {\n    header "%s"\n    export *\n}\n' \
            "$PWD/Sources/CBLASLoader/include/CBLASLoader.h" >"$dir/module.modulemap"
        "$SWIFTC" "${SANITIZE_LIBRARY[@]}" -emit-module -emit-module-path "$dir/TensorCore.swiftmodule" -module-name TensorCore \
            -I "$dir" -c -wmo Sources/TensorCore/*.swift -o "$dir/TensorCore.o"
        "$SWIFTC" "${SANITIZE_LIBRARY[@]}" -emit-module -emit-module-path "$dir/Autodiff.swiftmodule" -module-name Autodiff \
            -I "$dir" -c -wmo Sources/Autodiff/*.swift Sources/Autodiff/Operators/*.swift -o "$dir/Autodiff.o"
        "$SWIFTC" "${SANITIZE[@]}" -module-name ONNX -I "$dir" -I "$BIN/Modules" \
            Sources/ONNX/*.swift Sources/ONNX/Registry/*.swift Fuzz/Targets/FuzzSupport.swift "$entry" "$dir/TensorCore.o" "$dir/Autodiff.o" \
            "$dir/CBLASLoader.o" "$BIN"/SwiftProtobuf.build/*.o -ldl -o "$dir/fuzz-onnx" ;;
    *) echo "unknown fuzz target '$target' (targets: ${TARGETS_ALL[*]})" >&2; exit 2 ;;
    esac
}

run_target() {
    local target=$1 seconds=$2 corpus="$OUT/corpus/$1" limit
    # A number of seconds runs for that long; `runs:N` runs N inputs from seed 1 (CI: the same inputs every time).
    if [[ $seconds == runs:* ]]; then limit=(-seed=1 -runs="${seconds#runs:}" -timeout=10); else limit=(-max_total_time="$seconds"); fi
    mkdir -p "$corpus"
    echo "== fuzz $target (${seconds})"
    # SWIFT_BACKTRACE off: libFuzzer reports the crash itself, and the backtracer would take seconds per crash.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$OUT/$target/fuzz-$target" "${FUZZ_FLAGS[@]}" \
        "${limit[@]}" -artifact_prefix="$OUT/crash-$target-" "$corpus" "Fuzz/Corpus/$target" \
        2>&1 | tee "$OUT/$target.log" | grep -E "^#[0-9]+ +DONE|ERROR|SUMMARY|stat::number_of_executed_units|Test unit written" || true
    # libFuzzer exits non-zero on a finding; the pipeline hides that, so look for the artifact it writes.
    if grep -q "Test unit written to" "$OUT/$target.log"; then
        echo "fuzz $target: FOUND A CRASH (see $OUT/$target.log)" >&2
        return 1
    fi
}

command=${1:-run}
case "$command" in
build)
    shift || true
    for target in "${@:-${TARGETS_ALL[@]}}"; do build_target "$target"; done ;;
run)
    shift || true
    seconds=${1:-45}
    shift || true
    targets=("${@:-${TARGETS_ALL[@]}}")
    for target in "${targets[@]}"; do build_target "$target"; done
    status=0
    for target in "${targets[@]}"; do run_target "$target" "$seconds" || status=1; done
    exit $status ;;
*) echo "usage: scripts/fuzz.sh build [TARGET...] | run [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
