// Acknowledging a rule's alert that fires while its notifications are held back (it flaps), through
// the real collector: the 409 says why nobody can acknowledge it yet and what to do, not
// "alert X is firing, not firing".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, pushGauge, startStandIn, type StandIn } from './helpers/alerting.ts';
import { startCollectorProcess, waitFor, type CollectorProcess } from './helpers/collector-process.ts';

let collector: CollectorProcess;
let hook: StandIn;
const SERVICE = 'ack-flapping';

beforeAll(async () => {
  hook = await startStandIn();
  collector = await startCollectorProcess({
    configYaml: `alerting:
  receivers: [{ name: hook, webhook: [{ url: '${hook.url}/hook' }] }]
  route: { receiver: hook, groupBy: ['...'], groupWait: 0s }
`,
  });
});

afterAll(async () => {
  await collector?.dispose();
  await hook?.close();
});

const call = (path: string, body?: unknown) => apiCall(collector.url, path, body);

describe('acknowledging a flapping rule alert', () => {
  it('answers 409 saying its notifications are held back while it flaps', async () => {
    // One state change in 50 evaluations starts flapping (2.55 % ≥ 2 %) and keeps it until the
    // change leaves the window (≥ 1.53 % > 0.5 %): about 50 s at 1 s, the test's margin.
    const rule = await call('/api/v1/alerts/rules', {
      id: 'ack-flap', name: 'AckFlap', kind: 'metric', selector: 'ack_load', aggregation: 'last', window: '1m', groupBy: ['host'],
      threshold: 90, for: '1s', interval: '1s', flapping: { window: 50, high: 2, low: 0.5 },
    });
    expect(rule.status).toBe(201);
    expect(await pushGauge(collector.url, SERVICE, 'ack.load', [{ attrs: { host: 'a' }, value: 10 }])).toBe(200);
    await waitFor(async () => (await call('/api/v1/alerts/rules/ack-flap')).json.rule.instances === 1, 15_000);
    // The breach starts flapping on `pending` (sent); the firing after `for` is held back.
    expect(await pushGauge(collector.url, SERVICE, 'ack.load', [{ attrs: { host: 'a' }, value: 95 }])).toBe(200);
    const alert = await waitFor(async () => (await call('/api/v1/alerts?rule=ack-flap')).json.alerts.find((a: any) => a.state === 'firing' && a.flapping), 15_000);
    const ack = await call(`/api/v1/alerts/${alert.fingerprint}/ack`, { by: 'kim' });
    expect(ack.status).toBe(409);
    expect(ack.json.error.code).toBe('PERISCOPE_ERR_ALERT_NOT_ACTIVE');
    expect(ack.json.error.message).toMatch(new RegExp(`^alert ${alert.fingerprint} is firing but flapping: its notifications are held back until it stabilizes`));
    expect(ack.json.error.message).not.toMatch(/not firing/);
  });
});
