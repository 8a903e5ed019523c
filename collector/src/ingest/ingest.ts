import type { LogRecord } from '../../../sdk/src/record.ts';
import { ERR, failedAgain, PeriscopeError, type FailureStreak } from '../errors.ts';
import type { LogStore } from '../store/log-store.ts';
import { LogBatch } from './log-batch.ts';
import type { SelfMetrics } from './self-metrics.ts';

/** What subscribers (live tail, log-derived metrics, alert rules) receive after a commit. */
export interface IngestedBatch {
  receiver: string;
  /** Store id of logs[0]; the batch holds ids firstId … firstId + logs.length - 1. */
  firstId: number;
  logs: LogBatch;
}

export type IngestListener = (batch: IngestedBatch) => void;

/** Why records must be refused now (an exporter with policy backpressure is at its bound). */
export interface Refusal {
  message: string;
  retryAfterSeconds: number;
  details?: unknown;
}

/**
 * The single write path of every receiver: commit to the durable log, count, then notify.
 * `append` returns only after the commit, so the caller may acknowledge the sender.
 * A store failure surfaces as PeriscopeError 503 (retryable for the sender), never a crash.
 */
export class Ingest {
  readonly #store: LogStore;
  readonly #metrics: SelfMetrics;
  readonly #listeners = new Set<IngestListener>();
  #admission: (() => Refusal | undefined) | undefined;
  /** While store writes fail: the last error and since when (health fields); null once one succeeds. */
  writeFailure: FailureStreak | null = null;

  constructor(store: LogStore, metrics: SelfMetrics) {
    this.#store = store;
    this.#metrics = metrics;
  }

  /** Appends record objects (receivers that build them: OTLP, syslog). */
  append(receiver: string, records: LogRecord[], micros: number[]): void {
    this.appendBatch(receiver, LogBatch.fromRecords(records, micros));
  }

  /** `alsoCommit` runs in the store's transaction, after the records (LogStore.append). */
  appendBatch(receiver: string, logs: LogBatch, alsoCommit?: () => void): void {
    if (logs.length === 0) return;
    // Again here: the bound may have been reached while this request's body was read and parsed.
    this.admit(receiver);
    let ids;
    try {
      ids = this.#store.append(logs, alsoCommit);
    } catch (err) {
      this.writeFailure = failedAgain(this.writeFailure, err);
      throw this.#storeUnavailable(receiver, err);
    }
    this.writeFailure = null;
    this.#metrics.accepted.inc({ receiver }, logs.length);
    this.#metrics.logVolume.count(logs);
    if (ids && this.#listeners.size > 0) {
      const batch: IngestedBatch = { receiver, firstId: ids.firstId, logs };
      for (const listener of this.#listeners) {
        try {
          listener(batch);
        } catch {
          // A subscriber's bug must not turn an acknowledged write into an error.
        }
      }
    }
  }

  /**
   * Throws PeriscopeError OVERLOADED (429, Retry-After) when records must be refused now. HTTP
   * receivers call it before reading a request's body, so an overloaded collector spends its CPU
   * on delivering its backlog, not on parsing records it will refuse.
   */
  admit(receiver: string): void {
    const refusal = this.#admission?.();
    if (!refusal) return;
    this.#metrics.refusedRequests.inc({ receiver, reason: ERR.OVERLOADED });
    throw new PeriscopeError(ERR.OVERLOADED, refusal.message, 429, refusal.details, refusal.retryAfterSeconds);
  }

  reject(receiver: string, reason: string, count = 1): void {
    this.#metrics.rejected.inc({ receiver, reason }, count);
  }

  /**
   * Before a request is answered from its idempotency key (a retry whose records were already
   * stored): throws PeriscopeError 503, as a write would, when the database file was lost, since
   * the records of that answer may be in the lost file (committed, then refused); else counts it.
   */
  replayed(receiver: string): void {
    try {
      this.#store.checkWritable();
    } catch (err) {
      throw this.#storeUnavailable(receiver, err);
    }
    this.#metrics.replayedRequests.inc({ receiver });
  }

  /** Counts a whole request refused before its records were read (413, 415, 400 undecodable). */
  refuse(receiver: string, reason: string): void {
    this.#metrics.refusedRequests.inc({ receiver, reason });
  }

  /**
   * Installs the admission check run before each write: when it returns a refusal, `append`
   * throws PeriscopeError OVERLOADED (429, Retry-After) and writes nothing (DESIGN.md principle 2).
   */
  setAdmission(check: (() => Refusal | undefined) | undefined): void {
    this.#admission = check;
  }

  /** Counts a request refused because the store cannot write, and the 503 (retryable, Retry-After: 1) to answer it with. */
  #storeUnavailable(receiver: string, err: unknown): PeriscopeError {
    this.#metrics.refusedRequests.inc({ receiver, reason: ERR.STORE_UNAVAILABLE });
    return new PeriscopeError(ERR.STORE_UNAVAILABLE, `store write failed: ${(err as Error).message}`, 503, { retryAfterSeconds: 1 }, 1);
  }

  subscribe(listener: IngestListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
