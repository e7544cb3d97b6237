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
# Decoder edge cases, from real files: a 40x40 crop of a preprocess vector
# (shared/preprocess-vectors, real photo content) re-encoded with each PNG row
# filter (None/Sub/Up/Average/Paeth: each unfilter path of libspng), split over
# several IDAT chunks, with ancillary chunks (gAMA, sRGB, tRNS, tEXt, pHYs);
# and crafted broken headers: PNGs cut after the signature / in IHDR / in IDAT,
# a bad CRC, a missing IEND, a huge IHDR (decompression bomb) over a tiny IDAT;
# JPEGs (smallest COCO image) cut after SOI, in the header, before SOS and in
# the middle of the scan, a SOF claiming 65500x65500, no EOI.
PV=$(ls "$SHARED"/preprocess-vectors/*letterbox320.png 2>/dev/null | head -1 || true)
SMALLJPEG=$(ls -S "$SHARED"/data/coco/val2017/*.jpg 2>/dev/null | tail -1 || true)
if command -v python3 >/dev/null; then
  python3 - "$OUT/image" "${PV:-}" "${SMALLJPEG:-}" <<'PY'
import os, struct, sys, zlib
out, pv, jpg = sys.argv[1], sys.argv[2], sys.argv[3]
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
SIG = b"\x89PNG\r\n\x1a\n"
def save(name, data):
    open(os.path.join(out, name), "wb").write(b"\0" + data)
def read_png_rgb8(path):  # non-interlaced 8-bit RGB only (what the vectors are)
    d = open(path, "rb").read()
    w, h, depth, ctype, _, _, il = struct.unpack(">IIBBBBB", d[16:29])
    assert (depth, ctype, il) == (8, 2, 0)
    i, idat = 8, b""
    while i < len(d):
        n, = struct.unpack(">I", d[i:i + 4]); t = d[i + 4:i + 8]
        if t == b"IDAT": idat += d[i + 8:i + 8 + n]
        i += 12 + n
    raw, bpp, stride, rows, prev = zlib.decompress(idat), 3, w * 3, [], bytearray(w * 3)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line)); prev = line
    return w, h, rows
def filt(f, line, prev, bpp=3):
    o = bytearray(len(line))
    for x in range(len(line)):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 0: pr = 0
        elif f == 1: pr = a
        elif f == 2: pr = b
        elif f == 3: pr = (a + b) // 2
        else:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
        o[x] = (line[x] - pr) & 255
    return bytes([f]) + bytes(o)
def encode(rows, w, filters, extra=b"", idat_split=1):
    raw, prev = b"", bytes(len(rows[0]))
    for y, r in enumerate(rows):
        raw += filt(filters[y % len(filters)], r, prev); prev = r
    z = zlib.compress(raw, 9); step = max(1, -(-len(z) // idat_split))
    idats = b"".join(chunk(b"IDAT", z[i:i + step]) for i in range(0, len(z), step))
    return SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", w, len(rows), 8, 2, 0, 0, 0)) + extra + idats + chunk(b"IEND", b"")
if pv and os.path.exists(pv):
    w, h, rows = read_png_rgb8(pv)
    cw = 40; x0, y0 = (w - cw) // 2 * 3, (h - cw) // 2
    crop = [r[x0:x0 + cw * 3] for r in rows[y0:y0 + cw]]
    for f, nm in enumerate(("none", "sub", "up", "avg", "paeth")):
        save("pv_filter_%s.png" % nm, encode(crop, cw, [f]))
    anc = (chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"sRGB", b"\0") + chunk(b"tRNS", struct.pack(">HHH", 1, 2, 3))
           + chunk(b"tEXt", b"Comment\0yoloq fuzz seed") + chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)))
    good = encode(crop, cw, [0, 1, 2, 3, 4], anc, idat_split=4)
    save("pv_mixed_filters_ancillary.png", good)
    save("png_cut_signature.png", good[:8])
    save("png_cut_ihdr.png", good[:20])
    save("png_cut_idat.png", good[:len(good) * 2 // 3])
    save("png_no_iend.png", good[:-12])
    bad = bytearray(good); bad[29] ^= 0xFF  # IHDR's CRC
    save("png_bad_crc.png", bytes(bad))
    bomb = SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b"")
    save("png_bomb_header.png", bomb)
else:
    print("make_corpus: no preprocess vectors: no PNG decoder seeds from real content")
if jpg and os.path.exists(jpg):
    d = open(jpg, "rb").read()
    def markers(d):  # (offset, marker) of each segment up to SOS
        i, m = 2, []
        while i + 4 <= len(d) and d[i] == 0xFF:
            mk = d[i + 1]; n, = struct.unpack(">H", d[i + 2:i + 4]); m.append((i, mk))
            if mk == 0xDA: break
            i += 2 + n
        return m
    ms = markers(d)
    sos = next((o for o, mk in ms if mk == 0xDA), None)
    sof = next((o for o, mk in ms if mk in (0xC0, 0xC1, 0xC2)), None)
    save("jpeg_cut_soi.jpg", d[:2])
    save("jpeg_cut_header.jpg", d[:ms[1][0] + 3 if len(ms) > 1 else 20])
    if sos:
        save("jpeg_cut_before_sos.jpg", d[:sos])
        save("jpeg_cut_scan.jpg", d[:sos + (len(d) - sos) // 2])
    save("jpeg_no_eoi.jpg", d[:-2])
    if sof:
        b = bytearray(d); b[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
        save("jpeg_sof_huge.jpg", bytes(b))
else:
    print("make_corpus: no COCO JPEG: no JPEG header seeds")
PY
fi
for t in onnx_model coco_json image recipe; do
  echo "make_corpus: $t: $(ls "$OUT/$t" | wc -l) seeds, $(du -sk "$OUT/$t" | cut -f1) KiB"
done
