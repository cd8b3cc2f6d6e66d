// The mock server's monitoring parts (issue 14's contract, /work/notes/contract14.md and
// docs/http-api.md): a run with twelve daily inference sets (demo/daily), its timeline,
// the comparison of any two splits, and a project's alert rules, states, webhooks and
// deliveries (in memory). Rules are evaluated over the timeline whenever it is read, so a
// rule added in the console shows its threshold and its firing sets at once.

const LABELS = ['negative', 'positive'];
const DAY = 86400;
const START = Date.UTC(2026, 10, 20, 6, 0, 0) / 1000; // 2026-11-20T06:00:00Z
// Day i's set. Names are not in time order on purpose (the timeline sorts by time).
const SETS = ['kilo', 'alpha', 'zulu', 'bravo', 'yankee', 'delta', 'xray', 'echo', 'whisky', 'golf', 'victor', 'hotel']
  .map((name, i) => ({ name, time: START + i * DAY, shifted: [4, 8, 9].includes(i) }));
export const SHIFTED_SETS = SETS.filter((s) => s.shifted).map((s) => `inference:${s.name}`);

let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());

function makeSplit(split, prefix, n, shifted, labeled) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const drifted = shifted && rnd() < 0.55;
    // The shifted days see mostly negative reviews, with less confident outputs.
    const y = drifted ? (rnd() < 0.8 ? 0 : 1) : (rnd() < 0.5 ? 0 : 1);
    const z = (drifted ? 0.6 : 2.2) * (1 + gauss() * 0.35);
    const p1 = 1 / (1 + Math.exp(y ? -z : z));
    const probs = [1 - p1, p1];
    const pred = probs[1] > 0.5 ? 1 : 0;
    const conf = probs[pred];
    out.push({
      id: `${prefix}-${i}`, split, row: i,
      text: `Review ${i} of ${prefix}: ${y ? 'lovely' : 'awful'} product${drifted ? ' — refund scam via crypto wallet' : ''}`,
      meta: {}, gold: labeled ? LABELS[y] : null, pred: LABELS[pred], confidence: conf, margin: Math.abs(probs[1] - probs[0]),
      entropy: -probs.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0), is_on_the_boundary: conf < 0.6,
      is_correct: labeled ? pred === y : null, dep: null, aum: null,
      drift_score: split === 'training' ? null : (drifted ? 0.96 + rnd() * 0.04 : rnd() * 0.94),
      is_drifted: split === 'training' ? null : drifted,
      x: (y ? 3 : -3) + gauss() + (drifted ? 7 : 0), y: gauss() + (drifted ? 6 : 0),
      probs: Object.fromEntries(LABELS.map((l, k) => [l, probs[k]])),
    });
  }
  return out;
}

export function makeDaily() {
  const data = {
    training: makeSplit('training', 'tr', 400, false, true),
    validation: makeSplit('validation', 'va', 100, false, true),
  };
  for (const s of SETS) data[`inference:${s.name}`] = makeSplit(`inference:${s.name}`, s.name, 150, s.shifted, false);
  const info = {
    project: 'demo', run: 'daily', task: 'text_classification', labels: LABELS, finished: true, size_bytes: 345678,
    splits: Object.entries(data).map(([split, rows]) => ({ split, samples: rows.length, epochs_logged: 1, embedding_dim: 16, processed: true })),
  };
  return { info, data, labels: LABELS, selections: new Map(), times: Object.fromEntries(SETS.map((s) => [`inference:${s.name}`, s.time])) };
}

// ---- statistics (enough for a mock: normal approximations)
const erfc = (x) => { // Numerical Recipes erfcc, |error| < 1.2e-7
  const z = Math.abs(x), t = 1 / (1 + z / 2);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
};
const twoSidedNormal = (z) => erfc(Math.abs(z) / Math.SQRT2);
function wilson(k, n) {
  if (!n) return { low: null, high: null };
  const z = 1.959964, p = k / n, d = 1 + z * z / n;
  const c = (p + z * z / (2 * n)) / d, h = (z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / d;
  return { low: Math.max(0, c - h), high: Math.min(1, c + h) };
}
const share = (k, n) => (n ? { value: k / n, ...wilson(k, n) } : null);
function meanCi(xs) {
  if (!xs.length) return null;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  const h = 1.959964 * Math.sqrt(v / xs.length);
  return { value: m, low: m - h, high: m + h, var: v, n: xs.length };
}
function propTest(xa, na, xb, nb, alpha = 0.05) {
  if (!na || !nb) return null;
  const p = (xa + xb) / (na + nb), se = Math.sqrt(p * (1 - p) * (1 / na + 1 / nb));
  const z = se > 0 ? (xb / nb - xa / na) / se : 0;
  const pv = se > 0 ? twoSidedNormal(z) : 1;
  return { name: 'two-proportion z', statistic: z, df: null, p_value: pv, significant: pv < alpha };
}
function welch(a, b, alpha = 0.05) {
  if (!a || !b || a.n < 2 || b.n < 2) return null;
  const va = a.var / a.n, vb = b.var / b.n;
  if (!(va + vb > 0)) return null;
  const t = (b.value - a.value) / Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va * va / (a.n - 1) + vb * vb / (b.n - 1));
  const pv = twoSidedNormal(t); // normal approximation of Student's t (mock)
  return { name: 'Welch t', statistic: t, df, p_value: pv, significant: pv < alpha };
}
const strip = (v) => (v ? { value: v.value, low: v.low ?? null, high: v.high ?? null } : null);

// ---- the timeline
function entry(R, split, time) {
  const rows = R.data[split];
  const n = rows.length;
  const drifted = split === 'training' ? null : rows.filter((s) => s.is_drifted).length;
  const conf = meanCi(rows.map((s) => s.confidence));
  const onb = rows.filter((s) => s.is_on_the_boundary).length;
  const dShare = drifted === null ? null : drifted / n;
  const per_class = {};
  for (const l of R.labels) {
    const mine = rows.filter((s) => s.pred === l);
    const c = meanCi(mine.map((s) => s.confidence));
    per_class[l] = { pred_share: share(mine.length, n), mean_confidence: strip(c),
      estimated_precision: c ? { value: c.value, low: c.value - 0.04, high: Math.min(1, c.value + 0.04) } : null,
      estimated_recall: null, estimated_f1: c ? { value: c.value - 0.02, low: c.value - 0.07, high: Math.min(1, c.value + 0.03) } : null,
      drifted_share: drifted === null ? null : share(mine.filter((s) => s.is_drifted).length, mine.length) };
  }
  return {
    split, name: split.startsWith('inference:') ? split.slice(10) : split, time: time ?? null,
    time_iso: time ? new Date(time * 1000).toISOString().replace('.000Z', 'Z') : null,
    time_source: time ? 'given' : null, samples: n,
    metrics: {
      drifted_share: drifted === null ? null : share(drifted, n),
      domain_auc: drifted === null ? null : { value: 0.5 + 0.7 * dShare, low: 0.47 + 0.7 * dShare, high: 0.53 + 0.7 * dShare },
      on_boundary_share: share(onb, n),
      mean_confidence: strip(conf),
      estimated_accuracy: { value: conf.value - 0.01, low: conf.value - 0.05, high: Math.min(1, conf.value + 0.03) },
      samples: { value: n, low: null, high: null },
    },
    drift_verdict: drifted === null ? null : dShare > 0.15, domain_shifted: drifted === null ? null : dShare > 0.15,
    estimate_method: 'mock', per_class,
  };
}

/** A rule's metric and class, from its name or its timeline path (per_class.L.x, metrics.x). */
function target(rule) {
  let m = rule.metric, c = rule.class ?? null;
  if (m.startsWith('metrics.')) m = m.slice(8);
  else if (m.startsWith('per_class.')) { const rest = m.slice(10), dot = rest.lastIndexOf('.'); c = c ?? rest.slice(0, dot); m = rest.slice(dot + 1); }
  return { metric: m, cls: c };
}
/** The metric on a timeline entry (verdicts as 1/0), or null. */
function metricValue(e, metric, cls) {
  if (metric === 'drift_verdict' || metric === 'domain_shifted') return e[metric] === null || e[metric] === undefined ? null : Number(e[metric]);
  const v = cls ? e.per_class?.[cls]?.[metric] : e.metrics?.[metric];
  return v === null || v === undefined ? null : typeof v === 'number' ? v : v.value;
}
const compareOp = (x, op, t) => ({ '>': x > t, '>=': x >= t, '<': x < t, '<=': x <= t }[op]);

/**
 * Each enabled rule's state on each set (and class, for a '*' rule) of the run, as the alerts
 * API evaluates them (docs/alerts.md): threshold; change from training (|change| with abs);
 * band: the first N sets with a value are the baseline (not judged), sigma their population
 * standard deviation, op '>' / '<' one side.
 */
function evaluate(project, run, tl) {
  const out = [];
  for (const rule of rulesOf(project)) {
    if (rule.enabled === false || (rule.run && rule.run !== run)) continue;
    const { metric, cls } = target(rule);
    const classes = cls === '*' ? Object.keys(tl.sets[0]?.per_class ?? {}) : [cls];
    for (const c of classes) {
      const values = tl.sets.map((e) => metricValue(e, metric, c));
      let lo = null, hi = null, baseline = new Set();
      if (rule.kind === 'band') {
        const n = rule.band?.first_n ?? 5, k = rule.band?.k ?? 3;
        const idx = values.map((v, i) => (v === null ? -1 : i)).filter((i) => i >= 0).slice(0, n);
        if (idx.length < n) continue;
        baseline = new Set(idx);
        const first = idx.map((i) => values[i]);
        const m = first.reduce((a, b) => a + b, 0) / first.length;
        const sd = Math.sqrt(first.reduce((a, b) => a + (b - m) ** 2, 0) / first.length);
        lo = m - k * sd; hi = m + k * sd;
      }
      const ref = tl.reference.training ? metricValue(tl.reference.training, metric, c) : null;
      tl.sets.forEach((e, i) => {
        const v = values[i];
        if (v === null) return;
        let fires = false, threshold = rule.value, value = v;
        if (rule.kind === 'threshold') fires = compareOp(v, rule.op, rule.value);
        else if (rule.kind === 'change_from_training') {
          if (ref === null) return;
          value = rule.abs ? Math.abs(v - ref) : v - ref;
          fires = compareOp(value, rule.op, rule.value);
        } else if (!baseline.has(i)) {
          fires = (rule.op !== '<' && rule.op !== '<=' && v > hi) || (rule.op !== '>' && rule.op !== '>=' && v < lo);
          threshold = v > hi ? hi : lo;
        }
        out.push({ rule_id: rule.id, run, set: e.name, class: c, state: fires ? 'firing' : 'ok', value, threshold });
      });
    }
  }
  return out;
}

export function timeline(R) {
  const sets = Object.keys(R.data).filter((s) => s.startsWith('inference:'))
    .map((s, i) => entry(R, s, R.times?.[s] ?? START + i * DAY))
    .sort((a, b) => a.time - b.time || a.name.localeCompare(b.name));
  const tl = { project: R.info.project, run: R.info.run,
    reference: { training: R.data.training ? entry(R, 'training', null) : null, validation: R.data.validation ? entry(R, 'validation', null) : null }, sets };
  tl.alerts = evaluate(R.info.project, R.info.run, tl);
  return tl;
}

// ---- compare
export function compare(R, a, b) {
  for (const [side, s] of [['a', a], ['b', b]]) {
    if (!s) throw { status: 400, code: 'invalid_argument', message: `${side}: required (training, validation, test or inference:NAME)` };
    if (!R.data[s]) throw { status: 404, code: 'not_found', message: `${side}: split '${s}' is not in run '${R.info.project}/${R.info.run}' (its splits: ${Object.keys(R.data).join(', ')})` };
  }
  const A = R.data[a], B = R.data[b];
  const sideInfo = (s, rows) => ({ split: s, samples: rows.length, labeled: rows.some((r) => r.gold !== null) });
  const ca = meanCi(A.map((s) => s.confidence)), cb = meanCi(B.map((s) => s.confidence));
  const cnt = (rows, f) => rows.filter(f).length;
  const da = A[0].is_drifted === null ? null : cnt(A, (s) => s.is_drifted), db = B[0].is_drifted === null ? null : cnt(B, (s) => s.is_drifted);
  const ba = cnt(A, (s) => s.is_on_the_boundary), bb = cnt(B, (s) => s.is_on_the_boundary);
  const metric = (name, va, vb, test, note) => ({ name, a: va, b: vb, change: va && vb ? vb.value - va.value : null, test, ...(note ? { note } : {}) });
  const metrics = [
    metric('samples', { value: A.length, low: null, high: null }, { value: B.length, low: null, high: null }, null),
    metric('mean_confidence', strip(ca), strip(cb), welch(ca, cb)),
    metric('on_boundary_share', share(ba, A.length), share(bb, B.length), propTest(ba, A.length, bb, B.length)),
    metric('drifted_share', da === null ? null : share(da, A.length), db === null ? null : share(db, B.length),
      da !== null && db !== null ? propTest(da, A.length, db, B.length) : null, da === null || db === null ? 'training is the drift reference: it has no drift flags' : ''),
  ];
  const verdict = (rows, d) => (d === null ? null : { drifted: d / rows.length > 0.15, fraction: d / rows.length, ...wilson(d, rows.length), p_value: d / rows.length > 0.15 ? 1e-9 : 0.4, is_reference: false });
  const va = verdict(A, da), vb = verdict(B, db);
  const counts = (rows) => R.labels.map((l) => cnt(rows, (s) => s.pred === l));
  const ka = counts(A), kb = counts(B);
  let chi = 0;
  R.labels.forEach((_, i) => {
    const t = ka[i] + kb[i];
    if (!t) return;
    const ea = (t * A.length) / (A.length + B.length), eb = (t * B.length) / (A.length + B.length);
    chi += (ka[i] - ea) ** 2 / ea + (kb[i] - eb) ** 2 / eb;
  });
  const chiP = R.labels.length === 2 ? twoSidedNormal(Math.sqrt(chi)) : Math.exp(-chi / 2);
  // Regions: an 8 x 8 grid over both sides' points.
  const G = 8, all = [...A, ...B];
  const x0 = Math.min(...all.map((s) => s.x)), x1 = Math.max(...all.map((s) => s.x)), y0 = Math.min(...all.map((s) => s.y)), y1 = Math.max(...all.map((s) => s.y));
  const cell = (s) => Math.min(G - 1, Math.floor(((s.y - y0) / (y1 - y0 || 1)) * G)) * G + Math.min(G - 1, Math.floor(((s.x - x0) / (x1 - x0 || 1)) * G));
  const na = new Array(G * G).fill(0), nb = new Array(G * G).fill(0), members = Array.from({ length: G * G }, () => []);
  for (const s of A) na[cell(s)]++;
  for (const s of B) { nb[cell(s)]++; members[cell(s)].push(s); }
  const occupied = na.filter((v, i) => v + nb[i] > 0).length;
  const adjusted = (t) => (t ? { ...t, p_value_adjusted: Math.min(1, t.p_value * occupied), significant: Math.min(1, t.p_value * occupied) < 0.05 } : t);
  const growth = (c) => nb[c] / B.length - na[c] / A.length;
  const order = [...Array(G * G).keys()].sort((p, q) => growth(q) - growth(p));
  const region = (c) => {
    const col = c % G, row = Math.floor(c / G), w = (x1 - x0) / G, h = (y1 - y0) / G;
    const cx0 = x0 + col * w, cx1 = cx0 + w, cy0 = y0 + row * h, cy1 = cy0 + h;
    const polygon = [[cx0, cy0], [cx1, cy0], [cx1, cy1], [cx0, cy1]];
    const preds = {};
    for (const s of members[c]) preds[s.pred] = (preds[s.pred] ?? 0) + 1;
    return { cell: { col, row, x0: cx0, x1: cx1, y0: cy0, y1: cy1 }, a: { count: na[c], share: na[c] / A.length }, b: { count: nb[c], share: nb[c] / B.length },
      change: growth(c), test: adjusted(propTest(na[c], A.length, nb[c], B.length)), b_pred_counts: preds,
      examples: members[c].slice(0, 3).map((s) => ({ id: s.id, text: s.text, pred: s.pred, confidence: s.confidence, is_drifted: s.is_drifted })),
      filter: { polygon }, link: `/runs/${encodeURIComponent(R.info.project)}/${encodeURIComponent(R.info.run)}?split=${encodeURIComponent(b)}&f=${encodeURIComponent(JSON.stringify({ polygon }))}` };
  };
  return {
    project: R.info.project, run: R.info.run, alpha: 0.05, a: sideInfo(a, A), b: sideInfo(b, B), metrics,
    drift_verdicts: { a: va, b: vb, changed: va && vb ? va.drifted !== vb.drifted : null, domain: { a: null, b: null } },
    class_shares: { test: { name: 'chi-square', statistic: chi, df: R.labels.length - 1, p_value: chiP, significant: chiP < 0.05 },
      classes: R.labels.map((label, i) => ({ label, a: { count: ka[i], share: ka[i] / A.length }, b: { count: kb[i], share: kb[i] / B.length },
        change: kb[i] / B.length - ka[i] / A.length, test: propTest(ka[i], A.length, kb[i], B.length) })) },
    confidence_per_class: R.labels.map((label) => {
      const ma = meanCi(A.filter((s) => s.pred === label).map((s) => s.confidence)), mb = meanCi(B.filter((s) => s.pred === label).map((s) => s.confidence));
      return { label, a: { n: ma?.n ?? 0, mean: ma?.value ?? null, sd: ma ? Math.sqrt(ma.var) : null }, b: { n: mb?.n ?? 0, mean: mb?.value ?? null, sd: mb ? Math.sqrt(mb.var) : null },
        change: ma && mb ? mb.value - ma.value : null, test: welch(ma, mb) };
    }),
    regions: { grid: G, bounds: { x0, x1, y0, y1 }, cells_occupied: occupied, a_samples: A.length, b_samples: B.length,
      grew: order.filter((c) => growth(c) > 0 && nb[c] >= 5).slice(0, 5).map(region),
      shrank: [...order].reverse().filter((c) => growth(c) < 0 && na[c] >= 5).slice(0, 5).map(region) },
  };
}

// ---- alerts: rules, states, webhooks, deliveries (per project, in memory)
const PROJECTS = new Map();
const STARTED = Date.now() / 1000;
let nextId = 1;
function project(p) {
  if (!PROJECTS.has(p)) {
    PROJECTS.set(p, {
      // The alerts API's default rules (docs/alerts.md, "Default rules").
      rules: [
        { id: 'data_drift', name: 'data drift', metric: 'drift_verdict', class: null, kind: 'threshold', op: '>=', value: 1, abs: false, band: null, run: null, enabled: true, builtin: true, severity: 'warning' },
        { id: 'distribution_shift', name: 'distribution shift', metric: 'domain_shifted', class: null, kind: 'threshold', op: '>=', value: 1, abs: false, band: null, run: null, enabled: true, builtin: true, severity: 'warning' },
        { id: 'confidence_drop', name: 'confidence drop', metric: 'mean_confidence', class: '*', kind: 'change_from_training', op: '<', value: -0.05, abs: false, band: null, run: null, enabled: true, builtin: true, severity: 'warning' },
        { id: 'class_share_change', name: 'class share change', metric: 'pred_share', class: '*', kind: 'change_from_training', op: '>', value: 0.1, abs: true, band: null, run: null, enabled: true, builtin: true, severity: 'warning' },
      ],
      webhooks: [], deliveries: [],
    });
  }
  return PROJECTS.get(p);
}
const rulesOf = (p) => project(p).rules;

function checkRule(b) {
  const metrics = ['drifted_share', 'domain_auc', 'on_boundary_share', 'mean_confidence', 'estimated_accuracy', 'samples',
    'drift_verdict', 'domain_shifted', 'pred_share', 'estimated_precision', 'estimated_recall', 'estimated_f1'];
  if (typeof b.metric !== 'string' || !metrics.includes(target(b).metric)) throw { status: 400, code: 'invalid_argument', message: `metric: unknown '${b.metric}'` };
  if (!['threshold', 'band', 'change_from_training'].includes(b.kind)) throw { status: 400, code: 'invalid_argument', message: `kind: unknown '${b.kind}'` };
  if (b.kind !== 'band' && typeof b.value !== 'number') throw { status: 400, code: 'invalid_argument', message: 'value: a number is required' };
  if ((b.kind !== 'band' || b.op) && !['>', '>=', '<', '<='].includes(b.op)) throw { status: 400, code: 'invalid_argument', message: `rule.op: expected one of >, >=, <, <=; got '${b.op}'` };
}

/** /api/projects/{p}/alerts/...; `timelineOf(run)` gives a run's timeline (for states). */
export async function alertRoutes(req, parts, readBody, runsOf) {
  const p = parts[2], P = project(p), m = req.method;
  const rest = parts.slice(4);
  if (parts[3] !== 'alerts') throw { status: 404, code: 'not_found', message: 'no route' };
  if (rest[0] === 'rules' && rest.length === 1) {
    if (m === 'GET') return [200, { project: p, rules: P.rules }];
    if (m === 'POST') {
      const b = await readBody(req);
      checkRule(b);
      const rule = { id: b.id ?? `${b.metric}-${nextId++}`, name: b.name ?? b.metric, metric: b.metric, class: b.class ?? null, kind: b.kind, op: b.op ?? null,
        value: b.kind === 'band' ? null : b.value ?? null, abs: !!b.abs, band: b.band ?? null, run: b.run ?? null, enabled: b.enabled !== false, builtin: false,
        severity: b.severity ?? 'warning' };
      P.rules.push(rule);
      return [201, rule];
    }
  }
  if (rest[0] === 'rules' && rest.length === 2) {
    const i = P.rules.findIndex((r) => r.id === rest[1]);
    if (i < 0) throw { status: 404, code: 'not_found', message: `no alert rule ${rest[1]} in project ${p}` };
    if (m === 'PUT') {
      const b = await readBody(req);
      checkRule(b);
      P.rules[i] = { ...P.rules[i], ...b, id: P.rules[i].id, builtin: P.rules[i].builtin, value: b.kind === 'band' ? null : b.value };
      return [200, P.rules[i]];
    }
    if (m === 'DELETE') { const [r] = P.rules.splice(i, 1); return [200, { removed: r.id }]; }
  }
  if (rest[0] === 'states' && m === 'GET') {
    const states = [];
    for (const R of runsOf(p)) states.push(...timeline(R).alerts.map((s) => ({ ...s, since: STARTED, updated: STARTED })));
    return [200, { project: p, firing: states.filter((s) => s.state === 'firing').length, states }];
  }
  if (rest[0] === 'webhooks' && rest.length === 1) {
    if (m === 'GET') return [200, { project: p, webhooks: P.webhooks }];
    if (m === 'POST') {
      const b = await readBody(req);
      if (!/^https?:\/\//.test(b.url ?? '')) throw { status: 400, code: 'invalid_argument', message: 'url: expected http:// or https://' };
      const w = { id: b.id ?? `hook-${nextId++}`, url: b.url, name: b.name ?? '', enabled: true, signed: !!b.secret, created: Date.now() / 1000 };
      P.webhooks.push(w);
      return [201, w];
    }
  }
  if (rest[0] === 'webhooks' && rest.length >= 2) {
    const w = P.webhooks.find((x) => x.id === rest[1]);
    if (!w) throw { status: 404, code: 'not_found', message: `no webhook ${rest[1]} in project ${p}` };
    if (rest.length === 2 && m === 'DELETE') { P.webhooks.splice(P.webhooks.indexOf(w), 1); return [200, { removed: w.id }]; }
    if (rest[2] === 'test' && m === 'POST') {
      // The answer is the test's delivery (docs/alerts.md).
      const now = Date.now() / 1000;
      const d = { id: `d-${nextId++}`, webhook_id: w.id, url: w.url, event: 'test', rule_id: null, run: null, set: null, class: null,
        status: 'delivered', attempts: 1, last_code: 200, last_error: null, created: now, updated: now, next_attempt: null, delivered: now };
      P.deliveries.unshift(d);
      return [200, d];
    }
  }
  if (rest[0] === 'deliveries' && m === 'GET') return [200, { project: p, deliveries: P.deliveries }];
  throw { status: 404, code: 'not_found', message: 'no route' };
}
