#!/bin/sh
# tools_embed.sh: the `moee embed` binary itself: --help, stdin/stdout, --ids on a
# golden model, the sidecar, exit statuses and "moee embed: ..." errors, and that a
# failed run leaves no file behind. ($1 = the moee binary.)
MOEE=${1:-./moee}
MODEL=tests/data/golden/llamacpp-gguf/olmoe-tiny.f32.gguf
DIR=$(mktemp -d /tmp/moee-embed-sh-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
passed=0; failed=0
check() {   # check NAME CONDITION...
    name=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name"; fi
}

# --help: every option with its default, exit 0
"$MOEE" embed --help > "$DIR/help.txt"; rc=$?
check "help exit 0" [ "$rc" -eq 0 ]
for opt in --model --input --jsonl --field --id-field --ids --output --format --kind --alpha --pool \
           --rw-source --prompt --template --instruction --standardize --stats-in --stats-out \
           --batch-tokens --threads --no-truncate --replace-invalid --quiet; do
    check "help lists $opt" grep -q -- "$opt" "$DIR/help.txt"
done
check "help gives defaults" [ "$(grep -c 'default' "$DIR/help.txt")" -ge 10 ]

# no model: exit 1 and one "moee embed: " line
"$MOEE" embed -i /dev/null 2> "$DIR/err.txt"; rc=$?
check "no model exit 1" [ "$rc" -eq 1 ]
check "no model message" grep -q '^moee embed: no model' "$DIR/err.txt"

# --ids from stdin to stdout (.jsonl, one key per kind)
printf '1 2 3\n4 5\t6\n' | "$MOEE" embed -m "$MODEL" --ids - --kind hs,rw -q > "$DIR/out.jsonl"; rc=$?
check "stdin/stdout exit 0" [ "$rc" -eq 0 ]
check "stdout has 2 lines" [ "$(wc -l < "$DIR/out.jsonl")" -eq 2 ]
check "stdout keys" grep -q '^{"id": 1, "hs": \[.*\], "rw": \[.*\]}$' "$DIR/out.jsonl"
check "no sidecar for stdout" [ ! -e "$DIR/out.jsonl.json" ]

# --ids to .npy: float32 [2, 64] = 128-byte header + 512 bytes, and the sidecar
printf '1 2 3\n4 5 6\n' > "$DIR/ids.txt"
"$MOEE" embed -m "$MODEL" --ids "$DIR/ids.txt" -o "$DIR/hs.npy" --kind hs --pool mean -q; rc=$?
check "npy exit 0" [ "$rc" -eq 0 ]
check "npy size" [ "$(wc -c < "$DIR/hs.npy")" -eq 640 ]
check "npy shape" grep -q "'shape': (2, 64)" "$DIR/hs.npy"
check "sidecar" grep -q '"counts": {"texts": 2, "tokens": 6, "truncated": 0}' "$DIR/hs.npy.json"
check "sidecar pool" grep -q '"pool": "mean"' "$DIR/hs.npy.json"
# the same rows whatever the batch budget and thread count
"$MOEE" embed -m "$MODEL" --ids "$DIR/ids.txt" -o "$DIR/hs2.npy" --kind hs --pool mean -q --batch-tokens 1 -t 1
check "batch/threads invariance" cmp -s "$DIR/hs.npy" "$DIR/hs2.npy"

# errors name INPUT:LINE, exit 1, and leave nothing in the output directory
mkdir "$DIR/o"
printf '1 2\n3 70000\n' > "$DIR/bad.txt"
"$MOEE" embed -m "$MODEL" --ids "$DIR/bad.txt" -o "$DIR/o/x.npy" --kind hs 2> "$DIR/err.txt"; rc=$?
check "bad id exit 1" [ "$rc" -eq 1 ]
check "bad id message" grep -q "^moee embed: $DIR/bad.txt:2: id 70000 is outside the vocabulary" "$DIR/err.txt"
check "nothing left" [ -z "$(ls -A "$DIR/o")" ]
"$MOEE" embed -m "$MODEL" -i "$DIR/ids.txt" -o "$DIR/o/x.npy" --kind hs 2> "$DIR/err.txt"; rc=$?
check "no tokenizer exit 1" [ "$rc" -eq 1 ]
check "no tokenizer message" grep -q "^moee embed: .*tokenizer" "$DIR/err.txt"
check "nothing left 2" [ -z "$(ls -A "$DIR/o")" ]
"$MOEE" embed -m "$MODEL" --ids "$DIR/ids.txt" -o "$DIR/o/x.npy" --kind hs,rw 2> "$DIR/err.txt"; rc=$?
check "npy two kinds refused" [ "$rc" -eq 1 ]
"$MOEE" embed -m "$MODEL" --ids "$DIR/ids.txt" -o "$DIR/o/x.npy" --bogus 2> "$DIR/err.txt"; rc=$?
check "unknown option" grep -q "^moee embed: unknown option '--bogus'" "$DIR/err.txt"

# one sequence cannot be standardized: the message gives the commands that work
printf '1 2 3\n' > "$DIR/one.txt"
"$MOEE" embed -m "$MODEL" --ids "$DIR/one.txt" -o "$DIR/o/x.npy" 2> "$DIR/err.txt"; rc=$?
check "one text exit 1" [ "$rc" -eq 1 ]
check "one text commands" grep -q -- "--kind hs.*--stats-out stats.json.*--stats-in stats.json" "$DIR/err.txt"
check "one text one line" [ "$(wc -l < "$DIR/err.txt")" -eq 1 ]
"$MOEE" embed -m "$MODEL" --ids "$DIR/one.txt" -o "$DIR/o/x.npy" --kind hs -q; rc=$?
check "one text hs" [ "$rc" -eq 0 ]
rm -f "$DIR/o/x.npy" "$DIR/o/x.npy.json"

# statistics carry their provenance: other pooling or another model is refused, naming it
"$MOEE" embed -m "$MODEL" --ids "$DIR/ids.txt" -o "$DIR/c.npy" --kind rw --stats-out "$DIR/st.json" -q
check "stats provenance written" grep -q '"prompt": "ids"' "$DIR/st.json"
"$MOEE" embed -m "$MODEL" --ids "$DIR/one.txt" -o "$DIR/o/x.npy" --kind rw --stats-in "$DIR/st.json" -q; rc=$?
check "stats-in same options" [ "$rc" -eq 0 ]
rm -f "$DIR/o/x.npy" "$DIR/o/x.npy.json"
"$MOEE" embed -m "$MODEL" --ids "$DIR/one.txt" -o "$DIR/o/x.npy" --kind rw --stats-in "$DIR/st.json" --pool mean 2> "$DIR/err.txt"; rc=$?
check "stats-in other pooling refused" [ "$rc" -eq 1 ]
check "stats-in names pooling" grep -q "^moee embed: $DIR/st.json: .*pooling 'last', this run uses 'mean'" "$DIR/err.txt"
"$MOEE" embed -m tests/data/golden/llamacpp-gguf/olmoe-tiny.q8_0.gguf --ids "$DIR/one.txt" -o "$DIR/o/x.npy" --kind rw \
    --stats-in "$DIR/st.json" 2> "$DIR/err.txt"; rc=$?
check "stats-in other model refused" [ "$rc" -eq 1 ]
check "stats-in names the model" grep -q "another model file" "$DIR/err.txt"
check "nothing left 3" [ -z "$(ls -A "$DIR/o")" ]

# a truncated --ids line is reported with its line number
python3 -c "print('1 2'); print(' '.join(['5'] * 4100)); print('3')" > "$DIR/long.txt" 2>/dev/null ||
    { echo '1 2'; i=0; while [ $i -lt 4100 ]; do printf '5 '; i=$((i + 1)); done; echo; echo 3; } > "$DIR/long.txt"
"$MOEE" embed -m "$MODEL" --ids "$DIR/long.txt" -o "$DIR/long.npy" --kind hs 2> "$DIR/err.txt"; rc=$?
check "truncated ids exit 0" [ "$rc" -eq 0 ]
check "truncated ids reported" grep -q "1 of 3 sequences were longer .* truncated: $DIR/long.txt line 2$" "$DIR/err.txt"

echo "tools_embed.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
