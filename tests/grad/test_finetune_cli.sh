#!/usr/bin/env bash
# yoloq finetune through the CLI on yolov10n (a W8A8 QCDQ student from 2 calibration images,
# 1-step runs to keep it short):
#  - bad input: one error line, exit 1 (input) or 2 (usage), no output file left;
#  - with every learning rate at 0 the exported model is the input model, byte for byte
#    (the export path writes codes and scales back exactly);
#  - determinism: the same seed with 1 and 2 threads gives identical bytes, and a model that
#    differs from the student; the CSV log, curve PNG and JSON summary are written.
# YOLOQ_SANITIZED=1: bad input and the identity run only.
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

expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  rm -f "$T/out.onnx"
  "$@" >"$T/stdout" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ "$rc" -ne "$want" ] || ! grep -qiE -- "$pattern" "$T/err" || { [ "$want" -eq 1 ] && [ "$lines" -ne 1 ]; }; then
    fail "$name: rc=$rc (want $want), stderr:"; sed 's/^/    /' "$T/err"
  elif [ -e "$T/out.onnx" ] || ls "$T"/.*tmp* >/dev/null 2>&1; then
    fail "$name: output file or temporary left behind"
  else pass; fi
}

"$BIN" quantize "$MODEL" -o "$T/q.onnx" --weights int8 --acts int8 --calib "$LIST" --calib-count 2 --threads 2 --quiet \
  >/dev/null || { echo "FAIL: quantize"; exit 1; }
printf '%s\n%s\n' "$(sed -n 1p "$LIST")" "$(sed -n 2p "$LIST")" | sed "s#^#$SHARED/data/coco/#" >"$T/two.txt"
F=("$BIN" finetune "$T/q.onnx" --teacher "$MODEL" --images "$T/two.txt" -o "$T/out.onnx" --threads 2 --quiet --steps 1 --batch 1)

# --- bad input
expect float_student 1 "not a QCDQ model" -- "$BIN" finetune "$MODEL" --teacher "$MODEL" --images "$T/two.txt" -o "$T/out.onnx" --quiet
expect qcdq_teacher 1 "teacher must be the float model" -- "$BIN" finetune "$T/q.onnx" --teacher "$T/q.onnx" --images "$T/two.txt" -o "$T/out.onnx" --quiet
expect missing_student 1 "nope.onnx" -- "$BIN" finetune "$T/nope.onnx" --teacher "$MODEL" --images "$T/two.txt" -o "$T/out.onnx" --quiet
printf 'garbage' >"$T/bad.onnx"
expect corrupt_teacher 1 "bad.onnx" -- "$BIN" finetune "$T/q.onnx" --teacher "$T/bad.onnx" --images "$T/two.txt" -o "$T/out.onnx" --quiet
expect missing_list 1 "nope.txt" -- "${F[@]/$T\/two.txt/$T/nope.txt}"
printf '# nothing\n' >"$T/empty.txt"
expect empty_list 1 "empty.txt" -- "$BIN" finetune "$T/q.onnx" --teacher "$MODEL" --images "$T/empty.txt" -o "$T/out.onnx" --quiet
printf 'no_such.jpg\n' >"$T/missing.txt"
expect missing_image 1 "no_such.jpg" -- "$BIN" finetune "$T/q.onnx" --teacher "$MODEL" --images "$T/missing.txt" -o "$T/out.onnx" --quiet
expect no_teacher 2 "--teacher" -- "$BIN" finetune "$T/q.onnx" --images "$T/two.txt" -o "$T/out.onnx"
expect no_images 2 "--images" -- "$BIN" finetune "$T/q.onnx" --teacher "$MODEL" -o "$T/out.onnx"
expect no_output 2 "-o" -- "$BIN" finetune "$T/q.onnx" --teacher "$MODEL" --images "$T/two.txt"
expect steps_zero 2 "--steps" -- "${F[@]}" --steps 0
expect batch_bad 2 "--batch" -- "${F[@]}" --batch x
expect lr_negative 2 "--lr" -- "${F[@]}" --lr -1
expect seed_bad 2 "--seed" -- "${F[@]}" --seed -3
expect box_weight_bad 2 "--box-weight" -- "${F[@]}" --box-weight -1
expect feat_weight_bad 2 "--feat-weight" -- "${F[@]}" --feat-weight x
expect fp_weight_bad 2 "--fp-weight" -- "${F[@]}" --fp-weight -2
expect margin_weight_bad 2 "--margin-weight" -- "${F[@]}" --margin-weight -1
expect margin_cap_bad 2 "--margin-cap" -- "${F[@]}" --margin-cap 1e9
expect cls_anchors_bad 2 "--cls-anchors" -- "${F[@]}" --cls-anchors some
expect overwrite_input 2 "overwrite" -- "$BIN" finetune "$T/q.onnx" --teacher "$MODEL" --images "$T/two.txt" -o "$T/q.onnx"
expect unknown_option 2 "unknown option" -- "${F[@]}" --frobnicate
"$BIN" finetune --help | grep -q "Usage: yoloq finetune" && pass || fail "--help"

# --- identity: no learning, the student comes back unchanged
if "${F[@]}" --lr 0 --lr-scale 0 --lr-act-scale 0 --lr-bias 0 --threads 1 >/dev/null 2>"$T/err"; then
  cmp -s "$T/q.onnx" "$T/out.onnx" && pass || fail "lr 0: the export differs from the student"
else fail "identity run: $(cat "$T/err")"; fi

# --- determinism across thread counts, outputs written
if [ "${YOLOQ_SANITIZED:-0}" != 1 ]; then
  # with every loss term on: feature maps, all anchors, false positives weighted, margin
  "${F[@]}" --seed 7 --feat-weight 1 --cls-anchors all --fp-weight 2 --margin-weight 1 --threads 1 -o "$T/a.onnx" --log "$T/a.csv" --curve "$T/a.png" --json "$T/a.json" >/dev/null 2>"$T/err" \
    || fail "run a: $(cat "$T/err")"
  "${F[@]}" --seed 7 --feat-weight 1 --cls-anchors all --fp-weight 2 --margin-weight 1 --threads 2 -o "$T/b.onnx" >/dev/null 2>"$T/err" || fail "run b: $(cat "$T/err")"
  cmp -s "$T/a.onnx" "$T/b.onnx" && pass || fail "1 vs 2 threads: different models"
  cmp -s "$T/a.onnx" "$T/q.onnx" && fail "the trained model equals the student" || pass
  [ "$(wc -l <"$T/a.csv")" -eq 2 ] && head -1 "$T/a.csv" | grep -q '^step,loss,loss_box,loss_cls,loss_feat,loss_margin' && pass || fail "CSV log"
  awk -F, 'NR == 2 { exit !($5 > 0) }' "$T/a.csv" && pass || fail "feature term not positive"
  awk -F, 'NR == 2 { exit !($6 >= 0) }' "$T/a.csv" && pass || fail "margin term missing"
  [ -s "$T/a.png" ] && pass || fail "curve PNG"
  grep -q '"seed":[[:space:]]*7' "$T/a.json" && grep -q '"head_tensor"' "$T/a.json" \
    && grep -q '"feature_maps":[[:space:]]*\["/model.16/' "$T/a.json" && grep -q '"cls_anchors":[[:space:]]*"all"' "$T/a.json" \
    && grep -q '"margin_weight":[[:space:]]*1' "$T/a.json" \
    && pass || fail "JSON summary"
fi

echo "finetune CLI: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
