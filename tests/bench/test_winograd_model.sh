#!/bin/bash
# Whole-model effect of the Winograd F(4,3) conv path (tool_winograd_model):
# outputs with the automatic choice allowed to pick Winograd vs not, same
# input, must agree within 1e-4 relative (the bar):
#  - yolov10m-random on a random input: max|diff| / max|out| elementwise
#  - yolov10n on real COCO images: end-to-end detections matched by class and
#    score, box difference within 0.01 px and 1e-4 of the largest coordinate.
# The runs must also differ (else no Winograd conv ran). Under ASan
# (YOLOQ_SANITIZED=1) only yolov10n on one image.
set -u
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-}}
TOOL="${YOLOQ_BUILD_DIR:?}/tests/tool_winograd_model"
[ -f "$SHARED/models/yolov10n.onnx" ] || { echo "SKIP: $SHARED/models not found"; exit 77; }
fails=0
run() { echo "== $*"; "$TOOL" "$@" || fails=$((fails+1)); }
run image "$SHARED/models/yolov10n.onnx" "$SHARED/data/coco/val2017/000000000139.jpg"
if [ "${YOLOQ_SANITIZED:-0}" != 1 ]; then
  run image "$SHARED/models/yolov10n.onnx" "$SHARED/data/coco/val2017/000000005001.jpg"
  [ -f "$SHARED/models/yolov10m-random.onnx" ] && run random "$SHARED/models/yolov10m-random.onnx" 7
fi
echo "winograd model checks: $fails failed"
[ "$fails" -eq 0 ]
