import { describe, expect, it } from 'vitest';
import { parseSyslog } from './parse.ts';
import { zonedTime } from './zoned-time.ts';

const RECEIVED = Date.UTC(2026, 11, 6, 12, 0, 0); // 2026-12-06T12:00:00Z
/** The UTF-8 byte order mark (EF BB BF on the wire). */
const BOM = '\uFEFF';

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
      // rsyslog's default forwarding of an RFC 5424 message: its syslogtag APP-NAME[PROCID] has no ':'
      name: 'TAG[PID] without ":" (rsyslog RSYSLOG_TraditionalForwardFormat), a BOM after it stripped',
      input: `<165>Mar  1 10:00:00 h1 appx[77] ${BOM}ünï`,
      want: { hostname: 'h1', appName: 'appx', procId: '77', msg: 'ünï' },
    },
    {
      name: 'a word and "[text]" without ":" are no TAG',
      input: '<13>Mar  1 10:00:00 h1 arr[i] is out of range',
      want: { hostname: 'h1', msg: 'arr[i] is out of range' },
    },
    {
      name: 'no TAG: the MSG is kept whole',
      input: '<13>Dec 06 11:00:00 router link eth0 down',
      want: { timestamp: '2026-12-06T11:00:00.000000Z', hostname: 'router', msg: 'link eth0 down' },
    },
    {
      name: 'Cisco IOS: sequence number, "*" (clock not synchronised), milliseconds, ":" after the TIMESTAMP, no HOSTNAME',
      input: '<189>52: *Mar  1 00:01:23.456: %SYS-5-CONFIG_I: Configured from console',
      want: { timestamp: '2026-03-01T00:01:23.456000Z', severity: 5, facility: 23, msg: '%SYS-5-CONFIG_I: Configured from console' },
    },
    {
      name: 'Cisco IOS with a synchronised clock',
      input: '<187>345: Dec  6 19:20:00.123: %LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/1, changed state to down',
      want: { timestamp: '2026-12-06T19:20:00.123000Z', severity: 3, facility: 23, msg: '%LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/1, changed state to down' },
    },
    {
      name: 'Cisco IOS "." (clock synchronisation lost)',
      input: '<189>7: .Dec  6 10:00:00.001: %SYS-5-RESTART: System restarted',
      want: { timestamp: '2026-12-06T10:00:00.001000Z', msg: '%SYS-5-RESTART: System restarted' },
    },
    {
      name: 'milliseconds',
      input: '<13>Dec  6 19:20:00.123 h tag: m',
      want: { timestamp: '2026-12-06T19:20:00.123000Z', hostname: 'h', appName: 'tag', msg: 'm' },
    },
    {
      name: 'microseconds kept, digits past them cut',
      input: '<13>Dec  6 19:20:00.123456789 h tag: m',
      want: { timestamp: '2026-12-06T19:20:00.123456Z', hostname: 'h', appName: 'tag', msg: 'm' },
    },
    {
      name: 'unpadded day',
      input: '<13>Dec 6 19:20:00 h tag: m',
      want: { timestamp: '2026-12-06T19:20:00.000000Z', hostname: 'h', appName: 'tag', msg: 'm' },
    },
    {
      name: 'a year in the TIMESTAMP is taken, not inferred',
      input: '<13>Dec  6 2025 19:20:00 h tag: m',
      want: { timestamp: '2025-12-06T19:20:00.000000Z', hostname: 'h', appName: 'tag', msg: 'm' },
    },
    {
      name: 'no TIMESTAMP: everything after PRI is the MSG, at the time of receipt (§4.3.2)',
      input: '<13>just a message',
      want: { timestamp: '2026-12-06T12:00:00.000000Z', severity: 5, facility: 1, msg: 'just a message' },
    },
    {
      name: 'no TIMESTAMP, with a TAG',
      input: '<13>myapp[42]: hello',
      want: { timestamp: '2026-12-06T12:00:00.000000Z', appName: 'myapp', procId: '42', msg: 'hello' },
    },
    {
      name: 'no TIMESTAMP: text starting with a month name is text',
      input: '<13>May I help you? 10:00:00 works',
      want: { timestamp: '2026-12-06T12:00:00.000000Z', msg: 'May I help you? 10:00:00 works' },
    },
    {
      name: 'no TIMESTAMP: digits and ":" are no TAG (a Cisco sequence number without timestamps)',
      input: '<189>52: %SYS-5-CONFIG_I: Configured from console',
      want: { timestamp: '2026-12-06T12:00:00.000000Z', msg: '52: %SYS-5-CONFIG_I: Configured from console' },
    },
    {
      name: 'a BOM at the start of the MSG is stripped, as in RFC 5424',
      input: `<13>Dec  6 11:00:00 h ${BOM}app[7]: hi`,
      want: { hostname: 'h', appName: 'app', procId: '7', msg: 'hi' },
    },
    {
      name: 'a BOM after the TAG is stripped',
      input: `<13>Dec  6 11:00:00 h app: ${BOM}hi ✓`,
      want: { hostname: 'h', appName: 'app', msg: 'hi ✓' },
    },
    {
      name: 'a BOM before a MSG without TAG is stripped, only one, as in RFC 5424',
      input: `<13>Dec  6 11:00:00 router ${BOM}${BOM}link down`,
      want: { hostname: 'router', msg: `${BOM}link down` },
    },
    {
      name: 'a BOM right after PRI, without TIMESTAMP, is stripped',
      input: `<13>${BOM}just a message`,
      want: { timestamp: '2026-12-06T12:00:00.000000Z', msg: 'just a message' },
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

  it('a new-year message from a sender whose clock is ahead, received on 31 Dec, is next year\'s', () => {
    const r = parse('<13>Jan  1 00:00:10 h app: first', Date.UTC(2026, 11, 31, 23, 59, 50));
    expect(r.ok && r.record.timestamp).toBe('2027-01-01T00:00:10.000000Z');
  });

  it('with a sender time zone (syslog.timeZone), the TIMESTAMP is read as that zone\'s local time', () => {
    const inZone = (input: string, zone: string, receivedAt = RECEIVED) => {
      const r = parseSyslog(Buffer.from(input), { receivedAt, bsdTime: zonedTime(zone) });
      return r.ok ? r.record.timestamp : r.message;
    };
    expect(inZone('<13>Dec  6 13:00:00 sw1 app: x', 'Europe/Berlin')).toBe('2026-12-06T12:00:00.000000Z');
    expect(inZone('<13>Jul  6 13:00:00.250 sw1 app: x', 'Europe/Berlin')).toBe('2026-07-06T11:00:00.250000Z');
    expect(inZone('<189>52: *Dec  6 17:30:00.123: %SYS-5-CONFIG_I: Configured', 'Asia/Kolkata')).toBe('2026-12-06T12:00:00.123000Z');
    // New year, in the sender's zone: Tokyo's first seconds of 2027 are 2026's last UTC hours
    expect(inZone('<13>Jan  1 00:00:10 h app: first', 'Asia/Tokyo', Date.UTC(2026, 11, 31, 15, 0, 20))).toBe('2026-12-31T15:00:10.000000Z');
    expect(inZone('<13>Dec 31 23:59:59 h app: last', 'America/Los_Angeles', Date.UTC(2027, 0, 1, 8, 0, 5))).toBe('2027-01-01T07:59:59.000000Z');
    // Timestamps that carry their offset do not use it
    expect(inZone('<13>2026-12-06T13:00:00+01:00 h app: x', 'Asia/Tokyo')).toBe('2026-12-06T12:00:00.000000Z');
    expect(inZone('<14>1 2026-12-06T13:00:00Z h app - - - x', 'Asia/Tokyo')).toBe('2026-12-06T13:00:00.000000Z');
    // Still no date: refused
    expect(inZone('<13>Feb 30 10:00:00 h app: x', 'Europe/Berlin')).toMatch(/is not a date/);
  });

  it('invalid UTF-8 in the MSG is replaced and flagged, as for RFC 5424', () => {
    const r = parse(Buffer.concat([Buffer.from('<13>Dec  6 11:00:00 h app: bad '), Buffer.from([0xff, 0xfe])]));
    expect(r.ok && r.record.msg).toBe('bad \ufffd\ufffd');
    expect(r.ok && r.record.attributes).toEqual({ invalidUtf8: true });
  });

  it.each([
    { name: 'a BSD TIMESTAMP that is no date', input: '<13>Feb 30 10:00:00 h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'a BSD TIMESTAMP at hour 25', input: '<13>Dec  6 25:00:00 h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'a BSD TIMESTAMP at minute 60', input: '<13>Dec  6 10:60:00.123 h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'a BSD TIMESTAMP on day 0', input: '<13>Dec 0 10:00:00 h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'a Cisco TIMESTAMP that is no date', input: '<189>52: *Feb 30 00:01:23.456: %SYS-5-CONFIG_I: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'a BSD TIMESTAMP in 1969', input: '<13>Dec 31 1969 23:59:59 h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'a BSD TIMESTAMP past 2199', input: '<13>Jan  1 2300 00:00:00 h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'an RFC 3339 TIMESTAMP that is no date', input: '<13>2026-13-01T00:00:00Z h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'cut after PRI', input: '<13>', code: 'PERISCOPE_ERR_SYSLOG_BAD_HEADER' },
    { name: 'a HOSTNAME and nothing after it', input: '<13>Dec  6 11:00:00 router', code: 'PERISCOPE_ERR_SYSLOG_BAD_HEADER' },
    { name: 'RFC 3339 TIMESTAMP past 2199', input: '<13>2300-01-01T00:00:00Z h app: x', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
    { name: 'RFC 5424 VERSION 2 stays refused as RFC 5424', input: '<34>2 - - - - - - x', code: 'PERISCOPE_ERR_SYSLOG_BAD_VERSION' },
    { name: 'RFC 5424 with a bad TIMESTAMP stays refused as RFC 5424', input: '<34>1 Oct 11 22:14:15 h - - - -', code: 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP' },
  ])('refuses $name', ({ input, code }) => {
    const r = parse(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(code);
    expect(r.message.length).toBeGreaterThan(0);
  });

  it('every prefix of a Cisco message is parsed or refused with a code, never throws', () => {
    const full = '<189>52: *Mar  1 2026 00:01:23.456: %SYS-5-CONFIG_I: Configured from console';
    for (let len = 0; len <= full.length; len++) {
      const r = parse(full.slice(0, len));
      if (!r.ok) expect(r.code, full.slice(0, len)).toMatch(/^PERISCOPE_ERR_SYSLOG_/);
    }
  });

  it('RFC 5424 messages parse as before', () => {
    const r = parse('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event');
    expect(r.ok && r.record).toMatchObject({ timestamp: '2003-10-11T22:14:15.003000Z', appName: 'evntslog', msgId: 'ID47', structuredData: { 'exampleSDID@32473': { iut: '3' } } });
  });
});
