/**
 * The per-file work of the image-folder reader: decode a PNG/JPEG, convert it to the requested
 * channels, resize it (area averaging when shrinking) and lay it out as planar CHW bytes.
 * Pure JavaScript (no tensors), so it runs in the decode worker threads as well as inline.
 */
import { convertChannels, decodeImage, readImageFileSync, resizeImage, toPlanar, type ResizeFit } from '../io/image.js';

/** How every image of a folder data set is brought to one shape. */
export interface ImageSpec {
  height: number;
  width: number;
  channels: 1 | 3;
  fit: ResizeFit;
}

/** Decodes one image file's bytes to `spec` as planar CHW uint8 (throws a DataError naming `name`). */
export function decodeToSpec(bytes: Uint8Array, spec: ImageSpec, name: string): Uint8Array {
  const image = decodeImage(bytes, { name });
  return toPlanar(resizeImage(convertChannels(image, spec.channels), spec.width, spec.height, spec.fit));
}

/** Reads and decodes one image file to `spec` (see {@link decodeToSpec}). */
export function decodeFileToSpec(path: string, spec: ImageSpec): Uint8Array {
  return decodeToSpec(readImageFileSync(path), spec, path);
}
