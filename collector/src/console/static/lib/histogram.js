// Volume histogram: an inline SVG of /api/v1/logs/stats buckets (no chart library).
import { h, s } from './dom.js';
import { axisLabels, formatInterval, formatNumber, formatTimestamp } from './format.js';

const INTERVALS = [
  ['1s', 1e3], ['5s', 5e3], ['10s', 1e4], ['15s', 15e3], ['30s', 3e4], ['1m', 6e4], ['5m', 3e5], ['10m', 6e5],
  ['15m', 9e5], ['30m', 18e5], ['1h', 36e5], ['3h', 108e5], ['6h', 216e5], ['12h', 432e5], ['1d', 864e5],
];

/** The smallest API interval giving at most ~60 buckets over the span. */
export function chooseInterval(spanMs) {
  for (const [name, ms] of INTERVALS) if (spanMs / ms <= 60) return { name, ms };
  return { name: '1d', ms: 864e5 };
}

/**
 * buckets: [{ start, service, severity, count }] from the stats API.
 * range: { startMs, endMs } — when absent, the span of the buckets.
 * onSelect(startMs, endMs): a click on a bar.
 */
export function histogram(buckets, intervalMs, range, onSelect) {
  if (buckets.length === 0) return h('figure.histogram.empty', null, h('figcaption', null, 'no records in this range'));
  const starts = buckets.map((b) => Date.parse(b.start));
  const lo = range && Number.isFinite(range.startMs) ? range.startMs : Math.min(...starts);
  const hi = range && Number.isFinite(range.endMs) ? range.endMs : Math.max(...starts) + intervalMs;
  // Wide spans (range "all") are merged client-side to at most ~200 bars.
  intervalMs *= Math.max(1, Math.ceil((hi - lo) / intervalMs / 200));
  const byStart = new Map();
  for (const b of buckets) {
    const t = Math.floor(Date.parse(b.start) / intervalMs) * intervalMs;
    const e = byStart.get(t) || { total: 0, errors: 0, warnings: 0 };
    e.total += b.count;
    if (b.severity <= 3) e.errors += b.count;
    else if (b.severity === 4) e.warnings += b.count;
    byStart.set(t, e);
  }
  const first = Math.floor(lo / intervalMs) * intervalMs;
  const last = hi;
  const n = Math.max(1, Math.ceil((last - first) / intervalMs));
  let max = 0;
  let total = 0;
  for (const [, e] of byStart) {
    max = Math.max(max, e.total);
    total += e.total;
  }
  const W = n * 10;
  const H = 60;
  const svg = s('svg', { class: 'histogram', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `log volume: ${total} records` });
  for (let i = 0; i < n; i++) {
    const t = first + i * intervalMs;
    const e = byStart.get(t);
    if (!e) continue;
    const y = (v) => H - (v / max) * (H - 2);
    const g = s('g', { class: 'bar', dataset: { start: String(t) }, on: { click: () => onSelect && onSelect(t, t + intervalMs) } });
    g.append(s('title', null, `${formatTimestamp(t)}: ${e.total} records (${e.errors} errors, ${e.warnings} warnings)`));
    g.append(s('rect', { class: 'hit', x: i * 10, y: 0, width: 10, height: H }));
    g.append(s('rect', { class: 'total', x: i * 10 + 1, y: y(e.total), width: 8, height: H - y(e.total) }));
    const bad = e.errors + e.warnings;
    if (e.warnings) g.append(s('rect', { class: 'warn', x: i * 10 + 1, y: y(bad), width: 8, height: H - y(bad) }));
    if (e.errors) g.append(s('rect', { class: 'error', x: i * 10 + 1, y: y(e.errors), width: 8, height: H - y(e.errors) }));
    svg.append(g);
  }
  const [from, to] = Number.isFinite(first) && Number.isFinite(last) ? axisLabels(first, last) : ['', ''];
  return h(
    'figure.histogram',
    null,
    svg,
    h(
      'figcaption',
      null,
      h('span.axis-start', null, from),
      h('span.center', null, `${formatNumber(total)} records · max ${formatNumber(max)} per ${formatInterval(intervalMs)}`),
      h('span.axis-end', null, to),
    ),
  );
}
