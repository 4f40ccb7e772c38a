/**
 * One test per option-parsing finding of issue #27 (17): the CLI runs in-process through main(),
 * whose onError hook shows what a command threw.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { epsilonWarning, parseNumber } from '../../src/cli/args.js';
import { joinNegativeValues } from '../../src/cli/main.js';
import { attackCommand } from '../../src/cli/commands/attack.js';
import { encodePng } from '../../src/io/image.js';
import { trainClassifier } from '../../src/models/train-classifier.js';
import { runInProcess } from '../helpers/cli.js';
import { BastionError, UsageError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'bastion-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('finding 17: option parsing', () => {
  it('a negative value needs no =', async () => {
    assert.deepEqual(joinNegativeValues(['--bounds', '-1,1', '--eps', '.5'], attackCommand.options), ['--bounds=-1,1', '--eps', '.5']);
    const r = await runInProcess(['attack', '--model', join(dir, 'none'), '--data', 'x', '--out', join(dir, 'o'), '--eps', '0.1', '--bounds', '-1,1']);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /ambiguous|--bounds/);
  });

  it('only decimal numbers: no hex, no overflow, no underflow to 0', () => {
    for (const raw of ['0x10', '0b1', '0o7', 'Infinity', '1e400', '', ' ', '1e-400', '-0.0e-999x']) {
      assert.throws(() => parseNumber(raw, '--eps'), UsageError, raw);
    }
    assert.throws(() => parseNumber('1e-400', '--eps'), /too small/);
    assert.equal(parseNumber('1e-3', '--eps'), 0.001);
    assert.equal(parseNumber('0.0', '--eps'), 0);
    assert.equal(parseNumber('-.5', '--eps'), -0.5);
  });

  it('an L-inf eps above the pixel range warns', async () => {
    assert.match(epsilonWarning([0.1, 8], 'linf') ?? '', /eps 8 exceeds the pixel range 1.*8\/255/);
    assert.equal(epsilonWarning([0.3], 'linf'), null);
    assert.equal(epsilonWarning([3], 'l2'), null);
    const r = await runInProcess(['attack', '--model', join(dir, 'none'), '--data', 'x', '--out', join(dir, 'o'), '--eps', '8']);
    assert.match(r.stderr, /warning: L-inf eps 8 exceeds/);
  });

  it('a repeated option is an error, not the last one silently', async () => {
    const r = await runInProcess(['attack', '--eps', '0.1', '--eps', '0.2']);
    assert.equal(r.code, 2);
    assert.ok(r.error instanceof UsageError && /--eps is given more than once/.test(r.error.message));
  });

  it('--threads above the cores is refused', async () => {
    const r = await runInProcess(['models', '--threads', String(availableParallelism() + 1)]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--threads must be at most/);
  });

  it("--modes '' and empty list items are errors", async () => {
    for (const args of [['--modes', ''], ['--modes', 'gray-box,'], ['--eps', '0.1,,0.2']]) {
      const r = await runInProcess(['eval', '--classifier', join(dir, 'none'), '--purifier', join(dir, 'none'), '--data', 'x', '--eps', '0.1', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.ok(r.error instanceof UsageError, args.join(' '));
    }
  });

  describe('train: batch size and validation count against the data', () => {
    const data = join(dir, 'tiny');
    for (const split of ['train', 'test']) {
      for (const cls of ['a', 'b']) {
        mkdirSync(join(data, split, cls), { recursive: true });
        for (let i = 0; i < 6; i++) {
          writeFileSync(join(data, split, cls, `${i}.png`), encodePng({ width: 16, height: 16, channels: 1, data: new Uint8Array(256).fill(cls === 'a' ? 10 * i : 255 - 10 * i) }));
        }
      }
    }
    it('a batch larger than the data names the sizes', async () => {
      await assert.rejects(trainClassifier({ architecture: 'simple-cnn', data, out: join(dir, 'm1'), recipe: { batchSize: 64, epochs: 1, valCount: 0 } }),
        (e: unknown) => e instanceof BastionError && /batch size 64 is larger than the 12 training images/.test(e.message));
    });
    it('a --val-count that leaves less than a batch is refused, not reduced', async () => {
      await assert.rejects(trainClassifier({ architecture: 'simple-cnn', data, out: join(dir, 'm2'), recipe: { batchSize: 4, epochs: 1, valCount: 10 } }),
        (e: unknown) => e instanceof BastionError && /valCount 10 leaves 2 of the 12 training images/.test(e.message));
    });
  });
});
