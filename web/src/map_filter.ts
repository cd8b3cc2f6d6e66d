// The map follows the table: which of the current split's map points the table's filters
// (and a similar filter, a selection shown, a lasso) match. A filter on the fields the map has
// (class, gold, confidence, shift score, drifted, ids, the lasso) is evaluated here; another
// is asked of the server (GET .../map?<filters> answers `match` aligned with the points,
// docs/http-api.md), or, from an older server without it, matched by the ids of the
// filtered samples (paged from the samples API, up to ID_CAP of them).
import { api, type Filter, type MapSplit } from './api';
import type { RunState } from './state';

export type MatchSource = 'server' | 'client' | 'ids' | 'none';
export interface MatchResult {
  /** 1 where the point matches, aligned with the split's points; null: no filter (or unknown). */
  match: Uint8Array | null;
  matched: number;
  source: MatchSource;
  /** Why the map cannot show the filter, when it cannot. */
  note?: string;
}

/** At most this many matching samples are listed by id for an older server. */
export const ID_CAP = 20000;

const isEmpty = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

/** The filter without its empty fields. */
export function activeFilter(f: Filter): Filter {
  const out: Filter = {};
  for (const [k, v] of Object.entries(f)) if (!isEmpty(v)) (out as any)[k] = v;
  return out;
}

/** The fields evaluated here from the map's columns (drifted only when the map has the flag). */
function clientFields(hasDrifted: boolean): Set<string> {
  const s = new Set(['pred', 'gold', 'min_confidence', 'max_confidence', 'ids', 'min_shift', 'max_shift', 'misclassified']);
  if (hasDrifted) s.add('drifted');
  return s;
}

export function clientEvaluable(f: Filter, hasDrifted: boolean): boolean {
  const ok = clientFields(hasDrifted);
  return Object.keys(activeFilter(f)).every((k) => ok.has(k));
}

/** The filter evaluated on the map's points (every field must be clientEvaluable). */
export function clientMatch(f: Filter, P: MapSplit['points'], labels: string[]): Uint8Array {
  const n = P.x.length;
  const out = new Uint8Array(n);
  const pred = f.pred?.length ? new Set(f.pred.map((l) => labels.indexOf(l))) : null;
  const gold = f.gold?.length ? new Set(f.gold.map((l) => labels.indexOf(l))) : null;
  const ids = f.ids?.length ? new Set(f.ids) : null;
  for (let i = 0; i < n; i++) {
    if (pred && !pred.has(P.pred[i])) continue;
    if (gold && !gold.has(P.gold?.[i] ?? -1)) continue;
    const c = P.confidence[i];
    if (f.min_confidence !== undefined && !(c >= f.min_confidence)) continue;
    if (f.max_confidence !== undefined && !(c <= f.max_confidence)) continue;
    if (ids && !ids.has(P.id[i])) continue;
    const sh = P.shift_score?.[i];
    // As the samples API: a sample without a shift score never matches a shift bound.
    if ((f.min_shift !== undefined || f.max_shift !== undefined) && (sh === null || sh === undefined)) continue;
    if (f.min_shift !== undefined && !(sh! >= f.min_shift)) continue;
    if (f.max_shift !== undefined && !(sh! <= f.max_shift)) continue;
    if (f.misclassified !== undefined) {
      const g = P.gold?.[i] ?? -1;
      if (g < 0 || (P.pred[i] !== g) !== f.misclassified) continue;
    }
    if (f.drifted !== undefined) {
      const d = P.drifted?.[i];
      if (d === null || d === undefined || (d === 1) !== f.drifted) continue;
    }
    out[i] = 1;
  }
  return out;
}

export function pointInPolygon(poly: [number, number][], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The ids of every sample of `split` the filter matches; null when more than `cap`. */
export async function matchingIds(st: RunState, split: string, f: Filter, cap = ID_CAP, signal?: AbortSignal): Promise<Set<string> | null> {
  const ids = new Set<string>();
  for (let offset = 0; ; offset += 1000) {
    const r = await api.samples(st.project, st.run, split, f, { offset, limit: 1000, sort: 'row', order: 'asc' }, signal);
    if (r.total > cap) return null;
    for (const s of r.samples) ids.add(s.id);
    if (offset + 1000 >= r.total || !r.samples.length) return ids;
  }
}

// Whether the server answers the map's filters with `match`, per run (unknown until asked).
const serverMatch = new Map<string, boolean>();

/**
 * The match of the current split's points. `maxPoints` must be the one the points were asked
 * with (the server's `match` is aligned with the same downsampling).
 */
export async function matchFor(st: RunState, sp: MapSplit, maxPoints: number, signal?: AbortSignal): Promise<MatchResult> {
  const f = activeFilter(st.filter);
  const poly = f.polygon && f.polygon.length >= 3 ? f.polygon : null;
  delete f.polygon;
  const P = sp.points;
  const n = P.x.length;
  let match: Uint8Array | null = null;
  let source: MatchSource = 'none';
  let note: string | undefined;
  if (Object.keys(f).length) {
    const key = `${st.project}\u0000${st.run}`;
    // A long id list does not fit in a URL: evaluated here.
    const fitsUrl = JSON.stringify(f).length < 1500;
    // The fields the map has are matched here (no request: the server would send every
    // point again); the others (text, metadata, DEP, similar...) by the server's match.
    if (clientEvaluable(f, !!P.drifted)) { match = clientMatch(f, P, st.info.labels); source = 'client'; }
    if (!match && serverMatch.get(key) !== false && fitsUrl) {
      const a = await api.map(st.project, st.run, [sp.split], maxPoints, f, signal);
      const m = a.splits.find((s) => s.split === sp.split)?.match;
      serverMatch.set(key, Array.isArray(m));
      if (Array.isArray(m) && m.length === n) { match = Uint8Array.from(m, (v) => (v ? 1 : 0)); source = 'server'; }
    }
    if (!match) {
      const ids = await matchingIds(st, sp.split, f, ID_CAP, signal);
      if (ids) {
        match = new Uint8Array(n);
        for (let i = 0; i < n; i++) if (ids.has(P.id[i])) match[i] = 1;
        source = 'ids';
      } else {
        note = `the map cannot show this filter on this server (over ${ID_CAP.toLocaleString()} samples)`;
      }
    }
  }
  if (poly) {
    if (!match) { match = new Uint8Array(n).fill(1); if (source === 'none') source = 'client'; }
    for (let i = 0; i < n; i++) if (match[i] && !pointInPolygon(poly, P.x[i], P.y[i])) match[i] = 0;
  }
  let matched = 0;
  if (match) {
    // A downsampled point stands for `count` samples: the matched count is of points.
    for (let i = 0; i < n; i++) matched += match[i];
  }
  return { match, matched, source, note };
}

/** The drifted flags of the split's points: the map's own, else from the drifted samples' ids. */
export async function driftedFlags(st: RunState, sp: MapSplit, signal?: AbortSignal): Promise<(0 | 1 | null)[] | null> {
  if (sp.points.drifted) return sp.points.drifted;
  if (sp.split === 'training') return sp.points.x.map(() => null);
  const ids = await matchingIds(st, sp.split, { drifted: true }, ID_CAP, signal);
  if (!ids) return null;
  return sp.points.id.map((id) => (ids.has(id) ? 1 : 0));
}
