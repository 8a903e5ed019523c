import { refusesEverything } from './backend-status.ts';
import type { ExportResult } from './result.ts';

/**
 * A backend preparation (an Elasticsearch index template) refused as configured (401, 403, 404,
 * 405, 407: credentials, privileges), as the records are. Contract: after `firstTry` saw such a
 * refusal, `send` tries the preparation again before each request, until it succeeds, fails
 * otherwise, or a request gets through without it (a key that may write but not install
 * templates). Tried once only, the records that waited for the credentials went in without it:
 * the data stream was created from Elasticsearch's built-in template, with dynamic mappings, until
 * a restart and a rollover. Shared by the log delivery and the span export.
 */
export class RefusedPreparation {
  readonly #prepare: (signal: AbortSignal) => Promise<ExportResult>;
  /** Told each try again that did not succeed (counted, logged by the caller); `last` when it failed otherwise and is not tried again. */
  readonly #onFailedAgain: (r: ExportResult, last: boolean) => void;
  #refused = false;

  constructor(prepare: (signal: AbortSignal) => Promise<ExportResult>, onFailedAgain: (r: ExportResult, last: boolean) => void) {
    this.#prepare = prepare;
    this.#onFailedAgain = onFailedAgain;
  }

  /** The result of the first preparation (made behind the retry helper). */
  firstTry(r: ExportResult): void {
    if (r.status === 'permanent') this.#refused = refusesEverything(r);
  }

  /** Runs `send`, trying the preparation again first while it is refused as configured. */
  async send<A extends { result: ExportResult; items?: ExportResult[] }>(signal: AbortSignal, send: () => Promise<A>): Promise<A> {
    if (this.#refused) await this.#tryAgain(signal);
    const answer = await send();
    if (answer.result.status === 'success' || answer.items?.some((r) => r.status === 'success')) this.#refused = false;
    return answer;
  }

  async #tryAgain(signal: AbortSignal): Promise<void> {
    const r = await this.#prepare(signal);
    if (signal.aborted) return;
    const last = r.status === 'permanent' && !refusesEverything(r);
    if (r.status !== 'success') this.#onFailedAgain(r, last);
    if (r.status === 'success' || last) this.#refused = false;
  }
}
