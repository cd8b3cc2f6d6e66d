// Help text for the console's terms (issue 16, point 2): each term gets a "?" button whose
// title is the text (a tooltip on hover) and which opens the same text in a small popover
// (click, Enter or Space; Escape or a second press closes it), announced to screen readers
// through aria-describedby / aria-expanded.
import { h } from './dom';

export const HELP: Record<string, { title: string; text: string }> = {
  dep: { title: 'DEP', text: 'DEP (data error potential): how likely the sample\'s gold label is wrong or the sample hard, from its training dynamics (low confidence in the gold class and a high spread over epochs). 0 = learned easily, 1 = never learned. Sort by DEP to find label errors.' },
  drift_score: { title: 'drift score', text: 'Drift score: cosine distance from the sample\'s embedding to its k-th nearest training embedding. Above the drift threshold (the 95th percentile of the same distance on held-out data) the sample counts as drifted (out of coverage on labeled splits).' },
  threshold: { title: 'drift threshold', text: 'Drift threshold: the k-NN distance that 95% of held-out reference samples stay below. About 5% of data without drift lies above it (the nominal share), so a share well above 5% is drift; the p-value tests exactly that.' },
  out_of_coverage: { title: 'out of coverage', text: 'Out of coverage: a labeled split\'s samples whose drift score is above the drift threshold, i.e. farther from training than 95% of held-out data. Expect about 5% by construction.' },
  drifted: { title: 'drifted', text: 'Drifted: an inference sample whose drift score is above the drift threshold. The verdict compares the share of drifted samples with the 5% nominal share (interval and one-sided test).' },
  on_the_boundary: { title: 'on the boundary', text: 'On the boundary: the model hesitates between two classes (the second most likely class has at least half the probability of the first). Such samples are the most likely to flip under small changes.' },
  domain_auc: { title: 'domain AUC', text: 'Domain AUC: how well a classifier trained on the embeddings tells this set from the reference split (cross-fitted). 0.5 = indistinguishable; towards 1 = a different distribution. Significant when its p-value is below alpha.' },
  shift_score: { title: 'shift score', text: 'Shift score: the domain classifier\'s probability that the sample comes from this set rather than the reference. Samples above the shift threshold (exceeded by 5% of the reference) are flagged shifted.' },
  margin: { title: 'margin', text: 'Margin: the probability of the predicted class minus that of the runner-up. Small margins mean the model barely chose.' },
  confidence: { title: 'confidence', text: 'Confidence: the probability the model gives its predicted class (NER sentences: the lowest span confidence).' },
  span_errors: { title: 'span errors', text: 'Span errors: predicted spans that do not match a gold span exactly, plus gold spans never predicted (wrong tag, span shift, missed label, ghost span).' },
};

let seq = 0;

/** A "?" button for `key` (HELP), with a tooltip and an accessible popover. */
export function helpButton(key: string): HTMLElement {
  const entry = HELP[key];
  if (!entry) return h('span');
  const id = `help-${key}-${++seq}`;
  const pop = h('span', { class: 'help-pop', id, role: 'note', hidden: true }, entry.text);
  const btn: HTMLButtonElement = h('button', {
    type: 'button', class: 'help-btn', title: entry.text, 'aria-label': `What is ${entry.title}?`,
    'aria-expanded': 'false', 'aria-controls': id, 'data-testid': `help-${key}`, 'data-help': key,
    onclick: (e: Event) => { e.stopPropagation(); toggle(); },
    onkeydown: (e: KeyboardEvent) => {
      // Its own keys only: Enter/Space must not also sort a header it sits in.
      if (e.key === 'Enter' || e.key === ' ') e.stopPropagation();
      if (e.key === 'Escape' && !pop.hidden) { e.stopPropagation(); toggle(false); }
    },
  }, '?');
  const toggle = (open = pop.hidden) => {
    pop.hidden = !open;
    btn.setAttribute('aria-expanded', String(open));
  };
  return h('span', { class: 'help', onclick: (e: Event) => e.stopPropagation() }, btn, pop);
}

/** Closes every open help popover on a click elsewhere. */
document.addEventListener('click', () => {
  document.querySelectorAll<HTMLElement>('.help-pop:not([hidden])').forEach((p) => {
    p.hidden = true;
    p.parentElement?.querySelector('.help-btn')?.setAttribute('aria-expanded', 'false');
  });
});
