// The run page's whole view state in its URL, so a view can be shared, reloaded, and stepped
// through with back/forward. Keys (web/README.md): `split`, `f` (the filter, compact JSON),
// `sort`, `order`, `open` ({split,id}), `view` (samples|spans), `sf` (span filter), `ss`/`so`
// (span sort and order), `map` (colour mode), `mapf` (dim|hide), `sim` ({split,id,k}).
// Each user action pushes one history entry (the changes of one action are coalesced);
// popstate restores the view in place, without reloading the page.
import type { Filter, SimilarQuery, SpanFilter } from './api';
import { resolveSimilar } from './similar';
import { MAP_COLORS, type MapColor, type RunState, type Topic } from './state';

export interface ViewState {
  split: string | null;
  filter: Filter;
  sort: string; order: 'asc' | 'desc';
  open: { split: string; id: string } | null;
  view: 'samples' | 'spans';
  spanFilter: SpanFilter;
  spanSort: string; spanOrder: 'asc' | 'desc';
  mapColor: MapColor; mapFilter: 'dim' | 'hide';
  similar: SimilarQuery | null;
}

// Servers cap a URL's length: a long lasso or id list stays out of it.
const MAX_FILTER_CHARS = 2000;

function json<T>(v: string | null, ok: (x: any) => boolean): T | null {
  if (!v) return null;
  try { const x = JSON.parse(v); return ok(x) ? x as T : null; } catch { return null; }
}
const isObj = (x: any) => x !== null && typeof x === 'object' && !Array.isArray(x);

export function readView(q: URLSearchParams): ViewState {
  const sim = json<SimilarQuery>(q.get('sim'), (x) => isObj(x) && typeof x.split === 'string' && typeof x.id === 'string');
  if (sim) sim.k = Math.min(1000, Math.max(1, Math.round(Number(sim.k) || 50)));
  const map = q.get('map') as MapColor | null;
  return {
    split: q.get('split'),
    filter: json<Filter>(q.get('f'), isObj) ?? {},
    sort: q.get('sort') ?? 'row', order: q.get('order') === 'desc' ? 'desc' : 'asc',
    open: json(q.get('open'), (x) => isObj(x) && typeof x.split === 'string' && typeof x.id === 'string'),
    view: q.get('view') === 'spans' ? 'spans' : 'samples',
    spanFilter: json<SpanFilter>(q.get('sf'), isObj) ?? {},
    spanSort: q.get('ss') ?? 'span_row', spanOrder: q.get('so') === 'desc' ? 'desc' : 'asc',
    mapColor: map && MAP_COLORS.includes(map) ? map : 'pred',
    mapFilter: q.get('mapf') === 'hide' ? 'hide' : 'dim',
    similar: sim,
  };
}

/** The URL's filter: without the similar filter (`sim` holds it) and its resolved ids. */
function urlFilter(st: RunState): Filter {
  const f: Filter = { ...st.filter };
  delete f.similar;
  if (st.similarMode === 'ids') delete f.ids;
  if (JSON.stringify(f).length > MAX_FILTER_CHARS) { delete f.polygon; delete f.ids; }
  return f;
}

/** The query string of a view (defaults left out). */
export function writeView(v: Partial<ViewState>, q = new URLSearchParams()): URLSearchParams {
  const set = (k: string, val: string | null) => { if (val === null) q.delete(k); else q.set(k, val); };
  if (v.split !== undefined) set('split', v.split);
  const f = v.filter ?? {};
  set('f', Object.keys(f).length ? JSON.stringify(f) : null);
  const sorted = v.sort !== undefined && (v.sort !== 'row' || v.order === 'desc');
  set('sort', sorted ? v.sort! : null);
  set('order', sorted ? v.order ?? 'asc' : null);
  set('open', v.open ? JSON.stringify(v.open) : null);
  set('view', v.view === 'spans' ? 'spans' : null);
  const sf = v.spanFilter ?? {};
  set('sf', Object.keys(sf).length ? JSON.stringify(sf) : null);
  const spanSorted = v.spanSort !== undefined && (v.spanSort !== 'span_row' || v.spanOrder === 'desc');
  set('ss', spanSorted ? v.spanSort! : null);
  set('so', spanSorted ? v.spanOrder ?? 'asc' : null);
  set('map', v.mapColor && v.mapColor !== 'pred' ? v.mapColor : null);
  set('mapf', v.mapFilter === 'hide' ? 'hide' : null);
  set('sim', v.similar ? JSON.stringify(v.similar) : null);
  return q;
}

export function stateView(st: RunState): ViewState {
  return {
    split: st.split, filter: urlFilter(st), sort: st.sort, order: st.order, open: st.open, view: st.isNer ? st.view : 'samples',
    spanFilter: st.spanFilter, spanSort: st.spanSort, spanOrder: st.spanOrder, mapColor: st.mapColor, mapFilter: st.mapFilter,
    similar: st.similar,
  };
}

/** A link to a run page's view (the timeline's points). */
export function viewUrl(base: string, v: Partial<ViewState>): string {
  const q = writeView(v);
  return q.toString() ? `${base}?${q}` : base;
}

/**
 * Sets the state from the URL before the page's components are built (no event): the
 * similar filter is resolved first (the server's filter, or the neighbours' ids).
 */
export async function initFromUrl(st: RunState): Promise<void> {
  const v = readView(new URLSearchParams(location.search));
  st.filter = v.filter;
  st.sort = v.sort; st.order = v.order;
  st.open = v.open;
  if (st.isNer) { st.view = v.view; st.spanFilter = v.spanFilter; st.spanSort = v.spanSort; st.spanOrder = v.spanOrder; }
  st.mapColor = v.mapColor; st.mapFilter = v.mapFilter;
  if (v.similar) {
    try {
      const r = await resolveSimilar(st, v.similar, st.split);
      st.similar = v.similar; st.similarMode = r.mode;
      st.filter = { ...st.filter, ...r.patch };
    } catch { /* an unknown sample: no similar filter */ }
  }
  if (st.sort === 'distance' && st.similarMode !== 'server') { st.sort = 'row'; st.order = 'asc'; }
}

const TOPICS: Topic[] = ['split', 'filter', 'sort', 'open', 'view', 'spanfilter', 'spansort', 'map', 'similar'];

export class UrlSync {
  private scheduled = false;
  private restoring = 0;
  private last: ViewState;

  constructor(private st: RunState, private path: string) {
    this.last = stateView(st);
    // The address as the state reads it (a bad or partial link is normalised).
    history.replaceState(null, '', this.url());
    for (const t of TOPICS) st.on(t, () => this.schedule());
  }

  /** Is the address one of this page's views? (Then popstate is `restore`d in place.) */
  owns(): boolean { return location.pathname === this.path; }

  private url(): string {
    const u = new URL(location.href);
    writeView(stateView(this.st), u.searchParams);
    return `${u.pathname}${u.search}${u.hash}`;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => { this.scheduled = false; this.flush(); });
  }

  private flush(): void {
    const url = this.url();
    const cur = `${location.pathname}${location.search}${location.hash}`;
    const next = stateView(this.st);
    const prev = this.last;
    this.last = next;
    if (url === cur) return;
    // Walking the table with the arrow keys changes the open sample only: one entry, replaced.
    const onlyOpen = prev.open && next.open && JSON.stringify({ ...prev, open: null }) === JSON.stringify({ ...next, open: null });
    if (this.restoring || onlyOpen) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
  }

  /** Back/forward: the state of the address, applied with the same events as a user's. */
  async restore(): Promise<void> {
    const st = this.st;
    const v = readView(new URLSearchParams(location.search));
    const emits = new Set<Topic>();
    this.restoring++;
    try {
      if (v.split && v.split !== st.split && st.info.splits.some((s) => s.split === v.split)) {
        st.split = v.split; st.checked.clear(); emits.add('split');
      }
      let similar: { q: SimilarQuery; mode: 'server' | 'ids'; patch: Partial<Filter> } | null = null;
      if (v.similar) {
        try { similar = { q: v.similar, ...(await resolveSimilar(st, v.similar, st.split)) }; } catch { similar = null; }
      }
      const filter: Filter = { ...v.filter, ...(similar?.patch ?? {}) };
      if (JSON.stringify(filter) !== JSON.stringify(st.filter) || JSON.stringify(similar?.q ?? null) !== JSON.stringify(st.similar)) {
        st.filter = filter;
        st.similar = similar?.q ?? null;
        st.similarMode = similar?.mode ?? null;
        st.checked.clear();
        emits.add('similar'); emits.add('filterui'); emits.add('filter');
      }
      const sort = v.sort === 'distance' && st.similarMode !== 'server' ? 'row' : v.sort;
      if (sort !== st.sort || v.order !== st.order) { st.sort = sort; st.order = v.order; emits.add('sort'); }
      if (JSON.stringify(v.open) !== JSON.stringify(st.open)) { st.open = v.open; st.span = null; emits.add('open'); }
      if (st.isNer) {
        if (JSON.stringify(v.spanFilter) !== JSON.stringify(st.spanFilter)) { st.spanFilter = v.spanFilter; emits.add('spanfilterui'); emits.add('spanfilter'); }
        if (v.spanSort !== st.spanSort || v.spanOrder !== st.spanOrder) { st.spanSort = v.spanSort; st.spanOrder = v.spanOrder; emits.add('spansort'); }
        if (v.view !== st.view) { st.view = v.view; emits.add('view'); }
      }
      // A split's components reload on its filters (as setSplit emits them).
      if (emits.has('split')) { emits.add('filterui'); emits.add('filter'); emits.add('spanfilterui'); emits.add('spanfilter'); }
      if (v.mapColor !== st.mapColor || v.mapFilter !== st.mapFilter) { st.mapColor = v.mapColor; st.mapFilter = v.mapFilter; emits.add('map'); }
      // In the order a user's action emits them (the split first: components reload on it).
      for (const t of ['split', 'similar', 'filterui', 'filter', 'sort', 'open', 'spanfilterui', 'spanfilter', 'spansort', 'view', 'map'] as Topic[]) {
        if (emits.has(t)) st.emit(t);
      }
    } finally {
      // The flush of the events above runs in a microtask: it must see `restoring`.
      await Promise.resolve();
      this.flush();
      this.restoring--;
    }
  }
}
