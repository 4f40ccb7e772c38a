/**
 * Worker side of test/reliability/fuzz.test.ts for the readers test/data/fuzz-worker.ts does not
 * cover: safetensors, model.json, ONNX, TorchScript files and image files that are not regular
 * files. Each case must throw a BastionError; anything else (another exception, a return) is a
 * problem. Reports each case's label before running it, so the test can name a hang.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { validateCheckpointMeta } from '../../src/io/checkpoint.js';
import { readImageFileSync } from '../../src/io/image.js';
import { parseOnnxModel } from '../../src/io/onnx.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { checkModelConfig } from '../../src/models/registry.js';
import { inspectTorchFile } from '../../src/models/torchscript.js';
import { importClassifier } from '../../src/models/imported.js';
import { ones } from '../../src/tensor/index.js';
import { BastionError } from '../../src/util/errors.js';
import { Random } from '../../src/util/random.js';

const port = parentPort;
if (port !== null) {
  const { seed, casesPerReader } = workerData as { seed: number; casesPerReader: number };
  const random = new Random(seed);
  const dir = mkdtempSync(join(tmpdir(), 'bastion-fuzz-'));
  const problems: string[] = [];
  let cases = 0;
  const noise = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => random.int(256));
  const mutate = (valid: Uint8Array): Uint8Array => {
    const kind = random.int(3);
    if (kind === 0) return valid.slice(0, random.int(valid.length));
    if (kind === 1) return noise(random.int(200));
    const out = valid.slice();
    for (let k = 0; k < 1 + random.int(8); k++) out[random.int(out.length)] = random.int(256);
    return out;
  };
  const run = async (label: string, read: () => unknown, mayPass = false): Promise<void> => {
    cases++;
    port.postMessage({ label });
    try {
      await read();
      if (!mayPass) problems.push(`${label}: accepted`);
    } catch (error) {
      if (!(error instanceof BastionError)) problems.push(`${label}: ${(error as Error)?.constructor?.name}: ${(error as Error)?.message ?? String(error)}`);
    }
  };

  const weights = ones([3, 2]);
  const safetensors = new Uint8Array(encodeSafetensors({ w: weights }));
  weights.dispose();
  const meta = new TextEncoder().encode(JSON.stringify({ format: 'bastion-checkpoint', version: 1, architecture: 'simple-cnn', config: { channels: 1, height: 28, width: 28, numClasses: 10 }, provenance: {} }));
  const onnx = noise(64);
  const torchscript = new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...noise(120)]);
  const readJsonMeta = (bytes: Uint8Array): void => {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    const checked = validateCheckpointMeta(value, 'fuzz/model.json');
    checkModelConfig(checked.config, 'fuzz/model.json');
  };
  for (let k = 0; k < casesPerReader; k++) {
    const st = mutate(safetensors);
    await run(`safetensors case ${k}`, () => decodeSafetensors(st, 'fuzz.safetensors'), true);
    const js = mutate(meta);
    await run(`model.json case ${k}`, () => {
      try {
        readJsonMeta(js);
      } catch (error) {
        if (error instanceof SyntaxError) return; // not JSON: the checkpoint reader reports it with the path
        throw error;
      }
    }, true);
    const ox = mutate(onnx);
    await run(`ONNX case ${k}`, () => parseOnnxModel(ox, 'fuzz.onnx'));
    const ts = join(dir, `fuzz-${k}.pt`);
    writeFileSync(ts, mutate(torchscript));
    await run(`TorchScript case ${k}`, () => inspectTorchFile(ts), true); // inspection may describe a non-TorchScript file
    await run(`TorchScript import case ${k}`, () => importClassifier(ts, {}));
  }
  // Every numeric field of a model config with out-of-range values.
  for (const field of ['channels', 'height', 'width', 'numClasses', 'kernel', 'hidden', 'base', 'heads', 'poolSize', 'widthFactor', 'dropout', 'latentNoise']) {
    for (const value of [1e12, -1, 0, Number.NaN, '3', Infinity, 2.5e9]) {
      const zeroAllowed = value === 0 && (field === 'dropout' || field === 'latentNoise');
      await run(`model.json config.${field} = ${String(value)}`, () => checkModelConfig({ [field]: value }, 'fuzz/model.json'), zeroAllowed);
    }
  }
  // Image "files" that are not regular files.
  const fifo = join(dir, 'fifo.png');
  execFileSync('mkfifo', [fifo]);
  for (const path of [dir, '/dev/zero', '/dev/null', fifo, join(dir, 'missing.png')]) await run(`image file ${path}`, () => readImageFileSync(path));
  rmSync(dir, { recursive: true, force: true });
  port.postMessage({ finished: true, problems, cases });
}
