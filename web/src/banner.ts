// The "server unreachable" banner (issue 16, point 8): when a request cannot reach the
// server, one banner at the top says so with a Retry button (instead of "Failed to fetch"
// in every panel); it checks /api/health every few seconds and, once the server answers,
// goes away and reloads the page's data (`reload`).
import { onConnectivity } from './api';
import { h } from './dom';

const POLL_MS = 3000;

export function installBanner(reload: () => void): HTMLElement {
  const msg = h('span', { class: 'banner-msg' });
  const retry: HTMLButtonElement = h('button', { class: 'btn btn-sm', 'data-testid': 'banner-retry', onclick: () => void check(true) }, 'Retry');
  const el = h('div', { class: 'banner banner-error', role: 'alert', 'data-testid': 'server-banner', hidden: true }, msg, retry);
  document.body.prepend(el);
  let timer: number | undefined;
  let down = false;
  const show = () => {
    if (down) return;
    down = true;
    msg.textContent = `Cannot reach the Sextant server at ${location.host}. It may have stopped or the network is down; retrying every ${POLL_MS / 1000} s.`;
    el.hidden = false;
    clearInterval(timer);
    timer = window.setInterval(() => void check(false), POLL_MS);
  };
  const up = () => {
    if (!down) return;
    down = false;
    el.hidden = true;
    clearInterval(timer);
    reload();
  };
  async function check(byUser: boolean): Promise<void> {
    if (byUser) { retry.disabled = true; msg.textContent = 'Trying again…'; }
    let ok = false;
    try { ok = (await fetch('/api/health', { cache: 'no-store' })).status < 500; } catch { ok = false; }
    retry.disabled = false;
    if (ok) up();
    else if (byUser) msg.textContent = `Still cannot reach the Sextant server at ${location.host}; retrying every ${POLL_MS / 1000} s.`;
  }
  onConnectivity((reachable) => { if (reachable) up(); else show(); });
  return el;
}
