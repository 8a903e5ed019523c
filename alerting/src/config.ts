import { Type, type Static } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { ALERT_ERR, AlertError } from './errors.ts';
import { HEADER_NAME_PATTERN, isHeaderValue } from './http-header.ts';
import { notifyConfigProperties } from './notify-config.ts';
import { parseDuration } from './dispatch/duration.ts';
import { addUnitKeywords } from './unit-keywords.ts';
import { unknownKeyMessage } from './unknown-key.ts';

// The `alerting:` slice of periscope.yaml. Each side owns its keys: the rules side (this file's
// `rulesConfigProperties`) and the notification side (adds its own properties object and spreads it
// into `alertingConfigSchema`). Unknown keys are rejected; defaults are filled by ajv (useDefaults).

export { parseDuration };

const Duration = (def?: string, description?: string) =>
  Type.String({ format: 'duration', ...(def === undefined ? {} : { default: def }), ...(description ? { description } : {}) });

/** Flap detection defaults (Nagios semantics: 21 states, 20 weighted changes, percent thresholds). */
export const flappingConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Flap detection: an alert that changes state too often is notified once as flapping, then not at each change until it settles (docs/alerting.md, Flapping).' }),
    /** Number of evaluations kept; changes between consecutive ones are weighted 0.75 (oldest) … 1.25 (newest). */
    window: Type.Integer({ minimum: 3, maximum: 200, default: 21, description: 'Evaluations kept per alert; a state change between two of them weighs 0.75 (oldest) to 1.25 (newest).' }),
    /** Start flapping when the weighted percent of state changes reaches this. */
    high: Type.Number({ minimum: 0, maximum: 100, default: 20, description: 'An alert starts flapping when the weighted percent of state changes in the window reaches this.' }),
    /** Stop flapping when it falls to or below this. */
    low: Type.Number({ minimum: 0, maximum: 100, default: 5, description: 'A flapping alert stops flapping when that percent falls to this or below; lower than `high`.' }),
  },
  { additionalProperties: false, default: {} },
);

export const rulesConfigProperties = {
  /** Rule files (YAML). Relative paths are resolved against the directory of periscope.yaml; `*` globs allowed. */
  ruleFiles: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Alert rule files (paths or globs); relative ones are taken from the config file\'s folder. SIGHUP or POST /-/reload re-reads them, and this list from the config file.' }),
  evaluation: Type.Object(
    {
      defaultInterval: Duration('15s', 'Interval of rules that do not set one (minimum 1s).'),
      /** How long resolved instances stay listed (and in memory) before they are forgotten (history keeps them). */
      resolvedRetention: Duration('15m', 'How long a resolved alert stays listed by GET /api/v1/alerts (and in memory); its state changes stay in the history (`alerting.history`).'),
      /**
       * After a start, missing data is not reported for this long: the collector's metric store is in
       * memory and fills again only as senders push (OTel SDKs export every 60 s by default), so an
       * empty store right after a restart says nothing. Data that arrives is evaluated as usual.
       */
      noDataGrace: Duration('1m', 'After a start, missing data raises no `nodata` alert for this long (senders need one export interval to push again).'),
    },
    { additionalProperties: false, default: {} },
  ),
  flapping: flappingConfigSchema,
  /** The Prometheus server `promql` rules query (HTTP API /api/v1/query). */
  prometheus: Type.Optional(
    Type.Object(
      {
        url: Type.String({ pattern: '^https?://', description: 'Base URL of the Prometheus that `promql` rules query; credentials in it (`http://user:pass@prometheus:9090`) are sent as Basic auth.' }),
        timeout: Type.String({ format: 'duration', default: '10s', unitMinimum: '100ms', description: 'Time allowed for one query; a query that takes longer is a failed evaluation.' }),
        // As the exporters' headers (http-header.ts): every query would fail otherwise.
        headers: Type.Optional(Type.Record(Type.String(), Type.String({ format: 'header-value' }), { propertyNames: { pattern: HEADER_NAME_PATTERN }, description: 'HTTP headers sent with every query, e.g. `{ Authorization: "Bearer ${PROM_TOKEN}" }`, or `X-Scope-OrgID` for a multi-tenant Mimir or Cortex.' })),
      },
      { additionalProperties: false },
    ),
  ),
  history: Type.Object({ maxAge: Duration('30d', 'State changes older than this leave the alert history (GET /api/v1/alerts/history).') }, { additionalProperties: false, default: {} }),
  /** Base URL of this Periscope, for `generatorURL` in alerts. */
  externalUrl: Type.Optional(Type.String({ pattern: '^https?://', description: "Base URL of this Periscope as people's browsers reach it (Prometheus' --web.external-url): an alert's `generatorURL` is {externalUrl}/api/v1/alerts/rules/{rule id}; unset: alerts carry none." })),
};

export const alertingConfigSchema = Type.Object(
  {
    ...rulesConfigProperties,
    ...notifyConfigProperties,
  },
  { additionalProperties: false, default: {} },
);

export type AlertingConfig = Static<typeof alertingConfigSchema>;

/** The rules slice with durations in milliseconds, as the engine consumes it. */
export interface RulesConfig {
  ruleFiles: string[];
  defaultIntervalMs: number;
  resolvedRetentionMs: number;
  /** After start, `nodata` steps are skipped for this long (0: none). */
  noDataGraceMs: number;
  flapping: { enabled: boolean; window: number; high: number; low: number };
  prometheus?: { url: string; timeoutMs: number; headers?: Record<string, string> };
  historyMaxAgeMs: number;
  externalUrl?: string;
}

// verbose: an error carries its schema (unknownKeyMessage lists the keys a section takes).
export const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
ajv.addFormat('duration', (s: string) => Number.isFinite(parseDuration(s)));
ajv.addFormat('header-value', isHeaderValue);
addUnitKeywords(ajv, { duration: parseDuration });

/**
 * ajv error → `rules[2].threshold` style key (arrays as [i], objects dotted), with `prefix` in front.
 */
export function schemaErrorKey(e: ErrorObject, prefix = ''): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (e.keyword === 'additionalProperties') parts.push(String(e.params.additionalProperty));
  if (e.keyword === 'required') parts.push(String(e.params.missingProperty));
  let key = prefix;
  for (const p of parts) key += /^\d+$/.test(p) ? `[${p}]` : key === '' ? p : `.${p}`;
  return key || '(root)';
}

function describeError(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties': return unknownKeyMessage(e);
    case 'required': return 'missing required key';
    case 'format': return e.params.format === 'duration' ? 'invalid duration (e.g. 15s, 5m, 1h)' : `invalid ${e.params.format}`;
    // A YAML number where a duration goes (`for: 5`, `window: 10`): "must be string" said neither
    // what to write nor that the unit is missing (periscope.yaml's loader says it the same way).
    case 'type':
      if ((e.parentSchema as { format?: unknown } | undefined)?.format === 'duration') {
        const example = (e.parentSchema as { default?: unknown }).default;
        return `must be a duration string like ${JSON.stringify(typeof example === 'string' ? example : '5m')} (quote it, with a unit)`;
      }
      return e.message ?? 'invalid';
    case 'const': return `must be ${JSON.stringify(e.params.allowedValue)}`;
    case 'enum': return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default: return e.message ?? 'invalid';
  }
}

/** One line per key: `key: problem[; problem]`. Drops union noise (anyOf). */
export function formatSchemaErrors(errors: ErrorObject[], prefix = ''): Array<{ key: string; message: string }> {
  const byKey = new Map<string, string[]>();
  for (const e of errors) {
    if (e.keyword === 'anyOf') continue;
    const key = schemaErrorKey(e, prefix);
    const list = byKey.get(key) ?? [];
    const text = describeError(e);
    if (!list.includes(text)) list.push(text);
    byKey.set(key, list);
  }
  return [...byKey].map(([key, msgs]) => {
    const consts = msgs.every((m) => m.startsWith('must be ') && !m.startsWith('must be one of'));
    return { key, message: msgs.length > 1 && consts ? `must be one of ${msgs.map((m) => m.slice(8)).join(', ')}` : msgs.join('; ') };
  });
}

const validateSlice = ajv.compile(alertingConfigSchema);

/**
 * Validates the `alerting:` slice (fills defaults) and converts it for the engine.
 * Throws AlertError(CONFIG_INVALID) naming each bad key as `alerting.<key>`.
 */
export function parseRulesConfig(raw: unknown = {}): RulesConfig {
  const slice = structuredClone(raw ?? {}) as AlertingConfig;
  if (!validateSlice(slice)) {
    const problems = formatSchemaErrors(validateSlice.errors ?? [], 'alerting').map((p) => `${p.key}: ${p.message}`);
    throw new AlertError(ALERT_ERR.CONFIG_INVALID, `invalid alerting configuration:\n  ${problems.join('\n  ')}`, 400, { problems });
  }
  return rulesConfigFromSlice(slice);
}

/** Converts an already validated slice (e.g. by the collector's loader) without validating again. */
export function rulesConfigFromSlice(slice: AlertingConfig): RulesConfig {
  const problems: string[] = [];
  const interval = parseDuration(slice.evaluation.defaultInterval);
  if (interval < 1000) problems.push('alerting.evaluation.defaultInterval: must be at least 1s');
  const f = slice.flapping;
  if (f.low >= f.high) problems.push('alerting.flapping.low: must be lower than alerting.flapping.high');
  if (problems.length) throw new AlertError(ALERT_ERR.CONFIG_INVALID, `invalid alerting configuration:\n  ${problems.join('\n  ')}`, 400, { problems });
  return {
    ruleFiles: slice.ruleFiles,
    defaultIntervalMs: interval,
    resolvedRetentionMs: parseDuration(slice.evaluation.resolvedRetention),
    noDataGraceMs: parseDuration(slice.evaluation.noDataGrace),
    flapping: { enabled: f.enabled, window: f.window, high: f.high, low: f.low },
    ...(slice.prometheus
      ? { prometheus: { url: slice.prometheus.url, timeoutMs: parseDuration(slice.prometheus.timeout), ...(slice.prometheus.headers ? { headers: slice.prometheus.headers } : {}) } }
      : {}),
    historyMaxAgeMs: parseDuration(slice.history.maxAge),
    ...(slice.externalUrl ? { externalUrl: slice.externalUrl.replace(/\/+$/, '') } : {}),
  };
}

/** Defaults for tests and embedding: `parseRulesConfig({})` plus overrides. */
export function defaultRulesConfig(overrides: Partial<RulesConfig> = {}): RulesConfig {
  return { ...parseRulesConfig({}), ...overrides };
}
