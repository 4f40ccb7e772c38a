/**
 * Code versions of cached models and evaluations (issue #27, finding 4). Each versioned module's
 * source (comments and formatting left out) is hashed and compared with the table below: a module
 * whose code changed must bump its REVISION (when its results change) and the table must follow.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/tensor/native.js';
import { codeVersion, evaluationCodeVersion, moduleRevisions, modelCodeVersion } from '../../src/eval/code-version.js';
import { evaluationKey, modelKeys, type Experiment } from '../../src/eval/experiment.js';

/** module -> [REVISION, hash of its code]. Update an entry when the test says so. */
const RECORDED: Record<string, [number, string]> = {
  'attacks/base': [1, '329ab6d9c9d8c6eb'],
  'attacks/fgsm': [1, '746375822340b36a'],
  'attacks/bim': [1, '51b25b35a713b55c'],
  'attacks/pgd': [1, '55ddc7de85cca6d9'],
  'attacks/mifgsm': [1, 'd12c9e58be079c41'],
  'attacks/apgd': [1, '4a26b7fb2a2299c8'],
  'attacks/apgd-t': [1, 'e1d218e8b324993d'],
  'attacks/cw': [1, '3edde4c4a42d69e1'],
  'attacks/fab': [1, 'cf86e896f85e676d'],
  'attacks/cw-pgd': [1, '0b79b12c8accbcc7'],
  'attacks/square': [1, 'f4af28873cbb09e2'],
  'attacks/step-ll': [1, '449cb759e144714b'],
  'attacks/a3': [1, '43bc863b601b9c13'],
  'attacks/bpda': [1, '827b16f2579d3e31'],
  'attacks/targets': [1, '2e74e3153679d26f'],
  'attacks/registry': [1, 'dec03d0e1dbf82ac'],
  'eval/robustness': [1, '850bf755eae13786'],
  'eval/defense': [1, 'fdb0ec9277db8073'],
  'eval/aad': [1, '624227f7100e5b7c'],
  'eval/latency': [1, 'a914f3950995eedc'],
  'eval/examples': [1, 'ccb8d800daa2568e'],
  'eval/experiment': [1, '8ef9fa78e4ad2f85'],
  'models/classifier': [1, '8bdd99a9acf8dc12'],
  'models/purifier': [1, '83f76242395384c5'],
  'models/simple-cnn': [1, '249a0c9a89b9ee29'],
  'models/kfold-cnn': [1, '265e01962fb91c94'],
  'models/lenet': [1, '28574af3941e3fda'],
  'models/vgg16': [1, 'effee2698834654f'],
  'models/resnet18': [1, '139d8dae36fe7ca9'],
  'models/resnet9': [1, '558792fff14e0d4f'],
  'models/cae': [1, '53401f6498812c39'],
  'models/csaae': [1, '8e668da0a12ce5da'],
  'models/dae': [1, '963a3beb0e44f256'],
  'models/train-classifier': [1, '306ada967c0a79f6'],
  'defenses/purifier-training': [1, 'd9564bb80ae13819'],
  'defenses/ensemble': [1, '45e017f3770ff4ee'],
  'defenses/adversarial-training': [1, 'a2391e93e4513c99'],
  'defenses/aad': [1, 'afa912bc26dc0f5b'],
  'defenses/defended': [1, '5a11137ebfd79199'],
  'train/fit': [1, 'fde3fdcad86c2cd0'],
  'nn/functional': [1, 'a74767c5ebb0d5d3'],
};

/**
 * sha256 (16 hex digits) of a module's code without its comment blocks, whole-line comments,
 * indentation and blank lines, so that documentation and layout changes need no bump.
 */
function codeHash(module: string): string {
  const text = readFileSync(join(packageRoot, 'src', `${module}.ts`), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('//'))
    .join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

describe('module revisions', () => {
  it('match the recorded table (bump REVISION when a module changes its results)', () => {
    const revisions = moduleRevisions();
    const problems: string[] = [];
    for (const [module, revision] of Object.entries(revisions)) {
      const hash = codeHash(module);
      const recorded = RECORDED[module];
      const entry = `'${module}': [${revision}, '${hash}'],`;
      if (recorded === undefined) problems.push(`module ${module} is not in the table: add ${entry}`);
      else if (recorded[1] !== hash && recorded[0] === revision) {
        problems.push(`module ${module} changed: bump its REVISION and update the table (if its results cannot have changed, update only the hash: ${entry})`);
      } else if (recorded[0] !== revision || recorded[1] !== hash) problems.push(`module ${module}: update the table entry to ${entry}`);
    }
    for (const module of Object.keys(RECORDED)) if (!(module in revisions)) problems.push(`module ${module} is in the table but not versioned (src/eval/code-version.ts): remove it`);
    assert.deepEqual(problems, []);
  });

  it('key models and evaluations by the code versions they depend on', () => {
    const version = codeVersion(['attacks/pgd']);
    assert.match(version, /^\S+ attacks\/pgd@\d+$/);
    const model = { id: 'cnn', kind: 'classifier' as const, architecture: 'simple-cnn-fig1', data: 'mnist' };
    assert.match(modelCodeVersion(model), /models\/simple-cnn@\d+/, 'a preset is versioned by its base architecture');
    assert.doesNotMatch(modelCodeVersion(model), /attacks\//, 'clean training runs no attack');
    assert.match(modelCodeVersion({ ...model, defense: { method: 'madry', eps: 0.3 } }), /attacks\/pgd@\d+/);
    const evaluation = { id: 'pgd', type: 'attack' as const, model: 'cnn', data: 'mnist', attack: 'pgd', epsilons: [0.1] };
    assert.match(evaluationCodeVersion(evaluation), /eval\/robustness@\d+.*eval\/experiment@|eval\/experiment@\d+.*eval\/robustness@/);
    const experiment = { name: 'x', models: [model], evaluations: [evaluation] } as unknown as Experiment;
    const folders = new Map([['cnn', `cnn-${modelKeys(experiment).get('cnn')}`]]);
    assert.notEqual(evaluationKey(evaluation, folders, experiment), evaluationKey(evaluation, folders, experiment, 'older code'), 'another code version, another key');
  });
});
