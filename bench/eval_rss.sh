#!/usr/bin/env bash
# Memory of `yoloq eval` over many images: is it flat per image?
#
#   bench/eval_rss.sh [--repeat R] [--threads N] [--model M.onnx] [--json OUT.json] [--max-images N]
#
# Builds, in a temporary folder, a COCO annotation file that repeats the dev set
# (shared/data/coco, 216 images) R times (default 10: 2,160 images) with new
# image and annotation ids and file names r<k>/<file> (r<k> a symlink to
# val2017), runs `yoloq eval` on it and samples the process's VmRSS from
# /proc/PID/status about every 0.5 s, together with the number of images done
# (read from eval's progress bar, which `script` gives a terminal to). Prints
# RSS after the first 100 images, at the end of inference, the peak, and the
# slope (KiB per image, least squares over the samples from image 100 to the
# end of inference), and the part of that slope the detections themselves
# explain (they are kept for COCO matching: counts.detections × sizeof(yq_coco_det)
# = 56 bytes, taken from the metrics file). Also writes that as JSON (--json
# OUT.json) and the samples to OUT.samples.txt.
# Needs /usr/bin/python3 (annotation file and the statistics) and script(1).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${YOLOQ_BIN:-$HERE/build/yoloq}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$HERE/../shared}}
MODEL=$SHARED/models/yolov10n.onnx
REPEAT=10 THREADS=2 JSON_OUT="" MAXIMG=0
while [ $# -gt 0 ]; do
  case $1 in
    --repeat) REPEAT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    --max-images) MAXIMG=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "eval_rss.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
ANN=$SHARED/data/coco/annotations/instances_val2017_dev216.json
[ -x "$BIN" ] && [ -f "$MODEL" ] && [ -f "$ANN" ] || { echo "eval_rss.sh: need $BIN, $MODEL, $ANN" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

for k in $(seq 0 $((REPEAT - 1))); do ln -s "$SHARED/data/coco/val2017" "$T/r$k"; done
/usr/bin/python3 - "$ANN" "$REPEAT" "$T/ann.json" <<'EOF'
import json, sys
src, rep, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = json.load(open(src))
stride = 10 ** (len(str(max(i["id"] for i in d["images"]))) + 1)
astride = 10 ** (len(str(max(a["id"] for a in d["annotations"]))) + 1)
images, anns = [], []
for k in range(rep):
    for im in d["images"]:
        im2 = dict(im); im2["id"] = im["id"] + k * stride
        im2["file_name"] = "r%d/%s" % (k, im["file_name"]); images.append(im2)
    for a in d["annotations"]:
        a2 = dict(a); a2["id"] = a["id"] + k * astride; a2["image_id"] = a["image_id"] + k * stride; anns.append(a2)
d["images"], d["annotations"] = images, anns
json.dump(d, open(out, "w"))
EOF
NIMG=$((216 * REPEAT)); [ "$MAXIMG" -gt 0 ] && [ "$MAXIMG" -lt "$NIMG" ] && NIMG=$MAXIMG
EXTRA=(); [ "$MAXIMG" -gt 0 ] && EXTRA=(--max-images "$MAXIMG")

# script(1) gives eval a terminal so it draws its progress bar (done/total) into $T/tty.log.
CMD=$(printf '%q ' exec "$BIN" eval "$MODEL" --ann "$T/ann.json" --images "$T" --threads "$THREADS" \
  --out "$T/metrics.json" "${EXTRA[@]}")
script -qfec "$CMD" "$T/tty.log" >/dev/null 2>&1 </dev/null &
SPID=$!
PID=""
for _ in $(seq 1 100); do
  PID=$(cat "/proc/$SPID/task/$SPID/children" 2>/dev/null | awk '{print $1}') || true
  [ -n "$PID" ] && break; sleep 0.05
done
[ -n "$PID" ] || { echo "eval_rss.sh: could not find the eval process" >&2; exit 1; }
t0=$(date +%s%N)
: >"$T/samples.txt" # seconds images_done rss_kib
while [ -r "/proc/$PID/status" ]; do
  rss=$(awk '/^VmRSS:/{print $2}' "/proc/$PID/status" 2>/dev/null || true)
  [ -n "$rss" ] || break
  done_n=$(tr '\r' '\n' <"$T/tty.log" | grep -o '\] [0-9]*/' | tail -1 | tr -dc 0-9 || true)
  echo "$(( ($(date +%s%N) - t0) / 1000000 )) ${done_n:-0} $rss" >>"$T/samples.txt"
  sleep 0.5
done
wait "$SPID" || { echo "eval_rss.sh: yoloq eval failed:"; tr '\r' '\n' <"$T/tty.log" | tail -5; exit 1; }
/usr/bin/python3 - "$T/samples.txt" "$T/metrics.json" "$NIMG" "$THREADS" "$MODEL" "${JSON_OUT:-}" <<'EOF'
import json, sys
samples = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
m = json.load(open(sys.argv[2]))
nimg, threads, model, out = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
ndet = m["counts"]["detections"]
peak = max(s[2] for s in samples)
# inference phase: samples with a known image count, up to the last image
inf = [s for s in samples if 0 < s[1] <= nimg]
first100 = next((s for s in inf if s[1] >= 100), None)
# the last sample before the last image (once it is done, COCO matching starts)
end = max([s for s in inf if s[1] < nimg] or inf, key=lambda s: (s[1], s[0]))
fit = [s for s in inf if s[1] >= 100]
slope = 0.0
if len(fit) >= 2 and fit[-1][1] > fit[0][1]:
    xs = [s[1] for s in fit]; ys = [s[2] for s in fit]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
det_kib = ndet * 56 / 1024 / nimg
r = {"model": model.split("/")[-1], "images": nimg, "threads": threads, "samples": len(samples),
     "wall_s": round(samples[-1][0] / 1000, 1),
     "rss_after_100_images_kib": first100[2] if first100 else None,
     "rss_end_of_inference_kib": end[2], "images_at_end_sample": end[1],
     "rss_peak_kib": peak, "rss_last_sample_kib": samples[-1][2],
     "slope_kib_per_image": round(slope, 3), "detections": ndet,
     "detections_kib_per_image": round(det_kib, 3),
     "slope_beyond_detections_kib_per_image": round(slope - det_kib, 3)}
print("yoloq eval RSS over %d images (%s, --threads %d, %d samples, %.0f s):" % (nimg, r["model"], threads, len(samples), r["wall_s"]))
print("  after the first 100 images  %8s KiB" % r["rss_after_100_images_kib"])
print("  at the end of inference     %8d KiB (image %d of %d)" % (end[2], end[1], nimg))
print("  peak (incl. COCO matching)  %8d KiB" % peak)
print("  slope after image 100       %8.2f KiB/image; kept detections explain %.2f KiB/image (%d x 56 B); beyond that %.2f KiB/image"
      % (slope, det_kib, ndet, slope - det_kib))
print(json.dumps(r))
if out:
    json.dump(r, open(out, "w"), indent=1)
    with open(out.rsplit(".json", 1)[0] + ".samples.txt", "w") as f:
        f.write("# ms images_done vmrss_kib\n" + "".join("%d %d %d\n" % s for s in samples))
EOF
