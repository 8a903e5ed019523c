import type { FastifyInstance } from 'fastify';
import type { ProxyEnvironment } from '../../alerting/src/proxy.ts';
import { Gauge } from 'prom-client';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import type { LogRecord } from '../../sdk/src/record.ts';
import { createAlerting, type ReloadResult } from './alerting.ts';
import { registerHealthRoutes, type ComponentHealth } from './api/health.ts';
import { registerLogQueryRoutes } from './api/logs.ts';
import { registerMetricsRoute } from './api/metrics.ts';
import { registerTailRoute } from './api/tail.ts';
import { registerConsoleRoutes } from './console/plugin.ts';
import type { Config } from './config/schema.ts';
import { formatAddr, parseAddr, parseBytes, parseDuration } from './config/units.ts';
import { ERR, PeriscopeError, retryLaterSeconds } from './errors.ts';
import { Exporters, type ExporterStop } from './exporters/exporters.ts';
import { MetricsSources, registrySource } from './exporters/prometheus-remote-write/samples.ts';
import { registerExporterRoutes } from './exporters/routes.ts';
import { installHttpAuth } from './http/auth.ts';
import { hostCheck, isLoopback } from './http/host-check.ts';
import { createHttpServer } from './http/server.ts';
import { closeServer, createHealthListener, listenServer } from './http/health-listener.ts';
import { InflightBytes } from './http/inflight-bytes.ts';
import { RepeatedErrorLog } from './http/error-log.ts';
import { httpTlsOptions, serveRenewals, certificateExpiryGauge } from './tls-renewal.ts';
import { Ingest } from './ingest/ingest.ts';
import { createSelfMetrics } from './ingest/self-metrics.ts';
import { ParsePool } from './receivers/native/parse-pool.ts';
import { registerNativeLogsRoute } from './receivers/native/route.ts';
import { IdempotencyKeys } from './ingest/idempotency-keys.ts';
import { registerOtlpLogsRoute } from './receivers/otlp/route.ts';
import { metricSourceOf } from './metrics/alerting-source.ts';
import { createTracesAndMetrics } from './traces-metrics.ts';
import { createSyslogReceiver, type SyslogRejection } from './receivers/syslog/receiver.ts';
import { dataDirAccessProblem } from './store/data-dir-access.ts';
import { DataDirLock } from './store/data-dir-lock.ts';
import { DatabaseFileWatch } from './store/database-file-watch.ts';
import { openDatabase } from './store/database.ts';
import { FtsIndexer } from './store/fts-indexer.ts';
import { timestampToMicros } from './store/log-filter.ts';
import { StoreQueries } from './store/store-queries.ts';
import { LogStore } from './store/log-store.ts';
import { Retention } from './store/retention.ts';
import { createReloader } from './reload.ts';

export interface RunningCollector {
  app: FastifyInstance;
  store: LogStore;
  ingest: Ingest;
  httpAddress: { host: string; port: number };
  /** `https` when http.tls is set (both listeners then speak TLS). */
  httpScheme: 'http' | 'https';
  /** The listener of http.healthAddr as bound; undefined when it is not set. */
  healthAddress: { host: string; port: number } | undefined;
  syslogAddresses: () => { tcp?: { host: string; port: number }; udp?: { host: string; port: number }; tls?: { host: string; port: number } };
  exporters: Exporters;
  /** Where components add metrics for remote write (e.g. OTLP metrics): `metricsSources.add(name, fn)`. */
  metricsSources: MetricsSources;
  /**
   * SIGHUP and POST /-/reload: reads the configuration again (`readConfig`) and the alerting rule
   * files of its `alerting.ruleFiles`; all or nothing, the outcome logged.
   */
  reload(): Promise<ReloadResult>;
  /**
   * Stops intake first, then background work, then closes the store. Safe to call twice. Says
   * what each exporter delivered while stopping and left for the next start.
   */
  shutdown(): Promise<ExporterStop[]>;
}

/**
 * The data directory's lock, database, log store and search index. A directory that cannot be
 * used (not a directory, not writable, a damaged database file) is a start-up error naming the
 * directory and SQLite's or the OS's reason: a message and exit status 2, no stack trace.
 */
function openDataDir(config: Config) {
  const dir = config.store.dataDir;
  let opening = 'lock.db'; // the file a SQLite error is about
  try {
    const lock = DataDirLock.acquire(dir);
    opening = 'periscope.db';
    const db = openDatabase(dir, config.store.synchronous);
    const store = new LogStore(db);
    opening = 'periscope-fts.db';
    const fts = new FtsIndexer(db, dir, {
      enabled: config.store.search.enabled,
      intervalMs: parseDuration(config.store.search.indexInterval),
      batch: config.store.search.indexBatch,
    });
    opening = 'periscope.db';
    // After the index is attached (created): the query thread attaches it too.
    const queryOptions = { searchIndex: config.store.search.enabled, timeoutMs: parseDuration(config.store.queryTimeout) };
    const queries = new StoreQueries(dir, { ...queryOptions, threads: config.store.queryThreads });
    // Log alert rules count in a query thread of their own, started at their first count: an
    // export or a stats over a large range in the console never delays an alert.
    const ruleQueries = new StoreQueries(dir, queryOptions);
    return { lock, db, store, fts, queries, ruleQueries };
  } catch (err) {
    if (err instanceof PeriscopeError) throw err;
    throw dataDirUnusable(dir, err, opening);
  }
}

/** What the search index file holds can be built again from the log: the way out of a damaged one. */
const FILE_HINTS: Record<string, string> = {
  'periscope-fts.db': ' (the search index: delete this file and it is rebuilt from the log at start-up)',
};

/**
 * PERISCOPE_ERR_DATA_DIR_UNUSABLE for an error met opening `file` of the data directory: why the
 * directory cannot be written, when that is it, else the error with the file a SQLite error is
 * about ("file is not a database" alone did not say which of four files was damaged).
 */
function dataDirUnusable(dir: string, err: unknown, file: string): PeriscopeError {
  const message = (err as Error).message;
  const access = dataDirAccessProblem(dir);
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    access ? `${access} (${message})`
    : code === 'ERR_SQLITE_ERROR' ? `${file}: ${message}${FILE_HINTS[file] ?? ''}`
    : code === 'EEXIST' || code === 'ENOTDIR' ? `it, or a folder above it, is a file, not a directory (${message})`
    : message;
  return new PeriscopeError(ERR.DATA_DIR_UNUSABLE, `cannot use the data directory ${dir} (store.dataDir; periscope.db, periscope-fts.db, alerting.db, lock.db): ${why}`);
}

/**
 * Composes the collector from its components, each given only its own config slice.
 * Start order: data directory lock → store → background jobs → receivers; shutdown runs in reverse.
 */
export interface StartOptions {
  /** Folder of periscope.yaml (relative rule files); the working directory without one. */
  configDir?: string;
  /**
   * Reads and checks the configuration file again, for a reload; throws ConfigError with the
   * problems. Without it (no file) a reload reads the rule files of the configuration in effect.
   */
  readConfig?: () => Promise<Config>;
  /** HTTP_PROXY, HTTPS_PROXY, NO_PROXY, for the exporters and channels with proxyFromEnvironment (config/load.ts). */
  proxyEnvironment?: ProxyEnvironment;
}

export async function startCollector(config: Config, options: StartOptions = {}): Promise<RunningCollector> {
  const startedAt = Date.now();
  const configDir = options.configDir ?? process.cwd();
  // Checked with the configuration (config/load.ts); read again here, before anything is opened.
  const tls = config.http.tls && httpTlsOptions(config.http.tls, configDir);
  const { lock, db, store, fts, queries, ruleQueries } = openDataDir(config);
  const retention = new Retention(db, {
    maxAgeMs: parseDuration(config.store.retention.maxAge),
    maxBytes: parseBytes(config.store.retention.maxBytes),
    schedule: config.store.retention.schedule,
    tables: [{ table: 'spans', maxAgeMs: parseDuration(config.traces.retention.maxAge) }],
    onDeleted: (table, rows) => {
      if (table === 'logs') store.noteDeleted(rows);
      else if (table === 'spans') telemetry.spans.noteDeleted(rows);
    },
  });
  const metrics = createSelfMetrics({ maxServices: config.metrics.logVolume.maxServices, staleAfterMs: parseDuration(config.metrics.logVolume.staleAfter) });
  // OTLP traces and metrics: span store, metric stores, span metrics (docs/traces-and-metrics.md).
  const telemetry = createTracesAndMetrics(db, config, metrics.registry);
  const ingest = new Ingest(store, metrics);
  ingest.subscribe((batch) => fts.offer(batch.firstId, batch.logs.index));

  // A syslog sender gets no answer: a refused frame is logged with its reason and sender, each
  // code at most once a minute (reasons hold values, such as a frame's size, that vary from
  // frame to frame; a misconfigured sender refuses every frame).
  const syslogRefusals = new RepeatedErrorLog<SyslogRejection & { code: string; key: string }>(({ err, repeated }, msg) => {
    app.log.warn({ receiver: 'syslog', code: err.code, peer: err.peer, ...(repeated && { repeated }) }, `syslog frame refused: ${msg}`);
  });
  // A failed TLS handshake (syslog.tls) is the sender's misconfiguration (no client certificate,
  // plain TCP on the TLS port) and repeats at each of its reconnects: logged as refused frames
  // are, once a minute per reason, with the peer.
  const syslogHandshakes = new RepeatedErrorLog<SyslogRejection & { code: string; key: string }>(({ err, repeated }, msg) => {
    app.log.warn({ receiver: 'syslog', code: err.code, peer: err.peer, ...(repeated && { repeated }) }, `syslog TLS handshake failed: ${msg}`);
  });
  // The TLS listeners (http.tls, syslog.tls) serve renewed certificates without a restart; the
  // warnings about renewals that cannot be used are flushed at shutdown.
  const tlsWarnings: Array<() => void> = [];
  let expiryGauge: ReturnType<typeof certificateExpiryGauge> | undefined;
  const certificateExpiry = () => (expiryGauge ??= certificateExpiryGauge(metrics.registry));
  const syslog = createSyslogReceiver(config.syslog, {
    accept(records: LogRecord[], receiver: string) {
      try {
        ingest.append(receiver, records, records.map((r) => timestampToMicros(r.timestamp)));
      } catch (err) {
        // Overloaded (an exporter's backlog at its bound) or store unavailable: TCP connections
        // pause and offer the records again (the receiver's back-pressure); anything else is final.
        const later = retryLaterSeconds(err);
        if (later === undefined) throw err;
        return { retryAfterMs: later * 1000, code: (err as PeriscopeError).code };
      }
    },
    reject(code: string, receiver: string, count?: number, detail?: SyslogRejection) {
      ingest.reject(receiver, code, count);
      if (detail) syslogRefusals.log({ ...detail, code, key: code });
    },
    refuse(code: string, receiver: string, detail?: SyslogRejection) {
      ingest.refuse(receiver, code);
      if (detail) syslogHandshakes.log({ ...detail, code, key: `${code}\n${detail.message}` });
    },
  }, {
    baseDir: configDir,
    onTlsListener: (server, tlsOptions) => {
      tlsWarnings.push(serveRenewals(server, config.syslog.tls!, tlsOptions, { key: 'syslog.tls', listener: 'syslog', baseDir: configDir, logger: app.log, expiry: certificateExpiry() }));
    },
  });

  const httpRefusals = new RepeatedErrorLog<{ message: string; key: string }>(({ repeated }, msg) => {
    app.log.warn({ ...(repeated && { repeated }) }, msg);
  });
  // As syslog.tls's: a client that cannot connect (no client certificate, the collector's CA not
  // trusted) is told only by a TLS alert; the operator reads why here.
  const httpHandshakes = new RepeatedErrorLog<{ message: string; peer: string; key: string }>(({ err, repeated }, msg) => {
    app.log.warn({ listener: 'http', peer: err.peer, ...(repeated && { repeated }) }, `HTTP TLS handshake failed: ${msg}`);
  });
  const inflight = new InflightBytes(parseBytes(config.http.maxInflightBytes), () => {
    metrics.httpInflightRefused.inc();
    httpRefusals.log({ message: `HTTP request refused (503): request bodies at the bound of http.maxInflightBytes (${config.http.maxInflightBytes}) are held`, key: 'maxInflightBytes' });
  });
  const app = createHttpServer({
    inflight,
    bodyLimit: parseBytes(config.http.bodyLimit),
    logLevel: config.log.level,
    allowHost: hostCheck(parseAddr(config.http.addr).host, config.http.allowedHosts),
    requestTimeoutMs: parseDuration(config.http.requestTimeout),
    maxConnections: config.http.maxConnections,
    ...(tls && { tls: tls.main }),
    onHandshakeFailed: (reason, peer) => {
      if (stopping) return; // cut by the stop mid-handshake: not the client's failure
      metrics.httpTlsHandshakeFailures.inc();
      httpHandshakes.log({ message: reason, peer, key: reason });
    },
    onConnectionRefused: () => {
      metrics.httpRefusedConnections.inc();
      httpRefusals.log({ message: `HTTP connection closed on accept: http.maxConnections (${config.http.maxConnections}) connections are open`, key: 'maxConnections' });
    },
  });
  // After createHttpServer's Host and Origin checks (a rebinding page gets its 403, not a login
  // prompt), before the routes are added.
  const httpAuth = installHttpAuth(app, config.http.auth, { registry: metrics.registry, logger: app.log });
  new Gauge({
    name: 'periscope_http_open_connections',
    help: 'Open HTTP connections (bound: http.maxConnections).',
    registers: [metrics.registry],
    async collect() {
      this.set(await new Promise<number>((resolve) => app.server.getConnections((err, n) => resolve(err ? 0 : n))));
    },
  });
  const healthServer = config.http.healthAddr !== undefined ? createHealthListener(app, tls?.health) : undefined;
  if (tls && config.http.tls) {
    const renewal = { key: 'http.tls', baseDir: configDir, logger: app.log, expiry: certificateExpiry() };
    tlsWarnings.push(serveRenewals(app.server as unknown as TlsServer, config.http.tls, tls.main, { ...renewal, listener: 'http' }));
    if (healthServer) tlsWarnings.push(serveRenewals(healthServer as unknown as TlsServer, { ...config.http.tls, clientCaFile: undefined }, tls.health, { ...renewal, listener: 'health' }));
  }
  new Gauge({
    name: 'periscope_http_inflight_bytes',
    help: 'Request body bytes held in memory, being received or handled (bound: http.maxInflightBytes).',
    registers: [metrics.registry],
    collect() {
      this.set(inflight.held);
    },
  });
  // The data directory deleted or replaced under the running collector: writes would go to a file
  // no one opens again, so they are refused (503) until a restart opens a new database.
  const dbPath = join(config.store.dataDir, 'periscope.db');
  const dbWatch = new DatabaseFileWatch(dbPath, (lost) => {
    app.log.error({ since: lost.since }, `${lost.reason}: logs and spans are refused (503) from now on; restart the collector to store them in a new database at ${config.store.dataDir}`);
  });
  // Before a write, the last check's answer; after its commit, a fresh check (one stat()), so
  // nothing committed to a lost file is acknowledged.
  const refuseWritesIfLost = (committed: boolean) => {
    const lost = committed ? dbWatch.check() : dbWatch.lost;
    if (lost) throw new Error(`${lost.reason}; restart the collector`);
  };
  store.setWriteGuard(refuseWritesIfLost);
  telemetry.spans.setWriteGuard(refuseWritesIfLost);
  const parser = new ParsePool(config.http.parseThreads);
  const idempotencyKeys = new IdempotencyKeys(db, { ttlMs: parseDuration(config.http.idempotencyKeyTtl) });
  registerNativeLogsRoute(app, ingest, parser, idempotencyKeys);
  registerOtlpLogsRoute(app, ingest);
  telemetry.registerRoutes(app, queries);
  registerLogQueryRoutes(app, queries);
  await registerTailRoute(app, ingest, metrics.registry);
  registerConsoleRoutes(app);
  let retentionSeen = { age: 0, size: 0 };
  const refreshMetrics = () => {
    metrics.storeRecords.set(store.count());
    metrics.storeBytes.set(retention.liveBytes());
    metrics.searchIndexLag.set(fts.lag(store.lastId()));
    metrics.retentionDeleted.inc({ rule: 'age' }, retention.totalDeleted.age - retentionSeen.age);
    metrics.retentionDeleted.inc({ rule: 'size' }, retention.totalDeleted.size - retentionSeen.size);
    retentionSeen = { ...retention.totalDeleted };
  };
  registerMetricsRoute(app, metrics.registry, refreshMetrics, () => telemetry.exposition());

  // Exporters: each reads the durable log with its own cursor (docs/exporters.md).
  const metricsSources = new MetricsSources();
  metricsSources.add('collector', registrySource(metrics.registry, refreshMetrics));
  metricsSources.add('otlp-metrics', (now) => telemetry.metricStore.samplePieces(now));
  metricsSources.add('span-metrics', (now) => telemetry.spanMetricsStore.samplePieces(now));
  const exporters = new Exporters(config.exporters, { db, store, spans: telemetry.spans, ingest, registry: metrics.registry, sources: metricsSources, logger: app.log, configDir: options.configDir, proxyEnvironment: options.proxyEnvironment });
  retention.setGuard(exporters.retentionGuard());
  ingest.setAdmission(() => {
    const o = exporters.overload();
    return o && {
      message: `exporter ${o.exporter} is at its backlog bound (${o.bound}); retry later`,
      retryAfterSeconds: o.retryAfterSeconds,
      details: { exporter: o.exporter, bound: o.bound },
    };
  });
  registerExporterRoutes(app, exporters, (query) => queries.deadLetters(query));

  // Alerting: rules over the collector's metrics and logs → notification pipeline (docs/alerting.md).
  const alerting = createAlerting(config.alerting, {
    dataDir: config.store.dataDir,
    configDir,
    ...(options.proxyEnvironment ? { proxyEnvironment: options.proxyEnvironment } : {}),
    queries: ruleQueries,
    metrics: metricSourceOf(telemetry.metricStore, telemetry.spanMetricsStore),
    registry: metrics.registry,
    logger: app.log,
    listenerUrl: () => listenerUrl(app.server.address() as AddressInfo | null, config.http.addr, tls ? 'https' : 'http'),
  });
  const reload = createReloader(config, alerting, options.readConfig, app.log, httpAuth.update);
  await alerting.registerRoutes(app, reload);
  registerHealthRoutes(
    app,
    (): Record<string, ComponentHealth> => ({
      http: { status: 'up' },
      syslog: config.syslog.enabled ? { ...syslog.health() } : { status: 'up', enabled: false },
      store: {
        // down while writes fail (disk full, I/O error): senders get 503 + Retry-After meanwhile
        status: ingest.writeFailure || dbWatch.lost ? 'down' : 'up',
        ...ingest.writeFailure,
        ...(dbWatch.lost && { lastError: dbWatch.lost.reason, since: dbWatch.lost.since }),
        path: dbPath, records: store.count(), liveBytes: retention.liveBytes(), lastId: store.lastId(),
      },
      searchIndex: fts.health(store.lastId()),
      retention: {
        status: retention.failure ? 'degraded' : 'up',
        ...retention.failure,
        schedule: config.store.retention.schedule, lastRun: retention.lastRun ?? null, deleted: retention.totalDeleted,
      },
      ...telemetry.health(),
      ...(exporters.names.length > 0 ? { exporters: exporters.health() } : {}),
      alerting: alerting.health(),
    }),
    startedAt,
    // Not while writes merely fail (a full disk): only a write that succeeds clears that, and an
    // instance taken out of rotation would get none. Senders retry on its 503 + Retry-After.
    () => {
      if (stopping) return 'the collector is stopping';
      if (dbWatch.lost) return `the store refuses writes until a restart: ${dbWatch.lost.reason}`;
      return undefined;
    },
  );

  let stopping: Promise<ExporterStop[]> | undefined;
  const shutdown = (): Promise<ExporterStop[]> => {
    stopping ??= (async () => {
      dbWatch.stop();
      idempotencyKeys.stop();
      await Promise.allSettled([closeHttp(app, HTTP_DRAIN_MS), syslog.shutdown(), healthServer && closeServer(healthServer, HTTP_DRAIN_MS)]);
      // Intake closed: the counts of refusals not logged yet, before the stop line.
      syslogRefusals.flush();
      syslogHandshakes.flush();
      httpRefusals.flush();
      httpHandshakes.flush();
      for (const flush of tlsWarnings) flush();
      await Promise.all([parser.close(), httpAuth.close()]);
      // At once, not one after the other: each may wait for a backend (the outbox up to 10 s for
      // notifications in flight, each exporter up to its shutdownTimeout, the indexer 5 s), and in
      // turn they added up to more than Kubernetes' default 30 s grace period.
      const indexer = fts.shutdown().then((how) => {
        if (how === 'terminated') app.log.warn('search indexer did not stop within 5 s and was terminated; it resumes from its last commit');
      });
      // Intake is closed: exporters flush within their deadlines.
      const [, stops] = await Promise.allSettled([alerting.shutdown(), exporters.shutdown(), indexer]);
      await Promise.allSettled([queries.close(), ruleQueries.close(), retention.shutdown(), telemetry.shutdown()]);
      db.close();
      lock.release();
      return stops.status === 'fulfilled' ? stops.value : [];
    })();
    return stopping;
  };

  fts.start();
  queries.start();
  if (fts.rebuilding) app.log.warn('search index from an earlier version: rebuilding it from the log; until searchIndex.lag in /health/detailed is 0, q= and traceId= read the records not indexed yet (slower)');
  telemetry.start();
  retention.start();
  idempotencyKeys.start((err) => app.log.warn({ err: (err as Error).message }, 'deleting expired idempotency keys failed; the next run (in a minute) tries again'));
  exporters.start();
  try {
    await alerting.start().catch((err: unknown) => {
      // Its state and notification database: a damaged file stops start-up like the store's.
      throw (err as NodeJS.ErrnoException).code === 'ERR_SQLITE_ERROR' ? dataDirUnusable(config.store.dataDir, err, 'alerting.db') : err;
    });
    if (config.syslog.enabled) {
      const tlsAddr = config.syslog.tls?.addr;
      await syslog.start().catch((err: unknown) =>
        (err as { listener?: string }).listener === 'tls' && tlsAddr !== undefined
          ? listenOn('syslog over TLS', 'syslog.tls.addr', undefined, tlsAddr, () => Promise.reject(err))
          : listenOn('syslog', 'syslog.addr', 'PERISCOPE_SYSLOG_ADDR', config.syslog.addr, () => Promise.reject(err)));
    }
    const { host, port } = parseAddr(config.http.addr);
    await listenOn('HTTP', 'http.addr', 'PERISCOPE_HTTP_ADDR', config.http.addr, () => app.listen({ host, port }));
    // Listening beyond loopback with no credentials is how a collector gets exposed by accident
    // (the image listens on 0.0.0.0): said once at start, with where to read what to do.
    if (!isLoopback(host) && !httpAuth.enabled()) {
      app.log.warn({ http: config.http.addr }, `http.addr ${config.http.addr} is reachable from other machines and http.auth is not set: anyone who reaches it can send records and read every log, trace and alert (docs/deploy.md, "Exposing the collector beyond loopback")`);
    }
    if (healthServer) {
      const health = parseAddr(config.http.healthAddr!);
      await listenOn('health probes', 'http.healthAddr', undefined, config.http.healthAddr!, () =>
        listenServer(healthServer, health.host, health.port).catch((err: NodeJS.ErrnoException) => {
          // Not "another process": the collector's own listener, the address copied from http.addr.
          if (err.code !== 'EADDRINUSE' || health.port !== (app.server.address() as AddressInfo).port) throw err;
          throw new PeriscopeError(ERR.LISTEN_FAILED, `cannot listen for health probes on ${config.http.healthAddr}: http.addr (${config.http.addr}) listens on port ${health.port}; give http.healthAddr a port of its own (the OpenTelemetry Collector's health_check takes 13133)`, 500);
        }));
    }
  } catch (err) {
    await shutdown(); // what already started (workers, exporters) must not keep running
    throw err;
  }
  // Once listening: deleting the letters over lowered deadLetter bounds takes seconds for a huge
  // store, and health checks must answer meanwhile (it never throws; a failure is logged).
  void exporters.boundDeadLetters();
  const address = app.server.address() as AddressInfo;
  const healthBound = healthServer?.address() as AddressInfo | undefined;

  return {
    app,
    store,
    ingest,
    httpAddress: { host: address.address, port: address.port },
    httpScheme: tls ? 'https' : 'http',
    healthAddress: healthBound && { host: healthBound.address, port: healthBound.port },
    // Empty when syslog.enabled is false (the receiver never listens).
    syslogAddresses: () => (config.syslog.enabled ? syslog.addresses() : {}),
    exporters,
    metricsSources,
    reload,
    shutdown,
  };
}

/** How long requests in progress at shutdown may take to be answered (closeHttp). */
const HTTP_DRAIN_MS = 5000;

/**
 * Stops the HTTP listener as Go's http.Server.Shutdown (the OpenTelemetry Collector's, Prometheus')
 * does: no new connections, idle keep-alive connections closed, and each request in progress
 * answered, so a sender whose records were committed gets its 2xx instead of a reset connection
 * (and does not send them again). After `drainMs` the connections left (a stalled upload, an
 * export read slowly) are cut: they must not keep the process past its shutdown deadline.
 */
async function closeHttp(app: FastifyInstance, drainMs: number): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), drainMs);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why an address cannot be listened on, by the error code of listen() or of the host name's
 * lookup (getaddrinfo: ENOTFOUND for a name that does not exist, EAI_AGAIN when DNS does not
 * answer); undefined for other errors.
 */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'the address is in use by another process',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'no such local address',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (DNS did not answer)',
};

/** Runs `listen`; an address that cannot be bound becomes an error naming the setting to change. */
async function listenOn(what: string, key: string, envVar: string | undefined, addr: string, listen: () => Promise<unknown>): Promise<void> {
  try {
    await listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code !== undefined && Object.hasOwn(LISTEN_FAILURES, code) ? LISTEN_FAILURES[code] : undefined;
    if (why === undefined) throw err;
    throw new PeriscopeError(ERR.LISTEN_FAILED, `cannot listen for ${what} on ${addr}: ${why} (${code}); set ${key} in the configuration${envVar ? `, or ${envVar}` : ''}`, 500);
  }
}

/**
 * http(s)://host:port of the HTTP listener as bound (port 0 resolved), for links people open: an
 * address that means "every interface" becomes 127.0.0.1. Before listening: the configured one.
 */
function listenerUrl(bound: AddressInfo | null, configured: string, scheme: 'http' | 'https'): string {
  const { host, port } = bound ? { host: bound.address, port: bound.port } : parseAddr(configured);
  const reachable = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  return `${scheme}://${formatAddr(reachable, port)}`;
}
