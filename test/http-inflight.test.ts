// Request bodies held at once, against the real collector process: http.bodyLimit bounds one body
// and http.maxConnections their number, but senders each holding a large body open (a slow link,
// a gzip body whose last bytes are late) grew the process' memory by their product.
// http.maxInflightBytes answers 503 + Retry-After over its bound, and takes requests again once
// the held ones are answered.
import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

const MiB = 1024 * 1024;
let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess({ configYaml: 'http:\n  bodyLimit: 2MiB\n  maxInflightBytes: 1MiB\n' });
});

afterAll(async () => {
  await collector?.dispose();
});

const record = (msg: string) => JSON.stringify({ timestamp: new Date().toISOString(), level: 'info', appName: 'inflight-test', msg });

/** A POST of a body of `length` bytes of which only the first few are sent: the server holds it. */
function holdBody(url: string, length: number): Socket {
  const { port, hostname } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  socket.write(`POST /api/v1/logs HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/x-ndjson\r\ncontent-length: ${length}\r\n\r\n${record('held')}\n`);
  return socket;
}

async function metric(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${collector.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

it('answers 503 with Retry-After while bodies at http.maxInflightBytes are held, and takes requests again once they are answered', { timeout: 60_000 }, async () => {
  const held = [holdBody(collector.url, MiB / 2), holdBody(collector.url, MiB / 2)];
  try {
    await waitFor(async () => (await metric('periscope_http_inflight_bytes')) === MiB);

    // A body whose Content-Length does not fit: refused before any of it is read.
    const native = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: record('refused') });
    expect(native.status).toBe(503);
    expect(native.headers.get('retry-after')).toBe('1');
    expect((await native.json()).error.code).toBe('PERISCOPE_ERR_OVERLOADED');

    // A gzip body (its decoded size is known only as it is read): refused at its first bytes, as OTLP answers.
    const otlp = await fetch(`${collector.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ resourceLogs: [] })),
    });
    expect(otlp.status).toBe(503);
    expect(otlp.headers.get('retry-after')).toBe('1');
    expect((await otlp.json()).message).toContain('http.maxInflightBytes');
  } finally {
    for (const socket of held) socket.destroy();
  }

  // Alone, a request is taken even larger than the bound (bodyLimit is above it here).
  await waitFor(async () => (await metric('periscope_http_inflight_bytes')) === 0);
  const lines = Array.from({ length: Math.ceil((1.5 * MiB) / 100) }, (_, i) => record(`taken again ${i}`)).join('\n');
  expect(lines.length).toBeGreaterThan(1.5 * MiB);
  const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, body: gzipSync(lines) });
  expect(res.status).toBe(200);
  // Given back once answered, though its keep-alive connection stays open.
  await waitFor(async () => (await metric('periscope_http_inflight_bytes')) === 0);
  expect(await metric('periscope_http_inflight_refused_requests_total')).toBe(2);
  expect(collector.output()).toContain('HTTP request refused (503): request bodies at the bound of http.maxInflightBytes (1MiB) are held');
});
