import {
  applyFieldLimits,
  epochNumberToMs,
  isFacility,
  isSpanId,
  isTraceFlags,
  isTraceId,
  LEVEL_NAMES,
  recordFromPino,
  rfc3339Micros,
  setOwnKey,
  severityFromName,
  severityFromPinoLevel,
  structuredDataProblem,
  type LogRecord,
  type StructuredData,
} from '../../../sdk/src/record.ts';
import { ERR } from '../errors.ts';
import { timestampToMicros } from '../store/log-filter.ts';
import { msInRange, outOfRange } from './time-range.ts';
import { freeName } from './free-name.ts';

export type Normalized = { ok: true; record: LogRecord; micros: number } | { ok: false; code: string; message: string };

const KNOWN_KEYS = new Set([
  'timestamp', 'severity', 'level', 'facility', 'hostname', 'appName', 'procId', 'msgId',
  'structuredData', 'msg', 'traceId', 'spanId', 'traceFlags', 'attributes', 'truncated',
]);
const HEADER_FIELDS = ['hostname', 'appName', 'procId', 'msgId'] as const;

/**
 * Epoch microseconds of an epoch number beyond 2^53 as parseJsonExact hands it over (the string of
 * its exact digits): an epoch in nanoseconds (`1772359200123456789`, as Loki's push API and OTLP
 * write time) is always beyond, so it came as a string and was refused as no RFC 3339. Read by
 * its size as epochNumberToMs reads numbers, from the exact digits. Undefined for anything else.
 */
function bigEpochMicros(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\d{16,}$/.test(v) || Number.isSafeInteger(Number(v))) return undefined;
  const n = BigInt(v);
  return Number(n < 10n ** 17n ? n : n / 1000n);
}

function fail(code: string, message: string): Normalized {
  return { ok: false, code, message };
}

/**
 * A pino line: a numeric level (or a level label, as pino's `formatters.level` can write, with
 * pino's `time`), and neither of the Periscope record's `timestamp` and `severity`.
 */
function isPinoLine(o: Record<string, unknown>): boolean {
  if (o.timestamp !== undefined || o.severity !== undefined) return false;
  return typeof o.level === 'number' || (typeof o.level === 'string' && o.time !== undefined);
}

/**
 * Validates one input object and returns the canonical record (docs/record-format.md).
 * Accepts Periscope records and plain pino JSON lines (levels mapped as pino-syslog does).
 * Never throws; a rejection carries a PERISCOPE_ERR_* code and a message naming the field.
 */
export function normalizeRecord(input: unknown, nowMs: number): Normalized {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return fail(ERR.BAD_RECORD, 'record: expected a JSON object');
  }
  const o = input as Record<string, unknown>;
  if (isPinoLine(o)) {
    if (severityFromPinoLevel(o.level) === undefined) {
      return fail(ERR.BAD_SEVERITY, `level: unknown level ${JSON.stringify(o.level)}; expected a pino level number or label (trace … fatal)`);
    }
    // The time, read once: an epoch number (ms by pino's default, s with stdTimeFunctions.unixTime)
    // or RFC 3339 (isoTime); undefined when absent (recordFromPino then takes the time of receipt).
    let micros: number | undefined;
    const bigTime = bigEpochMicros(o.time);
    if (o.time !== undefined) {
      micros = bigTime ?? (typeof o.time === 'number' ? epochNumberToMs(o.time) * 1000 : typeof o.time === 'string' ? timestampToMicros(o.time) : NaN);
      if (!Number.isFinite(micros)) return fail(ERR.BAD_TIMESTAMP, 'time: expected an epoch number (s, ms, µs or ns) or RFC 3339');
      if (!msInRange(micros / 1000)) return fail(ERR.BAD_TIMESTAMP, outOfRange('time', o.time as number | string));
    }
    // Lifted fields (traceId, facility, structuredData …) with invalid values stay attributes.
    const record = recordFromPino(o);
    if (typeof o.time === 'string') {
      // recordFromPino reads it with Date.parse: to the millisecond only, a leap second (":60")
      // and a big epoch's digits not at all (the time of receipt instead). The time checked above is exact.
      record.timestamp = rfc3339Micros(Math.floor(micros! / 1000), micros! % 1000);
    }
    const checked = checkTraceContext(record);
    if (checked) return checked;
    return { ok: true, record, micros: typeof o.time === 'string' ? micros! : timestampToMicros(record.timestamp) };
  }

  // Timestamp: RFC 3339 (any offset, up to nanoseconds) or an epoch number (epochNumberToMs); default now.
  let micros: number;
  let timestamp: string;
  const bigTimestamp = bigEpochMicros(o.timestamp);
  if (o.timestamp === undefined) {
    micros = Math.round(nowMs * 1000);
    timestamp = rfc3339Micros(nowMs);
  } else if (bigTimestamp !== undefined) {
    if (!msInRange(bigTimestamp / 1000)) return fail(ERR.BAD_TIMESTAMP, outOfRange('timestamp', o.timestamp as string));
    micros = bigTimestamp;
    timestamp = rfc3339Micros(Math.floor(micros / 1000), micros % 1000);
  } else if (typeof o.timestamp === 'string') {
    micros = timestampToMicros(o.timestamp);
    if (!Number.isFinite(micros)) return fail(ERR.BAD_TIMESTAMP, 'timestamp: expected RFC 3339, e.g. 2026-01-02T03:04:05.123456Z');
    if (!msInRange(micros / 1000)) return fail(ERR.BAD_TIMESTAMP, outOfRange('timestamp', o.timestamp));
    // Already canonical (what the SDK sends): keep the string, skip re-formatting. Not when it
    // has a space or "t" for the T, or a leap second (:60), which timestampToMicros takes but
    // Elasticsearch's date_nanos and the record schema do not.
    const t = o.timestamp;
    const canonical = t.length === 27 && t.charCodeAt(26) === 90 /* Z */ && t.charCodeAt(19) === 46 /* . */ && t.charCodeAt(10) === 84 /* T */ && t.charCodeAt(17) !== 54; /* 6 of :60 */
    timestamp = canonical ? o.timestamp : rfc3339Micros(Math.floor(micros / 1000), micros % 1000);
  } else if (typeof o.timestamp === 'number' && Number.isFinite(o.timestamp) && o.timestamp >= 0) {
    const ms = epochNumberToMs(o.timestamp);
    if (!msInRange(ms)) return fail(ERR.BAD_TIMESTAMP, outOfRange('timestamp', o.timestamp));
    micros = Math.round(ms * 1000);
    timestamp = rfc3339Micros(ms);
  } else {
    return fail(ERR.BAD_TIMESTAMP, 'timestamp: expected an RFC 3339 string or an epoch number (s, ms, µs or ns)');
  }

  // Severity: number 0–7, or a level name; when both are given they must agree.
  let severity: number | undefined;
  if (o.severity !== undefined) {
    if (typeof o.severity !== 'number' || !Number.isInteger(o.severity) || o.severity < 0 || o.severity > 7) {
      return fail(ERR.BAD_SEVERITY, 'severity: expected an integer 0 (emerg) … 7 (debug)');
    }
    severity = o.severity;
  }
  if (o.level !== undefined) {
    const fromLevel = typeof o.level === 'string' ? severityFromName(o.level) : undefined;
    if (fromLevel === undefined) return fail(ERR.BAD_SEVERITY, `level: unknown level ${JSON.stringify(o.level)}; expected ${LEVEL_NAMES.join(', ')}`);
    if (severity !== undefined && severity !== fromLevel) {
      return fail(ERR.BAD_SEVERITY, `level: "${String(o.level)}" disagrees with severity ${severity}`);
    }
    severity = fromLevel;
  }
  severity ??= 6;

  let facility = 1;
  if (o.facility !== undefined) {
    if (!isFacility(o.facility)) {
      return fail(ERR.BAD_FIELD, 'facility: expected an integer 0–23');
    }
    facility = o.facility;
  }

  let msg = '';
  if (o.msg !== undefined && o.msg !== null) {
    if (typeof o.msg !== 'string') return fail(ERR.BAD_FIELD, 'msg: expected a string');
    msg = o.msg;
  }

  const record: LogRecord = { timestamp, severity, level: LEVEL_NAMES[severity], facility, msg };
  for (const field of HEADER_FIELDS) {
    const v = o[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return fail(ERR.BAD_FIELD, `${field}: expected a string`);
    if (v !== '') record[field] = v;
  }

  if (o.structuredData !== undefined && o.structuredData !== null) {
    const problem = structuredDataProblem(o.structuredData);
    if (problem) return fail(ERR.BAD_FIELD, problem);
    record.structuredData = o.structuredData as StructuredData;
  }
  if (typeof o.traceId === 'string') record.traceId = o.traceId;
  else if (o.traceId !== undefined && o.traceId !== null) return fail(ERR.BAD_FIELD, 'traceId: expected 32 hex characters');
  if (typeof o.spanId === 'string') record.spanId = o.spanId;
  else if (o.spanId !== undefined && o.spanId !== null) return fail(ERR.BAD_FIELD, 'spanId: expected 16 hex characters');
  if (typeof o.traceFlags === 'string') record.traceFlags = o.traceFlags;
  else if (o.traceFlags !== undefined && o.traceFlags !== null) return fail(ERR.BAD_FIELD, 'traceFlags: expected 2 hex characters');
  const checked = checkTraceContext(record);
  if (checked) return checked;

  let attributes: Record<string, unknown> | undefined;
  if (o.attributes !== undefined && o.attributes !== null) {
    if (typeof o.attributes !== 'object' || Array.isArray(o.attributes)) return fail(ERR.BAD_FIELD, 'attributes: expected an object');
    attributes = { ...(o.attributes as Record<string, unknown>) };
  }
  // Unknown top-level keys are kept as attributes rather than lost. One named like an attribute
  // the record has in `attributes` gets `_2`, `_3` …, as the exporters name a clashing label: it
  // replaced that attribute, whose value was lost without a word.
  for (const key in o) {
    if (KNOWN_KEYS.has(key)) continue;
    const into = (attributes ??= {});
    setOwnKey(into, freeName(key, (name) => Object.hasOwn(into, name)), o[key]);
  }
  if (attributes) record.attributes = attributes;
  if (Array.isArray(o.truncated)) record.truncated = o.truncated.filter((t): t is string => typeof t === 'string');
  applyFieldLimits(record);
  return { ok: true, record, micros };
}

function checkTraceContext(record: LogRecord): Normalized | undefined {
  if (record.traceId !== undefined) {
    if (!isTraceId(record.traceId)) return fail(ERR.BAD_FIELD, 'traceId: expected 32 hex characters');
    record.traceId = record.traceId.toLowerCase();
  }
  if (record.spanId !== undefined) {
    if (!isSpanId(record.spanId)) return fail(ERR.BAD_FIELD, 'spanId: expected 16 hex characters');
    record.spanId = record.spanId.toLowerCase();
  }
  if (record.traceFlags !== undefined) {
    if (!isTraceFlags(record.traceFlags)) return fail(ERR.BAD_FIELD, 'traceFlags: expected 2 hex characters');
    if (record.traceId === undefined) return fail(ERR.BAD_FIELD, 'traceFlags: given without traceId');
    record.traceFlags = record.traceFlags.toLowerCase();
  }
  return undefined;
}
