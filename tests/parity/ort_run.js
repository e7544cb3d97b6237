// Test-only oracle: run a model with ONNX Runtime (CPU EP) on raw tensors.
//   node ort_run.js MODEL.onnx THREADS OUT_PREFIX IN_SPEC...
// ORT_OPT=disabled|basic|extended|all (environment) sets the graph optimization level (default all).
// IN_SPEC = name:dtype:d0xd1x...:file.bin (raw little-endian data).
// Writes OUT_PREFIX<k>.bin (raw) and OUT_PREFIX.json ({outputs:[{name,dtype,dims}]}).
'use strict';
const fs = require('fs');
const path = require('path');
let ort;
try {
  ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
} catch (e) {
  console.error('SKIP: onnxruntime-node is not installed in tests/parity (scripts/setup.sh test installs it)');
  process.exit(77);
}
const ctor = {float32: Float32Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array};

async function main() {
  const [model, threads, outPrefix, ...specs] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionProviders: ['cpu'],
    graphOptimizationLevel: process.env.ORT_OPT || 'all',
  });
  const feeds = {};
  for (const spec of specs) {
    const [name, dtype, dimStr, file] = spec.split(':');
    const dims = dimStr.split('x').map(Number);
    const buf = fs.readFileSync(file);
    const C = ctor[dtype];
    const data = new C(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    feeds[name] = new ort.Tensor(dtype, data, dims);
  }
  const results = await session.run(feeds);
  const meta = {outputs: []};
  session.outputNames.forEach((name, k) => {
    const t = results[name];
    fs.writeFileSync(`${outPrefix}${k}.bin`, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    meta.outputs.push({name, dtype: t.type, dims: t.dims});
  });
  fs.writeFileSync(`${outPrefix}.json`, JSON.stringify(meta));
}
main().catch((e) => { console.error(`ort_run: ${e.message}`); process.exit(1); });
