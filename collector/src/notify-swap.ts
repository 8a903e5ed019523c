// The notification pipeline in effect, replaced by a reload when periscope.yaml's routing changed
// (routes, receivers, escalations, inhibition rules, …), as Alertmanager reloads them on SIGHUP.
// A replacement is what a restart does to the pipeline alone: the old one stops (its sends in
// flight finish in the background, and the new one holds their integrations until they end, so
// a slow backend neither stretches the swap nor gets the message twice, and keeps the outbox's
// breakers and rate limits), the new one opens alerting.db and restores alerts, groups, the notification log,
// escalations at their step and the outbox, so nothing notified is notified again and nothing
// pending is lost. Meanwhile the rule engine's transitions wait for the new pipeline.
import type { NotificationPipeline, PipelineHandover } from '../../alerting/src/notify-pipeline.ts';
import type { NotifyConfig } from '../../alerting/src/notify-config.ts';
import { ALERT_ERR, AlertError } from '../../alerting/src/errors.ts';
import type { AlertEvent, AlertSink } from '../../alerting/src/types.ts';

/** How long shutdown() waits for the sends in flight of replaced pipelines (as Outbox.shutdown for its own). */
const RELEASED_WAIT_MS = 10_000;

/** Builds a pipeline with `config`; `handover`: the sends in flight and delivery state of the one it replaces. */
export type MakePipeline = (config: NotifyConfig, handover?: PipelineHandover) => NotificationPipeline;

export class SwappablePipeline {
  #current: NotificationPipeline;
  #config: NotifyConfig;
  #swapping: Promise<void> | undefined;
  #closed = false;
  /** Replaced pipelines whose sends in flight have not ended yet. */
  readonly #released = new Set<Promise<void>>();
  readonly #make: MakePipeline;
  /** Forwards to the pipeline in effect at each access (the HTTP routes hold this one). */
  readonly view: NotificationPipeline;
  /** The rule engine's sink: a transition offered during a replacement waits for the new pipeline. */
  readonly sink: AlertSink;

  constructor(config: NotifyConfig, make: MakePipeline) {
    this.#make = make;
    this.#config = config;
    this.#current = make(config);
    // A Proxy, not a subclass: the pipeline's state is in #private fields, so each method runs
    // bound to the pipeline itself.
    this.view = new Proxy({} as NotificationPipeline, {
      get: (_target, prop) => {
        const current = this.#current;
        let value: unknown;
        try {
          value = Reflect.get(current, prop, current); // a getter (silences) checks too
        } catch (err) {
          throw this.#whileSwapping(err);
        }
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          try {
            return (value as (...args: unknown[]) => unknown).apply(current, args);
          } catch (err) {
            throw this.#whileSwapping(err);
          }
        };
      },
    });
    this.sink = {
      onTransition: async (event: AlertEvent) => {
        while (this.#swapping) await this.#swapping;
        return this.#current.onTransition(event);
      },
    };
  }

  /**
   * The 503 of a pipeline stopped for a replacement says so: "shut down" made an operator whose
   * acknowledgement or silence was refused for a moment think the alerting side had stopped.
   */
  #whileSwapping(err: unknown): unknown {
    if (this.#swapping === undefined || this.#closed || !(err instanceof AlertError) || err.code !== ALERT_ERR.PIPELINE_STOPPED) return err;
    return new AlertError(ALERT_ERR.PIPELINE_STOPPED, 'the notification pipeline is restarting with the reloaded configuration: try again in a moment', 503);
  }

  get config(): NotifyConfig {
    return this.#config;
  }

  /**
   * Stops the pipeline in effect and starts one with `config`. When the new one cannot start, one
   * with the configuration before is started again and the error thrown. One at a time (the
   * caller serializes reloads).
   */
  async replace(config: NotifyConfig): Promise<void> {
    if (this.#closed) throw new Error('the collector is stopping');
    const previous = this.#config;
    const swap = (async () => {
      const old = this.#current;
      const handover = await old.release();
      // Settles, never rejects: nobody awaits it but shutdown(), and an unhandled rejection ends the process.
      const drained: Promise<void> = old.shutdown().then(
        () => undefined,
        () => undefined,
      );
      this.#released.add(drained);
      void drained.then(() => this.#released.delete(drained));
      if (this.#closed) return; // stopping meanwhile: nothing is started again
      const next = this.#make(config, handover);
      try {
        await next.start();
        this.#current = next;
        this.#config = config;
      } catch (err) {
        await next.shutdown();
        if (this.#closed) throw err;
        const again = this.#make(previous, handover);
        this.#current = again;
        await again.start();
        throw err;
      }
    })();
    this.#swapping = swap.then(
      () => undefined,
      () => undefined,
    );
    try {
      await swap;
    } finally {
      this.#swapping = undefined;
    }
  }

  /** Stops the pipeline in effect, after a replacement in progress; none is started after it. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    while (this.#swapping) await this.#swapping;
    // At the same time: the pipeline in effect waits for the same sends (it holds their
    // integrations), one after the other the stop took twice as long.
    let t: NodeJS.Timeout | undefined;
    const released =
      this.#released.size === 0
        ? Promise.resolve()
        : Promise.race([Promise.allSettled([...this.#released]), new Promise<void>((resolve) => (t = setTimeout(resolve, RELEASED_WAIT_MS)))]);
    try {
      await Promise.all([this.#current.shutdown(), released]);
    } finally {
      clearTimeout(t);
    }
  }
}
