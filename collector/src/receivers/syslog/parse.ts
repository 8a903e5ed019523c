// Strict RFC 5424 §6 parser: one syslog message (a TCP frame or a UDP datagram) → LogRecord.
// https://www.rfc-editor.org/rfc/rfc5424#section-6
// parseSyslog also takes RFC 3164 messages (no VERSION after PRI): parse3164.ts.
//
//   SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]
//   HEADER     = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
//
// Hot path: a single forward scan over the bytes with indexes; no regex over the message,
// no intermediate strings except the field values themselves.
//
// Deliberate deviations / choices (documented so nobody "fixes" them by accident):
// - Header fields longer than the RFC limits are accepted, cut and listed in `truncated`
//   (applyFieldLimits), instead of rejecting the message.
// - An unescaped `]` inside a quoted PARAM-VALUE is accepted (it is unambiguous there);
//   `\` before any other character is kept literally, as §6.3.3 requires.
// - A PARAM-NAME repeated inside one SD-ELEMENT (allowed by §6.3.3) keeps the last value,
//   because StructuredData maps a name to one string.
// - A TIMESTAMP of NILVALUE is replaced by the receive time (`options.receivedAt`, default now).
//   Offsets are applied by carrying minutes/days by hand, never through Date, so the
//   microseconds are exactly the ones sent.
// - Otherwise strict: PRI must be 0–191 (leading zeros, allowed by the ABNF, are accepted),
//   VERSION must be 1, header fields must be PRINTUSASCII, SD-NAMEs at most 32 chars, an SD-ID
//   may not repeat, and no leap second / lowercase t,z / more than 9 fractional digits (7–9,
//   beyond the RFC's 6, are cut to the microsecond: what Go's RFC3339Nano writes).
// - Invalid UTF-8 in MSG or in PARAM-VALUEs becomes U+FFFD and sets attributes.invalidUtf8.

import { isUtf8 } from 'node:buffer';
import { LEVEL_NAMES, applyFieldLimits, rfc3339Micros } from '../../../../sdk/src/record.ts';
import type { LogRecord, StructuredData } from '../../../../sdk/src/record.ts';
import {
  PERISCOPE_ERR_SYSLOG_BAD_HEADER,
  PERISCOPE_ERR_SYSLOG_BAD_PRI,
  PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA,
  PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP,
  PERISCOPE_ERR_SYSLOG_BAD_VERSION,
} from './errors.ts';
import type { SyslogErrorCode } from './errors.ts';
import { outOfRange, timestampInRange } from '../../records/time-range.ts';
import { freeName } from '../../records/free-name.ts';
import { parseSyslog3164 } from './parse3164.ts';
import type { ZonedTime } from './zoned-time.ts';

export type ParseResult =
  | { ok: true; record: LogRecord }
  | { ok: false; code: SyslogErrorCode; message: string };

export interface ParseOptions {
  /** Epoch milliseconds used as the timestamp when TIMESTAMP is NILVALUE. Default: Date.now(). */
  receivedAt?: number;
  /** Reads an RFC 3164 TIMESTAMP, which has no zone, as a time in the sender's zone (syslog.timeZone). Default: UTC. */
  bsdTime?: ZonedTime;
}

const SP = 0x20;
const DQUOTE = 0x22;
const DASH = 0x2d;
const DOT = 0x2e;
const COLON = 0x3a;
const LT = 0x3c;
const EQ = 0x3d;
const GT = 0x3e;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;
const T_UPPER = 0x54;
const Z_UPPER = 0x5a;
const PLUS = 0x2b;
const D0 = 0x30;
const D9 = 0x39;

/** SD-NAME: 1*32 PRINTUSASCII except '=', SP, ']', '"' (RFC 5424 §6.3.2). */
const SD_NAME_MAX = 32;

const HEADER_FIELDS = ['HOSTNAME', 'APP-NAME', 'PROCID', 'MSGID', 'STRUCTURED-DATA'] as const;

/** §6.3.3 escapes inside PARAM-VALUE: \" \\ \] (applied to one value, never to the message). */
const SD_ESCAPE = /\\(["\\\]])/g;

const replacingDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Set by decodeUtf8 during one parse; parsing is synchronous so a module variable is safe. */
let sawInvalidUtf8 = false;

function decodeUtf8(b: Buffer, start: number, end: number): string {
  if (start === end) return '';
  const view = b.subarray(start, end);
  if (isUtf8(view)) return b.toString('utf8', start, end);
  sawInvalidUtf8 = true;
  return replacingDecoder.decode(view);
}

function fail(code: SyslogErrorCode, message: string): ParseResult {
  return { ok: false, code, message };
}

function isDigit(c: number): boolean {
  return c >= D0 && c <= D9;
}

function isSdNameChar(c: number): boolean {
  return c >= 33 && c <= 126 && c !== EQ && c !== RBRACKET && c !== DQUOTE;
}

/**
 * Scans a header token from `i` to the next SP (or end). Returns the end index, or -1 when a
 * byte outside PRINTUSASCII (%d33-126) is found.
 */
function scanToken(b: Buffer, i: number, n: number): number {
  for (; i < n; i++) {
    const c = b[i];
    if (c === SP) return i;
    if (c < 33 || c > 126) return -1;
  }
  return n;
}

function twoDigits(b: Buffer, p: number): number {
  const a = b[p];
  const c = b[p + 1];
  if (!isDigit(a) || !isDigit(c)) return -1;
  return (a - D0) * 10 + (c - D0);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const FRACTION_SCALE = [1, 100000, 10000, 1000, 100, 10, 1];

/**
 * RFC 5424 §6.2.3 TIMESTAMP (RFC 3339 subset) in b[s, e) → UTC with microseconds, or null.
 * Uppercase T and Z are required, at most 6 fractional digits, no leap second (60).
 */
export function parseTimestamp(b: Buffer, s: number, e: number): string | null {
  if (e - s < 20) return null;
  if (b[s + 4] !== DASH || b[s + 7] !== DASH || b[s + 10] !== T_UPPER || b[s + 13] !== COLON || b[s + 16] !== COLON) {
    return null;
  }
  const y1 = twoDigits(b, s);
  const y2 = twoDigits(b, s + 2);
  const month = twoDigits(b, s + 5);
  const day = twoDigits(b, s + 8);
  const hour = twoDigits(b, s + 11);
  const minute = twoDigits(b, s + 14);
  const second = twoDigits(b, s + 17);
  if (y1 < 0 || y2 < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return null;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return null;
  const year = y1 * 100 + y2;
  if (day > daysInMonth(year, month)) return null;

  let p = s + 19;
  let micros = 0;
  if (b[p] === DOT) {
    // §6.2.3 allows 6 digits; 7–9 (Go's RFC3339Nano, as the OpenTelemetry Collector's syslog
    // exporter writes it, and rsyslog takes it) are read to the microsecond, the digits below cut,
    // as the RFC 3164 path and the other receivers read them: the whole message was refused.
    const fs = ++p;
    while (p < e && isDigit(b[p])) {
      if (p - fs < 6) micros = micros * 10 + (b[p] - D0);
      p++;
    }
    const digits = p - fs;
    if (digits === 0 || digits > 9) return null;
    micros *= FRACTION_SCALE[Math.min(digits, 6)];
  }
  if (p >= e) return null;
  let offsetMinutes = 0;
  const c = b[p];
  if (c === Z_UPPER) {
    if (p + 1 !== e) return null;
  } else if (c === PLUS || c === DASH) {
    if (e - p !== 6 || b[p + 3] !== COLON) return null;
    const oh = twoDigits(b, p + 1);
    const om = twoDigits(b, p + 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return null;
    offsetMinutes = (c === PLUS ? 1 : -1) * (oh * 60 + om);
  } else {
    return null;
  }

  const fraction = String(micros).padStart(6, '0');
  if (offsetMinutes === 0) {
    // Already UTC: reuse the validated date-time digits as they are.
    return `${b.toString('latin1', s, s + 19)}.${fraction}Z`;
  }
  // Offsets are whole minutes below one day: shift hour/minute and carry at most one day.
  // Seconds and microseconds are untouched, so no precision can be lost.
  let minutes = hour * 60 + minute - offsetMinutes;
  let y = year;
  let mo = month;
  let d = day;
  if (minutes < 0) {
    minutes += 1440;
    if (--d === 0) {
      if (--mo === 0) {
        mo = 12;
        if (--y < 0) return null;
      }
      d = daysInMonth(y, mo);
    }
  } else if (minutes >= 1440) {
    minutes -= 1440;
    if (++d > daysInMonth(y, mo)) {
      d = 1;
      if (++mo === 13) {
        mo = 1;
        if (++y > 9999) return null;
      }
    }
  }
  const yyyy = y >= 1000 ? String(y) : String(y).padStart(4, '0');
  return `${yyyy}-${TWO_DIGITS[mo]}-${TWO_DIGITS[d]}T${TWO_DIGITS[(minutes / 60) | 0]}:${TWO_DIGITS[minutes % 60]}:${TWO_DIGITS[second]}.${fraction}Z`;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/**
 * Parses one syslog message: RFC 5424 when a VERSION (1–3 digits, SP) follows PRI, otherwise
 * RFC 3164 (parse3164.ts). Never throws for any input.
 */
export function parseSyslog(message: Buffer | string, options?: ParseOptions): ParseResult {
  return parseMessage(message, options, true);
}

/** Parses one RFC 5424 message, strictly (no RFC 3164). Never throws for any input. */
export function parseSyslog5424(message: Buffer | string, options?: ParseOptions): ParseResult {
  return parseMessage(message, options, false);
}

/** With `orBsd`, a message without a VERSION goes to the RFC 3164 parser once PRI is read. */
function parseMessage(message: Buffer | string, options: ParseOptions | undefined, orBsd: boolean): ParseResult {
  const b = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const n = b.length;
  sawInvalidUtf8 = false;

  // PRI = "<" 1*3DIGIT ">", 0..191
  if (n === 0) return fail(PERISCOPE_ERR_SYSLOG_BAD_PRI, 'empty message');
  if (b[0] !== LT) return fail(PERISCOPE_ERR_SYSLOG_BAD_PRI, 'message does not start with "<"');
  let i = 1;
  let pri = 0;
  while (i < n && i <= 3 && isDigit(b[i])) pri = pri * 10 + (b[i++] - D0);
  if (i === 1 || i >= n || b[i] !== GT) return fail(PERISCOPE_ERR_SYSLOG_BAD_PRI, 'PRI must be "<" 1-3 digits ">"');
  if (pri > 191) return fail(PERISCOPE_ERR_SYSLOG_BAD_PRI, `PRI ${pri} is above 191`);
  i++;

  if (orBsd && !hasVersion(b, i, n)) {
    const result = parseSyslog3164(pri, decodeUtf8(b, i, n), options?.receivedAt ?? Date.now(), options?.bsdTime);
    if (result.ok && sawInvalidUtf8) result.record.attributes = { invalidUtf8: true };
    return result;
  }

  // VERSION = NONZERO-DIGIT 0*2DIGIT; only 1 is defined.
  const vStart = i;
  let version = 0;
  while (i < n && i - vStart < 3 && isDigit(b[i])) version = version * 10 + (b[i++] - D0);
  if (i === vStart) return fail(PERISCOPE_ERR_SYSLOG_BAD_VERSION, 'VERSION missing after PRI');
  if (version !== 1 || b[vStart] === D0) {
    return fail(PERISCOPE_ERR_SYSLOG_BAD_VERSION, `unsupported VERSION ${b.toString('latin1', vStart, i)}`);
  }
  if (i >= n) return fail(PERISCOPE_ERR_SYSLOG_BAD_HEADER, 'TIMESTAMP missing');
  if (b[i] !== SP) return fail(PERISCOPE_ERR_SYSLOG_BAD_VERSION, 'VERSION must be followed by SP');
  i++;

  // TIMESTAMP
  if (i >= n) return fail(PERISCOPE_ERR_SYSLOG_BAD_HEADER, 'TIMESTAMP missing');
  let end = scanToken(b, i, n);
  let timestamp: string | null;
  if (end === i + 1 && b[i] === DASH) {
    timestamp = rfc3339Micros(options?.receivedAt ?? Date.now());
  } else {
    timestamp = end < 0 ? null : parseTimestamp(b, i, end);
    if (timestamp === null) return fail(PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP, 'TIMESTAMP is not a valid RFC 5424 date-time');
    if (!timestampInRange(timestamp)) return fail(PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP, outOfRange('TIMESTAMP', b.toString('latin1', i, end)));
  }
  if (end >= n) return fail(PERISCOPE_ERR_SYSLOG_BAD_HEADER, 'HOSTNAME missing');
  i = end + 1;

  // HOSTNAME, APP-NAME, PROCID, MSGID: NILVALUE / 1*N PRINTUSASCII
  let hostname: string | undefined;
  let appName: string | undefined;
  let procId: string | undefined;
  let msgId: string | undefined;
  for (let field = 0; field < 4; field++) {
    end = scanToken(b, i, n);
    if (end < 0) return fail(PERISCOPE_ERR_SYSLOG_BAD_HEADER, `${HEADER_FIELDS[field]} contains a byte outside %d33-126`);
    if (end === i) return fail(PERISCOPE_ERR_SYSLOG_BAD_HEADER, `${HEADER_FIELDS[field]} is empty`);
    if (end >= n) return fail(PERISCOPE_ERR_SYSLOG_BAD_HEADER, `${HEADER_FIELDS[field + 1]} missing`);
    const value = end === i + 1 && b[i] === DASH ? undefined : b.toString('latin1', i, end);
    if (field === 0) hostname = value;
    else if (field === 1) appName = value;
    else if (field === 2) procId = value;
    else msgId = value;
    i = end + 1;
  }

  // STRUCTURED-DATA = NILVALUE / 1*SD-ELEMENT
  let structuredData: StructuredData | undefined;
  if (i >= n) return fail(PERISCOPE_ERR_SYSLOG_BAD_HEADER, 'STRUCTURED-DATA missing');
  if (b[i] === DASH) {
    i++;
  } else if (b[i] === LBRACKET) {
    structuredData = {};
    while (i < n && b[i] === LBRACKET) {
      i = parseSdElement(b, i + 1, n, structuredData);
      if (i < 0) return fail(PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA, sdError);
    }
  } else {
    return fail(PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA, 'STRUCTURED-DATA must be "-" or start with "["');
  }
  if (i < n && b[i] !== SP) {
    return fail(PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA, 'STRUCTURED-DATA must be followed by SP or end of message');
  }

  // MSG: optional BOM, then UTF-8 (invalid sequences replaced, flagged).
  let msg = '';
  if (i < n) {
    i++;
    if (n - i >= 3 && b[i] === 0xef && b[i + 1] === 0xbb && b[i + 2] === 0xbf) i += 3;
    msg = decodeUtf8(b, i, n);
  }

  const severity = pri & 7;
  const record: LogRecord = {
    timestamp,
    severity,
    level: LEVEL_NAMES[severity],
    facility: pri >> 3,
    msg,
  };
  if (hostname !== undefined) record.hostname = hostname;
  if (appName !== undefined) record.appName = appName;
  if (procId !== undefined) record.procId = procId;
  if (msgId !== undefined) record.msgId = msgId;
  if (structuredData !== undefined) record.structuredData = structuredData;
  if (sawInvalidUtf8) record.attributes = { invalidUtf8: true };
  return { ok: true, record: applyFieldLimits(record) };
}

/**
 * 1–3 digits then SP at i: an RFC 5424 VERSION (RFC 3164 has its TIMESTAMP there, or its MSG when
 * it has none: a MSG starting "404 …" is thus read as RFC 5424 and refused with BAD_VERSION).
 */
function hasVersion(b: Buffer, i: number, n: number): boolean {
  let j = i;
  while (j < n && j - i < 3 && isDigit(b[j])) j++;
  return j > i && j < n && b[j] === SP;
}

let sdError = '';

function sdFail(message: string): number {
  sdError = message;
  return -1;
}

/**
 * Plain-object assignment, except that an SD-ID or PARAM-NAME "__proto__" becomes an own data
 * property instead of replacing the prototype (the only accessor on Object.prototype).
 */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Scans an SD-NAME from i; returns its end index (i when empty). */
function scanSdName(b: Buffer, i: number, n: number): number {
  while (i < n && isSdNameChar(b[i])) i++;
  return i;
}

/**
 * Parses one SD-ELEMENT whose "[" has been consumed; `i` is at the SD-ID.
 * Returns the index after "]", or -1 (message in sdError).
 */
/**
 * The name a PARAM-NAME's value is kept under: its own, or for a repeat the first free of
 * name_2, name_3 …; of at most SD_NAME_MAX characters still (a record's PARAM-NAMEs are valid
 * ones, record.ts), so the repeats of a long name take its first characters and the suffix.
 */
function paramName(name: string, params: Record<string, string>): string {
  const taken = (candidate: string) => Object.hasOwn(params, candidate);
  const free = freeName(name, taken);
  return free.length <= SD_NAME_MAX ? free : freeName(name.slice(0, SD_NAME_MAX - 6), taken);
}

function parseSdElement(b: Buffer, i: number, n: number, into: StructuredData): number {
  const idStart = i;
  i = scanSdName(b, i, n);
  if (i === idStart) return sdFail('SD-ID is empty or starts with an invalid character');
  if (i - idStart > SD_NAME_MAX) return sdFail('SD-ID is longer than 32 characters');
  if (i >= n) return sdFail('unterminated SD-ELEMENT');
  const id = b.toString('latin1', idStart, i);
  if (Object.hasOwn(into, id)) return sdFail(`SD-ID "${id}" appears more than once`);
  const params: Record<string, string> = {};
  setOwn(into, id, params);
  for (;;) {
    if (i >= n) return sdFail('unterminated SD-ELEMENT');
    const c = b[i];
    if (c === RBRACKET) return i + 1;
    if (c !== SP) return sdFail(`unexpected character in SD-ELEMENT "${id}"`);
    i++;
    const nameStart = i;
    i = scanSdName(b, i, n);
    if (i === nameStart) return sdFail(`empty PARAM-NAME in SD-ELEMENT "${id}"`);
    if (i - nameStart > SD_NAME_MAX) return sdFail('PARAM-NAME is longer than 32 characters');
    if (i + 1 >= n) return sdFail('unterminated SD-PARAM');
    if (b[i] !== EQ || b[i + 1] !== DQUOTE) return sdFail('PARAM-NAME must be followed by ="');
    const name = b.toString('latin1', nameStart, i);
    i += 2;
    const valueStart = i;
    let escaped = false;
    let bits = 0; // OR of all bytes: < 0x80 means plain ASCII, no UTF-8 check needed
    while (i < n) {
      const v = b[i];
      if (v === DQUOTE) break;
      bits |= v;
      if (v === BACKSLASH) {
        escaped = true;
        bits |= b[i + 1] ?? 0;
        i += 2;
      } else {
        i++;
      }
    }
    if (i >= n) return sdFail('unterminated PARAM-VALUE');
    const raw = bits < 0x80 ? b.toString('latin1', valueStart, i) : decodeUtf8(b, valueStart, i);
    // §6.3.3: only \" \\ \] are escapes; a backslash before anything else stays literal.
    // A PARAM-NAME may be repeated (§6.3.3: `[origin ip="192.0.2.1" ip="192.0.2.129"]`, a
    // multi-homed host): each value is kept, the later ones as ip_2, ip_3 … (free-name.ts), where
    // one value per name lost all but the last.
    setOwn(params, paramName(name, params), escaped ? raw.replace(SD_ESCAPE, '$1') : raw);
    i++;
  }
}
