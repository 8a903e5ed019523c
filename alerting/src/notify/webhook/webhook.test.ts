// The Alertmanager webhook body (v4): a receiver must be able to tell a real firing alert from
// one that is open because its data is missing or its rule fails.
import { describe, expect, it } from 'vitest';
import { startHttpBackend } from '../testing/backends.ts';
import { sampleNotification } from '../testing/describe-notifier.ts';
import { WebhookNotifier, webhookPayload } from './webhook.ts';

describe('webhookPayload', () => {
  const alert = sampleNotification().alerts[0];

  it('marks nodata and error alerts in their annotations, with the evaluation error', () => {
    const n = sampleNotification({
      alerts: [
        { ...alert, state: 'nodata', value: null, annotations: { summary: 'no data' } },
        { ...alert, fingerprint: 'f2', state: 'error', value: null, error: 'no Prometheus server is configured', annotations: { summary: 'rule broken' } },
        { ...alert, fingerprint: 'f3' },
      ],
    });
    const { alerts } = webhookPayload(n);
    expect(alerts.map((a) => a.status)).toEqual(['firing', 'firing', 'firing']); // the format has no other status
    expect(alerts[0].annotations).toEqual({ summary: 'no data', periscope_state: 'nodata' });
    expect(alerts[1].annotations).toEqual({ summary: 'rule broken', periscope_state: 'error', periscope_error: 'no Prometheus server is configured' });
    expect(alerts[2].annotations).toEqual(alert.annotations);
  });
});

describe('WebhookNotifier: credentials in the URL', () => {
  it.each([
    { name: 'become Basic auth, as Alertmanager sends them', bearerToken: undefined, want: `Basic ${Buffer.from('ops:pa ss/w0rd').toString('base64')}` },
    { name: 'give way to a bearerToken', bearerToken: 'tok123', want: 'Bearer tok123' },
  ])('$name', async ({ bearerToken, want }) => {
    const backend = await startHttpBackend();
    const lines: string[] = [];
    const log = (obj: unknown, msg?: string) => lines.push(`${JSON.stringify(obj)} ${msg ?? ''}`);
    const url = backend.url.replace('http://', 'http://ops:pa%20ss%2Fw0rd@');
    const notifier = new WebhookNotifier('team/webhook/0', 'team', { url: `${url}/hook`, bearerToken, sendResolved: true, maxAlerts: 0, timeoutMs: 5000 }, { logger: { warn: log, error: log, info: log } });
    try {
      await notifier.start();
      backend.respond({ status: 200 });
      // fetch refuses a URL with credentials: every notification failed as a "network error"
      expect(await notifier.send(sampleNotification())).toEqual({ status: 'success' });
      expect(backend.requests[0]).toMatchObject({ url: '/hook', headers: { authorization: want } });
      backend.respond({ status: 500, body: 'pa ss/w0rd' });
      expect(await notifier.send(sampleNotification())).toMatchObject({ status: 'retryable' });
      expect(lines.join('\n')).not.toContain('pa ss/w0rd');
    } finally {
      await notifier.shutdown();
      await backend.close();
    }
  });
});
