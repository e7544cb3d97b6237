#!/usr/bin/env bash
# Atomic outputs under SIGKILL: `yoloq run MODEL --image IMG --json OUT --draw
# OUT.png` and `yoloq info MODEL --json OUT` are killed with SIGKILL at random
# moments spanning the whole run (including the writes at its end). After each
# kill every output's final name must hold either what was there before (no
# file, or a complete previous file) or the complete new file, byte for byte as
# an uninterrupted run writes it; never a partial file. Temporaries
# (.<name>.yoloq-tmp.<pid>.XXXXXX) may remain after a kill; the next
# uninterrupted write of the same name must sweep them (their writer is dead):
# none may remain at the end.
# YOLOQ_SIGKILL_RUNS (default 30) runs of `run`, a third as many of `info`.
set -u
BIN=${YOLOQ_BIN:?}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
MODEL=$SHARED/models/yolov10n.onnx
IMG=$SHARED/data/coco/val2017/000000000139.jpg
[ -f "$MODEL" ] && [ -f "$IMG" ] || { echo "skip: $MODEL or $IMG missing"; exit 77; }
RUNS=${YOLOQ_SIGKILL_RUNS:-30}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
RANDOM=12345 # reproducible kill moments (the timing itself is not)

now_ms() { date +%s%3N; }
# Reference outputs from uninterrupted runs, and how long a run takes.
t0=$(now_ms)
"$BIN" run "$MODEL" --image "$IMG" --json "$T/ref.json" --draw "$T/ref.png" >/dev/null 2>&1 || {
  echo "FAIL: uninterrupted run failed"; exit 1; }
run_ms=$(( $(now_ms) - t0 ))
t0=$(now_ms)
"$BIN" info "$MODEL" --json "$T/ref_info.json" >/dev/null 2>&1 || { echo "FAIL: uninterrupted info failed"; exit 1; }
info_ms=$(( $(now_ms) - t0 ))
printf '{"previous": "complete file"}\n' >"$T/prev.json"
printf 'previous complete png stand-in\n' >"$T/prev.png"

fails=0 checks=0 killed=0 finished=0
# check NAME FINAL REF PREV: FINAL must be absent, == PREV (if it was there) or == REF.
check() {
  checks=$((checks+1))
  if [ ! -e "$2" ] || cmp -s "$2" "$3" || cmp -s "$2" "$4"; then return; fi
  echo "FAIL $1: $(basename "$2") holds neither the previous nor the complete new file ($(stat -c %s "$2") bytes)"
  fails=$((fails+1))
}
# Before each run the destination is absent, a different complete file, or the
# complete new file, in turn.
prepare() { # FINAL PREV i
  case $(( $3 % 3 )) in
    0) rm -f "$1" ;;
    1) cp "$2" "$1" ;;
    2) : ;;
  esac
}
# kill_at DELAY_MS cmd...: start, SIGKILL after DELAY_MS unless it already finished.
kill_at() {
  local delay=$1; shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "$(printf '0.%03d' "$delay")" 2>/dev/null || sleep "$((delay / 1000))"
  if kill -KILL "$pid" 2>/dev/null; then killed=$((killed+1)); else finished=$((finished+1)); fi
  wait "$pid" 2>/dev/null
}

span=$(( run_ms * 12 / 10 )); [ $span -gt 999 ] && span=999; [ $span -lt 50 ] && span=50
for i in $(seq 1 "$RUNS"); do
  prepare "$T/out.json" "$T/prev.json" "$i"
  prepare "$T/out.png" "$T/prev.png" "$i"
  kill_at $(( RANDOM % span )) "$BIN" run "$MODEL" --image "$IMG" --json "$T/out.json" --draw "$T/out.png"
  check "run#$i" "$T/out.json" "$T/ref.json" "$T/prev.json"
  check "run#$i" "$T/out.png" "$T/ref.png" "$T/prev.png"
done
ispan=$(( info_ms * 12 / 10 )); [ $ispan -gt 999 ] && ispan=999; [ $ispan -lt 20 ] && ispan=20
for i in $(seq 1 $(( (RUNS + 2) / 3 ))); do
  prepare "$T/info.json" "$T/prev.json" "$i"
  kill_at $(( RANDOM % ispan )) "$BIN" info "$MODEL" --json "$T/info.json"
  check "info#$i" "$T/info.json" "$T/ref_info.json" "$T/prev.json"
done
left=$(find "$T" -name '.*yoloq-tmp*' | wc -l)
# A final uninterrupted run over whatever the kills left must produce the
# reference and sweep the temporaries the killed runs left.
"$BIN" run "$MODEL" --image "$IMG" --json "$T/out.json" --draw "$T/out.png" >/dev/null 2>&1
"$BIN" info "$MODEL" --json "$T/info.json" >/dev/null 2>&1
cmp -s "$T/out.json" "$T/ref.json" && cmp -s "$T/out.png" "$T/ref.png" && cmp -s "$T/info.json" "$T/ref_info.json" || {
  echo "FAIL: a complete run after the kills did not reproduce the reference outputs"; fails=$((fails+1)); }
stray=$(find "$T" -name '.*tmp*' | wc -l)
[ "$stray" -eq 0 ] || { echo "FAIL: $stray temporaries remain after the final uninterrupted runs:"; ls -a "$T"; fails=$((fails+1)); }
echo "sigkill: $((RUNS + (RUNS + 2) / 3)) runs (run ${run_ms} ms, info ${info_ms} ms uninterrupted): $killed killed," \
  "$finished finished first; $checks final-name checks, $fails failures; $left temporaries left by kills, $stray after the final runs"
[ $fails -eq 0 ]
