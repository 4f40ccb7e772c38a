/** `bastion reproduce`: runs a paper experiment end to end and writes its tables. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { flag, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../../util/errors.js';

export const reproduceCommand: Command = {
  name: 'reproduce',
  onInterrupt: 'finished evaluations and the checkpoints of models in training (saved every epoch and every 10 minutes) are kept; run the same command again to continue',
  summary: 'Reproduce a paper table end to end (train or reuse models, evaluate, compare with the paper)',
  usage: 'reproduce NAME [--out DIR] [--retrain] [--reevaluate] [--only ID,...]  |  reproduce --list',
  description:
    'Experiments are the JSON files in experiments/. Trained models are cached by the hash of their spec under ' +
    'runs/cache/models (or $BASTION_CACHE_DIR/models), so a second run only evaluates. Each finished evaluation is ' +
    'saved at once (--out/evaluations/ID.json), and a later run into the same --out reuses the results of the same ' +
    'evaluation of the same models (marked "reused" with their date), so an interrupted run resumes where it stopped ' +
    '(a model in training continues from its last checkpoint, saved every epoch and every 10 minutes) and --only ' +
    'runs add up to the whole experiment. Writes results.json (with provenance), tables.md and one CSV per table to --out (default runs/reproduce/NAME); render the HTML report with ' +
    '`bastion report DIR`.',
  options: {
    list: { type: 'boolean', description: 'list the experiments with their estimated time on this machine' },
    out: { type: 'string', valueName: 'DIR', description: 'output folder (default runs/reproduce/NAME)' },
    retrain: { type: 'boolean', description: 'train every model again even when cached (implies --reevaluate)' },
    reevaluate: { type: 'boolean', description: 'recompute every evaluation even when this --out folder has its result' },
    only: { type: 'string', valueName: 'IDS', description: 'run only these evaluations and/or train only these models (comma-separated ids), with the models they need' },
  },
  allowPositionals: true,
  examples: ['bastion reproduce --list', 'bastion reproduce paper000-table3', 'bastion report runs/reproduce/paper000-table3'],
  async run({ values, positionals, print }) {
    const { listExperiments, loadExperiment, runExperiment, modelKeys, modelCacheDir } = await import('../../eval/experiment.js');
    const { existsSync } = await import('node:fs');
    if (flag(values, 'list')) {
      const experiments = await listExperiments();
      const rows = experiments.map((e) => {
        const keys = modelKeys(e);
        const cached = e.models.filter((m) => existsSync(join(modelCacheDir(), `${m.id}-${keys.get(m.id)}`, m.kind === 'ensemble' ? 'ensemble.json' : 'model.json'))).length;
        return { name: e.name, title: e.title, estimateMinutes: e.estimateMinutes, smoke: e.smoke === true, models: e.models.length, cachedModels: cached };
      });
      const w = Math.max(...rows.map((r) => r.name.length), 4);
      for (const r of rows) {
        print(`${r.name.padEnd(w)}  ~${String(r.estimateMinutes).padStart(4)} min cold  ${r.cachedModels}/${r.models} models cached  ${r.smoke ? '[smoke] ' : ''}${r.title}`);
      }
      return { experiments: rows };
    }
    const name = positionals[0];
    if (!name) throw new UsageError('name an experiment', 'see `bastion reproduce --list`');
    const experiment = await loadExperiment(name);
    const out = stringOption(values, 'out') ?? join('runs', 'reproduce', experiment.name);
    const only = stringOption(values, 'only')?.split(',').map((s) => s.trim()).filter((s) => s !== '');
    // Checked and locked before the work: a second run into the same --out fails naming this one's pid.
    const { prepareOutput } = await import('../../io/output-dir.js');
    const output = prepareOutput(out);
    const results = await runExperiment(experiment, { out, retrain: flag(values, 'retrain'), reevaluate: flag(values, 'reevaluate'), ...(only ? { only } : {}), log: (l) => print(l) })
      .finally(() => output.release());
    const { tableToMarkdown, tableToCsv } = await import('../../report/tables.js');
    const header = `# ${experiment.title}${results.smoke ? ' — SMOKE RUN (tiny data, not comparable with the paper)' : ''}\n\n`;
    const markdown = header + results.tables.map(tableToMarkdown).join('\n');
    await writeFile(join(out, 'tables.md'), markdown);
    for (const t of results.tables) await writeFile(join(out, `${t.id}.csv`), tableToCsv(t));
    print(markdown);
    print(`results: ${join(out, 'results.json')} (${results.wallSeconds.toFixed(0)} s); report: bastion report ${out}`);
    return { experiment: experiment.name, out, smoke: results.smoke, wallSeconds: results.wallSeconds, tables: results.tables };
  },
};
