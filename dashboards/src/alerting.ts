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
          stat('Firing alerts', `sum(periscope_alerts_open{${I}, state="firing"})`, 'short', { thresholds: [[1, 'red']], width: 4 }),
          stat('Critical firing', `sum(periscope_alerts_open{${I}, state="firing", severity="critical"})`, 'short', { thresholds: [[1, 'red']], width: 4 }),
          stat('Rules failing', `sum(periscope_alert_rules{${I}, health="error"})`, 'short', {
            thresholds: [[1, 'red']],
            width: 4,
            description: 'Rules whose last evaluation failed (their alerts are in state error, never resolved).',
          }),
          stat(
            'Notification failures (1h)',
            `sum(increase(periscope_notification_failures_total{${I}}[1h]))`,
            'short',
            { thresholds: [[1, 'orange']], description: 'Notifications that failed in the last hour, all channels.' },
          ),
          stat('Acks (1h)', `sum(increase(periscope_alert_acks_total{${I}}[1h]))`, 'short'),
          timeseries('Firing by severity', { expr: `sum by (severity) (periscope_alerts_open{${I}, state="firing"})`, legend: '{{severity}}' }, 'short', {
            min: 0,
            stacked: true,
          }),
          timeseries('Open alerts by state', { expr: `sum by (state) (periscope_alerts_open{${I}})`, legend: '{{state}}' }, 'short', {
            min: 0,
            stacked: true,
            description: 'Alert instances of the rules: pending, firing, nodata, error.',
          }),
          table('Firing now', { expr: `sum by (rule, severity) (periscope_alerts_open{${I}, state="firing"}) > 0` }, 'short', { description: 'Alert instances firing, by rule.' }),
          table('Slowest rules', { expr: `topk(10, max by (rule) (periscope_alert_rule_last_evaluation_duration_seconds{${I}}))` }, 's', {
            description: 'Duration of each rule\'s last evaluation, slowest first.',
          }),
        ],
      },
      {
        row: 'Notifications',
        panels: [
          timeseries(
            'Attempts by channel',
            { expr: `sum by (channel, result) (rate(periscope_notification_attempts_total{${I}}[$__rate_interval]))`, legend: '{{channel}} {{result}}' },
            'ops',
            { min: 0, width: 8 },
          ),
          timeseries(
            'Failures by channel',
            { expr: `sum by (channel, reason) (rate(periscope_notification_failures_total{${I}}[$__rate_interval]))`, legend: '{{channel}} {{reason}}' },
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
            { min: 0, width: 8, description: 'Duration of one delivery attempt, until the channel accepted the message.' },
          ),
        ],
      },
      {
        row: 'Escalation',
        panels: [
          timeseries(
            'Escalation steps by chain',
            { expr: `sum by (escalation) (increase(periscope_escalation_steps_total{${I}}[$__rate_interval]))`, legend: '{{escalation}}' },
            'short',
            { min: 0, bars: true, width: 8, description: 'Escalation steps run; many steps mean nobody acknowledged in time.' },
          ),
          timeseries(
            'Escalations ended by reason',
            { expr: `sum by (reason) (increase(periscope_escalations_stopped_total{${I}}[$__rate_interval]))`, legend: '{{reason}}' },
            'short',
            { min: 0, bars: true, width: 8, description: 'acknowledged, resolved, or exhausted (every step ran without an ack).' },
          ),
          timeseries('Acknowledgements', { expr: `sum by (via) (increase(periscope_alert_acks_total{${I}}[$__rate_interval]))`, legend: '{{via}}' }, 'short', {
            min: 0,
            bars: true,
            width: 8,
          }),
        ],
      },
    ],
  });
}
