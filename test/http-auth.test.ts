// http.auth on the real collector process, over sockets: basic users (bcrypt hashes made by
// `periscope hash-password`) and a bearer token read from a secret file, as Prometheus' web config
// and the OpenTelemetry Collector's basicauth/bearertokenauth extensions take them.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { REPO_ROOT, startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { runSdkApp } from './helpers/sdk-app.ts';

const T = 60_000;
const BIN = join(REPO_ROOT, 'collector/bin/periscope.ts');
const PASSWORD = 'corr3ct-h0rse:bättery';
const TOKEN = 'tok_9f8e7d6c5b4a3210fedcba9876543210';
const WRONG_PASSWORD = 'wr0ng-pässword-never-logged';
const WRONG_TOKEN = 'tok_wrong_never_logged_0123456789';

/** `periscope hash-password` with `password` on stdin: its stdout, trimmed. */
function hashPassword(password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'hash-password'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`hash-password exited ${code}: ${err}`))));
    child.stdin.end(`${password}\n`);
  });
}

const runApp = (scenario: string, env: Record<string, string>) => runSdkApp(scenario, env);

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ndjson = (records: object[]) => records.map((r) => JSON.stringify(r)).join('\n');

let collector: CollectorProcess;
let secrets: string;
let alice: string;

beforeAll(async () => {
  alice = await hashPassword(PASSWORD);
  secrets = mkdtempSync(join(tmpdir(), 'periscope-auth-'));
  writeFileSync(join(secrets, 'token'), `${TOKEN}\n`); // as `echo TOKEN > file` writes it
  collector = await startCollectorProcess({
    configYaml: [
      'http:',
      '  healthAddr: 127.0.0.1:0',
      '  auth:',
      '    basicUsers:',
      `      alice: "${alice}"`,
      '    bearerTokens:',
      `      - \${file:${join(secrets, 'token')}}`,
      '',
    ].join('\n'),
  });
}, T);

afterAll(async () => {
  await collector?.dispose();
  if (secrets) rmSync(secrets, { recursive: true, force: true });
});

describe('http.auth: refusals', () => {
  it.each([
    { name: 'native ingest', method: 'POST', path: '/api/v1/logs', body: ndjson([{ msg: 'x', appName: 'auth' }]) },
    { name: 'the query API', method: 'GET', path: '/api/v1/logs?limit=1' },
    { name: 'the console', method: 'GET', path: '/' },
    { name: '/metrics', method: 'GET', path: '/metrics' },
    { name: '/health/detailed', method: 'GET', path: '/health/detailed' },
    { name: 'dead-letter replay', method: 'POST', path: '/api/v1/deadletter/replay' },
    { name: 'the alert list', method: 'GET', path: '/api/v1/alerts' },
    { name: 'Alertmanager-compatible alerts', method: 'POST', path: '/api/v2/alerts', body: '[]' },
    { name: 'reload', method: 'POST', path: '/-/reload' },
    { name: 'a path no route serves', method: 'GET', path: '/no/such/path' },
  ])('$name without credentials: 401 with a Basic challenge, in the API error shape', async ({ method, path, body }) => {
    const res = await fetch(collector.url + path, { method, ...(body !== undefined && { body, headers: { 'content-type': 'application/json' } }) });
    expect(res.status).toBe(401);
    // Both challenges, Basic first: a browser asks for a user and password.
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="periscope", charset="UTF-8", Bearer realm="periscope"');
    expect(await res.json()).toMatchObject({ error: { code: 'PERISCOPE_ERR_UNAUTHORIZED' } });
  });

  it.each([
    { name: 'a wrong password', authorization: basic('alice', WRONG_PASSWORD) },
    { name: 'an unknown user', authorization: basic('mallory', PASSWORD) },
    { name: 'a wrong token', authorization: `Bearer ${WRONG_TOKEN}` },
    { name: "alice's password as a token", authorization: `Bearer ${PASSWORD}` },
  ])('$name: 401, nothing stored', async ({ authorization }) => {
    const service = `refused-${Math.random().toString(36).slice(2)}`;
    const res = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-ndjson' }, body: ndjson([{ msg: 'x', appName: service }]) });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'PERISCOPE_ERR_UNAUTHORIZED' } });
    const stored = await fetch(`${collector.url}/api/v1/logs?service=${service}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(((await stored.json()) as { records: unknown[] }).records).toEqual([]);
  });

  it('OTLP/HTTP without credentials: 401 as a google.rpc.Status (code 16 UNAUTHENTICATED), JSON and protobuf', async () => {
    const json = await fetch(`${collector.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceLogs":[]}' });
    expect(json.status).toBe(401);
    expect(json.headers.get('www-authenticate')).toContain('Basic realm="periscope"');
    expect(await json.json()).toMatchObject({ code: 16 });
    const proto = await fetch(`${collector.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(0) });
    expect(proto.status).toBe(401);
    expect(proto.headers.get('content-type')).toBe('application/x-protobuf');
    // google.rpc.Status field 1 (code), varint 16: bytes 0x08 0x10.
    expect([...new Uint8Array(await proto.arrayBuffer()).slice(0, 2)]).toEqual([0x08, 16]);
  });

  it('the live-tail WebSocket without credentials is refused at the upgrade with 401, and its connection closed', async () => {
    const ws = new WebSocket(`${collector.url.replace('http', 'ws')}/api/v1/logs/tail`);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      ws.on('unexpected-response', (_req, r) => resolve(r));
      ws.on('open', () => reject(new Error('opened without credentials')));
      ws.on('error', () => {});
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('Basic realm="periscope"');
    // The client keeps it open: the collector must close it (an open one kept it from stopping).
    if (!res.socket.destroyed) await once(res.socket, 'close');
  });

  it('HEAD without credentials: 401 with the challenge', async () => {
    const status = await new Promise<{ code: number; challenge: string | string[] | undefined }>((resolve, reject) => {
      const req = httpRequest(`${collector.url}/metrics`, { method: 'HEAD' }, (res) => {
        res.resume();
        resolve({ code: res.statusCode ?? 0, challenge: res.headers['www-authenticate'] });
      });
      req.on('error', reject);
      req.end();
    });
    expect(status.code).toBe(401);
    expect(String(status.challenge)).toContain('Basic realm="periscope"');
  });
});

describe('http.auth: what is open', () => {
  it.each(['/health', '/health/ready'])('GET and HEAD %s answer without credentials (Kubernetes probes)', async (path) => {
    expect((await fetch(collector.url + path)).status).toBe(200);
    expect((await fetch(collector.url + path, { method: 'HEAD' })).status).toBe(200);
  });

  it('an acknowledgement link (/ack/<signed token>) is judged by its token, not refused for credentials', async () => {
    const res = await fetch(`${collector.url}/ack/not-a-valid-token`, { headers: { accept: 'application/json' } });
    expect(res.status).not.toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PERISCOPE_ERR_ALERT_ACK_TOKEN_INVALID');
  });

  it('the http.healthAddr listener serves /metrics and /health/detailed without credentials', async () => {
    expect((await fetch(`${collector.healthUrl}/health/detailed`)).status).toBe(200);
    const metrics = await fetch(`${collector.healthUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^periscope_http_unauthorized_requests_total\{reason="missing"\} [1-9]/m);
  });
});

describe('http.auth: accepted credentials', () => {
  it.each([
    { name: 'basic (bcrypt hash from periscope hash-password)', authorization: basic('alice', PASSWORD) },
    { name: 'bearer (token from ${file:…}, its newline trimmed)', authorization: `Bearer ${TOKEN}` },
  ])('$name: ingest, query, console, metrics', async ({ authorization }) => {
    const service = `ok-${Math.random().toString(36).slice(2)}`;
    const post = await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-ndjson' }, body: ndjson([{ msg: 'hello', appName: service }]) });
    expect(post.status).toBe(200);
    const query = await fetch(`${collector.url}/api/v1/logs?service=${service}`, { headers: { authorization } });
    expect(query.status).toBe(200);
    expect(((await query.json()) as { records: Array<{ msg: string }> }).records.map((r) => r.msg)).toEqual(['hello']);
    expect((await fetch(`${collector.url}/`, { headers: { authorization } })).status).toBe(200);
    expect((await fetch(`${collector.url}/metrics`, { headers: { authorization } })).status).toBe(200);
  });

  it('the live tail over a WebSocket that sends the Authorization header on the upgrade', async () => {
    const authorization = basic('alice', PASSWORD);
    const service = `tail-${Math.random().toString(36).slice(2)}`;
    const ws = new WebSocket(`${collector.url.replace('http', 'ws')}/api/v1/logs/tail?service=${service}`, { headers: { authorization } });
    const messages: unknown[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data))));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      // Records sent until one arrives: the subscription starts a moment after the upgrade.
      await waitFor(async () => {
        await fetch(`${collector.url}/api/v1/logs`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-ndjson' }, body: ndjson([{ msg: 'tailed', appName: service }]) });
        return messages.some((m) => JSON.stringify(m).includes('tailed'));
      }, 20_000, 200);
    } finally {
      ws.close();
    }
  });

  it(
    'SDK end to end: OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer …", and basic credentials in the endpoint URL',
    async () => {
      const endpoint = new URL(collector.url);
      const cases: Array<{ service: string; env: Record<string, string> }> = [
        { service: `sdk-bearer-${Date.now()}`, env: { PERISCOPE_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${TOKEN}` } },
        { service: `sdk-basic-${Date.now()}`, env: { PERISCOPE_ENDPOINT: `http://alice:${encodeURIComponent(PASSWORD)}@${endpoint.host}` } },
      ];
      for (const { service, env } of cases) {
        const { code, result, stderr } = await runApp('logs', { ...env, APP_SERVICE: service, PERISCOPE_LOG_LEVEL: 'trace', PERISCOPE_RUNTIME_METRICS: 'false' });
        expect(code, stderr).toBe(0);
        expect(result.sent, JSON.stringify(result)).toBe(8);
        expect(stderr).not.toContain('PERISCOPE_SDK_DELIVERY_REFUSED');
        const { records } = (await (await fetch(`${collector.url}/api/v1/logs?service=${service}&limit=100`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { records: unknown[] };
        expect(records).toHaveLength(8);
      }
      // Without credentials the SDK's records are refused, counted as failed, never stored.
      const service = `sdk-none-${Date.now()}`;
      const { result, stderr } = await runApp('logs', { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: service, PERISCOPE_RUNTIME_METRICS: 'false', PERISCOPE_SHUTDOWN_TIMEOUT_MS: '3000' });
      expect(result.sent).toBe(0);
      // The app is told, once, why (not only a counter in stats()), and what to set.
      expect(stderr.match(/refused log records with 401/g), stderr).toHaveLength(1);
      expect(stderr).toContain(`[PERISCOPE_SDK_DELIVERY_REFUSED] Warning: the collector at ${collector.url}/api/v1/logs refused log records with 401 PERISCOPE_ERR_UNAUTHORIZED`);
      expect(stderr).toContain('OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer <token>"');
      // Spans and metrics go through OpenTelemetry's OTLP exporters: refused alike, said once each.
      const otlp = await runApp('spans', { PERISCOPE_ENDPOINT: collector.url, APP_SERVICE: `${service}-otlp`, PERISCOPE_RUNTIME_METRICS: 'false', PERISCOPE_SHUTDOWN_TIMEOUT_MS: '3000' });
      expect(otlp.result.stats.spans).toMatchObject({ exported: 0, failed: 5 });
      expect(otlp.stderr.match(/refused spans with 401/g), otlp.stderr).toHaveLength(1);
      expect(otlp.stderr).toContain(`[PERISCOPE_SDK_DELIVERY_REFUSED] Warning: the collector at ${collector.url}/v1/traces refused spans with 401`);
      expect(otlp.stderr.match(/refused metrics with 401/g), otlp.stderr).toHaveLength(1);
      const { records } = (await (await fetch(`${collector.url}/api/v1/logs?service=${service}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { records: unknown[] };
      expect(records).toEqual([]);
    },
    T,
  );
});

describe('http.auth: counted, logged, and never the credentials', () => {
  it('refusals are counted by reason, logged rate-limited, and no password or token is in any line or answer', async () => {
    const authorization = `Bearer ${TOKEN}`;
    const read = async () => {
      const text = await (await fetch(`${collector.url}/metrics`, { headers: { authorization } })).text();
      const at = (reason: string) => Number(new RegExp(`^periscope_http_unauthorized_requests_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1]);
      return { missing: at('missing'), invalid: at('invalid') };
    };
    const before = await read();
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) {
      answers.push(await (await fetch(`${collector.url}/api/v1/logs`, { headers: { authorization: basic('alice', WRONG_PASSWORD) } })).text());
      answers.push(await (await fetch(`${collector.url}/api/v1/logs?token=x`, { headers: { authorization: `Bearer ${WRONG_TOKEN}` } })).text());
    }
    answers.push(await (await fetch(`${collector.url}/api/v1/logs`)).text());
    expect(await read()).toEqual({ missing: before.missing + 1, invalid: before.invalid + 6 });
    await waitFor(() => collector.output().includes('"reason":"invalid"'));
    const lines = collector.output().split('\n').filter((l) => l.includes('HTTP request refused (401)'));
    // At most one line per reason in this minute, however many refusals.
    expect(lines.filter((l) => l.includes('"reason":"invalid"'))).toHaveLength(1);
    expect(lines[0]).toMatch(/"client":"127\.0\.0\.1"/);
    for (const secret of [PASSWORD, WRONG_PASSWORD, TOKEN, WRONG_TOKEN, alice, Buffer.from(`alice:${WRONG_PASSWORD}`).toString('base64')]) {
      expect(collector.output()).not.toContain(secret);
      for (const a of answers) expect(a).not.toContain(secret);
    }
  });
});

describe('http.auth and reload', () => {
  it('a token rotated in its secret file is applied by a reload: the new one works from the next request, the old one is refused', async () => {
    const rotated = 'tok_rotated_0000000000000000000000';
    const reload = (token: string) => fetch(`${collector.url}/-/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const status = async (token: string) => (await fetch(`${collector.url}/api/v1/logs?limit=1`, { headers: { authorization: `Bearer ${token}` } })).status;
    writeFileSync(join(secrets, 'token'), `${rotated}\n`);
    try {
      const res = await reload(TOKEN);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ restartNeeded: [] });
      expect([await status(rotated), await status(TOKEN)]).toEqual([200, 401]);
      await waitFor(() => collector.output().includes('http.auth reloaded'));
      expect(collector.output()).not.toContain(rotated);
    } finally {
      writeFileSync(join(secrets, 'token'), `${TOKEN}\n`);
      expect((await reload(rotated)).status).toBe(200);
    }
    expect([await status(TOKEN), await status(rotated)]).toEqual([200, 401]);
  });
});

describe('http.auth unset', () => {
  it('changes nothing: every route answers without credentials, no challenge', async () => {
    const open = await startCollectorProcess();
    try {
      const res = await fetch(`${open.url}/api/v1/logs?limit=1`);
      expect(res.status).toBe(200);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(await (await fetch(`${open.url}/metrics`)).text()).toContain('periscope_http_unauthorized_requests_total{reason="missing"} 0');
      expect(open.output()).not.toContain('http.auth is not set');
    } finally {
      await open.dispose();
    }
  }, T);

  it('on an address beyond loopback, the start says that anyone who reaches it can read everything', async () => {
    const exposed = await startCollectorProcess({ httpAddr: '0.0.0.0:0' });
    try {
      const line = await waitFor(() => exposed.output().split('\n').find((l) => l.includes('http.auth is not set')));
      expect(JSON.parse(line)).toMatchObject({ level: 40, http: '0.0.0.0:0', msg: expect.stringContaining('Exposing the collector beyond loopback') });
    } finally {
      await exposed.dispose();
    }
  }, T);
});
