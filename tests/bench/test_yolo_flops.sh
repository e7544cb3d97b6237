#!/bin/bash
# The FLOPs the op table reports for YOLOv10m (infer + flops on every Conv,
# MatMul and Gemm node) must match the published 59.1 GFLOPs (2 x MACs of the
# convolutions). Node shapes come from the model via python3-onnx; skips
# (exit 77) when the model or python3-onnx is absent.
set -u
model="${YOLOQ_SHARED_DIR:-}/models/yolov10m-random.onnx"
[ -f "$model" ] || { echo "SKIP: $model not found"; exit 77; }
/usr/bin/python3 -c "import onnx" 2>/dev/null || { echo "SKIP: python3-onnx not available"; exit 77; }
out="${YOLOQ_BUILD_DIR:?}/yolov10m_op_shapes.txt"
/usr/bin/python3 "$(dirname "$0")/dump_op_shapes.py" "$model" "$out" || exit 1
report=$("${YOLOQ_BUILD_DIR}/tests/tool_flops_check" "$out") || { echo "$report"; exit 1; }
echo "$report"
conv=$(echo "$report" | awk '$1 == "Conv" {print $4}')
nconv=$(echo "$report" | awk '$1 == "Conv" {print $2}')
[ "$nconv" = 117 ] || { echo "expected 117 Conv nodes, got $nconv"; exit 1; }
awk -v c="$conv" 'BEGIN { exit !(c > 59.05 && c < 59.15) }' || { echo "Conv GFLOPs $conv not ~59.1"; exit 1; }
echo "ok: Conv $conv GFLOPs"
