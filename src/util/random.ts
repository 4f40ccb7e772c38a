/**
 * A small seeded pseudo-random generator for JavaScript-side randomness (shuffling, sampling
 * indices, splits) that must be reproducible and whose state must be saved with checkpoints.
 * Tensor randomness uses libtorch's generator instead (src/tensor/runtime.ts manualSeed).
 */

/** Seeded PRNG (SplitMix32 seeding + xoshiro128**); its state is four 32-bit integers. */
export class Random {
  #s: Uint32Array;

  constructor(seed: number | readonly number[] = 0) {
    this.#s = new Uint32Array(4);
    if (typeof seed === 'number') {
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        this.#s[i] = (z ^ (z >>> 16)) >>> 0;
      }
      if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
    } else {
      if (seed.length !== 4) throw new TypeError('Random: a state must hold four 32-bit integers');
      this.#s.set(seed);
    }
  }

  /** The generator's state, to restore it later with `new Random(state)`. */
  get state(): number[] {
    return Array.from(this.#s);
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1] as number, 5) >>> 0, 7), 9) >>> 0;
    const t = ((s[1] as number) << 9) >>> 0;
    s[2] = (s[2] as number) ^ (s[0] as number);
    s[3] = (s[3] as number) ^ (s[1] as number);
    s[1] = (s[1] as number) ^ (s[2] as number);
    s[0] = (s[0] as number) ^ (s[3] as number);
    s[2] = (s[2] as number) ^ t;
    s[3] = rotl(s[3] as number, 11);
    return result;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    if (!(n > 0)) throw new RangeError(`Random.int: n must be positive, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Shuffles an array in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = p[i] as number;
      p[i] = p[j] as number;
      p[j] = tmp;
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
