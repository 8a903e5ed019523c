// Test helpers for the notification side: scripted notifiers, a pipeline on a FakeClock in a temp
// dir, and AlertEvent factories. Used by unit tests only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { FakeClock, flushMicrotasks } from '../../clock.ts';
import { labelsFingerprint } from '../../dispatch/alert.ts';
import { parseNotifyConfig } from '../../notify-config.ts';
import { NotificationPipeline, type PipelineHandover } from '../../notify-pipeline.ts';
import type { AlertEvent, AlertEventState } from '../../types.ts';
import type { BuiltNotifiers } from '../factory.ts';
import type { NotifierLogger } from '../notifier.ts';
import type { Channel, Notification, Notifier, SendResult } from '../notifier.ts';

export class FakeNotifier implements Notifier {
  readonly id: string;
  readonly channel: Channel;
  readonly receiver: string;
  readonly sendResolved: boolean;
  readonly maxAlerts: number;
  readonly rateLimit?: { key: string; minIntervalMs: number };
  readonly locale?: string;
  readonly sent: Notification[] = [];
  /** Attempt times (clock ms) of every call, successful or not. */
  readonly attempts: number[] = [];
  /** Results to return, in order; then `success`. */
  script: SendResult[] = [];
  #now: () => number;

  constructor(
    id: string,
    receiver: string,
    opts: { channel?: Channel; sendResolved?: boolean; maxAlerts?: number; rateLimit?: { key: string; minIntervalMs: number }; locale?: string; now?: () => number } = {},
  ) {
    this.id = id;
    this.receiver = receiver;
    this.channel = opts.channel ?? 'webhook';
    this.sendResolved = opts.sendResolved ?? true;
    this.maxAlerts = opts.maxAlerts ?? 0;
    this.rateLimit = opts.rateLimit;
    this.locale = opts.locale;
    this.#now = opts.now ?? Date.now;
  }

  /** Attempt times come from this clock (the harness passes its FakeClock). */
  useClock(now: () => number): void {
    this.#now = now;
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async send(n: Notification): Promise<SendResult> {
    this.attempts.push(this.#now());
    const result = this.script.shift() ?? { status: 'success' };
    if (result.status === 'success') this.sent.push(n);
    return result;
  }

  /** Fingerprints of firing/resolved alerts of each successful message. */
  summary(): string[] {
    return this.sent.map((n) => `${n.status}:${n.alerts.map((a) => `${a.labels.alertname ?? a.fingerprint}${a.status === 'resolved' ? '(r)' : ''}`).join(',')}`);
  }
}

export function fakeNotifiers(list: FakeNotifier[]): BuiltNotifiers {
  const notifiers = new Map<string, Notifier>();
  const byReceiver = new Map<string, string[]>();
  for (const n of list) {
    notifiers.set(n.id, n);
    byReceiver.set(n.receiver, [...(byReceiver.get(n.receiver) ?? []), n.id]);
  }
  return { notifiers, byReceiver };
}

/** Receivers config entries for the given names (the fake notifiers replace what they build). */
export function receiversFor(names: string[]) {
  return names.map((name) => ({ name, webhook: [{ url: `http://127.0.0.1:9/${name}` }] }));
}

export interface TestPipeline {
  pipeline: NotificationPipeline;
  clock: FakeClock;
  dir: string;
  registry: Registry;
  /** Lets timers at the current time and the async sends they start settle. */
  settle(): Promise<void>;
  /** Advances the fake clock, settling async work after every timer. */
  advance(ms: number): Promise<void>;
  /** A new pipeline over the same data dir (after shutdown): the restart. */
  restart(notifiers?: FakeNotifier[]): Promise<TestPipeline>;
  /** A new pipeline replacing this one as a reload does (release(), its handover), with `config` or the same. */
  reload(config?: Record<string, unknown>): Promise<TestPipeline>;
  close(): Promise<void>;
}

export async function startTestPipeline(
  rawConfig: Record<string, unknown>,
  notifiers: FakeNotifier[],
  options: { clock?: FakeClock; dir?: string; random?: () => number; handover?: PipelineHandover; logger?: NotifierLogger } = {},
): Promise<TestPipeline> {
  const clock = options.clock ?? new FakeClock(Date.UTC(2025, 0, 6, 12, 0, 0));
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'periscope-notify-'));
  const config = parseNotifyConfig(rawConfig);
  for (const n of notifiers) n.useClock(() => clock.now());
  const registry = new Registry();
  const pipeline = new NotificationPipeline({ config, dataDir: dir, clock, registry, random: options.random ?? (() => 0.5), notifiers: fakeNotifiers(notifiers), ...(options.handover ? { handover: options.handover } : {}), ...(options.logger ? { logger: options.logger } : {}) });
  await pipeline.start();
  const t: TestPipeline = {
    pipeline,
    clock,
    dir,
    registry,
    async settle() {
      for (let i = 0; i < 4; i++) {
        await clock.advanceAsync(0);
        await flushMicrotasks();
      }
    },
    async advance(ms: number) {
      await clock.advanceAsync(ms);
      await t.settle();
    },
    async restart(next = notifiers) {
      await pipeline.shutdown();
      return startTestPipeline(rawConfig, next, { clock, dir, random: options.random });
    },
    async reload(next = rawConfig) {
      const handover = await pipeline.release();
      return startTestPipeline(next, notifiers, { clock, dir, random: options.random, handover });
    },
    async close() {
      await pipeline.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await t.settle();
  return t;
}

let transition = 0;

/** An AlertEvent for labels; the fingerprint is the labels' hash, transitionId increases globally. */
export function alertEvent(labels: Record<string, string>, state: AlertEventState, at: number, extra: Partial<AlertEvent> = {}): AlertEvent {
  const all: Record<string, string> = { severity: 'critical', ...labels };
  return {
    fingerprint: labelsFingerprint(all),
    ruleId: `rule-${all.alertname ?? 'x'}`,
    ruleName: all.alertname ?? 'x',
    labels: all,
    annotations: { summary: `${all.alertname ?? 'alert'} on ${all.service ?? all.instance ?? 'x'}` },
    severity: (all.severity as AlertEvent['severity']) ?? 'critical',
    state,
    previousState: state === 'resolved' ? 'firing' : 'pending',
    value: 97.5,
    startsAt: new Date(at).toISOString(),
    ...(state === 'resolved' ? { endsAt: new Date(at).toISOString() } : {}),
    transitionId: ++transition,
    flapping: false,
    ...extra,
  };
}
