// The verdict panel of the insights card (issue 16, point 2): the k-NN drift verdict with its
// interval, nominal share, p-value, threshold and reference; the domain-classifier test; why
// the two disagree when they do; per-class findings; NER span drift; and, for runs too small
// for drift, the reason. From the server's `verdict` (GET .../insights, docs/http-api.md)
// when it sends one, else rebuilt from the stored summary (same fields, same wording).
// Colour follows severity (ok / info / warning / critical), never neutral next to an alert.
import { api, type Filter, type Insights } from './api';
import { clear, fmt, h, pct, splitLabel } from './dom';
import { helpButton } from './help';
import { formatP, pText } from './pvalue';
import type { RunState } from './state';

type Json = Record<string, any>;
export type Severity = 'ok' | 'info' | 'warning' | 'critical';
export interface Interval { value: number; low: number | null; high: number | null }
export interface VerdictDrift {
  available: boolean; reason: string | null; k: number | null; threshold: number | null; threshold_source: string | null;
  share: Interval | null; nominal: number | null; p_value: number | null; log10_p_value: number | null; p_text: string | null;
  drifted: boolean | null; text: string; is_reference?: boolean;
}
export interface VerdictDomain {
  reference: string; auc: number | null; auc_low: number | null; auc_high: number | null; p_value: number | null;
  log10_p_value?: number | null; p_text: string | null; shifted: boolean; shift_threshold: number | null; shifted_share: number | null; text: string;
}
export interface Finding { severity: Severity; label?: string; entity_type?: string; text: string; p_text?: string; filter?: Filter }
export interface Verdict {
  lines: string[]; drift: VerdictDrift | null; domain_test: VerdictDomain | null; disagreement: string | null;
  findings: Finding[]; span_drift: { share: number | null; low?: number | null; high?: number | null; p_text?: string | null; text: string } | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const RANK: Record<Severity, number> = { ok: 0, info: 1, warning: 2, critical: 3 };

// One summary fetch per run, shared by the panel and the table's threshold.
const summaries = new Map<string, Promise<Json>>();
const thresholds = new Map<string, number | null>();
function runKey(st: RunState): string { return `${st.project}\u0000${st.run}`; }
export function summaryOf(st: RunState): Promise<Json> {
  const k = runKey(st);
  let p = summaries.get(k);
  if (!p) {
    p = api.summary(st.project, st.run);
    p.catch(() => summaries.delete(k));
    summaries.set(k, p);
  }
  return p;
}

/** The run's drift threshold once known (null before or when there is none). */
export function driftThreshold(st: RunState): number | null { return thresholds.get(runKey(st)) ?? null; }

/** Asks for the threshold once per run; `then` runs when it arrives (to redraw). */
export function loadThreshold(st: RunState, then: () => void): void {
  const k = runKey(st);
  if (thresholds.has(k)) return;
  thresholds.set(k, null);
  void summaryOf(st).then((s) => {
    const t = num(s.parameters?.drift_threshold);
    thresholds.set(k, t);
    if (t !== null) then();
  }).catch(() => thresholds.delete(k));
}

/**
 * A drift score with enough digits to differ from the threshold it is compared with, so a
 * score just below 0.95 never reads "0.95" next to a threshold of 0.95 and "no".
 */
export function scoreVsThreshold(v: number | null | undefined, thr: number | null, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  let d = digits;
  if (thr !== null) while (d < 6 && v !== thr && v.toFixed(d) === thr.toFixed(d)) d++;
  return v.toFixed(d);
}

/** The tooltip of a drift score / flag cell. */
export function driftTitle(v: number | null | undefined, flag: boolean | null | undefined, thr: number | null): string {
  if (v === null || v === undefined) return 'no drift score (the reference split)';
  const t = thr === null ? '' : ` ${v > thr ? '>' : '≤'} threshold ${scoreVsThreshold(thr, v, 3)}`;
  return `drift score ${scoreVsThreshold(v, thr, 4)}${t}${flag === null || flag === undefined ? '' : flag ? ': drifted' : ': not drifted'}`;
}

function interval(v: Interval | null): string {
  if (!v) return '–';
  return v.low !== null && v.high !== null ? `${pct(v.value)} [${pct(v.low)}, ${pct(v.high)}]` : pct(v.value);
}

/** Why k-NN drift and the domain classifier disagree (null when they agree or one is missing). */
export function disagreement(d: VerdictDrift | null, t: VerdictDomain | null): string | null {
  if (!d || !t || !d.available || d.drifted === null || d.is_reference || d.drifted === t.shifted) return null;
  if (t.shifted) {
    return `The domain classifier tells this set from ${t.reference} (AUC ${fmt(t.auc, 3)}), yet only ${pct(d.share?.value)} of it lies beyond training's k-NN coverage ` +
      `(${pct(d.nominal)} expected): the change is spread over regions training already covers (other proportions, style or topics mixed differently) ` +
      'rather than new content. Look at the shifted samples (shift score) and the class shares.';
  }
  return `${pct(d.share?.value)} of the set lies beyond training's k-NN coverage, but the domain classifier barely tells it from ${t.reference} ` +
    `(AUC ${fmt(t.auc, 3)}): the new samples form a small, local cluster that a set-level classifier hardly weighs. Look at the drifted samples.`;
}

export function driftSeverity(d: VerdictDrift | null, dis: string | null): Severity {
  if (!d || d.is_reference) return 'ok';
  if (!d.available) return 'info';
  if (d.drifted) return (d.share?.value ?? 0) >= 0.2 ? 'critical' : 'warning';
  const p = num(d.p_value) ?? (num(d.log10_p_value) !== null ? 10 ** d.log10_p_value! : null);
  if (d.share && d.nominal !== null && d.share.value > d.nominal && p !== null && p < 0.1) return 'warning';
  return dis ? 'info' : 'ok';
}

export function domainSeverity(t: VerdictDomain | null): Severity {
  if (!t) return 'ok';
  return t.shifted ? ((t.auc ?? 0) > 0.75 ? 'critical' : 'warning') : 'ok';
}

/** The verdict rebuilt from the summary (an older server without `verdict`). */
export function verdictFromSummary(sum: Json, split: string, labeled: boolean): Verdict {
  const s: Json = sum.splits?.[split] ?? {};
  const params: Json = sum.parameters ?? {};
  const dv: Json | undefined = s.drift_verdict;
  const reason: string | null = s.drift_unavailable_reason ?? s.drift?.reason ?? params.drift_unavailable_reason ?? null;
  const threshold = num(params.drift_threshold) ?? num(s.drifted?.threshold);
  const percentile = num(params.drift_percentile) ?? 0.95;
  const source = params.reference ? `${Math.round(percentile * 100)}th percentile of ${params.reference}'s k-NN distance` : null;
  let drift: VerdictDrift | null = null;
  if (split !== 'training' && (dv || reason)) {
    if (!dv || (s.drift && s.drift.available === false)) {
      drift = { available: false, reason: reason ?? 'drift was not computed for this split', k: num(params.drift_k), threshold, threshold_source: source,
        share: null, nominal: null, p_value: null, log10_p_value: null, p_text: null, drifted: null, text: reason ?? 'drift unavailable' };
    } else {
      const share = num(dv.fraction) !== null ? { value: dv.fraction, low: num(dv.ci_low), high: num(dv.ci_high) } : null;
      const p = formatP(num(dv.p_value), num(dv.log10_p_value));
      const verdict = dv.is_reference ? 'the reference' : dv.drifted ? 'drift detected' : labeled ? 'within coverage' : 'no drift';
      drift = { available: true, reason: null, k: num(params.drift_k), threshold, threshold_source: source, share,
        nominal: num(dv.nominal), p_value: num(dv.p_value), log10_p_value: num(dv.log10_p_value), p_text: p,
        drifted: dv.is_reference ? null : !!dv.drifted, is_reference: !!dv.is_reference,
        text: dv.is_reference ? `the reference (${interval(share)} vs ${pct(dv.nominal)} nominal by construction)`
          : `${verdict} (${p}, ${interval(share)} vs ${pct(dv.nominal)} nominal)` };
    }
  }
  const dt: Json | undefined = s.domain_test;
  let domain: VerdictDomain | null = null;
  if (dt && num(dt.auc) !== null) {
    const ci = Array.isArray(dt.auc_ci) ? dt.auc_ci : [null, null];
    const p = formatP(num(dt.p_value), num(dt.log10_p_value));
    domain = { reference: dt.reference ?? 'reference', auc: num(dt.auc), auc_low: num(ci[0]), auc_high: num(ci[1]), p_value: num(dt.p_value),
      log10_p_value: num(dt.log10_p_value), p_text: p, shifted: !!dt.shifted, shift_threshold: num(dt.shift_threshold), shifted_share: num(dt.shifted_share),
      text: `AUC ${fmt(dt.auc, 3)}${ci[0] !== null ? ` (95% CI ${fmt(ci[0], 3)} to ${fmt(ci[1], 3)})` : ''}, ${p}` +
        `${num(dt.shifted_share) !== null ? `, ${pct(dt.shifted_share)} above the shift threshold` : ''}: ${dt.shifted ? 'shift' : 'no shift'}` };
  }
  const findings: Finding[] = [];
  if (dv && !dv.is_reference) {
    for (const [label, c] of Object.entries<Json>(dv.per_class ?? {})) {
      const p = formatP(num(c.p_value), num(c.log10_p_value));
      findings.push({ severity: c.drifted ? 'warning' : 'info', label, p_text: p,
        text: `predicted '${label}': ${pct(c.fraction)} of ${c.samples} drifted (${p})${c.drifted ? '' : ', not significant'}`,
        filter: { pred: [label], drifted: true } });
    }
  }
  let span: Verdict['span_drift'] = null;
  const sd = s.spans?.span_drift;
  const cmp = sum.comparisons?.[split]?.spans?.drifted_fraction;
  const sfrac = num(cmp?.inference) ?? num(sd?.fraction);
  if (sfrac !== null && split !== 'training') {
    const nominal = num(cmp?.nominal);
    span = { share: sfrac, text: `${pct(sfrac)} of span rows drifted${nominal !== null ? ` (${pct(nominal)} expected without drift)` : ''}` };
  }
  return { lines: [], drift, domain_test: domain, disagreement: disagreement(drift, domain), findings, span_drift: span };
}

/** The server's verdict, with every p-value checked against "p = 0". */
function normalise(v: Json): Verdict {
  const drift: VerdictDrift | null = v.drift ? { ...v.drift, p_text: v.drift.p_text ? pText(v.drift.p_text, v.drift.p_value, v.drift.log10_p_value) : null } : null;
  const domain: VerdictDomain | null = v.domain_test ? { ...v.domain_test, p_text: v.domain_test.p_text ? pText(v.domain_test.p_text, v.domain_test.p_value, v.domain_test.log10_p_value) : null } : null;
  const fix = (t: string) => t.replace(/\bp = 0(\.0+)?(?![.\de])/g, 'p < 1e-300');
  return {
    lines: (v.lines ?? []).map(fix), drift, domain_test: domain,
    disagreement: v.disagreement ?? disagreement(drift, domain),
    findings: (v.findings ?? []).map((f: Json) => ({ ...f, text: fix(String(f.text ?? '')) })),
    span_drift: v.span_drift ? { ...v.span_drift, text: fix(String(v.span_drift.text ?? '')) } : null,
  };
}

const SEV_WORD: Record<Severity, string> = { ok: 'ok', info: 'note', warning: 'warning', critical: 'critical' };

function block(sev: Severity, testid: string, title: (Node | string)[], ...body: (Node | string | null)[]): HTMLElement {
  return h('div', { class: `verdict-block sev-${sev}`, 'data-testid': testid, 'data-severity': sev },
    h('div', { class: 'verdict-title' }, h('span', { class: `sev-tag sev-${sev}` }, SEV_WORD[sev]), ...title), ...body);
}

/** Renders `v` into `box` (data-severity = the worst of its parts). */
export function renderVerdict(box: HTMLElement, v: Verdict, split: string, labeled: boolean, source: 'server' | 'summary'): void {
  clear(box);
  box.dataset.source = source;
  const dis = v.disagreement;
  const dsev = driftSeverity(v.drift, dis);
  const tsev = domainSeverity(v.domain_test);
  let worst: Severity = 'ok';
  const up = (s: Severity) => { if (RANK[s] > RANK[worst]) worst = s; };
  box.append(h('h3', null, 'Verdict'));
  const d = v.drift;
  if (d) {
    up(dsev);
    const word = labeled ? 'out of coverage' : 'drifted';
    box.append(block(dsev, 'verdict-drift', [h('b', null, 'k-NN drift'), helpButton('drift_score')],
      d.available
        ? h('div', { class: 'verdict-text' },
          h('span', { 'data-testid': 'verdict-drift-share' }, `${interval(d.share)} ${word}`),
          d.nominal !== null ? ` vs ${pct(d.nominal)} nominal` : '',
          d.p_text ? [', ', h('span', { class: 'pv', 'data-testid': 'verdict-drift-p' }, d.p_text)] as any : '',
          ': ', h('b', { 'data-testid': 'verdict-drift-word' }, d.is_reference ? 'the reference' : d.drifted ? 'drift detected' : labeled ? 'within coverage' : 'no drift'))
        : h('div', { class: 'verdict-text', 'data-testid': 'verdict-drift-unavailable' }, `Drift unavailable: ${d.reason ?? 'not computed'}`),
      // No threshold line without drift (a run too small has none; the server then sends
      // only `available` and `reason`).
      d.available && d.threshold != null ? h('div', { class: 'verdict-sub muted', 'data-testid': 'verdict-threshold', 'data-threshold': String(d.threshold) },
        `threshold ${fmt(d.threshold, 3)}`, helpButton('threshold'),
        d.threshold_source ? ` = ${d.threshold_source}` : '', d.k != null ? ` (k = ${d.k})` : '') : null));
  }
  const t = v.domain_test;
  if (t) {
    up(tsev);
    box.append(block(tsev, 'verdict-domain', [h('b', null, 'Domain classifier'), ` vs ${splitLabel(t.reference)}`, helpButton('domain_auc')],
      h('div', { class: 'verdict-text' }, `AUC ${fmt(t.auc, 3)}`,
        t.auc_low !== null && t.auc_high !== null ? ` [${fmt(t.auc_low, 3)}, ${fmt(t.auc_high, 3)}]` : '',
        t.p_text ? [', ', h('span', { class: 'pv', 'data-testid': 'verdict-domain-p' }, t.p_text)] as any : '', ': ',
        h('b', null, t.shifted ? 'shift' : 'no shift')),
      t.shifted_share !== null ? h('div', { class: 'verdict-sub muted' }, `${pct(t.shifted_share)} above the shift threshold ${fmt(t.shift_threshold, 3)}`, helpButton('shift_score')) : null));
  }
  if (dis) {
    up('info');
    box.append(h('div', { class: 'verdict-block sev-info verdict-disagree', 'data-testid': 'verdict-disagreement', role: 'note' },
      h('b', null, 'Why the two tests disagree: '), dis));
  }
  if (v.span_drift) {
    const sev: Severity = (v.span_drift.share ?? 0) >= 0.2 ? 'critical' : (v.span_drift.share ?? 0) >= 0.1 ? 'warning' : 'ok';
    up(sev);
    box.append(block(sev, 'verdict-span-drift', [h('b', null, 'Span drift')], h('div', { class: 'verdict-text' }, v.span_drift.text,
      v.span_drift.p_text ? `, ${pText(v.span_drift.p_text)}` : '')));
  }
  if (v.findings.length) {
    box.append(h('ul', { class: 'verdict-findings', 'data-testid': 'verdict-findings' }, ...v.findings.map((f) => {
      up(f.severity === 'info' ? 'ok' : f.severity);
      // A finding with a filter is a link to its samples (links.ts picks up data-link-filter).
      return h('li', { class: `finding sev-${f.severity}`, 'data-severity': f.severity, 'data-label': f.label ?? f.entity_type ?? '',
        'data-link-filter': f.filter ? JSON.stringify(f.filter) : undefined },
        h('span', { class: `sev-tag sev-${f.severity}` }, SEV_WORD[f.severity]), f.entity_type ? h('span', { class: 'type-tag' }, f.entity_type) : null, f.text);
    })));
  }
  if (v.lines.length) {
    box.append(h('details', { class: 'verdict-lines', 'data-testid': 'verdict-lines' }, h('summary', null, 'As in `sextant report`'),
      h('pre', null, v.lines.join('\n'))));
  }
  if (!d && !t && !v.span_drift && !v.findings.length) {
    box.append(h('div', { class: 'muted small' }, split === 'training' ? 'Training is the reference: no drift verdict of its own.' : 'No verdict for this split.'));
  }
  box.dataset.severity = worst;
  box.className = `verdict sev-${worst}`;
  box.dataset.ready = '1';
}

/** The verdict box of the insights card, filled from `d.verdict` or the summary. */
/** `onRendered`: called once the verdict is drawn (it may come later than the box: from the summary). */
export function verdictBox(st: RunState, d: Insights, onRendered?: (box: HTMLElement) => void): HTMLElement {
  const box = h('section', { class: 'verdict', 'data-testid': 'verdict', 'aria-label': 'Verdict' }, h('div', { class: 'muted small' }, 'verdict…'));
  const labeled = !d.split.startsWith('inference:');
  const fromServer = (d as Json).verdict;
  const done = (v: Verdict, src: 'server' | 'summary') => {
    renderVerdict(box, v, d.split, labeled, src);
    toneStats(box.parentElement ?? box, v);
    onRendered?.(box);
  };
  if (fromServer && typeof fromServer === 'object') queueMicrotask(() => done(normalise(fromServer), 'server'));
  else {
    void summaryOf(st).then((sum) => done(verdictFromSummary(sum, d.split, labeled), 'summary'))
      .catch((e) => { clear(box); box.append(h('div', { class: 'error small' }, `verdict unavailable: ${(e as Error).message}`)); });
  }
  return box;
}

/**
 * The insights' stat cards follow the verdict's colours (a drifted share the test finds
 * significant is never neutral) and get their help buttons.
 */
function toneStats(root: Element, v: Verdict): void {
  const card = root.closest('[data-testid=insights]') ?? root;
  const drifted = card.querySelector<HTMLElement>('[data-testid=insight-drifted]');
  if (drifted && v.drift) {
    const sev = driftSeverity(v.drift, v.disagreement);
    drifted.classList.remove('tone-warn', 'tone-bad', 'tone-info', 'tone-ok');
    drifted.classList.add(sev === 'critical' ? 'tone-bad' : sev === 'warning' ? 'tone-warn' : sev === 'info' ? 'tone-info' : 'tone-ok');
    drifted.dataset.severity = sev;
    if (v.drift.threshold !== null && !drifted.querySelector('[data-testid=insight-threshold]')) {
      drifted.append(h('div', { class: 'stat-sub muted', 'data-testid': 'insight-threshold' }, `threshold ${fmt(v.drift.threshold, 3)}`));
    }
  }
  const domain = card.querySelector<HTMLElement>('[data-testid=insight-domain-test]');
  if (domain && v.domain_test?.p_text) {
    const sub = domain.querySelector('.stat-sub');
    if (sub) sub.textContent = `vs ${v.domain_test.reference}, ${v.domain_test.p_text}`;
  }
  decorateStats(card);
}

const STAT_HELP: Record<string, string> = {
  'out of coverage': 'out_of_coverage', drifted: 'drifted', 'on the boundary': 'on_the_boundary', 'domain AUC': 'domain_auc', shifted: 'shift_score',
  DEP: 'dep', margin: 'margin', 'drift score': 'drift_score', 'shift score': 'shift_score', confidence: 'confidence', 'span errors': 'span_errors',
};

/** A help button next to each stat card's (or the sample panel's) label that has one. */
export function decorateStats(root: Element, selector = '.stat-label'): void {
  root.querySelectorAll<HTMLElement>(selector).forEach((l) => {
    const key = STAT_HELP[l.textContent?.trim() ?? ''];
    if (key && !l.querySelector('.help')) l.append(helpButton(key));
  });
}
