// Log record rows, shared by search, live tail and the trace view.
import { h } from './dom.js';
import { formatTimestamp, levelClass, levelName } from './format.js';

export function traceLink(traceId, label) {
  return h('a.trace-link', { href: `#/traces/${encodeURIComponent(traceId)}`, title: `trace ${traceId}` }, label || `${traceId.slice(0, 8)}…`);
}

/** One <tr> for a record, plus a hidden detail row that a click on the row toggles. */
export function recordRows(record) {
  const detail = h('tr.detail', { hidden: true }, h('td', { colspan: 6 }, h('pre', null, JSON.stringify(record, null, 2))));
  const row = h(
    `tr.record.${levelClass(record.severity)}`,
    {
      tabindex: 0,
      on: {
        click: (e) => {
          if (e.target.closest('a')) return;
          detail.hidden = !detail.hidden;
        },
        keydown: (e) => {
          if (e.key === 'Enter' && !e.target.closest('a')) detail.hidden = !detail.hidden;
        },
      },
    },
    h('td.time', { title: record.timestamp }, formatTimestamp(record.timestamp)),
    h('td.level', null, h('span.badge', null, levelName(record))),
    h('td.service', null, record.appName || ''),
    h('td.host', null, record.hostname || ''),
    h('td.msg', null, record.msg),
    h('td.trace', null, record.traceId ? traceLink(record.traceId) : ''),
  );
  return [row, detail];
}

export function logTable(records, options = {}) {
  const body = h('tbody', null, records.map(recordRows));
  const table = h(
    'table.logs',
    { class: options.className },
    h('thead', null, h('tr', null, h('th', null, 'Time'), h('th', null, 'Level'), h('th', null, 'Service'), h('th', null, 'Host'), h('th', null, 'Message'), h('th', null, 'Trace'))),
    body,
  );
  return { table, body };
}
