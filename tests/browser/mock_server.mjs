// A small stand-in for `sextant serve`, following docs/http-api.md and docs/ner-nli.md, over
// generated data: demo/sentiment (text classification: training, validation,
// inference:prod_1 with drift), demo/nli (premise/hypothesis pairs) and demo/ner (BIO tags,
// span rows, spans/map, spans/similar, the span summary; mock_tasks.mjs).
// Issue 16's samples filter `similar_split`/`similar_id`/`similar_k` (POST `similar`) with each
// row's `distance` and `sort=distance`, and the map's `match`/`matched`/`drifted` with filters.
// For developing the console without the C++ server:
//   node tests/browser/mock_server.mjs --port 8090 --static web/dist
// The browser test runs against the real server unless MOCK=1.
//
// The team server's parts (docs/team-server.md, docs/console.md), as the console expects them:
// - `--keys JSON`: [{"name", "key", "role", "projects": []}, ...]. Then every /api/ call but
//   /api/health needs `Authorization: Bearer KEY` (or ?token=KEY, for download links): 401
//   without a known key; a key scoped to projects sees only theirs in /api/runs and
//   /api/jobs, and gets 403 on another project's run.
// - Each run in /api/runs has `uploaded_by`, `uploaded_at` (Unix seconds) and `job`;
//   `GET /api/jobs` lists the processing jobs.
// - Test controls, outside /api/ and without a key: `POST /__mock/jobs` with a job's fields
//   adds or updates it (and the run's `job`); `GET /__mock/stats` counts the GET /api/jobs.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { makeNer, makeNli, spanRoutes, summaryOf } from './mock_tasks.mjs';
import { alertRoutes, compare, makeDaily, timeline } from './mock_monitor.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (v.startsWith('--') ? [...a, [v.slice(2), all[i + 1]]] : a), []));
const PORT = Number(args.port ?? 8090);
const KEYS = args.keys ? JSON.parse(args.keys) : null;
const STATIC = path.resolve(args.static ?? 'web/dist');

const LABELS = ['negative', 'neutral', 'positive'];
const WORDS = [['awful', 'boring', 'broken', 'dull'], ['plain', 'average', 'usual', 'ordinary'], ['great', 'lovely', 'superb', 'fun']];
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
const CENTRES = [[-4, 0], [0, 3], [4, 0]];

function makeSplit(split, n, shift, labeled) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const y = Math.floor(rnd() * 3);
    const logits = [gauss(), gauss(), gauss()];
    logits[y] += rnd() * 3;
    const m = Math.max(...logits);
    const e = logits.map((z) => Math.exp(z - m));
    const s = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / s);
    const order = [...p.keys()].sort((a, b) => p[b] - p[a]);
    const pred = order[0];
    const drifted = shift > 0 && rnd() < 0.35;
    const x = CENTRES[y][0] + gauss() + (drifted ? 6 : 0);
    const yy = CENTRES[y][1] + gauss() + (drifted ? -5 : 0);
    const word = WORDS[y][Math.floor(rnd() * 4)];
    out.push({
      id: `${{ training: 'train', validation: 'val', 'inference:prod_1': 'prod' }[split]}-${i}`, split, row: i,
      text: `Sample ${i}: a ${word} "${split}" review${drifted ? ' about crypto refunds' : ''}, row ${i}`,
      meta: { source: i % 2 ? 'app' : 'web' },
      gold: labeled ? LABELS[y] : null, pred: LABELS[pred], confidence: p[pred], margin: p[pred] - p[order[1]],
      entropy: -p.reduce((a, v) => a + v * Math.log(v), 0), is_on_the_boundary: p[order[1]] / p[pred] > 0.5,
      is_correct: labeled ? pred === y : null, dep: split === 'training' ? rnd() : null, aum: null,
      drift_score: split === 'training' ? null : (drifted ? 0.96 + rnd() * 0.04 : rnd() * 0.95),
      is_drifted: split === 'training' ? null : drifted, x, y: yy,
      probs: Object.fromEntries(LABELS.map((l, k) => [l, p[k]])),
    });
  }
  return out;
}

const DATA = {
  training: makeSplit('training', 1500, 0, true),
  validation: makeSplit('validation', 300, 0, true),
  'inference:prod_1': makeSplit('inference:prod_1', 1200, 1, false),
};
const RUN = {
  project: 'demo', run: 'sentiment', task: 'text_classification', labels: LABELS, finished: true, size_bytes: 1234567,
  splits: Object.entries(DATA).map(([split, s]) => ({ split, samples: s.length, epochs_logged: 1, embedding_dim: 16, processed: true })),
};
// Every run: its info, samples by split, labels and selections (NER runs also span rows).
const RUNS = [
  { info: RUN, data: DATA, labels: LABELS, selections: new Map() },
  makeNli(),
  makeNer(),
  makeDaily(),
].map((r) => ({ ...r, selections: r.selections ?? new Map() }));

// The team server's fields: demo/sentiment was uploaded an hour ago by a CI key and its
// processing job is done; the others were logged on the server's machine.
const NOW = () => Math.floor(Date.now() / 1000);
const STARTED = NOW();
const JOBS = [{ id: 'job-1', project: 'demo', run: 'sentiment', state: 'done', stage: 'done', progress: 1, error: null,
  uploaded_by: 'trainer-ci', created_at: STARTED - 3700, started_at: STARTED - 3690, finished_at: STARTED - 3600 }];
for (const r of RUNS) Object.assign(r.info, { uploaded_by: null, uploaded_at: null, job: null });
Object.assign(RUNS[0].info, { uploaded_by: 'trainer-ci', uploaded_at: STARTED - 3700 });
const runJob = ({ id, state, stage, progress, error }) => ({ id, state, stage, progress, error });
function syncRunJobs() {
  for (const r of RUNS) {
    const jobs = JOBS.filter((j) => j.project === r.info.project && j.run === r.info.run);
    r.info.job = jobs.length ? runJob(jobs[jobs.length - 1]) : null;
  }
}
syncRunJobs();
const stats = { jobs_requests: 0 };

/** The key of the request (Bearer header, or ?token= on a download link), or a 401. */
function principal(req, u) {
  if (!KEYS) return null;
  const header = req.headers.authorization ?? '';
  const sent = header.startsWith('Bearer ') ? header.slice(7) : u.searchParams.get('token');
  const key = KEYS.find((k) => k.key === sent);
  if (!key) throw { status: 401, code: 'unauthenticated', message: sent ? 'unknown or revoked API key' : 'this server needs an API key: send Authorization: Bearer <key>' };
  return key;
}
const covers = (key, project) => !key || !key.projects?.length || key.projects.includes(project);

async function control(req, res, parts) {
  if (parts[1] === 'stats') return send(res, 200, stats);
  if (parts[1] === 'jobs' && req.method === 'POST') {
    const b = await readBody(req);
    let j = JOBS.find((x) => x.id === b.id);
    if (!j) {
      j = { id: b.id, project: b.project, run: b.run, state: 'queued', stage: 'queued', progress: 0, error: null,
        uploaded_by: b.uploaded_by ?? null, created_at: NOW(), started_at: null, finished_at: null };
      JOBS.push(j);
      const R = RUNS.find((r) => r.info.project === j.project && r.info.run === j.run);
      if (R) Object.assign(R.info, { uploaded_by: j.uploaded_by, uploaded_at: j.created_at });
    }
    Object.assign(j, b);
    if (j.state === 'running' && !j.started_at) j.started_at = NOW();
    if ((j.state === 'done' || j.state === 'failed') && !j.finished_at) j.finished_at = NOW();
    syncRunJobs();
    return send(res, 200, j);
  }
  throw { status: 404, code: 'not_found', message: 'no mock control' };
}

function pip(poly, x, y) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

const list = (v) => (v === undefined || v === null ? null : (Array.isArray(v) ? v.flatMap((s) => String(s).split(',')) : String(v).split(',')).filter(Boolean));
const bool = (v) => (v === undefined || v === null ? null : v === true || v === 'true');

/**
 * Issue 16's similar filter (docs/http-api.md): `similar: {split, id, k}` (POST) or
 * similar_split/similar_id/similar_k (GET): the K nearest neighbours of the sample within
 * `split` (itself excluded), each with its `distance`.
 */
function similarOf(f) {
  if (f.similar && typeof f.similar === 'object') return { split: f.similar.split, id: f.similar.id, k: Number(f.similar.k ?? 50) };
  if (f.similar_split === undefined && f.similar_id === undefined && f.similar_k === undefined) return null;
  if (!f.similar_split) throw { status: 400, code: 'invalid_argument', message: 'similar_split: required with similar_id or similar_k' };
  if (!f.similar_id) throw { status: 400, code: 'invalid_argument', message: 'similar_id: required with similar_split' };
  return { split: f.similar_split, id: f.similar_id, k: Number(f.similar_k ?? 50) };
}

function filterSamples(R, split, f) {
  let rows = R.data[split];
  if (!rows) throw { status: 404, code: 'not_found', message: `no split ${split}` };
  const sim = similarOf(f);
  if (sim) {
    const near = similar(R, sim.split, sim.id, Math.min(1000, sim.k), [split]).neighbors;
    const dist = new Map(near.map((n) => [n.id, n.distance]));
    rows = rows.filter((s) => dist.has(s.id)).map((s) => ({ ...s, distance: dist.get(s.id) }));
  }
  if (f.text) {
    let re;
    try { re = new RegExp(f.text, 'i'); } catch (e) { throw { status: 400, code: 'invalid_argument', message: `text: ${e.message}` }; }
    rows = rows.filter((s) => re.test(s.text));
  }
  // NLI: a regex over each field.
  for (const k of ['premise', 'hypothesis']) {
    if (!f[k]) continue;
    let re;
    try { re = new RegExp(f[k], 'i'); } catch (e) { throw { status: 400, code: 'invalid_argument', message: `${k}: ${e.message}` }; }
    rows = rows.filter((s) => s[k] !== undefined && re.test(s[k]));
  }
  const gold = list(f.gold), pred = list(f.pred), ids = list(f.ids);
  if (gold?.length) rows = rows.filter((s) => gold.includes(s.gold));
  if (pred?.length) rows = rows.filter((s) => pred.includes(s.pred));
  if (ids?.length) rows = rows.filter((s) => ids.includes(s.id));
  const num = (k) => (f[k] === undefined || f[k] === '' ? null : Number(f[k]));
  if (num('min_confidence') !== null) rows = rows.filter((s) => s.confidence >= num('min_confidence'));
  if (num('max_confidence') !== null) rows = rows.filter((s) => s.confidence <= num('max_confidence'));
  if (num('min_dep') !== null) rows = rows.filter((s) => s.dep !== null && s.dep >= num('min_dep'));
  if (num('max_dep') !== null) rows = rows.filter((s) => s.dep !== null && s.dep <= num('max_dep'));
  if (bool(f.drifted) !== null) rows = rows.filter((s) => s.is_drifted === bool(f.drifted));
  if (bool(f.on_boundary) !== null) rows = rows.filter((s) => s.is_on_the_boundary === bool(f.on_boundary));
  if (bool(f.misclassified) !== null) rows = rows.filter((s) => s.is_correct === !bool(f.misclassified));
  for (const [k, v] of Object.entries(f)) if (k.startsWith('meta.')) rows = rows.filter((s) => String(s.meta[k.slice(5)]) === String(v));
  if (f.polygon) {
    if (f.polygon.length < 3) throw { status: 400, code: 'invalid_argument', message: 'polygon needs at least 3 points' };
    rows = rows.filter((s) => pip(f.polygon, s.x, s.y));
  }
  return rows;
}

function page(R, split, f) {
  let rows = filterSamples(R, split, f);
  const sort = f.sort ?? 'row', dir = f.order === 'desc' ? -1 : 1;
  if (sort === 'distance' && !similarOf(f)) throw { status: 400, code: 'invalid_argument', message: "sort: 'distance' needs a similar-samples filter (similar_split and similar_id)" };
  rows = [...rows].sort((a, b) => {
    const x = a[sort], y = b[sort];
    if (x === y) return a.row - b.row;
    if (x === null) return 1; if (y === null) return -1;
    return (x < y ? -1 : 1) * dir;
  });
  const offset = Number(f.offset ?? 0), limit = Math.min(1000, Number(f.limit ?? 50));
  return { total: rows.length, offset, limit, samples: rows.slice(offset, offset + limit).map(({ probs, ...s }) => s) };
}

function insights(R, split) {
  const rows = R.data[split], ref = R.data.training, LABELS = R.labels;
  const share = (rs, l) => rs.filter((s) => s.pred === l).length / rs.length;
  const meanc = (rs, l) => { const r = rs.filter((s) => s.pred === l); return r.length ? r.reduce((a, s) => a + s.confidence, 0) / r.length : null; };
  const labeled = rows[0].gold !== null;
  const classes = LABELS.map((l) => {
    const tp = rows.filter((s) => s.pred === l && s.gold === l).length;
    const pp = rows.filter((s) => s.pred === l).length, gp = rows.filter((s) => s.gold === l).length;
    const precision = labeled ? tp / (pp || 1) : null, recall = labeled ? tp / (gp || 1) : null;
    return { label: l, share: share(rows, l), reference_share: share(ref, l), mean_confidence: meanc(rows, l), reference_mean_confidence: meanc(ref, l),
      precision, recall, f1: labeled ? (2 * precision * recall) / (precision + recall || 1) : null };
  });
  const drifted = split === 'training' ? null : rows.filter((s) => s.is_drifted).length;
  const onb = rows.filter((s) => s.is_on_the_boundary).length;
  const alerts = drifted !== null && drifted / rows.length > 0.2
    ? [{ kind: 'data_drift', severity: 'critical', message: `${((100 * drifted) / rows.length).toFixed(1)}% of ${split} is drifted (threshold 20%)` }] : [];
  return { split, reference: 'training', classes, drifted: drifted === null ? null : { count: drifted, fraction: drifted / rows.length },
    on_the_boundary: { count: onb, fraction: onb / rows.length },
    accuracy: labeled ? rows.filter((s) => s.is_correct).length / rows.length : null,
    macro_f1: labeled ? classes.reduce((a, c) => a + c.f1, 0) / LABELS.length : null, alerts };
}

function similar(R, split, id, k, inSplits) {
  const DATA = R.data;
  const q = DATA[split]?.find((s) => s.id === id);
  if (!q) throw { status: 404, code: 'not_found', message: `no sample ${id} in ${split}` };
  const cands = [];
  for (const sp of inSplits ?? Object.keys(DATA)) for (const s of DATA[sp] ?? []) if (!(s.id === id && sp === split)) cands.push([Math.hypot(s.x - q.x, s.y - q.y) / 10, s]);
  cands.sort((a, b) => a[0] - b[0]);
  return { query: { split, id }, took_ms: 0.4, neighbors: cands.slice(0, k).map(([d, s]) => ({ id: s.id, split: s.split, distance: d, text: s.text, pred: s.pred, gold: s.gold, confidence: s.confidence, is_drifted: s.is_drifted })) };
}

const COLS = ['id', 'split', 'text', 'gold', 'pred', 'confidence', 'margin', 'is_on_the_boundary', 'dep', 'drift_score', 'is_drifted', 'source'];
const csvCell = (v) => { const s = v === null || v === undefined ? '' : String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
function exportRows(rows, format) {
  const flat = rows.map((s) => ({ ...Object.fromEntries(COLS.slice(0, -1).map((c) => [c, s[c]])), source: s.meta.source }));
  if (format === 'jsonl') return flat.map((r) => JSON.stringify(r)).join('\n') + '\n';
  return [COLS.join(','), ...flat.map((r) => COLS.map((c) => csvCell(r[c])).join(','))].join('\r\n') + '\r\n';
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function readBody(req) {
  let b = ''; for await (const c of req) b += c; return b ? JSON.parse(b) : {};
}

async function handle(req, res) {
  const u = new URL(req.url, 'http://x');
  const q = Object.fromEntries(u.searchParams);
  for (const k of new Set(u.searchParams.keys())) if (u.searchParams.getAll(k).length > 1) q[k] = u.searchParams.getAll(k);
  const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === '__mock') return control(req, res, parts);
  if (parts[0] !== 'api') return serveStatic(u.pathname, res);
  const m = req.method;
  if (parts[1] === 'health') return send(res, 200, { ok: true, version: '0.1.0-mock' });
  const key = principal(req, u);
  if (parts[1] === 'jobs' && parts.length === 2) {
    stats.jobs_requests++;
    return send(res, 200, { jobs: JOBS.filter((j) => covers(key, j.project)) });
  }
  // Issue 14's alerts API (mock_monitor.mjs).
  if (parts[1] === 'projects' && parts.length >= 4) {
    if (!covers(key, parts[2])) throw { status: 403, code: 'forbidden', message: `the key '${key.name}' has no access to project '${parts[2]}'` };
    const [status, body] = await alertRoutes(req, parts, readBody, (p) => RUNS.filter((r) => r.info.project === p && r.info.run === 'daily'));
    return send(res, status, body);
  }
  if (parts[1] !== 'runs') throw { status: 404, code: 'not_found', message: 'no route' };
  if (parts.length === 2) return send(res, 200, { runs: RUNS.map((r) => r.info).filter((r) => covers(key, r.project)) });
  if (!covers(key, parts[2])) throw { status: 403, code: 'forbidden', message: `the key '${key.name}' has no access to project '${parts[2]}'` };
  const R = RUNS.find((r) => r.info.project === parts[2] && r.info.run === parts[3]);
  if (!R) throw { status: 404, code: 'not_found', message: `no run ${parts[2]}/${parts[3]}` };
  const { data: DATA, labels: LABELS, selections } = R;
  const rest = parts.slice(4);
  if (rest.length === 0) return send(res, 200, R.info);
  if (rest[0] === 'insights') return send(res, 200, insights(R, q.split ?? 'training'));
  if (rest[0] === 'timeline') return send(res, 200, timeline(R));
  if (rest[0] === 'compare') return send(res, 200, compare(R, q.a, q.b));
  if (rest[0] === 'summary') return send(res, 200, summaryOf(R));
  if (rest[0] === 'spans') {
    if (!R.spans) throw { status: 400, code: 'invalid_argument', message: `${R.info.task} runs have no span rows` };
    return send(res, 200, spanRoutes(R, rest.slice(1), q));
  }
  if (rest[0] === 'samples' && rest.length === 1) return send(res, 200, page(R, q.split, q));
  if (rest[0] === 'samples' && rest[1] === 'query' && m === 'POST') {
    const b = await readBody(req);
    const known = new Set(['split', 'offset', 'limit', 'sort', 'order', 'text', 'premise', 'hypothesis', 'gold', 'pred', 'min_confidence', 'max_confidence',
      'min_dep', 'max_dep', 'drifted', 'on_boundary', 'misclassified', 'ids', 'polygon', 'meta', 'similar']);
    for (const k of Object.keys(b)) if (!known.has(k) && !k.startsWith('meta.')) throw { status: 400, code: 'invalid_argument', message: `unknown field ${k}` };
    for (const [k, v] of Object.entries(b.meta ?? {})) b[`meta.${k}`] = v;
    return send(res, 200, page(R, b.split, b));
  }
  if (rest[0] === 'samples' && rest.length === 3) {
    const s = DATA[rest[1]]?.find((x) => x.id === rest[2]);
    if (!s) throw { status: 404, code: 'not_found', message: `no sample ${rest[2]}` };
    return send(res, 200, s);
  }
  if (rest[0] === 'similar') return send(res, 200, similar(R, q.split, q.id, Number(q.k ?? 10), q.in ? String(q.in).split(',') : null));
  if (rest[0] === 'map') {
    const splits = (q.splits ?? Object.keys(DATA).join(',')).split(',');
    const all = splits.flatMap((s) => DATA[s]);
    const xs = all.map((s) => s.x), ys = all.map((s) => s.y);
    // Issue 16: with any samples filter each split gains `match` (aligned with the points) and
    // `matched`; the points carry their drifted flag.
    const filtered = Object.keys(q).some((k) => !['splits', 'max_points', 'color'].includes(k));
    return send(res, 200, {
      bounds: { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) },
      splits: splits.map((split) => {
        const r = DATA[split];
        const out = { split, total: r.length, points: {
          x: r.map((s) => s.x), y: r.map((s) => s.y), id: r.map((s) => s.id), pred: r.map((s) => LABELS.indexOf(s.pred)),
          gold: r.map((s) => (s.gold ? LABELS.indexOf(s.gold) : -1)), confidence: r.map((s) => s.confidence),
          drift_score: r.map((s) => s.drift_score), drifted: r.map((s) => (s.is_drifted === null ? null : s.is_drifted ? 1 : 0)), count: r.map(() => 1) } };
        if (filtered) {
          const ids = new Set(filterSamples(R, split, q).map((s) => s.id));
          out.match = r.map((s) => (ids.has(s.id) ? 1 : 0));
          out.matched = ids.size;
        }
        return out;
      }),
    });
  }
  if (rest[0] === 'export') {
    return send(res, 200, exportRows(page(R, q.split, { ...q, limit: 1e9 }).samples, q.format), {
      'Content-Type': q.format === 'jsonl' ? 'application/x-ndjson' : 'text/csv', 'Content-Disposition': `attachment; filename="${q.split}.${q.format}"` });
  }
  if (rest[0] === 'selections') {
    const now = new Date().toISOString();
    if (rest.length === 1 && m === 'GET') return send(res, 200, { selections: [...selections.values()].map((s) => ({ name: s.name, count: s.items.size, created_at: s.created_at, updated_at: s.updated_at })) });
    if (rest.length === 1 && m === 'POST') {
      const { name } = await readBody(req);
      if (!name) throw { status: 400, code: 'invalid_argument', message: 'name required' };
      if (selections.has(name)) throw { status: 409, code: 'already_exists', message: `selection ${name} exists` };
      selections.set(name, { name, items: new Map(), created_at: now, updated_at: now });
      return send(res, 201, { name, count: 0 });
    }
    const sel = selections.get(rest[1]);
    if (!sel) throw { status: 404, code: 'not_found', message: `no selection ${rest[1]}` };
    if (rest.length === 2 && m === 'GET') return send(res, 200, { name: sel.name, items: [...sel.items.values()].map(({ split, id }) => ({ split, id })) });
    if (rest.length === 2 && m === 'DELETE') { selections.delete(sel.name); return send(res, 200, { deleted: sel.name }); }
    if (rest[2] === 'add') {
      const b = await readBody(req);
      const items = b.items ?? filterSamples(R, b.split, b.filter ?? {}).map((s) => ({ split: s.split, id: s.id }));
      for (const it of items) {
        const s = DATA[it.split]?.find((x) => x.id === it.id);
        if (!s) throw { status: 404, code: 'not_found', message: `no sample ${it.id}` };
        sel.items.set(`${it.split}\u0000${it.id}`, s);
      }
      sel.updated_at = now;
      return send(res, 200, { count: sel.items.size });
    }
    if (rest[2] === 'remove') {
      const b = await readBody(req);
      for (const it of b.items ?? []) sel.items.delete(`${it.split}\u0000${it.id}`);
      return send(res, 200, { count: sel.items.size });
    }
    if (rest[2] === 'export') {
      return send(res, 200, exportRows([...sel.items.values()], q.format), {
        'Content-Type': q.format === 'jsonl' ? 'application/x-ndjson' : 'text/csv', 'Content-Disposition': `attachment; filename="${sel.name}.${q.format}"` });
    }
  }
  throw { status: 404, code: 'not_found', message: 'no route' };
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };
function serveStatic(p, res) {
  let file = path.join(STATIC, path.normalize(decodeURIComponent(p)));
  if (!file.startsWith(STATIC)) return send(res, 404, { error: { code: 'not_found', message: 'no file' } });
  if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(STATIC, 'index.html');
  // The real server's policy (no inline scripts or styles, no eval), so the console is tested under it.
  res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Security-Policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'" });
  fs.createReadStream(file).pipe(res);
}

http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (e.status) return send(res, e.status, { error: { code: e.code, message: e.message } }, e.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {});
    send(res, 500, { error: { code: 'internal', message: String(e?.message ?? e) } });
  });
}).listen(PORT, '127.0.0.1', () => console.log(`mock sextant serve on http://127.0.0.1:${PORT}`));
