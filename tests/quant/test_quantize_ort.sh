#!/usr/bin/env bash
# Quantized exports run in ONNX Runtime 1.30 (npm onnxruntime-node, CPU EP) exactly as
# on yoloq's engine: yolov10n W4A16 (GPTQ, 4 calibration images) in both formats
# (qcdq: INT8 + Clip + DequantizeLinear at the model's opset; int4: native INT4, opset 21),
# on 5 real letterboxed COCO images, same input bytes: same classes, scores within 1e-4,
# boxes within 0.05 px.
# W4A8 exports must load and run in ORT too, but are not compared at that tolerance:
# a uint8 QuantizeLinear turns a last-bit difference of the float conv sums into a
# whole quantization step, and over ~80 quantized layers these flips move scores by
# ~1e-2 — ORT with graph optimizations off differs from ORT with them on by as much.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PAR="$HERE/../parity"
BIN=${YOLOQ_BIN:?}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
TOOL="$YOLOQ_BUILD_DIR/tests/tool_parity"
[ -f "$SHARED/models/yolov10n.onnx" ] || { echo "SKIP: $SHARED/models not found (set YOLOQ_DATA)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 77; }
[ -d "$PAR/node_modules/onnxruntime-node" ] || { echo "SKIP: onnxruntime-node not installed in tests/parity (scripts/setup.sh test installs it)"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fails=0; passes=0
for fmt in qcdq int4; do
  m="$T/w4a16_$fmt.onnx"
  if ! "$BIN" quantize "$SHARED/models/yolov10n.onnx" -o "$m" --calib "$SHARED/data/coco/calib128.txt" \
       --calib-count 4 --weights int4 --format "$fmt" --threads 2 --quiet; then
    echo "FAIL: quantize --format $fmt"; fails=$((fails+1)); continue; fi
  i=0
  for img in 000000000139 000000000802 000000005001 000000125952 000000261712; do
    i=$((i+1)); d="$T/$fmt$i"; mkdir -p "$d"
    if ! "$TOOL" image "$m" "$SHARED/data/coco/val2017/$img.jpg" "$d" >"$d/tool.txt"; then
      echo "FAIL: yoloq on $img ($fmt)"; fails=$((fails+1)); continue; fi
    spec=$(head -1 "$d/tool.txt" | awk -v f="$d/input.bin" '{print $1 ":float32:" $2 ":" f}')
    echo -n "$fmt $img: "
    if node "$PAR/ort_run.js" "$m" 2 "$d/ort" "$spec" && node "$PAR/compare.js" "$d" end2end 0.05; then
      passes=$((passes+1)); else echo "FAIL: $fmt $img"; fails=$((fails+1)); fi
  done
done
# W4A8: ORT loads and runs both formats on a real image
for fmt in qcdq int4; do
  m="$T/w4a8_$fmt.onnx"; d="$T/a8$fmt"; mkdir -p "$d"
  if "$BIN" quantize "$SHARED/models/yolov10n.onnx" -o "$m" --calib "$SHARED/data/coco/calib128.txt" \
       --calib-count 2 --weights int4 --acts int8 --format "$fmt" --threads 2 --quiet &&
     "$TOOL" image "$m" "$SHARED/data/coco/val2017/000000000139.jpg" "$d" >"$d/tool.txt" &&
     node "$PAR/ort_run.js" "$m" 2 "$d/ort" "$(head -1 "$d/tool.txt" | awk -v f="$d/input.bin" '{print $1 ":float32:" $2 ":" f}')"; then
    passes=$((passes+1)); else echo "FAIL: W4A8 $fmt in ORT"; fails=$((fails+1)); fi
done
echo "quantized ORT parity: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
