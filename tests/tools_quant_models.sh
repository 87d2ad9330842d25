#!/bin/sh
# tools_quant_models.sh: GGUF files written by llama.cpp's llama-quantize (c392e509,
# Feb 2025) run in moee: olmoe-kp.Q4_K_M (Q4_K, Q5_K, Q6_K, Q8_0 tensors) and
# deepseek-kp.Q2_K (Q2_K, Q3_K, IQ4_NL, Q5_K, Q6_K, Q8_0), tests/data/golden/llamaquant/
# (from ../shared/golden/quant/models/, whose README.md tells how they and the
# expected outputs were made: moee on F32 twins holding gguf-py's dequantized
# weights). Every vector (hs last, hs mean, router logits) must be within cosine
# 0.9995 of the expected one (0.995 for the Q2_K file: 2-bit weights leave routing
# near-ties that 8-bit activations can flip). MOEE_QUANT_MODELS=dir runs every
# file of that folder's kind instead (all five of ../shared/golden/quant/models).
# ($1 = the moee binary.)
MOEE=${1:-./moee}
D=${MOEE_QUANT_MODELS:-tests/data/golden/llamaquant}
DIR=$(mktemp -d /tmp/moee-quant-sh-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
passed=0; failed=0

# min_cosine A.npy B.npy: the smallest row cosine of two float32 [rows][cols] .npy files
floats() {   # the float32 data of an .npy, one per line
    h=$(od -An -t u2 -j 8 -N 2 "$1" | tr -d ' ')
    od -An -v -t f4 -w4 -j $((10 + h)) "$1"
}
min_cosine() {
    h=$(od -An -t u2 -j 8 -N 2 "$1" | tr -d ' ')
    cols=$(head -c $((10 + h)) "$1" | tail -c "$h" | sed -n "s/.*'shape': ([0-9]*, \([0-9]*\)).*/\1/p")
    floats "$1" > "$DIR/a.txt"
    floats "$2" > "$DIR/b.txt"
    paste "$DIR/a.txt" "$DIR/b.txt" | awk -v c="$cols" '
        { ab += $1 * $2; aa += $1 * $1; bb += $2 * $2; n++
          if (n % c == 0) { cs = ab / sqrt(aa * bb); if (rows++ == 0 || cs < m) m = cs; ab = aa = bb = 0 } }
        END { if (n == 0 || n % c != 0) print -2; else printf "%.7f\n", m }'
}

for model in "$D"/*.gguf; do
    base=$(basename "$model" .gguf)
    case "$base" in *Q2_K*) tol=0.995 ;; *) tol=0.9995 ;; esac
    for kind in hs_last hs_mean rw; do
        case $kind in
            hs_last) args="--kind hs --pool last" ;;
            hs_mean) args="--kind hs --pool mean" ;;
            rw) args="--kind rw --pool last --rw-source logits" ;;
        esac
        # shellcheck disable=SC2086
        "$MOEE" embed -m "$model" --ids "$D/ids.txt" -o "$DIR/out.npy" --standardize off -q $args 2>"$DIR/err.txt"
        cos=$(min_cosine "$DIR/out.npy" "$D/expected/$base.$kind.npy")
        echo "  $base $kind: min cosine $cos"
        if awk -v c="$cos" -v t="$tol" 'BEGIN { exit !(c >= t) }'; then passed=$((passed + 1))
        else failed=$((failed + 1)); echo "FAILED: $base $kind: min cosine $cos < $tol"; cat "$DIR/err.txt"; fi
    done
done
echo "tools_quant_models.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
