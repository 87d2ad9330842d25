#!/bin/sh
# bench_python.sh: the cost of the Python binding over the command line. The same N
# short texts (STS Benchmark, PromptEOL, moee-sum) embedded by `moee embed` and by
# moee.Model(...).encode(...) in /usr/bin/python3, alternately (CLI, Python, CLI,
# Python, ...) so that both see the same machine; model load included in both, and
# the outputs compared bit for bit.
#
#   sh bench/bench_python.sh [MODEL] [N_TEXTS] [ROUNDS]
#   defaults: /tmp/models/olmoe-full.q4_0.gguf 256 2
# Needs `make` (./moee and tools/python/moee/libmoee.so) and python3-numpy;
# MOEE=path/to/moee benchmarks another binary (default ./moee).
set -eu
cd "$(dirname "$0")/.."
model=${1:-/tmp/models/olmoe-full.q4_0.gguf}; n=${2:-256}; rounds=${3:-2}
[ -f "$model" ] || { echo "bench_python: no $model (make one with moee synth --shape full)" >&2; exit 1; }
dir=$(mktemp -d /tmp/moee-bench-python-XXXXXX)
trap 'rm -rf "$dir"' EXIT

sh bench/sts_texts.sh "$n" "$dir/texts.txt"

cat > "$dir/embed.py" <<'PY'
import sys, time
import numpy as np
import moee
model_path, texts_path, out_path = sys.argv[1:4]
start = time.monotonic()
texts = open(texts_path, encoding="utf-8").read().split("\n")[:-1]
with moee.Model(model_path) as model:
    loaded = time.monotonic()
    engine = model._lib.moee_embed          # timed apart: what is left is the binding's own cost
    inside = [0.0]
    def timed(*args):
        t = time.monotonic()
        try:
            return engine(*args)
        finally:
            inside[0] += time.monotonic() - t
    timed.__name__ = "moee_embed"
    model._lib.moee_embed = timed
    emb = model.encode(texts, kind="moee-sum", prompt="prompteol")
    encoded = time.monotonic()
np.save(out_path, emb)
print("%.3f %.3f %.6f" % (loaded - start, encoded - loaded, encoded - loaded - inside[0]))
PY

now() { date +%s.%N; }
r=1
while [ "$r" -le "$rounds" ]; do
    s=$(now)
    "${MOEE:-./moee}" embed -m "$model" -i "$dir/texts.txt" -o "$dir/cli.npy" --kind moee-sum --prompt prompteol -q
    e=$(now)
    echo "cli $(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')" >> "$dir/times.txt"
    s=$(now)
    parts=$(PYTHONPATH=tools/python /usr/bin/python3 "$dir/embed.py" "$model" "$dir/texts.txt" "$dir/py.npy")
    e=$(now)
    echo "python $(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }') $parts" >> "$dir/times.txt"
    r=$((r + 1))
done
/usr/bin/python3 -c "
import numpy as np, sys
a, b = np.load('$dir/cli.npy'), np.load('$dir/py.npy')
print('identical    %s (%d x %d float32)' % (a.tobytes() == b.tobytes() and a.shape == b.shape, *a.shape))"
tokens=$(sed -n 's/.*"tokens": *\([0-9]*\).*/\1/p' "$dir/cli.npy.json" | head -n 1)
awk -v n="$n" -v tok="$tokens" -v model="$model" '
$1 == "cli" { cli[++c] = $2 }
$1 == "python" { py[++p] = $2; load[p] = $3; enc[p] = $4; own[p] = $5 }
END {
    printf "model        %s\ntexts        %d (%d tokens, PromptEOL, moee-sum)\n", model, n, tok
    for (i = 1; i <= c; i++)
        printf "round %d      cli %.2f s, python %.2f s (start+load %.2f s, encode %.2f s of which %.2f ms outside moee_embed): python/cli = %.3f\n",
               i, cli[i], py[i], load[i], enc[i], own[i] * 1000, py[i] / cli[i]
    bc = cli[1]; bp = py[1]
    for (i = 2; i <= c; i++) { if (cli[i] < bc) bc = cli[i]; if (py[i] < bp) bp = py[i] }
    printf "best         cli %.2f s, python %.2f s: python/cli = %.3f\n", bc, bp, bp / bc
}' "$dir/times.txt"
