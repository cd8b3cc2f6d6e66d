// The insights panel: class shares and mean confidence per class next to training,
// drifted and on-boundary counts, accuracy/F1 per class, alerts.
import { api, type ClassInsight, type Insights } from './api';
import { PALETTE, clear, fmt, h, pct, splitLabel } from './dom';
import type { RunState } from './state';

/** Grouped horizontal bars: per class, this split's value over the reference's. */
function pairedBars(classes: ClassInsight[], get: (c: ClassInsight) => [number | null, number | null], testid: string, showRef: boolean): HTMLElement {
  const bar = (v: number | null, color: string | null, ref: boolean, title: string) =>
    h('div', { class: `bar-line ${ref ? 'ref' : ''}` },
      h('span', { class: 'bar', 'data-ref': ref ? '1' : null, title, style: { width: `${Math.max(0.3, (v ?? 0) * 100) * 0.82}%`, background: color ?? undefined } }),
      h('span', { class: 'bar-value' }, pct(v)));
  return h('div', { class: 'bars', 'data-testid': testid, role: 'img' }, ...classes.map((c, i) => {
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
    if (d.accuracy !== null && d.accuracy !== undefined) stats.append(stat('accuracy', pct(d.accuracy), `macro F1 ${fmt(d.macro_f1, 3)}`, 'insight-accuracy'));
    this.body.append(stats);

    if (d.alerts.length) {
      this.body.append(h('ul', { class: 'alerts', 'data-testid': 'insight-alerts' }, ...d.alerts.map((a) =>
        h('li', { class: `alert alert-${a.severity}`, 'data-kind': a.kind },
          h('span', { class: 'alert-sev' }, a.severity), a.message))));
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
    this.el.dataset.ready = '1';
  }
}
