/**
 * The IDX file format of MNIST, Fashion-MNIST and KMNIST (http://yann.lecun.com/exdb/mnist/):
 * a 4-byte magic number (two zero bytes, an element-type code, the number of dimensions), the
 * dimensions as big-endian uint32, then the elements, big-endian, row-major.
 * Pure byte parsing (no tensors), so it can run anywhere, worker threads included.
 */
import { DataError } from '../../util/errors.js';

/** Element types of IDX files, by their code in the magic number. */
const IDX_TYPES = {
  0x08: { name: 'uint8', size: 1 },
  0x09: { name: 'int8', size: 1 },
  0x0b: { name: 'int16', size: 2 },
  0x0c: { name: 'int32', size: 4 },
  0x0d: { name: 'float32', size: 4 },
  0x0e: { name: 'float64', size: 8 },
} as const;

/** The element type of an IDX file. */
export type IdxDType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES]['name'];

/** A parsed IDX file: its shape and its elements in native byte order. */
export interface IdxArray {
  dtype: IdxDType;
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/**
 * Parses the bytes of an (uncompressed) IDX file. Throws a {@link DataError} naming `file` on a
 * wrong magic number, an unknown element type, or a size that does not match the header
 * (truncated files and trailing bytes both count).
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) throw new DataError(file, `not an IDX file: ${bytes.length} bytes, shorter than the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DataError(file, `not an IDX file: wrong magic number ${magic} (expected 00 00 <type> <dims>)`,
      'IDX files are MNIST-style train-images-idx3-ubyte / train-labels-idx1-ubyte, optionally gzipped');
  }
  const typeCode = bytes[2] as number;
  const type = (IDX_TYPES as Record<number, { name: IdxDType; size: number } | undefined>)[typeCode];
  if (type === undefined) throw new DataError(file, `not an IDX file: unknown element type 0x${typeCode.toString(16).padStart(2, '0')} in the magic number`);
  const ndim = bytes[3] as number;
  if (ndim === 0) throw new DataError(file, 'corrupt IDX file: the magic number declares 0 dimensions');
  const headerSize = 4 + 4 * ndim;
  if (bytes.length < headerSize) throw new DataError(file, `truncated IDX file: ${bytes.length} bytes, but the header of a ${ndim}-D file takes ${headerSize}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < ndim; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    shape.push(size);
    count *= size;
  }
  const expected = headerSize + count * type.size;
  if (bytes.length < expected) {
    throw new DataError(file, `truncated IDX file: the header declares [${shape.join(',')}] ${type.name} (${expected} bytes) but the file has ${bytes.length}`,
      'the download was probably cut short; fetch the file again');
  }
  if (bytes.length > expected) {
    throw new DataError(file, `corrupt IDX file: ${bytes.length - expected} unexpected bytes after the [${shape.join(',')}] ${type.name} data the header declares`);
  }
  const body = bytes.subarray(headerSize, expected);
  return { dtype: type.name, shape, data: decodeBigEndian(body, type.name, count) };
}

function decodeBigEndian(body: Uint8Array, dtype: IdxDType, count: number): IdxArray['data'] {
  if (dtype === 'uint8') return body;
  if (dtype === 'int8') return new Int8Array(body.buffer, body.byteOffset, count);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (dtype === 'int16') return Int16Array.from({ length: count }, (_, i) => view.getInt16(i * 2, false));
  if (dtype === 'int32') return Int32Array.from({ length: count }, (_, i) => view.getInt32(i * 4, false));
  if (dtype === 'float32') return Float32Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, false));
  return Float64Array.from({ length: count }, (_, i) => view.getFloat64(i * 8, false));
}

/** Writes an IDX file's bytes (uint8 elements): for tests, exports and tools. */
export function encodeIdx(shape: readonly number[], data: Uint8Array): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`encodeIdx: shape [${shape.join(',')}] holds ${count} elements but data has ${data.length}`);
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((s, d) => view.setUint32(4 + 4 * d, s, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}
