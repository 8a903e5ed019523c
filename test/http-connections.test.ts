// Many connections against the real collector process: a client that opens thousands (no
// keep-alive pooling, a runaway retry loop) must not take every file descriptor of the process;
// connections over http.maxConnections are closed on accept, counted and logged.
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { freePort } from './helpers/net.ts';

let collector: CollectorProcess;
let probed: CollectorProcess;

beforeAll(async () => {
  [collector, probed] = await Promise.all([
    startCollectorProcess({ configYaml: 'http:\n  maxConnections: 20\n' }),
    startCollectorProcess({ configYaml: 'http:\n  maxConnections: 5\n  healthAddr: 127.0.0.1:0\n' }),
  ]);
});

afterAll(async () => {
  await Promise.all([collector?.dispose(), probed?.dispose()]);
});

/** Opens `count` idle sockets to `url`'s host and port; resolves once each is connected (or closed). */
async function fill(url: string, count: number): Promise<{ destroy: () => void }> {
  const { port, hostname } = new URL(url);
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    sockets.push(socket);
  }
  await Promise.all(sockets.map((s) => new Promise((resolve) => (s.connecting ? s.once('connect', resolve).once('close', resolve) : resolve(undefined)))));
  return { destroy: () => sockets.forEach((s) => s.destroy()) };
}

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

/** A GET on a connection of its own, as kubelet's probes are sent: the status and body, or the error's code. */
function probe(url: string): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

it('answers the probes and /metrics on http.healthAddr while the main listener is full', { timeout: 60_000 }, async () => {
  const held = await fill(probed.url, 5);
  try {
    // The main listener is full: it closes a new connection on accept, the probe's too.
    expect((await probe(`${probed.url}/health`)).error).toBeDefined();
    for (const path of ['/health', '/health/ready', '/metrics']) {
      const res = await probe(`${probed.healthUrl}${path}`);
      expect(res.status, `${path}: ${JSON.stringify(res)}`).toBe(200);
      if (path === '/metrics') expect(res.body).toMatch(/^periscope_http_refused_connections_total [1-9]\d*$/m);
    }
    // Only those: ingest and the API stay on http.addr.
    const other = await fetch(`${probed.healthUrl}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
    expect(other.status).toBe(404);
    expect((await other.json()).error.code).toBe('PERISCOPE_ERR_NOT_FOUND');
  } finally {
    held.destroy();
  }
});

it("says when http.healthAddr is http.addr's port, not that another process has it", { timeout: 60_000 }, async () => {
  const port = await freePort();
  const start = startCollectorProcess({ httpAddr: `127.0.0.1:${port}`, configYaml: `http:\n  healthAddr: 0.0.0.0:${port}\n` });
  await expect(start).rejects.toThrow(`cannot listen for health probes on 0.0.0.0:${port}: http.addr (127.0.0.1:${port}) listens on port ${port}; give http.healthAddr a port of its own`);
});
