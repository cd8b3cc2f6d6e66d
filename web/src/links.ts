// Everything links: an alert, a class bar, a stat card of the insights panel (or any element
// carrying `data-link-filter`) filters the table and the map to the samples it is about, and
// a timeline point opens its set's run page with the filter of its metric. The alert's own
// `filter` is used when the server sends one; otherwise it is derived from its kind and label.
import './links.css';
import type { Alert, Filter, Insights, SpanFilter } from './api';
import { h } from './dom';
import type { RunState } from './state';

/** The filter of an alert: the server's, else by kind (drift, shift) and label (class alerts). */
export function alertFilter(a: Alert): Filter | null {
  if (a.filter && typeof a.filter === 'object') return a.filter;
  if (a.entity_type) return { entity_type: [a.entity_type] };
  switch (a.kind) {
    case 'data_drift': return { drifted: true };
    case 'distribution_shift': return { shifted: true };
    case 'confidence_drop': return a.label ? { pred: [a.label] } : null;
    case 'class_share_change': return a.label ? { pred: [a.label] } : null;
    default: return a.label ? { pred: [a.label] } : null;
  }
}

/** Shows these samples: the filter replaces the current one (back returns to it). */
export function showSamples(st: RunState, f: Filter, split?: string, sort?: { sort: string; order: 'asc' | 'desc' }): void {
  if (split && split !== st.split && st.info.splits.some((s) => s.split === split)) st.setSplit(split);
  if (st.view !== 'samples') st.setView('samples');
  st.closeSample();
  st.replaceFilter(f);
  if (sort && (st.sort !== sort.sort || st.order !== sort.order)) { st.sort = sort.sort; st.order = sort.order; st.emit('sort'); }
}

/** NER: shows these span rows in the span view. */
export function showSpans(st: RunState, f: SpanFilter): void {
  st.spanFilter = { ...f };
  st.emit('spanfilterui');
  st.emit('spanfilter');
  st.setView('spans');
}

/**
 * `inner`: the keyboard's way in is a small "show" button inside the element instead of the
 * element itself, for list items and table rows (they keep their role) and for stat cards
 * (they hold help buttons, and a button may not hold a button).
 */
function makeLink(el: Element, title: string, go: () => void, inner = false): void {
  const e = el as HTMLElement;
  e.classList.add('linked');
  if (!e.title) e.title = title;
  e.dataset.linked = '1';
  e.addEventListener('click', (ev) => { ev.stopPropagation(); go(); });
  // A list item or a table row keeps its role (a list or table of buttons is not one for
  // assistive technology): a small button inside it is the keyboard's way in.
  if (inner || e.tagName === 'LI' || e.tagName === 'TR') {
    const btn = h('button', { class: 'btn btn-xs link-show', 'data-testid': 'link-show', title, 'aria-label': title,
      onclick: (ev: Event) => { ev.stopPropagation(); go(); } }, 'show');
    (e.tagName === 'TR' ? e.lastElementChild ?? e : e).append(btn);
    return;
  }
  e.setAttribute('role', 'button');
  e.tabIndex = 0;
  e.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); go(); }
  });
}

/**
 * Makes the insights panel's figures links (called once the panel is drawn): alerts, the
 * class bars of both charts, the stat cards, the NER span blocks, and any element with a
 * `data-link-filter` (JSON filter; `data-link-split` optional) such as the verdict's findings.
 */
export function linkInsights(root: HTMLElement, d: Insights, st: RunState): void {
  const split = d.split;
  root.querySelectorAll('[data-testid=insight-alerts] li').forEach((li, i) => {
    const a = d.alerts[i];
    const f = a ? alertFilter(a) : null;
    if (!f) return;
    (li as HTMLElement).dataset.filter = JSON.stringify(f);
    makeLink(li, 'Show these samples', () => showSamples(st, f, a.split ?? split));
  });
  // A chart of links is no longer an image (its rows are buttons).
  root.querySelectorAll('.bars[role=img]').forEach((b) => b.removeAttribute('role'));
  for (const chart of ['chart-class-share', 'chart-confidence']) {
    root.querySelectorAll(`[data-testid=${chart}] .bar-row`).forEach((row, i) => {
      const c = d.classes[i];
      if (!c) return;
      (row as HTMLElement).dataset.label = c.label;
      // Confidence per class: the least confident first.
      makeLink(row, `Show the samples predicted ${c.label}`, () => showSamples(st, { pred: [c.label] }, split,
        chart === 'chart-confidence' ? { sort: 'confidence', order: 'asc' } : undefined));
    });
  }
  const card = (testid: string, f: Filter, title: string, sort?: { sort: string; order: 'asc' | 'desc' }) => {
    const el = root.querySelector(`[data-testid=${testid}]`);
    if (el) makeLink(el, title, () => showSamples(st, f, split, sort), true);
  };
  card('insight-drifted', { drifted: true }, st.labeled ? 'Show the samples out of coverage' : 'Show the drifted samples', { sort: 'drift_score', order: 'desc' });
  card('insight-boundary', { on_boundary: true }, 'Show the samples on the boundary');
  if (split.startsWith('inference:')) {
    card('insight-shifted', { shifted: true }, 'Show the shifted samples', { sort: 'shift_score', order: 'desc' });
    card('insight-domain-test', {}, 'Show the samples by shift score', { sort: 'shift_score', order: 'desc' });
  }
  if (!st.isNer) card('insight-accuracy', { misclassified: true }, 'Show the misclassified samples');
  // NER: the span figures open the span view.
  if (st.isNer) {
    const spanCard = (testid: string, f: SpanFilter, title: string) => {
      const el = root.querySelector(`[data-testid=${testid}]`);
      if (el) makeLink(el, title, () => showSpans(st, f));
    };
    spanCard('insight-span-drifted', { drifted: true }, 'Show the drifted spans');
    root.querySelectorAll('[data-testid=insight-span-per-type] tr[data-type]').forEach((tr) => {
      const t = (tr as HTMLElement).dataset.type;
      if (t) makeLink(tr, `Show the ${t} spans`, () => showSpans(st, { label: t }));
    });
    root.querySelectorAll('[data-testid=chart-span-type-share] .bar-row').forEach((row) => {
      const t = row.querySelector('.bar-label')?.textContent;
      if (t) makeLink(row, `Show the ${t} spans`, () => showSpans(st, { label: t }));
    });
  }
  root.querySelectorAll('[data-link-filter]:not([data-linked])').forEach((el) => {
    let f: Filter;
    try { f = JSON.parse((el as HTMLElement).dataset.linkFilter!); } catch { return; }
    makeLink(el, 'Show these samples', () => showSamples(st, f, (el as HTMLElement).dataset.linkSplit ?? split));
  });
}

/** What a timeline point of `metric` (per class when `label`) shows on its set's run page. */
export function timelineView(metric: string, label: string | null): { filter: Filter; sort?: string; order?: 'asc' | 'desc' } {
  const pred: Filter = label ? { pred: [label] } : {};
  switch (metric) {
    case 'drifted_share': return { filter: { ...pred, drifted: true }, sort: 'drift_score', order: 'desc' };
    case 'domain_auc': return { filter: { ...pred, shifted: true }, sort: 'shift_score', order: 'desc' };
    case 'on_boundary_share': return { filter: { ...pred, on_boundary: true } };
    case 'accuracy': return { filter: { ...pred, misclassified: true } };
    case 'mean_confidence': case 'estimated_accuracy': case 'estimated_f1':
      return { filter: pred, sort: 'confidence', order: 'asc' };
    default: return { filter: pred };
  }
}
