#!/bin/sh
# bench_jobs.sh: what journals and shards cost, on a full-shape model.
#
#   sh bench/bench_jobs.sh [MODEL] [N_TEXTS] [BATCH_TOKENS] [SHARDS]
#   defaults: /tmp/models/olmoe-full.q4_0.gguf (make one with bench/bench_embed.sh or
#   `moee synth --arch olmoe --shape full --type q4_0`), 256, 1024, 8
#
# 1. The journal's cost: the same run with the journal (output a regular file) and
#    without (output a FIFO, which never gets one), alternated twice, tokens/s of each.
#    A small --batch-tokens makes several chunks (4 batches each) so the chunking
#    shows too. THREADS (default 1) threads per run.
# 2. SHARDS shards run at once on this machine (-t 1 each), merged, compared byte for
#    byte with the single run.
# 3. A projection of 10 M texts over 1, 8 and 64 such machines from the measured rate.
set -eu
cd "$(dirname "$0")/.."
model=${1:-/tmp/models/olmoe-full.q4_0.gguf}; n=${2:-256}; batch=${3:-1024}; shards=${4:-8}
moee=${MOEE:-./moee}
dir=$(mktemp -d /tmp/moee-bench-jobs-XXXXXX)
trap 'rm -rf "$dir"' EXIT
sh bench/sts_texts.sh "$n" "$dir/t.txt"
cat "$model" > /dev/null   # into the page cache
args="-m $model -i $dir/t.txt --kind moee-sum --prompt prompteol --batch-tokens $batch"
threads=${THREADS:-1}   # one thread by default: on a shared machine the ratio is steadier

rate() { sed -n 's/.* tokens in \([0-9.]*\) s (\([0-9]*\) tokens\/s).*/\2/p' "$1"; }
mkfifo "$dir/fifo"
for round in 1 2 3; do
    cat "$dir/fifo" > "$dir/nojournal.npy" &
    "$moee" embed $args -t "$threads" -o "$dir/fifo" --format npy 2> "$dir/a.log"; wait
    "$moee" embed $args -t "$threads" -o "$dir/journal.npy" 2> "$dir/b.log"
    cmp -s "$dir/nojournal.npy" "$dir/journal.npy" || { echo "outputs differ"; exit 1; }
    a=$(rate "$dir/a.log"); b=$(rate "$dir/b.log")
    echo "round $round: without journal $a tokens/s, with journal $b tokens/s ($(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }'))"
    rm -f "$dir/journal.npy.json"
done
tokens=$(sed -n 's/.* texts, \([0-9]*\) tokens in .*/\1/p' "$dir/b.log")

t0=$(date +%s.%N)
k=0
while [ $k -lt "$shards" ]; do
    "$moee" embed $args -t 1 -q --shard $k/$shards -o "$dir/part-$k" &
    k=$((k + 1))
done
wait
t1=$(date +%s.%N)
"$moee" merge -q -o "$dir/merged.npy" "$dir"/part-*
t2=$(date +%s.%N)
cmp -s "$dir/merged.npy" "$dir/nojournal.npy" && same=identical || same=DIFFERENT
shard_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
merge_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
echo "$shards shards at once (-t 1 each): $shard_s s ($(awk -v t="$tokens" -v s="$shard_s" 'BEGIN { printf "%.0f", t / s }') tokens/s), merge $merge_s s, merged output $same to the single run"

# projection from the single run with the journal (the last round) and this input's tokens per text
awk -v tps="$b" -v tokens="$tokens" -v n="$n" 'BEGIN {
    per_text = tokens / n; texts_s = tps / per_text; total = 10000000
    printf "\n10 M texts of %.1f tokens (this input) at %.0f tokens/s = %.2f texts/s per machine:\n", per_text, tps, texts_s
    printf "| machines | texts each | time |\n|---|---|---|\n"
    split("1 8 64", m, " ")
    for (i = 1; i <= 3; i++) {
        h = total / (m[i] * texts_s) / 3600
        printf "| %d | %.0f | %.1f h (%.1f days) |\n", m[i], total / m[i], h, h / 24
    }
}'
