// OTLP/HTTP request decoding: protobuf or OTLP/JSON body → one normalized plain-object shape.
//
// Spec: https://opentelemetry.io/docs/specs/otlp/#otlphttp (binary protobuf and JSON encodings).
// OTLP/JSON differs from the canonical proto3 JSON mapping in that traceId/spanId/parentSpanId are
// hex strings (not base64) and enums are integers; 64-bit integers may be numbers or strings, field
// names are lowerCamelCase, and unknown fields MUST be ignored.
//
// ── The normalized shape (identical for both encodings) ──────────────────────────────────────────
// Field names are the lowerCamelCase names of the .proto fields, and every message is a plain object:
// - 64-bit integer fields (timeUnixNano, startTimeUnixNano, count, asInt, bucketCounts, …): DECIMAL
//   STRINGS of the exact value ("1700000000123456789"). Never JS numbers, never bigint. (Chosen over
//   bigint so the shape survives JSON.stringify; convert with BigInt(s) when doing arithmetic.)
// - 32-bit integers, float/double: numbers. bool: boolean. string: string.
// - Enums: their integer value, unknown values kept as they are (severityNumber 99 stays 99; the
//   signal normaliser decides). OTLP/JSON enum *names* are accepted too and mapped to their number.
// - traceId / spanId / parentSpanId (wherever they occur): lowercase hex strings, "" when empty. The
//   length is NOT checked here (a 4-byte trace id becomes "0a0b0c0d"); signal normalisers check it.
// - Other bytes fields: standard base64 strings.
// - AnyValue (log body, attribute values): a plain JS value — string | number | boolean | array |
//   object, null for an empty AnyValue. intValue becomes a number when it is a safe integer, else a
//   decimal string; bytesValue becomes a base64 string. (So intValue 5 and doubleValue 5 look alike.)
//   A doubleValue NaN or ±Infinity becomes "NaN", "Infinity", "-Infinity" (proto3 JSON's spelling):
//   a stored record is JSON, which has no such numbers (JSON.stringify would write null).
// - repeated KeyValue fields (attributes, metadata, filteredAttributes): an object { key: value };
//   with duplicate keys the last one wins.
// - Absent singular message fields (resource, scope, status, gauge, …) and absent oneof members or
//   proto3 `optional` fields (asInt/asDouble, histogram sum/min/max) are omitted; an absent body is
//   omitted (an empty one is null). Every other scalar is always present, with its proto3 default
//   ("0", 0, false, "") when not sent. Repeated fields are always present ([] or {}).
// - `$issues`: for OTLP/JSON only, a value of the wrong type does not fail the whole request. The
//   field gets its default (or the attribute is skipped) and a FieldIssue is appended to `$issues` of
//   the innermost message that is kept as an object (LogRecord, Span, Resource, Metric, …; AnyValue
//   and KeyValue become plain values, so their problems land on the message holding them). Signal
//   normalisers reject the affected item. `$issues` is absent when there is nothing to report.
// - The request fails as a whole (OtlpDecodeError) when the body is not decodable: bad protobuf,
//   invalid UTF-8 or JSON, a top level that is not an object, or a broken spine — resourceX/scopeX not
//   arrays of objects, or logRecords/spans/metrics not an array — because then the number of items
//   lost cannot be told. A non-object element *inside* logRecords/spans/metrics is kept as an item
//   `{ $issues: [...] }` so its index stays right.
// - An empty body (or a JSON body of only whitespace) is a valid request with nothing in it.

import type { Enum, Field, Type } from 'protobufjs';
import protobuf from 'protobufjs';
import { REQUEST_TYPES } from './schema.ts';
import type { OtlpEncoding, OtlpKind } from './schema.ts';

export type { OtlpEncoding, OtlpKind } from './schema.ts';

export const OTLP_DECODE_ERROR_CODE = 'PERISCOPE_ERR_OTLP_DECODE';

// protobufjs stops at 100 nested messages (protoc's default) and fails the whole request: an
// AnyValue level takes 3 (AnyValue, KeyValueList, KeyValue), so one record's 32-level attribute
// lost every other record. Room for MAX_ANY_VALUE_DEPTH levels and the request's own spine, so
// such a record is refused alone (partialSuccess); the decoder's frames are small.
protobuf.util.recursionLimit = protobuf.Reader.recursionLimit = 1000;

/** The body could not be decoded at all: answer HTTP 400 with a google.rpc.Status (see response.ts). */
export class OtlpDecodeError extends Error {
  readonly code: typeof OTLP_DECODE_ERROR_CODE = OTLP_DECODE_ERROR_CODE;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OtlpDecodeError';
  }
}

/** One item (log record, span, data point) a signal normaliser refused; `index` is its 0-based position in document order. */
export interface OtlpRejection {
  index: number;
  code: string;
  message: string;
}

/** Thrown by a signal normaliser for one item it refuses; caught per item and reported as an OtlpRejection. */
export class ItemRejection extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

// ── Normalized types ──────────────────────────────────────────────────────────────────────────────

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = { [key: string]: AttributeValue };

/** A value of the wrong type in an OTLP/JSON body. `field` is the top-level field of the message that holds the issue. */
export interface FieldIssue {
  field: string;
  path: string;
  message: string;
}

export interface NormalizedMessage {
  $issues?: FieldIssue[];
  [field: string]: unknown;
}

export interface NormalizedResource extends NormalizedMessage {
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface NormalizedScope extends NormalizedMessage {
  name: string;
  version: string;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface NormalizedLogRecord extends NormalizedMessage {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body?: AttributeValue;
  attributes: Attributes;
  droppedAttributesCount: number;
  flags: number;
  traceId: string;
  spanId: string;
  eventName: string;
}

export interface NormalizedScopeLogs extends NormalizedMessage {
  scope?: NormalizedScope;
  logRecords: NormalizedLogRecord[];
  schemaUrl: string;
}

export interface NormalizedResourceLogs extends NormalizedMessage {
  resource?: NormalizedResource;
  scopeLogs: NormalizedScopeLogs[];
  schemaUrl: string;
}

export interface NormalizedLogsRequest extends NormalizedMessage {
  resourceLogs: NormalizedResourceLogs[];
}

export interface NormalizedScopeSpans extends NormalizedMessage {
  scope?: NormalizedScope;
  /** Span messages; see trace.proto for the fields (ids hex, times decimal strings, kind/status.code numbers). */
  spans: NormalizedMessage[];
  schemaUrl: string;
}

export interface NormalizedResourceSpans extends NormalizedMessage {
  resource?: NormalizedResource;
  scopeSpans: NormalizedScopeSpans[];
  schemaUrl: string;
}

export interface NormalizedTracesRequest extends NormalizedMessage {
  resourceSpans: NormalizedResourceSpans[];
}

export interface NormalizedScopeMetrics extends NormalizedMessage {
  scope?: NormalizedScope;
  /** Metric messages; exactly one of gauge/sum/histogram/exponentialHistogram/summary when valid. */
  metrics: NormalizedMessage[];
  schemaUrl: string;
}

export interface NormalizedResourceMetrics extends NormalizedMessage {
  resource?: NormalizedResource;
  scopeMetrics: NormalizedScopeMetrics[];
  schemaUrl: string;
}

export interface NormalizedMetricsRequest extends NormalizedMessage {
  resourceMetrics: NormalizedResourceMetrics[];
}

export interface NormalizedRequestByKind {
  logs: NormalizedLogsRequest;
  traces: NormalizedTracesRequest;
  metrics: NormalizedMetricsRequest;
}

// ── Entry point ───────────────────────────────────────────────────────────────────────────────────

/**
 * Decodes an OTLP/HTTP request body (already decompressed) into the normalized shape described at
 * the top of this file. Throws OtlpDecodeError when the body is not decodable as a whole.
 */
export function decodeOtlp<K extends OtlpKind>(kind: K, body: Uint8Array, encoding: OtlpEncoding): NormalizedRequestByKind[K] {
  const type = REQUEST_TYPES[kind];
  if (!type) throw new OtlpDecodeError(`unknown OTLP signal ${JSON.stringify(kind)}`);
  try {
    if (encoding === 'protobuf') return decodeProtobuf(type, body) as NormalizedRequestByKind[K];
    if (encoding === 'json') return decodeJson(type, body) as NormalizedRequestByKind[K];
  } catch (err) {
    if (err instanceof OtlpDecodeError) throw err;
    // protobufjs reader errors, stack exhaustion on absurdly deep input, …
    throw new OtlpDecodeError(`undecodable ${encoding} body: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  throw new OtlpDecodeError(`unsupported encoding ${JSON.stringify(encoding)}`);
}

/**
 * A reader on which invalid UTF-8 in a string field becomes U+FFFD. protobufjs verifies proto3
 * strings (`stringVerify`), and one bad attribute value refused the whole request (400) with every
 * valid record in it. OTLP asks receivers to replace such bytes with U+FFFD rather than refuse
 * them (opentelemetry-proto docs/specification.md, on UTF-8), the OTel Collector passes them on,
 * and the syslog and native receivers replace them too.
 */
function lenientReader(body: Uint8Array): protobuf.Reader {
  const reader = protobuf.Reader.create(body);
  reader.stringVerify = reader.string;
  return reader;
}

function decodeProtobuf(type: Type, body: Uint8Array): NormalizedMessage {
  let message: protobuf.Message;
  try {
    message = type.decode(lenientReader(body));
  } catch (err) {
    throw new OtlpDecodeError(`invalid protobuf: ${(err as Error).message}`, { cause: err });
  }
  return normalizeMessage(type, message as unknown as Record<string, unknown>, newCtx(false));
}

const utf8 = new TextDecoder('utf-8', { fatal: true }); // strips a leading BOM

function decodeJson(type: Type, body: Uint8Array): NormalizedMessage {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch (err) {
    throw new OtlpDecodeError('invalid JSON: body is not valid UTF-8', { cause: err });
  }
  if (text.trim() === '') return normalizeMessage(type, {}, newCtx(true));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new OtlpDecodeError(`invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(parsed)) {
    throw new OtlpDecodeError(`invalid OTLP/JSON: the top level must be an object, got ${describe(parsed)}`);
  }
  const ctx = newCtx(true);
  const result = normalizeMessage(type, parsed, ctx);
  if (!ctx.unsafeInt) return result;
  // A 64-bit field was sent as a JSON number beyond 2^53 (allowed by OTLP/JSON): JSON.parse rounded
  // it. Parse again keeping such integers exact. Only paid for bodies that need it.
  const exact = JSON.parse(text, keepBigIntegers) as Record<string, unknown>;
  return normalizeMessage(type, exact, newCtx(true));
}

function keepBigIntegers(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

// ── Reflection-driven normalizer ─────────────────────────────────────────────────────────────────

interface Ctx {
  json: boolean;
  /** Set when a JSON number outside the safe-integer range was read for a 64-bit field. */
  unsafeInt: boolean;
  /** Path of the value being read, as segments ("resourceLogs", "[0]", …); joined only for issues. */
  path: string[];
}

function newCtx(json: boolean): Ctx {
  return { json, unsafeInt: false, path: [] };
}

const KEY_VALUE = '.opentelemetry.proto.common.v1.KeyValue';
const ANY_VALUE = '.opentelemetry.proto.common.v1.AnyValue';
const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);
/** Must be arrays of objects, or the request is rejected as a whole. */
const SPINE_FIELDS = new Set(['resourceLogs', 'scopeLogs', 'resourceSpans', 'scopeSpans', 'resourceMetrics', 'scopeMetrics']);
/** Must be arrays; a non-object element becomes an item carrying `$issues`. */
const ITEM_FIELDS = new Set(['logRecords', 'spans', 'metrics']);
const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const UNSIGNED_TYPES = new Set(['uint64', 'fixed64', 'uint32', 'fixed32']);
const INT32_TYPES = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const MAX_ANY_VALUE_DEPTH = 64;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

type Scalar = 'int64' | 'uint64' | 'int32' | 'uint32' | 'double' | 'bool' | 'string' | 'hexId' | 'base64' | 'enum';

/** Everything the normalizer needs to know about a field, worked out once per type. */
interface FieldPlan {
  name: string;
  /** snake_case name, when different (proto3 JSON parsers accept both spellings). */
  snake: string | undefined;
  kind: 'keyValues' | 'anyValue' | 'message' | 'scalar';
  repeated: boolean;
  /** Member of a oneof or a proto3 `optional` field: present only when set. */
  optional: boolean;
  spine: boolean;
  item: boolean;
  messageType: Type | undefined;
  enumType: Enum | undefined;
  scalar: Scalar;
  defaultValue: unknown;
}

interface TypePlan {
  fields: FieldPlan[];
  /** Real oneofs (two or more members; proto3 `optional` fields are one-member synthetic oneofs). */
  oneofs: Array<{ name: string; members: FieldPlan[] }>;
}

const plans = new WeakMap<Type, TypePlan>();

function planFor(type: Type): TypePlan {
  let plan = plans.get(type);
  if (plan) return plan;
  const fields = type.fieldsArray.map((field): FieldPlan => {
    const resolved = field.resolvedType;
    const enumType = resolved && isEnum(resolved) ? resolved : undefined;
    const messageType = resolved && !isEnum(resolved) ? resolved : undefined;
    const fullName = messageType?.fullName;
    const snake = field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const scalar = scalarOf(field, enumType);
    return {
      name: field.name,
      snake: snake === field.name ? undefined : snake,
      kind: fullName === KEY_VALUE && field.repeated ? 'keyValues' : fullName === ANY_VALUE ? 'anyValue' : messageType ? 'message' : 'scalar',
      repeated: field.repeated,
      optional: field.partOf !== null,
      spine: SPINE_FIELDS.has(field.name),
      item: ITEM_FIELDS.has(field.name),
      messageType,
      enumType,
      scalar,
      defaultValue: scalar === 'int64' || scalar === 'uint64' ? '0' : scalar === 'bool' ? false : ['string', 'hexId', 'base64'].includes(scalar) ? '' : 0,
    };
  });
  const oneofs = type.oneofsArray
    .filter((o) => o.fieldsArray.length > 1)
    .map((o) => ({ name: o.name, members: fields.filter((f) => o.fieldsArray.some((m) => m.name === f.name)) }));
  plan = { fields, oneofs };
  plans.set(type, plan);
  return plan;
}

function scalarOf(field: Field, enumType: Enum | undefined): Scalar {
  if (enumType) return 'enum';
  const t = field.type;
  if (INT64_TYPES.has(t)) return UNSIGNED_TYPES.has(t) ? 'uint64' : 'int64';
  if (INT32_TYPES.has(t)) return UNSIGNED_TYPES.has(t) ? 'uint32' : 'int32';
  if (t === 'double' || t === 'float') return 'double';
  if (t === 'bool') return 'bool';
  if (t === 'bytes') return ID_FIELDS.has(field.name) ? 'hexId' : 'base64';
  return 'string';
}

/** Collects issues for one message, remembering which of its top-level fields is being read. */
interface Sink {
  field: string;
  issues: FieldIssue[];
}

function issue(sink: Sink, ctx: Ctx, message: string, ...extra: string[]): void {
  sink.issues.push({ field: sink.field, path: joinPath(ctx.path.concat(extra)), message });
}

function joinPath(segments: readonly string[]): string {
  let out = '';
  for (const s of segments) out += s.startsWith('[') || out === '' ? s : `.${s}`;
  return out;
}

function normalizeMessage(type: Type, src: Record<string, unknown>, ctx: Ctx): NormalizedMessage {
  const plan = planFor(type);
  const out: NormalizedMessage = {};
  const sink: Sink = { field: '', issues: [] };
  for (const field of plan.fields) {
    sink.field = field.name;
    ctx.path.push(field.name);
    const raw = readField(src, field, ctx);
    if (field.repeated) {
      out[field.name] = normalizeRepeated(field, raw, ctx, sink);
    } else if (raw === undefined || raw === null) {
      if (field.kind === 'scalar' && !field.optional) out[field.name] = field.defaultValue;
    } else if (field.kind === 'anyValue') {
      out[field.name] = anyValueToPlain(raw, ctx, sink, 0);
    } else if (field.kind === 'message') {
      if (ctx.json && !isObject(raw)) issue(sink, ctx, `expected an object, got ${describe(raw)}`);
      else out[field.name] = normalizeMessage(field.messageType as Type, raw as Record<string, unknown>, ctx);
    } else {
      const value = convertScalar(field, raw, ctx, sink);
      if (value !== INVALID) out[field.name] = value;
      else if (!field.optional) out[field.name] = field.defaultValue;
    }
    ctx.path.pop();
  }
  if (ctx.json && plan.oneofs.length > 0) checkOneofs(plan, src, ctx, sink);
  if (sink.issues.length > 0) out.$issues = sink.issues;
  return out;
}

function normalizeRepeated(field: FieldPlan, raw: unknown, ctx: Ctx, sink: Sink): unknown {
  const keyValues = field.kind === 'keyValues';
  if (raw === undefined || raw === null) return keyValues ? {} : [];
  if (!Array.isArray(raw)) {
    if (field.spine || field.item) {
      throw new OtlpDecodeError(`invalid OTLP/JSON: ${joinPath(ctx.path)} must be an array, got ${describe(raw)}`);
    }
    issue(sink, ctx, `expected an array, got ${describe(raw)}`);
    return keyValues ? {} : [];
  }
  if (keyValues) return keyValuesToObject(raw, ctx, sink, 0);
  const out: unknown[] = new Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const item = raw[i];
    ctx.path.push(`[${i}]`);
    if (field.kind === 'scalar') {
      const value = convertScalar(field, item, ctx, sink);
      out[n++] = value === INVALID ? field.defaultValue : value;
    } else if (field.kind === 'anyValue') {
      out[n++] = anyValueToPlain(item, ctx, sink, 0);
    } else if (!ctx.json || isObject(item)) {
      out[n++] = normalizeMessage(field.messageType as Type, item as Record<string, unknown>, ctx);
    } else if (field.spine) {
      throw new OtlpDecodeError(`invalid OTLP/JSON: ${joinPath(ctx.path)} must be an object, got ${describe(item)}`);
    } else if (field.item) {
      out[n++] = { $issues: [{ field: '', path: joinPath(ctx.path), message: `expected an object, got ${describe(item)}` }] };
    } else {
      issue(sink, ctx, `expected an object, got ${describe(item)}`);
    }
    ctx.path.pop();
  }
  out.length = n;
  return out;
}

function keyValuesToObject(list: unknown[], ctx: Ctx, sink: Sink, depth: number): Attributes {
  const out: Attributes = {};
  for (let i = 0; i < list.length; i++) {
    const kv = list[i];
    if (!isObject(kv)) {
      issue(sink, ctx, `expected a KeyValue object, got ${describe(kv)}`, `[${i}]`);
      continue;
    }
    const key = kv.key;
    if (key !== undefined && key !== null && typeof key !== 'string') {
      issue(sink, ctx, `expected a string, got ${describe(key)}`, `[${i}]`, 'key');
      continue;
    }
    const rawValue = kv.value;
    let value: AttributeValue = null;
    if (rawValue !== undefined && rawValue !== null) {
      ctx.path.push(`[${i}]`, 'value');
      value = anyValueToPlain(rawValue, ctx, sink, depth);
      ctx.path.length -= 2;
    }
    setKey(out, key ?? '', value);
  }
  return out;
}

type AnyKind = 'stringValue' | 'boolValue' | 'intValue' | 'doubleValue' | 'arrayValue' | 'kvlistValue' | 'bytesValue';
const ANY_VALUE_KINDS: readonly AnyKind[] = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'];
/** OTLP/JSON member name (either spelling) → AnyValue kind. */
const ANY_VALUE_MEMBERS = new Map<string, AnyKind>(
  ANY_VALUE_KINDS.flatMap((k) => [[k, k], [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), k]] as Array<[string, AnyKind]>),
);

function anyValueToPlain(raw: unknown, ctx: Ctx, sink: Sink, depth: number): AttributeValue {
  if (depth >= MAX_ANY_VALUE_DEPTH) {
    issue(sink, ctx, `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
    return null;
  }
  if (!isObject(raw)) {
    issue(sink, ctx, `expected an AnyValue object, got ${describe(raw)}`);
    return null;
  }
  let kind: AnyKind | undefined;
  let value: unknown;
  if (ctx.json) {
    for (const member in raw) {
      const k = ANY_VALUE_MEMBERS.get(member);
      const v = raw[member];
      if (k === undefined || v === undefined || v === null) continue; // unknown members are ignored
      if (kind !== undefined) {
        issue(sink, ctx, `AnyValue has both ${kind} and ${k}`);
        return null;
      }
      kind = k;
      value = v;
    }
  } else {
    // protobufjs: the set oneof member is an own property
    for (const k of ANY_VALUE_KINDS) {
      if (Object.hasOwn(raw, k) && raw[k] !== undefined && raw[k] !== null) {
        kind = k;
        value = raw[k];
        break;
      }
    }
  }
  if (kind === undefined) return null;
  ctx.path.push(kind);
  const result = anyValueKind(kind, value, ctx, sink, depth);
  ctx.path.pop();
  return result;
}

function anyValueKind(kind: AnyKind, value: unknown, ctx: Ctx, sink: Sink, depth: number): AttributeValue {
  switch (kind) {
    case 'stringValue':
      if (typeof value === 'string') return value;
      issue(sink, ctx, `expected a string, got ${describe(value)}`);
      return null;
    case 'boolValue':
      if (typeof value === 'boolean') return value;
      issue(sink, ctx, `expected a boolean, got ${describe(value)}`);
      return null;
    case 'intValue': {
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value; // fast path
      const s = ctx.json ? jsonInt64(value, false, ctx) : protoInt64(value);
      if (s instanceof Error) {
        issue(sink, ctx, s.message);
        return null;
      }
      const n = Number(s);
      return Number.isSafeInteger(n) ? n : s;
    }
    case 'doubleValue': {
      const n = ctx.json ? jsonDouble(value) : (value as number);
      if (n instanceof Error) {
        issue(sink, ctx, n.message);
        return null;
      }
      return Number.isFinite(n) ? n : String(n);
    }
    case 'bytesValue': {
      const s = ctx.json ? jsonBase64(value) : asBuffer(value as Uint8Array).toString('base64');
      if (s instanceof Error) {
        issue(sink, ctx, s.message);
        return null;
      }
      return s;
    }
    case 'arrayValue':
    case 'kvlistValue': {
      if (!isObject(value)) {
        issue(sink, ctx, `expected ${kind === 'arrayValue' ? 'an ArrayValue' : 'a KeyValueList'} object, got ${describe(value)}`);
        return null;
      }
      const values = value.values;
      if (values === undefined || values === null) return kind === 'arrayValue' ? [] : {};
      if (!Array.isArray(values)) {
        issue(sink, ctx, `expected an array, got ${describe(values)}`, 'values');
        return null;
      }
      ctx.path.push('values');
      let result: AttributeValue;
      if (kind === 'kvlistValue') {
        result = keyValuesToObject(values, ctx, sink, depth + 1);
      } else {
        const list: AttributeValue[] = new Array(values.length);
        for (let i = 0; i < values.length; i++) {
          ctx.path.push(`[${i}]`);
          list[i] = anyValueToPlain(values[i], ctx, sink, depth + 1);
          ctx.path.pop();
        }
        result = list;
      }
      ctx.path.pop();
      return result;
    }
  }
}

const INVALID: unique symbol = Symbol('invalid');

function convertScalar(field: FieldPlan, raw: unknown, ctx: Ctx, sink: Sink): unknown {
  const result = ctx.json ? jsonScalar(field, raw, ctx) : protoScalar(field, raw);
  if (result instanceof Error) {
    issue(sink, ctx, result.message);
    return INVALID;
  }
  return result;
}

function protoScalar(field: FieldPlan, raw: unknown): unknown {
  switch (field.scalar) {
    case 'int64':
    case 'uint64':
      return protoInt64(raw);
    case 'hexId':
      return asBuffer(raw as Uint8Array).toString('hex');
    case 'base64':
      return asBuffer(raw as Uint8Array).toString('base64');
    default:
      return raw; // numbers, booleans, strings and enum numbers are already in normalized form
  }
}

function jsonScalar(field: FieldPlan, raw: unknown, ctx: Ctx): unknown {
  switch (field.scalar) {
    case 'enum':
      return jsonEnum(field.enumType as Enum, raw);
    case 'int64':
    case 'uint64':
      return jsonInt64(raw, field.scalar === 'uint64', ctx);
    case 'int32':
    case 'uint32':
      return jsonInt32(raw, field.scalar === 'uint32');
    case 'double':
      return jsonDouble(raw);
    case 'bool':
      return typeof raw === 'boolean' ? raw : new Error(`expected a boolean, got ${describe(raw)}`);
    case 'string':
      return typeof raw === 'string' ? raw : new Error(`expected a string, got ${describe(raw)}`);
    case 'hexId':
      return jsonHexId(raw);
    case 'base64':
      return jsonBase64(raw);
  }
}

/** Long (honours its unsigned flag), number or bigint → exact decimal string. */
function protoInt64(raw: unknown): string {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? String(raw) : BigInt(Math.trunc(raw)).toString();
  if (typeof raw === 'bigint') return raw.toString();
  const long = raw as { low: number; high: number; unsigned: boolean };
  if (long.high === 0 && long.low >= 0) return String(long.low); // common small values
  const bits = (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
  return (long.unsigned ? bits : BigInt.asIntN(64, bits)).toString();
}

function jsonInt64(raw: unknown, unsigned: boolean, ctx: Ctx): string | Error {
  let big: bigint;
  if (typeof raw === 'bigint') {
    big = raw;
  } else if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return new Error(`expected an integer, got ${raw}`);
    if (!Number.isSafeInteger(raw)) ctx.unsafeInt = true;
    else if (!unsigned || raw >= 0) return String(raw); // fast path
    big = BigInt(raw);
  } else if (typeof raw === 'string') {
    if (!/^-?\d+$/.test(raw)) return new Error(`expected a decimal integer string, got ${JSON.stringify(truncateForMessage(raw))}`);
    big = BigInt(raw);
  } else {
    return new Error(`expected an integer or a decimal string, got ${describe(raw)}`);
  }
  if (unsigned ? big < 0n || big > U64_MAX : big < I64_MIN || big > I64_MAX) {
    return new Error(`${big} is out of range for ${unsigned ? 'an unsigned' : 'a signed'} 64-bit integer`);
  }
  return big.toString();
}

function jsonInt32(raw: unknown, unsigned: boolean): number | Error {
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && /^-?\d+$/.test(raw)) n = Number(raw);
  else if (typeof raw === 'bigint') n = Number(raw);
  else return new Error(`expected an integer, got ${describe(raw)}`);
  if (!Number.isInteger(n)) return new Error(`expected an integer, got ${n}`);
  if (unsigned ? n < 0 || n > 0xffffffff : n < -0x80000000 || n > 0x7fffffff) {
    return new Error(`${n} is out of range for ${unsigned ? 'an unsigned' : 'a signed'} 32-bit integer`);
  }
  return n;
}

function jsonDouble(raw: unknown): number | Error {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw === 'string') {
    if (raw === 'NaN') return Number.NaN;
    if (raw === 'Infinity') return Number.POSITIVE_INFINITY;
    if (raw === '-Infinity') return Number.NEGATIVE_INFINITY;
    if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return Number(raw);
  }
  return new Error(`expected a number, got ${describe(raw)}`);
}

function jsonEnum(enumType: Enum, raw: unknown): number | Error {
  if (typeof raw === 'number') {
    if (Number.isInteger(raw) && raw >= -0x80000000 && raw <= 0x7fffffff) return raw;
    return new Error(`expected an integer enum value, got ${raw}`);
  }
  if (typeof raw === 'string') {
    if (/^-?\d+$/.test(raw)) return jsonEnum(enumType, Number(raw));
    if (Object.hasOwn(enumType.values, raw)) return enumType.values[raw];
    return new Error(`unknown ${enumType.name} name ${JSON.stringify(truncateForMessage(raw))}`);
  }
  return new Error(`expected an integer enum value, got ${describe(raw)}`);
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

function jsonHexId(raw: unknown): string | Error {
  if (typeof raw !== 'string') return new Error(`expected a hex string, got ${describe(raw)}`);
  if (!HEX_RE.test(raw)) return new Error(`expected a hex string, got ${JSON.stringify(truncateForMessage(raw))}`);
  return raw.toLowerCase();
}

function jsonBase64(raw: unknown): string | Error {
  if (typeof raw !== 'string') return new Error(`expected a base64 string, got ${describe(raw)}`);
  if (!/^[A-Za-z0-9+/\-_]*={0,2}$/.test(raw) || raw.replace(/=+$/, '').length % 4 === 1) {
    return new Error('expected a base64 string');
  }
  return Buffer.from(raw, 'base64').toString('base64'); // canonical form (also accepts base64url)
}

/** Proto3 JSON: a oneof may have at most one member set. */
function checkOneofs(plan: TypePlan, src: Record<string, unknown>, ctx: Ctx, sink: Sink): void {
  for (const oneof of plan.oneofs) {
    const present = oneof.members.filter((f) => readField(src, f, ctx) != null);
    if (present.length > 1) {
      sink.field = present[0].name;
      issue(sink, ctx, `only one of ${present.map((f) => f.name).join(', ')} may be set`, oneof.name);
    }
  }
}

// ── Small helpers ────────────────────────────────────────────────────────────────────────────────

function readField(src: Record<string, unknown>, field: FieldPlan, ctx: Ctx): unknown {
  if (ctx.json) {
    const v = src[field.name];
    if (v !== undefined && Object.hasOwn(src, field.name)) return v;
    return field.snake !== undefined && Object.hasOwn(src, field.snake) ? src[field.snake] : undefined;
  }
  // protobufjs messages carry proto3 defaults on their prototype; oneof members only when set.
  if (field.optional) return Object.hasOwn(src, field.name) ? src[field.name] : undefined;
  return src[field.name];
}

/** protobufjs gives a Buffer for a decoded bytes field and an empty array (prototype default) for an absent one. */
function asBuffer(bytes: Uint8Array | ArrayLike<number>): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Buffer.from(Array.from(bytes));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEnum(t: Type | Enum): t is Enum {
  return t instanceof protobuf.Enum;
}

function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(truncateForMessage(value))}`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function truncateForMessage(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
