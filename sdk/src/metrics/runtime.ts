// Node.js runtime metrics, read when a metric reader collects (observable instruments), so nothing
// of ours runs between collections except two things Node does natively: the event-loop delay
// sampler (a libuv timer, perf_hooks.monitorEventLoopDelay) and the `gc` performance entries.
//
// Names, units, instruments and attributes are OpenTelemetry's semantic conventions for Node.js and
// V8 (https://opentelemetry.io/docs/specs/semconv/runtime/nodejs-metrics/ ,
// https://opentelemetry.io/docs/specs/semconv/runtime/v8js-metrics/ , process.memory.usage of
// https://opentelemetry.io/docs/specs/semconv/system/process-metrics/): the names
// @opentelemetry/instrumentation-runtime-node sends, so community dashboards and rules written for
// them read Periscope's too. Instrument (name, unit → the Prometheus name the collector renders):
//   nodejs.eventloop.delay.min/.max/.mean/.stddev/.p50/.p90/.p99  s → nodejs_eventloop_delay_p50_seconds …
//       since the previous collection (the histogram is reset after each read), net of the
//       sampling timer's own 10 ms interval (stddev needs no correction). The maximum is what shows
//       a stall: a loop blocked for 2 s once in a 10 s window is one sample among hundreds, below p99.
//   nodejs.eventloop.utilization          1         → nodejs_eventloop_utilization_ratio
//       since the previous collection (performance.eventLoopUtilization deltas)
//   nodejs.eventloop.time (counter)       s {nodejs.eventloop.state = active | idle}
//                                                   → nodejs_eventloop_time_seconds_total{nodejs_eventloop_state}
//       cumulative busy and idle time (performance.eventLoopUtilization), for rate() over any window
//   v8js.memory.heap.used / v8js.memory.heap.space.size   By {v8js.heap.space.name}
//                                                   → v8js_memory_heap_used_bytes{v8js_heap_space_name} …
//       per V8 heap space (v8.getHeapSpaceStatistics: space_used_size / space_size), up-down counters
//   v8js.gc.duration (histogram)          s {v8js.gc.type} → v8js_gc_duration_seconds_bucket{v8js_gc_type}
//       major | minor | incremental | weakcb (PerformanceObserver 'gc' entries). Buckets finer than
//       the convention's advice [0.01, 0.1, 1, 10]: most pauses are below 10 ms, which that advice
//       puts in one bucket, so a p99 of them could not be told apart.
//   process.memory.usage                  By        → process_memory_usage_bytes   (resident set size)
//   v8js.resource.active                  {resource} → v8js_resource_active
//       process.getActiveResourcesInfo().length
//   nodejs.heap.leak_suspected            (none)    → nodejs_heap_leak_suspected   0 | 1 (leak.ts; Periscope's own)
// References: https://nodejs.org/api/perf_hooks.html#perf_hooksmonitoreventloopdelayoptions ,
// https://nodejs.org/api/perf_hooks.html#garbage-collection-gc-details ,
// https://nodejs.org/api/v8.html#v8getheapspacestatistics
//
// With two readers (OTLP and Prometheus) each collection resets the delay histogram and the ELU
// baseline, so each reader sees the window since the other one's last read.

import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { BatchObservableResult, Meter, ObservableResult } from '@opentelemetry/api';
import { LeakDetector, type LeakDetectorOptions } from './leak.ts';

export interface RuntimeMetrics {
  leak: LeakDetector | undefined;
  stop(): void;
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

const ELD_RESOLUTION_MS = 10;

const ELU_ACTIVE = { 'nodejs.eventloop.state': 'active' };
const ELU_IDLE = { 'nodejs.eventloop.state': 'idle' };

/** GC pauses are sub-millisecond to a few hundred ms. */
const GC_BUCKETS_S = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Every callback is guarded: a failing read loses that one point, never the collection. */
function guarded<T extends unknown[]>(fn: (...args: T) => void): (...args: T) => void {
  return (...args: T) => {
    try {
      fn(...args);
    } catch {
      // e.g. a Node version without one of the APIs: skip the point
    }
  };
}

export function startRuntimeMetrics(meter: Meter, leakOptions: LeakDetectorOptions | undefined): RuntimeMetrics {
  // event-loop delay percentiles, one read of the histogram for all three. The histogram records
  // the time between two ticks of a `resolution` ms timer, so an idle loop reads ~resolution:
  // the delay is what exceeds it.
  const delay = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  const net = (ns: number) => Math.max(0, ns - ELD_RESOLUTION_MS * 1e6) / 1e9;
  delay.enable();
  const p50 = meter.createObservableGauge('nodejs.eventloop.delay.p50', { unit: 's', description: 'Event loop delay, median since the last collection' });
  const p90 = meter.createObservableGauge('nodejs.eventloop.delay.p90', { unit: 's', description: 'Event loop delay, 90th percentile since the last collection' });
  const p99 = meter.createObservableGauge('nodejs.eventloop.delay.p99', { unit: 's', description: 'Event loop delay, 99th percentile since the last collection' });
  const max = meter.createObservableGauge('nodejs.eventloop.delay.max', { unit: 's', description: 'Event loop delay, longest since the last collection' });
  const min = meter.createObservableGauge('nodejs.eventloop.delay.min', { unit: 's', description: 'Event loop delay, shortest since the last collection' });
  const mean = meter.createObservableGauge('nodejs.eventloop.delay.mean', { unit: 's', description: 'Event loop delay, mean since the last collection' });
  const stddev = meter.createObservableGauge('nodejs.eventloop.delay.stddev', { unit: 's', description: 'Event loop delay, standard deviation since the last collection' });
  const delayCallback = guarded((result: BatchObservableResult) => {
    if (delay.count > 0) {
      result.observe(p50, net(delay.percentile(50)));
      result.observe(p90, net(delay.percentile(90)));
      result.observe(p99, net(delay.percentile(99)));
      result.observe(max, net(delay.max));
      result.observe(min, net(delay.min));
      result.observe(mean, net(delay.mean));
      result.observe(stddev, delay.stddev / 1e9);
    }
    delay.reset();
  });
  meter.addBatchObservableCallback(delayCallback, [p50, p90, p99, max, min, mean, stddev]);

  // event-loop utilisation since the last collection
  let lastElu = performance.eventLoopUtilization();
  const elu = meter.createObservableGauge('nodejs.eventloop.utilization', { unit: '1', description: 'Share of time the event loop was busy since the last collection' });
  elu.addCallback(
    guarded((result: ObservableResult) => {
      const now = performance.eventLoopUtilization();
      result.observe(performance.eventLoopUtilization(now, lastElu).utilization);
      lastElu = now;
    }),
  );
  meter
    .createObservableCounter('nodejs.eventloop.time', { unit: 's', description: 'Cumulative time the event loop was active or idle' })
    .addCallback(
      guarded((result: ObservableResult) => {
        const total = performance.eventLoopUtilization();
        result.observe(total.active / 1000, ELU_ACTIVE);
        result.observe(total.idle / 1000, ELU_IDLE);
      }),
    );

  // heap per V8 space
  const heapUsed = meter.createObservableUpDownCounter('v8js.memory.heap.used', { unit: 'By', description: 'V8 heap used, per heap space' });
  const heapSize = meter.createObservableUpDownCounter('v8js.memory.heap.space.size', { unit: 'By', description: 'V8 heap size, per heap space' });
  const heapCallback = guarded((result: BatchObservableResult) => {
    for (const space of v8.getHeapSpaceStatistics()) {
      const attributes = { 'v8js.heap.space.name': space.space_name };
      result.observe(heapUsed, space.space_used_size, attributes);
      result.observe(heapSize, space.space_size, attributes);
    }
  });
  meter.addBatchObservableCallback(heapCallback, [heapUsed, heapSize]);

  meter
    .createObservableUpDownCounter('process.memory.usage', { unit: 'By', description: 'Resident set size' })
    .addCallback(guarded((result: ObservableResult) => result.observe(process.memoryUsage.rss())));
  meter
    .createObservableGauge('v8js.resource.active', { unit: '{resource}', description: 'Active libuv handles and requests keeping the event loop alive' })
    .addCallback(guarded((result: ObservableResult) => result.observe(process.getActiveResourcesInfo().length)));

  // GC pauses by kind; heap used after each major GC feeds the leak detector
  const leak = leakOptions ? new LeakDetector(leakOptions) : undefined;
  const gcDuration = meter.createHistogram('v8js.gc.duration', {
    unit: 's',
    description: 'Garbage collection pause time, by type',
    advice: { explicitBucketBoundaries: GC_BUCKETS_S },
  });
  const gcAttributes: Record<string, { 'v8js.gc.type': string }> = {};
  const observer = new PerformanceObserver(
    guarded((list: { getEntries(): PerformanceEntry[] }) => {
      for (const entry of list.getEntries()) {
        const kindNumber = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1;
        const kind = GC_KINDS[kindNumber] ?? 'other';
        gcDuration.record(entry.duration / 1000, (gcAttributes[kind] ??= { 'v8js.gc.type': kind }));
        if (leak && kind === 'major') leak.add(Date.now(), v8.getHeapStatistics().used_heap_size);
      }
    }),
  );
  observer.observe({ entryTypes: ['gc'] });

  if (leak) {
    meter
      .createObservableGauge('nodejs.heap.leak_suspected', { description: '1 while heap used after major GCs keeps rising faster than the configured slope' })
      .addCallback(guarded((result: ObservableResult) => result.observe(leak.suspected)));
  }

  return {
    leak,
    stop() {
      try {
        observer.disconnect();
        delay.disable();
      } catch {
        // already stopped
      }
    },
  };
}
