import { describe, expect, it } from 'vitest';
import { createPrometheusClient } from './prometheus.ts';

/** A fetch that records what it was asked and answers an empty vector (or fails, with `fail`). */
function recordingFetch(fail?: Error) {
  const calls: Array<{ url: string; headers: Headers }> = [];
  const f = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), headers: new Headers(init?.headers) });
    if (fail) throw fail;
    return new Response(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
  }) as typeof fetch;
  return { f, calls };
}

describe('Prometheus behind basic auth (credentials in alerting.prometheus.url)', () => {
  it('sends them as Basic auth, to the URL without them', async () => {
    const { f, calls } = recordingFetch();
    await createPrometheusClient({ url: 'http://grafana:s3cr%40t@prom:9090/', fetch: f }).query('up', 0);
    expect(calls[0].url).toBe('http://prom:9090/api/v1/query');
    expect(calls[0].headers.get('authorization')).toBe(`Basic ${Buffer.from('grafana:s3cr@t').toString('base64')}`);
  });

  it('an Authorization header of alerting.prometheus.headers wins', async () => {
    const { f, calls } = recordingFetch();
    await createPrometheusClient({ url: 'http://u:p@prom:9090', headers: { Authorization: 'Bearer t0k' }, fetch: f }).query('up', 0);
    expect(calls[0].headers.get('authorization')).toBe('Bearer t0k');
  });

  it('an unreachable Prometheus is named without the password', async () => {
    const { f } = recordingFetch(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') }));
    const err = await createPrometheusClient({ url: 'http://grafana:s3cr3t@prom:9090', fetch: f }).query('up', 0).catch((e: Error) => e);
    expect((err as Error).message).toBe('Prometheus at http://prom:9090 unreachable: connect ECONNREFUSED');
  });
});
