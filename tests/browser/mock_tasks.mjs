// The NLI and NER runs of the mock server (mock_server.mjs), generated deterministically,
// following docs/ner-nli.md: NLI samples carry `premise` and `hypothesis` (`text` is
// `premise [SEP] hypothesis`); NER samples carry `tokens`, `gold_spans` and `pred_spans`,
// the run has span rows (GET .../spans, spans/map, spans/similar) and a span summary.

/** A seeded generator of its own, so the sentiment run's data does not change. */
function rng(seed) {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  return { rnd, gauss, pick };
}

const info = (run, task, labels, data) => ({
  project: 'demo', run, task, labels, finished: true, size_bytes: 654321,
  splits: Object.entries(data).map(([split, s]) => ({ split, samples: s.length, epochs_logged: 1, embedding_dim: 16, processed: true })),
});

/** Sample-level fields from class probabilities (as the sentiment run's). */
function scored(p, labels) {
  const order = [...p.keys()].sort((a, b) => p[b] - p[a]);
  return {
    pred: labels[order[0]], confidence: p[order[0]], margin: p[order[0]] - p[order[1]],
    entropy: -p.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0), is_on_the_boundary: p[order[1]] / p[order[0]] > 0.5,
    certainty_ratio: p[order[1]] / p[order[0]], epoch: 0, drift_distance: null,
    probs: Object.fromEntries(labels.map((l, k) => [l, p[k]])),
  };
}

function softmax(z) {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const PREFIX = { training: 'train', validation: 'val' };
const idOf = (run, split, i) => `${run}-${PREFIX[split] ?? split.replace('inference:', '')}-${i}`;

// ---------------------------------------------------------------------------------------- NLI
const NLI_LABELS = ['entailment', 'neutral', 'contradiction'];
const SUBJECTS = ['A man', 'A woman', 'Two dogs', 'A child', 'The chef', 'A group of friends'];
// [premise predicate, entailed, neutral, contradicting]
const SCENES = [
  ['is sleeping on a couch', 'is resting', 'is dreaming about work', 'is running a marathon'],
  ['plays guitar in the park', 'is making music outdoors', 'is practising for a concert', 'never touched an instrument'],
  ['is cooking pasta', 'is preparing food', 'is cooking for a party', 'is not in the kitchen'],
  ['runs along the beach', 'is outside', 'is training for a race', 'is sitting indoors'],
  ['reads a book on a train', 'is reading', 'is reading a mystery novel', 'is asleep at home'],
];

export function makeNli() {
  const { rnd, gauss, pick } = rng(7);
  const split = (name, n, shift, labeled) => Array.from({ length: n }, (_, i) => {
    const y = Math.floor(rnd() * 3);
    const scene = pick(SCENES);
    const subj = pick(SUBJECTS);
    const drifted = shift && rnd() < 0.3;
    const premise = `${subj} ${scene[0]}${drifted ? ' while the server returns a 502 error' : ''}.`;
    // A contradiction is either the scene's contradicting predicate or "Nobody" + the entailed one.
    const hypothesis = y === 2 && rnd() < 0.5 ? `Nobody ${scene[1]}.` : `Someone ${scene[1 + y]}.`;
    const z = [gauss(), gauss(), gauss()];
    z[y] += rnd() * 3;
    const p = softmax(z);
    const sc = scored(p, NLI_LABELS);
    return {
      id: idOf('nli', name, i), split: name, row: i, text: `${premise} [SEP] ${hypothesis}`, premise, hypothesis,
      meta: { source: i % 3 ? 'snli' : 'mnli' }, gold: labeled ? NLI_LABELS[y] : null, ...sc,
      is_correct: labeled ? sc.pred === NLI_LABELS[y] : null, dep: labeled ? rnd() : null, aum: null,
      drift_score: name === 'training' ? null : drifted ? 0.96 + rnd() * 0.04 : rnd() * 0.95,
      is_drifted: name === 'training' ? null : drifted,
      x: [-4, 0, 4][y] + gauss() + (drifted ? 6 : 0), y: [0, 3, 0][y] + gauss() + (drifted ? -5 : 0),
    };
  });
  const data = { training: split('training', 600, false, true), validation: split('validation', 150, false, true), 'inference:prod_1': split('inference:prod_1', 400, true, false) };
  return { info: info('nli', 'natural_language_inference', NLI_LABELS, data), data, labels: NLI_LABELS };
}

// ---------------------------------------------------------------------------------------- NER
const TYPES = ['PER', 'LOC', 'ORG'];
const NER_LABELS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG'];
const NAMES = {
  PER: ['Alice Smith', 'Bob', 'Maria Garcia', 'Chen Wei', 'Omar Haddad', 'Peter'],
  LOC: ['Paris', 'New York', 'Berlin', 'Lagos', 'Lima', 'Rio de Janeiro'],
  ORG: ['Acme Corp', 'United Nations', 'Siemens', 'Reuters', 'Red Cross'],
};
// Emerging entities of the inference set (WNUT-like): the drifted ones.
const EMERGING = { PER: ['@jdoe', 'Zendaya', 'xQc'], LOC: ['Wakanda', 'Hogsmeade'], ORG: ['TikTok', 'Fortnite', 'Discord'] };
const FILLER = ['said', 'that', 'the', 'visit', 'to', 'was', 'met', 'with', 'in', 'on', 'Monday', 'today', 'a', 'new', 'office', 'report', 'lol', 'Friday', 'from'];
const CAPS = new Set(['Monday', 'Friday']);

/** Gold and predicted spans matched into span rows (docs/ner-nli.md, "Processing"). */
function matchSpans(gold, pred, labeled) {
  const overlap = (a, b) => a.start < b.end && b.start < a.end;
  const rows = [];
  if (!labeled) { for (const p of pred) rows.push({ start: p.start, end: p.end, gold: null, pred: p.label, error_type: null, tok: p.tok }); return rows; }
  const usedPred = new Set();
  for (const g of gold) {
    const p = pred.find((q) => q.start === g.start && q.end === g.end);
    if (p) { usedPred.add(p); rows.push({ start: g.start, end: g.end, gold: g.label, pred: p.label, error_type: p.label === g.label ? 'none' : 'wrong_tag', tok: g.tok }); continue; }
    rows.push({ start: g.start, end: g.end, gold: g.label, pred: null, error_type: pred.some((q) => overlap(q, g)) ? 'span_shift' : 'missed_label', tok: g.tok });
  }
  for (const p of pred) {
    if (usedPred.has(p)) continue;
    rows.push({ start: p.start, end: p.end, gold: null, pred: p.label, error_type: gold.some((g) => overlap(g, p)) ? 'span_shift' : 'ghost_span', tok: p.tok });
  }
  return rows.sort((a, b) => a.start - b.start || (a.gold ? 0 : 1) - (b.gold ? 0 : 1));
}

export function makeNer() {
  const { rnd, gauss, pick } = rng(11);
  const CENTRE = { PER: [-4, 0], LOC: [0, 4], ORG: [4, 0] };
  const spans = {};
  const split = (name, n, shift, labeled) => {
    const rows = [];
    const spanRows = [];
    for (let i = 0; i < n; i++) {
      const driftedSample = shift && rnd() < 0.35;
      // Words, then entities among them: [word, type|null, entity index].
      const words = [];
      const ents = [];
      const nEnt = 1 + Math.floor(rnd() * 3);
      for (let e = 0; e < nEnt; e++) {
        for (let f = 0, nf = 1 + Math.floor(rnd() * 3); f < nf; f++) words.push([pick(FILLER), null]);
        const t = pick(TYPES);
        const phrase = driftedSample && rnd() < 0.7 ? pick(EMERGING[t]) : pick(NAMES[t]);
        const first = words.length;
        for (const w of phrase.split(' ')) words.push([w, t]);
        ents.push({ type: t, first, last: words.length - 1 });
      }
      words.push([pick(FILLER), null]);
      let text = '';
      const tokens = [];
      for (const [w] of words) { if (text) text += ' '; tokens.push([text.length, text.length + w.length]); text += w; }
      const tokSpan = (a, b, label) => ({ start: tokens[a][0], end: tokens[b][1], label, tok: [a, b] });
      const gold = ents.map((e) => tokSpan(e.first, e.last, e.type));
      // Predictions: mostly right; some wrong tags, shifted boundaries, missed and ghost spans.
      const pred = [];
      for (const e of ents) {
        const r = rnd();
        if (r < 0.72) pred.push(tokSpan(e.first, e.last, e.type));
        else if (r < 0.8) pred.push(tokSpan(e.first, e.last, pick(TYPES.filter((t) => t !== e.type))));
        else if (r < 0.88) {
          if (e.last > e.first) pred.push(tokSpan(e.first, e.last - 1, e.type));
          else if (words[e.last + 1] && words[e.last + 1][1] === null) pred.push(tokSpan(e.first, e.last + 1, e.type));
          else pred.push(tokSpan(e.first, e.last, e.type));
        }
        // else: missed
      }
      words.forEach(([w, t], k) => { if (t === null && (CAPS.has(w) || (w === 'lol' && shift)) && rnd() < 0.6) pred.push(tokSpan(k, k, pick(TYPES))); });
      pred.sort((a, b) => a.start - b.start);
      // Token confidences: errors are less sure; the drifted set less sure still.
      const conf = tokens.map(() => 0.9 + rnd() * 0.099);
      const rowsHere = matchSpans(gold, pred, labeled);
      for (const r of rowsHere) {
        const low = r.error_type && r.error_type !== 'none' ? 0.35 + rnd() * 0.35 : driftedSample ? 0.45 + rnd() * 0.4 : 0.8 + rnd() * 0.19;
        for (let k = r.tok[0]; k <= r.tok[1]; k++) conf[k] = Math.min(conf[k], low + rnd() * 0.05);
      }
      let worst = 0;
      conf.forEach((c, k) => { if (c < conf[worst]) worst = k; });
      // The least confident token's tag (from the predicted spans).
      const ps = pred.find((p) => p.tok[0] <= worst && worst <= p.tok[1]);
      const tag = ps ? `${ps.tok[0] === worst ? 'B' : 'I'}-${ps.label}` : 'O';
      const zi = NER_LABELS.indexOf(tag);
      const p = NER_LABELS.map((_, k) => (k === zi ? conf[worst] : (1 - conf[worst]) / (NER_LABELS.length - 1)));
      const sc = scored(p, NER_LABELS);
      sc.pred = tag;
      const id = idOf('ner', name, i);
      const sampleSpanRows = [];
      const goldMarks = [], predMarks = [];
      for (const r of rowsHere) {
        const span_row = spanRows.length;
        const type = r.pred ?? r.gold;
        const c = Math.min(...conf.slice(r.tok[0], r.tok[1] + 1));
        const drifted = name === 'training' ? null : driftedSample && rnd() < 0.85;
        const row = {
          sample_id: id, span_row, span_start: r.start, span_end: r.end, span_text: text.slice(r.start, r.end),
          gold: r.gold, pred: r.pred, error_type: r.error_type, confidence: c, dep: labeled ? Math.min(1, (1 - c) * 1.2 + rnd() * 0.2) : null,
          drift_score: name === 'training' ? null : drifted ? 0.96 + rnd() * 0.04 : rnd() * 0.95, is_drifted: drifted,
          is_on_the_boundary: c < 0.6, x: CENTRE[type][0] + gauss() * 1.1 + (drifted ? 7 : 0), y: CENTRE[type][1] + gauss() * 1.1 + (drifted ? -5 : 0),
        };
        spanRows.push(row);
        sampleSpanRows.push(row);
        const mark = { start: r.start, end: r.end, error_type: r.error_type, span_row };
        if (r.gold) goldMarks.push({ ...mark, label: r.gold });
        if (r.pred) predMarks.push({ ...mark, label: r.pred });
      }
      const sx = sampleSpanRows.length ? sampleSpanRows.reduce((a, r) => a + r.x, 0) / sampleSpanRows.length : gauss();
      const sy = sampleSpanRows.length ? sampleSpanRows.reduce((a, r) => a + r.y, 0) / sampleSpanRows.length : gauss();
      rows.push({
        id, split: name, row: i, text, meta: { source: i % 2 ? 'news' : 'social' }, gold: null, ...sc, is_correct: null,
        dep: labeled ? Math.max(0, ...sampleSpanRows.map((r) => r.dep ?? 0)) : null, aum: null,
        drift_score: name === 'training' ? null : driftedSample ? 0.96 + rnd() * 0.04 : rnd() * 0.95,
        is_drifted: name === 'training' ? null : driftedSample, x: sx, y: sy,
        tokens, gold_spans: labeled ? goldMarks : null, pred_spans: predMarks,
      });
    }
    spans[name] = spanRows;
    return rows;
  };
  const data = { training: split('training', 500, false, true), validation: split('validation', 150, false, true), 'inference:wnut': split('inference:wnut', 300, true, false) };
  return { info: { ...info('ner', 'named_entity_recognition', NER_LABELS, data), tagging_schema: 'BIO' }, data, labels: NER_LABELS, spans };
}

// ------------------------------------------------------------------------------- span routes
const SPAN_SORTS = new Set(['span_row', 'sample_id', 'span_text', 'span_start', 'gold', 'pred', 'error_type', 'confidence', 'dep', 'drift_score', 'is_drifted', 'is_on_the_boundary']);
const bad = (message) => ({ status: 400, code: 'invalid_argument', message });

function filterSpans(R, split, f) {
  let rows = R.spans[split];
  if (!rows) throw { status: 404, code: 'not_found', message: `no split ${split}` };
  const bool = (k) => (f[k] === undefined || f[k] === '' ? null : f[k] === true || f[k] === 'true');
  const num = (k) => (f[k] === undefined || f[k] === '' ? null : Number(f[k]));
  const list = (k) => (f[k] ? String(f[k]).split(',').filter(Boolean) : null);
  if (f.text) {
    let re;
    try { re = new RegExp(f.text, 'i'); } catch (e) { throw bad(`text: ${e.message}`); }
    rows = rows.filter((s) => re.test(s.span_text));
  }
  const label = list('label'), gold = list('gold'), pred = list('pred'), err = list('error_type');
  if (label) rows = rows.filter((s) => label.includes(s.gold) || label.includes(s.pred));
  if (gold) rows = rows.filter((s) => gold.includes(s.gold));
  if (pred) rows = rows.filter((s) => pred.includes(s.pred));
  if (err) {
    for (const e of err) if (!['none', 'wrong_tag', 'span_shift', 'missed_label', 'ghost_span'].includes(e)) throw bad(`error_type: unknown ${e}`);
    rows = rows.filter((s) => err.includes(s.error_type));
  }
  if (f.sample_id !== undefined && f.sample_id !== '') rows = rows.filter((s) => s.sample_id === String(f.sample_id));
  if (bool('drifted') !== null) rows = rows.filter((s) => s.is_drifted === bool('drifted'));
  if (bool('on_boundary') !== null) rows = rows.filter((s) => s.is_on_the_boundary === bool('on_boundary'));
  if (num('min_confidence') !== null) rows = rows.filter((s) => s.confidence >= num('min_confidence'));
  if (num('max_confidence') !== null) rows = rows.filter((s) => s.confidence <= num('max_confidence'));
  return rows;
}

export function spanRoutes(R, rest, q) {
  if (rest.length === 0) {
    const sort = q.sort ?? 'span_row', dir = q.order === 'desc' ? -1 : 1;
    if (!SPAN_SORTS.has(sort)) throw bad(`sort: unknown field ${sort}`);
    const rows = [...filterSpans(R, q.split, q)].sort((a, b) => {
      const x = a[sort], y = b[sort];
      if (x === y) return a.span_row - b.span_row;
      // Nulls first ascending, last descending (as the samples API).
      if (x === null) return -dir; if (y === null) return dir;
      return (x < y ? -1 : 1) * dir;
    });
    const offset = Number(q.offset ?? 0), limit = Math.min(1000, Number(q.limit ?? 50));
    return { total: rows.length, offset, limit, spans: rows.slice(offset, offset + limit) };
  }
  if (rest[0] === 'map') {
    const splits = (q.splits ?? Object.keys(R.spans).join(',')).split(',');
    return { points: splits.flatMap((split) => (R.spans[split] ?? []).map((s) => ({
      split, sample_id: s.sample_id, span_row: s.span_row, x: s.x, y: s.y, pred: s.pred, gold: s.gold,
      error_type: s.error_type, is_drifted: s.is_drifted, confidence: s.confidence }))) };
  }
  if (rest[0] === 'similar') {
    const row = Number(q.span_row);
    const qs = R.spans[q.split]?.[row];
    if (!qs) throw { status: 404, code: 'not_found', message: `no span row ${q.span_row} in ${q.split}` };
    const k = Math.max(1, Math.min(1000, Number(q.k ?? 10)));
    const cands = [];
    for (const sp of q.in ? String(q.in).split(',') : Object.keys(R.spans)) {
      for (const s of R.spans[sp] ?? []) if (!(sp === q.split && s.span_row === row)) cands.push({ ...s, split: sp, distance: Math.hypot(s.x - qs.x, s.y - qs.y) / 10 });
    }
    cands.sort((a, b) => a.distance - b.distance);
    return { query: { split: q.split, span_row: row }, neighbors: cands.slice(0, k), took_ms: 0.3 };
  }
  throw { status: 404, code: 'not_found', message: 'no route' };
}

// ---------------------------------------------------------------------------------- summary
const mean = (a) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : null);

function spanSplitSummary(rows, labeled, split) {
  const predRows = rows.filter((r) => r.pred !== null);
  const out = {
    span_rows: rows.length,
    pred_span_distribution: Object.fromEntries(TYPES.map((t) => { const c = predRows.filter((r) => r.pred === t).length; return [t, { count: c, fraction: predRows.length ? c / predRows.length : 0 }]; })),
    mean_span_confidence_per_type: Object.fromEntries(TYPES.map((t) => [t, mean(predRows.filter((r) => r.pred === t).map((r) => r.confidence))])),
  };
  if (split !== 'training') {
    const d = rows.filter((r) => r.is_drifted).length;
    out[labeled ? 'span_out_of_coverage' : 'span_drift'] = { count: d, fraction: rows.length ? d / rows.length : 0, threshold: 0.95 };
  }
  if (labeled) {
    const g = rows.filter((r) => r.gold !== null), p = predRows, c = rows.filter((r) => r.error_type === 'none');
    const prf = (tp, np, ng) => { const precision = np ? tp / np : 0, recall = ng ? tp / ng : 0; return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0 }; };
    out.spans = {
      ...prf(c.length, p.length, g.length), gold: g.length, pred: p.length, correct: c.length,
      per_class: Object.fromEntries(TYPES.map((t) => [t, { ...prf(c.filter((r) => r.gold === t).length, p.filter((r) => r.pred === t).length, g.filter((r) => r.gold === t).length), support: g.filter((r) => r.gold === t).length }])),
      error_types: Object.fromEntries(['none', 'wrong_tag', 'span_shift', 'missed_label', 'ghost_span'].map((e) => [e, rows.filter((r) => r.error_type === e).length])),
    };
  }
  return out;
}

/** A summary with the fields the console reads (docs/api.md), and the NER span blocks. */
export function summaryOf(R) {
  const splits = {};
  for (const [split, rows] of Object.entries(R.data)) {
    const labeled = !split.startsWith('inference:');
    splits[split] = {
      split, samples: rows.length, mean_confidence: mean(rows.map((r) => r.confidence)),
      pred_distribution: Object.fromEntries(R.labels.map((l) => { const c = rows.filter((r) => r.pred === l).length; return [l, { count: c, fraction: c / rows.length }]; })),
      ...(R.spans ? spanSplitSummary(R.spans[split], labeled, split) : {}),
    };
  }
  const comparisons = {};
  for (const split of Object.keys(R.data).filter((s) => s.startsWith('inference:'))) {
    comparisons[split] = { against: 'training' };
    if (!R.spans) continue;
    const tr = splits.training, inf = splits[split];
    const goldTr = R.spans.training.filter((r) => r.gold !== null);
    comparisons[split].spans = {
      types: TYPES.map((t) => ({
        type: t, training_gold_fraction: goldTr.filter((r) => r.gold === t).length / goldTr.length,
        training_pred_fraction: tr.pred_span_distribution[t].fraction, inference_pred_fraction: inf.pred_span_distribution[t].fraction,
        pred_fraction_change: inf.pred_span_distribution[t].fraction - tr.pred_span_distribution[t].fraction,
        training_mean_confidence: tr.mean_span_confidence_per_type[t], inference_mean_confidence: inf.mean_span_confidence_per_type[t],
        mean_confidence_change: (inf.mean_span_confidence_per_type[t] ?? 0) - (tr.mean_span_confidence_per_type[t] ?? 0),
      })),
      mean_confidence: (() => { const a = mean(R.spans.training.map((r) => r.confidence)), b = mean(R.spans[split].map((r) => r.confidence)); return { training: a, inference: b, change: b - a }; })(),
      drifted_fraction: { nominal: 0.05, inference: inf.span_drift.fraction, change: inf.span_drift.fraction - 0.05 },
    };
  }
  return { parameters: { task: R.info.task }, splits, comparisons };
}
