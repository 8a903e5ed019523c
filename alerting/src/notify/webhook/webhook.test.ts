// The Alertmanager webhook body (v4): a receiver must be able to tell a real firing alert from
// one that is open because its data is missing or its rule fails.
import { describe, expect, it } from 'vitest';
import { sampleNotification } from '../testing/describe-notifier.ts';
import { webhookPayload } from './webhook.ts';

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
