// GET /api/v1/alerts as an Alertmanager user reads GET /api/v2/alerts, through the real collector:
// `filter=` label matchers (repeatable, as amtool sends them), each alert's `silencedBy` and
// `inhibitedBy`, and `silenced=` / `inhibited=` to leave the muted ones out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, startStandIn, type StandIn } from './helpers/alerting.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;
let hook: StandIn;

beforeAll(async () => {
  hook = await startStandIn();
  collector = await startCollectorProcess({
    configYaml: `alerting:
  receivers: [{ name: hook, webhook: [{ url: '${hook.url}/hook' }] }]
  route: { receiver: hook, groupBy: ['...'] }
  inhibitRules:
    - sourceMatchers: ['alertname="ClusterDown"']
      targetMatchers: ['severity="warning"']
      equal: [cluster]
`,
  });
});

afterAll(async () => {
  await collector?.dispose();
  await hook?.close();
});

const call = (path: string, body?: unknown) => apiCall(collector.url, path, body);

const names = (alerts: Array<{ labels: Record<string, string> }>) => alerts.map((a) => a.labels.alertname).sort();

describe('GET /api/v1/alerts filters and mute status', () => {
  it('filter=, silencedBy / inhibitedBy, silenced= and inhibited=', async () => {
    expect(
      (await call('/api/v2/alerts', [
        { labels: { alertname: 'ClusterDown', severity: 'critical', cluster: 'eu' } },
        { labels: { alertname: 'DiskFull', severity: 'warning', cluster: 'eu' } },
        { labels: { alertname: 'QueueStuck', severity: 'warning', cluster: 'us', team: 'db' } },
        { labels: { alertname: 'HighLatency', severity: 'critical', cluster: 'us', team: 'api' } },
      ])).status,
    ).toBe(200);
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    const silence = await call('/api/v1/silences', { matchers: ['team="db"'], endsAt, createdBy: 'kim', comment: 'migration' });
    expect(silence.status).toBe(200);
    const silenceId = silence.json.silenceID as string;

    const all = (await call('/api/v1/alerts')).json.alerts as Array<{ labels: Record<string, string>; silencedBy: string[]; inhibitedBy: string[] }>;
    const by = Object.fromEntries(all.map((a) => [a.labels.alertname, a]));
    expect(by.QueueStuck).toMatchObject({ silencedBy: [silenceId], inhibitedBy: [] });
    expect(by.DiskFull.silencedBy).toEqual([]);
    expect(by.DiskFull.inhibitedBy).toEqual([expect.stringMatching(/^inhibitRules\.0 /)]);
    expect(by.HighLatency).toMatchObject({ silencedBy: [], inhibitedBy: [] });

    expect(names((await call('/api/v1/alerts?filter=severity%3D%22warning%22')).json.alerts)).toEqual(['DiskFull', 'QueueStuck']);
    expect(names((await call(`/api/v1/alerts?filter=${encodeURIComponent('cluster="us"')}&filter=${encodeURIComponent('team=~"a.*"')}`)).json.alerts)).toEqual(['HighLatency']);
    expect(names((await call('/api/v1/alerts?silenced=false&inhibited=false')).json.alerts)).toEqual(['ClusterDown', 'HighLatency']);
    expect(names((await call('/api/v1/alerts?silenced=true')).json.alerts)).toEqual(['QueueStuck']);

    const bad = await call(`/api/v1/alerts?filter=${encodeURIComponent('team=~"("')}`);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'PERISCOPE_ERR_ALERT_BAD_QUERY', details: { key: 'filter' } });
    expect((await call('/api/v1/alerts?silenced=yes')).json.error.details).toEqual({ key: 'silenced' });
  });
});
