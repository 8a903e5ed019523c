// Channel-neutral pieces of a notification's text: title, per-alert summary, values and times.
// Channels compose these into Block Kit, HTML, plain text or an SMS body.
import type { Notification, NotificationAlert } from '../notify/notifier.ts';
import { messagesFor, type Messages } from './messages.ts';

export function statusText(n: Notification, m: Messages): string {
  return n.status === 'resolved' ? m.status.resolved : m.status.firing;
}

export function alertStatusText(a: NotificationAlert, m: Messages): string {
  return m.status[a.state] ?? m.status.firing;
}

/** Labels shown in the title: the group labels, else alertname. */
export function groupTitle(n: Notification): string {
  const labels = Object.keys(n.groupLabels).length ? n.groupLabels : n.commonLabels.alertname ? { alertname: n.commonLabels.alertname } : {};
  const name = labels.alertname ?? n.commonLabels.alertname ?? '';
  const rest = Object.entries(labels)
    .filter(([k]) => k !== 'alertname')
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return [name, rest ? `(${rest})` : ''].filter(Boolean).join(' ') || 'alerts';
}

/** `[FIRING:2] HighLatency (service=api)` — with the status in the message's locale. */
export function title(n: Notification): string {
  const m = messagesFor(n.locale);
  const firing = n.alerts.filter((a) => a.status === 'firing').length;
  const count = n.status === 'firing' ? `:${firing + n.truncatedAlerts}` : '';
  return `[${statusText(n, m)}${count}] ${groupTitle(n)}`;
}

export function alertSummary(a: NotificationAlert): string {
  return a.annotations.summary ?? a.annotations.description ?? a.annotations.message ?? a.labels.alertname ?? a.fingerprint;
}

export function formatValue(v: number | null): string {
  if (v === null) return '-';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 || Math.abs(v) < 0.01 ? v.toPrecision(4) : String(Math.round(v * 1000) / 1000);
}

/** `2025-01-01 09:30:00 UTC`. */
export function formatTime(iso: string | null): string {
  if (!iso) return '-';
  return `${iso.slice(0, 19).replace('T', ' ')} UTC`;
}

export function labelPairs(labels: Record<string, string>, skip: readonly string[] = []): string {
  return Object.keys(labels)
    .filter((k) => !skip.includes(k))
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(', ');
}

/** Plain-text body (email text part): every alert with its fields and links. */
export function plainTextBody(n: Notification): string {
  const m = messagesFor(n.locale);
  const lines: string[] = [title(n), ''];
  if (n.escalation) lines.push(m.escalation(n.escalation.step, n.escalation.steps, n.escalation.cycle, n.escalation.repeat), '');
  for (const a of n.alerts) {
    lines.push(`* [${alertStatusText(a, m)}] ${alertSummary(a)}`);
    lines.push(`  ${m.severity}: ${a.severity}   ${m.value}: ${formatValue(a.value)}`);
    lines.push(`  ${m.startedAt}: ${formatTime(a.startsAt)}${a.endsAt && a.status === 'resolved' ? `   ${m.endedAt}: ${formatTime(a.endsAt)}` : ''}`);
    lines.push(`  ${m.labels}: ${labelPairs(a.labels)}`);
    if (a.error) lines.push(`  ${m.error}: ${a.error}`);
    if (a.ack) lines.push(`  ${m.acknowledgedBy(a.ack.by)}${a.ack.comment ? `: ${a.ack.comment}` : ''}`);
    if (a.status === 'firing' && a.links.ack && !a.ack) lines.push(`  ${m.ack}: ${a.links.ack}`);
    lines.push(`  ${m.silence}: ${a.links.silence}`);
    lines.push(`  ${m.logs}: ${a.links.logs}`);
    if (a.generatorURL) lines.push(`  ${m.source}: ${a.generatorURL}`);
    lines.push('');
  }
  if (n.truncatedAlerts > 0) lines.push(m.truncated(n.truncatedAlerts));
  return lines.join('\n');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
