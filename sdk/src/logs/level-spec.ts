// Level spec: "info,db=debug,http=warn".
// The bare entry is the default level; `name=level` pairs set the level of child loggers
// created with `logger.child({ module: name })` (applied by the pino onChild hook in logger.ts).
// Whitespace around entries is ignored, level names are case-insensitive, module names are not.

export const PINO_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type PinoLevel = (typeof PINO_LEVELS)[number];

export interface LevelSpec {
  defaultLevel: PinoLevel;
  /** module name → level */
  modules: Record<string, PinoLevel>;
}

function toLevel(raw: string, spec: string): PinoLevel {
  const level = raw.trim().toLowerCase();
  if ((PINO_LEVELS as readonly string[]).includes(level)) return level as PinoLevel;
  throw new Error(`invalid log level "${raw.trim()}" in "${spec}" (expected one of ${PINO_LEVELS.join(', ')})`);
}

/** Parses a level spec; throws an Error with a readable message when it is malformed. */
export function parseLevelSpec(spec: string, fallback: PinoLevel = 'info'): LevelSpec {
  let defaultLevel: PinoLevel | undefined;
  const modules: Record<string, PinoLevel> = Object.create(null);
  for (const entry of spec.split(',')) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    if (eq === -1) {
      if (defaultLevel !== undefined) throw new Error(`more than one default level in "${spec}"`);
      defaultLevel = toLevel(entry, spec);
      continue;
    }
    const name = entry.slice(0, eq).trim();
    if (name === '') throw new Error(`missing module name before "=" in "${spec}"`);
    modules[name] = toLevel(entry.slice(eq + 1), spec);
  }
  return { defaultLevel: defaultLevel ?? fallback, modules };
}
