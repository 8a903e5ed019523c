// Log search: filters + time range → GET /api/v1/logs (cursor pagination) and
// GET /api/v1/logs/stats (volume histogram).
import { describeError, getJson } from '../lib/api.js';
import { h, mount, notice } from '../lib/dom.js';
import { filterFields, linkErrors } from '../lib/filters.js';
import { formatNumber, toLocalInput } from '../lib/format.js';
import { chooseInterval, histogram } from '../lib/histogram.js';
import { logTable } from '../lib/logtable.js';
import { LIMITS, RANGES, readSearchParams } from '../lib/params.js';

/** Cursors of pages already visited, per query, so "Newer" can go back without a reverse cursor. */
const cursorsByQuery = new Map();

export function renderSearch(el, params) {
  // The time range is resolved now: a relative range ends at "now" of this page load (or the
  // `now` the pager pinned). With errors nothing is fetched, and the form shows what it could read.
  const { errors, range, startMs, endMs, limit, cursor, page, api } = readSearchParams(params, Date.now());

  const filters = filterFields(params);
  const rangeSelect = h('select', { name: 'range' }, RANGES.map(([v, label]) => h('option', { value: v, selected: v === range }, label)));
  const customInput = (name, ms) => h('input', { name, type: 'datetime-local', step: 1, value: range === 'custom' && ms !== undefined ? toLocalInput(ms) : '' });
  const startInput = customInput('start', startMs);
  const endInput = customInput('end', endMs);
  const custom = h('span.custom-range', { hidden: range !== 'custom' }, h('label', null, 'From', startInput), h('label', null, 'To', endInput));
  rangeSelect.addEventListener('change', () => (custom.hidden = rangeSelect.value !== 'custom'));
  const limitSelect = h('select', { name: 'limit' }, LIMITS.map((v) => h('option', { value: v, selected: v === limit }, `${v} per page`)));
  const formError = h('div.form-error', { role: 'alert' });
  const form = h(
    'form.search',
    { on: { submit } },
    filters.el,
    h('div.filters', null, h('label', null, 'Time', rangeSelect), custom, h('label', null, 'Page size', limitSelect), h('button.primary', { type: 'submit' }, 'Search')),
    formError,
  );
  const chart = h('div.chart');
  const results = h('div.results', { 'aria-busy': 'true' }, 'Searching…');
  mount(el, h('h1', null, 'Search logs'), form, chart, results);

  function submit(e) {
    e.preventDefault();
    formError.textContent = '';
    let next;
    try {
      next = filters.read();
    } catch (err) {
      formError.textContent = err.message;
      return;
    }
    const timeError = readTimeInputs(next);
    if (timeError) {
      formError.textContent = timeError;
      return;
    }
    next.set('limit', limitSelect.value);
    const hash = `#/search?${next}`;
    if (location.hash === hash) search();
    else location.hash = hash;
  }

  /** The form's time range into `next`, or an error text: the link it makes must be searchable. */
  function readTimeInputs(next) {
    next.set('range', rangeSelect.value);
    if (rangeSelect.value !== 'custom') return '';
    const from = startInput.value ? new Date(startInput.value) : undefined;
    const to = endInput.value ? new Date(endInput.value) : undefined;
    if (!from && !to) return 'Time: a custom range needs From, To or both';
    if (from && to && from >= to) return 'Time: From must be before To';
    if (from) next.set('start', from.toISOString());
    if (to) next.set('end', to.toISOString());
    return '';
  }

  /** Runs the search of this link, or says why it cannot. */
  function search() {
    if (!errors.length) return run();
    results.removeAttribute('aria-busy');
    mount(results, linkErrors(errors, 'Nothing was searched'));
  }

  const baseQuery = api.toString();

  const controller = new AbortController();
  async function run() {
    results.setAttribute('aria-busy', 'true');
    const span = Number.isFinite(startMs) && Number.isFinite(endMs) ? endMs - startMs : 7 * 864e5;
    const interval = range === 'all' ? { name: '1h', ms: 36e5 } : chooseInterval(span);
    const query = new URLSearchParams(api);
    query.set('limit', limit);
    if (cursor) query.set('cursor', cursor);
    const statsQuery = new URLSearchParams(api);
    statsQuery.set('interval', interval.name);
    const [logs, stats] = await Promise.allSettled([
      getJson(`/api/v1/logs?${query}`, { signal: controller.signal }),
      getJson(`/api/v1/logs/stats?${statsQuery}`, { signal: controller.signal }),
    ]);
    if (controller.signal.aborted) return;
    if (stats.status === 'fulfilled') {
      mount(chart, histogram(stats.value.buckets, interval.ms, { startMs, endMs }, selectRange));
    } else {
      mount(chart, notice('error', `Volume histogram: ${describeError(stats.reason)}`));
    }
    results.removeAttribute('aria-busy');
    if (logs.status === 'rejected') {
      mount(results, notice('error', describeError(logs.reason)));
      return;
    }
    showResults(logs.value);
  }

  function selectRange(fromMs, toMs) {
    const next = new URLSearchParams(params);
    for (const k of ['cursor', 'page', 'now']) next.delete(k);
    next.set('range', 'custom');
    next.set('start', new Date(fromMs).toISOString());
    next.set('end', new Date(toMs).toISOString());
    location.hash = `#/search?${next}`;
  }

  function pageHash(pageNo, pageCursor) {
    const next = new URLSearchParams(params);
    next.delete('cursor');
    next.delete('page');
    // Pin relative ranges so every page of one search sees the same window.
    if (range !== 'custom' && range !== 'all' && Number.isFinite(endMs)) next.set('now', String(Math.ceil(endMs)));
    if (pageNo > 1) {
      next.set('page', String(pageNo));
      next.set('cursor', pageCursor);
    } else {
      next.delete('now');
    }
    return `#/search?${next}`;
  }

  function showResults({ records, nextCursor }) {
    const cursors = cursorsByQuery.get(baseQuery) || [];
    cursors[page - 1] = cursor;
    cursorsByQuery.set(baseQuery, cursors);
    // A page opened from a link or bookmark does not know the cursors before it: it offers the newest page instead.
    const previous = page <= 2 ? '' : cursors[page - 2];
    const newer = previous === undefined
      ? h('button.page-newer', { type: 'button', on: { click: () => (location.hash = pageHash(1)) } }, '⇤ Newest')
      : h('button.page-newer', { type: 'button', disabled: page === 1, on: { click: () => (location.hash = pageHash(page - 1, previous)) } }, '← Newer');
    const older = h('button.page-older', { type: 'button', disabled: !nextCursor, on: { click: () => (location.hash = pageHash(page + 1, nextCursor)) } }, 'Older →');
    const summary = h(
      'span.page-info',
      null,
      records.length === 0 ? 'No records match.' : `Page ${page} · ${formatNumber(records.length)} record${records.length === 1 ? '' : 's'}${nextCursor ? '' : ' · end of results'}`,
    );
    const pager = () => h('div.pager', null, newer.cloneNode(true), summary.cloneNode(true), older.cloneNode(true));
    const top = h('div.pager', null, newer, summary, older);
    const bottom = pager();
    // cloneNode drops listeners: wire the bottom pager's buttons to the top ones.
    for (const [i, btn] of [...bottom.querySelectorAll('button')].entries()) btn.addEventListener('click', () => [newer, older][i].click());
    mount(results, top, records.length ? logTable(records).table : null, records.length > 20 ? bottom : null);
  }

  search();
  return () => controller.abort();
}
