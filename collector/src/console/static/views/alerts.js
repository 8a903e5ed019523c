// Alerts: GET /api/v1/alerts, POST /api/v1/alerts/:id/ack, POST /api/v1/silences,
// GET /api/v1/alerts/:id/timeline (:id is the alert's id, which the alerting engine sets to its
// fingerprint). A 404 on the list means alerting is not configured.
import { ApiError, describeError, getJson, postJson } from '../lib/api.js';
import { h, mount, notice } from '../lib/dom.js';
import { formatTimestamp, relativeTime, toMs } from '../lib/format.js';

const REFRESH_MS = 5000;
const USER_KEY = 'periscope.user';

function rememberedUser() {
  try {
    return localStorage.getItem(USER_KEY) || '';
  } catch {
    return '';
  }
}
function rememberUser(name) {
  try {
    localStorage.setItem(USER_KEY, name);
  } catch {
    // storage disabled: nothing to remember
  }
}

const notConfigured = () => notice('info', 'Alerting is not configured on this collector (the alerts API answered 404).');

function labelChips(labels) {
  return h('span.labels', null, Object.entries(labels || {}).map(([k, v]) => h('span.chip', null, `${k}=${v}`)));
}

export function renderAlerts(el) {
  const list = h('div.alert-list', { 'aria-busy': 'true' }, 'Loading alerts…');
  const updated = h('span.updated');
  mount(el, h('h1', null, 'Alerts ', updated), list);
  let timer = null;
  let stopped = false;
  let formOpen = false;

  async function load() {
    timer = null;
    try {
      const { alerts } = await getJson('/api/v1/alerts');
      if (stopped) return;
      list.removeAttribute('aria-busy');
      if (!formOpen) mount(list, alerts.length ? alertTable(alerts) : notice('info', 'No active alerts.'));
      updated.textContent = `· updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (stopped) return;
      list.removeAttribute('aria-busy');
      mount(list, err instanceof ApiError && err.status === 404 ? notConfigured() : notice('error', describeError(err)));
      if (err instanceof ApiError && err.status === 404) return; // nothing to poll
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }

  function refreshNow() {
    formOpen = false;
    clearTimeout(timer);
    load();
  }

  function alertTable(alerts) {
    const body = h('tbody');
    for (const a of alerts) {
      const formRow = h('tr.alert-form-row', { hidden: true }, h('td', { colspan: 8 }));
      const openForm = (form) => {
        formOpen = true;
        mount(formRow.firstChild, form);
        formRow.hidden = false;
        const first = formRow.querySelector('input, select');
        if (first) first.focus();
      };
      const closeForm = () => {
        formRow.hidden = true;
        formRow.firstChild.replaceChildren();
        formOpen = false;
      };
      const sinceMs = toMs(a.since);
      body.append(
        h(
          `tr.alert.state-${String(a.state).toLowerCase()}`,
          { dataset: { alertId: String(a.id) } },
          h('td', null, h('span.badge.state', null, a.state), a.flapping ? h('span.badge.flapping', { title: 'state changed often recently' }, 'flapping') : null),
          h('td', null, h('span.badge.severity', null, a.severity || '')),
          h('td.rule', null, h('a', { href: `#/alerts/${encodeURIComponent(a.id)}`, title: 'timeline' }, a.ruleName || String(a.id))),
          h('td', null, labelChips(a.labels), a.annotations && a.annotations.summary ? h('div.summary', null, a.annotations.summary) : null),
          h('td.value', null, a.value === undefined || a.value === null ? '' : String(a.value)),
          h('td', { title: Number.isFinite(sinceMs) ? formatTimestamp(sinceMs) : '' }, Number.isFinite(sinceMs) ? relativeTime(sinceMs) : ''),
          h('td.ack', null, a.ack ? [`acked by ${a.ack.by}`, h('br'), h('small', null, relativeTime(toMs(a.ack.at)))] : '—'),
          h(
            'td.actions',
            null,
            h('button.ack-btn', { type: 'button', disabled: !!a.ack, on: { click: () => openForm(ackForm(a, closeForm, refreshNow)) } }, 'Ack'),
            h('button.silence-btn', { type: 'button', on: { click: () => openForm(silenceForm(a, closeForm, refreshNow)) } }, 'Silence'),
          ),
        ),
        formRow,
      );
    }
    return h(
      'table.alerts',
      null,
      h('thead', null, h('tr', null, ['State', 'Severity', 'Rule', 'Labels', 'Value', 'Since', 'Acknowledged', ''].map((t) => h('th', null, t)))),
      body,
    );
  }

  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function ackForm(alert, close, done) {
  const by = h('input', { name: 'by', required: true, value: rememberedUser(), placeholder: 'your name', size: 16 });
  const comment = h('input', { name: 'comment', placeholder: 'comment (optional)', size: 40 });
  const error = h('span.form-error', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, 'Acknowledge');
  return h(
    'form.ack-form',
    {
      on: {
        submit: async (e) => {
          e.preventDefault();
          if (!by.value.trim()) return;
          submit.disabled = true;
          rememberUser(by.value.trim());
          try {
            await postJson(`/api/v1/alerts/${encodeURIComponent(alert.id)}/ack`, { by: by.value.trim(), comment: comment.value });
            done();
          } catch (err) {
            error.textContent = describeError(err);
            submit.disabled = false;
          }
        },
      },
    },
    h('strong', null, `Acknowledge “${alert.ruleName}”: `),
    h('label', null, 'By', by),
    h('label', null, 'Comment', comment),
    submit,
    h('button', { type: 'button', on: { click: close } }, 'Cancel'),
    error,
  );
}

const SILENCE_DURATIONS = [['1h', 36e5], ['4h', 4 * 36e5], ['24h', 864e5], ['7d', 7 * 864e5]];

function silenceForm(alert, close, done) {
  const labels = Object.entries(alert.labels || {});
  if (labels.length === 0 && alert.ruleName) labels.push(['alertname', alert.ruleName]);
  const boxes = labels.map(([name, value]) => ({ name, value, box: h('input', { type: 'checkbox', checked: true }) }));
  const duration = h('select', { name: 'duration' }, SILENCE_DURATIONS.map(([label, ms]) => h('option', { value: String(ms) }, label)));
  const by = h('input', { name: 'createdBy', required: true, value: rememberedUser(), placeholder: 'your name', size: 16 });
  const comment = h('input', { name: 'comment', required: true, placeholder: 'why', size: 30 });
  const error = h('span.form-error', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, 'Create silence');
  return h(
    'form.silence-form',
    {
      on: {
        submit: async (e) => {
          e.preventDefault();
          const matchers = boxes.filter((b) => b.box.checked).map((b) => ({ name: b.name, value: b.value, isEqual: true, isRegex: false }));
          if (matchers.length === 0) {
            error.textContent = 'Select at least one label: a silence without matchers would mute everything.';
            return;
          }
          const now = Date.now();
          submit.disabled = true;
          rememberUser(by.value.trim());
          try {
            await postJson('/api/v1/silences', {
              matchers,
              startsAt: new Date(now).toISOString(),
              endsAt: new Date(now + Number(duration.value)).toISOString(),
              createdBy: by.value.trim(),
              comment: comment.value,
            });
            done();
          } catch (err) {
            error.textContent = describeError(err);
            submit.disabled = false;
          }
        },
      },
    },
    h('strong', null, 'Silence alerts matching: '),
    h('span.matchers', null, boxes.map((b) => h('label.chip', null, b.box, `${b.name}=${b.value}`))),
    h('label', null, 'For', duration),
    h('label', null, 'By', by),
    h('label', null, 'Comment', comment),
    submit,
    h('button', { type: 'button', on: { click: close } }, 'Cancel'),
    error,
  );
}

/** #/alerts/<id>: the alert and its timeline. */
/** One alert and its timeline; `?silence` (the link in notifications) opens its silence form. */
export function renderAlert(el, id, params = new URLSearchParams()) {
  const head = h('div.alert-head', { 'aria-busy': 'true' });
  const form = h('div.alert-form');
  const timeline = h('div.timeline', { 'aria-busy': 'true' }, 'Loading timeline…');
  mount(el, h('p', null, h('a', { href: '#/alerts' }, '← All alerts')), h('h1', null, 'Alert ', h('code', null, id)), head, form, h('h2', null, 'Timeline'), timeline);
  let stopped = false;

  getJson('/api/v1/alerts').then(
    ({ alerts }) => {
      if (stopped) return;
      head.removeAttribute('aria-busy');
      const a = alerts.find((x) => String(x.id) === id);
      mount(
        head,
        a
          ? h('dl.alert-summary', null,
              h('dt', null, 'Rule'), h('dd', null, a.ruleName),
              h('dt', null, 'State'), h('dd', null, h('span.badge.state', null, a.state)),
              h('dt', null, 'Severity'), h('dd', null, a.severity || ''),
              h('dt', null, 'Labels'), h('dd', null, labelChips(a.labels)),
              h('dt', null, 'Acknowledged'), h('dd', null, a.ack ? `by ${a.ack.by} at ${formatTimestamp(toMs(a.ack.at))}` : 'no'))
          : notice('info', 'This alert is not active any more.'),
      );
      if (a && params.has('silence')) {
        const close = () => form.replaceChildren();
        mount(form, silenceForm(a, close, () => mount(form, notice('info', 'Silence created.'))));
        const first = form.querySelector('input, select');
        if (first) first.focus();
      }
    },
    (err) => {
      if (stopped) return;
      head.removeAttribute('aria-busy');
      mount(head, err instanceof ApiError && err.status === 404 ? notConfigured() : notice('error', describeError(err)));
    },
  );
  getJson(`/api/v1/alerts/${encodeURIComponent(id)}/timeline`).then(
    (body) => {
      if (stopped) return;
      // The alerting API names the list `entries` ({ fingerprint, alert, entries }); `events` is accepted too.
      const events = body.entries || body.events || [];
      timeline.removeAttribute('aria-busy');
      mount(
        timeline,
        events.length
          ? h('ol.events', null, events.map((ev) => {
              const { at, kind, ...rest } = ev;
              for (const k of Object.keys(rest)) if (rest[k] === null || rest[k] === undefined) delete rest[k];
              return h(
                'li.event',
                { dataset: { kind: String(kind) } },
                h('time', { datetime: String(at) }, formatTimestamp(toMs(at))),
                h('span.badge.kind', null, kind),
                h('span.event-detail', null, Object.entries(rest).map(([k, v]) => h('span.kv', null, `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`))),
              );
            }))
          : notice('info', 'No events yet.'),
      );
    },
    (err) => {
      if (stopped) return;
      timeline.removeAttribute('aria-busy');
      mount(timeline, err instanceof ApiError && err.status === 404 ? notice('info', 'No timeline for this alert (or alerting is not configured).') : notice('error', describeError(err)));
    },
  );
  return () => {
    stopped = true;
  };
}
