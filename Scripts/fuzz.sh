#!/usr/bin/env bash
# Fuzzes adnn's file readers with libFuzzer and AddressSanitizer.
#
#   Scripts/fuzz.sh TARGET SECONDS     e.g. Scripts/fuzz.sh fuzz-jpeg 600   (or: jpeg)
#   Scripts/fuzz.sh all SECONDS        every target, one after another
#   Scripts/fuzz.sh build              only build the targets
#
# Targets: fuzz-jpeg fuzz-png fuzz-safetensors fuzz-pth fuzz-csv fuzz-npy fuzz-config (the package in
# Fuzz/, built once into Fuzz/.build-fuzz). Each run starts from a scratch copy of the committed seed
# corpus Fuzz/corpus/TARGET (new inputs go to Fuzz/.work/TARGET/corpus, not into the repository) and
# prints the executions and crashes from libFuzzer's final statistics. Crashing inputs are saved as
# Fuzz/.work/TARGET/crash-* (and leak-*, timeout-*, oom-*); the script exits 1 when any target crashed.
#
# Environment: FUZZ_ARGS adds libFuzzer flags (e.g. "-max_len=65536" or "-runs=1000000");
# FUZZ_RESUME=1 continues from the corpus a previous run left in Fuzz/.work/TARGET instead of starting over.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(fuzz-jpeg fuzz-png fuzz-safetensors fuzz-pth fuzz-csv fuzz-npy fuzz-config)
SCRATCH=Fuzz/.build-fuzz
WORK=Fuzz/.work

usage() { echo "usage: $0 TARGET|all SECONDS   |   $0 build   (targets: ${ALL[*]})" >&2; exit 2; }

build() {
    # -sanitize=fuzzer instruments every Swift module of the build (the readers included) for coverage
    # and links libFuzzer; -Xcc does the same for the C code (the image shims, Yams' libyaml copy).
    # lld: gold fails with an internal error on the instrumented objects.
    swift build -c release --package-path Fuzz --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld \
        -Xcc -fsanitize=fuzzer-no-link,address >&2
}

run_one() {
    local target=$1 seconds=$2
    local bin="$SCRATCH/release/$target" seeds="Fuzz/corpus/$target" dir="$WORK/$target"
    [[ -x "$bin" ]] || { echo "$target: not built ($bin missing)" >&2; return 2; }
    if [[ ${FUZZ_RESUME:-0} == 1 && -d "$dir/corpus" ]]; then
        mv "$dir/corpus" "$dir.corpus.keep"; rm -rf "$dir"; mkdir -p "$dir"; mv "$dir.corpus.keep" "$dir/corpus"
    else
        rm -rf "$dir"; mkdir -p "$dir/corpus"
    fi
    cp -R "$seeds/." "$dir/corpus/"
    local dict=()
    [[ -f "Fuzz/dict/$target.dict" ]] && dict=("-dict=Fuzz/dict/$target.dict")
    local log="$dir/fuzz.log" rc=0
    local start=$SECONDS
    # SWIFT_BACKTRACE: the Swift runtime's crash backtracer would itself trip AddressSanitizer and hide
    # the original trap; libFuzzer prints the stack instead.
    # shellcheck disable=SC2086
    SWIFT_BACKTRACE=enable=no "$bin" "$dir/corpus" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/" \
        ${FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
    local elapsed=$((SECONDS - start))
    local execs
    execs=$(awk '/stat::number_of_executed_units/ {s += $NF} END {print s + 0}' "$log")
    local crashes
    crashes=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    local corpus_files corpus_kb
    corpus_files=$(find "$seeds" -type f | wc -l)
    corpus_kb=$(du -sk "$seeds" | cut -f1)
    printf '%-18s executions %10s  seconds %5s  crashes %s  seed corpus %s files %s KB  (rc %s, log %s)\n' \
        "$target" "$execs" "$elapsed" "$crashes" "$corpus_files" "$corpus_kb" "$rc" "$log"
    if ((crashes > 0 || rc != 0)); then
        grep -m 3 -E 'ERROR: |Fatal error|SUMMARY' "$log" >&2 || true
        find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) >&2
        return 1
    fi
}

[[ $# -ge 1 ]] || usage
if [[ $1 == build ]]; then build; exit 0; fi
[[ $# -eq 2 && $2 =~ ^[0-9]+$ && $2 -gt 0 ]] || usage
targets=()
if [[ $1 == all ]]; then targets=("${ALL[@]}")
else
    t=$1; [[ $t == fuzz-* ]] || t="fuzz-$t"
    [[ " ${ALL[*]} " == *" $t "* ]] || usage
    targets=("$t")
fi
build
status=0
for t in "${targets[@]}"; do run_one "$t" "$2" || status=1; done
exit $status
