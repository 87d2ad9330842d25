#!/bin/sh
# tools_files.sh: how every command reads and writes files (issue 9, new-user items):
#   - -o never replaces what is not a regular file: a symlink is written through to its
#     target (the link stays), a FIFO or device is written straight (no temporary, no
#     rename, no sidecar beside it), for embed (+ sidecar), --stats-out, tokenize -o,
#     synth and eval --output;
#   - any readable input works: -i -, /dev/stdin, a FIFO;
#   - `moee embed -o X.jsonl` feeds `moee eval --embeddings X.jsonl` as it is;
#   - two runs writing the same -o at once leave data and sidecar of the same run.
# ($1 = the moee binary.)
MOEE=${1:-./moee}
GOLDEN=tests/data/golden/llamacpp-gguf/olmoe-tiny.f32.gguf
DIR=$(mktemp -d /tmp/moee-files-sh-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
passed=0; failed=0
check() {   # check NAME 'SHELL CONDITION'
    if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1"; fi
}
# a reader of a FIFO that the writer might never open (or have replaced) must not hang
release() {   # release FIFO READER_PID: give it 10 s to finish, then stop it
    t=0
    while kill -0 "$2" 2>/dev/null && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
    kill "$2" 2>/dev/null
    wait "$2" 2>/dev/null
}
no_tmp() { [ -z "$(find "$DIR" -name '*.tmp')" ]; }
printf '1 2 3\n4 5 6\n7 8\n' > "$DIR/ids.txt"
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" -o "$DIR/ref.npy" --kind hs -q

# a symlink is written through: the target gets the data (and the sidecar beside it)
mkdir "$DIR/real"
ln -s real/t.npy "$DIR/link.npy"
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" -o "$DIR/link.npy" --kind hs -q; rc=$?
check "symlink exit 0" '[ "$rc" -eq 0 ]'
check "symlink stays a link" '[ -L "$DIR/link.npy" ]'
check "symlink target written" 'cmp -s "$DIR/ref.npy" "$DIR/real/t.npy"'
check "sidecar beside the target" '[ -f "$DIR/real/t.npy.json" ]'
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" -o "$DIR/link.npy" --kind hs -q
check "symlink written twice" '[ -L "$DIR/link.npy" ] && cmp -s "$DIR/ref.npy" "$DIR/real/t.npy"'
# --stats-out and tokenize -o through links too
ln -s real/stats.json "$DIR/stats-link.json"
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" -o "$DIR/s.npy" --kind rw --stats-out "$DIR/stats-link.json" -q
check "stats-out through a link" '[ -L "$DIR/stats-link.json" ] && grep -q moee-stats "$DIR/real/stats.json"'
TOK=tests/data/tokenizer/olmoe-bytes-tokenizer.json
ln -s real/tok.txt "$DIR/tok-link.txt"
echo hello | "$MOEE" tokenize --tokenizer "$TOK" -o "$DIR/tok-link.txt"; rc=$?
check "tokenize -o through a link" '[ "$rc" -eq 0 ] && [ -L "$DIR/tok-link.txt" ] && [ -s "$DIR/real/tok.txt" ]'

# a FIFO is written straight: same bytes, still a FIFO, no sidecar, no temporary
mkfifo "$DIR/fifo.npy"
cat "$DIR/fifo.npy" > "$DIR/from-fifo.npy" &
reader=$!
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" -o "$DIR/fifo.npy" --kind hs -q; rc=$?
release "$DIR/fifo.npy" $reader
check "fifo exit 0" '[ "$rc" -eq 0 ]'
check "fifo stays a fifo" '[ -p "$DIR/fifo.npy" ]'
check "fifo bytes" 'cmp -s "$DIR/ref.npy" "$DIR/from-fifo.npy"'
check "no sidecar beside a fifo" '[ ! -e "$DIR/fifo.npy.json" ]'
check "no temporary left" 'no_tmp'
# synth into a FIFO
mkfifo "$DIR/model.fifo"
cat "$DIR/model.fifo" > "$DIR/model-copy.gguf" &
reader=$!
"$MOEE" synth --arch olmoe --shape tiny -o "$DIR/model.fifo" > /dev/null 2>&1; rc=$?
release "$DIR/model.fifo" $reader
check "synth into a fifo" '[ "$rc" -eq 0 ] && [ -p "$DIR/model.fifo" ]'
check "synth fifo bytes make a model" '"$MOEE" info "$DIR/model-copy.gguf" > /dev/null'
# a directory is refused
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" -o "$DIR/real" --format npy --kind hs -q 2> "$DIR/err.txt"; rc=$?
check "directory refused" '[ "$rc" -eq 1 ] && grep -q "is a directory" "$DIR/err.txt"'

# any readable input: -, /dev/stdin, a FIFO
"$MOEE" embed -m "$GOLDEN" --ids - -o "$DIR/stdin.npy" --kind hs -q < "$DIR/ids.txt"
check "--ids -" 'cmp -s "$DIR/ref.npy" "$DIR/stdin.npy"'
cat "$DIR/ids.txt" | "$MOEE" embed -m "$GOLDEN" --ids /dev/stdin -o "$DIR/devstdin.npy" --kind hs -q
check "--ids /dev/stdin from a pipe" 'cmp -s "$DIR/ref.npy" "$DIR/devstdin.npy"'
mkfifo "$DIR/in.fifo"
cat "$DIR/ids.txt" > "$DIR/in.fifo" &
writer=$!
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/in.fifo" -o "$DIR/fifoin.npy" --kind hs -q 2>/dev/null
kill $writer 2>/dev/null; wait $writer 2>/dev/null
check "--ids FIFO" 'cmp -s "$DIR/ref.npy" "$DIR/fifoin.npy"'

# two runs writing the same -o at once: data and sidecar always of the same run
i=0; mixed=0
while [ $i -lt 8 ]; do
    "$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" -o "$DIR/race.npy" --kind hs -q &
    one=$!
    "$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" -o "$DIR/race.npy" --kind rw -q &
    two=$!
    wait $one $two
    cols=$(head -c 128 "$DIR/race.npy" | grep -a -o "'shape': (3, [0-9]*)" | grep -o '[0-9]*)$' | tr -d ')')
    grep -q "\"name\": \"hs\", \"dim\": $cols," "$DIR/race.npy.json" ||
        grep -q "\"name\": \"rw\", \"dim\": $cols," "$DIR/race.npy.json" || mixed=$((mixed + 1))
    i=$((i + 1))
done
check "concurrent runs never mixed" '[ "$mixed" -eq 0 ]'
check "no temporary left after races" 'no_tmp'

# embed's .jsonl is eval's --embeddings input
gzip -dc tests/data/tokenizer/olmoe.gguf.gz > "$DIR/tok.gguf"
"$MOEE" synth --arch olmoe --shape tiny --tokenizer "$DIR/tok.gguf" -o "$DIR/m.gguf" > /dev/null 2>&1
STS=tests/data/eval/suite/STSBenchmark
"$MOEE" embed -m "$DIR/m.gguf" --jsonl --field sentence1 -i "$STS/test.jsonl" -o "$DIR/e1.jsonl" --kind hs -q
"$MOEE" embed -m "$DIR/m.gguf" --jsonl --field sentence2 -i "$STS/test.jsonl" -o "$DIR/e2.jsonl" --kind hs -q
cat "$DIR/e1.jsonl" "$DIR/e2.jsonl" > "$DIR/e.jsonl"
"$MOEE" eval --data "$STS" --embeddings "$DIR/e.jsonl" --output "$DIR/result.json" --quiet > /dev/null 2> "$DIR/err.txt"; rc=$?
check "embed jsonl feeds eval" '[ "$rc" -eq 0 ] && grep -q '\''"main_score": '\'' "$DIR/result.json"'
"$MOEE" eval --data "$STS" -m "$DIR/m.gguf" --kind hs --output "$DIR/result2.json" --quiet > /dev/null
s1=$(grep -o '"main_score": [^,]*' "$DIR/result.json"); s2=$(grep -o '"main_score": [^,]*' "$DIR/result2.json")
check "same score as eval -m" '[ -n "$s1" ] && [ "$s1" = "$s2" ]'
# eval --output into a link
ln -s real/r.json "$DIR/r-link.json"
"$MOEE" eval --data "$STS" --embeddings "$DIR/e.jsonl" --output "$DIR/r-link.json" --quiet > /dev/null
check "eval --output through a link" '[ -L "$DIR/r-link.json" ] && grep -q main_score "$DIR/real/r.json"'

echo "tools_files.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
