// Trace view: span waterfall from GET /api/v1/traces/:traceId, each span with its logs.
// When that API answers 404 (no trace store, or the trace is unknown to it), the trace's logs
// from GET /api/v1/logs?traceId= are shown instead.
import { ApiError, describeError, getJson } from '../lib/api.js';
import { h, mount, notice } from '../lib/dom.js';
import { formatDurationMs, formatTimestamp, toMs } from '../lib/format.js';
import { logTable } from '../lib/logtable.js';
import { orderSpans, spanOffsets } from '../lib/span-tree.js';

export function renderTrace(el, traceId) {
  const title = h('h1', null, 'Trace ', h('code.trace-id', null, traceId));
  if (!/^[0-9a-fA-F]{32}$/.test(traceId)) {
    mount(el, title, notice('error', 'A trace ID is 32 hex characters.'));
    return null;
  }
  const id = traceId.toLowerCase();
  const waterfall = h('section.waterfall-section', { 'aria-busy': 'true' }, 'Loading trace…');
  const logs = h('section.trace-logs', { 'aria-busy': 'true' }, 'Loading logs…');
  mount(el, title, h('p', null, h('a', { href: `#/search?traceId=${id}&range=all` }, 'Search these logs')), waterfall, h('h2', null, 'Logs of this trace'), logs);
  const controller = new AbortController();
  const signal = controller.signal;

  getJson(`/api/v1/traces/${id}`, { signal }).then(
    (trace) => {
      waterfall.removeAttribute('aria-busy');
      const spans = trace.spans || [];
      const cut = trace.truncated?.spans ? notice('info', `This trace has more spans than the API returns: the first ${spans.length} are shown.`) : null;
      try {
        mount(waterfall, h('h2', null, 'Spans'), cut, spanWaterfall(spans));
      } catch (err) {
        mount(waterfall, notice('error', `Trace: cannot draw it (${describeError(err)})`));
      }
    },
    (err) => {
      if (signal.aborted) return;
      waterfall.removeAttribute('aria-busy');
      mount(
        waterfall,
        err instanceof ApiError && err.status === 404
          ? notice('info', 'No spans for this trace (the trace API does not know it, or traces are not collected here). Showing its logs.')
          : notice('error', `Trace: ${describeError(err)}`),
      );
    },
  );
  getJson(`/api/v1/logs?traceId=${id}&limit=1000`, { signal }).then(
    ({ records, nextCursor }) => {
      logs.removeAttribute('aria-busy');
      const more = nextCursor ? notice('info', h('span', null, `The newest ${records.length} logs of this trace are shown; `, h('a', { href: `#/search?traceId=${id}&range=all` }, 'search them'), ' for all.')) : null;
      // Oldest first reads better next to a waterfall.
      mount(logs, more, records.length ? logTable([...records].reverse()).table : notice('info', 'No logs carry this trace ID.'));
    },
    (err) => {
      if (signal.aborted) return;
      logs.removeAttribute('aria-busy');
      mount(logs, notice('error', describeError(err)));
    },
  );
  return () => controller.abort();
}

function statusOf(span) {
  const st = span.status;
  const code = st && typeof st === 'object' ? st.code : st;
  return String(code ?? 'unset').toLowerCase().replace(/^status_code_/, '');
}

function spanWaterfall(spans) {
  if (spans.length === 0) return notice('info', 'The trace has no spans.');
  const offsets = spanOffsets(spans);
  const { starts } = offsets;
  const ends = offsets.ends.map((end, i) => (Number.isFinite(end) ? end : starts[i] + (spans[i].durationMs || 0)));
  const total = Math.max(1e-3, Math.max(...ends));
  const offsetOf = new Map(spans.map((s, i) => [s, i]));
  const rows = h('div.waterfall', { role: 'list' });
  rows.append(
    h('div.span-row.header', null, h('span.span-name', null, 'Span'), h('span.span-service', null, 'Service'), h('span.span-bar-cell', null, `0 – ${formatDurationMs(total)}`), h('span.span-duration', null, 'Duration')),
  );
  for (const { span, depth } of orderSpans(spans)) {
    const i = offsetOf.get(span);
    const start = starts[i];
    const duration = Number.isFinite(span.durationMs) ? span.durationMs : ends[i] - start;
    const status = statusOf(span);
    const detail = spanDetail(span, status);
    detail.hidden = true;
    const bar = h('span.span-bar', { style: { left: `${(start / total) * 100}%`, width: `${Math.max(0.3, (duration / total) * 100)}%` } });
    const row = h(
      `div.span-row${status === 'error' ? '.error' : ''}`,
      {
        role: 'listitem',
        tabindex: 0,
        dataset: { spanId: span.spanId || '' },
        on: {
          click: () => (detail.hidden = !detail.hidden),
          keydown: (e) => e.key === 'Enter' && (detail.hidden = !detail.hidden),
        },
      },
      h(
        'span.span-name',
        { style: { '--depth': depth }, title: span.name },
        span.name || '(unnamed)',
        // The API's orphan: a parent the store does not have (not received yet, or sampled away), not a root.
        span.orphan ? h('span.orphan-mark', { title: `parent span ${span.parentSpanId} is not in the trace (not received yet, or sampled away)` }, ' parent missing') : null,
        span.logs && span.logs.length ? h('span.log-count', { title: 'logs in this span' }, ` ${span.logs.length} log${span.logs.length === 1 ? '' : 's'}`) : null,
      ),
      h('span.span-service', null, span.service || ''),
      h('span.span-bar-cell', null, bar),
      h('span.span-duration', null, formatDurationMs(duration)),
    );
    rows.append(row, detail);
  }
  return rows;
}

/** An attribute value as text: objects and arrays as JSON. */
function valueText(v) {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

function attributeList(attributes) {
  return Object.entries(attributes || {}).map(([k, v]) => [h('dt', null, k), h('dd', null, valueText(v))]);
}

/**
 * Events (OTel records an exception as the event "exception" with exception.type, .message and
 * .stacktrace) with their time after the span's start, links (another trace's span: a link to
 * that trace) and the resource, each only when the span has some.
 */
function spanExtras(span) {
  const startNs = /^\d+$/.test(span.startTimeUnixNano ?? '') ? BigInt(span.startTimeUnixNano) : null;
  // An event dated before its span (unset: 0) shows its own time rather than a negative offset.
  const offset = (e) => (startNs !== null && /^\d+$/.test(e.timeUnixNano ?? '') && BigInt(e.timeUnixNano) >= startNs ? `+${formatDurationMs(Number(BigInt(e.timeUnixNano) - startNs) / 1e6)}` : formatTimestamp(toMs(e.time)));
  const events = span.events || [];
  const links = span.links || [];
  const resource = Object.entries(span.resource || {});
  return [
    events.length
      ? h('section.span-events', null, h('h3', null, 'Events'), events.map((e) => h('div.span-event', null, h('strong', null, e.name || '(unnamed)'), ` ${offset(e)}`, h('dl', null, attributeList(e.attributes)))))
      : null,
    links.length
      ? h('section.span-links', null, h('h3', null, 'Links'), links.map((l) => h('div.span-link', null, /^[0-9a-f]{32}$/.test(l.traceId) ? h('a', { href: `#/traces/${l.traceId}` }, h('code', null, l.traceId)) : h('code', null, l.traceId || ''), ' span ', h('code', null, l.spanId || ''), h('dl', null, attributeList(l.attributes)))))
      : null,
    resource.length ? h('section.span-resource', null, h('h3', null, 'Resource'), h('dl', null, resource.map(([k, v]) => [h('dt', null, k), h('dd', null, valueText(v))]))) : null,
  ];
}

function spanDetail(span, status) {
  return h(
    'div.span-detail',
    null,
    h(
      'dl',
      null,
      h('dt', null, 'Span ID'), h('dd', null, h('code', null, span.spanId || '')),
      h('dt', null, 'Parent'), h('dd', null, h('code', null, span.parentSpanId || '—'), span.orphan ? ' (not in the trace: not received yet, or sampled away)' : null),
      h('dt', null, 'Start'), h('dd', null, formatTimestamp(toMs(span.startTime))),
      h('dt', null, 'Status'), h('dd', null, status, span.status && span.status.message ? `: ${span.status.message}` : ''),
      attributeList(span.attributes),
    ),
    spanExtras(span),
    span.logs && span.logs.length ? logTable(span.logs).table : null,
  );
}
