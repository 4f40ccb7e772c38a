/** PNG/JPEG glue (src/io/image.ts), tensor conversion and atomic writes (src/io/atomic.ts). */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AtomicFile, moveIntoPlace, writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.js';
import { convertChannels, decodeImage, encodeJpeg, encodePng, readImageHeader, resizeImage, toPlanar } from '../../src/io/image.js';
import { imageToTensor, tensorToImage, tensorToPng } from '../../src/io/image-tensor.js';
import { adaptiveAvgPool2d } from '../../src/nn/functional.js';
import { scope, tensor, tensorStats } from '../../src/tensor/index.js';
import { DataError } from '../../src/util/errors.js';
import { GRAY_JPEG_12x10, gradientImage, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('image');
after(cleanup);

describe('image decode/encode', () => {
  it('round-trips PNG exactly for 1, 2, 3 and 4 channels', () => {
    for (const channels of [1, 2, 3, 4] as const) {
      const image = gradientImage(13, 7, channels);
      const png = encodePng(image);
      assert.deepEqual(readImageHeader(png), { format: 'png', width: 13, height: 7, channels, bitDepth: 8 });
      const back = decodeImage(png);
      assert.equal(back.channels, channels);
      assert.deepEqual(back.data, image.data);
    }
  });

  it('decodes RGB JPEG closely and a real one-component grayscale JPEG as 1 channel', () => {
    const image = gradientImage(24, 16, 3);
    const back = decodeImage(encodeJpeg(image, 95));
    assert.equal(back.channels, 3);
    let worst = 0;
    back.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (image.data[i] as number)))));
    assert.ok(worst <= 16, `JPEG error ${worst}`); // 4:2:0 chroma subsampling at quality 95
    const gray = decodeImage(GRAY_JPEG_12x10);
    assert.deepEqual([gray.width, gray.height, gray.channels], [12, 10, 1]);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 12; x++) assert.ok(Math.abs((gray.data[y * 12 + x] as number) - (18 * x + 5 * y)) <= 2);
  });

  it('throws DataErrors naming the file for junk, truncation and oversize', () => {
    assert.throws(() => decodeImage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), { name: 'junk.png' }), (e: unknown) => e instanceof DataError && /junk\.png: not a PNG or JPEG file/.test(e.message));
    const png = encodePng(gradientImage(20, 20, 3));
    assert.throws(() => decodeImage(png.subarray(0, png.length - 30), { name: 'cut.png' }), /cut\.png: cannot decode PNG \(truncated or corrupt file\)/);
    const jpg = encodeJpeg(gradientImage(20, 20, 3));
    assert.throws(() => decodeImage(jpg.subarray(0, jpg.length >> 1), { name: 'cut.jpg' }), /cut\.jpg: cannot decode JPEG/);
    assert.throws(() => decodeImage(png, { name: 'big.png', maxPixels: 100 }), /big\.png: image of 20x20 pixels exceeds the limit of 100 pixels/);
  });

  it('converts channels like PIL (luma 601-2, alpha dropped)', () => {
    const rgba = { width: 2, height: 1, channels: 4 as const, data: new Uint8Array([255, 0, 0, 9, 10, 200, 30, 0]) };
    assert.deepEqual([...convertChannels(rgba, 1).data], [76, 124]);
    assert.deepEqual([...convertChannels(rgba, 3).data], [255, 0, 0, 10, 200, 30]);
    assert.deepEqual([...convertChannels({ width: 1, height: 1, channels: 1, data: new Uint8Array([7]) }, 3).data], [7, 7, 7]);
  });
});

describe('resize', () => {
  it('shrinks by exact area averaging, agreeing with adaptiveAvgPool2d on whole factors', () => {
    const image = gradientImage(64, 48, 3, 17);
    const small = resizeImage(image, 16, 12);
    const pooled = scope(() => {
      const x = tensor(toPlanar(image), { shape: [1, 3, 48, 64] }).float();
      return adaptiveAvgPool2d(x, [12, 16]).toFloat32Array();
    });
    const planar = toPlanar(small);
    let worst = 0;
    planar.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (pooled[i] as number)))));
    assert.ok(worst <= 0.5 + 1e-3, `area resize differs from adaptiveAvgPool2d by ${worst}`);
  });

  it('averages rather than decimates: a 1-pixel checkerboard shrinks to flat gray', () => {
    const data = new Uint8Array(64 * 64);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) data[y * 64 + x] = (x + y) % 2 ? 255 : 0;
    const out = resizeImage({ width: 64, height: 64, channels: 1, data }, 10, 10);
    for (const v of out.data) assert.ok(Math.abs(v - 127.5) <= 14, `pixel ${v}`);
  });

  it('enlarges bilinearly, keeps identity sizes, and crops to the aspect ratio on request', () => {
    const image = gradientImage(4, 4, 1);
    assert.equal(resizeImage(image, 4, 4), image);
    const big = resizeImage(image, 8, 8);
    assert.equal(big.data.length, 64);
    assert.equal(big.data[0], image.data[0]);
    const wide = { width: 30, height: 10, channels: 1 as const, data: new Uint8Array(300).map((_, i) => (i % 30 < 10 || i % 30 >= 20 ? 0 : 200)) };
    assert.ok(resizeImage(wide, 5, 5, 'crop').data.every((v) => v === 200));
    assert.ok(resizeImage(wide, 5, 5, 'stretch').data.some((v) => v === 0));
  });
});

describe('image tensors', () => {
  it('converts to [C,H,W] floats and back to pixels and PNG without leaking tensors', () => {
    const live = tensorStats().live;
    const image = gradientImage(5, 4, 3);
    const t = imageToTensor(image);
    assert.deepEqual([...t.shape], [3, 4, 5]);
    assert.deepEqual(tensorToImage(t).data, image.data);
    assert.deepEqual(decodeImage(tensorToPng(t)).data, image.data);
    t.dispose();
    assert.equal(tensorStats().live, live);
  });
});

describe('atomic writes', () => {
  it('writes whole files and leaves no temporary files', async () => {
    const target = join(dir, 'atomic', 'out.bin');
    await writeFileAtomic(target, [new Uint8Array([1, 2]), new Uint8Array([3])]);
    assert.deepEqual([...readFileSync(target)], [1, 2, 3]);
    writeFileAtomicSync(target, 'text');
    assert.equal(readFileSync(target, 'utf8'), 'text');
    assert.deepEqual(readdirSync(join(dir, 'atomic')), ['out.bin']);
  });

  it('leaves the old file untouched when a write fails or is aborted', async () => {
    const target = join(dir, 'atomic2', 'keep.txt');
    await writeFileAtomic(target, 'old');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('new');
      throw new Error('source broke');
    }
    await assert.rejects(writeFileAtomic(target, failing()), /source broke/);
    const file = await AtomicFile.open(target);
    await file.write('half');
    await file.abort();
    assert.equal(readFileSync(target, 'utf8'), 'old');
    assert.deepEqual(readdirSync(join(dir, 'atomic2')), ['keep.txt']);
  });

  it('moves a finished file into place', async () => {
    const source = join(dir, 'download.part');
    writeFileSync(source, 'payload');
    const dest = join(dir, 'moved', 'final.bin');
    await moveIntoPlace(source, dest);
    assert.equal(readFileSync(dest, 'utf8'), 'payload');
    assert.equal(existsSync(source), false);
  });
});
