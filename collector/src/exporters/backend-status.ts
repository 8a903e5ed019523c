import type { CircuitState } from './circuit-breaker.ts';
import type { ExportResult } from './result.ts';
import type { Logger } from './sink.ts';

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
 */
export class BackendStatus {
  readonly #name: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  #lastError: { text: string; at: number } | undefined;
  #failingSince: number | undefined;
  #lastSuccessAt: number | undefined;
  #refusing = false;

  constructor(name: string, logger: Logger, now: () => number = Date.now) {
    this.#name = name;
    this.#logger = logger;
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
        this.#logger.warn({ exporter: this.#name, error: this.#lastError.text }, `exporter ${this.#name}: ${what}`);
      }
      return;
    }
    if (r.status === 'permanent') this.#lastError = { text: r.error ?? `HTTP ${r.httpStatus ?? '?'}`, at: now };
    if (this.#failingSince !== undefined) {
      this.#logger.info({ exporter: this.#name, downForMs: now - this.#failingSince }, `exporter ${this.#name}: backend answering again`);
    }
    this.#failingSince = undefined;
    this.#lastSuccessAt = now;
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
