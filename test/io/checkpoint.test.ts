/** Checkpoints: save/read/load, validation errors naming file and tensor, atomic replacement and crash fallback, training state. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkpointExists, loadCheckpointInto, readCheckpoint, readCheckpointMeta, readTrainState, resolveCheckpointDir, saveCheckpoint, validateCheckpointMeta,
} from '../../src/io/checkpoint.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, ReLU, Sequential } from '../../src/nn/index.js';
import { manualSeed, scope, tensor } from '../../src/tensor/index.js';
import { DataError } from '../../src/util/errors.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bastion-checkpoint-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function smallNet(classes = 3): Sequential {
  return new Sequential(new Conv2d(1, 4, 3), new BatchNorm2d(4), new ReLU(), new Flatten(), new Linear(4 * 4 * 4, classes));
}

const description = { architecture: 'small-net', config: { classes: 3 }, normalization: { mean: [0.5], std: [0.25] }, classNames: ['a', 'b', 'c'], inputShape: [1, 6, 6], seed: 5 };

describe('checkpoints', () => {
  it('saves model.safetensors + model.json with provenance and loads the weights back into a fresh module', async () => {
    manualSeed(1);
    const net = smallNet();
    const dir = join(root, 'roundtrip');
    const meta = await saveCheckpoint(dir, net, { ...description, history: [{ epoch: 0, loss: 1.5 }], command: 'bastion train' });
    assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'model.safetensors']);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(json['format'], 'bastion-checkpoint');
    assert.equal(json['version'], 1);
    assert.deepEqual(json['history'], [{ epoch: 0, loss: 1.5 }]);
    const provenance = meta.provenance;
    assert.equal(provenance.seed, 5);
    assert.equal(provenance.command, 'bastion train');
    assert.match(provenance.torchVersion, /^\d+\.\d+/);
    assert.ok(provenance.machine.cpus > 0 && provenance.machine.hostname.length > 0);
    assert.ok(provenance.gitRevision === null || /^[0-9a-f]{40}(-dirty)?$/.test(provenance.gitRevision));
    assert.ok(!Number.isNaN(Date.parse(provenance.createdAt)));

    manualSeed(2);
    const other = smallNet();
    const loaded = await loadCheckpointInto(dir, other, { expectArchitecture: 'small-net' });
    assert.deepEqual([loaded.missing, loaded.unexpected], [[], []]);
    assert.deepEqual(loaded.classNames, ['a', 'b', 'c']);
    for (const [name, t] of net.stateDict()) assert.ok(t.equal(other.stateDict().get(name)!), name);
    assert.deepEqual((await readCheckpointMeta(dir)).config, { classes: 3 });
    const read = await readCheckpoint(dir);
    assert.deepEqual([...read.state.keys()], [...net.stateDict().keys()]);
    read.state.forEach((t) => t.dispose());
    net.dispose();
    other.dispose();
  });

  it('refuses weights of another architecture, naming the file, the tensor, expected and found, and changes nothing', async () => {
    const dir = join(root, 'mismatch');
    const net = smallNet(3);
    await saveCheckpoint(dir, net, description);
    const wider = smallNet(5);
    const before = scope(() => wider.stateDict().get('4.weight')!.clone().keep());
    await assert.rejects(loadCheckpointInto(dir, wider), (e: Error) =>
      e instanceof DataError && e.message === `${join(dir, 'model.safetensors')}: state dict entry '4.weight' is [3,64] float32 but Sequential expects [5,64] float32`);
    assert.ok(wider.stateDict().get('4.weight')!.equal(before), 'unchanged after the failed load');
    const linear = new Sequential(new Linear(2, 2));
    await assert.rejects(loadCheckpointInto(dir, linear), (e: Error) =>
      e.message.startsWith(join(dir, 'model.safetensors')) &&
      /does not match Sequential: unexpected 7: 1\.weight, 1\.bias, 1\.running_mean, 1\.running_var, 1\.num_batches_tracked, 4\.weight, 4\.bias$/.test(e.message));
    linear.dispose();
    await assert.rejects(loadCheckpointInto(dir, smallNet(3), { expectArchitecture: 'resnet18' }), /holds a 'small-net' model, expected 'resnet18'/);
    before.dispose();
    for (const m of [net, wider]) m.dispose();
  });

  it('validates model.json field by field', () => {
    const good = { format: 'bastion-checkpoint', version: 1, architecture: 'x', config: {}, provenance: { createdAt: '2024-01-01T00:00:00Z' } };
    assert.doesNotThrow(() => validateCheckpointMeta(good, 'm.json'));
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...good, format: 'other' }, /format is "other", expected 'bastion-checkpoint'/],
      [{ ...good, version: 7 }, /written by a newer Bastion \(checkpoint version 7/],
      [{ ...good, architecture: '' }, /architecture must be a non-empty string/],
      [{ ...good, config: [] }, /config must be an object/],
      [{ ...good, normalization: { mean: [0.5, 0.5], std: [0.2] } }, /normalization must be/],
      [{ ...good, normalization: { mean: [0.5], std: [0] } }, /std values must be positive/],
      [{ ...good, inputShape: [1, -28] }, /inputShape must be an array of positive integers/],
      [{ ...good, provenance: undefined }, /provenance must be an object/],
    ];
    for (const [value, pattern] of bad) assert.throws(() => validateCheckpointMeta(value, 'm.json'), (e: Error) => e instanceof DataError && e.message.startsWith('m.json: ') && pattern.test(e.message));
  });

  it('replaces a checkpoint as a whole and falls back to <dir>.previous after an interrupted replacement', async () => {
    const dir = join(root, 'swap');
    const net = smallNet();
    await saveCheckpoint(dir, net, { ...description, config: { generation: 1 } });
    await saveCheckpoint(dir, net, { ...description, config: { generation: 2 } });
    assert.deepEqual((await readCheckpointMeta(dir)).config, { generation: 2 });
    assert.ok(!existsSync(`${dir}.previous`), 'the old checkpoint is removed after the swap');
    assert.deepEqual((await readdir(root)).filter((n) => n.startsWith('swap')), ['swap'], 'no staging directory left');

    // A crash between the two renames leaves only <dir>.previous (complete) and a staging directory.
    await rename(dir, `${dir}.previous`);
    await mkdir(`${dir}.staging-99999999-dead`);
    assert.equal(resolveCheckpointDir(dir), `${dir}.previous`);
    assert.ok(checkpointExists(dir));
    assert.deepEqual((await readCheckpointMeta(dir)).config, { generation: 2 });
    await saveCheckpoint(dir, net, { ...description, config: { generation: 3 } });
    assert.deepEqual((await readCheckpointMeta(dir)).config, { generation: 3 });
    assert.deepEqual((await readdir(root)).filter((n) => n.startsWith('swap')), ['swap'], 'stale staging and previous directories are cleaned up');
    net.dispose();
  });

  it('refuses to replace a directory that holds other files, and reports a missing checkpoint clearly', async () => {
    const dir = join(root, 'foreign');
    await mkdir(dir);
    await writeFile(join(dir, 'notes.txt'), 'mine');
    const net = smallNet();
    await assert.rejects(saveCheckpoint(dir, net, description), /refusing to replace .*foreign: it holds files that are not part of a checkpoint \(notes\.txt\)/);
    assert.equal(await readFile(join(dir, 'notes.txt'), 'utf8'), 'mine');
    await assert.rejects(readCheckpoint(join(root, 'nothing')), (e: Error) => e instanceof DataError && /no checkpoint here \(model\.json is missing\)/.test(e.message));
    net.dispose();
  });

  it('stores and reads training state beside the model', async () => {
    const dir = join(root, 'train-state');
    const net = smallNet();
    const tensors = new Map([['optimizer.state.0.exp_avg', tensor([1, 2, 3])]]);
    await saveCheckpoint(dir, net, description, { trainState: { meta: { epochsCompleted: 4, note: 'x' }, tensors } });
    const state = await readTrainState(dir);
    assert.ok(state !== null);
    assert.equal(state.meta['format'], 'bastion-train-state');
    assert.equal(state.meta['epochsCompleted'], 4);
    assert.deepEqual(state.tensors.get('optimizer.state.0.exp_avg')!.toNumbers(), [1, 2, 3]);
    state.tensors.forEach((t) => t.dispose());
    tensors.forEach((t) => t.dispose());
    await saveCheckpoint(dir, net, description);
    assert.equal(await readTrainState(dir), null, 'a model-only save replaces the training state too');
    net.dispose();
  });
});
