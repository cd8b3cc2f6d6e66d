// The embeddings map: a WebGL2 scatter (canvas 2D when WebGL is unavailable), the current
// split drawn over training, colour by predicted/gold class, drift score, drifted, shift score,
// confidence or split, pan/zoom, and a lasso that filters the table (samples/query with "polygon").
// It follows the table: the points the filters do not match are dimmed or hidden
// (map_filter.ts), the view zooms to the matching ones, and hovering a point shows its text.
// NER runs can switch it to span level (spans/map): one point per span row, coloured by
// predicted or gold entity type, error type, drifted or confidence; a click opens the span.
import { api, type MapAnswer, type Sample, type SpanPoint } from './api';
import { PALETTE, clear, fmt, h, splitLabel } from './dom';
import { ERROR_COLORS, ERROR_TITLES, ERROR_TYPES, entityTypes } from './ner';
import { driftedFlags, matchFor, pointInPolygon, type MatchResult } from './map_filter';
import type { MapColor, RunState } from './state';

type ColorBy = 'pred' | 'gold' | 'drift_score' | 'shift' | 'confidence' | 'split' | 'error_type' | 'drifted';
const SAMPLE_COLORS: [ColorBy, string][] = [['pred', 'predicted class'], ['gold', 'gold class'], ['drift_score', 'drift score'], ['drifted', 'drifted'], ['shift', 'shift score'], ['confidence', 'confidence'], ['split', 'split']];
// The URL's names of the sample map's colour modes (state.ts) and the map's own.
const toColorBy = (c: MapColor): ColorBy => (c === 'drift' ? 'drift_score' : c);
const toMapColor = (c: ColorBy): MapColor => (c === 'drift_score' ? 'drift' : c as MapColor);
/** Points asked of the server per split (the match is aligned with the same downsampling). */
// A split of up to 100k samples is drawn point for point (a larger one on a grid of 100k cells).
const MAX_POINTS = 100000;
/** At most this many matching points are ringed (find similar's default is 50). */
const RING_MAX = 60;
const SPAN_COLORS: [ColorBy, string][] = [['pred', 'predicted type'], ['gold', 'gold type'], ['error_type', 'error type'], ['drifted', 'drifted'], ['confidence', 'confidence'], ['split', 'split']];

/**
 * The span map's points in the sample map's columnar shape: `pred`/`gold` index the entity
 * types, `id` is the span row (the key of the overlay's rings), `sample` its sample id.
 */
interface SpanCols { sample: string[]; error: (string | null)[]; drifted: (boolean | null)[] }
function spanAnswer(points: SpanPoint[], splits: string[], types: string[]): { data: MapAnswer; extra: Map<string, SpanCols> } {
  const extra = new Map<string, SpanCols>();
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  const out = splits.map((split) => {
    const ps = points.filter((p) => p.split === split);
    for (const p of ps) { x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x); y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y); }
    extra.set(split, { sample: ps.map((p) => p.sample_id), error: ps.map((p) => p.error_type), drifted: ps.map((p) => p.is_drifted) });
    return { split, total: ps.length, points: {
      x: ps.map((p) => p.x), y: ps.map((p) => p.y), id: ps.map((p) => String(p.span_row)),
      pred: ps.map((p) => (p.pred ? types.indexOf(p.pred) : -1)), gold: ps.map((p) => (p.gold ? types.indexOf(p.gold) : -1)),
      confidence: ps.map((p) => p.confidence), drift_score: ps.map(() => null), count: ps.map(() => 1) } };
  });
  if (!Number.isFinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  return { data: { bounds: { x0, x1, y0, y1 }, splits: out }, extra };
}

function hexRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255];
}

// The class colours as RGB, parsed once (a build colours every point).
const CLASS_RGB = PALETTE.map(hexRgb);
const NO_CLASS_RGB = hexRgb('#666c78');
function classRgb(i: number): [number, number, number] { return i < 0 ? NO_CLASS_RGB : CLASS_RGB[i % CLASS_RGB.length]; }

// A sequential ramp (viridis-like) for scores in [0, 1].
const RAMP = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'].map(hexRgb);
function ramp(t: number): [number, number, number] {
  t = Math.min(1, Math.max(0, t));
  const x = t * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((k) => RAMP[i][k] * (1 - f) + RAMP[i + 1][k] * f) as [number, number, number];
}

const VS = `#version 300 es
in vec2 a_pos; in vec4 a_col; in float a_scale;
uniform vec2 u_scale; uniform vec2 u_offset; uniform float u_size;
out vec4 v_col;
void main() {
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  gl_PointSize = u_size * a_scale;
  v_col = a_col;
}`;
const FS = `#version 300 es
precision mediump float;
in vec4 v_col; out vec4 o;
void main() {
  vec2 d = gl_PointCoord - vec2(0.5);
  float r = dot(d, d);
  if (r > 0.25) discard;
  o = vec4(v_col.rgb * v_col.a, v_col.a);
}`;

/** The drawn points of a split; `src[i]` is point i's index in the map's answer (hidden ones are left out). */
interface Layer {
  split: string; n: number; xy: Float32Array; col: Float32Array; scale: Float32Array; ids: string[]; index: Map<string, number>; src: Int32Array;
  /** The WebGL buffers of xy, col and scale (made on the first draw, freed on the next build). */
  buffers?: WebGLBuffer[];
}

export class EmbeddingMap {
  el: HTMLElement;
  private canvas: HTMLCanvasElement;
  private overlay: HTMLCanvasElement;
  private legend: HTMLElement;
  private info: HTMLElement;
  private tip: HTMLElement;
  private gl: WebGL2RenderingContext | null = null;
  private ctx2d: CanvasRenderingContext2D | null = null;
  private prog: WebGLProgram | null = null;
  private data: MapAnswer | null = null;
  private layers: Layer[] = [];
  private colorBy: ColorBy = 'pred';
  private level: 'samples' | 'spans' = 'samples';
  private spanCols = new Map<string, SpanCols>();
  private mode: 'lasso' | 'pan' = 'lasso';
  // view: data centre and data units per CSS pixel
  private cx = 0; private cy = 0; private upp = 1;
  private lasso: [number, number][] | null = null;
  private drag: { x: number; y: number; cx: number; cy: number } | null = null;
  private showTraining = true;
  private userView = false;
  /** The filters' match of the current split's points (null: no filter). */
  private match: MatchResult | null = null;
  private matchSeq = 0;
  private matchKey = '';
  /** Zoomed to the matching points (the "All" button fits every point again). */
  private zoomedToMatch = false;
  /** Per split, the drifted flag of each point (the map's own, or from the samples API). */
  private driftedBy = new Map<string, (0 | 1 | null)[] | null>();
  /** The splits whose drifted flags are being asked of the samples API. */
  private driftedLoading = new Set<string>();
  private caption: HTMLElement;
  private hoverCache = new Map<string, Sample | Promise<Sample | null>>();
  private hoverKey = '';
  private hoverTimer: number | undefined;
  private hoverAt: [number, number] | null = null;
  private hoverFrame = 0;
  renderer = 'none';

  constructor(private st: RunState) {
    this.canvas = h('canvas', { class: 'map-canvas', 'data-testid': 'map-canvas' });
    this.overlay = h('canvas', { class: 'map-overlay', 'data-testid': 'map-overlay' });
    this.legend = h('div', { class: 'map-legend', 'data-testid': 'map-legend' });
    this.info = h('div', { class: 'map-info', 'data-testid': 'map-info' });
    this.tip = h('div', { class: 'map-tip', 'data-testid': 'map-tip', hidden: true });
    this.caption = h('div', { class: 'map-caption small muted', 'data-testid': 'map-caption' });
    this.colorBy = toColorBy(st.mapColor);
    const colorSel = h('select', { 'data-testid': 'map-color', 'aria-label': 'Map colour', onchange: (e: Event) => {
      const v = (e.target as HTMLSelectElement).value as ColorBy;
      // The sample map's colour is part of the view (URL); the span map's is its own.
      if (this.level === 'samples') st.setMapColor(toMapColor(v)); else { this.colorBy = v; this.build(); }
    } }, ...SAMPLE_COLORS.map(([v, t]) => h('option', { value: v, selected: v === this.colorBy }, t)));
    const filterSel = h('select', { 'data-testid': 'map-filter-mode', 'aria-label': 'Points outside the filters', title: 'the points the filters do not match',
      onchange: (e: Event) => st.setMapFilter((e.target as HTMLSelectElement).value as 'dim' | 'hide') },
    h('option', { value: 'dim', selected: st.mapFilter === 'dim' }, 'dim others'), h('option', { value: 'hide', selected: st.mapFilter === 'hide' }, 'hide others'));
    const levelSel = st.isNer ? h('select', { 'data-testid': 'map-level', 'aria-label': 'Map level', onchange: (e: Event) => {
      this.level = (e.target as HTMLSelectElement).value as 'samples' | 'spans';
      clear(colorSel);
      for (const [v, t] of this.level === 'spans' ? SPAN_COLORS : SAMPLE_COLORS) colorSel.append(h('option', { value: v }, t));
      this.colorBy = this.level === 'spans' ? 'pred' : toColorBy(st.mapColor);
      colorSel.value = this.colorBy;
      // The span API has no polygon filter: at span level a lasso is not offered.
      this.el.querySelectorAll<HTMLButtonElement>('[data-mode=lasso]').forEach((b) => { b.disabled = this.level === 'spans'; });
      if (this.level === 'spans') (this.el.querySelector('[data-mode=pan]') as HTMLElement | null)?.click();
      void this.load();
    } }, h('option', { value: 'samples' }, 'samples'), h('option', { value: 'spans' }, 'spans')) : null;
    const modeBtn = (m: 'lasso' | 'pan', label: string) => h('button', {
      class: `btn btn-sm seg ${this.mode === m ? 'on' : ''}`, 'data-testid': `map-mode-${m}`, 'data-mode': m,
      onclick: (e: Event) => {
        this.mode = m;
        (e.currentTarget as HTMLElement).parentElement!.querySelectorAll('.seg').forEach((b) => b.classList.toggle('on', (b as HTMLElement).dataset.mode === m));
        this.overlay.style.cursor = m === 'lasso' ? 'crosshair' : 'grab';
      },
    }, label);
    const trainToggle = h('label', { class: 'inline' }, h('input', { type: 'checkbox', checked: true, 'data-testid': 'map-show-training',
      onchange: (e: Event) => { this.showTraining = (e.target as HTMLInputElement).checked; this.renderLegend(); this.renderCaption(); this.draw(); } }), 'training');
    this.el = h('section', { class: 'card map-card', 'data-testid': 'map' },
      h('div', { class: 'card-head' }, h('h2', { title: 'The 2-D map of the embeddings' }, 'Map'),
        h('div', { class: 'toolbar' },
          levelSel ? h('label', { class: 'inline' }, 'level ', levelSel) : null,
          h('span', { class: 'seg-group' }, modeBtn('lasso', 'Lasso'), modeBtn('pan', 'Pan')),
          h('label', { class: 'inline' }, 'colour ', colorSel), trainToggle, filterSel,
          h('button', { class: 'btn btn-sm btn-ghost', 'data-testid': 'map-reset', title: 'Fit every point', onclick: () => { this.userView = false; this.zoomedToMatch = false; this.fit(); this.renderCaption(); this.draw(); } }, 'All'),
          h('button', { class: 'btn btn-sm btn-ghost', 'data-testid': 'map-fit-match', title: 'Zoom to the points the filters match', onclick: () => { this.fitMatch(); this.draw(); } }, 'Matches'),
          h('button', { class: 'btn btn-sm btn-ghost', 'data-testid': 'map-clear-lasso', onclick: () => st.setFilter({ polygon: undefined }) }, 'Clear lasso'))),
      h('div', { class: 'map-wrap' }, this.canvas, this.overlay, this.info, this.tip), this.legend, this.caption);
    this.overlay.style.cursor = 'crosshair';
    this.initGl();
    this.bindPointer();
    new ResizeObserver(() => this.resize()).observe(this.canvas);
    st.on('split', () => void this.load());
    st.on('hover', () => this.drawOverlay());
    st.on('filter', () => void this.updateMatch());
    st.on('map', () => {
      if (this.level === 'samples') { this.colorBy = toColorBy(st.mapColor); colorSel.value = this.colorBy; }
      filterSel.value = st.mapFilter;
      this.build();
    });
    void this.load();
  }

  private initGl(): void {
    // ?renderer=canvas2d forces the fallback (used by the browser test).
    const force2d = new URLSearchParams(location.search).get('renderer') === 'canvas2d';
    const gl = force2d ? null : this.canvas.getContext('webgl2', { antialias: true, premultipliedAlpha: true, preserveDrawingBuffer: true });
    if (gl) {
      const sh = (type: number, src: string) => {
        const s = gl.createShader(type)!; gl.shaderSource(s, src); gl.compileShader(s);
        if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s) ?? 'shader');
        return s;
      };
      try {
        const p = gl.createProgram()!;
        gl.attachShader(p, sh(gl.VERTEX_SHADER, VS)); gl.attachShader(p, sh(gl.FRAGMENT_SHADER, FS));
        gl.linkProgram(p);
        if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p) ?? 'link');
        this.gl = gl; this.prog = p; this.renderer = 'webgl2';
      } catch (e) { console.warn('WebGL2 unavailable, canvas 2D fallback', e); }
    }
    if (!this.gl) {
      this.ctx2d = this.canvas.getContext('2d');
      this.renderer = this.ctx2d ? 'canvas2d' : 'none';
    }
    this.el.dataset.renderer = this.renderer;
  }

  async load(): Promise<void> {
    const splits = this.st.split === 'training' ? ['training'] : ['training', this.st.split];
    this.info.textContent = 'loading map…';
    delete this.el.dataset.ready;
    this.el.dataset.level = this.level;
    try {
      if (this.level === 'spans') {
        const r = spanAnswer((await api.spansMap(this.st.project, this.st.run, splits, 50000)).points, splits, entityTypes(this.st.info.labels));
        this.data = r.data; this.spanCols = r.extra;
      } else {
        this.data = await api.map(this.st.project, this.st.run, splits, MAX_POINTS);
      }
    } catch (e) {
      this.info.textContent = `map unavailable: ${(e as Error).message}`;
      this.data = null; this.dropLayers(); this.draw();
      return;
    }
    this.userView = false;
    this.zoomedToMatch = false;
    this.driftedBy.clear();
    this.driftedLoading.clear();
    this.match = null; this.matchKey = '';
    this.fit();
    this.build();
    await this.updateMatch();
    this.el.dataset.ready = '1';
  }

  /**
   * Asks which points of the current split the filters match, then dims or hides the others
   * and zooms to the matching ones (not for a lasso: it was drawn on the view as it is).
   */
  private async updateMatch(): Promise<void> {
    const seq = ++this.matchSeq;
    const sp = this.data?.splits.find((s) => s.split === this.st.split);
    if (!sp || this.level !== 'samples') {
      this.match = null;
      if (this.data) this.build(); else this.drawOverlay();
      return;
    }
    const { polygon, ...rest } = this.st.filter;
    const key = JSON.stringify([this.st.split, rest]);
    const onlyLasso = key === this.matchKey;
    this.el.dataset.matching = '1';
    let m: MatchResult;
    try { m = await matchFor(this.st, sp, MAX_POINTS); } catch (e) {
      if (seq !== this.matchSeq) return;
      m = { match: null, matched: 0, source: 'none', note: `the map cannot show this filter: ${(e as Error).message}` };
    }
    if (seq !== this.matchSeq) return;
    this.matchKey = key;
    this.match = m;
    delete this.el.dataset.matching;
    this.el.dataset.matchSource = m.source;
    if (m.match) this.el.dataset.matched = String(m.matched); else delete this.el.dataset.matched;
    if (m.match && m.matched > 0 && !onlyLasso) this.fitMatch();
    else if (!m.match && this.zoomedToMatch) { this.zoomedToMatch = false; this.userView = false; this.fit(); }
    this.build();
  }

  /** Zooms to the matching points of the current split (12 px margins, as `fit`). */
  private fitMatch(): void {
    const sp = this.data?.splits.find((s) => s.split === this.st.split);
    const m = this.match?.match;
    if (!sp || !m) return;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < m.length; i++) {
      if (!m[i]) continue;
      const x = sp.points.x[i], y = sp.points.y[i];
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    if (!Number.isFinite(x0)) return;
    const b = this.data!.bounds;
    // A lone point (or a line) gets a tenth of the map around it.
    const padX = Math.max((x1 - x0) * 0.08, (b.x1 - b.x0) * 0.05), padY = Math.max((y1 - y0) * 0.08, (b.y1 - b.y0) * 0.05);
    x0 -= padX; x1 += padX; y0 -= padY; y1 += padY;
    const w = this.canvas.clientWidth || 400, hh = this.canvas.clientHeight || 300;
    this.cx = (x0 + x1) / 2; this.cy = (y0 + y1) / 2;
    this.upp = Math.max((x1 - x0) / (w - 24), (y1 - y0) / (hh - 24), 1e-9);
    // The view stays put on resizes until "All".
    this.userView = true;
    this.zoomedToMatch = true;
    this.el.dataset.zoom = 'match';
  }

  private fit(): void {
    if (!this.data) return;
    delete this.el.dataset.zoom;
    const b = this.data.bounds;
    const w = this.canvas.clientWidth || 400, hh = this.canvas.clientHeight || 300;
    this.cx = (b.x0 + b.x1) / 2; this.cy = (b.y0 + b.y1) / 2;
    this.upp = Math.max((b.x1 - b.x0) / (w - 24), (b.y1 - b.y0) / (hh - 24), 1e-9);
  }

  /**
   * Builds the per-point colours; training first (dimmed) so the current split lies on top.
   * The current split's points outside the filters are dimmed, or left out when hidden.
   */
  private dropLayers(): void {
    if (this.gl) for (const l of this.layers) for (const b of l.buffers ?? []) this.gl.deleteBuffer(b);
    this.layers = [];
  }

  private build(): void {
    this.dropLayers();
    if (!this.data) { this.draw(); return; }
    const t0 = performance.now();
    const ordered = [...this.data.splits].sort((a, b) => (a.split === 'training' ? 0 : 1) - (b.split === 'training' ? 0 : 1));
    const spans = this.level === 'spans';
    // Drifted colours of the sample map: the map's flags, or asked of the samples API once.
    if (!spans && this.colorBy === 'drifted') {
      const missing = ordered.filter((sp) => !this.driftedBy.has(sp.split));
      if (missing.length) {
        for (const sp of missing) this.driftedBy.set(sp.split, sp.points.drifted ?? null);
        const ask = missing.filter((sp) => !sp.points.drifted);
        if (ask.length) {
          const data = this.data;
          for (const sp of ask) this.driftedLoading.add(sp.split);
          void Promise.all(ask.map((sp) => driftedFlags(this.st, sp).catch(() => null).then((d) => {
            if (this.data === data) { this.driftedBy.set(sp.split, d); this.driftedLoading.delete(sp.split); }
          })))
            .then(() => { if (this.data === data) this.build(); });
        }
      }
    }
    const DIM = 0.14;
    const filtered = !spans && !!this.match?.match;
    for (const sp of ordered) {
      const P = sp.points;
      const m = P.x.length;
      const cur = sp.split === this.st.split;
      const match = cur && !spans ? this.match?.match ?? null : null;
      const hide = match !== null && this.st.mapFilter === 'hide';
      const src: number[] = [];
      for (let i = 0; i < m; i++) if (!hide || match![i]) src.push(i);
      const k = src.length;
      const xy = new Float32Array(k * 2);
      const col = new Float32Array(k * 4);
      // A downsampled point stands for `count` samples: drawn larger (log scale, capped).
      const scale = new Float32Array(k);
      const bg = sp.split === 'training' && this.st.split !== 'training';
      const splitIdx = sp.split === 'training' ? 0 : 1;
      const drifted = spans ? null : this.driftedBy.get(sp.split) ?? null;
      const ids: string[] = new Array(k);
      for (let j = 0; j < k; j++) {
        const i = src[j];
        ids[j] = P.id[i];
        scale[j] = Math.min(3, 1 + 0.35 * Math.log2(Math.max(1, P.count?.[i] ?? 1)));
        xy[2 * j] = P.x[i]; xy[2 * j + 1] = P.y[i];
        let c: [number, number, number];
        switch (this.colorBy) {
          case 'pred': c = classRgb(P.pred[i]); break;
          case 'gold': c = classRgb(P.gold?.[i] ?? -1); break;
          case 'drift_score': { const d = P.drift_score?.[i]; c = d === null || d === undefined ? [0.45, 0.47, 0.52] : ramp(d); break; }
          // The shift score: only inference samples of a set with a domain test have one.
          case 'shift': { const d = P.shift_score?.[i]; c = d === null || d === undefined ? [0.45, 0.47, 0.52] : ramp(d); break; }
          case 'confidence': c = ramp(P.confidence[i]); break;
          case 'split': c = splitIdx === 0 ? [0.55, 0.6, 0.7] : hexRgb('#f28e2b'); break;
          case 'error_type': { const t = this.spanCols.get(sp.split)?.error[i]; c = hexRgb(t ? ERROR_COLORS[t] ?? '#666c78' : '#666c78'); break; }
          case 'drifted': {
            const d = spans ? this.spanCols.get(sp.split)?.drifted[i] : drifted?.[i];
            c = d === null || d === undefined ? [0.45, 0.47, 0.52] : d ? hexRgb('#ef5b5b') : hexRgb('#4e79a7');
            break;
          }
        }
        let a = bg ? 0.28 : 0.85;
        // Outside the filters: faint and greyed, so the matching points stand out in context.
        // (Training under a filtered split steps back the same way: the filters are the split's.)
        if ((match && !match[i]) || (bg && filtered)) { a = DIM; c = [0.45 + 0.25 * c[0], 0.47 + 0.25 * c[1], 0.52 + 0.25 * c[2]]; }
        col.set([c[0], c[1], c[2], a], 4 * j);
      }
      this.layers.push({ split: sp.split, n: k, xy, col, scale, ids, index: new Map(ids.map((id, j) => [id, j])), src: Int32Array.from(src) });
    }
    this.el.dataset.buildMs = (performance.now() - t0).toFixed(1);
    this.el.dataset.color = this.colorBy;
    this.renderLegend();
    this.renderCaption();
    this.draw();
  }

  /** The caption: what is drawn (points, downsampling, training hidden) and what the filters match. */
  private renderCaption(): void {
    if (!this.data) return;
    const spans = this.level === 'spans';
    const vis = this.visibleLayers();
    const n = vis.reduce((a, l) => a + l.n, 0);
    const total = this.data.splits.filter((sp) => vis.some((l) => l.split === sp.split)).reduce((a, sp) => a + sp.total, 0);
    const all = this.data.splits.filter((sp) => vis.some((l) => l.split === sp.split)).reduce((a, sp) => a + sp.points.x.length, 0);
    const what = spans ? 'spans' : 'samples';
    this.el.dataset.visiblePoints = String(n);
    this.info.textContent = `${n.toLocaleString()} ${spans ? 'span ' : ''}points${total > all ? ` for ${total.toLocaleString()} ${what} (downsampled)` : ''} · ${this.renderer}`;
    clear(this.caption);
    const parts: string[] = [];
    if (this.st.split !== 'training') parts.push(this.showTraining ? `${splitLabel(this.st.split)} over training (dimmed)` : `${splitLabel(this.st.split)} only (training hidden)`);
    const m = this.match;
    if (m?.match) {
      const cur = this.data.splits.find((sp) => sp.split === this.st.split);
      parts.push(`${m.matched.toLocaleString()} of ${(cur?.points.x.length ?? 0).toLocaleString()} ${splitLabel(this.st.split)} points match the filters (others ${this.st.mapFilter === 'hide' ? 'hidden' : 'dimmed'})`);
      if (this.zoomedToMatch) parts.push('zoomed to them: “All” shows every point');
    } else if (m?.note) parts.push(m.note);
    this.caption.textContent = parts.join(' · ');
  }

  private renderLegend(): void {
    clear(this.legend);
    const item = (color: string, label: string) => h('span', { class: 'legend-item' }, h('i', { style: { background: color } }), label);
    if (this.level === 'spans' && (this.colorBy === 'pred' || this.colorBy === 'gold')) {
      entityTypes(this.st.info.labels).forEach((l, i) => this.legend.append(item(PALETTE[i % PALETTE.length], l)));
      this.legend.append(item('#666c78', this.colorBy === 'gold' ? 'no gold' : 'no prediction'));
    } else if (this.colorBy === 'error_type') {
      for (const e of ERROR_TYPES) this.legend.append(item(ERROR_COLORS[e], ERROR_TITLES[e]));
      this.legend.append(item('#666c78', 'n/a (inference)'));
    } else if (this.colorBy === 'drifted') {
      const trainingShown = this.st.split === 'training' || this.showTraining;
      this.legend.append(item('#ef5b5b', this.st.labeled && this.level === 'samples' ? 'drifted (out of coverage)' : 'drifted'), item('#4e79a7', 'not drifted'));
      if (trainingShown) this.legend.append(item('#737885', this.st.split === 'training' ? 'n/a (training is the reference)' : 'n/a (training)'));
      if (this.level === 'samples' && this.driftedLoading.has(this.st.split)) {
        this.legend.append(h('span', { class: 'legend-note muted' }, 'loading the drifted flags…'));
      } else if (this.level === 'samples' && this.st.split !== 'training' && this.driftedBy.get(this.st.split) === null) {
        this.legend.append(h('span', { class: 'legend-note muted' }, 'drifted flags unavailable from this server (too many samples): use the drift score'));
      }
    } else if (this.colorBy === 'pred' || this.colorBy === 'gold') {
      this.st.info.labels.forEach((l, i) => this.legend.append(item(PALETTE[i % PALETTE.length], l)));
      if (this.colorBy === 'gold') this.legend.append(item('#666c78', 'unlabeled'));
    } else if (this.colorBy === 'split') {
      this.legend.append(item('rgb(140,153,179)', 'training'));
      if (this.st.split !== 'training') this.legend.append(item('#f28e2b', splitLabel(this.st.split)));
    } else {
      this.legend.append(h('span', { class: 'legend-item' }, '0',
        h('i', { class: 'ramp', style: { background: 'linear-gradient(90deg,#440154,#3b528b,#21918c,#5ec962,#fde725)' } }), '1'));
    }
    if (this.match?.match) this.legend.append(item(`rgba(140,140,140,0.25)`, this.st.mapFilter === 'hide' ? 'outside the filters: hidden' : 'outside the filters'));
  }

  private resize(): void {
    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.canvas, this.overlay]) {
      c.width = Math.max(1, Math.round(c.clientWidth * dpr));
      c.height = Math.max(1, Math.round(c.clientHeight * dpr));
    }
    // Until the user pans or zooms, the view follows the canvas' size.
    if (this.data && !this.userView) this.fit();
    this.draw();
  }

  private visibleLayers(): Layer[] {
    return this.layers.filter((l) => this.showTraining || l.split !== 'training' || this.st.split === 'training');
  }

  draw(): void {
    const w = this.canvas.clientWidth, hh = this.canvas.clientHeight;
    const dpr = window.devicePixelRatio || 1;
    const layers = this.visibleLayers();
    if (this.gl && this.prog) {
      const gl = this.gl;
      gl.viewport(0, 0, this.canvas.width, this.canvas.height);
      gl.clearColor(0, 0, 0, 0); gl.clear(gl.COLOR_BUFFER_BIT);
      gl.enable(gl.BLEND); gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
      gl.useProgram(this.prog);
      const sx = 2 / (this.upp * w), sy = 2 / (this.upp * hh);
      gl.uniform2f(gl.getUniformLocation(this.prog, 'u_scale'), sx, sy);
      gl.uniform2f(gl.getUniformLocation(this.prog, 'u_offset'), -this.cx * sx, -this.cy * sy);
      const total = layers.reduce((a, l) => a + l.n, 0);
      gl.uniform1f(gl.getUniformLocation(this.prog, 'u_size'), (total > 20000 ? 3 : total > 3000 ? 4.5 : 6) * dpr);
      const aPos = gl.getAttribLocation(this.prog, 'a_pos'), aCol = gl.getAttribLocation(this.prog, 'a_col');
      const aScale = gl.getAttribLocation(this.prog, 'a_scale');
      for (const l of layers) {
        // Uploaded once per build: a pan or zoom only redraws (100k+ points stay smooth).
        if (!l.buffers) {
          const up = (data: Float32Array) => { const b = gl.createBuffer()!; gl.bindBuffer(gl.ARRAY_BUFFER, b); gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW); return b; };
          l.buffers = [up(l.xy), up(l.col), up(l.scale)];
        }
        const [b1, b2, b3] = l.buffers;
        gl.bindBuffer(gl.ARRAY_BUFFER, b1); gl.enableVertexAttribArray(aPos); gl.vertexAttribPointer(aPos, 2, gl.FLOAT, false, 0, 0);
        gl.bindBuffer(gl.ARRAY_BUFFER, b2); gl.enableVertexAttribArray(aCol); gl.vertexAttribPointer(aCol, 4, gl.FLOAT, false, 0, 0);
        gl.bindBuffer(gl.ARRAY_BUFFER, b3); gl.enableVertexAttribArray(aScale); gl.vertexAttribPointer(aScale, 1, gl.FLOAT, false, 0, 0);
        gl.drawArrays(gl.POINTS, 0, l.n);
      }
    } else if (this.ctx2d) {
      const c = this.ctx2d;
      c.setTransform(dpr, 0, 0, dpr, 0, 0);
      c.clearRect(0, 0, w, hh);
      const r = 2;
      for (const l of layers) {
        for (let i = 0; i < l.n; i++) {
          const [px, py] = this.toScreen(l.xy[2 * i], l.xy[2 * i + 1]);
          c.fillStyle = `rgba(${l.col[4 * i] * 255 | 0},${l.col[4 * i + 1] * 255 | 0},${l.col[4 * i + 2] * 255 | 0},${l.col[4 * i + 3]})`;
          const rr = r * l.scale[i];
          c.fillRect(px - rr, py - rr, 2 * rr, 2 * rr);
        }
      }
    }
    this.drawOverlay();
  }

  toScreen(x: number, y: number): [number, number] {
    const w = this.canvas.clientWidth, hh = this.canvas.clientHeight;
    return [w / 2 + (x - this.cx) / this.upp, hh / 2 - (y - this.cy) / this.upp];
  }

  toData(px: number, py: number): [number, number] {
    const w = this.canvas.clientWidth, hh = this.canvas.clientHeight;
    return [this.cx + (px - w / 2) * this.upp, this.cy - (py - hh / 2) * this.upp];
  }

  private drawOverlay(): void {
    const c = this.overlay.getContext('2d');
    if (!c) return;
    const dpr = window.devicePixelRatio || 1;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, this.overlay.clientWidth, this.overlay.clientHeight);
    const poly = this.lasso ?? this.st.filter.polygon;
    if (poly && poly.length > 1) {
      c.beginPath();
      poly.forEach(([x, y], i) => { const [px, py] = this.toScreen(x, y); if (i) c.lineTo(px, py); else c.moveTo(px, py); });
      if (!this.lasso) c.closePath();
      c.fillStyle = 'rgba(94, 177, 255, 0.12)'; c.fill();
      c.strokeStyle = '#5eb1ff'; c.lineWidth = 1.5; c.setLineDash(this.lasso ? [4, 3] : []); c.stroke();
    }
    // A few matching samples (up to RING_MAX: find similar, a selection, a narrow filter) are ringed, so that
    // they are found on a dense map; without a match yet, the samples filtered by id.
    const spans = this.level === 'spans';
    const cur = spans ? undefined : this.layers.find((l) => l.split === this.st.split);
    const m = this.match?.match;
    let ringed: Iterable<number> = [];
    if (cur && m && this.match!.matched <= RING_MAX) ringed = (function* () { for (let j = 0; j < cur.n; j++) if (m[cur.src[j]]) yield j; })();
    else if (cur && !m && this.st.filter.ids?.length) ringed = this.st.filter.ids.map((id) => cur.index.get(id)).filter((i): i is number => i !== undefined);
    if (cur) {
      c.setLineDash([]); c.strokeStyle = '#f0b429'; c.lineWidth = 1.5;
      for (const i of ringed) {
        const [px, py] = this.toScreen(cur.xy[2 * i], cur.xy[2 * i + 1]);
        c.beginPath(); c.arc(px, py, 5, 0, Math.PI * 2); c.stroke();
      }
    }
    const hov = spans ? null : this.st.hover;
    const hl = hov ? this.layers.find((l) => l.split === hov.split) : undefined;
    const hi = hov && hl ? hl.index.get(hov.id) : undefined;
    if (hl && hi !== undefined) {
      const [px, py] = this.toScreen(hl.xy[2 * hi], hl.xy[2 * hi + 1]);
      c.setLineDash([]); c.strokeStyle = '#5eb1ff'; c.lineWidth = 2;
      c.beginPath(); c.arc(px, py, 9, 0, Math.PI * 2); c.stroke();
    }
    const open = spans ? (this.st.span ? { split: this.st.span.split, id: String(this.st.span.span_row) } : null) : this.st.open;
    if (open) {
      for (const l of this.layers) {
        if (l.split !== open.split) continue;
        const i = l.index.get(open.id);
        if (i === undefined) continue;
        const [px, py] = this.toScreen(l.xy[2 * i], l.xy[2 * i + 1]);
        c.setLineDash([]); c.strokeStyle = '#fff'; c.lineWidth = 2;
        c.beginPath(); c.arc(px, py, 7, 0, Math.PI * 2); c.stroke();
      }
    }
  }

  /** Refreshes the highlight of the open sample. */
  markOpen(): void { this.drawOverlay(); }

  private bindPointer(): void {
    const o = this.overlay;
    const pos = (e: PointerEvent | WheelEvent) => { const r = o.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top] as [number, number]; };
    o.addEventListener('pointerdown', (e) => {
      o.setPointerCapture(e.pointerId);
      const [px, py] = pos(e);
      if (this.mode === 'lasso' && !e.shiftKey) this.lasso = [this.toData(px, py)];
      else this.drag = { x: px, y: py, cx: this.cx, cy: this.cy };
    });
    o.addEventListener('pointermove', (e) => {
      const [px, py] = pos(e);
      if (this.lasso) { this.lasso.push(this.toData(px, py)); this.drawOverlay(); this.tip.hidden = true; }
      else if (this.drag) {
        this.userView = true;
        this.cx = this.drag.cx - (px - this.drag.x) * this.upp;
        this.cy = this.drag.cy + (py - this.drag.y) * this.upp;
        this.draw();
      } else {
        // One nearest-point search per frame (it scans every point drawn: 200k at 100k samples).
        this.hoverAt = [px, py];
        if (!this.hoverFrame) {
          this.hoverFrame = requestAnimationFrame(() => {
            this.hoverFrame = 0;
            if (this.hoverAt) this.hover(this.hoverAt[0], this.hoverAt[1]);
          });
        }
      }
    });
    o.addEventListener('pointerleave', () => { this.hoverAt = null; this.tip.hidden = true; this.hoverKey = ''; });
    const end = (e: PointerEvent) => {
      if (this.lasso) {
        const pts = this.lasso;
        this.lasso = null;
        const [px, py] = pos(e);
        const [sx, sy] = this.toScreen(pts[0][0], pts[0][1]);
        if (this.level === 'samples' && pts.length >= 3 && Math.hypot(px - sx, py - sy) + pts.length > 8) {
          this.st.setFilter({ polygon: simplify(pts, this.upp * 2) });
        } else {
          this.pick(px, py);
        }
        this.drawOverlay();
      } else if (this.drag) {
        const [px, py] = pos(e);
        if (Math.hypot(px - this.drag.x, py - this.drag.y) < 3) this.pick(px, py);
        this.drag = null;
      }
    };
    o.addEventListener('pointerup', end);
    o.addEventListener('pointercancel', () => { this.lasso = null; this.drag = null; this.drawOverlay(); });
    o.addEventListener('wheel', (e) => {
      e.preventDefault();
      const [px, py] = pos(e);
      const [dx, dy] = this.toData(px, py);
      const k = Math.exp(e.deltaY * 0.0015);
      this.userView = true;
      this.upp *= k;
      // keep the point under the cursor in place
      this.cx = dx - (dx - this.cx) * k; this.cy = dy - (dy - this.cy) * k;
      this.draw();
    }, { passive: false });
  }

  /**
   * The drawn point nearest to a screen position: within 8 px, the current split's first
   * (others by a 2 px handicap). One pass in data units without allocation (200k points in a
   * few ms); points outside the 10 px box are skipped before any distance is taken.
   */
  private nearest(px: number, py: number): { layer: Layer; i: number } | null {
    const [dx, dy] = this.toData(px, py);
    const r = 10 * this.upp;
    let best: { layer: Layer; i: number; d: number } | null = null;
    for (const l of this.visibleLayers()) {
      const bias = l.split === this.st.split ? 0 : 2;
      const xy = l.xy;
      for (let i = 0; i < l.n; i++) {
        const ex = xy[2 * i] - dx;
        if (ex > r || ex < -r) continue;
        const ey = xy[2 * i + 1] - dy;
        if (ey > r || ey < -r) continue;
        const d = Math.sqrt(ex * ex + ey * ey) / this.upp + bias;
        if (d < 8 + bias && (!best || d < best.d)) best = { layer: l, i, d };
      }
    }
    return best;
  }

  private hover(px: number, py: number): void {
    const t0 = performance.now();
    const near = this.data && this.layers.length ? this.nearest(px, py) : null;
    this.el.dataset.hoverMs = (performance.now() - t0).toFixed(1);
    if (!near) { this.tip.hidden = true; this.hoverKey = ''; clearTimeout(this.hoverTimer); return; }
    const sp = this.data!.splits.find((s) => s.split === near.layer.split)!;
    const P = sp.points;
    // The answer's index of the point (hidden points are not in the layer).
    const i = near.layer.src[near.i];
    const place = () => { this.tip.style.left = `${px + 12}px`; this.tip.style.top = `${py + 12}px`; this.tip.hidden = false; };
    let lines: string[];
    let sample: { split: string; id: string } | null = null;
    if (this.level === 'spans') {
      const types = entityTypes(this.st.info.labels);
      const x = this.spanCols.get(near.layer.split);
      const err = x?.error[i];
      lines = [`${splitLabel(near.layer.split)} · ${x?.sample[i]} · span ${P.id[i]}`,
        `pred ${types[P.pred[i]] ?? '–'} (${P.confidence[i].toFixed(2)})`, `gold ${types[P.gold[i]] ?? '–'}`];
      if (err) lines.push(ERROR_TITLES[err] ?? err);
      if (x?.drifted[i]) lines.push('drifted');
      if (x?.sample[i] !== undefined) sample = { split: near.layer.split, id: x.sample[i] };
    } else {
      const labels = this.st.info.labels;
      lines = [`${splitLabel(near.layer.split)} · ${P.id[i]}`, `pred ${labels[P.pred[i]] ?? '?'} (${P.confidence[i].toFixed(2)})`];
      if (P.gold?.[i] !== undefined && P.gold[i] >= 0) lines.push(`gold ${labels[P.gold[i]]}`);
      const d = P.drift_score?.[i];
      if (d !== null && d !== undefined) lines.push(`drift ${d.toFixed(2)}`);
      const sh = P.shift_score?.[i];
      if (sh !== null && sh !== undefined) lines.push(`shift ${sh.toFixed(2)}`);
      if ((P.count?.[i] ?? 1) > 1) lines.push(`stands for ${P.count[i]} samples`);
      sample = { split: near.layer.split, id: P.id[i] };
    }
    this.tip.textContent = lines.join('\n');
    place();
    if (!sample) return;
    // The sample's text and key scores: GET .../samples/{split}/{id}, after the pointer rests
    // a moment (debounced), each sample asked once (cached).
    const key = `${sample.split}\u0000${sample.id}`;
    const base = lines;
    const show = (s: Sample) => {
      if (this.hoverKey !== key || this.tip.hidden) return;
      const text = s.text.length > 240 ? `${s.text.slice(0, 240)}…` : s.text;
      const scores = [`conf ${fmt(s.confidence, 2)}`, `DEP ${fmt(s.dep, 2)}`];
      if (s.is_drifted !== null && s.is_drifted !== undefined) scores.push(s.is_drifted ? 'drifted' : 'not drifted');
      if (s.is_shifted) scores.push('shifted');
      if (s.is_on_the_boundary) scores.push('on the boundary');
      clear(this.tip);
      this.tip.append(h('div', { class: 'map-tip-text', 'data-testid': 'map-tip-text' }, this.st.isNli ? text.replace(' [SEP] ', ' ⟶ ') : text),
        h('div', null, base.join('\n')), h('div', { class: 'muted' }, scores.join(' · ')));
      this.tip.dataset.id = s.id;
    };
    if (this.hoverKey === key) return;
    this.hoverKey = key;
    delete this.tip.dataset.id;
    clearTimeout(this.hoverTimer);
    const cached = this.hoverCache.get(key);
    if (cached && !(cached instanceof Promise)) { show(cached); return; }
    const { split, id } = sample;
    this.hoverTimer = window.setTimeout(() => {
      let p = this.hoverCache.get(key) as Promise<Sample | null> | undefined;
      if (!p) {
        p = api.sample(this.st.project, this.st.run, split, id).then((s) => {
          // A bounded cache: the oldest entries go first.
          if (this.hoverCache.size > 500) this.hoverCache.delete(this.hoverCache.keys().next().value!);
          this.hoverCache.set(key, s);
          return s;
        }, () => { this.hoverCache.delete(key); return null; });
        this.hoverCache.set(key, p);
      }
      void p.then((s) => { if (s) show(s); });
    }, 120);
  }

  /** A click opens the nearest point of the current split (within 8 px). */
  private pick(px: number, py: number): void {
    const near = this.nearest(px, py);
    const best = near ? { split: near.layer.split, id: near.layer.ids[near.i], i: near.i } : null;
    if (!best) return;
    if (this.level === 'spans') {
      const l = this.layers.find((x) => x.split === best!.split);
      const sample = this.spanCols.get(best.split)?.sample[l ? l.src[best.i] : best.i];
      if (sample !== undefined) this.st.openSpan(best.split, sample, Number(best.id));
    } else this.st.openSample(best.split, best.id);
  }
}

/** Drops lasso points closer than eps to the previous kept one (a lighter request). */
function simplify(pts: [number, number][], eps: number): [number, number][] {
  const out: [number, number][] = [pts[0]];
  for (const p of pts.slice(1)) {
    const q = out[out.length - 1];
    if (Math.hypot(p[0] - q[0], p[1] - q[1]) >= eps) out.push(p);
  }
  const round = (p: [number, number]): [number, number] => [+p[0].toPrecision(6), +p[1].toPrecision(6)];
  return (out.length >= 3 ? out : pts).map(round);
}
