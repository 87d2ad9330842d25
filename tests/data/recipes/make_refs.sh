#!/bin/sh
# make_refs.sh: how the reference files in this folder were made (needs a llama.cpp
# build of commit c392e509, Feb 2025; not run by make test).
#
#   tests/data/recipes/make_refs.sh LLAMA_BIN_DIR WORK_DIR
#
# For every CASE.json here: `moee synth --config CASE.json --type f32` (olmoe-kp and
# deepseek-kp: `moee convert` of the golden checkpoints in shared/golden/quant/models/hf,
# the same F32 files llama-quantize read for the golden GGUFs), then
# `llama-quantize F32 OUT FTYPE 1` for every file type moee names, and CASE.types
# records the type llama-quantize gave every tensor (from its log), one column per
# file type. The quantized files stay in WORK_DIR (tests/tools_recipes.c --hashes
# turns those of deepseek-bytes into deepseek-bytes.hashes).
set -e
BIN=$1; WORK=$2; HERE=$(cd "$(dirname "$0")" && pwd); MOEE=${MOEE:-$HERE/../../../moee}
FTYPES="Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL IQ4_XS Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 F16 BF16 F32"
mkdir -p "$WORK"
for json in "$HERE"/*.json; do
    case=$(basename "$json" .json)
    f32=$WORK/$case.f32.gguf
    case $case in
    *-kp) "$MOEE" convert "${GOLDEN_HF:-/work/shared/golden/quant/models/hf}/$case" "$f32" --type f32 >/dev/null ;;
    *)    "$MOEE" synth --config "$json" --type f32 -o "$f32" >/dev/null ;;
    esac
    cols=""
    for ft in $FTYPES; do
        nice -n 10 "$BIN/llama-quantize" "$f32" "$WORK/$case.$ft.gguf" "$ft" 1 >"$WORK/$case.$ft.log" 2>&1
        # "[  12/ 195]   blk.0.attn_v.weight - [...], type =    f32, converting to q8_0 .. size = ..."
        # (a fallback warning may come between "type = f32," and "converting to")
        awk '/^\[ *[0-9]+\/ *[0-9]+\]/ { if (name != "") print name, type; name = $0; sub(/^\[[^]]*\] */, "", name); sub(/ .*/, "", name); t = $0;
                                         sub(/.*type = */, "", t); sub(/,.*/, "", t); type = t }
             /converting to / { t = $0; sub(/.*converting to /, "", t); sub(/ .*/, "", t); type = t }
             END { if (name != "") print name, type }' "$WORK/$case.$ft.log" >"$WORK/$case.$ft.types"
        cols="$cols $WORK/$case.$ft.types"
    done
    {
        echo "# tensor types llama-quantize (c392e509) gives $case ($case.json), one column per file type"
        echo "tensor $FTYPES"
        # join the columns: every file lists the tensors in the same order
        awk '{ n[FNR] = $1; t[FNR] = t[FNR] " " $2; if (FNR > m) m = FNR } END { for (i = 1; i <= m; i++) print n[i] t[i] }' $cols
    } >"$HERE/$case.types"
    case $case in deepseek-bytes|*-kp) ;; *) rm -f "$WORK/$case".*.gguf ;; esac
done
