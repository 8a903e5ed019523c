// Metrics of the notification side, registered on the registry the collector passes in (rendered at
// /metrics). Names follow https://prometheus.io/docs/practices/naming/. Label values are bounded:
// channel is slack|email|sms|webhook; integration ids come from the config.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

function counter<T extends string>(registry: Registry, name: string, help: string, labelNames: readonly T[]): Counter<T> {
  return (registry.getSingleMetric(name) as Counter<T> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<T extends string>(registry: Registry, name: string, help: string, labelNames: readonly T[]): Gauge<T> {
  return (registry.getSingleMetric(name) as Gauge<T> | undefined) ?? new Gauge({ name, help, labelNames, registers: [registry] });
}

export function createNotifyMetrics(registry: Registry = new Registry()) {
  return {
    registry,
    alertsReceived: counter(registry, 'periscope_alerts_received_total', 'Alert updates received by the notification pipeline, by source (rules, api).', ['source'] as const),
    queued: counter(registry, 'periscope_notifications_queued_total', 'Notifications written to the outbox, by channel.', ['channel'] as const),
    attempts: counter(registry, 'periscope_notification_attempts_total', 'Delivery attempts, by channel and result (success, retryable, permanent).', ['channel', 'result'] as const),
    failures: counter(
      registry,
      'periscope_notification_failures_total',
      'Notifications that finally failed, by channel and reason (permanent, exhausted, unconfigured).',
      ['channel', 'reason'] as const,
    ),
    latency:
      (registry.getSingleMetric('periscope_notification_latency_seconds') as Histogram<'channel'> | undefined) ??
      new Histogram({
        name: 'periscope_notification_latency_seconds',
        help: 'Duration of one delivery attempt, by channel.',
        labelNames: ['channel'] as const,
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
    pending: gauge(registry, 'periscope_notification_outbox_pending', 'Notifications waiting in the outbox, by channel.', ['channel'] as const),
    breakerOpen: gauge(registry, 'periscope_notification_circuit_open', '1 while an integration’s circuit breaker is open.', ['integration'] as const),
    escalationSteps: counter(registry, 'periscope_escalation_steps_total', 'Escalation steps executed, by escalation chain.', ['escalation'] as const),
    escalationsStopped: counter(
      registry,
      'periscope_escalations_stopped_total',
      'Escalations that ended, by chain and reason (acknowledged, resolved, exhausted).',
      ['escalation', 'reason'] as const,
    ),
    acks: counter(registry, 'periscope_alert_acks_total', 'Alert acknowledgements, by way (api, link).', ['via'] as const),
  };
}

export type NotifyMetrics = ReturnType<typeof createNotifyMetrics>;
