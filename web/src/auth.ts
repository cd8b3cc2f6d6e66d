// The API key prompt: when the server answers 401, a small form asks for a key
// (`sextant keys create ...`), which is kept in sessionStorage for this tab only and sent
// as `Authorization: Bearer KEY` with every API call (api.ts); the top bar offers to forget it.
import { forgetToken, setKeyPrompt, setToken, token } from './api';
import { h } from './dom';

let onChange: () => void = () => {};

/** Shows the form and resolves once a key is stored. */
function promptForKey(message: string, refused: boolean): Promise<void> {
  document.querySelector('[data-testid=key-prompt]')?.remove();
  return new Promise((resolve) => {
    const input = h('input', {
      type: 'password', name: 'api-key', autocomplete: 'off', spellcheck: 'false', placeholder: 'API key',
      'data-testid': 'key-input', 'aria-label': 'API key',
    });
    const error = h('div', { class: 'key-error error small', 'data-testid': 'key-error' },
      refused ? `The server did not accept this key: ${message}` : '');
    const form = h('form', {
      class: 'key-form card', 'data-testid': 'key-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const key = input.value.trim();
        if (!key) { error.textContent = 'Enter a key.'; return; }
        setToken(key);
        overlay.remove();
        updateKeyStatus();
        resolve();
      },
    },
    h('h2', null, 'This server needs an API key'),
    h('p', { class: 'muted small' },
      'Ask an admin for a key (', h('code', null, 'sextant keys create'), '). It is kept in this browser tab only ',
      '(session storage, gone when the tab closes) and sent as ', h('code', null, 'Authorization: Bearer'), ' with each request.'),
    input, error,
    h('div', { class: 'key-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'key-submit' }, 'Use this key')));
    const overlay = h('div', { class: 'key-overlay', 'data-testid': 'key-prompt', role: 'dialog', 'aria-modal': 'true' }, form);
    document.body.append(overlay);
    input.focus();
  });
}

/** The top bar's key indicator: shown while a key is stored, with a "Forget key" button. */
export function keyStatus(): HTMLElement {
  const el = h('span', { class: 'key-status', 'data-testid': 'key-status' });
  fill(el);
  return el;
}

function fill(el: HTMLElement): void {
  el.replaceChildren();
  el.hidden = !token();
  if (el.hidden) return;
  el.append(h('span', { class: 'muted small' }, 'API key set'),
    h('button', { class: 'btn btn-xs', 'data-testid': 'key-forget', title: 'Remove the key from this tab',
      onclick: () => { forgetToken(); updateKeyStatus(); onChange(); } }, 'Forget key'));
}

export function updateKeyStatus(): void {
  document.querySelectorAll<HTMLElement>('[data-testid=key-status]').forEach(fill);
}

/** Installs the prompt; `changed` runs after the key is forgotten (the page reloads its data). */
export function installKeyPrompt(changed: () => void): void {
  onChange = changed;
  setKeyPrompt(promptForKey);
}

/** Asks for another key (after a 403), then runs `changed`. */
export function askForAnotherKey(): void {
  forgetToken();
  updateKeyStatus();
  onChange();
}
