#!/bin/sh
# run.sh: runs the fuzz targets one after the other, each for SECONDS (default 300),
# one process each at the lowest priority (the machine is shared).
#
#   sh tests/fuzz/build.sh && sh tests/fuzz/run.sh 300            # every target
#   sh tests/fuzz/run.sh 600 tokenizer_encode model               # some
#
# Each target starts from its seeds (tests/fuzz/corpus/NAME/) and keeps what it
# learns in build/fuzz/corpus/NAME/ (reused by the next run). A crash, leak,
# sanitizer report or timeout is written to build/fuzz/artifacts/NAME/ and the
# target stops there; the log is build/fuzz/NAME.log. To keep a finding as a
# regression input: minimize it (build/fuzz/fuzz_NAME -minimize_crash=1 -runs=10000
# FILE), fix the bug, then copy the minimized file into tests/fuzz/corpus/NAME/.
# Run from the repository root.
seconds=${1:-300}
[ $# -gt 0 ] && shift
targets=${*:-json gguf safetensors prompt stats tokenizer_encode tokenizer_gguf tokenizer_json embed_input http model}
status=0
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
    echo "fuzz_$t: $seconds s, log build/fuzz/$t.log"
    # shellcheck disable=SC2086
    if ! nice -n 19 "build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$t/" $extra \
            "build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" > "build/fuzz/$t.log" 2>&1; then
        echo "fuzz_$t: FOUND SOMETHING: see build/fuzz/$t.log and build/fuzz/artifacts/$t/"
        status=1
    fi
    grep -E '^stat::number_of_executed_units' "build/fuzz/$t.log" | sed "s/^/  /"
done
exit $status
