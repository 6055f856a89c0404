#!/bin/sh
#
# Builds the fuzzers and runs each for half of SECONDS (default 60), one
# after the other, on a copy of its seed corpus in fuzz/corpus-run/, so
# that the committed corpora stay small: fuzz_json (the body validator,
# seeds in fuzz/corpus/) and fuzz_mask (log masking, fuzz/corpus-mask/).
# Crashing inputs are written to fuzz/corpus-run/<target>/crash-*; the exit
# status is non-zero if one was found.  A crash replays with:
# fuzz/fuzz_json FILE (or fuzz/fuzz_mask FILE)

set -eu

cd "$(dirname "$0")"

seconds=${1:-60}
half=$(( seconds / 2 ))
[ "$half" -ge 1 ] || half=1

make -s

rm -rf corpus-run
mkdir -p corpus-run/json/corpus corpus-run/mask/corpus
cp corpus/* corpus-run/json/corpus/
cp corpus-mask/* corpus-run/mask/corpus/

status=0

./fuzz_json -max_total_time="$half" -max_len=4096 -timeout=10 \
    -dict=json.dict -print_final_stats=1 -artifact_prefix=corpus-run/json/ \
    corpus-run/json/corpus || status=1

./fuzz_mask -max_total_time="$half" -max_len=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix=corpus-run/mask/ \
    corpus-run/mask/corpus || status=1

exit $status
