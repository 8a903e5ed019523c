// Slow clients against the real collector process: a body trickled byte by byte must not hold its
// connection forever (Fastify turns Node's request timeout off unless it is given one).
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess({ configYaml: 'http:\n  requestTimeout: 1s\n' });
});

afterAll(async () => {
  await collector?.dispose();
});

it('a request whose body never arrives in full is answered 408 after http.requestTimeout, and the collector serves others', { timeout: 60_000 }, async () => {
  const { port, hostname } = new URL(collector.url);
  const socket = connect(Number(port), hostname);
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
  // The body keeps coming, a byte at a time, but never reaches its Content-Length.
  socket.write('POST /api/v1/logs HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-ndjson\r\ncontent-length: 100000\r\n\r\n{');
  const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
  try {
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  } finally {
    clearInterval(trickle);
  }
  expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  const res = await fetch(`${collector.url}/health`);
  expect(res.status).toBe(200);
});
