// The embeddings map: a WebGL2 scatter (canvas 2D when WebGL is unavailable), the current
// split drawn over training, colour by predicted/gold class, drift score, shift score,
// confidence or split, pan/zoom, and a lasso that filters the table (samples/query with "polygon").
// NER runs can switch it to span level (spans/map): one point per span row, coloured by
// predicted or gold entity type, error type, drifted or confidence; a click opens the span.
import { api, type MapAnswer, type SpanPoint } from './api';
import { PALETTE, classColor, clear, h, splitLabel } from './dom';
import { ERROR_COLORS, ERROR_TITLES, ERROR_TYPES, entityTypes } from './ner';
import type { RunState } from './state';

type ColorBy = 'pred' | 'gold' | 'drift_score' | 'shift' | 'confidence' | 'split' | 'error_type' | 'drifted';
const SAMPLE_COLORS: [ColorBy, string][] = [['pred', 'predicted class'], ['gold', 'gold class'], ['drift_score', 'drift score'], ['shift', 'shift score'], ['confidence', 'confidence'], ['split', 'split']];
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

interface Layer { split: string; n: number; xy: Float32Array; col: Float32Array; scale: Float32Array; ids: string[]; index: Map<string, number> }

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
  renderer = 'none';

  constructor(private st: RunState) {
    this.canvas = h('canvas', { class: 'map-canvas', 'data-testid': 'map-canvas' });
    this.overlay = h('canvas', { class: 'map-overlay', 'data-testid': 'map-overlay' });
    this.legend = h('div', { class: 'map-legend', 'data-testid': 'map-legend' });
    this.info = h('div', { class: 'map-info', 'data-testid': 'map-info' });
    this.tip = h('div', { class: 'map-tip', hidden: true });
    const colorSel = h('select', { 'data-testid': 'map-color', onchange: (e: Event) => { this.colorBy = (e.target as HTMLSelectElement).value as ColorBy; this.build(); } },
      ...SAMPLE_COLORS.map(([v, t]) => h('option', { value: v }, t)));
    const levelSel = st.isNer ? h('select', { 'data-testid': 'map-level', 'aria-label': 'Map level', onchange: (e: Event) => {
      this.level = (e.target as HTMLSelectElement).value as 'samples' | 'spans';
      clear(colorSel);
      for (const [v, t] of this.level === 'spans' ? SPAN_COLORS : SAMPLE_COLORS) colorSel.append(h('option', { value: v }, t));
      this.colorBy = 'pred';
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
      onchange: (e: Event) => { this.showTraining = (e.target as HTMLInputElement).checked; this.draw(); } }), 'training');
    this.el = h('section', { class: 'card map-card', 'data-testid': 'map' },
      h('div', { class: 'card-head' }, h('h2', { title: 'The 2-D map of the embeddings' }, 'Map'),
        h('div', { class: 'toolbar' },
          levelSel ? h('label', { class: 'inline' }, 'level ', levelSel) : null,
          h('span', { class: 'seg-group' }, modeBtn('lasso', 'Lasso'), modeBtn('pan', 'Pan')),
          h('label', { class: 'inline' }, 'colour ', colorSel), trainToggle,
          h('button', { class: 'btn btn-sm btn-ghost', 'data-testid': 'map-reset', onclick: () => { this.userView = false; this.fit(); this.draw(); } }, 'Fit'),
          h('button', { class: 'btn btn-sm btn-ghost', 'data-testid': 'map-clear-lasso', onclick: () => st.setFilter({ polygon: undefined }) }, 'Clear lasso'))),
      h('div', { class: 'map-wrap' }, this.canvas, this.overlay, this.info, this.tip), this.legend);
    this.overlay.style.cursor = 'crosshair';
    this.initGl();
    this.bindPointer();
    new ResizeObserver(() => this.resize()).observe(this.canvas);
    st.on('split', () => void this.load());
    st.on('hover', () => this.drawOverlay());
    let lastPoly: unknown = undefined;
    st.on('filter', () => {
      if (st.filter.polygon !== lastPoly) { lastPoly = st.filter.polygon; this.build(); } else this.drawOverlay();
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
        this.data = await api.map(this.st.project, this.st.run, splits, 50000);
      }
    } catch (e) {
      this.info.textContent = `map unavailable: ${(e as Error).message}`;
      this.data = null; this.layers = []; this.draw();
      return;
    }
    this.userView = false;
    this.fit();
    this.build();
    this.el.dataset.ready = '1';
  }

  private fit(): void {
    if (!this.data) return;
    const b = this.data.bounds;
    const w = this.canvas.clientWidth || 400, hh = this.canvas.clientHeight || 300;
    this.cx = (b.x0 + b.x1) / 2; this.cy = (b.y0 + b.y1) / 2;
    this.upp = Math.max((b.x1 - b.x0) / (w - 24), (b.y1 - b.y0) / (hh - 24), 1e-9);
  }

  /** Builds the per-point colours; training first (dimmed) so the current split lies on top. */
  private build(): void {
    this.layers = [];
    if (!this.data) { this.draw(); return; }
    const ordered = [...this.data.splits].sort((a, b) => (a.split === 'training' ? 0 : 1) - (b.split === 'training' ? 0 : 1));
    let n = 0;
    // Points outside a lasso are dimmed (the current split's; training stays as it is).
    const poly = this.st.filter.polygon && this.st.filter.polygon.length >= 3 ? this.st.filter.polygon : null;
    for (const sp of ordered) {
      const P = sp.points;
      const m = P.x.length;
      n += m;
      const xy = new Float32Array(m * 2);
      const col = new Float32Array(m * 4);
      // A downsampled point stands for `count` samples: drawn larger (log scale, capped).
      const scale = new Float32Array(m);
      for (let i = 0; i < m; i++) scale[i] = Math.min(3, 1 + 0.35 * Math.log2(Math.max(1, P.count?.[i] ?? 1)));
      const bg = sp.split === 'training' && this.st.split !== 'training';
      const splitIdx = sp.split === 'training' ? 0 : 1;
      for (let i = 0; i < m; i++) {
        xy[2 * i] = P.x[i]; xy[2 * i + 1] = P.y[i];
        let c: [number, number, number];
        switch (this.colorBy) {
          case 'pred': c = hexRgb(classColor(P.pred[i])); break;
          case 'gold': c = hexRgb(classColor(P.gold?.[i] ?? -1)); break;
          case 'drift_score': { const d = P.drift_score?.[i]; c = d === null || d === undefined ? [0.45, 0.47, 0.52] : ramp(d); break; }
          // The shift score: only inference samples of a set with a domain test have one.
          case 'shift': { const d = P.shift_score?.[i]; c = d === null || d === undefined ? [0.45, 0.47, 0.52] : ramp(d); break; }
          case 'confidence': c = ramp(P.confidence[i]); break;
          case 'split': c = splitIdx === 0 ? [0.55, 0.6, 0.7] : hexRgb('#f28e2b'); break;
          case 'error_type': { const t = this.spanCols.get(sp.split)?.error[i]; c = hexRgb(t ? ERROR_COLORS[t] ?? '#666c78' : '#666c78'); break; }
          case 'drifted': { const d = this.spanCols.get(sp.split)?.drifted[i]; c = d === null || d === undefined ? [0.45, 0.47, 0.52] : d ? hexRgb('#ef5b5b') : hexRgb('#4e79a7'); break; }
        }
        let a = bg ? 0.28 : 0.85;
        if (poly && !bg && !pointInPolygon(poly, P.x[i], P.y[i])) a = 0.12;
        col.set([c[0], c[1], c[2], a], 4 * i);
      }
      this.layers.push({ split: sp.split, n: m, xy, col, scale, ids: P.id, index: new Map(P.id.map((id, i) => [id, i])) });
    }
    const total = this.data.splits.reduce((a, sp) => a + sp.total, 0);
    const what = this.level === 'spans' ? 'spans' : 'samples';
    this.info.textContent = `${n.toLocaleString()} ${this.level === 'spans' ? 'span ' : ''}points${total > n ? ` for ${total.toLocaleString()} ${what} (downsampled)` : ''} · ${this.renderer}`;
    this.renderLegend();
    this.draw();
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
      this.legend.append(item('#ef5b5b', 'drifted'), item('#4e79a7', 'not drifted'), item('#737885', 'n/a (training)'));
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
    if (this.st.split !== 'training') this.legend.append(h('span', { class: 'legend-note muted' }, `${splitLabel(this.st.split)} over training (dimmed)`));
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
      for (const l of layers) {
        const b1 = gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER, b1); gl.bufferData(gl.ARRAY_BUFFER, l.xy, gl.STATIC_DRAW);
        gl.enableVertexAttribArray(aPos); gl.vertexAttribPointer(aPos, 2, gl.FLOAT, false, 0, 0);
        const b2 = gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER, b2); gl.bufferData(gl.ARRAY_BUFFER, l.col, gl.STATIC_DRAW);
        gl.enableVertexAttribArray(aCol); gl.vertexAttribPointer(aCol, 4, gl.FLOAT, false, 0, 0);
        const aScale = gl.getAttribLocation(this.prog, 'a_scale');
        const b3 = gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER, b3); gl.bufferData(gl.ARRAY_BUFFER, l.scale, gl.STATIC_DRAW);
        gl.enableVertexAttribArray(aScale); gl.vertexAttribPointer(aScale, 1, gl.FLOAT, false, 0, 0);
        gl.drawArrays(gl.POINTS, 0, l.n);
        gl.deleteBuffer(b1); gl.deleteBuffer(b2); gl.deleteBuffer(b3);
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
    // Samples filtered by id ("find similar") are ringed.
    const spans = this.level === 'spans';
    const ids = spans ? undefined : this.st.filter.ids;
    const cur = this.layers.find((l) => l.split === this.st.split);
    if (ids && ids.length && cur) {
      c.setLineDash([]); c.strokeStyle = '#f0b429'; c.lineWidth = 1.5;
      for (const id of ids) {
        const i = cur.index.get(id);
        if (i === undefined) continue;
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
        this.hover(px, py);
      }
    });
    o.addEventListener('pointerleave', () => { this.tip.hidden = true; });
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

  private nearest(px: number, py: number): { layer: Layer; i: number } | null {
    let best: { layer: Layer; i: number; d: number } | null = null;
    for (const l of this.visibleLayers()) {
      const bias = l.split === this.st.split ? 0 : 2;
      for (let i = 0; i < l.n; i++) {
        const [sx, sy] = this.toScreen(l.xy[2 * i], l.xy[2 * i + 1]);
        const d = Math.hypot(sx - px, sy - py) + bias;
        if (d < 8 + bias && (!best || d < best.d)) best = { layer: l, i, d };
      }
    }
    return best;
  }

  private hover(px: number, py: number): void {
    const n = this.data && this.layers.length ? this.nearest(px, py) : null;
    if (!n) { this.tip.hidden = true; return; }
    const sp = this.data!.splits.find((s) => s.split === n.layer.split)!;
    const P = sp.points;
    if (this.level === 'spans') {
      const types = entityTypes(this.st.info.labels);
      const x = this.spanCols.get(n.layer.split);
      const err = x?.error[n.i];
      const lines = [`${splitLabel(n.layer.split)} · ${x?.sample[n.i]} · span ${P.id[n.i]}`,
        `pred ${types[P.pred[n.i]] ?? '–'} (${P.confidence[n.i].toFixed(2)})`, `gold ${types[P.gold[n.i]] ?? '–'}`];
      if (err) lines.push(ERROR_TITLES[err] ?? err);
      if (x?.drifted[n.i]) lines.push('drifted');
      this.tip.textContent = lines.join('\n');
      this.tip.style.left = `${px + 12}px`; this.tip.style.top = `${py + 12}px`;
      this.tip.hidden = false;
      return;
    }
    const labels = this.st.info.labels;
    const lines = [`${splitLabel(n.layer.split)} · ${P.id[n.i]}`, `pred ${labels[P.pred[n.i]] ?? '?'} (${P.confidence[n.i].toFixed(2)})`];
    if (P.gold?.[n.i] !== undefined && P.gold[n.i] >= 0) lines.push(`gold ${labels[P.gold[n.i]]}`);
    const d = P.drift_score?.[n.i];
    if (d !== null && d !== undefined) lines.push(`drift ${d.toFixed(2)}`);
    const sh = P.shift_score?.[n.i];
    if (sh !== null && sh !== undefined) lines.push(`shift ${sh.toFixed(2)}`);
    if ((P.count?.[n.i] ?? 1) > 1) lines.push(`stands for ${P.count[n.i]} samples`);
    this.tip.textContent = lines.join('\n');
    this.tip.style.left = `${px + 12}px`; this.tip.style.top = `${py + 12}px`;
    this.tip.hidden = false;
  }

  /** A click opens the nearest point of the current split (within 8 px). */
  private pick(px: number, py: number): void {
    let best: { split: string; id: string; i: number; d: number } | null = null;
    for (const l of this.visibleLayers()) {
      for (let i = 0; i < l.n; i++) {
        const [sx, sy] = this.toScreen(l.xy[2 * i], l.xy[2 * i + 1]);
        const d = Math.hypot(sx - px, sy - py);
        const bias = l.split === this.st.split ? 0 : 2;
        if (d < 8 && (!best || d + bias < best.d)) best = { split: l.split, id: l.ids[i], i, d: d + bias };
      }
    }
    if (!best) return;
    if (this.level === 'spans') {
      const sample = this.spanCols.get(best.split)?.sample[best.i];
      if (sample !== undefined) this.st.openSpan(best.split, sample, Number(best.id));
    } else this.st.openSample(best.split, best.id);
  }
}

function pointInPolygon(poly: [number, number][], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
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
