// Browser test of the console's team-server parts (docs/console.md), against
// tests/browser/mock_server.mjs started with API keys (the contract of the team server's
// /api/runs fields and /api/jobs; the real server's are checked by its own tests).
//
//   node tests/browser/team.test.mjs          (tests/browser/run.sh builds web/dist first)
//
// In Chromium (headless, fresh profile, the mock's pages under the same CSP as the real
// server's): a 401 brings up the key prompt; a wrong key is refused and asked again; the
// right one is kept in sessionStorage (never localStorage) and sent as a Bearer header; the
// runs page shows who uploaded each run and when; a job's queued, running (progress and
// stage) and done states reach the page by polling /api/jobs every 2 s, and polling stops
// once no job is active; a failed job shows its error; "Forget key" forgets it; a key of
// another project gets a clear 403 message and can be swapped for another key.
//
// Environment: CHROMIUM (default /usr/bin/chromium), SCREENSHOTS (default artifacts/screenshots).
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
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-team-browser-'));
const KEYS = [
  { name: 'ana', key: 'k-admin-123', role: 'admin', projects: [] },
  { name: 'bob', key: 'k-other-456', role: 'read', projects: ['other'] },
];

let mock = null;
let context = null;

function log(...a) { console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a); }
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
  mock = spawn(process.execPath, [path.join(REPO, 'tests/browser/mock_server.mjs'), '--port', String(port), '--static', DIST,
    '--keys', JSON.stringify(KEYS)], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 150; i++) {
    if (mock.exitCode !== null) throw new Error(`the mock server exited with ${mock.exitCode}`);
    try { if ((await fetch(`${base}/api/health`)).ok) return base; } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error('the mock server did not answer /api/health');
}

// The console as the real server serves it: no 'unsafe-eval', so page.waitForFunction (which
// evaluates with `new Function` in the page) is replaced by polling page.evaluate.
async function waitForFunction(page, fn, arg, timeout = 15000) {
  const until = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${fn}`);
    await sleep(50);
  }
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('web/dist is not built (run tests/browser/run.sh)');
  fs.mkdirSync(SHOTS, { recursive: true });
  const base = await startMock();
  const control = async (p, body) => {
    const r = await fetch(base + p, body ? { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {});
    assert(r.ok, `${p}: ${r.status}`);
    return r.json();
  };

  context = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
    viewport: { width: 1500, height: 950 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  // Every API request the page sends, with its Authorization header.
  const sent = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/api/')) sent.push({ path: new URL(r.url()).pathname, auth: r.headers().authorization ?? null }); });
  const storage = () => page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage } }));
  const step = async (name, fn) => {
    log(`step: ${name}`);
    try { await fn(); } catch (e) {
      await page.screenshot({ path: path.join(SHOTS, 'team-failure.png') }).catch(() => {});
      throw new Error(`step "${name}" failed: ${e.message}\n${errors.join('\n')}`);
    }
  };
  const row = (run) => page.locator(`[data-testid=project][data-project=demo] [data-testid=run-row][data-run=${run}]`);

  await step('a 401 asks for a key; a wrong key is asked again', async () => {
    await page.goto(base + '/');
    const prompt = page.getByTestId('key-prompt');
    await prompt.waitFor();
    assert(await page.getByTestId('key-input').getAttribute('type') === 'password', 'the key field hides the key');
    await page.screenshot({ path: path.join(SHOTS, 'team-key-prompt.png') });
    await page.getByTestId('key-input').fill('not-a-key');
    await page.getByTestId('key-submit').click();
    await page.locator('[data-testid=key-error]', { hasText: 'did not accept' }).waitFor();
    assert(await prompt.count() === 1, 'one prompt at a time');
  });

  await step('the right key is kept for the session only and sent as a Bearer header', async () => {
    sent.length = 0;
    await page.getByTestId('key-input').fill(KEYS[0].key);
    await page.getByTestId('key-submit').click();
    await row('sentiment').waitFor();
    assert(await page.getByTestId('key-prompt').count() === 0, 'the prompt is gone');
    const { session, local } = await storage();
    assert(Object.values(session).includes(KEYS[0].key), `the key is in sessionStorage: ${JSON.stringify(session)}`);
    assert(!JSON.stringify(local).includes(KEYS[0].key), `never in localStorage: ${JSON.stringify(local)}`);
    const runs = sent.filter((r) => r.path === '/api/runs');
    assert(runs.length > 0 && runs.every((r) => r.auth === `Bearer ${KEYS[0].key}`), `Bearer on /api/runs: ${JSON.stringify(runs)}`);
    assert(await page.getByTestId('key-status').isVisible(), 'the top bar says a key is set');
    // A reload keeps the key (same tab session): no prompt.
    await page.reload();
    await row('sentiment').waitFor();
    assert(await page.getByTestId('key-prompt').count() === 0, 'no prompt after a reload');
  });

  await step('the runs page shows who uploaded each run and when', async () => {
    const uploaded = row('sentiment').getByTestId('run-uploaded');
    assert(await uploaded.getByTestId('run-uploaded-by').textContent() === 'trainer-ci', 'uploaded by the CI key');
    const at = await uploaded.getByTestId('run-uploaded-at');
    assert(/^(1 h|6\d min|59 min) ago$/.test(await at.textContent()), `uploaded an hour ago: ${await at.textContent()}`);
    assert((await at.getAttribute('title')).endsWith(' UTC'), 'the exact time in the title');
    assert((await row('nli').getByTestId('run-uploaded').textContent()).trim() === '—', 'a run logged on the server: no uploader');
    assert(await row('sentiment').getByTestId('run-job').getAttribute('data-state') === 'done', 'its job is done');
    assert(await row('nli').getByTestId('run-job').getAttribute('data-state') === 'none', 'no job for a local run');
    // The run page says it too.
    await row('sentiment').getByTestId('run-link').click();
    const uploadedOnPage = page.locator('[data-testid=run-page] [data-testid=run-uploaded]');
    await uploadedOnPage.waitFor();
    assert((await uploadedOnPage.textContent()).startsWith('uploaded by trainer-ci · '), `run page: ${await uploadedOnPage.textContent()}`);
    await page.goBack();
    await row('sentiment').waitFor();
  });

  await step('a job queued, running and done, polled every 2 s while active', async () => {
    await control('/__mock/jobs', { id: 'job-2', project: 'demo', run: 'nli', uploaded_by: 'prod-host-7' });
    await page.reload();
    const job = page.locator('[data-testid=jobs] [data-testid=job][data-id=job-2]');
    await job.waitFor();
    assert(await job.getAttribute('data-state') === 'queued', 'queued');
    assert(await job.getByTestId('job-uploaded-by').textContent() === 'prod-host-7', 'who uploaded it');
    await page.locator('[data-testid=jobs][data-polling="1"]').waitFor();
    assert(await row('nli').getByTestId('run-job').getAttribute('data-state') === 'queued', 'the run shows its queued job');
    assert(await row('nli').getByTestId('run-uploaded-by').textContent() === 'prod-host-7', 'the uploader of the run');

    await control('/__mock/jobs', { id: 'job-2', state: 'running', stage: 'drift scoring', progress: 0.4 });
    const progress = row('nli').locator('[data-testid=run-job][data-state=running] [data-testid=job-progress]');
    await progress.waitFor();
    assert(await progress.getAttribute('data-progress') === '0.4', 'progress 0.4');
    assert((await progress.textContent()).includes('40% · drift scoring'), `stage and percent: ${await progress.textContent()}`);
    await page.screenshot({ path: path.join(SHOTS, 'team-runs-job-running.png') });
    await control('/__mock/jobs', { id: 'job-2', progress: 0.85, stage: 'map' });
    await row('nli').locator('[data-testid=job-progress][data-progress="0.85"]').waitFor();

    await control('/__mock/jobs', { id: 'job-2', state: 'done', stage: 'done', progress: 1 });
    await row('nli').locator('[data-testid=run-job][data-state=done]').waitFor();
    await page.locator('[data-testid=jobs][data-polling="0"]').waitFor();
    assert(await job.getAttribute('data-state') === 'done', 'the panel says done');
    // No job active: no more 2 s polls (the next is the 30 s idle check).
    const before = (await control('/__mock/stats')).jobs_requests;
    await sleep(4500);
    const after = (await control('/__mock/stats')).jobs_requests;
    assert(after - before === 0, `polling stopped: ${after - before} requests in 4.5 s`);
  });

  await step('a failed job shows its error', async () => {
    await control('/__mock/jobs', { id: 'job-3', project: 'demo', run: 'ner', uploaded_by: 'prod-host-7', state: 'running', stage: 'join', progress: 0.1 });
    await page.reload();
    await row('ner').locator('[data-testid=run-job][data-state=running]').waitFor();
    await control('/__mock/jobs', { id: 'job-3', state: 'failed', error: "labels differ from the training run's" });
    const failed = row('ner').locator('[data-testid=run-job][data-state=failed]');
    await failed.waitFor();
    assert((await failed.getByTestId('job-error').textContent()).includes('labels differ'), 'the reason is shown');
    await page.screenshot({ path: path.join(SHOTS, 'team-runs.png') });
  });

  await step('"Forget key" forgets it and asks again', async () => {
    await page.getByTestId('key-forget').click();
    await page.getByTestId('key-prompt').waitFor();
    const { session } = await storage();
    assert(!Object.values(session).includes(KEYS[0].key), 'the key is gone from sessionStorage');
  });

  await step('a key of another project gets a clear 403, and another key can be used', async () => {
    await page.getByTestId('key-input').fill(KEYS[1].key);
    await page.getByTestId('key-submit').click();
    await page.getByTestId('runs-empty').waitFor();  // bob's project has no run
    await page.goto(`${base}/runs/demo/sentiment`);
    const err = page.getByTestId('run-error');
    await err.waitFor();
    assert((await err.textContent()).includes('This key has no access to project "demo".'), `403 message: ${await err.textContent()}`);
    assert(await err.getAttribute('data-forbidden') === 'demo', 'marked forbidden');
    await page.screenshot({ path: path.join(SHOTS, 'team-forbidden.png') });
    await err.getByTestId('key-other').click();
    await page.getByTestId('key-input').fill(KEYS[0].key);
    await page.getByTestId('key-submit').click();
    await page.getByTestId('run-page').waitFor();
    await page.locator('[data-testid=sample-table]:not([data-loading])').waitFor();
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
