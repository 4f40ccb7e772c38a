/**
 * Image grids for reports and attack dumps: tiles (any size, gray or colour) laid out in rows,
 * upscaled with nearest-neighbour, each with an optional coloured caption and border, under an
 * optional header row. Text uses a built-in 3x5 pixel font (digits, A-Z, a few symbols; lower case
 * is drawn as upper case), so no font files are needed.
 */
import { convertChannels, type RawImage } from '../io/image.js';

/** RGB colour. */
export type Rgb = readonly [number, number, number];

/** One tile of a grid. */
export interface GridCell {
  image: RawImage;
  /** Short text under the tile. */
  caption?: string;
  /** Colour of the caption and of a 1-pixel border (none when absent). */
  color?: Rgb;
}

/** Layout options of {@link composeGrid}. */
export interface GridOptions {
  /** Integer upscaling of every tile (default 3). */
  scale?: number;
  /** Titles above the columns. */
  header?: readonly string[];
  /** Pixels between tiles (default 4). */
  gap?: number;
  /** Integer scale of the 3x5 font (default 2). */
  fontScale?: number;
}

// 3x5 glyphs, one string per row, '#' = ink.
const GLYPHS: Record<string, string> = {
  '0': '### #.# #.# #.# ###', '1': '.#. ##. .#. .#. ###', '2': '### ..# ### #.. ###', '3': '### ..# ### ..# ###', '4': '#.# #.# ### ..# ..#',
  '5': '### #.. ### ..# ###', '6': '### #.. ### #.# ###', '7': '### ..# .#. .#. .#.', '8': '### #.# ### #.# ###', '9': '### #.# ### ..# ###',
  A: '.#. #.# ### #.# #.#', B: '##. #.# ##. #.# ##.', C: '.## #.. #.. #.. .##', D: '##. #.# #.# #.# ##.', E: '### #.. ##. #.. ###',
  F: '### #.. ##. #.. #..', G: '.## #.. #.# #.# .##', H: '#.# #.# ### #.# #.#', I: '### .#. .#. .#. ###', J: '..# ..# ..# #.# .#.',
  K: '#.# #.# ##. #.# #.#', L: '#.. #.. #.. #.. ###', M: '#.# ### ### #.# #.#', N: '##. #.# #.# #.# #.#', O: '.#. #.# #.# #.# .#.',
  P: '##. #.# ##. #.. #..', Q: '.#. #.# #.# ##. .##', R: '##. #.# ##. #.# #.#', S: '.## #.. .#. ..# ##.', T: '### .#. .#. .#. .#.',
  U: '#.# #.# #.# #.# ###', V: '#.# #.# #.# #.# .#.', W: '#.# #.# ### ### #.#', X: '#.# #.# .#. #.# #.#', Y: '#.# #.# .#. .#. .#.',
  Z: '### ..# .#. #.. ###', ' ': '... ... ... ... ...', '.': '... ... ... ... .#.', ',': '... ... ... .#. #..', ':': '... .#. ... .#. ...',
  '-': '... ... ### ... ...', '+': '... .#. ### .#. ...', '=': '... ### ... ### ...', '/': '..# ..# .#. #.. #..', '>': '#.. .#. ..# .#. #..',
  '<': '..# .#. #.. .#. ..#', '%': '#.# ..# .#. #.. #.#', '(': '.#. #.. #.. #.. .#.', ')': '.#. ..# ..# ..# .#.', '?': '### ..# .#. ... .#.',
  '_': '... ... ... ... ###', '*': '... #.# .#. #.# ...', '!': '.#. .#. .#. ... .#.', "'": '.#. .#. ... ... ...',
};

/** Width in pixels of `text` in the 3x5 font at `scale`. */
export function textWidth(text: string, scale = 2): number {
  return text.length === 0 ? 0 : (text.length * 4 - 1) * scale;
}

/** Draws `text` into an RGB canvas with its top-left corner at (x, y); characters outside the font draw as '?'. */
export function drawText(canvas: RawImage, text: string, x: number, y: number, color: Rgb, scale = 2): void {
  if (canvas.channels !== 3) throw new TypeError('drawText: the canvas must be RGB');
  [...text.toUpperCase()].forEach((ch, k) => {
    const rows = (GLYPHS[ch] ?? GLYPHS['?'] as string).split(' ');
    rows.forEach((row, r) => {
      for (let c = 0; c < 3; c++) {
        if (row[c] !== '#') continue;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const px = x + (k * 4 + c) * scale + dx;
            const py = y + r * scale + dy;
            if (px < 0 || py < 0 || px >= canvas.width || py >= canvas.height) continue;
            canvas.data.set(color, (py * canvas.width + px) * 3);
          }
        }
      }
    });
  });
}

/**
 * Lays out `rows` of tiles (null leaves a blank) as one RGB image on a white background: every
 * tile upscaled by `scale`, its caption centred below it, its border in its colour, and the
 * `header` titles above the columns. Tiles of one column should share a size.
 */
export function composeGrid(rows: readonly (readonly (GridCell | null)[])[], options: GridOptions = {}): RawImage {
  const scale = options.scale ?? 3;
  const gap = options.gap ?? 4;
  const font = options.fontScale ?? 2;
  const columns = Math.max(...rows.map((r) => r.length), options.header?.length ?? 0);
  const colWidth = Array.from({ length: columns }, (_, c) => Math.max(
    ...rows.map((r) => (r[c] ? r[c]!.image.width * scale + 2 : 0)),
    ...rows.map((r) => textWidth(r[c]?.caption ?? '', font)),
    textWidth(options.header?.[c] ?? '', font),
  ));
  const textHeight = 5 * font;
  const rowHeight = rows.map((r) => Math.max(0, ...r.map((cell) => (cell ? cell.image.height * scale + 2 : 0))) + (r.some((cell) => cell?.caption) ? textHeight + 3 : 0));
  const headerHeight = options.header ? textHeight + gap : 0;
  const width = gap + colWidth.reduce((a, w) => a + w + gap, 0);
  const height = gap + headerHeight + rowHeight.reduce((a, h) => a + h + gap, 0);
  const canvas: RawImage = { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(255) };
  const left = colWidth.map((_, c) => gap + colWidth.slice(0, c).reduce((a, w) => a + w + gap, 0));
  options.header?.forEach((title, c) => drawText(canvas, title, (left[c] as number) + Math.floor(((colWidth[c] as number) - textWidth(title, font)) / 2), gap, [0, 0, 0], font));
  let top = gap + headerHeight;
  rows.forEach((row, r) => {
    row.forEach((cell, c) => {
      if (!cell) return;
      const rgb = convertChannels(cell.image, 3);
      const tileW = rgb.width * scale + 2;
      const x0 = (left[c] as number) + Math.floor(((colWidth[c] as number) - tileW) / 2);
      const border = cell.color ?? [255, 255, 255];
      for (let y = 0; y < rgb.height * scale + 2; y++) {
        for (let x = 0; x < tileW; x++) {
          const inside = x > 0 && y > 0 && x < tileW - 1 && y < rgb.height * scale + 1;
          const color = inside ? rgb.data.subarray((Math.floor((y - 1) / scale) * rgb.width + Math.floor((x - 1) / scale)) * 3, (Math.floor((y - 1) / scale) * rgb.width + Math.floor((x - 1) / scale)) * 3 + 3) : border;
          canvas.data.set(color, ((top + y) * width + x0 + x) * 3);
        }
      }
      if (cell.caption) {
        const tx = (left[c] as number) + Math.floor(((colWidth[c] as number) - textWidth(cell.caption, font)) / 2);
        drawText(canvas, cell.caption, tx, top + rgb.height * scale + 4, cell.color ?? [0, 0, 0], font);
      }
    });
    top += (rowHeight[r] as number) + gap;
  });
  return canvas;
}
