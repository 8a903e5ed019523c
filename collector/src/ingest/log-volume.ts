import { Counter, Gauge, type Registry } from 'prom-client';
import { LEVEL_NAMES } from '../../../sdk/src/record.ts';
import type { LogBatch } from './log-batch.ts';

export interface LogVolumeOptions {
  /** Most services (appName values) with series of their own (metrics.logVolume.maxServices). */
  maxServices: number;
  /** At the bound, a service without records for this long gives its place to a new one (metrics.logVolume.staleAfter). */
  staleAfterMs: number;
  now?: () => number;
}

/** Label of the series that counts the records of services over the bound, as the OpenTelemetry SDK names its overflow series. */
export const OVERFLOW_LABEL = 'otel_metric_overflow';

/**
 * periscope_log_records_total{service, level}: log volume counted from every ingested record.
 *
 * Contract: `service` is the record's appName, which any sender chooses (a syslog tag, a pino
 * `name`), so its values are bounded: at most `maxServices` services have series of their own.
 * Records of further services are counted in `{otel_metric_overflow="true", level}` (no service
 * label), as the OpenTelemetry metrics SDK does over its cardinality limit
 * (https://opentelemetry.io/docs/specs/otel/metrics/sdk/#cardinality-limits): totals stay
 * right, only the split by service is lost. Without the bound each new appName added series
 * forever, to /metrics, to every scrape and to remote write.
 * At the bound, services without records for `staleAfterMs` are removed (their series go, and
 * restart from zero if they log again) to make room; below it nothing is removed, so counters
 * of services that log rarely are not reset.
 */
export class LogVolume {
  readonly #counter: Counter<'service' | 'level' | typeof OVERFLOW_LABEL>;
  readonly #maxServices: number;
  readonly #staleAfterMs: number;
  readonly #now: () => number;
  /** Per service with series: when it last had records, and the levels (bit per severity) it has series for. */
  readonly #services = new Map<string, { last: number; levels: number }>();
  #lastSweep = Number.NEGATIVE_INFINITY;

  constructor(registry: Registry, options: LogVolumeOptions) {
    this.#maxServices = options.maxServices;
    this.#staleAfterMs = options.staleAfterMs;
    this.#now = options.now ?? Date.now;
    this.#counter = new Counter({
      name: 'periscope_log_records_total',
      help: `Log records ingested, by service (appName) and level: log volume for graphs and alerts. Services over metrics.logVolume.maxServices are counted in {${OVERFLOW_LABEL}="true"}.`,
      labelNames: ['service', 'level', OVERFLOW_LABEL] as const,
      registers: [registry],
    });
    const services = this.#services;
    new Gauge({
      name: 'periscope_log_volume_services',
      help: 'Services with series of their own in periscope_log_records_total (bound: metrics.logVolume.maxServices).',
      registers: [registry],
      collect() {
        this.set(services.size);
      },
    });
  }

  count(logs: LogBatch): void {
    // Key: the severity digit (0–7) followed by the service name.
    const counts = new Map<string, number>();
    for (let i = 0; i < logs.length; i++) {
      const key = `${logs.severity[i]}${logs.service[i] ?? ''}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const now = this.#now();
    for (const [key, n] of counts) {
      const severity = Number(key[0]);
      const level = LEVEL_NAMES[severity];
      const service = key.slice(1);
      const held = this.#admit(service, now);
      if (!held) {
        this.#counter.inc({ level, [OVERFLOW_LABEL]: 'true' }, n);
        continue;
      }
      held.last = now;
      held.levels |= 1 << severity;
      this.#counter.inc({ service, level }, n);
    }
  }

  #admit(service: string, now: number): { last: number; levels: number } | undefined {
    let held = this.#services.get(service);
    if (held) return held;
    if (this.#services.size >= this.#maxServices) this.#sweep(now);
    if (this.#services.size >= this.#maxServices) return undefined;
    held = { last: now, levels: 0 };
    this.#services.set(service, held);
    return held;
  }

  /** Removes services idle for staleAfter; at most once a second (a flood of new services must not scan the map per batch). */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 1000) return;
    this.#lastSweep = now;
    for (const [service, held] of this.#services) {
      if (now - held.last < this.#staleAfterMs) continue;
      this.#services.delete(service);
      for (let severity = 0; severity < LEVEL_NAMES.length; severity++) {
        if (held.levels & (1 << severity)) this.#counter.remove({ service, level: LEVEL_NAMES[severity] });
      }
    }
  }
}
