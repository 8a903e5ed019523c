import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Registry } from 'prom-client';

/** One sample of one series. `labels.__name__` is the metric name. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
  /** Epoch milliseconds. */
  timestampMs: number;
}

export type MetricKind = 'counter' | 'gauge' | 'histogram' | 'summary' | 'unknown';

/** Per metric family: sent as remote write metadata (type and help). */
export interface FamilyMetadata {
  name: string;
  type: MetricKind;
  help: string;
}

export interface SampleBatch {
  samples: Sample[];
  metadata: FamilyMetadata[];
}

/**
 * A source of samples: the remote write exporter calls every registered source at each interval.
 * The collector registers its own registry (self-metrics and the log-derived counters); other
 * components (e.g. the OTLP metrics receiver) add theirs with `MetricsSources.add`.
 */
export interface CollectedBatch extends SampleBatch {
  /** The samples of each registered source, undefined for a source whose read failed. */
  bySource: Map<string, Sample[] | undefined>;
}

/**
 * A source gives its samples at once, or in pieces (an iterable of batches, e.g.
 * MetricStore.samplePieces) that collect() takes one per event-loop turn so that a source of
 * hundreds of thousands of samples does not hold up ingest while it is read.
 */
export type MetricsSource = (nowMs: number) => SampleBatch | Promise<SampleBatch> | Iterable<SampleBatch>;

export class MetricsSources {
  readonly #sources = new Map<string, MetricsSource>();

  /** Registers a source under a unique name; returns the function that removes it. */
  add(name: string, source: MetricsSource): () => void {
    if (this.#sources.has(name)) throw new Error(`metrics source "${name}" is already registered`);
    this.#sources.set(name, source);
    return () => this.#sources.delete(name);
  }

  /**
   * Every source's samples, an event-loop turn before each source and each piece of a source; a
   * failing source (its read, or any of its pieces) is reported through `onError` and skipped
   * whole (its `bySource` entry is undefined, none of its samples is kept).
   */
  async collect(nowMs: number, onError: (name: string, err: Error) => void = () => {}): Promise<CollectedBatch> {
    const out: CollectedBatch = { samples: [], metadata: [], bySource: new Map() };
    for (const [name, source] of this.#sources) {
      out.bySource.set(name, undefined);
      const kept = { samples: out.samples.length, metadata: out.metadata.length };
      try {
        await yieldToLoop();
        const result = await source(nowMs);
        const own: Sample[] = [];
        const pieces = Symbol.iterator in result ? result[Symbol.iterator]() : [result][Symbol.iterator]();
        for (let next = pieces.next(); !next.done; next = pieces.next()) {
          // A loop, not push(...samples): spread passes every sample as an argument, and a
          // source of more than ~120 000 samples (8 000 histograms) overflowed the call stack.
          for (const s of next.value.samples) {
            own.push(s);
            out.samples.push(s);
          }
          for (const m of next.value.metadata) out.metadata.push(m);
          await yieldToLoop();
        }
        out.bySource.set(name, own);
      } catch (err) {
        out.samples.length = kept.samples;
        out.metadata.length = kept.metadata;
        onError(name, err as Error);
      }
    }
    return out;
  }
}

function kindOf(type: unknown): MetricKind {
  const t = String(type).toLowerCase();
  // prom-client reports its type as a string at run time (its typings say an enum index).
  const byIndex = ['counter', 'gauge', 'histogram', 'summary'];
  if (/^\d$/.test(t)) return (byIndex[Number(t)] as MetricKind) ?? 'unknown';
  return (['counter', 'gauge', 'histogram', 'summary'] as const).find((k) => k === t) ?? 'unknown';
}

/**
 * A prom-client registry as a source: the same series /metrics shows (histograms as _bucket{le},
 * _sum, _count). `before` runs first (e.g. to refresh gauges that /metrics refreshes on scrape).
 */
export function registrySource(registry: Registry, before?: () => void): MetricsSource {
  return async (nowMs) => {
    before?.();
    const families = await registry.getMetricsAsJSON();
    const out: SampleBatch = { samples: [], metadata: [] };
    for (const f of families) {
      out.metadata.push({ name: f.name, type: kindOf(f.type), help: f.help });
      for (const v of f.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>) {
        const labels: Record<string, string> = { __name__: v.metricName ?? f.name };
        for (const [k, val] of Object.entries(v.labels)) if (val !== undefined) labels[k] = k === 'le' && val === Number.POSITIVE_INFINITY ? '+Inf' : String(val);
        out.samples.push({ labels, value: v.value, timestampMs: nowMs });
      }
    }
    return out;
  };
}
