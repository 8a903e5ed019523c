import type { Clock, TimerHandle } from '../clock.ts';
import type { AlertStore } from '../state/store.ts';
import type { AlertEvent, AlertSink } from '../types.ts';

// Hands transitions to the AlertSink in transitionId order, one at a time. Each event is already
// in alert_history (delivery = pending) before it is offered, and is marked delivered only after
// the sink returned (or its promise resolved): a crash in between re-offers it at the next start
// with the same transitionId, so a sink that is idempotent on (fingerprint, transitionId) sees
// every transition exactly once. A failing sink is retried with exponential backoff (1 s … 60 s)
// on the injected clock; later events wait behind it (order is part of the contract).

export interface DeliveryLogger {
  warn(msg: string, details?: unknown): void;
}

export class TransitionDeliverer {
  private readonly sink: AlertSink;
  private readonly store: AlertStore;
  private readonly clock: Clock;
  private readonly logger: DeliveryLogger;
  private queue: Array<{ id: number; event: AlertEvent }> = [];
  private running: Promise<void> | null = null;
  private retryTimer: TimerHandle | null = null;
  private attempt = 0;
  private stopped = false;
  delivered = 0;
  failures = 0;

  constructor(options: { sink: AlertSink; store: AlertStore; clock: Clock; logger: DeliveryLogger }) {
    this.sink = options.sink;
    this.store = options.store;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  get backlog(): number {
    return this.queue.length;
  }

  enqueue(items: Array<{ id: number; event: AlertEvent }>): void {
    if (!items.length) return;
    this.queue.push(...items);
    this.kick();
  }

  private kick(): void {
    if (this.running || this.retryTimer !== null || this.stopped || !this.queue.length) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    const done: number[] = [];
    try {
      while (this.queue.length && !this.stopped) {
        const item = this.queue[0];
        try {
          await this.sink.onTransition(item.event);
        } catch (err) {
          this.failures++;
          const delay = Math.min(60_000, 1000 * 2 ** this.attempt);
          this.attempt++;
          this.logger.warn(`alert sink failed for ${item.event.fingerprint}#${item.event.transitionId}; retrying in ${delay} ms`, { error: (err as Error).message });
          this.retryTimer = this.clock.setTimeout(() => {
            this.retryTimer = null;
            this.kick();
          }, delay);
          return;
        }
        this.queue.shift();
        this.attempt = 0;
        this.delivered++;
        done.push(item.id);
        if (done.length >= 256) this.store.markDelivered(done.splice(0));
      }
    } finally {
      this.store.markDelivered(done);
    }
  }

  /** Resolves when nothing is being delivered (the queue is empty or waits for a retry). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.idle();
  }
}
