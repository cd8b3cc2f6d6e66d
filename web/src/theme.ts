// Light and dark themes (issue 16, point 6): the system setting (prefers-color-scheme) unless
// the user picked one with the top bar's toggle, which is remembered in localStorage.
// The theme is `data-theme` on <html>; style.css holds the dark colours, theme.css the light.
import './theme.css';
import { h } from './dom';

const KEY = 'sextant.theme';
type Theme = 'light' | 'dark';
const media = window.matchMedia('(prefers-color-scheme: light)');

/** Where localStorage is refused (private modes), the choice lasts for the page. */
let memo: Theme | null = null;
function chosen(): Theme | null {
  try { const v = localStorage.getItem(KEY); return v === 'light' || v === 'dark' ? v : memo; } catch { return memo; }
}
export function currentTheme(): Theme { return chosen() ?? (media.matches ? 'light' : 'dark'); }

function apply(): void {
  document.documentElement.dataset.theme = currentTheme();
  document.documentElement.dataset.themeSource = chosen() ? 'user' : 'system';
  for (const b of document.querySelectorAll<HTMLElement>('[data-testid=theme-toggle]')) label(b);
}

function label(b: HTMLElement): void {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  b.textContent = currentTheme() === 'dark' ? '☀' : '☾';
  b.title = `Switch to the ${next} theme`;
  b.setAttribute('aria-label', `Switch to the ${next} theme`);
  b.setAttribute('aria-pressed', String(currentTheme() === 'light'));
}

/** The toggle: flips the theme and remembers the choice (a choice equal to the system's is kept too). */
export function themeToggle(): HTMLElement {
  const b = h('button', { type: 'button', class: 'btn btn-ghost btn-sm theme-toggle', 'data-testid': 'theme-toggle', onclick: () => {
    memo = currentTheme() === 'dark' ? 'light' : 'dark';
    try { localStorage.setItem(KEY, memo); } catch { /* private mode: this page only */ }
    apply();
  } });
  label(b);
  return b;
}

media.addEventListener('change', apply);
apply();
