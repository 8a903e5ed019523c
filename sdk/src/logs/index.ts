// Logging pillar: wires the transport worker, the pino logger, stats and the lifecycle.
// Contract: startLogs() does not throw for valid ResolvedOptions; after it returns, nothing in the
// logging path throws into the host (transport errors are swallowed; drops are counted in stats).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { ResolvedOptions } from '../options.ts';
import { C, createSharedBuffer, getCounter, readStats, sharedState, shutdownRequested, type Stats } from './stats.ts';
import { createLogger, validateRedact } from './logger.ts';
import { createLifecycle } from './lifecycle.ts';
import { CoalescingStream, type ThreadStreamLike } from './coalesce.ts';
import { DELIVERY_PROBLEM_EVENT, warnOnce } from './delivery-problem.ts';
import type { TransportOptions } from './transport.ts';
import { createLogSampler, mergeTraceContext, traceContextMixin } from './trace-context.ts';
import { logResourceAttributes } from '../otel/common.ts';

export interface Logs {
  logger: Logger;
  /** Same transport, no sampling or mixin: for the SDK's own warnings (never sampled away). */
  internalLogger: Logger;
  /** Flush to deadlineAt (default now + shutdownTimeoutMs); idempotent, never rejects. */
  shutdown: (deadlineAt?: number) => Promise<void>;
  stats: () => Stats;
}

export interface LogsHooks {
  /** Add the active span's traceId/spanId to every line. */
  traceContext: boolean;
  /** Log sampling; undefined = keep everything. */
  sampling?: { rate: number; keepLevel: number };
}

/**
 * The URL of the log worker's file, which pino.transport loads by path in a worker thread. This
 * module runs as src/logs/index.ts in the repo and as dist/logs/index.js from the built package
 * (Node strips types only outside node_modules), so the worker's file has the same extension.
 * Throws when the file is not there: a bundler (esbuild, webpack, rollup) puts the SDK's modules in
 * the app's bundle but not that file — import.meta.url is then the bundle's, or undefined in
 * CommonJS output — and the worker failed without a word (every record lost, none counted) or
 * stopped init() with an error about pino's own files.
 */
function transportTarget(): string {
  const here = import.meta.url as string | undefined;
  const target = here === undefined ? undefined : new URL(`./transport${here.endsWith('.ts') ? '.ts' : '.js'}`, here);
  if (target?.protocol !== 'file:' || !existsSync(target)) {
    throw new Error(
      `@periscope/sdk cannot run from a bundle: its log worker's file ${target?.protocol === 'file:' ? fileURLToPath(target) : 'logs/transport.js'} is not there. ` +
        'Leave the SDK out of the bundle (esbuild --external:@periscope/sdk or --packages=external, webpack externals) and install it in node_modules',
    );
  }
  return target.href;
}
/** Lines are handed to the worker at most this long after they were logged (coalesce.ts). */
const COALESCE_MS = 20;

export function startLogs(opts: ResolvedOptions, hooks: LogsHooks = { traceContext: false }): Logs {
  validateRedact(opts.redact); // the last option check; nothing below throws for valid options
  const target = transportTarget(); // but this, for an SDK bundled into the app
  const shared = createSharedBuffer();
  const state = sharedState(shared);
  const options: TransportOptions = {
    ship: opts.shipLogs,
    resource: logResourceAttributes(opts),
    endpoint: opts.endpoint,
    headers: opts.headers,
    tls: opts.tls,
    gzip: opts.gzip,
    maxBufferBytes: opts.maxBufferBytes,
    batchMaxRecords: opts.batchMaxRecords,
    batchMaxBytes: opts.batchMaxBytes,
    flushIntervalMs: opts.flushIntervalMs,
    requestTimeoutMs: opts.requestTimeoutMs,
    shutdownTimeoutMs: opts.shutdownTimeoutMs,
    service: opts.service,
    hostname: opts.hostname,
    pid: process.pid,
    facility: opts.facility,
    format: opts.format,
    shared,
  };
  // autoEnd: false — pino would otherwise install its own exit hooks for this stream
  // (on-exit-leak-free); lifecycle.ts owns exit flushing so it is bounded by shutdownTimeoutMs.
  const transport = pino.transport({ target, options, worker: { autoEnd: false } }) as unknown as ThreadStreamLike & NodeJS.EventEmitter;
  // Lines dropped on the main thread: at the hand-off's bound (coalesce.ts), under the worker's
  // reasons; and, once the worker thread is gone, the records it held and every line after.
  const handOffDropped = { buffer_full: 0, too_large: 0, worker_exited: 0 };
  let workerExited = false;
  transport.on('error', (err: Error) => {
    // Logging never throws into the host. A worker that died outside a shutdown (an uncaught
    // error in it, its heap limit, a terminate()) took its records with it and ships nothing
    // more: counted, and said once, as a process warning (stderr, \`process.on('warning')\`).
    if (workerExited || !transport.destroyed || shutdownRequested(state)) return;
    workerExited = true;
    handOffDropped.worker_exited += getCounter(state, C.bufferedRecords);
    process.emitWarning(`the log worker thread exited (${err.message}): log records are no longer shipped to ${opts.endpoint}; they are counted in stats().dropped.worker_exited`, {
      code: 'PERISCOPE_SDK_LOG_WORKER_EXITED',
    });
  });
  transport.on(DELIVERY_PROBLEM_EVENT, warnOnce());
  const stream = new CoalescingStream(transport, COALESCE_MS, {
    maxPendingChars: opts.maxBufferBytes,
    // Lines handed over after a shutdown are not shipped either, as before; not a worker's death.
    onDrop: (count, reason) => {
      if (reason !== 'worker_exited' || !shutdownRequested(state)) handOffDropped[reason] += count;
    },
  });
  const destination = stream as unknown as DestinationStream;
  let sampledOut = 0;
  const logger = createLogger(opts.levels, opts.redact, destination, {
    ...(hooks.traceContext ? { mixin: traceContextMixin, mixinMergeStrategy: mergeTraceContext } : {}),
    ...(hooks.sampling && hooks.sampling.rate < 1
      ? { logMethod: createLogSampler(hooks.sampling.rate, hooks.sampling.keepLevel, () => sampledOut++) }
      : {}),
  });
  const internalLogger = createLogger(opts.levels, opts.redact, destination);
  const shutdown = createLifecycle(stream, state, opts.shutdownTimeoutMs);
  const stats = (): Stats => {
    const s = readStats(state);
    const dropped = {
      ...s.dropped,
      buffer_full: s.dropped.buffer_full + handOffDropped.buffer_full,
      too_large: s.dropped.too_large + handOffDropped.too_large,
      worker_exited: handOffDropped.worker_exited,
    };
    return { ...s, dropped, sampledOut };
  };
  return { logger, internalLogger, shutdown, stats };
}
