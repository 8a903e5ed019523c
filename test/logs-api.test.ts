// The log pipeline through the real collector process: ingest over HTTP, query API, bad input.
import { request } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;

async function post(path: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/x-ndjson' }) {
  const res = await fetch(collector.url + path, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

async function get(path: string) {
  const res = await fetch(collector.url + path);
  return { status: res.status, json: (await res.json()) as any };
}

const ndjson = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

beforeAll(async () => {
  collector = await startCollectorProcess({
    // The records use fixed 2026 dates: keep retention from deleting them mid-run.
    configYaml: 'http:\n  bodyLimit: 1MiB\nstore:\n  retention:\n    maxAge: 3650d\n  search:\n    indexInterval: 50ms\n',
  });
});

afterAll(async () => {
  const code = await collector?.stop();
  expect(code).toBe(0); // graceful shutdown on SIGTERM
});

describe('ingest and search', () => {
  const run = `run${Date.now()}`;
  const records = [
    {
      timestamp: '2026-03-01T10:00:00.123456Z', severity: 6, appName: 'checkout', hostname: 'web-1', procId: '42', msgId: 'ORDER',
      structuredData: { 'order@32473': { id: '1001', currency: 'EUR' } }, msg: `order created ${run}`,
      traceId: '0AF7651916CD43DD8448EB211C80319C', spanId: 'B7AD6B7169203331', attributes: { orderId: 1001, user: { id: 'u1' }, 'http.method': 'POST', 'say "hi"\\now': 'quoted' },
    },
    { timestamp: '2026-03-01T10:00:01+02:00', level: 'warning', appName: 'checkout', msg: `stock low ${run} ünïcødé 日本語 🚀` },
    { timestamp: '2026-03-01T10:00:02.5Z', level: 'err', appName: 'payments', msg: `card declined ${run}` },
    { timestamp: 1772359203000, severity: 7, appName: 'checkout', msg: `debug detail ${run}` },
  ];

  beforeAll(async () => {
    const res = await post('/api/v1/logs', ndjson(records));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ accepted: 4, rejected: [] });
  });

  it('returns the records newest first with every RFC 5424 field', async () => {
    const { status, json } = await get(`/api/v1/logs?service=checkout&start=2026-03-01T00:00:00Z&end=2026-03-02T00:00:00Z`);
    expect(status).toBe(200);
    expect(json.records.map((r: any) => r.msg)).toEqual([`debug detail ${run}`, `order created ${run}`, `stock low ${run} ünïcødé 日本語 🚀`]);
    const order = json.records[1];
    expect(order).toEqual({
      timestamp: '2026-03-01T10:00:00.123456Z', severity: 6, level: 'info', facility: 1, appName: 'checkout', hostname: 'web-1', procId: '42',
      msgId: 'ORDER', structuredData: { 'order@32473': { id: '1001', currency: 'EUR' } }, msg: `order created ${run}`,
      traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', attributes: { orderId: 1001, user: { id: 'u1' }, 'http.method': 'POST', 'say "hi"\\now': 'quoted' },
    });
    // Offsets are normalised to UTC with microseconds; epoch ms is accepted.
    expect(json.records[2].timestamp).toBe('2026-03-01T08:00:01.000000Z');
    expect(json.records[2].severity).toBe(4);
    expect(json.records[0].timestamp).toBe('2026-03-01T10:00:03.000000Z');
  });

  it.each([
    { name: 'severity by name includes worse', query: 'severity=warning', want: [`card declined ${run}`, `stock low ${run} ünïcødé 日本語 🚀`] },
    { name: 'severity by number', query: 'severity=3', want: [`card declined ${run}`] },
    { name: 'traceId', query: 'traceId=0af7651916cd43dd8448eb211c80319c', want: [`order created ${run}`] },
    { name: 'structured data param', query: 'sd.order@32473.currency=EUR', want: [`order created ${run}`] },
    { name: 'nested attribute', query: 'attr.user.id=u1', want: [`order created ${run}`] },
    { name: 'dotted attribute key', query: 'attr.http.method=POST', want: [`order created ${run}`] },
    { name: 'numeric attribute', query: 'attr.orderId=1001', want: [`order created ${run}`] },
    { name: 'attribute key with a quote and a backslash', query: `attr.${encodeURIComponent('say "hi"\\now')}=quoted`, want: [`order created ${run}`] },
    { name: 'end is exclusive', query: 'start=2026-03-01T10:00:00.123456Z&end=2026-03-01T10:00:02.5Z', want: [`order created ${run}`] },
  ])('filters: $name', async ({ query, want }) => {
    // The case's own start or end replaces the day's (a parameter given twice is refused).
    const params = new URLSearchParams({ start: '2026-03-01T00:00:00Z', end: '2026-03-02T00:00:00Z' });
    for (const [k, v] of new URLSearchParams(query)) params.set(k, v);
    const { json } = await get(`/api/v1/logs?${params}`);
    expect(json.records.map((r: any) => r.msg)).toEqual(want);
  });

  it('full-text search finds records once indexed (behind ingest)', async () => {
    const json = await waitFor(async () => {
      const { json } = await get(`/api/v1/logs?q=${encodeURIComponent(`declined ${run}`)}`);
      return json.records.length > 0 ? json : undefined;
    });
    expect(json.records.map((r: any) => r.msg)).toEqual([`card declined ${run}`]);
    const { json: none } = await get(`/api/v1/logs?q=${encodeURIComponent(`"declined ${run} nothing-like-this`)}`);
    expect(none.records).toEqual([]);
  });

  it('stats count by service and severity per bucket', async () => {
    const { json } = await get('/api/v1/logs/stats?interval=1m&start=2026-03-01T10:00:00Z&end=2026-03-01T10:01:00Z');
    expect(json.buckets).toEqual([
      { start: '2026-03-01T10:00:00.000Z', service: 'checkout', severity: 6, count: 1 },
      { start: '2026-03-01T10:00:00.000Z', service: 'checkout', severity: 7, count: 1 },
      { start: '2026-03-01T10:00:00.000Z', service: 'payments', severity: 3, count: 1 },
    ]);
    // a bare number is seconds, as Loki's and Prometheus' step: it was a 400 "at least 1s"
    const { status, json: seconds } = await get('/api/v1/logs/stats?interval=60&start=2026-03-01T10:00:00Z&end=2026-03-01T10:01:00Z');
    expect(status).toBe(200);
    expect(seconds).toEqual({ ...json, interval: '60' });
  });

  it.each([
    { name: 'bad severity', query: 'severity=verbose', key: 'severity' },
    { name: 'severity named like an Object property', query: 'severity=constructor', key: 'severity' },
    { name: 'bad limit', query: 'limit=5000', key: 'limit' },
    // Number() reads these as 100, 16 and 1; Loki and Prometheus answer 400
    { name: 'limit in exponent form', query: 'limit=1e2', key: 'limit' },
    { name: 'limit in hex', query: 'limit=0x10', key: 'limit' },
    { name: 'limit with a leading space', query: 'limit=%201', key: 'limit' },
    { name: 'bad start', query: 'start=yesterday', key: 'start' },
    { name: 'bad cursor', query: 'cursor=nope', key: 'cursor' },
    // Left out silently, these gave every record instead of the ones asked for.
    { name: 'unknown parameter', query: 'level=error', key: 'level' },
    { name: 'parameter given twice', query: 'service=checkout&service=billing', key: 'service' },
    { name: 'attribute without a key', query: 'attr.=x', key: 'attr.' },
  ])('rejects a bad query: $name', async ({ query, key }) => {
    const { status, json } = await get(`/api/v1/logs?${query}`);
    expect(status).toBe(400);
    expect(json.error.details.key).toBe(key);
    expect(json.error.code).toMatch(/^PERISCOPE_ERR_BAD_(QUERY|CURSOR)$/);
  });

  it('a request line with raw UTF-8 bytes gets a 400 in the error shape, saying to percent-encode', async () => {
    const { port, hostname } = new URL(collector.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.end(Buffer.from('GET /api/v1/logs?q=CAFÉ HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n', 'utf8')));
      let text = '';
      socket.on('data', (d) => (text += d.toString('utf8')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(body.error).toMatchObject({ code: 'PERISCOPE_ERR_BAD_QUERY', message: expect.stringContaining('percent-encoded') });
  });

  it('on its loopback listener it answers localhost and IP addresses only, not a name re-pointed at 127.0.0.1 (DNS rebinding)', async () => {
    const { port } = new URL(collector.url);
    const getWithHost = (host: string) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = request(`${collector.url}/api/v1/logs?limit=1`, { headers: { host } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`]) {
      const { status, body } = await getWithHost(host);
      expect(status, host).toBe(403);
      expect(body.error).toMatchObject({ code: 'PERISCOPE_ERR_FORBIDDEN_HOST', message: expect.stringContaining('http.allowedHosts') });
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `app.localhost:${port}`]) {
      expect((await getWithHost(host)).status, host).toBe(200);
    }
  });

  // @fastify/websocket takes an upgrade's socket away from the HTTP server: one refused before its
  // own hook ran stayed open as long as the client kept it, and the collector could not stop.
  it.each([
    { name: 'a Host it does not serve', headers: 'host: evil.example', path: '/api/v1/logs/tail', status: 403 },
    { name: 'a cross-site Origin', headers: 'host: 127.0.0.1\r\norigin: https://evil.example', path: '/api/v1/logs/tail', status: 403 },
    { name: 'an unknown path', headers: 'host: 127.0.0.1', path: '/api/v1/nothing-here', status: 404 },
  ])('a WebSocket upgrade refused for $name is answered, then its connection closed by the collector', async ({ headers, path, status }) => {
    const { port, hostname } = new URL(collector.url);
    const upgrade = `GET ${path} HTTP/1.1\r\n${headers}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    const answer = await new Promise<string>((resolve, reject) => {
      // The client never ends its side: only the collector closing it resolves this.
      const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true }, () => socket.write(upgrade));
      let text = '';
      socket.on('data', (d) => (text += d.toString('utf8')));
      socket.on('end', () => {
        socket.destroy();
        resolve(text);
      });
      socket.on('error', reject);
    });
    expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  });
});

describe('pagination and export', () => {
  const svc = `paged-${Date.now()}`;
  const N = 250;
  beforeAll(async () => {
    const base = Date.parse('2026-04-01T00:00:00Z');
    // Several records share a timestamp so the (ts, id) keyset is exercised.
    const recs = Array.from({ length: N }, (_, i) => ({ timestamp: base + Math.floor(i / 3) * 1000, appName: svc, msg: `m${i}`, attributes: { i } }));
    const res = await post('/api/v1/logs', JSON.stringify(recs), { 'content-type': 'application/json' });
    expect(res.json.accepted).toBe(N);
  });

  it('walks every record exactly once with the cursor', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { json }: { json: any } = await get(`/api/v1/logs?service=${svc}&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...json.records.map((r: any) => r.attributes.i));
      cursor = json.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(N);
    expect(new Set(seen).size).toBe(N);
    expect(seen[0]).toBe(N - 1); // newest first
  });

  it('exports NDJSON and CSV without a row limit', async () => {
    const nd = await (await fetch(`${collector.url}/api/v1/logs/export?service=${svc}&format=ndjson`)).text();
    const lines = nd.trim().split('\n');
    expect(lines).toHaveLength(N);
    expect(JSON.parse(lines[0]).attributes.i).toBe(N - 1);
    const res = await fetch(`${collector.url}/api/v1/logs/export?service=${svc}&format=csv`);
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    const csv = (await res.text()).trim().split('\r\n');
    expect(csv[0]).toBe('timestamp,severity,level,facility,hostname,appName,procId,msgId,traceId,spanId,msg,structuredData,attributes');
    expect(csv).toHaveLength(N + 1);
    expect(csv[1]).toContain(`,${svc},`);
    expect(csv[1]).toContain('"{""i"":249}"');
  });
});

describe('bad input: each gets its documented answer, valid records are kept, the collector stays up', () => {
  const valid = (tag: string) => JSON.stringify({ appName: 'badinput', msg: `valid ${tag}` });
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)); // 64 MiB of spaces → ~64 KiB gzip

  interface BadInputCase {
    name: string;
    body: () => string | Buffer;
    headers?: Record<string, string>;
    status: number;
    accepted?: number;
    rejected?: Array<{ index: number; code: string }>;
    code?: string;
  }
  it.each<BadInputCase>([
    {
      name: 'malformed JSON line inside a batch',
      body: () => `${valid('a')}\n{"msg": "broken\n${valid('b')}\n`,
      status: 200, accepted: 2, rejected: [{ index: 1, code: 'PERISCOPE_ERR_BAD_JSON' }],
    },
    {
      name: 'wrong field types',
      body: () => `${JSON.stringify({ appName: 'badinput', msg: 42 })}\n${JSON.stringify({ appName: 7, msg: 'x' })}\n${valid('c')}\n${JSON.stringify({ msg: 'x', severity: '3' })}`,
      status: 200, accepted: 1,
      rejected: [{ index: 0, code: 'PERISCOPE_ERR_BAD_FIELD' }, { index: 1, code: 'PERISCOPE_ERR_BAD_FIELD' }, { index: 3, code: 'PERISCOPE_ERR_BAD_SEVERITY' }],
    },
    {
      name: 'unknown severity and out-of-range numbers',
      body: () => `${JSON.stringify({ msg: 'x', level: 'verbose' })}\n${JSON.stringify({ msg: 'x', severity: 9 })}\n${valid('d')}`,
      status: 200, accepted: 1, rejected: [{ index: 0, code: 'PERISCOPE_ERR_BAD_SEVERITY' }, { index: 1, code: 'PERISCOPE_ERR_BAD_SEVERITY' }],
    },
    {
      name: 'bad trace id, timestamp and structured data',
      body: () => [
        { msg: 'x', traceId: 'abc' }, { msg: 'x', timestamp: '2026-02-30T99:00:00Z' }, { msg: 'x', structuredData: { 'bad id': { a: 'b' } } }, { msg: 'x', structuredData: { 'ok@1': { a: 5 } } },
      ].map((r) => JSON.stringify(r)).join('\n') + '\n' + valid('e'),
      status: 200, accepted: 1,
      rejected: [
        { index: 0, code: 'PERISCOPE_ERR_BAD_FIELD' }, { index: 1, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' },
        { index: 2, code: 'PERISCOPE_ERR_BAD_FIELD' }, { index: 3, code: 'PERISCOPE_ERR_BAD_FIELD' },
      ],
    },
    {
      name: 'timestamps the store cannot keep (before 1970, after 2199)',
      body: () => [
        { msg: 'x', timestamp: '9999-12-31T23:59:59Z' }, { msg: 'x', timestamp: 1e20 }, { level: 30, time: 1e20, msg: 'x' }, { msg: 'x', timestamp: '1600-01-01T00:00:00Z' },
      ].map((r) => JSON.stringify(r)).join('\n') + '\n' + valid('h'),
      status: 200, accepted: 1,
      rejected: [0, 1, 2, 3].map((index) => ({ index, code: 'PERISCOPE_ERR_BAD_TIMESTAMP' })),
    },
    {
      // > 32 KiB: parsed in a worker thread, whose deeper stack once let 6000 levels through
      name: 'a record nested 6000 levels deep, in a body big enough for the parse worker',
      body: () => `${valid('i')}\n{"appName":"badinput","msg":"deep","attributes":${'{"a":'.repeat(6000)}1${'}'.repeat(6000)}}\n`,
      status: 200, accepted: 1, rejected: [{ index: 1, code: 'PERISCOPE_ERR_BAD_RECORD' }],
    },
    {
      name: 'nothing valid → 400 with the same shape',
      body: () => '[1, "two", null]',
      headers: { 'content-type': 'application/json' },
      status: 400, accepted: 0,
      rejected: [{ index: 0, code: 'PERISCOPE_ERR_BAD_RECORD' }, { index: 1, code: 'PERISCOPE_ERR_BAD_RECORD' }, { index: 2, code: 'PERISCOPE_ERR_BAD_RECORD' }],
    },
    { name: 'oversize body → 413', body: () => 'x'.repeat(2 * 1024 * 1024), status: 413, code: 'PERISCOPE_ERR_BODY_TOO_LARGE' },
    { name: 'gzip bomb → 413', body: () => bomb, headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, status: 413, code: 'PERISCOPE_ERR_BODY_TOO_LARGE' },
    { name: 'corrupt gzip → 400', body: () => Buffer.from('not gzip at all'), headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, status: 400, code: 'PERISCOPE_ERR_BAD_ENCODING' },
    { name: 'unknown content type → 415', body: () => valid('f'), headers: { 'content-type': 'text/plain' }, status: 415, code: 'PERISCOPE_ERR_UNSUPPORTED_MEDIA_TYPE' },
    { name: 'unknown content encoding → 415', body: () => valid('g'), headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'br' }, status: 415, code: 'PERISCOPE_ERR_UNSUPPORTED_MEDIA_TYPE' },
  ])('$name', async ({ body, headers, status, accepted, rejected, code }) => {
    const res = await post('/api/v1/logs', body(), headers);
    expect(res.status).toBe(status);
    if (code) expect(res.json.error.code).toBe(code);
    if (accepted !== undefined) {
      expect(res.json.accepted).toBe(accepted);
      expect(res.json.rejected.map((r: any) => ({ index: r.index, code: r.code }))).toEqual(rejected);
      for (const r of res.json.rejected) expect(r.message).toMatch(/\w/);
    }
    expect((await get('/health')).status).toBe(200);
  });

  it('an oversize upload far past the socket buffers still gets its 413 (lingering close), not a broken pipe', async () => {
    // Without the lingering read the collector closes while the client is still sending: fetch
    // then fails with EPIPE / ECONNRESET instead of returning the 413 (most of the time at this size).
    const big = 'x'.repeat(24 * 1024 * 1024);
    for (let i = 0; i < 3; i++) {
      const res = await post('/api/v1/logs', big);
      expect(res.status).toBe(413);
      expect(res.json.error.code).toBe('PERISCOPE_ERR_BODY_TOO_LARGE');
      const refusedType = await post('/api/v1/logs', big, { 'content-type': 'text/plain' });
      expect(refusedType.status).toBe(415);
    }
  });

  it('keeps every valid record of the mixed batches above', async () => {
    const { json } = await get('/api/v1/logs?service=badinput&limit=1000');
    expect(json.records.map((r: any) => r.msg).sort()).toEqual(['valid a', 'valid b', 'valid c', 'valid d', 'valid e', 'valid h', 'valid i']);
    // nothing stored makes a query fail (a year-9999 record once broke every newest-first query)
    for (const path of ['/api/v1/logs?limit=5', '/api/v1/logs/stats', '/api/v1/logs/export']) expect((await fetch(collector.url + path)).status).toBe(200);
  });

  it('lists the first 1000 rejections and gives their number, counting every one', async () => {
    const rejectedMetric = async () => {
      const text = await (await fetch(`${collector.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('periscope_receiver_rejected_records_total{receiver="native",reason="PERISCOPE_ERR_BAD_JSON"}'));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const before = await rejectedMetric();
    const body = `${'plain text, not JSON\n'.repeat(1500)}${valid('many')}`;
    const res = await post('/api/v1/logs', body);
    expect(res.status).toBe(200);
    expect(res.json.accepted).toBe(1);
    expect(res.json.rejected).toHaveLength(1000);
    expect(res.json.rejected[999]).toMatchObject({ index: 999, code: 'PERISCOPE_ERR_BAD_JSON' });
    expect(res.json.rejectedCount).toBe(1500);
    expect((await rejectedMetric()) - before).toBe(1500);
  });

  it('gzip bodies are accepted', async () => {
    const res = await post('/api/v1/logs', gzipSync(valid('gz')), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
    expect(res.json).toEqual({ accepted: 1, rejected: [] });
  });

  it('non-UTF-8 bytes become U+FFFD instead of failing the batch', async () => {
    const body = Buffer.concat([Buffer.from('{"appName":"utf8test","msg":"bad '), Buffer.from([0xff, 0xfe]), Buffer.from(' bytes"}\n')]);
    const res = await post('/api/v1/logs', body);
    expect(res.json.accepted).toBe(1);
    const { json } = await get('/api/v1/logs?service=utf8test');
    expect(json.records[0].msg).toBe('bad \uFFFD\uFFFD bytes');
  });

  it('plain pino lines are accepted with levels mapped as pino-syslog does', async () => {
    const svc = `pino-${Date.now()}`;
    const lines = [10, 20, 30, 40, 50, 60].map((level, i) => JSON.stringify({ level, time: 1767225600000 + i, pid: 7, hostname: 'h', name: svc, msg: `l${level}`, extra: i }));
    const res = await post('/api/v1/logs', lines.join('\n'));
    expect(res.json.accepted).toBe(6);
    const { json } = await get(`/api/v1/logs?service=${svc}`);
    expect(json.records.map((r: any) => [r.msg, r.severity, r.level])).toEqual([
      ['l60', 2, 'crit'], ['l50', 3, 'err'], ['l40', 4, 'warning'], ['l30', 6, 'info'], ['l20', 7, 'debug'], ['l10', 7, 'debug'],
    ]);
    expect(json.records[0]).toMatchObject({ procId: '7', hostname: 'h', appName: svc, attributes: { extra: 5 }, timestamp: '2026-01-01T00:00:00.005000Z' });
  });

  it('over-long header fields are truncated and flagged, never dropped', async () => {
    const res = await post('/api/v1/logs', JSON.stringify({ appName: 'a'.repeat(60), msgId: 'm'.repeat(40), msg: 'long fields' }));
    expect(res.json.accepted).toBe(1);
    const { json } = await get(`/api/v1/logs?service=${'a'.repeat(48)}`);
    expect(json.records[0].appName).toHaveLength(48);
    expect(json.records[0].msgId).toHaveLength(32);
    expect(json.records[0].truncated).toEqual(['appName', 'msgId']);
  });
});

describe('self metrics and health', () => {
  it('/metrics counts accepted and rejected records by receiver and reason', async () => {
    const text = await (await fetch(`${collector.url}/metrics`)).text();
    expect(text).toMatch(/periscope_receiver_accepted_records_total\{receiver="native"\} \d+/);
    expect(text).toMatch(/periscope_receiver_rejected_records_total\{receiver="native",reason="PERISCOPE_ERR_BAD_JSON"\} 1/);
    // whole requests refused for their body, by the bad-input cases above
    for (const reason of ['PERISCOPE_ERR_BODY_TOO_LARGE', 'PERISCOPE_ERR_UNSUPPORTED_MEDIA_TYPE', 'PERISCOPE_ERR_BAD_ENCODING']) {
      expect(text).toMatch(new RegExp(`periscope_receiver_refused_requests_total\\{receiver="native",reason="${reason}"\\} [1-9]`));
    }
    expect(text).toMatch(/periscope_log_records_total\{service="payments",level="err"\} 1/);
    // the process's own, under the periscope_ prefix once (not periscope_process_process_…)
    expect(text).toMatch(/^periscope_process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^periscope_nodejs_heap_size_used_bytes \d+/m);
    expect(text).not.toContain('periscope_process_process_');
  });

  it('/health/detailed shows each component', async () => {
    const { status, json } = await get('/health/detailed');
    expect(status, JSON.stringify(json.components)).toBe(200);
    expect(Object.keys(json.components).sort()).toEqual(['alerting', 'http', 'metrics', 'retention', 'searchIndex', 'store', 'syslog', 'traces']);
    expect(json.components.store.records).toBeGreaterThan(250);
  });
});
