// Routes: `/` lists the runs; `/runs/PROJECT/RUN?split=S` is a run's page.
import './style.css';
import { ApiError, api, type Job, type RunInfo } from './api';
import { askForAnotherKey, installKeyPrompt, keyStatus } from './auth';
import { bytes, clear, h, splitLabel } from './dom';
import { FilterPanel } from './filters';
import { InsightsPanel } from './insights';
import { JobsPanel, ago, isoTime, jobBadge } from './jobs';
import { EmbeddingMap } from './map';
import { comparePage } from './compare';
import { rulesPage } from './rules';
import { compareUrl, timelinePage } from './timeline';
import { SamplePanel } from './panel';
import { RunState } from './state';
import { UrlSync, initFromUrl } from './url_state';
import { SpanFilters, SpanTable } from './spans';
import { SampleTable } from './table';
import { SelectionTray } from './tray';
import { SuggestPanel } from './suggest';
// Issue 16 (points 5 to 8): export menu, theme, keyboard and ARIA, server banner.
import { ExportMenu } from './export_menu';
import { installBanner } from './banner';
import { themeToggle } from './theme';
import { installNamer, makeTablist, managePanelFocus } from './a11y';

const app = document.getElementById('app')!;

function navigate(path: string): void {
  history.pushState(null, '', path);
  void route();
}

function link(path: string, attrs: Record<string, unknown>, ...children: (Node | string)[]): HTMLAnchorElement {
  return h('a', { ...attrs, href: path, onclick: (e: MouseEvent) => {
    if (e.ctrlKey || e.metaKey || e.button !== 0) return;
    e.preventDefault(); navigate(path);
  } }, ...children);
}

function header(...crumbs: (Node | string)[]): HTMLElement {
  return h('header', { class: 'topbar' },
    // The page's title for screen readers (axe: page-has-heading-one).
    h('h1', { class: 'sr-only' }, document.title.replace(/ · Sextant$/, '')),
    link('/', { class: 'brand', 'data-testid': 'home' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◆'), 'Sextant'),
    h('nav', { class: 'crumbs' }, ...crumbs), keyStatus(), themeToggle());
}

/** Who uploaded the run and when (team server); "—" for a run logged on the server itself. */
function uploadedCell(r: RunInfo): HTMLElement {
  const td = h('td', { class: 'small', 'data-testid': 'run-uploaded' });
  if (r.uploaded_by == null && r.uploaded_at == null) {
    td.append(h('span', { class: 'muted', title: 'not uploaded: logged where the server runs' }, '—'));
    return td;
  }
  td.append(h('span', { 'data-testid': 'run-uploaded-by' }, r.uploaded_by ?? 'unknown key'));
  if (r.uploaded_at != null) {
    td.append(' ', h('span', { class: 'muted', 'data-testid': 'run-uploaded-at', 'data-at': String(r.uploaded_at), title: isoTime(r.uploaded_at) }, ago(r.uploaded_at)));
  }
  return td;
}

/** The error card of a page, with "Use another key" after a 403. */
function errorCard(e: unknown, prefix = ''): HTMLElement {
  const card = h('div', { class: 'error card', 'data-testid': 'run-error' }, `${prefix}${(e as Error).message}`);
  if (e instanceof ApiError && e.status === 403) {
    card.dataset.forbidden = e.project ?? '';
    card.append(' ', h('button', { class: 'btn btn-xs', 'data-testid': 'key-other', onclick: () => askForAnotherKey() }, 'Use another key'));
  }
  return card;
}

// What the current page polls; stopped when the page changes.
let stopPage: (() => void) | null = null;
// The run page's URL state: back/forward between its views restore them in place.
let urlSync: UrlSync | null = null;

function runUrl(r: RunInfo, split?: string): string {
  const base = `/runs/${encodeURIComponent(r.project)}/${encodeURIComponent(r.run)}`;
  return split ? `${base}?split=${encodeURIComponent(split)}` : base;
}

async function runsPage(): Promise<void> {
  document.title = 'Runs · Sextant';
  const body = h('main', { class: 'page runs-page', 'data-testid': 'runs-page' }, h('div', { class: 'muted' }, 'loading…'));
  clear(app);
  app.append(header(h('span', null, 'Runs')), body);
  const listing = h('div', { class: 'runs-listing' });
  let jobsByRun = new Map<string, Job>();
  const runKey = (project: string, run: string) => `${project}\u0000${run}`;
  // The jobs panel's answers replace each run's job badge (the newest job of the run).
  const showJobs = (jobs: Job[]) => {
    jobsByRun = new Map();
    for (const j of [...jobs].sort((a, b) => (a.created_at ?? 0) - (b.created_at ?? 0))) jobsByRun.set(runKey(j.project, j.run), j);
    listing.querySelectorAll<HTMLElement>('[data-testid=run-row]').forEach((row) => {
      const j = jobsByRun.get(runKey(row.dataset.project!, row.dataset.run!));
      if (j) row.querySelector('[data-testid=run-job]')!.replaceWith(jobBadge(j));
    });
  };
  let loads = 0;
  let teamServer = false;
  const load = async () => {
    const mine = ++loads;
    let runs: RunInfo[];
    try { runs = (await api.runs()).runs; } catch (e) {
      if (mine !== loads) return;
      clear(body); body.append(errorCard(e, 'Could not list the runs: ')); return;
    }
    if (mine !== loads) return;
    // A server with a job queue gives each run its `job` (null when none); the jobs panel
    // is not asked of one without (nor is its 404), unless the store is empty.
    teamServer = runs.length === 0 || runs.some((r) => 'job' in r);
    renderRuns(listing, runs, (r) => jobsByRun.get(runKey(r.project, r.run)) ?? r.job);
    if (!body.contains(listing)) { clear(body); body.append(jobs.el, listing); }
  };
  const jobs = new JobsPanel({ changed: showJobs, finished: () => void load() });
  stopPage = () => jobs.stop();
  await load();
  if (teamServer) jobs.start();
}

function renderRuns(body: HTMLElement, runs: RunInfo[], jobOf: (r: RunInfo) => RunInfo['job']): void {
  clear(body);
  if (!runs.length) { body.append(h('div', { class: 'card muted', 'data-testid': 'runs-empty' }, 'No run in this store yet. Log one with `sextant import`.')); return; }
  const byProject = new Map<string, RunInfo[]>();
  for (const r of runs) byProject.set(r.project, [...(byProject.get(r.project) ?? []), r]);
  for (const [project, rs] of byProject) {
    body.append(h('section', { class: 'card project', 'data-testid': 'project', 'data-project': project },
      h('div', { class: 'card-head' }, h('h2', null, project), h('span', { class: 'muted small' }, `${rs.length} run${rs.length > 1 ? 's' : ''}`)),
      h('table', { class: 'runs' },
        h('thead', null, h('tr', null, ...['run', 'state', 'task', 'labels', 'splits', 'uploaded', 'job', 'size'].map((t) => h('th', null, t)))),
        h('tbody', null, ...rs.map((r) => h('tr', { 'data-testid': 'run-row', 'data-project': r.project, 'data-run': r.run },
          h('td', null, link(runUrl(r), { class: 'run-link', 'data-testid': 'run-link' }, r.run)),
          h('td', null, h('span', { class: `badge ${r.finished ? 'badge-ok' : 'badge-muted'}`, 'data-testid': 'run-state' }, r.finished ? 'finished' : 'in progress')),
          h('td', { class: 'muted' }, r.task),
          h('td', { class: 'small' }, r.labels.join(', ')),
          h('td', null, h('div', { class: 'split-chips' }, ...r.splits.map((s) => link(runUrl(r, s.split), {
            class: `split-chip ${s.processed ? '' : 'unprocessed'}`, 'data-testid': 'split-chip', 'data-split': s.split,
            title: `${s.samples} samples, ${s.epochs_logged} epoch(s), dim ${s.embedding_dim}${s.processed ? '' : ', not processed'}`,
          }, `${splitLabel(s.split)} `, h('span', { class: 'muted' }, s.samples.toLocaleString()))))),
          uploadedCell(r),
          h('td', null, jobBadge(jobOf(r))),
          h('td', { class: 'num muted' }, bytes(r.size_bytes)))))),
    ));
  }
}

/** The split picker's "compare with…": the current split (B) against another (A). */
function comparePicker(info: RunInfo, st: RunState): HTMLElement {
  const sel = h('select', { 'data-testid': 'compare-with', title: 'compare this split with another',
    onchange: () => { if (sel.value) navigate(compareUrl(info.project, info.run, sel.value, st.split)); } });
  const fill = () => {
    clear(sel);
    sel.append(h('option', { value: '' }, 'compare with…'),
      ...info.splits.filter((s) => s.split !== st.split).map((s) => h('option', { value: s.split }, splitLabel(s.split))));
  };
  st.on('split', fill);
  fill();
  return h('div', { class: 'runbar-group' }, sel);
}

/** A page under a run (timeline, compare): the header with the run's crumbs. */
function subPage(project: string, run: string, title: string): HTMLElement {
  document.title = `${title} · ${project}/${run} · Sextant`;
  clear(app);
  const base = `/runs/${encodeURIComponent(project)}/${encodeURIComponent(run)}`;
  const main = h('main', { class: 'page' }, h('div', { class: 'muted' }, 'loading…'));
  app.append(header(link('/', {}, 'Runs'), h('span', null, '/'), h('span', null, project), h('span', null, '/'),
    link(base, { 'data-testid': 'crumb-run' }, run), h('span', null, '/'), h('b', null, title)), main);
  return main;
}

async function runTimelinePage(project: string, run: string): Promise<void> {
  await timelinePage(subPage(project, run, 'Timeline'), project, run, navigate);
}

async function runComparePage(project: string, run: string): Promise<void> {
  const main = subPage(project, run, 'Compare');
  let info: RunInfo;
  try { info = await api.run(project, run); } catch (e) { clear(main); main.append(errorCard(e)); return; }
  const q = new URLSearchParams(location.search);
  await comparePage(main, info, q.get('a') ?? '', q.get('b') ?? '', navigate);
}

async function projectAlertsPage(project: string): Promise<void> {
  document.title = `Alerts · ${project} · Sextant`;
  clear(app);
  const main = h('main', { class: 'page' });
  app.append(header(link('/', {}, 'Runs'), h('span', null, '/'), h('span', null, project), h('span', null, '/'), h('b', null, 'Alert rules')), main);
  await rulesPage(main, project);
}

async function runPage(project: string, run: string): Promise<void> {
  document.title = `${project}/${run} · Sextant`;
  clear(app);
  const main = h('main', { class: 'page' }, h('div', { class: 'muted' }, 'loading…'));
  app.append(header(link('/', {}, 'Runs'), h('span', null, '/'), h('span', null, project), h('span', null, '/'), h('b', null, run)), main);
  let info: RunInfo;
  try { info = await api.run(project, run); } catch (e) {
    clear(main); main.append(errorCard(e)); return;
  }
  const splits = info.splits.map((s) => s.split);
  const wanted = new URLSearchParams(location.search).get('split');
  const firstProd = splits.find((s) => s.startsWith('inference:'));
  const split = wanted && splits.includes(wanted) ? wanted : firstProd ?? splits[0] ?? 'training';
  const st = new RunState(project, run, info, split);
  // The whole view lives in the URL (url_state.ts), so a view can be shared or reloaded.
  await initFromUrl(st);
  const wantSpans = st.view === 'spans';
  st.view = 'samples';

  const pickerFor = (kind: 'dataset' | 'inference') => {
    const own = splits.filter((s) => (kind === 'inference') === s.startsWith('inference:'));
    if (own.length > 4) {
      // Many inference sets (daily batches…): a drop-down.
      const sel = h('select', { 'data-testid': kind === 'inference' ? 'inference-picker' : 'split-picker',
        onchange: (e: Event) => { const v = (e.target as HTMLSelectElement).value; if (v) st.setSplit(v); } },
      h('option', { value: '' }, '—'),
      ...own.map((s) => h('option', { value: s, selected: s === st.split },
        `${splitLabel(s)} (${(info.splits.find((x) => x.split === s)?.samples ?? 0).toLocaleString()})`)));
      st.on('split', () => { sel.value = own.includes(st.split) ? st.split : ''; });
      return sel;
    }
    return h('div', { class: 'seg-group', 'data-testid': kind === 'inference' ? 'inference-picker' : 'split-picker' },
      ...own.map((s) => h('button', {
        class: `btn btn-sm seg ${s === st.split ? 'on' : ''}`, 'data-split': s, 'data-testid': 'split-option',
        onclick: () => st.setSplit(s),
      }, splitLabel(s), h('span', { class: 'muted small' }, ` ${(info.splits.find((x) => x.split === s)?.samples ?? 0).toLocaleString()}`))));
  };
  const bar = h('div', { class: 'runbar' },
    h('div', { class: 'runbar-group' }, h('span', { class: 'runbar-label' }, 'Split'), pickerFor('dataset')),
    splits.some((s) => s.startsWith('inference:')) ? h('div', { class: 'runbar-group' }, h('span', { class: 'runbar-label' }, 'Inference set'), pickerFor('inference')) : null,
    h('span', { class: `badge ${info.finished ? 'badge-ok' : 'badge-muted'}` }, info.finished ? 'finished' : 'in progress'),
    h('span', { class: 'muted small' }, `labels: ${info.labels.join(', ')}`),
    // Team server: who uploaded the run, and its job while not done.
    info.uploaded_by != null ? h('span', { class: 'muted small', 'data-testid': 'run-uploaded' }, `uploaded by ${info.uploaded_by}`,
      info.uploaded_at != null ? h('span', { title: isoTime(info.uploaded_at) }, ` · ${ago(info.uploaded_at)}`) : null) : null,
    info.job && info.job.state !== 'done' ? jobBadge(info.job) : null,
    link(`${runUrl(info)}/timeline`, { class: 'btn btn-sm', 'data-testid': 'timeline-link' }, 'Timeline'),
    comparePicker(info, st));
  st.on('split', () => bar.querySelectorAll<HTMLElement>('.seg').forEach((b) => b.classList.toggle('on', b.dataset.split === st.split)));

  const filters = new FilterPanel(st);
  const tray = new SelectionTray(st);
  const suggest = new SuggestPanel(st, () => tray.refresh());
  const map = new EmbeddingMap(st);
  const insights = new InsightsPanel(st);
  const table = new SampleTable(st);
  const panel = new SamplePanel(st);
  st.on('open', () => { map.markOpen(); document.body.classList.toggle('panel-open', !!st.open); });
  st.on('span', () => map.markOpen());
  // NER: a Samples / Spans switch swaps the filter card and the table (the map, insights
  // and sample panel stay); the view is kept in the URL as ?view=spans.
  const spanFilters = st.isNer ? new SpanFilters(st) : null;
  const spanTable = st.isNer ? new SpanTable(st) : null;
  const viewSwitch = st.isNer ? h('div', { class: 'runbar-group' }, h('span', { class: 'runbar-label' }, 'View'),
    h('div', { class: 'seg-group', 'data-testid': 'view-switch' }, ...(['samples', 'spans'] as const).map((v) => h('button', {
      class: `btn btn-sm seg ${v === 'samples' ? 'on' : ''}`, 'data-view': v, 'data-testid': `view-${v}`, onclick: () => st.setView(v),
    }, v === 'samples' ? 'Samples' : 'Spans')))) : null;
  if (viewSwitch) bar.insertBefore(viewSwitch, bar.children[1] ?? null);
  // Export the filtered rows as the table shows them (order, top N, columns): export_menu.ts.
  table.el.querySelector('.card-head')!.append(new ExportMenu(st).el);
  bar.querySelectorAll('.seg-group').forEach((g) => makeTablist(g,
    ({ 'view-switch': 'View', 'inference-picker': 'Inference set' } as Record<string, string>)[g.getAttribute('data-testid') ?? ''] ?? 'Split'));
  managePanelFocus(panel.el, st);

  clear(main);
  main.className = 'page run-page';
  main.dataset.testid = 'run-page';
  main.append(bar, h('div', { class: 'run-grid' },
    h('div', { class: 'side' }, filters.el, spanFilters?.el, tray.el, suggest.el),
    h('div', { class: 'center' }, h('div', { class: 'top-row' }, map.el, insights.el), table.el, spanTable?.el),
    panel.el));
  if (spanFilters && spanTable) {
    const showView = () => {
      const spans = st.view === 'spans';
      // The tray stays: in the span view it adds the samples of the filtered spans.
      filters.el.hidden = spans; table.el.hidden = spans;
      spanFilters.el.hidden = !spans; spanTable.el.hidden = !spans;
      viewSwitch!.querySelectorAll<HTMLElement>('.seg').forEach((b) => b.classList.toggle('on', b.dataset.view === st.view));
    };
    st.on('view', showView);
    showView();
    if (wantSpans) st.setView('spans');
  }
  if (st.open) st.emit('open');
  urlSync = new UrlSync(st, location.pathname);
}

async function route(): Promise<void> {
  const parts = location.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  document.body.classList.remove('panel-open');
  urlSync = null;
  stopPage?.();
  stopPage = null;
  if (parts[0] === 'runs' && parts[3] === 'timeline') await runTimelinePage(parts[1], parts[2]);
  else if (parts[0] === 'runs' && parts[3] === 'compare') await runComparePage(parts[1], parts[2]);
  else if (parts[0] === 'projects' && parts[2] === 'alerts') await projectAlertsPage(parts[1]);
  else if (parts[0] === 'runs' && parts.length >= 3) await runPage(parts[1], parts[2]);
  else await runsPage();
}

installKeyPrompt(() => void route());
installBanner(() => void route());
installNamer(app);
window.addEventListener('popstate', () => { if (urlSync?.owns()) void urlSync.restore(); else void route(); });
window.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') (document.querySelector('[data-testid=sample-close]') as HTMLElement | null)?.click();
});
void route();
