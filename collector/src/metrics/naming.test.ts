import { describe, expect, it } from 'vitest';
import { applyFactor, attributesToLabels, sanitizeLabelName, translateMetricName, translateUnit, type PromType } from './naming.ts';

describe('metric name translation (OTel → Prometheus compatibility spec + promlint rules)', () => {
  it.each<{ name: string; otel: string; unit: string; type: PromType; expected: string; factor?: number }>([
    { name: 'dots → underscores, seconds suffix', otel: 'http.server.request.duration', unit: 's', type: 'histogram', expected: 'http_server_request_duration_seconds' },
    { name: 'ms histogram converted to seconds', otel: 'http.server.duration', unit: 'ms', type: 'histogram', expected: 'http_server_duration_seconds', factor: 1e-3 },
    { name: 'monotonic sum gets _total after the unit', otel: 'process.cpu.time', unit: 's', type: 'counter', expected: 'process_cpu_time_seconds_total' },
    { name: 'bytes', otel: 'system.filesystem.usage', unit: 'By', type: 'gauge', expected: 'system_filesystem_usage_bytes' },
    { name: 'MiBy → bytes with factor 2^20', otel: 'heap.size', unit: 'MiBy', type: 'gauge', expected: 'heap_size_bytes', factor: 1024 ** 2 },
    { name: 'unit 1 on a gauge → _ratio', otel: 'system.memory.utilization', unit: '1', type: 'gauge', expected: 'system_memory_utilization_ratio' },
    { name: 'unit 1 on a counter → no suffix', otel: 'errors', unit: '1', type: 'counter', expected: 'errors_total' },
    { name: '{annotation} units are dropped', otel: 'system.network.dropped', unit: '{packets}', type: 'counter', expected: 'system_network_dropped_total' },
    { name: 'rate unit X/Y → X_per_Y', otel: 'net.io.rate', unit: 'By/s', type: 'gauge', expected: 'net_io_rate_bytes_per_second' },
    { name: 'annotation per second → per_second', otel: 'requests.rate', unit: '{request}/s', type: 'gauge', expected: 'requests_rate_per_second' },
    { name: 'unknown unit appended, sanitized', otel: 'queue.depth', unit: 'items', type: 'gauge', expected: 'queue_depth_items' },
    { name: 'unit suffix not doubled', otel: 'latency.seconds', unit: 's', type: 'gauge', expected: 'latency_seconds' },
    { name: '_total not doubled', otel: 'requests.total', unit: '', type: 'counter', expected: 'requests_total' },
    { name: 'gauge loses a trailing total', otel: 'connections.total', unit: '', type: 'gauge', expected: 'connections' },
    { name: 'gauge ending in _count gets _value', otel: 'process.thread.count', unit: '{thread}', type: 'gauge', expected: 'process_thread_count_value' },
    { name: 'type word dropped (promlint: no type in name)', otel: 'jobs.counter', unit: '', type: 'counter', expected: 'jobs_total' },
    // promlint refuses any type word, not only the metric's own
    { name: 'another type\'s word dropped too (gauge)', otel: 'jobs.counter.gauge', unit: '', type: 'gauge', expected: 'jobs' },
    { name: 'another type\'s word dropped too (histogram)', otel: 'request.counter', unit: 'ms', type: 'histogram', expected: 'request_seconds', factor: 1e-3 },
    { name: 'another type\'s word dropped too (counter)', otel: 'errors.summary', unit: '', type: 'counter', expected: 'errors_total' },
    { name: 'type words before max', otel: 'retry.histogram.max', unit: '', type: 'gauge', expected: 'retry_max' },
    { name: 'a type word first is kept', otel: 'gauge.readings', unit: '', type: 'gauge', expected: 'gauge_readings' },
    { name: 'a counter\'s own total goes after the unit', otel: 'bytes.sent.total', unit: 'By', type: 'counter', expected: 'bytes_sent_bytes_total' },
    { name: 'camelCase → snake_case', otel: 'myApp.requestLatency', unit: 'ms', type: 'histogram', expected: 'my_app_request_latency_seconds', factor: 1e-3 },
    { name: 'colons and odd characters replaced, runs collapsed', otel: '(lambda).function:executions(#)', unit: '', type: 'counter', expected: 'lambda_function_executions_total' },
    { name: 'leading digit gets an underscore', otel: '2xx.responses', unit: '', type: 'counter', expected: '_2xx_responses_total' },
    { name: 'celsius', otel: 'cpu.temp', unit: 'Cel', type: 'gauge', expected: 'cpu_temp_celsius' },
  ])('$name: $otel [$unit] $type → $expected', ({ otel, unit, type, expected, factor }) => {
    const t = translateMetricName(otel, unit, type);
    expect(t.name).toBe(expected);
    expect(t.factor).toBe(factor ?? 1);
  });

  it('a name of only invalid characters translates to "" (the caller rejects it)', () => {
    expect(translateMetricName('...', 's', 'gauge').name).toBe('');
  });

  it.each([
    { unit: 'd', factor: 86_400 },
    { unit: 'h', factor: 3_600 },
    { unit: 'min', factor: 60 },
    { unit: 'us', factor: 1e-6 },
    { unit: 'ns', factor: 1e-9 },
    { unit: 'KiBy', factor: 1024 },
    { unit: 'GBy', factor: 1e9 },
  ])('unit $unit converts values by $factor', ({ unit, factor }) => {
    expect(translateUnit(unit, 'gauge').factor).toBe(factor);
  });

  it('a unit named like an Object property is an unknown unit, not a broken one', () => {
    expect(translateUnit('constructor', 'gauge')).toEqual({ suffix: 'constructor', factor: 1 });
    expect(translateUnit('By/toString', 'gauge')).toEqual({ suffix: 'bytes_per_to_string', factor: 1 });
  });

  it('applyFactor divides for sub-units so decimal values print exactly', () => {
    expect(applyFactor(5, 1e-3)).toBe(0.005);
    expect(applyFactor(300, 1e-3)).toBe(0.3);
    expect(applyFactor(1500, 1e-6)).toBe(0.0015);
    expect(applyFactor(2, 1024)).toBe(2048);
  });
});

describe('label names and values', () => {
  it.each([
    { name: 'dots', key: 'http.route', expected: 'http_route' },
    { name: 'leading digit', key: '1st.try', expected: 'key_1st_try' },
    { name: 'leading underscore', key: '_private', expected: 'key_private' },
    { name: 'camelCase', key: 'userId', expected: 'user_id' },
    { name: 'collides with job', key: 'job', expected: 'exported_job' },
    { name: 'le is reserved for histograms', key: 'le', expected: 'exported_le' },
    { name: 'empty key', key: '', expected: 'key_empty' },
  ])('$name: "$key" → $expected', ({ key, expected }) => {
    expect(sanitizeLabelName(key)).toBe(expected);
  });

  it('keys that sanitize alike are joined with ";" in key order; empty values are dropped', () => {
    expect(attributesToLabels({ 'a.b': 'x', a_b: 'y', n: 5, t: true, arr: [1, 'a'], empty: '' })).toEqual({ a_b: 'x;y', n: '5', t: 'true', arr: '[1,"a"]' });
  });
});
