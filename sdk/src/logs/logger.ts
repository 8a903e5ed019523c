// The main-thread pino logger.
// Contract: a plain pino logger writing to the Periscope transport stream — the main thread does
// only pino's normal work (serialize + copy into thread-stream's shared ring buffer).
// - level: the spec's default level; children bound with { module: name } get that module's level
//   from the spec (pino onChild hook, https://getpino.io/#/docs/api?id=onchild-function).
//   A child created with an explicit `level` keeps it, and a
//   grandchild inherits its parent's level unless it rebinds `module`.
// - no pid/hostname in the lines (base: null): the worker adds procId/hostname per record.
// - redact: pino's redact paths, applied before the line leaves the main thread.
// - hooks (optional): trace-context mixin and log sampling (trace-context.ts).
// - time: epoch milliseconds with a microsecond fraction (pino's default is whole ms; the record
//   format carries µs, docs/record-format.md), see microsecondTime.

import pino, { type DestinationStream, type Logger } from 'pino';
import { SHIELDED_KEYS_FIELD } from '../record.ts';
import type { LevelSpec } from './level-spec.ts';

/** An app's keys that would replace pino's own or the SDK's header fields in the line (SHIELDED_KEYS_FIELD). */
const SHIELDED = ['level', 'time', 'hostname', 'pid'] as const;

/** pino `formatters.log`: moves the keys of a log call's object that would clash. */
export function shieldOwnKeys(object: Record<string, unknown>): Record<string, unknown> {
  if (!('level' in object || 'time' in object || 'hostname' in object || 'pid' in object)) return object;
  const out: Record<string, unknown> = { ...object };
  const shielded: Record<string, unknown> = { ...(out[SHIELDED_KEYS_FIELD] as object | undefined) };
  for (const key of SHIELDED) {
    if (!(key in out)) continue;
    shielded[key] = out[key];
    delete out[key];
  }
  out[SHIELDED_KEYS_FIELD] = shielded;
  return out;
}

/** Throws a readable error for redact paths pino cannot compile (before any worker is started). */
export function validateRedact(redact: string[]): void {
  if (redact.length === 0) return;
  try {
    pino({ redact }, { write() {} });
  } catch (err) {
    throw new Error(`[periscope] init: "redact": ${(err as Error).message}`);
  }
}

export interface LoggerHooks {
  mixin?: () => object;
  mixinMergeStrategy?: (mergeObject: object, mixinObject: object) => object;
  logMethod?: (this: unknown, args: unknown[], method: (...args: unknown[]) => void, level: number) => void;
}

// performance.now() has µs resolution but is a monotonic clock: it is anchored to the wall clock
// and re-anchored every second (so a clock step shows within a second). A re-anchoring reads
// Date.now()'s whole milliseconds, so the time never goes back by less than STEP_BACK_MS (that is
// that rounding); a step of the wall clock back (NTP, a VM resumed, `date -s`) is followed, or
// every record would carry the same time, ahead of the clock, for the length of the step.
const STEP_BACK_MS = 1000;
let anchorOffset = Date.now() - performance.now();
let anchoredAt = performance.now();
let lastTime = 0;

/** pino `timestamp` option: `,"time":<epoch ms>.<µs>` (https://getpino.io/#/docs/api?id=timestamp-boolean-function). */
export function microsecondTime(): string {
  const now = performance.now();
  if (now - anchoredAt >= 1000) {
    anchorOffset = Date.now() - now;
    anchoredAt = now;
  }
  const time = Math.round((now + anchorOffset) * 1000) / 1000;
  lastTime = time < lastTime && lastTime - time < STEP_BACK_MS ? lastTime : time;
  return `,"time":${lastTime.toFixed(3)}`;
}

export function createLogger(levels: LevelSpec, redact: string[], destination: DestinationStream, hooks: LoggerHooks = {}): Logger {
  const modules = levels.modules;
  const hasModules = Object.keys(modules).length > 0;

  function onChild(this: Logger, child: Logger): void {
    try {
      const module = child.bindings().module;
      if (typeof module !== 'string') return;
      const level = modules[module];
      if (level === undefined) return;
      if (this.bindings().module === module) return; // inherited binding: inherited level
      if (child.level !== this.level) return; // explicit { level } on child()
      child.level = level;
    } catch {
      // never throw into the host
    }
  }

  return pino(
    {
      level: levels.defaultLevel,
      base: null,
      timestamp: microsecondTime,
      // child bindings do not pass through formatters.bindings (pino calls it for `base` only)
      formatters: { log: shieldOwnKeys },
      ...(redact.length > 0 ? { redact } : {}),
      ...(hasModules ? { onChild } : {}),
      ...(hooks.mixin ? { mixin: hooks.mixin, mixinMergeStrategy: hooks.mixinMergeStrategy } : {}),
      ...(hooks.logMethod ? { hooks: { logMethod: hooks.logMethod as never } } : {}),
    },
    destination,
  );
}
