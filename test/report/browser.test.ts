/**
 * The dashboard in a real browser: Debian's headless Chromium driven by playwright-core (no browser
 * download) runs a live attack from the playground, checks that the adversarial and purified images
 * and the predictions appear, opens a run report, and saves screenshots to runs/screenshots/ (report.png
 * and playground.png) for people to look at. Skipped, with the reason shown, without /usr/bin/chromium.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startDashboard, type Dashboard } from '../../src/report/server.js';
import { packageRoot } from '../../src/tensor/native.js';
import { encodePng } from '../../src/io/image.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { writePatchDataset } from '../defenses/fixtures.js';
import { runTinyExperiment } from './fixtures.js';

/** The page globals used inside page.evaluate callbacks (this project compiles without the DOM library). */
declare const document: { body: { dataset: Record<string, string | undefined> } };

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (./setup.sh installs Debian's chromium); the browser test is skipped`;
if (skip) process.stderr.write(`browser test: ${skip}\n`);

const root = mkdtempSync(join(tmpdir(), 'bastion-browser-'));
const screenshots = join(packageRoot, 'runs', 'screenshots');
const previousData = process.env['BASTION_DATA'];
let dashboard: Dashboard;
let context: BrowserContext;
let page: Page;
let purifierId = '';
const requests: string[] = [];
const problems: string[] = [];

/** Waits until the playground has finished a run after `previous` (its body's data-last-run changes). */
async function nextRun(previous: string | undefined): Promise<string> {
  await page.waitForFunction((prev) => document.body.dataset['lastRun'] !== undefined && document.body.dataset['lastRun'] !== prev, previous, { timeout: 60_000 });
  return (await page.evaluate(() => document.body.dataset['lastRun'])) as string;
}

async function imageSource(id: string): Promise<string> {
  return (await page.getAttribute(`#${id}`, 'src')) ?? '';
}

describe('dashboard in headless Chromium', { skip }, () => {
  before(async () => {
    setProgressOutput(null);
    const runs = join(root, 'runs');
    await runTinyExperiment(join(runs, 'tiny'), join(root, 'cache'), join(root, 'data'));
    mkdirSync(join(root, 'datasets'), { recursive: true });
    writePatchDataset(join(root, 'datasets', 'mnist'), 200, 4);
    process.env['BASTION_DATA'] = join(root, 'datasets');
    purifierId = `@cache/${readdirSync(join(root, 'cache', 'models')).find((d) => d.startsWith('dae-') && !d.includes('.'))}`;
    dashboard = await startDashboard({ runsDir: runs, port: 0, modelRoots: [join(root, 'cache', 'models')] });
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(join(root, 'chromium-profile'), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    await context?.close();
    await dashboard?.close();
    if (previousData === undefined) delete process.env['BASTION_DATA'];
    else process.env['BASTION_DATA'] = previousData;
    rmSync(root, { recursive: true, force: true });
  });

  it('runs a live attack from the playground: test image, purifier, eps, drawing and upload', async () => {
    await page.goto(`${dashboard.url}play`);
    let last = await nextRun(undefined);
    assert.match(await page.textContent('#status') ?? '', /^Done in/);
    assert.match(await imageSource('img-clean'), /^data:image\/png;base64,/);
    assert.match(await imageSource('img-adversarial'), /^data:image\/png;base64,/);
    assert.equal(await page.locator('#top-adversarial li').count(), 3);
    assert.match(await page.textContent('#cap-clean') ?? '', /label: .* \(from the data set\)/);

    await page.selectOption('#purifier', purifierId);
    last = await nextRun(last);
    assert.ok(await page.isVisible('#img-purified'), 'the purified image is shown');
    assert.match(await imageSource('img-purified'), /^data:image\/png;base64,/);
    assert.equal(await page.locator('#top-purified li').count(), 3);
    assert.match(await page.textContent('#top-purified li:first-child') ?? '', /^[✓✗] .+%$/);
    assert.match(await page.textContent('#cap-purified') ?? '', /the defense (recovers the label|is fooled too)/);

    const before = await imageSource('img-adversarial');
    await page.selectOption('#mode', 'white-box');
    await page.$eval('#eps', (el) => {
      (el as unknown as { value: string }).value = '0.3';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    last = await nextRun(last);
    assert.match(await page.textContent('#cap-adversarial') ?? '', /fgsm at ε 0\.3, white-box/);
    assert.notEqual(await imageSource('img-adversarial'), before, 'a larger eps gives another adversarial image');

    await page.click('#tab-draw');
    const box = (await page.locator('#pad').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.5, { steps: 8 });
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.8, { steps: 8 });
    await page.mouse.up();
    last = await nextRun(last);
    assert.match(await page.textContent('#cap-clean') ?? '', /from the classifier's clean prediction/);

    await page.click('#tab-upload');
    const square = new Uint8Array(64 * 64).fill(0);
    for (let r = 8; r < 30; r++) for (let c = 34; c < 58; c++) square[r * 64 + c] = 240;
    await page.setInputFiles('#file', { name: 'square.png', mimeType: 'image/png', buffer: Buffer.from(encodePng({ width: 64, height: 64, channels: 1, data: square })) });
    last = await nextRun(last);
    assert.match(await page.textContent('#status') ?? '', /^Done in/);

    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'playground.png'), fullPage: true });
    assert.deepEqual(problems, []);
  });

  it('opens a run report from the run list, offline-clean, and saves a screenshot of it', async () => {
    await page.goto(dashboard.url);
    await Promise.all([page.waitForURL(/\/report\/tiny$/), page.click('text=Tiny dashboard run')]);
    assert.match(await page.textContent('h1') ?? '', /Tiny dashboard run/);
    assert.ok(await page.isVisible('.banner'), 'the smoke banner');
    assert.ok(await page.locator('svg.chart').count() >= 4, 'accuracy and training charts');
    const images = page.locator('figure.tile img');
    assert.ok(await images.count() > 10);
    assert.ok(await images.first().evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth === 28), 'example images decode');
    const out = join(screenshots, 'report.png');
    await page.screenshot({ path: out, fullPage: true });
    assert.ok(statSync(out).size > 20_000);
    const origin = new URL(dashboard.url).origin;
    const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'));
    assert.deepEqual(foreign, [], 'the pages request nothing outside the dashboard');
    assert.deepEqual(problems, []);
  });
});
