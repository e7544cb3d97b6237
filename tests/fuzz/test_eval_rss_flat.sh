#!/usr/bin/env bash
# `yoloq eval` keeps flat memory per image (cheap CI version of bench/eval_rss.sh):
# the peak RSS of eval on the first 150 dev
# images may exceed that on the first 30 by at most 1 MiB + 64 KiB per extra
# image. What legitimately grows is what COCO matching needs per image: the kept
# detections (<= 300 x 56 B) and their per-image match records; measured growth
# ~24 KiB/image. Anything that leaks an image, a tensor or a per-image
# arena (>= 100 KiB each) fails. Skipped under YOLOQ_SANITIZED=1 (ASan's
# allocator and quarantine change RSS by themselves); bench/eval_rss.sh runs the
# long version (2,160 images) and samples RSS during the run.
set -u
BIN=${YOLOQ_BIN:?}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
MODEL=$SHARED/models/yolov10n.onnx
ANN=$SHARED/data/coco/annotations/instances_val2017_dev216.json
[ -f "$MODEL" ] && [ -f "$ANN" ] || { echo "skip: $MODEL or $ANN missing"; exit 77; }
[ "${YOLOQ_SANITIZED:-0}" = 1 ] && { echo "skip: RSS is not meaningful under ASan (bench/eval_rss.sh for the long run)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
SMALL=30 LARGE=150

# peak_rss N: peak RSS (KiB) of eval on the first N images (getrusage's
# ru_maxrss through /usr/bin/time, else VmHWM sampled from /proc every 0.1 s);
# the detections count is in $T/mN.json
peak_rss() {
  local cmd=("$BIN" eval "$MODEL" --ann "$ANN" --images "$SHARED/data/coco/val2017" --max-images "$1" --threads 2
             --quiet --warmup 0 --out "$T/m$1.json")
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o "$T/rss$1" "${cmd[@]}" >/dev/null 2>"$T/err$1" ||
      { echo "FAIL: eval on $1 images failed: $(head -3 "$T/err$1")" >&2; return 1; }
    tail -1 "$T/rss$1"; return 0
  fi
  "${cmd[@]}" >/dev/null 2>"$T/err$1" &
  local pid=$! hwm=0 v
  while [ -r "/proc/$pid/status" ]; do
    v=$(awk '/^VmHWM:/{print $2}' "/proc/$pid/status" 2>/dev/null) || true
    [ -n "$v" ] && hwm=$v
    sleep 0.1
  done
  wait "$pid" || { echo "FAIL: eval on $1 images failed: $(head -3 "$T/err$1")" >&2; return 1; }
  echo "$hwm"
}
small=$(peak_rss $SMALL) || exit 1
large=$(peak_rss $LARGE) || exit 1
dets() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['counts']['detections'])" "$1"; }
ds=$(dets "$T/m$SMALL.json") dl=$(dets "$T/m$LARGE.json")
bound=$(( 1024 + (LARGE - SMALL) * 64 ))
diff=$(( large - small ))
echo "eval peak RSS: $small KiB at $SMALL images ($ds detections), $large KiB at $LARGE images ($dl detections):" \
  "+$diff KiB = $(( diff / (LARGE - SMALL) )) KiB/image; bound $bound KiB"
[ "$small" -gt 0 ] && [ "$dl" -gt "$ds" ] || { echo "FAIL: no RSS sample or no detections"; exit 1; }
[ "$diff" -le "$bound" ] || { echo "FAIL: RSS grows with the number of images beyond the bound"; exit 1; }
