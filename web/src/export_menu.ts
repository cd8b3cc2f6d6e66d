// The export menu of the sample table (issue 16, point 5): the filtered rows as the table
// shows them: in its order (sort, order), all of them or the top N, with its visible
// columns (GET .../export with sort/order/limit/columns, contract 16 §1), in each format.
// Disabled while the server refuses the filter (an invalid regex, field_errors.ts).
import { api, EXPORT_FORMATS, type ExportFormat } from './api';
import { clear, h } from './dom';
import { fieldError, onFieldError } from './field_errors';
import type { RunState } from './state';
import { visibleColumns } from './table';

export class ExportMenu {
  el: HTMLElement;
  private button: HTMLButtonElement;
  private pop: HTMLElement;
  private limitAll: HTMLInputElement;
  private limitTop: HTMLInputElement;
  private topN: HTMLInputElement;
  private links: HTMLElement;
  private info: HTMLElement;

  constructor(private st: RunState) {
    this.button = h('button', { type: 'button', class: 'btn btn-xs', 'data-testid': 'export-menu', 'aria-haspopup': 'true',
      'aria-expanded': 'false', 'aria-controls': 'export-pop', onclick: () => this.toggle() }, 'Export ▾');
    const rows = 'export-rows';
    this.limitAll = h('input', { type: 'radio', name: rows, value: 'all', checked: true, 'data-testid': 'export-all', onchange: () => this.update() });
    this.limitTop = h('input', { type: 'radio', name: rows, value: 'top', 'data-testid': 'export-top', onchange: () => this.update() });
    this.topN = h('input', { type: 'number', min: '1', step: '1', value: '100', class: 'export-n', 'data-testid': 'export-n', 'aria-label': 'Number of top rows',
      oninput: () => { this.limitTop.checked = true; this.update(); } });
    this.links = h('div', { class: 'export-links' });
    this.info = h('div', { class: 'export-info small muted', 'data-testid': 'export-info' });
    this.pop = h('div', { class: 'export-pop', id: 'export-pop', role: 'group', 'aria-label': 'Export the filtered samples', 'data-testid': 'export-pop', hidden: true,
      onkeydown: (e: KeyboardEvent) => { if (e.key === 'Escape') { e.stopPropagation(); this.toggle(false); this.button.focus(); } } },
    h('fieldset', { class: 'export-rows' }, h('legend', null, 'Rows'),
      h('label', { class: 'inline' }, this.limitAll, 'all filtered rows'),
      h('label', { class: 'inline' }, this.limitTop, 'the top'), this.topN),
    this.info, this.links);
    this.el = h('span', { class: 'exports export-menu', 'data-testid': 'exports' }, this.button, this.pop);
    document.addEventListener('click', (e) => { if (!this.el.contains(e.target as Node)) this.toggle(false); });
    for (const t of ['filter', 'split', 'sort', 'total'] as const) st.on(t, () => this.update());
    onFieldError(() => this.update());
    this.update();
  }

  private toggle(open = this.pop.hidden): void {
    this.pop.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) this.update();
  }

  /** The query the links carry: the table's order, the limit, the visible columns. */
  view(): { sort: string; order: 'asc' | 'desc'; limit: number | null; columns: string[] } {
    const n = Math.floor(Number(this.topN.value));
    return {
      sort: this.st.sort, order: this.st.order,
      limit: this.limitTop.checked && Number.isFinite(n) && n > 0 ? n : null,
      // `split` travels with the rows (an export may be joined with another split's).
      columns: ['id', 'split', ...visibleColumns(this.st).filter((c) => c !== 'id')],
    };
  }

  private update(): void {
    const st = this.st;
    const err = fieldError();
    // A download link is a GET, which carries no lasso: export a lasso through a selection.
    const lasso = !!st.filter.polygon || (st.filter.ids?.length ?? 0) > 200;
    const disabled = !!err || lasso;
    this.button.disabled = disabled;
    this.button.title = err ? `Export is off: ${err.field} is not a valid regular expression` : lasso ? 'to export this view, add it to a selection' : 'Export the filtered rows as the table shows them';
    this.el.querySelector('[data-testid=export-filtered-lasso]')?.remove();
    if (lasso) this.el.append(h('span', { class: 'muted small', 'data-testid': 'export-filtered-lasso' }, 'to export this view, add it to a selection'));
    if (disabled) this.toggle(false);
    const v = this.view();
    const order = st.sort === 'row' && st.order === 'asc' ? 'the stored order' : `sorted by ${st.sort} ${st.order === 'asc' ? '▲' : '▼'}`;
    this.info.textContent = `${v.limit ? `top ${v.limit.toLocaleString()} of ` : ''}${st.total.toLocaleString()} rows, ${order}; columns ${v.columns.join(', ')}`;
    clear(this.links);
    for (const f of EXPORT_FORMATS) this.links.append(this.link(f.format, f.label, disabled));
  }

  private link(fmt: ExportFormat, label: string, disabled: boolean): HTMLElement {
    const st = this.st;
    const a = h('a', { class: `btn btn-xs ${disabled ? 'disabled' : ''}`, 'data-testid': `export-filtered-${fmt}`, download: '', role: disabled ? 'link' : null },
      label);
    if (disabled) a.setAttribute('aria-disabled', 'true');
    else a.href = api.exportFilterUrl(st.project, st.run, st.split, st.filter, fmt, this.view());
    return a;
  }
}
