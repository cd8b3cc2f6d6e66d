// The sample panel: text, probability bars, DEP, drift, on-boundary, nearest neighbours
// across training and production, and "find similar" (adds them to the filters: similar.ts).
import { api, type Neighbor, type Sample, type Span, type SpanNeighbor } from './api';
import { ERROR_TITLES, entityTypes, nliPair, spanLegend, spanText, typeColor } from './ner';
import { PALETTE, append, clear, fmt, h, highlight, pct, splitLabel } from './dom';
import { similarControl } from './similar';
import type { RunState } from './state';
import { decorateStats } from './verdict';

export class SamplePanel {
  el: HTMLElement;
  private body: HTMLElement;
  private seq = 0;
  private spanSeq = 0;
  /** NER: the box of the picked span's similar spans, and the splits searched. */
  private similarBox: HTMLElement | null = null;
  private spanIn: string[] | null = null;

  constructor(private st: RunState) {
    this.body = h('div', { class: 'panel-body' });
    this.el = h('aside', { class: 'sample-panel', 'data-testid': 'sample-panel', hidden: true },
      h('div', { class: 'card-head' }, h('h2', null, 'Sample'),
        h('button', { class: 'btn btn-ghost btn-sm', 'data-testid': 'sample-close', onclick: () => st.closeSample() }, '✕')),
      this.body);
    st.on('open', () => void this.load());
    st.on('span', () => { this.markSpan(); void this.loadSimilarSpans(); });
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
      this.st.isNli ? h('div', { class: 'sample-text', 'data-testid': 'sample-text' }, nliPair(s, this.st.filter, true))
        : this.st.isNer && (s.gold_spans || s.pred_spans)
          ? [h('p', { class: 'sample-text ner-text', 'data-testid': 'sample-text' }, ...spanText(s.text, s.gold_spans, s.pred_spans, entityTypes(this.st.info.labels), this.st.filter.text)),
            spanLegend(entityTypes(this.st.info.labels))]
          : h('p', { class: 'sample-text', 'data-testid': 'sample-text' }, ...highlight(s.text, this.st.filter.text) as any),
      h('div', { class: 'kvs' },
        kv('predicted', h('b', null, s.pred), 'sample-pred'),
        kv('gold', s.gold ?? '–', 'sample-gold'),
        kv('confidence', fmt(s.confidence), 'sample-confidence'),
        kv('margin', fmt(s.margin), 'sample-margin'),
        kv('DEP', fmt(s.dep), 'sample-dep'),
        kv('drift score', fmt(s.drift_score), 'sample-drift'),
        kv(s.split.startsWith('inference:') ? 'drifted' : 'out of coverage', s.is_drifted === null ? '–' : s.is_drifted ? h('span', { class: 'badge badge-warn' }, 'yes') : 'no', 'sample-drifted'),
        // The domain classifier's per-sample shift score (inference sets with a domain test).
        s.split.startsWith('inference:') ? kv('shift score', fmt(s.shift_score ?? null), 'sample-shift') : null,
        s.split.startsWith('inference:') ? kv('shifted', s.is_shifted === null || s.is_shifted === undefined ? '–' : s.is_shifted ? h('span', { class: 'badge badge-warn' }, 'yes') : 'no', 'sample-shifted') : null,
        kv('on the boundary', s.is_on_the_boundary ? h('span', { class: 'badge badge-warn' }, 'yes') : 'no', 'sample-boundary'),
        // NER sentences (contract 16 §2), from a server that sends them.
        s.span_errors !== undefined ? kv('span errors', s.span_errors === null ? '–' : String(s.span_errors), 'sample-span-errors') : null,
        s.min_span_confidence !== undefined ? kv('lowest span conf.', fmt(s.min_span_confidence), 'sample-min-span-confidence') : null,
      ),
      this.st.isNer ? this.nerSection(s) : null,
      h('h3', null, 'Probabilities'),
      h('div', { class: 'probs', 'data-testid': 'sample-probs' }, ...labels.map((l, i) => {
        const p = probs[l] ?? (l === s.pred ? s.confidence : 0);
        return h('div', { class: 'prob', 'data-label': l }, h('span', { class: 'prob-label' }, l),
          h('span', { class: 'prob-track' }, h('span', { class: 'prob-fill', style: { width: `${(p * 100).toFixed(1)}%`, background: PALETTE[i % PALETTE.length] } })),
          h('span', { class: 'prob-value num' }, pct(p)));
      })),
      metaEntries.length ? h('h3', null, 'Metadata') : null,
      metaEntries.length ? h('div', { class: 'kvs' }, ...metaEntries.map(([k, v]) => kv(k, String(v), `sample-meta-${k}`))) : null,
      // Find similar: adds this sample's K nearest (in the split picked) to the filters.
      similarControl(this.st, s),
      h('h3', null, 'Nearest neighbours'),
      neighbors,
    ]);
    // Help for DEP, margin, drift score, out of coverage… (issue 16: help.ts).
    decorateStats(this.body, '.kv .k');
    this.el.dataset.ready = '1';
    // The similar spans box is in the page now (it searches only while shown).
    if (this.st.isNer) { this.markSpan(); void this.loadSimilarSpans(); }
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

  /** NER: the sample's span rows (label, error type, confidence, DEP, drift) and similar spans. */
  private nerSection(s: Sample): HTMLElement {
    const types = entityTypes(this.st.info.labels);
    const list = h('div', { class: 'span-list', 'data-testid': 'sample-spans' }, h('div', { class: 'muted small' }, 'loading spans…'));
    const box = h('div', { class: 'neighbors', 'data-testid': 'similar-spans' });
    this.similarBox = box;
    const splits = this.st.info.splits.map((x) => x.split);
    // Similar spans are searched in training and the inference sets unless chosen otherwise.
    this.spanIn ??= splits.filter((x) => x === 'training' || x.startsWith('inference:'));
    const chooser = h('div', { class: 'split-checks small', 'data-testid': 'similar-spans-in' }, ...splits.map((x) =>
      h('label', { class: 'inline' }, h('input', { type: 'checkbox', value: x, checked: this.spanIn!.includes(x),
        onchange: (e: Event) => {
          const on = (e.target as HTMLInputElement).checked;
          this.spanIn = on ? [...new Set([...this.spanIn!, x])] : this.spanIn!.filter((y) => y !== x);
          void this.loadSimilarSpans();
        } }), splitLabel(x))));
    const seq = this.seq;
    void api.spans(this.st.project, this.st.run, s.split, { sample_id: s.id }, { offset: 0, limit: 500, sort: 'span_row', order: 'asc' })
      .then((r) => {
        if (seq !== this.seq) return;
        clear(list);
        if (!r.spans.length) list.append(h('div', { class: 'muted small' }, 'No span in this sample.'));
        for (const sp of r.spans) list.append(this.spanRow(sp, s.split, types));
        list.dataset.ready = '1';
        this.markSpan();
      })
      .catch((e) => { if (seq === this.seq) { clear(list); list.append(h('div', { class: 'error' }, `spans: ${(e as Error).message}`)); } });
    return h('div', { class: 'ner-section' },
      h('h3', null, 'Span rows'), list,
      h('h3', null, 'Similar spans'), chooser, box);
  }

  private spanRow(sp: Span, split: string, types: string[]): HTMLElement {
    const tag = (t: string | null) => t === null ? h('span', { class: 'muted' }, '–') : h('span', { class: 'type-tag', style: { borderColor: typeColor(types, t) } }, t);
    return h('div', { class: 'span-item', 'data-testid': 'sample-span', 'data-span-row': String(sp.span_row), 'data-error': sp.error_type ?? '',
      title: 'Show its similar spans', onclick: () => this.st.openSpan(split, sp.sample_id, sp.span_row) },
    h('span', { class: 'span-item-text' }, sp.span_text),
    h('span', { class: 'small' }, 'gold ', tag(sp.gold), ' pred ', tag(sp.pred)),
    sp.error_type ? h('span', { class: `err-badge err-${sp.error_type}` }, ERROR_TITLES[sp.error_type] ?? sp.error_type) : null,
    h('span', { class: 'small muted' }, `conf ${fmt(sp.confidence, 2)} · DEP ${fmt(sp.dep, 2)} · drift ${fmt(sp.drift_score, 2)}`),
    sp.is_drifted ? h('span', { class: 'badge badge-warn' }, 'drifted') : null);
  }

  /** Rings the picked span in the text and in the span list. */
  private markSpan(): void {
    const row = this.st.span && this.st.open && this.st.span.split === this.st.open.split ? String(this.st.span.span_row) : null;
    this.el.querySelectorAll<HTMLElement>('[data-span-row]').forEach((e) => e.classList.toggle('picked', e.dataset.spanRow === row));
  }

  private async loadSimilarSpans(): Promise<void> {
    const box = this.similarBox;
    if (!box || !box.isConnected) return;
    const seq = ++this.spanSeq;
    delete box.dataset.ready;
    clear(box);
    const sp = this.st.span;
    if (!sp) { box.append(h('div', { class: 'muted small' }, 'Pick a span above to see its nearest spans.')); return; }
    if (!this.spanIn?.length) { box.append(h('div', { class: 'muted small' }, 'Choose at least one split.')); return; }
    box.append(h('div', { class: 'muted small' }, 'searching…'));
    try {
      const r = await api.spansSimilar(this.st.project, this.st.run, sp.split, sp.span_row, 10, this.spanIn);
      if (seq !== this.spanSeq) return;
      clear(box);
      box.append(h('div', { class: 'small muted' }, `${r.neighbors.length} nearest spans · ${r.took_ms.toFixed(1)} ms`));
      for (const n of r.neighbors) box.append(this.similarSpanRow(n));
      box.dataset.ready = '1';
    } catch (e) {
      if (seq !== this.spanSeq) return;
      clear(box); box.append(h('div', { class: 'error' }, `similar spans: ${(e as Error).message}`));
    }
  }

  private similarSpanRow(n: SpanNeighbor): HTMLElement {
    return h('div', { class: 'neighbor', 'data-testid': 'similar-span', 'data-split': n.split, 'data-span-row': String(n.span_row),
      onclick: () => this.st.openSpan(n.split, n.sample_id, n.span_row) },
    h('div', { class: 'neighbor-head' },
      h('span', { class: `split-tag ${n.split === 'training' ? 'tag-train' : n.split.startsWith('inference:') ? 'tag-prod' : ''}` }, splitLabel(n.split)),
      h('b', null, n.span_text),
      h('span', { class: 'small muted' }, `d=${fmt(n.distance, 3)}`),
      h('span', { class: 'small' }, `${n.pred ?? '–'}${n.gold !== null ? ` / gold ${n.gold}` : ''} ${fmt(n.confidence, 2)}`),
      n.error_type && n.error_type !== 'none' ? h('span', { class: `err-badge err-${n.error_type}` }, ERROR_TITLES[n.error_type] ?? n.error_type) : null,
      n.is_drifted ? h('span', { class: 'badge badge-warn' }, 'drifted') : null),
    h('div', { class: 'neighbor-text mono small' }, n.sample_id));
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
    // NLI: the stored `premise [SEP] hypothesis`, the separator shown as a mark.
    h('div', { class: 'neighbor-text' }, this.st.isNli ? n.text.replace(' [SEP] ', ' ⟶ ') : n.text));
  }
}
