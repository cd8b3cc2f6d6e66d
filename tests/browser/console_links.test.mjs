// Browser test of issue 16, points 3 and 4, against the real `sextant serve`:
//
//   node tests/browser/console_links.test.mjs      (tests/browser/run.sh builds web/dist first)
//
// Point 3, everything links: an alert, a class bar and the stat cards filter the table (its
// total is the API's for the alert's filter) and the map, and each is one history entry: back
// and forward restore the views; the whole view state is in the URL (filter, sort, open sample,
// map colour and dim/hide mode, the NER span view with its filter and sort) and a reload keeps
// it; "find similar" adds to the filters and can search another split (with the server's
// similar_* filter: sorted by distance with the distance column; a binary without it is
// noted and the id-list fallback is checked instead, and the contract's server side is checked
// against tests/browser/mock_server.mjs); a timeline point opens its set with its metric's
// filter; a stat card works from the keyboard; the NER drifted-span figure opens the span view.
// Point 4, the map follows the table: a filter dims the other points (the matched count is
// the table's, the canvas' summed alpha drops) or hides them (fewer lit pixels), the view
// zooms to the matches and "All" goes back; the "drifted" and "shift score" colour modes;
// the caption and legend with training hidden; a selection shown dims the map to it; hovering
// a point shows its text (the API's);
// and, on a generated run of 100k production samples over 100k training samples, the lasso.
//
// Environment: SEXTANT_BIN, CHROMIUM, SCREENSHOTS, KEEP as console.test.mjs; BIG=0 skips the
// 100k run (BIG_N sets its size, default 100000; about 3 minutes to make on 2 cores), BIG_ROOT
// reuses a store made already (make_run.py ROOT WORK --sizes N,2000,N --only-sentiment).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
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
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-links-'));
const PROD = 'inference:prod_1';
const RUN = '/runs/demo/sentiment';
const RUN_API = '/api/runs/demo/sentiment';
const BIG = process.env.BIG !== '0';
const BIG_N = Number(process.env.BIG_N || 100000);

const children = [];
let browser = null;

function log(...a) { console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a); }
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }
const enc = encodeURIComponent;

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  if (process.env.KEEP !== '1') fs.rmSync(TMP, { recursive: true, force: true });
  else log(`kept ${TMP}`);
}

function makeRun(root, work, extra = []) {
  const t0 = Date.now();
  const r = spawnSync(PYTHON, [path.join(REPO, 'tests/browser/make_run.py'), BIN, root, work, ...extra], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`make_run.py ${extra.join(' ')} exited with ${r.status} (signal ${r.signal})`);
  log(`  made ${root} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Starts `sextant serve --port 0 ...` and reads its URL from the first line on stdout. */
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

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
    srv.on('error', reject);
  });
}

/** tests/browser/mock_server.mjs, which serves issue 16's server side (similar_*, distance, map match). */
async function serveMock() {
  const port = await freePort();
  const proc = spawn(process.execPath, [path.join(REPO, 'tests/browser/mock_server.mjs'), '--port', String(port), '--static', DIST], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(proc);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/api/health`)).ok) return base; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the mock server did not start');
}

// Polls with page.evaluate (the page's CSP forbids the `new Function` of waitForFunction).
async function waitForFunction(page, fn, arg, timeout = 20000) {
  const until = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${fn}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The map canvas' lit pixels, their summed alpha, and red ("drifted") pixels. */
function canvasStats(page) {
  return page.evaluate(() => {
    const c = document.querySelector('[data-testid=map-canvas]');
    const probe = document.createElement('canvas'); probe.width = c.width; probe.height = c.height;
    const g = probe.getContext('2d'); g.drawImage(c, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let lit = 0, alpha = 0, red = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 0) { lit++; alpha += d[i + 3]; }
      // #ef5b5b drawn at 0.85 alpha (premultiplied): red well above green and blue.
      if (d[i + 3] > 150 && d[i] > 170 && d[i + 1] < 110 && d[i + 2] < 110) red++;
    }
    return { lit, alpha, red };
  });
}

function pointInPolygon(poly, x, y) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]; const [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('web/dist is not built (run tests/browser/run.sh or `npm run build` in web/)');
  if (!fs.existsSync(BIN)) throw new Error(`the sextant binary was not found at ${BIN} (set SEXTANT_BIN)`);
  log('making the runs with', BIN);
  const ROOT = path.join(TMP, 'store');
  makeRun(ROOT, path.join(TMP, 'data'));
  const base = await serve(ROOT);
  log(`server ready on ${base}`);
  const apiGet = async (p) => { const r = await fetch(base + p); const t = await r.text(); assert(r.ok, `GET ${p}: ${r.status} ${t}`); return JSON.parse(t); };
  const apiPost = async (p, body) => {
    const r = await fetch(base + p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const t = await r.text(); assert(r.ok, `POST ${p}: ${r.status} ${t}`); return JSON.parse(t);
  };
  /** The samples API's total for a filter (the web's Filter keys, as a query body). */
  const totalOf = async (split, f) => (await apiPost(`${RUN_API}/samples/query`, { split, ...f, limit: 1 })).total;

  // What this binary serves of issue 16 (feature-detected as the console does).
  const prodFirst = (await apiGet(`${RUN_API}/samples?split=${enc(PROD)}&limit=2`)).samples;
  const probe = await fetch(`${base}${RUN_API}/samples?split=${enc(PROD)}&limit=1&similar_split=${enc(PROD)}&similar_id=${enc(prodFirst[0].id)}&similar_k=1`).then((r) => r.json());
  const HAS_SIMILAR = !!probe.samples?.[0] && 'distance' in probe.samples[0];
  const mapProbe = await apiGet(`${RUN_API}/map?splits=${enc(PROD)}&drifted=true`);
  const HAS_MATCH = Array.isArray(mapProbe.splits[0].match);
  const insights = await apiGet(`${RUN_API}/insights?split=${enc(PROD)}`);
  const HAS_ALERT_FILTER = insights.alerts.some((a) => a.filter);
  log(`  server features: similar_* ${HAS_SIMILAR ? 'yes' : 'NO'}, map match ${HAS_MATCH ? 'yes' : 'NO'}, alert filters ${HAS_ALERT_FILTER ? 'yes' : 'NO'}`);
  if (!HAS_SIMILAR) log('  SKIP (binary lacks similar_split/similar_id/similar_k): the distance sort and column are not checked; the id-list fallback is');
  if (!HAS_MATCH) log('  SKIP (binary lacks the map\'s match): the map is matched by the console\'s fallback (client-side fields or ids)');
  if (!HAS_ALERT_FILTER) log('  SKIP (binary lacks alert filters): the alert filters derived from kind/label are checked');

  const context = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
    viewport: { width: 1600, height: 1000 },
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
      await page.screenshot({ path: path.join(SHOTS, 'failure-links.png') }).catch(() => {});
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
  const urlParam = (k) => new URL(page.url()).searchParams.get(k);
  const urlFilter = () => JSON.parse(urlParam('f') ?? '{}');
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  /** The map has matched the current filters (no request in flight). */
  const mapSettled = () => waitForFunction(page, () => {
    const m = document.querySelector('[data-testid=map]');
    return m?.dataset.ready === '1' && !m.dataset.matching;
  });
  const insightsReady = () => page.locator('[data-testid=insights][data-ready="1"]').waitFor();

  const prodTotal = (await apiGet(`${RUN_API}/samples?split=${enc(PROD)}&limit=1`)).total;
  const driftedTotal = await totalOf(PROD, { drifted: true });

  // ---- Point 3: the insights link to their samples; each click is a history entry.
  const views = [];  // [url filter, table total] of each view, for back/forward
  await step('p3: an alert filters the table and the map', async () => {
    await page.goto(`${base}${RUN}?split=${enc(PROD)}`);
    await insightsReady();
    await mapSettled();
    assert(await tableTotal() === prodTotal, 'all production samples first');
    views.push([{}, prodTotal]);
    const alert = insights.alerts.find((a) => a.kind === 'data_drift');
    assert(alert, `a data drift alert on ${PROD}: ${JSON.stringify(insights.alerts.map((a) => a.kind))}`);
    const li = page.locator('[data-testid=insight-alerts] li[data-kind=data_drift]');
    // The alert keeps its list item role; a "show" button in it is the keyboard's way in.
    assert(await li.getByTestId('link-show').count() === 1, 'the alert has a show button');
    await li.click();
    await page.getByTestId('chip-drifted').waitFor();
    const want = alert.filter ?? { drifted: true };
    const total = await tableTotal();
    const expect = await totalOf(alert.split ?? PROD, want);
    assert(total === expect && total !== prodTotal, `the alert shows ${total} samples, the API ${expect} (of ${prodTotal})`);
    assert(same(urlFilter(), want), `the URL holds the filter: ${urlParam('f')}`);
    views.push([want, total]);
    // The map dims the other points: it matches exactly the table's samples (not downsampled).
    await mapSettled();
    const matched = Number(await page.getByTestId('map').getAttribute('data-matched'));
    assert(matched === total, `the map matches ${matched} points, the table ${total}`);
    const source = await page.getByTestId('map').getAttribute('data-match-source');
    // Drifted: on the map's own fields (its drifted flags) or by the drifted samples' ids.
    assert(['client', 'ids', 'server'].includes(source), `match source ${source}`);
    assert(await page.getByTestId('map').getAttribute('data-zoom') === 'match', 'the map zoomed to the matching points');
    const caption = await page.getByTestId('map-caption').textContent();
    assert(caption.includes(`${total} of ${prodTotal}`) && caption.includes('dimmed'), `caption: ${caption}`);
    await page.screenshot({ path: path.join(SHOTS, 'i16-p3-alert-click.png') });
  });

  await step('p3: a class bar and the stat cards', async () => {
    const label = insights.classes[1].label;
    await page.locator(`[data-testid=chart-class-share] .bar-row[data-label="${label}"]`).click();
    await page.getByTestId('chip-pred').waitFor();
    assert(await page.getByTestId('chip-drifted').count() === 0, 'a link replaces the filter');
    const byClass = await tableTotal();
    assert(byClass === await totalOf(PROD, { pred: [label] }), `class ${label}: ${byClass}`);
    assert(same(urlFilter(), { pred: [label] }), `URL filter ${urlParam('f')}`);
    views.push([{ pred: [label] }, byClass]);
    // From the keyboard: the stat card's "show" button (Enter); the card holds help buttons, so
    // it is not a button itself (axe: nested-interactive).
    const show = page.getByTestId('insight-boundary').getByTestId('link-show');
    assert(await show.count() === 1, 'the card has a show button');
    await show.focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('chip-boundary').waitFor();
    const boundary = await tableTotal();
    assert(boundary === await totalOf(PROD, { on_boundary: true }) && boundary === insights.on_the_boundary.count, `on the boundary: ${boundary}`);
    // "On the boundary" is not a field of the map: the server's match, or the samples' ids.
    await mapSettled();
    const src = await page.getByTestId('map').getAttribute('data-match-source');
    assert(src === (HAS_MATCH ? 'server' : 'ids'), `on the boundary matched by ${src}`);
    assert(Number(await page.getByTestId('map').getAttribute('data-matched')) === boundary, 'the map matches the boundary samples');
    views.push([{ on_boundary: true }, boundary]);
    await page.getByTestId('insight-shifted').click();
    await page.getByTestId('chip-shifted').waitFor();
    const shifted = await tableTotal();
    assert(shifted === await totalOf(PROD, { shifted: true }), `shifted: ${shifted}`);
    assert(urlParam('sort') === 'shift_score' && urlParam('order') === 'desc', `sorted by shift score: ${page.url()}`);
    const scores = await page.$$eval('[data-testid=sample-row] [data-col=shift_score]', (cs) => cs.map((c) => Number(c.textContent)));
    assert(scores.length > 1 && scores.every((v, i) => i === 0 || scores[i - 1] >= v), `shift scores descending: ${scores.slice(0, 6)}`);
    views.push([{ shifted: true }, shifted]);
    await page.getByTestId('insight-drifted').click();
    await page.getByTestId('chip-drifted').waitFor();
    assert(await tableTotal() === driftedTotal, 'the drifted card');
    views.push([{ drifted: true }, driftedTotal]);
    await page.getByTestId('insights').screenshot({ path: path.join(SHOTS, 'i16-p3-insights-links.png') });
  });

  await step('p3: back and forward restore each view', async () => {
    // A mark on the map element: back/forward must restore the view in place (no re-render).
    await page.getByTestId('map').evaluate((m) => { m.dataset.keep = '1'; });
    for (let i = views.length - 2; i >= 0; i--) {
      await page.goBack();
      const [f, n] = views[i];
      await waitForFunction(page, (want) => JSON.stringify(JSON.parse(new URL(location.href).searchParams.get('f') ?? '{}')) === want, JSON.stringify(f));
      assert(await tableTotal() === n, `back to view ${i} (${JSON.stringify(f)}): ${n} samples`);
      // The filter panel shows the restored filter.
      const chips = await page.$$eval('[data-testid=active-filters] .chip', (cs) => cs.length);
      assert(chips === Object.keys(f).length, `view ${i}: ${chips} chips`);
    }
    assert(await page.getByTestId('map').getAttribute('data-matched') === null, 'no filter: nothing dimmed');
    await page.goForward();
    await page.getByTestId('chip-drifted').waitFor();
    assert(await tableTotal() === views[1][1], 'forward to the alert view');
    // Still the same page: back/forward restored it in place (no reload, no re-render).
    assert(await page.getByTestId('map').getAttribute('data-keep') === '1', 'the page was restored in place');
  });

  // ---- Point 4: the map follows the table.
  await step('p4: dim, hide, refit, training hidden', async () => {
    // The drifted view (forward above). Dimmed: the canvas' alpha drops against no filter.
    await mapSettled();
    const dimmed = await canvasStats(page);
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'i16-p4-map-filtered.png') });
    await page.getByTestId('map-filter-mode').selectOption('hide');
    await waitForFunction(page, () => new URL(location.href).searchParams.get('mapf') === 'hide');
    const hiddenPts = Number(await page.getByTestId('map').getAttribute('data-visible-points'));
    const hidden = await canvasStats(page);
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'i16-p4-map-hidden.png') });
    // Training hidden too: only the matching production points are drawn.
    await page.getByTestId('map-show-training').uncheck();
    const onlyMatches = Number(await page.getByTestId('map').getAttribute('data-visible-points'));
    assert(onlyMatches === driftedTotal, `training and the others hidden: ${onlyMatches} points drawn, ${driftedTotal} drifted`);
    const caption = await page.getByTestId('map-caption').textContent();
    assert(caption.includes('training hidden') && caption.includes('hidden'), `caption with training hidden: ${caption}`);
    const legend = await page.getByTestId('map-legend').textContent();
    assert(!legend.includes('training'), `no training in the legend: ${legend}`);
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'i16-p4-map-training-hidden.png') });
    await page.getByTestId('map-show-training').check();
    // "All" fits every point again; "Matches" zooms back.
    await page.getByTestId('map-reset').click();
    assert(await page.getByTestId('map').getAttribute('data-zoom') === null, 'All: the whole map');
    const all = await canvasStats(page);
    await page.getByTestId('map-fit-match').click();
    assert(await page.getByTestId('map').getAttribute('data-zoom') === 'match', 'Matches: zoomed');
    // No filter: every point lit, fully.
    await page.locator('[data-testid=filter-reset]').click();
    await mapSettled();
    assert(await page.getByTestId('map').getAttribute('data-zoom') === null, 'no filter: the whole map again');
    const none = await canvasStats(page);
    const nonePts = Number(await page.getByTestId('map').getAttribute('data-visible-points'));
    log(`  map: no filter ${none.lit} lit px (alpha ${none.alpha}), drifted dimmed ${dimmed.lit} px (alpha ${dimmed.alpha}, zoomed), hidden ${hidden.lit} px, all ${all.lit} px; points ${nonePts} -> ${hiddenPts} with the others hidden`);
    assert(hiddenPts === nonePts - (prodTotal - driftedTotal), `hide leaves out the ${prodTotal - driftedTotal} others: ${nonePts} -> ${hiddenPts}`);
    assert(all.lit < none.lit, `hidden points are not drawn: ${all.lit} lit px with the others hidden, ${none.lit} without a filter`);
    await page.getByTestId('map-filter-mode').selectOption('dim');
    await page.getByTestId('filter-drifted').selectOption('true');
    await mapSettled();
    await page.getByTestId('map-reset').click();
    const dimAll = await canvasStats(page);
    assert(dimAll.alpha < none.alpha * 0.92, `dimmed: summed alpha ${dimAll.alpha} < ${none.alpha} without a filter`);
    await page.locator('[data-testid=filter-reset]').click();
    await mapSettled();
  });

  await step('p4: colour modes drifted and shift score', async () => {
    await page.getByTestId('map-color').selectOption('drifted');
    await waitForFunction(page, () => new URL(location.href).searchParams.get('map') === 'drifted');
    await waitForFunction(page, () => document.querySelector('[data-testid=map]')?.dataset.color === 'drifted' && !document.querySelector('[data-testid=map-legend]').textContent.includes('loading'));
    const legend = await page.getByTestId('map-legend').textContent();
    assert(legend.includes('drifted') && legend.includes('not drifted') && legend.includes('n/a (training)'), `drifted legend: ${legend}`);
    const st = await canvasStats(page);
    assert(st.red > 50, `drifted points drawn red: ${st.red} px`);
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'i16-p4-map-drifted.png') });
    await page.getByTestId('map-color').selectOption('shift');
    await waitForFunction(page, () => new URL(location.href).searchParams.get('map') === 'shift');
    assert(await page.getByTestId('map').getAttribute('data-color') === 'shift', 'shift score colours');
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'i16-p4-map-shift.png') });
    // The colour mode is part of the view: reload keeps it, back returns to drifted.
    await page.reload();
    await page.locator('[data-testid=map][data-ready="1"]').waitFor();
    assert(await page.getByTestId('map-color').inputValue() === 'shift', 'reload keeps the colour mode');
    await page.goBack();
    await waitForFunction(page, () => document.querySelector('[data-testid=map-color]')?.value === 'drift_score' || document.querySelector('[data-testid=map-color]')?.value === 'drifted');
    assert(await page.getByTestId('map-color').inputValue() === 'drifted', 'back: drifted colours');
    await page.getByTestId('map-color').selectOption('pred');
  });

  await step('p4: hover shows the text and scores', async () => {
    await mapSettled();
    const box = await page.getByTestId('map-overlay').boundingBox();
    const map = await apiGet(`${RUN_API}/map?splits=training,${enc(PROD)}&max_points=50000`);
    const b = map.bounds;
    const upp = Math.max((b.x1 - b.x0) / (box.width - 24), (b.y1 - b.y0) / (box.height - 24));
    const s0 = prodFirst[1];
    const px = box.x + box.width / 2 + (s0.x - (b.x0 + b.x1) / 2) / upp;
    const py = box.y + box.height / 2 - (s0.y - (b.y0 + b.y1) / 2) / upp;
    let requests = 0;
    const count = (r) => { if (/\/samples\/[^/?]+\/[^/?]+$/.test(new URL(r.url()).pathname)) requests++; };
    page.on('request', count);
    await page.mouse.move(px - 3, py);
    await page.mouse.move(px, py);
    await page.getByTestId('map-tip-text').waitFor();
    const id = await page.getByTestId('map-tip').getAttribute('data-id');
    const want = await apiGet(`${RUN_API}/samples/${enc(PROD)}/${enc(id)}`).catch(() => apiGet(`${RUN_API}/samples/training/${enc(id)}`));
    const text = await page.getByTestId('map-tip-text').textContent();
    assert(text === (want.text.length > 240 ? `${want.text.slice(0, 240)}…` : want.text), `hover text "${text}" is ${id}'s "${want.text}"`);
    const tip = await page.getByTestId('map-tip').textContent();
    assert(tip.includes(`pred ${want.pred}`) && /conf \d/.test(tip) && /DEP/.test(tip), `key scores in the tip: ${tip}`);
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'i16-p4-map-hover.png') });
    // Leaving and hovering the same point again: served from the cache.
    await page.mouse.move(box.x + 2, box.y + box.height + 40);
    const before = requests;
    await page.mouse.move(px, py);
    await page.getByTestId('map-tip-text').waitFor();
    assert(requests === before, `a second hover asks nothing (${requests - before} requests)`);
    page.off('request', count);
    await page.mouse.move(box.x + 2, box.y + box.height + 40);
  });

  // ---- Point 3: find similar adds to the filters; other splits; the open sample in the URL.
  await step('p3: find similar adds to the filters', async () => {
    const label = insights.classes[0].label;
    await page.locator(`[data-testid=filter-pred] [data-value="${label}"]`).click();
    await page.getByTestId('chip-pred').waitFor();
    const predTotal = await tableTotal();
    const first = page.getByTestId('sample-row').first();
    const opened = await first.getAttribute('data-id');
    await first.click();
    await page.locator('[data-testid=sample-panel][data-ready="1"]').waitFor();
    assert(same(JSON.parse(urlParam('open')), { split: PROD, id: opened }), `the open sample in the URL: ${urlParam('open')}`);
    await page.getByTestId('similar-k').fill('30');
    await page.getByTestId('find-similar').click();
    await page.getByTestId('chip-similar').waitFor();
    assert(await page.getByTestId('chip-pred').count() === 1, 'the class filter stays');
    assert(same(JSON.parse(urlParam('sim')), { split: PROD, id: opened, k: 30 }), `sim in the URL: ${urlParam('sim')}`);
    const total = await tableTotal();
    const nb = await apiGet(`${RUN_API}/similar?split=${enc(PROD)}&id=${enc(opened)}&k=30&in=${enc(PROD)}`);
    const near = nb.neighbors.filter((n) => n.split === PROD && n.id !== opened);
    const want = (await apiPost(`${RUN_API}/samples/query`, { split: PROD, ids: near.map((n) => n.id), pred: [label], limit: 1000 })).samples.map((s) => s.id);
    assert(total === want.length && total > 0 && total < predTotal, `similar AND class: ${total} rows, expected ${want.length}`);
    const rows = await page.$$eval('[data-testid=sample-row]', (rs) => rs.map((r) => r.dataset.id));
    assert(rows.every((id) => want.includes(id)), 'every row is a neighbour of the class');
    if (HAS_SIMILAR) {
      assert(urlParam('sort') === 'distance', `sorted by distance: ${page.url()}`);
      const d = await page.$$eval('[data-testid=sample-row] [data-col=distance]', (cs) => cs.map((c) => Number(c.textContent)));
      assert(d.length === rows.length && d.every((v, i) => i === 0 || d[i - 1] <= v), `distances ascending: ${d}`);
      const order = near.map((n) => n.id).filter((id) => want.includes(id));
      assert(same(rows, order.slice(0, rows.length)), `nearest first: ${rows} vs ${order}`);
    } else {
      log('  SKIP distance sort and column: the binary has no similar_* filter (the neighbours came as an id list)');
      assert(await page.locator('[data-testid=sort-distance]').count() === 0, 'no distance column without distances');
    }
    await mapSettled();
    assert(Number(await page.getByTestId('map').getAttribute('data-matched')) === total, 'the map matches the similar rows');
    await page.screenshot({ path: path.join(SHOTS, 'i16-p3-find-similar.png') });
    // Back: the class filter alone, the sample still open.
    await page.goBack();
    await waitForFunction(page, () => !document.querySelector('[data-testid=chip-similar]'));
    assert(await tableTotal() === predTotal, 'back: the class view');
    // Search another split: the neighbours in training.
    await page.locator('[data-testid=sample-panel][data-ready="1"]').waitFor();
    await page.getByTestId('similar-split').selectOption('training');
    await page.getByTestId('find-similar').click();
    await waitForFunction(page, () => new URL(location.href).searchParams.get('split') === 'training');
    await page.getByTestId('chip-similar').waitFor();
    const inTraining = await tableTotal();
    const nbt = await apiGet(`${RUN_API}/similar?split=${enc(PROD)}&id=${enc(opened)}&k=30&in=training`);
    const wantT = await totalOf('training', { ids: nbt.neighbors.map((n) => n.id), pred: [label] });
    assert(inTraining === wantT && inTraining > 0, `training neighbours of the class: ${inTraining}, expected ${wantT}`);
    const chip = await page.getByTestId('chip-similar').textContent();
    assert(chip.includes(opened) && chip.includes(`from ${PROD.slice('inference:'.length)}`), `chip: ${chip}`);
    await page.screenshot({ path: path.join(SHOTS, 'i16-p3-similar-other-split.png') });
    // Reload keeps the whole view: split, filter, similar, open sample.
    await page.reload();
    await page.getByTestId('chip-similar').waitFor();
    assert(await tableTotal() === inTraining, 'reload keeps the similar view');
    await page.locator('[data-testid=sample-panel][data-ready="1"]').waitFor();
    assert((await page.getByTestId('sample-id').textContent()).endsWith(` · ${opened}`), 'reload keeps the open sample');
    // Removing the similar chip keeps the class filter.
    await page.locator('[data-testid=chip-similar] button').click();
    await waitForFunction(page, () => !document.querySelector('[data-testid=chip-similar]'));
    assert(await page.getByTestId('chip-pred').count() === 1 && await tableTotal() === await totalOf('training', { pred: [label] }), 'the class filter remains');
    await page.getByTestId('sample-close').click();
    await waitForFunction(page, () => !new URL(location.href).searchParams.get('open'));
  });

  // ---- Point 3: a timeline point opens its set with its metric's filter.
  await step('p3: timeline points link with their filter', async () => {
    const tl = await fetch(`${base}/api/runs/demo/daily/timeline`);
    if (tl.status !== 200) { log('  SKIP: no timeline on this server'); return; }
    const sets = (await tl.json()).sets.map((s) => s.split);
    await page.goto(`${base}/runs/demo/daily/timeline`);
    await page.locator('[data-testid=timeline-page][data-ready="1"]').waitFor();
    const target = sets.includes('inference:zulu') ? 'inference:zulu' : sets[0];
    await page.locator(`[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-point][data-set="${target}"]`).click();
    await page.getByTestId('run-page').waitFor();
    assert(urlParam('split') === target && same(urlFilter(), { drifted: true }) && urlParam('sort') === 'drift_score', `drifted share point: ${page.url()}`);
    await page.getByTestId('chip-drifted').waitFor();
    const n = await tableTotal();
    assert(n === (await apiPost('/api/runs/demo/daily/samples/query', { split: target, drifted: true, limit: 1 })).total && n > 0, `the set's drifted samples: ${n}`);
    await page.screenshot({ path: path.join(SHOTS, 'i16-p3-timeline-link.png') });
    await page.goBack();
    await page.locator('[data-testid=timeline-page][data-ready="1"]').waitFor();
    const cls = page.locator('[data-testid=tl-chart][data-metric="per_class.pred_share"] [data-testid=tl-point]').first();
    const series = await cls.getAttribute('data-series');
    // (Overlapping series and rule labels may cover the point: the click is sent to it.)
    await cls.evaluate((a) => a.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, button: 0 })));
    await page.getByTestId('run-page').waitFor();
    assert(same(urlFilter(), { pred: [series] }), `class share point: ${page.url()}`);
    await page.getByTestId('chip-pred').waitFor();
    // The monitoring pages answer 404 on a server without the alerts API (the page says so).
    for (let i = errors.length - 1; i >= 0; i--) if (/404/.test(errors[i])) errors.splice(i, 1);
  });

  // ---- Point 4: a selection shown dims the map to its samples.
  await step('p4: a selection shown in the table and on the map', async () => {
    await apiPost(`${RUN_API}/selections`, { name: 'picked' });
    const ids = (await apiGet(`${RUN_API}/samples?split=${enc(PROD)}&limit=25&sort=confidence`)).samples.map((x) => x.id);
    await apiPost(`${RUN_API}/selections/picked/add`, { items: ids.map((id) => ({ split: PROD, id })) });
    await page.goto(`${base}${RUN}?split=${enc(PROD)}`);
    await page.locator('[data-testid=selection-item][data-name=picked] [data-testid=selection-show]').click();
    await page.getByTestId('chip-ids').waitFor();
    assert(await tableTotal() === ids.length, 'the table shows the selection');
    await mapSettled();
    assert(Number(await page.getByTestId('map').getAttribute('data-matched')) === ids.length, 'the map matches the selection');
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'i16-p4-map-selection.png') });
  });

  // ---- Point 3 (and 9): the NER span view's state in the URL.
  await step('p3: the spans view state in the URL', async () => {
    const ner = await apiGet('/api/runs/demo/ner');
    const labeled = ner.splits.map((s) => s.split).find((s) => s === 'validation') ?? 'training';
    await page.goto(`${base}/runs/demo/ner?split=${labeled}`);
    await page.getByTestId('view-spans').click();
    await waitForFunction(page, () => new URL(location.href).searchParams.get('view') === 'spans');
    await page.getByTestId('span-filter-error').selectOption('wrong_tag');
    await waitForFunction(page, () => new URL(location.href).searchParams.get('sf') !== null);
    await page.getByTestId('span-sort-confidence').click();
    await waitForFunction(page, () => new URL(location.href).searchParams.get('ss') === 'confidence');
    assert(same(JSON.parse(urlParam('sf')), { error_type: 'wrong_tag' }), `span filter in the URL: ${urlParam('sf')}`);
    const spanTotal = async () => {
      await waitForFunction(page, () => !document.querySelector('[data-testid=span-table]')?.dataset.loading && /span/.test(document.querySelector('[data-testid=span-table-status]')?.textContent ?? ''));
      return Number((await page.getByTestId('span-table-status').textContent()).replace(/[^\d]/g, ''));
    };
    const n = await spanTotal();
    assert(n === (await apiGet(`/api/runs/demo/ner/spans?split=${labeled}&error_type=wrong_tag&limit=1`)).total, `wrong tag spans: ${n}`);
    await page.reload();
    await page.locator('[data-testid=span-table]:not([hidden])').waitFor();
    assert(await page.getByTestId('span-filter-error').inputValue() === 'wrong_tag', 'reload keeps the span filter');
    assert(await spanTotal() === n, 'reload keeps the span rows');
    assert((await page.getByTestId('span-sort-confidence').textContent()).includes('▼') || (await page.getByTestId('span-sort-confidence').textContent()).includes('▲'), 'reload keeps the span sort');
    await page.screenshot({ path: path.join(SHOTS, 'i16-p3-spans-url.png') });
    // Back: unsorted, then unfiltered, then the samples view.
    await page.goBack();
    await waitForFunction(page, () => !new URL(location.href).searchParams.get('ss'));
    await page.goBack();
    await waitForFunction(page, () => !new URL(location.href).searchParams.get('sf'));
    assert(await page.getByTestId('span-filter-error').inputValue() === '', 'back: no span filter');
    await page.goBack();
    await waitForFunction(page, () => !new URL(location.href).searchParams.get('view'));
    await page.locator('[data-testid=sample-table]:not([hidden])').waitFor();
    // The drifted span figure of the NER inference set opens the span view on drifted spans.
    const nerProd = ner.splits.map((x) => x.split).find((x) => x.startsWith('inference:'));
    if (nerProd) {
      await page.goto(`${base}/runs/demo/ner?split=${enc(nerProd)}`);
      const card = page.locator('[data-testid=insights][data-ready="1"] [data-testid=insight-span-drifted]');
      await card.waitFor();
      await card.click();
      await waitForFunction(page, () => new URL(location.href).searchParams.get('view') === 'spans');
      assert(same(JSON.parse(urlParam('sf')), { drifted: true }), `drifted spans: ${urlParam('sf')}`);
      const drifted = (await apiGet(`/api/runs/demo/ner/spans?split=${enc(nerProd)}&drifted=true&limit=1`)).total;
      assert(await spanTotal() === drifted, `the ${drifted} drifted spans`);
      assert(await page.getByTestId('span-filter-drifted').inputValue() === 'true', 'the span filter shows it');
    }
  });

  // ---- Point 3: the verdict's per-class findings link to their samples too.
  await step('p3: a verdict finding filters the table', async () => {
    const finding = (insights.verdict?.findings ?? []).find((f) => f.filter);
    if (!finding) { log(`  SKIP (no verdict finding with a filter on ${PROD})`); return; }
    await page.goto(`${base}${RUN}?split=${enc(PROD)}`);
    await insightsReady();
    const li = page.locator('[data-testid=verdict-findings] li[data-link-filter]').first();
    assert(JSON.stringify(JSON.parse(await li.getAttribute('data-link-filter'))) === JSON.stringify(finding.filter), 'the first finding carries its filter');
    await li.click();
    await waitForFunction(page, () => new URL(location.href).searchParams.get('f') !== null);
    const canon = (f) => JSON.stringify(Object.keys(f).sort().map((k) => [k, f[k]]));
    assert(canon(urlFilter()) === canon(finding.filter), `the URL holds the finding's filter: ${urlParam('f')}`);
    const total = await tableTotal();
    const expect = await totalOf(PROD, finding.filter);
    assert(total === expect && total < prodTotal, `the finding shows ${total} samples, the API ${expect} (of ${prodTotal})`);
    await page.screenshot({ path: path.join(SHOTS, 'i16-p3-finding-click.png') });
  });

  // ---- Point 3 against the contract's server side (similar_*, distance, the map's match), as
  // tests/browser/mock_server.mjs serves it: the same console code on a server that has them.
  await step('p3/p4 (contract, mock server): similar sorted by distance, the map\'s match', async () => {
    const mock = await serveMock();
    const mget = async (p) => { const r = await fetch(mock + p); const t = await r.text(); assert(r.ok, `GET ${p}: ${r.status} ${t}`); return JSON.parse(t); };
    await page.goto(`${mock}${RUN}?split=${enc(PROD)}`);
    await page.locator('[data-testid=insights][data-ready="1"]').waitFor();
    await mapSettled();
    const label = 'positive';
    await page.locator(`[data-testid=filter-pred] [data-value="${label}"]`).click();
    await page.getByTestId('chip-pred').waitFor();
    const first = page.getByTestId('sample-row').first();
    const opened = await first.getAttribute('data-id');
    await first.click();
    await page.locator('[data-testid=sample-panel][data-ready="1"]').waitFor();
    await page.getByTestId('similar-k').fill('40');
    await page.getByTestId('find-similar').click();
    await page.getByTestId('chip-similar').waitFor();
    await waitForFunction(page, () => new URL(location.href).searchParams.get('sort') === 'distance');
    const total = await tableTotal();
    const want = await mget(`${RUN_API}/samples?split=${enc(PROD)}&pred=${label}&similar_split=${enc(PROD)}&similar_id=${enc(opened)}&similar_k=40&sort=distance&limit=1000`);
    assert(total === want.total && total > 0 && total < 40, `similar AND class: ${total} rows, the API ${want.total}`);
    const rows = await page.$$eval('[data-testid=sample-row]', (rs) => rs.map((r) => r.dataset.id));
    // (The table is virtualised: the rows in the DOM are the first ones.)
    assert(rows.length > 0 && same(rows, want.samples.slice(0, rows.length).map((x) => x.id)), `nearest first: ${rows.slice(0, 5)} vs ${want.samples.slice(0, 5).map((x) => x.id)}`);
    const d = await page.$$eval('[data-testid=sample-row] [data-col=distance]', (cs) => cs.map((c) => Number(c.textContent)));
    assert(d.length === rows.length && d.every((v, i) => i === 0 || d[i - 1] <= v), `the distance column, ascending: ${d.slice(0, 6)}`);
    assert(await page.getByTestId('sort-distance').count() === 1, 'the distance column header');
    // Not a field of the map: matched by the server's `match`.
    await mapSettled();
    assert(await page.getByTestId('map').getAttribute('data-match-source') === 'server', 'the map matched by the server');
    assert(Number(await page.getByTestId('map').getAttribute('data-matched')) === total, 'the map matches the rows');
    await page.screenshot({ path: path.join(SHOTS, 'i16-p3-similar-distance.png') });
    // Another split: the 40 nearest training samples of the class, by distance.
    await page.getByTestId('similar-split').selectOption('training');
    await page.getByTestId('find-similar').click();
    await waitForFunction(page, () => new URL(location.href).searchParams.get('split') === 'training');
    const inTraining = await tableTotal();
    const wantT = await mget(`/api/runs/demo/sentiment/samples?split=training&pred=${label}&similar_split=${enc(PROD)}&similar_id=${enc(opened)}&similar_k=40&limit=1`);
    assert(inTraining === wantT.total && inTraining > 0, `training: ${inTraining} rows, the API ${wantT.total}`);
    assert(urlParam('sort') === 'distance', 'sorted by distance in training');
    // Back twice: the class filter, no similar, no distance sort (a 400 without similar).
    await page.goBack();
    await waitForFunction(page, () => new URL(location.href).searchParams.get('split') !== 'training');
    await page.goBack();
    await waitForFunction(page, () => !document.querySelector('[data-testid=chip-similar]'));
    assert(urlParam('sort') !== 'distance' && await page.getByTestId('sort-distance').count() === 0, 'back: no distance sort or column');
    assert(await tableTotal() === (await mget(`${RUN_API}/samples?split=${enc(PROD)}&pred=${label}&limit=1`)).total, 'back: the class filter alone');
  });

  // ---- Point 4: the lasso at 100k points (a generated run: 100k training, 100k production).
  if (BIG) await step(`p4: the lasso at ${BIG_N.toLocaleString()} production samples`, async () => {
    // BIG_ROOT: a store made already by make_run.py --sizes N,2000,N --only-sentiment.
    const root = process.env.BIG_ROOT || path.join(TMP, 'big');
    if (!process.env.BIG_ROOT) makeRun(root, path.join(TMP, 'big-data'), ['--sizes', `${BIG_N},2000,${BIG_N}`, '--only-sentiment']);
    const big = await serve(root);
    const t0 = Date.now();
    await page.goto(`${big}${RUN}?split=${enc(PROD)}`);
    await page.locator('[data-testid=map][data-ready="1"]').waitFor({ timeout: 120000 });
    const pts = Number(await page.getByTestId('map').getAttribute('data-visible-points'));
    log(`  ${pts.toLocaleString()} map points drawn, page ready in ${Date.now() - t0} ms; build ${await page.getByTestId('map').getAttribute('data-build-ms')} ms`);
    assert(pts >= BIG_N, `every production sample drawn (training too): ${pts} points`);
    // Hover at 200k points: the tip (and the sample's text) under the pointer.
    {
      const box = await page.getByTestId('map-overlay').boundingBox();
      const mp0 = await fetch(`${big}${RUN_API}/map?splits=training,${enc(PROD)}&max_points=1`).then((r) => r.json());
      const b = mp0.bounds;
      const upp = Math.max((b.x1 - b.x0) / (box.width - 24), (b.y1 - b.y0) / (box.height - 24));
      const s0 = await fetch(`${big}${RUN_API}/samples/${enc(PROD)}/prod-0`).then((r) => r.json());
      const px = box.x + box.width / 2 + (s0.x - (b.x0 + b.x1) / 2) / upp, py = box.y + box.height / 2 - (s0.y - (b.y0 + b.y1) / 2) / upp;
      const th = Date.now();
      await page.mouse.move(px - 2, py);
      await page.mouse.move(px, py);
      await page.locator('[data-testid=map-tip]:not([hidden])').waitFor();
      const tipMs = Date.now() - th;
      await page.getByTestId('map-tip-text').waitFor();
      log(`  hover at ${pts.toLocaleString()} points: nearest point found in ${await page.getByTestId('map').getAttribute('data-hover-ms')} ms; the tip in ${tipMs} ms, the text in ${Date.now() - th} ms (120 ms of rest, then the server's first sample read)`);
      await page.mouse.move(box.x + 2, box.y + box.height + 40);
    }
    await page.getByTestId('map-show-training').uncheck();
    const box = await page.getByTestId('map-overlay').boundingBox();
    const cx = box.x + box.width * 0.5, cy = box.y + box.height * 0.5, rx = box.width * 0.18, ry = box.height * 0.18;
    const ring = Array.from({ length: 32 }, (_, i) => [cx + rx * Math.cos((i / 32) * 2 * Math.PI), cy + ry * Math.sin((i / 32) * 2 * Math.PI)]);
    const respP = page.waitForResponse((r) => r.url().endsWith('/samples/query') && r.request().method() === 'POST', { timeout: 60000 });
    const t1 = Date.now();
    await page.mouse.move(ring[0][0], ring[0][1]);
    await page.mouse.down();
    for (const [x, y] of ring.slice(1)) await page.mouse.move(x, y, { steps: 2 });
    await page.mouse.up();
    const resp = await respP;
    assert(resp.ok(), `samples/query: ${resp.status()}`);
    const poly = resp.request().postDataJSON().polygon;
    await page.getByTestId('chip-lasso').waitFor();
    const total = await tableTotal();
    await waitForFunction(page, () => { const m = document.querySelector('[data-testid=map]'); return !m.dataset.matching && m.dataset.matched !== undefined; }, null, 60000);
    const lassoMs = Date.now() - t1;
    const matched = Number(await page.getByTestId('map').getAttribute('data-matched'));
    const expect = (await fetch(`${big}${RUN_API}/samples/query`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ split: PROD, polygon: poly, limit: 1 }) }).then((r) => r.json())).total;
    assert(total === expect && total > 0 && total < BIG_N, `the lasso holds ${total} of ${BIG_N} (API ${expect})`);
    // The map's points inside the polygon are the matched ones (downsampled points stand for more).
    const mp = await fetch(`${big}${RUN_API}/map?splits=${enc(PROD)}&max_points=100000`).then((r) => r.json());
    const P = mp.splits[0].points;
    let inside = 0;
    for (let i = 0; i < P.x.length; i++) if (pointInPolygon(poly, P.x[i], P.y[i])) inside++;
    assert(matched === inside && matched > 0, `the map matches its ${inside} points inside the lasso: ${matched}`);
    const first = await page.$$eval('[data-testid=sample-row]', (rs) => rs.slice(0, 5).map((r) => r.dataset.id));
    const sample = await fetch(`${big}${RUN_API}/samples/${enc(PROD)}/${enc(first[0])}`).then((r) => r.json());
    assert(pointInPolygon(poly, sample.x, sample.y), `the first row ${first[0]} lies in the lasso`);
    log(`  lasso at ${BIG_N.toLocaleString()}: ${total} samples, ${matched} map points, table + map in ${lassoMs} ms; build ${await page.getByTestId('map').getAttribute('data-build-ms')} ms`);
    await page.getByTestId('map').screenshot({ path: path.join(SHOTS, 'i16-p4-lasso-100k.png') });
  }); else log('  SKIP the 100k lasso (BIG=0)');

  assert(errors.length === 0, `no page errors: ${errors.join('\n')}`);
}

try {
  await main();
  log(`PASS (screenshots in ${SHOTS})`);
} catch (e) {
  console.error(e.stack || e.message);
  process.exitCode = 1;
} finally {
  await cleanup();
}
