#!/bin/sh
# sts_texts.sh N OUT: the first N STS-B sentences (sentence1 of tests/data's STSBenchmark
# test split, repeated as often as needed), one per line, into OUT: the short texts the
# server, Python and jobs benchmarks embed. Run from the repository root.
set -eu
n=$1; out=$2
src=tests/data/eval/suite/STSBenchmark/test.jsonl
sed -n 's/.*"sentence1": *"\([^"\\]*\)".*/\1/p' "$src" > "$out.sentences"
: > "$out.all"
while [ "$(wc -l < "$out.all")" -lt "$n" ]; do cat "$out.sentences" >> "$out.all"; done
head -n "$n" "$out.all" > "$out"
rm -f "$out.sentences" "$out.all"
