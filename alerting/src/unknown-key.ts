import type { ErrorObject } from 'ajv';

// Shared by every config file of Periscope (periscope.yaml, its alerting section, rule files).

/**
 * "unknown key (did you mean tenant?)" for ajv's additionalProperties error; the validator must
 * be compiled with `verbose: true`, which gives the error the schema that lists the keys.
 */
export function unknownKeyMessage(e: ErrorObject): string {
  const known = Object.keys((e.parentSchema?.properties as object | undefined) ?? {});
  return `unknown key (${unknownKeyHint(String(e.params.additionalProperty), known)})`;
}

/**
 * What to say after "unknown key": the key meant, when one of the keys the section takes is a
 * likely misspelling of it (another case, or at most two letters changed, added, dropped or
 * swapped, as kubectl's and git's "did you mean"), otherwise the keys the section takes, so the
 * user never has to open the reference to find the right name.
 */
export function unknownKeyHint(key: string, known: string[]): string {
  if (known.length === 0) return 'this section takes no keys';
  const limit = Math.min(2, Math.floor(key.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = name.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, name);
    if (distance <= limit && (!best || distance < best.distance)) best = { name, distance };
  }
  return best ? `did you mean ${best.name}?` : `expected one of ${known.join(', ')}`;
}

/** Optimal string alignment distance (Levenshtein, plus swapping two adjacent letters as one edit). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
