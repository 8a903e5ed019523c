// Shared by every config file of Periscope (periscope.yaml, rule files).

/**
 * A YAML parse error on one line, naming the key on the line it is about: the `yaml` package's
 * message is "Map keys must be unique at line 3, column 3:" followed by a code frame, and its
 * first line alone named no key. → "Map keys must be unique at line 3, column 3 (key dataDir)".
 * Only the key is shown, never the rest of the line: it may hold a secret.
 */
export function yamlErrorLine(err: unknown, text: string): string {
  const e = err as { message?: string; linePos?: Array<{ line: number }> };
  const first = String(e.message ?? err).split('\n')[0].replace(/:$/, '');
  const line = e.linePos?.[0]?.line;
  const key = line === undefined ? undefined : /^\s*(?:-\s+)?([^\s:#{}[\],'"][^:#{}[\],]*?)\s*:(?:\s|$)/.exec(text.split(/\r?\n/)[line - 1] ?? '')?.[1];
  return key ? `${first} (key ${key})` : first;
}
