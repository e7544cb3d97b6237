// ONNX Runtime (CPU EP) latency on a synthetic input, for side-by-side runs
// with `yoloq bench`. Prints one JSON line: {median_ms, p90_ms, mean_ms, min_ms, runs, threads}.
//   node bench/ort_bench.js MODEL.onnx THREADS RUNS WARMUP
'use strict';
const path = require('path');
let ort;
try {
  ort = require(path.join(__dirname, '..', 'tests', 'parity', 'node_modules', 'onnxruntime-node'));
} catch (e) {
  console.error('onnxruntime-node is not installed: run scripts/setup.sh test (or npm install in tests/parity)');
  process.exit(2);
}

function percentile(sorted, q) {
  const pos = q * (sorted.length - 1), lo = Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

async function main() {
  const [model, threads, runs, warmup] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  const feeds = {};
  let seed = 1;
  for (const name of session.inputNames) {
    const meta = session.inputMetadata.find ? session.inputMetadata.find((m) => m.name === name) : null;
    const dims = (meta && meta.shape ? meta.shape : [1, 3, 640, 640]).map((d) => (typeof d === 'number' ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) { seed = (seed * 1103515245 + 12345) >>> 0; data[i] = seed / 4294967296; }
    feeds[name] = new ort.Tensor('float32', data, dims);
  }
  for (let i = 0; i < Number(warmup); i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < Number(runs); i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  console.log(JSON.stringify({median_ms: percentile(sorted, 0.5), p90_ms: percentile(sorted, 0.9), mean_ms: mean,
    min_ms: sorted[0], runs: ms.length, threads: Number(threads),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024}));
}
main().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
