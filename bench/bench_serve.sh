#!/bin/sh
# bench_serve.sh: `moee serve` against `moee embed` on the same texts, and latency.
#
#   sh bench/bench_serve.sh [MODEL] [N_TEXTS] [CLIENTS]      (IDLE=N idle probes, default 10)
#   defaults: /tmp/models/olmoe-full.q4_0.gguf (made by `moee synth --arch olmoe --shape
#   full --type q4_0 --tokenizer ...` if missing, as bench_embed.sh does), 512, 16
#
# 1. `moee embed` on N STS Benchmark sentences (PromptEOL, hs): its own texts/s and
#    tokens/s (model load excluded: the time it reports for the embedding).
# 2. `moee serve` with the same options on a free loopback port, after a warm-up
#    request: p50/p99 latency of one short text on the idle server (IDLE requests).
# 3. CLIENTS concurrent clients send the same N texts in requests of 1-8 texts while
#    one more client measures the latency of single short texts under that load.
# Prints the ratio of the server's throughput to embed's (goal >= 90%). Both run one
# after the other on the same machine; it is shared and noisy, so compare ratios.
set -eu
cd "$(dirname "$0")/.."
model=${1:-/tmp/models/olmoe-full.q4_0.gguf}; n=${2:-512}; clients=${3:-16}
dir=${BENCH_DIR:-/tmp/moee-bench-serve}
mkdir -p "$dir"
[ -x ./moee ] || make -s moee
make -s build/bench/bench_serve
if [ ! -f "$model" ]; then
    gzip -dc tests/data/tokenizer/olmoe.gguf.gz > "$dir/olmoe-tokenizer.gguf"
    ./moee synth --arch olmoe --shape full --type q4_0 --tokenizer "$dir/olmoe-tokenizer.gguf" -o "$model.part"
    mv "$model.part" "$model"
fi
sh bench/sts_texts.sh "$n" "$dir/texts.n.txt"
opts="--kind hs --prompt prompteol"

echo "== moee embed: $n texts"
# shellcheck disable=SC2086
./moee embed -m "$model" -i "$dir/texts.n.txt" -o "$dir/emb.npy" $opts 2> "$dir/embed.log"
tail -n 1 "$dir/embed.log"
embed_tps=$(sed -n 's/.* in \([0-9.]*\) s (\([0-9]*\) tokens\/s).*/\2/p' "$dir/embed.log" | tail -n 1)

echo "== moee serve"
# shellcheck disable=SC2086
./moee serve -m "$model" --port 0 $opts 2> "$dir/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 600); do
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/serve.log")
    [ -n "$port" ] && break
    kill -0 $pid 2>/dev/null || { cat "$dir/serve.log"; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { echo "the server did not start"; exit 1; }
build/bench/bench_serve idle "$port" 1 > /dev/null     # warm-up
build/bench/bench_serve idle "$port" "${IDLE:-10}"
build/bench/bench_serve load "$port" "$dir/texts.n.txt" "$clients" 1 8 1000 | tee "$dir/load.txt"
kill -TERM $pid
wait $pid || true
trap - EXIT
serve_tps=$(sed -n 's/.* \([0-9.]*\) tokens\/s.*/\1/p' "$dir/load.txt" | head -n 1)
awk -v s="$serve_tps" -v e="$embed_tps" 'BEGIN { printf "serve / embed throughput: %.1f / %.1f tokens/s = %.0f%%\n", s, e, 100 * s / e }'
