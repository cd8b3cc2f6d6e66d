// The alert rules editor of a project (/projects/P/alerts), over the alerts API: the rules
// (list, add, edit, enable/disable, remove; built-in ones editable too), the states that
// fire now, the webhooks (list, add, remove, test send) and their latest deliveries.
import { monitorApi, type AlertRule, type AlertState, type Delivery, type Webhook } from './api';
import { clear, h } from './dom';
import { CLASS_METRICS, OVERALL_METRICS } from './timeline';

const KINDS: AlertRule['kind'][] = ['threshold', 'change_from_training', 'band'];
const OPS = ['>', '>=', '<', '<='] as const;
const SEVERITIES = ['info', 'warning', 'critical'] as const;

function when(t: number | string | null | undefined): string {
  if (t === null || t === undefined) return '—';
  if (typeof t === 'number') return new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19);
  return t;
}

/** A rule in words: "drifted_share > 0.2", "band of the first 5 sets ± 3σ", ... */
export function describeRule(r: AlertRule): string {
  const what = r.class === '*' ? `${r.metric} of each class` : r.class ? `${r.metric} of class ${r.class}` : r.metric;
  if (r.kind === 'band') {
    const side = r.op === '>' || r.op === '>=' ? 'above' : r.op === '<' || r.op === '<=' ? 'below' : 'outside';
    return `${what} ${side} mean ± ${r.band?.k ?? 3}σ of the first ${r.band?.first_n ?? 5} sets`;
  }
  if (r.kind === 'change_from_training') return `${r.abs ? '|' : ''}${what} − training${r.abs ? '|' : ''} ${r.op} ${r.value}`;
  return `${what} ${r.op} ${r.value}`;
}

export async function rulesPage(main: HTMLElement, project: string): Promise<void> {
  clear(main);
  main.className = 'page rules-page';
  main.dataset.testid = 'rules-page';
  const status = h('div', { class: 'small', 'data-testid': 'rules-status' });
  const rulesBody = h('tbody');
  const statesBody = h('tbody');
  const hooksBody = h('tbody');
  const deliveriesBody = h('tbody');
  let rules: AlertRule[] = [];
  let editing: AlertRule | null = null;
  const say = (msg: string, bad = false) => { status.textContent = msg; status.classList.toggle('error', bad); };

  // The form: one for add and edit.
  const metricNames = [...new Set([...OVERALL_METRICS.map((m) => m.key), 'drift_verdict', 'domain_shifted',
    ...CLASS_METRICS.map((m) => m.key), 'estimated_precision', 'estimated_recall'])];
  const f = {
    name: h('input', { type: 'text', 'data-testid': 'rule-name', placeholder: 'e.g. drift above 20%' }),
    metric: h('select', { 'data-testid': 'rule-metric' }, ...metricNames.map((m) => h('option', { value: m }, m))),
    cls: h('input', { type: 'text', 'data-testid': 'rule-class', placeholder: 'overall; a label; * each class' }),
    kind: h('select', { 'data-testid': 'rule-kind' }, ...KINDS.map((k) => h('option', { value: k }, k))),
    op: h('select', { 'data-testid': 'rule-op' }, h('option', { value: '', hidden: true }, 'either side'), ...OPS.map((o) => h('option', { value: o }, o))),
    abs: h('input', { type: 'checkbox', 'data-testid': 'rule-abs' }),
    severity: h('select', { 'data-testid': 'rule-severity' }, ...SEVERITIES.map((v) => h('option', { value: v }, v))),
    value: h('input', { type: 'number', step: 'any', 'data-testid': 'rule-value' }),
    firstN: h('input', { type: 'number', min: '2', value: '5', 'data-testid': 'rule-first-n' }),
    k: h('input', { type: 'number', step: 'any', value: '3', 'data-testid': 'rule-k' }),
    run: h('input', { type: 'text', 'data-testid': 'rule-run', placeholder: 'every run' }),
    enabled: h('input', { type: 'checkbox', checked: true, 'data-testid': 'rule-enabled' }),
  };
  const formTitle = h('h3', { 'data-testid': 'rule-form-title' }, 'Add a rule');
  const saveBtn = h('button', { class: 'btn btn-sm btn-primary', 'data-testid': 'rule-save' }, 'Add rule');
  const cancelBtn = h('button', { class: 'btn btn-sm', 'data-testid': 'rule-cancel', hidden: true }, 'Cancel');
  const bandFields = h('span', { class: 'rule-band' }, h('label', { class: 'inline' }, 'first N', f.firstN), h('label', { class: 'inline' }, 'k σ', f.k));
  const absField = h('label', { class: 'inline', title: 'compare the size of the change' }, f.abs, '|change|');
  const showKind = () => {
    const band = f.kind.value === 'band';
    bandFields.hidden = !band;
    absField.hidden = f.kind.value !== 'change_from_training';
    f.value.disabled = band;
    // A band watches either side unless an op says which.
    (f.op.options[0] as HTMLOptionElement).hidden = !band;
    if (!band && f.op.value === '') f.op.value = '>';
  };
  f.kind.addEventListener('change', () => {
    // A new band watches either side; a threshold needs an op.
    if (f.kind.value === 'band') f.op.value = '';
    showKind();
  });
  const fill = (r: AlertRule | null) => {
    editing = r;
    f.name.value = r?.name ?? '';
    f.metric.value = r?.metric ?? 'drifted_share';
    f.cls.value = r?.class ?? '';
    f.kind.value = r?.kind ?? 'threshold';
    f.op.value = r?.op ?? (r?.kind === 'band' ? '' : '>');
    f.abs.checked = r?.abs ?? false;
    f.severity.value = r?.severity ?? 'warning';
    f.value.value = r?.value !== null && r?.value !== undefined ? String(r.value) : '';
    f.firstN.value = String(r?.band?.first_n ?? 5);
    f.k.value = String(r?.band?.k ?? 3);
    f.run.value = r?.run ?? '';
    f.enabled.checked = r?.enabled ?? true;
    formTitle.textContent = r ? `Edit rule ${r.name || r.id}` : 'Add a rule';
    saveBtn.textContent = r ? 'Save rule' : 'Add rule';
    cancelBtn.hidden = !r;
    showKind();
  };
  const read = (): AlertRule | string => {
    const kind = f.kind.value as AlertRule['kind'];
    const value = f.value.value === '' ? null : Number(f.value.value);
    if (kind !== 'band' && (value === null || !Number.isFinite(value))) return 'value: a number is needed';
    const rule: AlertRule = {
      name: f.name.value.trim() || `${f.metric.value} ${kind}`, metric: f.metric.value, class: f.cls.value.trim() || null,
      kind, op: (f.op.value || null) as AlertRule['op'], value: kind === 'band' ? null : value,
      band: kind === 'band' ? { first_n: Number(f.firstN.value), k: Number(f.k.value) } : null,
      run: f.run.value.trim() || null, enabled: f.enabled.checked, severity: f.severity.value as AlertRule['severity'],
    };
    if (kind === 'change_from_training') rule.abs = f.abs.checked;
    return rule;
  };
  saveBtn.addEventListener('click', async () => {
    const r = read();
    if (typeof r === 'string') { say(r, true); return; }
    try {
      if (editing?.id !== undefined) { await monitorApi.updateRule(project, editing.id, { ...r, id: editing.id }); say(`saved rule "${r.name}"`); }
      else { await monitorApi.addRule(project, r); say(`added rule "${r.name}"`); }
      fill(null);
      await loadRules();
    } catch (e) { say((e as Error).message, true); }
  });
  cancelBtn.addEventListener('click', () => fill(null));

  const loadRules = async () => {
    try { rules = (await monitorApi.rules(project)).rules; } catch (e) {
      clear(rulesBody);
      rulesBody.append(h('tr', null, h('td', { colspan: 7, class: 'error', 'data-testid': 'rules-error' }, `Could not list the rules: ${(e as Error).message}`)));
      return;
    }
    clear(rulesBody);
    if (!rules.length) rulesBody.append(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No rule yet.')));
    for (const r of rules) {
      const toggle = h('input', { type: 'checkbox', checked: r.enabled !== false, 'data-testid': 'rule-toggle', title: 'enabled',
        onchange: async () => {
          try { await monitorApi.updateRule(project, r.id!, { ...r, enabled: toggle.checked }); say(`${toggle.checked ? 'enabled' : 'disabled'} "${r.name}"`); await loadRules(); } catch (e) { say((e as Error).message, true); }
        } });
      rulesBody.append(h('tr', { 'data-testid': 'rule-row', 'data-id': String(r.id), 'data-name': r.name },
        h('td', null, r.name, r.builtin ? h('span', { class: 'badge badge-muted', title: 'a default rule: edit or disable it' }, 'built-in') : null),
        h('td', { class: 'mono small', 'data-testid': 'rule-desc', title: r.description ?? '' }, describeRule(r)),
        h('td', null, r.kind, r.severity ? h('span', { class: `badge ${r.severity === 'critical' ? 'badge-bad' : r.severity === 'warning' ? 'badge-warn' : 'badge-muted'}` }, r.severity) : null),
        h('td', null, r.run ?? h('span', { class: 'muted' }, 'every run')),
        h('td', null, toggle),
        h('td', null,
          h('button', { class: 'btn btn-xs', 'data-testid': 'rule-edit', onclick: () => fill(r) }, 'Edit'), ' ',
          h('button', { class: 'btn btn-xs', 'data-testid': 'rule-remove', onclick: async () => {
            try { await monitorApi.removeRule(project, r.id!); say(`removed rule "${r.name}"`); if (editing?.id === r.id) fill(null); await loadRules(); } catch (e) { say((e as Error).message, true); }
          } }, 'Remove'))));
    }
    await loadStates();
  };

  const loadStates = async () => {
    let states: AlertState[] = [];
    try { states = (await monitorApi.states(project)).states; } catch { /* shown empty */ }
    clear(statesBody);
    const firing = states.filter((s) => s.state === 'firing');
    if (!firing.length) statesBody.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'Nothing is firing.')));
    for (const s of firing) {
      const r = rules.find((x) => String(x.id) === String(s.rule_id));
      statesBody.append(h('tr', { 'data-testid': 'state-row' },
        h('td', null, r?.name ?? `rule ${s.rule_id}`), h('td', null, `${s.run} / ${s.set}${s.class ? ` · ${s.class}` : ''}`),
        h('td', null, h('span', { class: 'badge badge-bad' }, s.state)),
        h('td', { class: 'num' }, s.value !== null && s.value !== undefined ? s.value.toFixed(3) : '—'),
        h('td', { class: 'small muted' }, when(s.since ?? s.updated))));
    }
  };

  const hookUrl = h('input', { type: 'text', placeholder: 'https://hooks.example.com/sextant', 'data-testid': 'webhook-url' });
  const hookName = h('input', { type: 'text', placeholder: 'name (optional)', 'data-testid': 'webhook-name' });
  const loadHooks = async () => {
    let hooks: Webhook[] = [];
    try { hooks = (await monitorApi.webhooks(project)).webhooks; } catch (e) {
      clear(hooksBody);
      hooksBody.append(h('tr', null, h('td', { colspan: 4, class: 'error' }, `Could not list the webhooks: ${(e as Error).message}`)));
      return;
    }
    clear(hooksBody);
    if (!hooks.length) hooksBody.append(h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No webhook yet.')));
    for (const w of hooks) {
      const result = h('span', { class: 'small', 'data-testid': 'webhook-result' });
      hooksBody.append(h('tr', { 'data-testid': 'webhook-row', 'data-id': String(w.id) },
        h('td', null, w.name ?? ''), h('td', { class: 'mono small' }, w.url),
        h('td', null,
          h('button', { class: 'btn btn-xs', 'data-testid': 'webhook-test', onclick: async () => {
            result.textContent = 'sending…'; result.classList.remove('error');
            try {
              // The answer is the test's delivery: delivered, pending (to be retried) or failed.
              const d = await monitorApi.testWebhook(project, w.id);
              const status = d.status ?? (d.delivered ? 'delivered' : 'failed');
              const code = d.last_code ?? null;
              result.textContent = `${status === 'pending' ? 'not delivered yet (will retry)' : status}${code !== null ? ` (HTTP ${code})` : ''}${d.last_error ? `: ${d.last_error}` : ''}`;
              result.classList.toggle('error', status !== 'delivered');
            } catch (e) { result.textContent = (e as Error).message; result.classList.add('error'); }
            await loadDeliveries();
          } }, 'Test send'), ' ',
          h('button', { class: 'btn btn-xs', 'data-testid': 'webhook-remove', onclick: async () => {
            try { await monitorApi.removeWebhook(project, w.id); say(`removed webhook ${w.url}`); await loadHooks(); } catch (e) { say((e as Error).message, true); }
          } }, 'Remove'), ' ', result)));
    }
  };
  const loadDeliveries = async () => {
    let ds: Delivery[] = [];
    try { ds = (await monitorApi.deliveries(project)).deliveries; } catch { /* none */ }
    clear(deliveriesBody);
    if (!ds.length) deliveriesBody.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No delivery yet.')));
    for (const d of ds.slice(0, 20)) {
      deliveriesBody.append(h('tr', { 'data-testid': 'delivery-row' },
        h('td', { class: 'small' }, when(d.created)), h('td', null, String(d.webhook_id)),
        h('td', null, d.event ?? '', d.set ? h('span', { class: 'muted small' }, ` ${d.run ?? ''} / ${d.set}`) : null),
        h('td', null, d.status ?? '', d.last_code !== undefined && d.last_code !== null ? h('span', { class: 'muted small' }, ` HTTP ${d.last_code}`) : null,
          d.last_error ? h('span', { class: 'error small' }, ` ${d.last_error}`) : null),
        h('td', { class: 'num' }, d.attempts ?? '')));
    }
  };
  const addHook = h('button', { class: 'btn btn-sm btn-primary', 'data-testid': 'webhook-add', onclick: async () => {
    const url = hookUrl.value.trim();
    if (!/^https?:\/\//.test(url)) { say('webhook url: expected http:// or https://', true); return; }
    try { await monitorApi.addWebhook(project, { url, ...(hookName.value.trim() ? { name: hookName.value.trim() } : {}) }); hookUrl.value = ''; hookName.value = ''; say(`added webhook ${url}`); await loadHooks(); } catch (e) { say((e as Error).message, true); }
  } }, 'Add webhook');

  main.append(
    h('div', { class: 'runbar' }, h('b', null, `Alert rules of project ${project}`),
      h('span', { class: 'muted small' }, 'evaluated on each inference set when a run is finished or refreshed'), status),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', null, 'Rules')),
      h('table', { class: 'mini', 'data-testid': 'rules-table' },
        h('thead', null, h('tr', null, ...['name', 'condition', 'kind', 'run', 'on', ''].map((t) => h('th', null, t)))), rulesBody)),
    h('section', { class: 'card rule-form', 'data-testid': 'rule-form' }, h('div', { class: 'card-head' }, formTitle),
      h('div', { class: 'rule-fields' },
        h('label', null, 'name', f.name), h('label', null, 'metric', f.metric), h('label', null, 'class', f.cls),
        h('label', null, 'kind', f.kind), h('label', null, 'op', f.op), h('label', null, 'value', f.value), absField, bandFields,
        h('label', null, 'run', f.run), h('label', null, 'severity', f.severity), h('label', { class: 'inline' }, f.enabled, 'enabled')),
      h('div', { class: 'rule-actions' }, saveBtn, cancelBtn)),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', null, 'Firing now')),
      h('table', { class: 'mini', 'data-testid': 'states-table' },
        h('thead', null, h('tr', null, ...['rule', 'run / set', 'state', 'value', 'since'].map((t) => h('th', null, t)))), statesBody)),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', null, 'Webhooks')),
      h('table', { class: 'mini', 'data-testid': 'webhooks-table' },
        h('thead', null, h('tr', null, ...['name', 'url', ''].map((t) => h('th', null, t)))), hooksBody),
      h('div', { class: 'rule-fields' }, hookName, hookUrl, addHook)),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', null, 'Latest deliveries')),
      h('table', { class: 'mini', 'data-testid': 'deliveries-table' },
        h('thead', null, h('tr', null, ...['when', 'webhook', 'event', 'status', 'attempts'].map((t) => h('th', null, t)))), deliveriesBody)));
  fill(null);
  await Promise.all([loadRules(), loadHooks(), loadDeliveries()]);
  main.dataset.ready = '1';
}
