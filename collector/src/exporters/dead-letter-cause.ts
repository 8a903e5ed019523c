// The cause of a dead letter: the part of its reason that letters refused for the same cause
// share, without what names the record (its stream, timestamp, length, document id). The
// dead-letter summary groups by it, and it is a text the `reason` filter finds in each letter of
// its group (a substring of their reasons), so an operator reads the causes from the summary and
// lists, replays or discards one of them.

/**
 * Phrases of Loki's validation errors (pkg/validation/validate.go, the ingester's out-of-order
 * checks, the distributor's stream limit), as the exporter's own checks word them too. The first
 * found in a reason is its cause.
 */
const LOKI_PHRASES = [
  'timestamp too old',
  'timestamp too new',
  'entry too far behind',
  'entry out of order',
  'label value too long',
  'label name too long',
  'duplicate label name',
  'label names; limit',
  'Max entry size',
  'includes structured metadata, but this feature is disallowed',
  'structured metadata too large',
  'too many structured metadata labels',
  'Error parsing labels',
  'at least one label pair is required',
  'Maximum active stream limit exceeded',
];

/** Elasticsearch's item reasons, as the sink writes them: `HTTP <status>: <error type>: …`. */
const ES_REASON = /^HTTP \d{3}: ([a-z][a-z0-9_]*(?:_exception|_error))\b/;

const HTTP_PREFIX = /^HTTP \d{3}: /;

/** The reason's words before the first part that names the record (quotes, braces, digits). */
const PREFIX = /^[^'"{[\d]*/;

export function causeOf(reason: string): string {
  const es = ES_REASON.exec(reason);
  if (es) return es[1];
  for (const phrase of LOKI_PHRASES) if (reason.includes(phrase)) return phrase;
  // `HTTP 413: …` (a request's answer): the status stays, the body's words after it are the cause.
  const status = HTTP_PREFIX.exec(reason)?.[0] ?? '';
  const prefix = PREFIX.exec(reason.slice(status.length))![0].replace(/[\s:,(-]+$/, '').trim();
  // A reason that starts with what names the record keeps its first 80 characters as its cause.
  if (prefix.length >= 8) return status + prefix;
  return status && !prefix ? status.replace(/: $/, '') : reason.slice(0, 80);
}
