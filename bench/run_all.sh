#!/usr/bin/env bash
# The benchmark table: every model given (default: the shared YOLOv10m-random
# and YOLOv10n, plus any extra MODEL arguments such as QCDQ exports) at 1 and 2
# threads, yoloq vs ONNX Runtime, results also as JSON lines in
# bench/results.jsonl (or $JSON_OUT).
#   bench/run_all.sh [MODEL.onnx ...]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${YOLOQ_DATA:-../shared}
models=("$DATA/models/yolov10m-random.onnx" "$DATA/models/yolov10n.onnx" "$@")
export JSON_OUT=${JSON_OUT:-bench/results.jsonl}
: >"$JSON_OUT"
for m in "${models[@]}"; do
  for t in 1 2; do bench/compare_ort.sh "$m" "$t" "${RUNS:-10}" "${ROUNDS:-3}"; done
done
echo "JSON: $JSON_OUT" >&2
