// Exporter benchmark (real collector process + the Loki/Elasticsearch test servers as sinks):
//  1. sustained records/s from ingest (HTTP NDJSON) to a Loki-protocol sink, and to an ES sink,
//     with the CPU per ingested record of the collector (all its threads) and of this process
//     (load generator and sink), which share the machine's cores with it;
//  2. drain speed after an outage: the sink is down while a backlog is built at full ingest
//     speed, then comes back; records/s delivered while catching up (ingest stopped), compared
//     with the rate the backlog was built at. With ingest stopped this is the exporter's own
//     capacity (read the log, map, encode, compress, send), not bounded by ingest.
//     The sink comes back once the search indexer has caught up with the backlog: a real outage
//     lasts minutes to hours, during which the indexer keeps pace with ingest, while a few
//     seconds of ingest at full speed leave it seconds behind, and its catch-up is not the
//     exporter's work (it would take a share of the 2 cores from the drain).
//     Also the CPU spent per drained record by the collector (all its threads) and by the sink
//     (this process): on this 2-core machine both share the cores, so the drain rate is at most
//     2 s / (collector + sink µs per record).
//  3. catch-up at a steady load: senders post at a fixed rate (each of CATCH_UP_RATES, below full
//     speed, as a production collector runs), the sink is down for a while, then comes back while
//     ingest goes on at that rate. The backlog was built at that rate; the figure is the rate
//     delivered while catching up and its ratio to the ingest rate, and how long the catch-up
//     took. This is the outage an operator sees: 1. and 2. need every core for ingest alone. Two
//     rates, because the ratio falls as the steady load takes more of the cores the catch-up
//     needs: they show how much headroom a collector must keep to catch up quickly.
//  4. isolation: one collector with a Loki and an Elasticsearch exporter, load at full speed and
//     at the first of CATCH_UP_RATES, all up and then with one backend down for the whole run:
//     ingest records/s, the other exporter's delivered records/s and lag, and the 2xx p99,
//     against the all-up run. The down exporter's backlog stays
//     under its bound (10 M records, 1 GiB by default) in the run, so back-pressure, the policy
//     at the bound, does not start; refused posts are counted anyway.
//  Scenario 1 also runs for Loki with store.search.enabled: false ("search off"), a collector
//  that only forwards and builds no full-text index.
// Every figure is the median of the runs. Run: node bench/exporters.ts [seconds] [runs]
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startCollectorProcess, type CollectorProcess } from '../test/helpers/collector-process.ts';
import { startElasticsearchServer } from '../test/servers/elasticsearch.ts';
import { startLokiServer } from '../test/servers/loki.ts';
import { median, percentile, printTable } from './stats.ts';

const BATCH = 2000;
const SENDERS = 4;
/** Records/s of the steady loads in scenario 3 (about a seventh and two sevenths of full ingest speed here). */
const CATCH_UP_RATES = [25_000, 50_000];

function batchBody(seed: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < BATCH; i++) {
    lines.push(JSON.stringify({
      severity: i % 10 === 0 ? 4 : 6, appName: `svc-${i % 8}`, hostname: 'bench-host', procId: '1234',
      // like an instrumented app's request logs: a distinct trace per record
      msg: `request handled ${seed}-${i} path=/api/orders status=200`, traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), attributes: { orderId: i, route: '/api/orders' },
    }));
  }
  return Buffer.from(lines.join('\n'));
}

function post(agent: http.Agent, port: number, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/api/v1/logs', method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds a process has used, all threads (Linux /proc; NaN elsewhere). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return Number.NaN;
  }
}

/**
 * Posts until `stop()`, counting accepted records (and each accepted post's time to its answer, ms):
 * as fast as SENDERS connections allow, or, with `rate` (records/s), one batch at each due time
 * (an answer that is late does not delay the next).
 */
function load(port: number, rate?: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SENDERS });
  const bodies = Array.from({ length: 16 }, (_, i) => batchBody(i));
  const state = { accepted: 0, refused: 0, stopped: false, latencies: [] as number[] };
  const send = async (body: Buffer) => {
    const t = performance.now();
    if ((await post(agent, port, body)) !== 200) state.refused += BATCH;
    else {
      state.accepted += BATCH;
      state.latencies.push(performance.now() - t);
    }
  };
  const senders = rate
    ? [(async () => {
        const pending = new Set<Promise<void>>();
        for (let n = 0, t0 = performance.now(); !state.stopped; n++) {
          await sleep(Math.max(0, t0 + (n * BATCH * 1000) / rate - performance.now()));
          const p = send(bodies[n % bodies.length]);
          pending.add(p);
          void p.then(() => pending.delete(p));
        }
        await Promise.all(pending);
      })()]
    : Array.from({ length: SENDERS }, async (_, k) => {
        for (let n = k; !state.stopped; n++) await send(bodies[n % bodies.length]);
      });
  return {
    state,
    async stop() {
      state.stopped = true;
      await Promise.all(senders);
      agent.destroy();
    },
  };
}

/** One exporter's entry in the `exporters:` list. */
function exporterEntry(type: 'loki' | 'elasticsearch', name: string, url: string): string {
  return `  - type: ${type}
    name: ${name}
    url: ${url}
    batch: { wait: 200ms }
    circuitBreaker: { openDuration: 500ms, maxOpenDuration: 1s }
    retry: { initialBackoff: 100ms, maxBackoff: 500ms }
`;
}

function exporterYaml(type: 'loki' | 'elasticsearch', url: string): string {
  return `exporters:\n${exporterEntry(type, 'sink', url)}`;
}

/** Baseline: the same load into a collector without exporters. */
async function ingestOnly(seconds: number): Promise<number> {
  const collector = await startCollectorProcess({ configYaml: 'store:\n  search:\n    indexInterval: 1s\n' });
  try {
    const l = load(collector.httpPort);
    await sleep(2000);
    const a0 = l.state.accepted;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const rate = (l.state.accepted - a0) / ((performance.now() - t0) / 1000);
    await l.stop();
    return rate;
  } finally {
    await collector.dispose();
  }
}

async function withSink<T>(
  type: 'loki' | 'elasticsearch',
  fn: (c: CollectorProcess, delivered: () => number, sink: { setFault: (f: any) => Promise<void> }) => Promise<T>,
  search = true,
): Promise<T> {
  const sink = type === 'loki' ? await startLokiServer({ keepEntries: false }) : await startElasticsearchServer({ keepDocuments: false });
  const delivered = () => ('created' in sink ? sink.created : sink.accepted);
  const collector = await startCollectorProcess({ configYaml: `store:\n  search:\n    enabled: ${search}\n    indexInterval: 1s\n${exporterYaml(type, sink.url)}` });
  try {
    return await fn(collector, delivered, sink);
  } finally {
    await collector.dispose();
    await sink.close();
  }
}

/**
 * Ingest at full speed for `seconds`; records/s accepted and delivered after a 2 s warm-up.
 * `search: false` is a collector that only forwards (store.search.enabled: false).
 */
async function sustained(type: 'loki' | 'elasticsearch', seconds: number, search = true) {
  return withSink(type, async (collector, delivered) => {
    const l = load(collector.httpPort);
    await sleep(2000);
    const a0 = l.state.accepted;
    const d0 = delivered();
    const t0 = performance.now();
    const cpu0 = processCpuSeconds(collector.proc.pid!);
    const benchCpu0 = process.cpuUsage();
    await sleep(seconds * 1000);
    const s = (performance.now() - t0) / 1000;
    const records = l.state.accepted - a0;
    const benchCpu = process.cpuUsage(benchCpu0);
    const result = {
      ingest: records / s,
      delivered: (delivered() - d0) / s,
      // accepted, not yet delivered: growing from start to end = the exporter falls behind ingest;
      // delivered above ingest = it caught up a lag left by the warm-up
      unsentStart: a0 - d0,
      unsentEnd: l.state.accepted - delivered(),
      collectorUs: ((processCpuSeconds(collector.proc.pid!) - cpu0) * 1e6) / records,
      benchUs: (benchCpu.user + benchCpu.system) / records,
    };
    await l.stop();
    return result;
  }, search);
}

/** Resolves when the collector's search index has every stored record (/health/detailed). */
async function searchIndexCaughtUp(port: number): Promise<void> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(100)) {
    const health = (await (await fetch(`http://127.0.0.1:${port}/health/detailed`)).json()) as { components: { searchIndex: { lag: number } } };
    if (health.components.searchIndex.lag === 0) return;
  }
  throw new Error('the search index did not catch up within 120 s');
}

/**
 * Sink down while a backlog is built at full speed for `seconds`; then up: drain rate. Before the
 * outage the collector delivers live for 2 s, as a real one has before its backend fails: the
 * send path's one-time warm-up (JIT, and the tier-up of undici's wasm HTTP parser, ~0.5 s of CPU
 * here) is then not billed to the drain.
 */
async function drainAfterOutage(type: 'loki' | 'elasticsearch', seconds: number) {
  return withSink(type, async (collector, delivered, sink) => {
    const warm = load(collector.httpPort);
    await sleep(2000);
    await warm.stop();
    for (const deadline = Date.now() + 60_000; delivered() < warm.state.accepted && Date.now() < deadline; ) await sleep(50);
    await sink.setFault({ mode: 'down' });
    const l = load(collector.httpPort);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    await l.stop();
    const built = l.state.accepted;
    const buildRate = built / ((performance.now() - t0) / 1000);
    await searchIndexCaughtUp(collector.httpPort);
    const pid = collector.proc.pid!;
    const cpu0 = processCpuSeconds(pid);
    const sinkCpu0 = process.cpuUsage();
    await sink.setFault({ mode: 'none' });
    const d0 = delivered();
    let first = 0;
    const deadline = Date.now() + 300_000;
    while (delivered() < d0 + built && Date.now() < deadline) {
      if (!first && delivered() > d0) first = performance.now();
      await sleep(20);
    }
    const drainSeconds = (performance.now() - (first || performance.now())) / 1000;
    const records = delivered() - d0;
    const sinkCpu = process.cpuUsage(sinkCpu0);
    return {
      backlog: built,
      buildRate,
      drainRate: records / Math.max(drainSeconds, 0.001),
      collectorUs: ((processCpuSeconds(pid) - cpu0) * 1e6) / records,
      sinkUs: (sinkCpu.user + sinkCpu.system) / records,
    };
  });
}

/**
 * Scenario 3: steady load at `rate`; the sink is down for `seconds`, then up while the load goes
 * on. Caught up = the sink is within half a second of ingest (live delivery lags by up to the
 * batch wait, 200 ms here). The catch-up time counts from the sink's return, so it includes the
 * circuit breaker's wait before its probe; the delivered rate counts from the first delivery.
 */
async function catchUpAtSteadyLoad(type: 'loki' | 'elasticsearch', rate: number, seconds: number) {
  return withSink(type, async (collector, delivered, sink) => {
    const l = load(collector.httpPort, rate);
    const start = performance.now();
    try {
      await sleep(2000);
      await sink.setFault({ mode: 'down' });
      await sleep(seconds * 1000);
      const backlog = l.state.accepted - delivered();
      const d0 = delivered();
      const t0 = performance.now();
      await sink.setFault({ mode: 'none' });
      const slack = Math.max(2 * BATCH, rate / 2);
      let first = 0; // the first delivery: the circuit breaker's probe found the sink up
      for (const deadline = Date.now() + 300_000; l.state.accepted - delivered() > slack && Date.now() < deadline; await sleep(20)) {
        if (!first && delivered() > d0) first = performance.now();
      }
      const end = performance.now();
      return {
        // what the collector accepted (a refused post would show here as a lower rate)
        ingestRate: l.state.accepted / ((end - start) / 1000),
        backlog,
        catchUpSeconds: (end - t0) / 1000,
        deliveredRate: (delivered() - d0) / ((end - (first || t0)) / 1000),
      };
    } finally {
      await l.stop();
    }
  });
}

/** Scenario 3's table row for one exporter at one steady rate: medians of `runs` runs. */
async function catchUpRow(type: 'loki' | 'elasticsearch', rate: number, seconds: number, runs: number): Promise<Record<string, string | number>> {
  const c: Array<{ ingestRate: number; backlog: number; catchUpSeconds: number; deliveredRate: number }> = [];
  for (let r = 0; r < runs; r++) c.push(await catchUpAtSteadyLoad(type, rate, seconds));
  const ingestRate = median(c.map((x) => x.ingestRate));
  const deliveredRate = median(c.map((x) => x.deliveredRate));
  return {
    exporter: type,
    'ingest rec/s (steady)': Math.round(ingestRate),
    'backlog records': Math.round(median(c.map((x) => x.backlog))),
    'delivered rec/s while catching up': Math.round(deliveredRate),
    'delivered / ingest': Math.round((deliveredRate / ingestRate) * 10) / 10,
    'catch-up s': Math.round(median(c.map((x) => x.catchUpSeconds)) * 10) / 10,
  };
}

/**
 * Scenario 4: a Loki and an Elasticsearch exporter in one collector, load at full speed (or at a
 * steady `rate`) for `seconds` after a 2 s warm-up, with `down` (if any) down from the start:
 * records/s accepted and delivered to each sink, the 99th percentile of an accepted post's time
 * to its answer, and the median of each sink's lag behind ingest (records accepted, not yet there;
 * sampled every 100 ms).
 */
async function oneBackendDown(down: 'none' | 'loki' | 'elasticsearch', seconds: number, rate?: number) {
  const loki = await startLokiServer({ keepEntries: false });
  const es = await startElasticsearchServer({ keepDocuments: false });
  const collector = await startCollectorProcess({
    configYaml: `store:\n  search:\n    indexInterval: 1s\nexporters:\n${exporterEntry('loki', 'loki', loki.url)}${exporterEntry('elasticsearch', 'es', es.url)}`,
  });
  try {
    if (down === 'loki') await loki.setFault({ mode: 'down' });
    if (down === 'elasticsearch') await es.setFault({ mode: 'down' });
    const l = load(collector.httpPort, rate);
    await sleep(2000);
    const [a0, l0, e0, p0] = [l.state.accepted, loki.accepted, es.created, l.state.latencies.length];
    const t0 = performance.now();
    const lag = { loki: [] as number[], es: [] as number[] };
    for (const end = t0 + seconds * 1000; performance.now() < end; await sleep(100)) {
      lag.loki.push(l.state.accepted - loki.accepted);
      lag.es.push(l.state.accepted - es.created);
    }
    const s = (performance.now() - t0) / 1000;
    const result = {
      ingest: (l.state.accepted - a0) / s,
      loki: (loki.accepted - l0) / s,
      es: (es.created - e0) / s,
      refused: l.state.refused,
      p99Ms: percentile(l.state.latencies.slice(p0), 0.99),
      lokiLag: median(lag.loki),
      esLag: median(lag.es),
    };
    await l.stop();
    return result;
  } finally {
    await collector.dispose();
    await loki.close();
    await es.close();
  }
}

/** Scenario 4's table: medians of `runs` runs of each case, taken in turns, at full speed and at `rate`. */
async function isolationRows(seconds: number, runs: number, rate: number): Promise<Array<Record<string, string | number>>> {
  const rows: Array<Record<string, string | number>> = [];
  for (const load of [undefined, rate]) {
    const cases = ['none', 'loki', 'elasticsearch'] as const;
    const results = new Map<string, Array<Awaited<ReturnType<typeof oneBackendDown>>>>(cases.map((c) => [c, []]));
    for (let r = 0; r < runs; r++) for (const c of cases) results.get(c)!.push(await oneBackendDown(c, seconds, load));
    type Key = keyof Awaited<ReturnType<typeof oneBackendDown>>;
    const med = (c: string, key: Key) => median(results.get(c)!.map((x) => x[key]));
    const ratio = (c: string, key: Key) => (c === 'none' ? '' : `${(med(c, key) / med('none', key)).toFixed(2)}×`);
    for (const c of cases) {
      const other = c === 'loki' ? 'es' : 'loki';
      rows.push({
        load: load ? `${load / 1000} k rec/s` : 'full speed',
        down: c,
        'ingest rec/s': Math.round(med(c, 'ingest')),
        'vs all up': ratio(c, 'ingest'),
        'loki | es delivered rec/s': `${Math.round(med(c, 'loki'))} | ${Math.round(med(c, 'es'))}`,
        'other exporter vs all up': ratio(c, other),
        'loki | es lag k rec': `${(med(c, 'lokiLag') / 1000).toFixed(1)} | ${(med(c, 'esLag') / 1000).toFixed(1)}`,
        '2xx p99 ms': Math.round(med(c, 'p99Ms')),
        'refused rec': Math.round(med(c, 'refused')),
      });
    }
  }
  return rows;
}

export async function benchExporters(seconds = 8, runs = 3): Promise<Array<Record<string, string | number>>> {
  const rows: Array<Record<string, string | number>> = [];
  const baseline: number[] = [];
  for (let r = 0; r < runs; r++) baseline.push(await ingestOnly(seconds));
  rows.push({ exporter: '(none)', 'ingest rec/s (all up)': Math.round(median(baseline)) });
  type Live = { ingest: number; delivered: number; unsentStart: number; unsentEnd: number; collectorUs: number; benchUs: number };
  const liveColumns = (s: Live[]) => ({
    'ingest rec/s (all up)': Math.round(median(s.map((x) => x.ingest))),
    'delivered rec/s (all up)': Math.round(median(s.map((x) => x.delivered))),
    'unsent k start → end': `${Math.round(median(s.map((x) => x.unsentStart)) / 1000)} → ${Math.round(median(s.map((x) => x.unsentEnd)) / 1000)}`,
    'live CPU µs/rec collector | sink+load': `${median(s.map((x) => x.collectorUs)).toFixed(1)} | ${median(s.map((x) => x.benchUs)).toFixed(1)}`,
  });
  // A forwarding collector (store.search.enabled: false), run right after each Loki live run so
  // both meet the machine in the same state.
  const forward: Live[] = [];
  for (const type of ['loki', 'elasticsearch'] as const) {
    const s: Live[] = [];
    const d: Array<{ backlog: number; buildRate: number; drainRate: number; collectorUs: number; sinkUs: number }> = [];
    for (let r = 0; r < runs; r++) {
      s.push(await sustained(type, seconds));
      if (type === 'loki') forward.push(await sustained(type, seconds, false));
      d.push(await drainAfterOutage(type, seconds));
    }
    const buildRate = median(d.map((x) => x.buildRate));
    const drainRate = median(d.map((x) => x.drainRate));
    rows.push({
      exporter: type,
      ...liveColumns(s),
      'backlog built at rec/s': Math.round(buildRate),
      'backlog records': Math.round(median(d.map((x) => x.backlog))),
      'drain rec/s': Math.round(drainRate),
      'drain / build': Math.round((drainRate / buildRate) * 10) / 10,
      'drain CPU µs/rec collector | sink': `${median(d.map((x) => x.collectorUs)).toFixed(1)} | ${median(d.map((x) => x.sinkUs)).toFixed(1)}`,
    });
  }
  rows.push({ exporter: 'loki, search off', ...liveColumns(forward) });
  printTable(`Exporters: ingest → sink, and drain after an outage (medians of ${runs} runs, ${seconds} s each)`, rows);
  const catchUpRows: Array<Record<string, string | number>> = [];
  for (const type of ['loki', 'elasticsearch'] as const) {
    for (const rate of CATCH_UP_RATES) catchUpRows.push(await catchUpRow(type, rate, 2 * seconds, runs));
  }
  printTable(`Exporters: catch-up after a ${2 * seconds} s outage while ingest goes on at a steady rate (medians of ${runs} runs)`, catchUpRows);
  const isolation = await isolationRows(seconds, runs, CATCH_UP_RATES[0]);
  printTable(`Exporters: one backend down, the other exporter and ingest against all up (Loki + Elasticsearch in one collector; medians of ${runs} runs, ${seconds} s each)`, isolation);
  return [...rows, ...catchUpRows, ...isolation];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [seconds, runs] = process.argv.slice(2).map(Number);
  await benchExporters(seconds || 8, runs || 3);
}
