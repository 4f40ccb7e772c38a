/** safetensors: round trips of every dtype, the exact byte layout, logical order of channels-last tensors, and corrupt files. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/io/safetensors.js';
import { arange, randn, scope, tensor, type DType, type Tensor } from '../../src/tensor/index.js';
import { DataError } from '../../src/util/errors.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bastion-safetensors-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file from a header object and raw data bytes, exactly as given (for corrupt-file tests). */
function craft(header: unknown, data: number[] | Uint8Array = [], headerText?: string): Buffer {
  const json = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, Buffer.from(data)]);
}

function decodeError(bytes: Uint8Array): Error {
  try {
    scope(() => decodeSafetensors(bytes, 'crafted.safetensors'));
  } catch (error) {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    assert.match(error.message, /^crafted\.safetensors: /, 'the error names the file');
    return error;
  }
  assert.fail('decoding should have failed');
}

describe('safetensors', () => {
  it('round-trips every dtype, 0-d and empty tensors and metadata through a file', async () => {
    const dtypes: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];
    const values = [0, 1, -2, 3, 4.5, -6.25];
    const tensors = new Map<string, Tensor>();
    for (const dtype of dtypes) {
      const v = dtype === 'bool' ? values.map((x) => (x > 0 ? 1 : 0)) : dtype === 'uint8' ? values.map(Math.abs) : values;
      tensors.set(`t.${dtype}`, tensor(v, { shape: [2, 3], dtype: dtype === 'bool' ? 'bool' : 'float64' }).to(dtype));
    }
    tensors.set('scalar', tensor(7, { dtype: 'int64' }));
    tensors.set('empty', tensor([], { shape: [0, 3] }));
    const file = join(dir, 'all.safetensors');
    await writeSafetensors(file, tensors, { format: 'pt', note: 'hello' });
    const back = await readSafetensors(file);
    assert.deepEqual(back.metadata, { format: 'pt', note: 'hello' });
    assert.deepEqual([...back.tensors.keys()], [...tensors.keys()], 'file order is write order');
    for (const [name, t] of tensors) {
      const r = back.tensors.get(name)!;
      assert.equal(r.dtype, t.dtype, name);
      assert.deepEqual([...r.shape], [...t.shape], name);
      assert.ok(r.equal(t), `${name}: ${r.toNumbers()} vs ${t.toNumbers()}`);
    }
    for (const t of [...tensors.values(), ...back.tensors.values()]) t.dispose();
  });

  it('writes the documented layout: u64 header length, JSON header padded to 8 bytes, little-endian row-major data', () => {
    scope(() => {
      const bytes = encodeSafetensors({ a: tensor([1, -2.5, 65504, Infinity], { dtype: 'float16' }), b: tensor([[1, 2], [3, 4]], { dtype: 'int32' }) });
      const n = Number(bytes.readBigUInt64LE(0));
      assert.equal((8 + n) % 8, 0, 'data starts 8-byte aligned');
      const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
      assert.deepEqual(header, {
        a: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
        b: { dtype: 'I32', shape: [2, 2], data_offsets: [8, 24] },
      });
      const data = bytes.subarray(8 + n);
      assert.deepEqual([0, 1, 2, 3].map((i) => data.readUInt16LE(2 * i)), [0x3c00, 0xc100, 0x7bff, 0x7c00], 'IEEE half bits');
      assert.deepEqual([0, 1, 2, 3].map((i) => data.readInt32LE(8 + 4 * i)), [1, 2, 3, 4]);
    });
  });

  it('writes channels-last tensors in logical NCHW order', () => {
    scope(() => {
      const logical = arange(0, 2 * 3 * 2 * 2, 1, { dtype: 'float32' }).reshape(2, 3, 2, 2);
      const nhwc = logical.channelsLast();
      assert.equal(nhwc.isContiguous(), false);
      assert.ok(encodeSafetensors({ w: nhwc }).equals(encodeSafetensors({ w: logical })));
      const back = decodeSafetensors(encodeSafetensors({ w: nhwc })).tensors.get('w')!;
      assert.ok(back.equal(logical));
    });
  });

  it('reads only the header when asked', async () => {
    const file = join(dir, 'header.safetensors');
    const t = randn([3, 5]);
    await writeSafetensors(file, { weight: t }, { k: 'v' });
    t.dispose();
    const header = await readSafetensorsHeader(file);
    assert.deepEqual(header.metadata, { k: 'v' });
    assert.deepEqual(header.entries.map((e) => [e.name, e.dtype, e.shape, e.begin, e.end]), [['weight', 'float32', [3, 5], 0, 60]]);
    assert.equal(header.dataStart % 8, 0);
  });

  it('leaves an existing file untouched when a write fails', async () => {
    const file = join(dir, 'keep.safetensors');
    const a = tensor([1, 2, 3]);
    await writeSafetensors(file, { a });
    const original = await readFile(file);
    const gone = tensor([4]);
    gone.dispose();
    await assert.rejects(writeSafetensors(file, { a, gone }), /tensor 'gone' was disposed/);
    assert.ok((await readFile(file)).equals(original));
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes('keep')), ['keep.safetensors'], 'no temporary file left behind');
    a.dispose();
  });

  describe('rejects corrupt files with errors naming the file and tensor', () => {
    const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const eight = [0, 0, 128, 63, 0, 0, 0, 64];
    const cases: [string, Uint8Array, RegExp][] = [
      ['an empty file', new Uint8Array(0), /0 bytes is too short for a safetensors file/],
      ['a header length past the end', craft(ok, eight).subarray(0, 20), /header length \d+ exceeds the file \(20 bytes\)/],
      ['truncated data', craft(ok, eight.slice(0, 5)), /tensor 'w': data_offsets \[0, 8\] run past the end of the data section \(5 bytes\); the file is truncated/],
      ['invalid JSON', craft(null, [], '{"w": {"dtype": "F32",'), /header is not valid JSON/],
      ['a header that is not an object', craft([1, 2]), /header must be a JSON object/],
      ['an unsupported dtype', craft({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, [0]), /tensor 'w': unsupported dtype "F8_E4M3"/],
      ['a bad shape', craft({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /tensor 'w': shape must be an array of non-negative integers/],
      ['bad offsets', craft({ w: { dtype: 'F32', shape: [1], data_offsets: [4] } }, [0, 0, 0, 0]), /tensor 'w': data_offsets must be \[begin, end\]/],
      ['a size mismatch', craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight), /tensor 'w': a \[3\] F32 tensor needs 12 bytes but data_offsets \[0, 8\] span 8/],
      ['overlapping tensors', craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /tensor 'b' \(bytes 4-8\) overlaps tensor 'a' \(bytes 0-8\)/],
      ['a hole in the data', craft({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /bytes 0-4 of the data section \(before tensor 'a'\) belong to no tensor/],
      ['trailing bytes', craft(ok, [...eight, 1, 2]), /holds 10 bytes but the tensors cover 8; the file is corrupt or has trailing bytes/],
      ['non-string metadata', craft({ __metadata__: { epoch: 3 } }), /__metadata__ value 'epoch' must be a string/],
      ['an invalid boolean', craft({ m: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, [1, 7]), /tensor 'm': BOOL element 1 is 7/],
    ];
    for (const [name, bytes, pattern] of cases) {
      it(name, () => assert.match(decodeError(bytes).message, pattern));
    }

    it('from a truncated file on disk', async () => {
      const file = join(dir, 'truncated.safetensors');
      const t = randn([4, 4]);
      await writeSafetensors(file, { 'layer.weight': t });
      t.dispose();
      const whole = await readFile(file);
      await writeFile(file, whole.subarray(0, whole.length - 10));
      await assert.rejects(readSafetensors(file), (e: Error) => e instanceof DataError && e.message.startsWith(`${file}: tensor 'layer.weight': data_offsets [0, 64] run past the end`));
      await assert.rejects(readSafetensors(join(dir, 'missing.safetensors')), /missing\.safetensors: cannot read safetensors file/);
    });
  });
});
