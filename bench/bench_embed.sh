#!/bin/sh
# bench_embed.sh: end-to-end embedding throughput on random-weight models of the real
# models' full shapes (the weights are random, the work per token is the real one).
#
#   sh bench/bench_embed.sh [ARCH ...]        (default: olmoe qwen2moe deepseek; make bench-embed)
#
# Per model and workload it prints tokens/s, the GOP/s that makes (2 x the weights a
# token meets, per token) and its share of the int8 peak measured here with as many
# threads running at once (build/bench/bench_kernels --peak, just before and just after
# the run: the share is of their mean), the peak resident memory
# over the file's size, and, when LLAMA_CPP names llama.cpp's bin folder, llama.cpp's
# llama-embedding on the same file and texts and the ratio of the two wall times.
# Whole processes are timed, model loading included (the file in the page cache);
# cpu-s is the CPU time they used (user + system: spinning threads count).
#
# Workloads (bench/data/, from SummEval's CNN/DailyMail sources, see its README):
#   short  256 sentences of 20-40 words
#   long   32 news articles cut to 330 words
# Both run with --kind hs --prompt raw (the text as is, last-token hidden state).
#
# Environment: MOEE (the binary, default ./moee), MODELS (default /tmp/models; a
# missing model is synthesized there as ARCH-full.TYPE.gguf, ~4-9 GB), TYPE (a
# `moee synth --type` name: a weight type or a llama-quantize recipe such as q4_k_m;
# default q4_0), THREADS
# (default: all cores), WORKLOADS (default "short long"), COUNT (only the first
# COUNT texts of each workload), LLAMA_CPP, BENCH_DIR (scratch, default /tmp/moee-bench).
set -eu
cd "$(dirname "$0")/.."
archs=${*:-olmoe qwen2moe deepseek}
models=${MODELS:-/tmp/models}
dir=${BENCH_DIR:-/tmp/moee-bench}
workloads=${WORKLOADS:-short long}
threads=${THREADS:-$(getconf _NPROCESSORS_ONLN)}
type=${TYPE:-q4_0}
moee=${MOEE:-./moee}
mkdir -p "$dir" "$models"
[ -n "${MOEE:-}" ] || [ -x ./moee ] || make -s moee
make -s build/bench/bench_kernels
# The int8 peak of all threads at once: on a shared machine it moves by 10-20% within
# minutes (other guests on the same cores), so every run is compared with the mean of
# the peak measured just before it and just after it.
peak() { build/bench/bench_kernels --peak "$threads"; }

# GOP per token: 2 x (attention q/k/v/o + router + the k routed experts' and the
# shared experts' gate/up/down, or the dense MLP) summed over the layers.
gop_per_token() {
    case "$1" in
        olmoe)    echo 2.15 ;;   # 16 x (4 x 2048^2 + 64 x 2048 + 8 x 3 x 2048 x 1024)
        qwen2moe) echo 4.13 ;;   # 24 x (4 x 2048^2 + 60 x 2048 + 4 x 3 x 2048 x 1408 + 3 x 2048 x 5632)
        deepseek) echo 4.82 ;;   # 4 x 2048^2 x 28 + 3 x 2048 x 10944 + 27 x (64 x 2048 + 8 x 3 x 2048 x 1408)
    esac
}

printf 'weights %s, threads %s; peak: int8 GOP/s of %s threads at once, before/after the run; load average %s\n' \
    "$type" "$threads" "$threads" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-6s %6s %7s %8s %8s %9s %7s %11s %7s %9s %10s\n' model texts count tokens seconds cpu-s tokens/s GOP/s \
    peak %peak RSS/file "llama.cpp"
for arch in $archs; do
    case "$arch" in
        olmoe)    tok=tests/data/tokenizer/olmoe.gguf.gz ;;
        qwen2moe) tok=tests/data/tokenizer/qwen2.gguf.gz ;;
        deepseek) tok=tests/data/tokenizer/ggml-vocab-deepseek-llm.gguf.gz ;;
        *) echo "bench_embed: unknown architecture $arch" >&2; exit 1 ;;
    esac
    model="$models/$arch-full.$type.gguf"
    if [ ! -f "$model" ]; then
        gzip -dc "$tok" > "$dir/$arch-tokenizer.gguf"
        echo "synthesizing $model ..." >&2
        "$moee" synth --arch "$arch" --shape full --type "$type" --tokenizer "$dir/$arch-tokenizer.gguf" \
            -o "$model.part.gguf"
        mv "$model.part.gguf" "$model"
    fi
    file_bytes=$(stat -c %s "$model")
    # into the page cache, read back sequentially so that it is held in large folios (mapped
    # as huge pages; README, Speed): the runs below measure compute, not the disk or the
    # way the file first came into the cache
    dd if="$model" iflag=nocache count=0 status=none 2>/dev/null || true
    cat "$model" > /dev/null
    for w in $workloads; do
        texts=bench/data/$w.txt
        if [ -n "${COUNT:-}" ]; then head -n "$COUNT" "$texts" > "$dir/$w.txt"; texts=$dir/$w.txt; fi
        peak_before=$(peak)
        /usr/bin/time -f "%e %M %U %S" -o "$dir/time.txt" "$moee" embed -m "$model" -i "$texts" -o "$dir/emb.npy" \
            --kind hs --prompt raw -q -t "$threads"
        peak_after=$(peak)
        tokens=$(sed -n 's/.*"tokens": *\([0-9]*\).*/\1/p' "$dir/emb.npy.json" | head -n 1)
        llama="-"
        if [ -n "${LLAMA_CPP:-}" ]; then
            # --no-warmup: llama.cpp's empty warm-up run aborts on the Q4_0 MoE files here
            # (Feb 2025, GGML_ASSERT on the work size of its repacked Q4_0 MUL_MAT_ID);
            # the file is in the page cache anyway
            if /usr/bin/time -f "%e %M" -o "$dir/llama-time.txt" "$LLAMA_CPP/llama-embedding" -m "$model" \
                -f "$texts" --pooling last -t "$threads" -c 4096 -b 4096 -ub 4096 --no-warmup > /dev/null \
                2> "$dir/llama.log"; then
                llama=$(cut -d' ' -f1 "$dir/llama-time.txt")
            else
                llama=failed
                echo "bench_embed: llama-embedding failed on $model (see $dir/llama.log)" >&2
            fi
        fi
        awk -v arch="$arch" -v w="$w" -v n="$(wc -l < "$texts")" -v tok="$tokens" -v gpt="$(gop_per_token "$arch")" \
            -v p0="$peak_before" -v p1="$peak_after" -v fb="$file_bytes" -v llama="$llama" -v tm="$(cat "$dir/time.txt")" 'BEGIN {
            split(tm, f, " "); t = f[1]; rss = f[2] * 1024; cpu = f[3] + f[4]
            gops = tok / t * gpt; peak = (p0 + p1) / 2
            side = llama == "-" || llama == "failed" ? llama : sprintf("%.0fs %.1fx", llama, llama / t)
            printf "%-9s %-6s %6d %7d %8.1f %8.1f %9.1f %7.0f %5.0f/%-5.0f %6.1f%% %9.2f %10s\n", arch, w, n, tok, t, cpu,
                   tok / t, gops, p0, p1, 100 * gops / peak, rss / fb, side
        }'
    done
done
