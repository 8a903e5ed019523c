import type { LogRecord } from '../../../sdk/src/record.ts';

/** The columns of GET /api/v1/logs/export?format=csv, in order (docs/api.md). */
export const CSV_COLUMNS = ['timestamp', 'severity', 'level', 'facility', 'hostname', 'appName', 'procId', 'msgId', 'traceId', 'spanId', 'msg', 'structuredData', 'attributes'] as const;

/**
 * A cell that Excel, LibreOffice Calc or Google Sheets would read as a formula: it starts with
 * `=`, `+`, `-` or `@`, or with a tab or carriage return (which they skip before looking for
 * one). A log message is written by whoever can reach an app, so `=HYPERLINK(…)` in a record
 * must not run in the spreadsheet of the person exporting it (OWASP "CSV Injection",
 * https://owasp.org/www-community/attacks/CSV_Injection).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One field: objects JSON-encoded; a formula-like cell prefixed with `'`, which spreadsheets
 * take as "this is text" and do not show; then RFC 4180 quoting when it holds a comma, quote or
 * line break (https://www.rfc-editor.org/rfc/rfc4180#section-2).
 */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  const cell = FORMULA_START.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',') + '\r\n';
}

export function csvRow(r: LogRecord): string {
  return CSV_COLUMNS.map((c) => csvField(r[c])).join(',') + '\r\n';
}
