import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../../sdk/src/record.ts';
import {
  PERISCOPE_ERR_SYSLOG_BAD_HEADER,
  PERISCOPE_ERR_SYSLOG_BAD_PRI,
  PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA,
  PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP,
  PERISCOPE_ERR_SYSLOG_BAD_VERSION,
} from './errors.ts';
import { parseSyslog5424, parseTimestamp } from './parse.ts';

/** The RFC writes the UTF-8 byte order mark as "BOM"; on the wire it is EF BB BF. */
const BOM = '\uFEFF';
const RECEIVED_AT = Date.UTC(2026, 0, 2, 3, 4, 5, 123);

function parseOk(input: Buffer | string): LogRecord {
  const result = parseSyslog5424(input, { receivedAt: RECEIVED_AT });
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.record;
}

/** Exact match: same keys (no `field: undefined` left behind), same values, JSON-clean. */
function expectRecord(actual: LogRecord, expected: LogRecord): void {
  expect(JSON.parse(JSON.stringify(actual))).toEqual(expected);
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
}

describe('parseSyslog5424: valid messages', () => {
  const cases: { name: string; input: string | Buffer; expected: LogRecord }[] = [
    {
      name: 'RFC 5424 §6.5 example 1 (no STRUCTURED-DATA, BOM before MSG)',
      input: `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}'su root' failed for lonvick on /dev/pts/8`,
      expected: {
        timestamp: '2003-10-11T22:14:15.003000Z',
        severity: 2,
        level: 'crit',
        facility: 4,
        hostname: 'mymachine.example.com',
        appName: 'su',
        msgId: 'ID47',
        msg: "'su root' failed for lonvick on /dev/pts/8",
      },
    },
    {
      name: 'RFC 5424 §6.5 example 2 (microseconds, -07:00 offset, MSG-ANY)',
      input: "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
      expected: {
        timestamp: '2003-08-24T12:14:15.000003Z',
        severity: 5,
        level: 'notice',
        facility: 20,
        hostname: '192.0.2.1',
        appName: 'myproc',
        procId: '8710',
        msg: "%% It's time to make the do-nuts.",
      },
    },
    {
      name: 'RFC 5424 §6.5 example 3 (STRUCTURED-DATA and MSG)',
      input: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ${BOM}An application event log entry...`,
      expected: {
        timestamp: '2003-10-11T22:14:15.003000Z',
        severity: 5,
        level: 'notice',
        facility: 20,
        hostname: 'mymachine.example.com',
        appName: 'evntslog',
        msgId: 'ID47',
        structuredData: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' } },
        msg: 'An application event log entry...',
      },
    },
    {
      name: 'RFC 5424 §6.5 example 4 (two SD-ELEMENTs, no MSG)',
      input:
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
      expected: {
        timestamp: '2003-10-11T22:14:15.003000Z',
        severity: 5,
        level: 'notice',
        facility: 20,
        hostname: 'mymachine.example.com',
        appName: 'evntslog',
        msgId: 'ID47',
        structuredData: {
          'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' },
          'examplePriority@32473': { class: 'high' },
        },
        msg: '',
      },
    },
    {
      name: 'every field NILVALUE: fields omitted, timestamp = receive time',
      input: '<13>1 - - - - - -',
      expected: { timestamp: '2026-01-02T03:04:05.123000Z', severity: 5, level: 'notice', facility: 1, msg: '' },
    },
    {
      name: 'NILVALUE STRUCTURED-DATA followed by MSG',
      input: '<14>1 2026-01-02T03:04:05Z host app 42 - - hello',
      expected: {
        timestamp: '2026-01-02T03:04:05.000000Z',
        severity: 6,
        level: 'info',
        facility: 1,
        hostname: 'host',
        appName: 'app',
        procId: '42',
        msg: 'hello',
      },
    },
    {
      name: 'PRI 0: kern.emerg',
      input: '<0>1 - h - - - - x',
      expected: { timestamp: '2026-01-02T03:04:05.123000Z', severity: 0, level: 'emerg', facility: 0, hostname: 'h', msg: 'x' },
    },
    {
      name: 'PRI 191: local7.debug',
      input: '<191>1 - h - - - - x',
      expected: { timestamp: '2026-01-02T03:04:05.123000Z', severity: 7, level: 'debug', facility: 23, hostname: 'h', msg: 'x' },
    },
    {
      name: 'PRI with leading zeros (the ABNF allows 1*3DIGIT)',
      input: '<034>1 - h - - - - x',
      expected: { timestamp: '2026-01-02T03:04:05.123000Z', severity: 2, level: 'crit', facility: 4, hostname: 'h', msg: 'x' },
    },
    {
      name: 'SD escapes \\" \\\\ \\] unescaped; other backslashes stay literal',
      input: String.raw`<165>1 - h a - - [esc@1 q="say \"hi\"" bs="C:\\dir" rb="a[1\]" lit="tab\t" end="\\" u="\é\"ü"] m`,
      expected: {
        timestamp: '2026-01-02T03:04:05.123000Z',
        severity: 5,
        level: 'notice',
        facility: 20,
        hostname: 'h',
        appName: 'a',
        structuredData: { 'esc@1': { q: 'say "hi"', bs: 'C:\\dir', rb: 'a[1]', lit: 'tab\\t', end: '\\', u: '\\é"ü' } },
        msg: 'm',
      },
    },
    {
      name: 'SD: three elements, SD-ID without params, empty value, UTF-8 value, spaces in value',
      input: '<165>1 - h a - - [a@1 k="v w"][flag@1][u@1 e="" name="Zoë ✓"] msg',
      expected: {
        timestamp: '2026-01-02T03:04:05.123000Z',
        severity: 5,
        level: 'notice',
        facility: 20,
        hostname: 'h',
        appName: 'a',
        structuredData: { 'a@1': { k: 'v w' }, 'flag@1': {}, 'u@1': { e: '', name: 'Zoë ✓' } },
        msg: 'msg',
      },
    },
    {
      name: 'SD: a repeated PARAM-NAME keeps every value, the second as name_2 (one taken already: name_3)',
      input: '<165>1 - h - - - [origin ip="192.0.2.1" ip_2="x" ip="192.0.2.129" ip="192.0.2.130"]',
      expected: {
        timestamp: '2026-01-02T03:04:05.123000Z',
        severity: 5,
        level: 'notice',
        facility: 20,
        hostname: 'h',
        structuredData: { origin: { ip: '192.0.2.1', ip_2: 'x', ip_3: '192.0.2.129', ip_4: '192.0.2.130' } },
        msg: '',
      },
    },
    {
      name: 'SD: the repeats of a 32-character PARAM-NAME stay valid names (at most 32 characters)',
      input: `<165>1 - h - - - [x ${'p'.repeat(32)}="1" ${'p'.repeat(32)}="2" ${'p'.repeat(32)}="3"]`,
      expected: {
        timestamp: '2026-01-02T03:04:05.123000Z',
        severity: 5,
        level: 'notice',
        facility: 20,
        hostname: 'h',
        structuredData: { x: { ['p'.repeat(32)]: '1', ['p'.repeat(26)]: '2', [`${'p'.repeat(26)}_2`]: '3' } },
        msg: '',
      },
    },
    {
      name: 'SD: unescaped "]" inside a quoted value is tolerated',
      input: '<165>1 - h - - - [x@1 v="a]b"] m',
      expected: {
        timestamp: '2026-01-02T03:04:05.123000Z',
        severity: 5,
        level: 'notice',
        facility: 20,
        hostname: 'h',
        structuredData: { 'x@1': { v: 'a]b' } },
        msg: 'm',
      },
    },
    {
      name: 'unicode MSG without BOM',
      input: '<14>1 - h - - - - héllo wörld ✓ 日本語 😀',
      expected: { timestamp: '2026-01-02T03:04:05.123000Z', severity: 6, level: 'info', facility: 1, hostname: 'h', msg: 'héllo wörld ✓ 日本語 😀' },
    },
    {
      name: 'MSG keeps leading spaces, newlines and a second BOM (only one BOM is stripped)',
      input: `<14>1 - h - - - - ${BOM}${BOM} two\nlines `,
      expected: { timestamp: '2026-01-02T03:04:05.123000Z', severity: 6, level: 'info', facility: 1, hostname: 'h', msg: `${BOM} two\nlines ` },
    },
    {
      name: 'SP after STRUCTURED-DATA with empty MSG',
      input: '<14>1 - h - - - - ',
      expected: { timestamp: '2026-01-02T03:04:05.123000Z', severity: 6, level: 'info', facility: 1, hostname: 'h', msg: '' },
    },
    {
      name: 'MSG that is only a BOM',
      input: `<14>1 - h - - - - ${BOM}`,
      expected: { timestamp: '2026-01-02T03:04:05.123000Z', severity: 6, level: 'info', facility: 1, hostname: 'h', msg: '' },
    },
    {
      name: 'over-long APP-NAME (60 chars) truncated to 48 and flagged',
      input: `<14>1 - h ${'a'.repeat(60)} - - - m`,
      expected: {
        timestamp: '2026-01-02T03:04:05.123000Z',
        severity: 6,
        level: 'info',
        facility: 1,
        hostname: 'h',
        appName: 'a'.repeat(48),
        msg: 'm',
        truncated: ['appName'],
      },
    },
    {
      name: 'over-long HOSTNAME, PROCID and MSGID truncated and flagged; limits themselves are fine',
      input: `<14>1 - ${'h'.repeat(256)} ${'a'.repeat(48)} ${'p'.repeat(129)} ${'m'.repeat(33)} - x`,
      expected: {
        timestamp: '2026-01-02T03:04:05.123000Z',
        severity: 6,
        level: 'info',
        facility: 1,
        hostname: 'h'.repeat(255),
        appName: 'a'.repeat(48),
        procId: 'p'.repeat(128),
        msgId: 'm'.repeat(32),
        msg: 'x',
        truncated: ['hostname', 'procId', 'msgId'],
      },
    },
    {
      name: 'Buffer input is parsed like the equivalent string',
      input: Buffer.from('<11>1 2026-01-02T03:04:05.5Z h app - ID1 - buffer'),
      expected: {
        timestamp: '2026-01-02T03:04:05.500000Z',
        severity: 3,
        level: 'err',
        facility: 1,
        hostname: 'h',
        appName: 'app',
        msgId: 'ID1',
        msg: 'buffer',
      },
    },
  ];

  it.each(cases)('$name', ({ input, expected }) => {
    expectRecord(parseOk(input), expected);
  });

  it('a "__proto__" SD-ID or PARAM-NAME is stored as data, not as a prototype', () => {
    const record = parseOk('<14>1 - h - - - [__proto__ __proto__="x" a="b"] m');
    expect(JSON.parse(JSON.stringify(record.structuredData))).toEqual(
      JSON.parse('{"__proto__":{"__proto__":"x","a":"b"}}'),
    );
    expect(Object.keys(record.structuredData!)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(record.structuredData)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(record.structuredData!['__proto__'])).toBe(Object.prototype);
    expect(Object.keys(record.structuredData!['__proto__'])).toEqual(['__proto__', 'a']);
  });

  it('a NILVALUE TIMESTAMP uses the current time when receivedAt is not given', () => {
    const before = Date.now();
    const result = parseSyslog5424('<14>1 - - - - - -');
    const after = Date.now();
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.record.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const t = Date.parse(result.record.timestamp);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
  });
});

describe('parseSyslog5424: timestamps are normalised to UTC with microseconds', () => {
  const cases: { name: string; ts: string; expected: string }[] = [
    { name: 'no fraction, Z', ts: '2026-01-02T03:04:05Z', expected: '2026-01-02T03:04:05.000000Z' },
    { name: '1 fractional digit', ts: '2026-01-02T03:04:05.1Z', expected: '2026-01-02T03:04:05.100000Z' },
    { name: '2 fractional digits', ts: '2026-01-02T03:04:05.12Z', expected: '2026-01-02T03:04:05.120000Z' },
    { name: '3 fractional digits', ts: '2026-01-02T03:04:05.123Z', expected: '2026-01-02T03:04:05.123000Z' },
    { name: '4 fractional digits', ts: '2026-01-02T03:04:05.1234Z', expected: '2026-01-02T03:04:05.123400Z' },
    { name: '5 fractional digits', ts: '2026-01-02T03:04:05.12345Z', expected: '2026-01-02T03:04:05.123450Z' },
    { name: '6 fractional digits', ts: '2026-01-02T03:04:05.123456Z', expected: '2026-01-02T03:04:05.123456Z' },
    { name: 'fraction with leading zeros', ts: '2026-01-02T03:04:05.000001Z', expected: '2026-01-02T03:04:05.000001Z' },
    // Go's time.RFC3339Nano (the OpenTelemetry Collector's syslog exporter): the message was refused whole.
    { name: '7 fractional digits: the microseconds, the digit below cut', ts: '2026-01-02T03:04:05.1234569Z', expected: '2026-01-02T03:04:05.123456Z' },
    { name: '9 fractional digits (nanoseconds) with an offset', ts: '2026-01-02T03:04:05.999999999+02:00', expected: '2026-01-02T01:04:05.999999Z' },
    { name: 'positive offset', ts: '2026-01-02T03:04:05.123456+02:00', expected: '2026-01-02T01:04:05.123456Z' },
    { name: 'negative offset', ts: '2026-01-02T03:04:05.5-01:00', expected: '2026-01-02T04:04:05.500000Z' },
    { name: 'half-hour offset, microseconds kept exactly', ts: '2026-01-02T03:04:05.999999+05:30', expected: '2026-01-01T21:34:05.999999Z' },
    { name: 'offset crosses the year backwards', ts: '2026-01-01T00:00:00.000001+00:30', expected: '2025-12-31T23:30:00.000001Z' },
    { name: 'offset crosses a leap day forwards', ts: '2024-02-29T23:59:59.999999-00:01', expected: '2024-03-01T00:00:59.999999Z' },
    { name: '-00:00 (unknown local offset) is UTC', ts: '2026-07-08T09:10:11.12-00:00', expected: '2026-07-08T09:10:11.120000Z' },
    { name: '+00:00 is UTC', ts: '2026-07-08T09:10:11+00:00', expected: '2026-07-08T09:10:11.000000Z' },
    { name: 'largest offset +23:59', ts: '2026-01-02T00:00:00+23:59', expected: '2026-01-01T00:01:00.000000Z' },
    { name: 'February 29th of a leap year', ts: '2000-02-29T12:00:00Z', expected: '2000-02-29T12:00:00.000000Z' },
    { name: 'two-digit year is not mapped to 19xx', ts: '0050-06-15T12:00:00+01:00', expected: '0050-06-15T11:00:00.000000Z' },
    { name: 'year 0099 rolls over into 0100', ts: '0099-12-31T23:30:00-01:00', expected: '0100-01-01T00:30:00.000000Z' },
    { name: 'offset crosses a month end forwards', ts: '2026-01-31T23:30:00-01:00', expected: '2026-02-01T00:30:00.000000Z' },
    { name: 'offset crosses into a leap day backwards', ts: '2024-03-01T00:10:00+00:30', expected: '2024-02-29T23:40:00.000000Z' },
    { name: 'offset crosses into Feb 28 of a common year backwards', ts: '2026-03-01T00:10:00+00:30', expected: '2026-02-28T23:40:00.000000Z' },
    { name: 'offset crosses into a 30-day month backwards', ts: '2026-05-01T01:00:00+02:00', expected: '2026-04-30T23:00:00.000000Z' },
    { name: 'year 9999 end, Z', ts: '9999-12-31T23:59:59.999999Z', expected: '9999-12-31T23:59:59.999999Z' },
  ];

  it.each(cases)('$name: $ts', ({ ts, expected }) => {
    expect(parseTimestamp(Buffer.from(ts, 'latin1'), 0, ts.length)).toBe(expected);
    // a message keeps it when the store can hold it (1970 … 2199), and is refused otherwise
    const inRange = expected >= '1970' && expected < '2200';
    const message = parseSyslog5424(`<14>1 ${ts} h - - - -`);
    if (inRange) expect(message).toMatchObject({ ok: true, record: { timestamp: expected } });
    else expect(message).toMatchObject({ ok: false, code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP, message: expect.stringContaining('outside the range the store keeps') });
  });
});

describe('parseSyslog5424: invalid messages', () => {
  const H = '<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47';
  const cases: { name: string; input: string | Buffer; code: string }[] = [
    { name: 'empty string', input: '', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'empty Buffer', input: Buffer.alloc(0), code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'PRI 999', input: '<999>1 - - - - - - x', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'PRI 192 (facility 24)', input: '<192>1 - - - - - - x', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'PRI with 4 digits', input: '<1234>1 - - - - - - x', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'empty PRI', input: '<>1 - - - - - - x', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'no "<"', input: '34>1 - - - - - - x', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'no ">"', input: '<34 1 - - - - - - x', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'non-digit PRI', input: '<a>1 - - - - - - x', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'frame cut inside PRI', input: '<34', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'plain text', input: 'hello world', code: PERISCOPE_ERR_SYSLOG_BAD_PRI },
    { name: 'frame cut after PRI', input: '<34>', code: PERISCOPE_ERR_SYSLOG_BAD_VERSION },
    { name: 'missing version', input: '<34> 2003-10-11T22:14:15.003Z host su - ID47 - msg', code: PERISCOPE_ERR_SYSLOG_BAD_VERSION },
    { name: 'RFC 3164 message (no version)', input: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed", code: PERISCOPE_ERR_SYSLOG_BAD_VERSION },
    { name: 'version 2', input: '<34>2 - - - - - - x', code: PERISCOPE_ERR_SYSLOG_BAD_VERSION },
    { name: 'version 01', input: '<34>01 - - - - - - x', code: PERISCOPE_ERR_SYSLOG_BAD_VERSION },
    { name: 'version 1 glued to timestamp', input: '<34>12003-10-11T22:14:15.003Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_VERSION },
    { name: 'version followed by a letter', input: '<34>1x - - - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_VERSION },
    { name: 'month 13', input: '<34>1 2026-13-01T00:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'month 00', input: '<34>1 2026-00-01T00:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'day 00', input: '<34>1 2026-01-00T00:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'April 31st', input: '<34>1 2026-04-31T00:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'February 29th of a common year', input: '<34>1 2026-02-29T00:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'February 29th 1900 (not a leap year)', input: '<34>1 1900-02-29T00:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'hour 24', input: '<34>1 2026-01-01T24:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'minute 60', input: '<34>1 2026-01-01T23:60:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'year 2300 (past what the store keeps)', input: '<34>1 2300-01-01T00:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'year 1969 (before what the store keeps)', input: '<34>1 1969-12-31T23:59:59Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'leap second 60 (forbidden by §6.2.3)', input: '<34>1 2016-12-31T23:59:60Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'no offset', input: '<34>1 2026-01-01T00:00:00 h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'lowercase z', input: '<34>1 2026-01-01T00:00:00z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'lowercase t', input: '<34>1 2026-01-01t00:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'space instead of T', input: '<34>1 2026-01-01 00:00:00Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: '10 fractional digits', input: '<34>1 2026-01-01T00:00:00.1234567891Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'empty fraction', input: '<34>1 2026-01-01T00:00:00.Z h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'offset without colon', input: '<34>1 2026-01-01T00:00:00+0200 h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'one-digit offset hour', input: '<34>1 2026-01-01T00:00:00+2:00 h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'offset hour 24', input: '<34>1 2026-01-01T00:00:00+24:00 h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'junk after Z', input: '<34>1 2026-01-01T00:00:00Zjunk h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'date only', input: '<34>1 2026-01-01 h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'RFC 3164 style timestamp', input: '<34>1 Oct 11 22:14:15 h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'offset shifts before year 0000', input: '<34>1 0000-01-01T00:00:00+01:00 h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'offset shifts past year 9999', input: '<34>1 9999-12-31T23:30:00-01:00 h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'empty TIMESTAMP (two spaces)', input: '<34>1  h - - - -', code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP },
    { name: 'frame cut after version', input: '<34>1', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'frame cut after version SP', input: '<34>1 ', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'frame cut after TIMESTAMP', input: '<34>1 2003-10-11T22:14:15.003Z', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'frame cut after HOSTNAME', input: '<34>1 2003-10-11T22:14:15.003Z mymachine.example.com', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'frame cut after APP-NAME', input: '<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'frame cut after PROCID', input: '<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su -', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'frame cut after MSGID (no STRUCTURED-DATA)', input: H, code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'frame cut after MSGID SP', input: `${H} `, code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'empty HOSTNAME (two spaces)', input: '<34>1 -  su - ID47 - x', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'non-ASCII byte in HOSTNAME', input: '<34>1 - hóst su - ID47 - x', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'tab inside APP-NAME', input: '<34>1 - host s\tu - ID47 - x', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'NUL inside MSGID', input: '<34>1 - host su - ID\u000047 - x', code: PERISCOPE_ERR_SYSLOG_BAD_HEADER },
    { name: 'unterminated "["', input: `${H} [exampleSDID@32473 iut="3"`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'lone "["', input: `${H} [`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'SD-ID only, no "]"', input: `${H} [exampleSDID@32473`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'unterminated PARAM-VALUE', input: `${H} [x a="b] msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'escaped closing quote leaves the value open', input: `${H} [x a="b\\"]`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'frame cut inside PARAM-NAME', input: `${H} [x ab`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'frame cut after "="', input: `${H} [x a=`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'unquoted PARAM-VALUE', input: `${H} [x a=b] msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'empty SD-ID', input: `${H} [ a="b"] msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'empty SD-ELEMENT', input: `${H} [] msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'SP before "]"', input: `${H} [x a="b" ] msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'PARAM-NAME with "="', input: `${H} [x a=="b"] msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'SD-ID longer than 32', input: `${H} [${'s'.repeat(33)}] msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'PARAM-NAME longer than 32', input: `${H} [x ${'p'.repeat(33)}="v"] msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'duplicate SD-ID', input: `${H} [x a="1"][x a="2"] msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'junk right after SD-ELEMENT', input: `${H} [x a="1"]junk`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'NILVALUE glued to MSG', input: `${H} -msg`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
    { name: 'STRUCTURED-DATA missing, MSG in its place', input: `${H} 'su root' failed`, code: PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA },
  ];

  it.each(cases)('$name → $code', ({ input, code }) => {
    const result = parseSyslog5424(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe(code);
    expect(result.message.length).toBeGreaterThan(0);
  });

  it('every prefix of a valid message is rejected with a code or parsed, never throws', () => {
    const full = `<165>1 2003-10-11T22:14:15.003+02:00 mymachine.example.com evntslog 12 ID47 [exampleSDID@32473 iut="3" eventSource="App\\"lication\\]"][examplePriority@32473 class="high"] ${BOM}An application event`;
    const bytes = Buffer.from(full);
    const codes = new Set<string>();
    for (let len = 0; len <= bytes.length; len++) {
      const result = parseSyslog5424(bytes.subarray(0, len));
      if (result.ok) {
        // Only prefixes ending after a complete SD-ELEMENT (or inside MSG) are valid messages.
        expect(result.record.appName).toBe('evntslog');
      } else {
        codes.add(result.code);
      }
    }
    expect([...codes].sort()).toEqual(
      [
        PERISCOPE_ERR_SYSLOG_BAD_PRI,
        PERISCOPE_ERR_SYSLOG_BAD_VERSION,
        PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP,
        PERISCOPE_ERR_SYSLOG_BAD_HEADER,
        PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA,
      ].sort(),
    );
    expect(parseSyslog5424(bytes).ok).toBe(true);
  });

  it('random byte mutations never throw and always return a result', () => {
    const base = Buffer.from('<165>1 2003-10-11T22:14:15.003Z host app 1 ID [a@1 k="v\\"x"][b@2] msg');
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const interesting = [0x20, 0x22, 0x2d, 0x3c, 0x3e, 0x5b, 0x5c, 0x5d, 0x3d, 0x00, 0xff, 0x31];
    for (let round = 0; round < 3000; round++) {
      const buf = Buffer.from(base);
      const edits = 1 + rand(3);
      for (let e = 0; e < edits; e++) buf[rand(buf.length)] = interesting[rand(interesting.length)];
      const result = parseSyslog5424(buf.subarray(0, rand(buf.length + 1)));
      expect(typeof result.ok).toBe('boolean');
    }
  });
});

describe('parseSyslog5424: invalid UTF-8 is replaced and flagged, never rejected', () => {
  const header = Buffer.from('<14>1 - h - - - - ');
  const cases: { name: string; msg: Buffer; expected: string; invalid: boolean }[] = [
    { name: '0xff 0xfe', msg: Buffer.from([0xff, 0xfe]), expected: '\uFFFD\uFFFD', invalid: true },
    { name: 'truncated 2-byte sequence between ASCII', msg: Buffer.from([0x61, 0xc3, 0x20, 0x62]), expected: 'a\uFFFD b', invalid: true },
    { name: 'truncated 4-byte sequence at the end', msg: Buffer.from([0x6f, 0x6b, 0xf0, 0x9f, 0x98]), expected: 'ok\uFFFD', invalid: true },
    { name: 'overlong encoding of "/"', msg: Buffer.from([0xc0, 0xaf]), expected: '\uFFFD\uFFFD', invalid: true },
    { name: 'UTF-16 surrogate encoded in UTF-8', msg: Buffer.from([0xed, 0xa0, 0x80]), expected: '\uFFFD\uFFFD\uFFFD', invalid: true },
    { name: 'BOM then invalid byte', msg: Buffer.from([0xef, 0xbb, 0xbf, 0x80, 0x41]), expected: '\uFFFDA', invalid: true },
    { name: 'a real U+FFFD in valid UTF-8 is not flagged', msg: Buffer.from('a\uFFFDb'), expected: 'a\uFFFDb', invalid: false },
  ];

  it.each(cases)('$name', ({ msg, expected, invalid }) => {
    const record = parseOk(Buffer.concat([header, msg]));
    expect(record.msg).toBe(expected);
    if (invalid) expect(record.attributes).toEqual({ invalidUtf8: true });
    else expect(record.attributes).toBeUndefined();
  });

  it('invalid UTF-8 inside a PARAM-VALUE is replaced and flagged too', () => {
    const record = parseOk(
      Buffer.concat([Buffer.from('<14>1 - h - - - [x@1 v="a'), Buffer.from([0xff]), Buffer.from('b"] ok')]),
    );
    expect(record.structuredData).toEqual({ 'x@1': { v: 'a\uFFFDb' } });
    expect(record.msg).toBe('ok');
    expect(record.attributes).toEqual({ invalidUtf8: true });
  });

  it('an invalid byte right after a backslash in a PARAM-VALUE is replaced and flagged', () => {
    const record = parseOk(
      Buffer.concat([Buffer.from('<14>1 - h - - - [x@1 v="a\\'), Buffer.from([0xff]), Buffer.from('b"]')]),
    );
    expect(record.structuredData).toEqual({ 'x@1': { v: 'a\\\uFFFDb' } });
    expect(record.attributes).toEqual({ invalidUtf8: true });
  });

  it('the flag does not leak into the next message', () => {
    expect(parseOk(Buffer.concat([header, Buffer.from([0xff])])).attributes).toEqual({ invalidUtf8: true });
    expect(parseOk(Buffer.concat([header, Buffer.from('fine')])).attributes).toBeUndefined();
  });
});
