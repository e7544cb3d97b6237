#!/usr/bin/env bash
# Integer execution of QCDQ convs on yolov10n exports (W8A8, and W4A8 outside sanitizer builds),
# 2 calibration images to keep it short:
#  - every quantized conv runs as an integer conv (82 of 83; the DFL conv stays float), and
#    --engine fakequant keeps them all fake-quant;
#  - per layer, free of cascades: the first 20 integer convs with a uint8 output (3 under sanitizers), recomputed as fake-quant
#    from its own input codes differs by at most one code, in at most 1e-4 of the codes
#    (only values on a rounding tie flip with the summation order); float outputs within 1e-5 of
#    the layer's largest value;
#  - whole model: the share of uint8 activations that differ between the engines stays below 0.3
#    (tie flips propagate downstream; this bounds the cascade, it is not an accuracy claim);
#  - `yoloq run --verbose` names the engine of every conv; a bad --engine is a usage error;
#  - a W8A16 export runs as weight-only QWConv convs with fake-quant's detections.
set -u
BIN=${YOLOQ_BIN:?}
TOOL=${YOLOQ_BUILD_DIR:?}/tests/tool_qconv_engines
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
MODEL="$SHARED/models/yolov10n.onnx"
LIST="$SHARED/data/coco/calib128.txt"
IMG="$SHARED/data/coco/val2017/000000000139.jpg"
[ -f "$MODEL" ] && [ -f "$LIST" ] && [ -f "$IMG" ] || { echo "SKIP: $SHARED models or COCO data not found (set YOLOQ_DATA)"; exit 77; }
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 not found"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }

variants="w8a8:int8"
layers=20
if [ "${YOLOQ_SANITIZED:-0}" = 1 ]; then layers=3; else variants="$variants w4a8:int4"; fi
for v in $variants; do
  name=${v%%:*}; w=${v##*:}
  extra=(); [ "$w" = int4 ] && extra=(--gptq-stages 1)
  if ! "$BIN" quantize "$MODEL" --weights "$w" --acts int8 --calib "$LIST" --calib-count 2 "${extra[@]}" \
       --threads 2 --quiet -o "$T/$name.onnx" 2>"$T/err"; then
    fail "$name: quantize failed"; cat "$T/err"; continue
  fi
  if ! "$TOOL" "$T/$name.onnx" 2 "$layers" >"$T/$name.json" 2>"$T/err"; then
    fail "$name: tool_qconv_engines failed"; cat "$T/err"; continue
  fi
  echo "$name: $(cat "$T/$name.json")"
  /usr/bin/python3 - "$T/$name.json" "$name" "$layers" <<'PY' || fails=$((fails+1))
import json, sys
r = json.load(open(sys.argv[1])); name = sys.argv[2]; want_layers = int(sys.argv[3])
errs = []
if (r["integer"], r["fakequant"], r["float"]) != (82, 0, 1): errs.append(f"engines {r['integer']}/{r['fakequant']}/{r['float']}, want 82/0/1")
if r["fakequant_session"] != {"integer": 0, "fakequant": 82}: errs.append(f"fakequant session {r['fakequant_session']}")
pl = r["per_layer"]
if pl["layers"] < want_layers: errs.append(f"per-layer check covered {pl['layers']} layers, want >= {want_layers}")
if pl["max_code_diff"] > 1: errs.append(f"per-layer code difference {pl['max_code_diff']} > 1")
if pl["differ"] > 1e-4 * pl["codes"]: errs.append(f"per-layer {pl['differ']} of {pl['codes']} codes differ (> 1e-4)")
if pl["float_worst_rel"] > 1e-5: errs.append(f"per-layer float output off by {pl['float_worst_rel']} of its largest value")
if r["codes"] < 1e6 or r["codes_differ"] > 0.3 * r["codes"]: errs.append(f"whole model: {r['codes_differ']} of {r['codes']} codes differ")
for e in errs: print(f"FAIL {name}: {e}")
sys.exit(1 if errs else 0)
PY
done

# the verbose listing and the switch
M="$T/w8a8.onnx"
if [ -f "$M" ]; then
  "$BIN" run "$M" --image "$IMG" --threads 2 --verbose >/dev/null 2>"$T/v_auto" || fail "run --verbose failed"
  "$BIN" run "$M" --image "$IMG" --threads 2 --verbose --engine fakequant >/dev/null 2>"$T/v_fq" || fail "run --engine fakequant failed"
  n=$(grep -c ": integer (u8 x 8-bit -> s32" "$T/v_auto"); [ "$n" -eq 82 ] || fail "verbose listing: $n integer convs, want 82"
  grep -q "convolutions: 82 integer, 0 weight-only, 0 fake-quant, 1 float" "$T/v_auto" || fail "verbose summary (auto)"
  n=$(grep -c ": fake-quant (float kernels" "$T/v_fq"); [ "$n" -eq 82 ] || fail "verbose listing: $n fake-quant convs, want 82"
  grep -q "convolutions: 0 integer, 0 weight-only, 82 fake-quant, 1 float" "$T/v_fq" || fail "verbose summary (fakequant)"
  "$BIN" run "$M" --image "$IMG" --engine int8 >/dev/null 2>"$T/e"; rc=$?
  { [ $rc -eq 2 ] && grep -q -- "--engine must be auto, fakequant or ort" "$T/e"; } || fail "bad --engine: rc=$rc $(cat "$T/e")"
fi
# weight-only (W8A16): every quantized conv runs as QWConv (int8 codes in memory) and the
# detections equal fake-quant's exactly (the same GEMMs on the same dequantized values; AVX-512's
# direct path, which fake-quant may take, would sum in another order: compared within 1e-4 there)
M="$T/w8a16.onnx"
if "$BIN" quantize "$MODEL" --weights int8 --calib "$LIST" --calib-count 2 --threads 2 --quiet -o "$M" 2>"$T/err"; then
  "$BIN" run "$M" --image "$IMG" --threads 2 --verbose --json "$T/wo_auto.json" >/dev/null 2>"$T/wo_v" || fail "w8a16 run failed"
  "$BIN" run "$M" --image "$IMG" --threads 2 --engine fakequant --json "$T/wo_fq.json" >/dev/null 2>&1 || fail "w8a16 fakequant run failed"
  grep -q "convolutions: 0 integer, 82 weight-only, 0 fake-quant, 1 float" "$T/wo_v" || fail "w8a16 verbose summary: $(grep convolutions: "$T/wo_v")"
  /usr/bin/python3 - "$T/wo_auto.json" "$T/wo_fq.json" <<'PY' || fail "w8a16 detections differ between engines"
import json, sys
a, b = (json.load(open(p))["detections"] for p in sys.argv[1:3])
assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
for x, y in zip(a, b):
    assert x["class_id"] == y["class_id"] and abs(x["score"] - y["score"]) <= 1e-4, (x, y)
    assert all(abs(p - q) <= 1e-2 for p, q in zip(x["box"], y["box"])), (x, y)
print(f"w8a16: {len(a)} detections, weight-only = fake-quant")
PY
else fail "w8a16: quantize failed"; cat "$T/err"; fi
[ $fails -eq 0 ] && echo "PASS" || { echo "$fails failure(s)"; exit 1; }
