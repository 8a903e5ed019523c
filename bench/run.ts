// npm run bench [name ...] — runs each benchmark in its own process, one after the other, so
// they never compete for the two cores. Each prints its figures next to the peer it compares to.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BENCHMARKS = [
  { name: 'sdk-logger', what: 'SDK logger main-thread throughput vs bare pino and winston' },
  { name: 'ingest', what: 'collector ingest records/s (durable) and 2xx → visible latency' },
  { name: 'search', what: 'q= and traceId= over a million records: search index vs reading the records' },
  { name: 'exporters', what: 'ingest → Loki / Elasticsearch sinks, backlog drain, catch-up at a steady load, one backend down' },
  { name: 'otlp-ingest', what: 'OTLP spans/s and metric points/s' },
  { name: 'http-overhead', what: 'instrumented vs plain node:http service (autocannon)' },
  { name: 'alert-rules', what: 'alert rule evaluation: 1 000 rules over 10 000 series, one round' },
  { name: 'alert-latency', what: 'threshold crossed (OTLP 2xx) → Slack request, p50/p99 through the real collector' },
];

const wanted = process.argv.slice(2);
let failed = 0;
for (const bench of BENCHMARKS) {
  if (wanted.length > 0 && !wanted.includes(bench.name)) continue;
  const file = fileURLToPath(new URL(`./${bench.name}.ts`, import.meta.url));
  if (!existsSync(file)) continue;
  console.log(`\n# ${bench.name}: ${bench.what}\n$ node bench/${bench.name}.ts`);
  const result = spawnSync(process.execPath, [file], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.log(`(bench ${bench.name} exited with ${result.status ?? result.signal})`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
