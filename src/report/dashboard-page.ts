/**
 * The pages of the `bastion serve` dashboard as strings (so they ship inside dist/ and work from a
 * clean clone without copying assets): the run list, the interactive playground, its script and
 * the shared stylesheet. The script only talks to the dashboard's own JSON API (src/report/server.ts).
 */
import { escapeXml as esc } from './svg.js';
import type { ModelEntry, RunEntry } from './server.js';

/** The header the playground sends with its POSTs (a page on another site cannot send it without a CORS preflight). */
export const REQUEST_HEADER = 'X-Bastion-Request';

/** The dashboard's stylesheet (/assets/style.css). */
export const DASHBOARD_CSS = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5a5a5f; --line: #d9d9de; --ok: #11703a; --bad: #b3261e; --accent: #0b57a4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: #f4f5f7; }
header.top { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #14213d; color: #fff; }
header.top strong { font-size: 18px; letter-spacing: .5px; }
header.top nav a { color: #dfe7ff; margin-right: 16px; text-decoration: none; font-weight: 600; }
header.top nav a[aria-current=page] { color: #fff; border-bottom: 2px solid #ffb703; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 24px 60px; }
h1 { font-size: 24px; margin: 6px 0 12px; } h2 { font-size: 19px; margin: 28px 0 8px; }
a { color: var(--accent); }
table { border-collapse: collapse; background: #fff; font-size: 14px; width: 100%; }
th, td { border: 1px solid var(--line); padding: 5px 9px; text-align: left; vertical-align: top; }
thead th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; background: #eef0f3; padding: 1px 4px; border-radius: 3px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; font-weight: 700; }
.badge.smoke { background: #ffe0a3; color: #5c3700; } .badge.error { background: #ffd7d4; color: #7a1010; }
.muted { color: var(--muted); }
.play { display: grid; grid-template-columns: 340px 1fr; gap: 20px; align-items: start; }
@media (max-width: 900px) { .play { grid-template-columns: 1fr; } }
fieldset { border: 1px solid var(--line); border-radius: 8px; background: #fff; margin: 0 0 14px; padding: 10px 14px 14px; }
legend { font-weight: 700; padding: 0 4px; }
label { display: block; margin: 8px 0 2px; font-size: 13px; font-weight: 600; }
label.inline { display: inline-flex; align-items: center; gap: 6px; font-weight: 400; }
select, input[type=number], input[type=file] { width: 100%; font: inherit; padding: 4px 6px; }
input[type=range] { width: 100%; }
.row { display: flex; gap: 6px; align-items: center; } .row > * { flex: 1; }
button { font: inherit; padding: 4px 10px; border: 1px solid #9aa4b5; border-radius: 5px; background: #f3f5f9; cursor: pointer; }
button:hover { background: #e4e9f2; }
.tabs { display: flex; gap: 4px; margin-bottom: 8px; } .tabs button[aria-selected=true] { background: #14213d; color: #fff; border-color: #14213d; }
.source-panel[hidden] { display: none; }
#pad { width: 224px; height: 224px; border: 1px solid #555; touch-action: none; cursor: crosshair; background: #000; display: block; }
#sample-preview { width: 112px; height: 112px; image-rendering: pixelated; border: 1px solid #ccc; }
.status { min-height: 24px; margin: 0 0 10px; } .status.error { color: var(--bad); font-weight: 600; }
.panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 14px; }
figure.panel { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
figure.panel h3 { margin: 0 0 6px; font-size: 15px; }
figure.panel img { width: 196px; height: 196px; image-rendering: pixelated; display: block; border: 1px solid #ccc; background: #eee; }
figure.panel.off { opacity: .45; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; }
ol.top { list-style: none; margin: 8px 0 0; padding: 0; font-size: 13px; }
ol.top li { display: grid; grid-template-columns: 1fr 58px; gap: 4px; align-items: center; margin: 3px 0; }
ol.top .bar { grid-column: 1 / span 2; height: 5px; background: #e8eaee; border-radius: 3px; overflow: hidden; }
ol.top .bar span { display: block; height: 100%; background: #7d8aa3; }
ol.top li.correct .name { color: var(--ok); font-weight: 700; } ol.top li.correct .bar span { background: var(--ok); }
ol.top li.wrong .name { color: var(--bad); font-weight: 700; } ol.top li.wrong .bar span { background: var(--bad); }
ol.top .p { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-weight: 700; } .verdict.ok { color: var(--ok); } .verdict.bad { color: var(--bad); }
`;

function shell(title: string, current: 'runs' | 'play', body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} — Bastion</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<header class="top"><strong>Bastion</strong><nav aria-label="Dashboard"><a href="/"${current === 'runs' ? ' aria-current="page"' : ''}>Runs</a><a href="/play"${current === 'play' ? ' aria-current="page"' : ''}>Playground</a></nav></header>
<main>
${body}
</main>
</body>
</html>
`;
}

function wall(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number') return '—';
  return seconds < 120 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
}

/** The run list (/): every run folder with a link to its report, and the model checkpoints found. */
export function dashboardPage(runs: readonly RunEntry[], models: readonly ModelEntry[]): string {
  const runRows = runs.map((r) => `<tr><td><a href="${esc(r.report)}">${esc(r.title ?? r.id)}</a>${r.smoke ? ' <span class="badge smoke">SMOKE RUN</span>' : ''}` +
    `${r.error ? ` <span class="badge error">unreadable</span><br><span class="muted">${esc(r.error)}</span>` : ''}<br><code>${esc(r.id)}</code></td>` +
    `<td>${esc(r.kind ?? '—')}</td><td>${esc(r.createdAt ?? '—')}</td><td class="num">${wall(r.wallSeconds)}</td></tr>`).join('');
  const modelRows = models.map((m) => `<tr><td><code>${esc(m.id)}</code></td><td>${esc(m.kind)}</td><td>${esc(m.architecture)}</td><td>${esc(m.data ?? '—')}</td>` +
    `<td class="num">${m.testAccuracy === null ? '—' : `${(m.testAccuracy * 100).toFixed(2)}%`}</td></tr>`).join('');
  return shell('Runs', 'runs', `
<h1>Runs</h1>
${runs.length === 0
    ? '<p>No runs yet. Run <code>node bin/bastion.js demo --out runs/demo</code>, <code>bastion reproduce</code>, <code>bastion attack --out DIR</code> or <code>bastion eval --out DIR</code> with an output folder under the runs folder.</p>'
    : `<table id="runs"><caption class="muted">Reports are rendered from each folder's results when opened.</caption><thead><tr><th scope="col">run</th><th scope="col">kind</th><th scope="col">written</th><th scope="col">wall time</th></tr></thead><tbody>${runRows}</tbody></table>`}
<h2>Models</h2>
<p>Checkpoints found under the runs folder and the model cache; try them in the <a href="/play">playground</a>.</p>
${models.length === 0 ? '<p class="muted">No model checkpoints found.</p>'
    : `<table id="models"><thead><tr><th scope="col">model</th><th scope="col">kind</th><th scope="col">architecture</th><th scope="col">trained on</th><th scope="col">test accuracy</th></tr></thead><tbody>${modelRows}</tbody></table>`}
`);
}

/** The interactive playground (/play); its behaviour is {@link PLAYGROUND_SCRIPT}. */
export function playgroundPage(): string {
  const panel = (id: string, title: string, extra = ''): string =>
    `<figure class="panel" id="panel-${id}"><h3>${title}</h3><img id="img-${id}" alt="${title}: no image yet">${extra}<ol class="top" id="top-${id}" aria-label="${title}: top classes"></ol><figcaption id="cap-${id}"></figcaption></figure>`;
  return shell('Playground', 'play', `
<h1>Playground: attack a classifier live</h1>
<div class="play">
<form id="controls" aria-label="Settings">
<fieldset><legend>Image</legend>
  <div class="tabs" role="tablist">
    <button type="button" role="tab" id="tab-dataset" aria-selected="true" aria-controls="source-dataset">Test image</button>
    <button type="button" role="tab" id="tab-upload" aria-selected="false" aria-controls="source-upload">Upload</button>
    <button type="button" role="tab" id="tab-draw" aria-selected="false" aria-controls="source-draw">Draw</button>
  </div>
  <div class="source-panel" id="source-dataset" role="tabpanel">
    <label for="data">Data set (test split)</label><select id="data"></select>
    <label for="index">Image number</label>
    <div class="row"><input type="number" id="index" min="0" value="0"><button type="button" id="prev" aria-label="previous image">◀</button><button type="button" id="next" aria-label="next image">▶</button><button type="button" id="random">random</button></div>
    <div class="row"><img id="sample-preview" alt="the chosen test image"><span id="sample-info" class="muted"></span></div>
  </div>
  <div class="source-panel" id="source-upload" role="tabpanel" hidden>
    <label for="file">PNG or JPEG, at most 2 MB</label><input type="file" id="file" accept="image/png,image/jpeg">
    <p class="muted">It is converted to the classifier's channels and size (centre crop).</p>
  </div>
  <div class="source-panel" id="source-draw" role="tabpanel" hidden>
    <p class="muted">Draw a digit or a shape, white on black as in MNIST.</p>
    <canvas id="pad" width="280" height="280" aria-label="drawing pad"></canvas>
    <div class="row"><button type="button" id="clear">clear</button></div>
  </div>
  <label class="inline"><input type="checkbox" id="invert"> invert (for dark-on-light pictures)</label>
</fieldset>
<fieldset><legend>Model</legend>
  <label for="classifier">Classifier</label><select id="classifier"></select>
  <label for="purifier">Purifier (defense)</label><select id="purifier"><option value="">none</option></select>
</fieldset>
<fieldset><legend>Attack</legend>
  <label for="attack">Attack</label><select id="attack"></select>
  <label for="eps">ε (L∞): <output id="eps-value" for="eps">0.1</output></label><input type="range" id="eps" min="0" max="0.6" step="0.005" value="0.1">
  <label for="mode">Threat model (with a purifier)</label>
  <select id="mode"><option value="gray-box">gray-box: attack the classifier, then purify</option><option value="white-box">white-box: attack through the purifier</option><option value="bpda">BPDA: purifier as identity on the backward pass</option></select>
  <label for="steps">Iterations (blank: the attack's default)</label><input type="number" id="steps" min="1" max="1000" placeholder="default">
</fieldset>
</form>
<section aria-label="Results">
  <p id="status" class="status" role="status" aria-live="polite">Loading models…</p>
  <div class="panels">
    ${panel('clean', 'Input')}
    ${panel('adversarial', 'Adversarial')}
    ${panel('perturbation', 'Perturbation')}
    ${panel('purified', 'Purified adversarial')}
  </div>
  <h2>More views</h2>
  <div class="panels">
    ${panel('purified-clean', 'Purified input')}
    ${panel('cam-clean', 'Grad-CAM on the input')}
    ${panel('cam-adversarial', 'Grad-CAM on the adversarial')}
  </div>
</section>
</div>
<script src="/assets/play.js"></script>
`);
}

/** The playground's script (/assets/play.js): plain browser JavaScript, no dependencies. */
export const PLAYGROUND_SCRIPT = String.raw`'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { source: 'dataset', blob: null, count: 0, timer: null, busy: false, again: false, classifiers: [], purifiers: [] };
  const MAX_UPLOAD = 2 * 1024 * 1024;

  const setStatus = (text, isError) => {
    $('status').textContent = text;
    $('status').classList.toggle('error', Boolean(isError));
  };
  const getJson = async (url, init) => {
    const response = await fetch(url, init);
    let body;
    try { body = await response.json(); } catch { throw new Error(url + ': HTTP ' + response.status); }
    if (!response.ok) throw new Error(body.error + (body.hint ? ' (' + body.hint + ')' : ''));
    return body;
  };
  const option = (select, value, text, disabled) => {
    const o = document.createElement('option');
    o.value = value; o.textContent = text; o.disabled = Boolean(disabled);
    select.appendChild(o);
  };
  const pct = (p) => (p * 100).toFixed(1) + '%';
  const modelLabel = (m) => m.id + ' (' + m.architecture + (m.data ? ', ' + m.data.split('/').pop() : '') + (m.testAccuracy !== null ? ', ' + pct(m.testAccuracy) : '') + ')';
  const sameShape = (a, b) => Array.isArray(a) && Array.isArray(b) && a.join('x') === b.join('x');

  const schedule = () => {
    clearTimeout(state.timer);
    state.timer = setTimeout(run, 150);
  };

  const showTop = (id, top, label) => {
    const list = $('top-' + id);
    list.replaceChildren();
    (top || []).forEach((c, i) => {
      const li = document.createElement('li');
      if (i === 0) li.className = c.index === label ? 'correct' : 'wrong';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = (i === 0 ? (c.index === label ? '✓ ' : '✗ ') : '') + c.name;
      const p = document.createElement('span');
      p.className = 'p';
      p.textContent = pct(c.probability);
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = Math.max(0, Math.min(100, c.probability * 100)).toFixed(1) + '%';
      bar.appendChild(fill);
      li.append(name, p, bar);
      list.appendChild(li);
    });
  };
  const showPanel = (id, png, alt, top, label, caption) => {
    const panel = $('panel-' + id);
    panel.classList.toggle('off', !png);
    const img = $('img-' + id);
    if (png) { img.src = png; img.alt = alt; } else { img.removeAttribute('src'); img.alt = alt + ': not available'; }
    img.hidden = !png;
    showTop(id, png ? top : [], label);
    $('cap-' + id).textContent = caption || '';
  };

  const render = (r) => {
    const fooled = r.adversarial.top[0].index !== r.label;
    showPanel('clean', r.clean.png, 'input image, predicted ' + r.clean.top[0].name, r.clean.top, r.label, 'label: ' + r.labelName + ' (from ' + r.labelSource + ')');
    showPanel('adversarial', r.adversarial.png, 'adversarial image, predicted ' + r.adversarial.top[0].name, r.adversarial.top, r.label,
      r.attack + ' at ε ' + r.eps + (r.purifier ? ', ' + r.mode : '') + ': ' + (fooled ? 'the classifier is fooled' : 'the classifier holds') + ' (max change ' + r.adversarial.linf.toFixed(3) + ')');
    showPanel('perturbation', r.perturbation.png, 'perturbation amplified ' + r.perturbation.amplification.toFixed(1) + ' times', [], r.label,
      'amplified ×' + r.perturbation.amplification.toFixed(1) + '; mid-grey = no change');
    if (r.purified) {
      const held = r.purified.top[0].index === r.label;
      showPanel('purified', r.purified.png, 'purified adversarial image, predicted ' + r.purified.top[0].name, r.purified.top, r.label,
        r.purifier + (held ? ': the defense recovers the label' : ': the defense is fooled too'));
      showPanel('purified-clean', r.purifiedClean.png, 'purified input image', r.purifiedClean.top, r.label, 'the purifier on the unattacked input');
    } else {
      showPanel('purified', null, 'purified adversarial image', [], r.label, 'choose a purifier to see the defense');
      showPanel('purified-clean', null, 'purified input image', [], r.label, '');
    }
    showPanel('cam-clean', r.gradcam ? r.gradcam.clean : null, 'Grad-CAM of the classifier on the input', [], r.label, r.gradcam ? 'where the classifier looks' : 'this classifier has no Grad-CAM layer');
    showPanel('cam-adversarial', r.gradcam ? r.gradcam.adversarial : null, 'Grad-CAM of the classifier on the adversarial image', [], r.label, '');
  };

  async function run() {
    if (state.busy) { state.again = true; return; }
    const classifier = $('classifier').value;
    if (!classifier) return;
    const params = new URLSearchParams({ classifier: classifier, attack: $('attack').value, eps: $('eps').value, mode: $('mode').value });
    if ($('purifier').value) params.set('purifier', $('purifier').value);
    if ($('steps').value) params.set('steps', $('steps').value);
    if ($('invert').checked) params.set('invert', '1');
    let body = null;
    if (state.source === 'dataset') {
      if (!$('data').value) { setStatus('No data set was found on this machine: upload or draw an image.', true); return; }
      params.set('data', $('data').value);
      params.set('index', $('index').value || '0');
    } else {
      if (!state.blob) { setStatus(state.source === 'draw' ? 'Draw something on the pad.' : 'Choose an image file.'); return; }
      body = state.blob;
    }
    state.busy = true;
    setStatus('Running ' + $('attack').value + ' at ε = ' + $('eps').value + '…');
    try {
      // The custom header marks the request as the dashboard's own (the server refuses POSTs without it or an image type).
      const init = { method: 'POST', headers: { '${REQUEST_HEADER}': '1' } };
      if (body) { init.body = body; init.headers['Content-Type'] = body.type || 'application/octet-stream'; }
      const result = await getJson('/api/attack?' + params.toString(), init);
      render(result);
      document.body.dataset.lastRun = String(Date.now());
      setStatus('Done in ' + result.seconds.toFixed(2) + ' s.');
    } catch (error) {
      setStatus(error.message, true);
    } finally {
      state.busy = false;
      if (state.again) { state.again = false; run(); }
    }
  }

  async function loadSample() {
    const data = $('data').value;
    if (!data) return;
    const index = Math.max(0, Math.floor(Number($('index').value) || 0));
    try {
      const s = await getJson('/api/sample?' + new URLSearchParams({ data: data, index: String(index) }).toString());
      state.count = s.count;
      $('index').max = String(s.count - 1);
      $('sample-preview').src = s.png;
      $('sample-preview').alt = 'test image ' + s.index + ' of ' + data + ': ' + s.className;
      $('sample-info').textContent = '#' + s.index + ' of ' + s.count + ': ' + s.className;
      schedule();
    } catch (error) {
      setStatus(error.message, true);
    }
  }

  const selectSource = (source) => {
    state.source = source;
    for (const name of ['dataset', 'upload', 'draw']) {
      $('tab-' + name).setAttribute('aria-selected', String(name === source));
      $('source-' + name).hidden = name !== source;
    }
    if (source === 'dataset') loadSample(); else schedule();
  };

  const fitPurifiers = () => {
    const c = state.classifiers.find((m) => m.id === $('classifier').value);
    for (const o of $('purifier').options) {
      if (!o.value) continue;
      const p = state.purifiers.find((m) => m.id === o.value);
      o.disabled = Boolean(c && p && c.inputShape && p.inputShape && !sameShape(c.inputShape, p.inputShape));
    }
    if ($('purifier').selectedOptions[0] && $('purifier').selectedOptions[0].disabled) $('purifier').value = '';
    $('mode').disabled = !$('purifier').value;
  };

  const setupPad = () => {
    const pad = $('pad');
    const ctx = pad.getContext('2d');
    const clear = () => { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, pad.width, pad.height); state.blob = null; };
    clear();
    let drawing = false;
    const at = (e) => { const r = pad.getBoundingClientRect(); return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height]; };
    pad.addEventListener('pointerdown', (e) => { drawing = true; pad.setPointerCapture(e.pointerId); const [x, y] = at(e); ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 0.1, y); ctx.strokeStyle = '#fff'; ctx.lineWidth = 22; ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.stroke(); });
    pad.addEventListener('pointermove', (e) => { if (!drawing) return; const [x, y] = at(e); ctx.lineTo(x, y); ctx.stroke(); });
    const finish = () => { if (!drawing) return; drawing = false; pad.toBlob((blob) => { state.blob = blob; schedule(); }, 'image/png'); };
    pad.addEventListener('pointerup', finish);
    pad.addEventListener('pointercancel', finish);
    $('clear').addEventListener('click', () => { clear(); setStatus('Draw something on the pad.'); });
  };

  async function init() {
    setupPad();
    let models, datasets, attacks;
    try {
      [models, datasets, attacks] = await Promise.all([getJson('/api/models'), getJson('/api/datasets'), getJson('/api/attacks')]);
    } catch (error) {
      setStatus(error.message, true);
      return;
    }
    state.classifiers = models.models.filter((m) => m.kind === 'classifier');
    state.purifiers = models.models.filter((m) => m.kind === 'purifier');
    for (const m of state.classifiers) option($('classifier'), m.id, modelLabel(m));
    for (const m of state.purifiers) option($('purifier'), m.id, modelLabel(m));
    for (const a of attacks.attacks) option($('attack'), a.name, a.name + ' — ' + a.summary);
    $('attack').value = attacks.attacks.some((a) => a.name === 'fgsm') ? 'fgsm' : attacks.attacks[0].name;
    for (const d of datasets.datasets) option($('data'), d.name, d.title);
    if (state.classifiers.length === 0) {
      setStatus('No classifier checkpoints under the runs folder: run "node bin/bastion.js demo" or "bastion train --out runs/models/NAME" first.', true);
      return;
    }
    const pickData = () => {
      const c = state.classifiers.find((m) => m.id === $('classifier').value);
      const trained = c && c.data ? c.data.split('/').pop() : '';
      const match = datasets.datasets.find((d) => d.name === trained);
      if (match && $('data').value !== match.name) { $('data').value = match.name; return true; }
      return false;
    };
    pickData();
    fitPurifiers();
    $('classifier').addEventListener('change', () => { fitPurifiers(); if (pickData() && state.source === 'dataset') loadSample(); else schedule(); });
    $('purifier').addEventListener('change', () => { fitPurifiers(); schedule(); });
    for (const id of ['attack', 'mode', 'steps', 'invert']) $(id).addEventListener('change', schedule);
    $('eps').addEventListener('input', () => { $('eps-value').textContent = $('eps').value; schedule(); });
    $('data').addEventListener('change', () => { $('index').value = '0'; loadSample(); });
    $('index').addEventListener('change', loadSample);
    const step = (d) => { const n = Math.max(1, state.count); $('index').value = String(((Number($('index').value) || 0) + d + n) % n); loadSample(); };
    $('prev').addEventListener('click', () => step(-1));
    $('next').addEventListener('click', () => step(1));
    $('random').addEventListener('click', () => { $('index').value = String(Math.floor(Math.random() * Math.max(1, state.count))); loadSample(); });
    $('file').addEventListener('change', () => {
      const file = $('file').files[0];
      if (!file) return;
      if (file.size > MAX_UPLOAD) { state.blob = null; setStatus(file.name + ' is ' + (file.size / 1048576).toFixed(1) + ' MB; the limit is 2 MB.', true); return; }
      state.blob = file;
      schedule();
    });
    for (const name of ['dataset', 'upload', 'draw']) $('tab-' + name).addEventListener('click', () => selectSource(name));
    $('controls').addEventListener('submit', (e) => e.preventDefault());
    if (datasets.datasets.length > 0) await loadSample(); else selectSource('draw');
  }

  init();
})();
`;
