// Builds the configured exporters and gives the collector the few hooks it needs: start/shutdown,
// the ingest admission check (back-pressure), the retention guard, health and dead-letter replay.
// Each exporter receives only its own config item (DESIGN.md convention 10).

import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { Dispatcher } from 'undici';
import type { Registry } from 'prom-client';
import { ConfigError } from '../config/load.ts';
import { parseBytes, parseDuration } from '../config/units.ts';
import type { Ingest } from '../ingest/ingest.ts';
import { KeyValue } from '../store/database.ts';
import type { LogStore } from '../store/log-store.ts';
import { AcceptTimes } from './accept-times.ts';
import type { LogExporterCommon } from './common-config.ts';
import type { ExporterConfig } from './config.ts';
import { DeadLetterStore, type DeadLetter, type LetterSelection, type LogLetter, type SpanLetter } from './dead-letter.ts';
import { Delivery, type DependencyHealth, type Overload } from './delivery.ts';
import type { ElasticsearchConfig } from './elasticsearch/config.ts';
import { ElasticsearchSink } from './elasticsearch/sink.ts';
import { SpanExport, type SpanSource } from './elasticsearch/span-export.ts';
import type { LokiConfig } from './loki/config.ts';
import { LokiSink } from './loki/sink.ts';
import { createExporterMetrics, type ExporterMetrics } from './metrics.ts';
import type { RemoteWriteConfig } from './prometheus-remote-write/config.ts';
import { RemoteWriteExporter } from './prometheus-remote-write/exporter.ts';
import { dropOtherQueues } from './prometheus-remote-write/request-queue.ts';
import type { MetricsSources } from './prometheus-remote-write/samples.ts';
import type { LogSink, Logger } from './sink.ts';
import { loadTls, tlsConnector } from './tls.ts';
import { displayProxy, NO_PROXY_ENVIRONMENT, ownDispatcher, proxyFor, proxySecrets, type ProxyEnvironment } from '../../../alerting/src/proxy.ts';
import type { Transport } from './http.ts';

export interface ExportersDeps {
  db: DatabaseSync;
  store: LogStore;
  /** The span store, for elasticsearch exporters with traces.enabled. */
  spans?: SpanSource;
  ingest: Ingest;
  registry: Registry;
  sources: MetricsSources;
  logger: Logger;
  /** Where relative `tls:` file paths start: the config file's folder. */
  configDir?: string;
  /** The collector's proxy variables, for the exporters with proxyFromEnvironment (read by config loading). */
  proxyEnvironment?: ProxyEnvironment;
}

/** The retention hook (store/retention.ts): what exporters still need, and what they lose. */
export interface RetentionGuard {
  protectedFromId(): number;
  beforeDelete(ids: number[]): void;
}

export interface ReplayReport {
  replayed: number;
  failed: Array<{ id: number; exporter: string; reason: string }>;
}

/** Appended to the reason of a letter a replay did not deliver and the bounds deleted when it ended. */
const DELETED_BY_BOUNDS = '; then deleted as the oldest over deadLetter.maxRecords or maxBytes (counted as dropped, deadletter_full)';

export function deliveryOptions(c: LogExporterCommon) {
  return {
    name: c.name,
    batch: { maxRecords: c.batch.maxRecords, maxBytes: parseBytes(c.batch.maxBytes), waitMs: parseDuration(c.batch.wait) },
    concurrency: c.concurrency,
    encodeThreads: c.encodeThreads,
    queue: { maxRecords: c.queue.maxRecords, maxBytes: parseBytes(c.queue.maxBytes), maxAgeMs: parseDuration(c.queue.maxAge), policy: c.queue.policy },
    retry: { initialBackoffMs: parseDuration(c.retry.initialBackoff), maxBackoffMs: parseDuration(c.retry.maxBackoff), multiplier: 2, maxRetryAfterMs: parseDuration(c.retry.maxRetryAfter) },
    budget: { ratio: c.retry.budgetRatio, minPerSecond: c.retry.budgetMinPerSecond },
    breaker: { failureThreshold: c.circuitBreaker.failureThreshold, openMs: parseDuration(c.circuitBreaker.openDuration), maxOpenMs: parseDuration(c.circuitBreaker.maxOpenDuration) },
    deadLetterMax: { records: c.deadLetter.maxRecords, bytes: parseBytes(c.deadLetter.maxBytes) },
    shutdownTimeoutMs: parseDuration(c.shutdownTimeout),
    startFrom: c.startFrom,
  };
}

/** What one exporter did at the collector's stop: `delivered` while stopping, `left` for the next start. */
export interface ExporterStop {
  exporter: string;
  unit: 'records' | 'spans' | 'samples';
  delivered: number;
  left: number;
}

/** The stop line's words for the exporters (empty without any): `; exporters: loki 120 records delivered while stopping, 0 left`. */
export function describeStops(stops: ExporterStop[]): string {
  if (stops.length === 0) return '';
  return `; exporters: ${stops.map((s) => `${s.exporter} ${s.delivered} ${s.unit} delivered while stopping, ${s.left} left${s.left > 0 ? ' for the next start' : ''}`).join('; ')}`;
}

export class Exporters {
  readonly deliveries: Delivery[] = [];
  readonly remoteWriters: RemoteWriteExporter[] = [];
  readonly spanExports: SpanExport[] = [];
  readonly deadLetters: DeadLetterStore;
  readonly acceptTimes: AcceptTimes;
  readonly #deps: ExportersDeps;
  readonly #metrics: ExporterMetrics;
  #unsubscribe: (() => void) | undefined;
  #stopped = false;
  /** The connection pools of the exporters with `tls:`, closed after their shutdown. */
  readonly #dispatchers: Dispatcher[] = [];

  constructor(configs: ExporterConfig[], deps: ExportersDeps) {
    this.#deps = deps;
    const kv = new KeyValue(deps.db);
    const instanceId = kv.get('collector:instance-id') ?? (() => {
      const id = randomUUID();
      kv.set('collector:instance-id', id);
      return id;
    })();
    this.deadLetters = new DeadLetterStore(deps.db);
    this.acceptTimes = new AcceptTimes(deps.store.lastId());
    const metrics = createExporterMetrics(deps.registry);
    this.#metrics = metrics;
    const remoteWriteNames = configs.filter((c) => c.type === 'prometheusRemoteWrite').map((c) => c.name);
    for (const [name, samples] of dropOtherQueues(deps.db, remoteWriteNames)) {
      deps.logger.warn({ exporter: name, samples }, `exporter ${name}: no longer configured, ${samples} queued remote write samples discarded`);
    }
    for (const [i, config] of configs.entries()) {
      const logger = deps.logger;
      const transport = this.#transport(config, i);
      if (config.type === 'prometheusRemoteWrite') {
        this.remoteWriters.push(new RemoteWriteExporter(config as RemoteWriteConfig, { sources: deps.sources, metrics, logger, transport, db: deps.db }));
        continue;
      }
      const sink: LogSink = config.type === 'loki' ? new LokiSink(config as LokiConfig, Date.now, transport) : new ElasticsearchSink(config as ElasticsearchConfig, instanceId, transport);
      if (sink instanceof ElasticsearchSink && (config as ElasticsearchConfig).traces.enabled && deps.spans) {
        const es = config as ElasticsearchConfig;
        const common = deliveryOptions(es);
        this.spanExports.push(
          new SpanExport(
            {
              name: `${es.name}:traces`,
              dataStream: es.traces.dataStream,
              templateName: es.installTemplate ? es.traces.templateName : undefined,
              labels: es.labels,
              batchMaxSpans: es.traces.batchMaxSpans,
              batchMaxBytes: common.batch.maxBytes,
              waitMs: common.batch.waitMs,
              retry: common.retry,
              budget: common.budget,
              breaker: common.breaker,
              shutdownTimeoutMs: common.shutdownTimeoutMs,
              startFrom: common.startFrom,
              deadLetterMax: common.deadLetterMax,
            },
            { spans: deps.spans, kv, sink, deadLetters: this.deadLetters, metrics, logger },
          ),
        );
      }
      this.deliveries.push(
        new Delivery(sink, deliveryOptions(config as LogExporterCommon), {
          store: deps.store,
          kv,
          ingest: deps.ingest,
          deadLetters: this.deadLetters,
          acceptTimes: this.acceptTimes,
          metrics,
          logger,
        }),
      );
    }
  }

  /**
   * The exporter's own connection pool when it has `tls:` or a proxy (alerting/src/proxy.ts); else
   * none (undici's global pool). The `tls:` files are read again (load.ts checked them with the
   * config): one changed since is refused the same way. Later changes are read by the pool itself
   * (tlsConnector) and logged here.
   */
  #transport(config: ExporterConfig, index: number): Transport {
    const proxy = proxyFor(config, this.#deps.proxyEnvironment ?? NO_PROXY_ENVIRONMENT, config.url);
    if (config.proxyUrl || config.proxyFromEnvironment) {
      const how = proxy ? `through the proxy ${displayProxy(proxy)}` : config.proxyUrl ? 'directly: noProxy lists its host' : 'directly: the environment has no proxy for its URL (HTTP(S)_PROXY unset, or NO_PROXY lists its host)';
      this.#deps.logger.info({ exporter: config.name }, `exporter ${config.name}: sends ${how}`);
    }
    const connect = this.#tlsConnector(config, index);
    // An exporter with proxy keys that goes directly (noProxy, no variable for its scheme) gets a
    // pool of its own too: undici's global one is Node's proxy under NODE_USE_ENV_PROXY=1, which
    // sent to the proxy what noProxy said to send directly.
    if (!connect && !config.proxyUrl && !config.proxyFromEnvironment) return {};
    const dispatcher = ownDispatcher(proxy, connect);
    this.#dispatchers.push(dispatcher);
    return proxy ? { dispatcher, via: displayProxy(proxy), secrets: proxySecrets(proxy) } : { dispatcher };
  }

  #tlsConnector(config: ExporterConfig, index: number) {
    if (!config.tls) return undefined;
    const key = `exporters.${index}.tls`;
    const baseDir = this.#deps.configDir ?? process.cwd();
    const { options, problems } = loadTls(config.tls, key, baseDir);
    if (!options) throw new ConfigError(problems, 'the exporters\' TLS files');
    if (config.tls.insecureSkipVerify) {
      this.#deps.logger.warn(
        { exporter: config.name },
        `exporter ${config.name}: tls.insecureSkipVerify is on: the backend's certificate is not checked, so anyone on the path can read and change what is sent`,
      );
    }
    const logger = this.#deps.logger;
    return tlsConnector(config.tls, key, baseDir, options, (reloadProblems) => {
      if (reloadProblems.length === 0) logger.info({ exporter: config.name }, `exporter ${config.name}: TLS files changed, read again for the next connections`);
      else logger.warn({ exporter: config.name, problems: reloadProblems }, `exporter ${config.name}: TLS files changed but cannot be used, the previous ones stay in use: ${reloadProblems.join('; ')}`);
    });
  }

  get names(): string[] {
    return [...this.deliveries.map((d) => d.name), ...this.spanExports.map((s) => s.name), ...this.remoteWriters.map((r) => r.name)];
  }

  start(): void {
    if (this.#stopped) return;
    // Subscribed before the deliveries so each append is timed before they read it.
    let batches = 0;
    // Only log deliveries read accept times: without any, every entry is forgotten as it comes
    // (they piled up, one per 250 ms of ingest, for as long as the collector ran).
    this.#unsubscribe = this.#deps.ingest.subscribe((batch) => {
      const lastId = batch.firstId + batch.logs.length - 1;
      this.acceptTimes.accepted(lastId);
      if (++batches % 1024 === 0) this.acceptTimes.forgetThrough(this.deliveries.length ? Math.min(...this.deliveries.map((d) => d.cursor)) : lastId);
    });
    for (const d of this.deliveries) d.start();
    for (const s of this.spanExports) s.start();
    for (const r of this.remoteWriters) r.start();
  }

  /**
   * Brings each exporter's dead letters within its lowered bounds, in slices: called once the
   * collector listens (a huge store took seconds, and health checks failed meanwhile).
   */
  async boundDeadLetters(): Promise<void> {
    await Promise.all([...this.deliveries.map((d) => d.boundDeadLetters()), ...this.spanExports.map((s) => s.boundDeadLetters())]);
  }

  /**
   * Flushes every exporter within its own shutdown timeout, in parallel. Safe twice and before
   * start. Says, for the stop line, what each delivered while stopping and what it left for the
   * next start: its backlog before and after (intake is closed by then).
   */
  async shutdown(): Promise<ExporterStop[]> {
    this.#stopped = true;
    this.#unsubscribe?.();
    const all = this.#withUnits();
    const before = all.map(({ e }) => e.gauges().queueItems);
    await Promise.allSettled(all.map(({ e }) => e.shutdown()));
    // Nothing is sent after the shutdowns: the pools' idle connections go.
    await Promise.allSettled(this.#dispatchers.splice(0).map((d) => d.destroy()));
    return all.map(({ e, unit }, i) => {
      const left = e.gauges().queueItems;
      return { exporter: e.name, unit, delivered: Math.max(0, before[i] - left), left };
    });
  }

  /**
   * What each exporter has queued now, for the start line: the records, spans or samples after
   * its saved cursor (or in its request queue), accepted before this start and not delivered.
   */
  backlogs(): Array<{ exporter: string; unit: ExporterStop['unit']; queued: number }> {
    return this.#withUnits().map(({ e, unit }) => ({ exporter: e.name, unit, queued: e.gauges().queueItems }));
  }

  #withUnits() {
    return [
      ...this.deliveries.map((e) => ({ e, unit: 'records' as const })),
      ...this.spanExports.map((e) => ({ e, unit: 'spans' as const })),
      ...this.remoteWriters.map((e) => ({ e, unit: 'samples' as const })),
    ];
  }

  /** Ingest admission: the first exporter (policy backpressure) whose backlog is at its bound. */
  overload(): Overload | undefined {
    for (const d of this.deliveries) {
      const o = d.overload();
      if (o) return o;
    }
    return undefined;
  }

  retentionGuard(): RetentionGuard {
    const db = this.#deps.db;
    const severities = (ids: number[]) =>
      db.prepare('SELECT id, severity FROM logs WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify(ids)) as Array<{ id: number; severity: number }>;
    return {
      protectedFromId: () => Math.min(Number.POSITIVE_INFINITY, ...this.deliveries.map((d) => d.protectedFromId())),
      beforeDelete: (ids) => {
        for (const d of this.deliveries) d.beforeRetentionDelete(ids, severities);
        const minCursor = Math.min(...this.deliveries.map((d) => d.cursor));
        if (Number.isFinite(minCursor)) this.acceptTimes.forgetThrough(minCursor);
      },
    };
  }

  /** For /health/detailed. */
  health() {
    const exporters: Record<string, unknown> = {};
    for (const d of this.deliveries) exporters[d.name] = d.health();
    for (const s of this.spanExports) exporters[s.name] = s.health();
    for (const r of this.remoteWriters) exporters[r.name] = r.health();
    const statuses = Object.values(exporters).map((e) => (e as { status: string }).status);
    return { status: statuses.includes('degraded') ? ('degraded' as const) : ('up' as const), exporters };
  }

  /** For /health/dependencies. */
  dependencies(): Record<string, DependencyHealth> {
    const out: Record<string, DependencyHealth> = {};
    for (const d of this.deliveries) out[d.name] = d.dependency();
    for (const s of this.spanExports) out[s.name] = s.dependency();
    for (const r of this.remoteWriters) out[r.name] = r.dependency();
    return out;
  }

  /**
   * Discards letters (DELETE /api/v1/deadletter, DeadLetterStore.discard: in slices) for good,
   * and counts them by exporter (periscope_exporter_dead_letters_discarded_total, reason
   * `deleted`). Returns how many deleted, and how many picked were left to a replay sending them
   * (`replaying`); `discarded` is told each slice's, as it is committed.
   *
   * A letter a replay is sending is left to it, as a second replay leaves it (DeadLetterStore.claim): deleted
   * meanwhile, it was delivered and counted as discarded both, and its position remembered in
   * deadletter_discarded, so that record's next refusal (after a restart) was not filed.
   */
  async discard(selection: LetterSelection, discarded: (n: number) => void = () => {}): Promise<{ deleted: number; replaying: number }> {
    return this.deadLetters.discard(selection, (slice) => {
      for (const [exporter, n] of slice) {
        const type = this.deliveries.find((d) => d.name === exporter)?.sink.type ?? this.spanExports.find((s) => s.name === exporter)?.type ?? '';
        this.#metrics.discarded.inc({ exporter, type, reason: 'deleted' }, n);
        discarded(n);
      }
    });
  }

  /**
   * Re-sends dead letters; delivered ones leave the store, failed ones get their new reason. The
   * letters it sends are its own until it ends (DeadLetterStore.claim): the bounds then apply to
   * those it did not deliver (they delete the oldest first), which they had left to it meanwhile.
   */
  async replay(letters: DeadLetter[], signal: AbortSignal): Promise<ReplayReport> {
    const report: ReplayReport = { replayed: 0, failed: [] };
    const taken = this.deadLetters.claim(letters.map((l) => l.id));
    const mine: DeadLetter[] = [];
    for (const l of letters) {
      if (taken.has(l.id)) report.failed.push({ id: l.id, exporter: l.exporter, reason: 'another replay in progress is sending it' });
      else mine.push(l);
    }
    try {
      await this.#replay(mine, signal, report);
    } finally {
      this.deadLetters.release(mine.map((l) => l.id));
      for (const name of new Set(mine.map((l) => l.exporter))) {
        (this.deliveries.find((d) => d.name === name) ?? this.spanExports.find((s) => s.name === name))?.applyDeadLetterBounds();
      }
    }
    // A failed letter the bounds then deleted is not kept with its new reason: the answer says so.
    const failed = report.failed.filter((f) => !taken.has(f.id));
    const kept = this.deadLetters.existing(failed.map((f) => f.id));
    for (const f of failed) if (!kept.has(f.id)) f.reason += DELETED_BY_BOUNDS;
    return report;
  }

  async #replay(letters: DeadLetter[], signal: AbortSignal, report: ReplayReport): Promise<void> {
    for (const [name, list] of Map.groupBy(letters, (l) => l.exporter)) {
      const logs = this.deliveries.find((d) => d.name === name);
      const spans = this.spanExports.find((s) => s.name === name);
      if (!logs && !spans) {
        for (const l of list) report.failed.push({ id: l.id, exporter: name, reason: `exporter "${name}" is not configured` });
        continue;
      }
      // A letter is filed under the exporter that wrote it (names cannot hold the ':' of
      // `<name>:traces`), so its kind is that exporter's: the filters only narrow the type.
      const outcome = logs
        ? await logs.replay(list.filter((l): l is DeadLetter & LogLetter => l.kind === 'log'), signal)
        : await spans!.replay(list.filter((l): l is DeadLetter & SpanLetter => l.kind === 'span'), signal);
      this.deadLetters.remove(outcome.delivered.map((l) => l.id));
      report.replayed += outcome.delivered.length;
      for (const f of outcome.failed) {
        const reason = f.result.error ?? `HTTP ${f.result.httpStatus ?? 0}`;
        // Refused again: the new reason. Not delivered for now (backend down or busy): the letter
        // keeps the refusal to fix; the answer says why the replay failed.
        if (f.result.status === 'permanent') this.deadLetters.update(f.letter.id, reason, f.result.httpStatus ?? 0);
        else this.deadLetters.update(f.letter.id, f.letter.reason, f.letter.status);
        report.failed.push({ id: f.letter.id, exporter: name, reason });
      }
    }
  }
}
