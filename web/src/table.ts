// The sample table: server-side paging, only the visible rows are in the DOM.
import { api, type Sample } from './api';
import { clear, fmt, h, highlight } from './dom';
import { entityTypes, nliPair, spanText } from './ner';
import { PagedRows } from './pages';
import type { RunState } from './state';
import { openedFromKeyboard } from './a11y';
import { HELP, helpButton } from './help';
import { clearFieldError, isFilterError } from './field_errors';
import { driftThreshold, driftTitle, loadThreshold, scoreVsThreshold } from './verdict';

const ROW_H = 30;
// NLI rows hold two stacked fields (premise over hypothesis).
const ROW_H_NLI = 46;
// Browsers cap an element's height (~33M px in Chromium); beyond it rows are scaled.
const MAX_PX = 15_000_000;

/**
 * A column: `width` is its default (a CSS variable, narrower under 1,280 px: style.css),
 * `when` hides it where it has no value (shift outside inference sets, gold on them),
 * `help` a help button in its header (help.ts).
 */
interface Col {
  key: string; title: string; width: string; sort?: string; cell: (s: Sample, st: RunState) => Node | string; cls?: string;
  help?: string; when?: (st: RunState) => boolean;
}
const w = (key: string, px: number) => `var(--col-${key}, ${px}px)`;
const isInference = (st: RunState) => st.split.startsWith('inference:');

function flag(v: boolean | null, yes: string, testid?: string): Node | string {
  if (v === null || v === undefined) return '–';
  return v ? h('span', { class: 'badge badge-warn', 'data-testid': testid }, yes) : h('span', { class: 'muted' }, 'no');
}

const COLS: Col[] = [
  // "Find similar" on a server with the similar filter: the distance to the query sample.
  { key: 'distance', title: 'distance', width: w('distance', 70), sort: 'distance', cls: 'num', cell: (s) => fmt(s.distance ?? null),
    when: (st) => st.similarMode === 'server' },
  { key: 'id', title: 'id', width: w('id', 100), sort: 'id', cell: (s) => h('span', { class: 'mono' }, s.id) },
  { key: 'text', title: 'text', width: 'minmax(var(--col-text, 160px), 1fr)', sort: 'text', cls: 'cell-text',
    cell: (s, st) => st.isNli ? nliPair(s, st.filter, false)
      : st.isNer && (s.gold_spans || s.pred_spans) ? h('span', { title: s.text, class: 'ner-text' }, ...spanText(s.text, s.gold_spans, s.pred_spans, entityTypes(st.info.labels), st.filter.text))
        : h('span', { title: s.text }, ...highlight(s.text, st.filter.text) as any) },
  // Inference sets have no gold label.
  { key: 'gold', title: 'gold', width: w('gold', 80), sort: 'gold', cell: (s) => s.gold ?? '–', when: (st) => !isInference(st) },
  { key: 'pred', title: 'pred', width: w('pred', 80), sort: 'pred',
    cell: (s) => h('span', { class: s.is_correct === false ? 'wrong' : '' }, s.pred) },
  // NER sentences (contract 16 §2, a server that sends them): span errors, lowest span confidence.
  { key: 'span_errors', title: 'span err.', width: w('span_errors', 80), sort: 'span_errors', cls: 'num', help: 'span_errors',
    cell: (s) => s.span_errors === null || s.span_errors === undefined ? '–' : String(s.span_errors), when: (st) => st.isNer && !!st.info.entity_types },
  { key: 'min_span_confidence', title: 'min span conf.', width: w('min_span_confidence', 76), sort: 'min_span_confidence', cls: 'num',
    cell: (s) => fmt(s.min_span_confidence ?? null), when: (st) => st.isNer && !!st.info.entity_types },
  { key: 'confidence', title: 'conf.', width: w('confidence', 74), sort: 'confidence', cls: 'num', cell: (s) => fmt(s.confidence), help: 'confidence' },
  { key: 'margin', title: 'margin', width: w('margin', 74), sort: 'margin', cls: 'num', cell: (s) => fmt(s.margin), help: 'margin' },
  { key: 'dep', title: 'DEP', width: w('dep', 64), sort: 'dep', cls: 'num', cell: (s) => fmt(s.dep), help: 'dep' },
  // Enough digits to differ from the threshold: a score never reads 0.95 = 0.95 and "no".
  { key: 'drift_score', title: 'drift', width: w('drift_score', 64), sort: 'drift_score', cls: 'num', help: 'drift_score',
    cell: (s, st) => h('span', { title: driftTitle(s.drift_score, s.is_drifted, driftThreshold(st)) }, scoreVsThreshold(s.drift_score, driftThreshold(st))) },
  { key: 'is_drifted', title: 'drifted', width: w('is_drifted', 74), sort: 'is_drifted',
    cell: (s, st) => h('span', { title: driftTitle(s.drift_score, s.is_drifted, driftThreshold(st)) }, flag(s.is_drifted, 'drifted')) },
  { key: 'shift_score', title: 'shift', width: w('shift_score', 64), sort: 'shift_score', cls: 'num', cell: (s) => fmt(s.shift_score ?? null, 2),
    help: 'shift_score', when: isInference },
  { key: 'is_shifted', title: 'shifted', width: w('is_shifted', 74), sort: 'is_shifted', cell: (s) => flag(s.is_shifted ?? null, 'shifted'), when: isInference },
  { key: 'is_on_the_boundary', title: 'boundary', width: w('is_on_the_boundary', 100), sort: 'is_on_the_boundary',
    cell: (s) => flag(s.is_on_the_boundary, 'boundary'), help: 'on_the_boundary' },
];

/** The columns the table shows for the run's task and the split (the export sends them). */
export function visibleColumns(st: RunState): string[] {
  return COLS.filter((c) => !c.when || c.when(st)).map((c) => c.key);
}

export class SampleTable {
  el: HTMLElement;
  private head: HTMLElement;
  private body: HTMLElement;
  private spacer: HTMLElement;
  private rows: HTMLElement;
  private status: HTMLElement;
  private grid: HTMLElement;
  private data: PagedRows<Sample>;
  private scale = 1;
  private checkAll: HTMLInputElement;
  private template = '';
  private rowH: number;
  private cols: Col[] = [];
  /** Widths the user dragged (px), by column key. */
  private widths = new Map<string, number>();
  /** The row that holds the grid's one tab stop (arrow keys move it). */
  private focusIdx = 0;
  /** The last page request failed (a bad regex, the server away): no "No sample matches". */
  private failed = false;

  constructor(private st: RunState) {
    this.rowH = st.isNli ? ROW_H_NLI : ROW_H;
    this.checkAll = h('input', { type: 'checkbox', 'data-testid': 'check-all', title: 'Check the loaded rows', 'aria-label': 'Check the loaded rows',
      onchange: () => this.toggleAll() });
    this.head = h('div', { class: 'thead', role: 'row', 'aria-rowindex': '1' });
    this.spacer = h('div', { class: 'tspacer' });
    this.rows = h('div', { class: 'trows', role: 'rowgroup', onkeydown: (e: KeyboardEvent) => this.onRowKey(e) });
    this.body = h('div', { class: 'tbody', 'data-testid': 'table-body', onscroll: () => this.render() },
      this.spacer, this.rows);
    this.status = h('div', { class: 'tstatus', 'data-testid': 'table-status', role: 'status' });
    this.grid = h('div', { class: 'table', role: 'grid', 'aria-label': 'Samples', 'data-testid': 'sample-grid' },
      h('div', { class: 'table-inner' }, this.head, this.body));
    this.el = h('section', { class: 'card table-card', 'data-testid': 'sample-table' },
      h('div', { class: 'card-head' }, h('h2', null, 'Samples'), this.status), this.grid);
    this.data = new PagedRows<Sample>({
      fetch: async (offset, limit) => {
        const r = await api.samples(st.project, st.run, st.split, st.filter, { offset, limit, sort: st.sort, order: st.order });
        return { total: r.total, rows: r.samples };
      },
      noun: 'sample', el: this.el, status: this.status,
      loaded: (page) => {
        this.failed = false;
        clearFieldError();
        if (st.total !== this.data.total || page === 0) {
          st.total = this.data.total;
          st.emit('total');
        }
        this.render();
      },
      failed: (e) => { this.failed = true; isFilterError(e); this.render(); },
    });
    this.setColumns();
    st.on('split', () => { this.setColumns(); });
    // The distance column comes and goes with a similar filter.
    st.on('filter', () => { this.setColumns(); this.reload(); });
    st.on('sort', () => { this.renderHead(); this.reload(); });
    st.on('checked', () => this.render());
    st.on('open', () => this.render());
    loadThreshold(st, () => { this.renderHead(); this.render(); });
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
      this.focusIdx = j;
      const y = j * this.rowH * this.scale;
      if (y < this.body.scrollTop || y > this.body.scrollTop + this.body.clientHeight - this.rowH) this.body.scrollTop = y - this.body.clientHeight / 2;
    });
    this.reload();
  }

  /** The columns of this split, and the grid template with the user's widths. */
  private setColumns(): void {
    this.cols = COLS.filter((c) => !c.when || c.when(this.st));
    this.grid.setAttribute('aria-colcount', String(this.cols.length + 1));
    this.template = `var(--col-check, 34px) ${this.cols.map((c) => (this.widths.has(c.key) ? `${this.widths.get(c.key)}px` : c.width)).join(' ')}`;
    this.head.style.gridTemplateColumns = this.template;
    this.renderHead();
    this.render();
  }

  private renderHead(): void {
    clear(this.head);
    this.head.appendChild(h('div', { class: 'th', role: 'columnheader', 'aria-colindex': '1' }, this.checkAll));
    this.cols.forEach((c, ci) => {
      const active = this.st.sort === c.sort;
      const sort = () => {
        if (!c.sort) return;
        if (this.head.contains(document.activeElement)) this.headFocus = c.key;
        this.st.setSort(c.sort);
      };
      const th = h('div', {
        class: `th sortable ${active ? 'active' : ''} ${c.cls ?? ''}`, 'data-testid': `sort-${c.key}`, 'data-col': c.key,
        role: 'columnheader', 'aria-colindex': String(ci + 2), tabindex: c.sort ? '0' : null,
        'aria-sort': active ? (this.st.order === 'asc' ? 'ascending' : 'descending') : c.sort ? 'none' : null,
        title: `${c.key === 'drift_score' && driftThreshold(this.st) !== null ? `Sort by drift score (drifted above the threshold ${scoreVsThreshold(driftThreshold(this.st), null, 3)})` : `Sort by ${c.title}`}${c.help ? `\n\n${HELP[c.help]?.text ?? ''}` : ''}`,
        onclick: sort,
        onkeydown: (e: KeyboardEvent) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); } },
      }, h('span', { class: 'th-label' }, c.title, active ? (this.st.order === 'asc' ? ' ▲' : ' ▼') : ''),
      c.help ? helpButton(c.help) : null,
      h('span', { class: 'col-resize', 'aria-hidden': 'true', title: 'Drag to resize', onpointerdown: (e: PointerEvent) => this.startResize(e, c) }));
      this.head.appendChild(th);
    });
    // Keep the keyboard focus on the header the user sorted with (it was re-rendered).
    const key = this.headFocus;
    if (key) { this.headFocus = null; this.head.querySelector<HTMLElement>(`[data-col="${key}"]`)?.focus(); }
  }

  private headFocus: string | null = null;

  /** Drags a column's right edge (pointer events; the header row and every row follow). */
  private startResize(e: PointerEvent, c: Col): void {
    e.preventDefault();
    e.stopPropagation();
    const th = (e.target as HTMLElement).parentElement!;
    const x0 = e.clientX, w0 = th.getBoundingClientRect().width;
    const move = (ev: PointerEvent) => {
      this.widths.set(c.key, Math.max(36, Math.round(w0 + ev.clientX - x0)));
      this.template = `var(--col-check, 34px) ${this.cols.map((k) => (this.widths.has(k.key) ? `${this.widths.get(k.key)}px` : k.width)).join(' ')}`;
      this.head.style.gridTemplateColumns = this.template;
      this.rows.querySelectorAll<HTMLElement>('.tr').forEach((r) => { r.style.gridTemplateColumns = this.template; });
    };
    const up = () => { window.removeEventListener('pointermove', move); window.removeEventListener('pointerup', up); };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
    // A click follows the drag on the header: swallow it (no sort).
    th.addEventListener('click', (ev) => ev.stopImmediatePropagation(), { capture: true, once: true });
  }

  reload(): void {
    this.checkAll.checked = false;
    this.body.scrollTop = 0;
    this.focusIdx = 0;
    this.failed = false;
    void this.data.reset().then(() => this.render());
  }

  private toggleAll(): void {
    if (this.checkAll.checked) for (const s of this.data.loaded()) this.st.checked.add(s.id);
    else this.st.checked.clear();
    this.st.emit('checked');
  }

  /** Arrow keys, Home/End, PageUp/PageDown move between rows; Enter opens; Space checks. */
  private onRowKey(e: KeyboardEvent): void {
    const row = (e.target as HTMLElement).closest<HTMLElement>('[data-testid=sample-row]');
    if (!row || (e.target as HTMLElement).tagName === 'INPUT') return;
    const i = Number(row.dataset.index);
    const page = Math.max(1, Math.floor(this.body.clientHeight / this.rowH) - 1);
    const to: Record<string, number> = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: this.data.total - 1, PageDown: i + page, PageUp: i - page };
    if (e.key in to) {
      e.preventDefault();
      e.stopPropagation();  // not also the window's "move the open sample" handler
      const j = Math.max(0, Math.min(this.data.total - 1, to[e.key]));
      this.focusRow(j, !!this.st.open);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      const s = this.data.row(i);
      if (s) { openedFromKeyboard(true); this.st.openSample(s.split || this.st.split, s.id); }
    } else if (e.key === ' ') {
      e.preventDefault();
      const s = this.data.row(i);
      if (!s) return;
      if (this.st.checked.has(s.id)) this.st.checked.delete(s.id); else this.st.checked.add(s.id);
      this.st.emit('checked');
    }
  }

  /** Moves the tab stop to row j, scrolled into view and focused (and opened, while one is). */
  private focusRow(j: number, open: boolean): void {
    this.focusIdx = j;
    const y = j * this.rowH * this.scale;
    if (y < this.body.scrollTop) this.body.scrollTop = y;
    else if (y + this.rowH > this.body.scrollTop + this.body.clientHeight) this.body.scrollTop = y + this.rowH - this.body.clientHeight;
    this.render(true);
    if (open) { const s = this.data.row(j); if (s) this.st.openSample(s.split || this.st.split, s.id); }
  }

  private render(takeFocus = false): void {
    const total = this.data.total;
    this.grid.setAttribute('aria-rowcount', String(total + 1));
    const hadFocus = takeFocus || this.rows.contains(document.activeElement);
    const full = total * this.rowH;
    this.scale = full > MAX_PX ? MAX_PX / full : 1;
    this.spacer.style.height = `${Math.max(full * this.scale, 1)}px`;
    const top = this.body.scrollTop / this.scale;
    const first = Math.max(0, Math.floor(top / this.rowH) - 5);
    const last = Math.min(total, Math.ceil((top + this.body.clientHeight) / this.rowH) + 5);
    clear(this.rows);
    this.rows.style.transform = `translateY(${this.body.scrollTop - (top - first * this.rowH)}px)`;
    if (this.failed) {
      // The status line says why (a bad regex is also marked on its field): no "no match".
      this.rows.style.transform = '';
      this.rows.appendChild(h('div', { role: 'row' }, h('div', { role: 'gridcell', class: 'empty', 'data-testid': 'table-failed' }, 'The samples could not be loaded (see above).')));
      return;
    }
    if (this.data.empty()) {
      this.rows.style.transform = '';
      this.rows.appendChild(h('div', { role: 'row' }, h('div', { role: 'gridcell', class: 'empty', 'data-testid': 'table-empty' }, 'No sample matches these filters.')));
      return;
    }
    // The tab stop: the focused row when it is rendered, else the first rendered one.
    const stop = this.focusIdx >= first && this.focusIdx < last ? this.focusIdx : first;
    let focusEl: HTMLElement | null = null;
    for (let i = first; i < last; i++) {
      const s = this.data.row(i);
      if (!s) {
        this.rows.appendChild(h('div', { class: 'tr placeholder', role: 'row', 'aria-rowindex': String(i + 2), style: { gridTemplateColumns: this.template, height: `${this.rowH}px` } },
          h('div', { class: 'td muted', role: 'gridcell' }, ''), h('div', { class: 'td muted', role: 'gridcell' }, '…')));
        continue;
      }
      const open = this.st.open?.id === s.id && this.st.open?.split === s.split;
      const row = h('div', {
        class: `tr ${open ? 'open' : ''} ${i % 2 ? 'odd' : ''}`, 'data-testid': 'sample-row', 'data-id': s.id, 'data-index': String(i),
        role: 'row', 'aria-rowindex': String(i + 2), 'aria-selected': open ? 'true' : 'false', tabindex: i === stop ? '0' : '-1',
        style: { gridTemplateColumns: this.template, height: `${this.rowH}px` },
        onfocus: () => { this.focusIdx = i; },
        onmouseenter: () => { this.st.hover = { split: s.split || this.st.split, id: s.id }; this.st.emit('hover'); },
        onmouseleave: () => { this.st.hover = null; this.st.emit('hover'); },
        onclick: (e: Event) => {
          if ((e.target as HTMLElement).tagName === 'INPUT') return;
          this.focusIdx = i;
          this.st.openSample(s.split || this.st.split, s.id);
        },
      },
      h('div', { class: 'td', role: 'gridcell' }, h('input', {
        type: 'checkbox', 'data-testid': 'row-check', 'aria-label': `Check ${s.id}`, checked: this.st.checked.has(s.id), tabindex: '-1',
        onchange: (e: Event) => {
          if ((e.target as HTMLInputElement).checked) this.st.checked.add(s.id); else this.st.checked.delete(s.id);
          this.st.emit('checked');
        },
      })),
      ...this.cols.map((c) => {
        const td = h('div', { class: `td ${c.cls ?? ''}`, 'data-col': c.key, role: 'gridcell' }, c.cell(s, this.st));
        // Truncated cells (ids, labels, DEP…) show their whole value on hover.
        if (!td.querySelector('[title]')) td.title = td.textContent ?? '';
        return td;
      }));
      if (i === stop) focusEl = row;
      this.rows.appendChild(row);
    }
    if (hadFocus && focusEl) focusEl.focus({ preventScroll: true });
  }
}
