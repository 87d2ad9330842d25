#!/bin/sh
# tools_messages.sh: what a new user reads when something is off (issue 9, item 7):
# one clear line naming the option, file or argument, the same way in every command.
# ($1 = the moee binary.)
MOEE=${1:-./moee}
GOLDEN=tests/data/golden/llamacpp-gguf/olmoe-tiny.f32.gguf
TOK=tests/data/tokenizer/olmoe-bytes-tokenizer.json
DIR=$(mktemp -d /tmp/moee-messages-sh-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
passed=0; failed=0
check() {   # check NAME 'SHELL CONDITION'
    if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1"; fi
}
printf '1 2 3\n4 5 6\n' > "$DIR/ids.txt"

"$MOEE" --version > "$DIR/out.txt"; rc=$?
check "--version" '[ "$rc" -eq 0 ] && grep -q "^moee [0-9]" "$DIR/out.txt"'
"$MOEE" info --help > "$DIR/out.txt"; rc=$?
check "info --help explains" '[ "$rc" -eq 0 ] && [ "$(wc -l < "$DIR/out.txt")" -ge 4 ]'
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" --batch-tokens 99999999999 2> "$DIR/err.txt"; rc=$?
check "batch-tokens range" '[ "$rc" -eq 1 ] && grep -q "^moee embed: --batch-tokens: .99999999999. is not an integer from 1 to 2147483647$" "$DIR/err.txt"'
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" stray.txt 2> "$DIR/err.txt"; rc=$?
check "embed stray argument" '[ "$rc" -eq 1 ] && grep -q "unexpected argument .stray.txt." "$DIR/err.txt"'
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" --bogus 2> "$DIR/err.txt"
check "embed unknown option" 'grep -q "unknown option .--bogus." "$DIR/err.txt"'
"$MOEE" info "$GOLDEN" extra 2> "$DIR/err.txt"; rc=$?
check "info stray argument" '[ "$rc" -eq 1 ] && grep -q "^moee info: unexpected argument .extra." "$DIR/err.txt"'
"$MOEE" eval --data tests/data/eval/suite/STSBenchmark -m "$GOLDEN" --kind hs,rw --output "$DIR/r.json" 2> "$DIR/err.txt"; rc=$?
check "eval 1 task" '[ "$rc" -eq 1 ] && grep -q "for 1 task x 2 kinds" "$DIR/err.txt"'
"$MOEE" eval --data tests/data/eval/suite/STSBenchmark -m "$GOLDEN" --kind hs --output "$DIR/r.json" --quiet 2> "$DIR/err.txt"; rc=$?
check "eval without tokenizer does not suggest --ids" '[ "$rc" -eq 1 ] && grep -q "tokenizer" "$DIR/err.txt" && ! grep -q -- "--ids" "$DIR/err.txt"'
"$MOEE" eval --data tests/data/eval/suite/STSBenchmark -m "$GOLDEN" --standardize auto --quiet --seed x 2> "$DIR/err.txt"
check "eval takes --standardize auto and --quiet" 'grep -q "^moee eval: --seed: .x. is not an integer" "$DIR/err.txt"'
"$MOEE" eval --data tests/data/eval/suite/STSBenchmark -m "$GOLDEN" stray 2> "$DIR/err.txt"
check "eval stray argument" 'grep -q "^moee eval: unexpected argument .stray." "$DIR/err.txt"'
printf 'ok\n\377bad\n' > "$DIR/t.txt"
"$MOEE" tokenize --tokenizer "$TOK" -i "$DIR/t.txt" > /dev/null 2> "$DIR/err.txt"; rc=$?
check "tokenize error names the file" '[ "$rc" -eq 1 ] && grep -q "^moee tokenize: $DIR/t.txt:2: " "$DIR/err.txt"'
"$MOEE" tokenize --tokenizer "$TOK" -i "$DIR/missing.txt" 2> "$DIR/err.txt"
check "tokenize missing input" 'grep -q "^moee tokenize: $DIR/missing.txt: cannot open: No such file" "$DIR/err.txt"'
"$MOEE" synth --arch olmoe -o "$DIR/m.gguf" --tokenizer "$DIR/missing.json" 2> "$DIR/err.txt"; rc=$?
check "synth gives the OS reason" '[ "$rc" -eq 1 ] && grep -q "missing.json: cannot open: No such file or directory" "$DIR/err.txt"'
"$MOEE" synth --arch olmoe -o "$DIR/m.gguf" > /dev/null 2> "$DIR/err.txt"; rc=$?
check "synth without tokenizer warns" '[ "$rc" -eq 0 ] && grep -q "only embed token ids" "$DIR/err.txt"'
"$MOEE" convert a b c 2> "$DIR/err.txt"; rc=$?
check "convert stray argument" '[ "$rc" -eq 1 ] && grep -q "^moee convert: unexpected argument .c." "$DIR/err.txt"'
"$MOEE" embed -m "$GOLDEN" --ids "$DIR/ids.txt" --kind hs 2> "$DIR/err.txt" > /dev/null
check "embed summary" 'grep -q "^moee embed: 2 texts, 6 tokens" "$DIR/err.txt"'
printf '1 2\n' | "$MOEE" embed -m "$GOLDEN" --ids - --kind hs 2> "$DIR/err.txt" > /dev/null
check "embed summary singular" 'grep -q "^moee embed: 1 text, 2 tokens" "$DIR/err.txt"'

echo "tools_messages.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
