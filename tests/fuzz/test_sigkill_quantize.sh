#!/usr/bin/env bash
# Atomic outputs of the long commands under SIGKILL: `yoloq quantize` (-o and
# --report) and `yoloq eval` (--out and --detections-out) are killed with
# SIGKILL at seeded random moments over the whole run, and (every other run) at
# the moment one of their outputs' temporaries appears, i.e. while an output is
# being written. Before most runs every output's final name holds a previous,
# different file. After each kill every final name must hold the previous file
# byte for byte (or still be absent, if it was), or a complete new file: byte-
# identical to the output of one uninterrupted run made first (ONNX files that
# are not identical must at least load with `yoloq info`; JSON files (metrics,
# quantization report) must equal the reference except for their timing fields). Then one uninterrupted
# run must write the reference outputs and sweep every temporary the killed runs
# left (no `.*yoloq-tmp*` may remain).
#
# To cover another command, call
#   sigkill_case LABEL RUNS KIND:PATH... -- COMMAND...
# with the command's outputs as KIND:PATH (KIND: bytes, onnx, json), all in
# their own folder. YOLOQ_SIGKILL_RUNS sets RUNS (default 10; 3 when
# YOLOQ_SANITIZED=1, with one calibration image, no --report, eval on 1 image).
set -u
BIN=${YOLOQ_BIN:?}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
MODEL=$SHARED/models/yolov10n.onnx
CALIB=$SHARED/data/coco/calib128.txt
ANN=$SHARED/data/coco/annotations/instances_val2017_dev216.json
IMAGES=$SHARED/data/coco/val2017
for f in "$MODEL" "$CALIB" "$ANN"; do [ -f "$f" ] || { echo "skip: $f missing"; exit 77; }; done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
if [ "${YOLOQ_SANITIZED:-0}" = 1 ]; then
  # ASan: 1 calibration image and no --report (its SQNR pass is 2/3 of the run)
  RUNS=${YOLOQ_SIGKILL_RUNS:-3} EVAL_IMAGES=1 CALIB_COUNT=1 REPORT=()
else
  RUNS=${YOLOQ_SIGKILL_RUNS:-10} EVAL_IMAGES=3 CALIB_COUNT=2 REPORT=(--report "$T/q/report.json")
fi
RANDOM=2718 # reproducible kill moments (the timing itself is not)

fails=0 checks=0 kept_prev=0 got_new=0 still_absent=0 killed=0 killed_writing=0 finished=0 runs=0 loaded_only=0 swept_total=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }
now_ms() { date +%s%3N; }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# json_equal A B: the same JSON except for what measures time (metrics:
# latency, timing, runtime.threads; quantize report: time_ms).
json_equal() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, sys
def strip(d):
    for k in ("latency", "timing", "time_ms"): d.pop(k, None)
    d.get("runtime", {}).pop("threads", None)
    return d
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
EOF
}

# complete KIND FILE REF: FILE is a complete output of its kind.
complete() {
  cmp -s "$2" "$3" && return 0
  case $1 in
    onnx) "$BIN" info "$2" >/dev/null 2>&1 && { loaded_only=$((loaded_only+1)); return 0; } ;;
    json) json_equal "$2" "$3" && return 0 ;;
  esac
  return 1
}

# sigkill_case LABEL RUNS KIND:PATH... -- COMMAND...
sigkill_case() {
  local label=$1 n=$2; shift 2
  local -a kinds=() paths=()
  while [ "$1" != "--" ]; do kinds+=("${1%%:*}"); paths+=("${1#*:}"); shift; done
  shift
  local dir; dir=$(dirname "${paths[0]}")
  local R="$T/ref.$label"; mkdir -p "$R"
  local k
  # the reference: one uninterrupted run, and how long it takes
  for k in "${!paths[@]}"; do rm -f "${paths[$k]}"; done
  local t0; t0=$(now_ms)
  "$@" >/dev/null 2>"$R/stderr" || { fail "$label: uninterrupted run failed: $(head -3 "$R/stderr")"; return; }
  local dur=$(( $(now_ms) - t0 ))
  for k in "${!paths[@]}"; do
    [ -f "${paths[$k]}" ] || { fail "$label: uninterrupted run wrote no ${paths[$k]}"; return; }
    cp "${paths[$k]}" "$R/$k"
    printf 'previous %s output %d: a different, complete file\n' "$label" "$k" >"$R/prev$k"
  done
  local i state pid delay seen
  for i in $(seq 1 "$n"); do
    runs=$((runs+1))
    # the destination before the run: a previous file (3 runs in 4) or none
    for k in "${!paths[@]}"; do
      if [ $((i % 4)) -eq 0 ]; then rm -f "${paths[$k]}"; else cp "$R/prev$k" "${paths[$k]}"; fi
    done
    "$@" >/dev/null 2>&1 &
    pid=$!
    seen=0
    if [ $((i % 2)) -eq 1 ]; then
      # anywhere in the run (1.2 x its uninterrupted duration)
      delay=$(( RANDOM * 32768 + RANDOM )); delay=$(( delay % (dur * 12 / 10 + 1) ))
      sleep_ms "$delay"
    else
      # while an output is being written: from 60% of the run on, kill as soon
      # as a temporary of one of its outputs exists (eval creates and removes
      # one at its start, to check the folder is writable: that is before 60%)
      sleep_ms $(( dur * 6 / 10 ))
      while kill -0 "$pid" 2>/dev/null; do
        if compgen -G "$dir/.*yoloq-tmp*" >/dev/null; then seen=1; break; fi
      done
    fi
    if kill -KILL "$pid" 2>/dev/null; then
      killed=$((killed+1)); [ $seen -eq 1 ] && killed_writing=$((killed_writing+1))
    else finished=$((finished+1)); fi
    wait "$pid" 2>/dev/null
    for k in "${!paths[@]}"; do
      checks=$((checks+1))
      local p=${paths[$k]}
      if [ ! -e "$p" ]; then
        still_absent=$((still_absent+1))
        [ $((i % 4)) -eq 0 ] || fail "$label#$i: $(basename "$p") vanished (a previous file was there)"
      elif cmp -s "$p" "$R/prev$k"; then kept_prev=$((kept_prev+1))
      elif complete "${kinds[$k]}" "$p" "$R/$k"; then got_new=$((got_new+1))
      else
        fail "$label#$i: $(basename "$p") holds neither the previous nor a complete new file ($(stat -c %s "$p") bytes)"
      fi
    done
  done
  local left; left=$(compgen -G "$dir/.*yoloq-tmp*" | wc -l)
  # an uninterrupted run over what the kills left: the reference outputs, no temporaries
  "$@" >/dev/null 2>&1 || fail "$label: the run after the kills failed"
  for k in "${!paths[@]}"; do
    checks=$((checks+1))
    complete "${kinds[$k]}" "${paths[$k]}" "$R/$k" || fail "$label: the run after the kills wrote a different ${paths[$k]}"
  done
  local stray; stray=$(compgen -G "$dir/.*yoloq-tmp*" | wc -l)
  [ "$stray" -eq 0 ] || fail "$label: $stray temporaries remain after an uninterrupted run: $(compgen -G "$dir/.*yoloq-tmp*" | xargs -n1 basename)"
  swept_total=$((swept_total + left - stray))
  echo "$label: $n runs (uninterrupted ${dur} ms), $left temporaries left by the kills, $stray after the final run"
}

mkdir -p "$T/q" "$T/e"
Q_OUTS=(onnx:"$T/q/out.onnx"); [ ${#REPORT[@]} -gt 0 ] && Q_OUTS+=(json:"$T/q/report.json")
sigkill_case quantize "$RUNS" "${Q_OUTS[@]}" -- \
  "$BIN" quantize "$MODEL" -o "$T/q/out.onnx" "${REPORT[@]}" --calib "$CALIB" --calib-count "$CALIB_COUNT" \
  --weights int8 --acts int8 --threads 2 --quiet
sigkill_case eval "$RUNS" json:"$T/e/metrics.json" bytes:"$T/e/dets.json" -- \
  "$BIN" eval "$MODEL" --ann "$ANN" --images "$IMAGES" --max-images "$EVAL_IMAGES" --warmup 0 --threads 2 --quiet \
  --out "$T/e/metrics.json" --detections-out "$T/e/dets.json"

echo "sigkill quantize/eval: $runs runs, $killed killed ($killed_writing while an output's temporary existed)," \
  "$finished finished first; $checks final-name checks ($kept_prev previous, $got_new complete new, $still_absent absent)," \
  "$fails failures; $loaded_only complete but not byte-identical;" \
  "$swept_total stale temporaries swept"
[ $fails -eq 0 ]
