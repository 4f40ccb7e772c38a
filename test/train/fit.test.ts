/** fit(): learning, history and events, flat memory, checkpoints, best model, early stopping, in-process resume, errors. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { readCheckpointMeta, readTrainState } from '../../src/io/checkpoint.js';
import { Adam, OneCycleLR, SGD } from '../../src/optim/index.js';
import { manualSeed, scope, tensorStats, type Tensor } from '../../src/tensor/index.js';
import { fit, type FitEvent, type FitOptions } from '../../src/train/index.js';
import { crossEntropy } from '../../src/nn/functional.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { TensorBatches, TinyCNN, syntheticImages } from './synthetic.js';

let root: string;
let data: { x: Tensor; y: Tensor };
let validationData: { x: Tensor; y: Tensor };
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bastion-fit-'));
  manualSeed(0);
  data = syntheticImages(96);
  validationData = syntheticImages(48);
});
after(async () => {
  for (const t of [data.x, data.y, validationData.x, validationData.y]) t.dispose();
  await rm(root, { recursive: true, force: true });
});

/** A model, optimizer and one-cycle schedule built from `initSeed`, with common fit options. */
function setup(initSeed: number, epochs: number, extra: Partial<FitOptions> = {}): FitOptions & { dispose(): void } {
  manualSeed(initSeed);
  const model = new TinyCNN();
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });
  const train = new TensorBatches(data.x, data.y, 16, 42);
  const scheduler = new OneCycleLR(optimizer, { maxLr: 0.05, totalSteps: epochs * train.batchCount });
  return {
    model, optimizer, scheduler, train, epochs, seed: 7, progress: false,
    validation: new TensorBatches(validationData.x, validationData.y, 32, 0, { shuffle: false }),
    ...extra,
    dispose: () => {
      model.dispose();
      optimizer.dispose();
    },
  };
}

const withoutTime = (history: Record<string, number>[]): Record<string, number>[] => history.map(({ seconds: _s, ...rest }) => rest);

describe('fit', () => {
  it('learns, records history and events, keeps live tensors flat, writes last and best checkpoints', async () => {
    const dir = join(root, 'learn');
    const events: FitEvent[] = [];
    const liveAtEpochEnd: number[] = [];
    const options = setup(1, 4, {
      checkpointDir: dir,
      saveBest: { metric: 'val_accuracy', mode: 'max' },
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'epoch-end') liveAtEpochEnd.push(tensorStats().live);
      },
    });
    let timerTicks = 0;
    const timer = setInterval(() => timerTicks++, 1);
    const result = await fit(options);
    clearInterval(timer);
    assert.ok(timerTicks > 0 || result.wallSeconds < 0.05, 'timers ran during training (fit yields to the event loop)');
    assert.equal(result.epochsRun, 4);
    assert.equal(result.stoppedEarly, false);
    assert.deepEqual(result.history.map((h) => h.epoch), [0, 1, 2, 3]);
    assert.deepEqual(Object.keys(result.history[0]!).sort(), ['accuracy', 'epoch', 'loss', 'lr', 'seconds', 'val_accuracy', 'val_loss']);
    const [first, last] = [result.history[0]!, result.history[3]!];
    assert.ok(last['loss']! < first['loss']!, `training loss ${first['loss']} -> ${last['loss']}`);
    assert.ok(last['val_accuracy']! >= 0.9, `validation accuracy ${last['val_accuracy']}`);
    assert.ok(result.best !== null && result.best.metric === 'val_accuracy');
    assert.equal(result.best.value, Math.max(...result.history.map((h) => h['val_accuracy']!)));
    assert.equal(new Set(liveAtEpochEnd).size, 1, `live tensors per epoch: ${liveAtEpochEnd.join(', ')}`);

    const batches = events.filter((e) => e.type === 'batch');
    assert.equal(batches.length, 4 * 6);
    assert.deepEqual(events.filter((e) => e.type !== 'batch').map((e) => e.type).slice(0, 6), ['start', 'epoch-start', 'metrics', 'checkpoint', 'checkpoint', 'epoch-end']);
    assert.equal(events.at(-1)!.type, 'end');

    const meta = await readCheckpointMeta(join(dir, 'last'));
    assert.equal(meta.architecture, 'TinyCNN');
    assert.equal(meta.history!.length, 4);
    assert.equal(meta.provenance.seed, 7);
    const best = await readCheckpointMeta(join(dir, 'best'));
    assert.equal(best.history!.length, result.best.epoch + 1, 'the best checkpoint is the model after the best epoch');
    const state = await readTrainState(join(dir, 'last'));
    assert.equal(state!.meta['epochsCompleted'], 4);
    assert.equal(state!.meta['step'], 24);
    assert.equal(state!.meta['loaderSeed'], 42);
    assert.ok(state!.tensors.has('rng.torch') && state!.tensors.has('optimizer.state.0.exp_avg'));
    state!.tensors.forEach((t) => t.dispose());
    options.dispose();
  });

  it('resumes in process exactly where an interrupted run stopped (model, optimizer, schedule, RNG)', async () => {
    const straight = setup(1, 4, { checkpointDir: join(root, 'straight') });
    const full = await fit(straight);

    const dir = join(root, 'interrupted');
    const head = setup(1, 4, { checkpointDir: dir });
    await fit({ ...head, epochs: 2 }); // as if the process died after epoch 2 (the schedule still spans 4 epochs)
    head.dispose();
    const tail = setup(99, 4, { checkpointDir: dir, resume: true }); // different init: everything must come from the checkpoint
    const resumed = await fit(tail);
    assert.equal(resumed.epochsRun, 2);
    assert.deepEqual(withoutTime(resumed.history), withoutTime(full.history));
    for (const [name, t] of straight.model.stateDict()) assert.ok(t.equal(tail.model.stateDict().get(name)!), `${name} differs after resume`);

    const again = await fit(tail);
    assert.equal(again.epochsRun, 0, 'resuming a finished run trains nothing');
    straight.dispose();
    tail.dispose();
  });

  it('stops early after `patience` epochs without improvement', async () => {
    const scores = [0.5, 0.6, 0.55, 0.58, 0.59, 0.7];
    const events: FitEvent[] = [];
    const options = setup(2, 6, {
      validation: async (epoch) => ({ score: scores[epoch]! }),
      earlyStopping: { metric: 'val_score', mode: 'max', patience: 2 },
      checkpointDir: join(root, 'early'),
      onEvent: (e) => events.push(e),
    });
    const result = await fit(options);
    assert.equal(result.stoppedEarly, true);
    assert.equal(result.epochsRun, 4);
    assert.deepEqual(result.best, { metric: 'val_score', mode: 'max', value: 0.6, epoch: 1 });
    const stop = events.find((e) => e.type === 'early-stop');
    assert.deepEqual(stop, { type: 'early-stop', epoch: 3, metric: 'val_score', best: 0.6, bestEpoch: 1, patience: 2 });
    const resumed = await fit({ ...options, resume: true, onEvent: undefined });
    assert.equal(resumed.epochsRun, 0, 'a stopped run stays stopped');
    assert.equal(resumed.stoppedEarly, true);
    options.dispose();
  });

  it('skips at most maxNonFiniteBatches batches whose loss is not finite, without updating on them', async () => {
    let calls = 0;
    const nanOnSecond: FitOptions['loss'] = (model, batch) => {
      calls += 1;
      const loss = crossEntropy(model.forward(batch.x as Tensor), batch.y as Tensor);
      return calls === 2 ? loss.mul(Number.NaN) : loss;
    };
    const events: FitEvent[] = [];
    const options = setup(3, 1, { loss: nanOnSecond, maxNonFiniteBatches: 1, onEvent: (e) => events.push(e) });
    const result = await fit(options);
    assert.equal(result.history[0]?.['skipped_batches'], 1);
    assert.ok(Number.isFinite(result.history[0]?.['loss']), 'the skipped batch stays out of the epoch means');
    assert.deepEqual(events.find((e) => e.type === 'skipped-batch'), { type: 'skipped-batch', epoch: 0, batch: 1, loss: Number.NaN, skipped: 1 });
    for (const p of options.model.parameters()) assert.ok(Number.isFinite(scope(() => p.abs().max().item())), 'no NaN reached the weights');
    options.dispose();
    calls = 0;
    const strict = setup(3, 1, { loss: nanOnSecond });
    await assert.rejects(fit(strict), /the loss became NaN in epoch 1, batch 2; training diverged/);
    strict.dispose();
  });

  it('reports bad settings and diverging training clearly', async () => {
    const options = setup(3, 2);
    await assert.rejects(fit({ ...options, earlyStopping: { metric: 'val_acc', mode: 'max', patience: 1 } }), /earlyStopping metric 'val_acc' is not among the epoch metrics \(epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds\)/);
    await assert.rejects(fit({ ...options, resume: true }), /resume needs checkpointDir/);
    await assert.rejects(fit({ ...options, epochs: 0 }), /epochs must be a positive integer/);
    const sgd = new SGD(options.model.parameters(), { lr: 1e30 });
    await assert.rejects(fit({ ...options, optimizer: sgd, scheduler: undefined }), /the loss became (NaN|Infinity) in epoch 1, batch \d+; training diverged/);
    sgd.dispose();

    const dir = join(root, 'seeded');
    const seeded = setup(3, 1, { checkpointDir: dir, scheduler: undefined });
    await fit(seeded);
    await assert.rejects(fit({ ...seeded, epochs: 2, seed: 8, resume: true }), /that run used seed 7 but fit was given seed 8/);
    options.dispose();
    seeded.dispose();
  });

  it('prints progress lines with the epoch, loss and rate when stderr is not a terminal', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => { lines.push(chunk.toString()); done(); } });
    setProgressOutput(sink, { isTTY: false, plainInterval: 0 });
    try {
      const options = setup(5, 2, { progress: true, label: 'tiny' });
      await fit(options);
      options.dispose();
    } finally {
      setProgressOutput(process.stderr);
    }
    const text = lines.join('');
    assert.match(text, /tiny epoch 1\/2 .*img\/s.*loss \d/);
    assert.match(text, /tiny epoch 2\/2 .*100%.*val_accuracy/);
  });

  it('stops between batches when aborted, keeping the last checkpoint', async () => {
    const dir = join(root, 'aborted');
    const controller = new AbortController();
    const options = setup(4, 3, {
      checkpointDir: dir,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'batch' && e.epoch === 1 && e.batch === 2) controller.abort();
      },
    });
    await assert.rejects(fit(options), { name: 'AbortError' });
    const state = await readTrainState(join(dir, 'last'));
    assert.equal(state!.meta['epochsCompleted'], 1);
    state!.tensors.forEach((t) => t.dispose());
    assert.ok(!existsSync(join(dir, 'best')));
    scope(() => options.model.forward(data.x.narrow(0, 0, 2)));
    options.dispose();
  });
});
