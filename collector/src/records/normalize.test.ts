import { Ajv2020 } from 'ajv/dist/2020.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalizeRecord } from './normalize.ts';

const schema = JSON.parse(readFileSync(new URL('../../../docs/log-record.schema.json', import.meta.url), 'utf8'));
const validateSchema = new Ajv2020({ strict: false }).compile(schema);
const NOW = Date.parse('2026-05-05T05:05:05.555Z');

describe('normalizeRecord', () => {
  // The top-level key replaced the attribute: attributes.foo "from attributes" was lost.
  it('an unknown top-level key named like one of the record\'s attributes is kept beside it, as foo_2', () => {
    const n = normalizeRecord(JSON.parse('{"msg":"x","foo":{"bar":1},"attributes":{"foo":"from attributes","foo_2":"taken"},"__proto__":"p","foo_2":"top"}'), NOW);
    expect(n.ok).toBe(true);
    if (!n.ok) return;
    expect(JSON.parse(JSON.stringify(n.record.attributes))).toEqual(JSON.parse('{"foo":"from attributes","foo_2":"taken","foo_3":{"bar":1},"__proto__":"p","foo_2_2":"top"}'));
  });

  it.each([
    { name: 'record', line: '{"msg":"x","__proto__":{"a":1},"b":2}' },
    { name: 'pino line', line: '{"level":30,"time":1767225600000,"msg":"x","__proto__":{"a":1},"b":2}' },
  ])('keeps a top-level key "__proto__" as an attribute ($name)', ({ line }) => {
    const n = normalizeRecord(JSON.parse(line), NOW);
    expect(n.ok).toBe(true);
    if (!n.ok) return;
    expect(Object.getPrototypeOf(n.record.attributes)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(n.record)).attributes).toEqual(JSON.parse('{"__proto__":{"a":1},"b":2}'));
  });

  it.each([
    { name: 'defaults', input: { msg: 'hi' }, want: { timestamp: '2026-05-05T05:05:05.555000Z', severity: 6, level: 'info', facility: 1, msg: 'hi' } },
    { name: 'nanosecond offset timestamp', input: { msg: 'x', timestamp: '2026-01-01T01:00:00.123456789+01:00' }, want: { timestamp: '2026-01-01T00:00:00.123456Z' } },
    { name: 'epoch ms timestamp', input: { msg: 'x', timestamp: 1767225600123 }, want: { timestamp: '2026-01-01T00:00:00.123000Z' } },
    // An epoch number's unit by its size, as Loki and Prometheus read theirs (as ms, seconds meant January 1970).
    { name: 'epoch seconds timestamp', input: { msg: 'x', timestamp: 1767225600 }, want: { timestamp: '2026-01-01T00:00:00.000000Z' } },
    { name: 'epoch seconds with a fraction (Python time.time())', input: { msg: 'x', timestamp: 1767225600.25 }, want: { timestamp: '2026-01-01T00:00:00.250000Z' } },
    { name: 'epoch microseconds timestamp', input: { msg: 'x', timestamp: 1767225600123456 }, want: { timestamp: '2026-01-01T00:00:00.123456Z' } },
    { name: 'epoch nanoseconds timestamp', input: { msg: 'x', timestamp: 1767225600123456000 }, want: { timestamp: '2026-01-01T00:00:00.123456Z' } },
    { name: 'pino time in seconds (stdTimeFunctions.unixTime)', input: { level: 30, time: 1767225600, msg: 'x' }, want: { timestamp: '2026-01-01T00:00:00.000000Z' } },
    { name: 'space for T, 6 fractional digits', input: { msg: 'x', timestamp: '2026-01-01 00:00:00.123456Z' }, want: { timestamp: '2026-01-01T00:00:00.123456Z' } },
    { name: 'lowercase t, 6 fractional digits', input: { msg: 'x', timestamp: '2026-01-01t00:00:00.123456Z' }, want: { timestamp: '2026-01-01T00:00:00.123456Z' } },
    { name: 'leap second, 6 fractional digits', input: { msg: 'x', timestamp: '2016-12-31T23:59:60.500000Z' }, want: { timestamp: '2017-01-01T00:00:00.500000Z' } },
    { name: 'leap-year day', input: { msg: 'x', timestamp: '2028-02-29T00:00:00Z' }, want: { timestamp: '2028-02-29T00:00:00.000000Z' } },
    { name: 'level alias', input: { msg: 'x', level: 'error' }, want: { severity: 3, level: 'err' } },
    { name: 'severity and level agree', input: { msg: 'x', level: 'warning', severity: 4 }, want: { severity: 4, level: 'warning' } },
    { name: 'unknown keys kept as attributes', input: { msg: 'x', orderId: 5, attributes: { a: 1 } }, want: { attributes: { a: 1, orderId: 5 } } },
    { name: 'trace ids lowercased', input: { msg: 'x', traceId: 'AB'.repeat(16), spanId: 'CD'.repeat(8) }, want: { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8) } },
    { name: 'trace flags lowercased', input: { msg: 'x', traceId: 'ab'.repeat(16), traceFlags: '0A' }, want: { traceId: 'ab'.repeat(16), traceFlags: '0a' } },
    {
      name: 'pino line of @opentelemetry/instrumentation-pino: trace_id, span_id, trace_flags lifted',
      input: { level: 30, time: 1767225600000, msg: 'x', trace_id: 'ab'.repeat(16), span_id: 'cd'.repeat(8), trace_flags: '01' },
      want: { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceFlags: '01' },
    },
    { name: 'pino line with trace_flags but no trace id: an attribute', input: { level: 30, time: 1767225600000, msg: 'x', trace_flags: '01' }, want: { attributes: { trace_flags: '01' } } },
    { name: 'procId over 128 truncated', input: { msg: 'x', procId: 'p'.repeat(200) }, want: { procId: 'p'.repeat(128), truncated: ['procId'] } },
    // Cut between the halves of 🚀, appName ended in a lone surrogate: U+FFFD in Loki's service_name label.
    { name: 'appName cut before a character it would split', input: { msg: 'x', appName: `${'a'.repeat(47)}🚀b` }, want: { appName: 'a'.repeat(47), truncated: ['appName'] } },
    { name: 'pino line', input: { level: 50, time: 1767225600000, pid: 1, hostname: 'h', msg: 'boom', err: { message: 'e' } }, want: { severity: 3, level: 'err', procId: '1', attributes: { err: { message: 'e' } } } },
    { name: 'pino line with level labels and ISO time', input: { level: 'warn', time: '2026-01-01T00:00:00.250Z', pid: 1, msg: 'slow' }, want: { timestamp: '2026-01-01T00:00:00.250000Z', severity: 4, level: 'warning', procId: '1' } },
    { name: 'pino line with a microsecond ISO time', input: { level: 30, time: '2026-01-01T01:00:00.123456+01:00', msg: 'x' }, want: { timestamp: '2026-01-01T00:00:00.123456Z' } },
    { name: 'pino line with a leap second', input: { level: 30, time: '2016-12-31T23:59:60.250Z', msg: 'x' }, want: { timestamp: '2017-01-01T00:00:00.250000Z' } },
    {
      name: 'pino line whose lifted keys are not RFC 5424 values: kept as attributes',
      input: { level: 30, time: 1767225600000, msg: 'x', facility: 999, traceId: 'not-hex', spanId: 5, msgId: 7, structuredData: { 'a b': {} }, appName: ['x'] },
      want: { facility: 1, attributes: { facility: 999, traceId: 'not-hex', spanId: 5, msgId: 7, structuredData: { 'a b': {} }, appName: ['x'] } },
    },
    { name: 'pino line with valid lifted keys', input: { level: 30, time: 1767225600000, msg: 'x', facility: 4, trace_id: 'AB'.repeat(16), msgId: 'LOGIN', structuredData: { 'a@1': { p: 'v' } } }, want: { facility: 4, traceId: 'ab'.repeat(16), msgId: 'LOGIN', structuredData: { 'a@1': { p: 'v' } } } },
  ])('accepts: $name', ({ input, want }) => {
    const n = normalizeRecord(input, NOW);
    expect(n.ok).toBe(true);
    if (!n.ok) return;
    expect(n.record).toMatchObject(want);
    for (const field of ['traceId', 'spanId', 'traceFlags', 'msgId', 'structuredData', 'appName'] as const) {
      if (!(field in want)) expect(n.record[field], field).toBeUndefined();
    }
    expect(validateSchema(n.record), JSON.stringify(validateSchema.errors)).toBe(true);
    expect(n.micros).toBe(Date.parse(n.record.timestamp) * 1000 + Number(n.record.timestamp.slice(23, 26)));
  });

  it.each([
    { name: 'not an object', input: [1], code: 'PERISCOPE_ERR_BAD_RECORD' },
    { name: 'null', input: null, code: 'PERISCOPE_ERR_BAD_RECORD' },
    { name: 'Feb 30', input: { msg: 'x', timestamp: '2026-02-30T00:00:00Z' }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'no zone', input: { msg: 'x', timestamp: '2026-02-01T00:00:00' }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'negative epoch', input: { msg: 'x', timestamp: -5 }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    // outside what the store keeps (1970 … 2199): stored, such a record made every query reaching it fail
    { name: 'year 9999', input: { msg: 'x', timestamp: '9999-12-31T23:59:59Z' }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'year 2200', input: { msg: 'x', timestamp: '2200-01-01T00:00:00Z' }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'year 1600', input: { msg: 'x', timestamp: '1600-01-01T00:00:00Z' }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'epoch ms 8.64e15 (the last JS date)', input: { msg: 'x', timestamp: 8.64e15 }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'epoch ms 1e20 (no JS date)', input: { msg: 'x', timestamp: 1e20 }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'pino time 1e20', input: { level: 30, time: 1e20, msg: 'x' }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'pino time before 1970', input: { level: 30, time: -1e15, msg: 'x' }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'pino level label unknown', input: { level: 'loud', time: 1767225600000, msg: 'x' }, code: 'PERISCOPE_ERR_BAD_SEVERITY' },
    { name: 'pino level label named like an Object property', input: { level: 'constructor', time: 1767225600000, msg: 'x' }, code: 'PERISCOPE_ERR_BAD_SEVERITY' },
    { name: 'level named like an Object property', input: { msg: 'x', level: '__proto__' }, code: 'PERISCOPE_ERR_BAD_SEVERITY' },
    { name: 'pino time not a date', input: { level: 30, time: 'yesterday', msg: 'x' }, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
    { name: 'severity 8', input: { msg: 'x', severity: 8 }, code: 'PERISCOPE_ERR_BAD_SEVERITY' },
    { name: 'severity 2.5', input: { msg: 'x', severity: 2.5 }, code: 'PERISCOPE_ERR_BAD_SEVERITY' },
    { name: 'level disagrees', input: { msg: 'x', severity: 1, level: 'info' }, code: 'PERISCOPE_ERR_BAD_SEVERITY' },
    { name: 'facility 24', input: { msg: 'x', facility: 24 }, code: 'PERISCOPE_ERR_BAD_FIELD' },
    { name: 'msg object', input: { msg: { a: 1 } }, code: 'PERISCOPE_ERR_BAD_FIELD' },
    { name: 'hostname number', input: { msg: 'x', hostname: 5 }, code: 'PERISCOPE_ERR_BAD_FIELD' },
    { name: 'spanId too short', input: { msg: 'x', spanId: 'abc' }, code: 'PERISCOPE_ERR_BAD_FIELD' },
    { name: 'traceFlags of 1 digit', input: { msg: 'x', traceId: 'ab'.repeat(16), traceFlags: '1' }, code: 'PERISCOPE_ERR_BAD_FIELD' },
    { name: 'traceFlags a number', input: { msg: 'x', traceId: 'ab'.repeat(16), traceFlags: 1 }, code: 'PERISCOPE_ERR_BAD_FIELD' },
    { name: 'traceFlags without traceId', input: { msg: 'x', traceFlags: '01' }, code: 'PERISCOPE_ERR_BAD_FIELD' },
    { name: 'attributes array', input: { msg: 'x', attributes: [1] }, code: 'PERISCOPE_ERR_BAD_FIELD' },
    { name: 'SD-ID with space', input: { msg: 'x', structuredData: { 'a b': {} } }, code: 'PERISCOPE_ERR_BAD_FIELD' },
    { name: 'SD value not a string', input: { msg: 'x', structuredData: { 'a@1': { p: 1 } } }, code: 'PERISCOPE_ERR_BAD_FIELD' },
  ])('rejects: $name', ({ input, code }) => {
    const n = normalizeRecord(input, NOW);
    expect(n.ok).toBe(false);
    if (n.ok) return;
    expect(n.code).toBe(code);
    expect(n.message.length).toBeGreaterThan(5);
  });
});
