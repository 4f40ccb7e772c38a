/**
 * Deterministic seed derivation: every random choice of the data layer (epoch shuffles, transform
 * draws, splits) gets its own generator derived from the user's seed and its position (epoch,
 * batch, transform), so results never depend on timing, prefetch depth or how far a run got.
 */
import { Random } from '../util/random.js';

function words(value: number): [number, number] {
  if (!Number.isSafeInteger(value)) throw new RangeError(`seeds must be safe integers, got ${value}`);
  const v = value < 0 ? -value * 2 + 1 : value * 2; // zig-zag: negative seeds stay distinct
  return [v >>> 0, Math.floor(v / 4294967296) >>> 0];
}

/** A 32-bit hash of a sequence of integers (MurmurHash3's mixing steps). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    for (const w of words(part)) {
      let k = Math.imul(w, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
    }
  }
  h ^= parts.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A generator whose whole 128-bit state depends only on `parts` (e.g. seed, epoch). */
export function deriveRandom(...parts: number[]): Random {
  const state: number[] = [0, 1, 2, 3].map((i): number => mixSeed(...parts, 0x5eed0000 + i));
  if (!state.some((s) => s !== 0)) state[0] = 1;
  return new Random(state);
}
