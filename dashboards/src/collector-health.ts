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
      labelVariable('exporter', 'Exporter', 'label_values(periscope_exporter_queue_depth_records{instance=~"$instance"}, exporter)'),
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
        ],
      },
      {
        row: 'Exporters',
        panels: [
          timeseries(
            'Sent by exporter',
            { expr: `sum by (exporter) (rate(periscope_exporter_sent_records_total{${E}}[$__rate_interval]))`, legend: '{{exporter}}' },
            'cps',
            { min: 0, width: 8 },
          ),
          timeseries(
            'Failed by reason',
            { expr: `sum by (exporter, reason) (rate(periscope_exporter_failed_records_total{${E}}[$__rate_interval]))`, legend: '{{exporter}} {{reason}}' },
            'cps',
            { min: 0, width: 8 },
          ),
          timeseries(
            'Retries',
            { expr: `sum by (exporter) (rate(periscope_exporter_retried_total{${E}}[$__rate_interval]))`, legend: '{{exporter}}' },
            'ops',
            { min: 0, width: 8 },
          ),
          timeseries('Queue depth', { expr: `sum by (exporter) (periscope_exporter_queue_depth_records{${E}})`, legend: '{{exporter}}' }, 'short', {
            min: 0,
            description: 'Records accepted but not yet delivered, per exporter.',
          }),
          timeseries('Oldest unsent record age', { expr: `max by (exporter) (periscope_exporter_oldest_unsent_age_seconds{${E}})`, legend: '{{exporter}}' }, 's', {
            min: 0,
            description: 'How far each exporter is behind ingest.',
          }),
          timeseries(
            'Dropped by reason',
            { expr: `sum by (exporter, reason) (rate(periscope_exporter_dropped_records_total{${E}}[$__rate_interval]))`, legend: '{{exporter}} {{reason}}' },
            'cps',
            { min: 0, description: 'Records given up at the disk bound (drop policy), by exporter and reason.' },
          ),
          stateTimeline(
            'Circuit breakers',
            { expr: `max by (exporter) (periscope_exporter_circuit_state{${E}})`, legend: '{{exporter}}' },
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
