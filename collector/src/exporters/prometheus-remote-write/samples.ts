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

export type MetricsSource = (nowMs: number) => SampleBatch | Promise<SampleBatch>;

export class MetricsSources {
  readonly #sources = new Map<string, MetricsSource>();

  /** Registers a source under a unique name; returns the function that removes it. */
  add(name: string, source: MetricsSource): () => void {
    if (this.#sources.has(name)) throw new Error(`metrics source "${name}" is already registered`);
    this.#sources.set(name, source);
    return () => this.#sources.delete(name);
  }

  /** Every source's samples; a failing source is reported through `onError` and skipped (its `bySource` entry is undefined). */
  async collect(nowMs: number, onError: (name: string, err: Error) => void = () => {}): Promise<CollectedBatch> {
    const out: CollectedBatch = { samples: [], metadata: [], bySource: new Map() };
    for (const [name, source] of this.#sources) {
      out.bySource.set(name, undefined);
      try {
        const batch = await source(nowMs);
        out.bySource.set(name, batch.samples);
        // A loop, not push(...batch.samples): spread passes every sample as an argument, and a
        // source of more than ~120 000 samples (8 000 histograms) overflowed the call stack.
        for (const s of batch.samples) out.samples.push(s);
        for (const m of batch.metadata) out.metadata.push(m);
      } catch (err) {
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
