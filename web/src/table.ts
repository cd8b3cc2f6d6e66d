// The sample table: server-side paging, only the visible rows are in the DOM.
import { api, type Sample } from './api';
import { clear, fmt, h, highlight } from './dom';
import { entityTypes, nliPair, spanText } from './ner';
import { PagedRows } from './pages';
import type { RunState } from './state';

const ROW_H = 30;
// NLI rows hold two stacked fields (premise over hypothesis).
const ROW_H_NLI = 46;
// Browsers cap an element's height (~33M px in Chromium); beyond it rows are scaled.
const MAX_PX = 15_000_000;

interface Col {
  key: string; title: string; width: string; sort?: string; cell: (s: Sample, st: RunState) => Node | string; cls?: string;
  /** Shown only when true (the distance column, while a similar filter is on). */
  when?: (st: RunState) => boolean;
}

function flag(v: boolean | null, yes: string, testid?: string): Node | string {
  if (v === null || v === undefined) return '–';
  return v ? h('span', { class: 'badge badge-warn', 'data-testid': testid }, yes) : h('span', { class: 'muted' }, 'no');
}

const COLS: Col[] = [
  // "Find similar" on a server with the similar filter: the distance to the query sample.
  { key: 'distance', title: 'distance', width: '70px', sort: 'distance', cls: 'num', cell: (s) => fmt(s.distance ?? null),
    when: (st) => st.similarMode === 'server' },
  { key: 'id', title: 'id', width: '100px', sort: 'id', cell: (s) => h('span', { class: 'mono' }, s.id) },
  { key: 'text', title: 'text', width: 'minmax(160px, 1fr)', sort: 'text', cls: 'cell-text',
    cell: (s, st) => st.isNli ? nliPair(s, st.filter, false)
      : st.isNer && (s.gold_spans || s.pred_spans) ? h('span', { title: s.text, class: 'ner-text' }, ...spanText(s.text, s.gold_spans, s.pred_spans, entityTypes(st.info.labels), st.filter.text))
        : h('span', { title: s.text }, ...highlight(s.text, st.filter.text) as any) },
  { key: 'gold', title: 'gold', width: '80px', sort: 'gold', cell: (s) => s.gold ?? '–' },
  { key: 'pred', title: 'pred', width: '80px', sort: 'pred',
    cell: (s) => h('span', { class: s.is_correct === false ? 'wrong' : '' }, s.pred) },
  { key: 'confidence', title: 'conf.', width: '58px', sort: 'confidence', cls: 'num', cell: (s) => fmt(s.confidence) },
  { key: 'margin', title: 'margin', width: '58px', sort: 'margin', cls: 'num', cell: (s) => fmt(s.margin) },
  { key: 'dep', title: 'DEP', width: '52px', sort: 'dep', cls: 'num', cell: (s) => fmt(s.dep) },
  { key: 'drift_score', title: 'drift', width: '52px', sort: 'drift_score', cls: 'num', cell: (s) => fmt(s.drift_score, 2) },
  { key: 'is_drifted', title: 'drifted', width: '74px', sort: 'is_drifted', cell: (s) => flag(s.is_drifted, 'drifted') },
  { key: 'shift_score', title: 'shift', width: '52px', sort: 'shift_score', cls: 'num', cell: (s) => fmt(s.shift_score ?? null, 2) },
  { key: 'is_shifted', title: 'shifted', width: '74px', sort: 'is_shifted', cell: (s) => flag(s.is_shifted ?? null, 'shifted') },
  { key: 'is_on_the_boundary', title: 'boundary', width: '90px', sort: 'is_on_the_boundary',
    cell: (s) => flag(s.is_on_the_boundary, 'boundary') },
];

export class SampleTable {
  el: HTMLElement;
  private head: HTMLElement;
  private body: HTMLElement;
  private spacer: HTMLElement;
  private rows: HTMLElement;
  private status: HTMLElement;
  private data: PagedRows<Sample>;
  private scale = 1;
  private checkAll: HTMLInputElement;
  private template: string;
  private rowH: number;

  constructor(private st: RunState) {
    this.rowH = st.isNli ? ROW_H_NLI : ROW_H;
    this.template = '';
    this.checkAll = h('input', { type: 'checkbox', 'data-testid': 'check-all', title: 'Check the loaded rows',
      onchange: () => this.toggleAll() });
    this.head = h('div', { class: 'thead', style: { gridTemplateColumns: this.template } });
    this.spacer = h('div', { class: 'tspacer' });
    this.rows = h('div', { class: 'trows' });
    this.body = h('div', { class: 'tbody', 'data-testid': 'table-body', onscroll: () => this.render() },
      this.spacer, this.rows);
    this.status = h('div', { class: 'tstatus', 'data-testid': 'table-status' });
    this.el = h('section', { class: 'card table-card', 'data-testid': 'sample-table' },
      h('div', { class: 'card-head' }, h('h2', null, 'Samples'), this.status),
      h('div', { class: 'table' }, h('div', { class: 'table-inner' }, this.head, this.body)));
    this.data = new PagedRows<Sample>({
      fetch: async (offset, limit) => {
        const r = await api.samples(st.project, st.run, st.split, st.filter, { offset, limit, sort: st.sort, order: st.order });
        return { total: r.total, rows: r.samples };
      },
      noun: 'sample', el: this.el, status: this.status,
      loaded: (page) => {
        if (st.total !== this.data.total || page === 0) {
          st.total = this.data.total;
          st.emit('total');
        }
        this.render();
      },
    });
    this.renderHead();
    st.on('filter', () => { this.renderHead(); this.reload(); });
    st.on('sort', () => { this.renderHead(); this.reload(); });
    st.on('checked', () => this.render());
    st.on('open', () => this.render());
    new ResizeObserver(() => this.render()).observe(this.body);
    // Up/down move the open sample through the table's rows.
    window.addEventListener('keydown', (e) => {
      // Not while the span view hides the table (NER).
      if (!this.st.open || !this.el.isConnected || this.el.hidden || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp')) return;
      const t = e.target as HTMLElement;
      if (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return;
      const { split, id } = this.st.open;
      const i = this.data.find((s) => s.id === id && (s.split || this.st.split) === split);
      if (i < 0) return;
      const j = i + (e.key === 'ArrowDown' ? 1 : -1);
      const next = j >= 0 ? this.data.row(j) : undefined;
      if (!next) return;
      e.preventDefault();
      this.st.openSample(next.split || this.st.split, next.id);
      const y = j * this.rowH * this.scale;
      if (y < this.body.scrollTop || y > this.body.scrollTop + this.body.clientHeight - this.rowH) this.body.scrollTop = y - this.body.clientHeight / 2;
    });
    this.reload();
  }

  private cols(): Col[] { return COLS.filter((c) => !c.when || c.when(this.st)); }

  private renderHead(): void {
    clear(this.head);
    this.template = `34px ${this.cols().map((c) => c.width).join(' ')}`;
    this.head.style.gridTemplateColumns = this.template;
    this.head.appendChild(h('div', { class: 'th' }, this.checkAll));
    for (const c of this.cols()) {
      const active = this.st.sort === c.sort;
      this.head.appendChild(h('div', {
        class: `th sortable ${active ? 'active' : ''} ${c.cls ?? ''}`, 'data-testid': `sort-${c.key}`,
        title: `Sort by ${c.title}`, onclick: () => c.sort && this.st.setSort(c.sort),
      }, c.title, active ? (this.st.order === 'asc' ? ' ▲' : ' ▼') : ''));
    }
  }

  reload(): void {
    this.checkAll.checked = false;
    this.body.scrollTop = 0;
    void this.data.reset().then(() => this.render());
  }

  private toggleAll(): void {
    if (this.checkAll.checked) for (const s of this.data.loaded()) this.st.checked.add(s.id);
    else this.st.checked.clear();
    this.st.emit('checked');
  }

  private render(): void {
    const total = this.data.total;
    const full = total * this.rowH;
    this.scale = full > MAX_PX ? MAX_PX / full : 1;
    this.spacer.style.height = `${Math.max(full * this.scale, 1)}px`;
    const top = this.body.scrollTop / this.scale;
    const first = Math.max(0, Math.floor(top / this.rowH) - 5);
    const last = Math.min(total, Math.ceil((top + this.body.clientHeight) / this.rowH) + 5);
    clear(this.rows);
    this.rows.style.transform = `translateY(${this.body.scrollTop - (top - first * this.rowH)}px)`;
    if (this.data.empty()) {
      this.rows.style.transform = '';
      this.rows.appendChild(h('div', { class: 'empty', 'data-testid': 'table-empty' }, 'No sample matches these filters.'));
      return;
    }
    for (let i = first; i < last; i++) {
      const s = this.data.row(i);
      if (!s) {
        this.rows.appendChild(h('div', { class: 'tr placeholder', style: { gridTemplateColumns: this.template, height: `${this.rowH}px` } },
          h('div', { class: 'td muted' }, ''), h('div', { class: 'td muted' }, '…')));
        continue;
      }
      const open = this.st.open?.id === s.id && this.st.open?.split === s.split;
      const row = h('div', {
        class: `tr ${open ? 'open' : ''} ${i % 2 ? 'odd' : ''}`, 'data-testid': 'sample-row', 'data-id': s.id,
        style: { gridTemplateColumns: this.template, height: `${this.rowH}px` },
        onmouseenter: () => { this.st.hover = { split: s.split || this.st.split, id: s.id }; this.st.emit('hover'); },
        onmouseleave: () => { this.st.hover = null; this.st.emit('hover'); },
        onclick: (e: Event) => {
          if ((e.target as HTMLElement).tagName === 'INPUT') return;
          this.st.openSample(s.split || this.st.split, s.id);
        },
      },
      h('div', { class: 'td' }, h('input', {
        type: 'checkbox', 'data-testid': 'row-check', 'aria-label': `Check ${s.id}`, checked: this.st.checked.has(s.id),
        onchange: (e: Event) => {
          if ((e.target as HTMLInputElement).checked) this.st.checked.add(s.id); else this.st.checked.delete(s.id);
          this.st.emit('checked');
        },
      })),
      ...this.cols().map((c) => h('div', { class: `td ${c.cls ?? ''}`, 'data-col': c.key }, c.cell(s, this.st))));
      this.rows.appendChild(row);
    }
  }
}
