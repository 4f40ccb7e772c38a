/**
 * One test per input finding of issue #27 (15: image files, 16: model.json, registries and the
 * addon's integer arguments): each bad input gives a Bastion error naming the file or field, fast.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAttack } from '../../src/attacks/registry.js';
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import { decodeImage, encodePng, readImageFile, readImageFileSync } from '../../src/io/image.js';
import { parseSafetensorsHeader } from '../../src/io/safetensors.js';
import { createClassifier, loadModel, modelConfig } from '../../src/models/registry.js';
import { zeros } from '../../src/tensor/index.js';
import { BastionError, DataError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'bastion-inputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A PNG signature and IHDR chunk for a width x height RGB image (no pixel data needed). */
function pngHeader(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(33);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(bytes.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  bytes.set([8, 2, 0, 0, 0], 24);
  return bytes;
}

describe('finding 15: image files', () => {
  const rejects = async (path: string, pattern: RegExp): Promise<void> => {
    await assert.rejects(readImageFile(path), (e: unknown) => e instanceof DataError && e.message.startsWith(path) && pattern.test(e.message));
    assert.throws(() => readImageFileSync(path), (e: unknown) => e instanceof DataError && e.message.startsWith(path) && pattern.test(e.message));
  };

  it('refuses a directory, /dev/zero and a FIFO by name, without reading them', async () => {
    await rejects(dir, /directory/);
    await rejects('/dev/zero', /device/);
    const fifo = join(dir, 'pipe.png');
    execFileSync('mkfifo', [fifo]);
    await rejects(fifo, /FIFO/);
    await rejects(join(dir, 'missing.png'), /no such file/);
  });

  it('refuses a file over the byte limit', async () => {
    const file = join(dir, 'big.png');
    writeFileSync(file, encodePng({ width: 4, height: 4, channels: 3, data: new Uint8Array(48) }));
    await assert.rejects(readImageFile(file, 10), /exceeds the limit of 10 bytes/);
    assert.equal((await readImageFile(file)).length, readFileSync(file).length);
  });

  it('refuses a 100,000,000 x 1 PNG from its header, at once', () => {
    const started = performance.now();
    assert.throws(() => decodeImage(pngHeader(100_000_000, 1), { name: 'wide.png' }), (e: unknown) => e instanceof DataError && /^wide\.png: decoding .* MiB/.test(e.message));
    assert.ok(performance.now() - started < 100);
  });
});

describe('finding 16: model.json, registries, integer arguments', () => {
  const modelDir = join(dir, 'model');
  const rewrite = async (edit: (meta: Record<string, unknown>) => void): Promise<string> => {
    const model = createClassifier('simple-cnn', modelConfig('simple-cnn', { channels: 1, height: 16, width: 16, numClasses: 2 }));
    const meta = await saveCheckpoint(modelDir, model, { architecture: 'simple-cnn', config: modelConfig('simple-cnn', { channels: 1, height: 16, width: 16, numClasses: 2 }) });
    model.dispose();
    const copy = JSON.parse(JSON.stringify(meta)) as Record<string, unknown>;
    edit(copy);
    writeFileSync(join(modelDir, 'model.json'), JSON.stringify(copy));
    return join(modelDir, 'model.json');
  };

  for (const name of ['__proto__', 'constructor', 'toString']) {
    it(`architecture '${name}' is an unknown architecture of model.json`, async () => {
      const file = await rewrite((m) => { m['architecture'] = name; });
      await assert.rejects(loadModel(modelDir), (e: unknown) => e instanceof BastionError && e.message.includes(file) && /architecture/.test(e.message));
    });
  }

  it('hidden: 1e12 names the field instead of running out of memory', async () => {
    const file = await rewrite((m) => { (m['config'] as Record<string, unknown>)['hidden'] = 1e12; });
    await assert.rejects(loadModel(modelDir), (e: unknown) => e instanceof DataError && e.message.includes(file) && /config\.hidden/.test(e.message));
  });

  it('attack options and safetensors dtypes are looked up by own property', () => {
    assert.throws(() => createAttack('fgsm', { constructor: 1 }), (e: unknown) => e instanceof BastionError && /does not apply/.test(e.message));
    const header = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }));
    assert.throws(() => parseSafetensorsHeader(header, 4, 'w.safetensors'), (e: unknown) => e instanceof DataError && /unsupported dtype/.test(e.message));
  });

  it('the addon refuses fractional, NaN and infinite integer arguments', () => {
    const x = zeros([4, 4]);
    try {
      for (const bad of [2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(() => x.narrow(0, bad, 1), (e: unknown) => e instanceof Error && /narrow start: expected an integer/.test(e.message), String(bad));
      }
      assert.deepEqual(x.narrow(0, 1, 2).shape, [2, 4]);
    } finally {
      x.dispose();
    }
  });
});
