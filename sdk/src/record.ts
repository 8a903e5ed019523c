// The Periscope log record: RFC 5424 fields as JSON, plus trace context and free attributes.
// Reference: docs/record-format.md and docs/log-record.schema.json.
// RFC 5424 §6 (header field limits), §6.3 (structured data), §6.2.1 (severities).
// OpenTelemetry log data model, Appendix B (syslog ↔ SeverityNumber):
// https://opentelemetry.io/docs/specs/otel/logs/data-model-appendix/#appendix-b-severitynumber-example-mappings

export type StructuredData = Record<string, Record<string, string>>;

export interface LogRecord {
  /** RFC 3339 with microseconds, UTC: 2026-01-02T03:04:05.123456Z */
  timestamp: string;
  /** RFC 5424 severity 0 (emerg) … 7 (debug) */
  severity: number;
  level: LevelName;
  /** RFC 5424 facility 0–23; 1 (user) by default */
  facility: number;
  hostname?: string;
  appName?: string;
  procId?: string;
  msgId?: string;
  structuredData?: StructuredData;
  msg: string;
  traceId?: string;
  spanId?: string;
  /** W3C trace-flags of the span the record was written in (bit 0: sampled), 2 lowercase hex digits; only with traceId. */
  traceFlags?: string;
  attributes?: Record<string, unknown>;
  /** Names of fields that were cut to their RFC 5424 limit (never silently dropped). */
  truncated?: string[];
}

export const LEVEL_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type LevelName = (typeof LEVEL_NAMES)[number];

/** Level names and common aliases accepted on input → severity (the console keeps a copy, collector/src/console/static/lib/format.js). */
export const LEVEL_ALIASES: Readonly<Record<string, number>> = {
  emerg: 0, emergency: 0, panic: 0,
  alert: 1,
  crit: 2, critical: 2, fatal: 2,
  err: 3, error: 3,
  warning: 4, warn: 4,
  notice: 5,
  info: 6, informational: 6,
  debug: 7, trace: 7,
};

/** Severity number for a level name or alias, or undefined when unknown. */
export function severityFromName(name: string): number | undefined {
  const key = name.toLowerCase();
  return Object.hasOwn(LEVEL_ALIASES, key) ? LEVEL_ALIASES[key] : undefined; // not "constructor"
}

/**
 * pino numeric level → syslog severity, as pino-syslog maps them:
 * trace(10) and debug(20) → 7, info(30) → 6, warn(40) → 4, error(50) → 3, fatal(60) → 2.
 * Custom levels in between round to the next lower standard level.
 */
export function severityFromPino(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/** syslog severity → pino level label (the inverse used for filtering SDK output). */
export const PINO_LEVEL_FOR_SEVERITY = ['fatal', 'fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug'] as const;

/** syslog severity → OpenTelemetry SeverityNumber (OTel data model, Appendix B). */
export const OTEL_SEVERITY_FOR_SYSLOG = [21, 19, 18, 17, 13, 10, 9, 5] as const;

/** OpenTelemetry SeverityNumber (1–24) → syslog severity; 0 (UNSPECIFIED) → undefined. */
export function severityFromOtel(n: number): number | undefined {
  if (!Number.isInteger(n) || n < 1 || n > 24) return undefined;
  if (n <= 8) return 7; // TRACE*, DEBUG*
  if (n === 9) return 6; // INFO
  if (n <= 12) return 5; // INFO2-4 → notice
  if (n <= 16) return 4; // WARN*
  if (n === 17) return 3; // ERROR
  if (n === 18) return 2; // ERROR2 → crit
  if (n <= 20) return 1; // ERROR3-4 → alert
  return 0; // FATAL* → emerg
}

/** RFC 5424 §6 field limits (in characters; the RFC counts octets of PRINTUSASCII). */
export const FIELD_LIMITS = { hostname: 255, appName: 48, procId: 128, msgId: 32 } as const;

/** The "2026-01-02T03:04:05." part of the last second formatted (timestamps come in runs of one second). */
let lastSecond = Number.NaN;
let lastSecondPrefix = '';

/**
 * An epoch time given as a number → epoch milliseconds, its unit told by its size as Loki and
 * Prometheus tell theirs: below 10^11 seconds (pino's stdTimeFunctions.unixTime, Python's
 * time.time(); as milliseconds it would be before March 1973), below 10^14 milliseconds (pino's
 * default, Date.now()), below 10^17 microseconds, else nanoseconds. Read as milliseconds
 * whatever its size, an app logging seconds had its records dated January 1970, and age
 * retention deleted them at its next run.
 */
export function epochNumberToMs(n: number): number {
  if (n < 1e11) return n * 1000;
  if (n < 1e14) return n;
  if (n < 1e17) return n / 1000;
  return n / 1e6;
}

/** Formats epoch milliseconds (with optional extra microseconds) as RFC 3339 with microseconds. */
export function rfc3339Micros(epochMs: number, extraMicros = 0): string {
  const ms = Math.floor(epochMs);
  const micros = Math.min(999, Math.max(0, Math.round((epochMs - ms) * 1000) + extraMicros));
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    const iso = new Date(second * 1000).toISOString(); // 2026-01-02T03:04:05.000Z
    // Years outside 0000–9999 have a longer form (+012026-…): not cached, formatted in full.
    if (iso.length !== 24) return `${new Date(ms).toISOString().slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
    lastSecond = second;
    lastSecondPrefix = iso.slice(0, 20);
  }
  return `${lastSecondPrefix}${String((ms - second * 1000) * 1000 + micros).padStart(6, '0')}Z`;
}

/**
 * Cuts header fields longer than their RFC 5424 limit and lists them in `truncated`.
 * Mutates and returns the record. A character the limit would split (an emoji's surrogate pair)
 * is left out whole: half of it is no text, and became U+FFFD wherever the record was encoded.
 */
export function applyFieldLimits(record: LogRecord): LogRecord {
  for (const field of Object.keys(FIELD_LIMITS) as (keyof typeof FIELD_LIMITS)[]) {
    const value = record[field];
    const limit = FIELD_LIMITS[field];
    if (value !== undefined && value.length > limit) {
      const high = value.charCodeAt(limit - 1);
      const splits = high >= 0xd800 && high <= 0xdbff && (value.charCodeAt(limit) & 0xfc00) === 0xdc00;
      record[field] = value.slice(0, splits ? limit - 1 : limit);
      (record.truncated ??= []).push(field);
    }
  }
  return record;
}

/**
 * Where the SDK's logger keeps an app's own keys named like pino's (`level`, `time`) or like the
 * header fields the SDK sets (`hostname`, `pid`): written as themselves, they would replace
 * pino's in the JSON line (the last duplicate key wins), so `log.error({ level: 3 })` became a
 * debug record. recordFromPino returns them to `attributes` under their own names.
 */
export const SHIELDED_KEYS_FIELD = '@periscope.attributes';

/** Keys pino writes itself; everything else on a pino line is an attribute. */
const PINO_OWN_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v']);

const HEX32 = /^[0-9a-fA-F]{32}$/;
const HEX16 = /^[0-9a-fA-F]{16}$/;
const HEX2 = /^[0-9a-fA-F]{2}$/;
/** RFC 5424 §6.3.2: SD-NAME is 1–32 PRINTUSASCII except '=', SP, ']', '"'. */
const SD_NAME = /^[!#-<>-\\^-~]{1,32}$/;

export const isTraceId = (v: unknown): v is string => typeof v === 'string' && HEX32.test(v);
export const isTraceFlags = (v: unknown): v is string => typeof v === 'string' && HEX2.test(v);
export const isSpanId = (v: unknown): v is string => typeof v === 'string' && HEX16.test(v);
export const isFacility = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 23;

/**
 * RFC 5424 §6.3 structured data as JSON: { "sdid@pen": { "param": "value" } }, string values.
 * Returns why `value` is not that, or undefined when it is.
 */
export function structuredDataProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'structuredData: expected an object of SD elements';
  for (const [id, params] of Object.entries(value)) {
    if (!SD_NAME.test(id)) return `structuredData: SD-ID ${JSON.stringify(id)} must be 1–32 printable ASCII characters without '=', ' ', ']', '"'`;
    if (typeof params !== 'object' || params === null || Array.isArray(params)) return `structuredData.${id}: expected an object of parameters`;
    for (const [name, v] of Object.entries(params)) {
      if (!SD_NAME.test(name)) return `structuredData.${id}: parameter name ${JSON.stringify(name)} is not a valid PARAM-NAME`;
      if (typeof v !== 'string') return `structuredData.${id}.${name}: expected a string value`;
    }
  }
  return undefined;
}

/** A pino level: its number, or its label (pino's `formatters.level` can write labels). */
export function severityFromPinoLevel(level: unknown): number | undefined {
  if (typeof level === 'number') return Number.isFinite(level) ? severityFromPino(level) : undefined;
  if (typeof level === 'string') return severityFromName(level);
  return undefined;
}

/**
 * `obj[key] = value`, except that a key "__proto__" (JSON.parse makes it an own key) becomes an
 * own property: assigned, it would replace the object's prototype and the value would be lost.
 */
export function setOwnKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/**
 * Puts the resource attributes no header field carries under `attributes.resource`, where the
 * collector's OTLP logs receiver puts them (docs/record-format.md), so a record from the SDK and one
 * from an OTel SDK can be told apart by service.version or deployment.environment.name alike. An
 * attribute of the app's own named "resource" is kept as "log.resource", as that receiver keeps it.
 * Mutates and returns the record.
 */
export function attachResource(record: LogRecord, resource: Record<string, string> | undefined): LogRecord {
  if (resource === undefined) return record;
  const attributes = (record.attributes ??= {});
  if (Object.hasOwn(attributes, 'resource')) {
    setOwnKey(attributes, 'log.resource', attributes.resource);
    delete attributes.resource;
  }
  attributes.resource = resource;
  return record;
}

/**
 * Maps one parsed pino JSON line to a Periscope record.
 * `defaults` supplies appName/hostname/procId/facility when the line has none.
 *
 * `traceId`/`trace_id`, `spanId`/`span_id`, `traceFlags`/`trace_flags` (with a trace id),
 * `facility`, `msgId`, `appName` and `structuredData`
 * become RFC 5424 fields only when their values are valid ones; otherwise they stay attributes
 * under their names: a log call's `facility: 'auth'` is the app's data, not a reason to lose the
 * record (the collector refuses a record that carries it in the field).
 */
export function recordFromPino(
  line: Record<string, unknown>,
  defaults: { appName?: string; hostname?: string; procId?: string; facility?: number } = {},
): LogRecord {
  const severity = severityFromPinoLevel(line.level) ?? 6;
  const time = typeof line.time === 'number' ? epochNumberToMs(line.time) : typeof line.time === 'string' ? Date.parse(line.time) : Date.now();
  // The keys used as fields (undefined: absent or not a valid value, so kept as an attribute).
  const facilityKey = isFacility(line.facility) ? 'facility' : undefined;
  const appNameKey = typeof line.appName === 'string' ? 'appName' : undefined;
  const msgIdKey = typeof line.msgId === 'string' ? 'msgId' : undefined;
  const sdKey = line.structuredData !== undefined && structuredDataProblem(line.structuredData) === undefined ? 'structuredData' : undefined;
  // pino-style or OTel-style names; the first valid one is the field
  const traceKey = isTraceId(line.traceId) ? 'traceId' : isTraceId(line.trace_id) ? 'trace_id' : undefined;
  const spanKey = isSpanId(line.spanId) ? 'spanId' : isSpanId(line.span_id) ? 'span_id' : undefined;
  // @opentelemetry/instrumentation-pino writes trace_flags ("01"); meaningless without a trace id
  const flagsKey = traceKey === undefined ? undefined : isTraceFlags(line.traceFlags) ? 'traceFlags' : isTraceFlags(line.trace_flags) ? 'trace_flags' : undefined;
  const record: LogRecord = {
    timestamp: rfc3339Micros(Number.isFinite(time) ? time : Date.now()),
    severity,
    level: LEVEL_NAMES[severity],
    facility: facilityKey ? (line.facility as number) : (defaults.facility ?? 1),
    msg: typeof line.msg === 'string' ? line.msg : line.msg === undefined ? '' : JSON.stringify(line.msg),
  };
  const appName = appNameKey ? (line.appName as string) : typeof line.name === 'string' ? line.name : defaults.appName;
  if (appName !== undefined) record.appName = appName;
  const hostname = typeof line.hostname === 'string' ? line.hostname : defaults.hostname;
  if (hostname !== undefined) record.hostname = hostname;
  const procId = line.pid !== undefined ? String(line.pid) : defaults.procId;
  if (procId !== undefined) record.procId = procId;
  if (msgIdKey) record.msgId = line.msgId as string;
  if (sdKey) record.structuredData = line.structuredData as StructuredData;
  if (traceKey) record.traceId = line[traceKey] as string;
  if (spanKey) record.spanId = line[spanKey] as string;
  if (flagsKey) record.traceFlags = (line[flagsKey] as string).toLowerCase();
  let attributes: Record<string, unknown> | undefined;
  for (const key in line) {
    if (PINO_OWN_KEYS.has(key) || key === traceKey || key === spanKey || key === flagsKey || key === facilityKey || key === appNameKey || key === msgIdKey || key === sdKey) continue;
    const value = line[key];
    if (key === SHIELDED_KEYS_FIELD && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) setOwnKey((attributes ??= {}), k, v);
    } else setOwnKey((attributes ??= {}), key, value);
  }
  if (attributes) record.attributes = attributes;
  return applyFieldLimits(record);
}
