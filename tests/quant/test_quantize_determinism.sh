#!/usr/bin/env bash
# Determinism at the CLI: the same inputs and options give byte-identical files
# whatever the thread count and run.
#  - `yoloq quantize` of yolov10n (4 calibration images) for W8A16, W8A8, W4A16
#    (QCDQ) and W4A16 --format int4, once with --threads 1 and once with
#    --threads 2: identical ONNX bytes, and identical reports except for their
#    time_ms. (W4A8 QCDQ across runs and thread counts, and across Hessian
#    passes, is covered by test_quantize_cli.sh.)
#  - `yoloq eval` on 8 dev images, float model and the W8A8 export, --threads 1
#    vs 2: identical detections files and metrics files except for what measures
#    time (latency, timing), runtime.threads and output paths.
# Under YOLOQ_SANITIZED=1: only W8A8 (GPTQ under ASan takes minutes), 2
# calibration images, eval on 2 images.
set -u
BIN=${YOLOQ_BIN:?}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
MODEL=$SHARED/models/yolov10n.onnx
CALIB=$SHARED/data/coco/calib128.txt
ANN=$SHARED/data/coco/annotations/instances_val2017_dev216.json
for f in "$MODEL" "$CALIB" "$ANN"; do [ -f "$f" ] || { echo "SKIP: $f missing (set YOLOQ_DATA)"; exit 77; }; done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0 passes=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }

# json_equal A B: equal JSON apart from what measures time.
json_equal() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, sys
def strip(d):
    # "output" (quantize -o) and "detections" (eval --detections-out) are paths, different here
    for k in ("latency", "timing", "time_ms", "output", "detections"): d.pop(k, None)
    d.get("runtime", {}).pop("threads", None)
    return d
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
if a != b:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k): print("  differs:", k)
    sys.exit(1)
EOF
}

if [ "${YOLOQ_SANITIZED:-0}" = 1 ]; then
  COUNT=2 IMAGES=2
  VARIANTS=("W8A8|--weights int8 --acts int8")
else
  COUNT=4 IMAGES=8
  VARIANTS=("W8A16|--weights int8" "W8A8|--weights int8 --acts int8" "W4A16|--weights int4"
            "W4A16-int4|--weights int4 --format int4")
fi

for v in "${VARIANTS[@]}"; do
  name=${v%%|*}; read -r -a opts <<<"${v#*|}"
  ok=1
  for th in 1 2; do
    t0=$(date +%s%3N)
    "$BIN" quantize "$MODEL" -o "$T/$name.t$th.onnx" --report "$T/$name.t$th.json" --calib "$CALIB" \
      --calib-count "$COUNT" --threads "$th" --quiet "${opts[@]}" 2>"$T/err" ||
      { fail "$name --threads $th: quantize failed: $(head -3 "$T/err")"; ok=0; break; }
    echo "$name --threads $th: $(( $(date +%s%3N) - t0 )) ms, $(stat -c %s "$T/$name.t$th.onnx") bytes"
  done
  [ $ok -eq 1 ] || continue
  if cmp "$T/$name.t1.onnx" "$T/$name.t2.onnx"; then passes=$((passes+1))
  else fail "$name: the ONNX files of --threads 1 and 2 differ"; fi
  if json_equal "$T/$name.t1.json" "$T/$name.t2.json"; then passes=$((passes+1))
  else fail "$name: the reports of --threads 1 and 2 differ"; fi
done
# the int4 format is its own file, not the QCDQ one renamed
if [ -f "$T/W4A16-int4.t1.onnx" ] && [ -f "$T/W4A16.t1.onnx" ] && cmp -s "$T/W4A16-int4.t1.onnx" "$T/W4A16.t1.onnx"; then
  fail "--format int4 wrote the same bytes as qcdq"; fi

eval_models=("float|$MODEL")
[ -f "$T/W8A8.t1.onnx" ] && eval_models+=("W8A8|$T/W8A8.t1.onnx")
for e in "${eval_models[@]}"; do
  name=${e%%|*} m=${e#*|}
  ok=1
  for th in 1 2; do
    "$BIN" eval "$m" --ann "$ANN" --images "$SHARED/data/coco/val2017" --max-images "$IMAGES" --threads "$th" --quiet \
      --out "$T/eval.$name.t$th.json" --detections-out "$T/dets.$name.t$th.json" >/dev/null 2>"$T/err" ||
      { fail "eval $name --threads $th failed: $(head -3 "$T/err")"; ok=0; break; }
  done
  [ $ok -eq 1 ] || continue
  if cmp "$T/dets.$name.t1.json" "$T/dets.$name.t2.json"; then passes=$((passes+1))
  else fail "eval $name: detections differ between --threads 1 and 2"; fi
  if json_equal "$T/eval.$name.t1.json" "$T/eval.$name.t2.json"; then passes=$((passes+1))
  else fail "eval $name: metrics differ between --threads 1 and 2"; fi
  ndet=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['counts']['detections'])" "$T/eval.$name.t1.json")
  [ "$ndet" -gt 0 ] || fail "eval $name: no detections (nothing compared)"
done

echo "determinism: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
