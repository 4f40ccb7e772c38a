/**
 * Between image files and tensors: decoded pixels to a CHW tensor and back, and a tensor straight
 * to PNG bytes (for report grids and adversarial-example dumps).
 */
import { scope, tensor, type Tensor } from '../tensor/index.js';
import { encodePng, fromPlanar, toPlanar, type Channels, type RawImage } from './image.js';

/** Decoded pixels as a [C,H,W] tensor: float32 in [0,1] (default) or the raw uint8 values. */
export function imageToTensor(image: RawImage, dtype: 'float32' | 'uint8' = 'float32'): Tensor {
  const planar = toPlanar(image);
  return scope(() => {
    const bytes = tensor(planar, { shape: [image.channels, image.height, image.width] });
    return dtype === 'uint8' ? bytes : bytes.float().div_(255);
  });
}

/**
 * A [C,H,W] (or [H,W]) image tensor as pixels: uint8 is taken as is, floats are read as [0,1]
 * intensities (clamped, scaled by 255 and rounded). C must be 1, 2, 3 or 4.
 */
export function tensorToImage(image: Tensor): RawImage {
  const shape = image.ndim === 2 ? [1, ...image.shape] : image.shape;
  const [c, h, w] = shape as [number, number, number];
  if (shape.length !== 3 || c < 1 || c > 4) {
    throw new TypeError(`tensorToImage: expected a [C,H,W] tensor with 1-4 channels, got [${image.shape.join(',')}]`);
  }
  const bytes = scope(() => {
    const u8 = image.dtype === 'uint8' ? image : image.detach().float().clamp(0, 1).mul_(255).round().to('uint8');
    return u8.toArray() as Uint8Array;
  });
  return fromPlanar(bytes, c as Channels, h, w);
}

/** Encodes a [C,H,W] image tensor (see {@link tensorToImage}) as PNG bytes. */
export function tensorToPng(image: Tensor): Uint8Array {
  return encodePng(tensorToImage(image));
}
