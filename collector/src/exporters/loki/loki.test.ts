import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import protobuf from 'protobufjs';
import { compressSync, uncompressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiServer, type LokiServer } from '../../../../test/servers/loki.ts';
import { describeExporter, logExporterUnderTest, logHarness, SECRETS, testDeliveryOptions, testRecord } from '../describe-exporter.ts';
import type { LogItem } from '../sink.ts';
import { lokiConfigSchema, type LokiConfig } from './config.ts';
import { encodeJson, encodeProtobuf } from './encode.ts';
import { StreamCache, toEntry, tsNanos, type EntryPolicy, type LokiEntry } from './entry.ts';
import { LokiSink } from './sink.ts';

function lokiConfig(fields: Partial<LokiConfig> & { url: string }): LokiConfig {
  return Value.Default(lokiConfigSchema, { type: 'loki', name: 'loki', ...structuredClone(fields) }) as LokiConfig;
}

/** logproto.PushRequest from push.proto through protobufjs: an encoder independent of encode.ts' pbf writer. */
function loadPushRequest(): protobuf.Type {
  const proto = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proto', 'push.proto');
  const root = new protobuf.Root();
  // google/protobuf/timestamp.proto resolves to the copy bundled inside protobufjs.
  root.resolvePath = (_origin: string, target: string) => (target.startsWith('google/protobuf/') ? target : path.resolve(path.dirname(proto), target));
  root.loadSync(proto, { keepCase: true });
  root.resolveAll();
  return root.lookupType('logproto.PushRequest');
}

const PushRequest = loadPushRequest();

/** Entries grouped by stream, streams in first-seen order (as encode.ts groups them). */
function byStream(list: LokiEntry[]): Map<string, LokiEntry[]> {
  const streams = new Map<string, LokiEntry[]>();
  for (const e of list) streams.set(e.stream, [...(streams.get(e.stream) ?? []), e]);
  return streams;
}

/** The PushRequest protobufjs encodes for these entries; `streamFields` are added to each StreamAdapter. */
function protobufjsBytes(list: LokiEntry[], streamFields: Record<string, unknown> = {}): Buffer {
  const message = {
    streams: [...byStream(list)].map(([labels, group]) => ({
      labels,
      ...streamFields,
      entries: group.map((e) => ({ timestamp: { seconds: e.seconds, nanos: e.nanos }, line: e.line, structuredMetadata: e.metadata })),
    })),
  };
  return Buffer.from(PushRequest.encode(message).finish());
}

const policy: EntryPolicy = { include: ['service_name', 'level', 'host'], staticLabels: { env: 'prod' }, structuredMetadata: true, maxStructuredMetadataEntries: 128, maxStructuredMetadataSize: 65536 };
const item = (id: number, fields = {}, micros = 1_767_225_600_123_456): LogItem => ({ id, micros, record: testRecord(fields) });

describeExporter({
  name: 'loki',
  auth: ['basic', 'bearerToken'],
  make: (url, auth, logger) => logExporterUnderTest(() => new LokiSink(lokiConfig({ url, auth })), logger),
});

describe('label policy and entry mapping', () => {
  it('a shared stream cache gives each record the stream it would get without one', () => {
    const cache = new StreamCache();
    const variants = [
      { appName: 'checkout', severity: 6, hostname: 'web-1' },
      { appName: 'checkout', severity: 3, hostname: 'web-1' },
      { appName: 'checkout', severity: 6, hostname: 'web-2' },
      { appName: 'checkout', severity: 6, hostname: undefined },
      { appName: 'billing', severity: 6, hostname: 'web-1' },
      { appName: undefined, severity: 6, hostname: 'web-1' },
    ];
    for (let round = 0; round < 2; round++) {
      variants.forEach((fields, i) => {
        const cached = toEntry(item(i + 1, fields), policy, cache);
        const fresh = toEntry(item(i + 1, fields), policy);
        expect(cached.stream).toBe(fresh.stream);
        expect(cached.labels).toEqual(fresh.labels);
      });
    }
    expect(new Set(variants.map((f, i) => toEntry(item(i + 1, f), policy, cache).stream)).size).toBe(variants.length);
  });

  it('labels: service_name, level, host and static labels, sorted; nothing else', () => {
    const e = toEntry(item(7, { appName: 'checkout', hostname: 'web-1', severity: 3, attributes: { user: 'u1' } }), policy);
    expect(e.stream).toBe('{env="prod", host="web-1", level="err", service_name="checkout"}');
    expect(e.labels.map((l) => l.name)).toEqual(['env', 'host', 'level', 'service_name']);
  });

  it('missing service → unknown_service; missing hostname → no host label; values are escaped', () => {
    const e = toEntry(item(1, { appName: undefined, hostname: undefined }), { ...policy, staticLabels: { team: 'a"b\\c' } });
    expect(e.stream).toBe('{level="info", service_name="unknown_service", team="a\\"b\\\\c"}');
  });

  it('structured metadata: trace context, header fields and flattened attributes; the line is the message', () => {
    const e = toEntry(
      item(1, {
        msg: 'order created',
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        procId: '42',
        structuredData: { 'order@32473': { id: '1001' } },
        attributes: { 'http.method': 'POST', user: { id: 'u1', roles: ['a'] }, '1st': true },
      }),
      policy,
    );
    expect(e.line).toBe('order created');
    expect(Object.fromEntries(e.metadata.map((p) => [p.name, p.value]))).toEqual({
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331',
      proc_id: '42',
      sd_order_32473_id: '1001',
      http_method: 'POST',
      user_id: 'u1',
      user_roles: '["a"]',
      _1st: 'true',
    });
    for (const p of e.metadata) expect(p.name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
  });

  it.each([
    { name: 'sampled (01): flags 1', traceFlags: '01', flags: '1' },
    { name: 'not sampled (00): no flags, as Loki\'s OTLP ingestion leaves out flags 0', traceFlags: '00', flags: undefined },
    { name: 'no trace flags: none', traceFlags: undefined, flags: undefined },
  ])('trace flags as Loki\'s OTLP ingestion writes them, in decimal beside trace_id: $name; also when the record goes whole in the line', ({ traceFlags, flags }) => {
    const r = item(1, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', ...(traceFlags ? { traceFlags } : {}), attributes: { a: 1, b: 2, c: 3, d: 4 } });
    const expected = [
      { name: 'trace_id', value: '0af7651916cd43dd8448eb211c80319c' },
      { name: 'span_id', value: 'b7ad6b7169203331' },
      ...(flags ? [{ name: 'flags', value: flags }] : []),
    ];
    expect(toEntry(r, policy).metadata.slice(0, expected.length)).toEqual(expected);
    expect(toEntry(r, policy).metadata.find((p) => p.name === 'flags')?.value).toBe(flags);
    expect(toEntry(r, { ...policy, maxStructuredMetadataEntries: 4 }).metadata).toEqual(expected);
  });

  it('metadata names are unique: the record\'s own trace_id keeps its name, a field flattened onto a taken name gets _2, _3', () => {
    const e = toEntry(
      item(1, { traceId: '0af7651916cd43dd8448eb211c80319c', attributes: { trace_id: 'from-attribute', 'a-b': 1, a_b: 2, a: { b: 3 }, a_b_2: 4 } }),
      policy,
    );
    expect(e.metadata).toEqual([
      { name: 'trace_id', value: '0af7651916cd43dd8448eb211c80319c' },
      { name: 'trace_id_2', value: 'from-attribute' },
      { name: 'a_b', value: '1' },
      { name: 'a_b_2', value: '2' },
      { name: 'a_b_3', value: '3' },
      { name: 'a_b_2_2', value: '4' },
    ]);
  });

  // With the line only the message, an object without leaves reached Loki nowhere.
  it('an empty object (attribute, SD-ELEMENT without params) is metadata {} under its name', () => {
    const e = toEntry(item(1, { structuredData: { 'origin@1': {} }, attributes: { o: {}, k: { x: {} } } }), policy);
    expect(e.metadata).toEqual([
      { name: 'sd_origin_1', value: '{}' },
      { name: 'o', value: '{}' },
      { name: 'k_x', value: '{}' },
    ]);
  });

  it('a derived label left out of `include` travels as metadata instead', () => {
    const e = toEntry(item(1, { hostname: 'web-9' }), { ...policy, include: ['service_name'] });
    expect(e.stream).toBe('{env="prod", service_name="svc"}');
    expect(e.metadata).toEqual(expect.arrayContaining([{ name: 'level', value: 'info' }, { name: 'host', value: 'web-9' }]));
  });

  it('structuredMetadata off, or over Loki limits: the whole record is the line (nothing lost)', () => {
    const r = item(1, { attributes: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, i])), traceId: '0af7651916cd43dd8448eb211c80319c' });
    const off = toEntry(r, { ...policy, structuredMetadata: false });
    expect(JSON.parse(off.line)).toEqual(r.record);
    expect(off.metadata).toEqual([]);
    const over = toEntry(r, { ...policy, maxStructuredMetadataEntries: 3 });
    expect(JSON.parse(over.line)).toEqual(r.record);
    expect(over.metadata).toEqual([{ name: 'trace_id', value: '0af7651916cd43dd8448eb211c80319c' }]);
    // Loki's size limit is in UTF-8 bytes: 40 characters of 3 bytes are over 100 (Loki refused them as metadata).
    const wide = toEntry(item(2, { attributes: { note: '注'.repeat(40) } }), { ...policy, maxStructuredMetadataSize: 100 });
    expect(JSON.parse(wide.line)).toMatchObject({ attributes: { note: '注'.repeat(40) } });
    expect(wide.metadata).toEqual([]);
  });

  it('timestamp: the record µs, plus the log position modulo 1000 as ns below a µs-precision time (distinct records never collide, a re-send does)', () => {
    const a = toEntry(item(1001, {}, 1_767_225_600_123_456), policy);
    const b = toEntry(item(1002, {}, 1_767_225_600_123_456), policy);
    expect(a).toMatchObject({ seconds: 1_767_225_600, nanos: 123_456_001 });
    expect(b.nanos).toBe(123_456_002);
    expect(toEntry(item(1001, {}, 1_767_225_600_123_456), policy).nanos).toBe(a.nanos);
  });

  it('timestamp: records of a second-precision (or ms-precision) clock get their offset within that second (ms)', () => {
    // 1500 identical lines in one second: with 1000 slots the 1001st collided with the 1st and Loki dropped it
    const second = 1_767_225_600_000_000;
    const ts = new Set(Array.from({ length: 1500 }, (_, i) => tsNanos(toEntry(item(5000 + i, { msg: 'GET /health 200' }, second), policy))));
    expect(ts.size).toBe(1500);
    for (const t of ts) expect(t.startsWith('1767225600')).toBe(true); // all within their second
    const ms = toEntry(item(1_234_567, {}, second + 250_000), policy); // .250000: a millisecond clock
    expect(ms).toMatchObject({ seconds: 1_767_225_600, nanos: 250_234_567 });
    expect(toEntry(item(1_234_567, {}, second + 250_000), policy).nanos).toBe(ms.nanos); // a re-send still dedups
  });
});

describe('encoding', () => {
  const entries = [
    toEntry(item(1, { appName: 'a', msg: 'ünïcødé 日本語 🚀', traceId: '0af7651916cd43dd8448eb211c80319c' }), policy),
    toEntry(item(2, { appName: 'b', msg: 'x'.repeat(300), attributes: { long: 'y'.repeat(200) } }), policy),
    toEntry(item(3, { appName: 'a', msg: '' }, -1_500_000), policy),
  ];

  it('protobuf: snappy block of a PushRequest that protobufjs decodes with our push.proto transcription', () => {
    const body = encodeProtobuf(entries);
    const decoded = PushRequest.toObject(PushRequest.decode(uncompressSync(body, { asBuffer: true }) as Buffer), { longs: Number, defaults: true }) as {
      streams: Array<{ labels: string; entries: Array<{ timestamp: { seconds: number; nanos: number }; line: string; structuredMetadata: Array<{ name: string; value: string }> }> }>;
    };
    expect(decoded.streams.map((s) => s.labels)).toEqual([entries[0].stream, entries[1].stream]);
    expect(decoded.streams[0].entries.map((e) => e.line)).toEqual(['ünïcødé 日本語 🚀', '']);
    expect(decoded.streams[0].entries[0].timestamp).toEqual({ seconds: entries[0].seconds, nanos: entries[0].nanos });
    expect(decoded.streams[0].entries[1].timestamp).toEqual({ seconds: -2, nanos: 500_000_003 });
    expect(decoded.streams[0].entries[0].structuredMetadata).toEqual(entries[0].metadata);
    expect(decoded.streams[1].entries[0].line).toHaveLength(300);
    expect(decoded.streams[1].entries[0].structuredMetadata).toEqual([{ name: 'long', value: 'y'.repeat(200) }]);
  });

  const ourBytes = (list: typeof entries) => uncompressSync(Buffer.from(encodeProtobuf(list)), { asBuffer: true }) as Buffer;

  it('protobuf: the same bytes as protobufjs encoding the same PushRequest (multi-byte lengths, negative seconds, 3-byte characters, empty lines)', () => {
    const many = [...entries];
    for (let i = 0; i < 300; i++) many.push(toEntry(item(10 + i, { appName: `s${i % 4}`, msg: `m${i} ${'€'.repeat(i % 70)}`, attributes: { i, nested: { deep: 'x'.repeat(i) } } }, 1_767_225_600_000_000 + i * 7919), policy));
    const large = ourBytes(many);
    expect(large.length).toBeGreaterThan(1 << 16); // stream lengths take 3-byte varints; past the writer's first buffer
    expect(large.equals(protobufjsBytes(many))).toBe(true);
    // The writer's memory is kept between batches: a small batch after a large one, then the
    // large one again, must each be exactly their own bytes.
    expect(ourBytes(entries).equals(protobufjsBytes(entries))).toBe(true);
    expect(ourBytes(many).equals(large)).toBe(true);
  });

  it('JSON: {"streams":[{"stream":{…},"values":[["<ns>","<line>",{metadata}]]}]}', () => {
    const json = JSON.parse(encodeJson(entries.slice(0, 1)));
    expect(json).toEqual({
      streams: [{ stream: { env: 'prod', host: 'host-1', level: 'info', service_name: 'a' }, values: [['1767225600123456001', 'ünïcødé 日本語 🚀', { trace_id: '0af7651916cd43dd8448eb211c80319c' }]] }],
    });
  });
});

describe('JSON push of odd metadata names', () => {
  // A plain object took md.__proto__ = '…' as no property: the attribute was missing from the push.
  it('an attribute named __proto__ is sent as metadata __proto__', () => {
    const e = toEntry(item(1, { attributes: JSON.parse('{"__proto__": "kept", "constructor": "too"}') }), policy);
    const json = JSON.parse(encodeJson([e]));
    expect(JSON.stringify(json.streams[0].values[0][2])).toBe('{"__proto__":"kept","constructor":"too"}');
  });
});

describe('checks before sending (Loki limits, Loki wording)', () => {
  const sink = new LokiSink(lokiConfig({ url: 'http://127.0.0.1:9', limits: { maxLineSize: '100B', rejectOlderThan: '1h', maxLabelNamesPerSeries: 4, maxLabelValueLength: 20 } as LokiConfig['limits'] }));
  it.each([
    { name: 'line too long', fields: { msg: 'x'.repeat(101) }, micros: Date.now() * 1000, want: /^Max entry size '100' bytes exceeded for stream '\{.*\}' while adding an entry with length '101' bytes$/ },
    { name: 'too old', fields: {}, micros: (Date.now() - 2 * 3_600_000) * 1000, want: /has timestamp too old: .*, oldest acceptable timestamp is: / },
    // a clock or time-zone bug: Loki refuses it one by one (its creation_grace_period, 10m by default)
    { name: 'too new', fields: {}, micros: (Date.now() + 11 * 60_000) * 1000, want: /^entry for stream '\{.*\}' has timestamp too new: \d{4}-/ },
    { name: 'within the grace period', fields: {}, micros: (Date.now() + 9 * 60_000) * 1000, want: undefined },
    { name: 'label value too long', fields: { hostname: 'h'.repeat(21) }, micros: Date.now() * 1000, want: /has label value too long: 'h{21}'/ },
    // Loki counts bytes (Go's len): 11 characters, 22 bytes
    { name: 'label value too long in UTF-8 bytes', fields: { hostname: 'é'.repeat(11) }, micros: Date.now() * 1000, want: /has label value too long: 'é{11}'/ },
    { name: 'label value of 20 bytes', fields: { hostname: 'é'.repeat(10) }, micros: Date.now() * 1000, want: undefined },
    { name: 'fine', fields: {}, micros: Date.now() * 1000, want: undefined },
  ])('$name', ({ fields, micros, want }) => {
    const reason = sink.check({ id: 1, micros, record: testRecord(fields) });
    if (want === undefined) expect(reason).toBeUndefined();
    else expect(reason).toMatch(want);
  });
});

describe("checks with the default limits, Loki's defaults", () => {
  // Loki's 256KB and 64KB are 262 144 and 65 536 bytes (c2h5oh/datasize: KB is 1024).
  const sink = new LokiSink(lokiConfig({ url: 'http://127.0.0.1:9' }));
  const now = () => Date.now() * 1000;
  it('a line of 262 144 bytes passes (Loki takes it), one byte more does not', () => {
    expect(sink.check({ id: 1, micros: now(), record: testRecord({ msg: 'x'.repeat(262_144) }) })).toBeUndefined();
    expect(sink.check({ id: 2, micros: now(), record: testRecord({ msg: 'x'.repeat(262_145) }) })).toMatch(/^Max entry size '262144' bytes exceeded/);
  });
  it('structured metadata of 65 536 bytes stays metadata', () => {
    const json = new LokiSink(lokiConfig({ url: 'http://127.0.0.1:9', format: 'json' }));
    const blob = 'x'.repeat(65_536 - 'blob'.length); // names and values, as Loki counts them
    const body = JSON.parse(Buffer.from(json.encode([{ id: 3, micros: now(), record: testRecord({ msg: 'm', attributes: { blob } }) }]) as Uint8Array).toString('utf8'));
    expect(body.streams[0].values[0][1]).toBe('m');
    expect(body.streams[0].values[0][2].blob).toBe(blob);
  });
});

describe('against the Loki test server', () => {
  let loki: LokiServer;
  beforeAll(async () => {
    loki = await startLokiServer({
      auth: { basic: { username: SECRETS.username, password: SECRETS.password } },
      requireTenant: true,
      limits: { maxLineSize: 200, rejectOldSamplesMaxAgeMs: 3_600_000 },
    });
  });
  afterAll(() => loki.close());

  async function deliver(format: 'protobuf' | 'json', tenant: string, records: ReturnType<typeof testRecord>[], worker?: { encodeThreads: number; checks: boolean }) {
    const h = logHarness();
    // Without checks Loki itself must refuse, so the 400 path (bisect) is exercised. With them
    // they are Loki's own limits, applied before sending.
    const limits = worker?.checks ? { maxLineSize: '200B', rejectOlderThan: '1h' } : { maxLineSize: '0', rejectOlderThan: '0s' };
    const config = lokiConfig({ url: loki.url, tenant, format, auth: { basic: { username: SECRETS.username, password: SECRETS.password } }, limits: limits as LokiConfig['limits'] });
    const d = h.delivery(new LokiSink(config), testDeliveryOptions('loki', { batch: { maxRecords: 50, maxBytes: 1 << 20, waitMs: 5 }, encodeThreads: worker?.encodeThreads ?? 0 }));
    d.start();
    h.append(records);
    const deadline = Date.now() + 20_000;
    while (d.cursor < h.store.lastId() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await d.shutdown();
    const letters = h.deadLetters.list({ limit: 100 });
    h.close();
    return letters;
  }

  // In an encode worker, the ingest thread lets go of the bodies while a batch is out
  // (StoredItem.release): bisection and the dead letters read them again from the log.
  it.each([
    { name: 'protobuf' as const, encodeThreads: 0 },
    { name: 'json' as const, encodeThreads: 0 },
    { name: 'protobuf' as const, encodeThreads: 1 },
  ])('$name, $encodeThreads encode threads: Loki 400 reasons go to the dead letters, every valid record is stored once', async ({ name, encodeThreads }) => {
    const tenant = `tenant-${name}-${encodeThreads}`;
    const run = Date.now();
    const records = Array.from({ length: 120 }, (_, i) => testRecord({ msg: `ok ${name} ${run} ${i}`, appName: `svc${i % 3}` }));
    records[17] = testRecord({ msg: 'x'.repeat(300) });
    records[64] = testRecord({ timestamp: new Date(Date.now() - 3 * 3_600_000).toISOString().replace('Z', '000Z'), msg: `old ${run}` });
    const letters = await deliver(name, tenant, records, { encodeThreads, checks: false });
    expect(letters.map((l) => (l.kind === 'log' ? l.record.msg : l.kind)).sort()).toEqual([`old ${run}`, 'x'.repeat(300)]);
    expect(letters.map((l) => l.reason).sort()).toEqual([
      expect.stringMatching(/^HTTP 400: Max entry size '200' bytes exceeded for stream '\{host="host-1", level="info", service_name="svc"\}' while adding an entry with length '300' bytes$/),
      expect.stringMatching(/^HTTP 400: entry for stream '.*' has timestamp too old: /),
    ]);
    expect(letters.map((l) => l.status)).toEqual([400, 400]);
    const stored = loki.entries(tenant);
    expect(stored).toHaveLength(118);
    expect(new Set(stored.map((e) => e.line)).size).toBe(118);
    const ok = stored.find((e) => e.line === `ok ${name} ${run} 0`)!;
    expect(ok.labels).toEqual({ host: 'host-1', level: 'info', service_name: 'svc0' });
    const pushes = loki.pushes.filter((p) => p.tenant === tenant);
    expect(pushes.some((p) => p.status === 400)).toBe(true);
    expect(pushes.every((p) => p.format === name)).toBe(true);
  });

  it('in an encode worker: records the checks refuse are dead letters before any request, the rest arrive once', async () => {
    const tenant = 'tenant-worker';
    const run = Date.now();
    const records = Array.from({ length: 120 }, (_, i) => testRecord({ msg: `w ${run} ${i}`, appName: `svc${i % 3}` }));
    records[5] = testRecord({ msg: 'y'.repeat(300) });
    records[99] = testRecord({ timestamp: new Date(Date.now() - 3 * 3_600_000).toISOString().replace('Z', '000Z'), msg: `old ${run}` });
    const letters = await deliver('protobuf', tenant, records, { encodeThreads: 1, checks: true });
    expect(letters.map((l) => l.reason).sort()).toEqual([
      expect.stringMatching(/^Max entry size '200' bytes exceeded for stream '\{host="host-1", level="info", service_name="svc"\}' while adding an entry with length '300' bytes$/),
      expect.stringMatching(/^entry for stream '.*' has timestamp too old: /),
    ]);
    expect(letters.map((l) => (l.kind === 'log' ? l.record.msg : l.kind)).sort()).toEqual([`old ${run}`, 'y'.repeat(300)]);
    const stored = loki.entries(tenant);
    expect(stored.map((e) => e.line).sort()).toEqual(records.filter((_, i) => i !== 5 && i !== 99).map((r) => r.msg).sort());
    const pushes = loki.pushes.filter((p) => p.tenant === tenant);
    expect(pushes.length).toBeGreaterThan(0);
    expect(pushes.every((p) => p.status === 204)).toBe(true); // nothing Loki refuses was sent
  });

  it('the test server refuses a corrupt snappy body, and one announcing more than 256 MiB, with 400 before decoding', async () => {
    const post = (body: Buffer) =>
      fetch(`${loki.url}/loki/api/v1/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', 'x-scope-orgid': 'tenant-bad-snappy', authorization: `Basic ${Buffer.from(`${SECRETS.username}:${SECRETS.password}`).toString('base64')}` },
        body: new Uint8Array(body),
      });
    const valid = encodeProtobuf([toEntry(item(1, {}, Date.now() * 1000), policy)]);
    // The valid block's data behind a preamble announcing 2^28 + 1 = 268 435 457 bytes.
    const preamble = Buffer.from(valid).findIndex((byte) => byte < 0x80) + 1;
    const huge = Buffer.concat([Buffer.from([0x81, 0x80, 0x80, 0x80, 0x01]), Buffer.from(valid).subarray(preamble)]);
    for (const [body, reason] of [[Buffer.from([0x05, 0xff, 0xff]), /^loghttp\.ParsePushRequest: /], [huge, /^loghttp\.ParsePushRequest: snappy: decompressed body too large\n$/]] as const) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(reason);
    }
    expect((await post(Buffer.from(valid))).status).toBe(204);
    expect(loki.entries('tenant-bad-snappy')).toHaveLength(1);
  });

  it('the test server reads a push as protobufjs writes it (fields it ignores included); a truncated one is refused whole', async () => {
    const tenant = 'tenant-decode';
    const now = Date.now() * 1000;
    const list = Array.from({ length: 60 }, (_, i) => toEntry(item(500 + i, { appName: `s${i % 3}`, msg: `m${i} ${'€'.repeat(i)}`, attributes: { i, deep: { x: 'y'.repeat(i) } } }, now - i * 1000), policy));
    const raw = protobufjsBytes(list, { hash: 9_007_199_254_740_991 }); // StreamAdapter.hash: read past, not used
    const post = (bytes: Buffer) =>
      fetch(`${loki.url}/loki/api/v1/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', 'x-scope-orgid': tenant, authorization: `Basic ${Buffer.from(`${SECRETS.username}:${SECRETS.password}`).toString('base64')}` },
        body: new Uint8Array(compressSync(bytes)),
      });
    // Cut anywhere: inside a varint, a string, a metadata pair, between fields of the last entry.
    for (let n = 1; n <= 40; n++) {
      const cut = await post(raw.subarray(0, raw.length - n));
      expect([n, cut.status]).toEqual([n, 400]);
      expect(await cut.text()).toMatch(/^loghttp\.ParsePushRequest: \S/);
    }
    expect(loki.entries(tenant)).toEqual([]);
    expect((await post(raw)).status).toBe(204);
    const expected = [...byStream(list).values()].flat().map((e) => ({ stream: e.stream, tsNs: BigInt(e.seconds) * 1_000_000_000n + BigInt(e.nanos), line: e.line, metadata: Object.fromEntries(e.metadata.map((p) => [p.name, p.value])) }));
    expect(loki.entries(tenant).map((e) => ({ stream: e.stream, tsNs: e.tsNs, line: e.line, metadata: e.metadata }))).toEqual(expected);
  });

  it('the test server counts label lengths in UTF-8 bytes, as Loki does', async () => {
    const server = await startLokiServer({ limits: { maxLabelValueLength: 20 } });
    try {
      const push = (value: string) =>
        fetch(`${server.url}/loki/api/v1/push`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ streams: [{ stream: { host: value }, values: [[`${Date.now()}000000`, 'line']] }] }),
        });
      expect((await push('é'.repeat(10))).status).toBe(204);
      const refused = await push('é'.repeat(11));
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/has label value too long/);
    } finally {
      await server.close();
    }
  });

  it("the test server refuses an entry more than the out-of-order window behind its stream's newest, as Loki does", async () => {
    const server = await startLokiServer();
    try {
      const now = Date.now() * 1000;
      const push = (labels: string, micros: number, line: string) =>
        fetch(`${server.url}/loki/api/v1/push`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ streams: [{ stream: { service_name: labels }, values: [[`${micros}000`, line]] }] }),
        });
      expect((await push('a', now, 'newest')).status).toBe(204);
      expect((await push('a', now - 59 * 60e6, 'within the hour')).status).toBe(204);
      const behind = await push('a', now - 61 * 60e6, 'too far behind');
      expect(behind.status).toBe(400);
      // worded as Loki's ingester: the entries, then the stream's count
      expect(await behind.text()).toMatch(/entry too far behind, entry timestamp is: .*, oldest acceptable timestamp is: .*',\nuser 'fake', total ignored: 1 out of 1 for stream: \{service_name="a"\}/);
      expect((await push('b', now - 61 * 60e6, 'another stream')).status).toBe(204);
      expect(server.entries().map((e) => e.line)).toEqual(['newest', 'within the hour', 'another stream']);
    } finally {
      await server.close();
    }
  });

  it('two collectors into the same streams: a lagging one is refused as too far behind, unless each has a label of its own (docs/exporters.md)', async () => {
    const server = await startLokiServer();
    try {
      const hourAgo = (n: number) => new Date(Date.now() - n * 3_600_000).toISOString().replace('Z', '000Z');
      const run = async (collector: string, timestamp: string, staticLabels: Record<string, string>) => {
        const h = logHarness();
        const d = h.delivery(new LokiSink(lokiConfig({ url: server.url, labels: { include: ['service_name', 'level', 'host'], static: staticLabels } })), testDeliveryOptions('loki', { startFrom: 'beginning' }));
        h.append([testRecord({ timestamp, msg: `from ${collector}` })]);
        d.start();
        const deadline = Date.now() + 20_000;
        while (d.cursor < h.store.lastId() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        await d.shutdown();
        const letters = h.deadLetters.list({ limit: 10 });
        h.close();
        return letters.map((l) => l.reason);
      };
      // Collector b is live; collector a delivers a backlog two hours behind (its backend was down).
      expect(await run('b', hourAgo(0), {})).toEqual([]);
      expect(await run('a', hourAgo(2), {})).toEqual([expect.stringMatching(/^HTTP 400: .*entry too far behind/)]);
      expect(await run('b', hourAgo(0), { collector: 'b' })).toEqual([]);
      expect(await run('a', hourAgo(2), { collector: 'a' })).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('while Loki refuses the credentials (401) the records wait, and reach Loki once it accepts them: none is dead-lettered', async () => {
    // The server's expected password: changed below, as when the gateway's password was rotated
    // before the collector's config, then the collector's config catches up.
    const basic = { username: 'periscope', password: 'rotated' };
    const server = await startLokiServer({ auth: { basic } });
    try {
      const h = logHarness();
      const config = lokiConfig({ url: server.url, tenant: 'team-a', auth: { basic: { username: 'periscope', password: 'old' } } });
      const d = h.delivery(new LokiSink(config), testDeliveryOptions('loki'));
      d.start();
      h.append(Array.from({ length: 5 }, (_, i) => testRecord({ msg: `while refused ${i}` })));
      const deadline = Date.now() + 20_000;
      while (server.http.log.filter((r) => r.status === 401).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(server.http.log.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(3);
      expect(h.deadLetters.list({ limit: 10 })).toEqual([]);
      expect(d.cursor).toBe(0);
      expect(d.dependency()).toMatchObject({ status: 'degraded', lastError: 'HTTP 401: Unauthorized' });
      basic.password = 'old';
      while (d.cursor < h.store.lastId() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await d.shutdown();
      const letters = h.deadLetters.list({ limit: 10 });
      h.close();
      expect(letters).toEqual([]);
      expect(server.entries('team-a').map((e) => e.line).sort()).toEqual(Array.from({ length: 5 }, (_, i) => `while refused ${i}`));
    } finally {
      await server.close();
    }
  });

  it('a shutdown while Loki refuses the credentials stops at once, not after shutdownTimeout: nothing would get through', async () => {
    const server = await startLokiServer({ auth: { basic: { username: 'periscope', password: 'rotated' } } });
    try {
      const h = logHarness();
      const config = lokiConfig({ url: server.url, auth: { basic: { username: 'periscope', password: 'old' } } });
      const d = h.delivery(new LokiSink(config), testDeliveryOptions('loki', { shutdownTimeoutMs: 600_000 }));
      d.start();
      h.append([testRecord({ msg: 'kept for the next start' })]);
      const deadline = Date.now() + 20_000;
      while (server.http.log.filter((r) => r.status === 401).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const stopped = await Promise.race([d.shutdown().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still flushing'), 30_000))]);
      expect(stopped).toBe('stopped');
      expect(d.cursor).toBe(0); // kept: delivered after the next start
      h.close();
    } finally {
      await server.close();
    }
  });

  it('429 (rate limit) is retried until accepted; 401 without credentials is permanent', async () => {
    await loki.setFault({ mode: 'status', status: 429, times: 3, body: 'Ingestion rate limit exceeded for user x' });
    const letters = await deliver('protobuf', 'tenant-429', [testRecord({ msg: 'after 429' })]);
    expect(letters).toEqual([]);
    expect(loki.entries('tenant-429').map((e) => e.line)).toEqual(['after 429']);

    const sink = new LokiSink(lokiConfig({ url: loki.url, tenant: 't' }));
    const r = await sink.send([item(1, {}, Date.now() * 1000)], AbortSignal.timeout(5000));
    expect(r.result).toMatchObject({ status: 'permanent', httpStatus: 401, error: 'HTTP 401: Unauthorized' });
    expect(r.bisect).toBe(false);
  });
});
