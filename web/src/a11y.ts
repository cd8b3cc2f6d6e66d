// Keyboard use and ARIA (issue 16, point 7): tab lists for the split pickers and switches,
// the sample panel as a (non-modal) dialog that takes focus when opened from the keyboard
// and gives it back to its row when closed, and accessible names for controls that have
// only a title or a placeholder (map toolbar, pickers). The table's grid semantics and
// keys live in table.ts (rows and headers are rendered there).
import './ui.css';
import type { RunState } from './state';

/** Whether the last sample was opened from the keyboard (its panel then takes focus). */
let keyboardOpen = false;
export function openedFromKeyboard(v: boolean): void { keyboardOpen = v; }

/**
 * A group of toggle buttons (`.seg` with class `on` for the current one) as a tablist:
 * role tab, aria-selected following the class, one tab stop, arrows move and activate.
 */
export function makeTablist(group: Element, label: string): void {
  group.setAttribute('role', 'tablist');
  group.setAttribute('aria-label', label);
  const tabs = () => [...group.querySelectorAll<HTMLElement>('.seg')];
  const sync = () => {
    const all = tabs();
    const on = all.findIndex((t) => t.classList.contains('on'));
    all.forEach((t, i) => {
      t.setAttribute('role', 'tab');
      t.setAttribute('aria-selected', String(i === on));
      t.tabIndex = i === (on < 0 ? 0 : on) ? 0 : -1;
    });
  };
  sync();
  new MutationObserver(sync).observe(group, { subtree: true, attributes: true, attributeFilter: ['class'] });
  group.addEventListener('keydown', (e) => {
    const k = (e as KeyboardEvent).key;
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(k)) return;
    const all = tabs();
    const i = all.indexOf(document.activeElement as HTMLElement);
    if (i < 0) return;
    e.preventDefault();
    const j = k === 'Home' ? 0 : k === 'End' ? all.length - 1 : (i + (k === 'ArrowRight' ? 1 : -1) + all.length) % all.length;
    all[j].focus();
    all[j].click();
  });
}

/**
 * The sample panel as a dialog: labelled by its heading; opened from the keyboard it takes
 * focus (its close button); closed, focus goes back to the row of the sample it showed.
 */
export function managePanelFocus(panel: HTMLElement, st: RunState): void {
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-modal', 'false');
  const head = panel.querySelector('h2');
  if (head) { head.id ||= 'sample-panel-title'; panel.setAttribute('aria-labelledby', head.id); }
  panel.querySelector('[data-testid=sample-close]')?.setAttribute('aria-label', 'Close the sample panel');
  let last: { split: string; id: string } | null = null;
  st.on('open', () => {
    if (st.open) {
      last = st.open;
      if (keyboardOpen) {
        keyboardOpen = false;
        // After the panel is shown (its `hidden` goes in the same turn).
        queueMicrotask(() => (panel.querySelector<HTMLElement>('[data-testid=sample-close]'))?.focus({ preventScroll: true }));
      }
      return;
    }
    const had = last;
    last = null;
    const active = document.activeElement;
    if (!had || (active && active !== document.body && !panel.contains(active))) return;
    // The row is re-rendered by then: find it by its id.
    queueMicrotask(() => {
      const row = document.querySelector<HTMLElement>(`[data-testid=sample-row][data-id="${CSS.escape(had.id)}"]`);
      (row ?? document.querySelector<HTMLElement>('[data-testid=sample-row][tabindex="0"]'))?.focus({ preventScroll: false });
    });
  });
}

/** The name a control can be given from what it already shows. */
function nameOf(el: Element): string | null {
  return el.getAttribute('title') || el.getAttribute('placeholder') || (el.getAttribute('data-testid') ?? '').replace(/[-_]/g, ' ') || null;
}

function hasName(el: Element): boolean {
  if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return true;
  const id = el.id;
  if (id && document.querySelector(`label[for="${CSS.escape(id)}"]`)) return true;
  if (el.closest('label')) return true;
  if (el.tagName === 'BUTTON' || el.tagName === 'A') return !!el.textContent?.trim();
  return false;
}

function fixNames(root: Element): void {
  const els = root.matches?.('select, input, textarea, button') ? [root] : [];
  els.push(...root.querySelectorAll('select, input:not([type=hidden]), textarea, button'));
  for (const el of els) {
    if (hasName(el)) continue;
    const n = nameOf(el);
    if (n) el.setAttribute('aria-label', n);
  }
}

/** Names every unnamed control now and as the app adds them. */
export function installNamer(root: HTMLElement): void {
  fixNames(root);
  new MutationObserver((muts) => {
    for (const m of muts) for (const n of m.addedNodes) if (n instanceof Element) fixNames(n);
  }).observe(root, { childList: true, subtree: true });
}
