// Collector ingest benchmark: sustained records/s over HTTP NDJSON batches with durability on
// (every 2xx is after the SQLite commit), how long a batch waits for its 2xx at that speed, and
// the time from a 2xx to the record being visible in GET /api/v1/logs. Run: node bench/ingest.ts
// BENCH_SENDERS (default 4) concurrent senders; BENCH_PARSE_THREADS sets http.parseThreads (default:
// the collector's default, 1); BENCH_VERBOSE=1 prints every 1 s window.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { startCollectorProcess } from '../test/helpers/collector-process.ts';
import { median, percentile, printTable } from './stats.ts';

const BATCH = 1000;
const SENDERS = Number(process.env.BENCH_SENDERS ?? 4);

/**
 * A batch as NDJSON, built once, whose timestamps are rewritten in place before each send: the
 * send time (the µs digits vary per line), as live traffic has. Replaying fixed timestamps would
 * scatter every insert across the time index (the pattern of a backfill, not of a running
 * service); rebuilding the text per request would spend the load generator's CPU, which shares
 * the 2 cores with the collector.
 */
class Batch {
  readonly body: Buffer;
  readonly #offsets: number[] = [];

  constructor(seed: number) {
    const stamp = '0000-00-00T00:00:00.000';
    let text = '';
    for (let i = 0; i < BATCH; i++) {
      const head = `{"timestamp":"`;
      this.#offsets.push(Buffer.byteLength(text) + head.length);
      text += `${head}${stamp}${String(i % 1000).padStart(3, '0')}Z",${JSON.stringify({
        severity: 6, appName: `svc-${i % 8}`, hostname: 'bench-host', procId: '1234',
        msg: `request handled ${seed}-${i} path=/api/orders status=200`, attributes: { orderId: i, route: '/api/orders' },
        // like an instrumented app's request logs: a distinct trace per record
        traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'),
      }).slice(1)}\n`;
    }
    this.body = Buffer.from(text);
  }

  /** Stamps every line with the current millisecond; returns the body. */
  stamped(): Buffer {
    const ms = Buffer.from(new Date().toISOString().slice(0, 23));
    for (const at of this.#offsets) ms.copy(this.body, at);
    return this.body;
  }
}

function post(agent: http.Agent, port: number, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function getJson(port: number, path: string): Promise<any> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(JSON.parse(text)));
    }).on('error', reject);
  });
}

export async function benchIngest(durationMs = 8000): Promise<Array<Record<string, string | number>>> {
  const threads = process.env.BENCH_PARSE_THREADS;
  const collector = await startCollectorProcess(threads === undefined ? {} : { configYaml: `http:\n  parseThreads: ${Number(threads)}\n` });
  const port = collector.httpPort;
  const agent = new http.Agent({ keepAlive: true, maxSockets: SENDERS + 2 });
  const batches = Array.from({ length: 2 * SENDERS }, (_, i) => new Batch(i));
  let records = 0;
  let stop = false;
  /** The first second is left out of the figures. */
  const warmup = Date.now() + 1000;
  const perSecond: number[] = [];
  /** ms from sending a batch to its 2xx, after the warm-up. */
  const ackMs: number[] = [];

  async function sender(k: number) {
    let n = k;
    while (!stop) {
      // Each sender cycles through its own batches (k, k + SENDERS, …): a body is never re-stamped while in flight.
      const sent = performance.now();
      const status = await post(agent, port, '/api/v1/logs', batches[n % batches.length].stamped());
      if (Date.now() > warmup && !stop) ackMs.push(performance.now() - sent);
      n += SENDERS;
      if (status === 200) records += BATCH;
    }
  }

  // Visibility probe: a record with a unique traceId; time from its 2xx to GET finding it.
  const visibility: number[] = [];
  async function probe() {
    while (!stop) {
      const traceId = randomBytes(16).toString('hex');
      const status = await post(agent, port, '/api/v1/logs', Buffer.from(JSON.stringify({ appName: 'probe', msg: 'probe', traceId })));
      if (status !== 200) continue;
      const acked = performance.now();
      // Polled every 2 ms (the figure's resolution): back-to-back GETs would load both processes.
      for (;;) {
        const page = await getJson(port, `/api/v1/logs?traceId=${traceId}`);
        if (page.records.length > 0) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      visibility.push(performance.now() - acked);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const tasks = [...Array.from({ length: SENDERS }, (_, k) => sender(k)), probe()];
  let last = records;
  const sampler = setInterval(() => {
    if (Date.now() > warmup) perSecond.push(records - last);
    last = records;
  }, 1000);
  await new Promise((r) => setTimeout(r, durationMs + 1000));
  stop = true;
  clearInterval(sampler);
  await Promise.all(tasks);
  agent.destroy();
  await collector.dispose();
  if (process.env.BENCH_VERBOSE) console.error('records per 1 s window:', perSecond.join(' '));

  return [
    { measure: 'collector ingest, records/s (median of 1 s windows)', value: Math.round(median(perSecond)), target: '>= 100000' },
    { measure: 'collector ingest, records/s (min window)', value: Math.min(...perSecond), target: '' },
    { measure: 'batch sent → 2xx at that speed, p50 ms', value: Number(median(ackMs).toFixed(1)), target: '' },
    { measure: 'batch sent → 2xx at that speed, p99 ms', value: Number(percentile(ackMs, 0.99).toFixed(1)), target: '' },
    { measure: 'batch sent → 2xx at that speed, max ms', value: Number(Math.max(...ackMs).toFixed(1)), target: '' },
    { measure: '2xx → visible in GET /api/v1/logs, p50 ms', value: Number(median(visibility).toFixed(2)), target: '' },
    { measure: '2xx → visible in GET /api/v1/logs, p99 ms', value: Number(percentile(visibility, 0.99).toFixed(2)), target: '< 1000' },
  ];
}

if (import.meta.main) {
  printTable('Collector ingest (HTTP NDJSON, 1000-record batches, 4 senders, durable)', await benchIngest());
}
