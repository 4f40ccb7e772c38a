/** The HTML report: structure, self-containedness and safety, from synthetic run folders of each kind. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRun, paperPoints, renderReport, writeReport } from '../../src/report/html.js';
import { lineChart, niceTicks } from '../../src/report/svg.js';
import { main } from '../../src/cli/main.js';
import { packageRoot } from '../../src/tensor/native.js';
import { tensor, zeros, type Tensor } from '../../src/tensor/index.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { paperTable } from '../../src/eval/paper.js';
import { squarePng, writeSyntheticRun } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'bastion-report-'));
after(() => rmSync(root, { recursive: true, force: true }));

function count(text: string, pattern: RegExp): number {
  return (text.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`)) ?? []).length;
}

/** Every resource reference of the page: src/href attributes and CSS url(). */
function references(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/g)].map((m) => m[1] as string).concat([...html.matchAll(/url\(([^)]*)\)/g)].map((m) => m[1] as string));
}

describe('svg charts', () => {
  it('chooses round ticks that cover the range', () => {
    assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0, 0.3, 6), [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
    const odd = niceTicks(0.07, 1.43, 5);
    assert.ok((odd[0] as number) <= 0.07 && (odd.at(-1) as number) >= 1.43, `${odd}`);
    assert.equal(niceTicks(2, 2).length >= 2, true, 'a single value still gets an axis');
  });

  it('draws axes, ticks, labels, a legend and an accessible description', () => {
    const svg = lineChart({ title: 'T <1>', xLabel: 'eps', yLabel: 'acc', series: [{ name: 'ours', points: [{ x: 0, y: 1 }, { x: 0.3, y: 0.2 }] }, { name: 'empty', points: [] }], yDomain: [0, 1] });
    assert.match(svg, /^<svg [^>]*role="img"[^>]*aria-labelledby="([^" ]+) ([^"]+)"/);
    assert.match(svg, /<title id="[^"]+">T &lt;1&gt;<\/title>/);
    assert.match(svg, /<desc id="[^"]+">acc against eps\. ours: \(0, 1\) \(0\.3, 0\.2\); empty: no data<\/desc>/);
    assert.ok(count(svg, /<path d="M/) >= 1, 'a line');
    assert.ok(svg.includes('>empty (no data)</text>'), 'empty series are listed in the legend');
    assert.ok(svg.includes('>0.15</text>') && svg.includes('>0.8</text>'), 'tick labels on both axes');
  });
});

describe('experiment report', () => {
  const dir = join(root, 'runs', 'synthetic');
  mkdirSync(dir, { recursive: true });
  const results = writeSyntheticRun(dir, { smoke: true, title: 'Synthetic <b>report</b> & test' });
  // A PNG outside the run folder that examples/def.json names as '../outside.png': it must not be inlined.
  const outside = squarePng(77, 3);
  writeFileSync(join(root, 'runs', 'outside.png'), outside);

  it('places the paper values of the tables on the evaluation curves', () => {
    const points = paperPoints(results);
    const fgsm = points.get('fgsm')?.get('perEpsilon');
    const table1 = paperTable('paper000-table1');
    const paperAt = (e: number): number => table1.entries.find((x) => x.dataset === 'mnist' && x.attack === 'fgsm' && x.epsilon === e)!.value;
    assert.deepEqual(fgsm, [0, 0.1, 0.2, 0.3].map((x) => ({ x, y: paperAt(x) })));
    assert.deepEqual(points.get('def')?.get('grayBox.defenses.cae'), [{ x: 0.6, y: 0.9121 }], 'the defense table row lands on eps 0.6 of the cae gray-box curve');
  });

  it('renders the title, smoke banner, tables, charts, images and provenance in one self-contained page', async () => {
    const html = await renderReport(dir);
    assert.match(html, /^<!DOCTYPE html>/);
    assert.ok(html.includes('<h1>Synthetic &lt;b&gt;report&lt;/b&gt; &amp; test</h1>'), 'the title is escaped');
    assert.ok(!html.includes('<b>report</b>'));
    assert.match(html, /<div class="banner" role="alert">SMOKE RUN/);
    // Tables: both resolved tables with their titles, a coloured difference column in pp.
    assert.ok(html.includes('<caption>FGSM without defense</caption>') && html.includes('<caption>CAE in front of the CNN</caption>'));
    assert.ok(html.includes('ours − paper (pp)'));
    const diffs = [...html.matchAll(/<td class="num diff" style="background: rgba\((\d+), \d+, \d+, [0-9.]+\)">([-+][0-9.]+)<\/td>/g)].map((m) => [m[1], m[2]]);
    const expected = [0.99 - 0.9919, 0.81 - 0.9232, 0.42 - 0.8457, 0.17 - 0.7529, 0.88 - 0.9121].map((d) => (d * 100).toFixed(2));
    assert.deepEqual(diffs.map(([, v]) => v), expected, 'every difference in percentage points');
    assert.ok(diffs.every(([red]) => red === '213'), 'below the paper: orange');
    assert.ok(count(html, /<th scope="col"/) > 20, 'column headers');
    // Charts: the FGSM sweep, one chart for the defense, and training curves (cnn: loss + accuracy, cae: loss).
    const charts = count(html, /<svg class="chart"/);
    assert.equal(charts, 1 + 1 + 1 + 2 + 1, 'fgsm, def, t6, cnn (2), cae');
    assert.ok(html.includes('gray-box (crafted on the classifier, then purified)') && html.includes('BPDA (purifier as identity on the backward pass)'), 'modes on the same axes');
    assert.ok(/<desc[^>]*>[^<]*paper: \(0, 99\.2%\) \(0\.1, 92\.3%\) \(0\.2, 84\.6%\) \(0\.3, 75\.3%\)/.test(html), 'paper points in the FGSM chart');
    assert.ok(/<desc[^>]*>[^<]*paper: cae \(gray-box\): \(0\.6, 91\.2%\)/.test(html), 'paper points in the defense chart');
    // Images: every existing example PNG inlined as a data: URI with alt text; the missing one and the escaping one shown as missing.
    const images = count(html, /<img src="data:image\/png;base64,[A-Za-z0-9+/=]+" alt="[^"]+">/);
    assert.equal(images, 2 * 2 * 5 + 3, 'fgsm: one block per eps (2) of 2 samples x (clean, adversarial, perturbation, 2 Grad-CAMs); def: clean, adversarial, purified');
    assert.equal(count(html, /class="missing"/), 2, 'the missing perturbation and the path outside the run folder');
    assert.ok(!html.includes(Buffer.from(outside).toString('base64')), 'a PNG outside the run folder is never inlined');
    assert.ok(html.includes('✓ zero 98.0%') && html.includes('✗ two 61.0%'), 'predictions with confidences, marked correct and wrong');
    // Latency, notes, the Table 6 result, provenance with wall times.
    assert.ok(html.includes('0.400 ms') && html.includes('2.100 ms'), 'latency at batch 1');
    assert.ok(html.includes('cae: a note about the evaluation'));
    assert.ok(html.includes('<caption>Accuracy on 100 test images at ε 0.3 (step 0.01)</caption>'), 'Table 6 as a table');
    assert.ok(/<td class="num">70\.00%<\/td>/.test(html) && /PGD-k: \(10, 80(\.0)?%\) \(100, 70(\.0)?%\)/.test(html), 'Table 6 cells and its iteration chart');
    assert.ok(html.includes('<code>abc123-dirty</code>') && html.includes('(uncommitted changes)') && html.includes('Test CPU'));
    assert.ok(html.includes('42.5 s'), 'total wall time');
    // Self-contained: no scripts, no external references of any kind.
    assert.ok(!/<script/i.test(html));
    for (const ref of references(html)) assert.match(ref, /^(data:|#)/, `reference ${ref.slice(0, 60)}`);
    assert.ok(!/https?:\/\//.test(html), 'no URL at all');
    assert.ok(!html.includes('@import'));
  });

  it('has no smoke banner for a full run', async () => {
    const full = join(root, 'runs', 'full');
    mkdirSync(full, { recursive: true });
    writeSyntheticRun(full, { smoke: false });
    const html = await renderReport(full);
    assert.ok(!html.includes('SMOKE RUN'));
  });

  it('is written by `bastion report DIR --out FILE` and defaults to DIR/report.html', async () => {
    const out = join(root, 'out', 'r.html');
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['report', dir, '--out', out], packageRoot);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(code, 0);
    assert.match(lines.join(''), /wrote .*r\.html/);
    assert.match(readFileSync(out, 'utf8'), /SMOKE RUN/);
    const written = await writeReport(dir);
    assert.equal(written.path, join(dir, 'report.html'));
    assert.ok(existsSync(written.path));
  });
});

describe('attack and eval folders', () => {
  it('renders `bastion attack --out` folders with the comparison and the stored examples', async () => {
    const dir = join(root, 'attack');
    mkdirSync(dir, { recursive: true });
    const epsilons = [0.1, 0.3];
    const summary = {
      format: 'bastion-attack-summary', version: 1, model: { dir: 'runs/models/m', architecture: 'simple-cnn', classNames: ['zero', 'one'] },
      data: { name: 'mnist', set: 'mnist/test', split: 'test' }, attackOptions: { seed: 0 },
      attack: 'pgd', threat: { norm: 'linf', epsilons, bounds: [0, 1], targeted: false }, target: null, samples: 2, excluded: 0, cleanAccuracy: 1,
      perEpsilon: epsilons.map((epsilon, i) => ({ epsilon, accuracy: 0.5 - i * 0.5, successRate: 0.5 + i * 0.5, successRateOnCorrect: 0.5 + i * 0.5, norms: { count: 1 + i, mean: epsilon, median: epsilon, max: epsilon } })),
      gradientEvaluations: 80, forwardEvaluations: 90, attackSeconds: 1, wallSeconds: 1.2, batches: 1, imagesPerSecond: 2,
      comparison: { table: 'paper000-table2', source: 'paper 000 Table 2', rows: [{ epsilon: 0.1, paper: 0.1947, ours: 0.5, diff: 0.5 - 0.1947 }, { epsilon: 0.3, paper: 0.0251, ours: 0, diff: -0.0251 }] },
      files: { summary: 'summary.json', examples: 'examples.safetensors' },
      provenance: { createdAt: '2026-01-01T00:00:00.000Z', gitRevision: 'abc', bastionVersion: '0.1.0', torchVersion: '1.13.0', node: 'v20', machine: { hostname: 'h', cpus: 2, cpuModel: 'cpu', platform: 'linux', arch: 'x64' } },
    };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
    const tensors = new Map<string, Tensor>([
      ['original', zeros([2, 1, 28, 28])], ['label', tensor([0, 1], { dtype: 'int64' })], ['clean_prediction', tensor([0, 1], { dtype: 'int64' })],
      ...epsilons.flatMap((e) => [
        [`adversarial@${e}`, zeros([2, 1, 28, 28]).add(e)] as [string, Tensor],
        [`prediction@${e}`, tensor([1, 1], { dtype: 'int64' })] as [string, Tensor],
        [`success@${e}`, tensor([true, false], { dtype: 'bool' })] as [string, Tensor],
      ]),
    ]);
    await writeSafetensors(join(dir, 'examples.safetensors'), tensors, { attack: 'pgd' });
    for (const t of tensors.values()) t.dispose();
    const html = await renderReport(dir);
    assert.ok(html.includes('<h1>pgd (linf) on simple-cnn, mnist/test</h1>'));
    assert.equal(count(html, /<svg class="chart"/), 1);
    assert.ok(/<desc[^>]*>[^<]*paper: \(0\.1, 19\.5%\) \(0\.3, 2\.5%\)/.test(html), 'the comparison\'s paper values in the chart');
    assert.ok(html.includes('+30.53') && html.includes('-2.51'), 'differences in percentage points');
    assert.equal(count(html, /<img src="data:image\/png;base64,/), 2 * (1 + 2 * 2), 'clean + (adversarial, perturbation) per eps for 2 samples');
    assert.ok(html.includes('✗ one') && html.includes('✓ zero'));
  });

  it('renders `bastion eval --out` folders with per-mode charts and latency', async () => {
    const dir = join(root, 'eval');
    mkdirSync(dir, { recursive: true });
    const record = {
      format: 'bastion-defense-eval', classifier: 'runs/models/c', purifiers: ['runs/models/p'], ensemble: null, data: 'mnist',
      result: {
        attack: 'pgd', attackOptions: { steps: 10 }, norm: 'linf', epsilons: [0.1, 0.2], samples: 50, modes: ['gray-box', 'eot'],
        clean: { source: 0.98, defenses: { p: 0.96 } }, grayBox: { source: [0.3, 0.1], defenses: { p: [0.9, 0.8] } }, adaptive: { eot: { p: [0.2, 0.05] } }, notes: [], seconds: { 'gray-box': 1, eot: 4 },
      },
      latency: { classifier: { perImageBatch1: 0.001, perImageAmortised: 0.0001, batchSize: 256, runs: { batch1: 50, batched: 10 } } },
      provenance: { createdAt: '2026-01-01T00:00:00.000Z', gitRevision: null, bastionVersion: '0.1.0', torchVersion: '1.13.0', node: 'v20', machine: { hostname: 'h', cpus: 2, cpuModel: 'cpu', platform: 'linux', arch: 'x64' } },
    };
    writeFileSync(join(dir, 'eval.json'), JSON.stringify(record));
    const html = await renderReport(dir);
    assert.equal(count(html, /<svg class="chart"/), 1);
    assert.ok(html.includes('p: EOT (averaged over latent noise)'));
    assert.ok(html.includes('1.000 ms'), 'latency table');
    assert.ok(html.includes('not a git checkout'));
  });

  it('says which files it looked for, and which field is wrong', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty, { recursive: true });
    await assert.rejects(renderReport(empty), /holds no run results \(looked for results\.json, summary\.json, eval\.json\)/);
    const wrong = join(root, 'wrong');
    mkdirSync(wrong, { recursive: true });
    writeFileSync(join(wrong, 'results.json'), JSON.stringify({ format: 'something-else' }));
    await assert.rejects(loadRun(wrong), /results\.json: has format "something-else", expected 'bastion-experiment-results'/);
    writeFileSync(join(wrong, 'results.json'), '{ not json');
    await assert.rejects(loadRun(wrong), /results\.json: is not valid JSON/);
  });

  it('never quotes the file in a parse error, and refuses a description file linked from outside the run folder', async () => {
    const dir = join(root, 'quoted');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'results.json'), 'secret-host-name\n');
    const error = await loadRun(dir).then(() => null, (e: unknown) => e as Error);
    assert.match(String(error?.message), /results\.json: is not valid JSON/);
    assert.ok(!String(error?.message).includes('secret-host'), String(error?.message));
    writeFileSync(join(dir, 'results.json'), '{"format": "bastion-experiment-results",\n  "secret": 1, }');
    await assert.rejects(loadRun(dir), (e: Error) => /is not valid JSON \(at line 2, column \d+\)/.test(e.message) && !e.message.includes('secret'));
    const linked = join(root, 'linked');
    mkdirSync(linked, { recursive: true });
    symlinkSync(join(dir, 'results.json'), join(linked, 'results.json'));
    await assert.rejects(loadRun(linked), /refused path 'results\.json': leads outside its folder/);
  });
});
