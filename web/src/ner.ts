// NER and NLI text rendering: entity types from the tag list, a sample's text with its gold
// and predicted spans marked in two styles, the legend, and the NLI premise/hypothesis pair.
import type { Sample, SpanMark } from './api';
import { PALETTE, h, highlight } from './dom';

export const ERROR_TYPES = ['none', 'wrong_tag', 'span_shift', 'missed_label', 'ghost_span'] as const;
export const ERROR_TITLES: Record<string, string> = {
  none: 'correct', wrong_tag: 'wrong tag', span_shift: 'span shift', missed_label: 'missed label', ghost_span: 'ghost span',
};
/** Colours of the error types on the span map (correct green, the rest warm). */
export const ERROR_COLORS: Record<string, string> = {
  none: '#3fb27f', wrong_tag: '#ef5b5b', span_shift: '#f28e2b', missed_label: '#b07aa1', ghost_span: '#edc948',
};

/** The entity types of a tag list (`O`, `B-PER`, `I-PER`, … -> PER, …), in first-seen order. */
const typesMemo = new WeakMap<string[], string[]>();
export function entityTypes(labels: string[]): string[] {
  const memo = typesMemo.get(labels);
  if (memo) return memo;
  const out: string[] = [];
  for (const l of labels) {
    const m = /^[BIESLU]-(.+)$/.exec(l);
    if (m && !out.includes(m[1])) out.push(m[1]);
  }
  typesMemo.set(labels, out);
  return out;
}

export function typeColor(types: string[], t: string | null | undefined): string {
  const i = t ? types.indexOf(t) : -1;
  return i < 0 ? '#666c78' : PALETTE[i % PALETTE.length];
}

function rgba(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
}

/**
 * The text cut at every gold and predicted span boundary. Gold and predicted spans can
 * overlap without nesting (a span shift), so each piece carries the gold span and the
 * predicted span covering it, rather than nesting elements.
 * Gold: an underline in the type's colour; predicted: a tint in its type's colour; the
 * error type (of the predicted span, else of the gold one) is a class (`err-…`) and styles
 * the piece too (see style.css): wrong tag outlined red, span shift dotted, missed label a
 * dashed underline without tint, ghost span a striped tint without underline.
 */
export function spanText(text: string, gold: SpanMark[] | null | undefined, pred: SpanMark[] | null | undefined,
  types: string[], regex?: string): Node[] {
  const g = gold ?? [], p = pred ?? [];
  const cuts = new Set<number>([0, text.length]);
  for (const s of [...g, ...p]) { cuts.add(Math.max(0, Math.min(text.length, s.start))); cuts.add(Math.max(0, Math.min(text.length, s.end))); }
  const pts = [...cuts].sort((a, b) => a - b);
  const out: Node[] = [];
  for (let k = 0; k + 1 < pts.length; k++) {
    const a = pts[k], b = pts[k + 1];
    const piece = text.slice(a, b);
    const gs = g.find((s) => s.start <= a && s.end >= b);
    const ps = p.find((s) => s.start <= a && s.end >= b);
    if (!gs && !ps) { for (const n of highlight(piece, regex)) out.push(typeof n === 'string' ? document.createTextNode(n) : n as Node); continue; }
    const err = ps?.error_type ?? gs?.error_type ?? null;
    const cls = ['ent', gs ? 'span-gold' : '', ps ? 'span-pred' : '', err ? `err-${err}` : ''].filter(Boolean).join(' ');
    const style: Record<string, string> = {};
    if (gs) style.borderBottomColor = typeColor(types, gs.label);
    if (ps) style.backgroundColor = rgba(typeColor(types, ps.label), 0.3);
    const title = [gs ? `gold ${gs.label}` : 'no gold', ps ? `pred ${ps.label}` : 'no prediction', err ? ERROR_TITLES[err] ?? err : null]
      .filter(Boolean).join(' · ');
    // Start pieces carry the label, so a row reads "Paris LOC" without hovering.
    const first = (gs && gs.start === a) || (ps && ps.start === a);
    out.push(h('span', {
      class: cls, style, title, 'data-gold': gs?.label, 'data-pred': ps?.label, 'data-error': err ?? undefined,
      'data-span-row': String((ps ?? gs)!.span_row), 'data-first': first ? '1' : undefined,
    }, ...highlight(piece, regex)));
  }
  return out;
}

/** The legend of spanText's styles. */
export function spanLegend(types: string[]): HTMLElement {
  const sw = (cls: string, label: string, style?: Record<string, string>) =>
    h('span', { class: 'legend-item' }, h('span', { class: `ent ${cls}`, style }, 'abc'), label);
  const c0 = typeColor(types, types[0]);
  return h('div', { class: 'span-legend small', 'data-testid': 'span-legend' },
    sw('span-gold', 'gold', { borderBottomColor: c0 }),
    sw('span-pred', 'predicted', { backgroundColor: rgba(c0, 0.3) }),
    ...ERROR_TYPES.map((e) => sw(`${e === 'missed_label' ? 'span-gold' : e === 'ghost_span' ? 'span-pred' : 'span-gold span-pred'} err-${e}`,
      ERROR_TITLES[e], { borderBottomColor: c0, backgroundColor: e === 'missed_label' ? '' : rgba(c0, 0.3) })),
    h('span', { class: 'legend-sep' }, '·'),
    ...types.map((t) => h('span', { class: 'legend-item' }, h('i', { style: { background: typeColor(types, t) } }), t)));
}

/** NLI: premise over hypothesis, each highlighted by its own regex (and the text regex). */
export function nliPair(s: Sample, f: { text?: string; premise?: string; hypothesis?: string }, labelled: boolean): HTMLElement {
  const [p0, h0] = s.premise !== undefined ? [s.premise, s.hypothesis ?? ''] : splitSep(s.text);
  const field = (cls: string, title: string, v: string, re?: string) => h('div', { class: `nli-field ${cls}`, 'data-testid': cls },
    labelled ? h('span', { class: 'nli-label' }, title) : h('span', { class: 'nli-tag' }, title[0].toUpperCase()),
    h('span', { class: 'nli-value' }, ...highlight(v, re ?? f.text) as any));
  return h('div', { class: 'nli-pair' }, field('nli-premise', 'premise', p0, f.premise), field('nli-hypothesis', 'hypothesis', h0, f.hypothesis));
}

/** A stored text `premise [SEP] hypothesis`, split as the server does (first separator). */
function splitSep(text: string): [string, string] {
  const i = text.indexOf('[SEP]');
  return i < 0 ? [text, ''] : [text.slice(0, i).trim(), text.slice(i + 5).trim()];
}
