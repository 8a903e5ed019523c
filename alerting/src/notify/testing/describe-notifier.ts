// The shared contract suite every notifier runs (DESIGN.md convention 7): lifecycle (start/shutdown
// safe twice and before start; send never throws), the retry decision for each backend answer, and
// no secret (webhook URL token, SMTP password, API token) in a result's error or in the logs — the
// backends in these tests echo the secret back in their error bodies to prove the redaction.
import { describe, expect, it } from 'vitest';
import type { Notification, Notifier, NotifierLogger, SendResult } from '../notifier.ts';

export interface NotifierBackend<B> {
  /** How the backend answers the next requests. */
  respond(behavior: B): void;
  /** Requests (or messages) received so far. */
  received(): number;
  close(): Promise<void>;
}

export interface NotifierSetup<B> {
  notifier: Notifier;
  backend: NotifierBackend<B>;
}

export interface RetryCase<B> {
  name: string;
  behavior: B;
  want: { status: SendResult['status']; retryAfterMs?: number };
}

export interface NotifierHarness<B> {
  /** Starts a backend and builds (does not start) a notifier pointed at it with `logger`. */
  setup(logger: NotifierLogger): Promise<NotifierSetup<B>>;
  /** Builds a notifier pointed at a port nobody listens on. */
  unreachable(logger: NotifierLogger): Notifier;
  /** Values that must never appear in errors or logs. */
  secrets: string[];
  /** A behavior under which the backend accepts the message. */
  ok: B;
  cases: RetryCase<B>[];
}

export function sampleNotification(overrides: Partial<Notification> = {}): Notification {
  return {
    id: 'notif-0001',
    receiver: 'team',
    groupKey: '{}:{alertname="HighLatency"}',
    status: 'firing',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency', service: 'api', severity: 'critical' },
    commonAnnotations: { summary: 'p99 latency above 2s' },
    alerts: [
      {
        fingerprint: '0123456789abcdef',
        status: 'firing',
        state: 'firing',
        labels: { alertname: 'HighLatency', service: 'api', severity: 'critical' },
        annotations: { summary: 'p99 latency above 2s' },
        severity: 'critical',
        value: 2.71,
        startsAt: '2025-01-06T12:00:00.000Z',
        endsAt: null,
        links: { ack: 'http://127.0.0.1:4318/ack/tok', silence: 'http://127.0.0.1:4318/#/alerts/f1?silence', logs: 'http://127.0.0.1:4318/#/search?service=api' },
      },
    ],
    truncatedAlerts: 0,
    externalURL: 'http://127.0.0.1:4318',
    locale: 'en',
    reason: 'first',
    thread: { id: 'thread0001', first: true },
    createdAt: '2025-01-06T12:00:00.000Z',
    ...overrides,
  };
}

function capture(): { logger: NotifierLogger; lines: string[] } {
  const lines: string[] = [];
  const push = (obj: unknown, msg?: string) => lines.push(`${JSON.stringify(obj)} ${msg ?? ''}`);
  return { logger: { warn: push, error: push, info: push }, lines };
}

function expectNoSecret(harness: { secrets: string[] }, texts: string[]): void {
  const all = texts.join('\n');
  for (const s of harness.secrets) expect(all, `secret ${s.slice(0, 4)}… leaked`).not.toContain(s);
}

export function describeNotifier<B>(name: string, harness: NotifierHarness<B>): void {
  describe(`notifier contract: ${name}`, () => {
    it('shutdown() before start() and twice is safe; send() before start is retryable, never a throw', async () => {
      const { logger } = capture();
      const { notifier, backend } = await harness.setup(logger);
      try {
        await notifier.shutdown();
        await notifier.shutdown();
        const { notifier: fresh, backend: b2 } = await harness.setup(logger);
        try {
          const r = await fresh.send(sampleNotification());
          expect(r).toMatchObject({ status: 'retryable', error: `${fresh.channel} notifier not started` });
          expect(b2.received()).toBe(0);
        } finally {
          await fresh.shutdown();
          await b2.close();
        }
      } finally {
        await backend.close();
      }
    });

    it('start() twice is safe, delivers, and send() after shutdown is retryable', async () => {
      const { logger } = capture();
      const { notifier, backend } = await harness.setup(logger);
      try {
        backend.respond(harness.ok);
        await notifier.start();
        await notifier.start();
        expect(await notifier.send(sampleNotification())).toEqual({ status: 'success' });
        expect(backend.received()).toBe(1);
        await notifier.shutdown();
        await notifier.shutdown();
        expect(await notifier.send(sampleNotification())).toMatchObject({ status: 'retryable', error: `${notifier.channel} notifier shut down` });
        expect(backend.received()).toBe(1);
      } finally {
        await notifier.shutdown();
        await backend.close();
      }
    });

    it.each(harness.cases)('retry decision: $name', async ({ behavior, want }) => {
      const { logger, lines } = capture();
      const { notifier, backend } = await harness.setup(logger);
      try {
        await notifier.start();
        backend.respond(behavior);
        const result = await notifier.send(sampleNotification());
        expect(result.status).toBe(want.status);
        if (want.retryAfterMs !== undefined) {
          // HTTP-dates have 1 s resolution, and an absolute date written when the table was built
          // only gets closer while a loaded machine runs the suite: never later, maybe sooner.
          const got = result.retryAfterMs ?? Number.NaN;
          expect(got).toBeLessThanOrEqual(want.retryAfterMs + 1000);
          expect(got).toBeGreaterThan(want.retryAfterMs / 2);
        }
        if (want.status !== 'success') expect(result.error).toBeTruthy();
        expectNoSecret(harness, [JSON.stringify(result), ...lines]);
      } finally {
        await notifier.shutdown();
        await backend.close();
      }
    });

    it('an unreachable backend is retryable and the error names no secret', async () => {
      const { logger, lines } = capture();
      const notifier = harness.unreachable(logger);
      try {
        await notifier.start();
        const result = await notifier.send(sampleNotification());
        expect(result.status).toBe('retryable');
        expect(result.error).toBeTruthy();
        expectNoSecret(harness, [JSON.stringify(result), ...lines]);
      } finally {
        await notifier.shutdown();
      }
    });
  });
}
