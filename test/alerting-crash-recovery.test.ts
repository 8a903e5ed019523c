// A rule's firing alert survives a crash (kill -9) of the real collector as it was: alerting.db
// keeps what a restart needs even though a steadily breaching alert is no longer rewritten at
// every evaluation (its last breach and its flap history stand for the rule's evaluations since).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, pushGauge, startStandIn, type StandIn } from './helpers/alerting.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;
let hook: StandIn;
const dataDir = mkdtempSync(join(tmpdir(), 'periscope-crash-recovery-'));
const configYaml = () => `alerting:
  receivers: [{ name: hook, webhook: [{ url: '${hook.url}/hook' }] }]
  route: { receiver: hook, groupBy: ['...'], groupWait: 0s }
`;

beforeAll(async () => {
  hook = await startStandIn();
  collector = await startCollectorProcess({ dataDir, configYaml: configYaml() });
});

afterAll(async () => {
  await collector?.dispose();
  await hook?.close();
});

const call = (path: string, body?: unknown) => apiCall(collector.url, path, body);

/** Resolves after the rule was evaluated `n` more times. */
async function evaluations(n: number): Promise<void> {
  const seen = new Set<string>();
  const start = (await call('/api/v1/alerts/rules/crash')).json.rule.lastEvaluation;
  await waitFor(async () => {
    const at = (await call('/api/v1/alerts/rules/crash')).json.rule.lastEvaluation;
    if (at !== start) seen.add(at);
    return seen.size >= n;
  }, 20_000, 100);
}

const firingNotices = () => hook.requests.filter((r) => r.url === '/hook' && JSON.parse(r.body).alerts.some((a: any) => a.status === 'firing')).length;

describe('crash recovery of rule alerts', () => {
  it('a firing alert held by keepFiringFor is still firing after kill -9, notified once', async () => {
    const rule = await call('/api/v1/alerts/rules', {
      id: 'crash', name: 'CrashLoad', kind: 'metric', selector: 'crash_load', aggregation: 'last', window: '1m', groupBy: ['host'],
      threshold: 90, interval: '1s', keepFiringFor: '1h',
    });
    expect(rule.status).toBe(201);
    expect(await pushGauge(collector.url, 'crash', 'crash.load', [{ attrs: { host: 'a' }, value: 10 }])).toBe(200);
    await evaluations(1);
    expect(await pushGauge(collector.url, 'crash', 'crash.load', [{ attrs: { host: 'a' }, value: 95 }])).toBe(200);
    const fired = await waitFor(async () => (await call('/api/v1/alerts?rule=crash')).json.alerts.find((a: any) => a.state === 'firing'), 15_000);
    await waitFor(() => firingNotices() === 1, 15_000);
    await evaluations(3); // breaching on, with a flap history that shifts: nothing rewritten

    await collector.kill();
    collector = await startCollectorProcess({ dataDir, configYaml: configYaml() });
    expect((await call('/api/v1/alerts?rule=crash')).json.alerts).toMatchObject([{ fingerprint: fired.fingerprint, state: 'firing', startsAt: fired.startsAt }]);
    // The value is back to normal: keepFiringFor (1h since the last breach) keeps it firing.
    expect(await pushGauge(collector.url, 'crash', 'crash.load', [{ attrs: { host: 'a' }, value: 10 }])).toBe(200);
    await evaluations(3);
    expect((await call('/api/v1/alerts?rule=crash')).json.alerts).toMatchObject([{ fingerprint: fired.fingerprint, state: 'firing', startsAt: fired.startsAt }]);
    expect(firingNotices()).toBe(1);
  });
});
