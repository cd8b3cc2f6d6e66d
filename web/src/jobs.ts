// Processing jobs of a team server (docs/console.md): the runs page's jobs panel, polling
// `GET /api/jobs` every 2 s while a job is queued or running, and the job badge of a run.
import { ApiError, api, type Job, type RunJob } from './api';
import { clear, h } from './dom';

export const POLL_MS = 2000;
// With no job active, a slow check shows uploads made since the page was opened.
export const IDLE_POLL_MS = 30000;
// Ended jobs listed in the panel (the newest); active ones are always listed.
const MAX_ENDED_SHOWN = 10;

const active = (j: RunJob) => j.state === 'queued' || j.state === 'running';

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago"; the exact time is in the title. */
export function ago(unixSeconds: number, now = Date.now() / 1000): string {
  const s = Math.max(0, Math.round(now - unixSeconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function isoTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** A run's job: its state badge, and while running a progress bar with the stage. */
export function jobBadge(job: RunJob | null | undefined): HTMLElement {
  const el = h('span', { class: 'job', 'data-testid': 'run-job', 'data-state': job?.state ?? 'none' });
  if (!job) { el.append(h('span', { class: 'muted' }, '—')); return el; }
  const cls = { queued: 'badge-muted', running: 'badge-warn', done: 'badge-ok', failed: 'badge-bad' }[job.state];
  el.append(h('span', { class: `badge ${cls}`, 'data-testid': 'job-state' }, job.state));
  if (job.state === 'running') el.append(progress(job));
  if (job.state === 'failed' && job.error) el.append(h('span', { class: 'error small job-error', 'data-testid': 'job-error', title: job.error }, job.error));
  el.title = `job ${job.id}${job.stage ? `: ${job.stage}` : ''}`;
  return el;
}

function progress(job: RunJob): HTMLElement {
  const p = Math.min(1, Math.max(0, job.progress || 0));
  const pct = `${Math.round(p * 100)}%`;
  return h('span', { class: 'job-progress', 'data-testid': 'job-progress', 'data-progress': String(p) },
    h('span', { class: 'job-track' }, h('span', { class: 'job-fill', style: { width: pct } })),
    h('span', { class: 'small' }, `${pct}${job.stage ? ` · ${job.stage}` : ''}`));
}

/**
 * The jobs panel. Hidden on a server without jobs (404). Polls every 2 s while a job is
 * queued or running, every 30 s otherwise. `changed` gets every answer (the runs table
 * updates its job column); `finished` runs when a job it saw active has ended, or a new
 * job appeared (the runs list is read again).
 */
export class JobsPanel {
  readonly el: HTMLElement;
  private list: HTMLElement;
  private timer: number | undefined;
  private stopped = false;
  private activeIds = new Set<string>();
  private seen: Set<string> | null = null;

  constructor(private o: { changed: (jobs: Job[]) => void; finished: () => void }) {
    this.list = h('div', { class: 'jobs-list' });
    this.el = h('section', { class: 'card jobs', 'data-testid': 'jobs', hidden: true },
      h('div', { class: 'card-head' }, h('h2', null, 'Processing jobs'), h('span', { class: 'muted small', 'data-testid': 'jobs-polling' })),
      this.list);
  }

  start(): void { void this.poll(); }

  stop(): void { this.stopped = true; clearTimeout(this.timer); }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    let jobs: Job[];
    try {
      jobs = (await api.jobs()).jobs;
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof ApiError && e.status === 404) { this.el.hidden = true; return; }  // no job queue
      this.el.hidden = false;
      clear(this.list);
      this.list.append(h('div', { class: 'error small', 'data-testid': 'jobs-error' }, `Could not read the jobs: ${(e as Error).message}`));
      this.timer = window.setTimeout(() => void this.poll(), POLL_MS);
      return;
    }
    if (this.stopped) return;
    this.render(jobs);
    this.o.changed(jobs);
    const nowActive = new Set(jobs.filter(active).map((j) => j.id));
    const ended = [...this.activeIds].some((id) => !nowActive.has(id));
    // A job not seen before: an upload since the last answer (perhaps of a new run).
    const fresh = this.seen !== null && jobs.some((j) => !this.seen!.has(j.id));
    this.activeIds = nowActive;
    this.seen = new Set(jobs.map((j) => j.id));
    if (ended || fresh) this.o.finished();
    const polling = nowActive.size > 0;
    this.el.dataset.polling = polling ? '1' : '0';
    (this.el.querySelector('[data-testid=jobs-polling]') as HTMLElement).textContent = polling ? 'updating every 2 s' : '';
    this.timer = window.setTimeout(() => void this.poll(), polling ? POLL_MS : IDLE_POLL_MS);
  }

  private render(jobs: Job[]): void {
    this.el.hidden = jobs.length === 0;
    clear(this.list);
    // Every active job, and the newest of the ended ones.
    const sorted = [...jobs].sort((a, b) => (b.created_at ?? 0) - (a.created_at ?? 0));
    const ended = sorted.filter((j) => !active(j));
    const shown = [...sorted.filter(active), ...ended.slice(0, MAX_ENDED_SHOWN)];
    const hidden = ended.length - Math.min(ended.length, MAX_ENDED_SHOWN);
    const time = (t: number | null) => (t ? h('span', { title: isoTime(t) }, ago(t)) : h('span', { class: 'muted' }, '—'));
    this.list.append(h('table', { class: 'runs jobs-table' },
      h('thead', null, h('tr', null, ...['run', 'state', 'uploaded by', 'queued', 'started', 'finished'].map((t) => h('th', null, t)))),
      h('tbody', null, ...shown.map((j) => h('tr', { 'data-testid': 'job', 'data-id': j.id, 'data-state': j.state, 'data-project': j.project, 'data-run': j.run },
        h('td', null, `${j.project}/${j.run}`),
        h('td', null, jobBadge(j)),
        h('td', { 'data-testid': 'job-uploaded-by' }, j.uploaded_by ?? h('span', { class: 'muted' }, '—')),
        h('td', { class: 'small' }, time(j.created_at)),
        h('td', { class: 'small' }, time(j.started_at)),
        h('td', { class: 'small' }, time(j.finished_at)))))));
    if (hidden > 0) this.list.append(h('div', { class: 'muted small', 'data-testid': 'jobs-more' }, `and ${hidden} older job${hidden > 1 ? 's' : ''}`));
  }
}
