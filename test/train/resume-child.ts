/**
 * Child process of test/train/resume.test.ts: trains TinyCNN on the synthetic data set the test
 * wrote, with per-epoch checkpoints, printing fit events as JSON lines on stdout.
 *
 *   node resume-child.js <config.json>   config: { data, checkpointDir, epochs, seed, resume, delayMs, checkpointEverySeconds? }
 *
 * Without an argument it does nothing (node --test loads every file under test/).
 */
import { readFileSync } from 'node:fs';

interface ChildConfig {
  data: string;
  checkpointDir: string;
  epochs: number;
  seed: number;
  resume: boolean;
  delayMs: number;
  checkpointEverySeconds?: number;
}

async function main(configPath: string): Promise<void> {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as ChildConfig;
  const { readSafetensors } = await import('../../src/io/safetensors.js');
  const { Adam, OneCycleLR } = await import('../../src/optim/index.js');
  const { manualSeed } = await import('../../src/tensor/index.js');
  const { fit } = await import('../../src/train/index.js');
  const { TensorBatches, TinyCNN } = await import('./synthetic.js');

  const { tensors } = await readSafetensors(config.data);
  const train = new TensorBatches(tensors.get('x')!, tensors.get('y')!, 8, 1234, { delayMs: config.delayMs });
  manualSeed(config.seed + (config.resume ? 1000 : 0)); // a resumed run must take everything from the checkpoint
  const model = new TinyCNN();
  const optimizer = new Adam(model.parameters(), { lr: 0.01, weightDecay: 1e-4 });
  const scheduler = new OneCycleLR(optimizer, { maxLr: 0.03, epochs: config.epochs, stepsPerEpoch: train.batchCount });
  const result = await fit({
    model, optimizer, scheduler, train, epochs: config.epochs, seed: config.seed, checkpointDir: config.checkpointDir,
    resume: config.resume, progress: false,
    ...(config.checkpointEverySeconds === undefined ? {} : { checkpointEverySeconds: config.checkpointEverySeconds }),
    onEvent: (event) => {
      if (event.type === 'batch' || event.type === 'checkpoint' || event.type === 'epoch-start') process.stdout.write(`${JSON.stringify(event)}\n`);
    },
  });
  process.stdout.write(`${JSON.stringify({ type: 'done', epochsRun: result.epochsRun, history: result.history })}\n`);
}

const configPath = process.argv[2];
if (configPath !== undefined) {
  main(configPath).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
