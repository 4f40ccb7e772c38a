/** `bastion data`: list, download and verify the data sets Bastion knows (src/data). */
import { BastionError, DataError, UsageError } from '../../util/errors.js';
import type { Command } from '../command.js';

const ACTIONS = ['list', 'download', 'verify'] as const;

/** The `bastion data` command (list, download, verify). */
export const dataCommand: Command = {
  name: 'data',
  summary: 'List, download and verify data sets (MNIST, Fashion-MNIST, KMNIST, CIFAR-10, AFHQ)',
  usage: 'data list | data download NAME [--force] | data verify [NAME]',
  description: [
    'list      shows every known data set, where it was found (or not) and how.',
    'download  fetches a set from its official mirrors, checks the published checksums and installs it',
    '          atomically into DIR/<name> (DIR: --data-dir, else $BASTION_DATA, else ~/.local/share/bastion/data).',
    '          Interrupted downloads resume. AFHQ needs a Kaggle login: the command says what to do.',
    'verify    re-checks the checksums of a found set (all found sets without NAME).',
    '',
    'Sets are searched in --data-dir, $BASTION_DATA, the user data folder, system places',
    '(/usr/share/datasets/...) and ../shared/data beside the checkout, in that order.',
  ].join('\n'),
  options: {
    'data-dir': { type: 'string', valueName: 'DIR', description: 'data folder searched first, and where downloads go' },
    force: { type: 'boolean', description: 'download again even if a verified copy is present' },
    mirror: { type: 'string', valueName: 'URL', multiple: true, description: 'base URL to download from instead of the official mirrors (repeatable)' },
  },
  allowPositionals: true,
  examples: ['bastion data list', 'bastion data download mnist', 'bastion data verify fashion-mnist --json'],
  async run({ values, positionals, print }) {
    const [action, name, ...extra] = positionals;
    if (action === undefined || !(ACTIONS as readonly string[]).includes(action)) {
      throw new UsageError(action === undefined ? 'missing action' : `unknown action '${action}'`, `use one of: ${ACTIONS.join(', ')}`);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const dataDir = typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined;
    const locate = dataDir === undefined ? {} : { dataDir };
    const data = await import('../../data/index.js');

    if (action === 'list') {
      if (name !== undefined) throw new UsageError(`'data list' takes no name (got '${name}')`);
      const rows = data.listDatasets(locate);
      const width = Math.max(...rows.map((r) => r.entry.name.length)) + 2;
      for (const row of rows) {
        const status = row.found ? `found    ${row.found.path} (${data.SOURCE_LABELS[row.found.via]})` : `missing  ${row.hint}`;
        print(`${row.entry.name.padEnd(width)}${status}`);
        const incomplete = row.searched.filter((s) => s.status === 'incomplete');
        for (const s of incomplete) print(`${''.padEnd(width)}  incomplete: ${s.path}: ${s.detail}`);
      }
      return {
        datasets: rows.map((r) => ({
          name: r.entry.name,
          title: r.entry.title,
          found: r.found !== null,
          path: r.found?.path ?? null,
          via: r.found?.via ?? null,
          searched: r.searched,
          ...(r.found ? {} : { hint: r.hint }),
        })),
      };
    }

    if (action === 'download') {
      if (name === undefined) throw new UsageError('missing data-set name', `e.g. \`bastion data download mnist\``);
      const mirrors = values['mirror'];
      const result = await data.downloadDataset(name, {
        ...locate,
        force: values['force'] === true,
        ...(Array.isArray(mirrors) ? { mirrors } : typeof mirrors === 'string' ? { mirrors: [mirrors] } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      for (const f of result.files) print(`${f.status === 'downloaded' ? 'downloaded' : 'present   '}  ${f.path}  md5 ${f.md5}`);
      print(`${result.name} is in ${result.dir}`);
      return { ...result };
    }

    // verify
    const names = name !== undefined ? [name] : data.listDatasets(locate).filter((r) => r.found !== null).map((r) => r.entry.name);
    if (names.length === 0) throw new BastionError('no data set found to verify', { hint: 'run `bastion data list`' });
    const checks = [];
    for (const n of names) {
      const check = await data.verifyDataset(n, locate);
      checks.push(check);
      print(`${check.name}: ${check.path} (${data.SOURCE_LABELS[check.via as keyof typeof data.SOURCE_LABELS] ?? check.via})`);
      for (const f of check.files) print(`  ${f.status.padEnd(10)} ${f.file}  ${f.detail}`);
      if (check.note) print(`  ${check.note}`);
    }
    const bad = checks.filter((c) => !c.ok);
    if (bad.length > 0) {
      const first = bad[0] as (typeof checks)[number];
      const failed = first.files.find((f) => f.status !== 'ok' && f.status !== 'unverified');
      throw new DataError(failed?.file ?? first.path, `fails verification: ${failed?.detail ?? 'see above'}${bad.length > 1 ? ` (and ${bad.length - 1} more data set(s))` : ''}`,
        `run \`bastion data download ${first.name} --force\` to fetch a good copy`);
    }
    return { datasets: checks };
  },
};
