#!/usr/bin/env bash
# Parity with ONNX Runtime 1.30 (npm onnxruntime-node, CPU EP) on identical inputs:
#  - yolov10n on 6 real letterboxed COCO images: same classes, boxes within 0.01 px, scores within 1e-4
#  - yolov10m-random on a random input: max |diff| <= 1e-4 x max |output|
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
TOOL="$YOLOQ_BUILD_DIR/tests/tool_parity"
[ -f "$SHARED/models/yolov10n.onnx" ] || { echo "SKIP: $SHARED/models not found (set YOLOQ_DATA)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 77; }
[ -d "$HERE/node_modules/onnxruntime-node" ] || { echo "SKIP: onnxruntime-node not installed in tests/parity (scripts/setup.sh test installs it)"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fails=0; passes=0
check() { # DIR MODEL MODE
  local dir=$1 model=$2 mode=$3 spec
  spec=$(head -1 "$dir/tool.txt" | awk -v f="$dir/input.bin" '{print $1 ":float32:" $2 ":" f}')
  if node "$HERE/ort_run.js" "$model" 2 "$dir/ort" "$spec" && node "$HERE/compare.js" "$dir" "$mode"; then
    passes=$((passes+1)); else echo "FAIL: $dir ($mode)"; fails=$((fails+1)); fi
}
i=0
for img in 000000000139 000000000802 000000005001 000000125952 000000261712 000000485895; do
  i=$((i+1)); d="$T/img$i"; mkdir -p "$d"
  if ! "$TOOL" image "$SHARED/models/yolov10n.onnx" "$SHARED/data/coco/val2017/$img.jpg" "$d" >"$d/tool.txt"; then
    echo "FAIL: yoloq on $img"; fails=$((fails+1)); continue; fi
  echo -n "$img: "; check "$d" "$SHARED/models/yolov10n.onnx" end2end
done
d="$T/m"; mkdir -p "$d"
if "$TOOL" random "$SHARED/models/yolov10m-random.onnx" 7 "$d" >"$d/tool.txt"; then
  echo -n "yolov10m-random: "; check "$d" "$SHARED/models/yolov10m-random.onnx" relative
else echo "FAIL: yoloq on yolov10m-random"; fails=$((fails+1)); fi
echo "ORT parity: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
