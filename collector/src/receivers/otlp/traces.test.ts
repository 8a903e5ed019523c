import { describe, expect, it } from 'vitest';
import { decodeOtlp } from './decode.ts';
import { REQUEST_TYPES } from './schema.ts';
import { otlpTracesToSpans, type OtlpTracesOptions, type OtlpTracesResult } from './traces.ts';

const TracesRequest = REQUEST_TYPES.traces;

function fromJson(body: unknown, options?: OtlpTracesOptions): OtlpTracesResult {
  return otlpTracesToSpans(decodeOtlp('traces', Buffer.from(JSON.stringify(body)), 'json'), options);
}

function fromProto(request: object): OtlpTracesResult {
  const message = TracesRequest.fromObject(request);
  const err = TracesRequest.verify(message);
  if (err) throw new Error(`bad fixture: ${err}`);
  return otlpTracesToSpans(decodeOtlp('traces', Buffer.from(TracesRequest.encode(message).finish()), 'protobuf'));
}

const TRACE = '5b8efff798038103d269b633813fc60c';
const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
const RESOURCE = { attributes: [kv('service.name', 'shop'), kv('service.instance.id', 'i-1'), kv('host.name', 'h1')] };

function span(extra: Record<string, unknown> = {}) {
  return { traceId: TRACE, spanId: 'eee19b7ec3c1b174', name: 'GET /cart', kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000250000000', ...extra };
}

function request(spans: unknown[]) {
  return { resourceSpans: [{ resource: RESOURCE, scopeSpans: [{ scope: { name: 'http', version: '1' }, spans }] }] };
}

describe('OTLP traces → span records', () => {
  it('maps ids, times, kind, status, resource, scope, events and links (JSON and protobuf alike)', () => {
    const full = span({
      parentSpanId: '0000000000000000',
      status: { code: 2, message: 'boom' },
      attributes: [kv('http.route', '/cart')],
      events: [{ timeUnixNano: '1700000000100000000', name: 'retry', attributes: [kv('n', '1')] }],
      links: [{ traceId: 'aa'.repeat(16), spanId: 'bb'.repeat(8), attributes: [] }],
    });
    const json = fromJson(request([full]));
    expect(json.rejected).toEqual([]);
    expect(json.spans[0]).toEqual({
      traceId: TRACE,
      spanId: 'eee19b7ec3c1b174',
      parentSpanId: null,
      name: 'GET /cart',
      kind: 2,
      startNs: 1700000000000000000n,
      endNs: 1700000000250000000n,
      service: 'shop',
      job: 'shop',
      instance: 'i-1',
      statusCode: 2,
      statusMessage: 'boom',
      attributes: { 'http.route': '/cart' },
      events: [{ timeUnixNano: '1700000000100000000', name: 'retry', attributes: { n: '1' } }],
      links: [{ traceId: 'aa'.repeat(16), spanId: 'bb'.repeat(8), attributes: {} }],
      resource: { 'host.name': 'h1' },
      scope: { name: 'http', version: '1' },
    });
    const hex = (s: string) => Buffer.from(s, 'hex');
    const proto = fromProto({
      resourceSpans: [{
        resource: RESOURCE,
        scopeSpans: [{
          scope: { name: 'http', version: '1' },
          spans: [{
            ...full,
            traceId: hex(TRACE), spanId: hex('eee19b7ec3c1b174'), parentSpanId: hex('0000000000000000'),
            links: [{ traceId: hex('aa'.repeat(16)), spanId: hex('bb'.repeat(8)) }],
          }],
        }],
      }],
    });
    expect(proto.spans).toEqual(json.spans);
  });

  it.each([
    { name: '4-byte trace id', bad: { traceId: '0a0b0c0d' }, code: 'PERISCOPE_ERR_OTLP_BAD_TRACE_ID' },
    { name: 'missing trace id', bad: { traceId: '' }, code: 'PERISCOPE_ERR_OTLP_BAD_TRACE_ID' },
    { name: 'all-zero trace id', bad: { traceId: '0'.repeat(32) }, code: 'PERISCOPE_ERR_OTLP_BAD_TRACE_ID' },
    { name: 'non-hex trace id (JSON)', bad: { traceId: 'zz'.repeat(16) }, code: 'PERISCOPE_ERR_OTLP_BAD_TRACE_ID' },
    { name: '12-byte span id', bad: { spanId: 'ab'.repeat(12) }, code: 'PERISCOPE_ERR_OTLP_BAD_SPAN_ID' },
    { name: 'bad parent id length', bad: { parentSpanId: 'abcd' }, code: 'PERISCOPE_ERR_OTLP_BAD_SPAN_ID' },
    { name: 'unknown span kind', bad: { kind: 9 }, code: 'PERISCOPE_ERR_OTLP_BAD_SPAN_KIND' },
    { name: 'unknown span kind name', bad: { kind: 'SPAN_KIND_WEIRD' }, code: 'PERISCOPE_ERR_OTLP_BAD_SPAN_KIND' },
    { name: 'unknown status code', bad: { status: { code: 7 } }, code: 'PERISCOPE_ERR_OTLP_BAD_STATUS' },
    { name: 'start time as an object', bad: { startTimeUnixNano: { n: 1 } }, code: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP' },
    { name: 'no start time', bad: { startTimeUnixNano: '0' }, code: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP' },
    { name: 'end before start', bad: { endTimeUnixNano: '1' }, code: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP' },
    { name: 'end in 2262 (int64 max)', bad: { endTimeUnixNano: '9223372036854775807' }, code: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP' },
    { name: 'end past int64', bad: { endTimeUnixNano: '9223372036854775808' }, code: 'PERISCOPE_ERR_OTLP_BAD_TIMESTAMP' },
    { name: 'name of the wrong type', bad: { name: 42 }, code: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE' },
    { name: 'attribute value of the wrong type', bad: { attributes: [{ key: 'a', value: { intValue: 'x' } }] }, code: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE' },
    { name: 'event with a wrong field type', bad: { events: [{ name: 1 }] }, code: 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE' },
  ])('$name → $code; the spans around it are kept', ({ bad, code }) => {
    const r = fromJson(request([span({ spanId: '1111111111111111' }), span(bad), span({ spanId: '3333333333333333' })]));
    expect(r.rejected).toEqual([{ index: 1, code, message: expect.any(String) }]);
    expect(r.spans.map((s) => s.spanId)).toEqual(['1111111111111111', '3333333333333333']);
  });

  it('huge attribute values are cut at a character boundary and listed in truncated; the span is kept', () => {
    const r = fromJson(request([span({ attributes: [kv('sql', 'é'.repeat(40_000))], events: [{ timeUnixNano: '1', name: 'e', attributes: [kv('x', 'y'.repeat(70_000))] }] })]));
    expect(r.rejected).toEqual([]);
    const s = r.spans[0];
    expect(Buffer.byteLength(s.attributes.sql as string)).toBeLessThanOrEqual(65_536);
    expect((s.attributes.sql as string).endsWith('é')).toBe(true);
    expect(s.truncated).toEqual(['attributes.sql', 'events[0].attributes.x']);
  });

  it('a span still over maxSpanBytes after truncation is rejected', () => {
    const attributes = Array.from({ length: 40 }, (_, i) => kv(`k${i}`, 'v'.repeat(1000)));
    const r = fromJson(request([span({ attributes })]), { maxSpanBytes: 10_000 });
    expect(r.rejected[0].code).toBe('PERISCOPE_ERR_OTLP_SPAN_TOO_LARGE');
  });

  it('a non-object span keeps the index numbering of the others', () => {
    const r = fromJson(request([span({ spanId: '1111111111111111' }), 'garbage', span({ spanId: '3333333333333333', kind: 99 })]));
    expect(r.rejected.map((x) => [x.index, x.code])).toEqual([[1, 'PERISCOPE_ERR_OTLP_BAD_FIELD_TYPE'], [2, 'PERISCOPE_ERR_OTLP_BAD_SPAN_KIND']]);
    expect(r.spans).toHaveLength(1);
  });
});
