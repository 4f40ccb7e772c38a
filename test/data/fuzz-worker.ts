/**
 * Worker side of fuzz.test.ts: feeds random and truncated bytes to every reader and reports, case
 * by case, whether it threw a DataError (good), threw something else, or returned (both bad).
 * Runs in a worker so that the test can stop it if a reader ever hangs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { encodeCifarBatch, parseCifarBatch } from '../../src/data/formats/cifar.js';
import { encodeIdx, parseIdx } from '../../src/data/formats/idx.js';
import { encodeTar, readTar } from '../../src/data/formats/tar.js';
import { decodeImage, encodeJpeg, encodePng } from '../../src/io/image.js';
import { DataError } from '../../src/util/errors.js';
import { Random } from '../../src/util/random.js';

interface Reader {
  kind: string;
  read: (bytes: Uint8Array) => unknown;
  valid: Uint8Array;
  /** Largest truncated length that must still fail (the rest is trailing padding or end markers). */
  mustFailBelow: number;
  /** Lengths at which a truncated file is legitimately valid (e.g. whole CIFAR records). */
  validLength?: (n: number) => boolean;
  /**
   * For "valid start + garbage" cases: keep at most this many valid bytes, so that the garbage
   * damages a part the format checks. Formats without checksums (IDX after its header, CIFAR,
   * JPEG scans) accept garbage payloads legitimately; undefined skips such cases.
   */
  garbageAfter?: number;
}

function image(width: number, height: number): { width: number; height: number; channels: 3; data: Uint8Array } {
  const data = new Uint8Array(width * height * 3).map((_, i) => (i * 37) % 256);
  return { width, height, channels: 3, data };
}

function readers(random: Random): Reader[] {
  const noise = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => random.int(256));
  const idx = encodeIdx([3, 9, 7], noise(189));
  const cifar = encodeCifarBatch(new Uint8Array([1, 2, 3]), noise(3 * 3072));
  const png = encodePng(image(24, 20));
  const jpeg = encodeJpeg(image(24, 20));
  const tar = encodeTar([{ name: 'a.bin', data: noise(700) }, { name: 'b.txt', data: noise(30) }]);
  return [
    { kind: 'IDX', read: (b) => parseIdx(b, 'fuzz.idx'), valid: idx, mustFailBelow: idx.length, garbageAfter: 15 }, // 16-byte header
    { kind: 'CIFAR', read: (b) => parseCifarBatch(b, 'fuzz.bin'), valid: cifar, mustFailBelow: cifar.length, validLength: (n) => n > 0 && n % 3073 === 0 },
    { kind: 'PNG', read: (b) => decodeImage(b, { name: 'fuzz.png' }), valid: png, mustFailBelow: png.length - 12, garbageAfter: 64 }, // IEND chunk; CRCs catch garbage
    { kind: 'JPEG', read: (b) => decodeImage(b, { name: 'fuzz.jpg' }), valid: jpeg, mustFailBelow: jpeg.length - 2 }, // EOI marker
    { kind: 'tar', read: (b) => readTar(b, 'fuzz.tar'), valid: tar, mustFailBelow: 512 + 1024 + 512 + 512, garbageAfter: 64 }, // end of the last member; header checksums
  ];
}

const port = parentPort;
if (port !== null) {
  const { seed, casesPerReader } = workerData as { seed: number; casesPerReader: number };
  const random = new Random(seed);
  const problems: string[] = [];
  let index = 0;
  for (const reader of readers(random)) {
    for (let k = 0; k < casesPerReader; k++) {
      let bytes: Uint8Array;
      let label: string;
      if (k % 3 === 0) {
        bytes = Uint8Array.from({ length: random.int(4096) }, () => random.int(256));
        label = `${reader.kind} random ${bytes.length} bytes`;
      } else if (k % 3 === 1) {
        // A valid start, then garbage.
        if (reader.garbageAfter === undefined) {
          port.postMessage({ index: index++, label: `${reader.kind} (no garbage case)` });
          continue;
        }
        const keep = 1 + random.int(reader.garbageAfter);
        bytes = new Uint8Array(reader.valid.length);
        bytes.set(reader.valid.subarray(0, keep));
        for (let i = keep; i < bytes.length; i++) bytes[i] = random.int(256);
        label = `${reader.kind} first ${keep} bytes + garbage`;
      } else {
        let cut = random.int(reader.mustFailBelow);
        while (reader.validLength?.(cut)) cut = random.int(reader.mustFailBelow);
        bytes = reader.valid.slice(0, cut);
        label = `${reader.kind} truncated to ${cut} of ${reader.valid.length} bytes`;
      }
      port.postMessage({ index, label, start: true });
      try {
        reader.read(bytes);
        problems.push(`${label}: returned without an error`);
      } catch (error) {
        if (!(error instanceof DataError)) problems.push(`${label}: threw ${String(error)} instead of a DataError`);
      }
      port.postMessage({ index: index++, label });
    }
  }
  port.postMessage({ finished: true, problems, cases: index });
}
