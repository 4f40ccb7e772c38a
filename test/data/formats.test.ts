/** IDX, CIFAR-10 binary and tar readers on small files written by the test, good and bad. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadCifar10, loadIdxDataset, loadIdxFolder } from '../../src/data/readers.js';
import { encodeIdx, parseIdx } from '../../src/data/formats/idx.js';
import { encodeTar, readTar } from '../../src/data/formats/tar.js';
import { tensorStats } from '../../src/tensor/index.js';
import { DataError } from '../../src/util/errors.js';
import { bytes, cifarRecords, put, tempDir, writeIdxPair } from './helpers.js';

const { dir, cleanup } = tempDir('formats');
after(cleanup);

function rejectsData(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('IDX', () => {
  it('reads gzipped and raw IDX pairs into [N,1,H,W] uint8 + int64 labels', async () => {
    const live = tensorStats().live;
    for (const gzip of [true, false]) {
      const sub = join(dir, gzip ? 'gz' : 'raw');
      const { pixels, labels } = writeIdxPair(sub, 'train', 12, 5, 7, { gzip });
      const ds = await loadIdxFolder(sub, 'train', { name: 'tiny' });
      assert.equal(ds.length, 12);
      assert.deepEqual(ds.imageShape, [1, 5, 7]);
      assert.deepEqual([...ds.images.shape], [12, 1, 5, 7]);
      assert.equal(ds.images.dtype, 'uint8');
      assert.equal(ds.labels.dtype, 'int64');
      assert.deepEqual(ds.images.toArray(), pixels);
      assert.deepEqual([...ds.labelArray], [...labels]);
      const sample = ds.get(3);
      assert.deepEqual([...sample.image.shape], [1, 5, 7]);
      assert.equal(sample.label, 3);
      const expected = Array.from(pixels.subarray(3 * 35, 4 * 35), (v) => v / 255);
      sample.image.toFloat32Array().forEach((v, i) => assert.ok(Math.abs(v - (expected[i] as number)) < 1e-6));
      sample.image.dispose();
      ds.dispose();
    }
    assert.equal(tensorStats().live, live);
  });

  it('parses other element types, big-endian', () => {
    const file = new Uint8Array([0, 0, 0x0c, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 0]);
    const parsed = parseIdx(file, 'i32.idx');
    assert.equal(parsed.dtype, 'int32');
    assert.deepEqual([...parsed.data], [-2, 256]);
  });

  it('rejects wrong magic, truncation, trailing bytes and count mismatches, naming the file', async () => {
    assert.throws(() => parseIdx(new Uint8Array([1, 2, 3, 4, 5]), 'x.idx'), /x\.idx: not an IDX file: wrong magic number 01 02 03 04/);
    assert.throws(() => parseIdx(new Uint8Array([0, 0, 0x42, 1, 0, 0, 0, 1, 0]), 'y.idx'), /unknown element type 0x42/);
    const good = encodeIdx([2, 3, 3], bytes(18));
    assert.throws(() => parseIdx(good.subarray(0, good.length - 1), 't.idx'), /t\.idx: truncated IDX file: the header declares \[2,3,3\] uint8 \(34 bytes\) but the file has 33/);
    assert.throws(() => parseIdx(new Uint8Array([...good, 0]), 'u.idx'), /1 unexpected bytes after/);
    assert.throws(() => parseIdx(good.subarray(0, 6), 'h.idx'), /truncated IDX file: 6 bytes/);

    const sub = join(dir, 'mismatch');
    put(join(sub, 'images.gz'), gzipSync(encodeIdx([5, 2, 2], bytes(20))));
    put(join(sub, 'labels.gz'), gzipSync(encodeIdx([4], new Uint8Array([0, 1, 2, 3]))));
    await rejectsData(loadIdxDataset({ images: join(sub, 'images.gz'), labels: join(sub, 'labels.gz') }), /labels\.gz: holds 4 labels but images\.gz holds 5 images/);
    await rejectsData(loadIdxDataset({ images: join(sub, 'labels.gz'), labels: join(sub, 'images.gz') }), /expected IDX images of shape \[N,H,W\]/);

    const gz = gzipSync(encodeIdx([5, 2, 2], bytes(20)));
    put(join(sub, 'cut.gz'), gz.subarray(0, gz.length - 10));
    await rejectsData(loadIdxDataset({ images: join(sub, 'cut.gz'), labels: join(sub, 'labels.gz') }), /cut\.gz: corrupt or truncated gzip data/);
    await rejectsData(loadIdxFolder(join(dir, 'nowhere'), 'test', { hint: 'run `bastion data download mnist`' }), /t10k-images-idx3-ubyte.*missing/);
    await assert.rejects(loadIdxFolder(join(dir, 'nowhere'), 'test', { hint: 'run `bastion data download mnist`' }), (e: DataError) => e.hint === 'run `bastion data download mnist`');
    await rejectsData(loadIdxDataset({ images: join(sub, 'absent.gz'), labels: join(sub, 'labels.gz') }), /absent\.gz: file not found/);
  });

  it('rejects labels outside the class list', async () => {
    const sub = join(dir, 'classes');
    writeIdxPair(sub, 'train', 6, 2, 2, { classes: 6 });
    await rejectsData(loadIdxFolder(sub, 'train', { classNames: ['a', 'b', 'c'] }), /holds label 5, but the data set has 3 classes/);
  });
});

describe('CIFAR-10 binary', () => {
  const batches = [1, 2, 3, 4, 5].map((k) => cifarRecords(3, k));
  const test = cifarRecords(4, 9);
  const meta = 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n';

  it('reads batches from a folder (strict record counts off for small fixtures)', async () => {
    const sub = join(dir, 'cifar', 'cifar-10-batches-bin');
    batches.forEach((b, i) => put(join(sub, `data_batch_${i + 1}.bin`), b.file));
    put(join(sub, 'test_batch.bin'), test.file);
    put(join(sub, 'batches.meta.txt'), meta);
    const train = await loadCifar10(join(dir, 'cifar'), 'train', { strictCounts: false });
    assert.equal(train.length, 15);
    assert.deepEqual([...train.images.shape], [15, 3, 32, 32]);
    assert.equal(train.classNames[9], 'truck');
    assert.deepEqual([...train.labelArray], batches.flatMap((b) => [...b.labels]));
    const pixels = train.images.toArray() as Uint8Array;
    assert.deepEqual(pixels.subarray(3 * 3072, 4 * 3072), batches[1]?.images.subarray(0, 3072));
    train.dispose();
    // The official files hold 10,000 records each: the default check refuses the fixture.
    await rejectsData(loadCifar10(join(dir, 'cifar'), 'test'), /test_batch\.bin: CIFAR-10 batch holds 4 records; the official batches hold 10000/);
  });

  it('reads straight out of a .tar.gz and matches the folder', async () => {
    const files = [
      ...batches.map((b, i) => ({ name: `cifar-10-batches-bin/data_batch_${i + 1}.bin`, data: b.file })),
      { name: 'cifar-10-batches-bin/test_batch.bin', data: test.file },
      { name: 'cifar-10-batches-bin/batches.meta.txt', data: Buffer.from(meta) },
    ];
    const archive = put(join(dir, 'cifar-tgz', 'cifar-10-binary.tar.gz'), gzipSync(encodeTar(files)));
    const fromArchive = await loadCifar10(archive, 'test', { strictCounts: false });
    const viaFolder = await loadCifar10(join(dir, 'cifar-tgz'), 'test', { strictCounts: false });
    assert.equal(fromArchive.length, 4);
    assert.deepEqual(fromArchive.images.toArray(), test.images);
    assert.ok(fromArchive.images.equal(viaFolder.images));
    fromArchive.dispose();
    viaFolder.dispose();
  });

  it('rejects partial records, bad labels, missing batches', async () => {
    const sub = join(dir, 'cifar-bad');
    const good = cifarRecords(2, 3).file;
    put(join(sub, 'test_batch.bin'), good.subarray(0, good.length - 100));
    await rejectsData(loadCifar10(sub, 'test', { strictCounts: false }), /test_batch\.bin: not a CIFAR-10 binary batch: 6046 bytes is not a whole number of 3073-byte records/);
    const badLabel = good.slice();
    badLabel[3073] = 12;
    writeFileSync(join(sub, 'test_batch.bin'), badLabel);
    await rejectsData(loadCifar10(sub, 'test', { strictCounts: false }), /record 1 has label 12, but there are only 10 classes/);
    await rejectsData(loadCifar10(sub, 'train', { strictCounts: false, hint: 'run `bastion data download cifar10`' }), /missing CIFAR-10 batch data_batch_1\.bin/);
    await rejectsData(loadCifar10(join(dir, 'no-cifar'), 'train'), /no CIFAR-10 binary batches here/);
  });
});

describe('tar', () => {
  it('lists members with their names, sizes and bytes', () => {
    const entries = readTar(encodeTar([{ name: 'a/b.txt', data: Buffer.from('hello') }, { name: 'empty', data: new Uint8Array(0) }]), 'x.tar');
    assert.deepEqual(entries.map((e) => [e.name, e.size, Buffer.from(e.data).toString()]), [['a/b.txt', 5, 'hello'], ['empty', 0, '']]);
  });

  it('rejects truncated archives and bad checksums', () => {
    const tar = encodeTar([{ name: 'f.bin', data: bytes(1500) }]);
    assert.throws(() => readTar(tar.subarray(0, 1000), 'cut.tar'), /cut\.tar: truncated tar archive: member 'f\.bin' needs 1500 bytes/);
    assert.throws(() => readTar(tar.subarray(0, 2048), 'end.tar'), /ends at byte 2048 without the end-of-archive marker/);
    const damaged = tar.slice();
    damaged[10] = 0x41;
    assert.throws(() => readTar(damaged, 'sum.tar'), /header checksum mismatch at byte 0/);
  });
});
