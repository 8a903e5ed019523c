import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { severityFromName } from '../../../sdk/src/record.ts';
import { ajv, formatSchemaErrors, parseDuration } from '../config.ts';
import type { Severity } from '../types.ts';
import { compileMatcher, parseSelector, type CompiledMatcher, type Selector } from './matchers.ts';
import { compileTemplate, type CompiledTemplate } from './template.ts';
import { promqlSyntaxError } from './promql-syntax.ts';

// The rule format, shared by rule files (`rules: [...]`) and the rules API (one rule per body).
// Validation runs in two passes so each error names one key: the `kind` first, then a strict
// kind-specific schema (unknown keys rejected), then semantic checks (durations, thresholds,
// selectors, templates). Reference: rules/README.md.

const StringEnum = <T extends string>(values: readonly T[], options: Record<string, unknown> = {}) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });

export const COMPARISONS = ['>', '>=', '<', '<=', '==', '!='] as const;
export type Comparison = (typeof COMPARISONS)[number];
export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export const NODATA_POLICIES = ['nodata', 'keepLast', 'alerting', 'ok'] as const;
export type NoDataPolicy = (typeof NODATA_POLICIES)[number];
export const ERROR_POLICIES = ['error', 'keepLast', 'alerting', 'ok'] as const;
export type ErrorPolicy = (typeof ERROR_POLICIES)[number];
export const MISSING_SERIES_POLICIES = ['resolve', 'nodata'] as const;
export type MissingSeriesPolicy = (typeof MISSING_SERIES_POLICIES)[number];
export const RULE_KINDS = ['metric', 'log', 'promql'] as const;
export const LOG_MODES = ['frequency', 'absence', 'spike'] as const;
export const COMBINES = ['sum', 'avg', 'min', 'max'] as const;
export const SIMPLE_AGGREGATIONS = ['last', 'avg', 'min', 'max', 'sum', 'rate', 'increase'] as const;

const Duration = Type.String({ format: 'duration' });

const commonProperties = {
  /** Stable identifier (API path, state and history key). Defaults to `name`. */
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  /** Becomes the `alertname` label. */
  name: Type.String({ minLength: 1, maxLength: 256 }),
  kind: StringEnum(RULE_KINDS),
  enabled: Type.Optional(Type.Boolean()),
  interval: Type.Optional(Duration),
  for: Type.Optional(Duration),
  keepFiringFor: Type.Optional(Duration),
  severity: Type.Optional(StringEnum(SEVERITIES)),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  noData: Type.Optional(StringEnum(NODATA_POLICIES)),
  /** What a failed evaluation means (Grafana's error handling): the `error` state, or as noData's keepLast, alerting, ok. */
  onError: Type.Optional(StringEnum(ERROR_POLICIES)),
  /** A series gone while the rule still returns others: `resolve` (Prometheus, Grafana) or the `noData` policy. */
  missingSeries: Type.Optional(StringEnum(MISSING_SERIES_POLICIES)),
  /** Most alerts (pending or firing) one evaluation may make; more is an evaluation error. 0: no limit (Prometheus' rule `limit`). */
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
  flapping: Type.Optional(
    Type.Object(
      {
        enabled: Type.Optional(Type.Boolean()),
        window: Type.Optional(Type.Integer({ minimum: 3, maximum: 200 })),
        high: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
        low: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
      },
      { additionalProperties: false },
    ),
  ),
  comparison: Type.Optional(StringEnum(COMPARISONS)),
  threshold: Type.Optional(Type.Number()),
  clearThreshold: Type.Optional(Type.Number()),
};

const metricRuleSchema = Type.Object(
  {
    ...commonProperties,
    kind: Type.Literal('metric'),
    /** `name{label="v", other=~"re"}` over the metrics the collector holds. */
    selector: Type.String({ minLength: 1 }),
    /** last, avg, min, max, sum, rate, increase, or p50 … p99 (p99.9 too) from histogram buckets. */
    aggregation: Type.String({ minLength: 1 }),
    window: Type.Optional(Duration),
    groupBy: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** How the values of several series in one group are combined (default depends on aggregation). */
    combine: Type.Optional(StringEnum(COMBINES)),
    threshold: Type.Number(),
  },
  { additionalProperties: false },
);

const logRuleSchema = Type.Object(
  {
    ...commonProperties,
    kind: Type.Literal('log'),
    /** The query parameters of GET /api/v1/logs: service, severity, q, traceId, attr.<key>, sd.<id>.<param>. */
    filter: Type.Record(Type.String(), Type.String()),
    mode: Type.Optional(StringEnum(LOG_MODES)),
    window: Type.Optional(Duration),
    referenceWindow: Type.Optional(Duration),
    minCount: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const promqlRuleSchema = Type.Object(
  {
    ...commonProperties,
    kind: Type.Literal('promql'),
    expr: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);

export type MetricRuleSpec = Static<typeof metricRuleSchema>;
export type LogRuleSpec = Static<typeof logRuleSchema>;
export type PromqlRuleSpec = Static<typeof promqlRuleSchema>;
/** A rule as written in a file or sent to the API. */
export type RuleSpec = MetricRuleSpec | LogRuleSpec | PromqlRuleSpec;

export const ruleSpecSchemas: Record<(typeof RULE_KINDS)[number], TSchema> = {
  metric: metricRuleSchema,
  log: logRuleSchema,
  promql: promqlRuleSchema,
};

const validators = {
  metric: ajv.compile(metricRuleSchema),
  log: ajv.compile(logRuleSchema),
  promql: ajv.compile(promqlRuleSchema),
};

/** A rule file: `rules:` and nothing else. */
export const ruleFileSchema = Type.Object({ rules: Type.Array(Type.Unknown()) }, { additionalProperties: false });
const validateRuleFile = ajv.compile(ruleFileSchema);

// ---------------------------------------------------------------------------------------------
// Normalized rules, as the engine evaluates them.

export interface Condition {
  op: Comparison;
  threshold: number;
  /** Hysteresis: once firing, the condition holds until the value passes this (strictly). */
  clear?: number;
}

export type Aggregation = { kind: (typeof SIMPLE_AGGREGATIONS)[number] } | { kind: 'quantile'; q: number; name: string };

export interface FlappingSettings {
  enabled: boolean;
  window: number;
  high: number;
  low: number;
}

interface RuleBase {
  id: string;
  name: string;
  enabled: boolean;
  intervalMs: number;
  forMs: number;
  keepFiringForMs: number;
  severity: Severity;
  labels: Record<string, CompiledTemplate>;
  annotations: Record<string, CompiledTemplate>;
  noData: NoDataPolicy;
  onError: ErrorPolicy;
  missingSeries: MissingSeriesPolicy;
  /** 0: none. */
  limit: number;
  flapping: FlappingSettings;
  /** Absent only for promql rules in filter mode (every returned series is active). */
  condition?: Condition;
  /** Where the rule comes from: `api` or `file:<path>`. */
  source: string;
  /** The rule as written, with `id` filled in (returned by the API). */
  spec: RuleSpec;
}

export interface MetricRule extends RuleBase {
  kind: 'metric';
  selector: Selector;
  compiledMatchers: CompiledMatcher[];
  aggregation: Aggregation;
  windowMs: number;
  groupBy: string[];
  /** Cache key of `groupBy` (joined names). */
  groupBySig: string;
  combine: (typeof COMBINES)[number];
  condition: Condition;
}

export interface LogRule extends RuleBase {
  kind: 'log';
  filter: Record<string, string>;
  mode: (typeof LOG_MODES)[number];
  windowMs: number;
  referenceWindowMs: number;
  minCount: number;
  condition: Condition;
}

export interface PromqlRule extends RuleBase {
  kind: 'promql';
  expr: string;
}

export type Rule = MetricRule | LogRule | PromqlRule;

export interface RuleDefaults {
  defaultIntervalMs: number;
  flapping: FlappingSettings;
  /** Whether promql rules can run (alerting.prometheus.url is set); undefined: not checked. */
  prometheusConfigured?: boolean;
}

export interface Problem {
  key: string;
  message: string;
}

const LABEL_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const RESERVED_LABELS = new Set(['alertname', 'severity']);

/**
 * A metric rule's label name as the series carry it: an OpenTelemetry attribute key such as
 * `k8s.pod` is a label `k8s_pod` (OTel → Prometheus: invalid characters become `_`), so the rule
 * may name either. Without this a dotted name matched no label: its matchers saw "" and groupBy
 * merged every series into one.
 */
function seriesLabelName(name: string): string {
  return name.replaceAll('.', '_');
}

function parseAggregation(text: string): Aggregation | undefined {
  if ((SIMPLE_AGGREGATIONS as readonly string[]).includes(text)) return { kind: text as (typeof SIMPLE_AGGREGATIONS)[number] };
  const m = /^p(\d{2})(?:\.(\d{1,3}))?$/.exec(text);
  if (!m) return undefined;
  const pct = Number(`${m[1]}.${m[2] ?? '0'}`);
  if (pct < 50 || pct >= 100) return undefined;
  return { kind: 'quantile', q: pct / 100, name: text };
}

function defaultCombine(a: Aggregation): (typeof COMBINES)[number] {
  switch (a.kind) {
    case 'sum':
    case 'rate':
    case 'increase': return 'sum';
    case 'min': return 'min';
    case 'max': return 'max';
    default: return 'avg';
  }
}

/**
 * Validates one rule and builds its normalized form. `prefix` is prepended to every key
 * (e.g. `rules[2]` → `rules[2].threshold`). Never throws: problems are returned.
 */
export function compileRule(raw: unknown, options: { prefix?: string; defaults: RuleDefaults; source: string }): { rule?: Rule; problems: Problem[] } {
  const prefix = options.prefix ?? '';
  const key = (k: string) => (prefix ? `${prefix}.${k}` : k);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problems: [{ key: prefix || '(root)', message: 'must be an object (a rule)' }] };
  const kind = (raw as { kind?: unknown }).kind;
  if (kind === undefined) return { problems: [{ key: key('kind'), message: `missing required key (one of ${RULE_KINDS.join(', ')})` }] };
  if (typeof kind !== 'string' || !(RULE_KINDS as readonly string[]).includes(kind)) {
    return { problems: [{ key: key('kind'), message: `must be one of ${RULE_KINDS.map((k) => JSON.stringify(k)).join(', ')}` }] };
  }
  const spec = structuredClone(raw) as RuleSpec;
  const validate = validators[kind as keyof typeof validators];
  if (!validate(spec)) {
    const problems = formatSchemaErrors(validate.errors ?? [], prefix);
    // The selector's own syntax too: fixing the shape should not reveal the next error.
    const selector = (spec as { selector?: unknown }).selector;
    if (kind === 'metric' && typeof selector === 'string') {
      try {
        parseSelector(selector);
      } catch (err) {
        problems.push({ key: key('selector'), message: (err as Error).message });
      }
    }
    const expr = (spec as { expr?: unknown }).expr;
    const syntax = kind === 'promql' && typeof expr === 'string' && expr !== '' ? promqlSyntaxError(expr) : undefined;
    if (syntax) problems.push({ key: key('expr'), message: syntax });
    return { problems };
  }

  const problems: Problem[] = [];
  const add = (k: string, message: string) => problems.push({ key: key(k), message });
  const duration = (k: 'interval' | 'for' | 'keepFiringFor' | 'window' | 'referenceWindow', fallback: number): number => {
    const v = (spec as Record<string, unknown>)[k];
    return v === undefined ? fallback : parseDuration(v as string);
  };

  const id = spec.id ?? spec.name;
  if (!ID_RE.test(id) || id.length > 128) add(spec.id === undefined ? 'name' : 'id', 'must be an id of letters, digits, "_", ".", ":" or "-" (set `id` when the name has other characters)');
  const intervalMs = duration('interval', options.defaults.defaultIntervalMs);
  if (intervalMs < 1000) add('interval', 'must be at least 1s');
  const forMs = duration('for', 0);
  const keepFiringForMs = duration('keepFiringFor', 0);

  const labels: Record<string, CompiledTemplate> = {};
  for (const [name, text] of Object.entries(spec.labels ?? {})) {
    if (!LABEL_NAME_RE.test(name)) add(`labels.${name}`, 'invalid label name (letters, digits, "_"; not starting with a digit)');
    else if (RESERVED_LABELS.has(name)) add(`labels.${name}`, `reserved: set it through the rule's ${name === 'alertname' ? 'name' : 'severity'}`);
    try {
      const t = compileTemplate(text);
      if (t.usesValue) add(`labels.${name}`, '$value is not allowed in labels: it would change the alert identity at every evaluation (use an annotation)');
      labels[name] = t;
    } catch (err) {
      add(`labels.${name}`, `invalid template: ${(err as Error).message}`);
    }
  }
  const annotations: Record<string, CompiledTemplate> = {};
  for (const [name, text] of Object.entries(spec.annotations ?? {})) {
    try {
      annotations[name] = compileTemplate(text);
    } catch (err) {
      add(`annotations.${name}`, `invalid template: ${(err as Error).message}`);
    }
  }

  const d = options.defaults.flapping;
  const flapping: FlappingSettings = {
    enabled: spec.flapping?.enabled ?? d.enabled,
    window: spec.flapping?.window ?? d.window,
    high: spec.flapping?.high ?? d.high,
    low: spec.flapping?.low ?? d.low,
  };
  if (flapping.low >= flapping.high) add(spec.flapping?.low !== undefined ? 'flapping.low' : 'flapping.high', `low (${flapping.low}) must be lower than high (${flapping.high})`);

  // Condition: comparison (default per kind) + threshold + optional clear threshold.
  const defaultOp: Comparison = spec.kind === 'log' && spec.mode === 'absence' ? '<' : '>';
  const op = spec.comparison ?? defaultOp;
  let threshold = spec.threshold;
  if (spec.kind === 'log') {
    if (threshold === undefined && spec.mode === 'absence') threshold = 1;
    if (threshold === undefined) add('threshold', 'missing required key');
  }
  if (spec.kind === 'promql' && options.defaults.prometheusConfigured === false) {
    add('kind', 'a promql rule needs a Prometheus to query: set alerting.prometheus.url');
  }
  if (spec.kind === 'promql' && threshold === undefined) {
    if (spec.comparison !== undefined) add('threshold', 'required when comparison is set');
    if (spec.clearThreshold !== undefined) add('threshold', 'required when clearThreshold is set');
  }
  // 1e400 in YAML or JSON reads as Infinity, which a rule saved as JSON would hold as null.
  for (const [k, v] of [['threshold', threshold], ['clearThreshold', spec.clearThreshold]] as const) {
    if (v !== undefined && !Number.isFinite(v)) add(k, `must be a finite number, not ${v}`);
  }
  let condition: Condition | undefined;
  if (threshold !== undefined) {
    condition = { op, threshold };
    if (spec.clearThreshold !== undefined) {
      const c = spec.clearThreshold;
      if (op === '==' || op === '!=') add('clearThreshold', `not allowed with comparison "${op}"`);
      else if ((op === '>' || op === '>=') && c > threshold) add('clearThreshold', `must be at most the threshold (${threshold}) when firing on "${op}"`);
      else if ((op === '<' || op === '<=') && c < threshold) add('clearThreshold', `must be at least the threshold (${threshold}) when firing on "${op}"`);
      else condition.clear = c;
    }
  }

  const base = {
    id,
    name: spec.name,
    enabled: spec.enabled ?? true,
    intervalMs,
    forMs,
    keepFiringForMs,
    severity: (spec.severity ?? 'warning') as Severity,
    labels,
    annotations,
    noData: spec.noData ?? 'nodata',
    onError: spec.onError ?? 'error',
    missingSeries: spec.missingSeries ?? 'resolve',
    limit: spec.limit ?? 0,
    flapping,
    source: options.source,
    spec: { ...spec, id } as RuleSpec,
  };

  let rule: Rule | undefined;
  if (spec.kind === 'metric') {
    let selector: Selector | undefined;
    let compiledMatchers: CompiledMatcher[] = [];
    try {
      const parsed = parseSelector(spec.selector);
      selector = { ...parsed, matchers: parsed.matchers.map((m) => ({ ...m, name: seriesLabelName(m.name) })) };
      compiledMatchers = selector.matchers.map(compileMatcher);
    } catch (err) {
      add('selector', (err as Error).message);
    }
    const aggregation = parseAggregation(spec.aggregation);
    if (!aggregation) add('aggregation', `must be one of ${SIMPLE_AGGREGATIONS.join(', ')} or a percentile p50 … p99 (e.g. p95, p99.9)`);
    const windowMs = duration('window', 5 * 60_000);
    if (windowMs <= 0) add('window', 'must be longer than 0');
    const groupBy = (spec.groupBy ?? []).map(seriesLabelName);
    groupBy.forEach((l, i) => {
      if (!LABEL_NAME_RE.test(l)) add(`groupBy[${i}]`, 'invalid label name');
    });
    if (new Set(groupBy).size !== groupBy.length) add('groupBy', 'labels must be unique');
    if (aggregation?.kind === 'quantile' && spec.combine) add('combine', 'not used with percentiles: the buckets of a group are merged');
    if (selector && aggregation && condition) {
      rule = { ...base, kind: 'metric', selector, compiledMatchers, aggregation, windowMs, groupBy, groupBySig: groupBy.join('\u0000'), combine: spec.combine ?? defaultCombine(aggregation), condition };
    }
  } else if (spec.kind === 'log') {
    for (const [k, v] of Object.entries(spec.filter)) {
      if (k === 'service' || k === 'q') continue;
      if (k === 'severity') {
        if (!(/^[0-7]$/.test(v) || severityFromName(v) !== undefined)) add('filter.severity', 'expected 0-7 or a level name (emerg … debug)');
      } else if (k === 'traceId') {
        if (!/^[0-9a-fA-F]{32}$/.test(v)) add('filter.traceId', 'expected 32 hex characters');
      } else if (k.startsWith('attr.') && k.length > 5) continue;
      else if (/^sd\.[^.]+(\..+)?\.[^.]+$/.test(k)) continue;
      else add(`filter.${k}`, 'unknown filter key (use service, severity, q, traceId, attr.<key>, sd.<id>.<param>; the window replaces start/end)');
    }
    const mode = spec.mode ?? 'frequency';
    const windowMs = duration('window', 5 * 60_000);
    if (windowMs <= 0) add('window', 'must be longer than 0');
    const referenceWindowMs = spec.referenceWindow === undefined ? 0 : parseDuration(spec.referenceWindow);
    if (mode === 'spike' && spec.referenceWindow === undefined) add('referenceWindow', 'required for mode "spike"');
    if (mode === 'spike' && spec.referenceWindow !== undefined && referenceWindowMs <= 0) add('referenceWindow', 'must be longer than 0');
    if (mode !== 'spike' && spec.referenceWindow !== undefined) add('referenceWindow', 'only used with mode "spike"');
    if (mode !== 'spike' && spec.minCount !== undefined) add('minCount', 'only used with mode "spike"');
    if (condition) rule = { ...base, kind: 'log', filter: spec.filter, mode, windowMs, referenceWindowMs, minCount: spec.minCount ?? 1, condition };
  } else {
    const syntax = promqlSyntaxError(spec.expr);
    if (syntax) add('expr', syntax);
    rule = { ...base, kind: 'promql', expr: spec.expr, ...(condition ? { condition } : {}) };
  }
  return problems.length ? { problems } : { rule, problems };
}

/** Validates the shape of a parsed rule file (`rules:` list) before the rules themselves. */
export function checkRuleFileShape(doc: unknown): Problem[] {
  if (doc === null || doc === undefined) return [{ key: 'rules', message: 'missing required key (the file is empty)' }];
  if (!validateRuleFile(doc)) return formatSchemaErrors(validateRuleFile.errors ?? []);
  return [];
}
