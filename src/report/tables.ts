/**
 * Rendering resolved experiment tables (src/eval/experiment.ts) as Markdown and CSV. Accuracies
 * are fractions in the data and shown as percentages; differences in percentage points.
 */
import type { ResolvedTable } from '../eval/experiment.js';

/** Columns whose numbers are not fractions of a whole (shown as they are, never as percentages). */
const RAW_NUMBER_COLUMN = /seconds|latency|mse|loss|param|images|mcnemar/i;

/** How a cell value is shown: fractions in [0,1] as percentages, other numbers (and raw-number columns) as they are. */
export function formatCell(value: number | string | null, column = ''): string {
  if (value === null) return '—';
  if (typeof value === 'string') return value;
  if (column.includes(' - ')) return `${value >= 0 ? '+' : ''}${(value * 100).toFixed(2)}`;
  if (Math.abs(value) <= 1 && !RAW_NUMBER_COLUMN.test(column)) return `${(value * 100).toFixed(2)}%`;
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/** A GitHub-flavoured Markdown table with its title as a heading. */
export function tableToMarkdown(table: ResolvedTable): string {
  const header = ['', ...table.columns];
  const lines = [
    `### ${table.title}`, '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...table.rows.map((r) => `| ${[r.label, ...table.columns.map((c) => formatCell(r.values[c] ?? null, c))].join(' | ')} |`),
  ];
  if (table.note) lines.push('', `_${table.note}_`);
  return `${lines.join('\n')}\n`;
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** CSV with raw values (fractions, not percentages), one row per table row. */
export function tableToCsv(table: ResolvedTable): string {
  const lines = [['row', ...table.columns].map(csvField).join(',')];
  for (const r of table.rows) lines.push([r.label, ...table.columns.map((c) => { const v = r.values[c]; return v === null || v === undefined ? '' : String(v); })].map(csvField).join(','));
  return `${lines.join('\n')}\n`;
}
