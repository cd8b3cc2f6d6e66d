// Typed client of the HTTP API in docs/http-api.md.

export interface SplitInfo { split: string; samples: number; epochs_logged: number; embedding_dim: number; processed: boolean }
export type JobState = 'queued' | 'running' | 'done' | 'failed';
/** A run's processing job on a team server, as `GET /api/runs` gives it. */
export interface RunJob { id: string; state: JobState; stage: string; progress: number; error: string | null }
export interface RunInfo {
  project: string; run: string; task: string; labels: string[]; finished: boolean; size_bytes: number;
  splits: SplitInfo[];
  /** Team server: the name of the API key that uploaded the run (null: logged on this machine). */
  uploaded_by?: string | null;
  /** Unix seconds of the last upload, or null. */
  uploaded_at?: number | null;
  /** The run's last processing job, or null. */
  job?: RunJob | null;
  /** NER runs (contract 16 §2): the entity types (labels without B-/I- prefixes). */
  entity_types?: string[];
}
/** One processing job of `GET /api/jobs` (times in Unix seconds). */
export interface Job extends RunJob {
  project: string; run: string; uploaded_by: string | null;
  created_at: number | null; started_at: number | null; finished_at: number | null;
}
export interface Sample {
  id: string; split: string; row: number; text: string; meta: Record<string, unknown>;
  gold: string | null; pred: string; confidence: number; margin: number; entropy: number;
  is_on_the_boundary: boolean; is_correct: boolean | null; dep: number | null; aum: number | null;
  drift_score: number | null; is_drifted: boolean | null; x: number | null; y: number | null;
  /** With a similar filter: the distance to the query sample (as GET .../similar). */
  distance?: number;
  /** Inference sets with a domain test: the per-sample shift score and flag (docs/algorithms.md). */
  shift_score?: number | null; is_shifted?: boolean | null;
  probs?: Record<string, number>;
  // NLI samples (docs/ner-nli.md): the two fields; `text` is `premise [SEP] hypothesis`.
  premise?: string; hypothesis?: string;
  // NER samples: token offsets and the gold and predicted spans (gold null/absent on inference).
  tokens?: [number, number][]; gold_spans?: SpanMark[] | null; pred_spans?: SpanMark[] | null;
  /** NER sentences (contract 16 §2): span mismatches (null unlabeled), predicted spans, lowest span confidence. */
  span_errors?: number | null; pred_spans_count?: number; min_span_confidence?: number | null;
}
/** A gold or predicted span on an NER sample; `span_row` is its row in the split's span table. */
export interface SpanMark { start: number; end: number; label: string; error_type: string | null; span_row: number }
/** One span row (docs/ner-nli.md): a gold/predicted span pair, or a lone gold or predicted span. */
export interface Span {
  sample_id: string; span_row: number; span_start: number; span_end: number; span_text: string;
  gold: string | null; pred: string | null; error_type: string | null; confidence: number; dep: number | null;
  drift_score: number | null; is_drifted: boolean | null; is_on_the_boundary: boolean; x: number | null; y: number | null;
}
export interface SpanPage { total: number; offset: number; limit: number; spans: Span[] }
export interface SpanNeighbor extends Span { split: string; distance: number }
export interface SpanPoint {
  split: string; sample_id: string; span_row: number; x: number; y: number; pred: string | null; gold: string | null;
  error_type: string | null; is_drifted: boolean | null; confidence: number;
}
/** The filters of GET .../spans. */
export interface SpanFilter {
  label?: string; gold?: string; pred?: string; error_type?: string; drifted?: boolean; on_boundary?: boolean;
  min_confidence?: number; max_confidence?: number; text?: string; sample_id?: string;
}
/** "Find similar": the K nearest neighbours of (split, id), searched in the requested split. */
export interface SimilarQuery { split: string; id: string; k: number }
export interface SamplePage { total: number; offset: number; limit: number; samples: Sample[] }
export interface Neighbor {
  id: string; split: string; distance: number; text: string; pred: string; gold: string | null;
  confidence: number; is_drifted: boolean | null;
}
export interface SimilarAnswer { query: { split: string; id: string }; neighbors: Neighbor[]; took_ms: number }
export interface MapSplit {
  split: string; total: number;
  points: { x: number[]; y: number[]; id: string[]; pred: number[]; gold: number[]; confidence: number[];
    drift_score: (number | null)[]; shift_score?: (number | null)[]; count: number[];
    /** Newer servers: the drifted flag per point (null on training). */
    drifted?: (0 | 1 | null)[] };
  /** When the map was asked with filters: 1 for the points they match, aligned with `points.x`. */
  match?: (0 | 1)[]; matched?: number;
}
export interface MapAnswer { bounds: { x0: number; x1: number; y0: number; y1: number }; splits: MapSplit[] }
export interface ClassInsight {
  label: string; share: number; reference_share: number | null; mean_confidence: number | null;
  reference_mean_confidence: number | null; precision: number | null; recall: number | null; f1: number | null;
}
export interface Alert {
  kind: string; severity: 'warning' | 'critical'; label?: string; message: string;
  /** Newer servers: the samples filter selecting what the alert is about, and its split. */
  filter?: Filter; split?: string; entity_type?: string;
}
export interface Insights {
  split: string; reference: string; classes: ClassInsight[];
  /** The report's verdict for this split (contract 16 §3; verdict.ts reads it loosely). */
  verdict?: Record<string, unknown> | null;
  drifted: { count: number; fraction: number } | null;
  on_the_boundary: { count: number; fraction: number };
  accuracy: number | null; macro_f1: number | null; alerts: Alert[];
  /** Inference splits: the domain-classifier test against held-out data. */
  domain_test?: { reference: string; auc: number | null; p_value: number | null; shifted: boolean;
    shift_threshold?: number | null; shifted_share?: number | null } | null;
}
export interface SelectionInfo { name: string; count: number; created_at: string; updated_at: string }
export interface Item { split: string; id: string }

/** Every filter of the samples API; undefined/empty means "not filtered". */
export interface Filter {
  text?: string;
  /** NLI: regexes over each field. */
  premise?: string;
  hypothesis?: string;
  gold?: string[];
  pred?: string[];
  min_confidence?: number;
  max_confidence?: number;
  min_dep?: number;
  max_dep?: number;
  drifted?: boolean;
  /** Inference sets: above the set's shift threshold, and shift score bounds. */
  shifted?: boolean;
  min_shift?: number;
  max_shift?: number;
  on_boundary?: boolean;
  misclassified?: boolean;
  meta?: Record<string, string>;
  ids?: string[];
  polygon?: [number, number][];
  /** NER: sentences with a predicted or gold span of these entity types. */
  entity_type?: string[];
  /** The K nearest neighbours of a sample (GET: similar_split/similar_id/similar_k; POST: `similar`). */
  similar?: SimilarQuery;
}

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public project?: string) { super(message); }
}

// The API key (or the --token of a single-user server) lives in sessionStorage only: it is
// gone when the tab is closed, and never written to localStorage or a cookie.
const TOKEN_KEY = 'sextant.token';

/**
 * The key of this tab's session. A ?token=... on the console's URL is kept as the key and
 * taken out of the address (so it is not left in the history or shown on screen).
 */
export function token(): string | null {
  const u = new URL(location.href);
  const fromUrl = u.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    u.searchParams.delete('token');
    history.replaceState(history.state, '', u);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(key: string): void { sessionStorage.setItem(TOKEN_KEY, key); }

export function forgetToken(): void { sessionStorage.removeItem(TOKEN_KEY); }

/**
 * Asks the user for a key after a 401 (auth.ts shows the form); resolves once one is
 * stored. `refused` is true when the key just sent was the one refused.
 */
type KeyPrompt = (message: string, refused: boolean) => Promise<void>;
let keyPrompt: KeyPrompt | null = null;
let pendingPrompt: Promise<void> | null = null;
export function setKeyPrompt(p: KeyPrompt): void { keyPrompt = p; }

/** One prompt at a time: the calls refused together wait for the same key. */
function askForKey(message: string, refused: boolean): Promise<void> {
  if (!pendingPrompt) pendingPrompt = keyPrompt!(message, refused).finally(() => { pendingPrompt = null; });
  return pendingPrompt;
}

/** The project of an /api/runs/{project}/... path, for a 403's message. */
function projectOf(path: string): string | undefined {
  const m = /^\/api\/(?:runs|projects)\/([^/?]+)/.exec(path);
  return m ? decodeURIComponent(m[1]) : undefined;
}

const enc = encodeURIComponent;

function runPath(p: string, r: string): string { return `/api/runs/${enc(p)}/${enc(r)}`; }

/** Told when a request could not reach the server (false) and when one did (true): banner.ts. */
let connectivity: ((reachable: boolean) => void) | null = null;
export function onConnectivity(fn: (reachable: boolean) => void): void { connectivity = fn; }

async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  for (;;) {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (e) {
      if (signal?.aborted || (e as Error).name === 'AbortError') throw e;
      // The network failed (server down): one banner says so, the panels a short line.
      connectivity?.(false);
      throw new ApiError(0, 'unreachable', 'the server is unreachable');
    }
    connectivity?.(true);
    const text = await res.text();
    let data: any = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (res.ok) return data as T;
    const e = data?.error;
    const message = e?.message ?? `${method} ${path}: HTTP ${res.status}`;
    // The server needs a key: ask for one, then send the request again with it.
    if (res.status === 401 && keyPrompt && !signal?.aborted) {
      // Another call may have stored a new key while this one was on its way.
      if (token() !== t) continue;
      await askForKey(message, t !== null);
      continue;
    }
    if (res.status === 403) {
      const project = projectOf(path);
      if (project !== undefined) {
        throw new ApiError(403, e?.code ?? 'forbidden', `This key has no access to project "${project}".`, project);
      }
    }
    throw new ApiError(res.status, e?.code ?? 'http_error', message);
  }
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'number' && Number.isNaN(v));
}

/** The filter as query parameters (GET samples / export). */
export function filterParams(f: Filter, q = new URLSearchParams()): URLSearchParams {
  for (const [k, v] of Object.entries(f)) {
    if (isEmpty(v) || k === 'polygon') continue;
    if (k === 'meta') {
      for (const [mk, mv] of Object.entries(v as Record<string, string>)) if (mv !== '') q.append(`meta.${mk}`, mv);
    } else if (k === 'similar') {
      const s = v as SimilarQuery;
      q.set('similar_split', s.split); q.set('similar_id', s.id); q.set('similar_k', String(s.k));
    } else if (Array.isArray(v)) {
      q.set(k, v.join(','));
    } else {
      q.set(k, String(v));
    }
  }
  return q;
}

/** The filter as a samples/query JSON body: the same keys, lists as arrays, meta as meta.KEY. */
export function filterBody(f: Filter): Record<string, unknown> {
  const b: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) {
    if (isEmpty(v)) continue;
    if (k === 'meta') {
      for (const [mk, mv] of Object.entries(v as Record<string, string>)) if (mv !== '') b[`meta.${mk}`] = mv;
    } else {
      b[k] = v;
    }
  }
  return b;
}

export interface Page { offset: number; limit: number; sort: string; order: 'asc' | 'desc' }

/** Export formats (docs/labeling-tools.md): tables, and the labeling tools' files. */
export type ExportFormat = 'csv' | 'jsonl' | 'labelstudio' | 'argilla';
export const EXPORT_FORMATS: { format: ExportFormat; label: string; ext: string }[] = [
  { format: 'csv', label: 'CSV', ext: 'csv' },
  { format: 'jsonl', label: 'JSONL', ext: 'jsonl' },
  { format: 'labelstudio', label: 'Label Studio', ext: 'json' },
  { format: 'argilla', label: 'Argilla', ext: 'argilla.jsonl' },
];

export const api = {
  health: () => call<{ ok: boolean; version: string }>('GET', '/api/health'),
  runs: () => call<{ runs: RunInfo[] }>('GET', '/api/runs'),
  /** Team server: the processing jobs (404 on a server without a job queue). */
  jobs: () => call<{ jobs: Job[] }>('GET', '/api/jobs'),
  run: (p: string, r: string) => call<RunInfo>('GET', runPath(p, r)),
  insights: (p: string, r: string, split: string) =>
    call<Insights>('GET', `${runPath(p, r)}/insights?split=${enc(split)}`),
  samples(p: string, r: string, split: string, f: Filter, page: Page, signal?: AbortSignal): Promise<SamplePage> {
    // A lasso, or a long id list (a URL has a length limit), goes as a POST body.
    if ((f.polygon && f.polygon.length >= 3) || (f.ids && f.ids.length > 50)) {
      return call<SamplePage>('POST', `${runPath(p, r)}/samples/query`,
        { split, ...filterBody(f), ...page }, signal);
    }
    const q = filterParams(f, new URLSearchParams({ split, offset: String(page.offset), limit: String(page.limit),
      sort: page.sort, order: page.order }));
    return call<SamplePage>('GET', `${runPath(p, r)}/samples?${q}`, undefined, signal);
  },
  sample: (p: string, r: string, split: string, id: string) =>
    call<Sample>('GET', `${runPath(p, r)}/samples/${enc(split)}/${enc(id)}`),
  similar(p: string, r: string, split: string, id: string, k: number, inSplits?: string[]) {
    const q = new URLSearchParams({ split, id, k: String(k) });
    if (inSplits && inSplits.length) q.set('in', inSplits.join(','));
    return call<SimilarAnswer>('GET', `${runPath(p, r)}/similar?${q}`);
  },
  /** With a filter, newer servers add each split's `match` (the points, bounds and order stay). */
  map(p: string, r: string, splits: string[], maxPoints = 50000, f?: Filter, signal?: AbortSignal) {
    const q = new URLSearchParams({ splits: splits.join(','), max_points: String(maxPoints) });
    if (f) filterParams(f, q);
    return call<MapAnswer>('GET', `${runPath(p, r)}/map?${q}`, undefined, signal);
  },
  /** The stored summary JSON; only the NER span blocks are typed loosely (see insights.ts). */
  summary: (p: string, r: string) => call<Record<string, any>>('GET', `${runPath(p, r)}/summary`),
  spans(p: string, r: string, split: string, f: SpanFilter, page: Page, signal?: AbortSignal) {
    // The span API's default order is by span row: sent only when it is another.
    const q = new URLSearchParams({ split, offset: String(page.offset), limit: String(page.limit) });
    if (page.sort !== 'span_row' || page.order !== 'asc') { q.set('sort', page.sort); q.set('order', page.order); }
    filterParams(f as Filter, q);
    return call<SpanPage>('GET', `${runPath(p, r)}/spans?${q}`, undefined, signal);
  },
  spansMap(p: string, r: string, splits: string[], maxPoints = 50000) {
    const q = new URLSearchParams({ splits: splits.join(','), max_points: String(maxPoints) });
    return call<{ points: SpanPoint[] }>('GET', `${runPath(p, r)}/spans/map?${q}`);
  },
  spansSimilar(p: string, r: string, split: string, spanRow: number, k: number, inSplits?: string[]) {
    const q = new URLSearchParams({ split, span_row: String(spanRow), k: String(k) });
    if (inSplits && inSplits.length) q.set('in', inSplits.join(','));
    return call<{ query: { split: string; span_row: number }; neighbors: SpanNeighbor[]; took_ms: number }>('GET', `${runPath(p, r)}/spans/similar?${q}`);
  },
  /** Label suggestions (docs/labeling.md); the answer's shape is suggest.ts's. */
  suggest: <T>(p: string, r: string, q: URLSearchParams) => call<T>('GET', `${runPath(p, r)}/suggest?${q}`),
  selections: (p: string, r: string) => call<{ selections: SelectionInfo[] }>('GET', `${runPath(p, r)}/selections`),
  createSelection: (p: string, r: string, name: string) => call<unknown>('POST', `${runPath(p, r)}/selections`, { name }),
  selection: (p: string, r: string, name: string) =>
    call<{ name: string; items: Item[] }>('GET', `${runPath(p, r)}/selections/${enc(name)}`),
  addItems: (p: string, r: string, name: string, items: Item[]) =>
    call<{ count: number }>('POST', `${runPath(p, r)}/selections/${enc(name)}/add`, { items }),
  addFilter: (p: string, r: string, name: string, split: string, f: Filter) =>
    call<{ count: number }>('POST', `${runPath(p, r)}/selections/${enc(name)}/add`, { split, filter: filterBody(f) }),
  /** NER: adds the samples of the span rows the span filter matches. */
  addSpanFilter: (p: string, r: string, name: string, split: string, f: SpanFilter) =>
    call<{ count: number }>('POST', `${runPath(p, r)}/selections/${enc(name)}/add`, { split, span_filter: f }),
  removeItems: (p: string, r: string, name: string, items: Item[]) =>
    call<{ count: number }>('POST', `${runPath(p, r)}/selections/${enc(name)}/remove`, { items }),
  deleteSelection: (p: string, r: string, name: string) =>
    call<unknown>('DELETE', `${runPath(p, r)}/selections/${enc(name)}`),
  /** A download link (the token travels as ?token= since links carry no header). */
  exportSelectionUrl(p: string, r: string, name: string, format: ExportFormat): string {
    const q = new URLSearchParams({ format });
    const t = token();
    if (t) q.set('token', t);
    return `${runPath(p, r)}/selections/${enc(name)}/export?${q}`;
  },
  /**
   * GET .../export of the filtered rows: in the table's order (sort, order), the top `limit`
   * rows (all when absent), the table's visible `columns` (contract 16 §1).
   */
  exportFilterUrl(p: string, r: string, split: string, f: Filter, format: ExportFormat,
    view?: { sort?: string; order?: 'asc' | 'desc'; limit?: number | null; columns?: string[] }): string {
    const q = filterParams(f, new URLSearchParams({ split, format }));
    if (view?.sort) { q.set('sort', view.sort); q.set('order', view.order ?? 'asc'); }
    if (view?.limit) q.set('limit', String(view.limit));
    if (view?.columns?.length) q.set('columns', view.columns.join(','));
    const t = token();
    if (t) q.set('token', t);
    return `${runPath(p, r)}/export?${q}`;
  },
};

// ---- monitoring over time (docs/http-api.md: timeline, compare, alerts)

/** A metric's value with its interval (null bounds: none). */
export interface Valued { value: number; low: number | null; high: number | null }
/** One inference set (or a reference split) on the timeline. */
export interface TimelineEntry {
  split: string; name: string; time: number | null; time_iso?: string | null; time_source?: string | null;
  samples: number;
  metrics: Record<string, Valued | null>;
  drift_verdict: boolean | null; domain_shifted: boolean | null; estimate_method?: string;
  per_class: Record<string, Record<string, Valued | number | null>>;
}
/** An alert rule's state on one set of the timeline. */
export interface TimelineAlert {
  rule_id: string | number; set: string; state: 'ok' | 'firing' | 'resolved'; value?: number | null; threshold?: number | null;
  metric?: string; class?: string | null; rule_name?: string;
}
export interface Timeline {
  project: string; run: string;
  reference: { training?: TimelineEntry | null; validation?: TimelineEntry | null };
  sets: TimelineEntry[];
  alerts?: TimelineAlert[];
}
/** A test of a change; the map's regions also carry p_value_adjusted (Bonferroni over the cells), which `significant` uses. */
export interface TestResult { name: string; statistic: number; df: number | null; p_value: number; significant: boolean; p_value_adjusted?: number }
export interface CompareMetric { name: string; a: Valued | null; b: Valued | null; change: number | null; test: TestResult | null; note?: string }
export interface CompareVerdict { drifted: boolean | null; fraction: number; low: number | null; high: number | null; p_value: number | null; is_reference: boolean }
export interface CompareDomain extends Valued { shifted: boolean; p_value: number | null; reference: string }
export interface CompareRegion {
  cell: { col: number; row: number; x0: number; x1: number; y0: number; y1: number };
  a: { count: number; share: number }; b: { count: number; share: number }; change: number; test: TestResult | null;
  b_pred_counts: Record<string, number>;
  examples: { id: string; text: string; pred: string; confidence: number; is_drifted: boolean | null }[];
  filter: { polygon: [number, number][] }; link: string;
}
export interface Comparison {
  project: string; run: string; alpha: number;
  a: { split: string; samples: number; labeled: boolean }; b: { split: string; samples: number; labeled: boolean };
  metrics: CompareMetric[];
  drift_verdicts: { a: CompareVerdict | null; b: CompareVerdict | null; changed: boolean | null;
    domain: { a: CompareDomain | null; b: CompareDomain | null } };
  class_shares: { test: TestResult | null; note?: string; classes: { label: string; a: { count: number; share: number }; b: { count: number; share: number }; change: number; test: TestResult | null }[] };
  confidence_per_class: { label: string; a: { n: number; mean: number | null; sd: number | null }; b: { n: number; mean: number | null; sd: number | null }; change: number | null; test: TestResult | null }[];
  regions: { grid: number; bounds: { x0: number; x1: number; y0: number; y1: number }; a_samples: number; b_samples: number;
    grew: CompareRegion[]; shrank: CompareRegion[] } | null;
  regions_note?: string;
}
/** An alert rule (contract of issue 14). */
export interface AlertRule {
  id?: string | number; name: string;
  /** A timeline metric (`drifted_share`, ..., the verdicts `drift_verdict`, `domain_shifted`), or its path (`per_class.L.x`). */
  metric: string;
  /** null: overall; a label; '*': each class on its own. */
  class: string | null;
  kind: 'threshold' | 'band' | 'change_from_training';
  /** A band: null (either side), '>' (above only) or '<' (below only). */
  op: '>' | '>=' | '<' | '<=' | null; value: number | null;
  /** change_from_training: compare the size of the change. */
  abs?: boolean;
  band?: { first_n: number; k: number } | null; run: string | null; enabled: boolean; builtin?: boolean;
  severity?: 'info' | 'warning' | 'critical'; description?: string; path?: string;
}
export interface AlertState {
  rule_id: string | number; run: string; set: string; class?: string | null; state: 'ok' | 'firing' | 'resolved'; value?: number | null;
  threshold?: number | null; detail?: string | null; since?: number | string | null; updated?: number | string | null;
}
export interface Webhook { id: string | number; url: string; name?: string; enabled?: boolean; signed?: boolean; created?: number | string | null }
/** One webhook delivery (also the answer of a test send). */
export interface Delivery {
  id?: string | number; webhook_id: string | number; url?: string; event?: string; rule_id?: string; run?: string; set?: string;
  status?: 'pending' | 'delivered' | 'failed' | string; attempts?: number; last_code?: number | null; last_error?: string | null;
  created?: number | string | null; updated?: number | string | null; delivered?: number | string | null;
}

function projectPath(p: string): string { return `/api/projects/${enc(p)}`; }

export const monitorApi = {
  timeline: (p: string, r: string) => call<Timeline>('GET', `${runPath(p, r)}/timeline`),
  compare: (p: string, r: string, a: string, b: string) =>
    call<Comparison>('GET', `${runPath(p, r)}/compare?${new URLSearchParams({ a, b })}`),
  rules: (p: string) => call<{ rules: AlertRule[] }>('GET', `${projectPath(p)}/alerts/rules`),
  addRule: (p: string, rule: AlertRule) => call<AlertRule>('POST', `${projectPath(p)}/alerts/rules`, rule),
  updateRule: (p: string, id: string | number, rule: AlertRule) =>
    call<AlertRule>('PUT', `${projectPath(p)}/alerts/rules/${enc(String(id))}`, rule),
  removeRule: (p: string, id: string | number) => call<unknown>('DELETE', `${projectPath(p)}/alerts/rules/${enc(String(id))}`),
  states: (p: string, run?: string) =>
    call<{ states: AlertState[] }>('GET', `${projectPath(p)}/alerts/states${run ? `?run=${enc(run)}` : ''}`),
  webhooks: (p: string) => call<{ webhooks: Webhook[] }>('GET', `${projectPath(p)}/alerts/webhooks`),
  addWebhook: (p: string, hook: { url: string; name?: string }) => call<Webhook>('POST', `${projectPath(p)}/alerts/webhooks`, hook),
  removeWebhook: (p: string, id: string | number) => call<unknown>('DELETE', `${projectPath(p)}/alerts/webhooks/${enc(String(id))}`),
  testWebhook: (p: string, id: string | number) => call<Delivery>('POST', `${projectPath(p)}/alerts/webhooks/${enc(String(id))}/test`, {}),
  deliveries: (p: string) => call<{ deliveries: Delivery[] }>('GET', `${projectPath(p)}/alerts/deliveries`),
};
