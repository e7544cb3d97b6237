#!/usr/bin/env bash
# CI fuzzing: build the libFuzzer targets, build the seed corpora, run each
# target for a bounded time and fail on any crash, sanitizer report, leak,
# timeout or out-of-memory. Prints the executions per target.
#   fuzz/run_ci.sh [SECONDS_PER_TARGET]      (default 45, or $YOLOQ_FUZZ_SECONDS)
# Exits 0 with a message when clang-14 / libclang-rt-14-dev are missing.
# Inputs that fail are saved under fuzz/findings/ (git-ignored): reproduce with
#   build-fuzz/fuzz/fuzz_<target> fuzz/findings/<file>
# and, once fixed, add the file to tests/fuzz/regress/<target>/.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER=${1:-${YOLOQ_FUZZ_SECONDS:-45}}
BUILD=${YOLOQ_FUZZ_BUILD:-$ROOT/build-fuzz}
TARGETS=${YOLOQ_FUZZ_TARGETS:-onnx_model coco_json image recipe}
export YOLOQ_FUZZ_BUILD=$BUILD

"$ROOT/fuzz/build.sh"; rc=$?
if [ $rc -eq 77 ]; then echo "fuzz: skipped (no clang fuzzing toolchain)"; exit 0; fi
[ $rc -eq 0 ] || { echo "fuzz: build failed"; exit 1; }
"$ROOT/fuzz/make_corpus.sh" "$ROOT/fuzz/corpus" || { echo "fuzz: corpus build failed"; exit 1; }
mkdir -p "$ROOT/fuzz/findings"

fails=0
summary=""
for t in $TARGETS; do
  bin=$BUILD/fuzz/fuzz_$t
  log=$ROOT/fuzz/findings/$t.log
  extra=()
  [ -f "$ROOT/fuzz/dict/$t.dict" ] && extra+=("-dict=$ROOT/fuzz/dict/$t.dict")
  # Replay the committed regression inputs first (they must pass), then fuzz.
  "$bin" -runs=0 -rss_limit_mb=2048 -timeout=10 "$ROOT/tests/fuzz/regress/$t" >"$log.regress" 2>&1 || {
    echo "fuzz: $t: a regression input fails:"; tail -30 "$log.regress"; fails=$((fails+1)); continue; }
  "$bin" -max_total_time="$SECONDS_PER" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$ROOT/fuzz/findings/$t-" "${extra[@]}" "$ROOT/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FAILED (rc=$rc) after ${execs:-?} executions:"
    grep -E 'ERROR|SUMMARY|fuzz:|artifact|Test unit written' "$log" | head -20
    fails=$((fails+1))
  fi
  summary="$summary$(printf '%-11s %10s executions in %ss, %s' "$t" "${execs:-?}" "$SECONDS_PER" "${cov:-cov: ?}")\n"
done
printf "fuzz summary:\n$summary"
[ $fails -eq 0 ] || { echo "fuzz: $fails target(s) failed (inputs and logs in fuzz/findings/)"; exit 1; }
echo "fuzz: all targets clean"
