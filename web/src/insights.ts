// The insights panel: class shares and mean confidence per class next to training,
// drifted and on-boundary counts, accuracy/F1 per class, alerts. NER runs add the span
// block from the summary: span precision/recall/F1 overall and per entity type (labeled
// splits), and for inference sets the entity type share and mean confidence next to
// training and the drifted span fraction (comparisons.{set}.spans).
import { api, type ClassInsight, type Insights } from './api';
import { PALETTE, clear, fmt, h, pct, splitLabel } from './dom';
import { ERROR_TITLES, ERROR_TYPES, entityTypes } from './ner';
import { linkInsights } from './links';
import { formatP } from './pvalue';
import type { RunState } from './state';
import { verdictBox } from './verdict';

type Json = Record<string, any>;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** A `{count, fraction}` or a bare number, as a fraction. */
const frac = (v: any): number | null => num(v?.fraction ?? v);

/**
 * Per entity type, this split's predicted share and mean confidence next to training's.
 * From comparisons.{set}.spans when the summary has it (a list under `types` or `classes`,
 * or an object by type), else from the two splits' pred_span_distribution and
 * mean_span_confidence_per_type.
 */
function typeRows(sum: Json, split: string, types: string[]): ClassInsight[] {
  const cmp = sum.comparisons?.[split]?.spans;
  const list = cmp?.types ?? cmp?.classes ?? cmp?.per_type;
  const byType = new Map<string, Json>();
  if (Array.isArray(list)) for (const r of list) byType.set(r.type ?? r.label, r);
  else if (list && typeof list === 'object') for (const [t, r] of Object.entries(list)) byType.set(t, r as Json);
  // The span figures live in each split's `spans` block (docs/ner-nli.md).
  const cur = sum.splits?.[split]?.spans ?? {}, ref = sum.splits?.training?.spans ?? {};
  return types.map((t) => {
    const r = byType.get(t);
    return {
      label: t,
      share: num(r?.inference_pred_fraction) ?? num(r?.inference_share) ?? frac(cur.pred_span_distribution?.[t]) ?? 0,
      reference_share: num(r?.training_pred_fraction) ?? num(r?.training_share) ?? frac(ref.pred_span_distribution?.[t]),
      mean_confidence: num(r?.inference_mean_confidence) ?? num(cur.mean_span_confidence_per_type?.[t]),
      reference_mean_confidence: num(r?.training_mean_confidence) ?? num(ref.mean_span_confidence_per_type?.[t]),
      precision: null, recall: null, f1: null,
    };
  });
}

/** Grouped horizontal bars: per class, this split's value over the reference's. */
function pairedBars(classes: ClassInsight[], get: (c: ClassInsight) => [number | null, number | null], testid: string, showRef: boolean): HTMLElement {
  const bar = (v: number | null, color: string | null, ref: boolean, title: string) =>
    h('div', { class: `bar-line ${ref ? 'ref' : ''}` },
      h('span', { class: 'bar', 'data-ref': ref ? '1' : null, title, style: { width: `${Math.max(0.3, (v ?? 0) * 100) * 0.82}%`, background: color ?? undefined } }),
      h('span', { class: 'bar-value' }, pct(v)));
  // Its text alternative: every bar's value (and the reference's).
  const alt = classes.map((c) => { const [v, ref] = get(c); return `${c.label} ${pct(v)}${showRef ? ` (training ${pct(ref)})` : ''}`; }).join(', ');
  return h('div', { class: 'bars', 'data-testid': testid, role: 'img', 'aria-label': alt }, ...classes.map((c, i) => {
    const [v, ref] = get(c);
    return h('div', { class: 'bar-row' }, h('span', { class: 'bar-label', title: c.label }, c.label),
      h('div', { class: 'bar-track' },
        bar(v, PALETTE[i % PALETTE.length], false, `${c.label}: ${pct(v)}`),
        showRef ? bar(ref, null, true, `${c.label} in training: ${pct(ref)}`) : null));
  }));
}

export class InsightsPanel {
  el: HTMLElement;
  private body: HTMLElement;

  constructor(private st: RunState) {
    this.body = h('div', { class: 'insights-body' });
    this.el = h('section', { class: 'card insights-card', 'data-testid': 'insights' },
      h('div', { class: 'card-head' }, h('h2', null, 'Insights')), this.body);
    st.on('split', () => void this.load());
    void this.load();
  }

  async load(): Promise<void> {
    clear(this.body);
    delete this.el.dataset.ready;
    this.body.append(h('div', { class: 'muted' }, 'loading…'));
    let d: Insights;
    try { d = await api.insights(this.st.project, this.st.run, this.st.split); } catch (e) {
      clear(this.body);
      this.body.append(h('div', { class: 'error' }, `insights unavailable: ${(e as Error).message}`));
      return;
    }
    clear(this.body);
    const isRef = d.split === d.reference;
    const showRef = !isRef && d.classes.some((c) => c.reference_share !== null && c.reference_share !== undefined);
    const stat = (label: string, value: string, sub: string, testid: string, tone = '') =>
      h('div', { class: `stat ${tone}`, 'data-testid': testid }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-sub muted' }, sub));

    const stats = h('div', { class: 'stats' });
    if (d.drifted) stats.append(stat(this.st.labeled ? 'out of coverage' : 'drifted', pct(d.drifted.fraction), `${d.drifted.count.toLocaleString()} samples`, 'insight-drifted',
      d.drifted.fraction > 0.2 ? 'tone-bad' : d.drifted.fraction > 0.1 ? 'tone-warn' : ''));
    stats.append(stat('on the boundary', pct(d.on_the_boundary.fraction), `${d.on_the_boundary.count.toLocaleString()} samples`, 'insight-boundary'));
    const dt = d.domain_test;
    if (dt && dt.auc !== null && dt.auc !== undefined) stats.append(stat('domain AUC', fmt(dt.auc, 3),
      `vs ${dt.reference}, ${formatP(dt.p_value, (dt as { log10_p_value?: number | null }).log10_p_value)}`, 'insight-domain-test',
      dt.shifted ? (dt.auc > 0.75 ? 'tone-bad' : 'tone-warn') : ''));
    // The per-sample shift flags: about 5% of held-out data lies above the threshold.
    if (dt && dt.shifted_share !== null && dt.shifted_share !== undefined) stats.append(stat('shifted', pct(dt.shifted_share),
      `shift score > ${fmt(dt.shift_threshold ?? null, 2)} (5% of ${dt.reference})`, 'insight-shifted',
      dt.shifted_share > 0.2 ? 'tone-bad' : dt.shifted_share > 0.1 ? 'tone-warn' : ''));
    if (d.accuracy !== null && d.accuracy !== undefined) stats.append(stat('accuracy', pct(d.accuracy), `macro F1 ${fmt(d.macro_f1, 3)}`, 'insight-accuracy'));
    this.body.append(stats);
    // The full statistical verdict (verdict.ts): intervals, p-values, threshold, findings.
    // Its findings link to their samples once drawn (the verdict is drawn after this returns).
    this.body.append(verdictBox(this.st, d, (box) => linkInsights(box, d, this.st)));
    const spanBox = h('div', { class: 'span-insights', 'data-testid': 'insight-spans' });
    if (this.st.isNer) { this.body.append(spanBox); await this.spanBlock(spanBox, d.split); }

    if (d.alerts.length) {
      this.body.append(h('ul', { class: 'alerts', 'data-testid': 'insight-alerts' }, ...d.alerts.map((a) =>
        h('li', { class: `alert alert-${a.severity}`, 'data-kind': a.kind },
          h('span', { class: 'alert-sev' }, a.severity), a.entity_type ? h('span', { class: 'type-tag', 'data-testid': 'alert-entity-type' }, a.entity_type) : null,
          a.message.replace(/\bp = 0(\.0+)?(?![.\de])/g, 'p < 1e-300')))));
    } else {
      this.body.append(h('div', { class: 'muted small', 'data-testid': 'insight-alerts' }, 'No alerts.'));
    }

    const legend = showRef ? h('div', { class: 'bars-legend small muted' }, h('i', { class: 'sw sw-cur' }), splitLabel(d.split), h('i', { class: 'sw sw-ref' }), d.reference) : null;
    this.body.append(
      h('div', { class: 'chart' }, h('h3', null, 'Predicted class share'), legend,
        pairedBars(d.classes, (c) => [c.share, c.reference_share], 'chart-class-share', showRef)),
      h('div', { class: 'chart' }, h('h3', null, 'Mean confidence per class'),
        pairedBars(d.classes, (c) => [c.mean_confidence, c.reference_mean_confidence], 'chart-confidence', showRef)),
    );
    if (d.classes.some((c) => c.f1 !== null && c.f1 !== undefined)) {
      this.body.append(h('div', { class: 'chart' }, h('h3', null, 'Per class'),
        h('table', { class: 'mini', 'data-testid': 'insight-per-class' },
          h('thead', null, h('tr', null, h('th', null, 'class'), h('th', null, 'precision'), h('th', null, 'recall'), h('th', null, 'F1'))),
          h('tbody', null, ...d.classes.map((c) => h('tr', null, h('td', null, c.label), h('td', { class: 'num' }, fmt(c.precision)),
            h('td', { class: 'num' }, fmt(c.recall)), h('td', { class: 'num' }, fmt(c.f1))))))));
    }
    // Alerts, class bars and stat cards filter the table and the map (links.ts).
    linkInsights(this.body, d, this.st);
    this.el.dataset.ready = '1';
  }

  private summary: Promise<Json> | null = null;

  private async spanBlock(box: HTMLElement, split: string): Promise<void> {
    let sum: Json;
    try { sum = await (this.summary ??= api.summary(this.st.project, this.st.run)); } catch (e) {
      this.summary = null;
      box.append(h('div', { class: 'error small' }, `span summary unavailable: ${(e as Error).message}`));
      return;
    }
    const types = entityTypes(this.st.info.labels);
    const sp: Json = sum.splits?.[split]?.spans ?? {};
    const stat = (label: string, value: string, sub: string, testid: string) =>
      h('div', { class: 'stat', 'data-testid': testid }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-sub muted' }, sub));
    const m: Json | undefined = sp.f1 !== undefined ? sp : undefined;  // labeled splits
    const stats = h('div', { class: 'stats' });
    if (m) stats.append(stat('span F1', fmt(num(m.f1), 3), `P ${fmt(num(m.precision), 2)} · R ${fmt(num(m.recall), 2)}`, 'insight-span-f1'));
    const rows = num(sp.span_rows?.count ?? sp.span_rows);
    if (rows !== null) stats.append(stat('span rows', rows.toLocaleString(), m ? `${num(m.gold) ?? '–'} gold · ${num(m.pred) ?? '–'} pred` : 'predicted spans', 'insight-span-rows'));
    const drift = sp.span_drift ?? sp.span_out_of_coverage;
    const cmpDrift = sum.comparisons?.[split]?.spans?.drifted_fraction;
    const dfrac = num(cmpDrift?.inference) ?? frac(drift);
    if (dfrac !== null) stats.append(stat(sp.span_drift ? 'drifted spans' : 'spans out of coverage', pct(dfrac),
      num(cmpDrift?.nominal) !== null ? `nominal ${pct(cmpDrift.nominal)}` : `${num(drift?.count)?.toLocaleString() ?? '–'} spans`, 'insight-span-drifted'));
    box.append(h('h3', null, 'Spans'), stats);
    if (m) {
      const per: Json = m.per_class ?? {};
      const names = [...types.filter((t) => t in per), ...Object.keys(per).filter((t) => !types.includes(t))];
      box.append(h('table', { class: 'mini', 'data-testid': 'insight-span-per-type' },
        h('thead', null, h('tr', null, ...['type', 'precision', 'recall', 'F1', 'support'].map((t) => h('th', null, t)))),
        h('tbody', null,
          ...names.map((t) => h('tr', { 'data-type': t }, h('td', null, t), h('td', { class: 'num' }, fmt(num(per[t].precision))),
            h('td', { class: 'num' }, fmt(num(per[t].recall))), h('td', { class: 'num' }, fmt(num(per[t].f1))), h('td', { class: 'num' }, String(num(per[t].support) ?? '–')))),
          h('tr', { class: 'total', 'data-type': '' }, h('td', null, h('b', null, 'overall')), h('td', { class: 'num' }, fmt(num(m.precision))),
            h('td', { class: 'num' }, fmt(num(m.recall))), h('td', { class: 'num' }, h('b', null, fmt(num(m.f1)))), h('td', { class: 'num' }, String(num(m.gold) ?? '–'))))));
      const errs: Json = m.error_types ?? {};
      const n = ERROR_TYPES.reduce((a, e) => a + (num(errs[e]) ?? 0), 0) || 1;
      box.append(h('div', { class: 'chart' }, h('h3', null, 'Span rows by error type'),
        pairedBars(ERROR_TYPES.map((e) => ({ label: ERROR_TITLES[e], share: (num(errs[e]) ?? 0) / n } as ClassInsight)), (c) => [c.share, null], 'chart-span-errors', false)));
    }
    const cls = typeRows(sum, split, types);
    const showRef = split !== 'training' && cls.some((c) => c.reference_share !== null);
    const legend = showRef ? h('div', { class: 'bars-legend small muted' }, h('i', { class: 'sw sw-cur' }), splitLabel(split), h('i', { class: 'sw sw-ref' }), 'training') : null;
    box.append(
      h('div', { class: 'chart' }, h('h3', null, 'Predicted entity type share'), legend, pairedBars(cls, (c) => [c.share, c.reference_share], 'chart-span-type-share', showRef)),
      h('div', { class: 'chart' }, h('h3', null, 'Mean span confidence per type'), pairedBars(cls, (c) => [c.mean_confidence, c.reference_mean_confidence], 'chart-span-confidence', showRef)));
  }
}
