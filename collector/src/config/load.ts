import { Ajv, type AnySchemaObject, type ErrorObject } from 'ajv';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { validate as validateCron } from 'node-cron';
import { parse as parseYaml } from 'yaml';
import { isHeaderValue } from '../../../alerting/src/http-header.ts';
import { unknownKeyMessage } from '../../../alerting/src/unknown-key.ts';
import { yamlErrorLine } from '../../../alerting/src/yaml-error.ts';
import { ERR, PeriscopeError } from '../errors.ts';
import { exporterListProblems } from '../exporters/config.ts';
import { tlsFileProblems } from '../exporters/tls.ts';
import { httpTlsProblems, isBcryptHash } from '../http/config.ts';
import { expandEnv } from './env-expand.ts';
import { proxyEnvironment, proxyEnvironmentProblem, type ProxyEnvironment } from '../../../alerting/src/proxy.ts';
import { notifyProxyEnvironmentProblems } from '../../../alerting/src/notify-config.ts';
import { configSchema, type Config } from './schema.ts';
import { addUnitKeywords, isAddr, parseBytes, parseDuration, SIZE_SYNTAX } from './units.ts';
import { isTimeZone } from '../receivers/syslog/zoned-time.ts';
import { tlsProblems as syslogTlsProblems } from '../receivers/syslog/tls.ts';

/**
 * YAML 1.2 as read by the `yaml` package, plus merge keys (`<<: *anchor`): YAML 1.1's, which the
 * Go YAML readers behind Prometheus', Alertmanager's and the OpenTelemetry Collector's files take,
 * so a shared block is written once. Without it `<<` was refused as an unknown key.
 */
const YAML_OPTIONS = { merge: true } as const;

/** Environment variables that override keys of the file (docs/configuration.md). */
export const ENV_OVERRIDES: Record<string, string[]> = {
  PERISCOPE_HTTP_ADDR: ['http', 'addr'],
  PERISCOPE_SYSLOG_ADDR: ['syslog', 'addr'],
  PERISCOPE_DATA_DIR: ['store', 'dataDir'],
  PERISCOPE_COLLECTOR_LOG_LEVEL: ['log', 'level'],
};

// verbose: errors carry the offending value (maxProperties names the keys given).
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
ajv.addFormat('duration', (s: string) => Number.isFinite(parseDuration(s)));
ajv.addFormat('bytes', (s: string) => Number.isFinite(parseBytes(s)));
ajv.addFormat('cron', (s: string) => validateCron(s));
// An http(s) URL as the WHATWG URL parser (fetch's) reads it: a port out of range or a bad host
// must be refused here, not crash the exporter at start-up.
ajv.addFormat('url', (s: string) => /^https?:\/\/[^\s/]/.test(s) && URL.canParse(s));
ajv.addFormat('addr', isAddr);
ajv.addFormat('header-value', isHeaderValue);
ajv.addFormat('time-zone', isTimeZone);
ajv.addFormat('bcrypt-hash', isBcryptHash);
addUnitKeywords(ajv, { duration: parseDuration, bytes: parseBytes });
const validate = ajv.compile<Config>(configSchema);

/** One problem per line, each naming the exact key, e.g. `store.retention.maxAge: …`. */
export class ConfigError extends PeriscopeError {
  readonly problems: string[];
  /** The file the problems are in (its path), or what stands for it: `(defaults)`. */
  readonly source: string;
  /**
   * Those of `problems` that are in alerting's rule files (each starting with the rule file's path)
   * rather than in `source`: a reload answers them with the rule code (reload.ts).
   */
  readonly ruleFileProblems: string[];
  constructor(problems: string[], source: string, ruleFileProblems: string[] = []) {
    super(ERR.CONFIG_INVALID, `invalid configuration in ${source}:\n  ${problems.join('\n  ')}`, 400, { problems });
    this.problems = problems;
    this.source = source;
    this.ruleFileProblems = ruleFileProblems;
  }
}

function keyOf(e: ErrorObject): string {
  const path = e.instancePath.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (e.keyword === 'additionalProperties') path.push(String(e.params.additionalProperty));
  if (e.keyword === 'required') path.push(String(e.params.missingProperty));
  if (e.propertyName !== undefined) path.push(e.propertyName); // a key refused by propertyNames
  return path.join('.') || '(root)';
}

/**
 * A unit key given something else than a string, most often a YAML number (`bodyLimit: 16`,
 * `maxAge: 0`): what to write instead, with the key's default as the example.
 */
const UNIT_STRINGS: Record<string, { what: string; example: string }> = {
  duration: { what: 'a duration string', example: '30s' },
  bytes: { what: 'a size string', example: '16MiB' },
};

function unitTypeHint(schema: AnySchemaObject | undefined): string | undefined {
  const unit = typeof schema?.format === 'string' ? UNIT_STRINGS[schema.format] : undefined;
  if (!unit) return undefined;
  const example = typeof schema?.default === 'string' ? schema.default : unit.example;
  return `must be ${unit.what} like ${JSON.stringify(example)} (quote it, with a unit)`;
}

/** What a valid value of each custom format looks like, after "invalid <format>". */
const FORMAT_HINTS: Record<string, string> = {
  duration: ' (e.g. 15s, 5m, 7d)',
  bytes: ` (${SIZE_SYNTAX}; e.g. 512MiB)`,
  addr: ' (host:port)',
  url: ' (http(s)://host[:port][/path])',
  'header-value': ' (no line break or NUL in an HTTP header value: does the secret end with a newline?)',
  'time-zone': ' (an IANA time zone such as Europe/Berlin, or UTC)',
  'bcrypt-hash': ' (a bcrypt hash of the password, 60 characters like $2b$10$…, not the password itself: make one with `periscope hash-password`)',
};

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties': return unknownKeyMessage(e);
    case 'required': return 'missing required key';
    case 'format': return `invalid ${e.params.format}${FORMAT_HINTS[e.params.format as string] ?? ''}`;
    case 'type': return unitTypeHint(e.parentSchema) ?? e.message ?? 'invalid';
    case 'const': return `must be ${JSON.stringify(e.params.allowedValue)}`;
    case 'enum': return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'maxProperties': return `at most ${e.params.limit} of its keys may be set, got ${Object.keys(e.data as object).join(', ')}`;
    case 'minLength': return e.params.limit === 1 ? 'must not be empty' : `must be at least ${e.params.limit} characters long`;
    case 'pattern': return e.propertyName !== undefined ? `invalid name, must match ${e.params.pattern}` : `must match ${e.params.pattern}`;
    default: return e.message ?? 'invalid';
  }
}

/** Formats ajv errors, dropping the noise of union branches (anyOf reports each branch). */
export function formatSchemaErrors(errors: ErrorObject[]): string[] {
  const byKey = new Map<string, string[]>();
  const empty = new Set<string>(); // keys left empty in the file (YAML null): said before what they take
  for (const e of errors) {
    const key = keyOf(e);
    // The failing branch reports its own keys; a refused key name is reported by its pattern error.
    if (e.keyword === 'anyOf' || e.keyword === 'if' || e.keyword === 'propertyNames') continue;
    if (e.keyword === 'type' && e.data === null) empty.add(key);
    const list = byKey.get(key) ?? [];
    const text = describe(e);
    if (!list.includes(text)) list.push(text);
    byKey.set(key, list);
  }
  return [...byKey].map(([key, msgs]) => `${key}: ${empty.has(key) ? 'is empty, but ' : ''}${msgs.length > 1 && msgs.every((m) => m.startsWith('must be ')) ? `must be one of ${msgs.map((m) => m.slice(8)).join(', ')}` : msgs.join('; ')}`);
}

/** The object holding the value at a JSON pointer (ajv's instancePath, RFC 6901) and its key there. */
function pointed(config: Record<string, unknown>, pointer: string): { parent: Record<string, unknown>; key: string } | undefined {
  const path = pointer.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], config) as Record<string, unknown> | undefined;
  return parent === undefined || parent === null ? undefined : { parent, key: path[path.length - 1] };
}

/**
 * Environment references are expanded in string values, so `concurrency: ${LOKI_CONCURRENCY}` is
 * the string "4": where a key takes a number or a boolean and its whole value was one reference,
 * the expanded text is read as one ("4" → 4, "false" → false), as the OpenTelemetry Collector
 * and Loki (-config.expand-env) do. Returns whether any value changed (validate again).
 */
function typedReferences(config: Record<string, unknown>, errors: ErrorObject[], wholeReferences: Set<string>): boolean {
  let changed = false;
  for (const e of errors) {
    if (e.keyword !== 'type' || !wholeReferences.has(e.instancePath)) continue;
    const at = pointed(config, e.instancePath);
    const text = at?.parent[at.key];
    if (typeof text !== 'string') continue;
    const types = [e.params.type].flat() as string[];
    const typed =
      types.includes('boolean') && (text === 'true' || text === 'false') ? text === 'true'
      : types.includes('integer') && /^-?\d+$/.test(text) ? Number(text)
      : types.includes('number') && text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text)
      : undefined;
    if (typed === undefined) continue;
    at!.parent[at!.key] = typed;
    changed = true;
  }
  return changed;
}

/**
 * A section or list left empty (`exporters:` alone, or a section whose keys are all commented
 * out) is YAML's null: it is read as an empty one, whose keys take their defaults, as the Go
 * YAML readers of Prometheus and the OpenTelemetry Collector (`otlp:`) read it. A key that takes
 * a value (a string, a number) and is left empty stays an error. Returns whether any value
 * changed (validate again).
 */
function emptySections(config: Record<string, unknown>, errors: ErrorObject[]): boolean {
  // The types each empty key may take (a union such as `to: string | list` reports each).
  const takes = new Map<string, string[]>();
  for (const e of errors) {
    if (e.keyword !== 'type' || e.data !== null || e.instancePath === '') continue;
    takes.set(e.instancePath, [...(takes.get(e.instancePath) ?? []), ...([e.params.type].flat() as string[])]);
  }
  let changed = false;
  for (const [instancePath, types] of takes) {
    // Only a section or a list; a key that may also take a value stays an error ("is empty").
    if (!types.every((t) => t === 'object' || t === 'array')) continue;
    const at = pointed(config, instancePath);
    if (!at || at.parent[at.key] !== null) continue;
    at.parent[at.key] = types.includes('object') ? {} : [];
    changed = true;
  }
  return changed;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== 'object' || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

interface LoadOptions {
  file?: string;
  env?: Record<string, string | undefined>;
  /**
   * Read for a reload (SIGHUP, POST /-/reload): a file with nothing in it (empty, or comments
   * only) is refused. At a reload it is a file caught while being rewritten (truncated, then
   * written) far more often than a wish for every default, and applying it would drop every
   * route and receiver, failing the notifications pending for them.
   */
  reload?: boolean;
}

/**
 * Reads the YAML file (when given), expands ${ENV} references in its values (env-expand.ts),
 * applies env overrides, validates against the schema and
 * fills defaults. Throws ConfigError naming every bad key.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const { config, problems, source } = readConfig(options);
  if (problems.length) throw new ConfigError(problems, source);
  return config;
}

/**
 * The configuration, defaults filled, and every problem found in it, one line each, all at once:
 * unset environment references, schema errors (a key whose reference is unset is reported once),
 * duplicate exporter names. Only an unreadable file or broken YAML throws (nothing to check).
 * The config is valid only when `problems` is empty.
 */
export function readConfig(options: LoadOptions = {}): { config: Config; problems: string[]; source: string } {
  const env = options.env ?? process.env;
  const source = options.file ?? '(defaults)';
  let raw: unknown = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new PeriscopeError(ERR.CONFIG_UNREADABLE, `cannot read config file ${options.file}: ${(err as Error).message}`, 400, { file: options.file });
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text, YAML_OPTIONS);
    } catch (err) {
      throw new ConfigError([`(yaml): ${yamlErrorLine(err, text)}`], source);
    }
    if (options.reload && (parsed === null || parsed === undefined)) {
      throw new ConfigError(['(root): the configuration file is empty (being written?): nothing reloaded, the configuration in effect stays'], source);
    }
    raw = parsed ?? {};
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(['(root): expected a mapping of sections'], source);
  }
  const problems: string[] = [];
  const wholeReferences = new Set<string>();
  // ${file:PATH}: a relative path is from the config file's folder, as Prometheus reads *_file keys.
  const base = options.file ? dirname(resolve(options.file)) : process.cwd();
  const readFile = (path: string) => readFileSync(resolve(base, path), 'utf8');
  const config = expandEnv(raw, { env, readFile, problems, wholeReferences }) as Record<string, unknown>;
  const unset = new Set(problems.map(keyOfProblem));
  // key → `NAME=value`: a problem with an overridden key says where its value came from, since
  // the file may say something else (docs/deploy.md: the image sets all three).
  const overridden = new Map<string, string>();
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(config, path, value);
    overridden.set(path.join('.'), `${name}=${value}`);
  }
  if (!validate(config)) {
    const errors = validate.errors ?? [];
    if ([typedReferences(config, errors, wholeReferences), emptySections(config, errors)].includes(true)) validate(config);
  }
  if (validate.errors) problems.push(...formatSchemaErrors(validate.errors ?? []).filter((p) => !unset.has(keyOfProblem(p))));
  if (Array.isArray(config.exporters)) {
    problems.push(...exporterListProblems(config.exporters as Array<Record<string, unknown>>));
    // The exporters' TLS files, read now so that a missing or wrong one stops the start (and
    // check-config) with its key, rather than failing every handshake later.
    problems.push(...tlsFileProblems(config.exporters as Array<Record<string, unknown>>, base));
  }
  problems.push(...httpTlsProblems(config.http, base));
  // syslog.tls's files likewise: a listener that cannot load them must not start.
  problems.push(...syslogTlsProblems(config.syslog, base));
  problems.push(...proxyEnvironmentProblems(config, proxyEnvironment(env)));
  const withSource = (p: string) => (overridden.has(keyOfProblem(p)) ? `${p} (from the environment: ${overridden.get(keyOfProblem(p))})` : p);
  return { config: config as Config, problems: problems.map(withSource), source };
}

/** The exporters and HTTP channels with proxyFromEnvironment whose variable holds no usable proxy URL. */
function proxyEnvironmentProblems(config: Record<string, unknown>, env: ProxyEnvironment): string[] {
  const exporters = Array.isArray(config.exporters) ? (config.exporters as Array<Record<string, unknown>>) : [];
  const problems = exporters.flatMap((c, i) => proxyEnvironmentProblem(c, c?.url, env, `exporters.${i}`) ?? []);
  const alerting = config.alerting as Record<string, unknown> | undefined;
  return [...problems, ...notifyProxyEnvironmentProblems(alerting?.receivers, env)];
}

/**
 * HTTP_PROXY, HTTPS_PROXY and NO_PROXY of the environment, for the exporters and channels with
 * proxyFromEnvironment: read here, with the configuration, and handed to them.
 */
export function readProxyEnvironment(env: Record<string, string | undefined> = process.env): ProxyEnvironment {
  return proxyEnvironment(env);
}

/** `exporters.0.url: …` → `exporters.0.url`. */
export function keyOfProblem(problem: string): string {
  return problem.slice(0, problem.indexOf(': '));
}
