#!/bin/sh
# tokenizer_cli: `moee tokenize` end to end: plain and JSONL input, field pass-through,
# --decode, --no-special, invalid UTF-8 (error naming the line, no output file left;
# --replace-invalid), CRLF, NUL, and MoEE prompts. $1 is the moee binary.
MOEE=${1:-./moee}
DATA=tests/data/tokenizer
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok; else bad "$1: expected [$2] got [$3]"; fi
}
tmp=$(mktemp -d /tmp/moee_tokenize_XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
gzip -dc $DATA/olmoe.gguf.gz > "$tmp/olmoe.gguf" || bad "decompress olmoe"
gzip -dc $DATA/ggml-vocab-deepseek-llm.gguf.gz > "$tmp/deepseek.gguf" || bad "decompress deepseek"
OLMOE="$MOEE tokenize -m $tmp/olmoe.gguf"

# Plain text: one line of ids per line; "\r\n" is stripped like "\n"; empty lines stay.
printf 'Hello world\r\n\nx<|endoftext|>y\n  Hello' > "$tmp/in.txt"
$OLMOE -i "$tmp/in.txt" -o "$tmp/out.txt"; check "plain rc" 0 $?
check "plain ids" "$(printf '12092 1533\n\n89 50279 90\n50276 12092')" "$(cat "$tmp/out.txt")"
check "no temporary left" "" "$(ls "$tmp" | grep '\.tmp$')"

# Decoding the ids gives the text back (without its line endings).
$OLMOE --decode -i "$tmp/out.txt" > "$tmp/back.txt"; check "decode rc" 0 $?
check "decode text" "$(printf 'Hello world\n\nx<|endoftext|>y\n  Hello')" "$(cat "$tmp/back.txt")"

# NUL is an ordinary character.
printf 'a\000b\n' > "$tmp/nul.txt"
$OLMOE -i "$tmp/nul.txt" | $OLMOE --decode > "$tmp/nul.out"
if cmp -s "$tmp/nul.txt" "$tmp/nul.out"; then ok; else bad "NUL round trip"; fi

# JSONL: other fields pass through byte for byte, in order; "ids" is appended (an old one replaced).
printf '%s\n' '{"id": 1.50, "text": "Hello world", "ids": [7], "meta": {"a": [1, "]"]}}' > "$tmp/in.jsonl"
out=$($OLMOE --jsonl -i "$tmp/in.jsonl")
check "jsonl" '{"id": 1.50, "text": "Hello world", "meta": {"a": [1, "]"]}, "ids": [12092, 1533]}' "$out"
out=$(printf '%s\n' '{"q": "Hello world"}' | $OLMOE --jsonl --field q)
check "jsonl --field" '{"q": "Hello world", "ids": [12092, 1533]}' "$out"
out=$(printf '%s\n' '{"ids": [12092, 1533]}' | $OLMOE --jsonl --decode)
check "jsonl --decode" '{"ids": [12092, 1533], "text": "Hello world"}' "$out"

# DeepSeek: BOS by default, not with --no-special; its byte-symbol added tokens decode to U+FFFD.
DS="$MOEE tokenize -m $tmp/deepseek.gguf"
check "deepseek BOS" "100000 37 100014 71 6245" "$(printf 'Führer\n' | $DS)"
check "deepseek --no-special" "37 100014 71 6245" "$(printf 'Führer\n' | $DS --no-special)"
check "deepseek decode" "F�hrer" "$(printf '100000 37 100014 71 6245\n' | $DS --decode --no-special)"

# Invalid UTF-8: an error naming the line and byte; no output file; or U+FFFD when asked.
printf 'fine\nab\377cd\n' > "$tmp/bad.txt"
err=$($OLMOE -i "$tmp/bad.txt" -o "$tmp/bad.out" 2>&1 >/dev/null); rc=$?
check "invalid rc" 1 $rc
check "invalid message" "moee tokenize: $tmp/bad.txt:2: invalid UTF-8 at byte 2" "$err"
if [ -e "$tmp/bad.out" ] || [ -e "$tmp/bad.out.tmp" ]; then bad "output file left after an error"; else ok; fi
check "replace-invalid" "$(printf 'ab\357\277\275cd\n' | $OLMOE)" "$($OLMOE --replace-invalid -i "$tmp/bad.txt" | tail -n 1)"
err=$(printf '{"text": "ab\377"}\n' | $OLMOE --jsonl 2>&1 >/dev/null)
check "jsonl invalid message" "moee tokenize: stdin:1: column 13: invalid UTF-8 in string" "$err"

# MoEE prompt (the same ids as the prompt vectors).
out=$(printf '%s\n' '{"text": "A girl is styling her hair."}' | $OLMOE --jsonl --prompt none --instruction "Retrieve semantically similar text.")
check "prompt" '{"text": "A girl is styling her hair.", "prompt": "\"<|user|>\nRetrieve semantically similar text.\n<|embed|>\nA girl is styling her hair.\"", "ids": [3, 29, 93, 4537, 49651, 187, 9795, 15311, 3300, 39904, 2074, 2505, 15, 187, 29, 93, 24224, 49651, 187, 34, 3226, 310, 43753, 617, 4707, 449]}' "$out"

# Usage errors.
$MOEE tokenize -i "$tmp/in.txt" >/dev/null 2>&1; check "no tokenizer rc" 1 $?
err=$($MOEE tokenize -m "$tmp/missing.gguf" < /dev/null 2>&1); check "missing model rc" 1 $?
case "$err" in "moee tokenize: "*missing.gguf*) ok ;; *) bad "missing model message: $err" ;; esac
err=$(printf 'x y\n' | $OLMOE --decode 2>&1 >/dev/null)
check "decode garbage" "moee tokenize: stdin:1: not a list of token ids (space-separated integers)" "$err"

# The tokenizer.json loader, when the reference files are around.
if [ -f ../shared/tokenizer/qwen2-tokenizer.json ]; then
    out=$(printf 'Hello world<|im_end|>\n' | $MOEE tokenize --tokenizer ../shared/tokenizer/qwen2-tokenizer.json \
          --tokenizer-config ../shared/tokenizer/qwen2-tokenizer_config.json)
    check "qwen2 json" "9707 1879 151645" "$out"
fi

echo "tokenizer_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
