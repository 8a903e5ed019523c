// Contract between the rules side (engine, state, history) and the notification side
// (dispatch, notify, silence, inhibit, escalation, outbox). Keep stable: both sides import it.

export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved' | 'nodata' | 'error';

/** States that are sent to the notification side (`inactive` is never emitted). */
export type AlertEventState = 'pending' | 'firing' | 'resolved' | 'nodata' | 'error';

export type Severity = 'critical' | 'error' | 'warning' | 'info';

/**
 * One state transition of one alert instance.
 *
 * Idempotency: `fingerprint` identifies the alert instance (hash of its sorted labels, stable across
 * restarts and hosts); `transitionId` increases by one at every state change of that fingerprint and
 * is persisted, so `${fingerprint}:${transitionId}` is a stable idempotency key for a notification.
 * A restart never re-emits a transition that was already emitted.
 */
export interface AlertEvent {
  fingerprint: string;
  ruleId: string;
  ruleName: string;
  /** Rule labels + series/group labels + `alertname` and `severity`, templates expanded. */
  labels: Record<string, string>;
  /** Templates expanded with this evaluation's labels and value. */
  annotations: Record<string, string>;
  severity: Severity;
  state: AlertEventState;
  previousState: AlertState;
  /** The evaluated value; null when there is none (nodata, error). */
  value: number | null;
  /** ISO 8601: when the current episode started (first pending/firing, or start of nodata/error). */
  startsAt: string;
  /** ISO 8601: set when state is `resolved` (time of resolution). */
  endsAt?: string;
  transitionId: number;
  /** True while the alert flaps: the transition is recorded, notifications should be suppressed. */
  flapping: boolean;
  generatorURL?: string;
  /** Error text when state is `error`. */
  error?: string;
}

/** Where the engine delivers transitions (the notification side implements it). */
export interface AlertSink {
  onTransition(alert: AlertEvent): void | Promise<void>;
}

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

/** Acknowledgement of an alert, provided by the notification side (injected into the alerts API). */
export interface AckInfo {
  by: string;
  /** ISO 8601. */
  at: string;
  comment?: string;
  via?: string;
}

export type AckInfoProvider = (fingerprint: string) => AckInfo | null | undefined | Promise<AckInfo | null | undefined>;

/**
 * One entry of an alert's timeline. The rules side contributes `source: 'rules'` entries (state
 * changes, details: from, to, value, flapping, delivery, error); the notification side contributes
 * its own (sends, retries, failures, acks, escalation steps) through a `TimelineSource` — entries
 * without `source` are shown as `notify`, and a `details.transitionId` is used for ordering when
 * `transitionId` is absent. Entries are merged by `at`.
 */
export interface TimelineEntry {
  /** ISO 8601. */
  at: string;
  kind: string;
  source?: string;
  transitionId?: number;
  details?: Record<string, unknown>;
}

export type TimelineSource = (fingerprint: string) => TimelineEntry[] | Promise<TimelineEntry[]>;
