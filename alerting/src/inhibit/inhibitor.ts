// Inhibition: a firing source alert mutes target alerts that have the same values for the `equal`
// labels (a label missing on both sides counts as equal). Semantics of Alertmanager's inhibit.Inhibitor
// (https://prometheus.io/docs/alerting/latest/configuration/#inhibit_rule): an alert that matches
// both the source and the target matchers is not inhibited by alerts that also match both, so a
// rule can never make alerts mute each other.
import type { NotifyAlert } from '../dispatch/alert.ts';
import { compileMatchers, matchesAll, type CompiledMatcher, type MatcherInput } from '../dispatch/matchers.ts';
import type { Mute, MuteScope, Muter } from './muter.ts';

export interface InhibitRuleConfig {
  sourceMatchers: MatcherInput[];
  targetMatchers: MatcherInput[];
  equal?: string[];
}

interface CompiledRule {
  index: number;
  source: CompiledMatcher[];
  target: CompiledMatcher[];
  equal: string[];
}

export class Inhibitor implements Muter {
  readonly #rules: CompiledRule[];
  readonly #alerts: () => Iterable<NotifyAlert>;

  /** `alerts` yields the alerts currently known (sources are those of them that are firing). */
  constructor(rules: readonly InhibitRuleConfig[], alerts: () => Iterable<NotifyAlert>) {
    this.#rules = rules.map((r, index) => ({
      index,
      source: compileMatchers(r.sourceMatchers),
      target: compileMatchers(r.targetMatchers),
      equal: r.equal ?? [],
    }));
    this.#alerts = alerts;
  }

  mutes(alert: NotifyAlert, _scope: MuteScope): Mute | undefined {
    for (const rule of this.#rules) {
      if (!matchesAll(rule.target, alert.labels)) continue;
      const twoSided = matchesAll(rule.source, alert.labels);
      for (const source of this.#alerts()) {
        if (source.status !== 'firing' || source.fingerprint === alert.fingerprint) continue;
        if (!matchesAll(rule.source, source.labels)) continue;
        if (twoSided && matchesAll(rule.target, source.labels)) continue;
        if (rule.equal.every((l) => (source.labels[l] ?? '') === (alert.labels[l] ?? ''))) {
          return { kind: 'inhibition', by: `inhibitRules.${rule.index} (source ${source.fingerprint})` };
        }
      }
    }
    return undefined;
  }
}
