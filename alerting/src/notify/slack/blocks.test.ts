import { describe, expect, it } from 'vitest';
import type { Notification, NotificationAlert } from '../notifier.ts';
import { escapeMrkdwn, SLACK_HEADER_MAX, SLACK_MAX_BLOCKS, SLACK_SECTION_MAX, slackMessage, truncate } from './blocks.ts';

function alert(i: number, extra: Partial<NotificationAlert> = {}): NotificationAlert {
  return {
    fingerprint: `fp${i}`,
    status: 'firing',
    state: 'firing',
    labels: { alertname: 'HighLatency', service: 'api', instance: `i-${i}` },
    annotations: { summary: `p99 latency high on i-${i}` },
    severity: 'critical',
    value: 2.5,
    startsAt: '2025-01-06T12:00:00.000Z',
    endsAt: null,
    links: { ack: `https://periscope.example/ack/tok${i}`, silence: 'https://periscope.example/#/alerts/f1?silence', logs: 'https://periscope.example/#/search?service=api' },
    ...extra,
  };
}

function notification(alerts: NotificationAlert[], extra: Partial<Notification> = {}): Notification {
  return {
    id: 'n1',
    receiver: 'team',
    groupKey: '{}:{alertname="HighLatency"}',
    status: 'firing',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency' },
    commonAnnotations: {},
    alerts,
    truncatedAlerts: 0,
    externalURL: 'https://periscope.example',
    locale: 'en',
    reason: 'first',
    thread: { id: 't', first: true },
    createdAt: '2025-01-06T12:00:00.000Z',
    ...extra,
  };
}

const texts = (m: ReturnType<typeof slackMessage>) => m.blocks.flatMap((b) => [b.text?.text, ...(b.elements ?? []).map((e) => e.text)]).filter((s): s is string => s !== undefined);

describe('Slack Block Kit limits', () => {
  it.each([
    { name: 'short text unchanged', text: 'abc', max: 10, want: 'abc' },
    { name: 'cut with an ellipsis within the limit', text: 'abcdefghij', max: 5, want: 'abcd…' },
    { name: 'never inside an escape entity', text: 'aaa&amp;bbb', max: 6, want: 'aaa…' },
    { name: 'never inside a link', text: 'see <https://x.example/a|link> now', max: 12, want: 'see …' },
    { name: 'never splits a surrogate pair', text: 'ab🚨cd', max: 4, want: 'ab…' },
  ])('truncate: $name', ({ text, max, want }) => {
    const out = truncate(text, max);
    expect(out).toBe(want);
    expect(out.length).toBeLessThanOrEqual(max);
  });

  it('escapes &, < and > in user text', () => {
    expect(escapeMrkdwn('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
    const m = slackMessage(notification([alert(1, { annotations: { summary: '<!channel> & friends' } })]));
    expect(texts(m).join('\n')).toContain('&lt;!channel&gt; &amp; friends');
    expect(texts(m).join('\n')).not.toContain('<!channel>');
  });

  it('a backtick in a label value does not end the labels code span (the rest would be read as mrkdwn)', () => {
    const m = slackMessage(notification([alert(1, { labels: { alertname: 'Cmd', cmd: 'run `make *all*`', path: '_tmp_' } })]));
    const line = texts(m).join('\n').split('\n').find((l) => l.includes('cmd=')) ?? '';
    expect(line).toBe('*Labels:* `alertname=Cmd, cmd=run ˋmake *all*ˋ, path=_tmp_`');
  });

  it('escapes the title in the message text (mrkdwn: the push notification and the fallback), where a label could mention @channel', () => {
    const m = slackMessage(notification([alert(1)], { groupLabels: { alertname: '<!channel> <https://evil.example|login>' } }));
    expect(m.text).toBe('[FIRING:1] &lt;!channel&gt; &lt;https://evil.example|login&gt;');
    expect(m.blocks[0].text).toMatchObject({ type: 'plain_text', text: '[FIRING:1] <!channel> <https://evil.example|login>' });
  });

  it.each([
    { name: 'huge header text', n: notification([alert(1)], { groupLabels: { alertname: 'A'.repeat(1000) } }) },
    { name: 'huge summary and labels', n: notification([alert(1, { annotations: { summary: 'S'.repeat(10_000), description: 'D'.repeat(10_000) }, labels: { alertname: 'x', big: 'L'.repeat(10_000) } })]) },
    { name: 'many alerts', n: notification(Array.from({ length: 100 }, (_, i) => alert(i))) },
    { name: 'escalation context and many alerts', n: notification(Array.from({ length: 40 }, (_, i) => alert(i)), { escalation: { chain: 'c', step: 2, steps: 3, cycle: 1, repeat: 2 } }) },
  ])('stays within limits: $name', ({ n }) => {
    const m = slackMessage(n);
    expect(m.blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
    const header = m.blocks.find((b) => b.type === 'header');
    expect(header?.text?.text.length).toBeLessThanOrEqual(SLACK_HEADER_MAX);
    for (const b of m.blocks) if (b.type === 'section') expect(b.text?.text.length).toBeLessThanOrEqual(SLACK_SECTION_MAX);
    for (const b of m.blocks) for (const e of b.elements ?? []) expect(e.text.length).toBeLessThanOrEqual(2000);
  });

  it('says how many alerts did not fit', () => {
    const m = slackMessage(notification(Array.from({ length: 100 }, (_, i) => alert(i)), { truncatedAlerts: 5 }));
    const shown = m.blocks.filter((b) => b.type === 'divider').length;
    expect(texts(m).at(-1)).toBe(`…and ${100 - shown + 5} more alerts`);
  });

  it('links ack (firing, not acknowledged), silence and logs; says who acknowledged', () => {
    const firing = texts(slackMessage(notification([alert(1)]))).join('\n');
    expect(firing).toContain('<https://periscope.example/ack/tok1|Acknowledge>');
    expect(firing).toContain('|Silence>');
    expect(firing).toContain('<https://periscope.example/#/search?service=api|Logs around the alert>');
    const acked = texts(slackMessage(notification([alert(1, { ack: { by: 'kim', at: '2025-01-06T12:01:00Z' } })]))).join('\n');
    expect(acked).not.toContain('|Acknowledge>');
    expect(acked).toContain('Acknowledged by kim');
  });

  it('renders Korean', () => {
    const m = slackMessage(notification([alert(1)], { locale: 'ko' }));
    expect(m.blocks[0].text?.text).toBe('[발생:1] HighLatency');
    expect(texts(m).join('\n')).toContain('|확인(ACK)>');
  });
});
