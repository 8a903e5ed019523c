// Log record rows, shared by search, live tail and the trace view.
import { h } from './dom.js';
import { formatNumber, formatTimestamp, levelClass, levelName } from './format.js';

export function traceLink(traceId, label) {
  return h('a.trace-link', { href: `#/traces/${encodeURIComponent(traceId)}`, title: `trace ${traceId}` }, label || `${traceId.slice(0, 8)}…`);
}

/**
 * Characters of a message shown in its row. The collector stores messages of megabytes (the
 * native receiver takes records up to http.bodyLimit); one such message shown whole would make
 * the page hundreds of thousands of pixels tall. The rest is in the record's detail, which is
 * built when it is first opened.
 */
export const MSG_DISPLAY_CHARS = 2000;

/** The message as its row shows it: at most MSG_DISPLAY_CHARS, then how much more there is. */
function messageCell(msg) {
  const text = typeof msg === 'string' ? msg : String(msg ?? '');
  if (text.length <= MSG_DISPLAY_CHARS) return h('td.msg', null, text);
  // Not between the two halves of a surrogate pair (an emoji would become a replacement character).
  const cut = /[\uD800-\uDBFF]/.test(text[MSG_DISPLAY_CHARS - 1]) ? MSG_DISPLAY_CHARS - 1 : MSG_DISPLAY_CHARS;
  return h('td.msg', null, text.slice(0, cut), h('span.msg-more', null, ` … ${formatNumber(text.length - cut)} more characters (open the row for the whole record)`));
}

/** One <tr> for a record, plus a hidden detail row that a click on the row toggles. */
export function recordRows(record) {
  const cell = h('td', { colspan: 6 });
  const detail = h('tr.detail', { hidden: true }, cell);
  const toggle = () => {
    if (!cell.firstChild) cell.append(h('pre', null, JSON.stringify(record, null, 2)));
    detail.hidden = !detail.hidden;
  };
  const row = h(
    `tr.record.${levelClass(record.severity)}`,
    {
      tabindex: 0,
      on: {
        click: (e) => {
          if (e.target.closest('a')) return;
          toggle();
        },
        keydown: (e) => {
          if (e.key === 'Enter' && !e.target.closest('a')) toggle();
        },
      },
    },
    h('td.time', { title: record.timestamp }, formatTimestamp(record.timestamp)),
    h('td.level', null, h('span.badge', null, levelName(record))),
    h('td.service', null, record.appName || ''),
    h('td.host', null, record.hostname || ''),
    messageCell(record.msg),
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
