// Coded errors of the alerting package (PERISCOPE_ERR_ALERT_*). Tests and clients match on `code`,
// never on wording. HTTP error body: { error: { code, message, details } }.
// Shared file: the rules side and the notification side each only ADD lines.

export const ALERT_ERR = {
  // rules side
  RULE_INVALID: 'PERISCOPE_ERR_ALERT_RULE_INVALID',
  RULE_FILE_UNREADABLE: 'PERISCOPE_ERR_ALERT_RULE_FILE_UNREADABLE',
  RULE_NOT_FOUND: 'PERISCOPE_ERR_ALERT_RULE_NOT_FOUND',
  RULE_CONFLICT: 'PERISCOPE_ERR_ALERT_RULE_CONFLICT',
  RULE_READONLY: 'PERISCOPE_ERR_ALERT_RULE_READONLY',
  ALERT_NOT_FOUND: 'PERISCOPE_ERR_ALERT_NOT_FOUND',
  BAD_QUERY: 'PERISCOPE_ERR_ALERT_BAD_QUERY',
  EVAL_FAILED: 'PERISCOPE_ERR_ALERT_EVAL_FAILED',
  PROMETHEUS_UNAVAILABLE: 'PERISCOPE_ERR_ALERT_PROMETHEUS_UNAVAILABLE',
  PROMETHEUS_QUERY: 'PERISCOPE_ERR_ALERT_PROMETHEUS_QUERY',
  STATE_STORE: 'PERISCOPE_ERR_ALERT_STATE_STORE',
  CONFIG_INVALID: 'PERISCOPE_ERR_ALERT_CONFIG_INVALID',
  // notification side: add below
  BAD_ALERT: 'PERISCOPE_ERR_ALERT_BAD_ALERT',
  BAD_BODY: 'PERISCOPE_ERR_ALERT_BAD_BODY',
  SILENCE_INVALID: 'PERISCOPE_ERR_ALERT_SILENCE_INVALID',
  SILENCE_NOT_FOUND: 'PERISCOPE_ERR_ALERT_SILENCE_NOT_FOUND',
  ALERT_NOT_ACTIVE: 'PERISCOPE_ERR_ALERT_NOT_ACTIVE',
  ACK_INVALID: 'PERISCOPE_ERR_ALERT_ACK_INVALID',
  ACK_TOKEN_INVALID: 'PERISCOPE_ERR_ALERT_ACK_TOKEN_INVALID',
  ACK_TOKEN_EXPIRED: 'PERISCOPE_ERR_ALERT_ACK_TOKEN_EXPIRED',
  NOTIFICATION_NOT_FOUND: 'PERISCOPE_ERR_ALERT_NOTIFICATION_NOT_FOUND',
  NOTIFICATION_NOT_FAILED: 'PERISCOPE_ERR_ALERT_NOTIFICATION_NOT_FAILED',
  INCIDENT_NOT_FOUND: 'PERISCOPE_ERR_ALERT_INCIDENT_NOT_FOUND',
  PIPELINE_STOPPED: 'PERISCOPE_ERR_ALERT_PIPELINE_STOPPED',
} as const;

export type AlertErrorCode = (typeof ALERT_ERR)[keyof typeof ALERT_ERR];

/** An error that carries its code and HTTP status to the API boundary. */
export class AlertError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly details: unknown;
  constructor(code: string, message: string, statusCode = 400, details?: unknown) {
    super(message);
    this.name = 'AlertError';
    this.code = code;
    this.statusCode = statusCode;
    this.details = details;
  }
}

export function alertErrorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, details: details ?? null } };
}
