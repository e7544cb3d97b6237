// Compare yoloq's outputs (yq<k>.bin) with ONNX Runtime's (ort<k>.bin) in DIR.
//   node compare.js DIR end2end     [1,K,6] rows: same classes, boxes within 0.01 px, scores within 1e-4
//   node compare.js DIR relative    max |diff| <= 1e-4 * max |ort output|
//   node compare.js DIR end2end TOL same with boxes within TOL px (quantized models: 0.05)
// Prints one summary line; exits 1 on a mismatch.
'use strict';
const fs = require('fs');
const [dir, mode, tolArg] = process.argv.slice(2);
const boxTol = tolArg === undefined ? 0.01 : Number(tolArg);
const meta = JSON.parse(fs.readFileSync(`${dir}/ort.json`));
const f32 = (p) => { const b = fs.readFileSync(p); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
let bad = 0;
meta.outputs.forEach((o, k) => {
  const ort = f32(`${dir}/ort${k}.bin`), yq = f32(`${dir}/yq${k}.bin`);
  if (ort.length !== yq.length) { console.log(`output ${k}: ${yq.length} values, ORT ${ort.length}`); bad++; return; }
  if (mode === 'end2end') {
    // Rows are (x1,y1,x2,y2,score,class) sorted by score; rows with near-equal
    // scores may come in either order, so each ORT row above 0.001 is matched to
    // a yoloq row of the same class, box within boxTol px (0.01) and score within 1e-4.
    // A full output (all K rows real detections) is cut at the K-th score: a
    // row within the score tolerance of that cut may have swapped with a
    // near-tie just outside yoloq's K rows, so it may stay unmatched.
    const rows = ort.length / 6;
    const cut = rows > 0 && ort[(rows - 1) * 6 + 4] > 0.001 ? ort[(rows - 1) * 6 + 4] : -Infinity;
    let maxBox = 0, maxScore = 0, checked = 0, atCut = 0;
    const used = new Uint8Array(rows);
    for (let i = 0; i < rows; i++) {
      if (ort[i * 6 + 4] <= 0.001) continue;
      checked++;
      let best = -1, bestErr = Infinity;
      for (let j = Math.max(0, i - 20); j < Math.min(rows, i + 21); j++) {
        if (used[j] || yq[j * 6 + 5] !== ort[i * 6 + 5]) continue;
        let e = 0;
        for (let c = 0; c < 4; c++) e = Math.max(e, Math.abs(yq[j * 6 + c] - ort[i * 6 + c]));
        if (e < bestErr && Math.abs(yq[j * 6 + 4] - ort[i * 6 + 4]) <= 1e-4) { bestErr = e; best = j; }
      }
      if ((best < 0 || bestErr > boxTol) && ort[i * 6 + 4] - cut <= 1e-4) { atCut++; continue; }
      if (best < 0 || bestErr > boxTol) { bad++; if (bad < 5) console.log(`row ${i} (class ${ort[i * 6 + 5]}, score ${ort[i * 6 + 4]}) has no match within tolerance`); continue; }
      used[best] = 1;
      maxBox = Math.max(maxBox, bestErr);
      maxScore = Math.max(maxScore, Math.abs(yq[best * 6 + 4] - ort[i * 6 + 4]));
    }
    console.log(`end2end: ${checked} detections compared, max box diff ${maxBox.toExponential(2)} px, max score diff ${maxScore.toExponential(2)}` +
                (atCut ? `; ${atCut} at the top-${rows} score cut without a match (near-tie swap)` : ''));
  } else {
    let maxAbs = 0, maxDiff = 0;
    for (let i = 0; i < ort.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(ort[i]));
      maxDiff = Math.max(maxDiff, Math.abs(ort[i] - yq[i]));
    }
    const rel = maxDiff / maxAbs;
    console.log(`relative: max |diff| ${maxDiff.toExponential(3)}, max |out| ${maxAbs.toExponential(3)}, ratio ${rel.toExponential(3)}`);
    if (!(rel <= 1e-4)) bad++;
  }
});
process.exit(bad ? 1 : 0);
