// The contract every channel (slack, email, sms, webhook) implements, and what it is given to send.
// Lifecycle (DESIGN.md, conventions 2 and 4): start()/shutdown() are safe twice and before start;
// send() never throws — it returns { status: 'success' | 'retryable' | 'permanent', retryAfterMs?, error? },
// decided where the backend's answer is seen. Error texts never contain a secret (webhook URL token,
// SMTP password, API token): channels pass them through `redact`.

import type { ChannelTlsOptions } from './http-tls.ts';
import { tlsHint } from '../tls.ts';
import { proxyRefusal } from '../proxy.ts';

export type Channel = 'slack' | 'email' | 'sms' | 'webhook';
export type SendStatus = 'success' | 'retryable' | 'permanent';

export interface SendResult {
  status: SendStatus;
  retryAfterMs?: number;
  error?: string;
}

export interface NotificationAlert {
  fingerprint: string;
  status: 'firing' | 'resolved';
  state: 'firing' | 'nodata' | 'error' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  severity: string;
  value: number | null;
  /** RFC 3339. */
  startsAt: string;
  /** RFC 3339, or null while firing. */
  endsAt: string | null;
  generatorURL?: string;
  error?: string;
  links: { ack?: string; silence: string; logs: string };
  ack?: { by: string; at: string; comment?: string };
}

/** One message to one integration: a group's alerts, rendered by the channel in `locale`. */
export interface Notification {
  /** Idempotency key (hash of group, receiver, integration, step, alerts and their transition ids). */
  id: string;
  receiver: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  alerts: NotificationAlert[];
  /** Alerts left out of `alerts` by the channel's maxAlerts. */
  truncatedAlerts: number;
  externalURL: string;
  locale: string;
  reason: string;
  escalation?: { chain: string; step: number; steps: number; cycle: number; repeat: number };
  /** Email threading: every message of one group episode shares `id`; the first one is the root. */
  thread: { id: string; first: boolean };
  /** RFC 3339 time the notification was queued. */
  createdAt: string;
}

export interface Notifier {
  /** Integration id, e.g. `oncall/slack/0`: the unit of idempotency, circuit breaking and rate limiting. */
  readonly id: string;
  readonly channel: Channel;
  readonly receiver: string;
  readonly sendResolved: boolean;
  readonly locale?: string;
  /** Largest number of alerts in one message (0: no limit). */
  readonly maxAlerts: number;
  /** Messages with the same key are spaced at least minIntervalMs apart (Slack: 1 message/s per webhook). */
  readonly rateLimit?: { key: string; minIntervalMs: number };
  start(): Promise<void>;
  shutdown(): Promise<void>;
  send(notification: Notification): Promise<SendResult>;
}

export interface NotifierLogger {
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  info?(obj: unknown, msg?: string): void;
}

export const silentLogger: NotifierLogger = { warn() {}, error() {} };

export interface NotifierDeps {
  logger?: NotifierLogger;
  now?: () => number;
  /** The channel's `tls:` (HTTP channels: http-tls.ts). */
  tls?: ChannelTlsOptions;
  /**
   * The proxy URL an HTTP channel's requests go through (proxy.ts proxyFor), with its credentials;
   * `false` when its proxy keys send it directly (noProxy, no variable for its scheme): a pool of
   * its own all the same, not the process-wide fetch, which NODE_USE_ENV_PROXY=1 sends to a proxy.
   */
  proxy?: string | false;
}

/**
 * What every notifier shares: identity from its receiver and config, a logger and a clock, and
 * the lifecycle new → started → stopped. A send outside `started` gets a retryable result (the
 * outbox keeps the notification), never a throw.
 */
export abstract class NotifierBase implements Notifier {
  abstract readonly channel: Channel;
  abstract readonly maxAlerts: number;
  readonly id: string;
  readonly receiver: string;
  readonly sendResolved: boolean;
  readonly locale?: string;
  protected readonly logger: NotifierLogger;
  protected readonly now: () => number;
  protected state: 'new' | 'started' | 'stopped' = 'new';

  constructor(id: string, receiver: string, config: { sendResolved: boolean; locale?: string }, deps: NotifierDeps = {}) {
    this.id = id;
    this.receiver = receiver;
    this.sendResolved = config.sendResolved;
    this.locale = config.locale;
    this.logger = deps.logger ?? silentLogger;
    this.now = deps.now ?? Date.now;
  }

  async start(): Promise<void> {
    if (this.state === 'new') this.state = 'started';
  }

  async shutdown(): Promise<void> {
    this.state = 'stopped';
  }

  /** The result of a send while not started (before start, after shutdown); undefined when started. */
  protected notStarted(): SendResult | undefined {
    if (this.state === 'started') return undefined;
    return { status: 'retryable', error: `${this.channel} notifier ${this.state === 'new' ? 'not started' : 'shut down'}` };
  }

  abstract send(notification: Notification): Promise<SendResult>;
}

/** Retry-After values above this are clamped so a bogus header cannot stall a channel for days. */
export const RETRY_AFTER_MAX_MS = 3_600_000;

/** RFC 9110 §10.2.3: delta-seconds or an HTTP-date → ms to wait, or undefined. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, RETRY_AFTER_MAX_MS);
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), RETRY_AFTER_MAX_MS);
}

/**
 * The retry decision for an HTTP answer (DESIGN.md principle 3): 2xx success; 408, 425, 429 and 5xx
 * retryable (honouring Retry-After); other 4xx permanent (bad request, auth, not found: retrying
 * cannot help); 1xx/3xx unexpected → retryable.
 */
export function classifyHttpStatus(status: number, retryAfter: string | null, now: number): SendResult {
  if (status >= 200 && status < 300) return { status: 'success' };
  const retryAfterMs = parseRetryAfter(retryAfter, now);
  if (status === 408 || status === 425 || status === 429 || status >= 500 || status < 200 || (status >= 300 && status < 400)) {
    return { status: 'retryable', ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), error: `HTTP ${status}` };
  }
  return { status: 'permanent', error: `HTTP ${status}` };
}

/** Replaces every secret (and its URL-encoded and base64 forms) with `***`, longest first. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(Buffer.from(s).toString('base64'));
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join('***');
  return out;
}

/** A short, secret-free description of a network error thrown by fetch (cause code/message). */
export function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const refusal = proxyRefusal(err, 'the receiver');
  if (refusal) return `network error: ${refusal}`;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'request timed out';
  // A TLS failure that the channel's `tls:` fixes names the setting (tls.caFile, tls.certFile, …).
  const hint = e?.cause?.code ? tlsHint(e.cause.code, { peer: 'the receiver', owner: 'the channel', doc: 'docs/alerting-notifications.md#tls' }) : undefined;
  if (hint) return `network error: ${e.cause!.code} (${hint})`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `network error: ${cause}` : `network error: ${e?.message ?? String(err)}`;
}

/**
 * The secret parts of a URL for redaction: the URL, its query and userinfo, its path, every tail of
 * the path (`T0/B0/token`, `B0/token`, …: a Slack webhook's token is its path) and each long segment.
 */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    const out = [url, u.search.length > 1 ? u.search.slice(1) : undefined, u.password || undefined];
    for (const [k, v] of u.searchParams) if (v.length >= 4) out.push(v, `${k}=${v}`);
    const segments = u.pathname.split('/').filter(Boolean);
    if (segments.length > 0) out.push(u.pathname);
    for (let i = 0; i < segments.length; i++) {
      const tail = segments.slice(i).join('/');
      if (segments.length - i >= 2 || tail.length >= 8) out.push(tail);
    }
    return out.filter((s): s is string => !!s);
  } catch {
    return [url];
  }
}
