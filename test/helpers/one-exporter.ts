// The collector process with one exporter, for the tests of how an exporter reaches its backend
// (tls:, proxies): quick to retry and to flush, posted to and read back over its own HTTP API.
import { expect } from 'vitest';
import { startCollectorProcess, type CollectorProcess } from './collector-process.ts';

const FAST = { retry: { initialBackoff: '50ms', maxBackoff: '200ms' }, circuitBreaker: { failureThreshold: 3, openDuration: '200ms', maxOpenDuration: '500ms' } };

/**
 * Starts the collector with `exporter` (written as JSON, which YAML reads) and the quick retry
 * settings above; `cleanup` gets its disposal. `dataDir` resumes an earlier run's store.
 */
export async function startWithExporter(
  exporter: Record<string, unknown>,
  cleanup: Array<() => Promise<unknown>>,
  options: { dataDir?: string; env?: Record<string, string> } = {},
): Promise<CollectorProcess> {
  const item = { ...exporter, ...FAST, ...(exporter.type === 'prometheusRemoteWrite' ? {} : { batch: { wait: '50ms' }, shutdownTimeout: '0s' }) };
  const c = await startCollectorProcess({ configYaml: `exporters: [${JSON.stringify(item)}]\n`, ...options });
  cleanup.push(() => c.dispose());
  return c;
}

/** Posts one log record per message, as service `appName`; expects them all accepted. */
export async function postMessages(c: CollectorProcess, appName: string, msgs: string[]): Promise<void> {
  const res = await fetch(`${c.url}/api/v1/logs`, { method: 'POST', body: msgs.map((msg) => JSON.stringify({ appName, level: 'info', msg })).join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
  expect(res.status).toBe(200);
}

/** The exporter `name`'s entry in GET /health/dependencies. */
export async function dependency(c: CollectorProcess, name: string): Promise<{ status: string; lastError?: string }> {
  return ((await (await fetch(`${c.url}/health/dependencies`)).json()) as { dependencies: Record<string, { status: string; lastError?: string }> }).dependencies[name];
}

/**
 * The value of the exporter's sample `name` on /metrics (labels exporter and type, and `reason`
 * when given); NaN when there is none.
 */
export async function exporterMetric(c: CollectorProcess, name: string, reason?: string, exporter = 'loki', type = 'loki'): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  const labels = `exporter="${exporter}",type="${type}"${reason ? `,reason="${reason}"` : ''}`;
  return Number(text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))?.split(' ')[1]);
}
