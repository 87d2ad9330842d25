#!/bin/sh
# build.sh: builds the libFuzzer targets of tests/fuzz/ with clang into build/fuzz/.
#
#   sh tests/fuzz/build.sh              # every target: build/fuzz/fuzz_<name>
#   sh tests/fuzz/build.sh json gguf    # only these
#   sh tests/fuzz/build.sh gen_seeds    # the seed generator (tests/fuzz/gen_seeds.c)
#   sh tests/fuzz/build.sh gen_long     # the long-input generator (tests/fuzz/gen_long.c)
#
# The library folders (weights, kernels, tokenizer, engine) are compiled once with
# -fsanitize=fuzzer-no-link,address,undefined (coverage without a main), then each
# target is linked with -fsanitize=fuzzer, which brings libFuzzer's main. No OpenMP:
# results do not depend on threads, and a fuzzer should be single-threaded.
# Needs only clang (Debian's clang package ships libFuzzer) and this repository.
# Run from the repository root.
#
# KERNEL_CFLAGS adds flags to the kernels/ files only, e.g. to fuzz the model
# loader past a known kernel finding (use another OUT, objects are not rebuilt
# when flags change):
#   OUT=build/fuzz-k KERNEL_CFLAGS=-fno-sanitize=signed-integer-overflow,float-cast-overflow \
#       sh tests/fuzz/build.sh model
set -e
CC=${CC:-clang}
OUT=${OUT:-build/fuzz}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=c11 -O1 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -D_GNU_SOURCE -I. -Iengine $SAN"
AVX2="-mavx2 -mfma -mf16c"
AVX512="$AVX2 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16"

arch=$($CC -dumpmachine | cut -d- -f1)
srcs="weights/*.c kernels/*.c tokenizer/*.c engine/*.c"
[ "$arch" = x86_64 ] && srcs="$srcs kernels/avx2/*.c kernels/avx512/*.c"
[ "$arch" = aarch64 ] && srcs="$srcs kernels/neon/*.c"

# The library, compiled only when a source or any header is newer than its object.
objs=""
newest_header=$(ls -t weights/*.h kernels/*.h tokenizer/*.h engine/*.h | head -n 1)
for src in $srcs; do
    obj="$OUT/obj/${src%.c}.o"
    objs="$objs $obj"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
        mkdir -p "$(dirname "$obj")"
        case "$src" in
            kernels/avx2/*)   isa="$AVX2 $KERNEL_CFLAGS" ;;
            kernels/avx512/*) isa="$AVX512 $KERNEL_CFLAGS" ;;
            kernels/neon/*)   isa="-march=armv8.2-a+dotprod $KERNEL_CFLAGS" ;;
            kernels/*)        isa="$KERNEL_CFLAGS" ;;
            *)                isa="" ;;
        esac
        echo "  CC $src"
        if [ "$src" = kernels/dispatch.c ] && [ "$arch" = x86_64 ]; then
            # clang 14 rejects __builtin_cpu_supports("f16c"); this file only
            # detects the CPU, so it is compiled by cc, uninstrumented.
            cc -std=c11 -O2 -D_GNU_SOURCE -I. -Iengine -c "$src" -o "$obj"
            continue
        fi
        # shellcheck disable=SC2086
        $CC $CFLAGS $isa -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    fi
done

targets=${*:-json gguf safetensors tokenizer_encode tokenizer_gguf tokenizer_json model prompt stats embed_input http shard gen_long}
for t in $targets; do
    if [ "$t" = gen_seeds ]; then
        # the seed generator: an ordinary program that also needs the model writer of tools/
        echo "  LD $OUT/gen_seeds"
        # shellcheck disable=SC2086
        $CC $CFLAGS tests/fuzz/gen_seeds.c tools/convert/arch.c tools/convert/model_write.c tools/convert/recipe.c $objs -lm -o "$OUT/gen_seeds"
        continue
    fi
    if [ "$t" = gen_long ]; then
        # the long-input generator (tests/fuzz/gen_long.c), an ordinary program
        echo "  LD $OUT/gen_long"
        # shellcheck disable=SC2086
        $CC $CFLAGS tests/fuzz/gen_long.c $objs -lm -o "$OUT/gen_long"
        continue
    fi
    extra=""
    [ "$t" = embed_input ] && extra="tools/embed_input.c"   # the targets that read a tools/ format
    [ "$t" = http ] && extra="tools/serve/http.c tools/serve/api.c tools/serve/batcher.c tools/serve/metrics.c -lpthread"
    [ "$t" = shard ] && extra="tools/embed_job.c tools/journal.c tools/output.c"
    echo "  LD $OUT/fuzz_$t"
    # shellcheck disable=SC2086
    $CC $CFLAGS -DFUZZING -fsanitize=fuzzer -Itests tests/fuzz/fuzz_$t.c $extra $objs -lm -o "$OUT/fuzz_$t"
done
