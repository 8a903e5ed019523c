// Collector status: /health/detailed, /health/dependencies (when present) and /metrics,
// polled every POLL_MS. Rates are computed from two successive counter readings.
import { ApiError, describeError, getJsonAnyStatus, getText } from '../lib/api.js';
import { h, mount, notice } from '../lib/dom.js';
import { formatBytes, formatDurationMs, formatNumber } from '../lib/format.js';
import { parsePrometheusText, sum } from '../lib/prom.js';

const POLL_MS = 2000;

export function renderStatus(el) {
  const cards = h('div.cards', { 'aria-busy': 'true' }, 'Loading…');
  const components = h('section.components');
  const dependencies = h('section.dependencies');
  const exporters = h('section.exporters');
  mount(el, h('h1', null, 'Collector status'), cards, components, dependencies, exporters);
  let stopped = false;
  let timer = null;
  let previous = null; // { at, accepted: Map receiver → count, rejected }

  async function poll() {
    timer = null;
    const [health, deps, metrics] = await Promise.allSettled([getJsonAnyStatus('/health/detailed'), getJsonAnyStatus('/health/dependencies'), getText('/metrics')]);
    if (stopped) return;
    cards.removeAttribute('aria-busy');
    // Without /metrics (collector down or restarting) the figures are unknown, not zero.
    const haveMetrics = metrics.status === 'fulfilled';
    const samples = haveMetrics ? parsePrometheusText(metrics.value) : [];
    const now = performance.now();
    const accepted = new Map();
    for (const s of samples) if (s.name === 'periscope_receiver_accepted_records_total') accepted.set(s.labels.receiver, s.value);
    const rejected = sum(samples, 'periscope_receiver_rejected_records_total') || 0;
    let rate = null;
    let rejectRate = null;
    const perReceiver = [];
    if (previous) {
      const dt = (now - previous.at) / 1000;
      let total = 0;
      for (const [receiver, v] of accepted) {
        const r = Math.max(0, v - (previous.accepted.get(receiver) || 0)) / dt;
        total += r;
        perReceiver.push(`${receiver} ${formatNumber(r, 1)}/s`);
      }
      rate = total;
      rejectRate = Math.max(0, rejected - previous.rejected) / dt;
    }
    previous = haveMetrics ? { at: now, accepted, rejected } : null;
    const figure = (text) => (haveMetrics ? text : '—');

    const h0 = health.status === 'fulfilled' ? health.value.body : null;
    const card = (label, value, sub, cls) => h(`div.card${cls ? `.${cls}` : ''}`, null, h('div.card-label', null, label), h('div.card-value', null, value), sub ? h('div.card-sub', null, sub) : null);
    mount(
      cards,
      card('Status', h0 ? h('span.badge', { class: `status-${h0.status}` }, h0.status) : 'unreachable', h0 ? `up ${formatDurationMs(h0.uptimeSeconds * 1000)}` : describeError(health.reason)),
      card('Ingest rate', figure(rate === null ? 'measuring…' : `${formatNumber(rate, 1)} rec/s`), perReceiver.join(' · ') || null, 'ingest-rate'),
      card('Rejected', figure(formatNumber(rejected)), rejectRate === null ? null : `${formatNumber(rejectRate, 1)}/s now`),
      card('Stored records', figure(formatNumber(sum(samples, 'periscope_store_records'))), haveMetrics ? formatBytes(sum(samples, 'periscope_store_live_bytes')) : null),
      card('Search index lag', figure(formatNumber(sum(samples, 'periscope_search_index_lag_records'))), 'records not yet full-text indexed'),
      card('Live tail', figure(`${formatNumber(sum(samples, 'periscope_tail_clients') || 0)} clients`), haveMetrics ? `${formatNumber(sum(samples, 'periscope_tail_dropped_records_total') || 0)} records dropped` : null),
    );
    if (metrics.status === 'rejected') cards.append(notice('error', `/metrics: ${describeError(metrics.reason)}`));

    mount(components, h('h2', null, 'Components'), h0 ? healthTable(h0.components || {}) : notice('error', `/health/detailed: ${health.status === 'rejected' ? describeError(health.reason) : ''}`));
    if (deps.status === 'fulfilled') {
      mount(dependencies, h('h2', null, 'Dependencies'), healthTable(deps.value.body.dependencies || deps.value.body.components || deps.value.body));
    } else if (deps.reason instanceof ApiError && deps.reason.status === 404) {
      dependencies.replaceChildren(); // not provided by this collector version
    } else {
      mount(dependencies, h('h2', null, 'Dependencies'), notice('error', describeError(deps.reason)));
    }
    mount(exporters, h('h2', null, 'Exporters and queues'), haveMetrics ? exporterTable(samples) : notice('error', 'Unknown while /metrics cannot be read.'));
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function detailText(v) {
  if (v === null || v === undefined) return '—';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function healthTable(components) {
  const entries = Object.entries(components).filter(([, c]) => c && typeof c === 'object');
  if (entries.length === 0) return notice('info', 'Nothing reported.');
  return h(
    'table.health',
    null,
    h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Status'), h('th', null, 'Details'))),
    h(
      'tbody',
      null,
      entries.map(([name, c]) => {
        const { status, ...rest } = c;
        return h(
          'tr',
          { dataset: { component: name } },
          h('td', null, name),
          h('td', null, h('span.badge', { class: `status-${status}` }, status || '?')),
          h('td.details', null, Object.entries(rest).map(([k, v]) => h('span.kv', null, `${k}: ${detailText(v)}`))),
        );
      }),
    ),
  );
}

/** Every per-exporter/queue sample, whatever the exporter: names with exporter, queue, oldest, circuit, dead_letter. */
function exporterTable(samples) {
  const rows = samples.filter((s) => /^periscope_.*(exporter|queue|oldest|circuit|dead_letter)/.test(s.name) && !s.name.endsWith('_bucket'));
  if (rows.length === 0) return notice('info', 'No exporters report metrics (none configured).');
  return h(
    'table.exporters',
    null,
    h('thead', null, h('tr', null, h('th', null, 'Metric'), h('th', null, 'Labels'), h('th', null, 'Value'))),
    h(
      'tbody',
      null,
      rows.map((s) =>
        h(
          'tr',
          null,
          h('td', null, s.name.replace(/^periscope_/, '')),
          h('td', null, Object.entries(s.labels).map(([k, v]) => h('span.chip', null, `${k}=${v}`))),
          h('td.value', null, formatNumber(s.value, 2)),
        ),
      ),
    ),
  );
}
