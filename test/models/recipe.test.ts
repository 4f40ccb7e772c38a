/** Classifier recipes: the 'multistep' schedule's milestones, and runs of another length. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { recipeForEpochs, trainClassifier } from '../../src/models/train-classifier.js';
import { paper004Experiment } from '../../src/eval/aad-config.js';

describe('classifier recipes', () => {
  it('keeps multistep decays at the same fractions of a longer or shorter run', () => {
    const paper = paper004Experiment('mnist').recipe;
    assert.deepEqual([paper.schedule, paper.epochs, paper.lrMilestones], ['multistep', 5, [4]]);
    assert.deepEqual(recipeForEpochs(paper, 83).lrMilestones, [66]);
    assert.deepEqual(recipeForEpochs(paper, 10).lrMilestones, [8]);
    assert.deepEqual(recipeForEpochs(paper, 2).lrMilestones, [1]);
    assert.deepEqual(recipeForEpochs({ ...paper, lrMilestones: [2, 4] }, 3).lrMilestones, [1, 2]);
    const single = recipeForEpochs(paper, 1);
    assert.deepEqual([single.epochs, single.schedule, 'lrMilestones' in single], [1, 'constant', false]);
    assert.deepEqual(recipeForEpochs({ schedule: 'onecycle', epochs: 15 }, 3), { schedule: 'onecycle', epochs: 3 });
    assert.deepEqual(recipeForEpochs({}, 7), { epochs: 7 });
  });

  it('rejects multistep milestones outside the run before loading any data', async () => {
    for (const lrMilestones of [undefined, [], [5], [0], [2.5]]) {
      await assert.rejects(
        trainClassifier({ architecture: 'lenet', data: 'no-such-data-set', out: '/nonexistent', recipe: { epochs: 5, schedule: 'multistep', ...(lrMilestones ? { lrMilestones } : {}) } }),
        /schedule 'multistep' needs lrMilestones, epochs between 1 and 4/,
        JSON.stringify(lrMilestones),
      );
    }
  });
});
