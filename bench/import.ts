/**
 * bench/import: an imported ONNX model against PyTorch eager and onnxruntime on the same machine,
 * in one run (bench/lib/harness.ts: interleaved rounds, medians, both sides on the same threads,
 * weights and inputs).
 *
 * The model is torchvision's ResNet-18 with random, seeded weights, exported to ONNX (opset 17)
 * by test/fixtures/export_torchvision.py; the PyTorch side (bench/py/import_models.py) rebuilds the
 * very same model in eager mode, default NCHW layout, as a PyTorch user runs it. Cases:
 *   - 32x32, batch 128 (10 classes) and 224x224, batch 8 (1000 classes);
 *   - forward pass without autograd (argmax), and the input gradient of the cross-entropy (the
 *     step every gradient attack repeats), Bastion vs PyTorch eager: target >= 1.0x;
 *   - forward pass vs onnxruntime-node (CPU, same threads) on the same file: reported, no target;
 *   - import time of the ResNet-18 file (parse, build, constant folding, probe): target < 1 s.
 * Before timing, both sides must give the same logits on the same batch (max abs difference
 * printed; the run fails above 1e-3).
 *
 * Run: npx tsc -p . && node dist/bench/import.js [--rounds N] [--json FILE]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { grad, noGrad, scope, setNumThreads, tensor, torchVersion, type Tensor } from '../src/tensor/index.js';
import { F } from '../src/nn/index.js';
import { packageRoot } from '../src/tensor/native.js';
import { importClassifier, type ImportedClassifier } from '../src/models/imported.js';
import { median } from '../src/eval/stats.js';
import { benchThreads, compare, formatResults, PythonWorker, type ComparisonResult } from './lib/harness.js';

const SIZES = [
  { size: 32, batch: 128, classes: 10 },
  { size: 224, batch: 8, classes: 1000 },
] as const;
const TOLERANCE = 1e-3;

function readFloats(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, json: { type: 'string' } } });
  const rounds = Number(values.rounds);
  const threads = benchThreads();
  setNumThreads(threads);
  const dir = mkdtempSync(join(tmpdir(), 'bastion-bench-import-'));
  const results: ComparisonResult[] = [];
  const extra: Record<string, unknown> = {};
  try {
    for (const s of SIZES) {
      const run = spawnSync('/usr/bin/python3', [join(packageRoot, 'test', 'fixtures', 'export_torchvision.py'), dir, String(s.size), 'resnet18', '--opsets', '17', '--batch', String(s.batch), '--classes', String(s.classes)], { encoding: 'utf8', timeout: 600_000 });
      if (run.status !== 0) throw new Error(`export_torchvision.py failed: ${run.stderr}`);
      for (const suffix of ['input.bin', 'opset17.onnx']) writeFileSync(join(dir, `resnet18-${s.size}.${suffix}`), readFileSync(join(dir, `resnet18.${suffix}`)));
      process.env[`BASTION_BENCH_IMPORT_BATCH_${s.size}`] = String(s.batch);
      process.env[`BASTION_BENCH_IMPORT_CLASSES_${s.size}`] = String(s.classes);
    }
    process.env['BASTION_BENCH_IMPORT_DIR'] = dir;

    // Import time: median of 5 loads of the 224x224 file (parse, build, fold, probe).
    const importSeconds: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const m = await importClassifier(join(dir, 'resnet18-224.opset17.onnx'));
      importSeconds.push((performance.now() - started) / 1000);
      m.dispose();
    }
    extra['importSeconds'] = median(importSeconds);

    const started = await PythonWorker.start(join(packageRoot, 'bench', 'py', 'import_models.py'), threads);
    const worker = started?.worker ?? null;
    const ort = await import('onnxruntime-node');
    try {
      for (const s of SIZES) {
        const file = join(dir, `resnet18-${s.size}.opset17.onnx`);
        const model: ImportedClassifier = await importClassifier(file);
        const pixels = readFloats(join(dir, `resnet18-${s.size}.input.bin`));
        const x = tensor(pixels, { shape: [s.batch, 3, s.size, s.size] }).keep();
        const y = tensor(Array.from({ length: s.batch }, (_, i) => i % s.classes), { dtype: 'int64' }).keep();
        // Same logits on both sides before timing.
        if (worker) {
          await worker.request({ cmd: 'setup', case: `import-check-${s.size}` });
          const reply = await worker.request({ cmd: 'run', case: `import-check-${s.size}`, units: s.batch });
          await worker.request({ cmd: 'teardown', case: `import-check-${s.size}` });
          const theirs = reply['logits'] as number[];
          const ours = noGrad(() => scope(() => model.forward(x).toNumbers()));
          const diff = Math.max(...ours.map((v, i) => Math.abs(v - theirs[i]!)));
          process.stdout.write(`resnet18 ${s.size}x${s.size}: max |Bastion - PyTorch| logit difference ${diff.toExponential(2)}\n`);
          if (!(diff <= TOLERANCE)) throw new Error(`logits differ by ${diff} (> ${TOLERANCE}); the comparison would be meaningless`);
          extra[`logitDifference${s.size}`] = diff;
        }
        const units = s.batch * (s.size === 32 ? 2 : 2);
        results.push(await compare(worker, {
          name: `ResNet-18 ONNX ${s.size}x${s.size} forward, batch ${s.batch}`, unit: 'images', units, warmup: s.batch,
          bastion: {
            setup: () => undefined,
            run: (n) => noGrad(() => { for (let i = 0; i < Math.max(1, n / s.batch); i++) scope(() => model.forward(x).argmax(1)); }),
          },
          python: [{ name: `import-forward-${s.size}`, label: 'PyTorch eager (NCHW)' }], target: 1.0,
        }, rounds));
        results.push(await compare(worker, {
          name: `ResNet-18 ONNX ${s.size}x${s.size} input gradient, batch ${s.batch}`, unit: 'images', units, warmup: s.batch,
          bastion: {
            setup: () => { for (const p of model.parameters()) p.requiresGrad_(false); },
            run: (n) => { for (let i = 0; i < Math.max(1, n / s.batch); i++) scope(() => { const xi: Tensor = x.clone().requiresGrad_(true); grad(F.crossEntropy(model.forward(xi), y), xi)[0]!.sign(); }); },
          },
          python: [{ name: `import-inputgrad-${s.size}`, label: 'PyTorch eager (NCHW)' }], target: 1.0,
        }, rounds));
        // onnxruntime-node on the same file, same threads: timed here, alternating with Bastion.
        const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1 });
        const feed = { pixels: new ort.Tensor('float32', pixels, [s.batch, 3, s.size, s.size]) };
        await session.run(feed);
        const ratios: number[] = [];
        const ortRates: number[] = [];
        const bastionRates: number[] = [];
        for (let r = 0; r < rounds; r++) {
          let t0 = performance.now();
          for (let i = 0; i < 2; i++) noGrad(() => scope(() => model.forward(x).argmax(1)));
          const bastionRate = (2 * s.batch) / ((performance.now() - t0) / 1000);
          t0 = performance.now();
          for (let i = 0; i < 2; i++) await session.run(feed);
          const ortRate = (2 * s.batch) / ((performance.now() - t0) / 1000);
          bastionRates.push(bastionRate);
          ortRates.push(ortRate);
          ratios.push(bastionRate / ortRate);
        }
        await session.release();
        extra[`onnxruntime${s.size}`] = { bastion: median(bastionRates), onnxruntime: median(ortRates), ratio: median(ratios) };
        process.stdout.write(`ResNet-18 ONNX ${s.size}x${s.size} forward, batch ${s.batch}: Bastion ${Math.round(median(bastionRates))} images/s, onnxruntime-node ${Math.round(median(ortRates))} images/s, ratio ${median(ratios).toFixed(2)}x (reported, no target)\n`);
        x.dispose();
        y.dispose();
        model.dispose();
      }
    } finally {
      worker?.close();
    }
    process.stdout.write(`\nbench/import: libtorch ${torchVersion()}, PyTorch ${started?.torch ?? 'unavailable'}, ${threads} threads, ${rounds} rounds\n`);
    process.stdout.write(`${formatResults(results)}\n`);
    process.stdout.write(`import of ResNet-18 (224x224 file): ${(extra['importSeconds'] as number).toFixed(3)} s median of 5 (target < 1 s: ${(extra['importSeconds'] as number) < 1 ? 'met' : 'NOT met'})\n`);
    if (values.json) writeFileSync(values.json, `${JSON.stringify({ results, ...extra }, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
