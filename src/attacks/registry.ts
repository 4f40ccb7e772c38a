/**
 * The attacks by name, with the options each accepts, for the CLI (`bastion attack --attack NAME`)
 * and experiment configs. `createAttack(name, options)` checks option names and types and says
 * which options an attack takes when given one it does not.
 */
import { BastionError } from '../util/errors.js';
import type { AttackBase, BaseAttackOptions } from './base.js';
import { FGSM } from './fgsm.js';
import { PGD, type PGDOptions } from './pgd.js';
import { BIM, type BIMOptions } from './bim.js';
import { IterStepLL, StepLL } from './step-ll.js';
import { CWPGD, type CWPGDOptions } from './cw-pgd.js';
import { MIFGSM, type MIFGSMOptions } from './mifgsm.js';
import { APGD, type APGDOptions } from './apgd.js';
import { APGDT, type APGDTOptions } from './apgd-t.js';
import { Square, type SquareOptions } from './square.js';
import { CW, type CWOptions } from './cw.js';
import { FAB, type FABOptions } from './fab.js';
import { a3Attacks } from './a3.js';
import type { Attack, Norm } from './types.js';
import { ownEntry } from '../util/records.js';

/** The type of an attack option's value. */
export type OptionType = 'integer' | 'number' | 'boolean' | 'loss';

/** Every option any attack accepts, with its type and meaning (shown by `bastion attack --help`). */
export const ATTACK_OPTIONS: Record<string, { type: OptionType; description: string }> = {
  eotSamples: { type: 'integer', description: 'EOT: forward passes averaged per gradient (randomised defenses)' },
  earlyStop: { type: 'boolean', description: 'stop attacking a sample once it is broken (default true)' },
  carryOver: { type: 'boolean', description: 'count samples broken at a smaller eps as broken at larger ones (default true)' },
  seed: { type: 'integer', description: 'seed of the attack randomness' },
  steps: { type: 'integer', description: 'iterations (queries for square, Adam steps per constant for cw)' },
  stepSize: { type: 'number', description: 'absolute step size in pixel units' },
  restarts: { type: 'integer', description: 'random restarts; the best example per sample is kept' },
  randomStart: { type: 'boolean', description: 'start at a random point of the eps-ball' },
  loss: { type: 'loss', description: 'objective: ce, cw (margin) or dlr' },
  confidence: { type: 'number', description: 'margin kappa of the CW loss' },
  decay: { type: 'number', description: 'momentum decay mu of MI-FGSM' },
  momentum: { type: 'number', description: 'momentum of APGD' },
  targets: { type: 'integer', description: 'APGD-T / FAB-T: number of target classes, by clean logit after the true class (default 9)' },
  pInit: { type: 'number', description: 'initial fraction of pixels changed by a Square proposal' },
  binarySearchSteps: { type: 'integer', description: 'binary-search steps over the CW constant c' },
  initialConst: { type: 'number', description: 'initial CW constant c' },
  learningRate: { type: 'number', description: 'Adam learning rate of CW' },
  abortEarly: { type: 'boolean', description: 'CW: stop a constant once the loss stops decreasing' },
  sigma: { type: 'number', description: 'A3: weight of the attention-deviation term (paper 004, default 10)' },
  normalize: { type: 'boolean', description: 'A3: divide the adversarial Grad-CAM map by its maximum before comparing (default true)' },
};

const BASE = ['eotSamples', 'earlyStop', 'carryOver', 'seed'] as const;
const PGD_OPTIONS = [...BASE, 'steps', 'stepSize', 'restarts', 'randomStart', 'loss', 'confidence'] as const;

/** One registered attack. */
export interface AttackInfo {
  name: string;
  /** One line for listings. */
  summary: string;
  /** Where it comes from. */
  paper: string;
  /** Option names it accepts. */
  options: readonly string[];
  create(options: Record<string, unknown>): AttackBase<unknown>;
}

const ENTRIES: AttackInfo[] = [
  {
    name: 'fgsm', summary: 'Fast Gradient Sign Method (FGM under L2): one gradient for all epsilons',
    paper: 'Goodfellow et al. 2015; papers 000/001/002', options: BASE, create: (o) => new FGSM(o as BaseAttackOptions),
  },
  {
    name: 'bim', summary: 'Basic Iterative Method / I-FGSM (L-inf), Kurakin step schedule',
    paper: 'Kurakin et al. 2017; paper 002', options: [...BASE, 'steps', 'stepSize'], create: (o) => new BIM(o as BIMOptions),
  },
  {
    name: 'pgd', summary: 'Projected Gradient Descent, L-inf or L2, random start and restarts (default 40 steps, alpha 2.5 eps/steps)',
    paper: 'Madry et al. 2018; paper 000 Algorithm 1', options: PGD_OPTIONS, create: (o) => new PGD(o as PGDOptions),
  },
  {
    name: 'step-ll', summary: 'single step towards the least likely class', paper: 'Kurakin et al. 2017; paper 004 eq. 4',
    options: BASE, create: (o) => new StepLL(o as BaseAttackOptions),
  },
  {
    name: 'iter-step-ll', summary: 'iterative least-likely-class attack (BIM schedule)', paper: 'Kurakin et al. 2017; paper 004 Table 7',
    options: [...BASE, 'steps', 'stepSize'], create: (o) => new IterStepLL(o as BIMOptions),
  },
  {
    name: 'cw-pgd', summary: 'L-inf PGD on the Carlini-Wagner margin loss (kappa 50): paper 004 CW10..CW100',
    paper: 'Carlini & Wagner 2017; Madry et al. 2018; paper 004 Table 6',
    options: PGD_OPTIONS.filter((k) => k !== 'loss'), create: (o) => new CWPGD(o as CWPGDOptions),
  },
  {
    name: 'mifgsm', summary: 'Momentum Iterative FGSM (10 steps of eps/10, decay 1.0)', paper: 'Dong et al. 2018',
    options: [...BASE, 'steps', 'stepSize', 'decay'], create: (o) => new MIFGSM(o as MIFGSMOptions),
  },
  {
    name: 'apgd', summary: 'Auto-PGD with cross-entropy: step-size halving at checkpoints, momentum 0.75 (100 steps)',
    paper: 'Croce & Hein 2020', options: [...BASE, 'steps', 'restarts', 'momentum'], create: (o) => new APGD(o as APGDOptions),
  },
  {
    name: 'apgd-dlr', summary: 'Auto-PGD with the Difference of Logits Ratio loss', paper: 'Croce & Hein 2020',
    options: [...BASE, 'steps', 'restarts', 'momentum'], create: (o) => new APGD({ ...(o as APGDOptions), loss: 'dlr' }, 'apgd-dlr'),
  },
  {
    name: 'apgd-t', summary: 'Auto-PGD with the targeted DLR loss, once per top-k target class on the unbroken samples (success = misclassified)',
    paper: 'Croce & Hein 2020 (eq. 7)', options: [...BASE, 'steps', 'restarts', 'momentum', 'targets'], create: (o) => new APGDT(o as APGDTOptions),
  },
  {
    name: 'square', summary: 'Square Attack: score-based random search, no gradients (5000 queries, p_init 0.8)',
    paper: 'Andriushchenko et al. 2020', options: [...BASE, 'steps', 'pInit'], create: (o) => new Square(o as SquareOptions),
  },
  {
    name: 'cw', summary: 'Carlini-Wagner L2 minimum-norm attack: tanh-space Adam, binary search over c (success at eps = found with norm <= eps)',
    paper: 'Carlini & Wagner 2017', options: ['eotSamples', 'carryOver', 'seed', 'steps', 'binarySearchSteps', 'learningRate', 'initialConst', 'confidence', 'abortEarly'],
    create: (o) => new CW(o as CWOptions),
  },
  {
    name: 'fab', summary: 'Fast Adaptive Boundary minimum-norm attack, L-inf or L2: projections onto the closest linearised boundary (success at eps = found with norm <= eps)',
    paper: 'Croce & Hein 2020 (FAB, Algorithm 1)', options: ['eotSamples', 'carryOver', 'seed', 'steps', 'restarts'], create: (o) => new FAB(o as FABOptions),
  },
  {
    name: 'fab-t', summary: 'FAB towards the boundaries of the top-k target classes by clean logit (default 9), smallest example kept (success = misclassified)',
    paper: 'Croce & Hein 2020 (FAB); AutoAttack', options: ['eotSamples', 'carryOver', 'seed', 'steps', 'restarts', 'targets'], create: (o) => new FAB(o as FABOptions, true),
  },
  ...a3Attacks,
];

/** Every registered attack, in listing order. */
export const attacks: readonly AttackInfo[] = ENTRIES;

/** Looks up an attack by name; the error lists the known names. */
export function attackInfo(name: string): AttackInfo {
  const found = ENTRIES.find((a) => a.name === name);
  if (!found) throw new BastionError(`unknown attack '${name}'`, { hint: `choose one of ${ENTRIES.map((a) => a.name).join(', ')}`, exitCode: 2 });
  return found;
}

/** The norms an attack supports. */
export function attackNorms(name: string): readonly Norm[] {
  return attackInfo(name).create({}).norms;
}

/**
 * Creates attack `name` with `options` (keys of {@link ATTACK_OPTIONS}); unknown or inapplicable
 * options and values of the wrong type are errors that name the option and what is accepted.
 */
export function createAttack(name: string, options: Record<string, unknown> = {}): Attack & AttackBase<unknown> {
  const info = attackInfo(name);
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const spec = ownEntry(ATTACK_OPTIONS, key);
    if (spec === undefined || !info.options.includes(key)) {
      throw new BastionError(`option '${key}' does not apply to ${name}`, { hint: `${name} accepts: ${info.options.join(', ')}`, exitCode: 2 });
    }
    const ok = spec.type === 'boolean' ? typeof value === 'boolean'
      : spec.type === 'loss' ? value === 'ce' || value === 'cw' || value === 'dlr'
        : typeof value === 'number' && Number.isFinite(value) && (spec.type === 'number' || Number.isInteger(value));
    if (!ok) throw new BastionError(`${name}: option '${key}' must be ${spec.type === 'loss' ? 'ce, cw or dlr' : `a${spec.type === 'integer' ? 'n integer' : ` ${spec.type}`}`}, got ${JSON.stringify(value)}`, { exitCode: 2 });
  }
  return info.create(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
