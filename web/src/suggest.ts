// "Suggest N to label" (docs/labeling.md): asks GET .../suggest for the samples of the
// current inference set to label next, fills a named selection with them (the
// selection tray's add API) and lists each one with the reasons it was chosen;
// clicking a suggestion opens the sample.
import { api, ApiError } from './api';
import { clear, h } from './dom';
import type { RunState } from './state';

export interface Suggestion {
  id: string; split: string; rank: number; score: number; reasons: string[];
  scores: Record<string, number>; text?: string; pred?: string; confidence?: number;
  margin?: number; drift_score?: number | null; shift_score?: number | null;
}
export interface SuggestAnswer {
  strategy: string; budget: number; pool: number; excluded_duplicates: number;
  took_ms: number; suggestions: Suggestion[];
}

const STRATEGIES: [string, string][] = [
  ['default', 'Default (uncertain, shifted, diverse)'],
  ['uncertainty', 'Uncertainty (smallest margin)'],
  ['drift', 'Drift (most shifted)'],
  ['diverse', 'Diverse (k-center)'],
  ['random', 'Random'],
];

export class SuggestPanel {
  el: HTMLElement;
  private budget: HTMLInputElement;
  private strategy: HTMLSelectElement;
  private perClass: HTMLInputElement;
  private selName: HTMLInputElement;
  private go: HTMLButtonElement;
  private msg: HTMLElement;
  private list: HTMLElement;
  private last: SuggestAnswer | null = null;

  /** `filled`: called after the selection was filled (the tray refreshes). */
  constructor(private st: RunState, private filled: () => void | Promise<void>) {
    this.budget = h('input', { type: 'number', min: '1', max: '100000', value: '50', class: 'suggest-budget',
      'data-testid': 'suggest-budget', oninput: () => this.updateButton() });
    this.strategy = h('select', { 'data-testid': 'suggest-strategy' },
      ...STRATEGIES.map(([v, label]) => h('option', { value: v }, label)));
    this.perClass = h('input', { type: 'checkbox', 'data-testid': 'suggest-per-class' });
    this.selName = h('input', { type: 'text', value: 'to-label', placeholder: 'selection name', 'data-testid': 'suggest-selection' });
    this.go = h('button', { class: 'btn btn-sm btn-primary', 'data-testid': 'suggest-run', onclick: () => void this.run() });
    this.msg = h('div', { class: 'tray-msg small', 'data-testid': 'suggest-msg' });
    this.list = h('ol', { class: 'suggestions', 'data-testid': 'suggest-list' });
    this.el = h('section', { class: 'card suggest', 'data-testid': 'suggest-card' },
      h('div', { class: 'card-head' }, h('h2', null, 'What to label next')),
      h('div', { class: 'suggest-form' },
        h('label', { class: 'small' }, 'How many ', this.budget),
        h('label', { class: 'small' }, 'Strategy ', this.strategy),
        h('label', { class: 'small', title: 'Split the budget over the predicted classes in proportion' }, this.perClass, ' per class'),
        h('label', { class: 'small' }, 'into selection ', this.selName),
        this.go),
      this.msg, this.list);
    this.updateButton();
    this.showForSplit();
    st.on('split', () => { this.showForSplit(); clear(this.list); this.say(''); });
  }

  private showForSplit(): void {
    // Suggestions pick unlabeled data: inference sets (validation/test work too, training never).
    this.el.hidden = this.st.split === 'training';
  }

  private count(): number {
    const n = Math.floor(Number(this.budget.value));
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  private updateButton(): void {
    const n = this.count();
    this.go.textContent = `Suggest ${n || 'N'} to label`;
    this.go.disabled = n === 0;
  }

  private say(text: string, error = false): void {
    this.msg.textContent = text;
    this.msg.classList.toggle('error', error);
  }

  async run(): Promise<void> {
    const n = this.count();
    const name = this.selName.value.trim();
    if (!n) { this.say('How many: a number of at least 1.', true); return; }
    if (!name) { this.say('Name the selection to fill.', true); return; }
    const q = new URLSearchParams({ split: this.st.split, budget: String(n), strategy: this.strategy.value });
    if (this.perClass.checked) q.set('per_class', 'true');
    this.go.disabled = true;
    this.say('Choosing…');
    try {
      const a = await api.suggest<SuggestAnswer>(this.st.project, this.st.run, q);
      this.last = a;
      try {
        await api.createSelection(this.st.project, this.st.run, name);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 'already_exists')) throw e;
      }
      const items = a.suggestions.map((s) => ({ split: s.split, id: s.id }));
      const r = items.length ? await api.addItems(this.st.project, this.st.run, name, items) : { count: 0 };
      this.render(a);
      const dup = a.excluded_duplicates ? `; ${a.excluded_duplicates} near-duplicate${a.excluded_duplicates === 1 ? '' : 's'} left out` : '';
      this.say(`${a.suggestions.length} of ${a.pool.toLocaleString()} samples suggested${dup}. “${name}” now holds ${r.count}.`);
      await this.filled();
    } catch (e) {
      this.say((e as Error).message, true);
    } finally {
      this.updateButton();
    }
  }

  private render(a: SuggestAnswer): void {
    clear(this.list);
    for (const s of a.suggestions) {
      this.list.append(h('li', { class: 'suggestion', 'data-testid': 'suggest-item', 'data-id': s.id,
        title: 'Open this sample', onclick: () => this.st.openSample(s.split, s.id) },
      h('div', { class: 'sugg-top' },
        h('span', { class: 'sugg-rank muted small' }, `#${s.rank}`),
        h('span', { class: 'sugg-id' }, s.id),
        s.pred !== undefined ? h('span', { class: 'badge badge-muted' }, s.pred) : null,
        h('span', { class: 'muted small' }, `score ${s.score.toFixed(3)}`)),
      s.text ? h('div', { class: 'sugg-text small' }, s.text.length > 160 ? `${s.text.slice(0, 157)}…` : s.text) : null,
      h('ul', { class: 'sugg-reasons small' }, ...s.reasons.map((r) => h('li', { 'data-testid': 'suggest-reason' }, r)))));
    }
    if (a.suggestions.length) {
      this.list.append(h('li', { class: 'sugg-actions' }, h('button', { class: 'btn btn-xs', 'data-testid': 'suggest-show',
        onclick: () => this.st.replaceFilter({ ids: a.suggestions.filter((s) => s.split === this.st.split).map((s) => s.id) }) },
      'Show them in the table')));
    }
  }

  /** The last answer (for tests and other views). */
  answer(): SuggestAnswer | null { return this.last; }
}
