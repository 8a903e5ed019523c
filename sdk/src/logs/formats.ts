// Local console formats (the `format` option), rendered in the transport worker.
//   json    one RFC 5424 JSON record per line (the same NDJSON line that is shipped)
//   logfmt  timestamp=… level=… service=… msg="…" key=value … (https://brandur.org/logfmt)
//   pretty  pino-pretty's human format
//   none    nothing (the default)
// Contract: a formatter returns the complete text to write (ending in "\n"), never throws for
// any JSON-parsed input.

import { prettyFactory } from 'pino-pretty';
import type { LogRecord } from '../record.ts';
import type { LogFormat } from '../options.ts';

export type ConsoleFormatter = (pinoLine: Record<string, unknown>, record: LogRecord, json: string) => string;

// Quote when the value would otherwise be ambiguous: empty, or containing space, =, " or control chars.
const NEEDS_QUOTES = /[\s="\\\u0000-\u001f\u007f]/;

function logfmtString(value: string): string {
  if (value !== '' && !NEEDS_QUOTES.test(value)) return value;
  return quote(value);
}

function quote(value: string): string {
  // JSON string escaping is a superset of what logfmt parsers expect (\" \\ \n \t \uXXXX).
  return JSON.stringify(value);
}

function logfmtKey(key: string): string {
  const k = key.replace(/[\s="\u0000-\u001f\u007f]/g, '_');
  return k === '' ? '_' : k;
}

function appendValue(out: string[], key: string, value: unknown, depth: number): void {
  if (value === null || value === undefined) {
    out.push(`${logfmtKey(key)}=null`);
  } else if (typeof value === 'string') {
    out.push(`${logfmtKey(key)}=${logfmtString(value)}`);
  } else if (typeof value === 'number' || typeof value === 'boolean') {
    out.push(`${logfmtKey(key)}=${String(value)}`);
  } else if (typeof value === 'object' && !Array.isArray(value) && depth < 4) {
    // Nested objects flatten to dotted keys: req.method=GET
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) out.push(`${logfmtKey(key)}={}`);
    for (const [k, v] of entries) appendValue(out, `${key}.${k}`, v, depth + 1);
  } else {
    let text: string;
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
    out.push(`${logfmtKey(key)}=${logfmtString(text)}`);
  }
}

/** One logfmt line for a record: timestamp, level, service, msg first, then the rest. */
export function formatLogfmt(record: LogRecord): string {
  const out: string[] = [
    `timestamp=${record.timestamp}`,
    `level=${record.level}`,
    `service=${logfmtString(record.appName ?? '')}`,
    `msg=${quote(record.msg)}`,
  ];
  if (record.traceId !== undefined) appendValue(out, 'traceId', record.traceId, 0);
  if (record.spanId !== undefined) appendValue(out, 'spanId', record.spanId, 0);
  if (record.msgId !== undefined) appendValue(out, 'msgId', record.msgId, 0);
  if (record.attributes) for (const [k, v] of Object.entries(record.attributes)) appendValue(out, k, v, 0);
  return `${out.join(' ')}\n`;
}

/** The formatter for a `format` option value, or undefined for "none". */
export function consoleFormatter(format: LogFormat, service: string): ConsoleFormatter | undefined {
  switch (format) {
    case 'json':
      return (_line, _record, json) => json;
    case 'logfmt':
      return (_line, record) => formatLogfmt(record);
    case 'pretty': {
      const pretty = prettyFactory({ colorize: false });
      return (line) => pretty({ name: service, ...line });
    }
    default:
      return undefined;
  }
}
