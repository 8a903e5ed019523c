/**
 * Collector health: the collector's own /metrics (DESIGN.md, "Observability of the observer").
 * `instance` is the scraped collector replica; `exporter` is the configured exporter name.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, datasourceVariable, labelVariable, stat, stateTimeline, timeseries } from './house.ts';

const I = 'instance=~"$instance"';
const E = 'instance=~"$instance", exporter=~"$exporter"';

export function collectorHealth(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'periscope-collector-health',
    title: 'Periscope / Collector health',
    summary: 'Ingest, rejects and per-exporter delivery (queues, age, drops, circuit breakers) of the Periscope collectors.',
    tags: ['collector'],
    variables: [
      datasourceVariable('prometheus'),
      labelVariable('instance', 'Collector', 'label_values(periscope_store_records, instance)'),
      labelVariable('exporter', 'Exporter', 'label_values(periscope_exporter_queue_items{instance=~"$instance"}, exporter)'),
    ],
    sections: [
      {
        row: 'Ingest',
        panels: [
          stat('Ingest rate', `sum(rate(periscope_receiver_accepted_records_total{${I}}[$__rate_interval]))`, 'cps', {
            description: 'Records written to the durable log per second.',
          }),
          stat('Rejected', `sum(rate(periscope_receiver_rejected_records_total{${I}}[$__rate_interval]))`, 'cps', { thresholds: [[0.001, 'orange']] }),
          stat('Records in store', `sum(periscope_store_records{${I}})`, 'short'),
          stat('Search index lag', `max(periscope_search_index_lag_records{${I}})`, 'short', {
            thresholds: [[10000, 'orange'], [100000, 'red']],
            description: 'Stored records not yet searchable by full text.',
          }),
          timeseries(
            'Ingest rate by receiver',
            { expr: `sum by (receiver) (rate(periscope_receiver_accepted_records_total{${I}}[$__rate_interval]))`, legend: '{{receiver}}' },
            'cps',
            { min: 0 },
          ),
          timeseries(
            'Rejects by reason',
            { expr: `sum by (receiver, reason) (rate(periscope_receiver_rejected_records_total{${I}}[$__rate_interval]))`, legend: '{{receiver}} {{reason}}' },
            'cps',
            { min: 0, description: 'Records refused at ingest, by receiver and error code.' },
          ),
          timeseries(
            'OTLP spans and metric points',
            [
              { expr: `sum(rate(periscope_otlp_spans_accepted_total{${I}}[$__rate_interval]))`, legend: 'spans' },
              { expr: `sum(rate(periscope_otlp_metric_points_accepted_total{${I}}[$__rate_interval]))`, legend: 'metric points' },
            ],
            'cps',
            { min: 0, width: 8, description: 'Spans and metric data points taken from OTLP/HTTP (/v1/traces, /v1/metrics) per second.' },
          ),
          timeseries(
            'OTLP rejects by reason',
            [
              { expr: `sum by (reason) (rate(periscope_otlp_spans_rejected_total{${I}}[$__rate_interval]))`, legend: 'span {{reason}}' },
              { expr: `sum by (reason) (rate(periscope_otlp_metric_points_rejected_total{${I}}[$__rate_interval]))`, legend: 'point {{reason}}' },
            ],
            'cps',
            { min: 0, width: 8, description: 'Spans and data points refused in partialSuccess, by error code.' },
          ),
          timeseries(
            'Requests refused whole',
            [
              { expr: `sum by (receiver, reason) (rate(periscope_receiver_refused_requests_total{${I}}[$__rate_interval]))`, legend: '{{receiver}} {{reason}}' },
              { expr: `sum by (signal, reason) (rate(periscope_otlp_refused_requests_total{${I}}[$__rate_interval]))`, legend: 'otlp {{signal}} {{reason}}' },
              // Refused by the HTTP listener before any receiver saw them: a collector at its bounds.
              { expr: `sum(rate(periscope_http_inflight_refused_requests_total{${I}}[$__rate_interval]))`, legend: 'http 503 http.maxInflightBytes' },
              { expr: `sum(rate(periscope_http_refused_connections_total{${I}}[$__rate_interval]))`, legend: 'http connections over http.maxConnections' },
            ],
            'reqps',
            { min: 0, width: 8, description: 'Requests answered 400 (undecodable), 413, 415, 429 or 503, and syslog connections refused: a misconfigured or throttled sender. The http series are refused by the listener for every route: request bodies at http.maxInflightBytes (503), connections over http.maxConnections (closed on accept).' },
          ),
        ],
      },
      {
        row: 'Exporters',
        panels: [
          timeseries(
            'Sent by exporter',
            { expr: `sum by (exporter) (rate(periscope_exporter_sent_items_total{${E}}[$__rate_interval]))`, legend: '{{exporter}}' },
            'cps',
            { min: 0, width: 8, description: 'Items delivered: log records, spans (exporter <name>:traces) or samples (remote write).' },
          ),
          timeseries(
            'Failed requests by class',
            { expr: `sum by (exporter, class) (rate(periscope_exporter_failed_requests_total{${E}}[$__rate_interval]))`, legend: '{{exporter}} {{class}}' },
            'reqps',
            { min: 0, width: 8, description: 'retryable: sent again (429, 5xx, network); permanent: the items went to the dead letters.' },
          ),
          timeseries(
            'Retries',
            { expr: `sum by (exporter) (rate(periscope_exporter_retried_requests_total{${E}}[$__rate_interval]))`, legend: '{{exporter}}' },
            'reqps',
            { min: 0, width: 8 },
          ),
          timeseries('Queue depth', { expr: `sum by (exporter) (periscope_exporter_queue_items{${E}})`, legend: '{{exporter}}' }, 'short', {
            min: 0,
            width: 8,
            description: 'Items accepted but not yet delivered, per exporter.',
          }),
          timeseries('Oldest unsent record age', { expr: `max by (exporter) (periscope_exporter_oldest_unsent_age_seconds{${E}})`, legend: '{{exporter}}' }, 's', {
            min: 0,
            width: 8,
            description: 'How far each exporter is behind ingest.',
          }),
          timeseries('Dead letters held', { expr: `sum by (exporter) (periscope_exporter_dead_letters{${E}})`, legend: '{{exporter}}' }, 'short', {
            min: 0,
            width: 8,
            description: 'Items the backend refused for good, waiting in GET /api/v1/deadletter for a fix and a replay.',
          }),
          timeseries(
            'Dropped by reason',
            [
              { expr: `sum by (exporter, reason) (rate(periscope_exporter_dropped_items_total{${E}}[$__rate_interval]))`, legend: '{{exporter}} {{reason}}' },
              // deadletter_full is in dropped_items_total already; a DELETE is counted here only.
              { expr: `sum by (exporter) (rate(periscope_exporter_dead_letters_discarded_total{${E}, reason="deleted"}[$__rate_interval]))`, legend: '{{exporter}} dead letters deleted' },
            ],
            'cps',
            { min: 0, description: 'Items that will never be delivered (the drop policy at the disk bound, retention, a full dead-letter store), by exporter and reason; and dead letters discarded with DELETE /api/v1/deadletter.' },
          ),
          stateTimeline(
            'Circuit breakers',
            {
              // One series per state, 1 for the current one: folded into 0 closed, 1 half-open, 2 open.
              expr: `max by (exporter) (periscope_exporter_circuit_state{${E}, state="half-open"}) + 2 * max by (exporter) (periscope_exporter_circuit_state{${E}, state="open"})`,
              legend: '{{exporter}}',
            },
            [
              { value: 0, text: 'closed', color: 'green' },
              { value: 1, text: 'half-open', color: 'orange' },
              { value: 2, text: 'open', color: 'red' },
            ],
            { description: 'closed: delivering; open: backend considered down, not called; half-open: probing.' },
          ),
        ],
      },
    ],
  });
}
