/**
 * Batch transforms: functions from an NCHW float batch to a new batch, applied by the DataLoader
 * after assembly (or by hand with {@link applyTransform}). Every random draw comes from the
 * context's generators, which the loader derives from (seed, epoch, batch, transform position),
 * so augmented epochs are reproducible.
 *
 * Pixel-space convention: loaders yield images in [0,1]; attacks perturb and clip in that space,
 * and each model applies its own normalisation. {@link normalize} is therefore for the model side
 * (a model's input layer, or training a model that expects normalised input), not for data fed
 * to attacks.
 */
import { pad } from '../nn/functional.js';
import { empty, getRngState, manualSeed, randnLike, scope, setRngState, tensor, where, type Tensor } from '../tensor/index.js';
import { Random } from '../util/random.js';
import { deriveRandom, mixSeed } from './seeds.js';

/** The randomness a transform may use for one batch. */
export interface TransformContext {
  /** JavaScript-side generator (per-sample choices: crop offsets, flips). */
  random: Random;
  /** Seed for libtorch's generator (tensor noise), used through {@link withTorchSeed}. */
  seed: number;
}

/** A batch transform: NCHW float32 in, a new NCHW tensor out (it may return its input unchanged). */
export type BatchTransform = (x: Tensor, context: TransformContext) => Tensor;

/** The context the loader gives transform number `position` for one batch. */
export function transformContext(seed: number, epoch: number, batch: number, position: number): TransformContext {
  return { random: deriveRandom(seed, epoch, batch, position, 0x7a11), seed: mixSeed(seed, epoch, batch, position, 0x70c4) };
}

/**
 * Runs `fn` with libtorch's global CPU generator seeded by `seed`, then restores the generator's
 * previous state, so seeded noise does not disturb (or depend on) the rest of the program.
 * (manualSeed also seeds CUDA generators; their state is not restored.)
 */
export function withTorchSeed<T>(seed: number, fn: () => T): T {
  const state = getRngState().keep();
  try {
    manualSeed(seed >>> 0);
    return fn();
  } finally {
    setRngState(state);
    state.dispose();
  }
}

/** Applies a transform outside a loader, with a context derived from `seed`. */
export function applyTransform(transform: BatchTransform, x: Tensor, seed = 0): Tensor {
  return scope(() => transform(x, transformContext(seed, 0, 0, 0)));
}

/** Chains transforms left to right (each gets its own random stream). */
export function compose(...transforms: BatchTransform[]): BatchTransform {
  return (x, context) => {
    let out = x;
    transforms.forEach((t, i) => {
      const sub: TransformContext = { random: deriveRandom(context.seed, i, 0xc0), seed: mixSeed(context.seed, i, 0xc1) };
      out = t(out, sub);
    });
    return out;
  };
}

function perChannel(values: number | readonly number[], channels: number, what: string): number[] {
  const list = typeof values === 'number' ? new Array<number>(channels).fill(values) : [...values];
  if (list.length === 1 && channels > 1) return new Array<number>(channels).fill(list[0] as number);
  if (list.length !== channels) throw new TypeError(`normalize: ${what} has ${list.length} values for a ${channels}-channel batch`);
  return list;
}

/**
 * (x - mean) / std per channel, as torchvision's Normalize. For the model side only: attacks
 * work in [0,1] pixel space and each model normalises internally (see the module comment).
 */
export function normalize(mean: number | readonly number[], std: number | readonly number[]): BatchTransform {
  return (x) => {
    const c = x.shape[1] as number;
    const m = perChannel(mean, c, 'mean');
    const s = perChannel(std, c, 'std');
    if (s.some((v) => !(v > 0))) throw new RangeError(`normalize: std must be positive, got [${s.join(', ')}]`);
    return scope(() => x.sub(tensor(m, { shape: [1, c, 1, 1] })).div_(tensor(s, { shape: [1, c, 1, 1] })));
  };
}

/** Options of {@link randomCrop}. */
export interface RandomCropOptions {
  /** Pixels added on every side before cropping (default 0). */
  padding?: number;
  /** How to fill the padding (default constant). */
  paddingMode?: 'constant' | 'reflect' | 'replicate';
  /** Constant fill value (default 0). */
  fill?: number;
}

/**
 * Random crop of `size` after padding, one offset per sample (the CIFAR-10 augmentation is
 * `randomCrop(32, { padding: 4 })`).
 */
export function randomCrop(size: number | readonly [number, number], options: RandomCropOptions = {}): BatchTransform {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  const p = options.padding ?? 0;
  if (!Number.isInteger(p) || p < 0) throw new RangeError(`randomCrop: padding must be a non-negative integer, got ${p}`);
  return (x, { random }) => {
    const [n, c, xh, xw] = x.shape as [number, number, number, number];
    const ph = xh + 2 * p;
    const pw = xw + 2 * p;
    if (h > ph || w > pw) throw new RangeError(`randomCrop: crop ${h}x${w} is larger than the padded ${ph}x${pw} images`);
    return scope(() => {
      const padded = p > 0 ? pad(x, [p, p, p, p], options.paddingMode ?? 'constant', options.fill ?? 0) : x;
      const out = empty([n, c, h, w], { dtype: x.dtype as 'float32' });
      for (let i = 0; i < n; i++) {
        const dy = random.int(ph - h + 1);
        const dx = random.int(pw - w + 1);
        scope(() => {
          out.select(0, i).copy_(padded.select(0, i).narrow(1, dy, h).narrow(2, dx, w));
        });
      }
      return out;
    });
  };
}

/** Mirrors each image left-right with probability `probability` (default 0.5). */
export function horizontalFlip(probability = 0.5): BatchTransform {
  if (!(probability >= 0 && probability <= 1)) throw new RangeError(`horizontalFlip: probability must be in [0,1], got ${probability}`);
  return (x, { random }) => {
    const n = x.shape[0] as number;
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) mask[i] = random.next() < probability ? 1 : 0;
    return scope(() => where(tensor(mask, { shape: [n, 1, 1, 1], dtype: 'bool' }), x.flip(3), x));
  };
}

/**
 * Additive Gaussian noise clipped to the pixel range: clip(x + factor * N(0,1), 0, 1). This is the
 * corruption paper 001 trains its denoising auto-encoder with (noise factor 0.1, 0.2 or 0.3).
 */
export function gaussianNoise(factor: number): BatchTransform {
  if (!(factor >= 0)) throw new RangeError(`gaussianNoise: factor must be non-negative, got ${factor}`);
  return (x, { seed }) => scope(() => withTorchSeed(seed, () => randnLike(x)).mul_(factor).add_(x).clamp_(0, 1));
}
