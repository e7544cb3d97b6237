#!/usr/bin/env bash
# Side-by-side latency: yoloq vs ONNX Runtime (CPU EP) on the same model, input
# shape and thread count, alternating the two ROUNDS times so that machine noise
# hits both alike. Prints each engine's median and p90 (median over rounds),
# peak RSS, and the ratio yoloq/ORT (below 1.0 means yoloq is faster); with
# JSON_OUT set, appends one JSON object per run to that file.
#   bench/compare_ort.sh MODEL.onnx [THREADS=2] [RUNS=10] [ROUNDS=3]
# YQ_ARGS adds options to `yoloq bench`, e.g. YQ_ARGS="--engine fakequant" times QCDQ files
# as fake-quant instead of integer convolutions. ORT_MODEL: the file ORT runs (default MODEL),
# e.g. ORT's best int8 form of the model that yoloq runs in its own form.
# A benchmark, not a test: it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?usage: bench/compare_ort.sh MODEL.onnx [THREADS] [RUNS] [ROUNDS]}
THREADS=${2:-2}; RUNS=${3:-10}; ROUNDS=${4:-3}; WARMUP=2
ORT_MODEL=${ORT_MODEL:-$MODEL}
YOLOQ=${YOLOQ_BIN:-build/yoloq}
yq=(); ort=()
for r in $(seq "$ROUNDS"); do
  # shellcheck disable=SC2086
  yq+=("$("$YOLOQ" bench "$MODEL" --threads "$THREADS" --runs "$RUNS" --warmup "$WARMUP" ${YQ_ARGS:-} --json - | tr -d '\n\t ')")
  ort+=("$(node bench/ort_bench.js "$ORT_MODEL" "$THREADS" "$RUNS" "$WARMUP")")
  echo "round $r done" >&2
done
node -e '
const parse = (s) => s.split("\n").filter(Boolean).map((l) => JSON.parse(l));
const med = (a) => { a = [...a].sort((x, y) => x - y); return a[Math.floor(a.length / 2)]; };
const y = parse(process.argv[1]), o = parse(process.argv[2]);
const r = {model: process.argv[3], ort_model: process.argv[6], threads: Number(process.argv[4]), runs_per_round: Number(process.argv[5]), rounds: y.length,
  yoloq: {median_ms: med(y.map((v) => v.median_ms)), p90_ms: med(y.map((v) => v.p90_ms)), peak_rss_mb: Math.max(...y.map((v) => v.peak_rss_mb))},
  onnxruntime: {median_ms: med(o.map((v) => v.median_ms)), p90_ms: med(o.map((v) => v.p90_ms)), peak_rss_mb: Math.max(...o.map((v) => v.peak_rss_mb))}};
r.ratio = r.yoloq.median_ms / r.onnxruntime.median_ms;
console.log(`${r.model}${r.ort_model !== r.model ? ` (ORT: ${r.ort_model})` : ""}  threads ${r.threads}: yoloq median ${r.yoloq.median_ms.toFixed(1)} ms p90 ${r.yoloq.p90_ms.toFixed(1)} ms RSS ${r.yoloq.peak_rss_mb.toFixed(0)} MB | onnxruntime median ${r.onnxruntime.median_ms.toFixed(1)} ms p90 ${r.onnxruntime.p90_ms.toFixed(1)} ms RSS ${r.onnxruntime.peak_rss_mb.toFixed(0)} MB | ratio yoloq/ort ${r.ratio.toFixed(3)}`);
if (process.env.JSON_OUT) require("fs").appendFileSync(process.env.JSON_OUT, JSON.stringify(r) + "\n");
' "$(printf '%s\n' "${yq[@]}")" "$(printf '%s\n' "${ort[@]}")" "$(basename "$MODEL")" "$THREADS" "$RUNS" "$(basename "$ORT_MODEL")"
