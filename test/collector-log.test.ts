// The collector's own log under trouble, read from the real collector's stdout: a flapping
// backend does not write a line per flap (a summary counts them), no secret reaches a line even
// when the backend echoes it, a sender's burst of bad frames is one line and a count, and the
// stop line says what each exporter delivered while stopping and left for the next start.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';
import { startLokiServer } from './servers/loki.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const PASSWORD = 'pa55-w0rd-secret';
const BASIC = Buffer.from(`periscope:${PASSWORD}`).toString('base64');

interface LogLine {
  level: number;
  msg: string;
  code?: string;
  repeated?: number;
  exporter?: string;
  suppressed?: number;
  exporters?: unknown;
}

function lines(c: CollectorProcess): LogLine[] {
  return c.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

async function post(c: CollectorProcess, msgs: string[]): Promise<void> {
  const res = await fetch(`${c.url}/api/v1/logs`, { method: 'POST', body: msgs.map((msg) => JSON.stringify({ appName: 'log-test', msg })).join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
  expect(res.status).toBe(200);
}

it('a backend that flaps: the first failure and recovery, then one summary that counts the others; its echo of the credentials is redacted', async () => {
  const loki = await startLokiServer({ auth: { basic: { username: 'periscope', password: PASSWORD } } });
  cleanup.push(() => loki.close());
  const c = await startCollectorProcess({
    configYaml: `exporters:
  - type: loki
    name: loki
    url: ${loki.url}
    auth: { basic: { username: periscope, password: "${PASSWORD}" } }
    batch: { wait: 20ms }
    concurrency: 1
    retry: { initialBackoff: 10ms, maxBackoff: 20ms }
    circuitBreaker: { failureThreshold: 100 }
`,
  });
  cleanup.push(() => c.dispose());
  const started = Date.now();
  const FLAPS = 8;
  for (let i = 0; i < FLAPS; i++) {
    // The backend echoes the request's credentials in its error text, as some proxies do.
    await loki.setFault({ mode: 'status', status: 503, body: `upstream down (authorization: Basic ${BASIC}, password ${PASSWORD})`, times: 1 });
    await post(c, [`flap ${i}`]);
    await waitFor(() => loki.entries().some((e) => e.line === `flap ${i}`));
  }
  expect(await c.stop()).toBe(0);
  const elapsedMinutes = Math.ceil((Date.now() - started) / 60_000);
  const failing = lines(c).filter((l) => l.msg.startsWith('exporter loki: backend failing, retrying'));
  const answering = lines(c).filter((l) => l.msg.startsWith('exporter loki: backend answering again'));
  // Every flap is counted — in a line of its own or in a summary's `suppressed` — in at most one
  // line at once and one summary a minute (the last written at the stop). Before: a line per flap.
  expect(failing.reduce((n, l) => n + (l.suppressed ?? 1), 0)).toBe(FLAPS);
  expect(answering.reduce((n, l) => n + (l.suppressed ?? 1), 0)).toBe(FLAPS);
  expect(failing.length).toBeLessThanOrEqual(1 + elapsedMinutes);
  expect(failing.length).toBeLessThan(FLAPS);
  expect(failing[0]).toMatchObject({ level: 40, exporter: 'loki' });
  expect(answering.every((l) => l.level === 30)).toBe(true);
  expect(failing.at(-1)!.msg).toMatch(/ — summary of \d+ such line\(s\) in the last \d+ s \(written at most once per 60 s\)$/);
  expect(c.output()).toContain('upstream down (authorization: Basic ***, password ***)');
  expect(c.output()).not.toContain(PASSWORD);
  expect(c.output()).not.toContain(BASIC);
});

it('the stop line says what each exporter delivered while stopping and left; the next start line, what is queued from before', async () => {
  const up = await startLokiServer();
  const down = await startLokiServer();
  await down.setFault({ mode: 'down' });
  cleanup.push(() => up.close(), () => down.close());
  const dataDir = mkdtempSync(join(tmpdir(), 'periscope-log-'));
  cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const configYaml = `exporters:
  - type: loki
    name: waiting
    url: ${up.url}
    batch: { wait: 10m }
  - type: loki
    name: unreachable
    url: ${down.url}
    batch: { wait: 10m }
    shutdownTimeout: 0s
`;
  const c = await startCollectorProcess({ configYaml, dataDir });
  cleanup.push(() => c.stop());
  expect(lines(c).find((l) => l.msg === 'periscope collector started')).toMatchObject({
    exporters: [
      { exporter: 'waiting', unit: 'records', queued: 0 },
      { exporter: 'unreachable', unit: 'records', queued: 0 },
    ],
  });
  await post(c, ['one', 'two', 'three']);
  expect(await c.stop()).toBe(0);
  const stopped = lines(c).find((l) => l.msg.startsWith('periscope collector stopped'));
  expect(stopped).toMatchObject({
    level: 30,
    msg: 'periscope collector stopped; exporters: waiting 3 records delivered while stopping, 0 left; unreachable 0 records delivered while stopping, 3 left for the next start',
    exporters: [
      { exporter: 'waiting', unit: 'records', delivered: 3, left: 0 },
      { exporter: 'unreachable', unit: 'records', delivered: 0, left: 3 },
    ],
  });
  expect(up.entries().map((e) => e.line).sort()).toEqual(['one', 'three', 'two']);

  const again = await startCollectorProcess({ configYaml, dataDir });
  cleanup.push(() => again.stop());
  expect(lines(again).find((l) => l.msg === 'periscope collector started')).toMatchObject({
    exporters: [
      { exporter: 'waiting', unit: 'records', queued: 0 },
      { exporter: 'unreachable', unit: 'records', queued: 3 },
    ],
  });
});

it('a burst of garbage from one syslog sender: one line at once and its count by the stop, not a line per frame', async () => {
  const c = await startCollectorProcess();
  cleanup.push(() => c.dispose());
  const FRAMES = 3000;
  const socket = net.connect(c.syslogPort!, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.write(Array.from({ length: FRAMES }, (_, i) => `garbage ${i}\n`).join(''));
  socket.end();
  await waitFor(async () => {
    const text = await (await fetch(`${c.url}/metrics`)).text();
    return Number(/periscope_receiver_rejected_records_total\{receiver="syslog",reason="PERISCOPE_ERR_SYSLOG_BAD_PRI"\} (\d+)/.exec(text)?.[1]) === FRAMES;
  });
  expect(await c.stop()).toBe(0);
  const refused = lines(c).filter((l) => l.code === 'PERISCOPE_ERR_SYSLOG_BAD_PRI');
  // The first at once; the rest counted in `repeated`, written at the stop at the latest (before:
  // only when the same refusal came again after a minute, so a burst's count was never written).
  expect(refused.length).toBeLessThanOrEqual(3);
  expect(refused.reduce((n, l) => n + (l.repeated ?? 1), 0)).toBe(FRAMES);
  expect(refused.every((l) => l.level === 40 && l.msg === 'syslog frame refused: message does not start with "<"')).toBe(true);
  const all = lines(c);
  expect(all.indexOf(refused.at(-1)!)).toBeLessThan(all.findIndex((l) => l.msg.startsWith('periscope collector stopped')));
});
