#!/usr/bin/env bash
# The benchmark table of issue 7, one command: yoloq vs ONNX Runtime (CPU EP,
# same intraOpNumThreads), alternating, at 1 and 2 threads, for
#   - yolov10m-random and yolov10n FP32 (the same file for both engines);
#   - their W8A8 and W4A8 QCDQ exports: yoloq runs its own default export
#     (Q/DQ on conv inputs, which its integer engine executes) and ORT runs its
#     best int8 form of the same model (--act-outputs on --bias int32, symmetric
#     weights: Q/DQ on conv inputs and outputs, which ORT fuses into QLinearConv;
#     on the default form ORT runs float convs between Q/DQ and is 1.9x slower);
#   - their W4A16 export (weight-only: yoloq keeps int8 codes, both engines run the same file);
#   - any extra MODEL[,ORT_MODEL] given (ORT_MODEL: what ORT runs instead).
# Prints median, p90, peak RSS and the ratio yoloq/ORT per row (bench/compare_ort.sh);
# JSON lines go to bench/results.jsonl (or $JSON_OUT).
#
#   bench/run_all.sh [--no-int8] [--threads "1 2"] [MODEL.onnx[,ORT_MODEL.onnx] ...]
#   RUNS (10) timed runs and ROUNDS (3) alternations per row, after 2 warm-ups.
#
# The exports are made in bench/exports/ (kept between runs) from the first 4
# calibration images with round-to-nearest 4-bit weights: the time of a model
# does not depend on its weight values, only on its form (bits, zero points,
# where the Q/DQ pairs sit), so the slow GPTQ of the shipped recipe is not
# needed to time it. A benchmark, not a test: it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${YOLOQ_DATA:-../shared}
YOLOQ=${YOLOQ_BIN:-build/yoloq}
THREADS="1 2" INT8=1
while [ $# -gt 0 ]; do
  case $1 in
    --no-int8) INT8=0; shift ;;
    --threads) THREADS=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_all.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
rows=("$DATA/models/yolov10m-random.onnx" "$DATA/models/yolov10n.onnx")
if [ "$INT8" = 1 ]; then
  EX=bench/exports; mkdir -p "$EX"
  printf '{"weights": {"method": "rtn", "symmetric": false}}\n' >"$EX/rtn-asym.json"
  printf '{"weights": {"method": "rtn", "symmetric": true}}\n' >"$EX/rtn-sym.json"
  export_one() { # OUT args...: quantize unless OUT exists
    local out=$1; shift
    [ -s "$out" ] && return 0
    echo "export: $out" >&2
    "$YOLOQ" quantize "$src" -o "$out" --calib "$DATA/data/coco/calib128.txt" --calib-count 4 --quiet "$@" >/dev/null
  }
  for src in "$DATA/models/yolov10m-random.onnx" "$DATA/models/yolov10n.onnx"; do
    n=$(basename "$src" .onnx)
    export_one "$EX/$n-w8a8.onnx" --weights int8 --acts int8
    export_one "$EX/$n-w8a8-ort.onnx" --weights int8 --acts int8 --act-outputs on --bias int32
    export_one "$EX/$n-w4a8.onnx" --weights int4 --acts int8 --recipe "$EX/rtn-asym.json"
    export_one "$EX/$n-w4a8-ort.onnx" --weights int4 --acts int8 --recipe "$EX/rtn-sym.json" --act-outputs on --bias int32
    export_one "$EX/$n-w4a16.onnx" --weights int4 --recipe "$EX/rtn-asym.json"
    rows+=("$EX/$n-w8a8.onnx,$EX/$n-w8a8-ort.onnx" "$EX/$n-w4a8.onnx,$EX/$n-w4a8-ort.onnx" "$EX/$n-w4a16.onnx")
  done
fi
rows+=("$@")
export JSON_OUT=${JSON_OUT:-bench/results.jsonl}
: >"$JSON_OUT"
for row in "${rows[@]}"; do
  m=${row%%,*}; o=${row#*,}
  for t in $THREADS; do ORT_MODEL=$o bench/compare_ort.sh "$m" "$t" "${RUNS:-10}" "${ROUNDS:-3}"; done
done
echo "JSON: $JSON_OUT" >&2
