import { describe, expect, it } from 'vitest';
import { parseSyslog } from './parse.ts';

const RECEIVED = Date.UTC(2026, 11, 6, 12, 0, 0); // 2026-12-06T12:00:00Z

function parse(input: string | Buffer, receivedAt = RECEIVED) {
  return parseSyslog(typeof input === 'string' ? Buffer.from(input) : input, { receivedAt });
}

describe('parseSyslog: RFC 3164 messages (no VERSION after PRI)', () => {
  it.each([
    {
      name: 'the RFC 3164 §5.4 example',
      input: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
      want: { timestamp: '2026-10-11T22:14:15.000000Z', severity: 2, level: 'crit', facility: 4, hostname: 'mymachine', appName: 'su', msg: "'su root' failed for lonvick on /dev/pts/8" },
    },
    {
      name: 'space-padded day, IP as hostname, TAG[PID]',
      input: '<13>Feb  5 17:32:18 10.0.0.99 myapp[123]: hello world',
      want: { timestamp: '2026-02-05T17:32:18.000000Z', severity: 5, facility: 1, hostname: '10.0.0.99', appName: 'myapp', procId: '123', msg: 'hello world' },
    },
    {
      name: 'no HOSTNAME (local senders)',
      input: '<13>Dec  6 11:00:00 myapp[42]: started',
      want: { timestamp: '2026-12-06T11:00:00.000000Z', appName: 'myapp', procId: '42', msg: 'started' },
    },
    {
      name: 'RFC 3339 TIMESTAMP (rsyslog RSYSLOG_ForwardFormat)',
      input: '<30>2026-12-06T11:00:00.123456+01:00 web-1 nginx: GET /',
      want: { timestamp: '2026-12-06T10:00:00.123456Z', severity: 6, facility: 3, hostname: 'web-1', appName: 'nginx', msg: 'GET /' },
    },
    {
      name: 'no TAG: the MSG is kept whole',
      input: '<13>Dec 06 11:00:00 router link eth0 down',
      want: { timestamp: '2026-12-06T11:00:00.000000Z', hostname: 'router', msg: 'link eth0 down' },
    },
  ])('$name', ({ input, want }) => {
    const r = parse(input);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    if (!r.ok) return;
    expect(r.record).toMatchObject(want);
    for (const field of ['hostname', 'appName', 'procId'] as const) if (!(field in want)) expect(r.record[field], field).toBeUndefined();
  });

  it('a year-end message received in the new year is last year\'s', () => {
    const r = parse('<13>Dec 31 23:59:59 h app: last', Date.UTC(2027, 0, 1, 0, 0, 5));
    expect(r.ok && r.record.timestamp).toBe('2026-12-31T23:59:59.000000Z');
  });

  it('invalid UTF-8 in the MSG is replaced and flagged, as for RFC 5424', () => {
    const r = parse(Buffer.concat([Buffer.from('<13>Dec  6 11:00:00 h app: bad '), Buffer.from([0xff, 0xfe])]));
    expect(r.ok && r.record.msg).toBe('bad \ufffd\ufffd');
    expect(r.ok && r.record.attributes).toEqual({ invalidUtf8: true });
  });

  it.each([
    { name: 'a BSD TIMESTAMP that is no date', input: '<13>Feb 30 10:00:00 h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'neither a VERSION nor a TIMESTAMP', input: '<13>hello there', code: 'PERISCOPE_ERR_SYSLOG_BAD_VERSION' },
    { name: 'cut after PRI', input: '<13>', code: 'PERISCOPE_ERR_SYSLOG_BAD_VERSION' },
    { name: 'RFC 3339 TIMESTAMP past 2199', input: '<13>2300-01-01T00:00:00Z h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'RFC 5424 VERSION 2 stays refused as RFC 5424', input: '<34>2 - - - - - - x', code: 'PERISCOPE_ERR_SYSLOG_BAD_VERSION' },
    { name: 'RFC 5424 with a bad TIMESTAMP stays refused as RFC 5424', input: '<34>1 Oct 11 22:14:15 h - - - -', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
  ])('refuses $name', ({ input, code }) => {
    const r = parse(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });

  it('RFC 5424 messages parse as before', () => {
    const r = parse('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event');
    expect(r.ok && r.record).toMatchObject({ timestamp: '2003-10-11T22:14:15.003000Z', appName: 'evntslog', msgId: 'ID47', structuredData: { 'exampleSDID@32473': { iut: '3' } } });
  });
});
