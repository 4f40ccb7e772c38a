/**
 * A minimal read-only ZIP directory reader: lists the entries of an archive and reads small ones.
 *
 * Enough to look inside PyTorch files (TorchScript modules and `torch.save` checkpoints are ZIP
 * archives, normally with stored, uncompressed entries) without loading them: which records exist,
 * and the small text records such as `archive/version`. Reads only the end of the file and the
 * entries asked for, so a large model costs a few small reads.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

/** One entry of the central directory. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated (others are reported but cannot be read). */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header in the file. */
  localHeaderOffset: number;
}

/** The file is not a readable ZIP archive; `reason` says what is wrong (e.g. truncated). */
export class ZipFormatError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ZipFormatError';
  }
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const MAX_EOCD_SEARCH = 22 + 0xffff;

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}

function bigToNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError(`${what} is too large (${value})`);
  return Number(value);
}

/** Lists the entries of the ZIP archive at `path`. Throws {@link ZipFormatError} when it is not a complete archive. */
export function readZipDirectory(path: string): ZipEntry[] {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const tailLength = Math.min(fileSize, MAX_EOCD_SEARCH);
    const tail = readAt(fd, fileSize - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new ZipFormatError('no end-of-central-directory record (the archive is truncated or corrupt)');
    let count = tail.readUInt16LE(eocd + 10);
    let directorySize = tail.readUInt32LE(eocd + 12);
    let directoryOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
      const locatorAt = eocd - 20;
      if (locatorAt < 0 || tail.readUInt32LE(locatorAt) !== ZIP64_LOCATOR_SIGNATURE) throw new ZipFormatError('ZIP64 locator missing');
      const zip64At = bigToNumber(tail.readBigUInt64LE(locatorAt + 8), 'ZIP64 directory offset');
      const zip64 = readAt(fd, zip64At, 56);
      if (zip64.length < 56 || zip64.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) throw new ZipFormatError('ZIP64 end-of-central-directory record missing');
      count = bigToNumber(zip64.readBigUInt64LE(32), 'entry count');
      directorySize = bigToNumber(zip64.readBigUInt64LE(40), 'directory size');
      directoryOffset = bigToNumber(zip64.readBigUInt64LE(48), 'directory offset');
    }
    if (directoryOffset + directorySize > fileSize) throw new ZipFormatError('the central directory lies beyond the end of the file (truncated)');
    const directory = readAt(fd, directoryOffset, directorySize);
    const entries: ZipEntry[] = [];
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) throw new ZipFormatError(`central directory entry ${i} is corrupt`);
      const method = directory.readUInt16LE(at + 10);
      let compressedSize = directory.readUInt32LE(at + 20);
      let size = directory.readUInt32LE(at + 24);
      const nameLength = directory.readUInt16LE(at + 28);
      const extraLength = directory.readUInt16LE(at + 30);
      const commentLength = directory.readUInt16LE(at + 32);
      let localHeaderOffset = directory.readUInt32LE(at + 42);
      const name = directory.toString('utf8', at + 46, at + 46 + nameLength);
      // ZIP64 extended information: the 64-bit values of the fields that read 0xffffffff, in order.
      let extra = at + 46 + nameLength;
      const extraEnd = extra + extraLength;
      while (extra + 4 <= extraEnd) {
        const id = directory.readUInt16LE(extra);
        const length = directory.readUInt16LE(extra + 2);
        if (id === 0x0001) {
          let field = extra + 4;
          const next = (): number => {
            const value = bigToNumber(directory.readBigUInt64LE(field), `entry '${name}' size`);
            field += 8;
            return value;
          };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
        }
        extra += 4 + length;
      }
      entries.push({ name, method, compressedSize, size, localHeaderOffset });
      at = extraEnd + commentLength;
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** Reads one (small) entry of the archive at `path` into memory. */
export function readZipEntry(path: string, entry: ZipEntry): Buffer {
  const fd = openSync(path, 'r');
  try {
    const header = readAt(fd, entry.localHeaderOffset, 30);
    if (header.length < 30 || header.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new ZipFormatError(`the local header of '${entry.name}' is corrupt`);
    const dataAt = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    const data = readAt(fd, dataAt, entry.compressedSize);
    if (data.length < entry.compressedSize) throw new ZipFormatError(`entry '${entry.name}' is cut short (truncated archive)`);
    if (entry.method === 0) return data;
    if (entry.method === 8) return inflateRawSync(data);
    throw new ZipFormatError(`entry '${entry.name}' uses compression method ${entry.method}, which this reader does not support`);
  } finally {
    closeSync(fd);
  }
}
