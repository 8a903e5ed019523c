// The SDK preloaded with `node --import @periscope/sdk/register` and configured by the environment
// alone, often set by a platform (the OpenTelemetry Operator, a Helm chart, a shared .env) and not
// by the app's developer: a bad value must never stop the app (DESIGN.md: the SDK never hurts the
// app). As the OTel spec asks (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#type-specific-guidance),
// it is ignored with a warning naming the variable, its value and what is used instead.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fixturePath } from './helpers/run-fixture.ts';

const T = 60_000;
const APP = fixturePath('preloaded-app.ts');
const REGISTER = new URL('../src/register.ts', import.meta.url).pathname;

/** Runs the app preloaded (after the `preload` modules), with none of the test process' PERISCOPE_* or OTEL_* variables, and `env`. */
function runPreloaded(env: Record<string, string>, preload: string[] = [], app = APP): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PERISCOPE_') && !k.startsWith('OTEL_')));
  const args = [...preload.flatMap((p) => ['--import', p]), '--import', REGISTER, app];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// Nothing is sent (no collector needed): the warnings go to stderr as Node process warnings (no console format).
const QUIET = { PERISCOPE_SERVICE: 'preloaded', OTEL_LOGS_EXPORTER: 'none', OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' };
const TIMER = 'a whole number of milliseconds from 1 to 2147483647 (about 24.8 days; Node fires a longer timer at once)';

describe('a bad variable does not stop a preloaded app: its code runs, and stderr names the variable and what is used', () => {
  it.each<{ name: string; env: Record<string, string>; warning: string }>([
    { name: 'PERISCOPE_TRACES_SAMPLE_RATIO=abc', env: { PERISCOPE_TRACES_SAMPLE_RATIO: 'abc' }, warning: 'PERISCOPE_TRACES_SAMPLE_RATIO ignored: "abc" is not a number from 0 to 1: 1 is used' },
    { name: 'PERISCOPE_SHUTDOWN_TIMEOUT_MS=-5', env: { PERISCOPE_SHUTDOWN_TIMEOUT_MS: '-5' }, warning: `PERISCOPE_SHUTDOWN_TIMEOUT_MS ignored: "-5" is not ${TIMER}: 5000 is used` },
    { name: 'PERISCOPE_PROMETHEUS_PORT=99999', env: { PERISCOPE_PROMETHEUS_PORT: '99999' }, warning: 'PERISCOPE_PROMETHEUS_PORT ignored: "99999" is not a port 0–65535: no Prometheus endpoint is served' },
    { name: 'PERISCOPE_LOG_LEVEL=verbose', env: { PERISCOPE_LOG_LEVEL: 'verbose' }, warning: 'PERISCOPE_LOG_LEVEL ignored: invalid log level "verbose" in "verbose" (expected one of trace, debug, info, warn, error, fatal, silent): info is used' },
    { name: 'PERISCOPE_LOG_FORMAT=xml', env: { PERISCOPE_LOG_FORMAT: 'xml' }, warning: 'PERISCOPE_LOG_FORMAT ignored: "xml" is not one of none, json, logfmt, pretty: none is used' },
    { name: 'PERISCOPE_INSTRUMENTATIONS=express', env: { PERISCOPE_INSTRUMENTATIONS: 'express' }, warning: 'PERISCOPE_INSTRUMENTATIONS: "express" ignored, not an instrumentation the SDK has (http): none is loaded' },
    { name: 'PERISCOPE_RUNTIME_METRICS=maybe', env: { PERISCOPE_RUNTIME_METRICS: 'maybe' }, warning: 'PERISCOPE_RUNTIME_METRICS ignored: "maybe" is not true or false: true is used' },
    { name: 'PERISCOPE_ENDPOINT=collector:4318', env: { PERISCOPE_ENDPOINT: 'collector:4318' }, warning: 'PERISCOPE_ENDPOINT ignored: "collector:4318" is not an http(s) base URL without a query string or fragment: http://127.0.0.1:4318 is used' },
    { name: 'OTEL_EXPORTER_OTLP_HEADERS with a raw "%"', env: { OTEL_EXPORTER_OTLP_HEADERS: 'api-key=50%off' }, warning: 'OTEL_EXPORTER_OTLP_HEADERS: header "api-key" ignored: its value is empty or not percent-encoded (a "%" is written %25)' },
    { name: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=deltas', env: { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'deltas' }, warning: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE ignored: "deltas" is not one of cumulative, delta, lowmemory: cumulative is used' },
    { name: 'PERISCOPE_LOG_SAMPLE_KEEP_LEVEL=fatal', env: { PERISCOPE_LOG_SAMPLE_KEEP_LEVEL: 'fatal' }, warning: 'PERISCOPE_LOG_SAMPLE_KEEP_LEVEL ignored: "fatal" is not one of trace, debug, info, warn, error (error and worse are always kept): error is used' },
  ])('$name', { timeout: T }, async ({ env, warning }) => {
    const { code, stdout, stderr } = await runPreloaded({ ...QUIET, ...env });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('APP RAN {"sdk":true}');
    expect(stderr).toContain(`PeriscopeWarning: ${warning}`);
  });

  it('with a console format the warning is a log line on stdout: PERISCOPE_LOG_SAMPLE_RATE=2', { timeout: T }, async () => {
    const { code, stdout, stderr } = await runPreloaded({ ...QUIET, PERISCOPE_LOG_FORMAT: 'json', PERISCOPE_LOG_SAMPLE_RATE: '2' });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('APP RAN {"sdk":true}');
    const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warning', msg: 'PERISCOPE_LOG_SAMPLE_RATE ignored: "2" is not a number from 0 to 1: 1 is used' }));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'app line' }));
  });
});

describe('a level that leaves warnings out', () => {
  it.each(['error', 'silent'])('PERISCOPE_LOG_LEVEL=%s with a console format: the warning is on stderr, not lost', { timeout: T }, async (level) => {
    const { code, stdout, stderr } = await runPreloaded({ ...QUIET, PERISCOPE_LOG_LEVEL: level, PERISCOPE_LOG_FORMAT: 'logfmt', PERISCOPE_LOG_SAMPLE_RATE: '2' });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('APP RAN {"sdk":true}');
    expect(stderr).toContain('PeriscopeWarning: PERISCOPE_LOG_SAMPLE_RATE ignored: "2" is not a number from 0 to 1: 1 is used');
  });
});

describe('no service name set anywhere', () => {
  it('the preloaded app runs, its records named unknown_service:node (OpenTelemetry\'s default), with a warning saying how to name it', { timeout: T }, async () => {
    const { PERISCOPE_SERVICE: _, ...quiet } = QUIET;
    const { code, stdout, stderr } = await runPreloaded({ ...quiet, PERISCOPE_LOG_FORMAT: 'json' });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('APP RAN {"sdk":true}');
    const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.appName, l.msg])).toEqual([
      ['unknown_service:node', 'no service name is set (the service option, PERISCOPE_SERVICE, OTEL_SERVICE_NAME or service.name in OTEL_RESOURCE_ATTRIBUTES): logs, spans and metrics are sent as "unknown_service:node", OpenTelemetry\'s default'],
      ['unknown_service:node', 'app line'],
    ]);
  });
});

describe('an SDK that cannot start for another reason', () => {
  it('no worker thread for the log transport (a container\'s pids limit): the app runs without the SDK, and stderr says why', { timeout: T }, async () => {
    const { code, stdout, stderr } = await runPreloaded(QUIET, [fixturePath('no-worker-threads.ts')]);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('APP RAN {"sdk":false}');
    expect(stderr).toContain('PeriscopeWarning: the SDK did not start, the app runs without it: Worker initialization failure: EAGAIN');
  });

  it('a package the SDK imports cannot be loaded (missing from the install): the app runs without the SDK, and stderr says why', { timeout: T }, async () => {
    const { code, stdout, stderr } = await runPreloaded(QUIET, [fixturePath('sdk-cannot-load.ts')], fixturePath('plain-app.ts'));
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('APP RAN');
    expect(stderr).toContain("PeriscopeWarning: the SDK did not start, the app runs without it: Cannot find package 'pino'");
  });
});
