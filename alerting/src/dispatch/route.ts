// The routing tree, as Alertmanager's dispatch.Route
// (https://prometheus.io/docs/alerting/latest/configuration/#route):
//  - depth-first, left to right; an alert stops at the first matching child unless that child has
//    `continue: true`; a node none of whose children match is itself the match;
//  - receiver/escalation, groupBy, groupWait, groupInterval, repeatInterval and locale are inherited
//    from the parent; muteTimings/activeTimings are NOT (Alertmanager does not inherit them either);
//  - root defaults: groupWait 30s, groupInterval 5m, repeatInterval 4h, no grouping labels;
//  - `groupBy: ['...']` groups by all labels.
// A node sending to an escalation chain sets `escalation` instead of `receiver`; setting one on a
// node clears the other inherited from its parent.
import { durationMs } from './duration.ts';
import { compileMatchers, matchersToString, matchesAll, type CompiledMatcher, type MatcherInput } from './matchers.ts';

export interface RouteConfig {
  receiver?: string;
  escalation?: string;
  matchers?: MatcherInput[];
  groupBy?: string[];
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
  continue?: boolean;
  muteTimings?: string[];
  activeTimings?: string[];
  locale?: string;
  routes?: RouteConfig[];
}

export interface RouteOpts {
  receiver?: string;
  escalation?: string;
  groupBy: string[];
  groupByAll: boolean;
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  muteTimings: string[];
  activeTimings: string[];
  locale?: string;
}

export const DEFAULT_ROUTE_OPTS: RouteOpts = {
  groupBy: [],
  groupByAll: false,
  groupWaitMs: 30_000,
  groupIntervalMs: 300_000,
  repeatIntervalMs: 4 * 3_600_000,
  muteTimings: [],
  activeTimings: [],
};

export class Route {
  readonly parent: Route | undefined;
  readonly opts: RouteOpts;
  readonly matchers: CompiledMatcher[];
  readonly continue: boolean;
  readonly routes: Route[];
  /** Config path, e.g. `route.routes.1.routes.0` (used in errors and timelines). */
  readonly path: string;
  /**
   * Alertmanager's route key (its Route.Key): parent key + '/' + matchers, so the group keys, and with
   * them the notification log and escalations, do not depend on where the route sits among its
   * siblings: reordering routes re-notifies nothing. A sibling with the same matchers as an earlier
   * one gets `/<n>` (its n-th repetition) so that the two keep separate groups.
   */
  readonly id: string;
  /** The id versions before 2026-12 used (each level's position appended): to migrate their state. */
  readonly legacyId: string;

  constructor(config: RouteConfig, parent?: Route, position = 0, path = 'route', repetition = 0) {
    this.parent = parent;
    this.path = path;
    const opts: RouteOpts = { ...(parent?.opts ?? DEFAULT_ROUTE_OPTS) };
    if (config.receiver !== undefined) {
      opts.receiver = config.receiver;
      if (config.escalation === undefined) opts.escalation = undefined;
    }
    if (config.escalation !== undefined) {
      opts.escalation = config.escalation;
      if (config.receiver === undefined) opts.receiver = undefined;
    }
    if (config.groupBy !== undefined) {
      opts.groupByAll = config.groupBy.includes('...');
      opts.groupBy = opts.groupByAll ? [] : [...config.groupBy].sort();
    }
    if (config.groupWait !== undefined) opts.groupWaitMs = durationMs(config.groupWait, `${path}.groupWait`);
    if (config.groupInterval !== undefined) opts.groupIntervalMs = durationMs(config.groupInterval, `${path}.groupInterval`);
    if (config.repeatInterval !== undefined) opts.repeatIntervalMs = durationMs(config.repeatInterval, `${path}.repeatInterval`);
    if (config.locale !== undefined) opts.locale = config.locale;
    opts.muteTimings = config.muteTimings ?? [];
    opts.activeTimings = config.activeTimings ?? [];
    this.opts = opts;
    this.matchers = compileMatchers(config.matchers);
    this.continue = config.continue ?? false;
    const matchers = matchersToString(this.matchers);
    this.id = parent ? `${parent.id}/${matchers}${repetition > 0 ? `/${repetition}` : ''}` : matchers;
    this.legacyId = parent ? `${parent.legacyId}/${matchers}/${position}` : matchers;
    const seen = new Map<string, number>();
    this.routes = (config.routes ?? []).map((c, i) => {
      const m = matchersToString(compileMatchers(c.matchers));
      const n = seen.get(m) ?? 0;
      seen.set(m, n + 1);
      return new Route(c, this, i, `${path}.routes.${i}`, n);
    });
  }

  /** The routes an alert with these labels goes to (Alertmanager's Route.Match). */
  match(labels: Record<string, string>): Route[] {
    if (!matchesAll(this.matchers, labels)) return [];
    const all: Route[] = [];
    for (const child of this.routes) {
      const matches = child.match(labels);
      all.push(...matches);
      if (matches.length > 0 && !child.continue) break;
    }
    if (all.length === 0) all.push(this);
    return all;
  }

  walk(visit: (r: Route) => void): void {
    visit(this);
    for (const r of this.routes) r.walk(visit);
  }

  /** The labels this route groups the alert by. */
  groupLabels(labels: Record<string, string>): Record<string, string> {
    if (this.opts.groupByAll) return { ...labels };
    const out: Record<string, string> = {};
    for (const name of this.opts.groupBy) if (labels[name] !== undefined) out[name] = labels[name];
    return out;
  }

  /** Alertmanager's group key: `<route key>:{a="1", b="2"}`. */
  groupKey(groupLabels: Record<string, string>): string {
    const pairs = Object.keys(groupLabels).sort().map((k) => `${k}=${JSON.stringify(groupLabels[k])}`);
    return `${this.id}:{${pairs.join(', ')}}`;
  }
}
