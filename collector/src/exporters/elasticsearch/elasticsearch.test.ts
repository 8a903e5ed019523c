import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterPath, startElasticsearchServer, type ElasticsearchServer } from '../../../../test/servers/elasticsearch.ts';
import type { Sleep } from '../retry.ts';
import { describeExporter, logExporterUnderTest, logHarness, SECRETS, testDeliveryOptions, testRecord } from '../describe-exporter.ts';
import type { LogItem, Logger } from '../sink.ts';
import { elasticsearchConfigSchema, type ElasticsearchConfig } from './config.ts';
import { documentId, toDocument } from './document.ts';
import { ElasticsearchSink } from './sink.ts';
import { SpanExport, type SpanSource } from './span-export.ts';
import type { StoredSpan } from '../../traces/span-store.ts';

function esConfig(fields: Partial<ElasticsearchConfig> & { url: string }): ElasticsearchConfig {
  return Value.Default(elasticsearchConfigSchema, { type: 'elasticsearch', name: 'es', ...structuredClone(fields) }) as ElasticsearchConfig;
}

describeExporter({
  name: 'elasticsearch',
  auth: ['basic', 'apiKey'],
  okBody: '{"errors":false}',
  // A 2xx without a bulk result cannot tell which documents were written: send again (409s make it harmless).
  expect: { 204: 'retryable' },
  make: (url, auth, logger) => logExporterUnderTest(() => new ElasticsearchSink(esConfig({ url, auth }), 'instance-1'), logger),
});

describe('ECS document mapping', () => {
  it('maps every record field to its ECS (or documented periscope.*) field', () => {
    const record = testRecord({
      timestamp: '2026-03-01T10:00:00.123456Z', severity: 3, appName: 'checkout', hostname: 'web-1', procId: '42', msgId: 'ORDER', msg: 'card declined',
      traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', structuredData: { 'order@32473': { id: '1001' } },
      attributes: { 'http.method': 'POST', retries: 3, ok: false, user: { id: 'u1' }, nothing: null }, truncated: ['appName'],
    });
    expect(toDocument({ id: 77, micros: 0, record }, { env: 'prod' })).toEqual({
      '@timestamp': '2026-03-01T10:00:00.123456Z',
      message: 'card declined',
      log: { level: 'err', syslog: { severity: { code: 3, name: 'err' }, facility: { code: 1 }, hostname: 'web-1', appname: 'checkout', procid: '42', msgid: 'ORDER', structured_data: { 'order@32473': { id: '1001' } } } },
      service: { name: 'checkout' },
      host: { name: 'web-1' },
      trace: { id: '0af7651916cd43dd8448eb211c80319c' },
      span: { id: 'b7ad6b7169203331' },
      labels: { env: 'prod', http_method: 'POST', retries: '3', ok: 'false' },
      periscope: { log_id: 77, attributes: { user: { id: 'u1' } }, truncated: ['appName'] },
    });
  });

  // Elasticsearch refuses an empty field name ("field name cannot be an empty string"): the record went to the dead letters for good.
  it('an attribute with an empty key becomes labels._, never an empty field name', () => {
    const doc = toDocument({ id: 1, micros: 0, record: testRecord({ attributes: { '': 'x' } }) }, {});
    expect(doc.labels).toEqual({ _: 'x' });
    expect(JSON.stringify(doc)).not.toContain('"":');
  });

  // One value overwrote the other: the record reached Elasticsearch without it.
  it('attributes whose label names clash (a.b and a_b, a static label\'s name) are all kept, the later ones as name_2, name_3', () => {
    const doc = toDocument({ id: 1, micros: 0, record: testRecord({ attributes: { 'a.b': '1', a_b: '2', 'a@b': '3', env: 'dev' } }) }, { env: 'prod' });
    expect(JSON.parse(JSON.stringify(doc.labels))).toEqual({ env: 'prod', a_b: '1', a_b_2: '2', a_b_3: '3', env_2: 'dev' });
  });

  // Assigned to a plain object, `__proto__` set its prototype (an object) or did nothing (a scalar): the attribute was lost.
  it('an attribute named __proto__ is kept, scalar or object', () => {
    const attributes = JSON.parse('{"__proto__": "x", "constructor": "c"}') as Record<string, unknown>;
    const nested = JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, unknown>;
    const labelDoc = JSON.parse(JSON.stringify(toDocument({ id: 1, micros: 0, record: testRecord({ attributes }) }, {})));
    expect(labelDoc.labels).toEqual(JSON.parse('{"__proto__": "x", "constructor": "c"}'));
    const nestedDoc = JSON.parse(JSON.stringify(toDocument({ id: 1, micros: 0, record: testRecord({ attributes: nested }) }, {})));
    expect(nestedDoc.periscope.attributes).toEqual(JSON.parse('{"__proto__": {"polluted": 1}}'));
    expect(Object.keys(nestedDoc.periscope.attributes)).toEqual(['__proto__']);
    expect(Object.keys(labelDoc.labels)).toEqual(['__proto__', 'constructor']);
  });

  it('_id is deterministic per (collector instance, log position, µs timestamp, message) and differs otherwise', () => {
    const record = testRecord();
    const a: LogItem = { id: 5, micros: 1, record };
    expect(documentId('i1', a)).toBe(documentId('i1', { id: 5, micros: 1, record: JSON.parse(JSON.stringify(record)) }));
    expect(documentId('i1', a)).toMatch(/^i1-5-1-[0-9a-f]{8}$/);
    expect(documentId('i2', a)).not.toBe(documentId('i1', a));
    expect(documentId('i1', { ...a, id: 6 })).not.toBe(documentId('i1', a));
    expect(documentId('i1', { ...a, record: { ...record, msg: 'other' } })).not.toBe(documentId('i1', a));
    expect(documentId('i1', { ...a, micros: 2 })).not.toBe(documentId('i1', a));
  });

  it('_id stays the same across versions (a re-sent record after an upgrade still meets 409)', () => {
    const id = (msg: string) => documentId('abcdef012345', { id: 42, micros: 1772359200123456, record: { ...testRecord(), msg } });
    expect(id('order created')).toBe('abcdef012345-42-1772359200123456-570a15ab');
    expect(id('')).toBe('abcdef012345-42-1772359200123456-811c9dc5');
    expect(id('Über-Größe 🚀 bestellt')).toBe('abcdef012345-42-1772359200123456-b74c4bb0');
    expect(id('msg 408')).toBe('abcdef012345-42-1772359200123456-00f74d7e');
  });
});

describe('bulk body', () => {
  it('is the NDJSON of create actions and documents in UTF-8, also past the buffer it grows and for a small batch after a large one', () => {
    const sink = new ElasticsearchSink(esConfig({ url: 'http://127.0.0.1:9', dataStream: 'logs-é-default' }), 'abcdef012345');
    const batch = (first: number, n: number, msg: (i: number) => string): LogItem[] =>
      Array.from({ length: n }, (_, k) => ({ id: first + k, micros: 1_000_000 + k, record: testRecord({ msg: msg(first + k), attributes: { n: first + k } }) }));
    const ndjson = (items: LogItem[]) =>
      items.map((i) => `{"create":{"_index":"logs-é-default","_id":"${documentId('abcdef012345', i)}"}}\n${JSON.stringify(toDocument(i, {}))}\n`).join('');
    const small = batch(1, 3, (i) => `small ${i}`);
    // about 300 KB, several times the 64 KiB the body is first written into; 2-, 3- and 4-byte UTF-8
    const large = batch(10, 2000, (i) => `größer ${i} ${'x'.repeat(i % 97)} 注文 🎉`);
    const after = batch(5000, 2, (i) => `after ${i}`);
    // one line of 1.2 MB in 400 000 UTF-16 units: room must be reserved by bytes, not units
    const wide = batch(6000, 1, () => '注'.repeat(400_000));
    for (const items of [small, large, after, wide]) {
      const body = Buffer.from(sink.encode(items) as Uint8Array);
      expect(body.toString('utf8')).toBe(ndjson(items));
      expect(body.length).toBe(Buffer.byteLength(ndjson(items)));
    }
    expect(Buffer.byteLength(ndjson(large))).toBeGreaterThan(4 * 65_536);
  });
});

describe("the test server's filter_path", () => {
  const answer = {
    took: 3,
    errors: true,
    items: [
      { create: { _index: 'a', _id: '1', status: 201, result: 'created' } },
      { create: { _index: 'a', _id: '2', status: 400, error: { type: 'x', reason: 'bad' } } },
      { index: { _index: 'b', _id: '3', status: 201 } },
    ],
  };
  const paths = (filter: string) => filter.split(',').map((p) => p.split('.'));

  it('keeps what the paths name, item after item, and drops what they do not', () => {
    expect(filterPath(answer, paths('errors,items.*.status,items.*.error'))).toEqual({
      errors: true,
      items: [{ create: { status: 201 } }, { create: { status: 400, error: { type: 'x', reason: 'bad' } } }, { index: { status: 201 } }],
    });
  });

  it('a key named by one path and matched by `*` in another keeps what either names', () => {
    expect(filterPath(answer, paths('items.create._id,items.*.status,took'))).toEqual({
      took: 3,
      items: [{ create: { _id: '1', status: 201 } }, { create: { _id: '2', status: 400 } }, { index: { status: 201 } }],
    });
    expect(filterPath(answer, paths('items.index,nothing.here'))).toEqual({ items: [{}, {}, { index: { _index: 'b', _id: '3', status: 201 } }] });
  });
});

describe("the test server's bulk body", () => {
  it('reads every line of a body of many 64 KiB chunks, multi-byte UTF-8 and a line longer than a chunk among them', async () => {
    const es = await startElasticsearchServer();
    try {
      // 3- and 4-byte characters at every offset, so some straddle the chunk ends; blank lines between
      const messages = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'注'.repeat(i % 7)}${'😀'.repeat(i % 5)}${'x'.repeat(i % 61)}`);
      messages[1500] = '長'.repeat(100_000); // 300 KB: several chunks long
      const body = messages.map((m, i) => `{"create":{"_id":"id-${i}"}}\n${JSON.stringify({ '@timestamp': '2026-01-01T00:00:00Z', message: m })}\n${i % 100 === 0 ? '\n' : ''}`).join('');
      expect(Buffer.byteLength(body)).toBeGreaterThan(10 * 65_536);
      const post = (text: string) => fetch(`${es.url}/logs-bulk-lines/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: text });
      const ok = (await (await post(body)).json()) as { errors: boolean; items: unknown[] };
      expect(ok.errors).toBe(false);
      expect(ok.items).toHaveLength(messages.length);
      expect(es.docs('logs-bulk-lines').map((d) => [d.id, d.source.message])).toEqual(messages.map((m, i) => [`id-${i}`, m]));
      const unterminated = await post(body.trimEnd());
      expect(unterminated.status).toBe(400);
      expect(await unterminated.text()).toContain('must be terminated by a newline');
    } finally {
      await es.close();
    }
  });
});

describe('against the Elasticsearch test server', () => {
  let es: ElasticsearchServer;
  const auth = { apiKey: SECRETS.apiKey };
  beforeAll(async () => {
    es = await startElasticsearchServer({ auth });
  });
  afterAll(() => es.close());

  it('installs the index template, writes a data stream with create + deterministic _id', async () => {
    const h = logHarness();
    const d = h.delivery(new ElasticsearchSink(esConfig({ url: es.url, auth, dataStream: 'logs-periscope-first' }), 'inst'), testDeliveryOptions('es'));
    d.start();
    // multi-byte UTF-8 (2, 3 and 4 bytes, a surrogate pair) and a lone surrogate (JSON escapes it)
    const messages = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? `first ${i}` : `first ${i} café ☕ 日本 😀 \u2028 \ud800`));
    h.append(messages.map((msg) => testRecord({ msg })));
    await waitUntil(() => d.cursor === h.store.lastId());
    await d.shutdown();
    h.close();
    expect(es.templates.get('periscope-logs')).toMatchObject({ index_patterns: ['logs-periscope-first'], data_stream: {}, priority: 200 });
    const docs = es.docs('logs-periscope-first');
    expect(docs.map((doc) => doc.source.message)).toEqual(messages);
    expect(docs[0].source).toMatchObject({ message: 'first 0', log: { level: 'info' }, service: { name: 'svc' }, periscope: { log_id: 1 } });
  });

  it('a URL given with the bulk endpoint (…/_bulk) is taken as the base: records and the template go where they belong', async () => {
    const h = logHarness();
    es.templates.delete('periscope-logs');
    const d = h.delivery(new ElasticsearchSink(esConfig({ url: `${es.url}/_bulk/`, auth, dataStream: 'logs-periscope-bulkurl' }), 'inst-bulkurl'), testDeliveryOptions('es'));
    d.start();
    h.append([testRecord({ msg: 'to the bulk url' })]);
    await waitUntil(() => d.cursor === h.store.lastId());
    await d.shutdown();
    const letters = h.deadLetters.list({ limit: 10 });
    h.close();
    expect(letters).toEqual([]);
    expect(es.docs('logs-periscope-bulkurl').map((doc) => doc.source.message)).toEqual(['to the bulk url']);
    expect(es.templates.get('periscope-logs')).toMatchObject({ index_patterns: ['logs-periscope-bulkurl'] });
  });

  it('per item: 429 retried for those items only, 409 counts as delivered, 400 goes to the dead letters with ES reason', async () => {
    const stream = 'logs-periscope-items';
    const attempts = new Map<string, number>();
    es.itemFault = (doc, id) => {
      attempts.set(id, (attempts.get(id) ?? 0) + 1);
      // every fifth document is rejected twice with 429 before being accepted
      if (String(doc.message).endsWith('5') && attempts.get(id)! <= 2) return { status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' };
      return undefined;
    };
    try {
      const h = logHarness();
      const sink = new ElasticsearchSink(esConfig({ url: es.url, auth, dataStream: stream }), 'inst-items');
      const opts = testDeliveryOptions('es', { startFrom: 'beginning' });
      const records = Array.from({ length: 40 }, (_, i) => testRecord({ msg: `item ${i}` }));
      records[7] = testRecord({ timestamp: '1969-12-31T23:59:59.000000Z', msg: 'before the epoch' });
      h.append(records);
      let d = h.delivery(sink, opts);
      d.start();
      await waitUntil(() => d.cursor === h.store.lastId());
      await d.shutdown();
      // A crash after delivery but before the cursor moved: everything is sent again → 409s, no duplicates.
      h.kv.set('exporter:es:cursor', '0');
      d = h.delivery(sink, opts);
      d.start();
      await waitUntil(() => d.cursor === h.store.lastId());
      await d.shutdown();
      const letters = h.deadLetters.list({ limit: 10 });
      const sent = await h.registry.getSingleMetric('periscope_exporter_sent_items_total')!.get();
      const duplicates = await h.registry.getSingleMetric('periscope_exporter_duplicate_items_total')?.get();
      h.close();

      const docs = es.docs(stream);
      expect(docs).toHaveLength(39);
      expect(new Set(docs.map((x) => x.source.message)).size).toBe(39);
      expect(letters).toHaveLength(1); // refused in both runs: one letter, two attempts
      expect(letters[0].attempts).toBe(2);
      expect(letters[0]).toMatchObject({ status: 400, record: { msg: 'before the epoch' } });
      expect(letters[0].reason).toMatch(/^HTTP 400: document_parsing_exception: .*date_nanos.*before the epoch/);
      for (const [id, n] of attempts) {
        const doc = docs.find((x) => x.id === id);
        if (!doc) continue;
        // 429 ones: three times in the first run (2 refusals + 1 success), once in the re-run (409)
        expect(n).toBe(String(doc.source.message).endsWith('5') ? 4 : 2);
      }
      expect(es.conflicts).toBeGreaterThanOrEqual(39);
      expect(sent.values.find((v) => v.labels.exporter === 'es')!.value).toBe(39 * 2);
      // the re-run's 39 met 409: told apart from the first run's new deliveries
      expect(duplicates?.values.find((v) => v.labels.exporter === 'es')?.value).toBe(39);
    } finally {
      es.itemFault = undefined;
    }
  });

  it('items refused with 403 (an API key without the privilege on the data stream) wait until it is granted: none is dead-lettered', async () => {
    const stream = 'logs-periscope-privilege';
    let granted = false;
    let refusals = 0;
    es.itemFault = (_doc, _id, index) => {
      if (granted || index !== stream) return undefined;
      refusals++;
      return { status: 403, type: 'security_exception', reason: `action [indices:admin/auto_create] is unauthorized for API key id [k1] of user [periscope] on indices [${stream}]` };
    };
    try {
      const h = logHarness();
      const d = h.delivery(new ElasticsearchSink(esConfig({ url: es.url, auth, dataStream: stream }), 'inst-privilege'), testDeliveryOptions('es'));
      d.start();
      h.append(Array.from({ length: 4 }, (_, i) => testRecord({ msg: `privilege ${i}` })));
      await waitUntil(() => refusals >= 12);
      expect(h.deadLetters.list({ limit: 10 })).toEqual([]);
      expect(d.cursor).toBe(0);
      expect(d.dependency()).toMatchObject({ status: 'degraded', lastError: expect.stringMatching(/^HTTP 403: security_exception: action \[indices:admin\/auto_create\] is unauthorized/) });
      granted = true;
      await waitUntil(() => d.cursor === h.store.lastId());
      await d.shutdown();
      const letters = h.deadLetters.list({ limit: 10 });
      h.close();
      expect(letters).toEqual([]);
      expect(es.docs(stream).map((doc) => doc.source.message).sort()).toEqual(['privilege 0', 'privilege 1', 'privilege 2', 'privilege 3']);
    } finally {
      es.itemFault = undefined;
    }
  });

  it('records whose attributes have thousands of distinct keys all reach the data stream: labels do not count against the 1000-field limit', async () => {
    const stream = 'logs-periscope-wide';
    const h = logHarness();
    const d = h.delivery(new ElasticsearchSink(esConfig({ url: es.url, auth, dataStream: stream }), 'inst-wide'), testDeliveryOptions('es'));
    d.start();
    // An app that puts ids into attribute names (order_8812: "paid"): a new key in every record.
    h.append(Array.from({ length: 1500 }, (_, i) => testRecord({ msg: `wide ${i}`, attributes: { [`order_${i}`]: 'paid', route: '/pay' } })));
    await waitUntil(() => d.cursor === h.store.lastId());
    await d.shutdown();
    const letters = h.deadLetters.list({ limit: 10 });
    h.close();
    expect(letters.map((l) => l.reason)).toEqual([]);
    const docs = es.docs(stream);
    expect(docs).toHaveLength(1500);
    expect(docs[1499].source.labels).toEqual({ order_1499: 'paid', route: '/pay' });
  });

  it('records with a long value in a flattened field (nested attribute, structured data param) reach the data stream, the value kept in _source', async () => {
    const stream = 'logs-periscope-long';
    const h = logHarness();
    const d = h.delivery(new ElasticsearchSink(esConfig({ url: es.url, auth, dataStream: stream }), 'inst-long'), testDeliveryOptions('es'));
    d.start();
    // Over Lucene's 32766-byte term limit: a flattened field without ignore_above refused the whole
    // document (400), so such records went to the dead letters for good.
    const long = 'é'.repeat(20_000);
    h.append([
      testRecord({ msg: 'request failed', attributes: { err: { type: 'Error', stack: long } } }),
      testRecord({ msg: 'sd', structuredData: { 'req@32473': { body: long } } }),
    ]);
    await waitUntil(() => d.cursor === h.store.lastId());
    await d.shutdown();
    const letters = h.deadLetters.list({ limit: 10 });
    h.close();
    expect(letters.map((l) => l.reason)).toEqual([]);
    const docs = es.docs(stream);
    expect(docs.map((doc) => doc.source.message)).toEqual(['request failed', 'sd']);
    expect(docs[0].source.periscope).toMatchObject({ attributes: { err: { stack: long } } });
  });

  it('the test server refuses a flattened leaf over the term limit unless ignore_above skips it, as Elasticsearch does', async () => {
    const template = (ignoreAbove?: number) => ({ index_patterns: ['logs-flat-*'], data_stream: {}, priority: 300, template: { mappings: { properties: { '@timestamp': { type: 'date' }, f: { type: 'flattened', ...(ignoreAbove ? { ignore_above: ignoreAbove } : {}) } } } } });
    const bulk = async (index: string, value: string) => {
      const body = `${JSON.stringify({ create: { _index: index } })}\n${JSON.stringify({ '@timestamp': '2026-01-01T00:00:00Z', f: { a: { b: value } } })}\n`;
      const res = await fetch(`${es.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: `ApiKey ${SECRETS.apiKey}` }, body });
      return ((await res.json()) as { items: Array<{ create: { status: number; error?: { reason: string } } }> }).items[0].create;
    };
    const put = (t: object) => fetch(`${es.url}/_index_template/flat`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `ApiKey ${SECRETS.apiKey}` }, body: JSON.stringify(t) });
    await put(template());
    expect(await bulk('logs-flat-a', 'x'.repeat(32762))).toMatchObject({ status: 201 }); // "a.b\0" + value: 32766 bytes
    const refused = await bulk('logs-flat-a', 'x'.repeat(32763));
    expect(refused.status).toBe(400);
    expect(refused.error?.reason).toMatch(/Flattened field \[f\] contains one immense field/);
    await put(template(1024));
    expect(await bulk('logs-flat-b', 'x'.repeat(40_000))).toMatchObject({ status: 201 });
    es.templates.delete('flat');
  });

  // A flattened field refuses objects nested deeper than its depth_limit, 20 by default: such a
  // record (the receivers take 1000 levels, OTLP 64) was refused (400) and dead-lettered for good.
  it('records whose nested attributes (structured data, span events …) go 30 objects deep reach the data stream', async () => {
    const stream = 'logs-periscope-deep';
    const h = logHarness();
    const d = h.delivery(new ElasticsearchSink(esConfig({ url: es.url, auth, dataStream: stream }), 'inst-deep'), testDeliveryOptions('es'));
    d.start();
    let deep: Record<string, unknown> = { leaf: 'bottom' };
    for (let i = 0; i < 30; i++) deep = { [`level${i}`]: deep };
    h.append([testRecord({ msg: 'deep', attributes: { deep } })]);
    await waitUntil(() => d.cursor === h.store.lastId());
    await d.shutdown();
    const letters = h.deadLetters.list({ limit: 10 });
    h.close();
    expect(letters.map((l) => l.reason)).toEqual([]);
    expect(es.docs(stream).map((doc) => doc.source.periscope)).toMatchObject([{ attributes: { deep } }]);
  });

  it('the test server refuses a flattened value nested deeper than the depth_limit (20 by default), as Elasticsearch does', async () => {
    const template = (depthLimit?: number) => ({ index_patterns: ['logs-depth-*'], data_stream: {}, priority: 300, template: { mappings: { properties: { '@timestamp': { type: 'date' }, f: { type: 'flattened', ...(depthLimit ? { depth_limit: depthLimit } : {}) } } } } });
    const nested = (levels: number) => {
      let v: unknown = 'x';
      for (let i = 0; i < levels; i++) v = i % 2 ? [{ k: v }] : { k: v }; // arrays count no level
      return v;
    };
    const bulk = async (index: string, f: unknown) => {
      const body = `${JSON.stringify({ create: { _index: index } })}\n${JSON.stringify({ '@timestamp': '2026-01-01T00:00:00Z', f })}\n`;
      const res = await fetch(`${es.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: `ApiKey ${SECRETS.apiKey}` }, body });
      return ((await res.json()) as { items: Array<{ create: { status: number; error?: { reason: string } } }> }).items[0].create;
    };
    const put = (t: object) => fetch(`${es.url}/_index_template/depth`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `ApiKey ${SECRETS.apiKey}` }, body: JSON.stringify(t) });
    await put(template());
    expect(await bulk('logs-depth-a', nested(20))).toMatchObject({ status: 201 });
    const refused = await bulk('logs-depth-a', nested(21));
    expect(refused.status).toBe(400);
    expect(refused.error?.reason).toMatch(/The provided \[flattened\] field \[f\] exceeds the maximum depth limit of \[20\]/);
    await put(template(100));
    expect(await bulk('logs-depth-b', nested(100))).toMatchObject({ status: 201 });
    es.templates.delete('depth');
  });

  it('whole-request 429 and 503 are retried; 401 with a wrong key is permanent', async () => {
    await es.setFault({ mode: 'status', status: 503, times: 2, retryAfter: '0' });
    const h = logHarness();
    const d = h.delivery(new ElasticsearchSink(esConfig({ url: es.url, auth, dataStream: 'logs-periscope-retry' }), 'inst'), testDeliveryOptions('es'));
    d.start();
    h.append([testRecord({ msg: 'after 503' })]);
    await waitUntil(() => d.cursor === h.store.lastId());
    await es.setFault({ mode: 'status', status: 429, times: 2 });
    h.append([testRecord({ msg: 'after 429' })]);
    await waitUntil(() => d.cursor === h.store.lastId());
    await d.shutdown();
    h.close();
    expect(es.docs('logs-periscope-retry').map((x) => x.source.message).sort()).toEqual(['after 429', 'after 503']);

    const bad = new ElasticsearchSink(esConfig({ url: es.url, auth: { apiKey: 'wrong-key-123' } }), 'inst');
    const r = await bad.send([{ id: 1, micros: 0, record: testRecord() }], AbortSignal.timeout(5000));
    expect(r.result).toMatchObject({ status: 'permanent', httpStatus: 401 });
    expect(r.result.error).toContain('security_exception');
  });
});

async function waitUntil(fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('span export', () => {
  /**
   * A span export reading `source`, sleeping with `sleep`: by default to an Elasticsearch nobody
   * listens on, from the end of the span store, logging nothing.
   */
  function spanExport(
    h: ReturnType<typeof logHarness>,
    source: SpanSource,
    sleep: Sleep,
    at: { url?: string; dataStream?: string; startFrom?: 'end' | 'beginning'; logger?: Logger } = {},
  ): SpanExport {
    const options = testDeliveryOptions('es');
    return new SpanExport(
      { name: 'es:traces', dataStream: at.dataStream ?? 'traces-x-default', templateName: undefined, labels: {}, batchMaxSpans: 10, batchMaxBytes: 1 << 20, waitMs: 0, retry: options.retry, budget: options.budget, breaker: options.breaker, shutdownTimeoutMs: 0, startFrom: at.startFrom ?? 'end', deadLetterMax: 10 },
      {
        spans: source,
        kv: h.kv,
        sink: new ElasticsearchSink(esConfig({ url: at.url ?? 'http://127.0.0.1:1' }), 'instance-1'),
        deadLetters: h.deadLetters,
        metrics: h.metrics,
        logger: at.logger ?? { info() {}, warn() {}, error() {} },
        sleep,
      },
    );
  }

  // With batch.wait 0 the loop polled the span store at every timer tick (15 % of the ingest thread, idle).
  it('polls a caught-up span store every batch.wait, but not more often than every 100 ms', async () => {
    const h = logHarness();
    const waits: number[] = [];
    let slept!: () => void;
    const firstSleep = new Promise<void>((resolve) => (slept = resolve));
    const source: SpanSource = { readAfter: () => [], firstId: () => 1, lastId: () => 0, backlogAfter: () => ({ oldestStartMicros: undefined, avgBytes: 0 }) };
    const traces = spanExport(h, source, (ms, signal) => {
      waits.push(ms);
      slept();
      return new Promise((resolve) => signal?.addEventListener('abort', () => resolve(false), { once: true }));
    });
    traces.start();
    await firstSleep;
    await traces.shutdown();
    h.close();
    expect(waits).toEqual([100]);
  });

  // Spans may each be up to traces.maxSpanBytes (1 MiB): batchMaxSpans (2 000) of them were read
  // before the batch was cut to batch.maxBytes, gigabytes held while small requests went out.
  it('reads the span store up to batch.maxBytes of spans, not batchMaxSpans whatever their size', async () => {
    const h = logHarness();
    const reads: unknown[][] = [];
    let slept!: () => void;
    const firstSleep = new Promise<void>((resolve) => (slept = resolve));
    const source: SpanSource = {
      readAfter: (...args: unknown[]) => {
        reads.push(args);
        return [];
      },
      firstId: () => 1,
      lastId: () => 0,
      backlogAfter: () => ({ oldestStartMicros: undefined, avgBytes: 0 }),
    };
    const traces = spanExport(h, source, (_ms, signal) => {
      slept();
      return new Promise((resolve) => signal?.addEventListener('abort', () => resolve(false), { once: true }));
    });
    traces.start();
    await firstSleep;
    await traces.shutdown();
    h.close();
    expect(reads[0]).toEqual([0, 10, 1 << 20]);
  });

  // A full disk: the failed cursor write restarted the loop after a second at each batch (a
  // batch a second, an error logged each time).
  it('a cursor that cannot be saved: export goes on from the cursor in memory without a restart, warns once, saves it once it can', async () => {
    const es = await startElasticsearchServer();
    const h = logHarness();
    const span = (i: number): StoredSpan => ({
      traceId: '0af7651916cd43dd8448eb211c80319c', spanId: i.toString(16).padStart(16, '0'), parentSpanId: null, name: `op ${i}`, service: 'svc', instance: null, kind: 'SPAN_KIND_INTERNAL',
      startTime: '2026-01-01T00:00:00.000000Z', endTime: '2026-01-01T00:00:00.001000Z', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225600001000000', durationMs: 1,
      status: { code: 'STATUS_CODE_UNSET', message: '' }, traceState: '', flags: 0, droppedAttributesCount: 0, droppedEventsCount: 0, droppedLinksCount: 0,
      attributes: {}, events: [], links: [], resource: {}, scope: { name: 'test', version: '' },
    });
    const rows = Array.from({ length: 25 }, (_, i) => ({ id: i + 1, span: span(i + 1) }));
    const source: SpanSource = {
      readAfter: (after, limit) => rows.filter((r) => r.id > after).slice(0, limit),
      firstId: () => 1,
      lastId: () => rows.length,
      backlogAfter: () => ({ oldestStartMicros: undefined, avgBytes: 0 }),
    };
    const set = h.kv.set.bind(h.kv);
    let full = true;
    h.kv.set = (key, value) => {
      if (key === 'exporter:es:traces:cursor' && value !== '0' && full) throw new Error('database or disk is full');
      set(key, value);
    };
    const lines: string[] = [];
    const log = (level: string) => (_obj: object, msg?: string) => void lines.push(`${level} ${msg ?? ''}`);
    const waits: number[] = [];
    const logger = { info: log('info'), warn: log('warn'), error: log('error') };
    const traces = spanExport(
      h,
      source,
      (ms, signal) => {
        waits.push(ms);
        return new Promise((resolve) => setTimeout(() => resolve(!signal?.aborted), 5));
      },
      { url: es.url, dataStream: 'traces-cursor-default', startFrom: 'beginning', logger },
    );
    traces.start();
    await waitUntil(() => traces.cursor === 25);
    const docs = es.docs('traces-cursor-default').length;
    const restartsWhileFull = waits.filter((ms) => ms === 1000).length;
    expect(h.kv.get('exporter:es:traces:cursor')).toBe('0');
    full = false;
    rows.push({ id: 26, span: span(26) });
    await waitUntil(() => h.kv.get('exporter:es:traces:cursor') === '26');
    await traces.shutdown();
    h.close();
    await es.close();
    expect(docs).toBe(25);
    expect(restartsWhileFull).toBe(0);
    expect(lines.filter((l) => l.includes('failed'))).toEqual([]);
    expect(lines.filter((l) => l.includes('cannot save its cursor'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('cursor saved again'))).toHaveLength(1);
  });

  // A full disk, for one: the loop ended, and no span was shipped until the collector restarted.
  it('a read of the span store that fails: the loop starts again after a pause', async () => {
    const h = logHarness();
    const waits: number[] = [];
    let reads = 0;
    const source: SpanSource = {
      readAfter: () => {
        if (++reads === 1) throw new Error('database or disk is full');
        return [];
      },
      firstId: () => 1,
      lastId: () => 0,
      backlogAfter: () => ({ oldestStartMicros: undefined, avgBytes: 0 }),
    };
    const traces = spanExport(h, source, (ms, signal) => {
      waits.push(ms);
      return new Promise((resolve) => setImmediate(() => resolve(!signal?.aborted)));
    });
    traces.start();
    const deadline = Date.now() + 10_000;
    while (reads < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await traces.shutdown();
    h.close();
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(waits[0]).toBe(1000);
  });
});
