// The comparison page (/runs/P/R/compare?a=SPLIT&b=SPLIT): two splits side by side from
// GET /api/runs/P/R/compare — every metric with its change and its test, the drift
// verdicts, class shares (chi-square) and confidence per class (Welch), and the regions
// of the map that grew most from A to B with example samples and a link to them.
import { monitorApi, type CompareRegion, type Comparison, type RunInfo, type TestResult, type Valued } from './api';
import { pairedBars } from './charts';
import { clear, fmt, h, pct, splitLabel, svg } from './dom';
import { compareUrl, runBase } from './timeline';

type Go = (path: string) => void;

const PERCENT = new Set(['drifted_share', 'on_boundary_share', 'accuracy', 'estimated_accuracy']);
const TITLES: Record<string, string> = {
  samples: 'samples', mean_confidence: 'mean confidence', on_boundary_share: 'on-boundary share',
  drifted_share: 'drifted share', domain_auc: 'domain-classifier AUC', accuracy: 'accuracy', estimated_accuracy: 'estimated accuracy',
  macro_f1: 'macro F1',
};

function pvalue(p: number): string {
  if (p < 1e-4) return p.toExponential(1);
  return p.toFixed(p < 0.01 ? 4 : 3);
}

function testCell(t: TestResult | null): HTMLElement {
  if (!t) return h('td', { class: 'muted small', 'data-testid': 'cmp-test' }, '—');
  return h('td', { class: `small ${t.significant ? 'sig' : ''}`, 'data-testid': 'cmp-test', 'data-p': t.p_value, 'data-significant': t.significant ? '1' : '0',
    title: `${t.name}: statistic ${t.statistic.toFixed(3)}${t.df !== null ? `, df ${t.df.toFixed(1)}` : ''}` },
  t.p_value_adjusted !== undefined ? `${t.name} p(adjusted)=${pvalue(t.p_value_adjusted)}` : `${t.name} p=${pvalue(t.p_value)}`, t.significant ? h('span', { class: 'badge badge-warn sig-badge' }, 'changed') : null);
}

function valueCell(v: Valued | null, percent: boolean): HTMLElement {
  if (!v) return h('td', { class: 'muted' }, '—');
  const f = (x: number) => (percent ? pct(x) : Math.abs(x) >= 100 || Number.isInteger(x) ? x.toLocaleString() : fmt(x));
  return h('td', { class: 'num' }, f(v.value),
    v.low !== null && v.high !== null ? h('span', { class: 'muted small' }, ` [${f(v.low)}, ${f(v.high)}]`) : null);
}

function changeCell(c: number | null, percent: boolean): HTMLElement {
  if (c === null) return h('td', { class: 'muted' }, '—');
  const txt = percent ? `${c >= 0 ? '+' : ''}${(100 * c).toFixed(1)} pt` : `${c >= 0 ? '+' : ''}${Math.abs(c) >= 100 || Number.isInteger(c) ? c.toLocaleString() : c.toFixed(3)}`;
  return h('td', { class: `num ${c > 0 ? 'up' : c < 0 ? 'down' : ''}`, 'data-testid': 'cmp-change', 'data-change': c }, txt);
}

/** A small map of the grid with the grown regions filled. */
function regionMap(c: Comparison): SVGElement | null {
  const r = c.regions;
  if (!r) return null;
  const W = 200, H = 200;
  const { x0, x1, y0, y1 } = r.bounds;
  const sx = (x: number) => ((x - x0) / (x1 - x0 || 1)) * W, sy = (y: number) => H - ((y - y0) / (y1 - y0 || 1)) * H;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'cmp-regionmap', 'data-testid': 'cmp-regionmap' });
  root.append(svg('rect', { x: 0, y: 0, width: W, height: H, class: 'cmp-regionmap-bg' }));
  const cell = (g: CompareRegion, cls: string, i: number) => {
    const rect = svg('rect', { x: sx(g.cell.x0), y: sy(g.cell.y1), width: sx(g.cell.x1) - sx(g.cell.x0), height: sy(g.cell.y0) - sy(g.cell.y1), class: cls });
    rect.append(svg('title', {}, `${pct(g.a.share)} → ${pct(g.b.share)}`));
    root.append(rect);
    root.append(svg('text', { x: (sx(g.cell.x0) + sx(g.cell.x1)) / 2, y: (sy(g.cell.y0) + sy(g.cell.y1)) / 2 + 4, class: 'cmp-regionmap-label', 'text-anchor': 'middle' }, String(i + 1)));
  };
  r.shrank.forEach((g, i) => cell(g, 'region-shrank', i));
  r.grew.forEach((g, i) => cell(g, 'region-grew', i));
  return root;
}

export async function comparePage(main: HTMLElement, info: RunInfo, a: string, b: string, go: Go): Promise<void> {
  const { project, run } = info;
  const splits = info.splits.map((s) => s.split);
  const sel = (testid: string, value: string) => {
    const s = h('select', { 'data-testid': testid }, ...splits.map((x) => h('option', { value: x }, splitLabel(x))));
    s.value = value;
    return s;
  };
  const selA = sel('cmp-a', a), selB = sel('cmp-b', b);
  const bar = h('div', { class: 'runbar' },
    h('div', { class: 'runbar-group' }, h('span', { class: 'runbar-label' }, 'A'), selA),
    h('button', { class: 'btn btn-sm', 'data-testid': 'cmp-swap', title: 'swap A and B', onclick: () => go(compareUrl(project, run, selB.value, selA.value)) }, '⇄'),
    h('div', { class: 'runbar-group' }, h('span', { class: 'runbar-label' }, 'B'), selB),
    h('button', { class: 'btn btn-sm btn-primary', 'data-testid': 'cmp-go', onclick: () => go(compareUrl(project, run, selA.value, selB.value)) }, 'Compare'),
    h('a', { class: 'btn btn-sm', href: `${runBase(project, run)}/timeline`, 'data-testid': 'cmp-timeline',
      onclick: (e: MouseEvent) => { e.preventDefault(); go(`${runBase(project, run)}/timeline`); } }, 'Timeline'));
  clear(main);
  main.className = 'page compare-page';
  main.dataset.testid = 'compare-page';
  const body = h('div', { class: 'cmp-body' }, h('div', { class: 'muted' }, 'comparing…'));
  main.append(bar, body);
  if (!a || !b) { clear(body); body.append(h('div', { class: 'card muted' }, 'Pick two splits to compare.')); return; }
  let c: Comparison;
  try { c = await monitorApi.compare(project, run, a, b); } catch (e) {
    clear(body);
    body.append(h('div', { class: 'error card', 'data-testid': 'cmp-error' }, `Could not compare: ${(e as Error).message}`));
    return;
  }
  const nameA = splitLabel(c.a.split), nameB = splitLabel(c.b.split);
  const link = (split: string, text: string) => h('a', { href: `${runBase(project, run)}?split=${encodeURIComponent(split)}`,
    onclick: (e: MouseEvent) => { if (!e.ctrlKey && !e.metaKey) { e.preventDefault(); go(`${runBase(project, run)}?split=${encodeURIComponent(split)}`); } } }, text);

  const metrics = h('section', { class: 'card', 'data-testid': 'cmp-metrics' },
    h('div', { class: 'card-head' }, h('h3', null, 'Metrics'), h('span', { class: 'muted small' }, `a change is marked when p < ${c.alpha}`)),
    h('table', { class: 'mini cmp-table' },
      h('thead', null, h('tr', null, h('th', null, 'metric'), h('th', null, 'A ', link(c.a.split, nameA)), h('th', null, 'B ', link(c.b.split, nameB)), h('th', null, 'change'), h('th', null, 'test'))),
      h('tbody', null, ...c.metrics.map((m) => h('tr', { 'data-testid': 'cmp-metric', 'data-name': m.name, title: m.note ?? '' },
        h('td', null, TITLES[m.name] ?? m.name), valueCell(m.a, PERCENT.has(m.name)), valueCell(m.b, PERCENT.has(m.name)),
        changeCell(m.change, PERCENT.has(m.name)), testCell(m.test))))));

  const v = c.drift_verdicts;
  const verdict = (x: typeof v.a) => (x === null ? h('span', { class: 'muted' }, 'no drift test (the reference)')
    : x.is_reference ? h('span', { class: 'muted' }, 'drift reference')
      : h('span', null, h('span', { class: `badge ${x.drifted ? 'badge-bad' : 'badge-ok'}` }, x.drifted ? 'drifted' : 'no drift'),
        ` ${pct(x.fraction)}`, x.p_value !== null ? h('span', { class: 'muted small' }, ` p=${pvalue(x.p_value)}`) : null));
  const domain = (x: typeof v.domain.a) => (x === null ? h('span', { class: 'muted' }, '—')
    : h('span', null, h('span', { class: `badge ${x.shifted ? 'badge-bad' : 'badge-ok'}` }, x.shifted ? 'shifted' : 'not shifted'), ` AUC ${fmt(x.value)}`,
      x.low !== null && x.high !== null ? h('span', { class: 'muted small' }, ` [${fmt(x.low)}, ${fmt(x.high)}]`) : null));
  const verdicts = h('section', { class: 'card', 'data-testid': 'cmp-verdicts' },
    h('div', { class: 'card-head' }, h('h3', null, 'Drift verdicts'),
      v.changed ? h('span', { class: 'badge badge-warn', 'data-testid': 'cmp-verdict-changed' }, 'verdict changed') : null),
    h('table', { class: 'mini' },
      h('thead', null, h('tr', null, h('th', null, ''), h('th', null, `A ${nameA}`), h('th', null, `B ${nameB}`))),
      h('tbody', null,
        h('tr', { 'data-testid': 'cmp-verdict-row' }, h('td', null, 'drift (k-NN distance)'), h('td', null, verdict(v.a)), h('td', null, verdict(v.b))),
        h('tr', null, h('td', null, 'domain classifier'), h('td', null, domain(v.domain.a)), h('td', null, domain(v.domain.b))))));

  const cs = c.class_shares;
  const shares = h('section', { class: 'card', 'data-testid': 'cmp-classes' },
    h('div', { class: 'card-head' }, h('h3', null, 'Predicted class shares'),
      h('span', { class: 'small', 'data-testid': 'cmp-chi2' }, cs.test ? `chi-square ${cs.test.statistic.toFixed(2)}, df ${cs.test.df}, p=${pvalue(cs.test.p_value)}` : 'no test',
        cs.test?.significant ? h('span', { class: 'badge badge-warn sig-badge' }, 'changed') : null)),
    cs.note ? h('div', { class: 'muted small', 'data-testid': 'cmp-chi2-note' }, cs.note) : null,
    pairedBars(cs.classes.map((k) => ({ label: k.label, a: k.a.share, b: k.b.share })), [nameA, nameB]),
    h('table', { class: 'mini' },
      h('thead', null, h('tr', null, ...['class', 'A', 'B', 'change', 'test'].map((t) => h('th', null, t)))),
      h('tbody', null, ...cs.classes.map((k) => h('tr', { 'data-testid': 'cmp-class', 'data-label': k.label },
        h('td', null, k.label), h('td', { class: 'num' }, `${pct(k.a.share)} (${k.a.count})`), h('td', { class: 'num' }, `${pct(k.b.share)} (${k.b.count})`),
        changeCell(k.change, true), testCell(k.test))))));

  const conf = h('section', { class: 'card', 'data-testid': 'cmp-confidence' },
    h('div', { class: 'card-head' }, h('h3', null, 'Mean confidence per predicted class')),
    h('table', { class: 'mini' },
      h('thead', null, h('tr', null, ...['class', 'A', 'B', 'change', 'test'].map((t) => h('th', null, t)))),
      h('tbody', null, ...c.confidence_per_class.map((k) => h('tr', { 'data-testid': 'cmp-conf', 'data-label': k.label },
        h('td', null, k.label), h('td', { class: 'num' }, `${fmt(k.a.mean)} (n ${k.a.n})`), h('td', { class: 'num' }, `${fmt(k.b.mean)} (n ${k.b.n})`),
        changeCell(k.change, false), testCell(k.test))))));

  const regions = h('section', { class: 'card', 'data-testid': 'cmp-regions' },
    h('div', { class: 'card-head' }, h('h3', null, `Regions of the map that grew from A to B`)));
  if (!c.regions) regions.append(h('div', { class: 'muted' }, c.regions_note ?? 'no map'));
  else {
    const list = h('div', { class: 'cmp-region-list' });
    if (!c.regions.grew.length) list.append(h('div', { class: 'muted', 'data-testid': 'cmp-no-region' }, 'no region of the map grew by more than chance'));
    c.regions.grew.forEach((g, i) => {
      list.append(h('div', { class: 'cmp-region', 'data-testid': 'cmp-region', 'data-change': g.change },
        h('div', { class: 'cmp-region-head' }, h('b', null, `${i + 1}.`), ` ${pct(g.a.share)} of A → `, h('b', null, pct(g.b.share)), ' of B',
          h('span', { class: 'muted small' }, ` (${g.a.count} → ${g.b.count} samples)`), ' ', testCell(g.test).firstChild ?? '',
          ' ', h('a', { class: 'btn btn-xs', href: g.link, 'data-testid': 'cmp-region-link',
            onclick: (e: MouseEvent) => { if (!e.ctrlKey && !e.metaKey) { e.preventDefault(); go(g.link); } } }, `show in ${nameB}`)),
        h('div', { class: 'muted small' }, 'predicted: ', Object.entries(g.b_pred_counts).map(([l, n]) => `${l} ${n}`).join(', ')),
        h('ul', { class: 'cmp-examples' }, ...g.examples.map((s) => h('li', { 'data-testid': 'cmp-example', 'data-id': s.id },
          h('span', { class: 'mono small' }, s.id), ' ', s.text, h('span', { class: 'muted small' }, ` · ${s.pred} ${fmt(s.confidence, 2)}`))))));
    });
    regions.append(h('div', { class: 'cmp-regions-row' }, regionMap(c), list));
  }

  clear(body);
  body.append(
    h('div', { class: 'cmp-title', 'data-testid': 'cmp-title' }, h('b', null, `A ${nameA}`), h('span', { class: 'muted' }, ` ${c.a.samples.toLocaleString()} samples`), ' → ',
      h('b', null, `B ${nameB}`), h('span', { class: 'muted' }, ` ${c.b.samples.toLocaleString()} samples`)),
    h('div', { class: 'cmp-grid' }, metrics, verdicts, shares, conf), regions);
  main.dataset.ready = '1';
}
