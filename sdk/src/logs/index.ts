// Logging pillar: wires the transport worker, the pino logger, stats and the lifecycle.
// Contract: startLogs() does not throw for valid ResolvedOptions; after it returns, nothing in the
// logging path throws into the host (transport errors are swallowed; drops are counted in stats).

import pino, { type Logger } from 'pino';
import type { ResolvedOptions } from '../options.ts';
import { createSharedBuffer, readStats, sharedState, type Stats } from './stats.ts';
import { createLogger, validateRedact } from './logger.ts';
import { createLifecycle, type TransportStream } from './lifecycle.ts';
import type { TransportOptions } from './transport.ts';

export interface Logs {
  logger: Logger;
  shutdown: () => Promise<void>;
  stats: () => Stats;
}

const TRANSPORT_TARGET = new URL('./transport.ts', import.meta.url).href;

export function startLogs(opts: ResolvedOptions): Logs {
  validateRedact(opts.redact); // the last option check; nothing below throws for valid options
  const shared = createSharedBuffer();
  const state = sharedState(shared);
  const options: TransportOptions = {
    endpoint: opts.endpoint,
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
  const transport = pino.transport({ target: TRANSPORT_TARGET, options, worker: { autoEnd: false } });
  transport.on('error', () => {
    // worker failure or write after end: logging must never crash the host
  });
  const logger = createLogger(opts.levels, opts.redact, transport);
  const shutdown = createLifecycle(transport as unknown as TransportStream, state, opts.shutdownTimeoutMs);
  const stats = (): Stats => readStats(state);
  return { logger, shutdown, stats };
}
