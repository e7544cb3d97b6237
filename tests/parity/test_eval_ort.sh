#!/usr/bin/env bash
# `yoloq eval --engine ort`: ONNX Runtime (npm onnxruntime-node, CPU EP) runs the
# model through a persistent node process, yoloq keeps letterbox, decoding and COCO
# matching.
#  - FP32 yolov10n on 8 dev images: the same detections as yoloq's engine, so mAP50-95
#    and mAP50 within 0.001 and the detection count within 1 %; the metrics file says
#    engine "ort" and ORT's version;
#  - `yoloq run --engine ort`: the same detections as yoloq's engine on one image;
#  - a W8A8 QCDQ export: ORT runs it (Q/DQ through ORT's own kernels) and lands within
#    0.03 mAP50-95 of yoloq's fake-quant path on 4 images (A8 codes flip where the two
#    engines' float sums straddle a rounding tie, so detections may differ a little);
#  - failures, one error line each, exit 1, no output file: onnxruntime-node missing,
#    node dying at start, node dying mid-run (the 4.9 MB input write must not kill
#    yoloq with SIGPIPE), an answer with the wrong output shape.
set -u
BIN=${YOLOQ_BIN:?}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$YOLOQ_SRC_DIR/../shared}}
M="$SHARED/models/yolov10n.onnx"
ANN="$SHARED/data/coco/annotations/instances_val2017_dev216.json"
IMG="$SHARED/data/coco/val2017"
[ -f "$M" ] && [ -f "$ANN" ] && [ -d "$IMG" ] || { echo "SKIP: $SHARED (yolov10n.onnx, dev216, val2017) not found; set YOLOQ_DATA"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 77; }
[ -d "$HERE/node_modules/onnxruntime-node" ] || { echo "SKIP: onnxruntime-node not installed in tests/parity (scripts/setup.sh test installs it)"; exit 77; }
export YOLOQ_ORT_NODE_PATH="$HERE/node_modules"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fails=0; passes=0
ok() { passes=$((passes+1)); }
bad() { echo "FAIL $*"; fails=$((fails+1)); }
# json FILE KEY.PATH -> value (node, test-only)
json() { node -e 'let v=JSON.parse(require("fs").readFileSync(process.argv[1]));for(const k of process.argv[2].split("."))v=v[k];console.log(v)' "$1" "$2"; }
near() { awk -v v="$1" -v w="$2" -v t="$3" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(d <= t) }'; }
# expect NAME PATTERN -- command...: exit 1, one stderr line matching PATTERN
expect_fail() {
  local name=$1 pattern=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ "$rc" -ne 1 ] || ! grep -qiE -- "$pattern" "$T/err" || [ "$(wc -l <"$T/err")" -ne 1 ]; then
    bad "$name: rc=$rc, stderr:"; sed 's/^/    /' "$T/err"
  else ok; echo "  $name: $(cat "$T/err")"; fi
}
EV=(eval --ann "$ANN" --images "$IMG" --threads 2)

# ---- FP32: the same numbers as yoloq's engine --------------------------------------------
"$BIN" "${EV[@]}" "$M" --max-images 8 -o "$T/yq.json" >"$T/yq.out" 2>&1 || bad "yoloq engine eval: $(tail -1 "$T/yq.out")"
if "$BIN" "${EV[@]}" "$M" --max-images 8 --engine ort -o "$T/ort.json" >"$T/ort.out" 2>&1; then
  a=$(json "$T/yq.json" coco.stats.AP); b=$(json "$T/ort.json" coco.stats.AP)
  a50=$(json "$T/yq.json" coco.stats.AP50); b50=$(json "$T/ort.json" coco.stats.AP50)
  na=$(json "$T/yq.json" counts.detections); nb=$(json "$T/ort.json" counts.detections)
  echo "  fp32, 8 images: yoloq $a / $a50 ($na dets), ORT $b / $b50 ($nb dets)"
  near "$a" "$b" 0.001 && near "$a50" "$b50" 0.001 && ok || bad "fp32 mAP differs: $a/$a50 vs $b/$b50"
  near "$na" "$nb" "$(( na / 100 + 1 ))" && ok || bad "fp32 detection counts $na vs $nb"
  [ "$(json "$T/ort.json" runtime.engine)" = ort ] && ok || bad "runtime.engine is not ort"
  grep -q '"version"' "$HERE/node_modules/onnxruntime-node/package.json" &&
    [ "$(json "$T/ort.json" runtime.onnxruntime)" = "$(json "$HERE/node_modules/onnxruntime-node/package.json" version)" ] &&
    ok || bad "runtime.onnxruntime is not the package's version"
else bad "ORT engine eval failed: $(tail -1 "$T/ort.out")"; fi

# ---- yoloq run --engine ort: the same detections on one image (boxes 0.01 px, scores 1e-4) -------
I1="$IMG/000000000139.jpg"
if "$BIN" run "$M" --image "$I1" --json "$T/run_yq.json" --quiet && \
   "$BIN" run "$M" --image "$I1" --json "$T/run_ort.json" --engine ort --verbose >/dev/null 2>"$T/run_ort.err"; then
  node -e '
    const [a, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f)).detections);
    if (a.length !== b.length || a.length === 0) { console.error(`counts ${a.length} vs ${b.length}`); process.exit(1); }
    for (const d of a) {
      const m = b.find((e) => e.class_id === d.class_id && Math.abs(e.score - d.score) <= 1e-4 &&
                              e.box.every((v, i) => Math.abs(v - d.box[i]) <= 0.01));
      if (!m) { console.error("no ORT match for " + JSON.stringify(d)); process.exit(1); }
    }' "$T/run_yq.json" "$T/run_ort.json" && ok || bad "run --engine ort: detections differ"
  grep -q "inference .* ms in ONNX Runtime" "$T/run_ort.err" && ok || bad "run --engine ort --verbose: $(cat "$T/run_ort.err")"
else bad "run --engine ort failed"; fi

# ---- a W8A8 QCDQ export ---------------------------------------------------------------------
head -2 "$SHARED/data/coco/calib128.txt" | sed "s|^|$SHARED/data/coco/|" >"$T/calib.txt"
if "$BIN" quantize "$M" --weights int8 --acts int8 --calib "$T/calib.txt" -o "$T/w8a8.onnx" --threads 2 --quiet \
     >"$T/q.out" 2>&1; then
  "$BIN" "${EV[@]}" "$T/w8a8.onnx" --max-images 4 --engine fakequant -o "$T/fq.json" >"$T/fq.out" 2>&1 || bad "fakequant eval"
  if "$BIN" "${EV[@]}" "$T/w8a8.onnx" --max-images 4 --engine ort -o "$T/qort.json" >"$T/qort.out" 2>&1; then
    a=$(json "$T/fq.json" coco.stats.AP); b=$(json "$T/qort.json" coco.stats.AP)
    echo "  w8a8, 4 images: yoloq fake-quant $a, ORT $b"
    near "$a" "$b" 0.03 && ok || bad "w8a8 mAP differs: $a vs $b"
  else bad "ORT eval of the W8A8 export failed: $(tail -1 "$T/qort.out")"; fi
else bad "quantize failed: $(tail -1 "$T/q.out")"; fi

# ---- failures ---------------------------------------------------------------------------
mkdir "$T/o"
expect_fail "onnxruntime-node missing" "onnxruntime-node not found" -- \
  env YOLOQ_ORT_NODE_PATH="$T/nowhere" "$BIN" "${EV[@]}" "$M" --max-images 2 --engine ort -o "$T/o/m.json"
expect_fail "node dies at start" "yolov10n.onnx: ONNX Runtime \(node\) stopped while loading the model" -- \
  env YOLOQ_NODE=/bin/false "$BIN" "${EV[@]}" "$M" --max-images 2 --engine ort -o "$T/o/m.json"
# a fake node: says ready, then leaves without reading its input
printf '#!/bin/sh\necho "{\\"ready\\":true,\\"version\\":\\"fake\\",\\"inputs\\":[\\"images\\"],\\"outputs\\":[\\"output0\\"]}"\necho "fake node gives up" >&2\nexit 7\n' >"$T/quitter"
chmod +x "$T/quitter"
expect_fail "node dies mid-run" "stopped .*exit status 7.*fake node gives up" -- \
  env YOLOQ_NODE="$T/quitter" "$BIN" "${EV[@]}" "$M" --max-images 2 --engine ort -o "$T/o/m.json"
# a fake node answering with a [1,2,3] output
cat >"$T/liar" <<'JS'
#!/bin/sh
exec node -e '
process.stdout.write(JSON.stringify({ready: true, version: "fake", inputs: ["images"], outputs: ["output0"]}) + "\n");
let got = 0, need = -1, buf = Buffer.alloc(0);
process.stdin.on("data", (c) => {
  buf = Buffer.concat([buf, c]);
  if (need < 0) { const i = buf.indexOf(10); if (i < 0) return; need = JSON.parse(buf.subarray(0, i)).bytes; buf = buf.subarray(i + 1); }
  if (buf.length >= need) {
    process.stdout.write(JSON.stringify({outputs: [{name: "output0", dims: [1, 2, 3], bytes: 24}]}) + "\n");
    process.stdout.write(Buffer.alloc(24)); need = -1; buf = Buffer.alloc(0);
  }
});'
JS
chmod +x "$T/liar"
expect_fail "wrong output shape" "ONNX Runtime's output 'output0' is \[1,2,3\], yoloq's \[1,300,6\]" -- \
  env YOLOQ_NODE="$T/liar" "$BIN" "${EV[@]}" "$M" --max-images 2 --engine ort -o "$T/o/m.json"
[ -z "$(ls -A "$T/o")" ] && ok || bad "failed runs left files: $(ls -A "$T/o")"
expect_usage() { "$BIN" "${EV[@]}" "$M" --engine onnx >/dev/null 2>"$T/err"; [ $? -eq 2 ] && grep -q "auto, fakequant or ort" "$T/err"; }
expect_usage && ok || bad "--engine onnx: $(cat "$T/err")"

echo "eval --engine ort: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
