#!/usr/bin/env bash
# yoloq sensitivity and yoloq quantize --avg-bits through the CLI on yolov10n
# (2 calibration images, 2 metric images, a subset of the layers to stay short):
#  - bad input: one error line, non-zero exit (1 input, 2 usage), no JSON/PNG/ONNX left;
#  - the JSON: keys, YOLO head layout (3 head maps, reg_max 16, 64 box + 80 class channels),
#    ranks ordered by gain, finite metrics; the PNG is a valid PNG;
#  - the same layers measured alone with 1 thread give the same numbers as with 2;
#  - quantize --avg-bits 4.5 (mixed precision): achieved average bits <= 4.5 and equal to
#    sum(bits*params)/sum(params) over the report's layers, 8-bit layers exported without
#    Clip, 4-bit ones with (counted in the ONNX file).
# YOLOQ_SANITIZED=1: fewer layers, no 1-thread rerun, no mixed-precision export (the unit test
# covers both).
set -u
BIN=${YOLOQ_BIN:?}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
MODEL="$SHARED/models/yolov10n.onnx"
LIST="$SHARED/data/coco/calib128.txt"
PY=/usr/bin/python3
[ -f "$MODEL" ] && [ -f "$LIST" ] || { echo "SKIP: $SHARED/models or calibration data not found (set YOLOQ_DATA)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0; passes=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }
pass() { passes=$((passes+1)); }
SAN=${YOLOQ_SANITIZED:-0}

# expect NAME EXPECTED_RC PATTERN -- command...   (and no output files afterwards)
expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  rm -f "$T/o.json" "$T/o.png" "$T/o.onnx"
  "$@" >"$T/stdout" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ "$rc" -ne "$want" ] || ! grep -qiE -- "$pattern" "$T/err" || { [ "$want" -eq 1 ] && [ "$lines" -ne 1 ]; }; then
    fail "$name: rc=$rc (want $want), stderr:"; sed 's/^/    /' "$T/err"
  elif [ -e "$T/o.json" ] || [ -e "$T/o.png" ] || [ -e "$T/o.onnx" ] || ls "$T"/.*tmp* >/dev/null 2>&1; then
    fail "$name: output file or temporary left behind"
  else pass; fi
}
S=("$BIN" sensitivity "$MODEL" --threads 2 --quiet --json "$T/o.json" --png "$T/o.png")

# --- bad input
expect missing_list 1 "nope.txt" -- "${S[@]}" --calib "$T/nope.txt"
printf '\n# only a comment\n' >"$T/empty.txt"
expect empty_list 1 "empty.txt.*no images" -- "${S[@]}" --calib "$T/empty.txt"
printf 'no_such_image.jpg\n' >"$T/missing.txt"
expect missing_image 1 "no_such_image.jpg" -- "${S[@]}" --calib "$T/missing.txt"
expect missing_model 1 "nope.onnx" -- "$BIN" sensitivity "$T/nope.onnx" --calib "$LIST" --json "$T/o.json"
expect only_nomatch 1 "model.99.*matches no quantized layer" -- "${S[@]}" --calib "$LIST" --calib-count 1 --only "/model.99/*"
printf '{"weights": {"bitz": 4}}' >"$T/r_key.json"
expect recipe_key 1 "r_key.json.*bitz" -- "${S[@]}" --calib "$LIST" --calib-count 1 --recipe "$T/r_key.json"
expect bits_3 2 "--bits" -- "${S[@]}" --calib "$LIST" --bits 3
expect acts_bad 2 "--acts" -- "${S[@]}" --calib "$LIST" --acts int4
expect metric_zero 2 "--images-for-metric" -- "${S[@]}" --calib "$LIST" --images-for-metric 0
expect no_calib 2 "--calib" -- "$BIN" sensitivity "$MODEL" --json "$T/o.json"
expect two_models 2 "one MODEL" -- "${S[@]}" "$MODEL" --calib "$LIST"
Q=("$BIN" quantize "$MODEL" -o "$T/o.onnx" --threads 2 --quiet --calib "$LIST" --calib-count 1)
expect avg_low 2 "--avg-bits" -- "${Q[@]}" --weights int4 --avg-bits 3.9
expect avg_high 2 "--avg-bits" -- "${Q[@]}" --weights int4 --avg-bits 8.5
expect avg_nan 2 "--avg-bits" -- "${Q[@]}" --weights int4 --avg-bits four
expect avg_int8 1 "no 4-bit layer" -- "${Q[@]}" --weights int8 --avg-bits 4.5
printf '{"mixed": {"weight_bytes": 1000}}' >"$T/r_bytes.json"
expect bytes_too_small 1 "1000 weight bytes cannot be met" -- "${Q[@]}" --weights int4 --recipe "$T/r_bytes.json"
printf '{"mixed": {"avg_bits": 3}}' >"$T/r_avg.json"
expect recipe_avg_low 1 "r_avg.json.*avg_bits" -- "${Q[@]}" --weights int4 --recipe "$T/r_avg.json"

# --- a real run on a subset of the layers
ONLY="/model.[0-4]/*"
[ "$SAN" = 1 ] && ONLY="/model.[01]/*"
"$BIN" sensitivity "$MODEL" --calib "$LIST" --calib-count 2 --images-for-metric 2 --threads 2 --quiet \
  --only "$ONLY" --json "$T/s2.json" --png "$T/s2.png" >"$T/s2.txt" 2>"$T/s2.err" || { fail "sensitivity run"; cat "$T/s2.err"; }
"$PY" - "$T/s2.json" "$T/s2.png" "$T/s2.txt" "$SAN" <<'EOF' && pass || fail "JSON/PNG/table checks"
import json, struct, sys, zlib, math
doc = json.load(open(sys.argv[1]))
for k in ["model", "calib", "calibration_images", "metric_images", "bits", "acts", "heads", "head_layout",
          "baseline", "bytes_saved_against", "layers", "time_ms"]:
    assert k in doc, k
assert doc["bits"] == 4 and doc["acts"] == "float" and doc["metric_images"] == 2 and doc["calibration_images"] == 2
assert len(doc["heads"]) == 3, doc["heads"]
assert doc["head_layout"] == {"reg_max": 16, "box_channels": 64, "class_channels": 80}, doc["head_layout"]
L = doc["layers"]
want = 2 if sys.argv[4] == "1" else 13
assert len(L) == want, len(L)
for i, l in enumerate(L):
    for k in ["rank", "name", "op_type", "params", "recipe_bits", "weight_sqnr_db", "sqnr_db", "proxy", "cls", "box",
              "gain", "bytes_saved"]:
        assert k in l, k
    assert l["rank"] == i + 1
    assert l["name"].startswith("/model.") and l["op_type"] == "Conv"
    assert l["bytes_saved"] == l["params"] * 4 // 8
    assert all(isinstance(l[k], (int, float)) and math.isfinite(l[k]) for k in ["sqnr_db", "proxy", "cls", "box", "gain"])
    assert 0 < l["sqnr_db"] < 80 and l["proxy"] > 0 and abs(l["proxy"] - l["cls"] - l["box"]) < 1e-9 * max(1, l["proxy"])
    if i: assert L[i - 1]["gain"] >= l["gain"]
png = open(sys.argv[2], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", png[16:24])
assert png[12:16] == b"IHDR" and w > 300 and h > 50, (w, h)
assert png[-12:-8] == b"\x00\x00\x00\x00" and png[-8:-4] == b"IEND"
# every chunk's CRC is right and the image data inflates to h rows
pos, idat = 8, b""
while pos < len(png):
    n, = struct.unpack(">I", png[pos:pos + 4]); typ = png[pos + 4:pos + 8]; data = png[pos + 8:pos + 8 + n]
    crc, = struct.unpack(">I", png[pos + 8 + n:pos + 12 + n])
    assert zlib.crc32(typ + data) & 0xffffffff == crc, typ
    if typ == b"IDAT": idat += data
    pos += 12 + n
raw = zlib.decompress(idat)
assert len(raw) == h * (1 + w * 3), (len(raw), w, h)
table = open(sys.argv[3]).read().splitlines()
assert table[0].split()[:3] == ["rank", "layer", "op"] and len(table) == len(L) + 2
assert table[1].split()[1] == L[0]["name"]
EOF

# --- thread-count independence: the first two ranked layers alone, 1 thread
if [ -f "$T/s2.json" ] && [ "$SAN" != 1 ]; then
  read -r L1 L2 < <("$PY" -c 'import json,sys; L=json.load(open(sys.argv[1]))["layers"]; print(L[0]["name"], L[1]["name"])' "$T/s2.json")
  "$BIN" sensitivity "$MODEL" --calib "$LIST" --calib-count 2 --images-for-metric 2 --threads 1 --quiet \
    --only "$L1" --json "$T/t1.json" >/dev/null 2>"$T/t1.err" || { fail "1-thread run"; cat "$T/t1.err"; }
  "$PY" - "$T/s2.json" "$T/t1.json" "$L1" <<'EOF' && pass || fail "1 thread vs 2 threads"
import json, sys
a = {l["name"]: l for l in json.load(open(sys.argv[1]))["layers"]}
b = json.load(open(sys.argv[2]))["layers"]
assert len(b) == 1 and b[0]["name"] == sys.argv[3]
for k in ["sqnr_db", "proxy", "cls", "box", "weight_sqnr_db"]:
    assert a[sys.argv[3]][k] == b[0][k], (k, a[sys.argv[3]][k], b[0][k])
EOF
fi

# --- mixed precision end to end (layers of model.0-4 quantized, the rest kept float)
if [ "$SAN" != 1 ]; then
  printf '{"keep_float": ["/model.[5-9]/*", "/model.[12][0-9]/*"]}' >"$T/subset.json"
  "$BIN" quantize "$MODEL" -o "$T/mixed.onnx" --calib "$LIST" --calib-count 2 --metric-images 2 --weights int4 \
    --recipe "$T/subset.json" --avg-bits 4.5 --threads 2 --report "$T/mixed.json" >"$T/mixed.txt" 2>"$T/mixed.err" \
    || { fail "quantize --avg-bits"; cat "$T/mixed.err"; }
  "$PY" - "$T/mixed.json" "$T/mixed.onnx" "$T/mixed.txt" <<'EOF' && pass || fail "mixed precision checks"
import json, sys, onnx
rep = json.load(open(sys.argv[1]))
m = rep["mixed"]
L = rep["layers"]
assert len(L) == 13 and m["budget_avg_bits"] == 4.5
P = sum(l["params"] for l in L); B = sum(l["weight_bits"] * l["params"] for l in L)
assert P == m["params"] and abs(B / P - m["avg_bits"]) < 1e-12 and m["avg_bits"] <= 4.5, (B / P, m)
n8 = sum(l["weight_bits"] == 8 for l in L)
assert n8 == m["layers_8bit"] >= 1 and n8 < len(L)
bits = {e["name"]: e["bits"] for e in m["layers"]}
assert all(bits[l["name"]] == l["weight_bits"] for l in L)
g = onnx.load(sys.argv[2]).graph
clips = sum(n.op_type == "Clip" for n in g.node)
assert clips == len(L) - n8, (clips, len(L), n8)
out = open(sys.argv[3]).read()
assert "mixed precision (budget 4.5 average bits)" in out and out.count("  8 bit: ") == n8
EOF
fi

# --- a saved analysis (the 13 layers measured above) instead of a new one
if [ "$SAN" != 1 ] && [ -f "$T/s2.json" ]; then
  "$BIN" quantize "$MODEL" -o "$T/saved.onnx" --calib "$LIST" --calib-count 2 --weights int4 --recipe "$T/subset.json" \
    --avg-bits 4.5 --sensitivity "$T/s2.json" --threads 2 --report "$T/saved.json" >"$T/saved.txt" 2>"$T/saved.err" \
    || { fail "quantize --sensitivity"; cat "$T/saved.err"; }
  "$PY" - "$T/saved.json" "$T/s2.json" <<'EOF' && pass || fail "saved analysis checks"
import json, sys
m = json.load(open(sys.argv[1]))["mixed"]
assert m["analysis"] == sys.argv[2] and m["criterion"] == "noise" and m["analysis_acts"] == "float"
assert 1 <= m["layers_8bit"] < 13 and 4.0 < m["avg_bits"] <= 4.5, m
EOF
  expect saved_wrong_model 1 "has no layer" -- "$BIN" quantize "$MODEL" -o "$T/o.onnx" --calib "$LIST" --calib-count 1 \
    --weights int4 --avg-bits 4.5 --sensitivity "$T/s2.json" --threads 2 --quiet
fi
expect saved_no_budget 2 "--sensitivity needs a budget" -- "${Q[@]}" --weights int4 --sensitivity "$T/nope.json"

echo "test_sensitivity_cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
