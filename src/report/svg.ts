/**
 * Inline SVG line charts for the HTML report (accuracy against epsilon, training curves): real axes
 * with "nice" ticks, axis labels, a legend, markers of distinct shapes and dash patterns (so series
 * stay apart without colour), and a <title>/<desc> pair for screen readers. Plain strings, no chart
 * library, no external resources.
 */

/** One (x, y) point. */
export interface Point {
  x: number;
  y: number;
}

/** Marker shapes; each series gets its own so that charts read without colour. */
export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle' | 'triangle-down' | 'cross' | 'star';

/** One series of a chart. */
export interface Series {
  name: string;
  points: Point[];
  /** CSS colour (default: the next colour of {@link PALETTE}). */
  color?: string;
  /** Stroke dash pattern, e.g. '6 3' (default: solid). */
  dash?: string;
  /** Draw only markers, no connecting line (e.g. published reference points). */
  markersOnly?: boolean;
  /** Marker shape (default: the next shape of the marker cycle). */
  marker?: MarkerShape;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Fixed axis ranges (default: the data's range, widened to nice ticks). */
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** Tick label formatting (default: a short decimal). */
  xFormat?: (value: number) => string;
  yFormat?: (value: number) => string;
  width?: number;
  height?: number;
  /** Extra sentence for the accessible description (the data points are always listed). */
  description?: string;
  /** Element id prefix, unique in the document (default: a hash of the title and data). */
  id?: string;
}

/** The Okabe-Ito palette (distinguishable with the common colour-vision deficiencies), black last. */
export const PALETTE: readonly string[] = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#8B6D00', '#000000'];
const MARKERS: readonly MarkerShape[] = ['circle', 'square', 'diamond', 'triangle', 'triangle-down', 'cross', 'star'];

/** Escapes text for HTML/SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * Round tick values covering [min, max] with about `count` steps of 1, 2 or 5 times a power of ten
 * (the first tick <= min, the last >= max).
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError(`niceTicks: the range must be finite, got [${min}, ${max}]`);
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    [min, max] = [min - pad, max + pad];
  }
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw - 1e-12) as number);
  const first = Math.floor(min / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= max + step * 1e-9 || ticks.length < 2; v += step) ticks.push(Number(v.toPrecision(12)));
  if ((ticks.at(-1) as number) < max - step * 1e-9) ticks.push(Number(((ticks.at(-1) as number) + step).toPrecision(12)));
  return ticks;
}

/** A short decimal without trailing zeros (0.1, 0.15, 1.5, 12). */
export function shortNumber(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-4) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

/** A fraction as a percentage with no decimals (0.25 -> 25%). */
export function percentTick(value: number): string {
  return `${Number((value * 100).toFixed(1))}%`;
}

function marker(shape: MarkerShape, x: number, y: number, color: string, hollow: boolean): string {
  const fill = hollow ? '#fff' : color;
  const common = `fill="${fill}" stroke="${color}" stroke-width="1.6"`;
  const r = 4;
  switch (shape) {
    case 'circle': return `<circle cx="${f(x)}" cy="${f(y)}" r="${r}" ${common}/>`;
    case 'square': return `<rect x="${f(x - r + 0.5)}" y="${f(y - r + 0.5)}" width="${2 * r - 1}" height="${2 * r - 1}" ${common}/>`;
    case 'diamond': return `<path d="M${f(x)} ${f(y - r - 1)}L${f(x + r + 1)} ${f(y)}L${f(x)} ${f(y + r + 1)}L${f(x - r - 1)} ${f(y)}Z" ${common}/>`;
    case 'triangle': return `<path d="M${f(x)} ${f(y - r - 1)}L${f(x + r + 1)} ${f(y + r)}L${f(x - r - 1)} ${f(y + r)}Z" ${common}/>`;
    case 'triangle-down': return `<path d="M${f(x)} ${f(y + r + 1)}L${f(x + r + 1)} ${f(y - r)}L${f(x - r - 1)} ${f(y - r)}Z" ${common}/>`;
    case 'cross': return `<path d="M${f(x - r)} ${f(y - r)}L${f(x + r)} ${f(y + r)}M${f(x + r)} ${f(y - r)}L${f(x - r)} ${f(y + r)}" stroke="${color}" stroke-width="2.2" fill="none"/>`;
    case 'star': {
      const pts = Array.from({ length: 10 }, (_, i) => {
        const a = -Math.PI / 2 + (i * Math.PI) / 5;
        const rr = i % 2 === 0 ? r + 2 : (r + 2) * 0.45;
        return `${f(x + rr * Math.cos(a))} ${f(y + rr * Math.sin(a))}`;
      });
      return `<path d="M${pts.join('L')}Z" ${common}/>`;
    }
  }
}

function f(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.58;
}

/**
 * An inline SVG line chart (see the module comment). Series with no points are listed in the legend
 * as "(no data)". Non-finite points are skipped.
 */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 560;
  const series = options.series.map((s, i) => ({
    ...s,
    points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x),
    color: s.color ?? (PALETTE[i % PALETTE.length] as string),
    marker: s.marker ?? (MARKERS[i % MARKERS.length] as MarkerShape),
  }));
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const xTicks = niceTicks(options.xDomain?.[0] ?? (xs.length ? Math.min(...xs) : 0), options.xDomain?.[1] ?? (xs.length ? Math.max(...xs) : 1), 6);
  const yTicks = niceTicks(options.yDomain?.[0] ?? (ys.length ? Math.min(...ys) : 0), options.yDomain?.[1] ?? (ys.length ? Math.max(...ys) : 1), 5);
  const [x0, x1] = [options.xDomain?.[0] ?? (xTicks[0] as number), options.xDomain?.[1] ?? (xTicks.at(-1) as number)];
  const [y0, y1] = [options.yDomain?.[0] ?? (yTicks[0] as number), options.yDomain?.[1] ?? (yTicks.at(-1) as number)];
  const xFormat = options.xFormat ?? shortNumber;
  const yFormat = options.yFormat ?? shortNumber;
  const fontSize = 12;

  // Legend rows below the plot, wrapped to the width.
  const legendItems = series.map((s) => ({ s, label: s.points.length === 0 ? `${s.name} (no data)` : s.name }));
  const legendRows: (typeof legendItems)[] = [[]];
  let rowWidth = 0;
  for (const item of legendItems) {
    const w = 34 + textWidth(item.label, fontSize) + 18;
    if (rowWidth + w > width - 20 && (legendRows.at(-1) as typeof legendItems).length > 0) {
      legendRows.push([]);
      rowWidth = 0;
    }
    (legendRows.at(-1) as typeof legendItems).push(item);
    rowWidth += w;
  }
  const yLabelWidth = Math.max(...yTicks.map((t) => textWidth(yFormat(t), fontSize)));
  const margin = { top: 30, right: 18, bottom: 46 + legendRows.length * 20, left: Math.round(yLabelWidth) + 34 };
  const plotHeight = 220;
  const height = options.height ?? margin.top + plotHeight + margin.bottom;
  const plotWidth = width - margin.left - margin.right;
  const innerHeight = height - margin.top - margin.bottom;
  const sx = (x: number): number => margin.left + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * plotWidth;
  const sy = (y: number): number => margin.top + innerHeight - (y1 === y0 ? 0.5 : (y - y0) / (y1 - y0)) * innerHeight;

  const id = options.id ?? `chart-${(hashString(JSON.stringify([options.title, series.map((s) => [s.name, s.points])])) >>> 0).toString(36)}`;
  const parts: string[] = [];
  const descPoints = series.map((s) => `${s.name}: ${s.points.length === 0 ? 'no data' : s.points.map((p) => `(${xFormat(p.x)}, ${yFormat(p.y)})`).join(' ')}`).join('; ');
  parts.push(`<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${id}-t ${id}-d">`);
  parts.push(`<title id="${id}-t">${escapeXml(options.title)}</title>`);
  parts.push(`<desc id="${id}-d">${escapeXml(`${options.description ? `${options.description} ` : ''}${options.yLabel} against ${options.xLabel}. ${descPoints}`)}</desc>`);
  parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="600" fill="#222">${escapeXml(options.title)}</text>`);
  // Grid and ticks.
  for (const t of yTicks) {
    if (t < y0 - 1e-12 || t > y1 + 1e-12) continue;
    const y = sy(t);
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${f(y)}" y2="${f(y)}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${f(y + 4)}" text-anchor="end" font-size="${fontSize}" fill="#444">${escapeXml(yFormat(t))}</text>`);
  }
  for (const t of xTicks) {
    if (t < x0 - 1e-12 || t > x1 + 1e-12) continue;
    const x = sx(t);
    parts.push(`<line x1="${f(x)}" x2="${f(x)}" y1="${margin.top}" y2="${margin.top + innerHeight}" stroke="#f0f0f0"/>`);
    parts.push(`<line x1="${f(x)}" x2="${f(x)}" y1="${margin.top + innerHeight}" y2="${margin.top + innerHeight + 5}" stroke="#555"/>`);
    parts.push(`<text x="${f(x)}" y="${margin.top + innerHeight + 18}" text-anchor="middle" font-size="${fontSize}" fill="#444">${escapeXml(xFormat(t))}</text>`);
  }
  // Axes.
  parts.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + innerHeight}" stroke="#555"/>`);
  parts.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${margin.top + innerHeight}" y2="${margin.top + innerHeight}" stroke="#555"/>`);
  parts.push(`<text x="${margin.left + plotWidth / 2}" y="${margin.top + innerHeight + 36}" text-anchor="middle" font-size="${fontSize}" fill="#222">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${margin.top + innerHeight / 2}) rotate(-90)" text-anchor="middle" font-size="${fontSize}" fill="#222">${escapeXml(options.yLabel)}</text>`);
  // Series.
  for (const s of series) {
    if (s.points.length === 0) continue;
    parts.push(`<g class="series"><title>${escapeXml(s.name)}</title>`);
    if (!s.markersOnly && s.points.length > 1) {
      const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${f(sx(p.x))} ${f(sy(p.y))}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    }
    for (const p of s.points) parts.push(marker(s.marker, sx(p.x), sy(p.y), s.color, s.markersOnly === true));
    parts.push('</g>');
  }
  // Legend.
  legendRows.forEach((row, r) => {
    let x = margin.left;
    const y = margin.top + innerHeight + 52 + r * 20;
    for (const { s, label } of row) {
      if (!s.markersOnly) parts.push(`<line x1="${x}" x2="${x + 26}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
      parts.push(marker(s.marker, x + 13, y, s.color, s.markersOnly === true));
      parts.push(`<text x="${x + 32}" y="${y + 4}" font-size="${fontSize}" fill="#222">${escapeXml(label)}</text>`);
      x += 34 + textWidth(label, fontSize) + 18;
    }
  });
  parts.push('</svg>');
  return parts.join('');
}

function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h | 0;
}
