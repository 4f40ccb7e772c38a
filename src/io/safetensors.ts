/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
 * header `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { key: string } }`,
 * then the raw little-endian tensor bytes, row-major, offsets relative to the end of the header.
 * PyTorch reads it with a few lines of Python, which is how Bastion's weights move to and from
 * torch.nn (test/nn/interop.test.ts).
 *
 * Reading validates everything (header bounds, JSON shape, dtypes, offsets, overlaps, sizes) and
 * names the file and tensor in every error. Writing is atomic and streams one tensor at a time.
 */
import { endianness } from 'node:os';
import { open, readFile, stat } from 'node:fs/promises';
import { tensor, type DType, type Tensor } from '../tensor/index.js';
import { DataError, jsonSyntaxProblem } from '../util/errors.js';
import { writeFileAtomic } from './atomic.js';
import { hasOwnEntry } from '../util/records.js';

/** Element types of the safetensors format that Bastion reads and writes. */
export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const FROM_FILE: Record<SafetensorsDType, DType> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const TO_FILE: Record<DType, SafetensorsDType> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const ITEM_SIZE: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Headers larger than this are rejected as corrupt (the reference implementation's limit). */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's entry in a safetensors header. */
export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  fileDType: SafetensorsDType;
  shape: number[];
  /** Byte range in the data section (after the header). */
  begin: number;
  end: number;
}

/** A parsed, validated header. */
export interface SafetensorsHeader {
  /** Tensors in file order (by data offset). */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

/** Contents of a safetensors file: tensors (new, owned by the caller) and the metadata map. */
export interface SafetensorsContents {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

function checkHostEndianness(): void {
  if (endianness() !== 'LE') throw new Error('safetensors: Bastion reads and writes safetensors on little-endian machines only');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Parses and validates a header: `headerBytes` is the JSON text, `dataLength` the size of the data
 * section that follows it. Errors are {@link DataError}s naming `source` and the tensor.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLength: number, source: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new DataError(source, 'safetensors header is not valid UTF-8; the file is corrupt or not a safetensors file');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DataError(source, `safetensors header ${jsonSyntaxProblem(error, text)}; the file is corrupt or not a safetensors file`);
  }
  if (!isPlainObject(parsed)) throw new DataError(source, 'safetensors header must be a JSON object of tensor entries');
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(parsed)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) throw new DataError(source, 'safetensors __metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new DataError(source, `safetensors __metadata__ value '${k}' must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (!isPlainObject(raw)) throw new DataError(source, `${where}: header entry must be an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = raw;
    if (typeof dtype !== 'string' || !hasOwnEntry(FROM_FILE, dtype)) {
      throw new DataError(source, `${where}: unsupported dtype ${JSON.stringify(dtype)} (Bastion reads ${Object.keys(FROM_FILE).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) throw new DataError(source, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw new DataError(source, `${where}: data_offsets must be [begin, end] byte offsets, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const fileDType = dtype as SafetensorsDType;
    if (begin > end) throw new DataError(source, `${where}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) {
      throw new DataError(source, `${where}: data_offsets [${begin}, ${end}] run past the end of the data section (${dataLength} bytes); the file is truncated or corrupt`);
    }
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = numel * ITEM_SIZE[fileDType];
    if (end - begin !== expected) {
      throw new DataError(source, `${where}: a [${shape.join(',')}] ${fileDType} tensor needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    entries.push({ name, dtype: FROM_FILE[fileDType], fileDType, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: SafetensorsEntry | undefined;
  for (const entry of entries) {
    if (entry.begin < covered) {
      throw new DataError(source, `tensor '${entry.name}' (bytes ${entry.begin}-${entry.end}) overlaps tensor '${previous?.name}' (bytes ${previous?.begin}-${previous?.end}); the file is corrupt`);
    }
    if (entry.begin > covered) throw new DataError(source, `bytes ${covered}-${entry.begin} of the data section (before tensor '${entry.name}') belong to no tensor; the file is corrupt`);
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataLength) {
    throw new DataError(source, `the data section holds ${dataLength} bytes but the tensors cover ${covered}; the file is corrupt or has trailing bytes`);
  }
  return { entries, metadata };
}

/** Reads the 8-byte header length and checks it against the file size. */
function headerLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8) throw new DataError(source, `${fileSize} bytes is too short for a safetensors file (it starts with an 8-byte header length); the file is truncated or empty`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(fileSize - 8, MAX_HEADER_BYTES))) {
    throw new DataError(source, `safetensors header length ${n} exceeds ${n > BigInt(MAX_HEADER_BYTES) ? `the ${MAX_HEADER_BYTES}-byte limit` : `the file (${fileSize} bytes)`}; the file is truncated, corrupt or not a safetensors file`);
  }
  return Number(n);
}

// ---- element conversion -------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits of a float32 value, rounding to nearest even. */
function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return half;
}

/** float32 value of IEEE half bits. */
function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The logical row-major bytes of a tensor in its safetensors dtype. */
function tensorBytes(t: Tensor): Uint8Array {
  const data = t.toArray(); // row-major whatever the memory layout (channels-last weights included)
  if (t.dtype === 'float16') {
    const out = new Uint16Array(data.length);
    const src = data as Float32Array;
    for (let i = 0; i < src.length; i++) out[i] = toHalfBits(src[i] as number);
    return new Uint8Array(out.buffer);
  }
  if (t.dtype === 'bfloat16') {
    const bits = new Uint32Array((data as Float32Array).buffer, data.byteOffset, data.length);
    const out = new Uint16Array(data.length);
    for (let i = 0; i < bits.length; i++) out[i] = (bits[i] as number) >>> 16; // exact: the values are bfloat16
    return new Uint8Array(out.buffer);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A tensor from its safetensors bytes (copied, so `bytes` may be unaligned and reused). */
function bytesToTensor(bytes: Uint8Array, entry: SafetensorsEntry, source: string): Tensor {
  const own = new Uint8Array(bytes); // an aligned copy (Buffer.slice would be a view)
  const shape = entry.shape;
  switch (entry.fileDType) {
    case 'F64': return tensor(new Float64Array(own.buffer), { shape });
    case 'F32': return tensor(new Float32Array(own.buffer), { shape });
    case 'I64': return tensor(new BigInt64Array(own.buffer), { shape });
    case 'I32': return tensor(new Int32Array(own.buffer), { shape });
    case 'I16': return tensor(new Int16Array(own.buffer), { shape });
    case 'I8': return tensor(new Int8Array(own.buffer), { shape });
    case 'U8': return tensor(own, { shape });
    case 'BOOL': {
      const bad = own.findIndex((b) => b > 1);
      if (bad >= 0) throw new DataError(source, `tensor '${entry.name}': BOOL element ${bad} is ${own[bad]} (must be 0 or 1); the file is corrupt`);
      return tensor(own, { shape, dtype: 'bool' });
    }
    case 'F16': {
      const halves = new Uint16Array(own.buffer);
      return tensor(Float32Array.from(halves, fromHalfBits), { shape, dtype: 'float16' });
    }
    case 'BF16': {
      const halves = new Uint16Array(own.buffer);
      const bits = Uint32Array.from(halves, (h) => h << 16);
      return tensor(new Float32Array(bits.buffer), { shape, dtype: 'bfloat16' });
    }
  }
}

// ---- writing ------------------------------------------------------------------------------------

function entriesOf(tensors: Map<string, Tensor> | Record<string, Tensor>): [string, Tensor][] {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new TypeError("safetensors: '__metadata__' is reserved and cannot name a tensor");
    if (t.isDisposed) throw new TypeError(`safetensors: tensor '${name}' was disposed before it could be written`);
  }
  return list;
}

/** The header bytes (padded with spaces so that the data starts 8-byte aligned) and the write order. */
function buildHeader(list: [string, Tensor][], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new TypeError(`safetensors: metadata value '${k}' must be a string`);
    header['__metadata__'] = metadata;
  }
  let offset = 0;
  for (const [name, t] of list) {
    const size = t.numel * ITEM_SIZE[TO_FILE[t.dtype]];
    header[name] = { dtype: TO_FILE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  const unpadded = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + unpadded) % 8)) % 8);
  const body = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

/**
 * The file as a sequence of chunks: the header (built and validated now, synchronously) and then
 * each tensor's bytes, read lazily one at a time as the consumer asks for them.
 */
function chunks(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata: Record<string, string>): Iterable<Uint8Array> {
  checkHostEndianness();
  const list = entriesOf(tensors);
  const header = buildHeader(list, metadata);
  return (function* () {
    yield header;
    for (const [name, t] of list) {
      if (t.isDisposed) throw new TypeError(`safetensors: tensor '${name}' was disposed while it was being written; keep tensors alive until writeSafetensors resolves`);
      yield tensorBytes(t);
    }
  })();
}

/** Serialises tensors (+ string metadata) to safetensors bytes in memory. */
export function encodeSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata: Record<string, string> = {}): Buffer {
  return Buffer.concat([...chunks(tensors, metadata)]);
}

/**
 * Writes tensors (+ string metadata) to `path` atomically (temporary file, fsync, rename), one
 * tensor at a time, in the given order. Every tensor is written in its logical row-major order,
 * whatever its memory layout. The tensors must stay alive until the promise resolves (so do not
 * return this promise from a `scope()`; await it, then dispose).
 */
export async function writeSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(path, chunks(tensors, metadata));
}

// ---- reading ------------------------------------------------------------------------------------

/** Parses safetensors bytes; the tensors are new and owned by the caller. `source` names the data in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContents {
  checkHostEndianness();
  const n = headerLength(bytes, bytes.length, source);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, source);
  const dataStart = 8 + n;
  const tensors = new Map<string, Tensor>();
  try {
    for (const entry of header.entries) {
      tensors.set(entry.name, bytesToTensor(bytes.subarray(dataStart + entry.begin, dataStart + entry.end), entry, source));
    }
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw error;
  }
  return { tensors, metadata: header.metadata };
}

/** Reads a safetensors file; the tensors are new and owned by the caller (dispose them, or let a scope do it). */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new DataError(path, `cannot read safetensors file: ${(error as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}

/**
 * Reads and validates only the header of a safetensors file (names, dtypes, shapes, metadata)
 * without loading data; `dataStart` is the file offset of the data section (8 + header length).
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader & { dataStart: number }> {
  const handle = await open(path, 'r').catch((error: Error) => {
    throw new DataError(path, `cannot open safetensors file: ${error.message}`);
  });
  try {
    const size = (await stat(path)).size;
    const prefix = new Uint8Array(8);
    await handle.read(prefix, 0, Math.min(8, size), 0);
    const n = headerLength(prefix, size, path);
    const headerBytes = new Uint8Array(n);
    await handle.read(headerBytes, 0, n, 8);
    return { ...parseSafetensorsHeader(headerBytes, size - 8 - n, path), dataStart: 8 + n };
  } finally {
    await handle.close();
  }
}
