/**
 * A small reader for tar archives (POSIX ustar, with GNU long names and pax path records), enough
 * to read data sets such as cifar-10-binary.tar.gz in place without a native dependency.
 * Pure byte parsing over an in-memory archive (no tensors); gunzip first for .tar.gz.
 */
import { DataError } from '../../util/errors.js';

const BLOCK = 512;

/** One member of a tar archive. */
export interface TarEntry {
  /** Path inside the archive, e.g. `cifar-10-batches-bin/data_batch_1.bin`. */
  name: string;
  type: 'file' | 'directory' | 'other';
  size: number;
  /** The member's bytes (a view into the archive; empty for non-files). */
  data: Uint8Array;
}

function text(bytes: Uint8Array, start: number, length: number): string {
  const field = bytes.subarray(start, start + length);
  const end = field.indexOf(0);
  return Buffer.from(field.subarray(0, end === -1 ? field.length : end)).toString('utf8');
}

function octal(bytes: Uint8Array, start: number, length: number, what: string, archive: string, at: number): number {
  const first = bytes[start] as number;
  if (first & 0x80) {
    // GNU base-256 encoding for large values.
    let value = first & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + (bytes[start + i] as number);
    return value;
  }
  const raw = text(bytes, start, length).trim();
  if (raw === '') return 0;
  if (!/^[0-7]+$/.test(raw)) throw new DataError(archive, `corrupt tar archive: bad ${what} field '${raw.slice(0, 16)}' in the header at byte ${at}`);
  return parseInt(raw, 8);
}

function isZeroBlock(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (bytes[i] !== 0) return false;
  return true;
}

function paxPath(data: Uint8Array): string | undefined {
  const records = Buffer.from(data).toString('utf8');
  let at = 0;
  let path: string | undefined;
  while (at < records.length) {
    const space = records.indexOf(' ', at);
    if (space === -1) break;
    const length = Number(records.slice(at, space));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = records.slice(space + 1, at + length - 1);
    const eq = record.indexOf('=');
    if (eq !== -1 && record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    at += length;
  }
  return path;
}

/**
 * Lists the members of a tar archive held in memory. Checks each header's checksum and that every
 * member lies inside the archive; a missing end-of-archive marker (zero block) means a truncated
 * archive. Throws a {@link DataError} naming `archive` on any problem.
 */
export function readTar(bytes: Uint8Array, archive: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let at = 0;
  let longName: string | undefined;
  for (;;) {
    if (at + BLOCK > bytes.length) {
      throw new DataError(archive, `truncated tar archive: it ends at byte ${bytes.length} without the end-of-archive marker`,
        'the download was probably cut short; fetch it again');
    }
    if (isZeroBlock(bytes, at)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (bytes[at + i] as number);
    const stored = octal(bytes, at + 148, 8, 'checksum', archive, at);
    if (stored !== sum) throw new DataError(archive, `corrupt tar archive: header checksum mismatch at byte ${at} (not a tar file, or damaged)`);
    const size = octal(bytes, at + 124, 12, 'size', archive, at);
    const flag = String.fromCharCode(bytes[at + 156] as number);
    const magic = text(bytes, at + 257, 6);
    let name = text(bytes, at + 0, 100);
    const prefix = magic.startsWith('ustar') ? text(bytes, at + 345, 155) : '';
    if (prefix !== '') name = `${prefix}/${name}`;
    const dataStart = at + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > bytes.length) {
      throw new DataError(archive, `truncated tar archive: member '${name}' needs ${size} bytes at byte ${dataStart}, but the archive ends at ${bytes.length}`,
        'the download was probably cut short; fetch it again');
    }
    const data = bytes.subarray(dataStart, dataEnd);
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (flag === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (flag === 'g') continue;
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    const type = flag === '0' || flag === '\0' || flag === '7' ? 'file' : flag === '5' ? 'directory' : 'other';
    entries.push({ name: name.replace(/^\.\//, ''), type, size, data: type === 'file' ? data : data.subarray(0, 0) });
  }
  return entries;
}

/** Writes a ustar archive of regular files (names up to 100 bytes): for tests and tools. */
export function encodeTar(files: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const file of files) {
    const header = new Uint8Array(BLOCK);
    const put = (value: string, start: number, length: number): void => {
      const b = Buffer.from(value, 'utf8');
      if (b.length > length) throw new RangeError(`encodeTar: '${value}' does not fit in ${length} bytes`);
      header.set(b, start);
    };
    put(file.name, 0, 100);
    put('0000644\0', 100, 8);
    put('0000000\0', 108, 8);
    put('0000000\0', 116, 8);
    put(`${file.data.length.toString(8).padStart(11, '0')}\0`, 124, 12);
    put(`${Math.floor(Date.UTC(2009, 0, 1) / 1000).toString(8).padStart(11, '0')}\0`, 136, 12);
    put('        ', 148, 8);
    put('0', 156, 1);
    put('ustar\0', 257, 6);
    put('00', 263, 2);
    let sum = 0;
    for (const b of header) sum += b;
    put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    chunks.push(header, file.data, new Uint8Array((BLOCK - (file.data.length % BLOCK)) % BLOCK));
  }
  chunks.push(new Uint8Array(2 * BLOCK));
  return Buffer.concat(chunks);
}
