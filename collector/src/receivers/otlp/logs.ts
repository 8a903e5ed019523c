// OTLP logs (normalized by decode.ts) → Periscope LogRecords, with per-record rejections.
//
// Mapping (OTel log data model → docs/record-format.md):
// - resource `service.name` → appName, `host.name` → hostname, `process.pid` → procId (strings,
//   numbers and booleans are stringified; other kinds stay in the resource attributes instead; a
//   value longer than its field stays there as well, whole, the field being cut).
// - severityNumber 1–24 → severity through severityFromOtel (OTel data model Appendix B). 0 means
//   unspecified: severityText is looked up as a level name/alias ("ERROR", "warn", "Fatal", "INFO2" …);
//   when that fails too the record is info (6). The original severityText is not kept.
// - timeUnixNano, or observedTimeUnixNano when it is 0 → timestamp, RFC 3339 with microseconds
//   computed with BigInt (nanoseconds are truncated, never rounded through a float). When both are 0
//   the time of receipt (`options.now`) is used.
// - body: a string as it is; absent/empty → ""; any other AnyValue → JSON text of its plain value.
// - traceId / spanId: must be 32 / 16 hex characters; all zeros means "not set".
// - flags: its low 8 bits, the W3C trace flags, → traceFlags (2 hex digits) when the record has a traceId.
// - attributes: the log record's own attributes at the top level, the resource attributes that were
//   not mapped above under `resource`, the scope's name/version/attributes under `scope`. A log
//   attribute literally named "resource" or "scope" is kept as "log.resource" / "log.scope" when the
//   namespace is in use.
// - facility 1 (user). eventName and droppedAttributesCount are ignored.
// - String attribute values (at any depth) longer than maxAttributeValueBytes (UTF-8) are cut at a
//   character boundary and the attribute is listed in `truncated` as "attributes.<key>"
//   ("attributes.resource.<key>", "attributes.scope.attributes.<key>"). RFC 5424 header limits are
//   applied by applyFieldLimits. A record whose JSON form is still over maxRecordBytes is rejected.
//
// `index` in a rejection is the position of the logRecord in document order over all
// resourceLogs/scopeLogs — the same numbering whichever encoding was used.

import {
  applyFieldLimits,
  FIELD_LIMITS,
  LEVEL_NAMES,
  rfc3339Micros,
  severityFromName,
  severityFromOtel,
} from '../../../../sdk/src/record.ts';
import { firstIssue, setKey, truncateAttributes } from './attributes.ts';
import type { LogRecord } from '../../../../sdk/src/record.ts';
import { msInRange, outOfRange } from '../../records/time-range.ts';
import {
  ItemRejection,
  type Attributes,
  type AttributeValue,
  type FieldIssue,
  type NormalizedLogRecord,
  type NormalizedLogsRequest,
  type NormalizedResourceLogs,
  type NormalizedScopeLogs,
  type OtlpRejection,
} from './decode.ts';

export type { OtlpRejection } from './decode.ts';

export const OTLP_LOG_ERROR_CODES = {
  BAD_TRACE_ID: 'PERISCOPE_ERR_OTLP_BAD_TRACE_ID',
  BAD_SPAN_ID: 'PERISCOPE_ERR_OTLP_BAD_SPAN_ID',
  BAD_SEVERITY: 'PERISCOPE_ERR_OTLP_BAD_SEVERITY',
  BAD_TIMESTAMP: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP',
  BAD_FIELD_TYPE: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE',
  /** Never a rejection: an over-long attribute value is truncated and listed in `record.truncated`. */
  ATTRIBUTE_TOO_LARGE: 'PERISCOPE_ERR_OTLP_ATTRIBUTE_TOO_LARGE',
  RECORD_TOO_LARGE: 'PERISCOPE_ERR_OTLP_RECORD_TOO_LARGE',
} as const;

export type OtlpLogErrorCode = (typeof OTLP_LOG_ERROR_CODES)[keyof typeof OTLP_LOG_ERROR_CODES];

export interface OtlpLogsOptions {
  /** UTF-8 bytes; longer string attribute values are truncated. Default 64 KiB. */
  maxAttributeValueBytes?: number;
  /** UTF-8 bytes of the record's JSON form; larger records are rejected. Default 1 MiB. */
  maxRecordBytes?: number;
  /** Epoch milliseconds used when a record has neither timeUnixNano nor observedTimeUnixNano. Default Date.now. */
  now?: () => number;
}

export interface OtlpLogsResult {
  records: LogRecord[];
  rejected: OtlpRejection[];
}

export const DEFAULT_MAX_ATTRIBUTE_VALUE_BYTES = 64 * 1024;
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

const C = OTLP_LOG_ERROR_CODES;
const ISSUE_CODES: Record<string, OtlpLogErrorCode> = {
  traceId: C.BAD_TRACE_ID,
  spanId: C.BAD_SPAN_ID,
  severityNumber: C.BAD_SEVERITY,
  timeUnixNano: C.BAD_TIMESTAMP,
  observedTimeUnixNano: C.BAD_TIMESTAMP,
};
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
const HEX = /^[0-9a-f]*$/;

/** Converts a normalized ExportLogsServiceRequest (decodeOtlp('logs', …)) into Periscope records. */
export function otlpLogsToRecords(req: NormalizedLogsRequest, options: OtlpLogsOptions = {}): OtlpLogsResult {
  const maxAttr = options.maxAttributeValueBytes ?? DEFAULT_MAX_ATTRIBUTE_VALUE_BYTES;
  const maxRecord = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const now = options.now ?? Date.now;
  const records: LogRecord[] = [];
  const rejected: OtlpRejection[] = [];
  let index = 0;

  for (const resourceLogs of req.resourceLogs ?? []) {
    const resource = resourceContext(resourceLogs, maxAttr);
    for (const scopeLogs of resourceLogs.scopeLogs ?? []) {
      const scope = scopeContext(scopeLogs, maxAttr);
      for (const log of scopeLogs.logRecords ?? []) {
        try {
          records.push(toRecord(log, resource, scope, maxAttr, maxRecord, now));
        } catch (err) {
          if (!(err instanceof ItemRejection)) throw err;
          rejected.push({ index, code: err.code, message: err.message });
        }
        index++;
      }
    }
  }
  return { records, rejected };
}

interface ResourceContext {
  issue?: FieldIssue;
  appName?: string;
  hostname?: string;
  procId?: string;
  attributes?: Attributes;
  truncated: string[];
}

interface ScopeContext {
  issue?: FieldIssue;
  scope?: Record<string, AttributeValue>;
  truncated: string[];
}

function resourceContext(resourceLogs: NormalizedResourceLogs, maxAttr: number): ResourceContext {
  const res = resourceLogs.resource;
  const ctx: ResourceContext = { issue: firstIssue(resourceLogs, res), truncated: [] };
  const attributes: Attributes = { ...res?.attributes };
  // A value longer than its header field (RFC 5424: APP-NAME 48 characters, HOSTNAME 255) is cut
  // there (applyFieldLimits) and stays whole in the resource attributes too: only the cut name
  // was kept, where the spans of the same resource keep the whole one.
  const lift = (key: string, limit: number): string | undefined => {
    const value = attributes[key];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      const text = String(value);
      if (text.length <= limit) delete attributes[key];
      return text;
    }
    return undefined;
  };
  ctx.appName = lift('service.name', FIELD_LIMITS.appName);
  ctx.hostname = lift('host.name', FIELD_LIMITS.hostname);
  ctx.procId = lift('process.pid', FIELD_LIMITS.procId);
  if (Object.keys(attributes).length > 0) ctx.attributes = truncateAttributes(attributes, maxAttr, 'attributes.resource.', ctx.truncated);
  return ctx;
}

function scopeContext(scopeLogs: NormalizedScopeLogs, maxAttr: number): ScopeContext {
  const s = scopeLogs.scope;
  const ctx: ScopeContext = { issue: firstIssue(scopeLogs, s), truncated: [] };
  if (!s) return ctx;
  const scope: Record<string, AttributeValue> = {};
  if (s.name) scope.name = s.name;
  if (s.version) scope.version = s.version;
  if (s.attributes && Object.keys(s.attributes).length > 0) {
    scope.attributes = truncateAttributes(s.attributes, maxAttr, 'attributes.scope.attributes.', ctx.truncated);
  }
  if (Object.keys(scope).length > 0) ctx.scope = scope;
  return ctx;
}


function toRecord(
  log: NormalizedLogRecord,
  resource: ResourceContext,
  scope: ScopeContext,
  maxAttr: number,
  maxRecord: number,
  now: () => number,
): LogRecord {
  const own = log.$issues?.[0];
  if (own) throw new ItemRejection(ISSUE_CODES[own.field] ?? C.BAD_FIELD_TYPE, `${own.path}: ${own.message}`);
  const inherited = scope.issue ?? resource.issue;
  if (inherited) throw new ItemRejection(C.BAD_FIELD_TYPE, `${inherited.path}: ${inherited.message}`);

  const severity = mapSeverity(log.severityNumber, log.severityText);
  const traceId = checkId(log.traceId, 32, ZERO_TRACE_ID, 'traceId', C.BAD_TRACE_ID);
  const spanId = checkId(log.spanId, 16, ZERO_SPAN_ID, 'spanId', C.BAD_SPAN_ID);
  const timestamp = mapTimestamp(log.timeUnixNano, log.observedTimeUnixNano, now);

  const record: LogRecord = {
    timestamp,
    severity,
    level: LEVEL_NAMES[severity],
    facility: 1,
    msg: bodyToMsg(log.body),
  };
  if (resource.hostname !== undefined) record.hostname = resource.hostname;
  if (resource.appName !== undefined) record.appName = resource.appName;
  if (resource.procId !== undefined) record.procId = resource.procId;
  if (traceId !== undefined) {
    record.traceId = traceId;
    record.traceFlags = ((log.flags ?? 0) & 0xff).toString(16).padStart(2, '0');
  }
  if (spanId !== undefined) record.spanId = spanId;

  const truncated: string[] = [];
  let attributes: Record<string, unknown> | undefined;
  if (log.attributes && Object.keys(log.attributes).length > 0) {
    attributes = truncateAttributes(log.attributes, maxAttr, 'attributes.', truncated);
  }
  if (resource.attributes) {
    attributes ??= {};
    moveAside(attributes, 'resource');
    attributes.resource = { ...resource.attributes };
    truncated.push(...resource.truncated);
  }
  if (scope.scope) {
    attributes ??= {};
    moveAside(attributes, 'scope');
    attributes.scope = { ...scope.scope };
    truncated.push(...scope.truncated);
  }
  if (attributes) record.attributes = attributes;
  if (truncated.length > 0) record.truncated = truncated;
  applyFieldLimits(record);

  const size = Buffer.byteLength(JSON.stringify(record), 'utf8');
  if (size > maxRecord) {
    throw new ItemRejection(C.RECORD_TOO_LARGE, `record is ${size} bytes as JSON, over the ${maxRecord}-byte limit`);
  }
  return record;
}

function mapSeverity(severityNumber: unknown, severityText: unknown): number {
  const n = severityNumber ?? 0;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 24) {
    throw new ItemRejection(C.BAD_SEVERITY, `severityNumber must be an integer 0–24, got ${String(n)}`);
  }
  if (n > 0) return severityFromOtel(n) as number;
  if (typeof severityText === 'string' && severityText.trim() !== '') {
    const text = severityText.trim();
    // OTel short names carry a digit for the finer levels: WARN2, ERROR3, FATAL4, INFO2 …
    const byName = severityFromName(text) ?? severityFromName(text.replace(/[1-4]$/, ''));
    if (byName !== undefined) return byName;
  }
  return 6; // info
}

function checkId(value: unknown, length: number, zero: string, name: string, code: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length !== length || !HEX.test(value)) {
    const got = typeof value === 'string' ? (HEX.test(value) ? `${value.length} hex characters` : 'a non-hex string') : typeof value;
    throw new ItemRejection(code, `${name} must be ${length} hex characters (${length / 2} bytes), got ${got}`);
  }
  return value === zero ? undefined : value;
}

function mapTimestamp(timeUnixNano: unknown, observedTimeUnixNano: unknown, now: () => number): string {
  const time = parseNanos(timeUnixNano, 'timeUnixNano');
  const nanos = time !== 0n ? time : parseNanos(observedTimeUnixNano, 'observedTimeUnixNano');
  if (nanos === 0n) return rfc3339Micros(now());
  const ms = nanos / 1_000_000n;
  if (!msInRange(Number(ms))) throw new ItemRejection(C.BAD_TIMESTAMP, outOfRange(time !== 0n ? 'timeUnixNano' : 'observedTimeUnixNano', nanos.toString()));
  const micros = (nanos / 1_000n) % 1_000n;
  return rfc3339Micros(Number(ms), Number(micros));
}

function parseNanos(value: unknown, name: string): bigint {
  if (value === undefined || value === '') return 0n;
  let nanos: bigint;
  try {
    nanos = BigInt(value as string);
  } catch {
    throw new ItemRejection(C.BAD_TIMESTAMP, `${name} is not an integer: ${String(value).slice(0, 40)}`);
  }
  if (nanos < 0n) throw new ItemRejection(C.BAD_TIMESTAMP, `${name} is negative`);
  return nanos;
}

function bodyToMsg(body: AttributeValue | undefined): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  return JSON.stringify(body);
}

/** Keeps a log attribute that collides with a namespace key we are about to set. */
function moveAside(attributes: Record<string, unknown>, key: string): void {
  if (Object.hasOwn(attributes, key)) {
    setKey(attributes, `log.${key}`, attributes[key]);
    delete attributes[key];
  }
}

