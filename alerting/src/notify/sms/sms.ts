// SMS through a Twilio-compatible Messages API:
//   POST {baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json
//   form-encoded To, From, Body; HTTP basic auth AccountSid:AuthToken; 201 Created on success.
// (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource)
// Errors come back as JSON { code, message, more_info, status }; 429 (code 20429) and 5xx are
// retried, other 4xx (21211 invalid To, 20003 authentication) are permanent.
import { messagesFor } from '../../templates/messages.ts';
import { alertStatusText, alertSummary, formatValue, groupTitle, statusText } from '../../templates/render.ts';
import {
  classifyHttpStatus,
  redact,
  type Notification,
  type NotifierDeps,
  type SendResult,
} from '../notifier.ts';
import { fitSms } from './segments.ts';
import { timerDelay } from '../../clock.ts';
import { HttpNotifier } from '../http-tls.ts';
import type { TlsConfig } from '../../tls.ts';

export interface SmsConfig {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  from: string;
  /** One recipient per notifier (a receiver with several numbers gets one notifier each). */
  to: string;
  sendResolved: boolean;
  maxSegments: number;
  timeoutMs: number;
  locale?: string;
  tls?: TlsConfig;
}

/**
 * Short body: status, title, then one line per alert (summary, severity, value). An alert open
 * because its data is missing or its rule fails says so (`[NO DATA]`), as Slack and email do.
 */
export function smsText(n: Notification): string {
  const m = messagesFor(n.locale);
  const firing = n.alerts.filter((a) => a.status === 'firing').length;
  const head = `[${statusText(n, m)}${n.status === 'firing' ? `:${firing + n.truncatedAlerts}` : ''}] ${groupTitle(n)}`;
  const lines = n.alerts.map((a) => {
    const state = a.status === 'firing' && (a.state === 'nodata' || a.state === 'error') ? `[${alertStatusText(a, m)}] ` : '';
    return `- ${state}${alertSummary(a)} (${a.severity}${a.value !== null ? `, ${formatValue(a.value)}` : ''})`;
  });
  const esc = n.escalation ? [m.escalation(n.escalation.step, n.escalation.steps, n.escalation.cycle, n.escalation.repeat)] : [];
  return [head, ...esc, ...lines].join('\n');
}

export class SmsNotifier extends HttpNotifier {
  readonly channel = 'sms' as const;
  readonly maxAlerts = 5;
  readonly #config: SmsConfig;

  constructor(id: string, receiver: string, config: SmsConfig, deps: NotifierDeps = {}) {
    super(id, receiver, config, deps);
    this.#config = config;
  }

  #secrets(): string[] {
    const c = this.#config;
    return [c.authToken, `${c.accountSid}:${c.authToken}`, ...this.http.secrets];
  }

  async send(n: Notification): Promise<SendResult> {
    const notStarted = this.notStarted();
    if (notStarted) return notStarted;
    const c = this.#config;
    const fit = fitSms(smsText(n), c.maxSegments);
    const url = `${c.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(c.accountSid)}/Messages.json`;
    try {
      const res = await this.http.fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${c.accountSid}:${c.authToken}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          'idempotency-key': n.id,
        },
        body: new URLSearchParams({ To: c.to, From: c.from, Body: fit.body }).toString(),
        signal: AbortSignal.timeout(timerDelay(c.timeoutMs)),
        redirect: 'error',
      });
      const text = await res.text().catch(() => '');
      const result = classifyHttpStatus(res.status, res.headers.get('retry-after'), this.now());
      if (result.status === 'success') return result;
      let detail = '';
      try {
        const body = JSON.parse(text) as { code?: number; message?: string };
        detail = [body.code !== undefined ? `code ${body.code}` : '', body.message ?? ''].filter(Boolean).join(': ');
      } catch {
        detail = text.slice(0, 200);
      }
      result.error = redact(`SMS API ${result.error}${detail ? ` (${detail})` : ''}`, this.#secrets());
      this.logger.warn({ integration: this.id, status: res.status, result: result.status }, result.error);
      return result;
    } catch (err) {
      const error = redact(`SMS API ${this.fetchFailure(err)}`, this.#secrets());
      this.logger.warn({ integration: this.id }, error);
      return { status: 'retryable', error };
    }
  }
}
