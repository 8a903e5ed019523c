import { describe, expect, it } from 'vitest';
import { ALERT_ERR, AlertError } from './errors.ts';
import { notifyConfigFromAlerting, parseNotifyConfig } from './notify-config.ts';

const receivers = [{ name: 'team', slack: [{ webhookUrl: 'https://hooks.slack.com/services/T/B/X' }] }];

function problems(raw: unknown): string[] {
  try {
    parseNotifyConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(AlertError);
    expect((err as AlertError).code).toBe(ALERT_ERR.CONFIG_INVALID);
    return ((err as AlertError).details as { problems: string[] }).problems;
  }
  return [];
}

describe('notification config slice', () => {
  it('fills defaults for an empty slice', () => {
    expect(parseNotifyConfig({})).toMatchObject({ locale: 'en', resolveTimeout: '5m', receivers: [], route: {}, ack: { linkTtl: '24h' }, delivery: { maxAttempts: 12 } });
  });

  it('fills channel defaults', () => {
    const c = parseNotifyConfig({ receivers: [{ name: 'p', sms: [{ accountSid: 'AC1', authToken: 't', from: '+15550001', to: '+15550002' }] }], route: { receiver: 'p' } });
    expect(c.receivers[0].sms?.[0]).toMatchObject({ baseUrl: 'https://api.twilio.com', maxSegments: 3, sendResolved: true, timeout: '10s' });
  });

  it.each([
    { name: 'unknown top-level key', raw: { bogus: 1 }, problem: 'alerting.bogus: unknown key' },
    { name: 'unknown key deep in the route tree', raw: { receivers, route: { receiver: 'team', routes: [{ routes: [{ recevier: 'team' }] }] } }, problem: 'alerting.route.routes.0.routes.0.recevier: unknown key' },
    { name: 'bad duration', raw: { receivers, route: { receiver: 'team', groupWait: 'soon' } }, problem: 'alerting.route.groupWait: invalid duration (e.g. 30s, 5m, 4h)' },
    { name: 'missing required key', raw: { receivers: [{ name: 'x', email: [{ to: 'a@b.c', smtp: { host: 'h' } }] }], route: { receiver: 'x' } }, problem: 'alerting.receivers.0.email.0.from: missing required key' },
    { name: 'unknown receiver in a route', raw: { receivers, route: { receiver: 'team', routes: [{ matchers: ['a="1"'], receiver: 'pager' }] } }, problem: 'alerting.route.routes.0.receiver: unknown receiver "pager"' },
    { name: 'unknown receiver in an escalation step', raw: { receivers, route: { receiver: 'team' }, escalations: [{ name: 'e', steps: [{ notify: ['team', 'nobody'] }] }] }, problem: 'alerting.escalations.0.steps.0.notify.1: unknown receiver "nobody"' },
    { name: 'unknown escalation', raw: { receivers, route: { escalation: 'nope' } }, problem: 'alerting.route.escalation: unknown escalation "nope"' },
    { name: 'bad matcher', raw: { receivers, route: { receiver: 'team', routes: [{ matchers: ['a=~"["'] }] } }, problem: 'alerting.route.routes.0.matchers.0' },
    { name: 'matchers on the root route', raw: { receivers, route: { receiver: 'team', matchers: ['a="1"'] } }, problem: 'alerting.route.matchers: the root route matches every alert and cannot have matchers' },
    { name: 'root route without receiver', raw: { receivers, route: {} }, problem: 'alerting.route: the root route needs a receiver or an escalation' },
    { name: 'bad cron', raw: { receivers, route: { receiver: 'team' }, muteTimings: [{ name: 'n', cron: '61 * * * *' }] }, problem: 'alerting.muteTimings.0.cron' },
    { name: 'bad time zone', raw: { receivers, route: { receiver: 'team' }, muteTimings: [{ name: 'n', cron: '* * * * *', timezone: 'Mars/Base' }] }, problem: 'alerting.muteTimings.0.timezone: unknown time zone "Mars/Base"' },
    { name: 'unknown mute timing in a route', raw: { receivers, route: { receiver: 'team', muteTimings: ['nights'] } }, problem: 'alerting.route.muteTimings.0: unknown mute timing "nights"' },
    { name: 'short ack secret', raw: { ack: { secret: 'short' } }, problem: 'alerting.ack.secret' },
    { name: 'slack URL not http(s)', raw: { receivers: [{ name: 't', slack: [{ webhookUrl: 'hooks.slack.com/x' }] }], route: { receiver: 't' } }, problem: 'alerting.receivers.0.slack.0.webhookUrl: expected an http(s) URL' },
    { name: 'receiver without channels', raw: { receivers: [{ name: 't' }], route: { receiver: 't' } }, problem: 'alerting.receivers.0: a receiver needs at least one of slack, email, sms, webhook' },
    { name: 'duplicate receiver', raw: { receivers: [...receivers, ...receivers], route: { receiver: 'team' } }, problem: 'alerting.receivers.1.name: duplicate receiver "team"' },
    { name: 'bad locale', raw: { locale: 'fr' }, problem: 'alerting.locale' },
    { name: 'groupBy an OTel attribute name', raw: { receivers, route: { receiver: 'team', routes: [{ matchers: ['a="1"'], groupBy: ['alertname', 'k8s.pod'] }] } }, problem: 'alerting.route.routes.0.groupBy.1: "k8s.pod" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*); alerts carry it as k8s_pod' },
    { name: 'inhibition equal on a name no alert has', raw: { receivers, route: { receiver: 'team' }, inhibitRules: [{ sourceMatchers: ['a="1"'], targetMatchers: ['b="1"'], equal: ['service-name'] }] }, problem: 'alerting.inhibitRules.0.equal.0: "service-name" is not a label name' },
  ])('names the key: $name', ({ raw, problem }) => {
    expect(problems(raw).some((p) => p.startsWith(problem))).toBe(true);
  });

  it('names an unknown time zone once, at its own key, not at each cron expression', () => {
    const raw = { receivers, route: { receiver: 'team' }, muteTimings: [{ name: 'n', cron: ['* 0-7 * * *', '0 0 * * 6'], timezone: 'Asia/Seol' }] };
    expect(problems(raw)).toEqual(['alerting.muteTimings.0.timezone: unknown time zone "Asia/Seol"']);
  });

  describe('recipients', () => {
    const email = (to: unknown, from = 'Periscope <alerts@example.com>') => ({ receivers: [{ name: 'm', email: [{ to, from, smtp: { host: 'smtp.example.com' } }] }], route: { receiver: 'm' } });
    const sms = (to: unknown) => ({ receivers: [{ name: 's', sms: [{ accountSid: 'AC1', authToken: 't', from: 'Periscope', to }] }], route: { receiver: 's' } });

    it.each([
      'ops@example.com', 'Ops Team <ops@example.com>', 'a@example.com, "B, on call" <b@example.org>', 'root@localhost', ['a@example.com', 'Ops <b@example.com>'],
    ])('accepts the email recipients %j', (to) => {
      expect(problems(email(to))).toEqual([]);
    });

    it.each([
      { to: 'oncall', problem: 'alerting.receivers.0.email.0.to: "oncall" is not an email address' },
      { to: 'oncall@', problem: 'alerting.receivers.0.email.0.to: "oncall@" is not an email address' },
      { to: ['a@example.com', 'ops example.com'], problem: 'alerting.receivers.0.email.0.to.1: "ops example.com" is not an email address' },
      { to: 'a@example.com, bob', problem: 'alerting.receivers.0.email.0.to: "a@example.com, bob" is not an email address' },
    ])('refuses the email recipients $to', ({ to, problem }) => {
      expect(problems(email(to))).toEqual([expect.stringContaining(problem)]);
    });

    it('refuses a sender that is not one address', () => {
      expect(problems(email('ops@example.com', 'a@example.com, b@example.com'))).toEqual([expect.stringContaining('alerting.receivers.0.email.0.from: "a@example.com, b@example.com" is not one email address')]);
      expect(problems(email('ops@example.com', 'alerts'))).toEqual([expect.stringContaining('alerting.receivers.0.email.0.from: "alerts" is not one email address')]);
    });

    it('accepts E.164 phone numbers and refuses the rest', () => {
      expect(problems(sms(['+15551234567', '+821012345678']))).toEqual([]);
      expect(problems(sms('5551234567'))).toEqual(['alerting.receivers.0.sms.0.to: "5551234567" is not a phone number in E.164 form (+15551234567)']);
      expect(problems(sms(['+15551234567', '+1 555 123 4567', '+0123456', '+1234567890123456']))).toEqual([
        'alerting.receivers.0.sms.0.to.1: "+1 555 123 4567" is not a phone number in E.164 form (+15551234567)',
        'alerting.receivers.0.sms.0.to.2: "+0123456" is not a phone number in E.164 form (+15551234567)',
        'alerting.receivers.0.sms.0.to.3: "+1234567890123456" is not a phone number in E.164 form (+15551234567)',
      ]);
    });
  });

  it('picks its keys out of the whole alerting mapping', () => {
    const c = notifyConfigFromAlerting({ ruleFiles: ['rules.yaml'], evaluation: {}, receivers, route: { receiver: 'team' } });
    expect(c.receivers).toHaveLength(1);
    expect(c).not.toHaveProperty('ruleFiles');
  });
});
