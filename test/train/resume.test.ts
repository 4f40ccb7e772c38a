/**
 * Crash safety: a training process killed with SIGKILL in the middle of an epoch resumes from its
 * last checkpoint (the per-epoch one, or a mid-epoch one) and ends with weights, optimizer state
 * and per-epoch losses bit-identical to an uninterrupted run with the same seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTrainState } from '../../src/io/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { manualSeed, type Tensor } from '../../src/tensor/index.js';
import { syntheticImages } from './synthetic.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'resume-child.js');
const EPOCHS = 3;

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: Record<string, unknown>[];
  stderr: string;
}

/** Runs the child trainer; `killWhen` sees each event and returns true to SIGKILL the child at once. */
async function runChild(dir: string, name: string, settings: { resume: boolean; delayMs: number; checkpointEverySeconds?: number }, killWhen?: (event: Record<string, unknown>) => boolean): Promise<ChildRun> {
  const config = join(dir, `${name}.json`);
  await writeFile(config, JSON.stringify({ data: join(dir, 'data.safetensors'), checkpointDir: join(dir, name), epochs: EPOCHS, seed: 11, ...settings }));
  const child = spawn(process.execPath, [CHILD, config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Record<string, unknown>[] = [];
  let stderr = '';
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const event = JSON.parse(pending.slice(0, newline)) as Record<string, unknown>;
      pending = pending.slice(newline + 1);
      events.push(event);
      if (killWhen?.(event) && child.exitCode === null) child.kill('SIGKILL');
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  return { code, signal, events, stderr };
}

async function finalState(checkpointDir: string): Promise<Map<string, Tensor>> {
  const model = await readSafetensors(join(checkpointDir, 'last', 'model.safetensors'));
  const train = await readTrainState(join(checkpointDir, 'last'));
  const all = new Map(model.tensors);
  for (const [k, t] of train!.tensors) all.set(`train-state:${k}`, t);
  return all;
}

/** Asserts that the victim's final checkpoint and loss history equal the reference run's. */
async function assertSameAsReference(dir: string, reference: ChildRun, resumed: ChildRun): Promise<void> {
  const referenceDone = reference.events.find((e) => e['type'] === 'done')!;
  const done = resumed.events.find((e) => e['type'] === 'done')!;
  const losses = (run: Record<string, unknown>): number[] => (run['history'] as { loss: number }[]).map((h) => h.loss);
  assert.deepEqual(losses(done), losses(referenceDone), 'identical per-epoch losses');
  const expected = await finalState(join(dir, 'reference'));
  const actual = await finalState(join(dir, 'victim'));
  try {
    assert.deepEqual([...actual.keys()], [...expected.keys()]);
    for (const [name, t] of expected) assert.ok(t.equal(actual.get(name)!), `${name} differs from the uninterrupted run`);
  } finally {
    for (const t of [...expected.values(), ...actual.values()]) t.dispose();
  }
}

async function writeData(dir: string): Promise<void> {
  manualSeed(5);
  const { x, y } = syntheticImages(48);
  await writeSafetensors(join(dir, 'data.safetensors'), { x, y });
  x.dispose();
  y.dispose();
}

test('a run killed mid-epoch resumes to weights bit-identical to an uninterrupted run', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bastion-resume-'));
  try {
    await writeData(dir);

    // The uninterrupted reference runs while the victim is trained and killed.
    const [reference, killed] = await Promise.all([
      runChild(dir, 'reference', { resume: false, delayMs: 0 }),
      runChild(dir, 'victim', { resume: false, delayMs: 40 }, (e) => e['type'] === 'batch' && e['epoch'] === 1 && e['batch'] === 2),
    ]);
    assert.equal(reference.code, 0, reference.stderr);
    assert.equal(killed.signal, 'SIGKILL', `the victim was not killed (exit ${killed.code}): ${killed.stderr}`);
    assert.ok(killed.events.some((e) => e['type'] === 'checkpoint' && e['epoch'] === 0), 'the first checkpoint was written before the kill');
    assert.ok(!killed.events.some((e) => e['type'] === 'done'));
    const interrupted = await readTrainState(join(dir, 'victim', 'last'));
    const completed = interrupted!.meta['epochsCompleted'] as number;
    assert.ok(completed >= 1 && completed < EPOCHS, `the kill came after the first checkpoint and before the end (${completed} epochs saved)`);
    interrupted!.tensors.forEach((t) => t.dispose());

    const resumed = await runChild(dir, 'victim', { resume: true, delayMs: 0 });
    assert.equal(resumed.code, 0, resumed.stderr);
    const done = resumed.events.find((e) => e['type'] === 'done')!;
    assert.equal(done['epochsRun'], EPOCHS - completed);
    await assertSameAsReference(dir, reference, resumed);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a run killed after a mid-epoch checkpoint continues that epoch from the saved batch, bit-identically', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bastion-resume-mid-'));
  try {
    await writeData(dir);
    // checkpointEverySeconds 0: the victim saves after every batch; it is killed once batch 3 of epoch 2 is saved.
    const [reference, killed] = await Promise.all([
      runChild(dir, 'reference', { resume: false, delayMs: 0 }),
      runChild(dir, 'victim', { resume: false, delayMs: 40, checkpointEverySeconds: 0 }, (e) => e['type'] === 'checkpoint' && e['epoch'] === 1 && e['batchesDone'] === 3),
    ]);
    assert.equal(reference.code, 0, reference.stderr);
    assert.equal(killed.signal, 'SIGKILL', `the victim was not killed (exit ${killed.code}): ${killed.stderr}`);
    const interrupted = await readTrainState(join(dir, 'victim', 'last'));
    const meta = interrupted!.meta;
    interrupted!.tensors.forEach((t) => t.dispose());
    assert.equal(meta['epochsCompleted'], 1);
    const batchesDone = (meta['partial'] as { batchesDone: number } | undefined)?.batchesDone;
    assert.ok(batchesDone !== undefined && batchesDone >= 3 && batchesDone < 6, `a mid-epoch record of epoch 2 was saved (${JSON.stringify(meta['partial'])})`);

    const resumed = await runChild(dir, 'victim', { resume: true, delayMs: 0, checkpointEverySeconds: 0 });
    assert.equal(resumed.code, 0, resumed.stderr);
    const start = resumed.events.find((e) => e['type'] === 'epoch-start')!;
    assert.deepEqual([start['epoch'], start['startBatch']], [1, batchesDone], 'the resumed run starts inside epoch 2');
    const firstBatch = resumed.events.find((e) => e['type'] === 'batch')!;
    assert.equal(firstBatch['batch'], batchesDone, 'no batch of epoch 2 is trained twice');
    await assertSameAsReference(dir, reference, resumed);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
