// "Find similar" as a filter: the K nearest neighbours of a sample, searched in the current
// split or another one, ANDed with the other filters, nearest first (docs/http-api.md:
// `similar_split`, `similar_id`, `similar_k` and each row's `distance`). An older server
// ignores those parameters: there the neighbours come from GET .../similar and are added as
// an id list (no distance column, no sort by distance). Which one is asked once per run.
import { api, type Filter, type SimilarQuery } from './api';
import { h, splitLabel } from './dom';
import type { RunState } from './state';

const support = new Map<string, Promise<boolean>>();

/** Does this server filter samples by similarity? (A missing `distance` means no.) */
export function similarSupported(st: RunState, q: SimilarQuery, split: string): Promise<boolean> {
  const key = `${st.project}\u0000${st.run}`;
  let p = support.get(key);
  if (!p) {
    p = api.samples(st.project, st.run, split, { similar: { ...q, k: 1 } }, { offset: 0, limit: 1, sort: 'row', order: 'asc' })
      .then((r) => (r.samples[0] ? 'distance' in r.samples[0] : r.total === 0))
      // An unknown query sample is a 404 only where the filter exists.
      .catch((e) => { support.delete(key); throw e; });
    support.set(key, p);
  }
  return p;
}

/** The filter patch that selects the neighbours in `split`, and how it is expressed. */
export async function resolveSimilar(st: RunState, q: SimilarQuery, split: string): Promise<{ mode: 'server' | 'ids'; patch: Partial<Filter> }> {
  if (await similarSupported(st, q, split)) return { mode: 'server', patch: { similar: q } };
  const r = await api.similar(st.project, st.run, q.split, q.id, q.k, [split]);
  // As the server's filter: the query sample itself is not one of its neighbours.
  const ids = r.neighbors.filter((n) => n.split === split && !(n.split === q.split && n.id === q.id)).map((n) => n.id);
  return { mode: 'ids', patch: { ids } };
}

/** Adds "similar to q" to the current filters, in `split` (switching to it when another). */
export async function addSimilar(st: RunState, q: SimilarQuery, split: string): Promise<void> {
  const { mode, patch } = await resolveSimilar(st, q, split);
  if (split !== st.split) st.setSplit(split);
  st.setSimilar(q, mode, patch);
}

/** The sample panel's control: Find similar [k] in [split]. */
export function similarControl(st: RunState, sample: { split: string; id: string }): HTMLElement {
  const k = h('input', { type: 'number', min: '1', max: '1000', step: '1', value: String(st.similar?.k ?? 50), class: 'similar-k',
    'aria-label': 'How many neighbours', title: 'how many nearest neighbours', 'data-testid': 'similar-k' });
  const where = h('select', { 'data-testid': 'similar-split', 'aria-label': 'Search in split', title: 'the split searched' },
    ...st.info.splits.map((s) => h('option', { value: s.split, selected: s.split === st.split }, splitLabel(s.split))));
  const note = h('span', { class: 'small muted', 'data-testid': 'similar-note' });
  const btn = h('button', { class: 'btn btn-sm btn-primary', 'data-testid': 'find-similar',
    title: 'Adds the nearest neighbours of this sample to the filters, nearest first',
    onclick: async () => {
      const n = Math.min(1000, Math.max(1, Math.round(Number(k.value) || 50)));
      btn.disabled = true;
      note.textContent = '';
      try { await addSimilar(st, { split: sample.split, id: sample.id, k: n }, where.value); } catch (e) {
        note.textContent = `find similar: ${(e as Error).message}`;
        note.classList.add('error');
      } finally { btn.disabled = false; }
    } }, 'Find similar');
  return h('span', { class: 'similar-control', 'data-testid': 'similar-control' }, btn, ' ', k, ' in ', where, note);
}

/** The filter chip of a similar filter. */
export function similarChipLabel(st: RunState): string {
  const q = st.similar!;
  const where = q.split === st.split ? '' : ` (from ${splitLabel(q.split)})`;
  return `${q.k} nearest to ${q.id}${where}`;
}
