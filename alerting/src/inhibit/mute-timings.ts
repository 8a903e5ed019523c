// Mute timings from cron expressions, evaluated in a time zone. node-cron parses and validates the
// expression and matches a date in the zone (ScheduledTask.match, IANA zones via Intl); the task is
// never started, so it owns no timer. A timing is "on":
//  - without `duration`: during every minute the 5-field expression matches (6 fields: every second);
//    `* 0-7 * * 1-5` = weekdays 00:00–07:59;
//  - with `duration`: for `duration` after each match; `0 22 * * *` + 10h = 22:00–08:00 every night.
// A route's `muteTimings` mute it while any is on; its `activeTimings` mute it while none is on
// (Alertmanager's mute_time_intervals / active_time_intervals, which are not inherited).
import { createTask, validateDetailed, type ScheduledTask } from 'node-cron';
import type { NotifyAlert } from '../dispatch/alert.ts';
import type { Mute, MuteScope, Muter } from './muter.ts';

export interface MuteTimingConfig {
  name: string;
  /** One or more cron expressions (5 fields, or 6 with seconds). */
  cron: string | string[];
  /** Duration in ms each match lasts (5-field expressions only). */
  durationMs?: number;
  /** IANA time zone, e.g. Asia/Seoul. */
  timezone?: string;
}

/** Longest `duration` accepted: a week, so the look-back stays bounded. */
export const MAX_TIMING_DURATION_MS = 7 * 86_400_000;

/** Why an expression/zone is invalid, or undefined when it is valid. */
export function cronProblem(expression: string, timezone?: string): string | undefined {
  const v = validateDetailed(expression);
  if (!v.valid) return v.errors.map((e) => e.message).join('; ');
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      return `unknown time zone ${JSON.stringify(timezone)}`;
    }
  }
  return undefined;
}

interface Timing {
  name: string;
  tasks: { task: ScheduledTask; seconds: boolean }[];
  durationMs: number;
}

export class MuteTimings implements Muter {
  readonly #timings = new Map<string, Timing>();
  /** Cache of "is this timing on in this minute" for the duration look-back. */
  readonly #minuteCache = new Map<string, boolean>();

  constructor(configs: readonly MuteTimingConfig[]) {
    for (const c of configs) {
      const expressions = Array.isArray(c.cron) ? c.cron : [c.cron];
      const tasks = expressions.map((expr) => {
        const problem = cronProblem(expr, c.timezone);
        if (problem) throw new Error(`mute timing ${c.name}: ${problem}`);
        const seconds = expr.trim().split(/\s+/).length === 6;
        return { task: createTask(expr, () => undefined, { timezone: c.timezone, name: `periscope-mute-${c.name}-${Math.random().toString(36).slice(2)}` }), seconds };
      });
      this.#timings.set(c.name, { name: c.name, tasks, durationMs: c.durationMs ?? 0 });
    }
  }

  #matchesAt(t: Timing, at: number): boolean {
    for (const { task, seconds } of t.tasks) {
      const instant = seconds ? Math.floor(at / 1000) * 1000 : Math.floor(at / 60_000) * 60_000;
      if (task.match(new Date(instant))) return true;
    }
    return false;
  }

  /** Whether the named timing is on at `at` (epoch ms). Unknown names are never on. */
  isActive(name: string, at: number): boolean {
    const t = this.#timings.get(name);
    if (!t) return false;
    if (t.durationMs <= 0) return this.#matchesAt(t, at);
    // On if a match happened in (at - duration, at]: look back minute by minute.
    const minute = Math.floor(at / 60_000) * 60_000;
    const steps = Math.ceil(t.durationMs / 60_000);
    for (let i = 0; i < steps; i++) {
      const m = minute - i * 60_000;
      if (m <= at - t.durationMs) break;
      const key = `${name}\u0000${m}`;
      let on = this.#minuteCache.get(key);
      if (on === undefined) {
        on = this.#matchesAt(t, m);
        if (this.#minuteCache.size > 50_000) this.#minuteCache.clear();
        this.#minuteCache.set(key, on);
      }
      if (on) return true;
    }
    return false;
  }

  mutes(_alert: NotifyAlert, scope: MuteScope): Mute | undefined {
    for (const name of scope.muteTimings ?? []) if (this.isActive(name, scope.now)) return { kind: 'mute_timing', by: name };
    const active = scope.activeTimings ?? [];
    if (active.length > 0 && !active.some((name) => this.isActive(name, scope.now))) {
      return { kind: 'mute_timing', by: `outside active timings ${active.join(', ')}` };
    }
    return undefined;
  }

  /** Drops the node-cron tasks from node-cron's registry. Safe twice. */
  shutdown(): void {
    for (const t of this.#timings.values()) for (const { task } of t.tasks) void task.destroy();
    this.#timings.clear();
  }
}
