/**
 * Heat-map pictures of Grad-CAM maps: a perceptual colour map (turbo, Mikhailov 2019, as a
 * piecewise-linear approximation) blended over the image, for `bastion gradcam` and reports.
 */
import { scope, type Tensor } from '../tensor/index.js';
import { tensorToImage } from '../io/image-tensor.js';
import type { RawImage } from '../io/image.js';
import { normalizeMaps, upsampleMap } from './gradcam.js';

/** Control points of the turbo colour map, at 0, 0.125, ..., 1 (RGB in 0..255). */
const TURBO: readonly (readonly [number, number, number])[] = [
  [48, 18, 59], [70, 107, 227], [40, 187, 236], [49, 242, 153], [162, 252, 60], [237, 208, 58], [251, 128, 34], [210, 49, 5], [122, 4, 3],
];

/** The turbo colour of a value in [0, 1]. */
export function turbo(value: number): [number, number, number] {
  const v = Math.min(1, Math.max(0, Number.isFinite(value) ? value : 0)) * (TURBO.length - 1);
  const i = Math.min(TURBO.length - 2, Math.floor(v));
  const t = v - i;
  const a = TURBO[i] as readonly [number, number, number];
  const b = TURBO[i + 1] as readonly [number, number, number];
  return [0, 1, 2].map((c) => Math.round((a[c] as number) * (1 - t) + (b[c] as number) * t)) as [number, number, number];
}

/**
 * An RGB picture of `map` ([h,w], any non-negative scale) over `image` ([C,H,W] in [0,1]):
 * the map is upsampled to the image, scaled to [0,1], coloured, and blended with weight `alpha`
 * over a grayscale copy of the image.
 */
export function heatmapOverlay(image: Tensor, map: Tensor, alpha = 0.5): RawImage {
  const [, height, width] = image.shape as [number, number, number];
  const { gray, heat } = scope(() => {
    const up = normalizeMaps(upsampleMap(map.detach().unsqueeze(0), height, width)).squeeze(0);
    const g = image.detach().float().mean(0);
    return { gray: g.toArray() as Float32Array, heat: up.toArray() as Float32Array };
  });
  const data = new Uint8Array(height * width * 3);
  for (let i = 0; i < height * width; i++) {
    const [r, gr, b] = turbo(heat[i] as number);
    const base = (gray[i] as number) * 255;
    data[i * 3] = Math.round((1 - alpha) * base + alpha * r);
    data[i * 3 + 1] = Math.round((1 - alpha) * base + alpha * gr);
    data[i * 3 + 2] = Math.round((1 - alpha) * base + alpha * b);
  }
  return { width, height, channels: 3, data };
}

/** The map alone as an RGB picture at the image's size (turbo colours). */
export function heatmapImage(map: Tensor, height: number, width: number): RawImage {
  const heat = scope(() => normalizeMaps(upsampleMap(map.detach().unsqueeze(0), height, width)).toArray() as Float32Array);
  const data = new Uint8Array(height * width * 3);
  heat.forEach((v, i) => data.set(turbo(v), i * 3));
  return { width, height, channels: 3, data };
}

/** An image tensor [C,H,W] as an RGB picture (grayscale replicated), for grids next to heat maps. */
export function asRgb(image: Tensor): RawImage {
  const raw = tensorToImage(image);
  if (raw.channels === 3) return raw;
  const data = new Uint8Array(raw.width * raw.height * 3);
  for (let i = 0; i < raw.width * raw.height; i++) data.fill(raw.data[i * raw.channels] as number, i * 3, i * 3 + 3);
  return { width: raw.width, height: raw.height, channels: 3, data };
}
