// Reloads (POST /-/reload) under way while notifications are: through the real collector and a
// webhook receiver the test answers when it chooses (barriers, no timing margins).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiPost } from './helpers/alerting.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

interface Arrived {
  url: string;
  alertname: string;
  answer: () => void;
}

let collector: CollectorProcess;
let hookUrl = '';
const arrived: Arrived[] = [];
/** Requests are answered at once, but those whose alertname is in `hold` (until answer() is called). */
const hold = new Set<string>();
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const alertname = (JSON.parse(body) as { commonLabels: { alertname: string } }).commonLabels.alertname;
    const answer = () => {
      if (!res.writableEnded) res.writeHead(200).end('ok');
    };
    arrived.push({ url: req.url ?? '', alertname, answer });
    if (!hold.has(alertname)) answer();
  });
});

const config = (version: number) => `alerting:
  receivers:
    - name: a
      webhook: [{ url: '${hookUrl}/a', timeout: 5m }]
    - name: c
      webhook: [{ url: '${hookUrl}/c${version}' }]
  route:
    receiver: a
    groupBy: [alertname]
    groupWait: 0s
    groupInterval: 1s
    repeatInterval: 1h
    routes:
      - { matchers: ['team="c${version}"'], receiver: c }
`;

const post = (path: string, body?: unknown) => apiPost(collector.url, path, body);

const received = (alertname: string) => arrived.filter((r) => r.url === '/a' && r.alertname === alertname);

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  collector = await startCollectorProcess({ configYaml: config(0) });
});

afterAll(async () => {
  await collector?.dispose();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('a reload while a notification is being sent', () => {
  it('does not wait for the send, and the new pipeline does not send it a second time', async () => {
    hold.add('SlowToSend');
    expect((await post('/api/v2/alerts', [{ labels: { alertname: 'SlowToSend' } }])).status).toBe(200);
    await waitFor(() => received('SlowToSend').length === 1);

    // The receiver still holds the request (a slow SMTP server, a webhook near its timeout).
    // Two reloads: the second pipeline hands the first one's send on to the third.
    for (const version of [1, 2]) {
      writeFileSync(collector.configFile as string, config(version));
      expect((await post('/-/reload')).status).toBe(200);
    }
    // Meanwhile the API answers, and a new alert is taken.
    expect((await post('/api/v2/alerts', [{ labels: { alertname: 'AfterReload' } }])).status).toBe(200);
    expect(received('SlowToSend')).toHaveLength(1); // not sent again while the first send runs

    received('SlowToSend')[0].answer();
    // The integration goes on once its send ended: the next alert is delivered, the first once only.
    await waitFor(() => received('AfterReload').length === 1);
    await waitFor(async () => {
      const sent = await (await fetch(`${collector.url}/api/v1/notifications?status=sent`)).json();
      return sent.notifications.length === 2;
    });
    expect(received('SlowToSend')).toHaveLength(1);
    const pending = await (await fetch(`${collector.url}/api/v1/notifications?status=pending`)).json();
    expect(pending.notifications).toEqual([]);
    expect(collector.output()).not.toContain('outbox attempt bookkeeping failed');
  });
});
