import { mkdtempSync as mkdtempRaw, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock.ts';
import { defaultRulesConfig, type RulesConfig } from '../config.ts';
import { ALERT_ERR } from '../errors.ts';
import { AlertStore } from '../state/store.ts';
import type { AlertEvent, AlertSink } from '../types.ts';
import { AlertingEngine, type AlertingEngineOptions } from './engine.ts';
import { InMemoryLogCountSource, InMemoryMetricSource } from './sources.ts';

const T0 = Date.UTC(2025, 0, 1, 12);
const S = 1000;
const noFlap = { enabled: false, window: 21, high: 20, low: 5 };

const engines: AlertingEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.shutdown()));
});
const dirs: string[] = [];
const mkdtempSync = (prefix: string) => {
  const d = mkdtempRaw(prefix);
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Harness {
  engine: AlertingEngine;
  clock: FakeClock;
  metrics: InMemoryMetricSource;
  logs: InMemoryLogCountSource;
  events: AlertEvent[];
  dir: string;
  /** Sets cpu{host} to v at the current time. */
  cpu(host: string, v: number): void;
  /** Moves the clock, then evaluates every rule once and waits for deliveries. */
  tick(ms?: number): Promise<void>;
  states(): string[];
}

async function harness(rules: unknown[], options: Omit<Partial<AlertingEngineOptions>, 'config'> & { config?: Partial<RulesConfig>; dir?: string; clock?: FakeClock; metrics?: InMemoryMetricSource } = {}): Promise<Harness> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
  const clock = options.clock ?? new FakeClock(T0);
  const metrics = options.metrics ?? new InMemoryMetricSource();
  const logs = new InMemoryLogCountSource();
  const events: AlertEvent[] = [];
  const sink: AlertSink = options.sink ?? { onTransition: (e) => void events.push(e) };
  const engine = new AlertingEngine({
    sink,
    dataDir: dir,
    clock,
    metrics,
    logs,
    rules,
    autoEvaluate: false,
    config: defaultRulesConfig({ flapping: noFlap, noDataGraceMs: 0, ...options.config }),
    logger: options.logger ?? { warn: () => {}, error: () => {} },
    ...(options.autoEvaluate !== undefined ? { autoEvaluate: options.autoEvaluate } : {}),
    ...(options.prometheus ? { prometheus: options.prometheus } : {}),
  });
  engines.push(engine);
  await engine.start();
  const h: Harness = {
    engine, clock, metrics, logs, events, dir,
    cpu: (host, v) => metrics.add('cpu', { host }, clock.now(), v),
    async tick(ms = 15 * S) {
      clock.advance(ms);
      await engine.evaluateAll();
      await engine.flush();
    },
    states: () => events.map((e) => `${e.labels.host ?? ''}:${e.previousState}->${e.state}`),
  };
  return h;
}

const cpuRule = (extra: Record<string, unknown> = {}) => ({
  id: 'cpu',
  name: 'HighCpu',
  kind: 'metric',
  selector: 'cpu',
  aggregation: 'last',
  window: '1m',
  groupBy: ['host'],
  threshold: 90,
  severity: 'critical',
  labels: { team: 'infra' },
  annotations: { summary: 'CPU on {{ $labels.host }} at {{ $value }}%' },
  ...extra,
});

describe('AlertingEngine: transitions to the sink', () => {
  it('fires and resolves with templated labels/annotations, stable fingerprint, increasing transitionId', async () => {
    const h = await harness([cpuRule()]);
    h.cpu('web-1', 50);
    await h.tick(1);
    expect(h.events).toEqual([]);
    h.clock.advance(15 * S);
    h.cpu('web-1', 95);
    const firedAt = h.clock.now();
    await h.tick(0);
    h.clock.advance(15 * S);
    h.cpu('web-1', 40);
    const resolvedAt = h.clock.now();
    await h.tick(0);
    expect(h.states()).toEqual(['web-1:inactive->firing', 'web-1:firing->resolved']);
    const [firing, resolved] = h.events;
    expect(firing).toMatchObject({
      ruleId: 'cpu',
      ruleName: 'HighCpu',
      labels: { alertname: 'HighCpu', host: 'web-1', severity: 'critical', team: 'infra' },
      annotations: { summary: 'CPU on web-1 at 95%' },
      severity: 'critical',
      value: 95,
      startsAt: new Date(firedAt).toISOString(),
      flapping: false,
    });
    expect(firing.endsAt).toBeUndefined();
    expect(resolved).toMatchObject({ fingerprint: firing.fingerprint, value: 40, endsAt: new Date(resolvedAt).toISOString(), startsAt: firing.startsAt });
    expect(firing.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(resolved.transitionId).toBeGreaterThan(firing.transitionId);
  });

  it('runs on its own timers: pending after the breach, firing once `for` has passed', async () => {
    const h = await harness([cpuRule({ interval: '10s', for: '30s', groupBy: [] })], { autoEvaluate: true });
    h.cpu('web-1', 95);
    // Samples keep coming every 5 s; the rule evaluates every 10 s on the fake clock.
    for (let i = 0; i < 12; i++) {
      await h.clock.advanceAsync(5 * S);
      h.cpu('web-1', 95);
    }
    await h.engine.flush();
    expect(h.events.map((e) => e.state)).toEqual(['pending', 'firing']);
    const pendingAt = Date.parse(h.events[0].startsAt);
    const firingEval = h.engine.alerts()[0];
    expect(firingEval.state).toBe('firing');
    expect(Date.parse(firingEval.since) - pendingAt).toBeGreaterThanOrEqual(30 * S);
    expect(Date.parse(firingEval.since) - pendingAt).toBeLessThan(40 * S);
    expect(h.engine.stats().evaluations).toBeGreaterThanOrEqual(5);
    // On timers there is no evaluateAll round: the figure is the slowest rule's last evaluation.
    expect(h.engine.stats().lastRoundMs).toEqual(expect.any(Number));
  });

  it('keepFiringFor holds a firing alert through a short dip', async () => {
    const h = await harness([cpuRule({ keepFiringFor: '40s' })]);
    h.cpu('web-1', 95);
    await h.tick(1);
    for (let i = 0; i < 2; i++) {
      h.clock.advance(15 * S);
      h.cpu('web-1', 10);
      await h.tick(0);
    }
    expect(h.states()).toEqual(['web-1:inactive->firing']);
    h.clock.advance(15 * S);
    h.cpu('web-1', 10);
    await h.tick(0);
    expect(h.states()).toEqual(['web-1:inactive->firing', 'web-1:firing->resolved']);
  });

  it('hysteresis: fires above 90, stays firing at 85, resolves below 80', async () => {
    const h = await harness([cpuRule({ clearThreshold: 80 })]);
    for (const v of [85, 91, 85, 81, 79, 85]) {
      h.clock.advance(15 * S);
      h.cpu('web-1', v);
      await h.tick(0);
    }
    expect(h.states()).toEqual(['web-1:inactive->firing', 'web-1:firing->resolved']);
    expect(h.events[1].value).toBe(79);
  });

  it('missing data while firing is nodata, never resolved; data back resumes', async () => {
    const h = await harness([cpuRule()]);
    h.cpu('web-1', 95);
    await h.tick(1);
    // no samples for 2 minutes: the 1 m window empties
    for (let i = 0; i < 8; i++) await h.tick(15 * S);
    expect(h.states()).toEqual(['web-1:inactive->firing', 'web-1:firing->nodata']);
    expect(h.engine.alerts()[0]).toMatchObject({ state: 'nodata', value: null });
    h.cpu('web-1', 96);
    await h.tick(1);
    expect(h.states()).toEqual(['web-1:inactive->firing', 'web-1:firing->nodata', 'web-1:nodata->firing']);
    expect(h.events[2].startsAt).toBe(h.events[0].startsAt);
  });

  it('one host of a grouped rule going silent while others report goes nodata alone with missingSeries: nodata', async () => {
    const h = await harness([cpuRule({ missingSeries: 'nodata' })]);
    h.cpu('web-1', 95);
    h.cpu('web-2', 95);
    await h.tick(1);
    for (let i = 0; i < 6; i++) {
      h.clock.advance(15 * S);
      h.cpu('web-2', 95);
      await h.tick(0);
    }
    expect(h.states().sort()).toEqual(['web-1:firing->nodata', 'web-1:inactive->firing', 'web-2:inactive->firing']);
  });

  it('a pod scaled away or replaced while others report resolves (Prometheus, Grafana stale instances), and leaves the list', async () => {
    const h = await harness([cpuRule({ groupBy: ['pod'], selector: 'cpu' })], { config: { resolvedRetentionMs: 60 * S } });
    const pod = (name: string, v: number) => h.metrics.add('cpu', { pod: name }, h.clock.now(), v);
    pod('api-7f9c-a', 95);
    pod('api-7f9c-b', 95);
    await h.tick(1);
    // a deploy replaces pod a by pod c; b keeps reporting
    for (let i = 0; i < 8; i++) {
      h.clock.advance(15 * S);
      pod('api-7f9c-b', 95);
      pod('api-8d2e-c', 95);
      await h.tick(0);
    }
    const transitions = h.events.map((e) => `${e.labels.pod}:${e.previousState}->${e.state}`);
    expect(transitions.filter((t) => t.startsWith('api-7f9c-a'))).toEqual(['api-7f9c-a:inactive->firing', 'api-7f9c-a:firing->resolved']);
    const resolved = h.events.find((e) => e.labels.pod === 'api-7f9c-a' && e.state === 'resolved')!;
    expect(resolved).toMatchObject({ value: 95, annotations: { summary: 'CPU on  at 95%' } }); // its last value, not NaN
    expect(h.events.some((e) => e.state === 'nodata')).toBe(false);
    expect(h.engine.alerts().map((a) => a.labels.pod).sort()).toEqual(['api-7f9c-b', 'api-8d2e-c']);
  });

  it('a series still there but with too few samples for its rate is not taken for gone (no resolved notice)', async () => {
    const h = await harness([cpuRule({ groupBy: ['pod'], selector: 'reqs', aggregation: 'rate', window: '30s', threshold: 1 })]);
    const add = (pod: string, v: number) => h.metrics.add('reqs', { pod }, h.clock.now(), v);
    add('a', 0);
    add('b', 0);
    h.clock.advance(10 * S);
    add('a', 100);
    add('b', 100);
    await h.tick(0);
    expect(h.states().sort()).toEqual([':inactive->firing', ':inactive->firing']);
    for (const t of [10, 20, 30]) {
      h.clock.advance(10 * S);
      add('b', 100 + t * 10);
      if (t === 30) add('a', 400); // a exports less often: one sample in the 30 s window
    }
    await h.tick(5 * S);
    expect(h.events.filter((e) => e.labels.pod === 'a').map((e) => e.state)).toEqual(['firing', 'nodata']);
  });

  it('a vanished series of a firing alert keeps firing for keepFiringFor, then resolves', async () => {
    const h = await harness([cpuRule({ keepFiringFor: '1m', window: '15s' })]);
    h.cpu('web-1', 95);
    h.cpu('web-2', 10);
    await h.tick(1);
    for (let i = 0; i < 6; i++) {
      h.clock.advance(15 * S);
      h.cpu('web-2', 10);
      await h.tick(0);
      if (i < 2) expect(h.states()).toEqual(['web-1:inactive->firing']);
    }
    expect(h.states()).toEqual(['web-1:inactive->firing', 'web-1:firing->resolved']);
  });

  it('limit (Prometheus): a result over it is one error alert, not an alert per series; back under it, alerts as usual', async () => {
    const h = await harness([cpuRule({ groupBy: ['pod'], limit: 3 })]);
    const pod = (name: string, v: number) => h.metrics.add('cpu', { pod: name }, h.clock.now(), v);
    for (let i = 0; i < 50; i++) pod(`p${i}`, i < 3 ? 95 : 10); // 50 series, 3 breaching: within the limit
    await h.tick(1);
    expect(h.events.map((e) => e.state)).toEqual(['firing', 'firing', 'firing']);
    h.events.length = 0;
    h.clock.advance(15 * S);
    for (let i = 0; i < 50; i++) pod(`p${i}`, 95); // the expression suddenly matches every series
    await h.tick(0);
    expect(h.events.map((e) => `${e.labels.pod}:${e.state}`).sort()).toEqual(['p0:error', 'p1:error', 'p2:error']);
    expect(h.events[0].error).toBe('exceeded limit of 3 with 50 alerts');
    expect(h.engine.getRule('cpu')).toMatchObject({ health: 'error', firing: 0, lastError: 'exceeded limit of 3 with 50 alerts' });
    h.events.length = 0;
    h.clock.advance(15 * S);
    for (let i = 0; i < 50; i++) pod(`p${i}`, i === 0 ? 95 : 10);
    await h.tick(0);
    expect(h.events.map((e) => `${e.labels.pod}:${e.previousState}->${e.state}`).sort()).toEqual(['p0:error->firing', 'p1:error->resolved', 'p2:error->resolved']);
  });

  it('limit: with no alert open, going over it raises one rule-level error alert', async () => {
    const h = await harness([cpuRule({ groupBy: ['pod'], limit: 10 })]);
    for (let i = 0; i < 1000; i++) h.metrics.add('cpu', { pod: `p${i}` }, h.clock.now(), 95);
    await h.tick(1);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ state: 'error', error: 'exceeded limit of 10 with 1000 alerts', labels: { alertname: 'HighCpu' } });
    expect(h.events[0].labels.pod).toBeUndefined();
  });

  it('after a restart, a series not pushed again yet does not resolve during noDataGrace though others are back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const clock = new FakeClock(T0);
    const first = await harness([cpuRule()], { dir, clock, config: { noDataGraceMs: 60 * S } });
    first.cpu('web-1', 95);
    first.cpu('web-2', 95);
    await first.tick(1);
    await first.engine.shutdown();
    const second = await harness([cpuRule()], { dir, clock, config: { noDataGraceMs: 60 * S } });
    second.cpu('web-2', 95); // web-2 pushed first
    await second.tick(15 * S);
    expect(second.events).toEqual([]);
    second.cpu('web-1', 96);
    await second.tick(15 * S);
    expect(second.events).toEqual([]);
  });

  it('a rule with no data at all raises one rule-level nodata alert, resolved when data arrives', async () => {
    const h = await harness([cpuRule()]);
    await h.tick(1);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ state: 'nodata', labels: { alertname: 'HighCpu', severity: 'critical', team: 'infra' } });
    h.cpu('web-1', 10);
    await h.tick(1);
    expect(h.events.map((e) => `${e.labels.host ?? '(rule)'}:${e.state}`)).toEqual(['(rule):nodata', '(rule):resolved']);
  });

  it('with `for`, a gap shorter than `for` notifies nobody; a longer one raises nodata (Grafana)', async () => {
    const h = await harness([cpuRule({ for: '1m' })]);
    // pending, and an aborted pending (sent as resolved of an alert that never fired), notify nobody
    const notified = () => h.events.filter((e) => e.state !== 'pending' && !(e.state === 'resolved' && e.previousState === 'pending')).map((e) => `${e.labels.host ?? '(rule)'}:${e.state}`);
    await h.tick(1);
    await h.tick(30 * S);
    expect(h.engine.alerts().map((a) => a.state)).toEqual(['pending']);
    h.cpu('web-1', 10); // the first push arrives within `for`
    await h.tick(1);
    expect(h.engine.alerts()).toEqual([]);
    await h.tick(2 * 60 * S); // web-1's series is out of the window: no data again
    for (let i = 0; i < 4; i++) await h.tick(15 * S);
    expect(notified()).toEqual(['(rule):nodata']);
  });

  it('after a start, missing data is reported only once noDataGrace is over', async () => {
    const h = await harness([cpuRule()], { config: { noDataGraceMs: 60 * S } });
    await h.tick(1);
    await h.tick(45 * S);
    expect(h.events).toEqual([]);
    await h.tick(15 * S); // 60 s after start
    expect(h.events.map((e) => `${e.labels.host ?? '(rule)'}:${e.state}`)).toEqual(['(rule):nodata']);
  });

  it.each([
    { name: 'nodata', noData: 'nodata' },
    { name: 'ok', noData: 'ok' },
  ])('a firing alert whose series is not pushed again yet after a restart keeps firing during noDataGrace (noData $name)', async ({ noData }) => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const clock = new FakeClock(T0);
    const rule = cpuRule({ noData });
    const first = await harness([rule], { dir, clock, config: { noDataGraceMs: 60 * S } });
    first.cpu('web-1', 95);
    await first.tick(1);
    expect(first.states()).toEqual(['web-1:inactive->firing']);
    await first.engine.shutdown();
    const second = await harness([rule], { dir, clock, config: { noDataGraceMs: 60 * S } }); // empty metric store, as after a collector restart
    await second.tick(15 * S);
    await second.tick(30 * S);
    expect(second.events).toEqual([]);
    expect(second.engine.alerts().map((a) => a.state)).toEqual(['firing']);
    second.metrics.add('cpu', { host: 'web-1' }, clock.now(), 96); // the sender pushed again
    await second.tick(1);
    expect(second.events).toEqual([]);
  });

  it.each([
    { name: 'keepLast keeps firing', noData: 'keepLast', want: ['firing'] },
    { name: 'ok resolves', noData: 'ok', want: ['firing', 'resolved'] },
    { name: 'alerting keeps firing', noData: 'alerting', want: ['firing'] },
    { name: 'nodata (default) goes nodata', noData: 'nodata', want: ['firing', 'nodata'] },
  ])('noData policy $name', async ({ noData, want }) => {
    const h = await harness([cpuRule({ noData, groupBy: [] })]);
    h.cpu('web-1', 95);
    await h.tick(1);
    await h.tick(2 * 60 * S);
    expect(h.events.map((e) => e.state)).toEqual(want);
  });

  it('a failing evaluation is error, never resolved, and recovers', async () => {
    let broken = false;
    const metrics = new InMemoryMetricSource();
    const select = metrics.select.bind(metrics);
    metrics.select = (...args) => {
      if (broken) throw new Error('metric store unavailable');
      return select(...args);
    };
    const h = await harness([cpuRule()], { metrics });
    h.cpu('web-1', 95);
    await h.tick(1);
    broken = true;
    await h.tick(1);
    await h.tick(1);
    expect(h.states()).toEqual(['web-1:inactive->firing', 'web-1:firing->error']);
    expect(h.events[1].error).toBe('metric store unavailable');
    expect(h.engine.getRule('cpu')).toMatchObject({ health: 'error', lastError: 'metric store unavailable' });
    broken = false;
    h.cpu('web-1', 20);
    await h.tick(1);
    expect(h.states()).toEqual(['web-1:inactive->firing', 'web-1:firing->error', 'web-1:error->resolved']);
  });

  it('onError: keepLast leaves the alerts as they were while evaluations fail (as Prometheus does), the rule still showing the error', async () => {
    let broken = false;
    const metrics = new InMemoryMetricSource();
    const select = metrics.select.bind(metrics);
    metrics.select = (...args) => {
      if (broken) throw new Error('metric store unavailable');
      return select(...args);
    };
    const h = await harness([cpuRule({ onError: 'keepLast', groupBy: ['pod'] })], { metrics });
    for (let i = 0; i < 20; i++) h.metrics.add('cpu', { pod: `p${i}` }, h.clock.now(), 95);
    await h.tick(1);
    expect(h.events).toHaveLength(20);
    broken = true;
    await h.tick(1);
    await h.tick(1);
    expect(h.events).toHaveLength(20);
    expect(h.engine.alerts().map((a) => a.state)).toEqual(Array(20).fill('firing'));
    expect(h.engine.getRule('cpu')).toMatchObject({ health: 'error', lastError: 'metric store unavailable' });
  });

  it('log absence rule fires when the service goes quiet', async () => {
    const h = await harness([{ name: 'CheckoutQuiet', kind: 'log', mode: 'absence', filter: { service: 'checkout' }, window: '1m' }]);
    h.logs.add(h.clock.now() - 1000, { service: 'checkout' });
    await h.tick(1);
    await h.tick(90 * S);
    expect(h.events.map((e) => `${e.state}:${e.value}`)).toEqual(['firing:0']);
  });
});

describe('AlertingEngine: housekeeping', () => {
  it('resolved alerts leave the list after resolvedRetention; instances no longer evaluated are forgotten', async () => {
    const h = await harness([cpuRule()], { config: { resolvedRetentionMs: 60 * S } });
    h.cpu('web-1', 95);
    h.cpu('web-2', 10);
    await h.tick(1);
    h.clock.advance(15 * S);
    h.cpu('web-1', 10);
    h.cpu('web-2', 10);
    await h.tick(0);
    expect(h.engine.alerts({ states: ['resolved'] }).map((a) => a.labels.host)).toEqual(['web-1']);
    // web-1 keeps reporting (still evaluated); web-2 stops (its series leaves the 1 m window).
    for (let i = 0; i < 6; i++) {
      h.clock.advance(15 * S);
      h.cpu('web-1', 10);
      await h.tick(0);
    }
    expect(h.engine.alerts({ states: ['resolved'] })).toEqual([]);
    expect(h.engine.alerts({ states: ['inactive'] }).map((a) => a.labels.host)).toEqual(['web-1']);
    expect(h.engine.stats().instances).toBe(1);
    expect(h.states()).toEqual(['web-1:inactive->firing', 'web-1:firing->resolved']); // nothing emitted by housekeeping
  });
});

describe('AlertingEngine: flapping', () => {
  it('suppresses notifications while flapping, says so, and re-syncs when it stops', async () => {
    const h = await harness([cpuRule({ groupBy: [] })], { config: { flapping: { enabled: true, window: 21, high: 20, low: 5 } } });
    const values = [95, 10, 95, 10, 95, 10, 95, 10, ...Array(25).fill(10)];
    for (const v of values) {
      h.clock.advance(15 * S);
      h.cpu('web-1', v);
      await h.tick(0);
    }
    const seen = h.events.map((e) => `${e.previousState}->${e.state}${e.flapping ? ' (flapping)' : ''}`);
    // 4 changes start flapping on the 5th evaluation; the flap-start transition is told once with
    // flapping=true; the 3 later oscillations are recorded but not sent; the stop re-syncs.
    expect(seen).toEqual(['inactive->firing', 'firing->resolved', 'resolved->firing', 'firing->resolved', 'resolved->firing (flapping)', 'firing->resolved']);
    expect(h.events[4].annotations.flapping).toContain('notifications are suppressed');
    const history = h.engine.history({ rule: 'cpu', limit: 100 });
    expect(history.filter((r) => r.delivery === 'suppressed')).toHaveLength(3);
    expect(history[0]).toMatchObject({ kind: 'flapping_stop', flap: 'stop', delivery: 'delivered', from: 'resolved', to: 'resolved' });
    expect(h.events[5]).toMatchObject({ flapping: false, previousState: 'firing', state: 'resolved' });
  });
});

describe('AlertingEngine: flapping that starts on a resolution', () => {
  it('the next breach is sent: while it flaps the alert stays open for the notification side', async () => {
    const h = await harness([cpuRule({ groupBy: [] })], { config: { flapping: { enabled: true, window: 21, high: 20, low: 5 } } });
    const values = [10, 95, 10, 95, 10, 95, 10, 95, 10, 95, ...Array(25).fill(10)];
    for (const v of values) {
      h.clock.advance(15 * S);
      h.cpu('web-1', v);
      await h.tick(0);
    }
    const seen = h.events.map((e) => `${e.previousState}->${e.state}${e.flapping ? ' (flapping)' : ''}`);
    expect(seen).toEqual(['inactive->firing', 'firing->resolved', 'resolved->firing', 'firing->resolved (flapping)', 'resolved->firing (flapping)', 'firing->resolved']);
  });
});

describe('AlertingEngine: rule limit', () => {
  it('counts the firing alerts keepFiringFor holds, as Prometheus does', async () => {
    const h = await harness([cpuRule({ keepFiringFor: '5m', limit: 2 })]);
    h.cpu('a', 95);
    h.cpu('b', 95);
    await h.tick(1);
    expect(h.engine.alerts().map((a) => a.state)).toEqual(['firing', 'firing']);
    // A minute later a is ok and b is gone (no sample in the 1m window), both still firing for
    // keepFiringFor; c breaches: three alerts.
    h.clock.advance(61 * S);
    h.cpu('a', 10);
    h.cpu('c', 95);
    await h.tick(0);
    expect(h.engine.getRule('cpu')).toMatchObject({ health: 'error', lastError: 'exceeded limit of 2 with 3 alerts' });
  });
});

describe('AlertingEngine: persistence', () => {
  it('a restart keeps a firing alert firing and emits nothing new; resolution continues the transitionIds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const clock = new FakeClock(T0);
    const metrics = new InMemoryMetricSource();
    const first = await harness([cpuRule({ keepFiringFor: '1m' })], { dir, clock, metrics });
    first.cpu('web-1', 95);
    await first.tick(1);
    expect(first.states()).toEqual(['web-1:inactive->firing']);
    const fired = first.events[0];
    await first.engine.shutdown();

    const second = await harness([cpuRule({ keepFiringFor: '1m' })], { dir, clock, metrics });
    expect(second.engine.alerts()).toMatchObject([{ fingerprint: fired.fingerprint, state: 'firing', startsAt: fired.startsAt }]);
    // keepFiringFor is measured from the last breach before the restart (persisted): 30 s later,
    // with the value back to normal, the alert still fires and nothing is emitted.
    clock.advance(30 * S);
    second.cpu('web-1', 10);
    await second.tick(0);
    expect(second.events).toEqual([]);
    expect(second.engine.alerts()[0].state).toBe('firing');
    clock.advance(35 * S);
    second.cpu('web-1', 10);
    await second.tick(0);
    expect(second.events).toHaveLength(1);
    expect(second.events[0]).toMatchObject({ fingerprint: fired.fingerprint, previousState: 'firing', state: 'resolved', startsAt: fired.startsAt });
    expect(second.events[0].transitionId).toBeGreaterThan(fired.transitionId);
  });

  it('a firing alert that keeps breaching is not rewritten at each evaluation (keepFiringFor), and a restart holds it from its last breach', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const clock = new FakeClock(T0);
    const first = await harness([cpuRule({ keepFiringFor: '1m' })], { dir, clock });
    first.cpu('web-1', 95);
    await first.tick(1);
    expect(first.states()).toEqual(['web-1:inactive->firing']);
    const save = vi.spyOn(AlertStore.prototype, 'saveInstance');
    try {
      for (let i = 0; i < 4; i++) {
        first.cpu('web-1', 95 + i);
        await first.tick(15 * S);
      }
      expect(save).not.toHaveBeenCalled();
    } finally {
      save.mockRestore();
    }
    await first.engine.shutdown(); // last breach: 60 s after the first
    const second = await harness([cpuRule({ keepFiringFor: '1m' })], { dir, clock });
    clock.advance(50 * S);
    second.cpu('web-1', 10);
    await second.tick(0);
    expect(second.events).toEqual([]);
    expect(second.engine.alerts()[0].state).toBe('firing');
    clock.advance(15 * S);
    second.cpu('web-1', 10);
    await second.tick(0);
    expect(second.states()).toEqual(['web-1:firing->resolved']);
  });

  it('a flap history that only shifts is not rewritten at each evaluation, and a restart has it as it would be without one', async () => {
    const config = { flapping: { enabled: true, window: 21, high: 20, low: 5 } };
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const metrics = new InMemoryMetricSource();
    const restarted = await harness([cpuRule()], { dir, clock: new FakeClock(T0), metrics, config });
    const steady = await harness([cpuRule()], { clock: new FakeClock(T0), config }); // never restarted
    const both = async (v: number) => {
      for (const h of [restarted, steady]) {
        h.cpu('web-1', v);
        await h.tick();
      }
    };
    for (const v of [95, 10, 95]) await both(v); // firing, resolved, firing: two changes in the history
    const save = vi.spyOn(AlertStore.prototype, 'saveInstance');
    try {
      for (let i = 0; i < 5; i++) await both(95);
      expect(save).not.toHaveBeenCalled();
    } finally {
      save.mockRestore();
    }
    await restarted.engine.shutdown();
    const again = await harness([cpuRule()], { dir, clock: restarted.clock, metrics, config });
    for (const h of [again, steady]) {
      h.cpu('web-1', 95);
      await h.tick();
    }
    const percent = steady.engine.alerts()[0].flapPercent;
    expect(percent).toBeGreaterThan(0);
    expect(again.engine.alerts()[0].flapPercent).toBe(percent);
  });

  it('an alert left untouched during noDataGrace is not taken, after another restart, for breaching at evaluations it missed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const clock = new FakeClock(T0);
    const rule = cpuRule({ keepFiringFor: '1m' });
    const config = { noDataGraceMs: 60 * S };
    const first = await harness([rule], { dir, clock, config });
    first.cpu('web-1', 95);
    first.cpu('web-2', 95);
    await first.tick(1);
    await first.engine.shutdown(); // both breached last now
    const second = await harness([rule], { dir, clock, config });
    for (let i = 0; i < 2; i++) {
      second.cpu('web-2', 95); // web-1 not pushed again yet: left as it was
      await second.tick(15 * S);
    }
    await second.engine.shutdown();
    const third = await harness([rule], { dir, clock, config });
    clock.advance(35 * S); // 65 s after web-1's last breach
    third.cpu('web-1', 10);
    third.cpu('web-2', 95);
    await third.tick(0);
    expect(third.states()).toEqual(['web-1:firing->resolved']);
  });

  it.each([
    { name: 'firing', value: 95, rule: cpuRule(), state: 'firing' },
    { name: 'pending (for keeps counting from before the restart)', value: 95, rule: cpuRule({ for: '1m' }), state: 'pending' },
    { name: 'nodata', value: null, rule: cpuRule({ groupBy: [] }), state: 'nodata' },
  ])('a restart while $name re-emits nothing', async ({ value, rule, state }) => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const clock = new FakeClock(T0);
    const metrics = new InMemoryMetricSource();
    const first = await harness([rule], { dir, clock, metrics });
    if (value !== null) first.cpu('web-1', value);
    await first.tick(1);
    expect(first.events.map((e) => e.state)).toEqual([state]);
    await first.engine.shutdown();
    const second = await harness([rule], { dir, clock, metrics });
    for (let i = 0; i < 3; i++) {
      clock.advance(15 * S);
      if (value !== null) second.cpu('web-1', value);
      await second.tick(0);
    }
    if (state === 'pending') {
      // 46 s after the first breach: still pending; at 61 s it fires (timer not restarted).
      expect(second.events).toEqual([]);
      clock.advance(15 * S);
      second.cpu('web-1', 95);
      await second.tick(0);
      expect(second.events.map((e) => `${e.previousState}->${e.state}`)).toEqual(['pending->firing']);
    } else {
      expect(second.events).toEqual([]);
      expect(second.engine.alerts().map((a) => a.state)).toEqual([state]);
    }
  });

  it('a transition the sink did not take is retried, and offered again with the same transitionId after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const clock = new FakeClock(T0);
    const metrics = new InMemoryMetricSource();
    let attempts = 0;
    const failing: AlertSink = {
      onTransition: async () => {
        attempts++;
        throw new Error('outbox full');
      },
    };
    const first = await harness([cpuRule()], { dir, clock, metrics, sink: failing });
    first.cpu('web-1', 95);
    await first.tick(1);
    expect(attempts).toBe(1);
    await clock.advanceAsync(1 * S); // backoff 1 s
    await clock.advanceAsync(2 * S); // then 2 s
    expect(attempts).toBe(3);
    expect(first.engine.stats()).toMatchObject({ deliveryFailures: 3, deliveryBacklog: 1 });
    await first.engine.shutdown();

    const second = await harness([cpuRule()], { dir, clock, metrics });
    await second.engine.flush();
    expect(second.states()).toEqual(['web-1:inactive->firing']);
    const id = second.events[0].transitionId;
    await second.tick(15 * S);
    await second.engine.shutdown();
    const third = await harness([cpuRule()], { dir, clock, metrics });
    await third.tick(15 * S);
    expect(third.events).toEqual([]); // delivered once: not offered again
    expect(third.engine.history({ limit: 10 }).find((r) => r.transitionId === id)?.delivery).toBe('delivered');
  });

  it('a failed state write loses no transition: it is computed again at the next evaluation', async () => {
    const h = await harness([cpuRule()]);
    const store = (h.engine as unknown as { store: { appendHistory: (...a: unknown[]) => unknown } }).store;
    const real = store.appendHistory.bind(store);
    store.appendHistory = () => {
      throw new Error('disk I/O error');
    };
    h.cpu('web-1', 95);
    await h.tick(1);
    expect(h.events).toEqual([]);
    expect(h.engine.getRule('cpu')).toMatchObject({ health: 'error', lastError: expect.stringContaining('disk I/O error') });
    expect(h.engine.alerts()).toEqual([]);
    store.appendHistory = real;
    await h.tick(1);
    expect(h.states()).toEqual(['web-1:inactive->firing']);
  });

  it('API rules survive a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const first = await harness([], { dir });
    first.engine.createRule(cpuRule({ id: 'api-cpu' }));
    await first.engine.shutdown();
    const second = await harness([], { dir });
    expect(second.engine.getRule('api-cpu')).toMatchObject({ source: 'api', readonly: false, kind: 'metric' });
  });

  it('an alert of a rule that disappeared while down is closed as resolved at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const first = await harness([cpuRule()], { dir });
    first.cpu('web-1', 95);
    await first.tick(1);
    await first.engine.shutdown();
    const second = await harness([], { dir });
    await second.engine.flush();
    expect(second.events).toMatchObject([{ state: 'resolved', previousState: 'firing', error: 'rule removed' }]);
  });

  it.each([
    { name: 'groupBy narrowed', before: { groupBy: ['host', 'dc'] }, after: { groupBy: ['host'] } },
    { name: 'groupBy widened', before: { groupBy: ['host'] }, after: { groupBy: ['host', 'dc'] } },
  ])('an alert of a rule whose $name while down is closed at start, as a reload closes it, not left open beside the new ones', async ({ before, after }) => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const clock = new FakeClock(T0);
    const first = await harness([cpuRule({ ...before, missingSeries: 'nodata' })], { dir, clock });
    first.metrics.add('cpu', { host: 'web-1', dc: 'fra' }, clock.now(), 95);
    await first.tick(1);
    expect(first.engine.alerts()).toHaveLength(1);
    await first.engine.shutdown();
    const second = await harness([cpuRule({ ...after, missingSeries: 'nodata' })], { dir, clock });
    await second.engine.flush();
    expect(second.events).toMatchObject([{ state: 'resolved', previousState: 'firing', error: 'rule changed' }]);
    second.metrics.add('cpu', { host: 'web-1', dc: 'fra' }, clock.now(), 95);
    for (let i = 0; i < 8; i++) {
      second.metrics.add('cpu', { host: 'web-1', dc: 'fra' }, clock.now(), 95);
      await second.tick(15 * S);
    }
    expect(second.engine.alerts().map((a) => a.state)).toEqual(['firing']);
  });
});

describe('AlertingEngine: rules API and lifecycle', () => {
  it('deleting a rule resolves its open alerts; file/code rules are read-only', async () => {
    const h = await harness([cpuRule()]);
    h.engine.createRule(cpuRule({ id: 'cpu2', name: 'HighCpu2' }));
    h.cpu('web-1', 95);
    await h.tick(1);
    expect(h.events.map((e) => `${e.ruleId}:${e.state}`).sort()).toEqual(['cpu2:firing', 'cpu:firing']);
    h.engine.deleteRule('cpu2');
    await h.engine.flush();
    expect(h.events[2]).toMatchObject({ ruleId: 'cpu2', state: 'resolved', error: 'rule removed' });
    expect(() => h.engine.deleteRule('cpu')).toThrow(expect.objectContaining({ code: ALERT_ERR.RULE_READONLY }));
    expect(() => h.engine.deleteRule('nope')).toThrow(expect.objectContaining({ code: ALERT_ERR.RULE_NOT_FOUND }));
  });

  it('a result whose alerts would have the same labels once alertname, severity and the rule\'s labels apply is an evaluation error (as in Prometheus), not one alert for two series', async () => {
    const prometheus = { query: async () => [{ labels: { severity: 'err' }, value: 3 }, { labels: { severity: 'crit' }, value: 1 }] };
    const h = await harness([{ id: 'errs', name: 'LogErrors', kind: 'promql', expr: 'sum by (severity) (rate(log_records_total[5m])) > 0' }], { prometheus });
    await h.tick(1);
    expect(h.engine.getRule('errs')).toMatchObject({ health: 'error', lastError: expect.stringContaining('same labels') });
    expect(h.events.map((e) => e.state)).toEqual(['error']);
  });

  it('replacing a rule keeps its alerts when their identity is unchanged, resets them when labels change', async () => {
    const h = await harness([]);
    h.engine.createRule(cpuRule({ id: 'c' }));
    h.cpu('web-1', 95);
    await h.tick(1);
    h.engine.replaceRule('c', cpuRule({ id: 'c', threshold: 80 }));
    await h.tick(1);
    expect(h.events.map((e) => e.state)).toEqual(['firing']);
    // A new selector gives the alert the same labels (as a restart would see it): it goes on firing,
    // as Prometheus keeps an edited rule's alerts; no RESOLVED, no new episode.
    h.engine.replaceRule('c', cpuRule({ id: 'c', selector: 'cpu{host=~"web-.*"}' }));
    await h.tick(1);
    expect(h.events.map((e) => e.state)).toEqual(['firing']);
    h.engine.replaceRule('c', cpuRule({ id: 'c', labels: { team: 'db' } }));
    await h.tick(1);
    expect(h.events.map((e) => `${e.labels.team}:${e.state}`)).toEqual(['infra:firing', 'infra:resolved', 'db:firing']);
  });

  it.each([
    { name: 'invalid', rule: cpuRule({ id: 'x', threshold: 'high' }), code: ALERT_ERR.RULE_INVALID },
    { name: 'duplicate id', rule: cpuRule(), code: ALERT_ERR.RULE_CONFLICT },
  ])('createRule rejects $name', async ({ rule, code }) => {
    const h = await harness([cpuRule()]);
    expect(() => h.engine.createRule(rule)).toThrow(expect.objectContaining({ code }));
  });

  it('shutdown is safe twice and before start; start refuses invalid rule files', async () => {
    const idle = new AlertingEngine({ sink: { onTransition: () => {} }, dbPath: ':memory:' });
    await idle.shutdown();
    await idle.shutdown();
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    writeFileSync(join(dir, 'bad.yaml'), 'rules:\n  - name: X\n    kind: metric\n');
    const bad = new AlertingEngine({ sink: { onTransition: () => {} }, dbPath: ':memory:', baseDir: dir, config: defaultRulesConfig({ ruleFiles: ['bad.yaml'] }) });
    await expect(bad.start()).rejects.toMatchObject({ code: ALERT_ERR.RULE_INVALID, details: { problems: expect.arrayContaining([expect.stringContaining('rules[0].selector: missing required key')]) } });
    await bad.shutdown();
    const h = await harness([cpuRule()], { autoEvaluate: true });
    await h.engine.shutdown();
    await h.engine.shutdown();
    expect(h.clock.pending()).toBe(0);
  });

  it('reloads rule files: new rules added, removed ones resolve their alerts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const file = join(dir, 'rules.yaml');
    const yamlRule = (id: string) => `  - id: ${id}\n    name: ${id}\n    kind: metric\n    selector: cpu\n    aggregation: last\n    window: 1m\n    threshold: 90\n`;
    writeFileSync(file, `rules:\n${yamlRule('a')}`);
    const h = await harness([], { config: { ruleFiles: [file] } });
    h.cpu('web-1', 95);
    await h.tick(1);
    writeFileSync(file, `rules:\n${yamlRule('b')}`);
    expect(h.engine.reloadRuleFiles()).toEqual({ ok: true, problems: [] });
    await h.tick(1);
    expect(h.events.map((e) => `${e.ruleId}:${e.state}`)).toEqual(['a:firing', 'a:resolved', 'b:firing']);
    writeFileSync(file, 'rules:\n  - name: broken\n');
    const res = h.engine.reloadRuleFiles();
    expect(res.ok).toBe(false);
    expect(h.engine.listRules().map((r) => r.id)).toEqual(['b']);
  });

  it('a reload leaves the rules a restart would: a file rule takes over from the API rule it clashes with, which comes back when the file rule goes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, 'rules: []\n');
    const warnings: string[] = [];
    const h = await harness([], { dir, config: { ruleFiles: [file] }, logger: { warn: (m) => void warnings.push(m), error: () => {} } });
    h.engine.createRule(cpuRule({ id: 'api-cpu', name: 'HighCpu' }));
    h.cpu('web-1', 95);
    await h.tick(1);
    // A file rule with another id but the API rule's name (so its alerts' labels): it wins.
    writeFileSync(file, 'rules:\n  - { id: file-cpu, name: HighCpu, kind: metric, selector: cpu, aggregation: last, window: 1m, groupBy: [host], threshold: 90, severity: critical, labels: { team: infra } }\n');
    expect(h.engine.reloadRuleFiles()).toEqual({ ok: true, problems: [] });
    expect(h.engine.listRules().map((r) => r.id)).toEqual(['file-cpu']);
    expect(warnings.some((w) => w.includes('API rule "api-cpu" is shadowed'))).toBe(true);
    await h.tick(1);
    expect(h.events.map((e) => `${e.ruleId}:${e.state}`)).toEqual(['api-cpu:firing', 'api-cpu:resolved', 'file-cpu:firing']);
    // A restart has the same rules in effect.
    await h.engine.shutdown();
    const again = await harness([], { dir, config: { ruleFiles: [file] } });
    expect(again.engine.listRules().map((r) => r.id)).toEqual(['file-cpu']);
    // The file rule goes: the stored API rule is evaluated again, after a reload as after a restart.
    writeFileSync(file, 'rules: []\n');
    expect(again.engine.reloadRuleFiles().ok).toBe(true);
    expect(again.engine.listRules().map((r) => r.id)).toEqual(['api-cpu']);
    await again.engine.shutdown();
    const third = await harness([], { dir, config: { ruleFiles: [file] } });
    expect(third.engine.listRules().map((r) => r.id)).toEqual(['api-cpu']);
  });

  it('a reload that clashes with a rule given in code is refused, as such a start is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, 'rules: []\n');
    const h = await harness([cpuRule()], { config: { ruleFiles: [file] } });
    writeFileSync(file, 'rules:\n  - { id: other, name: HighCpu, kind: metric, selector: cpu, aggregation: last, groupBy: [host], threshold: 90, severity: critical, labels: { team: infra } }\n');
    const res = h.engine.reloadRuleFiles();
    expect(res.ok).toBe(false);
    expect(res.problems.join('\n')).toContain('(a code rule)');
    expect(h.engine.listRules().map((r) => r.id)).toEqual(['cpu']);
  });

  it('logs a warning, at start and at each reload, for a rule-file glob that matches nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-alerting-'));
    const warnings: string[] = [];
    const h = await harness([], { config: { ruleFiles: [join(dir, '*.yml')] }, logger: { warn: (m) => void warnings.push(m), error: () => {} } });
    expect(warnings).toEqual([`alerting.ruleFiles: ${join(dir, '*.yml')}: matches no file`]);
    writeFileSync(join(dir, 'a.yml'), 'rules:\n  - { name: A, kind: metric, selector: cpu, aggregation: last, threshold: 1 }\n');
    expect(h.engine.reloadRuleFiles().ok).toBe(true);
    expect(h.engine.listRules().map((r) => r.id)).toEqual(['A']);
    expect(warnings).toHaveLength(1);
  });
});
