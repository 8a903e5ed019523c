// The one internal alert stream of the notification side. Two inputs are normalised into it:
//  - AlertEvent transitions from the rules engine (../types.ts);
//  - alerts posted in Alertmanager's API v2 format to POST /api/v2/alerts
//    (https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml, `postableAlerts`).
import { rfc3339Ms } from '../time-param.ts';
import type { AlertEvent } from '../types.ts';

export type AlertStatus = 'firing' | 'resolved';

export interface NotifyAlert {
  /** Identity of the alert instance (rules: the engine's fingerprint; API: FNV-1a 64 of the labels, as Alertmanager). */
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: AlertStatus;
  /** Finer state for messages: a rules alert in `nodata`/`error` is still active (never "resolved"). */
  state: 'firing' | 'nodata' | 'error' | 'resolved';
  severity: string;
  value: number | null;
  /** Epoch ms when the current episode started. */
  startsAt: number;
  /** Epoch ms: resolution time when resolved; for API alerts while firing, when it resolves unless refreshed. */
  endsAt: number | null;
  generatorURL?: string;
  /** Increases at every status change of this fingerprint; part of the notification idempotency key. */
  transitionId: number;
  flapping: boolean;
  source: 'rules' | 'api';
  error?: string;
  /** Epoch ms of the last update (used to keep a resolved alert that fired again during a flush). */
  updatedAt: number;
}

/** Converts a rules-engine transition. Returns undefined for states that are never notified (`pending`). */
export function fromAlertEvent(event: AlertEvent, now: number): NotifyAlert | undefined {
  if (event.state === 'pending') return undefined;
  const resolved = event.state === 'resolved';
  return {
    fingerprint: event.fingerprint,
    labels: { ...event.labels },
    annotations: { ...event.annotations },
    status: resolved ? 'resolved' : 'firing',
    state: event.state,
    severity: event.severity ?? event.labels.severity ?? 'warning',
    value: event.value,
    startsAt: parseTime(event.startsAt) ?? now,
    endsAt: resolved ? (parseTime(event.endsAt) ?? now) : null,
    generatorURL: event.generatorURL,
    transitionId: event.transitionId,
    flapping: event.flapping,
    source: 'rules',
    error: event.error,
    updatedAt: now,
  };
}

function parseTime(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

/**
 * Alertmanager's fingerprint: FNV-1a 64 over the labels sorted by name, each name and value followed
 * by the separator byte 0xff (prometheus/common model.LabelsToSignature), as 16 hex digits.
 */
export function labelsFingerprint(labels: Record<string, string>): string {
  let h = FNV_OFFSET;
  const enc = new TextEncoder();
  for (const name of Object.keys(labels).sort()) {
    for (const part of [name, labels[name]]) {
      for (const byte of enc.encode(part)) h = ((h ^ BigInt(byte)) * FNV_PRIME) & MASK;
      h = ((h ^ 0xffn) * FNV_PRIME) & MASK;
    }
  }
  return h.toString(16).padStart(16, '0');
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface AlertInputError {
  index: number;
  reason: string;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function stringMap(value: unknown, what: string, errors: string[], dropEmpty: boolean): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    errors.push(`${what}: expected an object of strings`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      errors.push(`${what}.${k}: expected a string`);
      continue;
    }
    if (what === 'labels' && !LABEL_NAME.test(k)) {
      errors.push(`labels.${k}: invalid label name`);
      continue;
    }
    if (dropEmpty && v === '') continue;
    out[k] = v;
  }
  return out;
}

/**
 * Validates one posted alert and applies Alertmanager's defaults (api/v2 + types.Alert.Validate):
 * missing startsAt → endsAt if given, else now; missing endsAt → now + resolveTimeout (the alert
 * resolves unless re-sent); empty label values are dropped; at least one label is required.
 * Returns the alert as a partial NotifyAlert (transition ids are assigned by the store).
 */
export function parsePostableAlert(
  raw: unknown,
  now: number,
  resolveTimeoutMs: number,
): { alert?: Omit<NotifyAlert, 'transitionId' | 'updatedAt'>; errors: string[] } {
  const errors: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { errors: ['expected an object with labels'] };
  const r = raw as Record<string, unknown>;
  const labels = stringMap(r.labels, 'labels', errors, true);
  const annotations = stringMap(r.annotations, 'annotations', errors, false);
  if (Object.keys(labels).length === 0 && errors.length === 0) errors.push('labels: at least one label pair is required');
  const time = (key: 'startsAt' | 'endsAt'): number | undefined => {
    const v = r[key];
    if (v === undefined || v === null || v === '' || v === '0001-01-01T00:00:00Z') return undefined;
    const t = typeof v === 'string' ? rfc3339Ms(v) : Number.NaN;
    if (Number.isNaN(t)) errors.push(`${key}: expected an RFC 3339 timestamp with its zone (2026-03-01T10:00:00Z)`);
    return Number.isNaN(t) ? undefined : t;
  };
  let startsAt = time('startsAt');
  let endsAt = time('endsAt');
  if (r.generatorURL !== undefined && typeof r.generatorURL !== 'string') errors.push('generatorURL: expected a string');
  if (errors.length) return { errors };
  startsAt ??= endsAt ?? now;
  endsAt ??= now + resolveTimeoutMs;
  if (endsAt < startsAt) return { errors: ['endsAt: before startsAt'] };
  const resolved = endsAt <= now;
  return {
    errors,
    alert: {
      fingerprint: labelsFingerprint(labels),
      labels,
      annotations,
      status: resolved ? 'resolved' : 'firing',
      state: resolved ? 'resolved' : 'firing',
      severity: labels.severity ?? 'warning',
      value: parseValue(annotations.value),
      startsAt,
      endsAt,
      generatorURL: typeof r.generatorURL === 'string' && r.generatorURL !== '' ? r.generatorURL : undefined,
      flapping: false,
      source: 'api',
    },
  };
}

function parseValue(v: string | undefined): number | null {
  if (v === undefined || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

export function isResolved(alert: NotifyAlert): boolean {
  return alert.status === 'resolved';
}

/** Labels every alert in `alerts` has with the same value (Alertmanager's commonLabels). */
export function commonPairs(maps: Record<string, string>[]): Record<string, string> {
  if (maps.length === 0) return {};
  const out: Record<string, string> = { ...maps[0] };
  for (const m of maps.slice(1)) for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  return out;
}
