// The run page's state: which run and split, the table's filter and sort, the open sample,
// the checked rows. Components subscribe and re-render what they show.
import type { Filter, RunInfo } from './api';

export type Topic = 'split' | 'filter' | 'sort' | 'open' | 'checked' | 'selections' | 'total' | 'filterui' | 'hover';

export class RunState {
  split: string;
  filter: Filter = {};
  sort = 'row';
  order: 'asc' | 'desc' = 'asc';
  open: { split: string; id: string } | null = null;
  checked = new Set<string>();
  /** The table row under the pointer (ringed on the map). */
  hover: { split: string; id: string } | null = null;
  total = 0;
  private subs = new Map<Topic, Set<() => void>>();

  constructor(public project: string, public run: string, public info: RunInfo, split: string) {
    this.split = split;
  }

  on(topic: Topic, fn: () => void): void {
    if (!this.subs.has(topic)) this.subs.set(topic, new Set());
    this.subs.get(topic)!.add(fn);
  }

  emit(topic: Topic): void { for (const fn of this.subs.get(topic) ?? []) fn(); }

  setSplit(split: string): void {
    if (split === this.split) return;
    this.split = split;
    this.checked.clear();
    // Ids and a lasso belong to one split's view; the other filters carry over.
    delete this.filter.ids;
    delete this.filter.polygon;
    // Filters the new split has no field for: drift on training, gold on inference sets.
    if (split === 'training') delete this.filter.drifted;
    if (split.startsWith('inference:')) { delete this.filter.gold; delete this.filter.misclassified; }
    const u = new URL(location.href);
    u.searchParams.set('split', split);
    history.replaceState(null, '', u);
    this.emit('split');
    this.emit('filter');
  }

  setFilter(patch: Partial<Filter>): void {
    this.filter = { ...this.filter, ...patch };
    for (const k of Object.keys(this.filter) as (keyof Filter)[]) if (this.filter[k] === undefined) delete this.filter[k];
    this.checked.clear();
    this.emit('filter');
  }

  resetFilter(): void { this.replaceFilter({}); }

  /** Replaces every filter (the filter panel's inputs follow). */
  replaceFilter(f: Filter): void {
    this.filter = { ...f };
    this.checked.clear();
    this.emit('filterui');
    this.emit('filter');
  }

  setSort(field: string): void {
    if (this.sort === field) this.order = this.order === 'asc' ? 'desc' : 'asc';
    else { this.sort = field; this.order = field === 'row' || field === 'id' || field === 'text' ? 'asc' : 'desc'; }
    this.emit('sort');
  }

  openSample(split: string, id: string): void { this.open = { split, id }; this.emit('open'); }
  closeSample(): void { this.open = null; this.emit('open'); }

  get labeled(): boolean { return this.split !== '' && !this.split.startsWith('inference:'); }
}
