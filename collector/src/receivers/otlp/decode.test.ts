import { describe, expect, it } from 'vitest';
import { decodeOtlp, OtlpDecodeError } from './decode.ts';
import type { OtlpKind } from './decode.ts';
import { REQUEST_TYPES } from './schema.ts';

const hex = (s: string) => Buffer.from(s, 'hex');

function encodeProto(kind: OtlpKind, request: object): Buffer {
  const type = REQUEST_TYPES[kind];
  const message = type.fromObject(request);
  const err = type.verify(message);
  if (err) throw new Error(`bad test fixture: ${err}`);
  return Buffer.from(type.encode(message).finish());
}

const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const SPAN_ID = 'eee19b7ec3c1b174';
const PARENT_ID = '0102030405060708';
const LINKED_TRACE = 'ffeeddccbbaa99887766554433221100';

// ── Traces ──────────────────────────────────────────────────────────────────────────────────────
const TRACES_PROTO = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }], droppedAttributesCount: 1 },
      schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
      scopeSpans: [
        {
          scope: { name: 'http', version: '2' },
          spans: [
            {
              traceId: hex(TRACE_ID),
              spanId: hex(SPAN_ID),
              parentSpanId: hex(PARENT_ID),
              traceState: 'k=v',
              flags: 257,
              name: 'GET /',
              kind: 2,
              startTimeUnixNano: '1700000000123456789',
              endTimeUnixNano: '1700000000999999999',
              attributes: [
                { key: 'http.status_code', value: { intValue: 200 } },
                { key: 'min', value: { intValue: '-9223372036854775808' } },
                { key: 'inf', value: { doubleValue: Number.POSITIVE_INFINITY } },
              ],
              events: [{ timeUnixNano: '1700000000500000000', name: 'exception', attributes: [{ key: 'exception.message', value: { stringValue: 'boom' } }] }],
              links: [{ traceId: hex(LINKED_TRACE), spanId: hex(PARENT_ID), flags: 1 }],
              status: { code: 2, message: 'failed' },
            },
            { traceId: hex(TRACE_ID), spanId: hex(PARENT_ID), name: 'root', kind: 1, startTimeUnixNano: '1', endTimeUnixNano: '2' },
          ],
        },
      ],
    },
  ],
};

// The same request as an OTLP/JSON exporter writes it: hex ids (any case), enums as integers (one as
// its name, which we accept), 64-bit integers as strings or bare numbers.
const TRACES_JSON = `{
  "resourceSpans": [{
    "resource": { "attributes": [ { "key": "service.name", "value": { "stringValue": "api" } } ], "droppedAttributesCount": 1 },
    "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
    "scopeSpans": [{
      "scope": { "name": "http", "version": "2" },
      "spans": [
        {
          "traceId": "5B8EFFF798038103D269B633813FC60C",
          "spanId": "eee19b7ec3c1b174",
          "parentSpanId": "0102030405060708",
          "traceState": "k=v",
          "flags": 257,
          "name": "GET /",
          "kind": 2,
          "startTimeUnixNano": 1700000000123456789,
          "endTimeUnixNano": "1700000000999999999",
          "attributes": [
            { "key": "http.status_code", "value": { "intValue": 200 } },
            { "key": "min", "value": { "intValue": "-9223372036854775808" } },
            { "key": "inf", "value": { "doubleValue": "Infinity" } }
          ],
          "events": [ { "timeUnixNano": "1700000000500000000", "name": "exception",
                        "attributes": [ { "key": "exception.message", "value": { "stringValue": "boom" } } ] } ],
          "links": [ { "traceId": "ffeeddccbbaa99887766554433221100", "spanId": "0102030405060708", "flags": 1 } ],
          "status": { "code": 2, "message": "failed" }
        },
        {
          "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "0102030405060708", "name": "root",
          "kind": "SPAN_KIND_INTERNAL", "startTimeUnixNano": 1, "endTimeUnixNano": "2"
        }
      ]
    }]
  }]
}`;

const EXPECTED_TRACES = {
  resourceSpans: [
    {
      resource: { attributes: { 'service.name': 'api' }, droppedAttributesCount: 1 },
      schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
      scopeSpans: [
        {
          scope: { name: 'http', version: '2', attributes: {}, droppedAttributesCount: 0 },
          schemaUrl: '',
          spans: [
            {
              traceId: TRACE_ID,
              spanId: SPAN_ID,
              parentSpanId: PARENT_ID,
              traceState: 'k=v',
              flags: 257,
              name: 'GET /',
              kind: 2,
              startTimeUnixNano: '1700000000123456789',
              endTimeUnixNano: '1700000000999999999',
              attributes: { 'http.status_code': 200, min: '-9223372036854775808', inf: 'Infinity' },
              droppedAttributesCount: 0,
              events: [
                { timeUnixNano: '1700000000500000000', name: 'exception', attributes: { 'exception.message': 'boom' }, droppedAttributesCount: 0 },
              ],
              droppedEventsCount: 0,
              links: [{ traceId: LINKED_TRACE, spanId: PARENT_ID, traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 1 }],
              droppedLinksCount: 0,
              status: { message: 'failed', code: 2 },
            },
            {
              traceId: TRACE_ID,
              spanId: PARENT_ID,
              parentSpanId: '',
              traceState: '',
              flags: 0,
              name: 'root',
              kind: 1,
              startTimeUnixNano: '1',
              endTimeUnixNano: '2',
              attributes: {},
              droppedAttributesCount: 0,
              events: [],
              droppedEventsCount: 0,
              links: [],
              droppedLinksCount: 0,
              // no status: absent messages stay absent
            },
          ],
        },
      ],
    },
  ],
};

// ── Metrics ─────────────────────────────────────────────────────────────────────────────────────
const METRICS_PROTO = {
  resourceMetrics: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
      scopeMetrics: [
        {
          scope: { name: 'meter' },
          metrics: [
            {
              name: 'queue.depth',
              unit: '1',
              gauge: {
                dataPoints: [
                  { timeUnixNano: '1700000000000000001', asInt: '-5', attributes: [{ key: 'queue', value: { stringValue: 'a' } }] },
                  { timeUnixNano: '1700000000000000002', asDouble: 0.5, flags: 1 },
                ],
              },
              metadata: [{ key: 'origin', value: { stringValue: 'prometheus' } }],
            },
            {
              name: 'requests',
              sum: {
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: [
                  {
                    startTimeUnixNano: '1699999999000000000',
                    timeUnixNano: '1700000000000000000',
                    asInt: '9223372036854775807',
                    exemplars: [
                      { timeUnixNano: '1699999999500000000', asDouble: 1.25, traceId: hex(TRACE_ID), spanId: hex(SPAN_ID), filteredAttributes: [{ key: 'user', value: { stringValue: 'u1' } }] },
                    ],
                  },
                ],
              },
            },
            {
              name: 'latency',
              unit: 'ms',
              histogram: {
                aggregationTemporality: 1,
                dataPoints: [{ timeUnixNano: '5', count: '10', sum: 12.5, bucketCounts: ['1', '9'], explicitBounds: [1], max: 9 }],
              },
            },
            {
              name: 'latency.exp',
              exponentialHistogram: {
                aggregationTemporality: 1,
                dataPoints: [{ timeUnixNano: '6', count: '3', scale: -2, zeroCount: '1', positive: { offset: -3, bucketCounts: ['1', '1'] }, zeroThreshold: 0.001 }],
              },
            },
            {
              name: 'gc.pause',
              summary: { dataPoints: [{ timeUnixNano: '7', count: '3', sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }, { quantile: 1, value: 2 }] }] },
            },
          ],
        },
      ],
    },
  ],
};

const METRICS_JSON = `{"resourceMetrics":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
  "scopeMetrics":[{"scope":{"name":"meter"},"metrics":[
    {"name":"queue.depth","unit":"1",
     "gauge":{"dataPoints":[
       {"timeUnixNano":"1700000000000000001","asInt":-5,"attributes":[{"key":"queue","value":{"stringValue":"a"}}]},
       {"timeUnixNano":1700000000000000002,"asDouble":0.5,"flags":1}]},
     "metadata":[{"key":"origin","value":{"stringValue":"prometheus"}}]},
    {"name":"requests",
     "sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
       {"startTimeUnixNano":"1699999999000000000","timeUnixNano":"1700000000000000000","asInt":"9223372036854775807",
        "exemplars":[{"timeUnixNano":"1699999999500000000","asDouble":1.25,"traceId":"${TRACE_ID}","spanId":"${SPAN_ID.toUpperCase()}",
                      "filteredAttributes":[{"key":"user","value":{"stringValue":"u1"}}]}]}]}},
    {"name":"latency","unit":"ms",
     "histogram":{"aggregationTemporality":1,"dataPoints":[
       {"timeUnixNano":5,"count":"10","sum":12.5,"bucketCounts":["1",9],"explicitBounds":[1],"max":9}]}},
    {"name":"latency.exp",
     "exponentialHistogram":{"aggregationTemporality":1,"dataPoints":[
       {"timeUnixNano":"6","count":3,"scale":-2,"zeroCount":"1","positive":{"offset":-3,"bucketCounts":["1","1"]},"zeroThreshold":0.001}]}},
    {"name":"gc.pause",
     "summary":{"dataPoints":[{"timeUnixNano":"7","count":"3","sum":3,"quantileValues":[{"quantile":0.5,"value":1},{"quantile":1,"value":2}]}]}}
  ]}]
}]}`;

describe('decodeOtlp: traces and metrics decode to the same normalized shape from both encodings', () => {
  const cases = [
    { name: 'traces', kind: 'traces' as const, proto: TRACES_PROTO, json: TRACES_JSON },
    { name: 'metrics', kind: 'metrics' as const, proto: METRICS_PROTO, json: METRICS_JSON },
  ];
  it.each(cases)('$name: protobuf and JSON are deep-equal', ({ kind, proto, json }) => {
    const fromProto = decodeOtlp(kind, encodeProto(kind, proto), 'protobuf');
    const fromJson = decodeOtlp(kind, Buffer.from(json), 'json');
    expect(fromJson).toEqual(fromProto);
    expect(JSON.stringify(fromJson)).not.toContain('$issues');
  });

  it.each([
    { name: 'protobuf', body: () => encodeProto('traces', TRACES_PROTO), encoding: 'protobuf' as const },
    { name: 'json', body: () => Buffer.from(TRACES_JSON), encoding: 'json' as const },
  ])('traces [$name] → the documented shape (hex ids, decimal-string times, enum numbers)', ({ body, encoding }) => {
    expect(decodeOtlp('traces', body(), encoding)).toEqual(EXPECTED_TRACES);
  });

  it.each([
    { name: 'protobuf', body: () => encodeProto('metrics', METRICS_PROTO), encoding: 'protobuf' as const },
    { name: 'json', body: () => Buffer.from(METRICS_JSON), encoding: 'json' as const },
  ])('metrics [$name] → the documented shape', ({ body, encoding }) => {
    const req = decodeOtlp('metrics', body(), encoding);
    const [gauge, sum, histogram, exp, summary] = req.resourceMetrics[0].scopeMetrics[0].metrics as Array<Record<string, any>>;
    expect(gauge).toEqual({
      name: 'queue.depth',
      description: '',
      unit: '1',
      gauge: {
        dataPoints: [
          { attributes: { queue: 'a' }, startTimeUnixNano: '0', timeUnixNano: '1700000000000000001', asInt: '-5', exemplars: [], flags: 0 },
          { attributes: {}, startTimeUnixNano: '0', timeUnixNano: '1700000000000000002', asDouble: 0.5, exemplars: [], flags: 1 },
        ],
      },
      metadata: { origin: 'prometheus' },
    });
    expect(sum.sum).toMatchObject({ aggregationTemporality: 2, isMonotonic: true });
    expect(sum.sum.dataPoints[0].asInt).toBe('9223372036854775807');
    expect(sum.sum.dataPoints[0].exemplars).toEqual([
      { filteredAttributes: { user: 'u1' }, timeUnixNano: '1699999999500000000', asDouble: 1.25, spanId: SPAN_ID, traceId: TRACE_ID },
    ]);
    expect(histogram.histogram.dataPoints[0]).toEqual({
      attributes: {},
      startTimeUnixNano: '0',
      timeUnixNano: '5',
      count: '10',
      sum: 12.5,
      bucketCounts: ['1', '9'],
      explicitBounds: [1],
      exemplars: [],
      flags: 0,
      max: 9, // proto3 optional: present; `min` was not sent and stays absent
    });
    expect(exp.exponentialHistogram.dataPoints[0]).toEqual({
      attributes: {},
      startTimeUnixNano: '0',
      timeUnixNano: '6',
      count: '3',
      scale: -2,
      zeroCount: '1',
      positive: { offset: -3, bucketCounts: ['1', '1'] },
      flags: 0,
      exemplars: [],
      zeroThreshold: 0.001,
    });
    expect(summary.summary.dataPoints[0]).toMatchObject({ count: '3', sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }, { quantile: 1, value: 2 }] });
  });
});

describe('decodeOtlp: OTLP/JSON type errors become $issues on the innermost kept message', () => {
  it.each([
    {
      name: 'span with a non-hex parentSpanId',
      kind: 'traces' as const,
      json: '{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"ok"},{"name":"bad","parentSpanId":"xyz"}]}]}]}',
      at: (r: any) => r.resourceSpans[0].scopeSpans[0].spans,
      issues: [undefined, [{ field: 'parentSpanId', path: 'resourceSpans[0].scopeSpans[0].spans[1].parentSpanId', message: expect.stringMatching(/hex/) }]],
    },
    {
      name: 'span event attributes not an array (issue lands on the event)',
      kind: 'traces' as const,
      json: '{"resourceSpans":[{"scopeSpans":[{"spans":[{"events":[{"name":"e","attributes":5}]}]}]}]}',
      at: (r: any) => [r.resourceSpans[0].scopeSpans[0].spans[0], r.resourceSpans[0].scopeSpans[0].spans[0].events[0]],
      issues: [undefined, [{ field: 'attributes', path: 'resourceSpans[0].scopeSpans[0].spans[0].events[0].attributes', message: expect.stringMatching(/array/) }]],
    },
    {
      name: 'metric with two data kinds',
      kind: 'metrics' as const,
      json: '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{},"sum":{}}]}]}]}',
      at: (r: any) => r.resourceMetrics[0].scopeMetrics[0].metrics,
      issues: [[{ field: 'gauge', path: 'resourceMetrics[0].scopeMetrics[0].metrics[0].data', message: expect.stringMatching(/only one of gauge, sum/) }]],
    },
    {
      name: 'data point asInt not an integer',
      kind: 'metrics' as const,
      json: '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"asInt":1.5}]}}]}]}]}',
      at: (r: any) => r.resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints,
      issues: [[{ field: 'asInt', path: 'resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asInt', message: expect.stringMatching(/integer/) }]],
    },
    {
      name: 'log record enum value that is not an integer',
      kind: 'logs' as const,
      json: '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":99},{"severityNumber":9.5}]}]}]}',
      at: (r: any) => r.resourceLogs[0].scopeLogs[0].logRecords,
      // 99 is an unknown but well-formed enum value: kept (the logs normaliser rejects it), no issue here
      issues: [undefined, [{ field: 'severityNumber', path: 'resourceLogs[0].scopeLogs[0].logRecords[1].severityNumber', message: expect.stringMatching(/integer/) }]],
    },
    {
      name: 'non-object span keeps its place',
      kind: 'traces' as const,
      json: '{"resourceSpans":[{"scopeSpans":[{"spans":["oops",{"name":"ok"}]}]}]}',
      at: (r: any) => r.resourceSpans[0].scopeSpans[0].spans,
      issues: [[{ field: '', path: 'resourceSpans[0].scopeSpans[0].spans[0]', message: expect.stringMatching(/expected an object/) }], undefined],
    },
  ])('$name', ({ kind, json, at, issues }) => {
    const messages = at(decodeOtlp(kind, Buffer.from(json), 'json')) as Array<{ $issues?: unknown }>;
    expect(messages.map((m) => m.$issues)).toEqual(issues);
  });

  it.each([
    { name: 'traces: resourceSpans not an array', kind: 'traces' as const, json: '{"resourceSpans":"x"}' },
    { name: 'traces: spans not an array', kind: 'traces' as const, json: '{"resourceSpans":[{"scopeSpans":[{"spans":{}}]}]}' },
    { name: 'metrics: scopeMetrics element not an object', kind: 'metrics' as const, json: '{"resourceMetrics":[{"scopeMetrics":[[]]}]}' },
    { name: 'metrics: top level is an array', kind: 'metrics' as const, json: '[{"resourceMetrics":[]}]' },
  ])('whole request rejected: $name', ({ kind, json }) => {
    expect(() => decodeOtlp(kind, Buffer.from(json), 'json')).toThrow(OtlpDecodeError);
  });

  it.each([
    { name: 'traces protobuf', kind: 'traces' as const },
    { name: 'metrics protobuf', kind: 'metrics' as const },
  ])('garbage bytes: $name', ({ kind }) => {
    expect(() => decodeOtlp(kind, Buffer.from([0x0a, 0x10, 0x01]), 'protobuf')).toThrow(/PERISCOPE_ERR_OTLP_DECODE|invalid protobuf/);
  });
});

describe('decodeOtlp: invalid UTF-8 in a protobuf string field', () => {
  it.each([
    { name: 'short string', text: 'AAAA' },
    { name: 'long string', text: `AAAA${'x'.repeat(100)}` },
  ])('becomes U+FFFD and the other records are kept ($name)', ({ text }) => {
    const body = encodeProto('logs', {
      resourceLogs: [{ scopeLogs: [{ logRecords: [
        { body: { stringValue: text }, attributes: [{ key: 'k', value: { stringValue: 'BBBB' } }] },
        { body: { stringValue: 'valid' } },
      ] }] }],
    });
    for (const marker of ['AAAA', 'BBBB']) body.set([0xff, 0xfe, 0xed, 0xa0], body.indexOf(marker));
    const [bad, good] = decodeOtlp('logs', body, 'protobuf').resourceLogs[0].scopeLogs[0].logRecords;
    expect(bad.body).toBe(`\ufffd\ufffd\ufffd\ufffd${text.slice(4)}`);
    expect(bad.attributes).toEqual({ k: '\ufffd\ufffd\ufffd\ufffd' });
    expect(good.body).toBe('valid');
  });
});
