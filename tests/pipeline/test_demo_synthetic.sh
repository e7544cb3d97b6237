#!/usr/bin/env bash
# yoloq demo without shared data: it builds its own detector and images (src/pipeline/synthetic.c)
# and runs the pipeline on them. Needs nothing but the binary (ORT is used when present).
#  - YOLOQ_DATA pointing nowhere makes the demo fall back to the synthetic set, and says so;
#  - float32 scores mAP 1.0 on it (the hand-set weights find every square exactly);
#  - the summary, pictures and the printed summary path are there; a second run with --resume
#    skips every step; the synthetic files are byte-identical between runs (deterministic).
set -u
BIN=${YOLOQ_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0; passes=0
check() { if eval "$2"; then passes=$((passes+1)); else echo "FAIL $1"; fails=$((fails+1)); fi; }
VARIANTS=baseline,w8a8,w4a8
[ "${YOLOQ_SANITIZED:-0}" = 1 ] && VARIANTS=baseline,w4a8

YOLOQ_DATA="$T/none" "$BIN" demo --run-dir "$T/d" --variants $VARIANTS --threads 2 >"$T/out" 2>"$T/err"; rc=$?
check "demo exits 0 (rc=$rc: $(tail -2 "$T/err"))" '[ $rc -eq 0 ]'
check "falls back to the synthetic set and says so" 'grep -q "building a synthetic detector" "$T/err"'
check "prints the summary path" 'grep -q "^summary: $T/d/summary.md$" "$T/out"'
check "summary exists" '[ -s "$T/d/summary.md" ]'
check "float32 mAP50-95 is 1.0" 'grep -q "^| baseline-fp32 | 1.0000 | 1.0000 | \(1.0000\|–\) | (reference)" "$T/d/summary.md"'
check "float16 row" 'grep -q "^| baseline-fp16 | " "$T/d/summary.md"'
check "detections and duplicates column" 'grep -qE "^\| baseline-fp32 \| .* \| [1-9][0-9]* \([0-9]+\) \|$" "$T/d/summary.md"'
check "w4a8 row with Q/DQ nodes" 'grep -qE "^\| w4a8 \| [01]\.[0-9]+ \| [01]\.[0-9]+ \| ([01]\.[0-9]+|–) \| [-+]?[0-9.]+ \| [0-9.]+ kB \| [1-9][0-9]* \|" "$T/d/summary.md"'
check "pictures" '[ -s "$T/d/plots/accuracy_vs_size.png" ] && [ -s "$T/d/plots/sensitivity.png" ] && [ -s "$T/d/plots/detections_1.png" ]'
check "PNG signature" '[ "$(head -c 8 "$T/d/plots/detections_1.png" | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ]'
# the sensitivity step: the bundle's ranking is the one `yoloq sensitivity` gives for the same setting
check "metrics/sensitivity.json" '[ -s "$T/d/metrics/sensitivity.json" ]'
check "summary has the sensitivity table" 'grep -q "^## Layer sensitivity" "$T/d/summary.md" && grep -q "^| 1 | \`" "$T/d/summary.md"'
"$BIN" sensitivity "$T/d/synthetic/synthetic-squares.onnx" --calib "$T/d/synthetic/calib.txt" --acts int8 \
  --json "$T/sens.json" --threads 2 --quiet >/dev/null 2>&1
check "same ranking as yoloq sensitivity" '/usr/bin/python3 -c "
import json, sys
a = json.load(open(\"$T/sens.json\")); b = json.load(open(\"$T/d/metrics/sensitivity.json\"))
k = lambda d: [(l[\"name\"], l[\"gain\"]) for l in d[\"layers\"]]
sys.exit(not (k(a) == k(b) and len(k(a)) > 0 and b[\"bits\"] == 4 and b[\"acts\"] == \"int8\"))"'
sha_before=$(cat "$T/d/synthetic/synthetic-squares.onnx" "$T/d/synthetic/instances_synthetic.json" | sha256sum)
"$BIN" demo --synthetic --run-dir "$T/d" --variants $VARIANTS --threads 2 --resume --quiet >"$T/out2" 2>"$T/err2"; rc=$?
check "resume exits 0" '[ $rc -eq 0 ]'
check "every step resumed ($(head -1 "$T/out2"))" 'grep -qE "0 failed, ([0-9]+) of \1 step\(s\) resumed" "$T/out2"'
check "synthetic files deterministic" '[ "$(cat "$T/d/synthetic/synthetic-squares.onnx" "$T/d/synthetic/instances_synthetic.json" | sha256sum)" = "$sha_before" ]'
"$BIN" demo --bogus >/dev/null 2>&1; rc=$?
check "unknown option is a usage error" '[ $rc -eq 2 ]'
echo "demo tests: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
