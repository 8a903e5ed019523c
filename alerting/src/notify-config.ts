// The notification side's slice of `alerting:` in periscope.yaml: receivers, route, inhibitRules,
// muteTimings, escalations, ack, plus locale, links, resolve timeout and delivery policy.
// Strict (unknown keys are errors), defaults filled in, and every error names its key, e.g.
// `alerting.route.routes.0.receiver: unknown receiver "pager"`. Shapes follow Alertmanager's
// configuration (https://prometheus.io/docs/alerting/latest/configuration/) in camelCase.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import addressparser from 'nodemailer/lib/addressparser';
import { parseDuration } from './dispatch/duration.ts';
import { addUnitKeywords } from './unit-keywords.ts';
import { unknownKeyMessage } from './unknown-key.ts';
import { compileMatchers } from './dispatch/matchers.ts';
import { ALERT_ERR, AlertError } from './errors.ts';
import { cronProblem, MAX_TIMING_DURATION_MS } from './inhibit/mute-timings.ts';
import { loadTls, tlsSchema, type TlsConfig } from './tls.ts';
import { proxyEnvironmentProblem, proxyProblems, proxyProperties, type ProxyEnvironment } from './proxy.ts';

/** A duration key; `minimum` (unit-keywords.ts) where 0 makes no sense, e.g. a timeout that fails every request. */
const Duration = (def?: string, description?: string, minimum?: string) =>
  Type.String({ format: 'duration', ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}), ...(minimum ? { unitMinimum: minimum } : {}) });
const Timeout = (def: string, what = 'one request') => Duration(def, `Time allowed for ${what}; one that takes longer is a failure, retried by \`alerting.delivery\`.`, '100ms');
const LOCALES = [Type.Literal('en'), Type.Literal('ko')];
/** A `locale` key; the one nearest the message wins: channel, route, receiver, then `alerting.locale`. */
const Locale = (of: string) => Type.Union(LOCALES, { description: `Language of ${of} (en, ko); the nearest setting wins: a channel's, then its route's, then its receiver's, then alerting.locale.` });
const SendResolved = (verb = 'Notify') => Type.Boolean({ default: true, description: `${verb} also when the alerts resolve.` });
/** A label name, as alerts carry them (Prometheus' data model). */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const OneOrMany = (description: string) => Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], { description });

/** `name="value"` (also !=, =~, !~) or `{ name, op, value }`. */
export const matcherSchema = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object(
    { name: Type.String({ minLength: 1 }), op: Type.Union([Type.Literal('='), Type.Literal('!='), Type.Literal('=~'), Type.Literal('!~')]), value: Type.String() },
    { additionalProperties: false },
  ),
]);

/** An HTTP channel's `tls:` (notify/http-tls.ts): the exporters' block, as Alertmanager's `http_config.tls_config`. */
const channelTlsSchema = tlsSchema(
  "TLS towards an https receiver: a private CA (caFile), a client certificate (certFile, keyFile), as Alertmanager's http_config.tls_config (docs/alerting-notifications.md, TLS); refused with an http:// url.",
);

/** An HTTP channel's proxy keys (proxy.ts): Alertmanager's http_config proxy_url, no_proxy, proxy_from_environment. */
const channelProxy = proxyProperties('the receiver');

const slackSchema = Type.Object(
  {
    /** Incoming webhook URL (secret: its path is the token). */
    webhookUrl: Type.String({ minLength: 1, description: 'Slack incoming-webhook URL. A secret (its path is the token): keep it out of the file, `${SLACK_WEBHOOK_URL}` or `${file:…}`.' }),
    channel: Type.Optional(Type.String({ description: 'Sent as the message\'s `channel` (`#ops`): legacy webhooks post there instead of their own channel; a Slack app\'s webhook ignores it.' })),
    username: Type.Optional(Type.String({ description: 'Sent as `username`, the sender name legacy webhooks show.' })),
    iconEmoji: Type.Optional(Type.String({ description: 'Sent as `icon_emoji` (`:rotating_light:`), the sender icon legacy webhooks show.' })),
    sendResolved: SendResolved(),
    /** Alerts shown per message; 15 keeps a message within Slack's 50 blocks. */
    maxAlerts: Type.Integer({ minimum: 1, maximum: 15, default: 10, description: 'Alerts listed per message (at most 15, which keeps a message within Slack\'s 50 blocks); the others are counted in a "…and N more" line.' }),
    timeout: Timeout('10s'),
    locale: Type.Optional(Locale('this channel\'s messages')),
    tls: Type.Optional(channelTlsSchema),
    ...channelProxy,
  },
  { additionalProperties: false },
);

const emailSchema = Type.Object(
  {
    to: OneOrMany('Recipients: `ops@example.com`, `Ops <ops@example.com>`, or several, as a list or comma-separated.'),
    from: Type.String({ minLength: 3, description: 'One address, e.g. `Periscope <alerts@example.com>`.' }),
    smtp: Type.Object(
      {
        host: Type.String({ minLength: 1, description: 'SMTP server host name.' }),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 587, description: 'SMTP port: 587 (submission, STARTTLS), 465 (implicit TLS), 25.' }),
        /** TLS from the start; otherwise STARTTLS when offered. Unset: true on port 465 (as Alertmanager). */
        secure: Type.Optional(Type.Boolean({ description: 'TLS from the first byte (implicit TLS); otherwise STARTTLS when the server offers it. Unset: `true` on port 465, `false` on other ports.' })),
        requireTls: Type.Boolean({ default: false, description: 'Without `secure`: send nothing unless the connection could be upgraded with STARTTLS (nodemailer\'s requireTLS), so no password or alert crosses the network in clear text.' }),
        user: Type.Optional(Type.String({ description: 'SMTP AUTH user; unset: no authentication.' })),
        password: Type.Optional(Type.String({ description: 'SMTP AUTH password. A secret: `${SMTP_PASSWORD}` or `${file:…}`.' })),
        maxConnections: Type.Integer({ minimum: 1, maximum: 20, default: 3, description: 'Connections to the SMTP server kept open and used in parallel (a pool).' }),
        tlsRejectUnauthorized: Type.Boolean({ default: true, description: 'false accepts a server certificate that does not verify (self-signed, another name), as `tls.insecureSkipVerify`: for tests only.' }),
        proxyUrl: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'http:// or https:// URL of an HTTP proxy that allows CONNECT to the SMTP port: the connection to the SMTP server is tunnelled through it (nodemailer\'s proxy), TLS and STARTTLS inside. Credentials in it are sent as Proxy-Authorization and kept out of logs and errors. Without it email connects directly (HTTPS_PROXY is not used for SMTP).',
          }),
        ),
        tls: Type.Optional(
          tlsSchema(
            "TLS towards the SMTP server (implicit TLS or STARTTLS): a private CA (caFile), a client certificate (certFile, keyFile), as Alertmanager's email_config.tls_config (docs/alerting-notifications.md, TLS).",
          ),
        ),
      },
      { additionalProperties: false },
    ),
    subjectPrefix: Type.String({ default: '[Periscope]', description: 'Put in front of each subject.' }),
    sendResolved: SendResolved('Send mail'),
    maxAlerts: Type.Integer({ minimum: 0, default: 50, description: 'Alerts listed per message; the others are counted in a "…and N more" line. 0: no limit.' }),
    timeout: Timeout('30s', 'sending one message (connecting, TLS, the SMTP dialogue)'),
    locale: Type.Optional(Locale('this channel\'s messages')),
  },
  { additionalProperties: false },
);

const smsSchema = Type.Object(
  {
    /** Twilio-compatible API base; requests go to {baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json. */
    baseUrl: Type.String({ default: 'https://api.twilio.com', description: 'Twilio\'s API, or one that speaks it: messages are POSTed to {baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json.' }),
    accountSid: Type.String({ minLength: 1, description: 'Twilio account SID (the Basic auth user).' }),
    authToken: Type.String({ minLength: 1, description: 'Twilio auth token (the Basic auth password). A secret: `${TWILIO_AUTH_TOKEN}` or `${file:…}`.' }),
    /** Twilio accepts a number, a short code or an alphanumeric sender ID here. */
    from: Type.String({ minLength: 1, description: 'Sender: a number, a short code or an alphanumeric sender ID.' }),
    to: OneOrMany('Phone numbers in E.164 form (`+15551234567`), as Twilio requires.'),
    /** Resolved notices go to everyone who was notified, SMS included, unless turned off here. */
    sendResolved: SendResolved('Text'),
    /** Longest body in segments (GSM-7: 160, or 153 per part; UCS-2: 70, or 67 per part). */
    maxSegments: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'Longest message, in SMS segments (GSM-7: 160 characters, or 153 per part; UCS-2, e.g. Korean: 70, or 67 per part); a longer text is shortened to fit.' }),
    timeout: Timeout('10s'),
    locale: Type.Optional(Locale('this channel\'s messages')),
    tls: Type.Optional(channelTlsSchema),
    ...channelProxy,
  },
  { additionalProperties: false },
);

const webhookSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, description: 'http(s) URL the Alertmanager-format JSON is POSTed to; credentials in it (`https://user:pass@host/hook`) are sent as Basic auth.' }),
    bearerToken: Type.Optional(Type.String({ description: '`Authorization: Bearer <token>` (instead of the URL\'s credentials).' })),
    sendResolved: SendResolved(),
    /** 0: no limit (Alertmanager's max_alerts). */
    maxAlerts: Type.Integer({ minimum: 0, default: 0, description: 'Alerts per message; the others are left out and counted in `truncatedAlerts` (Alertmanager\'s max_alerts). 0: no limit.' }),
    timeout: Timeout('10s'),
    locale: Type.Optional(Locale('this channel\'s messages')),
    tls: Type.Optional(channelTlsSchema),
    ...channelProxy,
  },
  { additionalProperties: false },
);

const receiverSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Unique; routes (`receiver`) and escalation steps (`notify`) name it.' }),
    locale: Type.Optional(Locale('this receiver\'s messages')),
    slack: Type.Optional(Type.Array(slackSchema, { description: 'Slack incoming webhooks. A receiver needs at least one channel of any kind; each gets every notification.' })),
    email: Type.Optional(Type.Array(emailSchema, { description: 'Email over SMTP.' })),
    sms: Type.Optional(Type.Array(smsSchema, { description: 'SMS through Twilio\'s Messages API (or one that speaks it).' })),
    webhook: Type.Optional(Type.Array(webhookSchema, { description: 'HTTP POST of Alertmanager\'s webhook JSON (version 4).' })),
  },
  { additionalProperties: false },
);

/** No defaults inside routes: unset settings are inherited from the parent (root: 30s / 5m / 4h). */
export const routeSchema = Type.Recursive(
  (This) =>
    Type.Object(
      {
        receiver: Type.Optional(Type.String({ minLength: 1, description: 'The receiver notified of the alerts this route takes (or set `escalation`); unset: the parent\'s receiver or escalation.' })),
        escalation: Type.Optional(Type.String({ minLength: 1, description: 'The escalation chain (alerting.escalations) that pages for the alerts this route takes, instead of a receiver.' })),
        matchers: Type.Optional(Type.Array(matcherSchema, { description: 'All must match an alert\'s labels: `severity="critical"`, `team=~"db|storage"` (!=, =~, !~ too), or `{ name, op, value }`. Not on the root route, which takes every alert.' })),
        groupBy: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Labels whose values make one notification group; `[\'...\']`: all labels. Root default: none (one group). Inherited.' })),
        groupWait: Type.Optional(Duration(undefined, 'Wait before a new group\'s first notification, to gather its alerts; root default 30s, inherited.')),
        groupInterval: Type.Optional(Duration(undefined, 'Wait before notifying a group again about alerts added or resolved since; root default 5m, inherited.')),
        repeatInterval: Type.Optional(Duration(undefined, 'Wait before reminding of a group\'s alerts still firing; root default 4h, inherited.')),
        continue: Type.Optional(Type.Boolean({ description: 'true: an alert this route takes also goes on to the next sibling routes (Alertmanager\'s continue). Not on the root route.' })),
        muteTimings: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Names of alerting.muteTimings during which this route notifies nobody. Not inherited (as Alertmanager).' })),
        activeTimings: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Names of alerting.muteTimings outside of which this route notifies nobody. Not inherited.' })),
        locale: Type.Optional(Locale('this route\'s notifications')),
        routes: Type.Optional(Type.Array(This, { description: 'Child routes, tried in order: an alert goes to the first that matches (unless `continue`), or stays with this route when none does.' })),
      },
      { additionalProperties: false },
    ),
  { $id: 'PeriscopeNotifyRoute', default: {} },
);

const inhibitRuleSchema = Type.Object(
  {
    sourceMatchers: Type.Array(matcherSchema, { minItems: 1, description: 'While an alert matching these fires, …' }),
    targetMatchers: Type.Array(matcherSchema, { minItems: 1, description: '… alerts matching these are not notified (Alertmanager\'s inhibit_rules).' }),
    equal: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Labels the source and target alerts must have equal (both absent counts as equal).' }),
  },
  { additionalProperties: false },
);

const muteTimingSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Unique; routes\' `muteTimings` and `activeTimings` name it.' }),
    cron: OneOrMany('node-cron expression(s), 5 fields (or 6 with seconds), evaluated in `timezone`.'),
    /** How long each match lasts; without it, the timing is on during the minutes the expression matches. */
    duration: Type.Optional(Duration(undefined, 'How long the timing is on after each match (at most 7d; 5-field expressions only); unset: during the minutes (or seconds) the expression matches.')),
    timezone: Type.String({ default: 'UTC', description: 'IANA time zone the expression is read in (`Asia/Seoul`), daylight saving included.' }),
  },
  { additionalProperties: false },
);

const escalationSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Unique; routes\' `escalation` names it.' }),
    /** How many times the whole chain runs (K); it stops earlier at acknowledgement or resolution. */
    repeat: Type.Integer({ minimum: 1, maximum: 100, default: 1, description: 'How many times the whole chain runs; it stops earlier when every firing alert of the group is acknowledged, or resolved.' }),
    steps: Type.Array(
      Type.Object(
        {
          notify: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Receivers this step notifies of the group\'s unacknowledged firing alerts.' }),
          wait: Duration('5m', 'Wait after this step before the next one (after the last: before the next round).'),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, description: 'Run in order (docs/alerting-notifications.md, Escalation and acknowledgement).' },
    ),
  },
  { additionalProperties: false },
);

const ackSchema = Type.Object(
  {
    /** HMAC-SHA256 key for ack links (≥ 32 chars); generated and kept in alerting.db when unset. */
    secret: Type.Optional(Type.String({ minLength: 32, description: 'HMAC-SHA256 key that signs ack links (at least 32 characters); unset: one is generated and kept in alerting.db. Changing it makes the links already sent invalid.' })),
    linkTtl: Duration('24h', 'How long an ack link in a notification stays valid.'),
    /** Public base URL of Periscope, where /ack/:token is served; unset: the collector's own HTTP address. */
    baseUrl: Type.Optional(Type.String({ description: "Public base URL where people's browsers reach the collector (ack, silence and log links); unset: the collector's HTTP listener, as bound." })),
  },
  { additionalProperties: false, default: {} },
);

const deliverySchema = Type.Object(
  {
    /** Attempts before a notification is marked failed. */
    maxAttempts: Type.Integer({ minimum: 1, maximum: 1000, default: 12, description: 'Attempts at one notification before it is marked failed (GET /api/v1/notifications?status=failed; POST …/retry sends it again).' }),
    /** Age after which a notification still not delivered is marked failed. */
    maxAge: Duration('6h', 'A notification still not delivered this long after it was queued is marked failed.', '1m'),
    backoffBase: Duration('1s', 'First wait before a retry; it doubles at each attempt (full jitter), never before a Retry-After.', '10ms'),
    backoffCap: Duration('5m', 'Longest wait between two attempts.', '10ms'),
    /** Consecutive retryable failures that open an integration's circuit breaker. */
    breakerFailures: Type.Integer({ minimum: 1, default: 5, description: 'Consecutive retryable failures of one channel that open its circuit breaker: its notifications wait, and one probe is sent after the cooldown.' }),
    breakerCooldown: Duration('30s', 'How long an open circuit breaker waits before its probe.', '100ms'),
  },
  { additionalProperties: false, default: {}, unitOrder: [['backoffBase', 'backoffCap']] },
);

/** The properties of the notification side, for composing `alerting:` with the rules side's keys. */
export const notifyConfigProperties = {
  locale: Type.Union(LOCALES, { default: 'en', description: 'Language of notifications (en, ko); a receiver\'s, route\'s or channel\'s `locale` wins over it.' }),
  /** Base URL of the web console for silence and log-search links (defaults to ack.baseUrl). */
  consoleBaseUrl: Type.Optional(Type.String({ description: 'Base URL of the web console as people\'s browsers reach it, for the silence and log-search links in notifications; unset: ack.baseUrl.' })),
  /** API alerts without endsAt resolve after this unless re-sent (Alertmanager's resolve_timeout). */
  resolveTimeout: Duration('5m', 'An alert posted to POST /api/v2/alerts without endsAt resolves this long after it was last posted (Alertmanager\'s resolve_timeout).', '1s'),
  /** Alerts that start firing within this of an open incident's last alert join it. */
  incidentWindow: Duration('5m', 'An alert that starts firing within this of an open incident\'s latest alert joins that incident.'),
  receivers: Type.Array(receiverSchema, { default: [], description: 'Who gets notified, each through one or more channels; routes and escalation steps name them.' }),
  route: routeSchema,
  inhibitRules: Type.Array(inhibitRuleSchema, { default: [], description: 'Alerts that keep others from being notified while they fire (Alertmanager\'s inhibit_rules).' }),
  muteTimings: Type.Array(muteTimingSchema, { default: [], description: 'Named recurring periods (cron), for routes\' muteTimings and activeTimings.' }),
  escalations: Type.Array(escalationSchema, { default: [], description: 'Chains of steps that page receivers in turn until someone acknowledges (docs/alerting-notifications.md).' }),
  ack: ackSchema,
  delivery: deliverySchema,
};

export const notifyConfigSchema = Type.Object(notifyConfigProperties, { additionalProperties: false, default: {} });

export type NotifyConfig = Static<typeof notifyConfigSchema>;
export type ReceiverConfig = Static<typeof receiverSchema>;
export type EscalationConfig = Static<typeof escalationSchema>;

// verbose: an error carries its schema (unknownKeyMessage lists the keys a section takes).
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
ajv.addFormat('duration', (s: string) => Number.isFinite(parseDuration(s)));
addUnitKeywords(ajv, { duration: parseDuration });
const validate = ajv.compile<NotifyConfig>(notifyConfigSchema as TSchema);

function keyOf(prefix: string, e: ErrorObject): string {
  const path = e.instancePath.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (e.keyword === 'additionalProperties') path.push(String(e.params.additionalProperty));
  if (e.keyword === 'required') path.push(String(e.params.missingProperty));
  return [prefix, ...path].filter(Boolean).join('.');
}

function describe(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return unknownKeyMessage(e);
  if (e.keyword === 'required') return 'missing required key';
  if (e.keyword === 'format' && e.params.format === 'duration') return 'invalid duration (e.g. 30s, 5m, 4h)';
  if (e.keyword === 'const') return `must be ${JSON.stringify(e.params.allowedValue)}`;
  return e.message ?? 'invalid';
}

/** E.164: +, a country code not starting with 0, at most 15 digits in all (ITU-T E.164 §6). */
const E164 = /^\+[1-9]\d{1,14}$/;

/** Calls `fn` with each entry of a one-or-many value and its key suffix (`""` or `".2"`). */
function eachOf(value: string | string[], fn: (entry: string, path: string) => void): void {
  if (Array.isArray(value)) value.forEach((v, n) => fn(v, `.${n}`));
  else fn(value, '');
}

/** True when nodemailer reads `field` as mailboxes with a `local@domain` address: one, or `many` (RFC 5322 list, groups flattened). */
function emailAddressesValid(field: string, count: 'one' | 'many'): boolean {
  const mailboxes = addressparser(field, { flatten: true });
  if (mailboxes.length === 0 || (count === 'one' && mailboxes.length > 1)) return false;
  return mailboxes.every((m) => /^[^\s@]+@[^\s@]+$/.test(m.address ?? ''));
}

/** The HTTP channels, which take `tls:`, and the key of their URL. */
const HTTP_CHANNELS = [
  ['slack', 'webhookUrl'],
  ['webhook', 'url'],
  ['sms', 'baseUrl'],
] as const;

/** The items of a receivers or channels list of a configuration not validated yet (none when it is not a list). */
const entries = (list: unknown) => (Array.isArray(list) ? (list as Array<Record<string, unknown> | undefined>).entries() : []);

/**
 * The problems of the channels' `tls:` files — the HTTP channels' `tls`, email's `smtp.tls` — as
 * tls.ts loadTls finds them (missing, not PEM, a key of another certificate), each naming its key
 * and path; relative paths from `baseDir`, the config file's folder. Read at start, check-config
 * and reload, so that a wrong file stops them rather than failing every notification.
 */
export function notifyTlsFileProblems(receivers: unknown, baseDir: string, prefix = 'alerting'): string[] {
  const problems: string[] = [];
  const check = (tls: unknown, key: string) => {
    if (typeof tls !== 'object' || tls === null) return;
    const block = tls as Record<string, unknown>;
    // A file key that is not a string is a schema error of its own.
    if (['caFile', 'certFile', 'keyFile'].some((f) => block[f] !== undefined && typeof block[f] !== 'string')) return;
    problems.push(...loadTls(block as TlsConfig, key, baseDir).problems);
  };
  for (const [i, r] of entries(receivers)) {
    for (const [channel] of HTTP_CHANNELS) for (const [j, ch] of entries(r?.[channel])) check(ch?.tls, `${prefix}.receivers.${i}.${channel}.${j}.tls`);
    for (const [j, e] of entries(r?.email)) check((e?.smtp as Record<string, unknown> | undefined)?.tls, `${prefix}.receivers.${i}.email.${j}.smtp.tls`);
  }
  return problems;
}

/**
 * The problems of the HTTP channels with proxyFromEnvironment whose variable (HTTPS_PROXY,
 * HTTP_PROXY) holds no usable proxy URL: checked where the configuration is loaded, which reads
 * the environment.
 */
export function notifyProxyEnvironmentProblems(receivers: unknown, env: ProxyEnvironment, prefix = 'alerting'): string[] {
  const problems: string[] = [];
  for (const [i, r] of entries(receivers)) {
    for (const [channel, urlKey] of HTTP_CHANNELS) {
      for (const [j, ch] of entries(r?.[channel])) {
        const problem = proxyEnvironmentProblem(ch, ch?.[urlKey], env, `${prefix}.receivers.${i}.${channel}.${j}`);
        if (problem) problems.push(problem);
      }
    }
  }
  return problems;
}

/** Cross-reference and value checks the schema cannot express. */
function semanticProblems(c: NotifyConfig, prefix: string): string[] {
  const problems: string[] = [];
  const k = (path: string) => `${prefix}.${path}`;
  const receivers = new Set<string>();
  c.receivers.forEach((r, i) => {
    if (receivers.has(r.name)) problems.push(`${k(`receivers.${i}.name`)}: duplicate receiver "${r.name}"`);
    receivers.add(r.name);
    const n = (r.slack?.length ?? 0) + (r.email?.length ?? 0) + (r.sms?.length ?? 0) + (r.webhook?.length ?? 0);
    if (n === 0) problems.push(`${k(`receivers.${i}`)}: a receiver needs at least one of slack, email, sms, webhook`);
    for (const [channel, urlKey] of HTTP_CHANNELS) {
      for (const [j, ch] of ((r[channel] ?? []) as Array<Record<string, unknown>>).entries()) {
        if (!/^https?:\/\//.test(ch[urlKey] as string)) problems.push(`${k(`receivers.${i}.${channel}.${j}.${urlKey}`)}: expected an http(s) URL`);
      }
    }
    // A `tls:` on an http:// URL would be ignored: the operator would think the traffic verified.
    for (const [channel, urlKey] of HTTP_CHANNELS) {
      for (const [j, ch] of ((r[channel] ?? []) as Array<Record<string, unknown>>).entries()) {
        const url = ch[urlKey];
        if (ch.tls !== undefined && typeof url === 'string' && /^http:\/\//i.test(url)) {
          problems.push(`${k(`receivers.${i}.${channel}.${j}.tls`)}: set with an http:// url (${k(`receivers.${i}.${channel}.${j}.${urlKey}`)}): TLS applies to https:// only; use https:// or remove tls`);
        }
      }
    }
    for (const [channel] of HTTP_CHANNELS) {
      for (const [j, ch] of ((r[channel] ?? []) as Array<Record<string, unknown>>).entries()) problems.push(...proxyProblems(ch, k(`receivers.${i}.${channel}.${j}`)));
    }
    for (const [j, e] of (r.email ?? []).entries()) problems.push(...proxyProblems({ proxyUrl: e.smtp.proxyUrl }, k(`receivers.${i}.email.${j}.smtp`)));
    // A recipient no message can reach would only show up as a failed page during an incident.
    for (const [j, e] of (r.email ?? []).entries()) {
      eachOf(e.to, (to, path) => {
        if (!emailAddressesValid(to, 'many')) problems.push(`${k(`receivers.${i}.email.${j}.to${path}`)}: ${JSON.stringify(to)} is not an email address (ops@example.com or Ops <ops@example.com>)`);
      });
      if (!emailAddressesValid(e.from, 'one')) problems.push(`${k(`receivers.${i}.email.${j}.from`)}: ${JSON.stringify(e.from)} is not one email address (alerts@example.com or Periscope <alerts@example.com>)`);
    }
    for (const [j, s] of (r.sms ?? []).entries()) {
      eachOf(s.to, (to, path) => {
        if (!E164.test(to)) problems.push(`${k(`receivers.${i}.sms.${j}.to${path}`)}: ${JSON.stringify(to)} is not a phone number in E.164 form (+15551234567)`);
      });
    }
  });
  const escalations = new Set<string>();
  c.escalations.forEach((e, i) => {
    if (escalations.has(e.name)) problems.push(`${k(`escalations.${i}.name`)}: duplicate escalation "${e.name}"`);
    escalations.add(e.name);
    e.steps.forEach((s, j) =>
      s.notify.forEach((name, m) => {
        if (!receivers.has(name)) problems.push(`${k(`escalations.${i}.steps.${j}.notify.${m}`)}: unknown receiver "${name}"`);
      }),
    );
  });
  const timings = new Set<string>();
  c.muteTimings.forEach((t, i) => {
    if (timings.has(t.name)) problems.push(`${k(`muteTimings.${i}.name`)}: duplicate mute timing "${t.name}"`);
    timings.add(t.name);
    const exprs = Array.isArray(t.cron) ? t.cron : [t.cron];
    exprs.forEach((expr, j) => {
      const p = cronProblem(expr); // the zone is checked once below, at its own key
      const key = Array.isArray(t.cron) ? `muteTimings.${i}.cron.${j}` : `muteTimings.${i}.cron`;
      if (p) problems.push(`${k(key)}: ${p}`);
      else if (t.duration !== undefined && expr.trim().split(/\s+/).length === 6) problems.push(`${k(key)}: duration needs a 5-field expression (minute resolution)`);
    });
    if (t.duration !== undefined && parseDuration(t.duration) > MAX_TIMING_DURATION_MS) problems.push(`${k(`muteTimings.${i}.duration`)}: at most 7d`);
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: t.timezone });
    } catch {
      problems.push(`${k(`muteTimings.${i}.timezone`)}: unknown time zone "${t.timezone}"`);
    }
  });
  const checkMatchers = (list: unknown[] | undefined, path: string) =>
    (list ?? []).forEach((m, i) => {
      try {
        compileMatchers([m as never]);
      } catch (err) {
        problems.push(`${k(`${path}.${i}`)}: ${(err as Error).message}`);
      }
    });
  // ('...' is groupBy's "every label".) No alert has a label that is not a label name (the rules and POST /api/v2/alerts refuse them;
  // an OTel attribute k8s.pod is the label k8s_pod): grouping or comparing on one would put every
  // alert in one group, or compare "" with "", and say nothing.
  const checkLabelNames = (list: string[] | undefined, path: string) =>
    (list ?? []).forEach((name, i) => {
      if (name !== '...' && !LABEL_NAME.test(name)) {
        const label = name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^(?=[0-9])/, '_');
        problems.push(`${k(`${path}.${i}`)}: "${name}" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*); alerts carry it as ${label}`);
      }
    });
  type R = NonNullable<NotifyConfig['route']>;
  const walk = (r: R, path: string, root: boolean) => {
    if (root && r.matchers?.length) problems.push(`${k(`${path}.matchers`)}: the root route matches every alert and cannot have matchers`);
    if (root && r.continue) problems.push(`${k(`${path}.continue`)}: not allowed on the root route`);
    if (root && c.receivers.length > 0 && r.receiver === undefined && r.escalation === undefined) problems.push(`${k(path)}: the root route needs a receiver or an escalation`);
    if (r.receiver !== undefined && !receivers.has(r.receiver)) problems.push(`${k(`${path}.receiver`)}: unknown receiver "${r.receiver}"`);
    if (r.escalation !== undefined && !escalations.has(r.escalation)) problems.push(`${k(`${path}.escalation`)}: unknown escalation "${r.escalation}"`);
    if (r.receiver !== undefined && r.escalation !== undefined) problems.push(`${k(path)}: set either receiver or escalation, not both`);
    for (const key of ['muteTimings', 'activeTimings'] as const) {
      (r[key] ?? []).forEach((name, i) => {
        if (!timings.has(name)) problems.push(`${k(`${path}.${key}.${i}`)}: unknown mute timing "${name}"`);
      });
    }
    if (r.groupBy?.includes('...') && r.groupBy.length > 1) problems.push(`${k(`${path}.groupBy`)}: '...' groups by all labels and cannot be combined with names`);
    checkLabelNames(r.groupBy, `${path}.groupBy`);
    if (r.groupInterval !== undefined && parseDuration(r.groupInterval) <= 0) problems.push(`${k(`${path}.groupInterval`)}: must be greater than 0`);
    if (r.repeatInterval !== undefined && parseDuration(r.repeatInterval) <= 0) problems.push(`${k(`${path}.repeatInterval`)}: must be greater than 0`);
    checkMatchers(r.matchers, `${path}.matchers`);
    (r.routes ?? []).forEach((child, i) => walk(child as R, `${path}.routes.${i}`, false));
  };
  walk(c.route as R, 'route', true);
  c.inhibitRules.forEach((r, i) => {
    checkLabelNames(r.equal, `inhibitRules.${i}.equal`);
    checkMatchers(r.sourceMatchers, `inhibitRules.${i}.sourceMatchers`);
    checkMatchers(r.targetMatchers, `inhibitRules.${i}.targetMatchers`);
  });
  if (c.ack.baseUrl !== undefined && !/^https?:\/\//.test(c.ack.baseUrl)) problems.push(`${k('ack.baseUrl')}: expected an http(s) URL`);
  if (c.consoleBaseUrl !== undefined && !/^https?:\/\//.test(c.consoleBaseUrl)) problems.push(`${k('consoleBaseUrl')}: expected an http(s) URL`);
  if (parseDuration(c.ack.linkTtl) <= 0) problems.push(`${k('ack.linkTtl')}: must be greater than 0`);
  return problems;
}

/**
 * Validates the notification slice (a copy; defaults filled in) and returns it. Throws an AlertError
 * with code PERISCOPE_ERR_ALERT_CONFIG_INVALID whose message lists every problem by key.
 */
export function parseNotifyConfig(raw: unknown, prefix = 'alerting'): NotifyConfig {
  const config = structuredClone(raw ?? {}) as Record<string, unknown>;
  if (typeof config !== 'object' || Array.isArray(config)) throw new AlertError(ALERT_ERR.CONFIG_INVALID, `${prefix}: expected a mapping`, 400, { problems: [`${prefix}: expected a mapping`] });
  if (!validate(config)) {
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const e of validate.errors ?? []) {
      if (e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
      const line = `${keyOf(prefix, e)}: ${describe(e)}`;
      if (!seen.has(line)) problems.push(line);
      seen.add(line);
    }
    // The cross-references too, as far as the shapes allow: fixing one error should not reveal the next.
    try {
      problems.push(...semanticProblems(config as NotifyConfig, prefix));
    } catch {
      // a shape they rely on is broken; the schema's lines say which
    }
    throw new AlertError(ALERT_ERR.CONFIG_INVALID, `invalid alerting configuration:\n  ${problems.join('\n  ')}`, 400, { problems });
  }
  const problems = semanticProblems(config as NotifyConfig, prefix);
  if (problems.length) throw new AlertError(ALERT_ERR.CONFIG_INVALID, `invalid alerting configuration:\n  ${problems.join('\n  ')}`, 400, { problems });
  return config as NotifyConfig;
}

/** The keys of `alerting:` that belong to the notification side. */
export const NOTIFY_CONFIG_KEYS = Object.keys(notifyConfigProperties) as (keyof typeof notifyConfigProperties)[];

/**
 * The notification slice of a whole `alerting:` mapping (the rules side's keys left out), validated
 * with the cross-reference checks. Use this when the composed schema already checked the shapes.
 */
export function notifyConfigFromAlerting(alerting: unknown, prefix = 'alerting'): NotifyConfig {
  const src = (typeof alerting === 'object' && alerting !== null ? alerting : {}) as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const k of NOTIFY_CONFIG_KEYS) if (src[k] !== undefined) picked[k] = src[k];
  return parseNotifyConfig(picked, prefix);
}
