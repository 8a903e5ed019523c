// Aggregation groups and their timers, as Alertmanager's dispatch.aggrGroup
// (https://prometheus.io/docs/alerting/latest/configuration/#route, group_wait / group_interval):
//  - a group is created by its first alert and flushes after groupWait;
//  - an alert whose startsAt + groupWait is already past (e.g. restored after a restart) makes a
//    group that has not flushed yet flush at once;
//  - a group rebuilt by a restart or a reload that replaced the pipeline (insert's `restored`)
//    flushes at its first alert's startsAt + groupWait, what is left of the wait, not a whole
//    groupWait from the restart: a configuration pushed more often than groupWait postponed the
//    first notification by up to a groupWait each time; one whose route's receiver (or chain) it
//    had notified (`lastFlush`: that notification, of an open episode) counts as flushed and keeps
//    its groupInterval ticks,
//    so an alert added since is sent at the next tick, not at the restart (Alertmanager's open
//    issue #2492: a reload sent it at once);
//  - after the first flush the group flushes every groupInterval; what a flush sends is decided
//    by the flush handler (mute → dedup → receiver or escalation), never here;
//  - after a flush, resolved alerts that did not change during it leave the group; an empty group
//    is dropped.
import type { Clock, TimerHandle } from '../clock.ts';
import type { NotifyAlert } from './alert.ts';
import type { Route } from './route.ts';

export interface AggregationGroup {
  key: string;
  route: Route;
  labels: Record<string, string>;
  alerts: Map<string, NotifyAlert>;
  hasFlushed: boolean;
}

export interface FlushHandler {
  flush(group: AggregationGroup, now: number): void;
}

interface GroupTimer {
  group: AggregationGroup;
  timer: TimerHandle | undefined;
  /** Epoch ms the armed timer fires at. */
  due: number;
}

export class Dispatcher {
  readonly #clock: Clock;
  readonly #route: Route;
  readonly #handler: FlushHandler;
  /** Runs a flush; the pipeline wraps it in one database transaction and kicks the outbox after. */
  readonly #run: (fn: () => void) => void;
  readonly #onError: (err: unknown, groupKey: string) => void;
  readonly #lastFlush: (groupKey: string, route: Route) => number | undefined;
  readonly #groups = new Map<string, GroupTimer>();
  #stopped = false;

  constructor(deps: {
    clock: Clock;
    route: Route;
    handler: FlushHandler;
    run?: (fn: () => void) => void;
    onError?: (err: unknown, groupKey: string) => void;
    /**
     * For a group rebuilt at start: epoch ms of a flush of it that notified the route's receiver
     * (or chain), if that episode is still open; undefined when the route's target was never told
     * (a receiver changed by a reload is notified at once, as a new group's).
     */
    lastFlush?: (groupKey: string, route: Route) => number | undefined;
  }) {
    this.#clock = deps.clock;
    this.#route = deps.route;
    this.#handler = deps.handler;
    this.#run = deps.run ?? ((fn) => fn());
    this.#onError = deps.onError ?? (() => {});
    this.#lastFlush = deps.lastFlush ?? (() => undefined);
  }

  /**
   * Routes the alert and puts it in each matching route's group. Returns the group keys.
   * `restored`: put back from the alert store at start, when the group's wait began before.
   */
  insert(alert: NotifyAlert, restored = false): string[] {
    if (this.#stopped) return [];
    const now = this.#clock.now();
    const keys: string[] = [];
    for (const route of this.#route.match(alert.labels)) {
      const labels = route.groupLabels(alert.labels);
      const key = route.groupKey(labels);
      keys.push(key);
      let g = this.#groups.get(key);
      if (!g) {
        g = { group: { key, route, labels, alerts: new Map(), hasFlushed: false }, timer: undefined, due: Infinity };
        this.#groups.set(key, g);
        const last = restored ? this.#lastFlush(key, route) : undefined;
        if (last === undefined) this.#arm(g, route.opts.groupWaitMs);
        else {
          // The first of its ticks (last + k × groupInterval) after now: where it would have been.
          const every = route.opts.groupIntervalMs;
          g.group.hasFlushed = true;
          this.#arm(g, last + Math.ceil(Math.max(1, now - last) / every) * every - now);
        }
      }
      g.group.alerts.set(alert.fingerprint, alert);
      if (!g.group.hasFlushed && alert.startsAt + route.opts.groupWaitMs < now) this.#arm(g, 0);
      else if (restored && !g.group.hasFlushed && alert.startsAt + route.opts.groupWaitMs < g.due) this.#arm(g, alert.startsAt + route.opts.groupWaitMs - now);
    }
    return keys;
  }

  #arm(g: GroupTimer, ms: number): void {
    if (g.timer !== undefined) this.#clock.clearTimeout(g.timer);
    g.due = this.#clock.now() + ms;
    g.timer = this.#clock.setTimeout(() => this.#fire(g), ms);
  }

  #fire(g: GroupTimer): void {
    g.timer = undefined;
    if (this.#stopped || this.#groups.get(g.group.key) !== g) return;
    const now = this.#clock.now();
    this.#arm(g, g.group.route.opts.groupIntervalMs);
    g.group.hasFlushed = true;
    const snapshot = new Map(g.group.alerts);
    try {
      this.#run(() => this.#handler.flush(g.group, now));
    } catch (err) {
      // Nothing was committed; the alerts stay and the next interval tries again.
      this.#onError(err, g.group.key);
      return;
    }
    for (const [fp, a] of snapshot) {
      if (a.status === 'resolved' && g.group.alerts.get(fp) === a) g.group.alerts.delete(fp);
    }
    if (g.group.alerts.size === 0) {
      if (g.timer !== undefined) this.#clock.clearTimeout(g.timer);
      this.#groups.delete(g.group.key);
    }
  }

  group(key: string): AggregationGroup | undefined {
    return this.#groups.get(key)?.group;
  }

  groups(): AggregationGroup[] {
    return [...this.#groups.values()].map((g) => g.group);
  }

  groupsOf(fingerprint: string): AggregationGroup[] {
    return this.groups().filter((g) => g.alerts.has(fingerprint));
  }

  stop(): void {
    this.#stopped = true;
    for (const g of this.#groups.values()) if (g.timer !== undefined) this.#clock.clearTimeout(g.timer);
    this.#groups.clear();
  }
}
