// Silences: label matchers + a time window, persisted in alerting.db. Validation and states follow
// Alertmanager (https://prometheus.io/docs/alerting/latest/alertmanager/#silences, silence.validateSilence):
// at least one matcher and at least one that does not match the empty string, endsAt after startsAt,
// createdBy and comment required; DELETE expires (endsAt = now) instead of erasing.
import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';
import { compileMatchers, matchesAll, toMatchers, type CompiledMatcher, type LabelMatcher } from '../dispatch/matchers.ts';
import type { NotifyAlert } from '../dispatch/alert.ts';
import { ALERT_ERR, AlertError } from '../errors.ts';
import { rfc3339Ms } from '../time-param.ts';
import type { Mute, MuteScope, Muter } from '../inhibit/muter.ts';

export type SilenceState = 'pending' | 'active' | 'expired';

export interface Silence {
  id: string;
  matchers: LabelMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  updatedAt: string;
}

export interface SilenceView extends Silence {
  status: { state: SilenceState };
}

interface Entry {
  silence: Silence;
  matchers: CompiledMatcher[];
  start: number;
  end: number;
}

/** Expired silences are kept this long for the API (Alertmanager's default data retention: 120h). */
export const SILENCE_RETENTION_MS = 120 * 3_600_000;

function invalid(key: string, message: string): AlertError {
  return new AlertError(ALERT_ERR.SILENCE_INVALID, `${key}: ${message}`, 400, { key });
}

export class Silences implements Muter {
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  constructor(db: DatabaseSync, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
    this.gc(clock.now());
    for (const row of db.prepare('SELECT body FROM notify_silences').all() as { body: string }[]) {
      const s = JSON.parse(row.body) as Silence;
      this.#entries.set(s.id, this.#entry(s));
    }
  }

  /** Forgets silences expired more than SILENCE_RETENTION_MS ago (at start and at the pipeline's hourly gc). */
  gc(now: number): void {
    const cutoff = now - SILENCE_RETENTION_MS;
    this.#db.prepare('DELETE FROM notify_silences WHERE ends_at < ?').run(cutoff);
    for (const [id, e] of this.#entries) if (e.end < cutoff) this.#entries.delete(id);
  }

  #entry(s: Silence): Entry {
    return { silence: s, matchers: compileMatchers(s.matchers), start: Date.parse(s.startsAt), end: Date.parse(s.endsAt) };
  }

  #state(e: Entry, now: number): SilenceState {
    if (now >= e.end) return 'expired';
    return now < e.start ? 'pending' : 'active';
  }

  #view(e: Entry): SilenceView {
    return { ...e.silence, status: { state: this.#state(e, this.#clock.now()) } };
  }

  #save(e: Entry): void {
    this.#entries.set(e.silence.id, e);
    this.#db
      .prepare('INSERT INTO notify_silences(id, body, ends_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body, ends_at = excluded.ends_at')
      .run(e.silence.id, JSON.stringify(e.silence), e.end);
  }

  list(state?: SilenceState): SilenceView[] {
    const now = this.#clock.now();
    return [...this.#entries.values()]
      .filter((e) => state === undefined || this.#state(e, now) === state)
      .sort((a, b) => b.start - a.start)
      .map((e) => this.#view(e));
  }

  get(id: string): SilenceView {
    const e = this.#entries.get(id);
    if (!e) throw new AlertError(ALERT_ERR.SILENCE_NOT_FOUND, `silence ${id} not found`, 404, { id });
    return this.#view(e);
  }

  /**
   * Creates a silence, or updates the one with `id` when it has not expired. Updating an expired
   * silence creates a new one (Alertmanager does the same), so an expiry is never undone.
   */
  upsert(input: unknown): SilenceView {
    const now = this.#clock.now();
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('(body)', 'expected a silence object');
    const body = input as Record<string, unknown>;
    if (!Array.isArray(body.matchers)) throw invalid('matchers', 'expected a list of matchers, e.g. ["alertname=\"HighLoad\""] or [{ "name": "alertname", "value": "HighLoad", "isRegex": false }]');
    if (body.matchers.length === 0) throw invalid('matchers', 'at least one matcher is required');
    const matchers: LabelMatcher[] = [];
    body.matchers.forEach((m, i) => {
      try {
        const list = toMatchers(m as never);
        compileMatchers(list);
        matchers.push(...list);
      } catch (err) {
        throw invalid(`matchers.${i}`, (err as Error).message);
      }
    });
    if (compileMatchers(matchers).every((m) => m.test({}))) throw invalid('matchers', 'at least one matcher must not match the empty string');
    for (const key of ['createdBy', 'comment'] as const) {
      if (typeof body[key] !== 'string' || (body[key] as string).trim() === '') throw invalid(key, 'required, a non-empty string');
    }
    const time = (key: 'startsAt' | 'endsAt'): number | undefined => {
      if (body[key] === undefined) return undefined;
      const t = typeof body[key] === 'string' ? rfc3339Ms(body[key] as string) : Number.NaN;
      if (Number.isNaN(t)) throw invalid(key, 'expected an RFC 3339 timestamp with its zone (2026-03-01T10:00:00Z)');
      return t;
    };
    let start = time('startsAt') ?? now;
    const end = time('endsAt');
    if (end === undefined) throw invalid('endsAt', 'required');
    if (start < now) start = now;
    if (end <= start) throw invalid('endsAt', 'must be after startsAt and in the future');

    let id: string = randomUUID();
    if (body.id !== undefined && body.id !== '') {
      const existing = this.#entries.get(String(body.id));
      if (!existing) throw new AlertError(ALERT_ERR.SILENCE_NOT_FOUND, `silence ${String(body.id)} not found`, 404, { id: body.id });
      if (this.#state(existing, now) !== 'expired') {
        id = existing.silence.id;
        // An active silence keeps its start; only a pending one may move it.
        if (this.#state(existing, now) === 'active') start = existing.start;
      }
    }
    const silence: Silence = {
      id,
      matchers,
      startsAt: new Date(start).toISOString(),
      endsAt: new Date(end).toISOString(),
      createdBy: String(body.createdBy),
      comment: String(body.comment),
      updatedAt: new Date(now).toISOString(),
    };
    const entry = this.#entry(silence);
    this.#save(entry);
    return this.#view(entry);
  }

  /** Expires the silence now. Expiring an expired silence is a no-op. */
  expire(id: string): SilenceView {
    const e = this.#entries.get(id);
    if (!e) throw new AlertError(ALERT_ERR.SILENCE_NOT_FOUND, `silence ${id} not found`, 404, { id });
    const now = this.#clock.now();
    if (this.#state(e, now) !== 'expired') {
      const start = Math.min(e.start, now);
      this.#save(this.#entry({ ...e.silence, startsAt: new Date(start).toISOString(), endsAt: new Date(now).toISOString(), updatedAt: new Date(now).toISOString() }));
    }
    return this.get(id);
  }

  /** Ids of the silences active at `now` that match these labels (Alertmanager's silencedBy). */
  silencedBy(labels: Record<string, string>, now: number): string[] {
    const ids: string[] = [];
    for (const e of this.#entries.values()) if (now >= e.start && now < e.end && matchesAll(e.matchers, labels)) ids.push(e.silence.id);
    return ids;
  }

  mutes(alert: NotifyAlert, scope: MuteScope): Mute | undefined {
    for (const e of this.#entries.values()) {
      if (scope.now >= e.start && scope.now < e.end && matchesAll(e.matchers, alert.labels)) return { kind: 'silence', by: e.silence.id };
    }
    return undefined;
  }
}
