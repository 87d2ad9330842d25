#!/bin/sh
# tools_convert.sh: the `moee convert`, `moee synth` and `moee info` commands:
# exit codes, one-line errors, no partial outputs, what info prints.
MOEE=${1:-./moee}
G=tests/data/golden
T=$(mktemp -d /tmp/moee_convert_sh.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if "$@"; then ok; else bad "$*"; fi; }

# expect_error WHAT PATTERN CMD...: exit 1, exactly one stderr line "moee CMD: ..." matching PATTERN
expect_error() {
    what=$1; pattern=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    [ $rc -eq 1 ] || bad "$what: exit $rc"
    [ "$(wc -l <"$T/err")" -eq 1 ] || bad "$what: stderr is not one line: $(cat "$T/err")"
    grep -q "^moee [a-z]*: .*$pattern" "$T/err" && ok || bad "$what: stderr '$(cat "$T/err")' lacks '$pattern'"
}

# convert: a good run, then errors
"$MOEE" convert $G/deepseek-tiny "$T/ds.gguf" --type q4_0 >"$T/out"; check test $? -eq 0
check grep -q "^wrote .*ds.gguf: Q4_0, 51 tensors" "$T/out"
check test -s "$T/ds.gguf"
check test ! -e "$T/ds.gguf.tmp"
expect_error "missing dir" "config.json" "$MOEE" convert "$T/nowhere" "$T/x.gguf"
check test ! -e "$T/x.gguf"
expect_error "bad type" "q9_9 (Q2_K, Q3_K_S, " "$MOEE" convert $G/olmoe-tiny "$T/x.gguf" --type q9_9
# file types: any case, --pure, and a GGUF re-quantized
"$MOEE" convert $G/deepseek-tiny "$T/dsp.gguf" --type q4_0 --pure >"$T/out"; check test $? -eq 0
check grep -q "^wrote .*dsp.gguf: Q4_0 (pure), 51 tensors" "$T/out"
# the recipe differs from --pure (8 experts: attn_k and attn_v are q8_0)
check test "$(cmp -s "$T/ds.gguf" "$T/dsp.gguf"; echo $?)" -ne 0
"$MOEE" convert "$T/ds.gguf" "$T/ds2.gguf" --type iq4_XS >"$T/out" 2>"$T/err"; check test $? -eq 0
check grep -q "^wrote .*ds2.gguf: IQ4_XS, 51 tensors" "$T/out"
check grep -q "blk.1.ffn_down_exps.weight: rows of 32 values are not whole iq4_xs blocks; written as iq4_nl" "$T/err"
"$MOEE" info "$T/ds2.gguf" >"$T/info" 2>&1
check grep -q "^  iq4_nl " "$T/info"
check grep -q "^file type *IQ4_XS (general.file_type 30)" "$T/info"
expect_error "missing gguf" "nowhere.gguf" "$MOEE" convert "$T/nowhere.gguf" "$T/x.gguf" --type q4_k_m
check test ! -e "$T/x.gguf"
expect_error "extra arg" "unexpected argument" "$MOEE" convert a b c
mkdir "$T/llama" && echo '{"architectures": ["LlamaForCausalLM"]}' >"$T/llama/config.json"
expect_error "unknown arch" "LlamaForCausalLM" "$MOEE" convert "$T/llama" "$T/x.gguf"
check test ! -e "$T/x.gguf"
expect_error "vocab-only without tokenizer" "tokenizer.json" "$MOEE" convert --vocab-only $G/olmoe-tiny "$T/v.gguf"
"$MOEE" convert --help >/dev/null; check test $? -eq 0

# a tokenizer.json beside the weights is embedded (a byte-level OLMoE tokenizer of 271 tokens)
TOK=tests/data/tokenizer/olmoe-bytes-tokenizer.json
mkdir "$T/withtok" && cp $G/olmoe-tiny/config.json $G/olmoe-tiny/model.safetensors "$T/withtok/"
cp $TOK "$T/withtok/tokenizer.json"
check "$MOEE" convert "$T/withtok" "$T/withtok.gguf" --type q8_0
"$MOEE" info "$T/withtok.gguf" >"$T/info" 2>&1
# llama.cpp wants a token per embedding row: the 271 tokens are padded to the 512 rows
check grep -q "^tokenizer *gpt2, pre olmo, 512 tokens, no bos, eos 27" "$T/info"
check grep -q "^name *withtok" "$T/info"
check grep -q 'PAD511' "$T/withtok.gguf"

# --vocab-only: a tokenizer-only GGUF
check "$MOEE" convert --vocab-only $TOK "$T/vocab.gguf" --arch olmoe
"$MOEE" info "$T/vocab.gguf" >"$T/info" 2>&1
check grep -q "^tensors *0," "$T/info"
check grep -q "^architecture *olmoe" "$T/info"
check grep -q "^tokenizer *gpt2, pre olmo, 271 tokens" "$T/info"
check "$MOEE" convert --vocab-only "$T/withtok" "$T/vocab2.gguf"
"$MOEE" info "$T/vocab2.gguf" >"$T/info" 2>&1
check grep -q "^architecture *olmoe" "$T/info"
expect_error "vocab-only no arch" "--arch" "$MOEE" convert --vocab-only $TOK "$T/v.gguf"
expect_error "vocab-only bad arch" "llama" "$MOEE" convert --vocab-only $TOK "$T/v.gguf" --arch llama
check test ! -e "$T/v.gguf"

# info
"$MOEE" info "$T/ds.gguf" >"$T/info" 2>&1; check test $? -eq 0
check grep -q "^architecture *deepseek" "$T/info"
check grep -q "^name *deepseek-tiny" "$T/info"
check grep -q "MoE: 1-3; dense: 0" "$T/info"
check grep -q "8 routed, 3 used per token, 2 shared" "$T/info"
check grep -q "deepseek.leading_dense_block_count *1" "$T/info"
check grep -q "^  q4_0 " "$T/info"
check grep -q "^tokenizer *none" "$T/info"
"$MOEE" info $G/llamacpp-gguf/olmoe-tiny.q8_0.gguf >"$T/info" 2>&1; check test $? -eq 0
check grep -q "MoE: 0-3; dense: none" "$T/info"
check grep -q "^tensors *51," "$T/info"
head -c 1000 $G/llamacpp-gguf/olmoe-tiny.q8_0.gguf >"$T/trunc.gguf"
expect_error "info truncated" "trunc.gguf" "$MOEE" info "$T/trunc.gguf"

# synth
"$MOEE" synth --arch qwen2moe --shape tiny --type q8_0 -o "$T/q.gguf" >"$T/out" 2>&1; check test $? -eq 0
check grep -q "^wrote .*q.gguf" "$T/out"
"$MOEE" info "$T/q.gguf" >"$T/info" 2>&1
check grep -q "^name *qwen2moe-synth-tiny" "$T/info"
check grep -q "8 routed, 3 used per token, 1 shared" "$T/info"
"$MOEE" synth --arch qwen2moe --shape tiny --type q8_0 -o "$T/q2.gguf" >/dev/null 2>&1
check cmp -s "$T/q.gguf" "$T/q2.gguf"
"$MOEE" synth --arch qwen2moe --shape tiny --type q8_0 --seed 2 -o "$T/q3.gguf" >/dev/null 2>&1
check test "$(cmp -s "$T/q.gguf" "$T/q3.gguf"; echo $?)" -ne 0
"$MOEE" synth --arch olmoe --tokenizer $TOK -o "$T/st.gguf" >/dev/null 2>&1; check test $? -eq 0
"$MOEE" info "$T/st.gguf" >"$T/info" 2>&1
check grep -q "^tokenizer *gpt2, pre olmo, 512 tokens" "$T/info"
# ... or from a GGUF carrying one (a vocab-only file)
"$MOEE" synth --arch olmoe --tokenizer "$T/vocab.gguf" -o "$T/sg.gguf" >/dev/null 2>&1; check test $? -eq 0
"$MOEE" info "$T/sg.gguf" >"$T/info" 2>&1
check grep -q "^tokenizer *gpt2, pre olmo, 512 tokens" "$T/info"
expect_error "synth tokenizer-less gguf" "ds.gguf" "$MOEE" synth --arch olmoe --tokenizer "$T/ds.gguf" -o "$T/m.gguf"
expect_error "synth arch" "mixtral" "$MOEE" synth --arch mixtral -o "$T/m.gguf"
expect_error "synth shape" "huge" "$MOEE" synth --arch olmoe --shape huge -o "$T/m.gguf"
expect_error "synth seed" "seed" "$MOEE" synth --arch olmoe --seed x1 -o "$T/m.gguf"
"$MOEE" synth --config tests/data/recipes/deepseek-bytes.json --type Q4_K_M -o "$T/sc.gguf" >"$T/out" 2>&1
check test $? -eq 0
check grep -q "^wrote .*sc.gguf: .*deepseek-bytes.json config Q4_K_M" "$T/out"
"$MOEE" info "$T/sc.gguf" >"$T/info" 2>&1
check grep -q "^  q4_K " "$T/info"
check grep -q "^  q6_K " "$T/info"
check test ! -e "$T/m.gguf"

echo "tools_convert.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
