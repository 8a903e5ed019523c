// Slow clients against the real collector process: a body trickled byte by byte must not hold its
// connection forever (Fastify turns Node's request timeout off unless it is given one).
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { trickleUntilClosed } from './helpers/net.ts';

let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess({ configYaml: 'http:\n  requestTimeout: 1s\n' });
});

afterAll(async () => {
  await collector?.dispose();
});

it('a request whose body never arrives in full is answered 408 after http.requestTimeout, and the collector serves others', { timeout: 60_000 }, async () => {
  const { port, hostname } = new URL(collector.url);
  // The body keeps coming, a byte at a time, but never reaches its Content-Length.
  expect(await trickleUntilClosed(connect(Number(port), hostname))).toMatch(/^HTTP\/1\.1 408 /);
  const res = await fetch(`${collector.url}/health`);
  expect(res.status).toBe(200);
});
