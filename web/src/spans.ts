// The span view of NER runs: a filter card (span label, error type, drifted, on boundary,
// confidence range, span text regex) and the virtualised span table over GET .../spans.
// A click on a row opens its sample in the panel, where its similar spans are listed.
import { api, type Span, type SpanFilter } from './api';
import { append, clear, debounce, fmt, h } from './dom';
import { ERROR_TITLES, ERROR_TYPES, entityTypes, typeColor } from './ner';
import { PagedRows } from './pages';
import type { RunState } from './state';

const ROW_H = 30;

interface Col { key: string; title: string; width: string; sort?: string; cls?: string; cell: (s: Span, types: string[]) => Node | string }

const tag = (t: string | null, types: string[]) => t === null ? h('span', { class: 'muted' }, '–')
  : h('span', { class: 'type-tag', style: { borderColor: typeColor(types, t) } }, t);

const COLS: Col[] = [
  { key: 'sample_id', title: 'sample', width: '116px', cell: (s) => h('span', { class: 'mono' }, s.sample_id) },
  { key: 'span_text', title: 'span', width: 'minmax(140px, 1fr)', sort: 'span_text', cell: (s) => h('span', { title: s.span_text }, s.span_text) },
  { key: 'gold', title: 'gold', width: '70px', sort: 'gold', cell: (s, t) => tag(s.gold, t) },
  { key: 'pred', title: 'pred', width: '70px', sort: 'pred', cell: (s, t) => tag(s.pred, t) },
  { key: 'error_type', title: 'error', width: '104px', sort: 'error_type',
    cell: (s) => s.error_type === null ? h('span', { class: 'muted' }, '–') : h('span', { class: `err-badge err-${s.error_type}` }, ERROR_TITLES[s.error_type] ?? s.error_type) },
  { key: 'confidence', title: 'conf.', width: '58px', sort: 'confidence', cls: 'num', cell: (s) => fmt(s.confidence) },
  { key: 'dep', title: 'DEP', width: '52px', sort: 'dep', cls: 'num', cell: (s) => fmt(s.dep) },
  { key: 'drift_score', title: 'drift', width: '52px', sort: 'drift_score', cls: 'num', cell: (s) => fmt(s.drift_score, 2) },
  { key: 'is_drifted', title: 'drifted', width: '70px', cell: (s) => s.is_drifted === null ? '–' : s.is_drifted ? h('span', { class: 'badge badge-warn' }, 'drifted') : h('span', { class: 'muted' }, 'no') },
  { key: 'is_on_the_boundary', title: 'boundary', width: '80px', cell: (s) => s.is_on_the_boundary ? h('span', { class: 'badge badge-warn' }, 'boundary') : h('span', { class: 'muted' }, 'no') },
];

type Tri = 'any' | 'true' | 'false';

export class SpanFilters {
  el: HTMLElement;
  private body: HTMLElement;

  constructor(private st: RunState) {
    this.body = h('div', { class: 'filters-body' });
    this.el = h('section', { class: 'card filters', 'data-testid': 'span-filters' },
      h('div', { class: 'card-head' }, h('h2', null, 'Span filters'),
        h('button', { class: 'btn btn-ghost btn-sm', 'data-testid': 'span-filter-reset', onclick: () => { st.spanFilter = {}; st.emit('spanfilter'); this.render(); } }, 'Reset')),
      this.body);
    st.on('split', () => this.render());
    // Back/forward restored the span filter (url_state.ts): the inputs follow.
    st.on('spanfilterui', () => this.render());
    this.render();
  }

  private render(): void {
    clear(this.body);
    const st = this.st, f = st.spanFilter;
    const types = entityTypes(st.info.labels);
    const set = (patch: Partial<SpanFilter>) => st.setSpanFilter(patch);
    const select = (title: string, testid: string, value: string, opts: [string, string][], on: (v: string) => void) =>
      h('div', { class: 'field field-row' }, h('label', null, title),
        h('select', { 'data-testid': testid, 'aria-label': title, onchange: (e: Event) => on((e.target as HTMLSelectElement).value) },
          ...opts.map(([v, t]) => h('option', { value: v, selected: v === value }, t))));
    const tri = (v: boolean | undefined): Tri => v === undefined ? 'any' : v ? 'true' : 'false';
    const untri = (v: string) => v === 'any' ? undefined : v === 'true';
    const triOpts: [string, string][] = [['any', 'any'], ['true', 'yes'], ['false', 'no']];
    const num = (v: string) => v.trim() === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
    const updRange = debounce(() => set({ min_confidence: num(lo.value), max_confidence: num(hi.value) }), 300);
    const lo = h('input', { type: 'number', step: '0.05', min: '0', max: '1', placeholder: 'min', 'data-testid': 'span-filter-confidence-min', value: f.min_confidence ?? '', oninput: updRange });
    const hi = h('input', { type: 'number', step: '0.05', min: '0', max: '1', placeholder: 'max', 'data-testid': 'span-filter-confidence-max', value: f.max_confidence ?? '', oninput: updRange });
    const setText = debounce((v: string) => set({ text: v || undefined }), 300);
    append(this.body, [
      h('div', { class: 'field' }, h('label', null, 'Span text (regex)'),
        h('input', { type: 'search', placeholder: 'e.g. ^New', 'data-testid': 'span-filter-text', value: f.text ?? '',
          oninput: (e: Event) => setText((e.target as HTMLInputElement).value) })),
      // `label` matches gold or predicted type.
      select('Span label', 'span-filter-label', f.label ?? '', [['', 'any'], ...types.map((t) => [t, t] as [string, string])], (v) => set({ label: v || undefined })),
      st.labeled ? select('Error type', 'span-filter-error', f.error_type ?? '', [['', 'any'], ...ERROR_TYPES.map((e) => [e, ERROR_TITLES[e]] as [string, string])],
        (v) => set({ error_type: v || undefined })) : null,
      st.split === 'training' ? null : select(st.labeled ? 'Out of coverage' : 'Drifted', 'span-filter-drifted', tri(f.drifted), triOpts, (v) => set({ drifted: untri(v) })),
      select('On the boundary', 'span-filter-boundary', tri(f.on_boundary), triOpts, (v) => set({ on_boundary: untri(v) })),
      h('div', { class: 'field' }, h('label', null, 'Confidence'), h('div', { class: 'range' }, lo, h('span', null, '–'), hi)),
      h('div', { class: 'muted small' }, 'A click on a span opens its sample and its similar spans.'),
    ]);
  }
}

export class SpanTable {
  el: HTMLElement;
  private head: HTMLElement;
  private body: HTMLElement;
  private spacer: HTMLElement;
  private rows: HTMLElement;
  private status: HTMLElement;
  private data: PagedRows<Span>;
  private template = COLS.map((c) => c.width).join(' ');
  private types: string[];
  private stale = true;

  constructor(private st: RunState) {
    this.types = entityTypes(st.info.labels);
    this.head = h('div', { class: 'thead', style: { gridTemplateColumns: this.template } });
    this.spacer = h('div', { class: 'tspacer' });
    this.rows = h('div', { class: 'trows', role: 'rowgroup', onkeydown: (e: KeyboardEvent) => this.onRowKey(e) });
    this.body = h('div', { class: 'tbody', 'data-testid': 'span-table-body', onscroll: () => this.render() }, this.spacer, this.rows);
    this.status = h('div', { class: 'tstatus', 'data-testid': 'span-table-status' });
    this.el = h('section', { class: 'card table-card', 'data-testid': 'span-table' },
      h('div', { class: 'card-head' }, h('h2', null, 'Spans'), this.status),
      h('div', { class: 'table', role: 'grid', 'aria-label': 'Spans' }, h('div', { class: 'table-inner' }, this.head, this.body)));
    this.data = new PagedRows<Span>({
      fetch: async (offset, limit) => {
        const r = await api.spans(st.project, st.run, st.split, st.spanFilter,
          { offset, limit, sort: st.spanSort, order: st.spanOrder });
        return { total: r.total, rows: r.spans };
      },
      noun: 'span', el: this.el, status: this.status, loaded: () => this.render(),
    });
    this.renderHead();
    // Loaded when shown: a hidden span view costs no request.
    const reload = () => { this.stale = true; if (st.view === 'spans') this.reload(); };
    st.on('spanfilter', reload);
    st.on('spansort', () => { this.renderHead(); reload(); });
    st.on('view', () => { if (st.view === 'spans' && this.stale) this.reload(); });
    st.on('span', () => this.render());
    st.on('open', () => this.render());
    new ResizeObserver(() => this.render()).observe(this.body);
  }

  private renderHead(): void {
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.testid;
    clear(this.head);
    this.head.setAttribute('role', 'row');
    for (const c of COLS) {
      const active = this.st.spanSort === c.sort;
      const sort = () => { if (c.sort) this.st.setSpanSort(c.sort); };
      // Keyboard and ARIA (issue 16, point 7): focusable headers, Enter/Space sort, aria-sort.
      this.head.appendChild(h('div', {
        class: `th ${c.sort ? 'sortable' : ''} ${active ? 'active' : ''} ${c.cls ?? ''}`, 'data-testid': `span-sort-${c.key}`,
        role: 'columnheader', tabindex: c.sort ? '0' : null,
        'aria-sort': active ? (this.st.spanOrder === 'asc' ? 'ascending' : 'descending') : c.sort ? 'none' : null,
        onclick: sort, onkeydown: (e: KeyboardEvent) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); } },
      }, c.title, active ? (this.st.spanOrder === 'asc' ? ' ▲' : ' ▼') : ''));
    }
    if (focused?.startsWith('span-sort-')) this.head.querySelector<HTMLElement>(`[data-testid=${focused}]`)?.focus();
  }

  /** Arrow keys move between span rows, Enter opens the span's sample. */
  private onRowKey(e: KeyboardEvent): void {
    const row = (e.target as HTMLElement).closest<HTMLElement>('[data-testid=span-row]');
    if (!row) return;
    if (e.key === 'Enter') { e.preventDefault(); row.click(); return; }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    e.stopPropagation();
    const next = (e.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling) as HTMLElement | null;
    if (next?.dataset.testid === 'span-row') { next.focus(); next.scrollIntoView({ block: 'nearest' }); }
  }

  reload(): void {
    this.stale = false;
    this.body.scrollTop = 0;
    void this.data.reset();
  }

  private render(): void {
    const total = this.data.total;
    this.spacer.style.height = `${Math.max(total * ROW_H, 1)}px`;
    const top = this.body.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_H) - 5);
    const last = Math.min(total, Math.ceil((top + this.body.clientHeight) / ROW_H) + 5);
    clear(this.rows);
    this.rows.style.transform = `translateY(${first * ROW_H}px)`;
    if (this.data.empty()) {
      this.rows.appendChild(h('div', { role: 'row' }, h('div', { role: 'gridcell', class: 'empty', 'data-testid': 'span-table-empty' }, 'No span matches these filters.')));
      return;
    }
    const picked = this.st.span;
    for (let i = first; i < last; i++) {
      const s = this.data.row(i);
      if (!s) { this.rows.appendChild(h('div', { class: 'tr placeholder', role: 'row', style: { gridTemplateColumns: this.template } }, h('div', { class: 'td muted', role: 'gridcell' }, '…'))); continue; }
      const on = picked?.split === this.st.split && picked.span_row === s.span_row;
      this.rows.appendChild(h('div', {
        class: `tr ${on ? 'open' : ''} ${i % 2 ? 'odd' : ''}`, 'data-testid': 'span-row', 'data-span-row': String(s.span_row),
        'data-sample-id': s.sample_id, 'data-error': s.error_type ?? '', style: { gridTemplateColumns: this.template },
        role: 'row', tabindex: '0', 'aria-selected': on ? 'true' : 'false',
        onclick: () => this.st.openSpan(this.st.split, s.sample_id, s.span_row),
      }, ...COLS.map((c) => {
        const td = h('div', { class: `td ${c.cls ?? ''}`, 'data-col': c.key, role: 'gridcell' }, c.cell(s, this.types));
        // Truncated cells show their whole value on hover (issue 16, point 6).
        if (!td.querySelector('[title]')) td.title = td.textContent ?? '';
        return td;
      })));
    }
  }
}
