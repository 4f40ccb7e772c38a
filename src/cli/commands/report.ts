/** `bastion report`: one self-contained HTML report of a run folder. */
import { stringOption } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../../util/errors.js';

/** The `bastion report` command. */
export const reportCommand: Command = {
  name: 'report',
  summary: 'Write the HTML report of a run folder (reproduce/demo results, attack or eval output)',
  usage: 'report RUN_DIR [--out FILE]',
  description:
    'Renders one self-contained HTML file (inline CSS, images as data: URIs, inline SVG charts, no script, no external ' +
    'requests) from the folder\'s files only: results.json and examples/ of `bastion reproduce` and `bastion demo`, ' +
    'summary.json (+ examples.safetensors) of `bastion attack --out DIR`, or eval.json of `bastion eval --out DIR`. ' +
    'Nothing is recomputed. Opens offline in any browser.',
  options: {
    out: { type: 'string', valueName: 'FILE', description: 'where to write the report (default RUN_DIR/report.html)' },
  },
  allowPositionals: true,
  examples: ['bastion report runs/demo', 'bastion report runs/reproduce/paper000-tables1-2 --out /tmp/paper000.html', 'bastion report runs/attacks/pgd-mnist'],
  async run({ values, positionals, print }) {
    const dir = positionals[0];
    if (!dir) throw new UsageError('name the run folder', 'e.g. bastion report runs/demo');
    if (positionals.length > 1) throw new UsageError(`one run folder at a time, got ${positionals.length}`);
    const { writeReport } = await import('../../report/html.js');
    const written = await writeReport(dir, stringOption(values, 'out'));
    print(`wrote ${written.path} (${(written.bytes / 1024).toFixed(0)} KiB)`);
    return { report: written.path, bytes: written.bytes };
  },
};
