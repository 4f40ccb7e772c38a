/** Adversarial training (Madry, ALP, TRADES): losses against hand-computed values, modes, robustness gain, no leaks. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpuHasNativeBFloat16, manualSeed, noGrad, scope, setNumThreads, tensorStats, type Tensor } from '../../src/tensor/index.js';
import { crossEntropy, klDiv } from '../../src/nn/functional.js';
import { Adam } from '../../src/optim/index.js';
import { fit, type LossFunction } from '../../src/train/index.js';
import { PGD } from '../../src/attacks/pgd.js';
import { adversarialTraining, KLPGD, resolveAttackPrecision } from '../../src/defenses/adversarial-training.js';
import { SmallNet, syntheticData, trainedNet } from '../attacks/helpers.js';
import { TensorBatches } from '../train/synthetic.js';
import { assertClose } from '../helpers/assert.js';

setNumThreads(1);

const EPS = 0.25;

/** The deterministic PGD example the training loss must be using (no random start, full budget). */
function pgdExample(net: SmallNet, x: Tensor, y: Tensor, steps: number, stepSize: number): Tensor {
  const result = new PGD({ steps, stepSize, randomStart: false, earlyStop: false, carryOver: false }).run(net.eval(), x, y, { norm: 'linf', epsilons: [EPS] });
  const adv = result.perEpsilon[0]!.adversarial.clone();
  result.dispose();
  return adv;
}

function lossOf(at: ReturnType<typeof adversarialTraining>, net: SmallNet, x: Tensor, y: Tensor): { loss: Tensor; output: Tensor } {
  return at.loss(net.train(), { x, y }) as { loss: Tensor; output: Tensor };
}

describe('adversarial training losses', () => {
  const options = { eps: EPS, steps: 4, stepSize: 0.1, randomStart: false };

  it('Madry: cross-entropy (or multi-label soft margin) on the PGD examples', () => {
    const net = trainedNet(1);
    const { x, y } = syntheticData(64, 7);
    scope(() => {
      const at = adversarialTraining({ method: 'madry', ...options });
      const { loss, output } = lossOf(at, net, x, y);
      const adv = pgdExample(net, x, y, 4, 0.1);
      const logits = net.forward(adv);
      assertClose(loss.item(), crossEntropy(logits, y).item(), 1e-5);
      assert.ok(output.allclose(logits, 1e-5, 1e-6));
      assert.ok(loss.item() > crossEntropy(net.forward(x), y).item() + 0.05, 'the adversarial loss exceeds the clean loss');
      const mlsm = lossOf(adversarialTraining({ method: 'madry', ...options, classificationLoss: 'mlsm' }), net, x, y).loss;
      // multi-label soft margin with one-hot targets = mean over classes of the sigmoid cross-entropy
      const z = logits;
      const t = y.oneHot(4).float();
      const manual = z.sigmoid().log().mul(t).add(z.neg().sigmoid().log().mul(t.rsub(1))).neg().mean();
      assertClose(mlsm.item(), manual.item(), 1e-5);
    });
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });

  it('ALP: 0.5 CE(clean) + 0.5 CE(adv) + lambda * mean squared logit difference', () => {
    const net = trainedNet(2);
    const { x, y } = syntheticData(64, 8);
    scope(() => {
      const at = adversarialTraining({ method: 'alp', ...options, alpWeight: 0.7 });
      const { loss } = lossOf(at, net, x, y);
      const adv = pgdExample(net, x, y, 4, 0.1);
      const [zc, za] = [net.forward(x), net.forward(adv)];
      const pairing = zc.sub(za).square().sum(1).mean().item() / 4; // (lambda / K) mean_i ||z_i - z~_i||^2
      const expected = 0.5 * crossEntropy(zc, y).item() + 0.5 * crossEntropy(za, y).item() + 0.7 * pairing;
      assertClose(loss.item(), expected, 1e-5);
      assert.ok(pairing > 0);
    });
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });

  it('TRADES: CE(clean) + beta KL(f(x) || f(x_adv)), x_adv from PGD on that KL', () => {
    const net = trainedNet(3);
    const { x, y } = syntheticData(64, 9);
    scope(() => {
      const at = adversarialTraining({ method: 'trades', ...options, tradesBeta: 2 });
      const { loss } = lossOf(at, net, x, y);
      net.eval();
      const attack = new KLPGD({ steps: 4, stepSize: 0.1, randomStart: false, earlyStop: false, carryOver: false });
      const result = attack.run(net, x, y, { norm: 'linf', epsilons: [EPS] });
      const adv = result.perEpsilon[0]!.adversarial;
      const [zc, za] = [net.forward(x), net.forward(adv)];
      const kl = klDiv(za.logSoftmax(1), zc.softmax(1), { reduction: 'batchmean' });
      assertClose(loss.item(), crossEntropy(zc, y).item() + 2 * kl.item(), 1e-5);
      // The KL-PGD example has a larger KL than a step of the same size in a fixed direction.
      const other = noGrad(() => net.forward(x.add(EPS).clamp(0, 1)));
      assert.ok(kl.item() > klDiv(other.logSoftmax(1), zc.softmax(1), { reduction: 'batchmean' }).item());
      result.dispose();
    });
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });

  it('attacks in evaluation mode and computes the loss in the caller\'s mode', () => {
    const net = trainedNet(4);
    const modes: boolean[] = [];
    const forward = net.forward.bind(net);
    net.forward = (input: Tensor) => {
      modes.push(net.training);
      return forward(input);
    };
    const { x, y } = syntheticData(16, 1);
    scope(() => {
      adversarialTraining({ method: 'madry', ...options }).loss(net.train(), { x, y });
    });
    assert.equal(modes.at(-1), true, 'loss forward in training mode');
    assert.ok(modes.slice(0, -1).every((m) => !m), 'every attack forward in evaluation mode');
    assert.equal(net.training, true);
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });

  it('runs the training attack (only) in bfloat16 with attackPrecision, and trains on float32 examples', () => {
    const net = trainedNet(7);
    const logitTypes: string[] = [];
    const forward = net.forward.bind(net);
    net.forward = (input: Tensor) => {
      const out = forward(input);
      logitTypes.push(out.dtype);
      return out;
    };
    const { x, y } = syntheticData(64, 9);
    scope(() => {
      const full = lossOf(adversarialTraining({ method: 'madry', ...options }), net, x, y).loss.item();
      assert.deepEqual([...new Set(logitTypes)], ['float32'], 'float32 attack');
      logitTypes.length = 0;
      const at = adversarialTraining({ method: 'madry', ...options, attackPrecision: 'bfloat16' });
      assert.equal(at.info.attackPrecision, 'bfloat16');
      const { loss, output } = lossOf(at, net, x, y);
      assert.equal(logitTypes.at(-1), 'float32', 'the training loss in float32');
      assert.ok(logitTypes.length > 1 && logitTypes.slice(0, -1).every((t) => t === 'bfloat16'), `attack passes in bfloat16: ${logitTypes.join(',')}`);
      assert.equal(output.dtype, 'float32');
      assert.equal(loss.dtype, 'float32');
      // The bfloat16 attack finds examples about as strong as the float32 one (same start: randomStart false).
      assertClose(loss.item(), full, 0.05 * full, 'adversarial loss, bfloat16 vs float32 attack');
      assert.ok(loss.item() > crossEntropy(forward(x), y).item() + 0.05, 'still an attack');
    });
    assert.throws(() => adversarialTraining({ method: 'madry', eps: 0.1, attackPrecision: 'int8' as never }), /unknown attack precision 'int8'/);
    const auto = adversarialTraining({ method: 'madry', eps: 0.1, attackPrecision: 'auto' }).info;
    assert.deepEqual([auto.attackPrecisionRequested, auto.attackPrecision], ['auto', cpuHasNativeBFloat16() ? 'bfloat16' : 'float32'], 'auto resolves by the CPU');
    assert.equal(resolveAttackPrecision('auto', 'cuda'), 'float16');
    assert.equal(resolveAttackPrecision('bfloat16', 'cpu'), 'bfloat16', 'an explicit precision is kept');
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });

  it('ramps eps up over the warm-up epochs, following the training loop\'s events', () => {
    const net = trainedNet(6);
    const { x, y } = syntheticData(8, 3);
    const at = adversarialTraining({ method: 'madry', eps: 0.3, steps: 1, epsWarmupEpochs: 2 });
    const epsOf = (): number => at.metrics['eps']!(x, { x, y });
    scope(() => {
      assert.throws(() => at.loss(net.train(), { x, y }), /eps warm-up needs the training loop's events/);
      at.observe({ type: 'epoch-start', epoch: 0, epochs: 5, lr: 1e-3, startBatch: 0, batches: 4 });
      at.loss(net.train(), { x, y });
      assertClose(epsOf(), 0, 1e-12, 'first batch');
      at.observe({ type: 'batch', epoch: 0, batch: 0, batches: 4, loss: 1, lr: 1e-3 });
      at.loss(net.train(), { x, y });
      assertClose(epsOf(), 0.3 * (0.25 / 2), 1e-12, 'second batch of four');
      at.observe({ type: 'epoch-start', epoch: 1, epochs: 5, lr: 1e-3, startBatch: 0, batches: 4 }); // e.g. after a resume
      at.loss(net.train(), { x, y });
      assertClose(epsOf(), 0.15, 1e-12, 'start of epoch 2');
      at.observe({ type: 'epoch-start', epoch: 1, epochs: 5, lr: 1e-3, startBatch: 2, batches: 4 }); // resumed mid-epoch
      at.loss(net.train(), { x, y });
      assertClose(epsOf(), 0.3 * (1.5 / 2), 1e-12, 'third batch of epoch 2, resumed from a mid-epoch checkpoint');
      at.observe({ type: 'epoch-start', epoch: 3, epochs: 5, lr: 1e-3, startBatch: 0, batches: 4 });
      at.loss(net.train(), { x, y });
      assertClose(epsOf(), 0.3, 1e-12, 'after the warm-up');
      at.loss(net.eval(), { x, y });
      assertClose(epsOf(), 0.3, 1e-12, 'validation uses the full eps');
    });
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });

  it('rejects bad settings with a clear message', () => {
    assert.throws(() => adversarialTraining({ method: 'fgsm' as never, eps: 0.1 }), /unknown adversarial-training method 'fgsm'/);
    assert.throws(() => adversarialTraining({ method: 'madry', eps: 0 }), /eps must be > 0/);
    assert.throws(() => adversarialTraining({ method: 'madry', eps: 0.1, steps: 0 }), /attack steps must be an integer >= 1/);
    assert.throws(() => adversarialTraining({ method: 'alp', eps: 0.1, alpAdversarialWeight: 2 }), /must be in \[0, 1\]/);
  });
});

describe('adversarial training in fit()', () => {
  /** Trains a SmallNet with `loss` (default cross-entropy) and returns its PGD accuracy on fresh data. */
  async function robustAccuracy(loss: LossFunction | undefined, metrics?: Record<string, (o: Tensor, b: { x: Tensor; y: Tensor }) => number>): Promise<{ robust: number; clean: number; history: Record<string, number>[] }> {
    manualSeed(11);
    const net = new SmallNet();
    const train = syntheticData(256, 12);
    const test = syntheticData(256, 13);
    const source = new TensorBatches(train.x, train.y, 32, 5);
    const optimizer = new Adam(net.parameters(), { lr: 0.01 });
    const result = await fit({ model: net, optimizer, train: source, epochs: 12, seed: 3, progress: false, ...(loss ? { loss } : {}), ...(metrics ? { metrics } : {}) });
    net.eval();
    const attack = new PGD({ steps: 10, stepSize: 0.05, seed: 1 });
    const out = attack.run(net, test.x, test.y, { norm: 'linf', epsilons: [0, EPS] });
    const [clean, robust] = out.perEpsilon.map((e) => scope(() => e.predictions.eq(test.y).float().mean().item()));
    out.dispose();
    for (const t of [train.x, train.y, test.x, test.y]) t.dispose();
    optimizer.zeroGrad();
    net.dispose();
    return { robust: robust as number, clean: clean as number, history: result.history };
  }

  it('raises robust accuracy over standard training on a small problem, and reports the attack cost', async () => {
    const standard = await robustAccuracy(undefined);
    const at = adversarialTraining({ method: 'madry', eps: EPS, steps: 5, stepSize: 0.1 });
    const madry = await robustAccuracy(at.loss, at.metrics);
    assert.ok(standard.clean > 0.95, `standard clean accuracy ${standard.clean}`);
    assert.ok(madry.robust > standard.robust + 0.2, `robust accuracy: Madry ${madry.robust} vs standard ${standard.robust}`);
    const last = madry.history.at(-1) as Record<string, number>;
    assert.ok(last['attack_ms']! > 0 && last['accuracy']! > 0, `epoch metrics ${JSON.stringify(last)}`);
  });

  it('leaks no tensors over training steps', () => {
    const net = trainedNet(5);
    const { x, y } = syntheticData(32, 2);
    const optimizer = new Adam(net.parameters(), { lr: 0.001 });
    for (const method of ['madry', 'alp', 'trades'] as const) {
      const at = adversarialTraining({ method, eps: 0.1, steps: 2 });
      const step = (): void => scope(() => {
        optimizer.zeroGrad();
        (at.loss(net.train(), { x, y }) as { loss: Tensor }).loss.backward();
        optimizer.step();
      });
      step();
      const before = tensorStats().live;
      for (let i = 0; i < 3; i++) step();
      assert.equal(tensorStats().live, before, `${method}: live tensors`);
    }
    for (const t of [x, y]) t.dispose();
    optimizer.zeroGrad();
    net.dispose();
  });
});
