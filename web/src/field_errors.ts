// A filter the server refused (issue 16, point 8): an invalid regex marks its field
// (aria-invalid and the server's message under it) and disables the exports until the
// next answer. The table reports each failed or successful page here.
import { ApiError } from './api';
import { h } from './dom';

export interface FieldError { field: string; message: string }
let current: FieldError | null = null;
const subs = new Set<() => void>();

export function fieldError(): FieldError | null { return current; }
export function onFieldError(fn: () => void): void { subs.add(fn); }

function set(e: FieldError | null): void {
  if (JSON.stringify(e) === JSON.stringify(current)) return;
  current = e;
  mark();
  for (const fn of subs) fn();
}

/** The regex fields of the filter panel (data-testid=filter-FIELD). */
const FIELDS = ['text', 'premise', 'hypothesis'];

/**
 * Whether `e` is a refused filter (a 400 whose message names the field, as
 * "text: '(x' is not a valid regular expression …"); it is remembered and marked.
 */
export function isFilterError(e: unknown): boolean {
  if (e instanceof ApiError && e.status === 400) {
    const m = /^(\w+): /.exec(e.message);
    if (m && FIELDS.includes(m[1])) { set({ field: m[1], message: e.message.slice(m[0].length) }); return true; }
  }
  return false;
}

/** The filter was accepted: no field is marked any more. */
export function clearFieldError(): void { set(null); }

/** Marks (or unmarks) the fields in the page; run again after the panel re-renders. */
export function mark(): void {
  for (const f of FIELDS) {
    const input = document.querySelector<HTMLInputElement>(`[data-testid=filter-${f}]`);
    if (!input) continue;
    const msgId = `filter-${f}-error`;
    document.getElementById(msgId)?.remove();
    if (current?.field === f) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', msgId);
      input.after(h('div', { id: msgId, class: 'field-error', role: 'alert', 'data-testid': `filter-${f}-error` }, current.message));
    } else if (input.hasAttribute('aria-invalid')) {
      input.removeAttribute('aria-invalid');
      input.removeAttribute('aria-describedby');
    }
  }
}
