// Coded errors of the collector. Tests and clients match on `code`, never on wording.
// HTTP API error body: { error: { code, message, details } }.

export const ERR = {
  CONFIG_INVALID: 'PERISCOPE_ERR_CONFIG_INVALID',
  CONFIG_UNREADABLE: 'PERISCOPE_ERR_CONFIG_UNREADABLE',
  LISTEN_FAILED: 'PERISCOPE_ERR_LISTEN_FAILED',
  DATA_DIR_LOCKED: 'PERISCOPE_ERR_DATA_DIR_LOCKED',
  DATA_DIR_UNUSABLE: 'PERISCOPE_ERR_DATA_DIR_UNUSABLE',
  BACKUP_FAILED: 'PERISCOPE_ERR_BACKUP_FAILED',
  RESTORE_FAILED: 'PERISCOPE_ERR_RESTORE_FAILED',
  BODY_TOO_LARGE: 'PERISCOPE_ERR_BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'PERISCOPE_ERR_UNSUPPORTED_MEDIA_TYPE',
  BAD_ENCODING: 'PERISCOPE_ERR_BAD_ENCODING',
  BAD_JSON: 'PERISCOPE_ERR_BAD_JSON',
  NO_VALID_RECORDS: 'PERISCOPE_ERR_NO_VALID_RECORDS',
  BAD_RECORD: 'PERISCOPE_ERR_BAD_RECORD',
  BAD_FIELD: 'PERISCOPE_ERR_BAD_FIELD',
  BAD_SEVERITY: 'PERISCOPE_ERR_BAD_SEVERITY',
  BAD_TIMESTAMP: 'PERISCOPE_ERR_BAD_TIMESTAMP',
  BAD_QUERY: 'PERISCOPE_ERR_BAD_QUERY',
  BAD_CURSOR: 'PERISCOPE_ERR_BAD_CURSOR',
  QUERY_TIMEOUT: 'PERISCOPE_ERR_QUERY_TIMEOUT',
  QUERY_CANCELLED: 'PERISCOPE_ERR_QUERY_CANCELLED',
  STORE_UNAVAILABLE: 'PERISCOPE_ERR_STORE_UNAVAILABLE',
  OVERLOADED: 'PERISCOPE_ERR_OVERLOADED',
  BAD_IDEMPOTENCY_KEY: 'PERISCOPE_ERR_BAD_IDEMPOTENCY_KEY',
  IDEMPOTENCY_KEY_REUSED: 'PERISCOPE_ERR_IDEMPOTENCY_KEY_REUSED',
  IDEMPOTENCY_KEY_IN_USE: 'PERISCOPE_ERR_IDEMPOTENCY_KEY_IN_USE',
  UNAUTHORIZED: 'PERISCOPE_ERR_UNAUTHORIZED',
  FORBIDDEN_ORIGIN: 'PERISCOPE_ERR_FORBIDDEN_ORIGIN',
  FORBIDDEN_HOST: 'PERISCOPE_ERR_FORBIDDEN_HOST',
  NOT_FOUND: 'PERISCOPE_ERR_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'PERISCOPE_ERR_METHOD_NOT_ALLOWED',
  TLS_REQUIRED: 'PERISCOPE_ERR_TLS_REQUIRED',
  INTERNAL: 'PERISCOPE_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ERR)[keyof typeof ERR];

/** An error that carries its code and HTTP status to the API boundary. */
export class PeriscopeError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly details: unknown;
  /** When set, the HTTP answer carries `Retry-After: <seconds>` (429/503: come back later). */
  retryAfterSeconds?: number;
  constructor(code: string, message: string, statusCode = 400, details?: unknown, retryAfterSeconds?: number) {
    super(message);
    this.code = code;
    this.statusCode = statusCode;
    this.details = details;
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The error says "not now, come back later" (429 overloaded, 503 store unavailable): the
 * sender should retry after this many seconds. Undefined for any other error.
 */
export function retryLaterSeconds(err: unknown): number | undefined {
  if (!(err instanceof PeriscopeError) || (err.statusCode !== 429 && err.statusCode !== 503)) return undefined;
  return err.retryAfterSeconds ?? 1;
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, details: details ?? null } };
}

/** A component failing since `since`, with its last error: health fields while it lasts. */
export interface FailureStreak {
  lastError: string;
  since: string;
}

/** The streak after one more failure: the first failure's time is kept. */
export function failedAgain(streak: FailureStreak | null, err: unknown, nowMs = Date.now()): FailureStreak {
  return { lastError: (err as Error)?.message ?? String(err), since: streak?.since ?? new Date(nowMs).toISOString() };
}
