/**
 * Loader throughput: MNIST train, batches of 128, shuffled, full epochs, through the DataLoader
 * (indexSelect + cast per batch). Prints images/s per epoch and the median. Target: at least 20x
 * the simple CNN's training rate (~3,500 images/s on the 2-core machine), i.e. >= 70,000 images/s.
 *
 * Run: npx tsc -p . && node dist/bench/loader.js [--epochs N] [--data-dir DIR]
 */
import { parseArgs } from 'node:util';
import { DataLoader } from '../src/data/loader.js';
import { loadDataset } from '../src/data/locate.js';
import { getNumThreads } from '../src/tensor/index.js';

const { values } = parseArgs({ options: { epochs: { type: 'string', default: '5' }, 'data-dir': { type: 'string' } } });
const epochs = Number(values.epochs);
const dataset = await loadDataset('mnist', { split: 'train', ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}) });
const loader = new DataLoader(dataset, { batchSize: 128, shuffle: true, seed: 0 });
const rates: number[] = [];
for (let epoch = 0; epoch < epochs; epoch++) {
  let images = 0;
  let checksum = 0;
  const start = performance.now();
  for await (const batch of loader.batches(epoch)) {
    images += batch.x.shape[0] as number;
    checksum += batch.y.shape[0] as number;
  }
  const seconds = (performance.now() - start) / 1000;
  if (checksum !== images) throw new Error('label count mismatch');
  rates.push(images / seconds);
  process.stdout.write(`epoch ${epoch}: ${images} images in ${seconds.toFixed(3)} s = ${Math.round(images / seconds).toLocaleString('en-US')} images/s\n`);
}
const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)] as number;
process.stdout.write(`MNIST DataLoader, batch 128, shuffled, ${getNumThreads()} threads: median ${Math.round(median).toLocaleString('en-US')} images/s ` +
  `(${(median / 3500).toFixed(0)}x the simple CNN's ~3,500 images/s training rate; target >= 70,000)\n`);
dataset.dispose();
