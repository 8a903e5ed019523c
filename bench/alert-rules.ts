// Rule evaluation cost: 1 000 rules over 10 000 series, one evaluation round (target < 200 ms).
// Run: node bench/alert-rules.ts   (or through `npm run bench`, which imports benchAlertRules).
//
// Data: 100 metric names × 100 series (host h00…h99, 4 regions, 2 envs), 15 s samples over the last
// 10 minutes; 10 of the names are histograms (10 buckets). Rules: 1 000, each over one name with
// one label matcher and a 5 m window, cycling through last/avg/max/min/sum/rate/increase (p95/p99 on
// histograms) and groupBy none/host/region — ~38 000 alert instances. 1 % of the series cross
// their threshold every round, so each round also runs transitions, SQLite writes and deliveries.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeClock } from '../alerting/src/clock.ts';
import { defaultRulesConfig } from '../alerting/src/config.ts';
import { AlertingEngine } from '../alerting/src/rules/engine.ts';
import { InMemoryMetricSource } from '../alerting/src/rules/sources.ts';

export interface AlertRulesBenchResult {
  rules: number;
  series: number;
  instances: number;
  firstRoundMs: number;
  medianRoundMs: number;
  /** CPU time (user + system) of the median round: the figure to trust when other work shares the cores. */
  medianRoundCpuMs: number;
  maxRoundMs: number;
  rounds: number;
  transitionsPerRound: number;
  firstRoundTransitions: number;
  targetMs: number;
}

const NAMES = 100;
const PER_NAME = 100;
const HISTOGRAM_NAMES = 10;
const STEP = 15_000;
const LE = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function seriesLabels(j: number): Record<string, string> {
  return { host: `h${String(j).padStart(2, '0')}`, region: ['eu-west', 'eu-north', 'us-east', 'ap-south'][j % 4], env: j % 10 === 0 ? 'dev' : 'prod', service: 'api' };
}

/** Value of series (name i, series j) at step k: stable, except 1 % that toggle every step. */
function valueAt(i: number, j: number, k: number): number {
  const base = ((i * 31 + j * 17) % 80) + 5; // 5 … 84, below the threshold 90
  const toggles = (i * 100 + j) % 100 === 7;
  return toggles && k % 2 === 1 ? 99 : base;
}

function addStep(m: InMemoryMetricSource, t: number, k: number): void {
  for (let i = 0; i < NAMES; i++) {
    for (let j = 0; j < PER_NAME; j++) {
      const labels = seriesLabels(j);
      if (i < HISTOGRAM_NAMES) {
        const perStep = 10 + ((i + j) % 5);
        const counts = LE.map((_, b) => (k + 1) * perStep * (b < 6 ? 2 : 1));
        counts.push((k + 1) * (j % 7 === 0 ? 5 : 0));
        m.addHistogram(`hist_${i}_seconds`, labels, t, LE, counts);
      } else if (i < 40) {
        m.add(`requests_${i}_total`, labels, t, (k + 1) * valueAt(i, j, k), 'counter');
      } else {
        m.add(`gauge_${i}`, labels, t, valueAt(i, j, k), 'gauge');
      }
    }
  }
}

function metricName(i: number): string {
  return i < HISTOGRAM_NAMES ? `hist_${i}_seconds` : i < 40 ? `requests_${i}_total` : `gauge_${i}`;
}

function makeRules(): unknown[] {
  const rules: unknown[] = [];
  const matchers = ['env!="dev"', 'region=~"eu-.*"', 'service="api"', 'host!~"h9."'];
  const groupBys = [[], ['host'], ['region']];
  for (let r = 0; r < 1000; r++) {
    const i = r % NAMES;
    const name = metricName(i);
    const aggregation = i < HISTOGRAM_NAMES ? (r % 2 ? 'p95' : 'p99') : i < 40 ? ['rate', 'increase'][r % 2] : ['last', 'avg', 'max', 'min', 'sum'][r % 5];
    const threshold = aggregation === 'rate' ? 5 : aggregation === 'increase' ? 2000 : aggregation === 'sum' ? 2000 : aggregation.startsWith('p') ? 4 : 90;
    rules.push({
      id: `rule-${r}`,
      name: `Bench${r}`,
      kind: 'metric',
      selector: `${name}{${matchers[r % matchers.length]}}`,
      aggregation,
      window: '5m',
      groupBy: groupBys[r % groupBys.length],
      combine: aggregation.startsWith('p') ? undefined : 'max',
      threshold,
      clearThreshold: threshold * 0.9,
      labels: { team: 'bench' },
      annotations: { summary: '{{ $labels.host }} at {{ $value }}' },
    });
  }
  return rules;
}

export async function benchAlertRules(options: { rounds?: number; log?: (line: string) => void } = {}): Promise<AlertRulesBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const rounds = options.rounds ?? 9;
  const dir = mkdtempSync(join(tmpdir(), 'periscope-bench-rules-'));
  const clock = new FakeClock(Date.UTC(2025, 0, 1));
  const metrics = new InMemoryMetricSource({ retentionMs: 15 * 60_000 });
  let k = 0;
  for (; k < 40; k++) addStep(metrics, clock.now() - (40 - k) * STEP, k);
  let transitions = 0;
  const engine = new AlertingEngine({
    sink: { onTransition: () => void transitions++ },
    dataDir: dir,
    clock,
    metrics,
    rules: makeRules(),
    autoEvaluate: false,
    config: defaultRulesConfig({ flapping: { enabled: true, window: 21, high: 20, low: 5 } }),
  });
  await engine.start();
  try {
    const first = await engine.evaluateAll();
    await engine.flush();
    const firstTransitions = transitions;
    const times: number[] = [];
    const cpu: number[] = [];
    const before = transitions;
    for (let r = 0; r < rounds; r++) {
      clock.advance(STEP);
      addStep(metrics, clock.now(), k++);
      const c0 = process.cpuUsage();
      const round = await engine.evaluateAll();
      const c1 = process.cpuUsage(c0);
      times.push(round.durationMs);
      cpu.push((c1.user + c1.system) / 1000);
      await engine.flush();
    }
    times.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    const stats = engine.stats();
    const result: AlertRulesBenchResult = {
      rules: stats.rules,
      series: metrics.seriesCount(),
      instances: stats.instances,
      firstRoundMs: Math.round(first.durationMs * 10) / 10,
      medianRoundMs: Math.round(times[Math.floor(times.length / 2)] * 10) / 10,
      medianRoundCpuMs: Math.round(cpu[Math.floor(cpu.length / 2)] * 10) / 10,
      maxRoundMs: Math.round(times[times.length - 1] * 10) / 10,
      rounds,
      transitionsPerRound: Math.round((transitions - before) / rounds),
      firstRoundTransitions: firstTransitions,
      targetMs: 200,
    };
    log(
      `alert rules: ${result.rules} rules over ${result.series} series (${result.instances} instances): ` +
        `first round ${result.firstRoundMs} ms (${result.firstRoundTransitions} transitions), median ${result.medianRoundMs} ms (CPU ${result.medianRoundCpuMs} ms), max ${result.maxRoundMs} ms over ${rounds} rounds ` +
        `(~${result.transitionsPerRound} transitions/round; target < ${result.targetMs} ms) ${result.medianRoundMs < result.targetMs ? 'OK' : 'OVER TARGET'}`,
    );
    return result;
  } finally {
    await engine.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchAlertRules();
  if (r.medianRoundMs >= r.targetMs) process.exitCode = 1;
}
