#!/usr/bin/env bash
# `yoloq eval` end to end on the shared dev set:
#  - the headline exactness check: FP32 yolov10n on the 216-image dev set gives
#    mAP50-95 0.3912 and mAP50 0.5511 (measured by an independent ONNX Runtime +
#    Ultralytics letterbox + pycocotools pipeline), each within 0.002;
#  - the detections file, evaluated again, gives exactly the stats in metrics.json;
#  - --max-images / --image-ids select the images they say;
#  - bad input: one error line naming the file, exit 1 (2 for usage), and no
#    output file or temporary left behind, also when the failure comes mid-run.
set -u
BIN=${YOLOQ_BIN:?}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
M="$SHARED/models/yolov10n.onnx"
ANN="$SHARED/data/coco/annotations/instances_val2017_dev216.json"
IMG="$SHARED/data/coco/val2017"
if [ ! -f "$M" ] || [ ! -f "$ANN" ] || [ ! -d "$IMG" ]; then
  echo "SKIP: $SHARED (yolov10n.onnx, the dev216 annotations and val2017 images) not found; set YOLOQ_DATA"
  exit 77
fi
CHECK=""
for c in "${YOLOQ_BUILD_DIR:-}/tests/tool_evalcli_check" "${YOLOQ_BUILD_DIR:-}/tool_evalcli_check" \
         "$(dirname "$BIN")/tests/tool_evalcli_check"; do
  [ -x "$c" ] && CHECK=$c && break
done
[ -n "$CHECK" ] || { echo "FAIL: tool_evalcli_check not built (looked next to $BIN and in YOLOQ_BUILD_DIR)"; exit 1; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0; passes=0
ok() { passes=$((passes+1)); }
bad() { echo "FAIL $*"; fails=$((fails+1)); }
get() { "$CHECK" get "$1" "$2"; }
# near VALUE WANT TOL: |VALUE - WANT| <= TOL
near() { awk -v v="$1" -v w="$2" -v t="$3" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(d <= t) }'; }

# expect NAME EXPECTED_RC PATTERN -- command...   (one stderr line for rc 1)
expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ "$rc" -ne "$want" ] || ! grep -qiE -- "$pattern" "$T/err" || { [ "$want" -eq 1 ] && [ "$lines" -ne 1 ]; }; then
    bad "$name: rc=$rc (want $want), stderr:"; sed 's/^/    /' "$T/err"
  else ok; fi
}
# no_outputs NAME DIR: nothing written there (no metrics, detections or temporaries)
no_outputs() {
  if [ -n "$(ls -A "$2")" ]; then bad "$1: left files behind: $(ls -A "$2" | tr '\n' ' ')"; else ok; fi
}

# ---- the headline run: the whole dev set, FP32, 2 threads ---------------------------------
mkdir "$T/full"
t0=$(date +%s)
"$BIN" eval "$M" --ann "$ANN" --images "$IMG" --threads 2 --out "$T/full/metrics.json" \
  --detections-out "$T/full/dets.json" >"$T/full/stdout" 2>"$T/full/stderr"
rc=$?
echo "dev216 eval: rc=$rc in $(( $(date +%s) - t0 )) s"
sed 's/^/    /' "$T/full/stdout"
if [ $rc -ne 0 ]; then
  bad "dev216 eval: rc=$rc"; sed 's/^/    /' "$T/full/stderr"
else
  ap=$(get "$T/full/metrics.json" coco.stats.AP); ap50=$(get "$T/full/metrics.json" coco.stats.AP50)
  echo "    mAP50-95 $ap (want 0.3912 +- 0.002), mAP50 $ap50 (want 0.5511 +- 0.002)"
  near "$ap" 0.3912 0.002 && ok || bad "dev216 mAP50-95 $ap, want 0.3912 +- 0.002"
  near "$ap50" 0.5511 0.002 && ok || bad "dev216 mAP50 $ap50, want 0.5511 +- 0.002"
  # the printed summary agrees with the file (pycocotools' 3 decimals)
  grep -qE "^ Average Precision  \(AP\) @\[ IoU=0.50:0.95 \| area=   all \| maxDets=100 \] = $(printf %.3f "$ap")\$" \
    "$T/full/stdout" && ok || bad "stdout lacks the pycocotools-style AP line"
  [ "$(grep -c '^ Average Recall\|^ Average Precision' "$T/full/stdout")" -eq 12 ] && ok || bad "stdout: not 12 stat lines"
  [ ! -s "$T/full/stderr" ] && ok || bad "stderr not empty although it is not a terminal: $(head -3 "$T/full/stderr")"
  "$CHECK" recheck "$ANN" "$T/full/dets.json" "$T/full/metrics.json" && ok || bad "dev216 detections re-evaluated differ"
  # the metrics file carries what it promises
  [ "$(get "$T/full/metrics.json" counts.images)" = 216 ] && ok || bad "counts.images != 216"
  [ "$(get "$T/full/metrics.json" counts.annotations)" = 1863 ] && ok || bad "counts.annotations != 1863"
  [ "$(get "$T/full/metrics.json" coco.per_class)" = 80 ] && ok || bad "per_class does not have 80 entries"
  # score levels and duplicates (det_stats.h); hand cases in test_eval_det_stats. The float
  # yolov10n on dev216 gave 1910 above 0.1 with 253 duplicates (AVX2 VM; a Python count over
  # its detections file agrees); a few either way on other CPUs
  [ "$(get "$T/full/metrics.json" detections_by_score)" = 5 ] && ok || bad "detections_by_score: not 5 levels"
  [ "$(get "$T/full/metrics.json" detections_by_score.1.score_above)" = 0.10000000000000001 ] && ok || bad "level 1 is not 0.1"
  near "$(get "$T/full/metrics.json" detections_by_score.1.detections)" 1910 40 && ok || bad "detections above 0.1 not near 1910"
  near "$(get "$T/full/metrics.json" detections_by_score.1.duplicates)" 253 25 && ok || bad "duplicates above 0.1 not near 253"
  # their kinds against the ground truth (det_errors.h; hand cases in test_eval_det_errors): every detection
  # above 0.1 has one kind, and each true positive takes one non-crowd object (float: 1015 TP of 1841 objects)
  sum=0; for k in tp duplicate crowd class localisation background; do
    sum=$((sum + $(get "$T/full/metrics.json" detections_by_score.1.kinds.$k))); done
  [ "$sum" = "$(get "$T/full/metrics.json" detections_by_score.1.detections)" ] && ok || bad "kinds above 0.1 sum to $sum"
  tp=$(get "$T/full/metrics.json" detections_by_score.1.kinds.tp)
  near "$tp" 1015 25 && ok || bad "true positives above 0.1: $tp, want 1015 +- 25"
  [ $((tp + $(get "$T/full/metrics.json" detections_by_score.1.objects_missed))) = \
    $(( $(get "$T/full/metrics.json" counts.annotations) - $(get "$T/full/metrics.json" counts.crowd_annotations) )) ] \
    && ok || bad "true positives + missed objects != non-crowd annotations"
  [ "$(get "$T/full/metrics.json" coco.per_class.0.name)" = person ] && ok || bad "per_class[0] is not person"
  [ "$(get "$T/full/metrics.json" coco.per_class.79.id)" = 90 ] && ok || bad "per_class[79].id is not 90"
  sha=$(sha256sum "$M" | cut -d' ' -f1)
  [ "$(get "$T/full/metrics.json" model_sha256)" = "$sha" ] && ok || bad "model_sha256 is not sha256sum's"
  [ "$(get "$T/full/metrics.json" runtime.threads)" = 2 ] && ok || bad "runtime.threads != 2"
  [ "$(get "$T/full/metrics.json" runtime.contract)" = end2end ] && ok || bad "runtime.contract is not end2end"
  [ "$(get "$T/full/metrics.json" latency.count)" = 216 ] && ok || bad "latency.count != 216"
  for k in options.conf options.iou options.max_det options.pre_nms_topk latency.mean_ms latency.median_ms \
           latency.p90_ms latency.throughput_per_s timing.wall_ms timing.image_decode_ms timing.preprocess_ms \
           timing.image_wait_ms timing.inference_ms timing.decode_nms_ms timing.coco_eval_ms timing.non_inference_fraction; do
    get "$T/full/metrics.json" "$k" >/dev/null && ok || bad "metrics.json lacks $k"
  done
  [ "$(get "$T/full/metrics.json" options.conf)" = 0.001 ] && ok || bad "options.conf is not 0.001"
  printf '    time split:'
  for k in wall_ms setup_ms warmup_ms image_decode_ms image_wait_ms preprocess_ms inference_ms decode_nms_ms coco_eval_ms \
           non_inference_fraction; do printf ' %s %.4g' "$k" "$(get "$T/full/metrics.json" timing.$k)"; done; echo
fi

# ---- image selection -------------------------------------------------------------------------
mkdir "$T/sel"
"$BIN" eval "$M" --ann "$ANN" --images "$IMG" --max-images 4 --warmup 0 --skip-latency 1 --threads 2 --quiet \
  --out "$T/sel/m4.json" --detections-out "$T/sel/d4.json" >"$T/sel/stdout" 2>"$T/sel/stderr"
if [ $? -ne 0 ]; then bad "--max-images 4: failed"; sed 's/^/    /' "$T/sel/stderr"; else
  [ "$(get "$T/sel/m4.json" counts.images)" = 4 ] && ok || bad "--max-images 4: counts.images != 4"
  [ "$(get "$T/sel/m4.json" coco.num_images)" = 4 ] && ok || bad "--max-images 4: coco.num_images != 4"
  [ "$(get "$T/sel/m4.json" latency.count)" = 3 ] && ok || bad "--skip-latency 1 of 4: latency.count != 3"
  [ ! -s "$T/sel/stderr" ] && ok || bad "--quiet run wrote to stderr"
  "$CHECK" recheck "$ANN" "$T/sel/d4.json" "$T/sel/m4.json" --first 4 && ok || bad "--max-images 4: re-evaluation differs"
  # the detections of those 4 images are the ones the full run had for them
  if [ -f "$T/full/dets.json" ]; then
    "$CHECK" recheck "$ANN" "$T/full/dets.json" "$T/sel/m4.json" --first 4 && ok \
      || bad "--max-images 4: stats differ from the full run's detections on the same images"
  fi
fi
printf '# three images, out of order\n\n6818\n139 # the first one\n  17627\n' >"$T/sel/ids.txt"
# one model thread: images are decoded on the spare core (when there is one) during inference
"$BIN" eval "$M" --ann "$ANN" --images "$IMG" --image-ids "$T/sel/ids.txt" --threads 1 --quiet \
  --out "$T/sel/mi.json" --detections-out "$T/sel/di.json" >"$T/sel/stdout" 2>"$T/sel/stderr"
if [ $? -ne 0 ]; then bad "--image-ids: failed"; sed 's/^/    /' "$T/sel/stderr"; else
  [ "$(get "$T/sel/mi.json" counts.images)" = 3 ] && ok || bad "--image-ids: counts.images != 3"
  "$CHECK" recheck "$ANN" "$T/sel/di.json" "$T/sel/mi.json" --ids "$T/sel/ids.txt" && ok || bad "--image-ids: re-evaluation differs"
  if [ "$(nproc)" -gt 1 ]; then
    [ "$(get "$T/sel/mi.json" timing.image_prefetch)" = true ] && ok || bad "--threads 1 on $(nproc) cores: no prefetch"
  fi
  # the same images through the full run give the same stats (prefetch or not, 1 or 2 threads)
  if [ -f "$T/full/dets.json" ]; then
    "$CHECK" recheck "$ANN" "$T/full/dets.json" "$T/sel/mi.json" --ids "$T/sel/ids.txt" && ok \
      || bad "--image-ids: stats differ from the full run's detections on the same images"
  fi
  grep -q '"image_id": *6818' "$T/sel/di.json" && ! grep -q '"image_id": *802' "$T/sel/di.json" && ok \
    || bad "--image-ids: detections are not of the listed images"
fi
# --spread / --compare (spread.h; hand cases in test_eval_spread): a model against its own detections differs
# by 0 +- 0; the full run's detections hold the same ones for these 4 images
if [ -f "$T/sel/d4.json" ]; then
  "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --max-images 4 --warmup 0 --threads 2 --quiet --compare "$T/sel/d4.json" \
    --spread 20 --out "$T/sel/mc.json" >"$T/sel/cmp" 2>&1 || bad "--compare: failed: $(cat "$T/sel/cmp")"
  grep -q "sampling spread over 20 random halves of the 4 images" "$T/sel/cmp" && ok || bad "--spread line: $(cat "$T/sel/cmp")"
  grep -q "mAP50-95 +0.0000 +- 0.0000, mAP50 +0.0000 +- 0.0000" "$T/sel/cmp" && ok || bad "--compare with itself: $(cat "$T/sel/cmp")"
  [ "$(get "$T/sel/mc.json" spread.draws)" = 20 ] && [ "$(get "$T/sel/mc.json" spread.diff_ap)" = 0 ] && ok \
    || bad "metrics spread entry"
  [ -f "$T/full/dets.json" ] && { "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --max-images 4 --warmup 0 --threads 2 \
    --quiet --compare "$T/full/dets.json" | grep -q "mAP50-95 +0.0000 +- 0.0000" && ok || bad "--compare full-run detections"; }
fi
O2="$T/o2"; mkdir "$O2"
expect compare_missing 1 "nothere.json" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --compare "$T/nothere.json" \
  --out "$O2/m.json" --detections-out "$O2/d.json" --quiet
no_outputs compare_missing_nofile "$O2"
expect compare_no_draws 2 "--compare needs --spread" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --compare "$T/x.json" --spread 0
expect spread_bad 2 "--spread" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --spread -3
expect spread_one_image 2 "at least 2 images" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --max-images 1 --spread 5
"$BIN" eval --help >"$T/help" 2>&1 && grep -q -- "--imgsz" "$T/help" && grep -qi "fixed" "$T/help" && ok \
  || bad "eval --help fails or does not explain --imgsz"

# ---- bad input: one line, exit 1, nothing written ---------------------------------------------
O="$T/o"; mkdir "$O"
OUTS=(--out "$O/metrics.json" --detections-out "$O/dets.json" --threads 2 --quiet)
expect missing_ann 1 "nope.json.*(no such|cannot)" -- "$BIN" eval "$M" --ann "$T/nope.json" --images "$IMG" "${OUTS[@]}"
no_outputs missing_ann_nofile "$O"
printf '{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [' >"$T/broken.json"
expect malformed_ann 1 "broken.json" -- "$BIN" eval "$M" --ann "$T/broken.json" --images "$IMG" "${OUTS[@]}"
no_outputs malformed_ann_nofile "$O"
printf '[1, 2, 3]\n' >"$T/list.json"
expect ann_not_object 1 "list.json" -- "$BIN" eval "$M" --ann "$T/list.json" --images "$IMG" "${OUTS[@]}"
no_outputs ann_not_object_nofile "$O"
# an image listed in the annotation file but missing on disk
printf '{"images": [{"id": 139, "file_name": "000000000139.jpg"}, {"id": 7, "file_name": "gone.jpg"}],
 "categories": [{"id": 1, "name": "person"}], "annotations": []}\n' >"$T/gone.json"
expect missing_image 1 "$IMG/gone.jpg.*missing" -- "$BIN" eval "$M" --ann "$T/gone.json" --images "$IMG" "${OUTS[@]}"
no_outputs missing_image_nofile "$O"
# ids that are not in the annotation file, or not ids
printf '139\n123456789\n' >"$T/unknown_ids.txt"
expect unknown_id 1 "unknown_ids.txt.*123456789.*not an image of" -- \
  "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --image-ids "$T/unknown_ids.txt" "${OUTS[@]}"
no_outputs unknown_id_nofile "$O"
printf '139\nfoo.jpg\n' >"$T/bad_ids.txt"
expect bad_id_syntax 1 "bad_ids.txt:2" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --image-ids "$T/bad_ids.txt" "${OUTS[@]}"
no_outputs bad_id_syntax_nofile "$O"
expect missing_ids_file 1 "none.txt" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --image-ids "$T/none.txt" "${OUTS[@]}"
no_outputs missing_ids_file_nofile "$O"
# the model input size is fixed
expect imgsz 1 "640x640.*--imgsz 320" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --imgsz 320 "${OUTS[@]}"
no_outputs imgsz_nofile "$O"
expect missing_model 1 "nope.onnx" -- "$BIN" eval "$T/nope.onnx" --ann "$ANN" --images "$IMG" "${OUTS[@]}"
no_outputs missing_model_nofile "$O"
# failures in the middle of the run: a corrupt second image, a class the annotation file lacks
mkdir "$T/imgs"
ln -s "$IMG/000000000139.jpg" "$T/imgs/000000000139.jpg"
head -c 3000 "$IMG/000000000802.jpg" >"$T/imgs/000000000802.jpg"
printf '{"images": [{"id": 139, "file_name": "000000000139.jpg"}, {"id": 802, "file_name": "000000000802.jpg"}],
 "categories": [{"id": 1, "name": "person"}], "annotations": []}\n' >"$T/two.json"
printf '139\n' >"$T/first.txt"
expect class_beyond_categories 1 "class [0-9]+.*only 1 categor" -- \
  "$BIN" eval "$M" --ann "$T/two.json" --images "$T/imgs" --image-ids "$T/first.txt" --conf 0.001 "${OUTS[@]}"
no_outputs class_beyond_categories_nofile "$O"
printf '139\n802\n' >"$T/both.txt"
expect corrupt_image 1 "000000000802.jpg" -- \
  "$BIN" eval "$M" --ann "$ANN" --images "$T/imgs" --image-ids "$T/both.txt" --warmup 0 "${OUTS[@]}"
no_outputs corrupt_image_nofile "$O"
expect corrupt_image_prefetched 1 "000000000802.jpg" -- \
  "$BIN" eval "$M" --ann "$ANN" --images "$T/imgs" --image-ids "$T/both.txt" --warmup 0 "${OUTS[@]}" --threads 1
no_outputs corrupt_image_nofile "$O"
# unwritable outputs are found before the run
expect unwritable_out 1 "$T/no/dir/m.json" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --out "$T/no/dir/m.json"
expect unwritable_dets 1 "$T/no/dir/d.json" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --detections-out "$T/no/dir/d.json"
# a model whose output matches no YOLO contract
if /usr/bin/python3 -c "import onnx, numpy" 2>/dev/null; then
  /usr/bin/python3 "$YOLOQ_SRC_DIR/tests/cli/make_eval_models.py" "$T"
  expect wrong_contract 1 "wrong_contract.onnx.*\[1,5\]" -- \
    "$BIN" eval "$T/wrong_contract.onnx" --ann "$ANN" --images "$IMG" "${OUTS[@]}"
  no_outputs wrong_contract_nofile "$O"
  expect forced_contract 1 "wrong_contract.onnx" -- \
    "$BIN" eval "$T/wrong_contract.onnx" --ann "$ANN" --images "$IMG" --contract dfl "${OUTS[@]}"
  no_outputs forced_contract_nofile "$O"
else
  echo "note: /usr/bin/python3 with onnx missing: skipping the wrong-contract model"
fi

# ---- usage errors: exit 2 ---------------------------------------------------------------------
expect no_ann 2 "--ann" -- "$BIN" eval "$M" --images "$IMG"
expect no_images 2 "--images" -- "$BIN" eval "$M" --ann "$ANN"
expect no_model 2 "MODEL" -- "$BIN" eval --ann "$ANN" --images "$IMG"
expect both_selections 2 "exclude" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --max-images 3 --image-ids "$T/first.txt"
expect same_outputs 2 "same file" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --out "$O/x.json" --detections-out "$O/x.json"
expect bad_conf 2 "conf" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --conf -1
expect bad_contract 2 "contract" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --contract nms
expect skip_all 2 "skip-latency" -- "$BIN" eval "$M" --ann "$ANN" --images "$IMG" --max-images 2 --skip-latency 2
no_outputs usage_nofile "$O"

echo "eval CLI tests: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
