// Browser test of the console's monitoring pages (issue 14: docs/console.md), against
// tests/browser/mock_server.mjs, whose demo/daily run has twelve daily inference sets (three
// of them shifted), the timeline of the contract, the comparison of any two splits and the
// alerts API (rules evaluated whenever the timeline is read):
//
//   node tests/browser/monitor.test.mjs          (tests/browser/run.sh builds web/dist first)
//
// In Chromium (headless, fresh profile, under the real server's CSP): the timeline draws one
// chart per metric with its points in time order (the sets' names are not), intervals as
// bands, the training value and the built-in drift rule's threshold, and rings exactly the
// sets on which a rule fires; a point links to its set; the rules editor lists, adds (a
// learned band, a per-class threshold), edits, disables and removes rules, adds a webhook and
// test-sends it; back on the timeline the new rules' band and threshold are drawn and their
// firing sets ringed; two points picked on the timeline open the comparison, whose changes
// and tests match the API; the split picker's "compare with…" opens it too; a missing split
// is named. Screenshots go to SCREENSHOTS (default artifacts/screenshots).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(REPO, 'web/package.json'));
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(REPO, process.env.SCREENSHOTS || 'artifacts/screenshots');
const DIST = path.join(REPO, 'web/dist');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-monitor-browser-'));

let mock = null;
let context = null;

function log(...a) { console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a); }
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

async function startMock() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  mock = spawn(process.execPath, [path.join(REPO, 'tests/browser/mock_server.mjs'), '--port', String(port), '--static', DIST],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 150; i++) {
    if (mock.exitCode !== null) throw new Error(`the mock server exited with ${mock.exitCode}`);
    try { if ((await fetch(`${base}/api/health`)).ok) return base; } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error('the mock server did not answer /api/health');
}

// No 'unsafe-eval' under the server's CSP: poll page.evaluate instead of page.waitForFunction.
async function waitForFunction(page, fn, arg, timeout = 15000) {
  const until = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${fn}`);
    await sleep(50);
  }
}

/** The points of one chart (one series), ordered by their x on screen. */
function chartPoints(page, metric, series = null) {
  return page.evaluate(([m, s]) => {
    const chart = document.querySelector(`[data-testid=tl-chart][data-metric="${m}"]`);
    if (!chart) return null;
    return [...chart.querySelectorAll('[data-testid=tl-point]')]
      .filter((a) => s === null || a.dataset.series === s)
      .map((a) => ({ set: a.dataset.set, t: Number(a.dataset.t), value: Number(a.dataset.value), firing: a.dataset.firing === '1',
        cx: Number(a.querySelector('.tl-point').getAttribute('cx')), cy: Number(a.querySelector('.tl-point').getAttribute('cy')) }))
      .sort((a, b) => a.cx - b.cx);
  }, [metric, series]);
}

/** The chart a rule's metric is drawn on, and its class ('*' every class), as the console maps them. */
function ruleTarget(rule) {
  let m = rule.metric, c = rule.class ?? null;
  if (m.startsWith('metrics.')) m = m.slice(8);
  else if (m.startsWith('per_class.')) { const rest = m.slice(10), dot = rest.lastIndexOf('.'); c = c ?? rest.slice(0, dot); m = rest.slice(dot + 1); }
  return { metric: { drift_verdict: 'drifted_share', domain_shifted: 'domain_auc' }[m] ?? m, cls: c };
}

/** The sets (split keys, time order) on which some rule of a chart's metric (and class) fires. */
function firingSets(tl, rules, metric, label = null) {
  const byId = new Map(rules.map((r) => [r.id, r]));
  return tl.sets.filter((s) => tl.alerts.some((a) => {
    if (a.state !== 'firing' || (a.set !== s.name && a.set !== s.split)) return false;
    const t = ruleTarget({ ...byId.get(a.rule_id), class: a.class });
    return t.metric === metric && (t.cls === label || (label !== null && t.cls === '*'));
  })).map((s) => s.split);
}

function guides(page, metric) {
  return page.evaluate((m) => [...document.querySelectorAll(`[data-testid=tl-chart][data-metric="${m}"] .tl-guide`)]
    .map((g) => ({ testid: g.dataset.testid, rule: g.dataset.ruleId ?? null, value: Number(g.dataset.value), y: Number(g.getAttribute('y1')), cls: g.getAttribute('class') })), metric);
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('web/dist is not built (run tests/browser/run.sh)');
  fs.mkdirSync(SHOTS, { recursive: true });
  const base = await startMock();
  const api = async (p) => { const r = await fetch(base + p); assert(r.ok, `${p}: HTTP ${r.status}`); return r.json(); };

  context = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
    viewport: { width: 1500, height: 1000 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/404|Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`); });
  const step = async (name, fn) => {
    log(`step: ${name}`);
    try { await fn(); } catch (e) {
      await page.screenshot({ path: path.join(SHOTS, 'monitor-failure.png'), fullPage: true }).catch(() => {});
      throw new Error(`step "${name}" failed: ${e.message}\n${errors.join('\n')}`);
    }
  };
  const RUN = '/runs/demo/daily';
  const timelineReady = async () => { await page.locator('[data-testid=timeline-page][data-ready="1"]').waitFor(); };

  // A team's own threshold next to the default rules, added through the API (as `sextant alerts add`).
  const added = await fetch(`${base}/api/projects/demo/alerts/rules`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: 'drift20', name: 'drift above 20%', metric: 'drifted_share', kind: 'threshold', op: '>', value: 0.2 }) });
  assert(added.status === 201, `rule added: ${added.status}`);
  let tl = await api('/api/runs/demo/daily/timeline');
  let rules = (await api('/api/projects/demo/alerts/rules')).rules;
  const timeOrder = tl.sets.map((s) => s.split);
  const driftRule = rules.find((r) => r.id === 'drift20');

  await step('timeline: one chart per metric, points in time order, bands, threshold, firing sets', async () => {
    await page.goto(base + RUN);
    await page.getByTestId('run-page').waitFor();
    await page.getByTestId('timeline-link').click();
    await timelineReady();
    assert(new URL(page.url()).pathname === `${RUN}/timeline`, `timeline URL: ${page.url()}`);
    const metrics = await page.$$eval('[data-testid=tl-chart]', (cs) => cs.map((c) => c.dataset.metric));
    for (const m of ['drifted_share', 'estimated_accuracy', 'mean_confidence', 'domain_auc', 'on_boundary_share', 'samples',
      'per_class.pred_share', 'per_class.mean_confidence']) assert(metrics.includes(m), `a chart of ${m}: ${metrics}`);
    // Points left to right are the sets in time order (their names are not in that order).
    assert(!same(timeOrder, [...timeOrder].sort()), 'the mock names its sets out of time order');
    const times = tl.sets.map((s) => s.time);
    assert(same(times, [...times].sort((a, b) => a - b)), 'the API lists sets in time order');
    for (const m of ['drifted_share', 'mean_confidence', 'samples']) {
      const pts = await chartPoints(page, m);
      assert(same(pts.map((p) => p.set), timeOrder), `${m}: points in time order: ${pts.map((p) => p.set)}`);
      assert(pts.every((p, i) => i === 0 || p.t > pts[i - 1].t), `${m}: data-t increases with x`);
      // Each point is drawn at its value: a higher value is higher on screen.
      const byValue = [...pts].sort((a, b) => a.value - b.value);
      assert(byValue.every((p, i) => i === 0 || p.cy <= byValue[i - 1].cy + 1e-6), `${m}: y follows the value`);
      pts.forEach((p, i) => assert(Math.abs(p.value - tl.sets[i].metrics[m].value) < 1e-9, `${m} of ${p.set}: ${p.value}`));
    }
    // Intervals as bands; the training value and the built-in drift rule's threshold drawn.
    assert(await page.locator('[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-band]').count() === 1, 'drift band');
    assert(await page.locator('[data-testid=tl-chart][data-metric=mean_confidence] [data-testid=tl-reference]').count() === 1, 'training line');
    const g = await guides(page, 'drifted_share');
    const th = g.find((x) => x.rule === String(driftRule.id));
    assert(th && Math.abs(th.value - driftRule.value) < 1e-12, `threshold of rule ${driftRule.id} drawn: ${JSON.stringify(g)}`);
    // Firing: the threshold fires on exactly the sets whose drifted share is above it, and the
    // default drift-verdict rule (marked on this chart) on the drifted ones: the shifted days.
    const pts = await chartPoints(page, 'drifted_share');
    const want = tl.sets.filter((s) => s.metrics.drifted_share.value > driftRule.value).map((s) => s.split);
    assert(want.length === 3, `three shifted sets fire: ${want}`);
    assert(same(tl.sets.filter((s) => s.drift_verdict).map((s) => s.split), want), 'the verdict agrees');
    assert(same(firingSets(tl, rules, 'drifted_share'), want), `the API's states: ${firingSets(tl, rules, 'drifted_share')}`);
    assert(same(pts.filter((p) => p.firing).map((p) => p.set), want), `firing marks: ${pts.filter((p) => p.firing).map((p) => p.set)} vs ${want}`);
    assert(await page.locator('[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-firing]').count() === 3, 'three rings');
    // Firing points sit above the threshold line on screen.
    assert(pts.filter((p) => p.firing).every((p) => p.cy < th.y), 'firing points above the threshold');
    // The default per-class rules mark the per-class charts (every class: '*').
    for (const label of ['negative', 'positive']) {
      const cp = await chartPoints(page, 'per_class.mean_confidence', label);
      assert(same(cp.filter((p) => p.firing).map((p) => p.set), firingSets(tl, rules, 'mean_confidence', label)), `confidence drop of ${label}`);
    }
    const nFiring = tl.alerts.filter((a) => a.state === 'firing').length;
    assert((await page.getByTestId('tl-firing-count').textContent()).startsWith(`${nFiring} alerts firing`), 'firing count');
    const rows = await page.$$eval('[data-testid=tl-row]', (rs) => rs.map((r) => ({ set: r.dataset.set, alerts: r.querySelector('[data-testid=tl-row-alerts]').textContent })));
    assert(same(rows.map((r) => r.set), timeOrder), 'table in time order');
    const anyFiring = tl.sets.filter((s) => tl.alerts.some((a) => a.state === 'firing' && a.set === s.name)).map((s) => s.split);
    assert(same(rows.filter((r) => r.alerts.includes('firing')).map((r) => r.set), anyFiring), 'table marks the firing sets');
    await page.screenshot({ path: path.join(SHOTS, 'timeline.png'), fullPage: true });
  });

  await step('a point links to its set', async () => {
    const target = timeOrder[1];
    await page.locator(`[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-point][data-set="${target}"]`).click();
    await page.getByTestId('run-page').waitFor();
    const u = new URL(page.url());
    assert(u.pathname === RUN && u.searchParams.get('split') === target, `went to ${page.url()}`);
    // Issue 16: a drifted share point shows that set's drifted samples.
    assert(JSON.parse(u.searchParams.get('f') ?? '{}').drifted === true && u.searchParams.get('sort') === 'drift_score', `the point's filter: ${page.url()}`);
    await page.locator('[data-testid=sample-table]:not([data-loading])').waitFor();
    await page.goBack();
    await timelineReady();
  });

  let bandId = null;
  await step('rules editor: list, add a band and a per-class threshold, edit, disable, remove', async () => {
    await page.getByTestId('rules-link').click();
    await page.locator('[data-testid=rules-page][data-ready="1"]').waitFor();
    const names = () => page.$$eval('[data-testid=rule-row]', (rs) => rs.map((r) => r.dataset.name));
    assert(same(await names(), ['data drift', 'distribution shift', 'confidence drop', 'class share change', 'drift above 20%']), `rules listed: ${await names()}`);
    assert(await page.locator('[data-testid=rule-row][data-name="data drift"] .badge', { hasText: 'built-in' }).count() === 1, 'built-in marked');
    // A learned band on the mean confidence.
    await page.getByTestId('rule-name').fill('confidence band');
    await page.getByTestId('rule-metric').selectOption('mean_confidence');
    await page.getByTestId('rule-kind').selectOption('band');
    assert(await page.getByTestId('rule-value').isDisabled(), 'a band takes no value');
    await page.getByTestId('rule-first-n').fill('4');
    await page.getByTestId('rule-k').fill('3');
    await page.getByTestId('rule-save').click();
    await page.locator('[data-testid=rule-row][data-name="confidence band"]').waitFor();
    assert((await page.getByTestId('rules-status').textContent()).includes('added rule "confidence band"'), 'status says added');
    // A per-class threshold.
    await page.getByTestId('rule-name').fill('too many negatives');
    await page.getByTestId('rule-metric').selectOption('pred_share');
    await page.getByTestId('rule-class').fill('negative');
    await page.getByTestId('rule-kind').selectOption('threshold');
    await page.getByTestId('rule-op').selectOption('>');
    await page.getByTestId('rule-value').fill('0.6');
    await page.getByTestId('rule-save').click();
    await page.locator('[data-testid=rule-row][data-name="too many negatives"]').waitFor();
    const desc = await page.locator('[data-testid=rule-row][data-name="too many negatives"] [data-testid=rule-desc]').textContent();
    assert(desc === 'pred_share of class negative > 0.6', `described: ${desc}`);
    // A value is required for a threshold.
    await page.getByTestId('rule-name').fill('no value');
    await page.getByTestId('rule-value').fill('');
    await page.getByTestId('rule-save').click();
    await waitForFunction(page, () => document.querySelector('[data-testid=rules-status]').classList.contains('error'));
    assert(!(await names()).includes('no value'), 'no rule without a value');
    // Edit the band: k 3 -> 2.5.
    await page.locator('[data-testid=rule-row][data-name="confidence band"] [data-testid=rule-edit]').click();
    assert((await page.getByTestId('rule-form-title').textContent()).startsWith('Edit rule'), 'edit form');
    assert(await page.getByTestId('rule-kind').inputValue() === 'band' && await page.getByTestId('rule-first-n').inputValue() === '4', 'form filled');
    await page.getByTestId('rule-k').fill('2.5');
    await page.getByTestId('rule-save').click();
    await waitForFunction(page, () => document.querySelector('[data-testid=rule-row][data-name="confidence band"] [data-testid=rule-desc]')?.textContent.includes('2.5σ'));
    // Disable the built-in drift rule, then enable it again.
    const toggle = page.locator('[data-testid=rule-row][data-name="data drift"] [data-testid=rule-toggle]');
    await toggle.uncheck();
    await waitForFunction(page, () => document.querySelector('[data-testid=rules-status]').textContent.includes('disabled "data drift"'));
    assert((await api('/api/projects/demo/alerts/rules')).rules.find((r) => r.name === 'data drift').enabled === false, 'disabled in the API');
    await page.locator('[data-testid=rule-row][data-name="data drift"] [data-testid=rule-toggle]').check();
    await waitForFunction(page, () => document.querySelector('[data-testid=rules-status]').textContent.includes('enabled "data drift"'));
    // Add and remove a throwaway rule.
    await page.getByTestId('rule-name').fill('temp');
    await page.getByTestId('rule-metric').selectOption('samples');
    await page.getByTestId('rule-kind').selectOption('threshold');
    await page.getByTestId('rule-op').selectOption('<');
    await page.getByTestId('rule-value').fill('10');
    await page.getByTestId('rule-save').click();
    await page.locator('[data-testid=rule-row][data-name="temp"]').waitFor();
    await page.locator('[data-testid=rule-row][data-name="temp"] [data-testid=rule-remove]').click();
    await page.locator('[data-testid=rule-row][data-name="temp"]').waitFor({ state: 'detached' });
    // The API holds what the editor shows.
    rules = (await api('/api/projects/demo/alerts/rules')).rules;
    assert(same(rules.map((r) => r.name), ['data drift', 'distribution shift', 'confidence drop', 'class share change', 'drift above 20%', 'confidence band', 'too many negatives']),
      `API rules: ${rules.map((r) => r.name)}`);
    const band = rules.find((r) => r.name === 'confidence band');
    assert(band.kind === 'band' && band.band.first_n === 4 && band.band.k === 2.5 && band.value === null && band.op === null, `band rule: ${JSON.stringify(band)}`);
    bandId = band.id;
    const neg = rules.find((r) => r.name === 'too many negatives');
    assert(neg.class === 'negative' && neg.metric === 'pred_share' && neg.op === '>' && neg.value === 0.6, `class rule: ${JSON.stringify(neg)}`);
    // Firing now lists the drift rule's three sets at least.
    assert(await page.locator('[data-testid=state-row]').count() >= 3, 'firing states listed');
  });

  await step('rules editor: webhooks and a test send', async () => {
    await page.getByTestId('webhook-url').fill('ftp://nope');
    await page.getByTestId('webhook-add').click();
    await waitForFunction(page, () => document.querySelector('[data-testid=rules-status]').textContent.includes('webhook url'));
    await page.getByTestId('webhook-name').fill('ops');
    await page.getByTestId('webhook-url').fill('http://127.0.0.1:9/hook');
    await page.getByTestId('webhook-add').click();
    const row = page.locator('[data-testid=webhook-row]');
    await row.waitFor();
    assert((await row.textContent()).includes('http://127.0.0.1:9/hook'), 'webhook listed');
    await row.getByTestId('webhook-test').click();
    await waitForFunction(page, () => document.querySelector('[data-testid=webhook-result]').textContent.startsWith('delivered'));
    assert((await row.getByTestId('webhook-result').textContent()) === 'delivered (HTTP 200)', `test send result: ${await row.getByTestId('webhook-result').textContent()}`);
    await page.locator('[data-testid=delivery-row]').first().waitFor();
    assert((await page.locator('[data-testid=delivery-row]').first().textContent()).includes('test'), 'the test delivery listed');
    await page.screenshot({ path: path.join(SHOTS, 'rules-editor.png'), fullPage: true });
  });

  await step('timeline: the new rules are drawn and their firing sets ringed', async () => {
    await page.goto(base + RUN + '/timeline');
    await timelineReady();
    tl = await api('/api/runs/demo/daily/timeline');
    rules = (await api('/api/projects/demo/alerts/rules')).rules;
    // The learned band: mean ± 2.5 σ (population) of the first 4 sets' mean confidence; those
    // 4 are its baseline, not judged.
    const first = tl.sets.slice(0, 4).map((s) => s.metrics.mean_confidence.value);
    const mean = first.reduce((a, b) => a + b, 0) / first.length;
    const sd = Math.sqrt(first.reduce((a, b) => a + (b - mean) ** 2, 0) / first.length);
    const g = (await guides(page, 'mean_confidence')).filter((x) => x.rule === String(bandId));
    assert(g.length === 2, `two band lines: ${JSON.stringify(g)}`);
    const lines = g.map((x) => x.value).sort((a, b) => a - b);
    assert(Math.abs(lines[0] - (mean - 2.5 * sd)) < 1e-9 && Math.abs(lines[1] - (mean + 2.5 * sd)) < 1e-9, `band at mean ± 2.5 sd: ${lines}`);
    const outside = tl.sets.slice(4).filter((s) => Math.abs(s.metrics.mean_confidence.value - mean) > 2.5 * sd).map((s) => s.split);
    const bandFiring = tl.alerts.filter((a) => a.rule_id === bandId && a.state === 'firing').map((a) => `inference:${a.set}`);
    assert(outside.length > 0 && same(bandFiring, outside), `the band fires outside it: ${bandFiring} vs ${outside}`);
    const pts = await chartPoints(page, 'mean_confidence');
    assert(same(pts.filter((p) => p.firing).map((p) => p.set), outside), `band firing: ${pts.filter((p) => p.firing).map((p) => p.set)} vs ${outside}`);
    // The per-class threshold on the negative class' share.
    const negRule = rules.find((r) => r.name === 'too many negatives');
    const pg = (await guides(page, 'per_class.pred_share')).filter((x) => x.rule === String(negRule.id));
    assert(pg.length === 1 && pg[0].value === 0.6, `class threshold drawn: ${JSON.stringify(pg)}`);
    const negPts = await chartPoints(page, 'per_class.pred_share', 'negative');
    const negWant = tl.sets.filter((s) => s.per_class.negative.pred_share.value > 0.6).map((s) => s.split);
    const negFiring = tl.alerts.filter((a) => a.rule_id === negRule.id && a.state === 'firing').map((a) => `inference:${a.set}`);
    assert(negWant.length > 0 && same(negFiring, negWant), `the class rule fires where the share is above 0.6: ${negFiring} vs ${negWant}`);
    for (const label of ['negative', 'positive']) {
      const cp = await chartPoints(page, 'per_class.pred_share', label);
      const want = firingSets(tl, rules, 'pred_share', label);
      assert(same(cp.filter((p) => p.firing).map((p) => p.set), want), `${label} share marks: ${cp.filter((p) => p.firing).map((p) => p.set)} vs ${want}`);
    }
    assert(negWant.every((s) => firingSets(tl, rules, 'pred_share', 'negative').includes(s)), 'the class rule marks negative');
    // The class rule is of class negative: it marks no positive point by itself.
    const posOnlyByRule = tl.alerts.filter((a) => a.rule_id === negRule.id && a.class !== 'negative');
    assert(posOnlyByRule.length === 0, 'the class rule has states of its class only');
    await page.screenshot({ path: path.join(SHOTS, 'timeline-rules.png'), fullPage: true });
  });

  await step('compare two points picked on the timeline', async () => {
    const [a, b] = [timeOrder[1], tl.sets.find((s) => s.metrics.drifted_share.value > 0.2).split];
    await page.getByTestId('pick-two').click();
    await page.locator(`[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-point][data-set="${a}"]`).click();
    assert((await page.getByTestId('pick-note').textContent()).includes('now click B'), 'asks for B');
    await page.locator(`[data-testid=tl-chart][data-metric=drifted_share] [data-testid=tl-point][data-set="${b}"]`).click();
    await page.locator('[data-testid=compare-page][data-ready="1"]').waitFor();
    const u = new URL(page.url());
    assert(u.pathname === `${RUN}/compare` && u.searchParams.get('a') === a && u.searchParams.get('b') === b, `compare URL: ${page.url()}`);
    const c = await api(`/api/runs/demo/daily/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    const rows = await page.$$eval('[data-testid=cmp-metric]', (rs) => rs.map((r) => ({ name: r.dataset.name,
      change: r.querySelector('[data-testid=cmp-change]')?.dataset.change ?? null,
      sig: r.querySelector('[data-testid=cmp-test]')?.dataset.significant ?? null })));
    assert(same(rows.map((r) => r.name), c.metrics.map((m) => m.name)), `every metric shown: ${rows.map((r) => r.name)}`);
    for (const m of c.metrics) {
      const r = rows.find((x) => x.name === m.name);
      if (m.change !== null) assert(Math.abs(Number(r.change) - m.change) < 1e-9, `${m.name} change ${r.change} vs ${m.change}`);
      if (m.test) assert(r.sig === (m.test.significant ? '1' : '0'), `${m.name} significance`);
    }
    const drift = rows.find((r) => r.name === 'drifted_share');
    assert(Number(drift.change) > 0.2 && drift.sig === '1', `the drifted share grew significantly: ${JSON.stringify(drift)}`);
    assert(await page.getByTestId('cmp-verdict-changed').count() === 1, 'the verdict changed');
    assert((await page.getByTestId('cmp-chi2').textContent()).startsWith('chi-square'), 'class shares test');
    assert(await page.locator('[data-testid=cmp-class]').count() === 2 && await page.locator('[data-testid=cmp-conf]').count() === 2, 'per-class rows');
    const regions = await page.$$eval('[data-testid=cmp-region]', (rs) => rs.map((r) => ({ change: Number(r.dataset.change),
      ids: [...r.querySelectorAll('[data-testid=cmp-example]')].map((e) => e.dataset.id) })));
    assert(regions.length > 0 && regions.length === c.regions.grew.length, `grown regions: ${regions.length}`);
    assert(regions.every((r, i) => i === 0 || r.change <= regions[i - 1].change), 'largest growth first');
    const bName = b.slice('inference:'.length);
    assert(regions[0].ids.length > 0 && regions[0].ids.every((id) => id.startsWith(`${bName}-`)), `examples from B: ${regions[0].ids}`);
    await page.screenshot({ path: path.join(SHOTS, 'compare.png'), fullPage: true });
    // The region's link opens B's samples inside the region (the map's lasso filter).
    await page.locator('[data-testid=cmp-region-link]').first().click();
    await page.getByTestId('run-page').waitFor();
    const v = new URL(page.url());
    assert(v.searchParams.get('split') === b && JSON.parse(v.searchParams.get('f')).polygon.length === 4, `region link: ${page.url()}`);
    await page.locator('[data-testid=sample-table]:not([data-loading])').waitFor();
    const shown = await page.$$eval('[data-testid=sample-row]', (rs) => rs.map((r) => r.dataset.id));
    assert(shown.length > 0 && shown.includes(regions[0].ids[0]), `the region's samples listed: ${shown.slice(0, 5)}`);
  });

  await step('compare from the split picker; swap; a missing split is named', async () => {
    const b = timeOrder[4];
    await page.goto(`${base}${RUN}?split=${encodeURIComponent(b)}`);
    await page.getByTestId('run-page').waitFor();
    await page.getByTestId('compare-with').selectOption('training');
    await page.locator('[data-testid=compare-page][data-ready="1"]').waitFor();
    let u = new URL(page.url());
    assert(u.searchParams.get('a') === 'training' && u.searchParams.get('b') === b, `picker → compare: ${page.url()}`);
    const drift = page.locator('[data-testid=cmp-metric][data-name=drifted_share]');
    assert((await drift.getAttribute('title')).includes('training is the drift reference'), 'training has no drift flags: said so');
    await page.getByTestId('cmp-swap').click();
    await waitForFunction(page, (bb) => new URL(location.href).searchParams.get('a') === bb && document.querySelector('[data-testid=compare-page][data-ready="1"]'), b);
    u = new URL(page.url());
    assert(u.searchParams.get('b') === 'training', 'swapped');
    await page.goto(`${base}${RUN}/compare?a=inference:nope&b=training`);
    const err = page.getByTestId('cmp-error');
    await err.waitFor();
    assert((await err.textContent()).includes("a: split 'inference:nope'"), `missing split named: ${await err.textContent()}`);
  });

  assert(errors.length === 0, `no page errors: ${errors.join('\n')}`);
}

let failed = false;
try {
  await main();
  log(`PASS (screenshots in ${SHOTS})`);
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.stack ?? e}`);
} finally {
  if (context) await context.close().catch(() => {});
  if (mock && mock.exitCode === null) mock.kill('SIGTERM');
  fs.rmSync(TMP, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
