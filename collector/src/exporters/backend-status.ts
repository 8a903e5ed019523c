import type { CircuitBreaker, CircuitState } from './circuit-breaker.ts';
import type { ExportResult } from './result.ts';
import type { Logger } from './sink.ts';
import { cutForLog } from '../log/cut.ts';
import { RateLimitedLog, type LimitedLine } from '../log/rate-limited-log.ts';

/** One backend as /health/dependencies shows it. */
export interface DependencyHealth {
  type: string;
  endpoint: string;
  status: 'up' | 'degraded' | 'down';
  circuit: CircuitState;
  lastError?: string;
  lastErrorAt?: string;
  /** Start of the current failure streak (degraded or down). */
  since?: string;
  lastSuccessAt?: string;
}

/**
 * Whole-request refusals that say nothing can be delivered as configured — credentials, tenant,
 * URL — unlike a 400 about some records. The backend is not "up" (with expired credentials
 * /health/dependencies said up and "last success" at every refusal), and the batch waits and is
 * sent again (batch-resolver.ts) instead of going to the dead letters.
 */
const REFUSING_EVERYTHING = new Set([401, 403, 404, 405, 407]);

/** A whole-request answer that refuses everything as configured (REFUSING_EVERYTHING). */
export function refusesEverything(r: ExportResult): boolean {
  return r.status === 'permanent' && r.httpStatus !== undefined && REFUSING_EVERYTHING.has(r.httpStatus);
}

/**
 * What every exporter remembers of its backend's answers, for health and logs. A retryable
 * failure, or a refusal of everything (REFUSING_EVERYTHING), starts (or continues) a failure
 * streak, logged once when it starts; a success or a refusal of some records ends it ("answering
 * again"). The one place for this, shared by log delivery, span export and remote write.
 * These lines and the circuit breaker's (circuitChanged) are the backend's state changes; each
 * kind is rate-limited (RateLimitedLog): a backend that flaps, failing one request in a few,
 * wrote two lines per flap (one a second under load, measured), and now writes the first ones
 * and a summary per kind and minute.
 */
export class BackendStatus {
  readonly #name: string;
  readonly #logger: Logger;
  readonly #log: RateLimitedLog;
  readonly #now: () => number;
  #lastError: { text: string; at: number } | undefined;
  #failingSince: number | undefined;
  #lastSuccessAt: number | undefined;
  #refusing = false;

  constructor(name: string, logger: Logger, now: () => number = Date.now) {
    this.#name = name;
    this.#logger = logger;
    this.#log = new RateLimitedLog(logger);
    this.#now = now;
  }

  get lastError(): string | undefined {
    return this.#lastError?.text;
  }

  /**
   * The last answer refused everything as configured (REFUSING_EVERYTHING): nothing gets through
   * until the configuration changes, so a shutdown need not wait for its flush.
   */
  get refusing(): boolean {
    return this.#refusing;
  }

  note(r: ExportResult): void {
    const now = this.#now();
    const refusing = refusesEverything(r);
    this.#refusing = refusing;
    if (r.status === 'retryable' || refusing) {
      this.#lastError = { text: r.error ?? `HTTP ${r.httpStatus ?? '?'}`, at: now };
      if (this.#failingSince === undefined) {
        this.#failingSince = now;
        const what = refusing ? 'backend refuses the requests (check credentials, tenant and URL); delivery waits until they are accepted' : 'backend failing, retrying';
        this.#log.log({ key: 'failing', level: 'warn', fields: { exporter: this.#name, error: cutForLog(this.#lastError.text) }, msg: () => `exporter ${this.#name}: ${what}` });
      }
      return;
    }
    if (r.status === 'permanent') this.#lastError = { text: r.error ?? `HTTP ${r.httpStatus ?? '?'}`, at: now };
    if (this.#failingSince !== undefined) {
      this.#log.log({ key: 'answering', level: 'info', fields: { exporter: this.#name, downForMs: now - this.#failingSince }, msg: () => `exporter ${this.#name}: backend answering again` });
    }
    this.#failingSince = undefined;
    this.#lastSuccessAt = now;
  }

  /**
   * The circuit breaker of this backend changed state. Open is a warning with when the next probe
   * request goes and how long the backend has been failing: in a long outage it comes back once
   * per open period (circuitBreaker.maxOpenDuration at most, 2 min by default) as the reminder
   * that it is still down. Half-open (a probe request is sent) says nothing an operator acts on:
   * debug. Closed: sending again.
   */
  circuitChanged(state: CircuitState, nextProbeInMs?: number): void {
    const fields = { exporter: this.#name, circuit: state, lastError: cutForLog(this.#lastError?.text) };
    if (state === 'half-open') {
      this.#logger.debug?.(fields, `exporter ${this.#name}: circuit half-open: sending one probe`);
      return;
    }
    if (state === 'closed') {
      this.#log.log({ key: 'circuit closed', level: 'info', fields, msg: () => `exporter ${this.#name}: circuit closed: sending again` });
      return;
    }
    const probe = Math.ceil((nextProbeInMs ?? 0) / 1000);
    const failingFor = this.#failingSince === undefined ? undefined : Math.max(0, Math.round((this.#now() - this.#failingSince) / 1000));
    this.#log.log({
      key: 'circuit open',
      level: 'warn',
      fields: { ...fields, nextProbeInSeconds: probe, ...(failingFor !== undefined && { failingForSeconds: failingFor }) },
      msg: () => `exporter ${this.#name}: circuit open: sending paused, next probe in ${probe} s${failingFor !== undefined ? ` (backend failing for ${failingFor} s)` : ''}`,
    });
  }

  /** Logs the state changes of the backend's circuit breaker (circuitChanged). */
  watch(breaker: CircuitBreaker): void {
    breaker.onChange((state) => this.circuitChanged(state, breaker.nextProbeInMs));
  }

  /**
   * A line about this backend's answers that comes back with each batch or request (records
   * refused permanently, samples dropped): rate-limited with the state changes' (one per kind
   * and minute, with the sums of what was held back).
   */
  logRepeated(line: LimitedLine): void {
    this.#log.log(line);
  }

  /**
   * The dead-letter bounds deleted the oldest letters to file new ones: records given up for good,
   * counted in dropped_items_total{reason="deadletter_full"} and said here (they were only counted).
   */
  logEvicted(evicted: number): void {
    this.#log.log({
      key: 'dead letters evicted',
      level: 'warn',
      fields: { exporter: this.#name, reason: 'deadletter_full' },
      sum: { count: evicted },
      msg: (s) => `exporter ${this.#name}: ${s.count} oldest dead letter(s) deleted to keep deadLetter.maxRecords / maxBytes: never delivered (counted as dropped, deadletter_full)`,
    });
  }

  /**
   * Items refused again whose dead letters the user discarded (or the bounds deleted): not filed
   * again, said once per interval. `unit`: what the exporter sends (`record`, `span`).
   */
  logDiscardedAgain(discarded: number, unit: string): void {
    this.#log.log({
      key: 'discarded-again',
      level: 'info',
      fields: { exporter: this.#name },
      sum: { [`${unit}s`]: discarded },
      msg: (s) => `exporter ${this.#name}: ${s[`${unit}s`]} ${unit}(s) refused again whose dead letters were discarded (DELETE /api/v1/deadletter) or deleted by the deadLetter bounds: not filed again`,
    });
  }

  /** Writes the summaries of the lines held back (at the exporter's shutdown). */
  flushLog(): void {
    this.#log.flush();
  }

  dependency(type: string, endpoint: string, circuit: CircuitState): DependencyHealth {
    const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
    return {
      type,
      endpoint,
      status: circuit !== 'closed' ? 'down' : this.#failingSince !== undefined ? 'degraded' : 'up',
      circuit,
      lastError: this.#lastError?.text,
      lastErrorAt: iso(this.#lastError?.at),
      since: iso(this.#failingSince),
      lastSuccessAt: iso(this.#lastSuccessAt),
    };
  }
}
