#!/bin/sh
#
# Builds the fuzzer and runs it for SECONDS (default 60) on a copy of the
# seed corpus in fuzz/corpus-run/, so that the committed corpus stays small.
# Crashing inputs are written to fuzz/corpus-run/crash-*; the exit status is
# non-zero if one was found.  A crash replays with: fuzz/fuzz_json FILE

set -eu

cd "$(dirname "$0")"

seconds=${1:-60}

make -s

rm -rf corpus-run
mkdir -p corpus-run/corpus
cp corpus/* corpus-run/corpus/

exec ./fuzz_json -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -dict=json.dict -print_final_stats=1 -artifact_prefix=corpus-run/ \
    corpus-run/corpus
