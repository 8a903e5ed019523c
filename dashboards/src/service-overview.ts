/**
 * Service overview: RED metrics from span metrics, log volume and recent errors, Node.js runtime.
 *
 * Label conventions (DESIGN.md; OTel spanmetrics connector names):
 * - span metrics carry `service_name` and `instance` (= service.instance.id);
 * - runtime metrics arrive through the collector with `job` (= service.name, or
 *   service.namespace/service.name when the app sets a namespace: docs/traces-and-metrics.md)
 *   and `instance`;
 * - the collector's log volume counter is labelled `service` (= appName);
 * - Loki streams are labelled `service_name`, `level`, `host`.
 * So the `service` variable filters `service_name`, `job` and `service` alike.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, datasourceVariable, labelVariable, logs, stat, timeseries } from './house.ts';
import { ERROR_LEVELS, RED } from './recorded.ts';

const SPAN = 'service_name=~"$service", instance=~"$instance"';
const RUNTIME = 'job=~"(.+/)?$service", instance=~"$instance"';

const quantile = (q: number) => `histogram_quantile(${q}, sum by (le) (${RED.durationBuckets}{${SPAN}}))`;
/** Errors over calls; `or … * 0` makes a service without any error series read 0, not empty. */
const errorRatio = (by: string) =>
  `(sum by (${by}) (${RED.errors}{${SPAN}}) or sum by (${by}) (${RED.calls}{${SPAN}}) * 0) / sum by (${by}) (${RED.calls}{${SPAN}})`;

export function serviceOverview(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'periscope-service-overview',
    title: 'Periscope / Service overview',
    summary: 'Requests, errors and latency (from span metrics), logs and Node.js runtime health of the selected services.',
    tags: ['service'],
    variables: [
      datasourceVariable('prometheus'),
      datasourceVariable('loki'),
      labelVariable('service', 'Service', 'label_values(traces_span_metrics_calls_total, service_name)'),
      labelVariable('instance', 'Instance', 'label_values(traces_span_metrics_calls_total{service_name=~"$service"}, instance)'),
    ],
    sections: [
      {
        row: 'Requests, errors, duration',
        panels: [
          stat('Request rate', `sum(${RED.calls}{${SPAN}})`, 'reqps', { description: 'Entry spans per second over the last 5 minutes.' }),
          stat('Error ratio', `(sum(${RED.errors}{${SPAN}}) or sum(${RED.calls}{${SPAN}}) * 0) / sum(${RED.calls}{${SPAN}})`, 'percentunit', {
            thresholds: [[0.01, 'orange'], [0.05, 'red']],
            decimals: 2,
          }),
          stat('Latency p95', quantile(0.95), 's', { thresholds: [[0.5, 'orange'], [1, 'red']] }),
          stat('Latency p99', quantile(0.99), 's', { thresholds: [[1, 'orange'], [2, 'red']] }),
          timeseries('Request rate by service', { expr: `sum by (service_name) (${RED.calls}{${SPAN}})`, legend: '{{service_name}}' }, 'reqps', { min: 0 }),
          timeseries('Error ratio by service', { expr: errorRatio('service_name'), legend: '{{service_name}}' }, 'percentunit', { min: 0 }),
          timeseries(
            'Latency p50 / p95 / p99',
            [
              { expr: quantile(0.5), legend: 'p50' },
              { expr: quantile(0.95), legend: 'p95' },
              { expr: quantile(0.99), legend: 'p99' },
            ],
            's',
            { min: 0 },
          ),
          timeseries(
            'Slowest operations (p95)',
            {
              expr: `topk(10, histogram_quantile(0.95, sum by (service_name, span_name, le) (rate(traces_span_metrics_duration_seconds_bucket{${SPAN}}[$__rate_interval]))))`,
              legend: '{{service_name}} {{span_name}}',
            },
            's',
            { min: 0, description: 'The ten operations with the highest 95th percentile duration.' },
          ),
        ],
      },
      {
        row: 'Logs',
        panels: [
          timeseries(
            'Log volume by level',
            { expr: `sum by (level) (rate(periscope_log_records_total{service=~"$service"}[$__rate_interval]))`, legend: '{{level}}' },
            'cps',
            { stacked: true, bars: true, width: 24, description: 'Records per second ingested by the collector, by RFC 5424 level.' },
          ),
          logs('Recent error logs', `{service_name=~"$service", level=~"${ERROR_LEVELS}"}`, {
            description: `Newest log lines at level ${ERROR_LEVELS.split('|').join(', ')} from Loki.`,
          }),
        ],
      },
      {
        row: 'Node.js runtime',
        panels: [
          timeseries(
            'Event loop delay',
            [
              { expr: `max by (instance) (nodejs_eventloop_delay_p50_seconds{${RUNTIME}})`, legend: 'p50 {{instance}}' },
              { expr: `max by (instance) (nodejs_eventloop_delay_p90_seconds{${RUNTIME}})`, legend: 'p90 {{instance}}' },
              { expr: `max by (instance) (nodejs_eventloop_delay_p99_seconds{${RUNTIME}})`, legend: 'p99 {{instance}}' },
            ],
            's',
            { min: 0 },
          ),
          timeseries('Event loop utilization', { expr: `avg by (instance) (nodejs_eventloop_utilization_ratio{${RUNTIME}})`, legend: '{{instance}}' }, 'percentunit', {
            min: 0,
            max: 1,
          }),
          timeseries(
            'Heap used / total',
            [
              { expr: `sum by (instance) (v8js_memory_heap_used_bytes{${RUNTIME}})`, legend: 'used {{instance}}' },
              { expr: `sum by (instance) (v8js_memory_heap_space_size_bytes{${RUNTIME}})`, legend: 'total {{instance}}' },
            ],
            'bytes',
            { min: 0, width: 8, description: 'Summed over V8 heap spaces.' },
          ),
          timeseries(
            'GC pause p99 by kind',
            { expr: `histogram_quantile(0.99, sum by (v8js_gc_type, le) (rate(v8js_gc_duration_seconds_bucket{${RUNTIME}}[$__rate_interval])))`, legend: '{{v8js_gc_type}}' },
            's',
            { min: 0, width: 8 },
          ),
          timeseries(
            'Time in GC',
            { expr: `sum by (instance) (rate(v8js_gc_duration_seconds_sum{${RUNTIME}}[$__rate_interval]))`, legend: '{{instance}}' },
            'percentunit',
            { min: 0, width: 8, description: 'Share of wall-clock time spent in garbage collection pauses.' },
          ),
          timeseries('Resident memory', { expr: `sum by (instance) (process_memory_usage_bytes{${RUNTIME}})`, legend: '{{instance}}' }, 'bytes', { min: 0 }),
          timeseries('Active handles', { expr: `sum by (instance) (v8js_resource_active{${RUNTIME}})`, legend: '{{instance}}' }, 'short', {
            min: 0,
            description: 'libuv handles (sockets, timers, servers) kept alive; a steady rise suggests a leak.',
          }),
        ],
      },
    ],
  });
}
