/**
 * `name`, or when `taken(name)`, the first of `name_2`, `name_3`, … that is not: a field whose
 * name another already holds is kept beside it, the first keeping its name. With one value per
 * name, the second overwrote the first and the record lost it without a word. Used for a record's
 * unknown top-level key named like one of its attributes (normalize.ts), Elasticsearch labels
 * whose names clash once sanitized (elasticsearch/document.ts) and Loki structured-metadata names
 * (loki/entry.ts).
 */
export function freeName(name: string, taken: (candidate: string) => boolean): string {
  if (!taken(name)) return name;
  let n = 2;
  while (taken(`${name}_${n}`)) n++;
  return `${name}_${n}`;
}
