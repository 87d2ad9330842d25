#!/bin/sh
# run.sh: runs the fuzz targets one after the other, each for SECONDS (default 300),
# one process each at the lowest priority (the machine is shared).
#
#   sh tests/fuzz/build.sh && sh tests/fuzz/run.sh 300            # every target
#   sh tests/fuzz/run.sh 600 tokenizer_encode model               # some
#   FUZZ_RUNS=10000000 sh tests/fuzz/run.sh 0 json gguf           # a number of executions each
#
# With FUZZ_RUNS set, each target runs that many executions (libFuzzer's -runs)
# instead of SECONDS: a campaign with a required count per target, whatever else
# the machine is doing (at nice 19 it mostly waits while other work runs).
# Each target first replays, once, the long inputs of build/fuzz/long/NAME/ that
# tests/fuzz/gen_long.c writes (a 100 KB added token, 4 MB words, deep nesting,
# millions of ids: what inputs capped at 4-64 KB never reach), under the same
# memory limit; then it starts fuzzing from its seeds (tests/fuzz/corpus/NAME/)
# and keeps what it learns in build/fuzz/corpus/NAME/ (reused by the next run).
# `make fuzz FUZZ_SECONDS=600` builds everything and runs this. A crash, leak,
# sanitizer report or timeout is written to build/fuzz/artifacts/NAME/ and the
# target stops there; the log is build/fuzz/NAME.log. To keep a finding as a
# regression input: minimize it (build/fuzz/fuzz_NAME -minimize_crash=1 -runs=10000
# FILE), fix the bug, then copy the minimized file into tests/fuzz/corpus/NAME/.
# Run from the repository root.
seconds=${1:-300}
[ $# -gt 0 ] && shift
targets=${*:-json gguf safetensors prompt stats tokenizer_encode tokenizer_gguf tokenizer_json embed_input http model}
status=0
if [ ! -d build/fuzz/long ] && [ -x build/fuzz/gen_long ]; then
    build/fuzz/gen_long build/fuzz/long || status=1
fi
for t in $targets; do
    case $t in
        json|safetensors|stats|tokenizer_json|embed_input) extra="-dict=tests/fuzz/json.dict" ;;
        gguf|tokenizer_gguf) extra="-dict=tests/fuzz/gguf.dict -max_len=65536" ;;
        model) extra="-dict=tests/fuzz/gguf.dict -max_len=65536 -timeout=30" ;;
        tokenizer_encode) extra="-timeout=30" ;;
        http) extra="-dict=tests/fuzz/http.dict" ;;
        *) extra="" ;;
    esac
    mkdir -p "build/fuzz/corpus/$t" "build/fuzz/artifacts/$t"
    if [ -d "build/fuzz/long/$t" ]; then
        echo "fuzz_$t: the long inputs of build/fuzz/long/$t, log build/fuzz/$t.long.log"
        if ! nice -n 19 "build/fuzz/fuzz_$t" -timeout=120 -rss_limit_mb=2048 \
                -artifact_prefix="build/fuzz/artifacts/$t/" "build/fuzz/long/$t"/* > "build/fuzz/$t.long.log" 2>&1; then
            echo "fuzz_$t: A LONG INPUT FAILED: see build/fuzz/$t.long.log"
            status=1
        fi
    fi
    if [ -n "${FUZZ_RUNS:-}" ]; then
        budget="-runs=$FUZZ_RUNS"
        echo "fuzz_$t: $FUZZ_RUNS executions, log build/fuzz/$t.log"
    else
        budget="-max_total_time=$seconds"
        echo "fuzz_$t: $seconds s, log build/fuzz/$t.log"
    fi
    # shellcheck disable=SC2086
    if ! nice -n 19 "build/fuzz/fuzz_$t" $budget -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$t/" $extra \
            "build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" > "build/fuzz/$t.log" 2>&1; then
        echo "fuzz_$t: FOUND SOMETHING: see build/fuzz/$t.log and build/fuzz/artifacts/$t/"
        status=1
    fi
    grep -E '^stat::number_of_executed_units' "build/fuzz/$t.log" | sed "s/^/  /"
    grep -E '^#[0-9]+.*cov: ' "build/fuzz/$t.log" | tail -n 1 | sed -E 's/^(#[0-9]+).*(cov: [0-9]+ ft: [0-9]+).*/  last: \1 \2/'
done
exit $status
