import { ALERT_ERR, AlertError } from '../errors.ts';
import type { HistoryQuery, HistoryRow } from '../state/store.ts';
import type { TimelineEntry } from '../types.ts';
import { epochDigitsToMicros, plusFromUrl, rfc3339Ms } from '../time-param.ts';
import { decimalParam } from '../decimal-param.ts';

// Query parameters of GET /api/v1/alerts/history, and the merge behind GET /api/v1/alerts/:id/timeline.

const STATES = new Set(['inactive', 'pending', 'firing', 'resolved', 'nodata', 'error']);

type Query = Record<string, string | string[] | undefined>;

function single(q: Query, key: string): string | undefined {
  const v = q[key];
  const s = Array.isArray(v) ? v[v.length - 1] : v;
  return s === undefined || s === '' ? undefined : s;
}

function bad(key: string, message: string): AlertError {
  return new AlertError(ALERT_ERR.BAD_QUERY, `${key}: ${message}`, 400, { key });
}

/**
 * RFC 3339, or an epoch number whose unit its digits tell (time-param.ts) → epoch milliseconds, as
 * the log API reads start/end: read as milliseconds whatever its length, Grafana's or `date +%s`'s
 * seconds meant January 1970 (since= kept everything, until= nothing).
 */
export function parseTime(value: string, key: string): number {
  const micros = epochDigitsToMicros(value);
  if (micros !== undefined) return Math.floor(micros / 1000);
  const ms = rfc3339Ms(plusFromUrl(value));
  if (!Number.isFinite(ms)) throw bad(key, 'expected RFC 3339 (2026-03-01T10:00:00Z) or an epoch time in seconds, milliseconds, microseconds or nanoseconds');
  return ms;
}

/** `rule`, `fingerprint`, `state` (comma list), `since`, `until`, `limit` (1–1000, default 100), `before` (paging cursor). */
export function parseHistoryQuery(q: Query): HistoryQuery {
  const out: HistoryQuery = { limit: 100 };
  const rule = single(q, 'rule');
  if (rule) out.rule = rule;
  const fp = single(q, 'fingerprint');
  if (fp) out.fingerprint = fp;
  const state = single(q, 'state');
  if (state) {
    const states = state.split(',').map((s) => s.trim()).filter(Boolean);
    for (const s of states) if (!STATES.has(s)) throw bad('state', `unknown state "${s}" (one of ${[...STATES].join(', ')})`);
    out.state = states;
  }
  const since = single(q, 'since');
  if (since) out.sinceMs = parseTime(since, 'since');
  const until = single(q, 'until');
  if (until) out.untilMs = parseTime(until, 'until');
  if (out.sinceMs !== undefined && out.untilMs !== undefined && out.untilMs <= out.sinceMs) throw bad('until', 'must be after since');
  const limit = single(q, 'limit');
  if (limit !== undefined) {
    const n = decimalParam(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw bad('limit', 'expected an integer 1–1000');
    out.limit = n;
  }
  const before = single(q, 'before');
  if (before !== undefined) {
    const n = decimalParam(before);
    if (!Number.isInteger(n) || n < 1) throw bad('before', 'expected a transitionId (positive integer)');
    out.before = n;
  }
  return out;
}

export function historyEntryToTimeline(row: HistoryRow): TimelineEntry {
  return {
    at: row.at,
    source: 'rules',
    kind: row.kind === 'transition' ? 'state' : row.kind,
    transitionId: row.transitionId,
    details: {
      from: row.from,
      to: row.to,
      value: row.value,
      flapping: row.flapping,
      ...(row.flap ? { flap: row.flap } : {}),
      delivery: row.delivery,
      ...(row.error ? { error: row.error } : {}),
    },
  };
}

/** Tags entries of the notification side: `source` defaults to notify, transitionId from details. */
export function normalizeExternalEntry(e: TimelineEntry): TimelineEntry {
  const tid = e.transitionId ?? (typeof e.details?.transitionId === 'number' ? e.details.transitionId : undefined);
  return { ...e, source: e.source ?? 'notify', ...(tid !== undefined ? { transitionId: tid } : {}) };
}

/**
 * Oldest first; entries at the same instant keep rules before notification entries of the same
 * transition (a send cannot precede the transition it reports).
 */
export function mergeTimeline(rules: TimelineEntry[], others: TimelineEntry[]): TimelineEntry[] {
  const all = [...rules.map((e, i) => ({ e, o: 0, i })), ...others.map((e, i) => ({ e, o: 1, i }))];
  all.sort((a, b) => {
    const ta = Date.parse(a.e.at);
    const tb = Date.parse(b.e.at);
    if (ta !== tb) return ta - tb;
    const ia = a.e.transitionId ?? Number.MAX_SAFE_INTEGER;
    const ib = b.e.transitionId ?? Number.MAX_SAFE_INTEGER;
    if (ia !== ib) return ia - ib;
    return a.o - b.o || a.i - b.i;
  });
  return all.map((x) => x.e);
}
