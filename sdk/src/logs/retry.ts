// Retry policy for POST {endpoint}/api/v1/logs (pure functions, no I/O).
//
// Status → decision (collector ingest contract for POST /api/v1/logs, from the product issue):
//   2xx            ok        (200 body may list per-record rejections: counted, never retried)
//   408            retry     (the collector, or a proxy before it, did not receive the whole
//                             request in time: nothing was stored, RFC 9110 §15.5.9 lets the
//                             client repeat it, and the batch's Idempotency-Key makes that safe)
//   409            retry     (this batch's Idempotency-Key is still being handled, after a
//                             timeout; the next try gets its answer)
//   413            split     (halve the batch and resend; a single record → dropped `too_large`)
//   429, 5xx       retry     (honour Retry-After, RFC 9110 §10.2.3: delta-seconds or HTTP-date,
//                             https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3)
//   other 4xx      permanent (dropped `permanent_error`, never retried; includes 400 and 415)
//   anything else  retry     (1xx/3xx are not expected from the collector; treat as transient)
// Network errors and timeouts are `retry` too (decided by the caller).
//
// Backoff: exponential with full jitter
// (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
//   delay = random(0, min(cap, base * 2^attempt)), base 200 ms, cap 30 s,
// and when the server sent Retry-After: max(retryAfter, backoff).

export type Decision = 'ok' | 'split' | 'retry' | 'permanent';

export const BACKOFF_BASE_MS = 200;
export const BACKOFF_CAP_MS = 30_000;
/** Retry-After values above this are clamped, so a bogus header cannot stall shipping for days. */
export const RETRY_AFTER_MAX_MS = 300_000;

export function decide(status: number): Decision {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 413) return 'split';
  if (status === 408 || status === 409 || status === 429 || status >= 500) return 'retry';
  if (status >= 400) return 'permanent';
  return 'retry';
}

/**
 * Retry-After header → milliseconds to wait (≥ 0), or undefined when absent or unparsable.
 * Accepts delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT").
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, RETRY_AFTER_MAX_MS);
  if (!/[a-z]/i.test(v)) return undefined; // "1.5", "-3": not valid delta-seconds, not a date
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), RETRY_AFTER_MAX_MS);
}

/** Full-jitter backoff for the given 0-based attempt. `random` returns [0, 1). */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Delay before the next attempt: max(Retry-After, backoff). */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  return Math.max(retryAfterMs ?? 0, backoffMs(attempt, random));
}
