/**
 * The version of the code behind a cached model or an experiment evaluation: the package version
 * plus the REVISION of every module its numbers depend on. Each of those modules exports a REVISION
 * that is bumped when a change alters its results (test/eval/revisions.test.ts hashes each module's
 * source and fails when it changed without a bump), so a cache key that includes the code version
 * stops matching as soon as the code that computed the cached result changed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../tensor/native.js';
import * as attackBase from '../attacks/base.js';
import * as fgsm from '../attacks/fgsm.js';
import * as bim from '../attacks/bim.js';
import * as pgd from '../attacks/pgd.js';
import * as mifgsm from '../attacks/mifgsm.js';
import * as apgd from '../attacks/apgd.js';
import * as apgdT from '../attacks/apgd-t.js';
import * as cw from '../attacks/cw.js';
import * as fab from '../attacks/fab.js';
import * as cwPgd from '../attacks/cw-pgd.js';
import * as square from '../attacks/square.js';
import * as stepLl from '../attacks/step-ll.js';
import * as a3 from '../attacks/a3.js';
import * as bpda from '../attacks/bpda.js';
import * as targets from '../attacks/targets.js';
import * as attackRegistry from '../attacks/registry.js';
import * as robustness from './robustness.js';
import * as defense from './defense.js';
import * as aadEval from './aad.js';
import * as latency from './latency.js';
import * as examples from './examples.js';
import * as experiment from './experiment.js';
import * as classifier from '../models/classifier.js';
import * as purifier from '../models/purifier.js';
import * as simpleCnn from '../models/simple-cnn.js';
import * as kfoldCnn from '../models/kfold-cnn.js';
import * as lenet from '../models/lenet.js';
import * as vgg16 from '../models/vgg16.js';
import * as resnet18 from '../models/resnet18.js';
import * as resnet9 from '../models/resnet9.js';
import * as cae from '../models/cae.js';
import * as csaae from '../models/csaae.js';
import * as dae from '../models/dae.js';
import * as trainClassifier from '../models/train-classifier.js';
import * as purifierTraining from '../defenses/purifier-training.js';
import * as ensemble from '../defenses/ensemble.js';
import * as adversarialTraining from '../defenses/adversarial-training.js';
import * as aadDefense from '../defenses/aad.js';
import * as defended from '../defenses/defended.js';
import * as fit from '../train/fit.js';
import * as functional from '../nn/functional.js';
import { architecture } from '../models/registry.js';
import type { EvaluationSpec, ModelSpec } from './experiment.js';

/**
 * Every versioned module (path under src/, without .ts) and its REVISION. A function, not a
 * constant: experiment.ts imports this module, so the table is read after every module is loaded.
 */
export function moduleRevisions(): Record<string, number> {
  return {
    'attacks/base': attackBase.REVISION, 'attacks/fgsm': fgsm.REVISION, 'attacks/bim': bim.REVISION, 'attacks/pgd': pgd.REVISION,
    'attacks/mifgsm': mifgsm.REVISION, 'attacks/apgd': apgd.REVISION, 'attacks/apgd-t': apgdT.REVISION, 'attacks/cw': cw.REVISION, 'attacks/fab': fab.REVISION, 'attacks/cw-pgd': cwPgd.REVISION,
    'attacks/square': square.REVISION, 'attacks/step-ll': stepLl.REVISION, 'attacks/a3': a3.REVISION, 'attacks/bpda': bpda.REVISION,
    'attacks/targets': targets.REVISION, 'attacks/registry': attackRegistry.REVISION,
    'eval/robustness': robustness.REVISION, 'eval/defense': defense.REVISION, 'eval/aad': aadEval.REVISION, 'eval/latency': latency.REVISION,
    'eval/examples': examples.REVISION, 'eval/experiment': experiment.REVISION,
    'models/classifier': classifier.REVISION, 'models/purifier': purifier.REVISION, 'models/simple-cnn': simpleCnn.REVISION,
    'models/kfold-cnn': kfoldCnn.REVISION, 'models/lenet': lenet.REVISION, 'models/vgg16': vgg16.REVISION, 'models/resnet18': resnet18.REVISION,
    'models/resnet9': resnet9.REVISION, 'models/cae': cae.REVISION, 'models/csaae': csaae.REVISION, 'models/dae': dae.REVISION,
    'models/train-classifier': trainClassifier.REVISION,
    'defenses/purifier-training': purifierTraining.REVISION, 'defenses/ensemble': ensemble.REVISION,
    'defenses/adversarial-training': adversarialTraining.REVISION, 'defenses/aad': aadDefense.REVISION, 'defenses/defended': defended.REVISION,
    'train/fit': fit.REVISION, 'nn/functional': functional.REVISION,
  };
}

let version: string | null = null;

/** The version field of Bastion's package.json. */
export function packageVersion(): string {
  version ??= String((JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '?');
  return version;
}

/** `<package version> <module>@<revision> ...` for `modules` (sorted, deduplicated). */
export function codeVersion(modules: readonly string[]): string {
  const revisions = moduleRevisions();
  const parts = [...new Set(modules)].sort().map((m) => {
    const revision = revisions[m];
    if (revision === undefined) throw new Error(`code version: '${m}' is not a versioned module`);
    return `${m}@${revision}`;
  });
  return [packageVersion(), ...parts].join(' ');
}

const ATTACKS = ['attacks/base', 'attacks/fgsm', 'attacks/bim', 'attacks/pgd', 'attacks/mifgsm', 'attacks/apgd', 'attacks/apgd-t', 'attacks/cw', 'attacks/fab', 'attacks/cw-pgd', 'attacks/square', 'attacks/step-ll', 'attacks/a3', 'attacks/bpda', 'attacks/targets', 'attacks/registry'];

/** The modules of an architecture (zoo name or preset): its own file and its base class. */
function architectureModules(name: string, kind: ModelSpec['kind']): string[] {
  let base = name;
  try {
    base = architecture(name).base;
  } catch {
    // Unknown names fail when the model is built; the version just lacks its module.
  }
  const own = `models/${base}`;
  return [...(own in moduleRevisions() ? [own] : []), kind === 'purifier' ? 'models/purifier' : 'models/classifier', 'nn/functional', 'train/fit'];
}

/** The code version a cached model of `spec` was trained by (its architecture, the training code, and the attacks adversarial training runs). */
export function modelCodeVersion(spec: ModelSpec): string {
  const modules = architectureModules(spec.architecture, spec.kind);
  if (spec.kind === 'classifier') {
    modules.push('models/train-classifier');
    if (spec.defense) modules.push('defenses/adversarial-training', 'defenses/aad', ...ATTACKS);
  } else if (spec.kind === 'ensemble') {
    modules.push('models/train-classifier', 'defenses/ensemble');
  } else {
    modules.push('defenses/purifier-training');
    if ((spec.mode ?? 'clean') !== 'clean') modules.push(...ATTACKS);
  }
  return codeVersion(modules);
}

/** The code version an evaluation of `spec` is computed by (the runner, its evaluation module, the attacks, the defenses it composes). */
export function evaluationCodeVersion(spec: EvaluationSpec): string {
  const modules = ['eval/experiment'];
  if (spec.type === 'attack') modules.push('eval/robustness', 'eval/examples', ...ATTACKS);
  else if (spec.type === 'defense') modules.push('eval/defense', 'eval/examples', 'defenses/defended', 'defenses/ensemble', 'models/purifier', ...ATTACKS);
  else if (spec.type === 'latency') modules.push('eval/latency', 'defenses/defended');
  else modules.push('eval/aad', 'eval/examples', ...ATTACKS);
  return codeVersion(modules);
}
