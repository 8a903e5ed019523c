import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../../sdk/src/record.ts';
import { decodeOtlp, OtlpDecodeError } from './decode.ts';
import type { OtlpEncoding } from './decode.ts';
import { otlpLogsToRecords } from './logs.ts';
import type { OtlpLogsOptions, OtlpLogsResult } from './logs.ts';
import { REQUEST_TYPES } from './schema.ts';

const NOW_MS = Date.UTC(2030, 0, 2, 3, 4, 5, 678); // used only when a record carries no time at all
const OPTS: OtlpLogsOptions = { now: () => NOW_MS };

const LogsRequest = REQUEST_TYPES.logs;

/** protobufjs object form (Long fields as decimal strings, bytes as Buffers) → OTLP/protobuf body. */
function encodeProto(request: object): Buffer {
  const message = LogsRequest.fromObject(request);
  const err = LogsRequest.verify(message);
  if (err) throw new Error(`bad test fixture: ${err}`);
  return Buffer.from(LogsRequest.encode(message).finish());
}

function convert(body: Buffer | string, encoding: OtlpEncoding, options: OtlpLogsOptions = OPTS): OtlpLogsResult {
  return otlpLogsToRecords(decodeOtlp('logs', Buffer.from(body), encoding), options);
}

const hex = (s: string) => Buffer.from(s, 'hex');

// ── One logical request, written twice: as an OTLP/JSON sender writes it and as protobuf ─────────
// JSON text on purpose: r1's timeUnixNano is a bare JSON number above 2^53, which a JS object
// literal could not even hold exactly.
const LOGICAL_JSON = `{
  "resourceLogs": [
    {
      "resource": {
        "attributes": [
          { "key": "service.name", "value": { "stringValue": "checkout" } },
          { "key": "host.name", "value": { "stringValue": "web-1" } },
          { "key": "process.pid", "value": { "intValue": "4242" } },
          { "key": "deployment.environment", "value": { "stringValue": "prod" } },
          { "key": "k8s.labels", "value": { "kvlistValue": { "values": [ { "key": "team", "value": { "stringValue": "pay" } } ] } } }
        ]
      },
      "scopeLogs": [
        {
          "scope": { "name": "app.logger", "version": "1.2.3" },
          "logRecords": [
            {
              "timeUnixNano": "1700000000123456789",
              "severityNumber": 17,
              "severityText": "ERROR",
              "body": { "stringValue": "payment failed" },
              "attributes": [
                { "key": "http.status_code", "value": { "intValue": 502 } },
                { "key": "retry", "value": { "boolValue": true } },
                { "key": "ratio", "value": { "doubleValue": 0.25 } },
                { "key": "tags", "value": { "arrayValue": { "values": [ { "stringValue": "a" }, { "intValue": "2" } ] } } },
                { "key": "raw", "value": { "bytesValue": "AQID" } }
              ],
              "flags": 1,
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "eee19b7ec3c1b174"
            },
            {
              "timeUnixNano": 1700000000999999999,
              "severityText": "warn",
              "body": { "kvlistValue": { "values": [
                { "key": "event", "value": { "stringValue": "login" } },
                { "key": "user", "value": { "kvlistValue": { "values": [ { "key": "id", "value": { "intValue": 7 } } ] } } }
              ] } },
              "traceId": "00000000000000000000000000000000",
              "spanId": ""
            }
          ]
        },
        {
          "logRecords": [
            {
              "observedTimeUnixNano": "1699999999000001000",
              "severityNumber": 9,
              "body": { "intValue": "42" }
            }
          ]
        }
      ]
    },
    {
      "resource": { "attributes": [ { "key": "service.name", "value": { "stringValue": "worker" } } ] },
      "scopeLogs": [
        {
          "scope": { "name": "jobs", "attributes": [ { "key": "queue", "value": { "stringValue": "emails" } } ] },
          "logRecords": [
            { "severityNumber": 24, "eventName": "job.crashed" }
          ]
        }
      ]
    }
  ]
}`;

const LOGICAL_PROTO = {
  resourceLogs: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'checkout' } },
          { key: 'host.name', value: { stringValue: 'web-1' } },
          { key: 'process.pid', value: { intValue: 4242 } },
          { key: 'deployment.environment', value: { stringValue: 'prod' } },
          { key: 'k8s.labels', value: { kvlistValue: { values: [{ key: 'team', value: { stringValue: 'pay' } }] } } },
        ],
      },
      scopeLogs: [
        {
          scope: { name: 'app.logger', version: '1.2.3' },
          logRecords: [
            {
              timeUnixNano: '1700000000123456789',
              severityNumber: 17,
              severityText: 'ERROR',
              body: { stringValue: 'payment failed' },
              attributes: [
                { key: 'http.status_code', value: { intValue: 502 } },
                { key: 'retry', value: { boolValue: true } },
                { key: 'ratio', value: { doubleValue: 0.25 } },
                { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 2 }] } } },
                { key: 'raw', value: { bytesValue: Buffer.from([1, 2, 3]) } },
              ],
              flags: 1,
              traceId: hex('5b8efff798038103d269b633813fc60c'),
              spanId: hex('eee19b7ec3c1b174'),
            },
            {
              timeUnixNano: '1700000000999999999',
              severityText: 'warn',
              body: {
                kvlistValue: {
                  values: [
                    { key: 'event', value: { stringValue: 'login' } },
                    { key: 'user', value: { kvlistValue: { values: [{ key: 'id', value: { intValue: 7 } }] } } },
                  ],
                },
              },
              traceId: Buffer.alloc(16),
            },
          ],
        },
        {
          logRecords: [{ observedTimeUnixNano: '1699999999000001000', severityNumber: 9, body: { intValue: 42 } }],
        },
      ],
    },
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'worker' } }] },
      scopeLogs: [
        {
          scope: { name: 'jobs', attributes: [{ key: 'queue', value: { stringValue: 'emails' } }] },
          logRecords: [{ severityNumber: 24, eventName: 'job.crashed' }],
        },
      ],
    },
  ],
};

const CHECKOUT_RESOURCE = { 'deployment.environment': 'prod', 'k8s.labels': { team: 'pay' } };

const EXPECTED: LogRecord[] = [
  {
    timestamp: '2023-11-14T22:13:20.123456Z',
    severity: 3,
    level: 'err',
    facility: 1,
    msg: 'payment failed',
    hostname: 'web-1',
    appName: 'checkout',
    procId: '4242',
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    traceFlags: '01',
    attributes: {
      'http.status_code': 502,
      retry: true,
      ratio: 0.25,
      tags: ['a', 2],
      raw: 'AQID',
      resource: CHECKOUT_RESOURCE,
      scope: { name: 'app.logger', version: '1.2.3' },
    },
  },
  {
    // 1700000000999999999 ns: a float64 division would round this up to …:21.000000
    timestamp: '2023-11-14T22:13:20.999999Z',
    severity: 4,
    level: 'warning',
    facility: 1,
    msg: '{"event":"login","user":{"id":7}}',
    hostname: 'web-1',
    appName: 'checkout',
    procId: '4242',
    attributes: { resource: CHECKOUT_RESOURCE, scope: { name: 'app.logger', version: '1.2.3' } },
  },
  {
    timestamp: '2023-11-14T22:13:19.000001Z', // observedTimeUnixNano, since timeUnixNano is 0
    severity: 6,
    level: 'info',
    facility: 1,
    msg: '42',
    hostname: 'web-1',
    appName: 'checkout',
    procId: '4242',
    attributes: { resource: CHECKOUT_RESOURCE },
  },
  {
    timestamp: '2030-01-02T03:04:05.678000Z', // no time at all: time of receipt
    severity: 0,
    level: 'emerg',
    facility: 1,
    msg: '',
    appName: 'worker',
    attributes: { scope: { name: 'jobs', attributes: { queue: 'emails' } } },
  },
];

describe('otlpLogsToRecords: the same request as protobuf and as OTLP/JSON', () => {
  const fromJson = convert(LOGICAL_JSON, 'json');
  const fromProto = convert(encodeProto(LOGICAL_PROTO), 'protobuf');

  it.each([
    { name: 'json', result: fromJson },
    { name: 'protobuf', result: fromProto },
  ])('$name → the expected records, none rejected', ({ result }) => {
    expect(result.rejected).toEqual([]);
    expect(result.records).toEqual(EXPECTED);
  });

  it('both encodings give identical normalized requests and records', () => {
    expect(decodeOtlp('logs', Buffer.from(LOGICAL_JSON), 'json')).toEqual(decodeOtlp('logs', encodeProto(LOGICAL_PROTO), 'protobuf'));
    expect(fromJson).toEqual(fromProto);
  });
});

// ── Severity ────────────────────────────────────────────────────────────────────────────────────
// OTel data model Appendix B: TRACE*/DEBUG* → debug, INFO → info, INFO2-4 → notice, WARN* → warning,
// ERROR → err, ERROR2 → crit, ERROR3-4 → alert, FATAL* → emerg.
const SEVERITY_TABLE: Array<{ name: string; severityNumber: number; severity: number; level: string }> = [
  ['TRACE', 1, 7, 'debug'], ['TRACE2', 2, 7, 'debug'], ['TRACE3', 3, 7, 'debug'], ['TRACE4', 4, 7, 'debug'],
  ['DEBUG', 5, 7, 'debug'], ['DEBUG2', 6, 7, 'debug'], ['DEBUG3', 7, 7, 'debug'], ['DEBUG4', 8, 7, 'debug'],
  ['INFO', 9, 6, 'info'], ['INFO2', 10, 5, 'notice'], ['INFO3', 11, 5, 'notice'], ['INFO4', 12, 5, 'notice'],
  ['WARN', 13, 4, 'warning'], ['WARN2', 14, 4, 'warning'], ['WARN3', 15, 4, 'warning'], ['WARN4', 16, 4, 'warning'],
  ['ERROR', 17, 3, 'err'], ['ERROR2', 18, 2, 'crit'], ['ERROR3', 19, 1, 'alert'], ['ERROR4', 20, 1, 'alert'],
  ['FATAL', 21, 0, 'emerg'], ['FATAL2', 22, 0, 'emerg'], ['FATAL3', 23, 0, 'emerg'], ['FATAL4', 24, 0, 'emerg'],
].map(([label, severityNumber, severity, level]) => ({
  name: `SEVERITY_NUMBER_${label} (${severityNumber})`,
  severityNumber: severityNumber as number,
  severity: severity as number,
  level: level as string,
}));

const TEXT_FALLBACK_TABLE = [
  { name: 'ERROR', severityText: 'ERROR', severity: 3 },
  { name: 'error', severityText: 'error', severity: 3 },
  { name: 'Warning', severityText: 'Warning', severity: 4 },
  { name: 'warn', severityText: 'warn', severity: 4 },
  { name: 'WARN2 (OTel short name with digit)', severityText: 'WARN2', severity: 4 },
  { name: 'info', severityText: 'info', severity: 6 },
  { name: 'notice', severityText: 'notice', severity: 5 },
  { name: 'DEBUG', severityText: 'DEBUG', severity: 7 },
  { name: 'trace', severityText: 'trace', severity: 7 },
  { name: 'fatal', severityText: 'fatal', severity: 2 },
  { name: 'critical', severityText: 'critical', severity: 2 },
  { name: 'emergency', severityText: 'emergency', severity: 0 },
  { name: 'unknown text → info', severityText: 'LOUD', severity: 6 },
  { name: 'no text → info', severityText: '', severity: 6 },
];

function oneRecordProto(record: object): Buffer {
  return encodeProto({ resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] });
}

function oneRecordJson(record: object | string): string {
  const text = typeof record === 'string' ? record : JSON.stringify(record);
  return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[${text}]}]}]}`;
}

const ENCODINGS: OtlpEncoding[] = ['json', 'protobuf'];

function convertOne(record: object, encoding: OtlpEncoding): OtlpLogsResult {
  return encoding === 'json' ? convert(oneRecordJson(record), 'json') : convert(oneRecordProto(record), 'protobuf');
}

describe('severity mapping', () => {
  const cases = SEVERITY_TABLE.flatMap((c) => ENCODINGS.map((encoding) => ({ ...c, name: `${c.name} [${encoding}]`, encoding })));
  it.each(cases)('$name', ({ severityNumber, severity, level, encoding }) => {
    // severityText disagrees on purpose: a set severityNumber wins.
    const { records, rejected } = convertOne({ timeUnixNano: '1', severityNumber, severityText: 'debug', body: { stringValue: 'x' } }, encoding);
    expect(rejected).toEqual([]);
    expect(records.map((r) => [r.severity, r.level])).toEqual([[severity, level]]);
  });

  const textCases = TEXT_FALLBACK_TABLE.flatMap((c) => ENCODINGS.map((encoding) => ({ ...c, name: `severityNumber 0, text ${c.name} [${encoding}]`, encoding })));
  it.each(textCases)('$name', ({ severityText, severity, encoding }) => {
    const { records, rejected } = convertOne({ timeUnixNano: '1', severityNumber: 0, severityText }, encoding);
    expect(rejected).toEqual([]);
    expect(records[0].severity).toBe(severity);
  });
});

// ── Bad input inside an otherwise good request ──────────────────────────────────────────────────
const GOOD_JSON = '{"timeUnixNano":"1700000000000000000","severityNumber":9,"body":{"stringValue":"good"}}';
const GOOD_PROTO = { timeUnixNano: '1700000000000000000', severityNumber: 9, body: { stringValue: 'good' } };

type Outcome =
  | { code: string; message?: RegExp }
  | { check: (record: LogRecord) => void };

interface BadCase {
  name: string;
  /** The middle record: JSON text (for json) or a protobufjs object (for protobuf). */
  json?: string;
  proto?: object;
  options?: OtlpLogsOptions;
  outcome: Outcome;
}

const code = (c: string, message?: RegExp): Outcome => ({ code: `PERISCOPE_ERR_OTLP_${c}`, message });
const big = (n: number, ch = 'x') => ch.repeat(n);

const BAD_CASES: BadCase[] = [
  // wrong field types (OTLP/JSON only: protobuf cannot carry them)
  { name: 'body is a bare string, not an AnyValue', json: '{"body":"hello"}', outcome: code('BAD_FIELD_TYPE', /body/) },
  { name: 'attributes is an object, not an array', json: '{"attributes":{"a":1}}', outcome: code('BAD_FIELD_TYPE', /attributes/) },
  { name: 'attribute intValue is not a number', json: '{"attributes":[{"key":"n","value":{"intValue":"abc"}}]}', outcome: code('BAD_FIELD_TYPE', /attributes\[0\]\.value\.intValue/) },
  { name: 'attribute key is a number', json: '{"attributes":[{"key":5,"value":{"stringValue":"v"}}]}', outcome: code('BAD_FIELD_TYPE') },
  { name: 'AnyValue with two kinds set', json: '{"body":{"stringValue":"a","intValue":1}}', outcome: code('BAD_FIELD_TYPE', /both/) },
  { name: 'severityText is a number', json: '{"severityText":3}', outcome: code('BAD_FIELD_TYPE', /severityText/) },
  { name: 'logRecord is not an object', json: '42', outcome: code('BAD_FIELD_TYPE') },
  { name: 'logRecord is null', json: 'null', outcome: code('BAD_FIELD_TYPE') },
  {
    name: 'body nested 100 levels deep',
    json: `{"body":${'{"arrayValue":{"values":['.repeat(100)}{"stringValue":"deep"}${']}}'.repeat(100)}}`,
    outcome: code('BAD_FIELD_TYPE', /deeper/),
  },
  {
    // 3 protobuf messages per level: past protobufjs' default recursion limit (100), which failed the whole request
    name: 'attribute kvlist nested 100 levels deep [protobuf]',
    proto: { attributes: [{ key: 'k', value: Array.from({ length: 100 }).reduce((v: object) => ({ kvlistValue: { values: [{ key: 'a', value: v }] } }), { stringValue: 'deep' }) }] },
    outcome: code('BAD_FIELD_TYPE', /deeper/),
  },
  // severity
  { name: 'severityNumber 99 (unknown enum value) [json]', json: '{"severityNumber":99}', outcome: code('BAD_SEVERITY', /99/) },
  { name: 'severityNumber 99 (unknown enum value) [protobuf]', proto: { severityNumber: 99 }, outcome: code('BAD_SEVERITY', /99/) },
  { name: 'severityNumber -1', json: '{"severityNumber":-1}', outcome: code('BAD_SEVERITY') },
  { name: 'severityNumber 9.5', json: '{"severityNumber":9.5}', outcome: code('BAD_SEVERITY') },
  { name: 'severityNumber unknown name', json: '{"severityNumber":"SEVERITY_NUMBER_LOUD"}', outcome: code('BAD_SEVERITY') },
  {
    name: 'doubleValue NaN and ±Infinity keep their names (JSON has no such numbers) [protobuf]',
    proto: { body: { doubleValue: Number.NaN }, attributes: [{ key: 'up', value: { doubleValue: Infinity } }, { key: 'down', value: { doubleValue: -Infinity } }] },
    outcome: { check: (r) => expect(JSON.parse(JSON.stringify(r))).toMatchObject({ msg: 'NaN', attributes: { up: 'Infinity', down: '-Infinity' } }) },
  },
  {
    name: 'doubleValue "NaN" and "-Infinity" (proto3 JSON) keep their names [json]',
    json: '{"body":{"doubleValue":"NaN"},"attributes":[{"key":"down","value":{"doubleValue":"-Infinity"}}]}',
    outcome: { check: (r) => expect(JSON.parse(JSON.stringify(r))).toMatchObject({ msg: 'NaN', attributes: { down: '-Infinity' } }) },
  },
  { name: 'severityNumber as enum name (lenient)', json: '{"severityNumber":"SEVERITY_NUMBER_WARN"}', outcome: { check: (r) => expect(r.severity).toBe(4) } },
  { name: 'severityNumber as numeric string (lenient)', json: '{"severityNumber":"17"}', outcome: { check: (r) => expect(r.severity).toBe(3) } },
  // ids
  { name: 'traceId of 30 hex chars', json: `{"traceId":"${big(30, 'a')}"}`, outcome: code('BAD_TRACE_ID', /32 hex/) },
  { name: 'traceId of 15 bytes [protobuf]', proto: { traceId: Buffer.alloc(15, 1) }, outcome: code('BAD_TRACE_ID') },
  { name: 'traceId of 17 bytes [protobuf]', proto: { traceId: Buffer.alloc(17, 1) }, outcome: code('BAD_TRACE_ID') },
  { name: 'traceId not hex', json: `{"traceId":"${big(32, 'z')}"}`, outcome: code('BAD_TRACE_ID') },
  { name: 'traceId base64 instead of hex', json: '{"traceId":"W47/95gDgQPSabYzgT/GDA=="}', outcome: code('BAD_TRACE_ID') },
  { name: 'traceId is a number', json: '{"traceId":12}', outcome: code('BAD_TRACE_ID') },
  { name: 'spanId of 8 hex chars', json: '{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7e"}', outcome: code('BAD_SPAN_ID', /16 hex/) },
  { name: 'spanId of 4 bytes [protobuf]', proto: { spanId: Buffer.alloc(4, 1) }, outcome: code('BAD_SPAN_ID') },
  { name: 'all-zero ids are "not set"', proto: { traceId: Buffer.alloc(16), spanId: Buffer.alloc(8) }, outcome: { check: (r) => expect([r.traceId, r.spanId]).toEqual([undefined, undefined]) } },
  { name: 'flags: the trace flags (low 8 bits) as 2 hex digits, with a traceId', proto: { traceId: Buffer.alloc(16, 1), flags: 0x101 }, outcome: { check: (r) => expect(r.traceFlags).toBe('01') } },
  { name: 'flags 0 with a traceId: not sampled', json: '{"traceId":"5b8efff798038103d269b633813fc60c"}', outcome: { check: (r) => expect(r.traceFlags).toBe('00') } },
  { name: 'flags without a traceId: none', json: '{"flags":1}', outcome: { check: (r) => expect(r.traceFlags).toBeUndefined() } },
  { name: 'uppercase hex ids are lowercased', json: '{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174"}', outcome: { check: (r) => expect([r.traceId, r.spanId]).toEqual(['5b8efff798038103d269b633813fc60c', 'eee19b7ec3c1b174']) } },
  // timestamps, 64-bit integers
  { name: 'timeUnixNano negative', json: '{"timeUnixNano":"-1"}', outcome: code('BAD_TIMESTAMP', /timeUnixNano/) },
  { name: 'timeUnixNano negative number', json: '{"timeUnixNano":-5}', outcome: code('BAD_TIMESTAMP') },
  { name: 'timeUnixNano unparsable', json: '{"timeUnixNano":"soon"}', outcome: code('BAD_TIMESTAMP') },
  { name: 'timeUnixNano fractional', json: '{"timeUnixNano":1.5}', outcome: code('BAD_TIMESTAMP') },
  { name: 'timeUnixNano boolean', json: '{"timeUnixNano":true}', outcome: code('BAD_TIMESTAMP') },
  { name: 'timeUnixNano above 2^64-1', json: '{"timeUnixNano":"18446744073709551616"}', outcome: code('BAD_TIMESTAMP') },
  { name: 'observedTimeUnixNano unparsable', json: '{"observedTimeUnixNano":"x"}', outcome: code('BAD_TIMESTAMP', /observedTimeUnixNano/) },
  { name: '64-bit timestamp as a string', json: '{"timeUnixNano":"1700000000000000001"}', outcome: { check: (r) => expect(r.timestamp).toBe('2023-11-14T22:13:20.000000Z') } },
  { name: '64-bit timestamp as a number above 2^53', json: '{"timeUnixNano":1700000000999999999}', outcome: { check: (r) => expect(r.timestamp).toBe('2023-11-14T22:13:20.999999Z') } },
  { name: '64-bit intValue as a number above 2^53 stays exact', json: '{"attributes":[{"key":"n","value":{"intValue":9007199254740993}}]}', outcome: { check: (r) => expect(r.attributes).toEqual({ n: '9007199254740993' }) } },
  { name: 'max fixed64 timestamp (year 2554, past what the store keeps)', proto: { timeUnixNano: '18446744073709551615' }, outcome: code('BAD_TIMESTAMP', /outside the range the store keeps/) },
  { name: 'last timestamp the store keeps', json: '{"timeUnixNano":"7258118399999999999"}', outcome: { check: (r) => expect(r.timestamp).toBe('2199-12-31T23:59:59.999999Z') } },
  { name: 'first timestamp past it', json: '{"timeUnixNano":"7258118400000000000"}', outcome: code('BAD_TIMESTAMP', /timeUnixNano/) },
  // sizes
  {
    name: 'attribute value over 64 KiB is truncated and flagged',
    json: JSON.stringify({ attributes: [{ key: 'big', value: { stringValue: big(70_000) } }, { key: 'small', value: { stringValue: 'ok' } }] }),
    outcome: {
      check: (r) => {
        expect((r.attributes?.big as string).length).toBe(65_536);
        expect(r.attributes?.small).toBe('ok');
        expect(r.truncated).toEqual(['attributes.big']);
      },
    },
  },
  {
    name: 'multi-byte attribute value is cut on a character boundary',
    proto: { attributes: [{ key: 'euro', value: { stringValue: big(30_000, '€') } }] },
    outcome: {
      check: (r) => {
        const v = r.attributes?.euro as string;
        expect(Buffer.byteLength(v)).toBe(65_535); // 21845 × 3 bytes
        expect(v).toBe(big(21_845, '€'));
        expect(r.truncated).toEqual(['attributes.euro']);
      },
    },
  },
  {
    name: 'string nested in an array attribute is truncated',
    json: JSON.stringify({ attributes: [{ key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: big(100) }] } } }] }),
    options: { ...OPTS, maxAttributeValueBytes: 10 },
    outcome: { check: (r) => expect([r.attributes?.list, r.truncated]).toEqual([['a', big(10)], ['attributes.list']]) },
  },
  { name: 'record over maxRecordBytes', json: JSON.stringify({ body: { stringValue: big(2 * 1024 * 1024) } }), outcome: code('RECORD_TOO_LARGE', /bytes/) },
  { name: 'record over a custom maxRecordBytes', proto: { body: { stringValue: big(600) } }, options: { ...OPTS, maxRecordBytes: 500 }, outcome: code('RECORD_TOO_LARGE') },
];

describe('bad records are rejected one by one; good ones around them are kept', () => {
  const cases = BAD_CASES.map((c) => ({ ...c, encoding: (c.json !== undefined ? 'json' : 'protobuf') as OtlpEncoding }));
  it.each(cases)('$name', ({ json, proto, options, outcome, encoding }) => {
    const body =
      encoding === 'json'
        ? `{"resourceLogs":[{"scopeLogs":[{"logRecords":[${GOOD_JSON},${json}]},{"logRecords":[${GOOD_JSON}]}]}]}`
        : encodeProto({ resourceLogs: [{ scopeLogs: [{ logRecords: [GOOD_PROTO, proto] }, { logRecords: [GOOD_PROTO] }] }] });
    const { records, rejected } = convert(body, encoding, options ?? OPTS);
    if ('code' in outcome) {
      expect(rejected).toEqual([{ index: 1, code: outcome.code, message: expect.stringMatching(outcome.message ?? /./) }]);
      expect(records.map((r) => r.msg)).toEqual(['good', 'good']);
    } else {
      expect(rejected).toEqual([]);
      expect(records).toHaveLength(3);
      expect(records[0].msg).toBe('good');
      expect(records[2].msg).toBe('good');
      outcome.check(records[1]);
    }
  });
});

describe('problems above the record level', () => {
  it('a bad resource rejects only the records under it, with their document-order indexes', () => {
    const body = `{"resourceLogs":[
      {"scopeLogs":[{"logRecords":[${GOOD_JSON}]}]},
      {"resource":{"attributes":"service.name=x"},"scopeLogs":[{"logRecords":[${GOOD_JSON},${GOOD_JSON}]}]},
      {"scopeLogs":[{"scope":{"name":7},"logRecords":[${GOOD_JSON}]},{"logRecords":[${GOOD_JSON}]}]}
    ]}`;
    const { records, rejected } = convert(body, 'json');
    expect(rejected).toEqual([
      { index: 1, code: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE', message: expect.stringContaining('resourceLogs[1].resource.attributes') },
      { index: 2, code: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE', message: expect.stringContaining('resourceLogs[1].resource.attributes') },
      { index: 3, code: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE', message: expect.stringContaining('scope.name') },
    ]);
    expect(records).toHaveLength(2);
  });

  it('resource attributes over the limit are truncated and flagged on every record', () => {
    const body = encodeProto({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }, { key: 'blob', value: { stringValue: big(20) } }] },
          scopeLogs: [{ scope: { name: 's', attributes: [{ key: 'note', value: { stringValue: big(30) } }] }, logRecords: [GOOD_PROTO, GOOD_PROTO] }],
        },
      ],
    });
    const { records } = convert(body, 'protobuf', { ...OPTS, maxAttributeValueBytes: 8 });
    expect(records).toHaveLength(2);
    for (const r of records) {
      expect(r.appName).toBe('svc');
      expect(r.attributes).toEqual({ resource: { blob: big(8) }, scope: { name: 's', attributes: { note: big(8) } } });
      expect(r.truncated).toEqual(['attributes.resource.blob', 'attributes.scope.attributes.note']);
    }
  });

  it('RFC 5424 header limits still apply (appName over 48 characters)', () => {
    const body = encodeProto({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: big(60, 'a') } }] }, scopeLogs: [{ logRecords: [GOOD_PROTO] }] }] });
    const [record] = convert(body, 'protobuf').records;
    expect(record.appName).toBe(big(48, 'a'));
    expect(record.truncated).toEqual(['appName']);
    // the whole name stays a resource attribute (spans keep it whole): only its first 48 characters were kept
    expect(record.attributes).toEqual({ resource: { 'service.name': big(60, 'a') } });
  });

  it('a host.name over 255 characters is cut in hostname and kept whole under resource; names that fit are not repeated', () => {
    const host = `${big(250, 'h')}.example`;
    const body = encodeProto({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }, { key: 'host.name', value: { stringValue: host } }] }, scopeLogs: [{ logRecords: [GOOD_PROTO] }] }] });
    const [record] = convert(body, 'protobuf').records;
    expect([record.appName, record.hostname, record.truncated]).toEqual(['svc', host.slice(0, 255), ['hostname']]);
    expect(record.attributes).toEqual({ resource: { 'host.name': host } });
  });

  it('a log attribute named "resource" is kept aside, not overwritten', () => {
    const body = encodeProto({
      resourceLogs: [{
        resource: { attributes: [{ key: 'region', value: { stringValue: 'eu' } }] },
        scopeLogs: [{ logRecords: [{ ...GOOD_PROTO, attributes: [{ key: 'resource', value: { stringValue: 'mine' } }] }] }],
      }],
    });
    expect(convert(body, 'protobuf').records[0].attributes).toEqual({ 'log.resource': 'mine', resource: { region: 'eu' } });
  });
});

// ── Whole-request outcomes ───────────────────────────────────────────────────────────────────────
interface RequestCase {
  name: string;
  encoding: OtlpEncoding;
  body: Buffer | string;
  outcome: { throws: RegExp } | { records: number };
}

const REQUEST_CASES: RequestCase[] = [
  { name: 'garbage protobuf (length past the end)', encoding: 'protobuf', body: Buffer.from([0x0a, 0x10, 0x01]), outcome: { throws: /invalid protobuf/ } },
  { name: 'garbage protobuf (bad wire type)', encoding: 'protobuf', body: Buffer.from([0x0f]), outcome: { throws: /invalid protobuf/ } },
  { name: 'garbage protobuf (text)', encoding: 'protobuf', body: 'hello world, not protobuf', outcome: { throws: /invalid protobuf/ } },
  { name: 'JSON sent as protobuf', encoding: 'protobuf', body: oneRecordJson(GOOD_JSON), outcome: { throws: /invalid protobuf/ } },
  { name: 'truncated JSON', encoding: 'json', body: '{"resourceLogs": [', outcome: { throws: /invalid JSON/ } },
  { name: 'JSON that is an array', encoding: 'json', body: '[]', outcome: { throws: /top level must be an object, got an array/ } },
  { name: 'JSON null', encoding: 'json', body: 'null', outcome: { throws: /top level must be an object/ } },
  { name: 'JSON string', encoding: 'json', body: '"resourceLogs"', outcome: { throws: /top level must be an object/ } },
  { name: 'JSON that is not UTF-8', encoding: 'json', body: Buffer.from([0x7b, 0xff, 0x7d]), outcome: { throws: /UTF-8/ } },
  { name: 'resourceLogs not an array', encoding: 'json', body: '{"resourceLogs":{}}', outcome: { throws: /resourceLogs must be an array/ } },
  { name: 'scopeLogs element not an object', encoding: 'json', body: '{"resourceLogs":[{"scopeLogs":[1]}]}', outcome: { throws: /scopeLogs\[0\] must be an object/ } },
  { name: 'logRecords not an array', encoding: 'json', body: '{"resourceLogs":[{"scopeLogs":[{"logRecords":"x"}]}]}', outcome: { throws: /logRecords must be an array/ } },
  { name: 'empty protobuf body', encoding: 'protobuf', body: Buffer.alloc(0), outcome: { records: 0 } },
  { name: 'empty JSON body', encoding: 'json', body: '', outcome: { records: 0 } },
  { name: 'whitespace-only JSON body', encoding: 'json', body: ' \n ', outcome: { records: 0 } },
  { name: 'empty JSON object', encoding: 'json', body: '{}', outcome: { records: 0 } },
  { name: 'JSON with a BOM', encoding: 'json', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(oneRecordJson(GOOD_JSON))]), outcome: { records: 1 } },
  { name: 'unknown JSON fields are ignored', encoding: 'json', body: `{"future":1,"resourceLogs":[{"x":[],"scopeLogs":[{"logRecords":[{"newField":{"a":1},"body":{"stringValue":"ok"}}]}]}]}`, outcome: { records: 1 } },
  { name: 'snake_case JSON field names are accepted', encoding: 'json', body: '{"resource_logs":[{"scope_logs":[{"log_records":[{"time_unix_nano":"5","severity_number":9}]}]}]}', outcome: { records: 1 } },
  { name: 'null members mean "not set"', encoding: 'json', body: '{"resourceLogs":[{"resource":null,"scopeLogs":[{"scope":null,"logRecords":[{"body":null,"attributes":null,"traceId":null}]}]}]}', outcome: { records: 1 } },
];

describe('whole-request outcomes', () => {
  it.each(REQUEST_CASES)('$name', ({ encoding, body, outcome }) => {
    const run = () => convert(Buffer.from(body), encoding);
    if ('throws' in outcome) {
      let error: unknown;
      try {
        run();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(OtlpDecodeError);
      expect(error).toMatchObject({ code: 'PERISCOPE_ERR_OTLP_DECODE', message: expect.stringMatching(outcome.throws) });
    } else {
      const { records, rejected } = run();
      expect(rejected).toEqual([]);
      expect(records).toHaveLength(outcome.records);
    }
  });
});
