// Writes the graph ONNX Runtime (CPU EP, all graph optimizations) actually
// runs for a model, so a test can check which nodes it fused.
//   node tests/parity/ort_optimized.js MODEL.onnx OUT.onnx
'use strict';
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
ort.InferenceSession.create(process.argv[2], {
  graphOptimizationLevel: 'all', optimizedModelFilePath: process.argv[3], logSeverityLevel: 3,
  executionProviders: ['cpu'],
}).then(() => process.exit(0), (e) => { console.error(`ort_optimized: ${e.message}`); process.exit(1); });
