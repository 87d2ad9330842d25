#!/bin/sh
# tools_jobs.sh: long jobs. `moee embed --shard K/N` + `moee merge` give the single
# run's bytes for N = 1..8 (.npy, .npz, .jsonl, every kind; Slurm's array variables
# simulated); a run killed (SIGKILL) inside journal writes or at random moments, or
# whose journal is cut at any byte, finishes with --resume to the single run's bytes; --resume with another model, input or option is refused; a damaged chunk is
# recomputed. A tiny model with a tokenizer, -t 1 (the machine is shared). ($1 = moee.)
MOEE=${1:-./moee}
MODEL=tests/fuzz/corpus/model/olmoe-micro-tokenizer.q4_0.gguf
OTHER=tests/fuzz/corpus/model/qwen2moe-micro.q4_0.gguf
BASE=/tmp
[ -w /dev/shm ] && BASE=/dev/shm     # thousands of fdatasync calls cost nothing in memory
DIR=$(mktemp -d $BASE/moee-jobs-sh-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
passed=0; failed=0
check() {   # check NAME CONDITION...
    name=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name"; fi
}
same() { cmp -s "$1" "$2" && cmp -s "$1.json" "$2.json"; }   # output and sidecar
killed() {  # killed COMMAND...: runs it, quietly even when it dies by a signal; its status in $rc
    ( "$@"; echo $? > "$DIR/rc" ) 2> /dev/null; rc=$(cat "$DIR/rc")
}
E="$MOEE embed -m $MODEL -t 1 -q"
KINDS=hs,rw,moee,moee-sum

# 800 short texts (and the same as JSON Lines with ids)
awk 'BEGIN { srand(7); split("the a cat dog runs quickly over lazy fox jumps blue red green sky sea", w, " ");
             for (i = 0; i < 800; i++) { n = int(rand() * 10); s = "";
                 for (j = 0; j < n; j++) s = s (j ? " " : "") w[int(rand() * 15) + 1]; print s } }' > "$DIR/t.txt"
# and a few longer than the tiny model's context (64 tokens): truncated, reported by line
long="the lazy dog runs over the blue sea and the red sky while the quick fox jumps over the green"
for line in 100 450 777; do sed -i "${line}s/.*/$long $long $long/" "$DIR/t.txt"; done
awk '{ printf "{\"id\": \"doc-%d\", \"text\": \"%s\"}\n", NR, $0 }' "$DIR/t.txt" > "$DIR/t.jsonl"

$E -i "$DIR/t.txt" -o "$DIR/single.npz" --kind $KINDS; check "single npz" [ $? -eq 0 ]
$E -i "$DIR/t.txt" -o "$DIR/single.npy" --kind moee-sum --prompt prompteol
$E -i "$DIR/t.jsonl" --jsonl -o "$DIR/single.jsonl" --kind hs,moee
check "no journal left" [ -z "$(ls "$DIR" | grep journal)" ]

# ---- shards -------------------------------------------------------------------------------
for N in 1 2 3 4 5 6 7 8; do
    K=0; parts=""
    while [ $K -lt $N ]; do
        $E -i "$DIR/t.txt" -o "$DIR/p$K" --kind $KINDS --shard $K/$N; parts="$DIR/p$K $parts"; K=$((K + 1))
    done
    "$MOEE" merge -q -o "$DIR/m.npz" $parts
    check "npz from $N shards" same "$DIR/single.npz" "$DIR/m.npz"
    rm -f "$DIR"/p* "$DIR"/m.npz*
done
for N in 3 8; do
    K=0; parts=""
    while [ $K -lt $N ]; do
        $E -i "$DIR/t.txt" -o "$DIR/p$K" --kind moee-sum --prompt prompteol --shard $K/$N
        $E -i "$DIR/t.jsonl" --jsonl -o "$DIR/j$K" --kind hs,moee --shard $K/$N
        parts="$parts $DIR/p$K"; K=$((K + 1))
    done
    "$MOEE" merge -q -o "$DIR/m.npy" $parts
    check "npy from $N shards" same "$DIR/single.npy" "$DIR/m.npy"
    "$MOEE" merge -q -o "$DIR/m.jsonl" $(echo $parts | sed 's|/p\([0-9]\)|/j\1|g')
    check "jsonl (with ids) from $N shards" same "$DIR/single.jsonl" "$DIR/m.jsonl"
    [ $N -eq 3 ] || { rm -f "$DIR"/p* "$DIR"/j* "$DIR"/m.*; continue; }
    # --stats-out at the merge equals the single run's
    $E -i "$DIR/t.txt" -o "$DIR/s.npy" --kind moee-sum --prompt prompteol --stats-out "$DIR/single.stats"
    "$MOEE" merge -q -o "$DIR/m2.npy" --stats-out "$DIR/m.stats" $parts
    check "merge --stats-out" cmp -s "$DIR/single.stats" "$DIR/m.stats"
    # missing, repeated and foreign parts
    "$MOEE" merge -o "$DIR/x.npy" "$DIR/p0" "$DIR/p2" 2> "$DIR/err"
    check "missing shard" grep -q "^moee merge: shard 1 of 3 is missing" "$DIR/err"
    "$MOEE" merge -o "$DIR/x.npy" "$DIR/p0" "$DIR/p1" "$DIR/p1" "$DIR/p2" 2> "$DIR/err"
    check "repeated shard" grep -q "are both shard 1 of 3" "$DIR/err"
    "$MOEE" merge -o "$DIR/x.npy" "$DIR/p0" "$DIR/j1" "$DIR/p2" 2> "$DIR/err"
    check "foreign shard" grep -q "j1 does not belong with .*p0: input (content fingerprint)" "$DIR/err"
    head -c 3000 "$DIR/p1" > "$DIR/cut"
    "$MOEE" merge -o "$DIR/x.npy" "$DIR/p0" "$DIR/cut" "$DIR/p2" 2> "$DIR/err"
    check "cut shard" grep -q "cut: damaged shard" "$DIR/err"
    check "no output from a failed merge" [ ! -e "$DIR/x.npy" ]
    rm -f "$DIR"/p* "$DIR"/j* "$DIR"/m.* "$DIR"/m2.*
done

# Slurm: sbatch --array=0-3 (task ids 0..3), then an array that is not a range
for ID in 0 1 2 3; do
    SLURM_ARRAY_TASK_ID=$ID SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=4 \
        $E -i "$DIR/t.txt" -o "$DIR/slurm-$ID" --kind $KINDS --shard auto
done
"$MOEE" merge -q -o "$DIR/m.npz" "$DIR"/slurm-*
check "Slurm array shards" same "$DIR/single.npz" "$DIR/m.npz"
SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=9 SLURM_ARRAY_TASK_COUNT=3 \
    $E -i "$DIR/t.txt" -o "$DIR/bad" --kind $KINDS --shard auto 2> "$DIR/err"
check "--array=1,4,9 refused" grep -q "is not a range" "$DIR/err"
rm -f "$DIR"/slurm-* "$DIR"/m.npz*

# ---- journals and --resume ----------------------------------------------------------------
mkfifo "$DIR/fifo"
$E -i "$DIR/t.txt" -o "$DIR/fifo" --kind $KINDS --resume 2> "$DIR/err"
check "--resume to a FIFO" grep -q "not a regular file" "$DIR/err"
$E -i "$DIR/t.txt" --kind $KINDS --resume 2> "$DIR/err"
check "--resume to stdout" grep -q "needs -o FILE" "$DIR/err"
$E -i "$DIR/t.txt" -o "$DIR/fifo" --format npz --kind $KINDS --shard 0/2 2> "$DIR/err"
check "--shard to a FIFO" grep -q "not a regular file" "$DIR/err"
check "FIFO still a FIFO" [ -p "$DIR/fifo" ]
# an output that is a FIFO (or a device) is written through, never replaced, no sidecar
cat "$DIR/fifo" > "$DIR/through-fifo" &
$E -i "$DIR/t.txt" -o "$DIR/fifo" --format npz --kind $KINDS
wait
check "written through a FIFO" cmp -s "$DIR/single.npz" "$DIR/through-fifo"
check "the FIFO stays" [ -p "$DIR/fifo" ]
check "no sidecar or journal beside a FIFO" [ ! -e "$DIR/fifo.json" ] && [ ! -e "$DIR/fifo.journal" ]

# killed (SIGKILL) inside a journal write at exact points (MOEE_JOURNAL_KILL_AT: after
# that many journal bytes), then --resume, itself killed once more, then finished
# with other -t and --batch-tokens: the single run's bytes every time
ok=1
for at in 0 23 25 4000 20000 45000 90000; do
    MOEE_JOURNAL_KILL_AT=$at killed $E -i "$DIR/t.txt" -o "$DIR/r.npy" --kind moee-sum --prompt prompteol --batch-tokens 48
    [ "$rc" -gt 128 ] || { ok=0; echo "not killed at $at"; }
    [ -e "$DIR/r.npy" ] && { ok=0; echo "output after a kill at $at"; }
    MOEE_JOURNAL_KILL_AT=7000 killed $E -i "$DIR/t.txt" -o "$DIR/r.npy" --kind moee-sum --prompt prompteol --batch-tokens 64 --resume
    "$MOEE" embed -m "$MODEL" -t 2 -i "$DIR/t.txt" -o "$DIR/r.npy" --kind moee-sum --prompt prompteol --resume 2> "$DIR/err"
    same "$DIR/single.npy" "$DIR/r.npy" || { ok=0; echo "killed at $at: differs"; }
    grep -q "^moee embed: resuming: [0-9]* of 800 texts recovered" "$DIR/err" || { ok=0; echo "no recovery line"; }
    [ -e "$DIR/r.npy.journal" ] && { ok=0; echo "journal left"; }
    rm -f "$DIR/r.npy" "$DIR/r.npy.json"
done
check "killed inside writes, resumed" [ $ok -eq 1 ]

# kills at random moments of a run (from the start to its measured length)
t0=$(date +%s%N); $E -i "$DIR/t.txt" -o "$DIR/timed.npz" --kind $KINDS --batch-tokens 48; t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 + 1 ))
ok=1
for seed in 1 2 3 4 5; do
    $E -i "$DIR/t.txt" -o "$DIR/r.npz" --kind $KINDS --batch-tokens 48 --resume &
    pid=$!
    sleep "$(awk -v s=$seed -v ms=$ms 'BEGIN { srand(s); printf "%.3f", rand() * ms / 1000 }')"
    kill -9 $pid 2> /dev/null
    wait $pid 2> /dev/null
    [ -e "$DIR/r.npz" ] && { same "$DIR/single.npz" "$DIR/r.npz" || ok=0; rm -f "$DIR"/r.npz "$DIR"/r.npz.json; }
done
$E -i "$DIR/t.txt" -o "$DIR/r.npz" --kind $KINDS --resume
check "killed at random moments, resumed" same "$DIR/single.npz" "$DIR/r.npz"
check "no wrong output after a kill" [ $ok -eq 1 ]
rm -f "$DIR"/r.npz*

# a journal with many chunks, cut at many bytes (inside chunks, on their edges): each
# resumed to the same bytes
MOEE_JOURNAL_KILL_AT=60000 killed $E -i "$DIR/t.txt" -o "$DIR/r.npy" --kind moee-sum --prompt prompteol --batch-tokens 48
cp "$DIR/r.npy.journal" "$DIR/kept.journal"
size=$(wc -c < "$DIR/kept.journal")
ok=1
for cut in 0 1 24 25 $((size / 3)) $((size / 2)) $((size - 24)) $((size - 1)) $size; do
    head -c $cut "$DIR/kept.journal" > "$DIR/r.npy.journal"
    $E -i "$DIR/t.txt" -o "$DIR/r.npy" --kind moee-sum --prompt prompteol --resume
    same "$DIR/single.npy" "$DIR/r.npy" || { ok=0; echo "cut at $cut differs"; }
    rm -f "$DIR/r.npy" "$DIR/r.npy.json"
done
check "journal cut at any byte, resumed" [ $ok -eq 1 ]

# a flipped byte in the middle: detected, recomputed from there, same bytes
cp "$DIR/kept.journal" "$DIR/r.npy.journal"
printf 'X' | dd of="$DIR/r.npy.journal" bs=1 seek=$((size / 2)) conv=notrunc 2> /dev/null
"$MOEE" embed -m "$MODEL" -t 1 -i "$DIR/t.txt" -o "$DIR/r.npy" --kind moee-sum --prompt prompteol --resume 2> "$DIR/err"
check "damaged chunk reported" grep -q "damaged (checksum mismatch): recomputing" "$DIR/err"
check "damaged chunk recomputed" same "$DIR/single.npy" "$DIR/r.npy"
rm -f "$DIR/r.npy" "$DIR/r.npy.json"

# another model, input or option: refused, naming it; the journal stays
cp "$DIR/kept.journal" "$DIR/r.npy.journal"
"$MOEE" embed -m "$OTHER" -t 1 -q -i "$DIR/t.txt" -o "$DIR/r.npy" --kind moee-sum --prompt prompteol --resume 2> "$DIR/err"
check "other model refused" grep -q "cannot be resumed: model (fingerprint)" "$DIR/err"
sed 1d "$DIR/t.txt" > "$DIR/t2.txt"
$E -i "$DIR/t2.txt" -o "$DIR/r.npy" --kind moee-sum --prompt prompteol --resume 2> "$DIR/err"
check "other input refused" grep -q "cannot be resumed: input (content fingerprint)" "$DIR/err"
$E -i "$DIR/t.txt" -o "$DIR/r.npy" --kind moee-sum --prompt style --resume 2> "$DIR/err"
check "other option refused" grep -q "cannot be resumed: --prompt: the journal has 'prompteol', this run has 'style'" "$DIR/err"
$E -i "$DIR/t.txt" -o "$DIR/r.npy" --kind moee-sum --prompt prompteol 2> "$DIR/err"
check "a journal without --resume refused" grep -q "add --resume to continue it" "$DIR/err"
check "journal kept" cmp -s "$DIR/kept.journal" "$DIR/r.npy.journal"
check "no output" [ ! -e "$DIR/r.npy" ]
rm -f "$DIR/r.npy.journal"

# a failed run (invalid UTF-8 half way) leaves neither output nor journal
{ head -700 "$DIR/t.txt"; printf 'bad \377 byte\n'; sed 1,700d "$DIR/t.txt"; } > "$DIR/bad.txt"
$E -i "$DIR/bad.txt" -o "$DIR/b.npy" --kind moee-sum --batch-tokens 48 2> "$DIR/err"
check "bad text named by line" grep -q "bad.txt:701: invalid UTF-8" "$DIR/err"
check "failed run leaves nothing" [ -z "$(ls "$DIR" | grep '^b\.npy')" ]

# a shard killed and resumed; merge equals the single run
MOEE_JOURNAL_KILL_AT=20000 killed $E -i "$DIR/t.txt" -o "$DIR/p0" --kind $KINDS --shard 0/2 --batch-tokens 48
check "killed shard: no part yet" [ ! -e "$DIR/p0" ]
$E -i "$DIR/t.txt" -o "$DIR/p0" --kind $KINDS --shard 0/2 --resume
$E -i "$DIR/t.txt" -o "$DIR/p1" --kind $KINDS --shard 1/2
"$MOEE" merge -o "$DIR/m.npz" "$DIR/p1" "$DIR/p0" 2> "$DIR/err"
check "resumed shard merges" same "$DIR/single.npz" "$DIR/m.npz"
check "merge reports the truncated texts" grep -q "3 of 800 texts were longer than the model's context" "$DIR/err"

echo "tools_jobs.sh: $passed passed, $failed failed"
[ $failed -eq 0 ]
