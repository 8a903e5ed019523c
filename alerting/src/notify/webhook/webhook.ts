// Generic webhook with Alertmanager's webhook payload, version 4
// (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config): existing receivers of
// Alertmanager webhooks work unchanged. Firing alerts carry endsAt "0001-01-01T00:00:00Z" like
// Alertmanager's; `maxAlerts` truncates and reports `truncatedAlerts`.
import {
  classifyHttpStatus,
  redact,
  urlSecrets,
  type Notification,
  type NotifierDeps,
  type SendResult,
} from '../notifier.ts';
import { basicToken, takeUrlCredentials } from '../../../../sdk/src/url-credentials.ts';
import { timerDelay } from '../../clock.ts';
import { HttpNotifier } from '../http-tls.ts';
import type { TlsConfig } from '../../tls.ts';

export interface WebhookConfig {
  url: string;
  bearerToken?: string;
  sendResolved: boolean;
  maxAlerts: number;
  timeoutMs: number;
  locale?: string;
  tls?: TlsConfig;
}

export interface WebhookPayloadV4 {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: {
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
    fingerprint: string;
  }[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * An alert's annotations, plus what the Alertmanager format has no field for: an alert in
 * `nodata` or `error` is "firing" there, so `periscope_state` says which it is and
 * `periscope_error` carries the evaluation error (Slack and email show them in the text).
 */
function annotationsOf(a: Notification['alerts'][number]): Record<string, string> {
  if (a.state !== 'nodata' && a.state !== 'error') return a.annotations;
  return { ...a.annotations, periscope_state: a.state, ...(a.error ? { periscope_error: a.error } : {}) };
}

export function webhookPayload(n: Notification): WebhookPayloadV4 {
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: n.truncatedAlerts,
    status: n.status,
    receiver: n.receiver,
    groupLabels: n.groupLabels,
    commonLabels: n.commonLabels,
    commonAnnotations: n.commonAnnotations,
    externalURL: n.externalURL,
    alerts: n.alerts.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: annotationsOf(a),
      startsAt: a.startsAt,
      endsAt: a.status === 'resolved' && a.endsAt ? a.endsAt : ZERO_TIME,
      generatorURL: a.generatorURL ?? '',
      fingerprint: a.fingerprint,
    })),
  };
}

/**
 * The URL to POST to and its Authorization header. Credentials in the URL
 * (`https://user:pass@host/hook`) become Basic auth, as Go's HTTP client (Alertmanager's) sends
 * them: fetch refuses such a URL, so every notification to it failed. A bearerToken wins over
 * them, as an Authorization header wins over the URL's user in Go.
 */
export function webhookTarget(config: Pick<WebhookConfig, 'url' | 'bearerToken'>): { url: string; authorization?: string } {
  const u = URL.canParse(config.url) ? new URL(config.url) : undefined;
  const credentials = u && takeUrlCredentials(u);
  if (!credentials) return { url: config.url, ...(config.bearerToken ? { authorization: `Bearer ${config.bearerToken}` } : {}) };
  return { url: u!.href, authorization: config.bearerToken ? `Bearer ${config.bearerToken}` : `Basic ${basicToken(credentials)}` };
}

export class WebhookNotifier extends HttpNotifier {
  readonly channel = 'webhook' as const;
  readonly maxAlerts: number;
  readonly #config: WebhookConfig;
  readonly #target: { url: string; authorization?: string };

  constructor(id: string, receiver: string, config: WebhookConfig, deps: NotifierDeps = {}) {
    super(id, receiver, config, deps);
    this.maxAlerts = config.maxAlerts;
    this.#config = config;
    this.#target = webhookTarget(config);
  }

  async send(n: Notification): Promise<SendResult> {
    const notStarted = this.notStarted();
    if (notStarted) return notStarted;
    const secrets = [...urlSecrets(this.#config.url), this.#config.bearerToken, this.#target.authorization?.split(' ')[1], ...this.http.secrets];
    try {
      const res = await this.http.fetch(this.#target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Periscope-Alerting',
          'idempotency-key': n.id,
          ...(this.#target.authorization ? { authorization: this.#target.authorization } : {}),
        },
        body: JSON.stringify(webhookPayload(n)),
        signal: AbortSignal.timeout(timerDelay(this.#config.timeoutMs)),
        redirect: 'error',
      });
      await res.arrayBuffer().catch(() => undefined);
      const result = classifyHttpStatus(res.status, res.headers.get('retry-after'), this.now());
      if (result.status !== 'success') {
        result.error = redact(`webhook ${result.error}`, secrets);
        this.logger.warn({ integration: this.id, status: res.status, result: result.status }, result.error);
      }
      return result;
    } catch (err) {
      const error = redact(`webhook ${this.fetchFailure(err)}`, secrets);
      this.logger.warn({ integration: this.id }, error);
      return { status: 'retryable', error };
    }
  }
}
