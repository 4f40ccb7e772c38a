/**
 * Image file glue: PNG and JPEG decoding and encoding (through the maintained pure-JavaScript
 * `pngjs` and `jpeg-js` packages), channel conversion and resizing, on plain interleaved pixel
 * buffers. Nothing here touches tensors, so it also runs inside worker threads (the image-folder
 * decoder of src/data); src/data and src/report convert to and from tensors.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import jpegJs from 'jpeg-js';
import pngJs from 'pngjs';
import { DataError } from '../util/errors.js';

const { PNG } = pngJs;

/** File formats {@link decodeImage} understands. */
export type ImageFormat = 'png' | 'jpeg';

/** Channels per pixel: gray, gray+alpha, RGB, RGBA. */
export type Channels = 1 | 2 | 3 | 4;

/** Decoded pixels: 8-bit, row-major, channels interleaved (HWC). */
export interface RawImage {
  width: number;
  height: number;
  channels: Channels;
  /** width * height * channels bytes. */
  data: Uint8Array;
}

/** What the header of an image file says, without decoding the pixels. */
export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** Channels the file stores (a JPEG's colour components; a PNG's colour type). */
  channels: Channels;
  /** Bits per sample (PNG: 1, 2, 4, 8 or 16; JPEG: the frame's precision, usually 8). */
  bitDepth: number;
}

/** Options of {@link decodeImage}. */
export interface DecodeImageOptions {
  /** Name used in error messages (usually the file path). */
  name?: string;
  /** Refuse larger images (default 100 megapixels), a guard against decompression bombs. */
  maxPixels?: number;
  /**
   * Refuse images whose decoding would need more memory than this (default 512 MiB), estimated
   * from the header's size, channels and bit depth before anything is decoded: a 100,000,000 x 1
   * PNG is within the pixel limit but would take gigabytes and many seconds to decode.
   */
  maxDecodedBytes?: number;
}

/** Largest image file {@link readImageFile} reads (64 MiB): no PNG or JPEG a classifier needs is near it. */
export const MAX_IMAGE_FILE_BYTES = 64 * 2 ** 20;
const DEFAULT_MAX_DECODED_BYTES = 512 * 2 ** 20;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const DEFAULT_MAX_PIXELS = 100_000_000;

/** The format of an image file, from its first bytes (magic numbers), or null. */
export function imageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

function u16be(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
}

function u32be(bytes: Uint8Array, at: number): number {
  return (((bytes[at] as number) << 24) >>> 0) + (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number));
}

/**
 * Reads an image's format, size and channel count from its header. Throws a {@link DataError}
 * when the bytes are neither PNG nor JPEG or the header is cut short.
 */
export function readImageHeader(bytes: Uint8Array, name = 'image'): ImageHeader {
  const format = imageFormat(bytes);
  if (format === 'png') {
    if (bytes.length < 33 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
      throw new DataError(name, 'truncated PNG: the IHDR header chunk is missing');
    }
    const colorType = bytes[25] as number;
    const channels = ({ 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 } as Record<number, Channels>)[colorType];
    if (channels === undefined) throw new DataError(name, `corrupt PNG: unknown colour type ${colorType}`);
    return { format, width: u32be(bytes, 16), height: u32be(bytes, 20), channels, bitDepth: bytes[24] as number };
  }
  if (format === 'jpeg') {
    let at = 2;
    while (at + 4 <= bytes.length) {
      if (bytes[at] !== 0xff) throw new DataError(name, `corrupt JPEG: expected a marker at byte ${at}`);
      const marker = bytes[at + 1] as number;
      if (marker === 0xff) {
        at++; // fill byte
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        at += 2;
        continue;
      }
      const length = u16be(bytes, at + 2);
      if (length < 2) throw new DataError(name, `corrupt JPEG: segment length ${length} at byte ${at}`);
      const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isFrame) {
        if (at + 10 > bytes.length) break;
        const components = bytes[at + 9] as number;
        if (components !== 1 && components !== 3 && components !== 4) {
          throw new DataError(name, `unsupported JPEG: ${components} colour components`);
        }
        return { format, height: u16be(bytes, at + 5), width: u16be(bytes, at + 7), channels: components === 1 ? 1 : 3, bitDepth: bytes[at + 4] as number };
      }
      if (marker === 0xda || marker === 0xd9) break;
      at += 2 + length;
    }
    throw new DataError(name, 'truncated or corrupt JPEG: no frame header (SOF) before the image data');
  }
  throw new DataError(name, 'not a PNG or JPEG file (unknown magic number)', 'image folders may hold .png, .jpg and .jpeg files only');
}

/**
 * Decodes a PNG or JPEG file (format sniffed from the bytes, not the name) into 8-bit pixels with
 * the file's own channel count: gray PNG/JPEG -> 1, gray+alpha PNG -> 2, colour -> 3, colour with
 * alpha -> 4. 16-bit PNGs are scaled to 8 bits; JPEG EXIF orientation is not applied. Corrupt,
 * truncated or oversized files throw a {@link DataError} naming `options.name`.
 */
export function decodeImage(bytes: Uint8Array, options: DecodeImageOptions = {}): RawImage {
  const name = options.name ?? 'image';
  const header = readImageHeader(bytes, name);
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (header.width === 0 || header.height === 0) throw new DataError(name, `corrupt ${header.format.toUpperCase()}: image size ${header.width}x${header.height}`);
  if (header.width * header.height > maxPixels) {
    throw new DataError(name, `image of ${header.width}x${header.height} pixels exceeds the limit of ${maxPixels} pixels`);
  }
  const maxDecodedBytes = options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  const needed = decodedBytes(header);
  if (needed > maxDecodedBytes) {
    throw new DataError(name, `decoding this ${header.width}x${header.height} ${header.format.toUpperCase()} would need about ${Math.ceil(needed / 2 ** 20)} MiB, over the limit of ${Math.floor(maxDecodedBytes / 2 ** 20)} MiB`, 'resize the image before giving it to Bastion');
  }
  try {
    return header.format === 'png' ? decodePng(bytes, header) : decodeJpeg(bytes, header, maxPixels);
  } catch (error) {
    if (error instanceof DataError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(name, `cannot decode ${header.format.toUpperCase()} (truncated or corrupt file): ${reason}`);
  }
}

/**
 * Memory a decoder needs for an image, from its header: pngjs holds the inflated scanlines (one
 * filter byte per row plus width x channels x depth bits), a second copy while unfiltering, and
 * the RGBA output; jpeg-js holds one plane per component and the RGB output.
 */
function decodedBytes(header: ImageHeader): number {
  const { width, height } = header;
  if (header.format === 'png') {
    const samples = header.channels === 3 && header.bitDepth < 8 ? 1 : header.channels; // palette index
    const row = 1 + Math.ceil((width * samples * Math.max(header.bitDepth, 1)) / 8);
    return 2 * row * height + width * height * 4;
  }
  // Planes are padded to whole 8x8 blocks (16x16 with chroma subsampling).
  const padded = (Math.ceil(width / 16) * 16) * (Math.ceil(height / 16) * 16);
  return padded * header.channels + width * height * 3;
}

function describeKind(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

function checkImageFile(path: string, info: Stats, maxBytes: number): void {
  if (!info.isFile()) throw new DataError(path, `is ${describeKind(info)}; an image must be a regular PNG or JPEG file`);
  if (info.size > maxBytes) throw new DataError(path, `file of ${info.size} bytes exceeds the limit of ${maxBytes} bytes for an image`);
}

function readError(path: string, error: unknown): DataError {
  if (error instanceof DataError) return error;
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT') return new DataError(path, 'no such file');
  if (code === 'EACCES' || code === 'EPERM') return new DataError(path, 'permission denied');
  return new DataError(path, `cannot read: ${(error as Error).message ?? String(error)}`);
}

/**
 * Reads an image file's bytes: it must be a regular file (a directory, FIFO or device such as
 * /dev/zero is refused, not read for ever) of at most `maxBytes` (default {@link MAX_IMAGE_FILE_BYTES});
 * at most that many bytes are read even if the file grows. Errors are {@link DataError}s naming `path`.
 */
export async function readImageFile(path: string, maxBytes = MAX_IMAGE_FILE_BYTES): Promise<Uint8Array> {
  try {
    checkImageFile(path, await stat(path), maxBytes);
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat(); // the file opened is the file checked
      checkImageFile(path, info, maxBytes);
      const buffer = new Uint8Array(Math.min(info.size, maxBytes) + 1);
      let length = 0;
      for (;;) {
        if (length === buffer.length) throw new DataError(path, 'file grew while being read; read it again');
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      return buffer.slice(0, length);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw readError(path, error);
  }
}

/** Synchronous {@link readImageFile}, for the image-folder decoder and its worker threads. */
export function readImageFileSync(path: string, maxBytes = MAX_IMAGE_FILE_BYTES): Uint8Array {
  try {
    checkImageFile(path, statSync(path), maxBytes);
    const fd = openSync(path, 'r');
    try {
      const info = fstatSync(fd);
      checkImageFile(path, info, maxBytes);
      const buffer = new Uint8Array(Math.min(info.size, maxBytes) + 1);
      let length = 0;
      for (;;) {
        if (length === buffer.length) throw new DataError(path, 'file grew while being read; read it again');
        const n = readSync(fd, buffer, length, buffer.length - length, null);
        if (n === 0) break;
        length += n;
      }
      return buffer.slice(0, length);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw readError(path, error);
  }
}

/** Reads (see {@link readImageFile}) and decodes (see {@link decodeImage}) one image file. */
export async function loadImageFile(path: string, options: DecodeImageOptions = {}): Promise<RawImage> {
  return decodeImage(await readImageFile(path), { name: path, ...options });
}

function decodePng(bytes: Uint8Array, header: ImageHeader): RawImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const rgba = png.data;
  const channels: Channels = header.channels === 3 && png.alpha ? 4 : header.channels; // palette + tRNS
  const { width, height } = png;
  if (channels === 4) return { width, height, channels, data: new Uint8Array(rgba.buffer, rgba.byteOffset, width * height * 4) };
  const data = new Uint8Array(width * height * channels);
  const n = width * height;
  if (channels === 1) for (let i = 0; i < n; i++) data[i] = rgba[i * 4] as number;
  else if (channels === 2) {
    for (let i = 0; i < n; i++) {
      data[i * 2] = rgba[i * 4] as number;
      data[i * 2 + 1] = rgba[i * 4 + 3] as number;
    }
  } else {
    for (let i = 0; i < n; i++) {
      data[i * 3] = rgba[i * 4] as number;
      data[i * 3 + 1] = rgba[i * 4 + 1] as number;
      data[i * 3 + 2] = rgba[i * 4 + 2] as number;
    }
  }
  return { width, height, channels, data };
}

function decodeJpeg(bytes: Uint8Array, header: ImageHeader, maxPixels: number): RawImage {
  const decoded = jpegJs.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    // Truncated or corrupt scans must fail rather than come back partly grey.
    tolerantDecoding: false,
    maxResolutionInMP: maxPixels / 1e6,
    maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 8) / 2 ** 20)),
  });
  const { width, height } = decoded;
  const rgb = decoded.data;
  if (rgb.length !== width * height * 3) throw new Error(`decoder returned ${rgb.length} bytes for ${width}x${height} RGB`);
  if (header.channels !== 1) return { width, height, channels: 3, data: rgb };
  const gray = new Uint8Array(width * height);
  for (let i = 0; i < gray.length; i++) gray[i] = rgb[i * 3] as number;
  return { width, height, channels: 1, data: gray };
}

/** Encodes pixels as a PNG file (gray, gray+alpha, RGB or RGBA as the image has, 8 bits). */
export function encodePng(image: RawImage): Uint8Array {
  checkImage(image, 'encodePng');
  const colorType = ({ 1: 0, 2: 4, 3: 2, 4: 6 } as const)[image.channels];
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const bytes = PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: image.channels === 2 || image.channels === 4 });
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encodes pixels as a baseline JPEG (quality 1-100, default 90). JPEG has no alpha: it is dropped;
 * gray images are stored as colour (the encoder writes three components).
 */
export function encodeJpeg(image: RawImage, quality = 90): Uint8Array {
  checkImage(image, 'encodeJpeg');
  const rgb = convertChannels(image, 3);
  const rgba = new Uint8Array(rgb.width * rgb.height * 4);
  for (let i = 0, n = rgb.width * rgb.height; i < n; i++) {
    rgba[i * 4] = rgb.data[i * 3] as number;
    rgba[i * 4 + 1] = rgb.data[i * 3 + 1] as number;
    rgba[i * 4 + 2] = rgb.data[i * 3 + 2] as number;
    rgba[i * 4 + 3] = 255;
  }
  const out = jpegJs.encode({ width: rgb.width, height: rgb.height, data: rgba }, quality);
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

function checkImage(image: RawImage, where: string): void {
  if (!Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width < 1 || image.height < 1) {
    throw new RangeError(`${where}: image size must be positive integers, got ${image.width}x${image.height}`);
  }
  if (![1, 2, 3, 4].includes(image.channels)) throw new RangeError(`${where}: channels must be 1, 2, 3 or 4, got ${image.channels}`);
  if (image.data.length !== image.width * image.height * image.channels) {
    throw new RangeError(`${where}: ${image.width}x${image.height}x${image.channels} image needs ${image.width * image.height * image.channels} bytes, got ${image.data.length}`);
  }
}

/**
 * Converts to 1 (gray) or 3 (RGB) channels. Alpha is dropped (not composited), as PIL's
 * `convert('RGB')` does; colour becomes gray by ITU-R 601-2 luma (L = 0.299 R + 0.587 G + 0.114 B,
 * PIL's `convert('L')`); gray becomes colour by repetition. Returns the image itself when it
 * already has the requested channels.
 */
export function convertChannels(image: RawImage, channels: 1 | 3): RawImage {
  if (image.channels === channels) return image;
  const n = image.width * image.height;
  const src = image.data;
  const step = image.channels;
  const out = new Uint8Array(n * channels);
  if (channels === 3) {
    if (step >= 3) {
      for (let i = 0; i < n; i++) {
        out[i * 3] = src[i * step] as number;
        out[i * 3 + 1] = src[i * step + 1] as number;
        out[i * 3 + 2] = src[i * step + 2] as number;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = src[i * step] as number;
        out[i * 3] = v;
        out[i * 3 + 1] = v;
        out[i * 3 + 2] = v;
      }
    }
  } else if (step >= 3) {
    // Integer arithmetic with rounding, as PIL: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
    for (let i = 0; i < n; i++) {
      out[i] = ((src[i * step] as number) * 19595 + (src[i * step + 1] as number) * 38470 + (src[i * step + 2] as number) * 7471 + 0x8000) >>> 16;
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = src[i * step] as number;
  }
  return { width: image.width, height: image.height, channels, data: out };
}

/** How {@link resizeImage} treats a change of aspect ratio. */
export type ResizeFit = 'stretch' | 'crop';

/** Per output index, the source indices and weights that make it (a separable resampling kernel). */
interface AxisKernel {
  start: Int32Array;
  count: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

function axisKernel(offset: number, length: number, out: number): AxisKernel {
  const start = new Int32Array(out);
  const count = new Int32Array(out);
  const index: number[] = [];
  const weight: number[] = [];
  if (out < length) {
    // Area averaging: output pixel j covers source interval [j*s, (j+1)*s); each source pixel
    // contributes the fraction of it that the interval covers.
    const scale = length / out;
    for (let j = 0; j < out; j++) {
      const lo = j * scale;
      const hi = (j + 1) * scale;
      start[j] = index.length;
      for (let k = Math.floor(lo); k < Math.min(length, Math.ceil(hi)); k++) {
        const overlap = Math.min(hi, k + 1) - Math.max(lo, k);
        if (overlap <= 1e-12) continue;
        index.push(offset + k);
        weight.push(overlap / scale);
      }
      count[j] = index.length - (start[j] as number);
    }
  } else {
    // Bilinear with half-pixel centres (align_corners = false), edges clamped; identity when out == length.
    const scale = length / out;
    for (let j = 0; j < out; j++) {
      const centre = Math.min(Math.max((j + 0.5) * scale - 0.5, 0), length - 1);
      const k0 = Math.floor(centre);
      const frac = centre - k0;
      start[j] = index.length;
      index.push(offset + k0);
      weight.push(1 - frac);
      if (frac > 0 && k0 + 1 < length) {
        index.push(offset + k0 + 1);
        weight.push(frac);
      }
      count[j] = index.length - (start[j] as number);
    }
  }
  return { start, count, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

/**
 * Resizes to width x height. Shrinking averages the exact area each output pixel covers (the
 * "box"/area filter, as PIL's `reduce` and OpenCV's INTER_AREA), so a 512px photo becomes a faithful
 * thumbnail rather than a decimated, aliased one; enlarging is bilinear. With `fit: 'crop'` the
 * largest centred region of the target aspect ratio is used (no distortion); with the default
 * `'stretch'` the whole image is scaled to the target shape.
 */
export function resizeImage(image: RawImage, width: number, height: number, fit: ResizeFit = 'stretch'): RawImage {
  checkImage(image, 'resizeImage');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resizeImage: target size must be positive integers, got ${width}x${height}`);
  }
  let [x0, y0, cw, ch] = [0, 0, image.width, image.height];
  if (fit === 'crop') {
    if (image.width * height > image.height * width) {
      cw = Math.max(1, Math.round((image.height * width) / height));
      x0 = Math.floor((image.width - cw) / 2);
    } else {
      ch = Math.max(1, Math.round((image.width * height) / width));
      y0 = Math.floor((image.height - ch) / 2);
    }
  }
  if (x0 === 0 && y0 === 0 && cw === width && ch === height && image.width === width && image.height === height) return image;
  const c = image.channels;
  const src = image.data;
  const kx = axisKernel(x0, cw, width);
  const ky = axisKernel(y0, ch, height);
  // Horizontal pass over the rows the vertical kernel reads: [ch][width][c] floats.
  const rows = new Float32Array(ch * width * c);
  for (let y = 0; y < ch; y++) {
    const srcRow = (y0 + y) * image.width * c;
    const dstRow = y * width * c;
    for (let x = 0; x < width; x++) {
      const s = kx.start[x] as number;
      const e = s + (kx.count[x] as number);
      for (let k = 0; k < c; k++) {
        let acc = 0;
        for (let t = s; t < e; t++) acc += (src[srcRow + (kx.index[t] as number) * c + k] as number) * (kx.weight[t] as number);
        rows[dstRow + x * c + k] = acc;
      }
    }
  }
  const out = new Uint8Array(width * height * c);
  const rowStride = width * c;
  for (let y = 0; y < height; y++) {
    const s = ky.start[y] as number;
    const e = s + (ky.count[y] as number);
    for (let i = 0; i < rowStride; i++) {
      let acc = 0;
      for (let t = s; t < e; t++) acc += (rows[((ky.index[t] as number) - y0) * rowStride + i] as number) * (ky.weight[t] as number);
      out[y * rowStride + i] = acc <= 0 ? 0 : acc >= 255 ? 255 : Math.round(acc);
    }
  }
  return { width, height, channels: c, data: out };
}

/** Interleaved HWC pixels to planar CHW (the layout of image tensors). */
export function toPlanar(image: RawImage, out?: Uint8Array): Uint8Array {
  const { width, height, channels } = image;
  const plane = width * height;
  const dst = out ?? new Uint8Array(plane * channels);
  if (channels === 1) {
    dst.set(image.data.subarray(0, plane));
    return dst;
  }
  const src = image.data;
  for (let k = 0; k < channels; k++) {
    const base = k * plane;
    for (let i = 0; i < plane; i++) dst[base + i] = src[i * channels + k] as number;
  }
  return dst;
}

/** Planar CHW pixels to an interleaved HWC image (for encoding tensors as files). */
export function fromPlanar(data: Uint8Array, channels: Channels, height: number, width: number): RawImage {
  const plane = width * height;
  if (data.length !== plane * channels) throw new RangeError(`fromPlanar: [${channels},${height},${width}] needs ${plane * channels} bytes, got ${data.length}`);
  if (channels === 1) return { width, height, channels, data: data.slice() };
  const out = new Uint8Array(plane * channels);
  for (let k = 0; k < channels; k++) {
    const base = k * plane;
    for (let i = 0; i < plane; i++) out[i * channels + k] = data[base + i] as number;
  }
  return { width, height, channels, data: out };
}
