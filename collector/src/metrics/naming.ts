// OpenTelemetry metric → Prometheus family name, unit and label names.
//
// Follows the OTel "Prometheus and OpenMetrics Compatibility" spec
// (https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/#otlp-metric-points-to-prometheus):
// invalid characters → `_`, the UCUM unit as a word suffix (`_seconds`, `_bytes`, `_ratio` for a
// gauge of unit `1`, `_per_second` for `/s`, `{annotations}` dropped), `_total` on monotonic sums.
//
// Periscope's additions, so that every name passes `promtool check metrics` (Prometheus' promlint):
// - non-base units are converted to the base unit, the VALUES being scaled by `factor`:
//   ms/us/ns/min/h/d → seconds, KiBy/MiBy/GiBy/TiBy/KBy/MBy/GBy/TBy → bytes (promlint: "use base unit");
// - camelCase becomes snake_case and names are lower-cased (promlint: "should be snake_case");
// - `:` is replaced like any other invalid character (promlint reserves colons for recording rules);
// - a word naming any Prometheus type (counter, gauge, histogram, summary, untyped) is dropped,
//   except as the first word ("metric name should not include type", whichever type it names);
// - a trailing `total` word is dropped (a counter gets its `_total` back after the unit word:
//   `bytes.sent.total` in By → `bytes_sent_bytes_total`, as the OTel translator writes it),
//   and a gauge ending in `_count`, `_sum` or
//   `_bucket` gets `_value` appended (those suffixes belong to histograms and summaries);
// - attribute keys that would collide with the labels Periscope sets (job, instance, le, quantile,
//   otel_scope_name, otel_scope_version) become `exported_<key>`, like Prometheus' honor_labels=false.
// Words of the OTel name itself that promlint dislikes (e.g. `latency.ms` as a name) are kept.

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** UCUM unit → Prometheus unit word and the factor that converts a value to it. */
const UNITS: Readonly<Record<string, { word: string; factor: number }>> = {
  // time → seconds
  d: { word: 'seconds', factor: 86_400 },
  h: { word: 'seconds', factor: 3_600 },
  min: { word: 'seconds', factor: 60 },
  s: { word: 'seconds', factor: 1 },
  ms: { word: 'seconds', factor: 1e-3 },
  us: { word: 'seconds', factor: 1e-6 },
  ns: { word: 'seconds', factor: 1e-9 },
  // bytes → bytes
  By: { word: 'bytes', factor: 1 },
  KiBy: { word: 'bytes', factor: 1024 },
  MiBy: { word: 'bytes', factor: 1024 ** 2 },
  GiBy: { word: 'bytes', factor: 1024 ** 3 },
  TiBy: { word: 'bytes', factor: 1024 ** 4 },
  KBy: { word: 'bytes', factor: 1e3 },
  MBy: { word: 'bytes', factor: 1e6 },
  GBy: { word: 'bytes', factor: 1e9 },
  TBy: { word: 'bytes', factor: 1e12 },
  // SI
  m: { word: 'meters', factor: 1 },
  V: { word: 'volts', factor: 1 },
  A: { word: 'amperes', factor: 1 },
  J: { word: 'joules', factor: 1 },
  W: { word: 'watts', factor: 1 },
  g: { word: 'grams', factor: 1 },
  // other
  Cel: { word: 'celsius', factor: 1 },
  Hz: { word: 'hertz', factor: 1 },
  '%': { word: 'percent', factor: 1 },
};

/** Denominators of "X/Y" units. */
const PER_UNITS: Readonly<Record<string, string>> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

/** promlint's type words: `_<type>_` or a `_<type>` suffix fails `promtool check metrics`. */
const TYPE_WORDS = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Labels Periscope sets itself; an attribute of that name is renamed `exported_<name>`. */
export const RESERVED_LABELS: ReadonlySet<string> = new Set(['job', 'instance', 'le', 'quantile', 'otel_scope_name', 'otel_scope_version', '__name__']);

export interface TranslatedUnit {
  /** Word(s) appended to the name, "" for none (e.g. "seconds", "bytes_per_second", "ratio"). */
  suffix: string;
  /** Multiply values (and bucket bounds) by this to get the unit of `suffix`. */
  factor: number;
}

/** UCUM unit of an OTel metric → name suffix and value factor. `type` matters for `1` (→ ratio for gauges only). */
export function translateUnit(unit: string, type: PromType): TranslatedUnit {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '') return { suffix: '', factor: 1 };
  if (u === '1') return { suffix: type === 'gauge' ? 'ratio' : '', factor: 1 };
  const slash = u.indexOf('/');
  if (slash >= 0) {
    const num = u.slice(0, slash).trim();
    const den = u.slice(slash + 1).trim();
    const numUnit = num === '' || num === '1' ? { word: '', factor: 1 } : (own(UNITS, num) ?? { word: unitWord(num), factor: 1 });
    const denWord = own(PER_UNITS, den) ?? own(UNITS, den)?.word ?? unitWord(den);
    if (denWord === '') return { suffix: numUnit.word, factor: numUnit.factor };
    return { suffix: numUnit.word ? `${numUnit.word}_per_${denWord}` : `per_${denWord}`, factor: numUnit.factor };
  }
  const known = own(UNITS, u);
  if (known) return { suffix: known.word, factor: known.factor };
  return { suffix: unitWord(u), factor: 1 };
}

/** `table[key]` for the table's own keys only: a unit spelled "constructor" is not Object's. */
function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** An unknown unit as a name word: non-alphanumeric characters dropped (OTel collector translator). */
function unitWord(unit: string): string {
  return snake(unit).replace(/[^a-z0-9_]/g, '').replace(/_+/g, '_').replace(/^_|_$/g, '');
}

/** camelCase → snake_case, lower-cased; any character outside [a-z0-9_] → `_`; runs of `_` collapsed. */
function snake(s: string): string {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .replace(/_+/g, '_');
}

export interface TranslatedName {
  name: string;
  factor: number;
}

/**
 * OTel metric name + unit + Prometheus type → Prometheus family name (without the _bucket/_sum/
 * _count series suffixes) and the value factor. Returns name "" when nothing usable is left.
 */
export function translateMetricName(otelName: string, unit: string, type: PromType): TranslatedName {
  let words = snake(otelName).split('_').filter(Boolean);
  if (words.length > 1) words = words.filter((w, i) => i === 0 || !TYPE_WORDS.has(w));
  while (words.length > 1 && words[words.length - 1] === 'total') words.pop();
  const { suffix, factor } = translateUnit(unit, type);
  let name = words.join('_');
  if (name === '') return { name: '', factor };
  if (suffix && !name.endsWith(`_${suffix}`) && name !== suffix) name += `_${suffix}`;
  if (type === 'gauge' && /_(count|sum|bucket)$/.test(name)) name += '_value';
  if (type === 'counter' && !name.endsWith('_total')) name += '_total';
  if (/^[0-9]/.test(name)) name = `_${name}`;
  return { name, factor };
}

const labelNameCache = new Map<string, string>();

/** Attribute key → Prometheus label name (spec: invalid chars → `_`, a leading digit or `_` gets `key`). */
export function sanitizeLabelName(key: string): string {
  let name = labelNameCache.get(key);
  if (name === undefined) {
    name = computeLabelName(key);
    if (labelNameCache.size >= 10_000) labelNameCache.clear(); // bounded: keys come from senders
    labelNameCache.set(key, name);
  }
  return name;
}

function computeLabelName(key: string): string {
  let name = snake(key);
  if (name === '' || name === '_') return 'key_empty';
  if (/^[0-9]/.test(name)) name = `key_${name}`;
  else if (name.startsWith('_')) name = `key${name}`;
  return RESERVED_LABELS.has(name) ? `exported_${name}` : name;
}

/** Attribute value → label value: strings as they are, other scalars as text, arrays/maps as JSON. */
export function labelValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Attributes → labels. Keys that sanitize to the same label name are joined with `;` in the
 * order of their original keys (spec). Empty values are dropped (Prometheus treats "" as absent).
 */
export function attributesToLabels(attributes: Record<string, unknown>, into: Record<string, string> = {}): Record<string, string> {
  const keys = Object.keys(attributes);
  if (keys.length === 0) return into;
  const merged = new Map<string, string[]>();
  for (const key of keys.sort()) {
    const v = labelValue(attributes[key]);
    if (v === '') continue;
    const name = sanitizeLabelName(key);
    const list = merged.get(name);
    if (list) list.push(v);
    else merged.set(name, [v]);
  }
  for (const [name, values] of merged) into[name] = values.join(';');
  return into;
}

/** Multiplies by a unit factor; sub-unit factors divide instead (5 ms → 5 / 1000 = 0.005 exactly as printed). */
export function applyFactor(value: number, factor: number): number {
  if (factor === 1) return value;
  return factor < 1 ? value / Math.round(1 / factor) : value * factor;
}
