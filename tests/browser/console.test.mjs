// Browser acceptance test of the web console, against the real `sextant serve`.
//
//   node tests/browser/console.test.mjs            (tests/browser/run.sh builds web/dist first)
//
// Environment:
//   SEXTANT_BIN   the sextant binary (default build/src/cli/sextant)
//   CHROMIUM      the browser (default /usr/bin/chromium; never downloaded)
//   SCREENSHOTS   where screenshots go (default artifacts/screenshots)
//   MOCK=1        run against tests/browser/mock_server.mjs instead (development only)
//   KEEP=1        keep the temporary store
//
// It makes a demo-like run with the CLI (tests/browser/make_run.py: training, validation, a
// drifted production set), starts `sextant serve --root ROOT --port 0 --static web/dist`,
// and in Chromium (headless, fresh profile): the runs page; the run page and its split
// picker; the virtualised table; the map drawn (WebGL2, and the canvas 2D fallback); every
// filter checked against the API's totals; drifted production samples (text search with
// highlights, export filtered, the filter kept in the URL); sort and open a sample (its
// probabilities and neighbours in training and production, arrow keys); find similar; a
// lasso around the drifted sample's cluster (every row inside the polygon); a new selection
// (add filtered, remove/add checked rows, show, delete another); its CSV and JSONL exports
// checked row by row; the insights panel; a server with --token (a ?token= link, and the
// key prompt); the NLI pair view (both
// fields, premise/hypothesis regex filters) and the NER span view (gold and predicted span
// marks, the span table and its filters, similar spans, the span-level map, span F1), on
// the runs of those task types (demo/nli, demo/ner); the comparison of training with the
// production set (split picker's "compare with…", every change and test as the API's). Find similar
// adds the neighbours to the current filters (issue 16; console_links.test.mjs tests the rest of
// the view state in the URL, the insight links and the map following the table). Screenshots of each
// view go to SCREENSHOTS. Any failed step exits non-zero (a failure.png is left too).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(REPO, 'web/package.json'));
const { chromium } = require('playwright-core');

const MOCK = process.env.MOCK === '1';
const BIN = path.resolve(REPO, process.env.SEXTANT_BIN || 'build/src/cli/sextant');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(REPO, process.env.SCREENSHOTS || 'artifacts/screenshots');
const PYTHON = process.env.PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const DIST = path.join(REPO, 'web/dist');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-browser-'));
const PROD = 'inference:prod_1';
const RUN_API = '/api/runs/demo/sentiment';

const children = [];
let browser = null;
let ROOT = '';
let failed = false;

function log(...a) { console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a); }
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  if (process.env.KEEP !== '1') fs.rmSync(TMP, { recursive: true, force: true });
  else log(`kept ${TMP}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

async function waitHealthy(base, proc, ms = 30000, okStatus = [200]) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (proc.exitCode !== null) throw new Error(`the server exited with ${proc.exitCode}`);
    try { const r = await fetch(`${base}/api/health`); if (okStatus.includes(r.status)) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the server did not answer /api/health');
}

function parseCsv(text) {
  const rows = []; let row = []; let cell = ''; let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') q = false; else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell); rows.push(row); row = []; cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  const [head, ...body] = rows.filter((r) => r.length > 1 || r[0] !== '');
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

function pointInPolygon(poly, x, y) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]; const [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Non-transparent pixels on the map's canvas (WebGL or 2D). */
function litPixels(page) {
  return page.evaluate(() => {
    const c = document.querySelector('[data-testid=map-canvas]');
    const probe = document.createElement('canvas'); probe.width = c.width; probe.height = c.height;
    const g = probe.getContext('2d'); g.drawImage(c, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
}

/** Starts `sextant serve --port 0 ...` and reads its URL from the first line on stdout. */
function serve(extra) {
  const proc = spawn(BIN, ['serve', '--root', ROOT, '--port', '0', '--static', DIST, ...extra],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SEXTANT_HOME: ROOT } });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('sextant serve printed no URL in 30 s')), 30000);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`sextant serve exited with ${code}`)); });
    proc.stdout.on('data', (d) => {
      process.stdout.write(d);
      buf += d;
      const m = /https?:\/\/[^\s/]+:(\d+)\//.exec(buf);
      if (m) { clearTimeout(timer); resolve({ proc, base: `http://127.0.0.1:${m[1]}` }); }
    });
  });
}

async function startServer() {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('web/dist is not built (run tests/browser/run.sh or `npm run build` in web/)');
  let proc;
  let base;
  ROOT = path.join(TMP, 'store');
  if (MOCK) {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    proc = spawn(process.execPath, [path.join(REPO, 'tests/browser/mock_server.mjs'), '--port', String(port), '--static', DIST], { stdio: ['ignore', 'inherit', 'inherit'] });
  } else {
    if (!fs.existsSync(BIN)) throw new Error(`the sextant binary was not found at ${BIN} (set SEXTANT_BIN)`);
    const root = ROOT;
    log('making the run with', BIN);
    const r = spawnSync(PYTHON, [path.join(REPO, 'tests/browser/make_run.py'), BIN, root, path.join(TMP, 'data')], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`make_run.py exited with ${r.status} (signal ${r.signal})`);
    ({ proc, base } = await serve([]));
  }
  children.push(proc);
  await waitHealthy(base, proc);
  log(`server ready on ${base}${MOCK ? ' (MOCK)' : ''}`);
  return base;
}

// page.waitForFunction evaluates its predicate with `new Function` inside the page, which
// the server's Content-Security-Policy (no 'unsafe-eval') forbids, as it should; this polls
// with page.evaluate instead (the DevTools protocol, not subject to the page's CSP), so the
// whole test runs the console under the policy it is served with.
async function waitForFunction(page, fn, arg, timeout = 15000) {
  const until = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${fn}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  fs.rmSync(path.join(SHOTS, 'failure.png'), { force: true });  // left only by a failed run
  const base = await startServer();
  const apiGet = async (p) => { const r = await fetch(base + p); const t = await r.text(); assert(r.ok, `GET ${p}: ${r.status} ${t}`); return JSON.parse(t); };
  const apiPost = async (p, body) => {
    const r = await fetch(base + p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const t = await r.text(); assert(r.ok, `POST ${p}: ${r.status} ${t}`); return JSON.parse(t);
  };

  // A fresh profile per run (launchPersistentContext owns the --user-data-dir).
  const context = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
    viewport: { width: 1600, height: 1000 }, acceptDownloads: true,
    // The console follows the system's colour scheme (issue 16): these screenshots stay dark.
    colorScheme: 'dark',
  });
  browser = context;
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.setDefaultTimeout(15000);

  const step = async (name, fn) => {
    log(`step: ${name}`);
    try { await fn(); } catch (e) {
      await page.screenshot({ path: path.join(SHOTS, 'failure.png') }).catch(() => {});
      throw new Error(`step "${name}" failed: ${e.message}\n${errors.join('\n')}`);
    }
  };
  const tableTotal = async () => {
    await waitForFunction(page, () => !document.querySelector('[data-testid=sample-table]')?.dataset.loading);
    const t = await page.getByTestId('table-status').textContent();
    const m = /^([\d,]+) sample/.exec(t ?? '');
    assert(m, `table status "${t}"`);
    return Number(m[1].replace(/,/g, ''));
  };
  const rowIds = () => page.$$eval('[data-testid=sample-row]', (rs) => rs.map((r) => r.dataset.id));

  // 1. The runs page lists the run, finished, with its splits.
  await step('runs page', async () => {
    await page.goto(base + '/');
    const row = page.locator('[data-testid=project][data-project=demo] [data-testid=run-row][data-run=sentiment]');
    await row.waitFor();
    assert((await row.getByTestId('run-state').textContent()) === 'finished', 'run is finished');
    const chips = await row.getByTestId('split-chip').evaluateAll((cs) => cs.map((c) => c.dataset.split));
    for (const s of ['training', 'validation', PROD]) assert(chips.includes(s), `split chip ${s} in ${chips}`);
    await page.screenshot({ path: path.join(SHOTS, 'runs.png') });
  });

  // 2. The run page, on the production set.
  const prodTotal = (await apiGet(`${RUN_API}/samples?split=${encodeURIComponent(PROD)}&limit=1`)).total;
  await step('run page and split picker', async () => {
    await page.locator('[data-testid=run-row][data-run=sentiment] [data-testid=run-link]').click();
    await page.getByTestId('run-page').waitFor();
    await page.locator(`[data-testid=split-option][data-split="training"]`).click();
    assert(await tableTotal() === (await apiGet(`${RUN_API}/samples?split=training&limit=1`)).total, 'training total');
    // Virtualised: a few dozen rows in the DOM; scrolling to the end pages in the last rows.
    const trainTotal = await tableTotal();
    const inDom = await page.getByTestId('sample-row').count();
    assert(inDom > 5 && inDom < 80, `${inDom} rows in the DOM of ${trainTotal}`);
    const last = (await apiGet(`${RUN_API}/samples?split=training&offset=${trainTotal - 1}&limit=1`)).samples[0].id;
    await page.getByTestId('table-body').evaluate((b) => { b.scrollTop = b.scrollHeight; });
    await page.locator(`[data-testid=sample-row][data-id="${last}"]`).waitFor();
    await page.locator(`[data-testid=inference-picker] [data-split="${PROD}"]`).click();
    await waitForFunction(page, (s) => new URL(location.href).searchParams.get('split') === s, PROD);
    assert(await tableTotal() === prodTotal, `production total ${prodTotal}`);
    await page.locator('[data-testid=map][data-ready="1"]').waitFor();
    await page.locator('[data-testid=insights][data-ready="1"]').waitFor();
    const renderer = await page.getByTestId('map').getAttribute('data-renderer');
    assert(renderer === 'webgl2' || renderer === 'canvas2d', `map renderer ${renderer}`);
    // The scatter drew something: non-background pixels on the map canvas.
    const lit = await litPixels(page);
    assert(lit > 500, `the map drew ${lit} pixels`);
    log(`  map renderer ${renderer}, ${lit} lit pixels`);
    await page.screenshot({ path: path.join(SHOTS, 'run-page.png') });
  });

  // 2a. Without WebGL the map falls back to canvas 2D (forced here with ?renderer=canvas2d).
  await step('canvas 2D fallback of the map', async () => {
    const p2 = await context.newPage();
    await p2.goto(`${base}/runs/demo/sentiment?split=${encodeURIComponent(PROD)}&renderer=canvas2d`);
    await p2.locator('[data-testid=map][data-ready="1"]').waitFor();
    assert(await p2.getByTestId('map').getAttribute('data-renderer') === 'canvas2d', 'canvas2d renderer');
    const lit = await litPixels(p2);
    assert(lit > 500, `the 2D map drew ${lit} pixels`);
    await p2.close();
  });

  // 2b. Every other filter, on training, against the API's answer for the same parameters.
  await step('filters on training', async () => {
    await page.locator('[data-testid=split-option][data-split="training"]').click();
    await waitForFunction(page, () => new URL(location.href).searchParams.get('split') === 'training');
    const check = async (params, what) => {
      const total = await tableTotal();
      const expect = (await apiGet(`${RUN_API}/samples?split=training&limit=1&${params}`)).total;
      assert(total === expect, `${what}: table ${total}, API ${expect}`);
      return total;
    };
    await page.locator('[data-testid=filter-gold] [data-value=negative]').click();
    await page.getByTestId('chip-gold').waitFor();
    await check('gold=negative', 'gold');
    await page.locator('[data-testid=filter-pred] [data-value=positive]').click();
    await page.locator('[data-testid=filter-pred] [data-value=neutral]').click();
    await page.getByTestId('chip-pred').waitFor();
    await check('gold=negative&pred=positive,neutral', 'gold + pred');
    await page.getByTestId('filter-misclassified').selectOption('true');
    await page.getByTestId('chip-misclassified').waitFor();
    const mis = await check('gold=negative&pred=positive,neutral&misclassified=true', 'misclassified');
    assert(mis > 0, 'some misclassified negatives');
    await page.getByTestId('filter-reset').click();
    await page.getByTestId('filter-confidence-min').fill('0.5');
    await page.getByTestId('filter-confidence-max').fill('0.9');
    await page.getByTestId('chip-confidence').waitFor();
    await check('min_confidence=0.5&max_confidence=0.9', 'confidence range');
    await page.getByTestId('filter-dep-min').fill('0.2');
    await page.getByTestId('chip-dep').waitFor();
    await check('min_confidence=0.5&max_confidence=0.9&min_dep=0.2', 'DEP range');
    await page.getByTestId('filter-boundary').selectOption('false');
    await page.getByTestId('chip-boundary').waitFor();
    await check('min_confidence=0.5&max_confidence=0.9&min_dep=0.2&on_boundary=false', 'on the boundary');
    await page.getByTestId('filter-reset').click();
    await page.getByTestId('filter-meta-key').fill('source');
    await page.getByTestId('filter-meta-value').fill('web');
    await page.getByTestId('filter-meta-add').click();
    await page.getByTestId('chip-meta-source').waitFor();
    const web = await check('meta.source=web', 'metadata');
    assert(web > 0, 'some samples from the web');
    // A bad regex: the server's 400 message shows in the table's status.
    const nErrors = errors.length;
    await page.getByTestId('filter-text').fill('(unclosed');
    await waitForFunction(page, () => document.querySelector('[data-testid=table-status]')?.classList.contains('error'));
    log(`  bad regex: ${await page.getByTestId('table-status').textContent()}`);
    await page.getByTestId('filter-text').fill('');
    await waitForFunction(page, () => !document.querySelector('[data-testid=table-status]')?.classList.contains('error'));
    // The browser logs the expected 400s; nothing else may have been logged meanwhile.
    const logged = errors.splice(nErrors);
    assert(logged.every((e) => /status of 400/.test(e)), `only the expected 400s: ${logged}`);
    await page.getByTestId('filter-ids').fill('train-1, train-2 train-3');
    await page.getByTestId('chip-ids').waitFor();
    assert(await check('meta.source=web&ids=train-1,train-2,train-3', 'ids') === 1, 'one of the three ids is from the web');
    await page.getByTestId('filter-reset').click();
    await waitForFunction(page, () => !document.querySelector('[data-testid=active-filters] .chip'));
    await page.locator(`[data-testid=inference-picker] [data-split="${PROD}"]`).click();
    assert(await tableTotal() === prodTotal, 'back on production');
  });

  // 3. Drifted production samples.
  let driftedTotal = 0;
  await step('filter to drifted production samples', async () => {
    await page.getByTestId('filter-drifted').selectOption('true');
    await page.getByTestId('chip-drifted').waitFor();
    driftedTotal = await tableTotal();
    const expect = (await apiGet(`${RUN_API}/samples?split=${encodeURIComponent(PROD)}&drifted=true&limit=1`)).total;
    assert(driftedTotal === expect && expect > 0 && expect < prodTotal, `drifted total ${driftedTotal} == ${expect}`);
    const flags = await page.$$eval('[data-testid=sample-row] [data-col=is_drifted]', (cs) => cs.map((c) => c.textContent));
    assert(flags.length > 0 && flags.every((f) => f === 'drifted'), `every visible row drifted: ${flags}`);
    // Text search (regex) on top, with the matches highlighted.
    await page.getByTestId('filter-text').fill('crypto|refund');
    await page.getByTestId('chip-text').waitFor();
    const withText = await tableTotal();
    const expectText = (await apiGet(`${RUN_API}/samples?split=${encodeURIComponent(PROD)}&drifted=true&text=${encodeURIComponent('crypto|refund')}&limit=1`)).total;
    assert(withText === expectText, `text + drifted total ${withText} == ${expectText}`);
    if (withText > 0) assert(await page.locator('[data-testid=sample-row] mark').count() > 0, 'matches are highlighted');
    await page.locator('[data-testid=chip-text] button').click();
    await waitForFunction(page, () => !document.querySelector('[data-testid=chip-text]'));
    assert(await tableTotal() === driftedTotal, 'removing the text filter');
    // "Export filtered" downloads exactly the filtered rows (the links are in the table's
    // export menu since issue 16: all rows or the top N, in the table's order).
    await page.getByTestId('export-menu').click();
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-filtered-jsonl').click()]);
    const rows = fs.readFileSync(await dl.path(), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    assert(rows.length === driftedTotal && rows.every((r) => r.is_drifted === true && r.split === PROD),
      `export filtered: ${rows.length} rows, all drifted`);
    // The filter lives in the URL: a reload shows the same view.
    await page.reload();
    await page.getByTestId('chip-drifted').waitFor();
    assert(await tableTotal() === driftedTotal, 'the reloaded page keeps the filter');
    assert(await page.getByTestId('filter-drifted').inputValue() === 'true', 'the filter panel shows it');
    await page.locator('[data-testid=insights][data-ready="1"]').waitFor();
    const ins = await page.getByTestId('insight-drifted').textContent();
    assert(ins.includes(String(driftedTotal)), `insights count the ${driftedTotal} drifted: ${ins}`);
  });

  // 4. Sort by drift score, then open the first sample.
  let opened = '';
  await step('sort and open a sample', async () => {
    await page.getByTestId('sort-drift_score').click(); // descending first for scores
    await waitForFunction(page, () => !document.querySelector('[data-testid=sample-table]')?.dataset.loading);
    const scores = await page.$$eval('[data-testid=sample-row] [data-col=drift_score]', (cs) => cs.map((c) => Number(c.textContent)));
    assert(scores.length > 1 && scores.every((v, i) => i === 0 || scores[i - 1] >= v), `sorted by drift score desc: ${scores.slice(0, 8)}`);
    const first = page.getByTestId('sample-row').first();
    opened = await first.getAttribute('data-id');
    await first.click();
    const panel = page.locator('[data-testid=sample-panel][data-ready="1"]');
    await panel.waitFor();
    assert((await panel.getByTestId('sample-id').textContent()).includes(opened), 'the panel shows the opened sample');
    const probs = await panel.locator('[data-testid=sample-probs] .prob').count();
    assert(probs === 3, `3 probability bars, got ${probs}`);
    assert((await panel.getByTestId('sample-drifted').textContent()).includes('yes'), 'the opened sample is drifted');
    await panel.locator('[data-testid=neighbor]').first().waitFor();
    // Neighbours in training and in production: 5 of each.
    const splits = await panel.locator('[data-testid=neighbor]').evaluateAll((ns) => ns.map((n) => n.dataset.split));
    assert(splits.filter((x) => x === 'training').length === 5, `5 training neighbours: ${splits}`);
    assert(splits.filter((x) => x === PROD).length === 5, `5 production neighbours: ${splits}`);
    const expectTrain = (await apiGet(`${RUN_API}/similar?split=${encodeURIComponent(PROD)}&id=${encodeURIComponent(opened)}&k=5&in=training`)).neighbors.map((n) => n.id);
    const shownTrain = await panel.locator('[data-testid=neighbor][data-split=training]').evaluateAll((ns) => ns.map((n) => n.dataset.id));
    assert(JSON.stringify(expectTrain) === JSON.stringify(shownTrain), `training neighbours ${shownTrain} == ${expectTrain}`);
    await page.getByTestId('sample-panel').screenshot({ path: path.join(SHOTS, 'sample-panel.png') });
    await page.screenshot({ path: path.join(SHOTS, 'run-page-sample.png') });
    // Arrow keys walk the table's rows.
    const panelShows = (id) => waitForFunction(page, (x) => document.querySelector('[data-testid=sample-panel][data-ready="1"] [data-testid=sample-id]')?.textContent.endsWith(` · ${x}`), id);
    const second = await page.getByTestId('sample-row').nth(1).getAttribute('data-id');
    await page.keyboard.press('ArrowDown');
    await panelShows(second);
    await page.keyboard.press('ArrowUp');
    await panelShows(opened);
    await page.locator('[data-testid=sample-panel][data-ready="1"] [data-testid=neighbor]').first().waitFor();
  });

  // 5. Find similar (issue 16: it adds to the filters instead of replacing them): the 20
  // nearest neighbours of the open sample in production, ANDed with "drifted = yes".
  await step('find similar', async () => {
    await page.getByTestId('similar-k').fill('20');
    await page.getByTestId('find-similar').click();
    await page.getByTestId('chip-similar').waitFor();
    assert(await page.getByTestId('chip-drifted').count() === 1, 'the drifted filter stays');
    const total = await tableTotal();
    const expect = await apiGet(`${RUN_API}/similar?split=${encodeURIComponent(PROD)}&id=${encodeURIComponent(opened)}&k=20&in=${encodeURIComponent(PROD)}`);
    const near = expect.neighbors.filter((n) => n.split === PROD && n.id !== opened).map((n) => n.id);
    const want = new Set((await apiPost(`${RUN_API}/samples/query`, { split: PROD, ids: near, drifted: true, limit: 1000 })).samples.map((s) => s.id));
    const ids = await rowIds();
    assert(total === want.size && want.size > 0, `find similar shows ${total} rows, expected ${want.size}`);
    assert(ids.every((id) => want.has(id)), `rows ${ids} are the drifted neighbours`);
    await page.getByTestId('sample-close').click();
    await page.getByTestId('filter-reset').click();
    assert(await tableTotal() === prodTotal, 'reset shows every production sample');
  });

  // 5b. The per-sample shift score (the domain classifier against validation): the panel,
  // the "shifted" filter against the API's total, the table column sorted, the insights, and
  // the map coloured by it.
  await step('shift score', async () => {
    const prodRows = (await apiGet(`${RUN_API}/samples?split=${encodeURIComponent(PROD)}&limit=1000`)).samples;
    assert(prodRows.every((s) => typeof s.shift_score === 'number' && typeof s.is_shifted === 'boolean'),
      'every production sample has a shift score and flag');
    await page.getByTestId('filter-shifted').selectOption('true');
    await page.getByTestId('chip-shifted').waitFor();
    const shifted = await tableTotal();
    const expect = (await apiGet(`${RUN_API}/samples?split=${encodeURIComponent(PROD)}&shifted=true&limit=1`)).total;
    assert(shifted === expect && expect > 0 && expect < prodTotal, `shifted total ${shifted} == ${expect}`);
    const flags = await page.$$eval('[data-testid=sample-row] [data-col=is_shifted]', (cs) => cs.map((c) => c.textContent));
    assert(flags.length > 0 && flags.every((f) => f === 'shifted'), `every visible row shifted: ${flags}`);
    await page.getByTestId('sort-shift_score').click(); // descending first for scores
    await waitForFunction(page, () => !document.querySelector('[data-testid=sample-table]')?.dataset.loading);
    const scores = await page.$$eval('[data-testid=sample-row] [data-col=shift_score]', (cs) => cs.map((c) => Number(c.textContent)));
    assert(scores.length > 1 && scores.every((v, i) => i === 0 || scores[i - 1] >= v), `sorted by shift score desc: ${scores.slice(0, 8)}`);
    const top = page.getByTestId('sample-row').first();
    const topId = await top.getAttribute('data-id');
    await top.click();
    const panel = page.locator('[data-testid=sample-panel][data-ready="1"]');
    await waitForFunction(page, (x) => document.querySelector('[data-testid=sample-panel][data-ready="1"] [data-testid=sample-id]')?.textContent.endsWith(` · ${x}`), topId);
    const want = prodRows.find((s) => s.id === topId);
    assert((await panel.getByTestId('sample-shift').textContent()).includes(want.shift_score.toFixed(3)), 'the panel shows the shift score');
    assert((await panel.getByTestId('sample-shifted').textContent()).includes('yes'), 'the panel shows the flag');
    const ins = await page.getByTestId('insight-shifted').textContent();
    assert(ins.includes(`${((100 * expect) / prodTotal).toFixed(1)}%`), `insights show the shifted share: ${ins}`);
    const map = await apiGet(`${RUN_API}/map?splits=${encodeURIComponent(PROD)}`);
    assert(map.splits[0].points.shift_score.some((v) => typeof v === 'number'), 'map points carry shift scores');
    await page.getByTestId('map-color').selectOption('shift');
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'map-shift.png') });
    await page.getByTestId('map-color').selectOption('pred');
    await page.getByTestId('sample-close').click();
    await page.getByTestId('filter-reset').click();
    assert(await tableTotal() === prodTotal, 'reset shows every production sample');
  });

  // 6. Lasso a region of the map: the drifted cluster's bounding box in screen space.
  let lassoIds = [];
  await step('lasso on the map', async () => {
    // Around the drifted sample opened above: its screen position from the map's fitted view
    // (bounds of training + production centred in the canvas, 12 px margins, equal scales).
    const canvas = page.getByTestId('map-overlay');
    const box = await canvas.boundingBox();
    const map = await apiGet(`${RUN_API}/map?splits=training,${encodeURIComponent(PROD)}&max_points=50000`);
    const b = map.bounds;
    const upp = Math.max((b.x1 - b.x0) / (box.width - 24), (b.y1 - b.y0) / (box.height - 24));
    const s0 = await apiGet(`${RUN_API}/samples/${encodeURIComponent(PROD)}/${encodeURIComponent(opened)}`);
    const cx = box.x + box.width / 2 + (s0.x - (b.x0 + b.x1) / 2) / upp;
    const cy = box.y + box.height / 2 - (s0.y - (b.y0 + b.y1) / 2) / upp;
    const rx = 45, ry = 35;
    const pts = Array.from({ length: 24 }, (_, i) => [cx + rx * Math.cos((i / 24) * 2 * Math.PI), cy + ry * Math.sin((i / 24) * 2 * Math.PI)]);
    const respP = page.waitForResponse((r) => r.url().endsWith('/samples/query') && r.request().method() === 'POST');
    await page.mouse.move(pts[0][0], pts[0][1]);
    await page.mouse.down();
    for (const [x, y] of pts.slice(1)) await page.mouse.move(x, y, { steps: 2 });
    await page.mouse.up();
    const resp = await respP;
    assert(resp.ok(), `samples/query: ${resp.status()}`);
    const req = resp.request().postDataJSON();
    assert(Array.isArray(req.polygon) && req.polygon.length >= 3, 'the query carries a polygon');
    assert(req.split === PROD, `lasso queries ${PROD}`);
    await page.getByTestId('chip-lasso').waitFor();
    await page.getByTestId('export-filtered-lasso').waitFor();
    const total = await tableTotal();
    // Every sample of the lasso, from the API, is inside the polygon.
    let all = [];
    for (let off = 0; off < total; off += 1000) {
      const r = await apiPost(`${RUN_API}/samples/query`, { split: PROD, polygon: req.polygon, offset: off, limit: 1000 });
      all = all.concat(r.samples);
    }
    assert(total > 0 && total < prodTotal, `the lasso holds some, not all, samples: ${total} of ${prodTotal}`);
    assert(all.length === total, `paged ${all.length} == ${total}`);
    for (const s of all) assert(pointInPolygon(req.polygon, s.x, s.y), `${s.id} (${s.x}, ${s.y}) inside the lasso`);
    lassoIds = all.map((s) => s.id);
    assert(lassoIds.includes(opened), `the lasso around ${opened} holds it`);
    const drifted = all.filter((s) => s.is_drifted).length;
    log(`  lasso: ${drifted} of ${total} drifted`);
    const shown = await rowIds();
    assert(shown.every((id) => lassoIds.includes(id)), 'the table shows lasso samples only');
    log(`  lasso: ${total} samples`);
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'map.png') });
    await page.getByTestId('map-color').selectOption('drift_score');
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'map-drift.png') });
    await page.getByTestId('map-color').selectOption('pred');
  });

  // 7. Add the lasso to a new selection.
  const SEL = 'drift-review';
  await step('add to a selection', async () => {
    await page.getByTestId('selection-name').fill(SEL);
    await page.getByTestId('selection-create').click();
    const item = page.locator(`[data-testid=selection-item][data-name="${SEL}"]`);
    await item.waitFor();
    await waitForFunction(page, () => !document.querySelector('[data-testid=selection-add-filtered]').disabled);
    await page.getByTestId('selection-add-filtered').click();
    await waitForFunction(page, ([name, n]) => document.querySelector(`[data-testid=selection-item][data-name="${name}"] [data-testid=selection-count]`)?.textContent === String(n), [SEL, lassoIds.length]);
    // Remove two checked rows, then add them back.
    const countOf = () => page.locator(`[data-testid=selection-item][data-name="${SEL}"] [data-testid=selection-count]`).textContent();
    const checks = page.getByTestId('row-check');
    await checks.nth(0).check();
    await checks.nth(1).check();
    await page.getByTestId('selection-remove-checked').click();
    await waitForFunction(page, ([name, n]) => document.querySelector(`[data-testid=selection-item][data-name="${name}"] [data-testid=selection-count]`)?.textContent === String(n), [SEL, lassoIds.length - 2]);
    await page.getByTestId('selection-add-checked').click();
    await waitForFunction(page, ([name, n]) => document.querySelector(`[data-testid=selection-item][data-name="${name}"] [data-testid=selection-count]`)?.textContent === String(n), [SEL, lassoIds.length]);
    assert(await countOf() === String(lassoIds.length), 'count back after adding the checked rows');
    // "Show" filters the table to the selection.
    await page.locator(`[data-testid=selection-item][data-name="${SEL}"] [data-testid=selection-show]`).click();
    await page.getByTestId('chip-ids').waitFor();
    assert(await tableTotal() === lassoIds.length, 'the table shows the selection');
    await page.locator('[data-testid=chip-ids] button').click();
    await waitForFunction(page, () => !document.querySelector('[data-testid=chip-ids]'));
    const sel = await apiGet(`${RUN_API}/selections/${SEL}`);
    assert(sel.items.length === lassoIds.length && sel.items.every((it) => it.split === PROD && lassoIds.includes(it.id)), 'the selection holds the lasso');
  });

  // 8. Export: CSV and JSONL rows are the selection's.
  await step('export the selection', async () => {
    const item = page.locator(`[data-testid=selection-item][data-name="${SEL}"]`);
    for (const fmt of ['csv', 'jsonl']) {
      const [dl] = await Promise.all([page.waitForEvent('download'), item.getByTestId(`selection-export-${fmt}`).click()]);
      const file = path.join(SHOTS, `..`, `selection.${fmt}`);
      await dl.saveAs(file);
      const text = fs.readFileSync(file, 'utf8');
      const rows = fmt === 'csv' ? parseCsv(text) : text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
      assert(rows.length === lassoIds.length, `${fmt}: ${rows.length} rows, expected ${lassoIds.length}`);
      const ids = new Set(rows.map((r) => r.id));
      assert(lassoIds.every((id) => ids.has(id)), `${fmt}: every lasso id exported`);
      for (const col of ['id', 'split', 'text', 'pred', 'confidence', 'drift_score', 'is_drifted']) assert(col in rows[0], `${fmt} column ${col}`);
      assert(rows.every((r) => r.split === PROD), `${fmt}: split column`);
      log(`  ${fmt}: ${rows.length} rows -> ${file}`);
    }
    await page.getByTestId('selection-tray').screenshot({ path: path.join(SHOTS, 'selections.png') });
    // A second selection, then deleted (after the confirm dialog).
    await page.getByTestId('selection-name').fill('scratch');
    await page.getByTestId('selection-create').click();
    await page.locator('[data-testid=selection-item][data-name="scratch"]').waitFor();
    page.once('dialog', (d) => d.accept());
    await page.locator('[data-testid=selection-item][data-name="scratch"] [data-testid=selection-delete]').click();
    await page.locator('[data-testid=selection-item][data-name="scratch"]').waitFor({ state: 'detached' });
    const names = (await apiGet(`${RUN_API}/selections`)).selections.map((x) => x.name);
    assert(JSON.stringify(names) === JSON.stringify([SEL]), `selections after the delete: ${names}`);
  });

  // 9. Insights panel screenshot, alerts and class charts present.
  await step('insights panel', async () => {
    await page.locator(`[data-testid=inference-picker] [data-split="${PROD}"]`).click();
    await waitForFunction(page, (s) => new URL(location.href).searchParams.get('split') === s, PROD);
    const ins = page.locator('[data-testid=insights][data-ready="1"]');
    await ins.waitFor();
    if (!MOCK) {
      // A third of production is shifted: the domain-classifier test against validation fires.
      const dom = await ins.locator('[data-testid=insight-domain-test]').textContent();
      assert(/domain AUC/.test(dom) && /vs validation/.test(dom), `domain test stat: ${dom}`);
      assert(await ins.locator('[data-testid=insight-alerts] [data-kind=distribution_shift]').count() === 1,
        'a distribution-shift alert');
    }
    assert(await ins.locator('[data-testid=chart-class-share] .bar').count() >= 6, 'class share bars, production next to training');
    assert(await ins.locator('[data-testid=chart-confidence] .bar').count() >= 6, 'mean confidence bars');
    await ins.screenshot({ path: path.join(SHOTS, 'insights.png') });
    await page.locator('[data-testid=split-option][data-split="validation"]').click();
    await page.locator('[data-testid=insight-per-class]').waitFor();
    assert(await page.locator('[data-testid=insight-domain-test]').count() === 0, 'no domain test for validation itself');
    await page.locator('[data-testid=insights][data-ready="1"]').screenshot({ path: path.join(SHOTS, 'insights-validation.png') });
  });

  // 9b. The comparison view (issue 14) from the split picker, against the real compare API.
  await step('compare view', async () => {
    await page.locator(`[data-testid=inference-picker] [data-split="${PROD}"]`).click();
    await waitForFunction(page, (s) => new URL(location.href).searchParams.get('split') === s, PROD);
    await page.getByTestId('compare-with').selectOption('training');
    await page.locator('[data-testid=compare-page][data-ready="1"]').waitFor();
    const u = new URL(page.url());
    assert(u.pathname === '/runs/demo/sentiment/compare' && u.searchParams.get('a') === 'training' && u.searchParams.get('b') === PROD,
      `compare URL: ${page.url()}`);
    const c = await apiGet(`${RUN_API}/compare?a=training&b=${encodeURIComponent(PROD)}`);
    const rows = await page.$$eval('[data-testid=cmp-metric]', (rs) => rs.map((r) => ({ name: r.dataset.name,
      change: r.querySelector('[data-testid=cmp-change]')?.dataset.change ?? null,
      sig: r.querySelector('[data-testid=cmp-test]')?.dataset.significant ?? null })));
    assert(JSON.stringify(rows.map((r) => r.name)) === JSON.stringify(c.metrics.map((m) => m.name)), `metrics: ${rows.map((r) => r.name)}`);
    for (const m of c.metrics) {
      const r = rows.find((x) => x.name === m.name);
      if (m.change !== null) assert(Math.abs(Number(r.change) - m.change) < 1e-9, `${m.name}: change ${r.change} vs ${m.change}`);
      if (m.test) assert(r.sig === (m.test.significant ? '1' : '0'), `${m.name}: significance`);
    }
    assert(await page.locator('[data-testid=cmp-class]').count() === 3, 'three classes');
    // A third of production is shifted away from training: the regions that grew hold its
    // drifted samples (their texts mention crypto refunds, make_run.py).
    const examples = await page.$$eval('[data-testid=cmp-region]:first-child [data-testid=cmp-example]', (es) => es.map((e) => e.textContent));
    assert(c.regions.grew.length > 0 && examples.length > 0 && examples.every((t) => t.includes('crypto refunds')), `grown region examples: ${examples}`);
    await page.screenshot({ path: path.join(SHOTS, 'compare-real.png'), fullPage: true });
    await page.goto(`${base}/runs/demo/sentiment/compare?a=training&b=inference:nope`);
    await page.getByTestId('cmp-error').waitFor();
    assert((await page.getByTestId('cmp-error').textContent()).includes("b: split 'inference:nope'"), 'a missing split is named');
    // Chromium logs the expected 404 of that request as a console error.
    for (let i = errors.length - 1; i >= 0; i--) if (/404/.test(errors[i])) errors.splice(i, 1);
    await page.goto(`${base}/runs/demo/sentiment?split=${encodeURIComponent(PROD)}`);
    await page.getByTestId('run-page').waitFor();
  });

  // 9c. The timeline page and the alert rules editor (issue 14), against the real server where it
  // serves them (GET .../timeline, /api/projects/P/alerts/...); skipped with a note otherwise.
  const answers = async (p) => (await fetch(base + p)).status === 200;
  const DAILY_API = '/api/runs/demo/daily';
  if (!MOCK && await answers(`${DAILY_API}/timeline`)) await step('timeline page (real server)', async () => {
    // demo/daily (make_run.py): six sets logged with --time, named out of time order, two shifted.
    const tl = await apiGet(`${DAILY_API}/timeline`);
    const sets = tl.sets.map((x) => x.split);
    assert(sets.length === 6 && JSON.stringify(sets) !== JSON.stringify([...sets].sort()), `six sets, names out of time order: ${sets}`);
    assert(tl.sets.every((x, i) => i === 0 || x.time > tl.sets[i - 1].time), 'the timeline is in time order');
    await page.goto(`${base}/runs/demo/daily`);
    await page.getByTestId('run-page').waitFor();
    await page.getByTestId('timeline-link').click();
    await page.locator('[data-testid=timeline-page][data-ready="1"]').waitFor();
    const points = (metric) => page.$$eval(`[data-testid=tl-chart][data-metric="${metric}"] [data-testid=tl-point]`,
      (as) => as.map((a) => ({ set: a.dataset.set, value: Number(a.dataset.value), firing: a.dataset.firing === '1',
        cx: Number(a.querySelector('.tl-point').getAttribute('cx')) })).sort((a, b) => a.cx - b.cx));
    for (const metric of ['drifted_share', 'mean_confidence', 'on_boundary_share']) {
      const pts = await points(metric);
      assert(JSON.stringify(pts.map((p) => p.set)) === JSON.stringify(sets), `${metric}: points in time order: ${pts.map((p) => p.set)}`);
      pts.forEach((p, i) => assert(Math.abs(p.value - tl.sets[i].metrics[metric].value) < 1e-9, `${metric} of ${p.set}`));
    }
    assert(await page.locator('[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-band]').count() === 1, 'the drifted share interval as a band');
    // The shifted days drifted; where the alerts API is served, their firing states are ringed.
    const drifted = tl.sets.filter((x) => x.drift_verdict).map((x) => x.split);
    assert(drifted.includes('inference:zulu') && drifted.includes('inference:yankee'), `the shifted days drifted: ${drifted}`);
    const marks = (await points('drifted_share')).filter((p) => p.firing).map((p) => p.set);
    if (await answers('/api/projects/demo/alerts/rules')) {
      const rules = (await apiGet('/api/projects/demo/alerts/rules')).rules;
      const onDrift = new Set(rules.filter((r) => ['drifted_share', 'drift_verdict', 'metrics.drifted_share', 'metrics.drift_verdict'].includes(r.metric) && !r.class).map((r) => r.id));
      const states = (await apiGet('/api/projects/demo/alerts/states?run=daily')).states;
      const want = tl.sets.filter((x) => states.some((st) => st.state === 'firing' && onDrift.has(st.rule_id) && (st.set === x.name || st.set === x.split))).map((x) => x.split);
      assert(JSON.stringify(marks) === JSON.stringify(want), `firing marks ${marks} vs states ${want}`);
    } else {
      assert(marks.length === 0, 'no alert states, no marks');
    }
    const rows = await page.$$eval('[data-testid=tl-row]', (rs) => rs.map((r) => r.dataset.set));
    assert(JSON.stringify(rows) === JSON.stringify(sets), 'the table lists the sets in time order');
    await page.screenshot({ path: path.join(SHOTS, 'timeline-real.png'), fullPage: true });
    // Without the alerts API the page's rule and state requests are 404s (the page says so).
    if (!(await answers('/api/projects/demo/alerts/rules'))) {
      assert(await page.getByTestId('rules-note').count() === 1, 'the page notes the missing alert rules');
      for (let i = errors.length - 1; i >= 0; i--) if (/404/.test(errors[i])) errors.splice(i, 1);
    }
    // Two points picked: the comparison of a calm day with a shifted one, from the real API.
    await page.getByTestId('pick-two').click();
    await page.locator('[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-point][data-set="inference:kilo"]').click();
    await page.locator('[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-point][data-set="inference:zulu"]').click();
    await page.locator('[data-testid=compare-page][data-ready="1"]').waitFor();
    const drift = page.locator('[data-testid=cmp-metric][data-name=drifted_share]');
    assert(Number(await drift.getByTestId('cmp-change').getAttribute('data-change')) > 0 &&
      await drift.getByTestId('cmp-test').getAttribute('data-significant') === '1', 'the shifted day drifted significantly more');
    await page.screenshot({ path: path.join(SHOTS, 'timeline-compare-real.png'), fullPage: true });
    await page.goBack();
    await page.locator('[data-testid=timeline-page][data-ready="1"]').waitFor();
    await page.locator(`[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-point][data-set="${sets[0]}"]`).click();
    await page.getByTestId('run-page').waitFor();
    assert(new URL(page.url()).searchParams.get('split') === sets[0], `a point opens its set: ${page.url()}`);
    if (!(await answers('/api/projects/demo/alerts/rules'))) for (let i = errors.length - 1; i >= 0; i--) if (/404/.test(errors[i])) errors.splice(i, 1);
  }); else log('  no timeline on this server: timeline page (real server) skipped');

  if (!MOCK && await answers('/api/projects/demo/alerts/rules')) await step('alert rules editor (real server)', async () => {
    const rulesNow = async () => (await apiGet('/api/projects/demo/alerts/rules')).rules;
    const before = await rulesNow();
    await page.goto(`${base}/projects/demo/alerts`);
    await page.locator('[data-testid=rules-page][data-ready="1"]').waitFor();
    const names = () => page.$$eval('[data-testid=rule-row]', (rs) => rs.map((r) => r.dataset.name));
    assert(JSON.stringify(await names()) === JSON.stringify(before.map((r) => r.name)), `rules listed: ${await names()}`);
    await page.getByTestId('rule-name').fill('drift above 20%');
    await page.getByTestId('rule-metric').selectOption('drifted_share');
    await page.getByTestId('rule-kind').selectOption('threshold');
    await page.getByTestId('rule-op').selectOption('>');
    await page.getByTestId('rule-value').fill('0.2');
    await page.getByTestId('rule-save').click();
    const row = page.locator('[data-testid=rule-row][data-name="drift above 20%"]');
    await row.waitFor();
    let rule = (await rulesNow()).find((r) => r.name === 'drift above 20%');
    assert(rule && rule.metric === 'drifted_share' && rule.kind === 'threshold' && rule.op === '>' && rule.value === 0.2 && rule.enabled, `added: ${JSON.stringify(rule)}`);
    await row.getByTestId('rule-edit').click();
    await page.getByTestId('rule-value').fill('0.3');
    await page.getByTestId('rule-save').click();
    await waitForFunction(page, () => document.querySelector('[data-testid=rule-row][data-name="drift above 20%"] [data-testid=rule-desc]')?.textContent.endsWith('0.3'));
    rule = (await rulesNow()).find((r) => r.name === 'drift above 20%');
    assert(rule.value === 0.3, `edited: ${JSON.stringify(rule)}`);
    await row.getByTestId('rule-toggle').uncheck();
    await waitForFunction(page, () => document.querySelector('[data-testid=rules-status]').textContent.startsWith('disabled'));
    assert((await rulesNow()).find((r) => r.name === 'drift above 20%').enabled === false, 'disabled');
    // A webhook to a receiver on loopback, and a test send it receives.
    const got = [];
    const receiver = http.createServer((req, res) => {
      let body = ''; req.on('data', (c) => { body += c; });
      req.on('end', () => { got.push({ method: req.method, event: req.headers['x-sextant-event'] ?? null, body }); res.writeHead(200); res.end('ok'); });
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${receiver.address().port}/hook`;
      await page.getByTestId('webhook-name').fill('ops');
      await page.getByTestId('webhook-url').fill(url);
      await page.getByTestId('webhook-add').click();
      const hook = page.locator('[data-testid=webhook-row]', { hasText: url });
      await hook.waitFor();
      await hook.getByTestId('webhook-test').click();
      await waitForFunction(page, () => !/sending/.test(document.querySelector('[data-testid=webhook-result]').textContent));
      const result = await hook.getByTestId('webhook-result').textContent();
      assert(result === 'delivered (HTTP 200)', `test send: ${result}`);
      assert(got.length === 1 && got[0].method === 'POST' && JSON.parse(got[0].body).event === 'test', `the receiver got the test: ${JSON.stringify(got)}`);
      await page.locator('[data-testid=delivery-row]').first().waitFor();
      await page.screenshot({ path: path.join(SHOTS, 'rules-real.png'), fullPage: true });
      await hook.getByTestId('webhook-remove').click();
      await hook.waitFor({ state: 'detached' });
    } finally { receiver.close(); }
    await row.getByTestId('rule-remove').click();
    await row.waitFor({ state: 'detached' });
    assert(!(await rulesNow()).some((r) => r.name === 'drift above 20%'), 'removed');
  }); else log('  no alerts API on this server: alert rules editor (real server) skipped');

  // 10. With --token, the console works from a ?token= link; without one the API says 401.
  if (!MOCK) {
    await step('token', async () => {
      const { proc, base: tbase } = await serve(['--token', 'tok-123']);
      await waitHealthy(tbase, proc, 30000, [200, 401]);  // health may need the token too
      assert((await fetch(`${tbase}/api/runs`)).status === 401, 'no token: 401');
      const p2 = await context.newPage();
      await p2.goto(`${tbase}/runs/demo/sentiment?split=${encodeURIComponent(PROD)}&token=tok-123`);
      await p2.locator('[data-testid=sample-table]:not([data-loading])').waitFor();
      const st = await p2.getByTestId('table-status').textContent();
      assert(st.startsWith(`${prodTotal}`), `table with the token: ${st}`);
      assert(!p2.url().includes('tok-123'), `the token is taken out of the address: ${p2.url()}`);
      const href = await p2.locator('[data-testid=selection-item] [data-testid=selection-export-csv]').first().getAttribute('href');
      assert(href.includes('token=tok-123'), `download links carry the token: ${href}`);
      const [dl] = await Promise.all([p2.waitForEvent('download'), p2.locator('[data-testid=selection-item] [data-testid=selection-export-csv]').first().click()]);
      const rows = parseCsv(fs.readFileSync(await dl.path(), 'utf8'));
      assert(rows.length === lassoIds.length, `token export: ${rows.length} rows`);
      await p2.close();
      // Without a ?token= link, the server's 401 brings up the key prompt (tests/browser/team.test.mjs).
      const p3 = await context.newPage();
      await p3.goto(`${tbase}/runs/demo/sentiment?split=${encodeURIComponent(PROD)}`);
      await p3.getByTestId('key-prompt').waitFor();
      await p3.getByTestId('key-input').fill('tok-123');
      await p3.getByTestId('key-submit').click();
      await p3.locator('[data-testid=sample-table]:not([data-loading])').waitFor();
      const st3 = await p3.getByTestId('table-status').textContent();
      assert(st3.startsWith(`${prodTotal}`), `table after the key prompt: ${st3}`);
      await p3.close();
      proc.kill('SIGTERM');
    });
  }

  // 11-12. NLI and NER runs, found by task type (demo/nli and demo/ner, as the mock serves and
  // make_run.py logs them); only structure and filters narrowing results are checked.
  const runs = (await apiGet('/api/runs')).runs;
  const byTask = (task, name) => runs.find((r) => r.project === 'demo' && r.run === name && r.task === task) ?? runs.find((r) => r.task === task);
  const runPath = (r) => `/api/runs/${encodeURIComponent(r.project)}/${encodeURIComponent(r.run)}`;
  const runPage = (r, split) => `${base}/runs/${encodeURIComponent(r.project)}/${encodeURIComponent(r.run)}?split=${encodeURIComponent(split)}`;
  const need = (r, task) => {
    if (r) return true;
    // The mock always has them; a store made before make_run.py logs them skips with a note.
    assert(!MOCK, `the mock serves a ${task} run`);
    log(`  no ${task} run in the store: skipped`);
    return false;
  };

  const nli = byTask('natural_language_inference', 'nli');
  if (need(nli, 'natural_language_inference')) await step('NLI pair view', async () => {
    const api = runPath(nli);
    await page.goto(runPage(nli, 'training'));
    await page.getByTestId('run-page').waitFor();
    const all = await tableTotal();
    assert(all === (await apiGet(`${api}/samples?split=training&limit=1`)).total, 'NLI training total');
    const row = page.getByTestId('sample-row').first();
    assert(await row.getByTestId('nli-premise').count() === 1 && await row.getByTestId('nli-hypothesis').count() === 1, 'a row shows premise and hypothesis');
    const first = (await apiGet(`${api}/samples?split=training&limit=20`)).samples;
    assert(first.every((x) => typeof x.premise === 'string' && typeof x.hypothesis === 'string'), 'NLI samples carry premise and hypothesis');
    // A hypothesis word that narrows the rows (some, not all).
    let word = null, expect = 0;
    for (const w of first.flatMap((x) => x.hypothesis.split(/\W+/)).filter((w) => w.length >= 4)) {
      const t = (await apiGet(`${api}/samples?split=training&limit=1&hypothesis=${encodeURIComponent(w)}`)).total;
      if (t > 0 && t < all) { word = w; expect = t; break; }
    }
    assert(word, 'a hypothesis word that narrows the samples');
    const post = await apiPost(`${api}/samples/query`, { split: 'training', hypothesis: word, limit: 1 });
    assert(post.total === expect, `POST "hypothesis" ${post.total} == GET ${expect}`);
    await page.getByTestId('filter-hypothesis').fill(word);
    await page.getByTestId('chip-hypothesis').waitFor();
    assert(await tableTotal() === expect, `hypothesis /${word}/: table == API ${expect}`);
    const hyps = await page.$$eval('[data-testid=sample-row] [data-testid=nli-hypothesis] .nli-value', (cs) => cs.map((c) => c.textContent));
    const re = new RegExp(word, 'i');
    assert(hyps.length > 0 && hyps.every((t) => re.test(t)), `every hypothesis matches /${word}/`);
    assert(await page.locator('[data-testid=sample-row] [data-testid=nli-hypothesis] mark').count() > 0, 'hypothesis matches highlighted');
    // The premise regex too, combined with it.
    const pw = first[0].premise.split(/\W+/).find((w) => w.length >= 4) ?? first[0].premise.slice(0, 3);
    await page.getByTestId('filter-premise').fill(pw);
    await page.getByTestId('chip-premise').waitFor();
    const both = (await apiGet(`${api}/samples?split=training&limit=1&hypothesis=${encodeURIComponent(word)}&premise=${encodeURIComponent(pw)}`)).total;
    assert(await tableTotal() === both && both <= expect, `premise + hypothesis: ${both}`);
    // The panel shows both fields, labelled.
    await page.getByTestId('sample-row').first().click();
    const panel = page.locator('[data-testid=sample-panel][data-ready="1"]');
    await panel.waitFor();
    const labels = await panel.locator('[data-testid=sample-text] .nli-label').allTextContents();
    assert(labels.join(',') === 'premise,hypothesis', `labelled fields: ${labels}`);
    assert(await panel.locator('[data-testid=sample-text] [data-testid=nli-hypothesis] mark').count() > 0, 'panel highlights the hypothesis match');
    await page.screenshot({ path: path.join(SHOTS, 'nli-pair.png') });
    await page.getByTestId('sample-close').click();
  });

  const ner = byTask('named_entity_recognition', 'ner');
  if (need(ner, 'named_entity_recognition')) await step('NER span view', async () => {
    const api = runPath(ner);
    const splits = ner.splits.map((x) => x.split);
    const labeled = splits.includes('validation') ? 'validation' : 'training';
    const prod = splits.find((x) => x.startsWith('inference:'));
    assert(prod, 'the NER run has an inference set');
    await page.goto(runPage(ner, 'training'));
    await page.getByTestId('run-page').waitFor();
    await tableTotal();
    // Gold and predicted spans marked in two styles, in the rows.
    assert(await page.locator('[data-testid=sample-row] .span-gold').count() > 0, 'gold spans in the table');
    assert(await page.locator('[data-testid=sample-row] .span-pred').count() > 0, 'predicted spans in the table');
    const row = page.locator('[data-testid=sample-row]:has(.span-gold):has(.span-pred)').first();
    const sid = await row.getAttribute('data-id');
    await row.click();
    const panel = page.locator('[data-testid=sample-panel][data-ready="1"]');
    await panel.waitFor();
    const txt = panel.getByTestId('sample-text');
    assert(await txt.locator('.span-gold').count() > 0 && await txt.locator('.span-pred').count() > 0, 'the panel marks gold and predicted spans');
    const errs = await txt.locator('.ent').evaluateAll((es) => es.map((e) => e.dataset.error).filter(Boolean));
    assert(errs.length > 0 && errs.every((e) => ['none', 'wrong_tag', 'span_shift', 'missed_label', 'ghost_span'].includes(e)), `error classes ${errs}`);
    await panel.getByTestId('span-legend').waitFor();
    await panel.locator('[data-testid=sample-spans][data-ready="1"]').waitFor();
    const own = (await apiGet(`${api}/spans?split=training&sample_id=${encodeURIComponent(sid)}&limit=1000`)).spans;
    assert(await panel.getByTestId('sample-span').count() === own.length && own.length > 0, `the panel lists the sample's ${own.length} span rows`);
    await page.screenshot({ path: path.join(SHOTS, 'ner-sample.png') });
    await page.getByTestId('sample-close').click();

    // The span view: every span row of the split, then filters that narrow it.
    const spanTotal = async () => {
      await waitForFunction(page, () => !document.querySelector('[data-testid=span-table]')?.dataset.loading && /\d/.test(document.querySelector('[data-testid=span-table-status]')?.textContent ?? ''));
      const t = await page.getByTestId('span-table-status').textContent();
      const m = /^([\d,]+) span/.exec(t ?? '');
      assert(m, `span table status "${t}"`);
      return Number(m[1].replace(/,/g, ''));
    };
    await page.getByTestId('view-spans').click();
    await page.getByTestId('span-table').waitFor();
    const allSpans = await spanTotal();
    assert(allSpans === (await apiGet(`${api}/spans?split=training&limit=1`)).total && allSpans > 0, `span table total ${allSpans}`);
    assert(await page.getByTestId('span-row').count() > 5, 'span rows listed');
    await page.getByTestId('span-filter-error').selectOption('ghost_span');
    const ghosts = await spanTotal();
    assert(ghosts === (await apiGet(`${api}/spans?split=training&error_type=ghost_span&limit=1`)).total && ghosts < allSpans, `ghost spans ${ghosts} of ${allSpans}`);
    const shownErr = await page.$$eval('[data-testid=span-row]', (rs) => rs.map((r) => r.dataset.error));
    assert(shownErr.every((e) => e === 'ghost_span'), `every row a ghost span: ${shownErr}`);
    if (ghosts > 0) assert(await page.locator('[data-testid=span-row] [data-col=gold]').first().textContent() === '–', 'a ghost span has no gold');
    // Sort by confidence (descending first).
    await page.getByTestId('span-sort-confidence').click();
    await spanTotal();
    const confs = await page.$$eval('[data-testid=span-row] [data-col=confidence]', (cs) => cs.map((c) => Number(c.textContent)));
    assert(confs.every((v, i) => i === 0 || confs[i - 1] >= v), `sorted by confidence: ${confs.slice(0, 6)}`);
    await page.getByTestId('span-filter-reset').click();
    assert(await spanTotal() === allSpans, 'reset shows every span');

    // Drifted spans on the inference set.
    await page.locator(`[data-testid=inference-picker] [data-split="${prod}"]`).click();
    const prodSpans = await spanTotal();
    assert(prodSpans === (await apiGet(`${api}/spans?split=${encodeURIComponent(prod)}&limit=1`)).total, `${prod} spans`);
    await page.getByTestId('span-filter-drifted').selectOption('true');
    const drifted = await spanTotal();
    assert(drifted === (await apiGet(`${api}/spans?split=${encodeURIComponent(prod)}&drifted=true&limit=1`)).total && drifted < prodSpans, `drifted spans ${drifted} of ${prodSpans}`);
    const flags = await page.$$eval('[data-testid=span-row] [data-col=is_drifted]', (cs) => cs.map((c) => c.textContent));
    assert(flags.every((f) => f === 'drifted'), `every row drifted: ${flags}`);

    // The samples of the drifted spans into a selection: the next posts to label.
    const driftedSamples = new Set((await apiGet(`${api}/spans?split=${encodeURIComponent(prod)}&drifted=true&limit=1000`)).spans.map((x) => x.sample_id));
    await page.getByTestId('selection-name').fill('drifted-posts');
    await page.getByTestId('selection-create').click();
    await page.locator('[data-testid=selection-item][data-name="drifted-posts"]').waitFor();
    const addSpans = page.getByTestId('selection-add-filtered');
    assert(await addSpans.textContent() === 'Add samples of filtered spans', `span view button: ${await addSpans.textContent()}`);
    await waitForFunction(page, () => !document.querySelector('[data-testid=selection-add-filtered]').disabled);
    await addSpans.click();
    await waitForFunction(page, (n) => document.querySelector('[data-testid=selection-item][data-name="drifted-posts"] [data-testid=selection-count]')?.textContent === String(n), driftedSamples.size);
    const picked = (await apiGet(`${api}/selections/drifted-posts`)).items;
    assert(picked.length === driftedSamples.size && picked.every((it) => it.split === prod && driftedSamples.has(it.id)), `the selection holds the ${driftedSamples.size} samples of the drifted spans`);

    // A click on a span opens its sample; its similar spans (training + inference) appear.
    const sr = page.getByTestId('span-row').first();
    const [spanRow, spanSample] = [Number(await sr.getAttribute('data-span-row')), await sr.getAttribute('data-sample-id')];
    await sr.click();
    await panel.waitFor();
    assert((await panel.getByTestId('sample-id').textContent()).endsWith(` · ${spanSample}`), 'the span opens its sample');
    const sim = panel.locator('[data-testid=similar-spans][data-ready="1"]');
    await sim.waitFor();
    const inSplits = splits.filter((x) => x === 'training' || x.startsWith('inference:'));
    const want = (await apiGet(`${api}/spans/similar?split=${encodeURIComponent(prod)}&span_row=${spanRow}&k=10&in=${encodeURIComponent(inSplits.join(','))}`)).neighbors;
    const shown = await sim.getByTestId('similar-span').evaluateAll((ns) => ns.map((n) => `${n.dataset.split}/${n.dataset.spanRow}`));
    assert(shown.length > 0 && JSON.stringify(shown) === JSON.stringify(want.map((n) => `${n.split}/${n.span_row}`)), `similar spans ${shown}`);
    assert(await panel.locator(`[data-testid=sample-span][data-span-row="${spanRow}"].picked`).count() === 1, 'the picked span is marked in the list');
    // Only training: every neighbour from training.
    await panel.locator(`[data-testid=similar-spans-in] input[value="${prod}"]`).uncheck();
    await waitForFunction(page, () => {
      const ns = [...document.querySelectorAll('[data-testid=similar-spans][data-ready="1"] [data-testid=similar-span]')];
      return ns.length > 0 && ns.every((n) => n.dataset.split === 'training');
    });
    await panel.locator(`[data-testid=similar-spans-in] input[value="${prod}"]`).check();
    await page.screenshot({ path: path.join(SHOTS, 'ner-spans.png') });

    // The span-level map, coloured by error type.
    await page.getByTestId('map-level').selectOption('spans');
    await page.locator('[data-testid=map][data-level="spans"][data-ready="1"]').waitFor();
    assert((await page.getByTestId('map-info').textContent()).includes('span points'), 'span points drawn');
    assert(await litPixels(page) > 100, 'the span map drew');
    await page.getByTestId('map-color').selectOption('error_type');
    const legend = await page.getByTestId('map-legend').textContent();
    assert(legend.includes('ghost span') && legend.includes('wrong tag'), `error type legend: ${legend}`);

    // Insights: entity type share and confidence next to training on the inference set,
    // span precision/recall/F1 per type and overall on a labeled split.
    await page.locator('[data-testid=insights][data-ready="1"] [data-testid=insight-spans]').waitFor();
    const types = [...new Set(ner.labels.filter((l) => l !== 'O').map((l) => l.slice(2)))];
    assert(await page.locator('[data-testid=chart-span-type-share] .bar').count() === 2 * types.length, 'type share bars next to training');
    await page.locator(`[data-testid=split-option][data-split="${labeled}"]`).click();
    const ins = page.locator('[data-testid=insights][data-ready="1"]');
    await ins.getByTestId('insight-span-f1').waitFor();
    const perType = await ins.locator('[data-testid=insight-span-per-type] tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.type));
    assert(types.every((t) => perType.includes(t)) && perType.includes(''), `span F1 per type and overall: ${perType}`);
    const f1 = Number(await ins.locator('[data-testid=insight-span-f1] .stat-value').textContent());
    assert(f1 >= 0 && f1 <= 1, `span F1 ${f1}`);
    await ins.screenshot({ path: path.join(SHOTS, 'ner-insights.png') });
    // The span map on the labeled split, where error types apply (it stays at span level).
    // (The "over training" note is in the map's caption since issue 16.)
    if (labeled !== 'training') await waitForFunction(page, (sp) => document.querySelector('[data-testid=map-caption]')?.textContent.includes(`${sp} over training`), labeled);
    await page.locator('[data-testid=map][data-level="spans"][data-ready="1"]').waitFor();
    assert(await page.getByTestId('map-color').inputValue() === 'error_type', 'the colouring carries over');
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'ner-map.png') });
  });

  assert(errors.length === 0, `no page errors: ${errors.join('\n')}`);
}

try {
  await main();
  log(`PASS (screenshots in ${SHOTS})`);
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.stack ?? e}`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
