// Hand-written SVG charts of the timeline page: one metric over time, each series a line
// through its points with its interval drawn as a band, horizontal guides (alert
// thresholds, the training value, a learned band), and points that are links.
import { svg } from './dom';

export interface ChartPoint {
  /** Position on the time axis (Unix seconds, or an index when a set has no time). */
  t: number;
  value: number;
  low: number | null;
  high: number | null;
  /** The set's split key (data-set on the point). */
  set: string;
  href: string;
  title: string;
  firing: boolean;
}
export interface ChartSeries { key: string; label: string; color: string; points: ChartPoint[] }
export interface Guide {
  value: number;
  label: string;
  kind: 'threshold' | 'reference' | 'band';
  /** The rule it draws (data-rule-id), if any. */
  ruleId?: string;
  color?: string;
}
export interface ChartOptions {
  metric: string;
  series: ChartSeries[];
  guides: Guide[];
  /** The time axis' range, shared by every chart of the page. */
  t0: number;
  t1: number;
  /** Ticks of the time axis: [t, label]. */
  ticks: [number, string][];
  /** Shares are drawn as percentages. */
  percent: boolean;
  onPoint: (p: ChartPoint, e: MouseEvent) => void;
}

const W = 560, H = 190, L = 52, R = 22, T = 14, B = 28;

function fmtValue(v: number, percent: boolean): string {
  if (percent) return `${(v * 100).toFixed(Math.abs(v) < 0.1 ? 1 : 0)}%`;
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return v.toFixed(Math.abs(v) < 1 ? 3 : 2);
}

/** Round tick values over [lo, hi]. */
function niceTicks(lo: number, hi: number, n = 4): number[] {
  const span = hi - lo || 1;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function lineChart(o: ChartOptions): SVGElement {
  const values: number[] = [];
  for (const s of o.series) for (const p of s.points) values.push(p.value, ...(p.low !== null ? [p.low] : []), ...(p.high !== null ? [p.high] : []));
  for (const g of o.guides) values.push(g.value);
  let lo = values.length ? Math.min(...values) : 0, hi = values.length ? Math.max(...values) : 1;
  if (hi - lo < 1e-9) { lo -= Math.abs(lo) * 0.1 || 0.5; hi += Math.abs(hi) * 0.1 || 0.5; }
  const pad = (hi - lo) * 0.08;
  lo -= pad; hi += pad;
  if (o.percent) { lo = Math.max(lo, 0); hi = Math.min(hi, 1); }
  const x = (t: number) => (o.t1 > o.t0 ? L + ((t - o.t0) / (o.t1 - o.t0)) * (W - L - R) : (L + W - R) / 2);
  const y = (v: number) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);

  // A group, not an image: its points are links (axe: nested-interactive).
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'tl-svg', role: 'group', 'aria-label': o.metric, 'data-metric': o.metric });
  // Axes and grid.
  const yTicks = niceTicks(lo, hi);
  const whole = !o.percent && yTicks.every((v) => Number.isInteger(v));
  for (const v of yTicks) {
    root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'tl-grid' }));
    root.append(svg('text', { x: L - 6, y: y(v) + 4, class: 'tl-tick', 'text-anchor': 'end' }, whole ? v.toLocaleString() : fmtValue(v, o.percent)));
  }
  for (const [t, label] of o.ticks) {
    root.append(svg('line', { x1: x(t), x2: x(t), y1: H - B, y2: H - B + 4, class: 'tl-axis' }));
    root.append(svg('text', { x: x(t), y: H - B + 16, class: 'tl-tick', 'text-anchor': 'middle' }, label));
  }
  root.append(svg('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, class: 'tl-axis' }));

  // Guides under the data.
  for (const g of o.guides) {
    const line = svg('line', { x1: L, x2: W - R, y1: y(g.value), y2: y(g.value), class: `tl-guide tl-guide-${g.kind}`,
      'data-testid': g.kind === 'reference' ? 'tl-reference' : 'tl-threshold', 'data-value': g.value });
    if (g.ruleId !== undefined) line.setAttribute('data-rule-id', g.ruleId);
    if (g.color) line.setAttribute('stroke', g.color);
    line.append(svg('title', {}, `${g.label || g.kind}: ${fmtValue(g.value, o.percent)}`));
    root.append(line);
    if (g.label) root.append(svg('text', { x: W - R - 2, y: y(g.value) - 3, class: `tl-guide-label tl-guide-${g.kind}`, 'text-anchor': 'end' }, g.label));
  }

  for (const s of o.series) {
    const pts = [...s.points].sort((a, b) => a.t - b.t);
    // The interval band: along the highs, back along the lows.
    const banded = pts.filter((p) => p.low !== null && p.high !== null);
    if (banded.length >= 2) {
      const d = banded.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.high!).toFixed(1)}`).join('') +
        [...banded].reverse().map((p) => `L${x(p.t).toFixed(1)},${y(p.low!).toFixed(1)}`).join('') + 'Z';
      root.append(svg('path', { d, class: 'tl-band', fill: s.color, 'data-testid': 'tl-band', 'data-series': s.key }));
    } else {
      for (const p of banded) {
        root.append(svg('line', { x1: x(p.t), x2: x(p.t), y1: y(p.high!), y2: y(p.low!), class: 'tl-whisker', stroke: s.color, 'data-testid': 'tl-band' }));
      }
    }
    if (pts.length >= 2) {
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`).join('');
      root.append(svg('path', { d, class: 'tl-line', stroke: s.color, 'data-series': s.key }));
    }
    for (const p of pts) {
      const a = svg('a', { href: p.href, class: `tl-point-link${p.firing ? ' firing' : ''}`, 'data-testid': 'tl-point',
        'data-set': p.set, 'data-t': p.t, 'data-value': p.value, 'data-series': s.key, 'data-firing': p.firing ? '1' : '0' });
      if (p.firing) a.append(svg('circle', { cx: x(p.t), cy: y(p.value), r: 8, class: 'tl-firing-ring', 'data-testid': 'tl-firing' }));
      a.append(svg('circle', { cx: x(p.t), cy: y(p.value), r: 4, class: 'tl-point', fill: s.color }));
      a.append(svg('title', {}, p.title));
      a.addEventListener('click', (e) => o.onPoint(p, e as MouseEvent));
      root.append(a);
    }
  }
  return root;
}

/** A legend chip per series. */
export function legend(series: ChartSeries[]): SVGElement {
  const root = svg('svg', { viewBox: `0 0 ${W} 18`, class: 'tl-legend' });
  let xpos = L;
  for (const s of series) {
    root.append(svg('circle', { cx: xpos + 5, cy: 9, r: 4, fill: s.color }));
    root.append(svg('text', { x: xpos + 13, y: 13, class: 'tl-tick' }, s.label));
    xpos += 24 + s.label.length * 7;
  }
  return root;
}

/** Grouped bars of A and B per category (the compare page's class shares). */
export function pairedBars(rows: { label: string; a: number; b: number }[], names: [string, string]): SVGElement {
  const bw = 16, gap = 18, h = 140, top = 10, bottom = 34;
  const w = Math.max(260, 40 + rows.length * (2 * bw + gap));
  const max = Math.max(0.01, ...rows.flatMap((r) => [r.a, r.b]));
  const yv = (v: number) => top + (1 - v / max) * (h - top - bottom);
  const root = svg('svg', { viewBox: `0 0 ${w} ${h}`, width: w, height: h, class: 'cmp-bars', 'data-testid': 'cmp-bars' });
  root.append(svg('line', { x1: 30, x2: w - 6, y1: h - bottom, y2: h - bottom, class: 'tl-axis' }));
  rows.forEach((r, i) => {
    const x0 = 36 + i * (2 * bw + gap);
    for (const [k, v] of [[0, r.a], [1, r.b]] as const) {
      const rect = svg('rect', { x: x0 + k * bw, y: yv(v), width: bw - 2, height: Math.max(0, h - bottom - yv(v)), class: k ? 'bar-b' : 'bar-a' });
      rect.append(svg('title', {}, `${names[k]} · ${r.label}: ${(v * 100).toFixed(1)}%`));
      root.append(rect);
    }
    root.append(svg('text', { x: x0 + bw, y: h - bottom + 14, class: 'tl-tick', 'text-anchor': 'middle' }, r.label.length > 10 ? `${r.label.slice(0, 9)}…` : r.label));
  });
  root.append(svg('rect', { x: 36, y: h - 12, width: 10, height: 8, class: 'bar-a' }));
  root.append(svg('text', { x: 50, y: h - 4, class: 'tl-tick' }, `A ${names[0]}`));
  root.append(svg('rect', { x: 56 + names[0].length * 6 + 20, y: h - 12, width: 10, height: 8, class: 'bar-b' }));
  root.append(svg('text', { x: 70 + names[0].length * 6 + 20, y: h - 4, class: 'tl-tick' }, `B ${names[1]}`));
  return root;
}
