// The selection tray: named selections persisted in the run; add the filtered or checked
// rows, remove checked rows, delete, export as CSV/JSONL or for Label Studio / Argilla.
import { api, EXPORT_FORMATS, type SelectionInfo } from './api';
import { clear, h } from './dom';
import type { RunState } from './state';

export class SelectionTray {
  el: HTMLElement;
  private list: HTMLElement;
  private nameIn: HTMLInputElement;
  private msg: HTMLElement;
  private addFiltered: HTMLButtonElement;
  private addChecked: HTMLButtonElement;
  private removeChecked: HTMLButtonElement;
  private active: string | null = null;
  private items: SelectionInfo[] = [];

  constructor(private st: RunState) {
    this.nameIn = h('input', { type: 'text', placeholder: 'selection name', 'data-testid': 'selection-name',
      onkeydown: (e: KeyboardEvent) => { if (e.key === 'Enter') void this.create(); } });
    this.list = h('ul', { class: 'selections', 'data-testid': 'selection-list' });
    this.msg = h('div', { class: 'tray-msg small', 'data-testid': 'selection-msg' });
    this.addFiltered = h('button', { class: 'btn btn-sm', 'data-testid': 'selection-add-filtered', onclick: () => void this.add('filtered') }, 'Add filtered rows');
    this.addChecked = h('button', { class: 'btn btn-sm', 'data-testid': 'selection-add-checked', onclick: () => void this.add('checked') }, 'Add checked');
    this.removeChecked = h('button', { class: 'btn btn-sm btn-ghost', 'data-testid': 'selection-remove-checked', onclick: () => void this.remove() }, 'Remove checked');
    this.el = h('section', { class: 'card tray', 'data-testid': 'selection-tray' },
      h('div', { class: 'card-head' }, h('h2', null, 'Selections')),
      h('div', { class: 'tray-new' }, this.nameIn,
        h('button', { class: 'btn btn-sm btn-primary', 'data-testid': 'selection-create', onclick: () => void this.create() }, 'New')),
      this.list,
      h('div', { class: 'tray-actions' }, this.addFiltered, this.addChecked, this.removeChecked),
      this.msg);
    st.on('checked', () => this.updateButtons());
    st.on('total', () => this.updateButtons());
    st.on('view', () => this.updateButtons());
    void this.refresh();
  }

  private say(text: string, error = false): void {
    this.msg.textContent = text;
    this.msg.classList.toggle('error', error);
  }

  private updateButtons(): void {
    const n = this.st.checked.size;
    this.addChecked.textContent = `Add checked (${n})`;
    this.removeChecked.textContent = `Remove checked (${n})`;
    this.addFiltered.textContent = `Add filtered (${this.st.total.toLocaleString()})`;
    this.addChecked.disabled = !this.active || n === 0;
    this.removeChecked.disabled = !this.active || n === 0;
    // In the span view (NER) the filter is the span table's: its spans' samples are added.
    const spans = this.st.view === 'spans';
    this.addFiltered.textContent = spans ? 'Add samples of filtered spans' : 'Add filtered rows';
    this.addFiltered.disabled = !this.active || (!spans && this.st.total === 0);
    this.addChecked.hidden = spans;  // the checked rows are the sample table's
    this.removeChecked.hidden = spans;
  }

  async refresh(): Promise<void> {
    try {
      this.items = (await api.selections(this.st.project, this.st.run)).selections;
    } catch (e) { this.say(`selections: ${(e as Error).message}`, true); return; }
    if (this.active && !this.items.some((s) => s.name === this.active)) this.active = null;
    if (!this.active && this.items.length) this.active = this.items[0].name;
    clear(this.list);
    if (!this.items.length) this.list.append(h('li', { class: 'muted small' }, 'No selection yet: name one above.'));
    for (const s of this.items) {
      const on = s.name === this.active;
      this.list.append(h('li', { class: `selection ${on ? 'on' : ''}`, 'data-testid': 'selection-item', 'data-name': s.name,
        onclick: () => { this.active = s.name; void this.refresh(); } },
      h('div', { class: 'sel-top' },
        h('input', { type: 'radio', name: 'active-selection', checked: on, title: 'Active selection' }),
        h('span', { class: 'sel-name', title: s.name }, s.name),
        h('span', { class: 'sel-count', 'data-testid': 'selection-count' }, String(s.count))),
      h('div', { class: 'sel-actions' },
        h('button', { class: 'btn btn-xs', title: 'Show its samples of this split in the table', 'data-testid': 'selection-show',
          onclick: (e: Event) => { e.stopPropagation(); void this.show(s.name); } }, 'Show'),
        // Tables and the labeling tools' files (Label Studio tasks, Argilla records).
        ...EXPORT_FORMATS.map(({ format, label, ext }) => h('a', { class: 'btn btn-xs',
          href: api.exportSelectionUrl(this.st.project, this.st.run, s.name, format), download: `${s.name}.${ext}`,
          title: `Export as ${label}`, 'data-testid': `selection-export-${format}`,
          onclick: (e: Event) => e.stopPropagation() }, `↓ ${label}`)),
        h('button', { class: 'btn btn-xs btn-ghost sel-delete', title: 'Delete this selection', 'data-testid': 'selection-delete',
          onclick: (e: Event) => { e.stopPropagation(); void this.del(s.name); } }, 'Delete'))));
    }
    this.updateButtons();
    this.st.emit('selections');
  }

  private async create(): Promise<void> {
    const name = this.nameIn.value.trim();
    if (!name) { this.say('Name the selection first.', true); return; }
    try {
      await api.createSelection(this.st.project, this.st.run, name);
      this.active = name; this.nameIn.value = '';
      this.say(`Created “${name}”.`);
    } catch (e) { this.say((e as Error).message, true); }
    await this.refresh();
  }

  private async add(what: 'filtered' | 'checked'): Promise<void> {
    if (!this.active) return;
    try {
      const r = what === 'filtered'
        ? this.st.view === 'spans'
          ? await api.addSpanFilter(this.st.project, this.st.run, this.active, this.st.split, this.st.spanFilter)
          : await api.addFilter(this.st.project, this.st.run, this.active, this.st.split, this.st.filter)
        : await api.addItems(this.st.project, this.st.run, this.active, [...this.st.checked].map((id) => ({ split: this.st.split, id })));
      this.say(`“${this.active}” now holds ${r.count} sample${r.count === 1 ? '' : 's'}.`);
    } catch (e) { this.say((e as Error).message, true); }
    await this.refresh();
  }

  private async remove(): Promise<void> {
    if (!this.active) return;
    try {
      const r = await api.removeItems(this.st.project, this.st.run, this.active, [...this.st.checked].map((id) => ({ split: this.st.split, id })));
      this.say(`“${this.active}” now holds ${r.count}.`);
    } catch (e) { this.say((e as Error).message, true); }
    await this.refresh();
  }

  /** Filters the table to the selection's samples of the current split. */
  private async show(name: string): Promise<void> {
    try {
      const sel = await api.selection(this.st.project, this.st.run, name);
      const ids = sel.items.filter((i) => i.split === this.st.split).map((i) => i.id);
      const others = sel.items.length - ids.length;
      if (!ids.length) { this.say(`“${name}” holds no sample of this split.`, true); return; }
      this.st.replaceFilter({ ids });
      this.say(`Showing ${ids.length} of “${name}”${others ? ` (${others} in other splits)` : ''}.`);
    } catch (e) { this.say((e as Error).message, true); }
  }

  private async del(name: string): Promise<void> {
    if (!confirm(`Delete the selection “${name}”?`)) return;
    try { await api.deleteSelection(this.st.project, this.st.run, name); this.say(`Deleted “${name}”.`); } catch (e) { this.say((e as Error).message, true); }
    await this.refresh();
  }
}
