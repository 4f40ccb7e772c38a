/**
 * Optimizers and schedules against PyTorch itself (torch 1.13 via /usr/bin/python3): the same
 * parameters and gradients give the same updated weights, and the same schedules give the same
 * learning-rate and momentum sequences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { Adam, AdamW, CosineAnnealingLR, MultiStepLR, OneCycleLR, SGD, StepLR, type LRScheduler, type Optimizer } from '../../src/optim/index.js';
import { manualSeed, randn, scope, zeros, type Tensor } from '../../src/tensor/index.js';
import { runTorchReference, torchUnavailableReason } from '../fixtures/torch.js';

const OPTIMIZERS: Record<string, (p: Tensor) => Optimizer> = {
  sgd_momentum_wd: (p) => new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.2, weightDecay: 0.05 }),
  sgd_nesterov: (p) => new SGD([p], { lr: 0.1, momentum: 0.8, nesterov: true, weightDecay: 0.01 }),
  adam_wd: (p) => new Adam([p], { lr: 0.01, betas: [0.8, 0.99], weightDecay: 0.1 }),
  adam_amsgrad: (p) => new Adam([p], { lr: 0.01, amsgrad: true }),
  adamw: (p) => new AdamW([p], { lr: 0.01, weightDecay: 0.1 }),
  adamw_amsgrad: (p) => new AdamW([p], { lr: 0.02, amsgrad: true }),
};

const SCHEDULES: Record<string, { make: (o: Optimizer) => LRScheduler; steps: number; adam?: boolean }> = {
  step: { make: (o) => new StepLR(o, { stepSize: 3, gamma: 0.5 }), steps: 12 },
  multistep: { make: (o) => new MultiStepLR(o, { milestones: [2, 5, 5, 9], gamma: 0.3 }), steps: 12 },
  cosine: { make: (o) => new CosineAnnealingLR(o, { tMax: 5, etaMin: 0.01 }), steps: 23 },
  onecycle_sgd: { make: (o) => new OneCycleLR(o, { maxLr: 0.5, totalSteps: 20 }), steps: 20 },
  onecycle_adam_linear: { make: (o) => new OneCycleLR(o, { maxLr: 0.3, epochs: 3, stepsPerEpoch: 5, annealStrategy: 'linear', pctStart: 0.4 }), steps: 15, adam: true },
  onecycle_three_phase: { make: (o) => new OneCycleLR(o, { maxLr: 1.0, totalSteps: 17, threePhase: true, divFactor: 10, finalDivFactor: 100 }), steps: 17 },
};

test('optimizer updates and schedules equal PyTorch\'s', async (t) => {
  const reason = torchUnavailableReason();
  if (reason !== null) {
    t.skip(`python3 with torch not found: ${reason}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'bastion-optim-'));
  try {
    manualSeed(21);
    const input = new Map<string, Tensor>([['p0', randn([5, 4])], ...[0, 1, 2, 3].map((i) => [`g${i}`, randn([5, 4])] as [string, Tensor])]);
    await writeSafetensors(join(dir, 'optim-input.safetensors'), input);
    const report = await runTorchReference('optim', dir);
    const torchOut = await readSafetensors(join(dir, 'optim-output.safetensors'));
    try {
      for (const [name, make] of Object.entries(OPTIMIZERS)) {
        const p = input.get('p0')!.clone().keep().requiresGrad_();
        const optimizer = make(p);
        for (let i = 0; i < 4; i++) {
          scope(() => p.setGrad(input.get(`g${i}`)!.clone()));
          optimizer.step();
        }
        const diff = scope(() => p.sub(torchOut.tensors.get(name)!).abs().max().item());
        assert.ok(diff <= 1e-7, `${name}: max difference from torch.optim ${diff}`);
        optimizer.dispose();
        p.dispose();
      }
    } finally {
      for (const x of [...input.values(), ...torchOut.tensors.values()]) x.dispose();
    }

    const schedules = report['schedules'] as Record<string, [number, number][]>;
    for (const [name, spec] of Object.entries(SCHEDULES)) {
      const p = zeros([1]).keep().requiresGrad_();
      const optimizer = spec.adam ? new Adam([p], { lr: 0.1 }) : new SGD([p], { lr: 0.1, momentum: 0.9 });
      const scheduler = spec.make(optimizer);
      const expected = schedules[name]!;
      for (let i = 0; i < spec.steps; i++) {
        const group = optimizer.paramGroups[0] as unknown as { lr: number; momentum?: number; betas?: [number, number] };
        const momentum = spec.adam ? group.betas![0] : group.momentum!;
        const [lr, m] = expected[i]!;
        assert.ok(Math.abs(group.lr - lr) <= 1e-12 * Math.max(1, lr), `${name} step ${i}: lr ${group.lr} vs torch ${lr}`);
        assert.ok(Math.abs(momentum - m) <= 1e-12, `${name} step ${i}: momentum ${momentum} vs torch ${m}`);
        scheduler.step();
      }
      optimizer.dispose();
      p.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
