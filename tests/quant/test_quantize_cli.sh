#!/usr/bin/env bash
# yoloq quantize through the CLI on yolov10n (4 calibration images to keep it short):
#  - bad input: one error line, non-zero exit (1 input, 2 usage), no output file left;
#  - determinism: W4A8 quantized twice with 1 and 2 threads gives identical bytes;
#  - the QCDQ export (lowered from the model's opset 17 to 13) passes onnx.checker.check_model
#    (Debian python3-onnx), also with --bias int32;
#  - the report has every quantized layer, 4-bit everywhere but no DFL conv, finite SQNRs;
#  - --reconstruct: bad values, and a short block reconstruction (2 images, 3 steps, INT32 biases):
#    the report's blocks, never a block made worse, a checker-valid model.
set -u
BIN=${YOLOQ_BIN:?}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
MODEL="$SHARED/models/yolov10n.onnx"
LIST="$SHARED/data/coco/calib128.txt"
[ -f "$MODEL" ] && [ -f "$LIST" ] || { echo "SKIP: $SHARED/models or calibration data not found (set YOLOQ_DATA)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0; passes=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }
pass() { passes=$((passes+1)); }

# expect NAME EXPECTED_RC PATTERN -- command...   (and no $T/out.onnx afterwards)
expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  rm -f "$T/out.onnx"
  "$@" >"$T/stdout" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ "$rc" -ne "$want" ] || ! grep -qiE -- "$pattern" "$T/err" || { [ "$want" -eq 1 ] && [ "$lines" -ne 1 ]; }; then
    fail "$name: rc=$rc (want $want), stderr:"; sed 's/^/    /' "$T/err"
  elif [ -e "$T/out.onnx" ] || ls "$T"/.*tmp* >/dev/null 2>&1 || ls "$T"/*.tmp >/dev/null 2>&1; then
    fail "$name: output file or temporary left behind"
  else pass; fi
}
Q=("$BIN" quantize "$MODEL" -o "$T/out.onnx" --threads 2 --quiet)

# --- bad input
expect missing_list 1 "nope.txt" -- "${Q[@]}" --calib "$T/nope.txt"
printf '\n# only a comment\n   \n' >"$T/empty.txt"
expect empty_list 1 "empty.txt.*no images" -- "${Q[@]}" --calib "$T/empty.txt"
printf '%s\nno_such_image.jpg\n' "$(sed -n 1p "$LIST" | sed "s#^#$SHARED/data/coco/#")" >"$T/missing.txt"
expect missing_image 1 "no_such_image.jpg" -- "${Q[@]}" --calib "$T/missing.txt"
printf 'this is not a jpeg' >"$T/bad.jpg"; printf 'bad.jpg\n' >"$T/badimg.txt"
expect corrupt_image 1 "bad.jpg" -- "${Q[@]}" --calib "$T/badimg.txt" --weights int4
printf '{"weights": {"bitz": 4}}' >"$T/r_key.json"
expect recipe_unknown_key 1 "r_key.json.*bitz" -- "${Q[@]}" --calib "$LIST" --calib-count 1 --recipe "$T/r_key.json"
printf '{"overrides": [{"match": "/model.99/*", "weights": {"bits": 8}}]}' >"$T/r_nomatch.json"
expect recipe_no_match 1 "r_nomatch.json.*model.99.*matches no node" -- "${Q[@]}" --calib "$LIST" --calib-count 1 --recipe "$T/r_nomatch.json"
printf '{"weights": {"bits": 3}}' >"$T/r_bits.json"
expect recipe_bits 1 "r_bits.json.*bits" -- "${Q[@]}" --calib "$LIST" --calib-count 1 --recipe "$T/r_bits.json"
printf '{"weights": {"bits": 4}' >"$T/r_trunc.json"
expect recipe_truncated 1 "r_trunc.json" -- "${Q[@]}" --calib "$LIST" --calib-count 1 --recipe "$T/r_trunc.json"
expect recipe_missing 1 "no_recipe.json" -- "${Q[@]}" --calib "$LIST" --calib-count 1 --recipe "$T/no_recipe.json"
expect weights_int2 2 "--weights" -- "${Q[@]}" --calib "$LIST" --weights int2
expect acts_int4 2 "--acts" -- "${Q[@]}" --calib "$LIST" --acts int4
expect format_bad 2 "--format" -- "${Q[@]}" --calib "$LIST" --format int2
expect bias_bad 2 "--bias must be float or int32" -- "${Q[@]}" --calib "$LIST" --bias int16
expect bias_float_acts 2 "--bias int32 needs quantized activations" -- "${Q[@]}" --calib "$LIST" --bias int32
printf '{"weights": {"bias": "int32"}}' >"$T/r_bias.json"
expect recipe_bias_float_acts 1 "r_bias.json.*needs quantized activations" -- "${Q[@]}" --calib "$LIST" --recipe "$T/r_bias.json"
expect act_outputs_bad 2 "--act-outputs must be on or off" -- "${Q[@]}" --calib "$LIST" --act-outputs yes
expect act_outputs_float_acts 2 "--act-outputs on needs quantized activations" -- "${Q[@]}" --calib "$LIST" --act-outputs on
printf '{"act_outputs": true}' >"$T/r_actout.json"
expect recipe_act_outputs_float_acts 1 "r_actout.json.*needs quantized activations" -- "${Q[@]}" --calib "$LIST" --recipe "$T/r_actout.json"
expect no_output 2 "-o" -- "$BIN" quantize "$MODEL" --calib "$LIST"
expect no_calib 2 "--calib" -- "$BIN" quantize "$MODEL" -o "$T/out.onnx"
expect count_zero 2 "--calib-count" -- "${Q[@]}" --calib "$LIST" --calib-count 0
expect missing_model 1 "nope.onnx" -- "$BIN" quantize "$T/nope.onnx" -o "$T/out.onnx" --calib "$LIST" --quiet

# --- determinism across runs and thread counts (W4A8: GPTQ Hessians + observers)
run() { # OUT THREADS extra...
  local out=$1 th=$2; shift 2
  "$BIN" quantize "$MODEL" -o "$out" --calib "$LIST" --calib-count 4 --threads "$th" --quiet "$@"
}
if run "$T/a.onnx" 1 --weights int4 --acts int8 --report "$T/a.json" && run "$T/b.onnx" 2 --weights int4 --acts int8 &&
   run "$T/c.onnx" 2 --weights int4 --acts int8; then
  if cmp -s "$T/a.onnx" "$T/b.onnx" && cmp -s "$T/b.onnx" "$T/c.onnx"; then pass; else fail "determinism: outputs differ"; fi
  # a small Hessian budget splits the layers over several calibration passes: same bytes
  run "$T/d.onnx" 2 --weights int4 --acts int8 --hessian-budget 24 --report "$T/d.json" &&
    cmp -s "$T/a.onnx" "$T/d.onnx" &&
    /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['hessian_passes'] > 1, d['hessian_passes']" "$T/d.json" &&
    pass || fail "multi-pass calibration (--hessian-budget 24) differs from one pass"
else fail "W4A8 quantization failed"; fi

# --- the report: every quantized conv at 4 bit with A8, the DFL conv absent, finite SQNRs
if [ -f "$T/a.json" ]; then
  /usr/bin/python3 - "$T/a.json" <<'EOF' && pass || fail "report contents"
import json, math, sys
d = json.load(open(sys.argv[1]))
L = d["layers"]
assert len(L) >= 80, len(L)
assert all(l["weight_bits"] == 4 and l["method"] == "gptq" and l["act_bits"] == 8 for l in L)
assert not any("dfl" in l["name"].lower() for l in L)
assert any(l["name"].startswith("/model.0/") for l in L), "the stem conv is quantized"
for l in L:
    assert 3.0 < l["weight_sqnr_db"] < 40.0, (l["name"], l["weight_sqnr_db"])
    assert l["output_sqnr_db"] is not None and l["output_sqnr_db"] > 0.0, (l["name"], l["output_sqnr_db"])
    assert l["act_scale"] > 0 and 0 <= l["act_zero_point"] <= 255
assert d["weight_bytes"] < d["float_weight_bytes"] / 5, (d["weight_bytes"], d["float_weight_bytes"])
assert d["qdq_counts"]["quantize"] == d["activation_quantizers"] > 0
assert d["qdq_counts"]["clip"] >= len(L)  # one Clip per 4-bit weight
# the clean-up never removes a quantizer; the written graph is the "after" one
b, a = d["qdq_counts"]["before_cleanup"], d["qdq_counts"]["after_cleanup"]
assert (b["quantize"], b["dequantize"], b["clip"]) == (a["quantize"], a["dequantize"], a["clip"]), (b, a)
assert a["nodes"] <= b["nodes"] and a["quantize"] == d["qdq_counts"]["quantize"]
assert d["opset"]["model"] == 17 and d["opset"]["written"] == 13, d["opset"]
EOF
fi

# --- onnx.checker on the opset-13 QCDQ export (W4A8 and W8A16)
if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
  if run "$T/w8.onnx" 2 --weights int8 && run "$T/b32.onnx" 2 --weights int8 --acts int8 --bias int32 --calib-count 2; then
    for m in a w8 b32; do
      if /usr/bin/python3 - "$T/$m.onnx" <<'EOF'; then pass; else fail "onnx.checker on $m.onnx"; fi
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
ops = {}
for n in m.graph.node: ops[n.op_type] = ops.get(n.op_type, 0) + 1
opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
assert opset == 13, opset  # yolov10n (opset 17) means the same at 13: the QCDQ export is lowered to 13
assert ops.get("DequantizeLinear", 0) >= 80, ops
if sys.argv[1].endswith("b32.onnx"):  # --bias int32: one INT32 DequantizeLinear per conv bias
    i32 = {i.name for i in m.graph.initializer if i.data_type == onnx.TensorProto.INT32}
    nb = sum(1 for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in i32)
    assert nb >= 80, nb
print(sys.argv[1].split("/")[-1], "checker ok, opset", opset, ops.get("QuantizeLinear", 0), "Q", ops["DequantizeLinear"], "DQ", ops.get("Clip", 0), "Clip")
EOF
    done
  else fail "W8A16 quantization failed"; fi
else echo "note: /usr/bin/python3 has no onnx; checker skipped"; fi

# --- block reconstruction (--reconstruct): bad values, then a short real run with INT32 biases
expect recon_negative 2 "--reconstruct" -- "${Q[@]}" --calib "$LIST" --reconstruct -1
printf '{"reconstruct": {"itrs": 2}}' >"$T/r_recon.json"
expect recipe_recon_key 1 "r_recon.json.*reconstruct.itrs" -- "${Q[@]}" --calib "$LIST" --calib-count 1 --recipe "$T/r_recon.json"
printf '{"reconstruct": {"iters": 3, "block_convs": 12}}' >"$T/r_rc.json"
if run "$T/rc.onnx" 2 --weights int4 --acts int8 --gptq-stages 0 --bias int32 --calib-count 2 --recipe "$T/r_rc.json" \
     --report "$T/rc.json"; then
  /usr/bin/python3 - "$T/rc.json" "$T/rc.onnx" <<'EOF' && pass || fail "reconstruction report / model"
import json, math, sys
d = json.load(open(sys.argv[1]))
r = d["reconstruct"]
assert r["images"] == 2 and 4 <= r["blocks"] <= 12, r
assert len(r["block_list"]) == r["blocks"] and sum(b["kept"] for b in r["block_list"]) == r["blocks_kept"]
for b in r["block_list"]:
    assert b["convs"] >= 1 and b["inputs"] >= 1 and b["outputs"] >= 1, b
    assert math.isfinite(b["error_before"]) and math.isfinite(b["error_after"]) and b["error_before"] > 0, b
    assert b["kept"] == (b["error_after"] < b["error_before"]), b  # a block is never made worse
assert d["time_ms"]["reconstruct"] > 0
try:
    import onnx
except ImportError:
    onnx = None
if onnx:
    onnx.checker.check_model(onnx.load(sys.argv[2]), full_check=True)
EOF
else fail "quantize --reconstruct failed"; fi

echo "quantize CLI: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
