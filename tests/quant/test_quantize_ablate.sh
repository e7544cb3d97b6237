#!/usr/bin/env bash
# yoloq quantize --ablate on yolov10n (1 calibration image, 2 GPTQ stages, 3 evaluation images):
#  - bad input: one error line, non-zero exit (1 input, 2 usage), no ONNX/JSON left behind;
#  - the ladder of the default W4A8 recipe (2 stages) with --act-ranges quantized: rows float, rtn, gptq, gptq-seq,
#    act-observer, act-ranges, in that order, finite mAPs, deltas = differences of consecutive rows;
#  - the written model is byte-identical to a plain `yoloq quantize` with the same options;
#  - the float row's mAP and its even/odd halves equal `yoloq eval` of the float model on the
#    same images (--max-images / --image-ids), and the final row's equal `yoloq eval` of -o.
# YOLOQ_SANITIZED=1: one-pass GPTQ, float-model ranges (rows float, rtn, gptq, act-observer), 2 images.
set -u
BIN=${YOLOQ_BIN:?}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
MODEL="$SHARED/models/yolov10n.onnx"
LIST="$SHARED/data/coco/calib128.txt"
ANN="$SHARED/data/coco/annotations/instances_val2017_dev216.json"
IMGS="$SHARED/data/coco/val2017"
PY=/usr/bin/python3
[ -f "$MODEL" ] && [ -f "$LIST" ] && [ -f "$ANN" ] || { echo "SKIP: $SHARED models or COCO data not found (set YOLOQ_DATA)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0; passes=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }
pass() { passes=$((passes+1)); }
SAN=${YOLOQ_SANITIZED:-0}

expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  rm -f "$T/o.json" "$T/o.onnx"
  "$@" >"$T/stdout" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ "$rc" -ne "$want" ] || ! grep -qiE -- "$pattern" "$T/err" || { [ "$want" -eq 1 ] && [ "$lines" -ne 1 ]; }; then
    fail "$name: rc=$rc (want $want), stderr:"; sed 's/^/    /' "$T/err"
  elif [ -e "$T/o.json" ] || [ -e "$T/o.onnx" ] || ls "$T"/*ablate-row* >/dev/null 2>&1; then
    fail "$name: output file or temporary left behind"
  else pass; fi
}
Q=("$BIN" quantize "$MODEL" -o "$T/o.onnx" --threads 2 --quiet --calib "$LIST" --calib-count 1 --weights int4 --acts int8)
expect no_ann 2 "--ablate needs --ann" -- "${Q[@]}" --ablate --images "$IMGS"
expect ann_alone 2 "go with --ablate" -- "${Q[@]}" --ann "$ANN" --images "$IMGS"
expect ids_and_n 2 "exclusive" -- "${Q[@]}" --ablate --ann "$ANN" --images "$IMGS" --ablate-images 2 --ablate-ids "$T/x"
expect with_report 2 "not supported" -- "${Q[@]}" --ablate --ann "$ANN" --images "$IMGS" --report "$T/r.json"
expect bad_n 2 "--ablate-images" -- "${Q[@]}" --ablate --ann "$ANN" --images "$IMGS" --ablate-images 0
expect missing_ann 1 "nope.json" -- "${Q[@]}" --gptq-stages 0 --ablate --ann "$T/nope.json" --images "$IMGS" --ablate-json "$T/o.json"
printf '1\n' >"$T/bad_ids.txt"
expect bad_id 1 "bad_ids.txt|not in" -- "${Q[@]}" --gptq-stages 0 --ablate --ann "$ANN" --images "$IMGS" --ablate-ids "$T/bad_ids.txt" --ablate-json "$T/o.json"

if [ "$SAN" = 1 ]; then N=2; STAGES=(--gptq-stages 0 --act-ranges float); WANT="float rtn gptq act-observer"
else N=3; STAGES=(--gptq-stages 2 --act-ranges quantized); WANT="float rtn gptq gptq-seq act-observer act-ranges"; fi
"${Q[@]}" "${STAGES[@]}" --ablate --ann "$ANN" --images "$IMGS" --ablate-images $N --ablate-json "$T/abl.json" \
  >"$T/table.txt" 2>"$T/err" || { fail "ablate run: $(cat "$T/err")"; }
cp "$T/o.onnx" "$T/final.onnx" 2>/dev/null
"${Q[@]}" "${STAGES[@]}" -o "$T/plain.onnx" 2>"$T/err" || fail "plain quantize: $(cat "$T/err")"
cmp -s "$T/final.onnx" "$T/plain.onnx" && pass || fail "ablate's -o differs from a plain quantize"
grep -q "^final recipe: mAP50-95" "$T/table.txt" && pass || fail "no summary line in the table"
rows=$($PY -c "import json; print(' '.join(r['name'] for r in json.load(open('$T/abl.json'))['rows']))")
[ "$rows" = "$WANT" ] && pass || fail "rows '$rows', want '$WANT'"
$PY - "$T/abl.json" <<'PY' && pass || fail "row values"
import json, math, sys
rows = json.load(open(sys.argv[1]))["rows"]
for i, r in enumerate(rows):
    assert all(math.isfinite(r[k]) for k in ("map50_95", "map50")), r
    if i: assert abs(r["delta"] - (r["map50_95"] - rows[i-1]["map50_95"])) < 1e-12, r
    assert (r["avg_weight_bits"] is None) == (r["name"] == "float"), r
assert rows[-1]["avg_weight_bits"] == 4.0
PY
# the same numbers from yoloq eval
$PY -c "
import json
d = json.load(open('$ANN')); ids = sorted(i['id'] for i in d['images'])[:$N]
open('$T/even.txt', 'w').write(''.join('%d\n' % i for i in ids if i % 2 == 0))
open('$T/odd.txt', 'w').write(''.join('%d\n' % i for i in ids if i % 2 == 1))"
E=("$BIN" eval --ann "$ANN" --images "$IMGS" --threads 2 --quiet)
"${E[@]}" "$MODEL" --max-images $N --out "$T/f_all.json" >/dev/null || fail "eval float"
"${E[@]}" "$T/final.onnx" --max-images $N --out "$T/q_all.json" >/dev/null || fail "eval final"
for h in even odd; do
  if [ -s "$T/$h.txt" ]; then
    "${E[@]}" "$MODEL" --image-ids "$T/$h.txt" --out "$T/f_$h.json" >/dev/null || fail "eval float $h"
    "${E[@]}" "$T/final.onnx" --image-ids "$T/$h.txt" --out "$T/q_$h.json" >/dev/null || fail "eval final $h"
  fi
done
$PY - "$T" <<'PY' && pass || fail "ablation mAPs differ from yoloq eval"
import json, os, sys
t = sys.argv[1]
rows = json.load(open(t + "/abl.json"))["rows"]
def ap(f): return json.load(open(f))["coco"]["stats"]["AP"]
for row, p in ((rows[0], "f"), (rows[-1], "q")):
    assert abs(row["map50_95"] - ap(f"{t}/{p}_all.json")) < 1e-12, (row, ap(f"{t}/{p}_all.json"))
    for h in ("even", "odd"):
        f = f"{t}/{p}_{h}.json"
        if os.path.exists(f): assert abs(row["map50_95_" + h] - ap(f)) < 1e-12, (row, h, ap(f))
        else: assert row["map50_95_" + h] is None
PY
echo "ablate: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
