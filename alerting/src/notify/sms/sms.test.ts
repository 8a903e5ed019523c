// The SMS body: what a person reads on a phone, so an alert's kind must be in it.
import { describe, expect, it } from 'vitest';
import { sampleNotification } from '../testing/describe-notifier.ts';
import { smsText } from './sms.ts';

describe('smsText', () => {
  const alert = sampleNotification().alerts[0];

  it('says when an alert is open because its data is missing or its rule fails', () => {
    const n = sampleNotification({
      alerts: [
        { ...alert, state: 'nodata', value: null, annotations: { summary: 'load NaN on ' } },
        { ...alert, fingerprint: 'f2', state: 'error', value: null, annotations: { summary: 'rule broken' } },
        { ...alert, fingerprint: 'f3' },
      ],
    });
    expect(smsText(n).split('\n').slice(1)).toEqual([
      '- [NO DATA] load NaN on  (critical)',
      '- [EVALUATION ERROR] rule broken (critical)',
      '- p99 latency above 2s (critical, 2.71)',
    ]);
  });
});
