// Browser test of issue 16's console points 2 and 5 to 9, against the real `sextant serve`:
//
//   node tests/browser/console_ui.test.mjs      (tests/browser/run.sh builds web/dist first)
//
// Environment as console.test.mjs: SEXTANT_BIN, CHROMIUM, SCREENSHOTS, KEEP=1.
//
// It makes the demo runs (tests/browser/make_run.py: sentiment, NER, NLI, daily), serves them
// on a fixed port (so the server can be stopped and started again), and checks with
// assertions, each point with its screenshots (i16-p<point>-*.png):
//  2. the verdict panel: interval, nominal share, p-value (never "p = 0": a server verdict
//     and a summary with underflowed p-values are fed through page.route), threshold and
//     reference, per-class findings, severity colours, the disagreement sentence (a 6.0%
//     drifted share next to a shifted domain test), the reason of a run too small for
//     drift; help buttons (tooltip and popover) for DEP, drift score, out of coverage, on the
//     boundary, domain AUC, shift score, margin; a score that rounds to the threshold.
//  5. the export menu: its links carry the table's sort/order, the top N and the visible
//     columns; the download (where the server honours them) holds the table's first N rows.
//  6. tooltips on truncated cells, a column resized by dragging, the sample panel beside
//     (not over) the score columns, every flag column inside a 1,000 px viewport, the light
//     theme under prefers-color-scheme: light, the toggle remembered across a reload.
//  7. sorting from the keyboard (aria-sort and the row order change), arrow keys between
//     rows, Enter opens the sample (focus into the dialog), Escape closes it (focus back),
//     tabs with arrow keys, map controls named; axe-core (web/node_modules) with no serious
//     or critical violation on the run page (sentiment, NER, NLI; dark and light), the
//     project list and the timeline.
//  8. an invalid regex marks its field and disables the exports (no "No sample matches");
//     the server stopped: one banner with Retry; started again: Retry clears it.
//  9. NER: the entity-type filter (sent as entity_type), alerts by entity type, the sample's
//     span_errors / min_span_confidence.
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
const AXE = path.join(REPO, 'web/node_modules/axe-core/axe.min.js');

const BIN = path.resolve(REPO, process.env.SEXTANT_BIN || 'build/src/cli/sextant');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(REPO, process.env.SCREENSHOTS || 'artifacts/screenshots');
const PYTHON = process.env.PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const DIST = path.join(REPO, 'web/dist');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-ui16-'));
const ROOT = path.join(TMP, 'store');
const PROD = 'inference:prod_1';
const RUN = '/runs/demo/sentiment';
const RUN_API = '/api/runs/demo/sentiment';

let context = null;
let server = null;
let failed = false;

function log(...a) { console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a); }
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }
const shot = (name) => path.join(SHOTS, name);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

/** `sextant serve` on `port`; resolves once /api/health answers. */
async function serve(port, extra = []) {
  const proc = spawn(BIN, ['serve', '--root', ROOT, '--port', String(port), '--static', DIST, ...extra],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SEXTANT_HOME: ROOT } });
  const base = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  while (Date.now() - t0 < 30000) {
    if (proc.exitCode !== null) throw new Error(`sextant serve exited with ${proc.exitCode}`);
    try { if ((await fetch(`${base}/api/health`)).ok) return proc; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('sextant serve did not answer /api/health in 30 s');
}

async function stop(proc) {
  if (!proc || proc.exitCode !== null) return;
  const gone = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  await gone;
}

// The console's CSP forbids eval: poll with page.evaluate (as console.test.mjs).
async function waitForFunction(page, fn, arg, timeout = 15000) {
  const until = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${fn}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** axe-core's violations of impact serious or critical on the page as it is. */
async function axeViolations(page, what) {
  // page.addScriptTag would be an inline script, which the console's CSP (rightly) blocks;
  // page.evaluate runs axe's source through the DevTools protocol, outside the CSP.
  if (!await page.evaluate(() => typeof window.axe === 'object')) await page.evaluate(`${fs.readFileSync(AXE, 'utf8')}\n;true`);
  const res = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ')) }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  log(`  axe on ${what}: ${res.length} violation(s), ${bad.length} serious/critical${res.length ? `: ${res.map((v) => `${v.id}(${v.impact})`).join(', ')}` : ''}`);
  return bad;
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  fs.rmSync(shot('i16-failure.png'), { force: true });  // left only by a failed run
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('web/dist is not built (run tests/browser/run.sh)');
  if (!fs.existsSync(BIN)) throw new Error(`the sextant binary was not found at ${BIN} (set SEXTANT_BIN)`);
  if (!fs.existsSync(AXE)) throw new Error(`axe-core is not installed (${AXE}): npm ci in web/`);
  log('making the runs with', BIN);
  const made = spawnSync(PYTHON, [path.join(REPO, 'tests/browser/make_run.py'), BIN, ROOT, path.join(TMP, 'data')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (made.status !== 0) throw new Error(`make_run.py exited with ${made.status}`);
  const port = await freePort();
  server = await serve(port);
  const base = `http://127.0.0.1:${port}`;
  log(`server ready on ${base}`);
  const apiGet = async (p) => { const r = await fetch(base + p); const t = await r.text(); assert(r.ok, `GET ${p}: ${r.status} ${t}`); return JSON.parse(t); };

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  context = browser;
  const dark = await browser.newContext({ viewport: { width: 1600, height: 1000 }, colorScheme: 'dark', acceptDownloads: true });
  const page = await dark.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.setDefaultTimeout(15000);
  let current = page;
  const step = async (name, fn) => {
    log(`step: ${name}`);
    try { await fn(); } catch (e) {
      await current.screenshot({ path: shot('i16-failure.png') }).catch(() => {});
      throw new Error(`step "${name}" failed: ${e.message}\n${errors.join('\n')}`);
    }
  };
  const ready = async (p = page) => {
    await p.getByTestId('run-page').waitFor();
    await p.locator('[data-testid=insights][data-ready="1"]').waitFor();
    await p.locator('[data-testid=verdict][data-ready="1"]').waitFor();
    await waitForFunction(p, () => !document.querySelector('[data-testid=sample-table]')?.dataset.loading);
  };
  const open = async (url, p = page) => { await p.goto(base + url); await ready(p); };
  const prodUrl = `${RUN}?split=${encodeURIComponent(PROD)}`;
  const summary = await apiGet(`${RUN_API}/summary`);
  const threshold = summary.parameters.drift_threshold;
  const P_ZERO = /\bp\s*=\s*0(\.0+)?(?![.\de])/;

  // ---- point 2: the verdict
  await step('p2: the verdict panel (sentiment production set)', async () => {
    await open(prodUrl);
    const v = page.getByTestId('verdict');
    const text = await v.innerText();
    assert(!P_ZERO.test(text), `no "p = 0" in the verdict: ${text}`);
    const dv = summary.splits[PROD].drift_verdict;
    const share = await v.getByTestId('verdict-drift-share').textContent();
    assert(share.includes(`${(dv.fraction * 100).toFixed(1)}%`) && share.includes(`[${(dv.ci_low * 100).toFixed(1)}%, ${(dv.ci_high * 100).toFixed(1)}%]`),
      `share with its interval: ${share}`);
    assert(/p = \d/.test(await v.getByTestId('verdict-drift-p').textContent()), 'a p-value');
    assert(text.includes(`${(dv.nominal * 100).toFixed(1)}% nominal`), 'the nominal share');
    const thr = v.getByTestId('verdict-threshold');
    assert(Math.abs(Number(await thr.getAttribute('data-threshold')) - threshold) < 1e-12, 'the threshold is the summary\'s');
    assert((await thr.textContent()).includes(threshold.toFixed(3)) && /percentile of .*validation/.test(await thr.textContent()), `threshold and reference: ${await thr.textContent()}`);
    assert(await v.getByTestId('verdict-drift').getAttribute('data-severity') === 'critical', '29.5% drifted is critical');
    assert(await v.getByTestId('verdict-domain').getAttribute('data-severity') !== 'ok', 'the shifted domain test is coloured');
    assert(await v.locator('[data-testid=verdict-findings] li').count() === 3, 'a finding per class');
    // The drifted stat card follows the verdict's colour and shows the threshold.
    assert(await page.locator('[data-testid=insight-drifted]').getAttribute('data-severity') === 'critical', 'stat card severity');
    assert((await page.getByTestId('insight-threshold').textContent()).includes(threshold.toFixed(3)), 'threshold on the stat card');
    const domainSub = await page.locator('[data-testid=insight-domain-test]').textContent();
    assert(!P_ZERO.test(domainSub) && /p = \d/.test(domainSub), `domain stat p-value: ${domainSub}`);
    await page.getByTestId('insights').screenshot({ path: shot('i16-p2-verdict.png') });
  });

  await step('p2: help text as tooltips and an accessible popover', async () => {
    for (const key of ['dep', 'drift_score', 'on_the_boundary', 'domain_auc', 'shift_score', 'margin', 'threshold']) {
      const b = page.locator(`[data-help=${key}]`).first();
      assert(await b.count() === 1, `a help button for ${key}`);
      const title = await b.getAttribute('title');
      assert(title && title.length > 40, `${key} tooltip: ${title}`);
      assert((await b.getAttribute('aria-label')).startsWith('What is'), `${key} accessible name`);
    }
    const dep = page.locator('[data-help=dep]').first();
    await dep.click();
    const pop = page.locator(`#${await dep.getAttribute('aria-controls')}`);
    assert(await pop.isVisible() && await dep.getAttribute('aria-expanded') === 'true', 'the DEP popover opens');
    assert(/data error potential/i.test(await pop.textContent()), 'it explains DEP');
    assert(await page.locator('[data-testid=sort-dep]').getAttribute('aria-sort') === 'none', 'the help click did not sort');
    await page.getByTestId('insights').screenshot({ path: shot('i16-p2-help.png') });
    await page.screenshot({ path: shot('i16-p2-help-dep.png') });
    await dep.press('Escape');
    assert(!(await pop.isVisible()), 'Escape closes it');
    // Labeled splits say "out of coverage", with its own help.
    await page.locator('[data-testid=split-option][data-split="validation"]').click();
    await page.locator('[data-testid=insights][data-ready="1"] [data-help=out_of_coverage]').waitFor();
    await page.locator('[data-testid=verdict][data-ready="1"]').waitFor();
    assert(/within coverage|drift detected|the reference/.test(await page.getByTestId('verdict').innerText()), 'validation\'s verdict');
  });

  await step('p2: underflowed p-values, disagreement, small runs (fed through page.route)', async () => {
    // A server verdict with underflowed p-values and a 6.0% drifted share next to a shift.
    const p2 = await dark.newPage();
    p2.setDefaultTimeout(15000);
    current = p2;
    await p2.route('**/insights?*', async (route) => {
      const r = await route.fetch();
      const d = await r.json();
      d.verdict = {
        lines: ['inference:prod_1          no drift (p = 0.059, 6.0% [4.4%, 8.1%] vs 5.0% nominal)'],
        drift: { available: true, reason: null, k: 10, threshold: 0.1164, threshold_source: "95th percentile of validation's k-NN distance",
          share: { value: 0.06, low: 0.044, high: 0.081 }, nominal: 0.05, p_value: 0.059, log10_p_value: -1.229, p_text: 'p = 0.059', drifted: false, text: 'no drift' },
        domain_test: { reference: 'validation', auc: 0.91, auc_low: 0.89, auc_high: 0.93, p_value: 0, log10_p_value: -412, p_text: 'p = 0',
          shifted: true, shift_threshold: 0.6, shifted_share: 0.4, text: 'shift' },
        disagreement: null,
        findings: [{ severity: 'warning', label: 'neutral', text: "predicted 'neutral': 11.0% drifted, p = 0", p_text: 'p = 0', filter: { pred: ['neutral'], drifted: true } }],
        span_drift: null,
      };
      d.alerts = [{ kind: 'distribution_shift', severity: 'critical', message: 'a domain classifier tells these samples from validation (AUC 0.910, p = 0.0)' }];
      await route.fulfill({ response: r, json: d });
    });
    await open(prodUrl, p2);
    const v = p2.getByTestId('verdict');
    const text = await v.innerText();
    assert(!P_ZERO.test(text), `no "p = 0": ${text}`);
    assert((await v.getByTestId('verdict-domain-p').textContent()) === 'p < 1e-300', 'underflow written as p < 1e-300');
    assert(!P_ZERO.test(await p2.getByTestId('insight-alerts').textContent()), 'alerts rewritten too');
    const sev = await v.getByTestId('verdict-drift').getAttribute('data-severity');
    assert(sev === 'warning' || sev === 'info', `6.0% next to a critical shift is not neutral: ${sev}`);
    const dis = await v.getByTestId('verdict-disagreement').textContent();
    assert(/disagree/i.test(dis) && /AUC 0\.910/.test(dis), `the disagreement sentence: ${dis}`);
    assert(await v.getByTestId('verdict-domain').getAttribute('data-severity') === 'critical', 'AUC 0.91 critical');
    assert(await v.getAttribute('data-source') === 'server', 'from the server verdict');
    await p2.getByTestId('insights').screenshot({ path: shot('i16-p2-disagreement.png') });
    await p2.close();

    // An older server (no verdict): from the summary, whose p-values underflowed; and a
    // split too small for drift gives its reason.
    const p3 = await dark.newPage();
    p3.setDefaultTimeout(15000);
    current = p3;
    // As an older server: insights without `verdict`.
    await p3.route('**/insights?*', async (route) => {
      const r = await route.fetch();
      const d = await r.json();
      delete d.verdict;
      await route.fulfill({ response: r, json: d });
    });
    await p3.route('**/summary', async (route) => {
      const r = await route.fetch();
      const d = await r.json();
      Object.assign(d.splits[PROD].drift_verdict, { p_value: 0, log10_p_value: -6.42 });
      d.splits[PROD].drift_verdict.per_class.neutral.p_value = 0;
      d.splits[PROD].drift_verdict.per_class.neutral.log10_p_value = -400;
      d.splits.validation.drift_verdict = undefined;
      d.splits.validation.drift_unavailable_reason = 'drift needs at least k + 1 = 11 training samples; training has 4';
      await route.fulfill({ response: r, json: d });
    });
    await open(prodUrl, p3);
    const v3 = p3.getByTestId('verdict');
    assert(await v3.getAttribute('data-source') === 'summary', 'from the summary');
    assert((await v3.getByTestId('verdict-drift-p').textContent()) === 'p = 3.8e-7', `from log10: ${await v3.getByTestId('verdict-drift-p').textContent()}`);
    assert((await v3.locator('[data-label=neutral]').textContent()).includes('p < 1e-300'), 'per-class underflow');
    assert(!P_ZERO.test(await v3.innerText()), 'no "p = 0" from the summary');
    await p3.locator('[data-testid=split-option][data-split="validation"]').click();
    await p3.locator('[data-testid=verdict-drift-unavailable]').waitFor();
    assert((await p3.getByTestId('verdict-drift-unavailable').textContent()).includes('at least k + 1 = 11'), 'the small-run reason');
    await p3.getByTestId('insights').screenshot({ path: shot('i16-p2-drift-unavailable.png') });
    await p3.close();
    current = page;
  });

  await step('p10: a first run with 4 training samples opens with everything but drift', async () => {
    // demo/first_try (make_run.py): finished for real, with fewer than k + 1 training samples.
    const sum = await apiGet('/api/runs/demo/first_try/summary');
    const reason = sum.parameters.drift_unavailable_reason;
    assert(typeof reason === 'string' && reason.includes('training has 4'), `the summary says why: ${reason}`);
    await page.goto(`${base}/runs/demo/first_try?split=${encodeURIComponent('inference:first_prod')}`);
    await page.locator('[data-testid=insights][data-ready="1"]').waitFor();
    const why = page.getByTestId('verdict-drift-unavailable');
    await why.waitFor();
    assert((await why.textContent()).includes('training has 4'), `the console says why: ${await why.textContent()}`);
    const verdictText = await page.getByTestId('verdict').innerText();
    assert(!/undefined|NaN/.test(verdictText) && await page.getByTestId('verdict-threshold').count() === 0,
      `no threshold line without drift: ${verdictText}`);
    // Every other result is there: the table's 30 predictions with their confidence.
    await page.locator('[data-testid=sample-row]').first().waitFor();
    assert((await page.getByTestId('table-status').textContent()).startsWith('30 '), 'the 30 production samples');
    const first = (await apiGet(`/api/runs/demo/first_try/samples?split=${encodeURIComponent('inference:first_prod')}&limit=1`)).samples[0];
    assert(first.pred && typeof first.confidence === 'number' && first.drift_score === null, `a prediction without drift: ${JSON.stringify(first)}`);
    await page.screenshot({ path: shot('i16-p10-first-run.png') });
  });

  await step('p2: a drift score that rounds to the threshold', async () => {
    const p4 = await dark.newPage();
    current = p4;
    await p4.route('**/samples?*', async (route) => {
      const r = await route.fetch();
      const d = await r.json();
      if (d.samples?.length > 1) {
        // Both round to the threshold at 2 digits (what the table showed before).
        Object.assign(d.samples[0], { drift_score: threshold - 0.0001, is_drifted: false });
        Object.assign(d.samples[1], { drift_score: threshold + 0.0001, is_drifted: true });
      }
      await route.fulfill({ response: r, json: d });
    });
    await open(prodUrl, p4);
    await waitForFunction(p4, () => !!document.querySelector('[data-testid=verdict-threshold]'));
    const cells = await p4.$$eval('[data-testid=sample-row] [data-col=drift_score]', (cs) => cs.slice(0, 2).map((c) => c.textContent));
    assert(Number(cells[0]) < threshold && cells[0] !== threshold.toFixed(cells[0].split('.')[1].length), `below: ${cells[0]} vs ${threshold}`);
    assert(Number(cells[1]) > threshold, `above: ${cells[1]} vs ${threshold}`);
    const tip = await p4.locator('[data-testid=sample-row] [data-col=is_drifted] [title]').first().getAttribute('title');
    assert(/threshold/.test(tip) && /not drifted/.test(tip), `the flag's tooltip: ${tip}`);
    await p4.close();
    current = page;
  });

  // ---- point 5: the export menu
  await step('p5: export in the table order, top N, visible columns', async () => {
    await open(prodUrl);
    await page.getByTestId('sort-drift_score').click();
    await waitForFunction(page, () => !document.querySelector('[data-testid=sample-table]')?.dataset.loading);
    await page.getByTestId('export-menu').click();
    await page.getByTestId('export-n').fill('10');
    assert(await page.getByTestId('export-top').isChecked(), 'top N chosen');
    const href = await page.getByTestId('export-filtered-csv').getAttribute('href');
    const q = new URL(href, base).searchParams;
    const shown = await page.$$eval('.thead [data-col]', (hs) => hs.map((x) => x.dataset.col));
    assert(q.get('sort') === 'drift_score' && q.get('order') === 'desc' && q.get('limit') === '10', `export query: ${q}`);
    assert(q.get('split') === PROD && q.get('format') === 'csv', 'split and format');
    const cols = q.get('columns').split(',');
    assert(shown.every((c) => cols.includes(c)) && cols.filter((c) => c !== 'split').join() === shown.join(), `columns ${cols} = visible ${shown}`);
    await page.getByTestId('export-all').check();
    assert(!new URL(await page.getByTestId('export-filtered-jsonl').getAttribute('href'), base).searchParams.has('limit'), 'all rows: no limit');
    await page.getByTestId('export-n').fill('10');
    await page.screenshot({ path: shot('i16-p5-export-menu.png') });
    // The download: where the server honours limit and sort (contract 16 §1), the table's top 10.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-filtered-jsonl').click()]);
    const rows = fs.readFileSync(await dl.path(), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    const top = (await apiGet(`${RUN_API}/samples?split=${encodeURIComponent(PROD)}&sort=drift_score&order=desc&limit=10`)).samples.map((s) => s.id);
    if (rows.length === 10) {
      assert(JSON.stringify(rows.map((r) => r.id)) === JSON.stringify(top), 'the export is the table\'s top 10 in its order');
      log('  the server exports the top 10 in the table\'s order');
    } else {
      log(`  this server ignores limit/sort on export (${rows.length} rows): only the query is checked`);
    }
  });

  // ---- point 6: readable tables
  await step('p6: tooltips on cells, resizable columns', async () => {
    const first = page.getByTestId('sample-row').first();
    const cells = await first.locator('[data-col]').evaluateAll((cs) => cs.map((c) => ({ col: c.dataset.col, title: c.title || c.querySelector('[title]')?.title || '', text: c.textContent })));
    for (const c of cells) assert(c.title !== '' || c.text === '', `cell ${c.col} has a tooltip`);
    const id = cells.find((c) => c.col === 'id');
    assert(id.title === id.text, 'the id cell\'s tooltip is the whole id');
    const th = page.getByTestId('sort-id');
    const w0 = (await th.boundingBox()).width;
    const handle = await th.locator('.col-resize').boundingBox();
    await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await page.mouse.down();
    await page.mouse.move(handle.x + 70, handle.y + handle.height / 2, { steps: 5 });
    await page.mouse.up();
    const w1 = (await th.boundingBox()).width;
    const cw = (await first.locator('[data-col=id]').boundingBox()).width;
    assert(w1 > w0 + 50 && Math.abs(cw - w1) < 2, `the id column resized: ${w0} -> ${w1} (cells ${cw})`);
    assert(await th.getAttribute('aria-sort') === 'none', 'the drag did not sort');
  });

  const noOverlap = (a, b) => a.x + a.width <= b.x + 1 || b.x + b.width <= a.x + 1 || a.y + a.height <= b.y + 1 || b.y + b.height <= a.y + 1;
  await step('p6: the sample panel does not cover the score columns', async () => {
    await page.getByTestId('sample-row').first().click();
    await page.locator('[data-testid=sample-panel][data-ready="1"]').waitFor();
    const panel = await page.getByTestId('sample-panel').boundingBox();
    const table = await page.getByTestId('sample-table').boundingBox();
    assert(noOverlap(panel, table), 'the panel sits beside the table');
    const conf = await page.getByTestId('sort-confidence').boundingBox();
    const hit = await page.evaluate(([x, y]) => document.elementFromPoint(x, y)?.closest('[data-testid]')?.dataset.testid, [conf.x + conf.width / 2, conf.y + conf.height / 2]);
    assert(hit === 'sort-confidence', `the confidence header is not covered: ${hit}`);
    await page.screenshot({ path: shot('i16-p6-panel.png') });
    await page.getByTestId('sample-close').click();
  });

  await step('p6: 1,000 px wide', async () => {
    const narrow = await browser.newContext({ viewport: { width: 1000, height: 900 }, colorScheme: 'dark' });
    const p = await narrow.newPage();
    current = p;
    await open(prodUrl, p);
    for (const col of ['is_drifted', 'is_shifted', 'is_on_the_boundary', 'drift_score', 'confidence']) {
      const b = await p.getByTestId(`sort-${col}`).boundingBox();
      assert(b && b.x >= 0 && b.x + b.width <= 1000, `${col} header inside 1000 px: ${JSON.stringify(b)}`);
      const hit = await p.evaluate(([x, y]) => document.elementFromPoint(x, y)?.closest('[data-testid]')?.dataset.testid, [b.x + b.width / 2, b.y + b.height / 2]);
      assert(hit === `sort-${col}`, `${col} visible (${hit})`);
    }
    const cell = await p.locator('[data-testid=sample-row] [data-col=is_on_the_boundary]').first().boundingBox();
    assert(cell.x + cell.width <= 1000, 'the boundary cells too');
    await p.screenshot({ path: shot('i16-p6-1000px.png') });
    await p.getByTestId('sample-row').first().click();
    await p.locator('[data-testid=sample-panel][data-ready="1"]').waitFor();
    assert(noOverlap(await p.getByTestId('sample-panel').boundingBox(), await p.getByTestId('sample-table').boundingBox()), 'at 1000 px the panel is beside the table');
    const sw = await p.locator('[data-testid=sample-grid]').evaluate((g) => g.scrollWidth > g.clientWidth);
    log(`  1000 px with the panel open: the table ${sw ? 'scrolls horizontally' : 'fits'}`);
    await p.screenshot({ path: shot('i16-p6-1000px-panel.png') });
    await narrow.close();
    current = page;
  });

  await step('p6: light theme from prefers-color-scheme, toggle remembered', async () => {
    const light = await browser.newContext({ viewport: { width: 1600, height: 1000 }, colorScheme: 'light' });
    const p = await light.newPage();
    current = p;
    await open(prodUrl, p);
    const lum = () => p.evaluate(() => {
      const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
      return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
    });
    assert(await p.evaluate(() => document.documentElement.dataset.theme) === 'light', 'light from the system setting');
    assert(await lum() > 0.85, `a light background: ${await lum()}`);
    await p.screenshot({ path: shot('i16-p6-light.png') });
    const bad = await axeViolations(p, 'the run page (light)');
    assert(bad.length === 0, `axe (light): ${JSON.stringify(bad)}`);
    await p.getByTestId('theme-toggle').click();
    assert(await p.evaluate(() => document.documentElement.dataset.theme) === 'dark' && await lum() < 0.2, 'the toggle switches to dark');
    assert(await p.evaluate(() => localStorage.getItem('sextant.theme')) === 'dark', 'remembered in localStorage');
    await p.reload();
    await ready(p);
    assert(await p.evaluate(() => document.documentElement.dataset.theme) === 'dark', 'still dark after a reload');
    await p.getByTestId('theme-toggle').click();
    assert(await p.evaluate(() => document.documentElement.dataset.theme) === 'light', 'and back');
    await light.close();
    current = page;
    assert(await page.evaluate(() => document.documentElement.dataset.theme) === 'dark', 'dark under prefers-color-scheme: dark');
    await page.screenshot({ path: shot('i16-p6-dark.png') });
  });

  // ---- point 7: keyboard and ARIA
  await step('p7: sort headers from the keyboard', async () => {
    await open(prodUrl);
    assert(await page.locator('[data-testid=sample-grid]').getAttribute('role') === 'grid', 'grid role');
    const th = page.getByTestId('sort-confidence');
    assert(await th.getAttribute('tabindex') === '0' && await th.getAttribute('role') === 'columnheader', 'a focusable column header');
    await th.focus();
    await page.keyboard.press('Enter');
    await waitForFunction(page, () => document.querySelector('[data-testid=sort-confidence]')?.getAttribute('aria-sort') === 'descending');
    await waitForFunction(page, () => !document.querySelector('[data-testid=sample-table]')?.dataset.loading);
    const confs = async () => page.$$eval('[data-testid=sample-row] [data-col=confidence]', (cs) => cs.map((c) => Number(c.textContent)));
    let c = await confs();
    assert(c.length > 5 && c.every((v, i) => i === 0 || c[i - 1] >= v), `descending: ${c.slice(0, 5)}`);
    assert(await page.evaluate(() => document.activeElement?.dataset.testid) === 'sort-confidence', 'focus stays on the header');
    await page.keyboard.press(' ');
    await waitForFunction(page, () => document.querySelector('[data-testid=sort-confidence]')?.getAttribute('aria-sort') === 'ascending');
    await waitForFunction(page, () => !document.querySelector('[data-testid=sample-table]')?.dataset.loading);
    c = await confs();
    assert(c.every((v, i) => i === 0 || c[i - 1] <= v), `ascending: ${c.slice(0, 5)}`);
    assert(await page.getByTestId('sort-dep').getAttribute('aria-sort') === 'none', 'other headers: none');
  });

  await step('p7: rows with arrow keys, Enter opens, Escape closes', async () => {
    const rows = page.getByTestId('sample-row');
    const ids = await rows.evaluateAll((rs) => rs.map((r) => r.dataset.id));
    await page.locator('[data-testid=sample-row][tabindex="0"]').focus();
    assert(await page.evaluate(() => document.activeElement?.dataset.id) === ids[0], 'the first row takes the tab stop');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    assert(await page.evaluate(() => document.activeElement?.dataset.id) === ids[2], 'ArrowDown moves focus');
    await page.keyboard.press('ArrowUp');
    assert(await page.evaluate(() => document.activeElement?.dataset.id) === ids[1], 'ArrowUp moves back');
    await page.keyboard.press('Enter');
    await waitForFunction(page, (x) => document.querySelector('[data-testid=sample-panel][data-ready="1"] [data-testid=sample-id]')?.textContent.endsWith(` · ${x}`), ids[1]);
    const dlg = page.getByTestId('sample-panel');
    assert(await dlg.getAttribute('role') === 'dialog' && !!(await dlg.getAttribute('aria-labelledby')), 'a labelled dialog');
    await waitForFunction(page, () => document.querySelector('[data-testid=sample-panel]').contains(document.activeElement));
    await page.screenshot({ path: shot('i16-p7-keyboard.png') });
    await page.keyboard.press('Escape');
    await waitForFunction(page, () => document.querySelector('[data-testid=sample-panel]').hidden);
    await waitForFunction(page, (x) => document.activeElement?.dataset?.id === x, ids[1]);
    // Visible focus: the focused row draws an outline.
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert(outline !== 'none', `a visible focus ring: ${outline}`);
  });

  await step('p7: tabs and map controls', async () => {
    const tabs = page.locator('[data-testid=split-picker]');
    assert(await tabs.getAttribute('role') === 'tablist', 'split picker is a tablist');
    assert(await page.locator('[data-testid=inference-picker] [role=tab][aria-selected=true]').count() === 1, 'the current set is selected');
    await page.locator('[data-testid=split-picker] [role=tab][tabindex="0"]').focus();
    await page.keyboard.press('ArrowRight');
    await waitForFunction(page, () => new URL(location.href).searchParams.get('split') === 'validation');
    assert(await page.locator('[data-testid=split-picker] [data-split=validation]').getAttribute('aria-selected') === 'true', 'arrow keys switch the tab');
    for (const id of ['map-color', 'map-reset', 'map-show-training']) {
      const el = page.getByTestId(id);
      if (await el.count() === 0) continue;
      const name = await el.evaluate((e) => e.getAttribute('aria-label') || e.textContent?.trim() || e.closest('label')?.textContent?.trim() || '');
      assert(name !== '', `${id} has a name`);
      await el.focus();
      assert(await page.evaluate((x) => document.activeElement?.dataset.testid === x, id), `${id} takes focus`);
    }
    await page.getByTestId('map-reset').press('Enter');
  });

  await step('p7: axe-core on every page', async () => {
    const pages = [
      ['/', 'the project list', async (p) => p.locator('[data-testid=run-row]').first().waitFor()],
      [prodUrl, 'the sentiment run page', ready],
      ['/runs/demo/ner?split=inference%3Asocial', 'the NER run page', ready],
      ['/runs/demo/nli', 'the NLI run page', ready],
      ['/runs/demo/daily/timeline', 'the timeline', async (p) => p.locator('[data-testid=timeline-page][data-ready="1"]').waitFor()],
    ];
    const all = [];
    for (const [url, what, wait] of pages) {
      await page.goto(base + url);
      await wait(page);
      all.push(...(await axeViolations(page, what)).map((v) => ({ what, ...v })));
    }
    // With the sample panel open, too.
    await open(prodUrl);
    await page.getByTestId('sample-row').first().click();
    await page.locator('[data-testid=sample-panel][data-ready="1"] [data-testid=neighbor]').first().waitFor();
    all.push(...(await axeViolations(page, 'the run page with the panel')).map((v) => ({ what: 'panel', ...v })));
    assert(all.length === 0, `axe: serious/critical violations: ${JSON.stringify(all, null, 1)}`);
    await page.getByTestId('sample-close').click();
  });

  // ---- point 8: errors
  await step('p8: an invalid regex marks the field and disables the exports', async () => {
    await open(`${RUN}?split=training`);
    const nErrors = errors.length;
    await page.getByTestId('filter-text').fill('(unclosed');
    await waitForFunction(page, () => document.querySelector('[data-testid=filter-text]')?.getAttribute('aria-invalid') === 'true');
    const msg = await page.getByTestId('filter-text-error').textContent();
    assert(/not a valid regular expression/.test(msg), `the message: ${msg}`);
    assert(await page.getByTestId('filter-text').getAttribute('aria-describedby') === 'filter-text-error', 'described by it');
    assert(await page.getByTestId('export-menu').isDisabled(), 'the export menu is disabled');
    const links = await page.$$eval('[data-testid^=export-filtered-]', (as) => as.map((a) => ({ href: a.getAttribute('href'), dis: a.getAttribute('aria-disabled') })));
    assert(links.length >= 2 && links.every((l) => l.href === null && l.dis === 'true'), `export links disabled: ${JSON.stringify(links)}`);
    assert(await page.getByTestId('table-empty').count() === 0, 'no "No sample matches" next to the error');
    assert(await page.getByTestId('table-failed').count() === 1, 'the table says it could not load');
    await page.screenshot({ path: shot('i16-p8-invalid-regex.png') });
    await page.getByTestId('filter-text').fill('');
    await waitForFunction(page, () => !document.querySelector('[data-testid=filter-text]')?.hasAttribute('aria-invalid'));
    await waitForFunction(page, () => !document.querySelector('[data-testid=export-menu]').disabled);
    assert(await page.getByTestId('filter-text-error').count() === 0, 'the message goes');
    const logged = errors.splice(nErrors);
    assert(logged.every((e) => /status of 400/.test(e)), `only the expected 400s: ${logged}`);
  });

  await step('p8: server unreachable: a banner with Retry, cleared when it is back', async () => {
    await open(prodUrl);
    const nErrors = errors.length;
    await stop(server);
    await page.locator('[data-testid=split-option][data-split="validation"]').click();
    await page.getByTestId('server-banner').waitFor({ state: 'visible' });
    assert(await page.getByTestId('server-banner').getAttribute('role') === 'alert', 'announced');
    assert(await page.getByTestId('banner-retry').isVisible(), 'a Retry button');
    const body = await page.evaluate(() => document.body.innerText);
    assert(!/Failed to fetch/.test(body), 'no "Failed to fetch" in the panels');
    await page.screenshot({ path: shot('i16-p8-banner.png') });
    // Retry while still down: the banner stays.
    await page.getByTestId('banner-retry').click();
    await waitForFunction(page, () => !document.querySelector('[data-testid=banner-retry]').disabled);
    assert(await page.getByTestId('server-banner').isVisible(), 'still down: still there');
    server = await serve(port);
    await page.getByTestId('banner-retry').click();
    await page.getByTestId('server-banner').waitFor({ state: 'hidden' });
    await ready(page);
    assert(await page.getByTestId('sample-row').count() > 0, 'the page is reloaded');
    // The browser logs the failed requests (net::ERR_CONNECTION_REFUSED).
    const logged = errors.splice(nErrors);
    assert(logged.every((e) => /ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)), `only the refused connections: ${logged}`);
  });

  // ---- point 1: a cold open (the speed is bench/server_bench.py --cold's; here, that a page
  // opened on a fresh server before any table is loaded shows everything, right).
  await step('p1: the NER run opened cold shows its table, map and insights', async () => {
    await stop(server);
    server = await serve(port, ['--preload-samples', '0']);
    const split = 'training';
    await page.goto(`${base}/runs/demo/ner?split=${split}`);
    await page.locator('[data-testid=insights][data-ready="1"]').waitFor();
    await page.locator('[data-testid=sample-row]').first().waitFor();
    const want = await apiGet(`/api/runs/demo/ner/samples?split=${split}&limit=3`);
    assert((await page.getByTestId('table-status').textContent()).startsWith(want.total.toLocaleString('en-US')), 'the cold total is the API\'s');
    const ids = await page.$$eval('[data-testid=sample-row]', (rows) => rows.slice(0, 3).map((r) => r.dataset.id));
    assert(JSON.stringify(ids) === JSON.stringify(want.samples.map((x) => x.id)), `the first rows: ${ids}`);
    await waitForFunction(page, () => document.querySelector('[data-testid=map]')?.dataset.ready === '1');
    await page.screenshot({ path: shot('i16-p1-ner-cold-open.png') });
  });

  // ---- point 9: NER
  await step('p9: NER entity-type filter, grouped alerts, sentence fields', async () => {
    const info = await apiGet('/api/runs/demo/ner');
    const want = info.entity_types ?? [...new Set(info.labels.filter((l) => l !== 'O').map((l) => l.replace(/^[BIES]-/, '')))];
    const p = await dark.newPage();
    current = p;
    // Alerts grouped by entity type, and the sentence fields (from the server when it sends them).
    await p.route('**/insights?*', async (route) => {
      const r = await route.fetch();
      const d = await r.json();
      if (!d.alerts.some((a) => a.entity_type)) {
        d.alerts.push({ kind: 'confidence_drop', severity: 'warning', entity_type: 'PER', message: 'PER: mean span confidence fell from 0.91 to 0.74' });
      }
      await route.fulfill({ response: r, json: d });
    });
    await p.route('**/samples/inference%3Asocial/*', async (route) => {
      const r = await route.fetch();
      const d = await r.json();
      if (!('span_errors' in d)) Object.assign(d, { span_errors: 3, min_span_confidence: 0.41, pred_spans_count: 2 });
      await route.fulfill({ response: r, json: d });
    });
    await open('/runs/demo/ner?split=inference%3Asocial', p);
    const picks = await p.$$eval('[data-testid=filter-entity-type] [data-value]', (bs) => bs.map((b) => b.dataset.value));
    assert(JSON.stringify(picks) === JSON.stringify(want), `entity types ${picks} = ${want}`);
    assert(await p.locator('[data-testid=filter-pred]').count() === 0, 'no BIO tag list');
    const req = p.waitForRequest((r) => r.url().includes('/samples?') && new URL(r.url()).searchParams.get('entity_type') === want[0]);
    await p.locator(`[data-testid=filter-entity-type] [data-value="${want[0]}"]`).click();
    await req;
    await p.getByTestId('chip-entity-type').waitFor();
    await waitForFunction(p, () => !document.querySelector('[data-testid=sample-table]')?.dataset.loading);
    if (info.entity_types) {
      const total = (await apiGet(`/api/runs/demo/ner/samples?split=inference%3Asocial&entity_type=${want[0]}&limit=1`)).total;
      assert((await p.getByTestId('table-status').textContent()).startsWith(total.toLocaleString('en-US')), 'the table total is the API\'s');
    } else {
      log('  this server has no entity_types yet: the filter is sent, the types derived from the tags');
    }
    const tag = p.locator('[data-testid=insight-alerts] [data-testid=alert-entity-type]').first();
    assert(await tag.textContent() === 'PER', 'an alert shows its entity type');
    await p.screenshot({ path: shot('i16-p9-ner-entity-type.png') });
    const firstId = await p.getByTestId('sample-row').first().getAttribute('data-id');
    await p.getByTestId('sample-row').first().click();
    await p.locator('[data-testid=sample-panel][data-ready="1"]').waitFor();
    // The server's values where it sends them (null on an unlabeled split: "–"), else the route's.
    const det = await apiGet(`/api/runs/demo/ner/samples/inference%3Asocial/${encodeURIComponent(firstId)}`);
    const errs = 'span_errors' in det ? det.span_errors : 3;
    const minc = 'min_span_confidence' in det ? det.min_span_confidence : 0.41;
    const errText = await p.getByTestId('sample-span-errors').textContent();
    assert(errText.endsWith(errs === null ? '–' : String(errs)), `span errors in the panel: ${errText} (${errs})`);
    const minText = await p.getByTestId('sample-min-span-confidence').textContent();
    assert(minText.endsWith(minc === null ? '–' : minc.toFixed(3)), `lowest span confidence in the panel: ${minText} (${minc})`);
    log(`  panel: span errors ${errs}, lowest span confidence ${minc} (${'span_errors' in det ? 'server' : 'route'})`);
    await p.getByTestId('sample-panel').screenshot({ path: shot('i16-p9-ner-sample.png') });
    // The span view (point 7 too): its headers sort from the keyboard; axe finds nothing serious.
    await p.getByTestId('sample-close').click();
    await p.getByTestId('view-spans').click();
    await p.locator('[data-testid=span-row]').first().waitFor();
    await p.getByTestId('span-sort-confidence').focus();
    await p.keyboard.press('Enter');
    await waitForFunction(p, () => document.querySelector('[data-testid=span-sort-confidence]')?.getAttribute('aria-sort') === 'descending');
    await waitForFunction(p, () => !document.querySelector('[data-testid=span-table]')?.dataset.loading);
    const sc = await p.$$eval('[data-testid=span-row] [data-col=confidence]', (cs) => cs.map((c) => Number(c.textContent)));
    assert(sc.length > 1 && sc.every((v, i) => i === 0 || sc[i - 1] >= v), `spans by confidence, descending: ${sc.slice(0, 5)}`);
    const badSpans = await axeViolations(p, 'the NER span view');
    assert(badSpans.length === 0, `axe (span view): ${JSON.stringify(badSpans)}`);
    await p.close();
    current = page;
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
  if (context) await context.close().catch(() => {});
  await stop(server).catch(() => {});
  if (process.env.KEEP !== '1') fs.rmSync(TMP, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
