#!/usr/bin/env bash
# Long local fuzzing: rounds over all targets until HOURS have passed, each
# target ROUND seconds per round (default 600), one fuzzer at a time with
# JOBS worker processes (default 1; use more only on an idle machine). The
# corpora in fuzz/corpus/ grow across rounds and runs; after every round each
# corpus is minimized (libFuzzer -merge). Failing inputs are kept in
# fuzz/findings/ and fuzzing goes on; the script exits 1 if there were any.
#   fuzz/run_long.sh [HOURS] [ROUND_SECONDS]        (defaults 4 and 600)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOURS=${1:-4}
ROUND=${2:-600}
JOBS=${YOLOQ_FUZZ_JOBS:-1}
BUILD=${YOLOQ_FUZZ_BUILD:-$ROOT/build-fuzz}
TARGETS=${YOLOQ_FUZZ_TARGETS:-onnx_model coco_json image recipe}
export YOLOQ_FUZZ_BUILD=$BUILD
"$ROOT/fuzz/build.sh" || exit 1
[ -d "$ROOT/fuzz/corpus" ] || "$ROOT/fuzz/make_corpus.sh" "$ROOT/fuzz/corpus" || exit 1
mkdir -p "$ROOT/fuzz/findings"
end=$(( $(date +%s) + $(awk "BEGIN{print int($HOURS*3600)}") ))
declare -A execs
found=0 round=0
while [ "$(date +%s)" -lt $end ]; do
  round=$((round+1))
  for t in $TARGETS; do
    left=$(( end - $(date +%s) )); [ $left -le 0 ] && break
    secs=$(( left < ROUND ? left : ROUND ))
    extra=()
    [ -f "$ROOT/fuzz/dict/$t.dict" ] && extra+=("-dict=$ROOT/fuzz/dict/$t.dict")
    log=$ROOT/fuzz/findings/long-$t-round$round.log
    "$BUILD/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -jobs="$JOBS" -workers="$JOBS" -artifact_prefix="$ROOT/fuzz/findings/$t-" "${extra[@]}" \
      "$ROOT/fuzz/corpus/$t" >"$log" 2>&1 || { echo "round $round: $t found something (see $log)"; found=$((found+1)); }
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" fuzz-*.log 2>/dev/null | awk '{s+=$1} END{print s+0}')
    execs[$t]=$(( ${execs[$t]:-0} + n ))
    # Minimize the corpus so the next round starts from the smallest set with the same coverage.
    tmp=$(mktemp -d)
    if "$BUILD/fuzz/fuzz_$t" -merge=1 -rss_limit_mb=2048 -timeout=10 "$tmp" "$ROOT/fuzz/corpus/$t" >/dev/null 2>&1; then
      rm -rf "$ROOT/fuzz/corpus/$t" && mv "$tmp" "$ROOT/fuzz/corpus/$t"
    else
      rm -rf "$tmp"
    fi
    rm -f fuzz-*.log
    echo "round $round: $t: ${execs[$t]} executions so far, $(ls "$ROOT/fuzz/corpus/$t" | wc -l) corpus files"
  done
done
for t in $TARGETS; do echo "total: $t ${execs[$t]:-0} executions"; done
[ $found -eq 0 ] || { echo "$found failing run(s): inputs in fuzz/findings/"; exit 1; }
