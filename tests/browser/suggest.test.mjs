// Browser test of "Suggest N to label" (docs/labeling.md), against the real `sextant serve`:
//
//   node tests/browser/suggest.test.mjs      (tests/browser/run.sh builds web/dist first)
//
// Makes the demo-like run (tests/browser/make_run.py), opens its production set, asks for
// 12 suggestions with the default strategy and then 8 with uncertainty into a selection;
// checks that the list shows each suggestion with its reasons in the API's order, that the
// selection tray holds them (and the API's selection has them), that clicking a suggestion
// opens that sample, and that "Show them in the table" filters the table to them.
// Environment as console.test.mjs (SEXTANT_BIN, CHROMIUM, SCREENSHOTS, KEEP).
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
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-suggest-'));
const ROOT = path.join(TMP, 'store');
const PROD = 'inference:prod_1';
const RUN_API = '/api/runs/demo/sentiment';

const children = [];
let context = null;

function log(...a) { console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a); }
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }

async function cleanup() {
  if (context) await context.close().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  if (process.env.KEEP !== '1') fs.rmSync(TMP, { recursive: true, force: true });
}

function serve() {
  const proc = spawn(BIN, ['serve', '--root', ROOT, '--port', '0', '--static', DIST],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SEXTANT_HOME: ROOT } });
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

async function main() {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('web/dist is not built (run tests/browser/run.sh)');
  fs.mkdirSync(SHOTS, { recursive: true });
  log('making the run with', BIN);
  const made = spawnSync(PYTHON, [path.join(REPO, 'tests/browser/make_run.py'), BIN, ROOT, path.join(TMP, 'data')], { stdio: 'inherit' });
  if (made.status !== 0) throw new Error(`make_run.py exited with ${made.status}`);
  const base = await serve();
  const apiGet = async (p) => { const r = await fetch(base + p); const t = await r.text(); assert(r.ok, `GET ${p}: ${r.status} ${t}`); return JSON.parse(t); };

  context = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
    viewport: { width: 1600, height: 1100 },
  });
  const page = context.pages()[0] ?? await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  const step = async (name, fn) => {
    log(`step: ${name}`);
    try { await fn(); } catch (e) {
      await page.screenshot({ path: path.join(SHOTS, 'suggest-failure.png') }).catch(() => {});
      throw new Error(`step "${name}" failed: ${e.message}\n${errors.join('\n')}`);
    }
  };

  await step('the suggest card on the production set', async () => {
    await page.goto(`${base}/runs/demo/sentiment?split=${encodeURIComponent(PROD)}`);
    await page.getByTestId('suggest-card').waitFor();
    assert(await page.getByTestId('suggest-card').isVisible(), 'the card is shown for an inference set');
    await page.getByTestId('suggest-budget').fill('12');
    assert((await page.getByTestId('suggest-run').textContent()) === 'Suggest 12 to label', 'the button says how many');
  });

  await step('suggest 12 (default) into a new selection, with reasons', async () => {
    await page.getByTestId('suggest-selection').fill('to-label');
    await page.getByTestId('suggest-run').click();
    await page.locator('[data-testid=suggest-item]').nth(11).waitFor();
    const want = await apiGet(`${RUN_API}/suggest?split=${encodeURIComponent(PROD)}&budget=12&strategy=default`);
    const shown = await page.$$eval('[data-testid=suggest-item]', (els) => els.map((e) => ({
      id: e.dataset.id, reasons: [...e.querySelectorAll('[data-testid=suggest-reason]')].map((r) => r.textContent) })));
    assert(shown.length === 12, `${shown.length} suggestions shown`);
    assert(JSON.stringify(shown.map((s) => s.id)) === JSON.stringify(want.suggestions.map((s) => s.id)), 'the API\'s picks, in rank order');
    assert(JSON.stringify(shown.map((s) => s.reasons)) === JSON.stringify(want.suggestions.map((s) => s.reasons)), 'their reasons');
    assert(shown.every((s) => s.reasons.length > 0), 'every suggestion has a reason');
    const msg = await page.getByTestId('suggest-msg').textContent();
    assert(/12 of [\d,]+ samples suggested/.test(msg) && msg.includes('“to-label” now holds 12'), `message "${msg}"`);
    const tray = page.locator('[data-testid=selection-item][data-name="to-label"] [data-testid=selection-count]');
    await tray.waitFor();
    assert((await tray.textContent()) === '12', 'the tray shows the selection with 12');
    const sel = await apiGet(`${RUN_API}/selections/to-label`);
    assert(JSON.stringify(sel.items.map((i) => i.id)) === JSON.stringify(want.suggestions.map((s) => s.id)), 'the selection holds them');
    assert(sel.items.every((i) => i.split === PROD), 'as items of the production set');
    await page.screenshot({ path: path.join(SHOTS, 'suggest.png') });
  });

  await step('8 more by uncertainty into the same selection', async () => {
    await page.getByTestId('suggest-budget').fill('8');
    await page.getByTestId('suggest-strategy').selectOption('uncertainty');
    await page.getByTestId('suggest-run').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=suggest-item]').length === 8);
    const first = await page.locator('[data-testid=suggest-item]').first().locator('[data-testid=suggest-reason]').first().textContent();
    assert(first.startsWith('uncertain: margin '), `first reason "${first}"`);
    const want = await apiGet(`${RUN_API}/suggest?split=${encodeURIComponent(PROD)}&budget=8&strategy=uncertainty`);
    const union = new Set([...(await apiGet(`${RUN_API}/suggest?split=${encodeURIComponent(PROD)}&budget=12`)).suggestions.map((s) => s.id),
      ...want.suggestions.map((s) => s.id)]);
    const sel = await apiGet(`${RUN_API}/selections/to-label`);
    assert(sel.items.length === union.size, `the selection holds ${sel.items.length}, expected ${union.size}`);
  });

  await step('clicking a suggestion opens the sample', async () => {
    const item = page.locator('[data-testid=suggest-item]').nth(2);
    const id = await item.getAttribute('data-id');
    await item.click();
    await page.getByTestId('sample-panel').waitFor({ state: 'visible' });
    await page.waitForFunction((want) => document.querySelector('[data-testid=sample-id]')?.textContent?.endsWith(want), id);
  });

  await step('"Show them in the table" filters the table to the suggestions', async () => {
    await page.getByTestId('sample-close').click();
    await page.getByTestId('suggest-show').click();
    await page.waitForFunction(() => /^8 sample/.test(document.querySelector('[data-testid=table-status]')?.textContent ?? ''));
  });

  await step('the card is hidden on training', async () => {
    await page.locator('[data-testid=split-option][data-split="training"]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=suggest-card]')?.hidden === true);
  });
  assert(errors.length === 0, errors.join('\n'));
  log('suggest browser test passed');
}

main().then(cleanup, async (e) => {
  console.error(e.stack || e.message);
  await cleanup();
  process.exit(1);
});
