// The run page's state: which run and split, the table's filter and sort, the open sample,
// the checked rows. Components subscribe and re-render what they show.
// The URL follows this state (url_state.ts: every user action is a history entry, and
// back/forward restore the view through `restore`).
import type { Filter, RunInfo, SimilarQuery, SpanFilter } from './api';

export type Topic = 'split' | 'filter' | 'sort' | 'open' | 'checked' | 'selections' | 'total' | 'filterui' | 'hover'
  | 'view' | 'spanfilter' | 'spansort' | 'span' | 'spanfilterui' | 'map' | 'similar';

/** The map's colour modes (the URL's `map=`; `drift` is the drift score). */
export type MapColor = 'pred' | 'gold' | 'confidence' | 'drift' | 'drifted' | 'shift' | 'split';
export const MAP_COLORS: MapColor[] = ['pred', 'gold', 'drift', 'drifted', 'shift', 'confidence', 'split'];

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
  /** NER runs: the samples table or the span table (and the map's level follows neither). */
  view: 'samples' | 'spans' = 'samples';
  spanFilter: SpanFilter = {};
  spanSort = 'span_row';
  spanOrder: 'asc' | 'desc' = 'asc';
  /** The span row picked (span table or map), shown with its similar spans in the sample panel. */
  span: { split: string; span_row: number } | null = null;
  /** The map's colour mode, and whether the points outside the filters are dimmed or hidden. */
  mapColor: MapColor = 'pred';
  mapFilter: 'dim' | 'hide' = 'dim';
  /**
   * "Find similar": the K nearest neighbours of (split, id) within the current split. On a
   * server with the samples API's `similar_*` filter it is `filter.similar` (and the table may
   * sort by `distance`); on an older one (`similarMode` 'ids') it is resolved to `filter.ids`.
   */
  similar: SimilarQuery | null = null;
  similarMode: 'server' | 'ids' | null = null;
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
    if (!split.startsWith('inference:')) { delete this.filter.shifted; delete this.filter.min_shift; delete this.filter.max_shift; }
    if (split.startsWith('inference:')) { delete this.filter.gold; delete this.filter.misclassified; }
    // Span filters follow the same rule (inference spans have no gold and no error type).
    if (split === 'training') delete this.spanFilter.drifted;
    if (split.startsWith('inference:')) { delete this.spanFilter.gold; delete this.spanFilter.error_type; }
    // A similar filter resolved to ids (older server) belongs to the old split; the server's
    // own similar filter searches the new split ("search other splits").
    if (this.similarMode === 'ids') this.dropSimilar();
    this.emit('split');
    this.emit('filter');
    this.emit('spanfilter');
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
    // Every filter is replaced: a similar filter stays only when `f` has it.
    if (this.similarMode !== null && !(this.similarMode === 'server' && this.filter.similar)) this.dropSimilar(false);
    this.checked.clear();
    this.emit('filterui');
    this.emit('filter');
  }

  setSort(field: string): void {
    if (this.sort === field) this.order = this.order === 'asc' ? 'desc' : 'asc';
    else { this.sort = field; this.order = field === 'row' || field === 'id' || field === 'text' || field === 'distance' ? 'asc' : 'desc'; }
    this.emit('sort');
  }

  /**
   * Adds "similar to (split, id)" to the current filters (similar.ts resolves it): `patch`
   * is `{similar}` on a server that has the filter, `{ids}` on an older one.
   */
  setSimilar(q: SimilarQuery, mode: 'server' | 'ids', patch: Partial<Filter>): void {
    this.similar = q;
    this.similarMode = mode;
    this.filter = { ...this.filter, ...patch };
    if (mode === 'ids') delete this.filter.similar;
    this.checked.clear();
    // Nearest first, on a server that can sort by distance.
    if (mode === 'server') { this.sort = 'distance'; this.order = 'asc'; this.emit('sort'); }
    this.emit('similar');
    this.emit('filterui');
    this.emit('filter');
  }

  /** Removes the similar filter (its chip's ×). */
  clearSimilar(): void {
    if (!this.similar) return;
    this.dropSimilar();
    this.checked.clear();
    this.emit('filterui');
    this.emit('filter');
  }

  private dropSimilar(fromFilter = true): void {
    if (fromFilter) {
      if (this.similarMode === 'ids') delete this.filter.ids;
      delete this.filter.similar;
    }
    this.similar = null;
    this.similarMode = null;
    // `distance` sorts only while the similar filter is given (a 400 otherwise).
    if (this.sort === 'distance') { this.sort = 'row'; this.order = 'asc'; this.emit('sort'); }
    this.emit('similar');
  }

  setMapColor(c: MapColor): void { if (c !== this.mapColor) { this.mapColor = c; this.emit('map'); } }
  setMapFilter(m: 'dim' | 'hide'): void { if (m !== this.mapFilter) { this.mapFilter = m; this.emit('map'); } }

  openSample(split: string, id: string, span: { split: string; span_row: number } | null = null): void {
    this.open = { split, id };
    this.span = span;
    this.emit('open');
  }
  closeSample(): void { this.open = null; this.span = null; this.emit('open'); }

  get isNer(): boolean { return this.info.task === 'named_entity_recognition'; }
  get isNli(): boolean { return this.info.task === 'natural_language_inference'; }

  setView(v: 'samples' | 'spans'): void { if (v !== this.view) { this.view = v; this.emit('view'); } }

  setSpanFilter(patch: Partial<SpanFilter>): void {
    this.spanFilter = { ...this.spanFilter, ...patch };
    for (const k of Object.keys(this.spanFilter) as (keyof SpanFilter)[]) {
      const v = this.spanFilter[k];
      if (v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v))) delete this.spanFilter[k];
    }
    this.emit('spanfilter');
  }

  setSpanSort(field: string): void {
    if (this.spanSort === field) this.spanOrder = this.spanOrder === 'asc' ? 'desc' : 'asc';
    else { this.spanSort = field; this.spanOrder = ['confidence', 'dep', 'drift_score'].includes(field) ? 'desc' : 'asc'; }
    this.emit('spansort');
  }

  /** Opens a span's sample and remembers the span (its similar spans show in the panel). */
  openSpan(split: string, sampleId: string, spanRow: number): void {
    if (this.open?.split === split && this.open.id === sampleId) { this.span = { split, span_row: spanRow }; this.emit('span'); }
    else this.openSample(split, sampleId, { split, span_row: spanRow });
  }

  get labeled(): boolean { return this.split !== '' && !this.split.startsWith('inference:'); }
}
