// Slack through an incoming webhook (@slack/webhook IncomingWebhook), Block Kit message.
// Rate: Slack allows about one message per second per webhook (https://api.slack.com/apis/rate-limits#incoming-webhooks,
// "1 per second per channel, short bursts allowed"); the outbox spaces messages with the same
// webhook by `rateLimit`. A 429 carries Retry-After, which IncomingWebhookHTTPError does not
// expose, so the webhook gets a fetch that keeps the response headers.
// The webhook URL is the secret (its path is the token): it never appears in errors or logs.
import { createHash } from 'node:crypto';
import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError } from '@slack/webhook';
import {
  classifyHttpStatus,
  redact,
  urlSecrets,
  type Notification,
  type NotifierDeps,
  type SendResult,
} from '../notifier.ts';
import { slackMessage } from './blocks.ts';
import { timerDelay } from '../../clock.ts';
import { HttpNotifier } from '../http-tls.ts';
import type { TlsConfig } from '../../tls.ts';

export interface SlackConfig {
  webhookUrl: string;
  channel?: string;
  username?: string;
  iconEmoji?: string;
  sendResolved: boolean;
  maxAlerts: number;
  timeoutMs: number;
  locale?: string;
  tls?: TlsConfig;
}

export const SLACK_MIN_INTERVAL_MS = 1000;

export class SlackNotifier extends HttpNotifier {
  readonly channel = 'slack' as const;
  readonly maxAlerts: number;
  readonly rateLimit: { key: string; minIntervalMs: number };
  readonly #config: SlackConfig;
  /** Holds the URL and options only: no connection until a send. */
  readonly #webhook: IncomingWebhook;
  #lastHeaders: Headers | undefined;

  constructor(id: string, receiver: string, config: SlackConfig, deps: NotifierDeps = {}) {
    super(id, receiver, config, deps);
    this.maxAlerts = config.maxAlerts;
    this.#config = config;
    this.rateLimit = { key: `slack:${createHash('sha256').update(config.webhookUrl).digest('hex').slice(0, 16)}`, minIntervalMs: SLACK_MIN_INTERVAL_MS };
    this.#webhook = new IncomingWebhook(config.webhookUrl, {
      channel: config.channel,
      username: config.username,
      icon_emoji: config.iconEmoji,
      // Node fires a longer timer after 1 ms: `timeout: 600h` failed every message at once.
      timeout: timerDelay(config.timeoutMs),
      retryConfig: { retries: 0 }, // retries are the outbox's, with backoff and Retry-After
      fetch: async (url, init) => {
        const res = await this.http.fetch(String(url), init as RequestInit);
        this.#lastHeaders = res.headers;
        return res;
      },
    });
  }

  async send(n: Notification): Promise<SendResult> {
    const notStarted = this.notStarted();
    if (notStarted) return notStarted;
    const secrets = [...urlSecrets(this.#config.webhookUrl), ...this.http.secrets];
    this.#lastHeaders = undefined;
    try {
      const message = slackMessage(n);
      await this.#webhook.send({ text: message.text, blocks: message.blocks as never });
      return { status: 'success' };
    } catch (err) {
      let result: SendResult;
      if (err instanceof IncomingWebhookHTTPError) {
        const headers = this.#lastHeaders as Headers | undefined; // set by the fetch wrapper during send()
        result = classifyHttpStatus(err.statusCode, headers?.get('retry-after') ?? null, this.now());
        const body = typeof err.body === 'string' ? err.body.slice(0, 200).trim() : '';
        result.error = `Slack webhook ${result.error}${body ? ` (${body})` : ''}`;
      } else if (err instanceof IncomingWebhookRequestError) {
        result = { status: 'retryable', error: `Slack webhook ${this.fetchFailure(err.original)}` };
      } else {
        result = { status: 'retryable', error: `Slack webhook error: ${(err as Error)?.message ?? String(err)}` };
      }
      result.error = redact(result.error ?? '', secrets);
      this.logger.warn({ integration: this.id, result: result.status }, result.error);
      return result;
    }
  }
}
