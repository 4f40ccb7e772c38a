/**
 * The published numbers of the four papers (/work/shared/reference/seed-tables.md, checked against
 * the papers in /work/shared/papers) as typed data, and "eps | paper | ours | diff" tables that put
 * our measurements beside them (used by `bastion attack --compare`, the report and `reproduce`).
 *
 * Accuracies are fractions of the test set (paper 004's percentages divided by 100); epsilons are
 * L-inf in [0,1] pixel units. Attack names are Bastion's registry names: `none` is the clean
 * accuracy, `cw-pgd` paper 004's "CW" columns (PGD on the CW loss), `iter-step-ll` its Iter-StepLL.
 */
import { BastionError } from '../util/errors.js';

/** The four papers, by the number of their file in /work/shared/papers. */
export type PaperId = '000' | '001' | '002' | '004';

/** What a published number measures. */
export type PaperMetric = 'accuracy' | 'latency-seconds' | 'iou';

/** One published number and the setting it was measured in. */
export interface PaperEntry {
  dataset: 'mnist' | 'fashion-mnist' | 'afhq' | 'cifar10' | 'imagenet';
  /** Classifier (Bastion zoo name where Bastion has it). */
  model: string;
  /** `none`, or the defense: csaae, cae, dae, dae+kfold, madry, madry+aad, alp, alp+aad, defense-gan, puvae. */
  defense: string;
  /** Registry name of the attack, `none` for clean accuracy. */
  attack: string;
  /** L-inf budget (0 for clean accuracy; null when the paper gives none). */
  epsilon: number | null;
  /** Attack iterations, where the paper states them. */
  iterations?: number;
  metric: PaperMetric;
  value: number;
  /** Further conditions (e.g. the number of Grad-CAM cells). */
  condition?: Record<string, string | number>;
}

/** One published table. */
export interface PaperTable {
  /** e.g. `paper000-table2`, the name `--compare` takes. */
  id: string;
  paper: PaperId;
  title: string;
  /** Where the numbers come from (file, table, page text). */
  source: string;
  /** The epsilon grid of the table. */
  epsilons: number[];
  entries: PaperEntry[];
  /** Caveats: garbled layouts, authors' remarks, assumptions made when transcribing. */
  note?: string;
}

type Base = Omit<PaperEntry, 'epsilon' | 'value' | 'metric'> & { metric?: PaperMetric };

/** Entries of one row of values over an epsilon grid. */
function sweep(base: Base, epsilons: readonly number[], values: readonly number[]): PaperEntry[] {
  if (epsilons.length !== values.length) throw new Error(`paper data: ${values.length} values for ${epsilons.length} epsilons`);
  return values.map((value, i) => ({ metric: 'accuracy', ...base, epsilon: epsilons[i] as number, value }));
}

function one(base: Base, epsilon: number | null, value: number): PaperEntry {
  return { metric: 'accuracy', ...base, epsilon, value };
}

const FGSM_GRID = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0, 1.5];
const PGD_GRID = [0, 0.05, 0.1, 0.15, 0.2, 0.3];
const PAPER_000 = '/work/shared/papers/000_8c59e2afd3015b04.txt (CSAAE)';
const PAPER_001 = '/work/shared/papers/001_84cbc224fae85fa5.txt (DAE + K-fold)';
const PAPER_002 = '/work/shared/papers/002_ce6d6b3d3b77c72d.txt (Mandal, CAE)';
const PAPER_004 = '/work/shared/papers/004_a527b9b0b23a3c87.txt (AAD and A3)';

/** Paper 004 Table 6: rows of clean, FGSM, PGD10..100, CW10..100 (percent) at one budget. */
function table6(dataset: PaperEntry['dataset'], model: string, eps: number, rows: Record<string, number[]>): PaperEntry[] {
  const entries: PaperEntry[] = [];
  for (const [defense, values] of Object.entries(rows)) {
    const [clean, fgsm, ...iterative] = values.map((v) => Math.round(v * 100) / 10000);
    entries.push(one({ dataset, model, defense, attack: 'none' }, 0, clean as number));
    entries.push(one({ dataset, model, defense, attack: 'fgsm' }, eps, fgsm as number));
    [10, 20, 40, 100].forEach((iterations, i) => {
      entries.push(one({ dataset, model, defense, attack: 'pgd', iterations }, eps, iterative[i] as number));
      entries.push(one({ dataset, model, defense, attack: 'cw-pgd', iterations }, eps, iterative[i + 4] as number));
    });
  }
  return entries;
}

/** Every table of the four papers. */
export const PAPER_TABLES: readonly PaperTable[] = [
  {
    id: 'paper000-table1', paper: '000', title: 'FGSM without defense, simple CNN', source: `${PAPER_000}, Table 1`, epsilons: FGSM_GRID,
    entries: [
      ...sweep({ dataset: 'mnist', model: 'simple-cnn', defense: 'none', attack: 'fgsm' }, FGSM_GRID, [0.9919, 0.9232, 0.8457, 0.7529, 0.6126, 0.4257, 0.2758, 0.1723, 0.0739, 0.0721]),
      ...sweep({ dataset: 'fashion-mnist', model: 'simple-cnn', defense: 'none', attack: 'fgsm' }, FGSM_GRID, [0.9257, 0.4638, 0.3854, 0.2854, 0.2487, 0.1756, 0.1367, 0.0844, 0.0369, 0.0399]),
    ],
    note: 'Different values at eps 1.0 and 1.5 are only possible without clipping to [0,1] (Algorithm 1 has none).',
  },
  {
    id: 'paper000-table2', paper: '000', title: 'PGD without defense, simple CNN', source: `${PAPER_000}, Table 2`, epsilons: PGD_GRID,
    entries: [
      ...sweep({ dataset: 'mnist', model: 'simple-cnn', defense: 'none', attack: 'pgd' }, PGD_GRID, [0.9878, 0.6493, 0.1947, 0.0748, 0.0294, 0.0251]),
      ...sweep({ dataset: 'fashion-mnist', model: 'simple-cnn', defense: 'none', attack: 'pgd' }, PGD_GRID, [0.9153, 0.3694, 0.2583, 0.2371, 0.2184, 0.2142]),
    ],
    note: 'Steps and step size are not given. The clean accuracy (eps 0) differs from Table 1\'s (.9878 vs .9919), so Algorithm 1\'s random start may apply at eps 0.',
  },
  {
    id: 'paper000-table3', paper: '000', title: 'Purifier in front of the simple CNN, FGSM 0.6 and PGD 0.15', source: `${PAPER_000}, Table 3`, epsilons: [0.15, 0.6],
    entries: (['mnist', 'fashion-mnist'] as const).flatMap((dataset, d) => [
      ['none', 'fgsm', 0.6, [0.2758, 0.1367]], ['csaae', 'fgsm', 0.6, [0.8892, 0.8531]], ['cae', 'fgsm', 0.6, [0.9121, 0.8253]],
      ['none', 'pgd', 0.15, [0.0748, 0.2371]], ['csaae', 'pgd', 0.15, [0.9386, 0.8679]], ['cae', 'pgd', 0.15, [0.9354, 0.8478]],
    ].map(([defense, attack, eps, v]) => one({ dataset, model: 'simple-cnn', defense: defense as string, attack: attack as string }, eps as number, (v as number[])[d] as number))),
  },
  {
    id: 'paper000-table4', paper: '000', title: 'Animal Faces (cat/dog/wild), VGG-16', source: `${PAPER_000}, Table 4`, epsilons: [0.15, 0.6],
    entries: [
      one({ dataset: 'afhq', model: 'vgg16', defense: 'none', attack: 'fgsm' }, 0.6, 0.1041), one({ dataset: 'afhq', model: 'vgg16', defense: 'none', attack: 'pgd' }, 0.15, 0.0498),
      one({ dataset: 'afhq', model: 'vgg16', defense: 'csaae', attack: 'fgsm' }, 0.6, 0.9427), one({ dataset: 'afhq', model: 'vgg16', defense: 'csaae', attack: 'pgd' }, 0.15, 0.9645),
      one({ dataset: 'afhq', model: 'vgg16', defense: 'cae', attack: 'fgsm' }, 0.6, 0.9027), one({ dataset: 'afhq', model: 'vgg16', defense: 'cae', attack: 'pgd' }, 0.15, 0.9336),
    ],
  },
  {
    id: 'paper000-table5', paper: '000', title: 'Animal Faces, ResNet-18', source: `${PAPER_000}, Table 5`, epsilons: [0.15, 0.6],
    entries: [
      one({ dataset: 'afhq', model: 'resnet18', defense: 'none', attack: 'fgsm' }, 0.6, 0.1041), one({ dataset: 'afhq', model: 'resnet18', defense: 'none', attack: 'pgd' }, 0.15, 0.0498),
      one({ dataset: 'afhq', model: 'resnet18', defense: 'csaae', attack: 'fgsm' }, 0.6, 0.2618), one({ dataset: 'afhq', model: 'resnet18', defense: 'csaae', attack: 'pgd' }, 0.15, 0.21),
      one({ dataset: 'afhq', model: 'resnet18', defense: 'cae', attack: 'fgsm' }, 0.6, 0.0009), one({ dataset: 'afhq', model: 'resnet18', defense: 'cae', attack: 'pgd' }, 0.15, 0.0509),
    ],
    note: 'The authors say the ResNet-18 rows point to a bug in their own setup; the undefended row repeats Table 4\'s.',
  },
  {
    id: 'paper001-table1', paper: '001', title: 'MNIST, FGSM: no defense, DAE, DAE + 10-fold ensemble', source: `${PAPER_001}, Table 1`, epsilons: [0, 0.1, 0.2, 0.3],
    entries: [
      one({ dataset: 'mnist', model: 'kfold-cnn', defense: 'none', attack: 'fgsm' }, 0, 0.9906),
      ...sweep({ dataset: 'mnist', model: 'kfold-cnn', defense: 'none', attack: 'fgsm' }, [0.1, 0.2, 0.3], [0.8148, 0.303, 0.0838]),
      ...sweep({ dataset: 'mnist', model: 'kfold-cnn', defense: 'dae', attack: 'fgsm' }, [0.1, 0.2, 0.3], [0.9621, 0.8988, 0.6804]),
      ...sweep({ dataset: 'mnist', model: 'kfold-cnn', defense: 'dae+kfold', attack: 'fgsm' }, [0.1, 0.2, 0.3], [0.9707, 0.9301, 0.7735]),
    ],
    note: 'The published layout is garbled; values as read in seed-tables.md. Each DAE was trained with noise factor = eps.',
  },
  {
    id: 'paper002-table1a', paper: '002', title: 'FGSM without defense, VGG-16', source: `${PAPER_002}, Table 1(a)`, epsilons: FGSM_GRID,
    entries: [
      ...sweep({ dataset: 'mnist', model: 'vgg16', defense: 'none', attack: 'fgsm' }, FGSM_GRID, [0.9901, 0.9099, 0.8237, 0.7274, 0.584, 0.4054, 0.2648, 0.161, 0.0531, 0.0523]),
      ...sweep({ dataset: 'fashion-mnist', model: 'vgg16', defense: 'none', attack: 'fgsm' }, FGSM_GRID, [0.9122, 0.4751, 0.3798, 0.2973, 0.2376, 0.1889, 0.1417, 0.0955, 0.0444, 0.0412]),
    ],
  },
  {
    id: 'paper002-table1b', paper: '002', title: 'PGD without defense, VGG-16', source: `${PAPER_002}, Table 1(b)`, epsilons: PGD_GRID,
    entries: [
      ...sweep({ dataset: 'mnist', model: 'vgg16', defense: 'none', attack: 'pgd' }, PGD_GRID, [0.9922, 0.613, 0.1723, 0.0418, 0.0181, 0.0118]),
      ...sweep({ dataset: 'fashion-mnist', model: 'vgg16', defense: 'none', attack: 'pgd' }, PGD_GRID, [0.9206, 0.315, 0.2962, 0.2942, 0.294, 0.2934]),
    ],
  },
  {
    id: 'paper002-table2', paper: '002', title: 'CAE in front of VGG-16, FGSM 0.6 and PGD 0.15', source: `${PAPER_002}, Table 2`, epsilons: [0.15, 0.6],
    entries: (['mnist', 'fashion-mnist'] as const).flatMap((dataset, d) => [
      ['none', 'fgsm', 0.6, [0.2648, 0.1417]], ['cae', 'fgsm', 0.6, [0.9209, 0.7393]],
      ['none', 'pgd', 0.15, [0.0418, 0.2942]], ['cae', 'pgd', 0.15, [0.9406, 0.7291]],
    ].map(([defense, attack, eps, v]) => one({ dataset, model: 'vgg16', defense: defense as string, attack: attack as string }, eps as number, (v as number[])[d] as number))),
  },
  {
    id: 'paper002-table3', paper: '002', title: 'MNIST, FGSM 0.6: accuracy and inference latency of purifiers', source: `${PAPER_002}, Table 3`, epsilons: [0.6],
    entries: ([['defense-gan', 0.8529, 14.8], ['puvae', 0.8133, 0.11], ['cae', 0.9209, 0.008]] as const).flatMap(([defense, acc, latency]) => [
      one({ dataset: 'mnist', model: 'vgg16', defense, attack: 'fgsm' }, 0.6, acc),
      one({ dataset: 'mnist', model: 'vgg16', defense, attack: 'fgsm', metric: 'latency-seconds' }, 0.6, latency),
    ]),
  },
  {
    id: 'paper004-table3', paper: '004', title: 'Average Grad-CAM IoU between original and adversarial images (ImageNet, InceptionV3)', source: `${PAPER_004}, Table 3`, epsilons: [],
    entries: [5, 10, 20, 30].flatMap((cells, i) => [
      one({ dataset: 'imagenet', model: 'inception-v3', defense: 'none', attack: 'step-ll', metric: 'iou', condition: { cells, subset: 'succeed' } }, null, [0.393, 0.49, 0.609, 0.676][i] as number),
      one({ dataset: 'imagenet', model: 'inception-v3', defense: 'none', attack: 'step-ll', metric: 'iou', condition: { cells, subset: 'fail' } }, null, [0.574, 0.677, 0.766, 0.807][i] as number),
    ]),
    note: 'Attention analysis (sec. 3.2); the attack is StepLL (eq. 4), its budget is not stated.',
  },
  {
    id: 'paper004-table6-mnist', paper: '004', title: 'MNIST, LeNet: defenses under FGSM, PGD-k and CW-k at eps 0.3', source: `${PAPER_004}, Table 6 (MNIST)`, epsilons: [0, 0.3],
    entries: table6('mnist', 'lenet', 0.3, {
      none: [99.18, 7.72, 0.49, 0.54, 0.64, 0.53, 0.0, 0.0, 0.0, 0.0],
      madry: [99.0, 96.92, 95.69, 95.52, 94.14, 92.49, 95.69, 92.69, 87.67, 85.17],
      'madry+aad': [99.2, 97.12, 98.02, 96.81, 94.77, 93.02, 97.28, 95.04, 91.31, 89.77],
      alp: [98.61, 97.59, 98.23, 97.52, 96.04, 94.68, 96.96, 95.48, 93.18, 92.39],
      'alp+aad': [98.52, 97.6, 98.24, 97.56, 96.11, 94.82, 97.18, 95.62, 93.54, 92.72],
    }),
    note: 'FGSM\'s budget is not stated; taken as the PGD/CW budget. "CW-k" is k iterations of PGD on the CW loss.',
  },
  {
    id: 'paper004-table6-cifar10', paper: '004', title: 'CIFAR-10, ResNet9: defenses under FGSM, PGD-k and CW-k at eps 8/255', source: `${PAPER_004}, Table 6 (CIFAR-10)`, epsilons: [0, 8 / 255],
    entries: table6('cifar10', 'resnet9', 8 / 255, {
      none: [90.51, 14.24, 5.93, 5.8, 5.97, 6.04, 0.0, 0.0, 0.0, 0.0],
      madry: [83.36, 63.28, 49.29, 45.25, 44.85, 44.72, 37.21, 36.27, 35.92, 35.79],
      'madry+aad': [83.62, 64.98, 50.13, 48.99, 48.55, 48.49, 40.83, 39.9, 39.75, 39.64],
      alp: [82.8, 64.96, 52.79, 49.04, 48.81, 48.6, 41.35, 40.43, 40.11, 40.0],
      'alp+aad': [80.5, 65.97, 53.43, 52.34, 52.14, 51.99, 43.32, 42.6, 42.43, 42.34],
    }),
  },
  {
    id: 'paper004-table6-imagenet', paper: '004', title: 'ImageNet-2012, ResNet50: defenses under FGSM, PGD-k and CW-k at eps 16/255', source: `${PAPER_004}, Table 6 (ImageNet-2012)`, epsilons: [0, 16 / 255],
    entries: table6('imagenet', 'resnet50', 16 / 255, {
      none: [75.6, 4.88, 0.5, 0.43, 0.42, 0.33, 3.28, 2.5, 1.93, 1.65],
      madry: [55.37, 9.49, 2.88, 0.46, 0.05, 0.0, 7.58, 3.58, 1.38, 0.28],
      'madry+aad': [46.48, 11.47, 10.11, 5.29, 2.65, 1.3, 21.22, 19.73, 18.75, 18.05],
      alp: [50.68, 9.94, 23.67, 19.15, 14.89, 9.94, 26.15, 11.22, 6.3, 3.93],
      'alp+aad': [47.06, 14.86, 29.15, 22.45, 17.56, 12.59, 37.4, 34.46, 32.9, 31.37],
    }),
  },
  {
    id: 'paper004-table7', paper: '004', title: 'A3 attack on I_att (ImageNet, correctly classified by InceptionV3), eps 4/255, 3 iterations, sigma 10', source: `${PAPER_004}, Table 7`, epsilons: [4 / 255],
    entries: ([['iter-step-ll', 0.038], ['iter-step-ll+a3', 0.033], ['pgd', 0.136], ['pgd+a3', 0.108]] as const).map(([attack, v]) =>
      one({ dataset: 'imagenet', model: 'inception-v3', defense: 'none', attack, iterations: 3 }, 4 / 255, v)),
    note: 'Lower accuracy = stronger attack.',
  },
];

/** Looks up a table by id; the error lists the ids. */
export function paperTable(id: string): PaperTable {
  const found = PAPER_TABLES.find((t) => t.id === id);
  if (!found) throw new BastionError(`no published table '${id}'`, { hint: `known tables: ${PAPER_TABLES.map((t) => t.id).join(', ')}`, exitCode: 2 });
  return found;
}

/** Which entries of a table to compare with. */
export interface PaperSelector {
  dataset: string;
  attack: string;
  defense?: string;
  model?: string;
  /** Only entries with this iteration count (entries without one always match). */
  iterations?: number;
}

/** One line of a comparison: our value beside the paper's at one epsilon. */
export interface ComparisonRow {
  epsilon: number;
  paper: number | null;
  ours: number | null;
  /** ours - paper. */
  diff: number | null;
}

const same = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

/**
 * The accuracy entries of `table` matching `selector` (defense `none` by default; the table's clean
 * accuracy joins as eps 0 when the attack has no eps-0 entry), beside `ours` (epsilon -> value), on
 * the union of both epsilon grids.
 */
export function compareWithPaper(table: PaperTable, selector: PaperSelector, ours: readonly { epsilon: number; value: number }[]): ComparisonRow[] {
  const defense = selector.defense ?? 'none';
  const matches = table.entries.filter((e) => e.metric === 'accuracy' && e.epsilon !== null && e.dataset === selector.dataset && e.defense === defense &&
    (selector.model === undefined || e.model === selector.model) &&
    (e.iterations === undefined || selector.iterations === undefined || e.iterations === selector.iterations));
  const attackRows = matches.filter((e) => e.attack === selector.attack);
  if (attackRows.length === 0) {
    const available = [...new Set(table.entries.map((e) => `${e.dataset}/${e.defense}/${e.attack}`))].join(', ');
    throw new BastionError(`${table.id} has no ${selector.attack} accuracy on ${selector.dataset} with defense ${defense}`, { hint: `it has: ${available}` });
  }
  const clean = attackRows.some((e) => e.epsilon === 0) ? [] : matches.filter((e) => e.attack === 'none');
  const paper = [...attackRows, ...clean];
  const grid: number[] = [];
  for (const eps of [...paper.map((e) => e.epsilon as number), ...ours.map((o) => o.epsilon)]) if (!grid.some((g) => same(g, eps))) grid.push(eps);
  grid.sort((a, b) => a - b);
  return grid.map((epsilon) => {
    const p = paper.find((e) => same(e.epsilon as number, epsilon))?.value ?? null;
    const o = ours.find((v) => same(v.epsilon, epsilon))?.value ?? null;
    return { epsilon, paper: p, ours: o, diff: p === null || o === null ? null : o - p };
  });
}

/** Formats comparison rows as an aligned "eps | paper | ours | diff" table (with an optional title line). */
export function formatComparison(rows: readonly ComparisonRow[], title?: string): string {
  const num = (v: number | null, signed = false): string => (v === null ? '-' : `${signed && v >= 0 ? '+' : ''}${v.toFixed(4)}`);
  const eps = (v: number): string => {
    const fraction = Math.round(v * 255);
    return Math.abs(v * 255 - fraction) < 1e-6 && v > 0 && v < 0.1 ? `${fraction}/255` : String(Number(v.toFixed(4)));
  };
  const lines = [['eps', 'paper', 'ours', 'diff'], ...rows.map((r) => [eps(r.epsilon), num(r.paper), num(r.ours), num(r.diff, true)])];
  const widths = [0, 1, 2, 3].map((c) => Math.max(...lines.map((l) => (l[c] as string).length)));
  const out = lines.map((l) => l.map((cell, c) => cell.padStart(widths[c] as number)).join(' | '));
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('-|-'));
  return [...(title ? [title] : []), ...out].join('\n');
}
