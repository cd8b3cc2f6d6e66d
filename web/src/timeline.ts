// The timeline page of a run (/runs/P/R/timeline): one chart per metric over the inference
// sets' times (intervals as bands, alert thresholds and the training value drawn, firing
// alerts ringed), each point a link to that set's samples; per-class charts; the sets as a
// table; and two points (or two splits) picked for the comparison page.
import { ApiError, monitorApi, type AlertRule, type Timeline, type TimelineAlert, type TimelineEntry, type Valued } from './api';
import { lineChart, legend, type ChartPoint, type ChartSeries, type Guide } from './charts';
import { append, clear, fmt, h, pct, splitLabel } from './dom';
import { timelineView } from './links';
import { viewUrl } from './url_state';

export const OVERALL_METRICS: { key: string; title: string; percent: boolean }[] = [
  { key: 'drifted_share', title: 'Drifted share', percent: true },
  { key: 'estimated_accuracy', title: 'Estimated accuracy', percent: true },
  // Sets logged with gold labels: the real accuracy next to the estimate (no chart otherwise).
  { key: 'accuracy', title: 'Accuracy (labeled sets)', percent: true },
  { key: 'mean_confidence', title: 'Mean confidence', percent: false },
  { key: 'domain_auc', title: 'Domain-classifier AUC', percent: false },
  { key: 'on_boundary_share', title: 'On-boundary share', percent: true },
  { key: 'samples', title: 'Samples', percent: false },
];
export const CLASS_METRICS: { key: string; title: string; percent: boolean }[] = [
  { key: 'pred_share', title: 'Predicted share per class', percent: true },
  { key: 'mean_confidence', title: 'Mean confidence per predicted class', percent: false },
  { key: 'estimated_f1', title: 'Estimated F1 per class', percent: false },
  { key: 'drifted_share', title: 'Drifted share per predicted class', percent: true },
];
const COLORS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#e45756', '#72b7b2', '#eeca3b', '#9d755d'];

type Go = (path: string) => void;

function valued(v: unknown): Valued | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return { value: v, low: null, high: null };
  const o = v as Valued;
  return typeof o.value === 'number' ? o : null;
}

function dayLabel(t: number, hasTime: boolean): string {
  if (!hasTime) return `#${t + 1}`;
  const iso = new Date(t * 1000).toISOString();
  return iso.slice(5, 10);
}

export function runBase(project: string, run: string): string {
  return `/runs/${encodeURIComponent(project)}/${encodeURIComponent(run)}`;
}

export function compareUrl(project: string, run: string, a: string, b: string): string {
  return `${runBase(project, run)}/compare?${new URLSearchParams({ a, b })}`;
}

/** The verdict metrics (booleans) are marked on the chart of the share or AUC they judge. */
const VERDICT_CHART: Record<string, string> = { drift_verdict: 'drifted_share', domain_shifted: 'domain_auc' };

/**
 * What a rule (or an alert state) watches: the metric's name and its class (null overall,
 * '*' every class). The metric may be given as the timeline's path ("metrics.X",
 * "per_class.LABEL.X"), as the alerts API also accepts.
 */
export function ruleTarget(metric: string, cls: string | null | undefined): { metric: string; cls: string | null } {
  let m = metric, c = cls ?? null;
  if (m.startsWith('metrics.')) m = m.slice('metrics.'.length);
  else if (m.startsWith('per_class.')) {
    const rest = m.slice('per_class.'.length);
    const dot = rest.lastIndexOf('.');
    if (dot > 0) { c = c ?? rest.slice(0, dot); m = rest.slice(dot + 1); }
  }
  return { metric: VERDICT_CHART[m] ?? m, cls: c };
}

/** Does a rule apply to this run's chart of `metric` (per class when `label` is set)? */
function ruleApplies(rule: AlertRule, run: string, metric: string, label: string | null): boolean {
  if (rule.enabled === false || (rule.run && rule.run !== run)) return false;
  const t = ruleTarget(rule.metric, rule.class);
  return t.metric === metric && (t.cls === label || (t.cls === '*' && label !== null));
}

/** The guides a rule draws on a chart: its threshold(s), or its learned band. */
function ruleGuides(rule: AlertRule, sets: TimelineEntry[], valueOf: (e: TimelineEntry) => number | null,
  reference: number | null, color?: string): Guide[] {
  const id = String(rule.id ?? '');
  const name = rule.name || rule.metric;
  // A verdict rule (drift_verdict >= 1) has no line on the chart of the share it judges.
  if (rule.metric.replace(/^metrics\./, '') in VERDICT_CHART) return [];
  if (rule.kind === 'threshold' && rule.value !== null) {
    return [{ value: rule.value, label: `${name} ${rule.op} ${rule.value}`, kind: 'threshold', ruleId: id, color }];
  }
  if (rule.kind === 'change_from_training' && rule.value !== null && reference !== null) {
    const sign = rule.value >= 0 ? '+' : '';
    if (rule.abs) {
      const v = Math.abs(rule.value);
      return [
        { value: reference + v, label: `${name}: training ± ${v}`, kind: 'threshold', ruleId: id, color },
        { value: reference - v, label: '', kind: 'threshold', ruleId: id, color }];
    }
    return [{ value: reference + rule.value, label: `${name}: training ${sign}${rule.value}`, kind: 'threshold', ruleId: id, color }];
  }
  if (rule.kind === 'band') {
    // As the alerts API judges: the first N sets with a value are the baseline; sigma is
    // their population standard deviation (as NannyML); op '>' or '<' watches one side.
    const n = rule.band?.first_n ?? 5, k = rule.band?.k ?? 3;
    const first = sets.map(valueOf).filter((v): v is number => v !== null).slice(0, n);
    if (first.length < n || first.length < 2) return [];
    const mean = first.reduce((a, b) => a + b, 0) / first.length;
    const sd = Math.sqrt(first.reduce((a, b) => a + (b - mean) ** 2, 0) / first.length);
    const label = `${name}: mean ± ${k}σ of the first ${n}`;
    const out: Guide[] = [];
    // One label for the pair (two would overlap on a narrow band).
    if (rule.op !== '<' && rule.op !== '<=') out.push({ value: mean + k * sd, label, kind: 'band', ruleId: id, color });
    if (rule.op !== '>' && rule.op !== '>=') out.push({ value: mean - k * sd, label: out.length ? '' : label, kind: 'band', ruleId: id, color });
    return out;
  }
  return [];
}

export async function timelinePage(main: HTMLElement, project: string, run: string, go: Go): Promise<void> {
  let tl: Timeline;
  try { tl = await monitorApi.timeline(project, run); } catch (e) {
    clear(main);
    main.append(h('div', { class: 'error card', 'data-testid': 'timeline-error' },
      e instanceof ApiError && e.status === 404 && /route|timeline/i.test(e.message)
        ? 'This server has no timeline for runs (GET /api/runs/P/R/timeline).' : `Could not load the timeline: ${(e as Error).message}`));
    return;
  }
  // The rules draw thresholds; a server without the alerts API still shows the charts.
  let rules: AlertRule[] = [];
  let rulesNote = '';
  try { rules = (await monitorApi.rules(project)).rules; } catch (e) { rulesNote = `alert rules unavailable: ${(e as Error).message}`; }
  const ruleById = new Map(rules.map((r) => [String(r.id), r]));
  let alerts: TimelineAlert[] = tl.alerts ?? [];
  if (!tl.alerts) {
    try {
      alerts = (await monitorApi.states(project, run)).states.map((s) => ({ rule_id: s.rule_id, set: s.set, state: s.state, value: s.value, threshold: s.threshold }));
    } catch { /* no alerts API */ }
  }
  const firing = alerts.filter((a) => a.state === 'firing');
  /** Is a rule on `metric` (of class `label`) firing on `set`? */
  const isFiring = (set: string, metric: string, label: string | null) => firing.some((a) => {
    if (a.set !== set && a.set !== set.replace(/^inference:/, '')) return false;
    const r = ruleById.get(String(a.rule_id));
    const m = a.metric ?? r?.metric;
    if (m === undefined) return false;
    // A state names its class (a rule on '*' has one state per class).
    const t = ruleTarget(m, a.class !== undefined ? a.class : r?.class ?? null);
    return t.metric === metric && (t.cls === label || (t.cls === '*' && label !== null));
  });

  const sets = tl.sets;
  const hasTime = sets.length > 0 && sets.every((s) => s.time !== null && s.time !== undefined);
  const tOf = (s: TimelineEntry, i: number) => (hasTime ? (s.time as number) : i);
  const ts = sets.map(tOf);
  let t0 = ts.length ? Math.min(...ts) : 0, t1 = ts.length ? Math.max(...ts) : 1;
  if (t1 === t0) { t0 -= 1; t1 += 1; }
  const step = Math.max(1, Math.ceil(sets.length / 7));
  const ticks: [number, string][] = sets.filter((_, i) => i % step === 0).map((s) => [tOf(s, sets.indexOf(s)), dayLabel(tOf(s, sets.indexOf(s)), hasTime)]);
  // A point opens its set's samples with the filter of its metric (drifted share: the
  // drifted samples, per class: that predicted class...; links.ts).
  const setUrl = (split: string, metric?: string, label: string | null = null) => {
    if (!metric) return viewUrl(runBase(project, run), { split });
    const v = timelineView(metric, label);
    return viewUrl(runBase(project, run), { split, filter: v.filter, sort: v.sort, order: v.order });
  };

  // Picking two points for the comparison.
  let picking = false;
  let picked: string[] = [];
  const pickNote = h('span', { class: 'muted small', 'data-testid': 'pick-note' });
  const pickBtn = h('button', { class: 'btn btn-sm', 'data-testid': 'pick-two', onclick: () => {
    picking = !picking; picked = [];
    pickBtn.classList.toggle('on', picking);
    main.classList.toggle('picking', picking);
    main.querySelectorAll('.tl-point-link.picked').forEach((el) => el.classList.remove('picked'));
    pickNote.textContent = picking ? 'click the first point (A), then the second (B)' : '';
  } }, 'Pick two points to compare');
  const onPoint = (p: ChartPoint, e: MouseEvent) => {
    if (e.ctrlKey || e.metaKey || e.button !== 0) return;
    e.preventDefault();
    if (!picking) { go(p.href); return; }
    if (picked.length === 1 && picked[0] === p.set) return;
    picked.push(p.set);
    main.querySelectorAll(`.tl-point-link[data-set="${CSS.escape(p.set)}"]`).forEach((el) => el.classList.add('picked'));
    if (picked.length === 1) { pickNote.textContent = `A = ${splitLabel(p.set)}; now click B`; return; }
    go(compareUrl(project, run, picked[0], picked[1]));
  };

  const allSplits = [
    ...(tl.reference.training ? ['training'] : []), ...(tl.reference.validation ? ['validation'] : []),
    ...sets.map((s) => s.split)];
  const selA = h('select', { 'data-testid': 'compare-a' }, ...allSplits.map((s) => h('option', { value: s }, splitLabel(s))));
  const selB = h('select', { 'data-testid': 'compare-b' }, ...allSplits.map((s) => h('option', { value: s }, splitLabel(s))));
  if (sets.length) { selA.value = sets.length > 1 ? sets[sets.length - 2].split : allSplits[0]; selB.value = sets[sets.length - 1].split; }

  const chartCard = (title: string, metric: string, percent: boolean, series: ChartSeries[], guides: Guide[]) =>
    h('section', { class: 'card tl-card', 'data-testid': 'tl-chart', 'data-metric': metric },
      h('div', { class: 'card-head' }, h('h3', null, title)),
      lineChart({ metric, series, guides, t0, t1, ticks, percent, onPoint }),
      series.length > 1 ? legend(series) : null);

  const overall = OVERALL_METRICS.map(({ key, title, percent }) => {
    const pts: ChartPoint[] = [];
    sets.forEach((s, i) => {
      const v = valued(s.metrics?.[key]);
      if (!v) return;
      const on = isFiring(s.split, key, null);
      pts.push({ t: tOf(s, i), value: v.value, low: v.low, high: v.high, set: s.split, href: setUrl(s.split, key), firing: on,
        title: `${s.name} · ${s.time_iso ?? ''}\n${title}: ${percent ? pct(v.value) : fmt(v.value)}` +
          `${v.low !== null && v.high !== null ? ` [${percent ? pct(v.low) : fmt(v.low)}, ${percent ? pct(v.high) : fmt(v.high)}]` : ''}${on ? '\nalert firing' : ''}` });
    });
    if (!pts.length) return null;
    const ref = valued(tl.reference.training?.metrics?.[key])?.value ?? null;
    const guides: Guide[] = [];
    if (ref !== null && key !== 'samples') guides.push({ value: ref, label: 'training', kind: 'reference' });
    for (const r of rules) {
      if (ruleApplies(r, run, key, null)) guides.push(...ruleGuides(r, sets, (s) => valued(s.metrics?.[key])?.value ?? null, ref));
    }
    return chartCard(title, key, percent, [{ key: 'all', label: title, color: COLORS[0], points: pts }], guides);
  });

  const labels = [...new Set(sets.flatMap((s) => Object.keys(s.per_class ?? {})))];
  const perClass = CLASS_METRICS.map(({ key, title, percent }) => {
    const series: ChartSeries[] = [];
    const guides: Guide[] = [];
    labels.forEach((label, li) => {
      const color = COLORS[li % COLORS.length];
      const pts: ChartPoint[] = [];
      sets.forEach((s, i) => {
        const v = valued(s.per_class?.[label]?.[key]);
        if (!v) return;
        const on = isFiring(s.split, key, label);
        pts.push({ t: tOf(s, i), value: v.value, low: v.low, high: v.high, set: s.split, href: setUrl(s.split, key, label), firing: on,
          title: `${s.name} · ${label}\n${title}: ${percent ? pct(v.value) : fmt(v.value)}${on ? '\nalert firing' : ''}` });
      });
      if (pts.length) series.push({ key: label, label, color, points: pts });
      const ref = valued(tl.reference.training?.per_class?.[label]?.[key])?.value ?? null;
      for (const r of rules) {
        if (ruleApplies(r, run, key, label)) guides.push(...ruleGuides(r, sets, (s) => valued(s.per_class?.[label]?.[key])?.value ?? null, ref, color));
      }
    });
    // A rule on every class ('*') draws a line per class: its name once.
    const named = new Set<string>();
    for (const g of guides) {
      if (!g.label || g.ruleId === undefined) continue;
      if (named.has(g.ruleId)) g.label = ''; else named.add(g.ruleId);
    }
    return series.length ? chartCard(title, `per_class.${key}`, percent, series, guides) : null;
  });

  const table = h('table', { class: 'tl-table', 'data-testid': 'tl-table' },
    h('thead', null, h('tr', null, ...['time', 'set', 'samples', 'drifted', 'drift verdict', 'est. accuracy', 'alerts'].map((t) => h('th', null, t)))),
    h('tbody', null, ...sets.map((s) => {
      const fires = firing.filter((a) => a.set === s.split || a.set === s.name);
      return h('tr', { 'data-testid': 'tl-row', 'data-set': s.split },
        h('td', { class: 'small' }, s.time_iso ?? (s.time !== null ? new Date(s.time * 1000).toISOString() : '—'),
          s.time_source ? h('span', { class: 'muted small' }, ` (${s.time_source})`) : null),
        h('td', null, h('a', { href: setUrl(s.split), onclick: (e: MouseEvent) => { if (!e.ctrlKey && !e.metaKey) { e.preventDefault(); go(setUrl(s.split)); } } }, s.name)),
        h('td', { class: 'num' }, s.samples.toLocaleString()),
        h('td', { class: 'num' }, pct(valued(s.metrics?.drifted_share)?.value)),
        h('td', null, s.drift_verdict === null ? '—' : h('span', { class: `badge ${s.drift_verdict ? 'badge-bad' : 'badge-ok'}` }, s.drift_verdict ? 'drifted' : 'ok')),
        h('td', { class: 'num' }, pct(valued(s.metrics?.estimated_accuracy)?.value)),
        h('td', { 'data-testid': 'tl-row-alerts' }, fires.length
          ? h('span', { class: 'badge badge-bad', title: fires.map((a) => ruleById.get(String(a.rule_id))?.name ?? a.rule_name ?? `rule ${a.rule_id}`).join(', ') }, `${fires.length} firing`)
          : h('span', { class: 'muted' }, '—')));
    })));

  clear(main);
  main.className = 'page timeline-page';
  main.dataset.testid = 'timeline-page';
  append(main, [
    h('div', { class: 'runbar' },
      h('span', { class: 'muted small' }, `${sets.length} inference set${sets.length === 1 ? '' : 's'}${hasTime ? ' in time order' : ''}`),
      rulesNote && !tl.alerts ? h('span', { class: 'badge badge-muted', 'data-testid': 'tl-firing-count' }, 'no alert states')
        : h('span', { class: `badge ${firing.length ? 'badge-bad' : 'badge-ok'}`, 'data-testid': 'tl-firing-count' }, `${firing.length} alert${firing.length === 1 ? '' : 's'} firing`),
      h('a', { class: 'btn btn-sm', href: `/projects/${encodeURIComponent(project)}/alerts`, 'data-testid': 'rules-link',
        onclick: (e: MouseEvent) => { e.preventDefault(); go(`/projects/${encodeURIComponent(project)}/alerts`); } }, 'Alert rules'),
      h('div', { class: 'runbar-group' }, h('span', { class: 'runbar-label' }, 'Compare'), selA, h('span', { class: 'muted' }, '→'), selB,
        h('button', { class: 'btn btn-sm', 'data-testid': 'compare-go', onclick: () => go(compareUrl(project, run, selA.value, selB.value)) }, 'Compare'),
        pickBtn, pickNote),
      rulesNote ? h('span', { class: 'muted small', 'data-testid': 'rules-note' }, rulesNote) : null),
    sets.length ? null : h('div', { class: 'card muted', 'data-testid': 'tl-empty' }, 'This run has no inference set yet.'),
    h('div', { class: 'tl-grid-charts' }, ...overall),
    labels.length ? h('h2', { class: 'tl-section' }, 'Per predicted class') : null,
    h('div', { class: 'tl-grid-charts' }, ...perClass),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', null, 'Inference sets')), table)]);
  main.dataset.ready = '1';
}
