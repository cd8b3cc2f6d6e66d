// The sample panel: text, probability bars, DEP, drift, on-boundary, nearest neighbours
// across training and production, and "find similar" (filters the table to them).
import { api, type Neighbor, type Sample } from './api';
import { PALETTE, append, clear, fmt, h, highlight, pct, splitLabel } from './dom';
import type { RunState } from './state';

export class SamplePanel {
  el: HTMLElement;
  private body: HTMLElement;
  private seq = 0;

  constructor(private st: RunState) {
    this.body = h('div', { class: 'panel-body' });
    this.el = h('aside', { class: 'sample-panel', 'data-testid': 'sample-panel', hidden: true },
      h('div', { class: 'card-head' }, h('h2', null, 'Sample'),
        h('button', { class: 'btn btn-ghost btn-sm', 'data-testid': 'sample-close', onclick: () => st.closeSample() }, '✕')),
      this.body);
    st.on('open', () => void this.load());
  }

  private async load(): Promise<void> {
    const o = this.st.open;
    const seq = ++this.seq;
    delete this.el.dataset.ready;
    if (!o) { this.el.hidden = true; return; }
    this.el.hidden = false;
    clear(this.body);
    this.body.append(h('div', { class: 'muted' }, 'loading…'));
    let s: Sample;
    try { s = await api.sample(this.st.project, this.st.run, o.split, o.id); } catch (e) {
      if (seq !== this.seq) return;
      clear(this.body); this.body.append(h('div', { class: 'error' }, (e as Error).message)); return;
    }
    if (seq !== this.seq) return;
    clear(this.body);
    const labels = this.st.info.labels;
    const probs = s.probs ?? {};
    const kv = (k: string, v: Node | string, testid: string) => h('div', { class: 'kv', 'data-testid': testid }, h('span', { class: 'k' }, k), h('span', { class: 'v' }, v));
    const neighbors = h('div', { class: 'neighbors', 'data-testid': 'neighbors' }, h('div', { class: 'muted' }, 'searching…'));
    const metaEntries = Object.entries(s.meta ?? {});
    append(this.body, [
      h('div', { class: 'sample-id mono', 'data-testid': 'sample-id' }, `${splitLabel(s.split)} · ${s.id}`),
      h('p', { class: 'sample-text', 'data-testid': 'sample-text' }, ...highlight(s.text, this.st.filter.text) as any),
      h('div', { class: 'kvs' },
        kv('predicted', h('b', null, s.pred), 'sample-pred'),
        kv('gold', s.gold ?? '–', 'sample-gold'),
        kv('confidence', fmt(s.confidence), 'sample-confidence'),
        kv('margin', fmt(s.margin), 'sample-margin'),
        kv('DEP', fmt(s.dep), 'sample-dep'),
        kv('drift score', fmt(s.drift_score), 'sample-drift'),
        kv(s.split.startsWith('inference:') ? 'drifted' : 'out of coverage', s.is_drifted === null ? '–' : s.is_drifted ? h('span', { class: 'badge badge-warn' }, 'yes') : 'no', 'sample-drifted'),
        kv('on the boundary', s.is_on_the_boundary ? h('span', { class: 'badge badge-warn' }, 'yes') : 'no', 'sample-boundary'),
      ),
      h('h3', null, 'Probabilities'),
      h('div', { class: 'probs', 'data-testid': 'sample-probs' }, ...labels.map((l, i) => {
        const p = probs[l] ?? (l === s.pred ? s.confidence : 0);
        return h('div', { class: 'prob', 'data-label': l }, h('span', { class: 'prob-label' }, l),
          h('span', { class: 'prob-track' }, h('span', { class: 'prob-fill', style: { width: `${(p * 100).toFixed(1)}%`, background: PALETTE[i % PALETTE.length] } })),
          h('span', { class: 'prob-value num' }, pct(p)));
      })),
      metaEntries.length ? h('h3', null, 'Metadata') : null,
      metaEntries.length ? h('div', { class: 'kvs' }, ...metaEntries.map(([k, v]) => kv(k, String(v), `sample-meta-${k}`))) : null,
      h('div', { class: 'row-between' }, h('h3', null, 'Nearest neighbours'),
        h('button', { class: 'btn btn-sm btn-primary', 'data-testid': 'find-similar', onclick: () => void this.findSimilar(s) }, 'Find similar')),
      neighbors,
    ]);
    this.el.dataset.ready = '1';
    // Neighbours in training and in production (the inference sets), side by side.
    const prod = this.st.info.splits.map((x) => x.split).filter((x) => x.startsWith('inference:'));
    const groups: [string, string[]][] = [['training', ['training']]];
    if (prod.length) groups.push([prod.length === 1 ? `production (${splitLabel(prod[0])})` : 'production', prod]);
    try {
      const answers = await Promise.all(groups.map(([, inSplits]) => api.similar(this.st.project, this.st.run, s.split, s.id, 5, inSplits)));
      if (seq !== this.seq) return;
      clear(neighbors);
      groups.forEach(([title, inSplits], gi) => {
        const r = answers[gi];
        neighbors.append(h('div', { class: 'neighbor-group', 'data-testid': 'neighbor-group', 'data-in': inSplits.join(',') },
          h('div', { class: 'neighbor-group-title small muted' }, `in ${title} · ${r.took_ms.toFixed(1)} ms`),
          r.neighbors.length ? r.neighbors.map((n) => this.neighborRow(n)) : h('div', { class: 'muted small' }, 'No neighbour.')));
      });
    } catch (e) {
      if (seq !== this.seq) return;
      clear(neighbors); neighbors.append(h('div', { class: 'error' }, `similar: ${(e as Error).message}`));
    }
  }

  private neighborRow(n: Neighbor): HTMLElement {
    return h('div', { class: 'neighbor', 'data-testid': 'neighbor', 'data-id': n.id, 'data-split': n.split,
      onclick: () => this.st.openSample(n.split, n.id) },
    h('div', { class: 'neighbor-head' },
      h('span', { class: `split-tag ${n.split === 'training' ? 'tag-train' : n.split.startsWith('inference:') ? 'tag-prod' : ''}` }, splitLabel(n.split)),
      h('span', { class: 'mono small' }, n.id),
      h('span', { class: 'small muted' }, `d=${fmt(n.distance, 3)}`),
      h('span', { class: 'small' }, `${n.pred} ${fmt(n.confidence, 2)}`),
      n.is_drifted ? h('span', { class: 'badge badge-warn' }, 'drifted') : null),
    h('div', { class: 'neighbor-text' }, n.text));
  }

  /** Filters the table to the sample and its nearest neighbours within the current split. */
  private async findSimilar(s: Sample): Promise<void> {
    const split = this.st.split;
    try {
      const r = await api.similar(this.st.project, this.st.run, s.split, s.id, 20, [split]);
      const ids = r.neighbors.filter((n) => n.split === split).map((n) => n.id);
      if (s.split === split && !ids.includes(s.id)) ids.unshift(s.id);
      this.st.replaceFilter({ ids });
      this.el.dataset.similar = String(ids.length);
    } catch (e) {
      alert(`find similar: ${(e as Error).message}`);
    }
  }
}
