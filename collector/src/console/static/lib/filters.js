// The search filters (same keys as GET /api/v1/logs, see collector/src/store/log-filter.ts),
// shared by the search and live-tail views: hash parameters ⇄ form (the hash parameters are
// read and checked in params.js).
import { h, notice } from './dom.js';
import { LEVELS, severityNumber } from './format.js';
import { filterErrors } from './params.js';

/**
 * The Fields box's text → [[key, value]], or { error } for the user.
 * `attr.user.id=u1 sd.order@1.currency=EUR attr.note="two words" attr.q="say \"hi\""`:
 * a value is the text up to the next space, or a quoted string in which `\"` is a quote and
 * `\\` a backslash (any other backslash is kept, so a typed "C:\dir" means what it says).
 */
export function parseFieldFilters(text) {
  const pairs = [];
  const re = /\s*((?:attr|sd)\.[^\s=]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/y;
  let rest = text.trim();
  let pos = 0;
  while (pos < rest.length) {
    re.lastIndex = pos;
    const m = re.exec(rest);
    if (!m) return { error: `cannot read "${rest.slice(pos).trim().split(/\s+/)[0]}": use attr.<key>=value or sd.<sdid>.<param>=value` };
    pairs.push([m[1], m[2] !== undefined ? m[2].replace(/\\(["\\])/g, '$1') : m[3]]);
    pos = re.lastIndex;
    while (pos < rest.length && /\s/.test(rest[pos])) pos++;
  }
  return { pairs };
}

/**
 * The attr./sd. parameters as Fields text that parseFieldFilters reads back to the same pairs,
 * so resubmitting the form keeps every value (quotes and backslashes included).
 */
export function fieldFiltersText(params) {
  const parts = [];
  for (const [key, value] of params) {
    if (/^(attr|sd)\../.test(key)) parts.push(`${key}=${fieldValueText(value)}`);
  }
  return parts.join(' ');
}

/** A value as typed: bare when it has no space or quote, else quoted with \" and \\. */
function fieldValueText(value) {
  if (value !== '' && !/[\s"]/.test(value)) return value;
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The filter fieldset. `read()` returns URLSearchParams of the filters or throws Error with
 * a message for the user.
 */
export function filterFields(params) {
  const service = h('input', { name: 'service', type: 'text', placeholder: 'any', value: params.get('service') || '', autocomplete: 'off', size: 14 });
  // The level the API applies, also for a number or an alias in the link (severity=warn → warning).
  const level = severityNumber(params.get('severity'));
  const severity = h(
    'select',
    { name: 'severity' },
    h('option', { value: '' }, 'any'),
    LEVELS.map((name, n) => h('option', { value: name, selected: level === n }, `${name} (${n}) and worse`)),
  );
  const q = h('input', { name: 'q', type: 'search', placeholder: 'words "a phrase" -not', value: params.get('q') || '', autocomplete: 'off', size: 24 });
  const traceId = h('input', { name: 'traceId', type: 'text', placeholder: '32 hex', value: params.get('traceId') || '', autocomplete: 'off', size: 20, pattern: '[0-9a-fA-F]{32}' });
  const fields = h('input', { name: 'fields', type: 'text', placeholder: 'attr.user.id=u1 sd.order@32473.currency=EUR', value: fieldFiltersText(params), autocomplete: 'off', size: 30 });
  const el = h(
    'div.filters',
    null,
    h('label', null, 'Service', service),
    h('label', null, 'Severity', severity),
    h('label', null, 'Text', q),
    h('label', null, 'Trace ID', traceId),
    h('label', null, 'Fields', fields),
  );
  return {
    el,
    read() {
      const out = new URLSearchParams();
      if (service.value.trim()) out.set('service', service.value.trim());
      if (severity.value) out.set('severity', severity.value);
      if (q.value.trim()) out.set('q', q.value.trim());
      const t = traceId.value.trim();
      if (t) {
        if (!/^[0-9a-fA-F]{32}$/.test(t)) throw new Error('Trace ID: expected 32 hex characters');
        out.set('traceId', t.toLowerCase());
      }
      const parsed = parseFieldFilters(fields.value);
      if (parsed.error) throw new Error(`Fields: ${parsed.error}`);
      for (const [k, v] of parsed.pairs) out.append(k, v);
      const errors = filterErrors(out); // e.g. sd.x=1: the page would refuse its own link
      if (errors.length) throw new Error(`Fields: ${errors.join('; ')}`);
      return out;
    },
  };
}

/**
 * The notice for a link with parameters the page cannot take (params.js): `outcome` says that
 * nothing ran ("Nothing was searched"), then each problem.
 */
export function linkErrors(errors, outcome) {
  return notice(
    'error',
    h('p', null, `${outcome}: this link has parameters the page cannot take.`),
    h('ul.link-errors', null, errors.map((e) => h('li', null, e))),
    h('p', null, 'Correct the filters above and apply them.'),
  );
}
