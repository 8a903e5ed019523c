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
const Timeout = (def: string) => Duration(def, undefined, '100ms');
const Locale = Type.Union([Type.Literal('en'), Type.Literal('ko')]);
const Strings = Type.Array(Type.String({ minLength: 1 }));
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
    webhookUrl: Type.String({ minLength: 1 }),
    channel: Type.Optional(Type.String()),
    username: Type.Optional(Type.String()),
    iconEmoji: Type.Optional(Type.String()),
    sendResolved: Type.Boolean({ default: true }),
    /** Alerts shown per message; 15 keeps a message within Slack's 50 blocks. */
    maxAlerts: Type.Integer({ minimum: 1, maximum: 15, default: 10 }),
    timeout: Timeout('10s'),
    locale: Type.Optional(Locale),
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
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 587 }),
        /** TLS from the start; otherwise STARTTLS when offered. Unset: true on port 465 (as Alertmanager). */
        secure: Type.Optional(Type.Boolean({ description: 'TLS from the first byte (implicit TLS); otherwise STARTTLS when the server offers it. Unset: `true` on port 465, `false` on other ports.' })),
        requireTls: Type.Boolean({ default: false }),
        user: Type.Optional(Type.String()),
        password: Type.Optional(Type.String()),
        maxConnections: Type.Integer({ minimum: 1, maximum: 20, default: 3 }),
        tlsRejectUnauthorized: Type.Boolean({ default: true }),
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
    subjectPrefix: Type.String({ default: '[Periscope]' }),
    sendResolved: Type.Boolean({ default: true }),
    maxAlerts: Type.Integer({ minimum: 0, default: 50 }),
    timeout: Timeout('30s'),
    locale: Type.Optional(Locale),
  },
  { additionalProperties: false },
);

const smsSchema = Type.Object(
  {
    /** Twilio-compatible API base; requests go to {baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json. */
    baseUrl: Type.String({ default: 'https://api.twilio.com' }),
    accountSid: Type.String({ minLength: 1 }),
    authToken: Type.String({ minLength: 1 }),
    /** Twilio accepts a number, a short code or an alphanumeric sender ID here. */
    from: Type.String({ minLength: 1 }),
    to: OneOrMany('Phone numbers in E.164 form (`+15551234567`), as Twilio requires.'),
    /** Resolved notices go to everyone who was notified, SMS included, unless turned off here. */
    sendResolved: Type.Boolean({ default: true }),
    /** Longest body in segments (GSM-7: 160, or 153 per part; UCS-2: 70, or 67 per part). */
    maxSegments: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
    timeout: Timeout('10s'),
    locale: Type.Optional(Locale),
    tls: Type.Optional(channelTlsSchema),
    ...channelProxy,
  },
  { additionalProperties: false },
);

const webhookSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, description: 'http(s) URL the Alertmanager-format JSON is POSTed to; credentials in it (`https://user:pass@host/hook`) are sent as Basic auth.' }),
    bearerToken: Type.Optional(Type.String({ description: '`Authorization: Bearer <token>` (instead of the URL\'s credentials).' })),
    sendResolved: Type.Boolean({ default: true }),
    /** 0: no limit (Alertmanager's max_alerts). */
    maxAlerts: Type.Integer({ minimum: 0, default: 0 }),
    timeout: Timeout('10s'),
    locale: Type.Optional(Locale),
    tls: Type.Optional(channelTlsSchema),
    ...channelProxy,
  },
  { additionalProperties: false },
);

const receiverSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    locale: Type.Optional(Locale),
    slack: Type.Optional(Type.Array(slackSchema)),
    email: Type.Optional(Type.Array(emailSchema)),
    sms: Type.Optional(Type.Array(smsSchema)),
    webhook: Type.Optional(Type.Array(webhookSchema)),
  },
  { additionalProperties: false },
);

/** No defaults inside routes: unset settings are inherited from the parent (root: 30s / 5m / 4h). */
export const routeSchema = Type.Recursive(
  (This) =>
    Type.Object(
      {
        receiver: Type.Optional(Type.String({ minLength: 1 })),
        escalation: Type.Optional(Type.String({ minLength: 1 })),
        matchers: Type.Optional(Type.Array(matcherSchema)),
        groupBy: Type.Optional(Strings),
        groupWait: Type.Optional(Duration()),
        groupInterval: Type.Optional(Duration()),
        repeatInterval: Type.Optional(Duration()),
        continue: Type.Optional(Type.Boolean()),
        muteTimings: Type.Optional(Strings),
        activeTimings: Type.Optional(Strings),
        locale: Type.Optional(Locale),
        routes: Type.Optional(Type.Array(This)),
      },
      { additionalProperties: false },
    ),
  { $id: 'PeriscopeNotifyRoute', default: {} },
);

const inhibitRuleSchema = Type.Object(
  {
    sourceMatchers: Type.Array(matcherSchema, { minItems: 1 }),
    targetMatchers: Type.Array(matcherSchema, { minItems: 1 }),
    equal: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  },
  { additionalProperties: false },
);

const muteTimingSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    cron: OneOrMany('node-cron expression(s), 5 fields (or 6 with seconds), evaluated in `timezone`.'),
    /** How long each match lasts; without it, the timing is on during the minutes the expression matches. */
    duration: Type.Optional(Duration()),
    timezone: Type.String({ default: 'UTC' }),
  },
  { additionalProperties: false },
);

const escalationSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    /** How many times the whole chain runs (K); it stops earlier at acknowledgement or resolution. */
    repeat: Type.Integer({ minimum: 1, maximum: 100, default: 1 }),
    steps: Type.Array(
      Type.Object({ notify: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }), wait: Duration('5m') }, { additionalProperties: false }),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);

const ackSchema = Type.Object(
  {
    /** HMAC-SHA256 key for ack links (≥ 32 chars); generated and kept in alerting.db when unset. */
    secret: Type.Optional(Type.String({ minLength: 32 })),
    linkTtl: Duration('24h'),
    /** Public base URL of Periscope, where /ack/:token is served; unset: the collector's own HTTP address. */
    baseUrl: Type.Optional(Type.String({ description: "Public base URL where people's browsers reach the collector (ack, silence and log links); unset: the collector's HTTP listener, as bound." })),
  },
  { additionalProperties: false, default: {} },
);

const deliverySchema = Type.Object(
  {
    /** Attempts before a notification is marked failed. */
    maxAttempts: Type.Integer({ minimum: 1, maximum: 1000, default: 12 }),
    /** Age after which a notification still not delivered is marked failed. */
    maxAge: Duration('6h', undefined, '1m'),
    backoffBase: Duration('1s', undefined, '10ms'),
    backoffCap: Duration('5m', undefined, '10ms'),
    /** Consecutive retryable failures that open an integration's circuit breaker. */
    breakerFailures: Type.Integer({ minimum: 1, default: 5 }),
    breakerCooldown: Duration('30s', undefined, '100ms'),
  },
  { additionalProperties: false, default: {}, unitOrder: [['backoffBase', 'backoffCap']] },
);

/** The properties of the notification side, for composing `alerting:` with the rules side's keys. */
export const notifyConfigProperties = {
  locale: Type.Union([Type.Literal('en'), Type.Literal('ko')], { default: 'en' }),
  /** Base URL of the web console for silence and log-search links (defaults to ack.baseUrl). */
  consoleBaseUrl: Type.Optional(Type.String()),
  /** API alerts without endsAt resolve after this unless re-sent (Alertmanager's resolve_timeout). */
  resolveTimeout: Duration('5m', undefined, '1s'),
  /** Alerts that start firing within this of an open incident's last alert join it. */
  incidentWindow: Duration('5m'),
  receivers: Type.Array(receiverSchema, { default: [] }),
  route: routeSchema,
  inhibitRules: Type.Array(inhibitRuleSchema, { default: [] }),
  muteTimings: Type.Array(muteTimingSchema, { default: [] }),
  escalations: Type.Array(escalationSchema, { default: [] }),
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
