#!/usr/bin/env bash
# Side-by-side latency: yoloq vs ONNX Runtime (CPU EP) on the same model, input
# shape and thread count, alternating the two ROUNDS times so that machine noise
# hits both alike. Prints each engine's median of medians and the ratio
# yoloq/ORT (below 1.0 means yoloq is faster).
#   bench/compare_ort.sh MODEL.onnx [THREADS=2] [RUNS=10] [ROUNDS=3]
# A benchmark, not a test: it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?usage: bench/compare_ort.sh MODEL.onnx [THREADS] [RUNS] [ROUNDS]}
THREADS=${2:-2}; RUNS=${3:-10}; ROUNDS=${4:-3}; WARMUP=2
YOLOQ=${YOLOQ_BIN:-build/yoloq}
yq=(); ort=()
for r in $(seq "$ROUNDS"); do
  j=$("$YOLOQ" bench "$MODEL" --threads "$THREADS" --runs "$RUNS" --warmup "$WARMUP" --json -)
  yq+=("$(printf '%s' "$j" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).median_ms))')")
  o=$(node bench/ort_bench.js "$MODEL" "$THREADS" "$RUNS" "$WARMUP")
  ort+=("$(printf '%s' "$o" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).median_ms))')")
  echo "round $r: yoloq ${yq[-1]} ms, onnxruntime ${ort[-1]} ms" >&2
done
node -e '
const med = (a) => { a = a.map(Number).sort((x, y) => x - y); return a[Math.floor(a.length / 2)]; };
const y = med(process.argv[1].split(" ")), o = med(process.argv[2].split(" "));
console.log(`${process.argv[3]}  threads ${process.argv[4]}: yoloq median ${y.toFixed(1)} ms, onnxruntime median ${o.toFixed(1)} ms, ratio yoloq/ort ${(y / o).toFixed(3)}`);
' "${yq[*]}" "${ort[*]}" "$(basename "$MODEL")" "$THREADS"
