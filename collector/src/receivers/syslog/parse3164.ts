// RFC 3164 (BSD syslog) messages, as classic senders write them: rsyslog's and syslog-ng's
// traditional forwarding formats, busybox syslogd, `logger --rfc3164`, network devices.
// https://www.rfc-editor.org/rfc/rfc3164#section-4.1
//
//   <PRI>TIMESTAMP SP HOSTNAME SP TAG[PID]: MSG
//
// Choices (RFC 3164 describes what was seen in the wild rather than a grammar):
// - TIMESTAMP is "Mmm dd hh:mm:ss" (day padded with a space or a zero). It has no year and no zone:
//   it is read as UTC, in the receive time's year unless that puts it more than a day ahead (a
//   31 Dec message received on 1 Jan is last year's). An RFC 3339 timestamp in its place (rsyslog's
//   RSYSLOG_ForwardFormat) is read as one. Without either, the message is neither RFC 5424 nor
//   RFC 3164: refused with BAD_VERSION.
// - HOSTNAME is often left out by local senders: a token that ends in ':' or holds '[' is the TAG.
// - TAG (up to '[' or ':') → appName, the digits in [PID] → procId. A MSG without a TAG is kept whole.

import { LEVEL_NAMES, applyFieldLimits, rfc3339Micros } from '../../../../sdk/src/record.ts';
import type { LogRecord } from '../../../../sdk/src/record.ts';
import { PERISCOPE_ERR_SYSLOG_BAD_HEADER, PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP, PERISCOPE_ERR_SYSLOG_BAD_VERSION } from './errors.ts';
import { outOfRange, timestampInRange } from '../../records/time-range.ts';
import { parseTimestamp, type ParseResult } from './parse.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** "Mmm dd hh:mm:ss" */
const BSD_TIMESTAMP = /^([A-Z][a-z]{2}) ([ 0-3]\d) ([0-2]\d):([0-5]\d):([0-5]\d)$/;
const DAY_MS = 86_400_000;
/** A TAG: up to 32 alphanumerics (RFC 3164 §4.1.3), in practice also '-', '_', '.', '/'. */
const TAG = /^([\w.\/-]{1,48})(?:\[([^\]\s]{1,128})\])?:(?: |$)/;

/**
 * Epoch ms of a BSD timestamp: in the receive time's year, or the year before when that would be
 * more than a day ahead (a 31 Dec message received on 1 Jan). undefined when `text` does not
 * have the shape, NaN when it is no date (Feb 30).
 */
function bsdTime(text: string, receivedAt: number): number | undefined {
  const m = BSD_TIMESTAMP.exec(text);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]);
  const day = Number(m[2].trim());
  const hour = Number(m[3]);
  if (month < 0 || day < 1 || hour > 23) return undefined;
  let year = new Date(receivedAt).getUTCFullYear();
  if (Date.UTC(year, month, day, hour) > receivedAt + DAY_MS) year--;
  const t = Date.UTC(year, month, day, hour, Number(m[4]), Number(m[5]));
  // Date.UTC rolls an impossible day into the next month: refused, not moved
  return new Date(t).getUTCDate() === day ? t : NaN;
}

/**
 * Parses the part of an RFC 3164 message after `<PRI>` (`rest`). Never throws.
 */
export function parseSyslog3164(pri: number, rest: string, receivedAt: number): ParseResult {
  let timestamp: string;
  let i: number;
  const bsd = rest.length === 15 || rest[15] === ' ' ? bsdTime(rest.slice(0, 15), receivedAt) : undefined;
  if (bsd !== undefined) {
    if (Number.isNaN(bsd)) return { ok: false, code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP, message: `TIMESTAMP "${rest.slice(0, 15)}" is not a date` };
    timestamp = rfc3339Micros(bsd);
    i = 16;
  } else {
    const space = rest.indexOf(' ');
    const token = space < 0 ? rest : rest.slice(0, space);
    const iso = parseTimestamp(Buffer.from(token, 'latin1'), 0, token.length);
    if (iso === null) {
      return {
        ok: false,
        code: PERISCOPE_ERR_SYSLOG_BAD_VERSION,
        message: 'neither RFC 5424 (VERSION 1 after PRI) nor RFC 3164 (a TIMESTAMP "Mmm dd hh:mm:ss" or RFC 3339 after PRI)',
      };
    }
    if (!timestampInRange(iso)) return { ok: false, code: PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP, message: outOfRange('TIMESTAMP', token) };
    timestamp = iso;
    i = space < 0 ? rest.length : space + 1;
  }

  let hostname: string | undefined;
  const hostEnd = rest.indexOf(' ', i);
  const first = hostEnd < 0 ? rest.slice(i) : rest.slice(i, hostEnd);
  if (first !== '' && !first.endsWith(':') && !first.includes('[')) {
    if (hostEnd < 0) return { ok: false, code: PERISCOPE_ERR_SYSLOG_BAD_HEADER, message: 'MSG missing after HOSTNAME' };
    hostname = first;
    i = hostEnd + 1;
  }

  let msg = rest.slice(i);
  let appName: string | undefined;
  let procId: string | undefined;
  const tag = TAG.exec(msg);
  if (tag) {
    appName = tag[1];
    procId = tag[2];
    msg = msg.slice(tag[0].length);
  }

  const severity = pri & 7;
  const record: LogRecord = { timestamp, severity, level: LEVEL_NAMES[severity], facility: pri >> 3, msg };
  if (hostname !== undefined) record.hostname = hostname;
  if (appName !== undefined) record.appName = appName;
  if (procId !== undefined) record.procId = procId;
  return { ok: true, record: applyFieldLimits(record) };
}
