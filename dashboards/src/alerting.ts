/**
 * Alerting: what is firing, and whether notifications reach people (attempts, failures,
 * latency per channel), escalations and acknowledgements. Metrics from alerting/ as rendered
 * on the collector's /metrics; `instance` is the collector replica.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, datasourceVariable, labelVariable, stat, table, timeseries } from './house.ts';

const I = 'instance=~"$instance"';

const latency = (q: number) =>
  `histogram_quantile(${q}, sum by (channel, le) (rate(periscope_notification_latency_seconds_bucket{${I}}[$__rate_interval])))`;

export function alerting(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'periscope-alerting',
    title: 'Periscope / Alerting',
    summary: 'Firing alerts, notification delivery per channel, escalations and acknowledgements.',
    tags: ['alerting'],
    variables: [datasourceVariable('prometheus'), labelVariable('instance', 'Collector', 'label_values(periscope_store_records, instance)')],
    sections: [
      {
        row: 'Alerts',
        panels: [
          stat('Firing alerts', `sum(periscope_alerts_firing{${I}})`, 'short', { thresholds: [[1, 'red']] }),
          stat('Critical firing', `sum(periscope_alerts_firing{${I}, severity="critical"})`, 'short', { thresholds: [[1, 'red']] }),
          stat(
            'Notification failures (1h)',
            `sum(increase(periscope_notification_failures_total{${I}}[1h]))`,
            'short',
            { thresholds: [[1, 'orange']], description: 'Notifications that failed in the last hour, all channels.' },
          ),
          stat('Acks (1h)', `sum(increase(periscope_acks_total{${I}}[1h]))`, 'short'),
          timeseries('Firing by severity', { expr: `sum by (severity) (periscope_alerts_firing{${I}})`, legend: '{{severity}}' }, 'short', {
            min: 0,
            stacked: true,
          }),
          table('Firing now', { expr: `sum by (rule, severity) (periscope_alerts_firing{${I}}) > 0` }, { description: 'Alert instances firing, by rule.' }),
        ],
      },
      {
        row: 'Notifications',
        panels: [
          timeseries(
            'Attempts by channel',
            { expr: `sum by (channel) (rate(periscope_notification_attempts_total{${I}}[$__rate_interval]))`, legend: '{{channel}}' },
            'ops',
            { min: 0, width: 8 },
          ),
          timeseries(
            'Failures by channel',
            { expr: `sum by (channel) (rate(periscope_notification_failures_total{${I}}[$__rate_interval]))`, legend: '{{channel}}' },
            'ops',
            { min: 0, width: 8 },
          ),
          timeseries(
            'Notification latency',
            [
              { expr: latency(0.5), legend: 'p50 {{channel}}' },
              { expr: latency(0.99), legend: 'p99 {{channel}}' },
            ],
            's',
            { min: 0, width: 8, description: 'From the alert firing to the channel accepting the message.' },
          ),
        ],
      },
      {
        row: 'Escalation',
        panels: [
          timeseries(
            'Escalations by step',
            { expr: `sum by (step) (increase(periscope_escalations_total{${I}}[$__rate_interval]))`, legend: 'step {{step}}' },
            'short',
            { min: 0, bars: true, description: 'Escalation steps reached; later steps mean nobody acknowledged in time.' },
          ),
          timeseries('Acknowledgements', { expr: `sum(increase(periscope_acks_total{${I}}[$__rate_interval]))`, legend: 'acks' }, 'short', {
            min: 0,
            bars: true,
          }),
        ],
      },
    ],
  });
}
