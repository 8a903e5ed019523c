// RFC 3164 (BSD syslog) messages, as classic senders write them: rsyslog's and syslog-ng's
// traditional forwarding formats, busybox syslogd, `logger --rfc3164`, network devices.
// https://www.rfc-editor.org/rfc/rfc3164#section-4.1
//
//   <PRI>TIMESTAMP SP HOSTNAME SP TAG[PID]: MSG
//
// Choices (RFC 3164 describes what was seen in the wild rather than a grammar):
// - TIMESTAMP is "Mmm dd hh:mm:ss" (§4.1.2), also in the variants devices and agents send:
//     [SEQ ": "] ["*" / "."] Mmm SP dd [SP yyyy] SP hh:mm:ss ["." 1*9DIGIT] [":"]
//   The day is padded with a space, a zero or not at all; a year may follow it; fractional
//   seconds are kept to the microsecond. The rest is Cisco IOS's form
//   (`<189>52: *Mar  1 00:01:23.456: %SYS-5-CONFIG_I: …`): a message sequence number, "*" or
//   "." for a clock that is not (or no longer) synchronised, whose time is kept all the same,
//   and a ':' after the TIMESTAMP.
// - TIMESTAMP has no zone: it is read as UTC, or in syslog.timeZone (zoned-time.ts) for senders
//   whose clock is set to local time. Without a year it is in the receive time's year
//   unless that puts it more than a day ahead (a 31 Dec message received on 1 Jan is last
//   year's); a 1 Jan message received on 31 Dec is next year's. An RFC 3339 timestamp in its
//   place (rsyslog's RSYSLOG_ForwardFormat) is read as one.
//   A TIMESTAMP of either shape that is no date (Feb 30, 25:00:00, month 13) is refused with
//   BAD_TIMESTAMP, not taken for text.
// - No TIMESTAMP at all (`<13>just a message`): as a relay does (§4.3.2), everything after PRI
//   is the MSG and the time of receipt the timestamp; there is no HOSTNAME.
// - HOSTNAME is often left out by local senders: a token that ends in ':' or holds '[' is the
//   TAG. A ':' after the TIMESTAMP (Cisco IOS) means there is none: the sender is the host.
// - TAG (up to '[' or ':') → appName, the digits in [PID] → procId. The ':' after the TAG may
//   be missing after a numeric [PID] (`app[42] text`, what rsyslog forwards of a message it
//   received as RFC 5424); a word alone (`app text`) stays text. A MSG without a TAG is kept
//   whole, so is Cisco's "%FACILITY-SEVERITY-MNEMONIC: text". Digits alone are no TAG (a
//   program name) but a sequence number or a count, and stay in the MSG.
// - A BOM (U+FEFF) at the start of the MSG is no text: it is stripped as RFC 5424 §6.4 has it,
//   and so is one at the start of the text after the TAG, where senders that mark their message
//   text as UTF-8 put it.
// - Nothing after PRI is refused with BAD_HEADER.

import { LEVEL_NAMES, applyFieldLimits, rfc3339Micros } from '../../../../sdk/src/record.ts';
import type { LogRecord } from '../../../../sdk/src/record.ts';
import { PERISCOPE_ERR_SYSLOG_BAD_HEADER, PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP } from './errors.ts';
import { msInRange, outOfRange, timestampInRange } from '../../records/time-range.ts';
import { parseTimestamp, type ParseResult } from './parse.ts';
import type { ZonedTime } from './zoned-time.ts';

type ParseFailure = Extract<ParseResult, { ok: false }>;

/** A TIMESTAMP read at the start of the text after PRI. */
interface Timestamp {
  ok: true;
  /** RFC 3339, UTC, microseconds */
  timestamp: string;
  /** Index of what follows the TIMESTAMP and its SP. */
  next: number;
  /** A HOSTNAME may follow (not after Cisco's "TIMESTAMP:"). */
  hostname: boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/**
 * [SEQ ": "] ["*" / "."] Mmm SP dd [SP yyyy] SP hh:mm:ss ["." fraction] [":"], then SP or the end.
 * Groups: 1 month, 2 day, 3 year, 4 hour, 5 minute, 6 second, 7 fraction, 8 ':'.
 */
const BSD_TIMESTAMP = new RegExp(
  `^(?:\\d{1,10}: )?[*.]?(${MONTHS.join('|')}) {1,2}(\\d{1,2}) (?:(\\d{4}) )?(\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,9}))?(:)?(?: |$)`,
);
/** The start of an RFC 3339 date-time: a token of this shape is a TIMESTAMP, valid or not. */
const RFC3339_START = /^\d{4}-\d{2}-\d{2}T/;
const DAY_MS = 86_400_000;
const BOM = '\uFEFF';
/**
 * A TAG: up to 32 alphanumerics (RFC 3164 §4.1.3), in practice also '-', '_', '.', '/';
 * not digits alone. Ends in ':' (groups 1 name, 2 PID), or is NAME[digits] and a space without
 * the ':' (groups 1, 3): rsyslog's default forwarding (RSYSLOG_TraditionalForwardFormat) of a
 * message it received as RFC 5424 writes its syslogtag, APP-NAME[PROCID], with no ':'.
 */
const TAG = /^(?!\d+[[:])([\w.\/-]{1,48})(?:(?:\[([^\]\s]{1,128})\])?:(?: |$)|\[(\d{1,20})\] )/;

/** `text` without one leading BOM. */
function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(1) : text;
}

function badTimestamp(message: string): ParseFailure {
  return { ok: false, code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP, message };
}

/**
 * The year of a BSD TIMESTAMP without one: the receive time's, or the year before when that
 * would be more than a day ahead (a 31 Dec message received on 1 Jan), or the year after when
 * that is at most a day ahead (a 1 Jan message from a sender whose clock is a little ahead,
 * received on 31 Dec: in the receive time's year it would be dated a year back).
 */
function inferYear(month: number, day: number, hour: number, receivedAt: number): number {
  const year = new Date(receivedAt).getUTCFullYear();
  if (Date.UTC(year, month, day, hour) > receivedAt + DAY_MS) return year - 1;
  return Date.UTC(year + 1, month, day, hour) <= receivedAt + DAY_MS ? year + 1 : year;
}

/** The BSD TIMESTAMP matched by BSD_TIMESTAMP, or BAD_TIMESTAMP when it is no date. */
function bsdTimestamp(m: RegExpExecArray, receivedAt: number, toInstant: ZonedTime): Timestamp | ParseFailure {
  const text = m[0].trimEnd();
  const month = MONTHS.indexOf(m[1]);
  const day = Number(m[2]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (day < 1 || hour > 23 || minute > 59 || second > 59) return badTimestamp(`RFC 3164 TIMESTAMP "${text}" is not a date`);
  const year = m[3] === undefined ? inferYear(month, day, hour, receivedAt) : Number(m[3]);
  if (year < 1970) return badTimestamp(outOfRange('TIMESTAMP', text));
  const micros = m[7] === undefined ? 0 : Number(m[7].slice(0, 6).padEnd(6, '0'));
  // Date.UTC rolls an impossible day into the next month: refused, not moved
  if (new Date(Date.UTC(year, month, day)).getUTCDate() !== day) return badTimestamp(`RFC 3164 TIMESTAMP "${text}" is not a date`);
  const t = toInstant(year, month, day, hour, minute, second, Math.floor(micros / 1000));
  if (!msInRange(t)) return badTimestamp(outOfRange('TIMESTAMP', text));
  return { ok: true, timestamp: rfc3339Micros(t, micros % 1000), next: m[0].length, hostname: m[8] === undefined };
}

/** An RFC 3339 TIMESTAMP as the first token; null when the token does not have its shape. */
function rfc3339Timestamp(rest: string): Timestamp | ParseFailure | null {
  const space = rest.indexOf(' ');
  const token = space < 0 ? rest : rest.slice(0, space);
  if (!RFC3339_START.test(token)) return null;
  const iso = parseTimestamp(Buffer.from(token, 'latin1'), 0, token.length);
  if (iso === null) return badTimestamp(`TIMESTAMP "${token.slice(0, 40)}" is not a valid RFC 3339 date-time`);
  if (!timestampInRange(iso)) return badTimestamp(outOfRange('TIMESTAMP', token));
  return { ok: true, timestamp: iso, next: space < 0 ? rest.length : space + 1, hostname: true };
}

/** The TIMESTAMP at the start of `rest`; null when there is none (RFC 3164 §4.3.2). */
function readTimestamp(rest: string, receivedAt: number, bsdTime: ZonedTime): Timestamp | ParseFailure | null {
  const bsd = BSD_TIMESTAMP.exec(rest);
  return bsd ? bsdTimestamp(bsd, receivedAt, bsdTime) : rfc3339Timestamp(rest);
}

/**
 * Parses the part of an RFC 3164 message after `<PRI>` (`rest`), its TIMESTAMP read by `bsdTime`
 * (default: as UTC). Never throws.
 */
export function parseSyslog3164(pri: number, rest: string, receivedAt: number, bsdTime: ZonedTime = Date.UTC): ParseResult {
  if (rest === '') {
    return { ok: false, code: PERISCOPE_ERR_SYSLOG_BAD_HEADER, message: 'nothing after PRI (neither an RFC 5424 VERSION nor an RFC 3164 MSG)' };
  }
  const ts = readTimestamp(rest, receivedAt, bsdTime);
  if (ts !== null && !ts.ok) return ts;
  const timestamp = ts === null ? rfc3339Micros(receivedAt) : ts.timestamp;
  let i = ts === null ? 0 : ts.next;

  let hostname: string | undefined;
  if (ts !== null && ts.hostname) {
    const hostEnd = rest.indexOf(' ', i);
    const first = hostEnd < 0 ? rest.slice(i) : rest.slice(i, hostEnd);
    if (first !== '' && !first.endsWith(':') && !first.includes('[')) {
      if (hostEnd < 0) return { ok: false, code: PERISCOPE_ERR_SYSLOG_BAD_HEADER, message: 'MSG missing after HOSTNAME' };
      hostname = first;
      i = hostEnd + 1;
    }
  }

  let msg = stripBom(rest.slice(i));
  let appName: string | undefined;
  let procId: string | undefined;
  const tag = TAG.exec(msg);
  if (tag) {
    appName = tag[1];
    procId = tag[2] ?? tag[3];
    msg = stripBom(msg.slice(tag[0].length));
  }

  const severity = pri & 7;
  const record: LogRecord = { timestamp, severity, level: LEVEL_NAMES[severity], facility: pri >> 3, msg };
  if (hostname !== undefined) record.hostname = hostname;
  if (appName !== undefined) record.appName = appName;
  if (procId !== undefined) record.procId = procId;
  return { ok: true, record: applyFieldLimits(record) };
}
