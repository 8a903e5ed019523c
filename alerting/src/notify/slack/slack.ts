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
  describeFetchError,
  redact,
  silentLogger,
  urlSecrets,
  type Notification,
  type Notifier,
  type NotifierLogger,
  type SendResult,
} from '../notifier.ts';
import { slackMessage } from './blocks.ts';

export interface SlackConfig {
  webhookUrl: string;
  channel?: string;
  username?: string;
  iconEmoji?: string;
  sendResolved: boolean;
  maxAlerts: number;
  timeoutMs: number;
  locale?: string;
}

export const SLACK_MIN_INTERVAL_MS = 1000;

export class SlackNotifier implements Notifier {
  readonly id: string;
  readonly channel = 'slack' as const;
  readonly receiver: string;
  readonly sendResolved: boolean;
  readonly locale?: string;
  readonly maxAlerts: number;
  readonly rateLimit: { key: string; minIntervalMs: number };
  readonly #config: SlackConfig;
  readonly #logger: NotifierLogger;
  readonly #now: () => number;
  #webhook: IncomingWebhook | undefined;
  #lastHeaders: Headers | undefined;
  #state: 'new' | 'started' | 'stopped' = 'new';

  constructor(id: string, receiver: string, config: SlackConfig, deps: { logger?: NotifierLogger; now?: () => number } = {}) {
    this.id = id;
    this.receiver = receiver;
    this.sendResolved = config.sendResolved;
    this.locale = config.locale;
    this.maxAlerts = config.maxAlerts;
    this.#config = config;
    this.#logger = deps.logger ?? silentLogger;
    this.#now = deps.now ?? Date.now;
    this.rateLimit = { key: `slack:${createHash('sha256').update(config.webhookUrl).digest('hex').slice(0, 16)}`, minIntervalMs: SLACK_MIN_INTERVAL_MS };
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#webhook = new IncomingWebhook(this.#config.webhookUrl, {
      channel: this.#config.channel,
      username: this.#config.username,
      icon_emoji: this.#config.iconEmoji,
      timeout: this.#config.timeoutMs,
      retryConfig: { retries: 0 }, // retries are the outbox's, with backoff and Retry-After
      fetch: async (url, init) => {
        const res = await fetch(url, init as RequestInit);
        this.#lastHeaders = res.headers;
        return res;
      },
    });
    this.#state = 'started';
  }

  async shutdown(): Promise<void> {
    this.#state = 'stopped';
    this.#webhook = undefined;
  }

  async send(n: Notification): Promise<SendResult> {
    const webhook = this.#webhook;
    if (this.#state !== 'started' || !webhook) return { status: 'retryable', error: `slack notifier ${this.#state === 'new' ? 'not started' : 'shut down'}` };
    const secrets = urlSecrets(this.#config.webhookUrl);
    this.#lastHeaders = undefined;
    try {
      const message = slackMessage(n);
      await webhook.send({ text: message.text, blocks: message.blocks as never });
      return { status: 'success' };
    } catch (err) {
      let result: SendResult;
      if (err instanceof IncomingWebhookHTTPError) {
        const headers = this.#lastHeaders as Headers | undefined; // set by the fetch wrapper during send()
        result = classifyHttpStatus(err.statusCode, headers?.get('retry-after') ?? null, this.#now());
        const body = typeof err.body === 'string' ? err.body.slice(0, 200).trim() : '';
        result.error = `Slack webhook ${result.error}${body ? ` (${body})` : ''}`;
      } else if (err instanceof IncomingWebhookRequestError) {
        result = { status: 'retryable', error: `Slack webhook ${describeFetchError(err.original)}` };
      } else {
        result = { status: 'retryable', error: `Slack webhook error: ${(err as Error)?.message ?? String(err)}` };
      }
      result.error = redact(result.error ?? '', secrets);
      this.#logger.warn({ integration: this.id, result: result.status }, result.error);
      return result;
    }
  }
}
