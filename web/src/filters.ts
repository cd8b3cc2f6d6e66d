// The filter sidebar: every filter of the samples API.
import { api, type Filter } from './api';
import { append, clear, debounce, h } from './dom';
import { similarChipLabel } from './similar';
import { mark as markFieldErrors } from './field_errors';
import { entityTypes } from './ner';
import type { RunState } from './state';

function num(v: string): number | undefined {
  if (v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

type Tri = 'any' | 'true' | 'false';
function tri(v: boolean | undefined): Tri { return v === undefined ? 'any' : v ? 'true' : 'false'; }
function untri(v: string): boolean | undefined { return v === 'any' ? undefined : v === 'true'; }

export class FilterPanel {
  el: HTMLElement;
  private body: HTMLElement;
  private chips: HTMLElement;

  constructor(private st: RunState) {
    this.body = h('div', { class: 'filters-body' });
    this.chips = h('div', { class: 'chips', 'data-testid': 'active-filters' });
    this.el = h('section', { class: 'card filters', 'data-testid': 'filters' },
      h('div', { class: 'card-head' }, h('h2', null, 'Filters'),
        h('button', { class: 'btn btn-ghost btn-sm', 'data-testid': 'filter-reset', onclick: () => st.resetFilter() }, 'Reset')),
      this.chips, this.body);
    st.on('split', () => this.render());
    st.on('filterui', () => this.render());
    st.on('filter', () => this.renderChips());
    this.render();
    this.renderChips();
  }

  private set(patch: Partial<Filter>): void { this.st.setFilter(patch); }

  private render(): void {
    clear(this.body);
    const st = this.st;
    const f = st.filter;
    const labels = st.info.labels;
    const setText = debounce((v: string) => this.set({ text: v || undefined }), 300);
    // NLI: one regex per field (premise=, hypothesis=), next to the text regex over both.
    const fieldRegex = (key: 'premise' | 'hypothesis', example: string) => {
      const upd = debounce((v: string) => this.set({ [key]: v || undefined }), 300);
      return h('div', { class: 'field' }, h('label', null, `${key[0].toUpperCase()}${key.slice(1)} (regex)`),
        h('input', { type: 'search', placeholder: `e.g. ${example}`, 'aria-label': `${key} (regular expression)`, 'data-testid': `filter-${key}`,
          value: f[key] ?? '', oninput: (e: Event) => upd((e.target as HTMLInputElement).value) }));
    };
    const setIds = debounce((v: string) => {
      const ids = v.split(/[\s,]+/).filter(Boolean);
      this.set({ ids: ids.length ? ids : undefined });
    }, 300);

    const classPicker = (key: 'gold' | 'pred', title: string) => h('div', { class: 'field' },
      h('label', null, title),
      h('div', { class: 'class-picks', 'data-testid': `filter-${key}` }, ...labels.map((l) => {
        const on = (st.filter[key] ?? []).includes(l);
        return h('button', {
          class: `pick ${on ? 'on' : ''}`, 'data-value': l, 'aria-pressed': String(on),
          onclick: (e: Event) => {
            const cur = new Set(st.filter[key] ?? []);
            if (cur.has(l)) cur.delete(l); else cur.add(l);
            (e.currentTarget as HTMLElement).classList.toggle('on', cur.has(l));
            (e.currentTarget as HTMLElement).setAttribute('aria-pressed', String(cur.has(l)));
            this.set({ [key]: cur.size ? [...cur] : undefined } as Partial<Filter>);
          },
        }, l);
      })));

    const typePicker = () => {
      const types = st.info.entity_types ?? entityTypes(labels);
      return h('div', { class: 'field' }, h('label', { id: 'filter-entity-type-label' }, 'Entity type'),
        h('div', { class: 'class-picks', 'data-testid': 'filter-entity-type', role: 'group', 'aria-labelledby': 'filter-entity-type-label' }, ...types.map((t) => {
          const on = (st.filter.entity_type ?? []).includes(t);
          return h('button', {
            class: `pick ${on ? 'on' : ''}`, 'data-value': t, 'aria-pressed': String(on),
            title: `sentences with a predicted or gold ${t} span`,
            onclick: (e: Event) => {
              const cur = new Set(st.filter.entity_type ?? []);
              if (cur.has(t)) cur.delete(t); else cur.add(t);
              const b = e.currentTarget as HTMLElement;
              b.classList.toggle('on', cur.has(t));
              b.setAttribute('aria-pressed', String(cur.has(t)));
              this.set({ entity_type: cur.size ? [...cur] : undefined });
            },
          }, t);
        })));
    };

    const range = (title: string, lo: 'min_confidence' | 'min_dep' | 'min_shift', hi: 'max_confidence' | 'max_dep' | 'max_shift', testid: string) => {
      const upd = debounce(() => this.set({ [lo]: num(a.value), [hi]: num(b.value) } as Partial<Filter>), 300);
      const a = h('input', { type: 'number', step: '0.05', min: '0', max: '1', placeholder: 'min', 'aria-label': `${title} min`,
        'data-testid': `${testid}-min`, value: f[lo] ?? '', oninput: upd });
      const b = h('input', { type: 'number', step: '0.05', min: '0', max: '1', placeholder: 'max', 'aria-label': `${title} max`,
        'data-testid': `${testid}-max`, value: f[hi] ?? '', oninput: upd });
      return h('div', { class: 'field' }, h('label', null, title), h('div', { class: 'range' }, a, h('span', null, '–'), b));
    };

    const triSelect = (title: string, key: 'drifted' | 'shifted' | 'on_boundary' | 'misclassified', testid: string) =>
      h('div', { class: 'field field-row' }, h('label', null, title),
        h('select', { 'data-testid': testid, 'aria-label': title, onchange: (e: Event) => this.set({ [key]: untri((e.target as HTMLSelectElement).value) } as Partial<Filter>) },
          ...(['any', 'true', 'false'] as Tri[]).map((v) => h('option', { value: v, selected: tri(f[key]) === v }, v === 'any' ? 'any' : v === 'true' ? 'yes' : 'no'))));

    const metaKey = h('input', { type: 'text', placeholder: 'key', 'aria-label': 'Metadata key', 'data-testid': 'filter-meta-key', list: 'meta-keys' });
    const keys = h('datalist', { id: 'meta-keys' });
    // The metadata keys of this split, from its first sample.
    void api.samples(st.project, st.run, st.split, {}, { offset: 0, limit: 1, sort: 'row', order: 'asc' })
      .then((r) => { for (const k of Object.keys(r.samples[0]?.meta ?? {})) keys.append(h('option', { value: k })); })
      .catch(() => {});
    const metaVal = h('input', { type: 'text', placeholder: 'value', 'aria-label': 'Metadata value', 'data-testid': 'filter-meta-value',
      onkeydown: (e: KeyboardEvent) => { if (e.key === 'Enter') addMeta(); } });
    const addMeta = () => {
      if (!metaKey.value.trim()) return;
      this.set({ meta: { ...(st.filter.meta ?? {}), [metaKey.value.trim()]: metaVal.value } });
      metaKey.value = ''; metaVal.value = '';
    };

    append(this.body, [
      h('div', { class: 'field' }, h('label', null, 'Text (regex)'),
        h('input', { type: 'search', placeholder: 'e.g. refund|broken', 'aria-label': 'Text (regular expression)', 'data-testid': 'filter-text', value: f.text ?? '',
          oninput: (e: Event) => setText((e.target as HTMLInputElement).value) })),
      st.isNli ? fieldRegex('premise', 'dog|cat') : null,
      st.isNli ? fieldRegex('hypothesis', 'not|never') : null,
      // NER samples carry no gold class (their span rows do: see the span view).
      st.labeled && !st.isNer ? classPicker('gold', 'Gold class') : null,
      // NER: entity types (RunInfo `entity_types`, else the tags without B-/I-/E-/S-), sent
      // as `entity_type`; a sentence matches with a predicted or gold span of one of them.
      st.isNer ? typePicker() : classPicker('pred', 'Predicted class'),
      range('Confidence', 'min_confidence', 'max_confidence', 'filter-confidence'),
      range('DEP', 'min_dep', 'max_dep', 'filter-dep'),
      // Training is the drift reference: no drift verdict of its own.
      st.split === 'training' ? null : triSelect(st.labeled ? 'Out of coverage' : 'Drifted', 'drifted', 'filter-drifted'),
      // The per-sample shift score exists for inference sets only.
      st.split.startsWith('inference:') ? triSelect('Shifted', 'shifted', 'filter-shifted') : null,
      st.split.startsWith('inference:') ? range('Shift score', 'min_shift', 'max_shift', 'filter-shift') : null,
      triSelect('On the boundary', 'on_boundary', 'filter-boundary'),
      st.labeled && !st.isNer ? triSelect('Misclassified', 'misclassified', 'filter-misclassified') : null,
      h('div', { class: 'field' }, h('label', null, 'Metadata'),
        keys,
        h('div', { class: 'range' }, metaKey, metaVal,
          h('button', { class: 'btn btn-sm', 'data-testid': 'filter-meta-add', 'aria-label': 'Add the metadata filter', onclick: addMeta }, '+'))),
      h('div', { class: 'field' }, h('label', null, 'Ids'),
        h('textarea', { rows: '2', placeholder: 'comma or space separated', 'aria-label': 'Sample ids', 'data-testid': 'filter-ids',
          oninput: (e: Event) => setIds((e.target as HTMLTextAreaElement).value) }, (st.similarMode === 'ids' ? [] : f.ids ?? []).join(', '))),
    ]);
    // A regex the server refused stays marked on the new inputs.
    markFieldErrors();
  }

  private renderChips(): void {
    clear(this.chips);
    const f = this.st.filter;
    const chip = (label: string, clearPatch: Partial<Filter>, testid: string) =>
      h('span', { class: 'chip', 'data-testid': `chip-${testid}` }, label,
        h('button', { class: 'chip-x', title: 'Remove', 'aria-label': `Remove the filter ${label}`, onclick: () => { this.st.setFilter(clearPatch); this.render(); } }, '×'));
    if (f.text) this.chips.append(chip(`text /${f.text}/`, { text: undefined }, 'text'));
    if (f.premise) this.chips.append(chip(`premise /${f.premise}/`, { premise: undefined }, 'premise'));
    if (f.hypothesis) this.chips.append(chip(`hypothesis /${f.hypothesis}/`, { hypothesis: undefined }, 'hypothesis'));
    if (f.gold?.length) this.chips.append(chip(`gold ∈ ${f.gold.join(', ')}`, { gold: undefined }, 'gold'));
    if (f.pred?.length) this.chips.append(chip(`pred ∈ ${f.pred.join(', ')}`, { pred: undefined }, 'pred'));
    if (f.entity_type?.length) this.chips.append(chip(`entity type ∈ ${f.entity_type.join(', ')}`, { entity_type: undefined }, 'entity-type'));
    if (f.min_confidence !== undefined || f.max_confidence !== undefined)
      this.chips.append(chip(`conf ${f.min_confidence ?? 0}–${f.max_confidence ?? 1}`, { min_confidence: undefined, max_confidence: undefined }, 'confidence'));
    if (f.min_dep !== undefined || f.max_dep !== undefined)
      this.chips.append(chip(`DEP ${f.min_dep ?? 0}–${f.max_dep ?? 1}`, { min_dep: undefined, max_dep: undefined }, 'dep'));
    if (f.drifted !== undefined) this.chips.append(chip(f.drifted ? 'drifted' : 'not drifted', { drifted: undefined }, 'drifted'));
    if (f.shifted !== undefined) this.chips.append(chip(f.shifted ? 'shifted' : 'not shifted', { shifted: undefined }, 'shifted'));
    if (f.min_shift !== undefined || f.max_shift !== undefined)
      this.chips.append(chip(`shift ${f.min_shift ?? 0}–${f.max_shift ?? 1}`, { min_shift: undefined, max_shift: undefined }, 'shift'));
    if (f.on_boundary !== undefined) this.chips.append(chip(f.on_boundary ? 'on boundary' : 'off boundary', { on_boundary: undefined }, 'boundary'));
    if (f.misclassified !== undefined) this.chips.append(chip(f.misclassified ? 'misclassified' : 'correct', { misclassified: undefined }, 'misclassified'));
    for (const [k, v] of Object.entries(f.meta ?? {})) {
      const rest = { ...f.meta }; delete rest[k];
      this.chips.append(chip(`${k} = ${v}`, { meta: Object.keys(rest).length ? rest : undefined }, `meta-${k}`));
    }
    // "Find similar" has its own chip (on an older server its neighbours are the id list).
    if (this.st.similar) {
      this.chips.append(h('span', { class: 'chip', 'data-testid': 'chip-similar' }, similarChipLabel(this.st),
        h('button', { class: 'chip-x', title: 'Remove', onclick: () => this.st.clearSimilar() }, '×')));
    }
    if (f.ids?.length && this.st.similarMode !== 'ids') this.chips.append(chip(`${f.ids.length} id${f.ids.length > 1 ? 's' : ''}`, { ids: undefined }, 'ids'));
    if (f.polygon) this.chips.append(chip(`lasso (${f.polygon.length} pts)`, { polygon: undefined }, 'lasso'));
    // A filter this panel has no input for (an alert's filter from a newer server): a chip
    // still shows it and takes it away.
    const shown = new Set(['text', 'premise', 'hypothesis', 'gold', 'pred', 'min_confidence', 'max_confidence', 'min_dep', 'max_dep',
      'drifted', 'shifted', 'min_shift', 'max_shift', 'on_boundary', 'misclassified', 'meta', 'ids', 'polygon', 'similar']);
    for (const [k, v] of Object.entries(f)) {
      if (shown.has(k) || v === undefined || v === null || (Array.isArray(v) && !v.length)) continue;
      if (this.chips.querySelector(`[data-testid="chip-${CSS.escape(k)}"]`)) continue;
      this.chips.append(chip(`${k.replace(/_/g, ' ')} ${Array.isArray(v) ? `∈ ${v.join(', ')}` : `= ${String(v)}`}`, { [k]: undefined } as Partial<Filter>, k));
    }
  }
}
