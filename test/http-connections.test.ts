// Many connections against the real collector process: a client that opens thousands (no
// keep-alive pooling, a runaway retry loop) must not take every file descriptor of the process;
// connections over http.maxConnections are closed on accept, counted and logged.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;

beforeAll(async () => {
  collector = await startCollectorProcess({ configYaml: 'http:\n  maxConnections: 20\n' });
});

afterAll(async () => {
  await collector?.dispose();
});

/** One request on an open socket; resolves with the status line. */
function ask(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    socket.on('data', (d: Buffer) => {
      answer += d.toString('utf8');
      if (answer.includes('\r\n')) resolve(answer.split('\r\n')[0]);
    });
    socket.once('close', () => reject(new Error(`closed before an answer: ${answer}`)));
    socket.write('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
  });
}

it('closes connections over http.maxConnections on accept, serves the ones it holds, and counts the refused', { timeout: 60_000 }, async () => {
  const { port, hostname } = new URL(collector.url);
  const sockets: Socket[] = [];
  const closed = new Set<Socket>();
  for (let i = 0; i < 50; i++) {
    const socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    socket.on('close', () => closed.add(socket));
    sockets.push(socket);
  }
  try {
    await waitFor(() => closed.size >= 30);
    const open = sockets.filter((s) => !closed.has(s));
    expect(open).toHaveLength(20);
    for (const status of await Promise.all(open.map(ask))) expect(status).toBe('HTTP/1.1 200 OK');
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  // Once they are closed, the collector takes connections again. A probe that arrives before the
  // collector has seen the closes is itself refused (and counted): the count says so.
  let refusedProbes = 0;
  const text = await waitFor(async () => {
    const res = await fetch(`${collector.url}/metrics`).catch(() => void refusedProbes++);
    return res?.status === 200 && res.text();
  });
  expect(text).toMatch(new RegExp(`^periscope_http_refused_connections_total ${30 + refusedProbes}$`, 'm'));
  expect(text).toMatch(/^periscope_http_open_connections \d+$/m);
  expect(collector.output()).toContain('HTTP connection closed on accept: http.maxConnections (20) connections are open');
});
