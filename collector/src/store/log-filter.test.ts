import { describe, expect, it } from 'vitest';
import { PeriscopeError } from '../errors.ts';
import { matchesQ, parseLogFilter, parseTimeBound, timestampToMicros } from './log-filter.ts';

describe('parseLogFilter', () => {
  it('reads every filter key, and the endpoint\'s own keys pass', () => {
    const f = parseLogFilter({ service: 'api', severity: 'warning', start: '1772359200000', end: '1772359201000', traceId: 'A'.repeat(32), q: ' boom ', 'attr.user.id': 'u1', 'sd.order@1.currency': 'EUR', limit: '5', cursor: 'c' }, ['limit', 'cursor']);
    expect(f).toEqual({
      service: 'api', maxSeverity: 4, startMicros: 1_772_359_200_000_000, endMicros: 1_772_359_201_000_000, traceId: 'a'.repeat(32), q: 'boom',
      attrs: [{ key: 'user.id', value: 'u1' }], sd: [{ key: 'order@1.currency', value: 'EUR' }],
    });
  });

  it('refuses an unknown key, one given twice, and attr. without a key, naming it', () => {
    const keyOf = (query: Record<string, string | string[]>, other: string[] = []) => {
      try {
        parseLogFilter(query, other);
      } catch (err) {
        return [(err as PeriscopeError).statusCode, ((err as PeriscopeError).details as { key?: string }).key, (err as Error).message];
      }
      return 'accepted';
    };
    expect(keyOf({ level: 'error' })).toEqual([400, 'level', expect.stringContaining('level: unknown parameter (use service, severity,')]);
    expect(keyOf({ limit: '5' })).toEqual([400, 'limit', expect.stringContaining('unknown parameter')]); // not this endpoint's
    expect(keyOf({ limit: '5' }, ['limit'])).toBe('accepted');
    expect(keyOf({ service: ['a', 'b'] })).toEqual([400, 'service', 'service: given more than once']);
    expect(keyOf({ 'attr.': 'x' })).toEqual([400, 'attr.', 'attr.: expected attr.<key>']);
    expect(keyOf({ start: '2026-12-06T10:00:00Z', end: '2026-12-06T09:00:00Z' })).toEqual([400, 'end', 'end: before start']);
    expect(keyOf({ start: '2026-12-06T10:00:00Z', end: '2026-12-06T10:00:00Z' })).toBe('accepted'); // empty, but not contradictory
  });
});

describe('parseTimeBound', () => {
  // 2026-03-01T10:00:00.123456Z in every unit Loki, Prometheus and Grafana send: read as
  // milliseconds whatever their length, seconds meant 1970-01-21 (every record) and nanoseconds
  // year 56 000 (none).
  const micros = timestampToMicros('2026-03-01T10:00:00.123456Z');
  it.each([
    { form: 'epoch seconds (Loki, Prometheus)', value: '1772359200', want: micros - 123_456 },
    { form: 'epoch seconds with a fraction (Prometheus)', value: '1772359200.123456', want: micros },
    { form: 'epoch milliseconds', value: '1772359200123', want: micros - 456 },
    { form: 'epoch microseconds', value: '1772359200123456', want: micros },
    { form: 'epoch nanoseconds (Loki, Grafana)', value: '1772359200123456000', want: micros },
    { form: 'epoch nanoseconds between two microseconds: the later one', value: '1772359200123455001', want: micros },
    { form: 'RFC 3339 with an offset', value: '2026-03-01T11:00:00.123456+01:00', want: micros },
    { form: 'zero', value: '0', want: 0 },
    // what a URL's unencoded + (…+01:00) arrives as
    { form: 'RFC 3339 whose + became a space', value: '2026-03-01T11:00:00.123456 01:00', want: micros },
  ])('reads $form', ({ value, want }) => {
    expect(parseTimeBound(value, 'start')).toBe(want);
  });

  it.each(['yesterday', '2026-03-01', '12345678901234567890', '1.5e9', '-1'])('refuses %s, naming the forms it takes', (value) => {
    expect(() => parseTimeBound(value, 'end')).toThrow(/^end: expected RFC 3339 .* or an epoch time in seconds, milliseconds, microseconds or nanoseconds$/);
  });
});

describe('matchesQ (q= of live tail, log alert rules, and search without the index)', () => {
  it('ignores case, also of a Turkish dotted capital I', () => {
    // 'İ'.toLowerCase() is i and a combining dot: istanbul was not in İstanbul, nor İSTANBUL in istanbul
    for (const [msg, q] of [['İstanbul ofisi', 'istanbul'], ['İstanbul ofisi', 'İSTANBUL'], ['istanbul', 'İstanbul'], ['Payment FAILED', 'failed'], ['order 42 done', 'ORDER 4']]) {
      expect(matchesQ(msg, q), `${q} in ${msg}`).toBe(true);
    }
    expect(matchesQ('Istanbul', 'ankara')).toBe(false);
  });
});

describe('timestampToMicros', () => {
  it('keeps the microsecond digits of the canonical form', () => {
    expect(timestampToMicros('2026-03-04T05:06:07.123456Z')).toBe(Date.UTC(2026, 2, 4, 5, 6, 7, 123) * 1000 + 456);
  });

  it('gives the same instant for the canonical form and its equivalents', () => {
    // The canonical form takes a positional fast path; offsets and other precisions take the regex.
    for (let i = 0; i < 200; i++) {
      const ms = Date.UTC(2000, 0, 1) + Math.floor(Math.random() * 40 * 365 * 86_400_000);
      const micros = Math.floor(Math.random() * 1000);
      const iso = new Date(ms).toISOString();
      const canonical = `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
      const expected = ms * 1000 + micros;
      expect(timestampToMicros(canonical)).toBe(expected);
      expect(timestampToMicros(`${canonical.slice(0, 26)}000Z`)).toBe(expected); // nanoseconds
      const shifted = new Date(ms + 90 * 60_000).toISOString(); // the same instant at +01:30
      expect(timestampToMicros(`${shifted.slice(0, 23)}${String(micros).padStart(3, '0')}+01:30`)).toBe(expected);
    }
  });

  it('rejects impossible dates and offsets, and non-digits in the canonical shape', () => {
    for (const bad of ['2026-02-30T00:00:00.000000Z', '2026-13-01T00:00:00.000000Z', '2026-01-01T24:00:00.000000Z', '2026-01-01T00:00:00.00000xZ', '2026-0a-01T00:00:00.000000Z',
      // an offset past RFC 3339's 23:59 (read as 99 hours and 99 minutes, four days off)
      '2026-01-01T00:00:00+99:99', '2026-01-01T00:00:00.5-24:00', '2026-01-01T00:00:00+05:60']) {
      expect(timestampToMicros(bad), bad).toBeNaN();
    }
  });
});

describe('attr. and sd. filters: the store (SQL) and live tail (in memory) answer alike', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { LogBatch } = await import('../ingest/log-batch.ts');
  const { openDatabase } = await import('./database.ts');
  const { LogStore } = await import('./log-store.ts');
  const { LogReader } = await import('./log-reader.ts');
  const { matchesFilter } = await import('./log-filter.ts');

  const records = [
    { msg: 'otel', attributes: { resource: { 'k8s.pod.name': 'pod-7', 'service.name': 'shop' }, 'http.method': 'GET' } },
    { msg: 'types', attributes: { ok: true, no: false, n: null, pi: 3.141592653589793, tiny: 1e-7, count: 5, obj: { a: 1 } } },
    { msg: 'nested', attributes: { user: { id: 'u1' }, a: { 'b.c': { d: 'deep' } } } },
    { msg: 'strings', attributes: { s: 'true', five: '5', quoted: 'a"b' } },
    { msg: 'sd', structuredData: { 'meta@1': { 'a.b': 'c' }, 'origin.x@2': { ip: '10.0.0.1' } } },
  ].map((r, i) => ({ timestamp: '2026-11-01T00:00:00.000000Z', severity: 6, level: 'info', facility: 1, ...r, attributes: { i, ...(r.attributes ?? {}) } }));
  const micros = records.map(() => Date.UTC(2026, 10, 1) * 1000);
  const db = openDatabase(mkdtempSync(join(tmpdir(), 'periscope-filter-')), 'normal');
  const store = new LogStore(db);
  const reader = new LogReader(db);
  store.append(LogBatch.fromRecords(records as never, micros));

  it.each([
    ['attr.resource.k8s.pod.name', 'pod-7', ['otel']],
    ['attr.resource.service.name', 'shop', ['otel']],
    ['attr.http.method', 'GET', ['otel']],
    ['attr.ok', 'true', ['types']],
    ['attr.no', 'false', ['types']],
    ['attr.ok', '1', []],
    ['attr.n', 'null', ['types']],
    ['attr.pi', '3.141592653589793', ['types']],
    ['attr.tiny', '1e-7', ['types']],
    ['attr.count', '5', ['types']],
    ['attr.obj', '{"a":1}', ['types']],
    ['attr.user.id', 'u1', ['nested']],
    ['attr.a.b.c.d', 'deep', ['nested']],
    ['attr.s', 'true', ['strings']],
    ['attr.five', '5', ['strings']],
    ['attr.quoted', 'a"b', ['strings']],
    ['attr.constructor', 'function Object() { [native code] }', []],
    ['sd.meta@1.a.b', 'c', ['sd']],
    ['sd.origin.x@2.ip', '10.0.0.1', ['sd']],
  ])('%s=%s', (key, value, want) => {
    const filter = parseLogFilter({ [key]: value });
    const sql = reader.query(filter, 100).records.map((r) => r.msg).sort();
    const memory = records.filter((r, i) => matchesFilter(filter, r as never, micros[i])).map((r) => r.msg).sort();
    expect({ sql, memory }).toEqual({ sql: want, memory: want });
  });

  it(`refuses more than ${50} attr. and sd. filters in one query with a 400`, () => {
    const query = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`attr.a${i}`, '1']));
    expect(() => parseLogFilter(query)).toThrow(/at most 50 attr\. and sd\. filters/);
    expect(() => parseLogFilter(Object.fromEntries(Object.entries(query).slice(1)))).not.toThrow();
  });
});

describe('q of a lone *', () => {
  it('is text, as every q without letters or digits (docs/api.md): it matched every record, its * dropped as a prefix mark', async () => {
    const { matchesFilter } = await import('./log-filter.ts');
    const rec = (msg: string) => ({ timestamp: '2026-12-01T00:00:00.000000Z', severity: 6, level: 'info', facility: 1, msg }) as never;
    const filter = parseLogFilter({ q: '*' });
    expect(matchesFilter(filter, rec('a * b'), 0)).toBe(true);
    expect(matchesFilter(filter, rec('plain'), 0)).toBe(false);
    // a word's trailing * stays a prefix mark
    expect(matchesFilter(parseLogFilter({ q: 'pl*' }), rec('plain'), 0)).toBe(true);
  });
});
