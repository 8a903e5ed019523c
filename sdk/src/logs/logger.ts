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

import pino, { type DestinationStream, type Logger } from 'pino';
import type { LevelSpec } from './level-spec.ts';

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
      ...(redact.length > 0 ? { redact } : {}),
      ...(hasModules ? { onChild } : {}),
      ...(hooks.mixin ? { mixin: hooks.mixin, mixinMergeStrategy: hooks.mixinMergeStrategy } : {}),
      ...(hooks.logMethod ? { hooks: { logMethod: hooks.logMethod as never } } : {}),
    },
    destination,
  );
}
