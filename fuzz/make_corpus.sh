#!/usr/bin/env bash
# Build the seed corpora in fuzz/corpus/<target>/ (git-ignored) from the ONNX
# node tests (package libonnx-testdata), the shared COCO data (../shared, or
# $YOLOQ_DATA) and the committed hand-written seeds in fuzz/seeds/. Only small
# excerpts are used: big seeds slow every mutation down. Missing sources are
# skipped with a note; the hand-written seeds are always there.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/fuzz/corpus}
SHARED=${YOLOQ_DATA:-${YOLOQ_SHARED_DIR:-$ROOT/../shared}}
NODE=${ONNX_NODE_TESTS:-/usr/share/libonnx-testdata/data/node}
mkdir -p "$OUT"/onnx_model "$OUT"/coco_json "$OUT"/image "$OUT"/recipe
for t in onnx_model coco_json image recipe; do
  [ -d "$ROOT/fuzz/seeds/$t" ] && cp "$ROOT/fuzz/seeds/$t"/* "$OUT/$t/" 2>/dev/null || true
done

# ONNX: every node-test model under 4 KiB (about 900 of them, every operator).
if [ -d "$NODE" ]; then
  find "$NODE" -name model.onnx -size -4k | while read -r m; do
    cp "$m" "$OUT/onnx_model/$(basename "$(dirname "$m")").onnx"
  done
else
  echo "make_corpus: $NODE missing (apt-get install libonnx-testdata): no ONNX node-test seeds"
fi

# COCO: the first images of the dev annotation file with their annotations and
# categories, detections for them, and the two joined by a NUL (the target
# splits there: ground truth, then detections).
ANN=$SHARED/data/coco/annotations/instances_val2017_dev216.json
if [ -f "$ANN" ] && command -v python3 >/dev/null; then
  python3 - "$ANN" "$SHARED/eval-vectors" "$OUT/coco_json" <<'PY'
import json, os, sys
ann, vec, out = sys.argv[1:4]
gt = json.load(open(ann))
for k, nimg in enumerate((1, 2, 4)):
    imgs = gt["images"][k * 4:k * 4 + nimg]
    ids = {i["id"] for i in imgs}
    anns = [a for a in gt["annotations"] if a["image_id"] in ids][:12]
    for a in anns:
        a.pop("segmentation", None) if k != 1 else None
    cats = [c for c in gt["categories"] if c["id"] in {a["category_id"] for a in anns}] or gt["categories"][:2]
    g = {"images": imgs, "annotations": anns, "categories": cats}
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"],
             "bbox": [round(v + 1.5, 2) for v in a["bbox"]], "score": round(0.9 - 0.1 * j, 3)}
            for j, a in enumerate(anns[:8])]
    gs, ds = json.dumps(g), json.dumps(dets)
    open(os.path.join(out, f"gt_dev_{k}.json"), "w").write(gs)
    open(os.path.join(out, f"dets_dev_{k}.json"), "w").write(ds)
    open(os.path.join(out, f"gt_dets_dev_{k}.bin"), "wb").write(gs.encode() + b"\0" + ds.encode())
edge = os.path.join(vec, "gt_edge12.json")
if os.path.exists(edge) and os.path.getsize(edge) < 64 << 10:
    open(os.path.join(out, "gt_edge12.json"), "wb").write(open(edge, "rb").read())
PY
else
  echo "make_corpus: $ANN or python3 missing: only the hand-written COCO seeds"
fi

# Images: the target reads byte 0 as the flags (bit 0: ignore EXIF
# orientation), so each seed is that byte + the file. JPEG: the two smallest
# COCO images; PNG: small synthetic images in every colour type / bit depth
# (written with python's zlib), plus interlaced.
JPEGS=$(ls -S "$SHARED"/data/coco/val2017/*.jpg 2>/dev/null | tail -2 || true)
for f in $JPEGS; do
  { printf '\000'; cat "$f"; } >"$OUT/image/$(basename "$f")"
  { printf '\001'; cat "$f"; } >"$OUT/image/noorient_$(basename "$f")"
done
[ -n "$JPEGS" ] || echo "make_corpus: no COCO images under $SHARED: no JPEG seeds"
if command -v python3 >/dev/null; then
  python3 - "$OUT/image" <<'PY'
import os, struct, sys, zlib
out = sys.argv[1]
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
def png(name, w, h, depth, ctype, row, plte=None):
    raw = b"".join(b"\0" + row(y) for y in range(h))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    if plte: data += chunk(b"PLTE", plte)
    data += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(os.path.join(out, name), "wb").write(b"\0" + data)
w, h = 24, 16
png("rgb8.png", w, h, 8, 2, lambda y: bytes((x * 10 + y) & 255 for x in range(w) for _ in range(3)))
png("rgba8.png", w, h, 8, 6, lambda y: bytes((x * 7 + y * 3 + c) & 255 for x in range(w) for c in range(4)))
png("gray8.png", w, h, 8, 0, lambda y: bytes((x * 11 + y) & 255 for x in range(w)))
png("gray_alpha8.png", w, h, 8, 4, lambda y: bytes((x + y + c) & 255 for x in range(w) for c in range(2)))
png("rgb16.png", w, h, 16, 2, lambda y: b"".join(struct.pack(">HHH", x * 999, y * 777, 65535 - x) for x in range(w)))
png("gray1.png", 16, h, 1, 0, lambda y: bytes([0xA5 ^ y, 0x3C]))
png("palette4.png", 16, h, 4, 3, lambda y: bytes(((x + y) % 16) * 17 & 255 for x in range(8)),
    plte=bytes(v for i in range(16) for v in (i * 16, 255 - i * 16, i * 8)))
png("wide.png", 300, 2, 8, 2, lambda y: bytes((x + y) & 255 for x in range(900)))
PY
fi
for t in onnx_model coco_json image recipe; do
  echo "make_corpus: $t: $(ls "$OUT/$t" | wc -l) seeds, $(du -sk "$OUT/$t" | cut -f1) KiB"
done
