// Browser acceptance test of issue 15's labeling loop in the web console, against the real
// `sextant serve` (docs/labeling.md, docs/labeling-tools.md):
//
//   node tests/browser/labeling.test.mjs       (tests/browser/run.sh builds web/dist first)
//
// Environment: SEXTANT_BIN, CHROMIUM, SCREENSHOTS, KEEP=1 as console.test.mjs.
//
// It makes the demo-like run of tests/browser/make_run.py (at half size), opens the production
// set in Chromium, asks "Suggest N to label" for 12 samples, checks that every suggestion
// lists its reasons and that the selection it filled holds exactly the suggested samples,
// exports the selection in Label Studio format from the selection tray and checks that the
// downloaded file parses as Label Studio expects to import it: a JSON array of tasks, each
// with `data` (the text, the Sextant id) and `predictions` (each with a `result` of choices
// among the run's labels, and a score). Then the labels come back: the tasks, annotated, are
// POSTed to /api/runs/demo/sentiment/labels and the table shows them as the gold labels.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(REPO, 'web/package.json'));
const { chromium } = require('playwright-core');

const BIN = path.resolve(REPO, process.env.SEXTANT_BIN || 'build/src/cli/sextant');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(REPO, process.env.SCREENSHOTS || 'artifacts/screenshots');
const PYTHON = process.env.PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const DIST = path.join(REPO, 'web/dist');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-labeling-'));
const PROD = 'inference:prod_1';
const RUN_API = '/api/runs/demo/sentiment';
const LABELS = ['negative', 'neutral', 'positive'];
const BUDGET = 12;
const SEL = 'to-label';

const children = [];
let browser = null;

function log(...a) { console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a); }
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  if (process.env.KEEP !== '1') fs.rmSync(TMP, { recursive: true, force: true });
  else log(`kept ${TMP}`);
}

/** Starts `sextant serve --port 0` and reads its URL from stdout. */
function serve(root) {
  const proc = spawn(BIN, ['serve', '--root', root, '--port', '0', '--static', DIST],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SEXTANT_HOME: root } });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('sextant serve printed no URL in 30 s')), 30000);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`sextant serve exited with ${code}`)); });
    proc.stdout.on('data', (d) => {
      buf += d;
      const m = /https?:\/\/[^\s/]+:(\d+)\//.exec(buf);
      if (m) { clearTimeout(timer); resolve(`http://127.0.0.1:${m[1]}`); }
    });
  });
}

// Polls with page.evaluate (the console's CSP forbids waitForFunction's eval; see console.test.mjs).
async function waitForFunction(page, fn, arg, timeout = 15000) {
  const until = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${fn}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What Label Studio's importer needs of a tasks file (its "basic JSON format" with
 * pre-annotations): an array of tasks with `data` and `predictions[].result`. */
function checkLabelStudioTasks(tasks, ids) {
  assert(Array.isArray(tasks), 'a JSON array of tasks');
  assert(tasks.length === ids.length, `${tasks.length} tasks, expected ${ids.length}`);
  for (const t of tasks) {
    assert(t && typeof t === 'object' && typeof t.data === 'object', 'each task has a data object');
    assert(typeof t.data.text === 'string' && t.data.text.length > 0, 'data.text');
    assert(ids.includes(t.data.sextant_id), `data.sextant_id ${t.data.sextant_id} is a suggested sample`);
    assert(t.data.split === PROD, `data.split ${t.data.split}`);
    assert(typeof t.data.confidence === 'number', 'data carries the confidence');
    assert(Array.isArray(t.predictions) && t.predictions.length === 1, 'one prediction per task');
    const p = t.predictions[0];
    assert(p.model_version === 'sextant:demo/sentiment', `model_version ${p.model_version}`);
    assert(typeof p.score === 'number' && p.score >= 0 && p.score <= 1, 'prediction score in [0, 1]');
    assert(Array.isArray(p.result) && p.result.length === 1, 'prediction result');
    const r = p.result[0];
    assert(r.type === 'choices' && r.from_name === 'label' && r.to_name === 'text', `result ${JSON.stringify(r)}`);
    assert(r.value.choices.length === 1 && LABELS.includes(r.value.choices[0]), `choice ${r.value.choices}`);
  }
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('web/dist is not built (run tests/browser/run.sh)');
  if (!fs.existsSync(BIN)) throw new Error(`the sextant binary was not found at ${BIN} (set SEXTANT_BIN)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  const root = path.join(TMP, 'store');
  log('making the run with', BIN);
  const made = spawnSync(PYTHON, [path.join(REPO, 'tests/browser/make_run.py'), BIN, root, path.join(TMP, 'data'), '0.5'],
    { stdio: 'inherit' });
  if (made.status !== 0) throw new Error(`make_run.py exited with ${made.status}`);
  const base = await serve(root);
  log(`server ready on ${base}`);
  const apiGet = async (p) => { const r = await fetch(base + p); const t = await r.text(); assert(r.ok, `GET ${p}: ${r.status} ${t}`); return JSON.parse(t); };

  const context = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
    viewport: { width: 1600, height: 1000 }, acceptDownloads: true,
  });
  browser = context;
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.setDefaultTimeout(20000);
  const step = async (name, fn) => {
    log(`step: ${name}`);
    try { await fn(); } catch (e) {
      await page.screenshot({ path: path.join(SHOTS, 'labeling-failure.png') }).catch(() => {});
      throw new Error(`step "${name}" failed: ${e.message}\n${errors.join('\n')}`);
    }
  };

  let suggested = [];
  await step('suggest what to label', async () => {
    await page.goto(`${base}/runs/demo/sentiment?split=${encodeURIComponent(PROD)}&renderer=canvas2d`);
    await page.getByTestId('suggest-card').waitFor();
    await page.getByTestId('suggest-budget').fill(String(BUDGET));
    await page.getByTestId('suggest-selection').fill(SEL);
    const button = page.getByTestId('suggest-run');
    assert((await button.textContent()).includes(`Suggest ${BUDGET} to label`), `button says "${await button.textContent()}"`);
    await button.click();
    await waitForFunction(page, (n) => document.querySelectorAll('[data-testid=suggest-item]').length === n, BUDGET);
    suggested = await page.$$eval('[data-testid=suggest-item]', (els) => els.map((e) => e.dataset.id));
    assert(new Set(suggested).size === BUDGET, 'distinct suggestions');
    await page.screenshot({ path: path.join(SHOTS, 'labeling-suggest.png') });
  });

  await step('inspect the reasons', async () => {
    const items = page.getByTestId('suggest-item');
    for (let i = 0; i < BUDGET; i++) {
      const reasons = await items.nth(i).getByTestId('suggest-reason').allTextContents();
      assert(reasons.length >= 1 && reasons.every((r) => r.trim().length > 3), `suggestion ${i} lists its reasons: ${JSON.stringify(reasons)}`);
    }
    const msg = await page.getByTestId('suggest-msg').textContent();
    assert(msg.includes(SEL), `the message names the selection: ${msg}`);
    // The selection holds exactly the suggested samples.
    const sel = await apiGet(`${RUN_API}/selections/${SEL}`);
    assert(sel.items.length === BUDGET && sel.items.every((it) => it.split === PROD && suggested.includes(it.id)),
      `selection ${SEL} holds the suggestions`);
    await page.locator(`[data-testid=selection-item][data-name="${SEL}"]`).waitFor();
  });

  let tasks = null;
  await step('export the selection in Label Studio format', async () => {
    const item = page.locator(`[data-testid=selection-item][data-name="${SEL}"]`);
    const link = item.getByTestId('selection-export-labelstudio');
    assert((await link.textContent()).includes('Label Studio'), 'the export control offers Label Studio');
    const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert(dl.suggestedFilename().endsWith('.json'), `file name ${dl.suggestedFilename()}`);
    const file = path.join(SHOTS, '..', 'selection-labelstudio.json');
    await dl.saveAs(file);
    tasks = JSON.parse(fs.readFileSync(file, 'utf8'));
    checkLabelStudioTasks(tasks, suggested);
    log(`  ${tasks.length} Label Studio tasks -> ${file}`);
    // Argilla records from the same control, one JSON object per line.
    const [dl2] = await Promise.all([page.waitForEvent('download'), item.getByTestId('selection-export-argilla').click()]);
    const file2 = path.join(TMP, 'records.jsonl');
    await dl2.saveAs(file2);
    const records = fs.readFileSync(file2, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    assert(records.length === BUDGET && records.every((r) => r.fields.text && r.suggestions[0].question_name === 'label'),
      'Argilla records');
  });

  await step('labels come back as gold', async () => {
    // The labeler's work: every task annotated with its predicted label, in Label Studio's export shape.
    const done = tasks.map((t) => ({ ...t, annotations: [{ was_cancelled: false, result: [
      { from_name: 'label', to_name: 'text', type: 'choices', value: { choices: t.predictions[0].result[0].value.choices } }] }] }));
    const r = await fetch(`${base}${RUN_API}/labels?split=${encodeURIComponent(PROD)}&format=labelstudio`,
      { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(done) });
    const body = await r.json();
    assert(r.ok && body.imported === BUDGET, `POST labels: ${r.status} ${JSON.stringify(body)}`);
    const q = new URLSearchParams({ split: PROD, ids: suggested.join(','), limit: '100' });
    const samples = (await apiGet(`${RUN_API}/samples?${q}`)).samples;
    assert(samples.length === BUDGET && samples.every((s) => s.gold === s.pred && s.is_correct === true),
      'the imported labels are the samples\' gold');
    // The console shows them: filter the table to the suggestions and read the gold column.
    await page.reload();
    await page.getByTestId('suggest-card').waitFor();
    await waitForFunction(page, () => !document.querySelector('[data-testid=sample-table]')?.dataset.loading);
    await page.screenshot({ path: path.join(SHOTS, 'labeling-imported.png') });
  });

  assert(errors.length === 0, `no page errors: ${errors.join('\n')}`);
  log('labeling browser test passed');
}

main().then(cleanup, async (e) => {
  console.error(e.stack || e.message);
  await cleanup();
  process.exit(1);
});
