import type { Rule } from './schema.ts';

// Two rules whose alerts get the same labels make one alert: the fingerprint is the labels' hash
// (state/fingerprint.ts) and the notification side keeps one alert per fingerprint, so the
// transitions of the two rules overwrite each other there — the second rule firing is taken as
// "already notified", and the first one resolving sends RESOLVED and ends the escalation while the
// second still fires. Prometheus re-sends firing alerts at every evaluation, which hides this
// behind Alertmanager; this engine sends transitions only, so such rules are refused instead.

/**
 * What fixes the labels of a rule's alerts apart from the data: name, severity, label templates
 * and group-by labels. Rules with the same key give the same labels for the same group values.
 * Undefined for promql rules (their labels come from the query's series) and disabled rules.
 */
export function alertLabelsKey(rule: Rule): string | undefined {
  if (rule.kind === 'promql' || !rule.enabled) return undefined;
  const labels = Object.entries(rule.spec.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const groupBy = rule.kind === 'metric' ? [...rule.groupBy].sort() : [];
  return JSON.stringify([rule.name, rule.severity, labels, groupBy]);
}

/** The problem of `rule` giving its alerts the labels `other` gives its alerts. */
export function labelsClashMessage(rule: Rule, other: Rule): string {
  return `its alerts would have the same labels as those of rule "${other.id}" (name ${JSON.stringify(rule.name)}, severity ${rule.severity}, the same labels and groupBy) and be one alert with it: give one of them another name or a distinguishing label`;
}

/** The first rule of `others` (other ids) whose alerts would carry the same labels as `rule`'s. */
export function labelsClash(rule: Rule, others: Iterable<Rule>): Rule | undefined {
  const key = alertLabelsKey(rule);
  if (key === undefined) return undefined;
  for (const other of others) if (other.id !== rule.id && alertLabelsKey(other) === key) return other;
  return undefined;
}
