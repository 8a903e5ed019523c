// Escalation chains: ordered steps, each "notify these receivers, then wait N"; the chain runs
// `repeat` (K) times and stops as soon as every firing alert of the group is acknowledged, or the
// group resolves. Alertmanager has no such thing; this is what reaches a human.
//
// Unit: one aggregation group of a route whose target is an escalation. Acknowledgement is per alert:
// a step notifies only the group's unacknowledged firing alerts, and when none is left the chain
// stops. A new unacknowledged alert in the group starts the chain again. Receivers already notified
// in the group's episode get its updates (new alerts, resolutions) at the group interval — and the
// resolved notice: "resolved goes to everyone who was notified". After the chain ends with
// alerts still unacknowledged, they get a reminder every repeatInterval. A step that falls due
// while every unacknowledged alert is muted (silence, inhibition, mute timing) pauses the chain;
// the first group flush that sees one of them again runs that step, and the chain goes on: a mute
// only holds notifications back, it acknowledges nothing.
// State (step, round, next step time, notified receivers) is persisted with the outbox rows it
// produced, so a restart resumes the chain where it was and never repeats a step. With it goes the
// chain's steps as they were, so that a restart or reload that edited the chain goes on from the
// equivalent step (equivalent-step.ts), with the current step's new wait.
import type { DatabaseSync } from 'node:sqlite';
import type { Acks } from '../ack/acks.ts';
import type { Clock, TimerHandle } from '../clock.ts';
import type { NotifyAlert } from '../dispatch/alert.ts';
import { episodeStart, ESCALATION_LOG_RECEIVER, needsUpdate, nextEntry, NFLOG_RETENTION_MS, type NotificationLog } from '../dispatch/dedup.ts';
import type { AggregationGroup } from '../dispatch/dispatcher.ts';
import { decisionTag, fingerprints, type EscalationHandler, type SendRequest } from '../dispatch/notify-stage.ts';
import type { NotifyMetrics } from '../notify-metrics.ts';
import type { NotifierLogger } from '../notify/notifier.ts';
import type { Timeline } from '../timeline/timeline.ts';
import { equivalentStep, sameSteps, type StepLike } from './equivalent-step.ts';

/**
 * How far ahead of its due time, by the clock, a timer of the system clock can fire: Node runs
 * timers on the event loop's millisecond-truncated time (1 ms, a margin for the loop's rounding).
 */
const TIMER_EARLY_MS = 50;

export interface EscalationChain {
  name: string;
  repeat: number;
  steps: { notify: string[]; waitMs: number }[];
}

export type EscalationStatus = 'running' | 'muted' | 'acknowledged' | 'exhausted' | 'idle';

export interface EscalationState {
  groupKey: string;
  chain: string;
  /** nflog episode this state belongs to. */
  episode: number;
  status: EscalationStatus;
  /** 0-based step and round of the last step executed (-1: none of this round, after an edit removed it). */
  step: number;
  cycle: number;
  /** Epoch ms of the next step while running. */
  nextAt: number | null;
  /** Receivers notified in this episode (they get updates and the resolved notice). */
  notified: string[];
  /** How many times the chain (re)started in this episode; part of the step's idempotency key. */
  run: number;
  updatedAt: number;
}

/** What is persisted: the state, and the chain's steps it was at (absent in states written before they were kept). */
interface StoredState extends EscalationState {
  steps?: StepLike[];
  /** How many times an edit of the chain moved the state's step; part of the step's idempotency key. */
  edits?: number;
}

export { ESCALATION_LOG_RECEIVER };

export interface EscalationDeps {
  db: DatabaseSync;
  clock: Clock;
  chains: readonly EscalationChain[];
  nflog: NotificationLog;
  acks: Acks;
  metrics: NotifyMetrics;
  timeline: Timeline;
  group(key: string): AggregationGroup | undefined;
  groupsOf(fingerprint: string): AggregationGroup[];
  visible(group: AggregationGroup, now: number): NotifyAlert[];
  send(req: SendRequest, now: number): void;
  logger: NotifierLogger;
  /** Runs timer work in one transaction and kicks the outbox after. */
  run(fn: () => void): void;
  onError(err: unknown): void;
}

/** The state as the API shows it: without what is kept for edits of the chain. */
function view(st: StoredState): EscalationState {
  const { steps: _steps, edits: _edits, ...shown } = st;
  return { ...shown, notified: [...st.notified] };
}

export class Escalations implements EscalationHandler {
  readonly #d: EscalationDeps;
  readonly #chains: Map<string, EscalationChain>;
  readonly #states = new Map<string, StoredState>();
  readonly #timers = new Map<string, TimerHandle>();
  readonly #save;
  readonly #delete;

  constructor(deps: EscalationDeps) {
    this.#d = deps;
    this.#chains = new Map(deps.chains.map((c) => [c.name, c]));
    this.#save = deps.db.prepare('INSERT INTO notify_escalations(group_key, body) VALUES (?, ?) ON CONFLICT(group_key) DO UPDATE SET body = excluded.body');
    this.#delete = deps.db.prepare('DELETE FROM notify_escalations WHERE group_key = ?');
  }

  /**
   * Loads persisted chains and re-arms the running ones (a step that fell due while down runs now),
   * after the groups are back. A running or held chain whose chain the config edited goes on from
   * the equivalent step; one whose group is gone or whose route no longer escalates stops, with a
   * log line.
   */
  restore(): void {
    const now = this.#d.clock.now();
    for (const row of this.#d.db.prepare('SELECT body FROM notify_escalations').all() as { body: string }[]) {
      const st = JSON.parse(row.body) as StoredState;
      this.#states.set(st.groupKey, st);
      const group = this.#d.group(st.groupKey);
      // The state's chain, when its route still escalates with it.
      const chain = group?.route.opts.escalation === st.chain ? this.#chains.get(st.chain) : undefined;
      if (st.status === 'exhausted' && chain && group) this.#extend(st, chain, group, now);
      if (st.status !== 'running' && st.status !== 'muted') continue;
      if (!group || group.route.opts.escalation === undefined) {
        // Its alerts were regrouped (their new groups escalate on their own), or its route was given
        // a receiver (told at the group's next flush): the chain would page nobody the config names,
        // and shown running in the API until its next step, it would look as if it still did.
        this.#d.logger.warn(
          { chain: st.chain, groupKey: st.groupKey, step: st.step + 1 },
          group ? 'escalation stopped: its route no longer escalates since the configuration changed' : 'escalation stopped: its alert group no longer exists since the configuration changed',
        );
        this.#stop(st, 'idle', 'gone', group ? [...group.alerts.values()] : [], now);
        this.#drop(st.groupKey);
        continue;
      }
      // A route that escalates with another chain starts it at the group's flush, which drops this state (onFlush).
      if (chain) this.#follow(st, chain, now);
      if (st.status === 'running' && st.nextAt !== null) this.#arm(st);
    }
  }

  /**
   * A chain that ran to its end with alerts still unacknowledged, given steps after its last one or
   * more rounds by an edit, goes on with them at once: the on-call who adds an SMS step because
   * nobody answered expects it paged. The steps it ran are not paged again. One whose alerts were
   * all acknowledged since it ended stays as it is: run again, it stopped at once as acknowledged,
   * a second escalation_stopped on each alert's timeline for a chain that had not gone on.
   */
  #extend(st: StoredState, chain: EscalationChain, group: AggregationGroup, now: number): void {
    if (this.#unacked([...group.alerts.values()]).length === 0) return;
    const before = st.steps ?? chain.steps;
    const to = sameSteps(before, chain.steps) ? { step: st.step } : equivalentStep(before, chain.steps, st.step);
    if (to.step + 1 >= chain.steps.length && st.cycle + 1 >= chain.repeat) return;
    if (to.step !== st.step) st.edits = (st.edits ?? 0) + 1;
    st.step = to.step;
    st.status = 'running';
    st.nextAt = now; // #advance: the next step, or the next round, unless all are acknowledged by now
    this.#persist(st);
    this.#d.logger.info?.(
      { chain: chain.name, groupKey: st.groupKey, step: to.step + 2 <= chain.steps.length ? to.step + 2 : 1, round: to.step + 2 <= chain.steps.length ? st.cycle + 1 : st.cycle + 2 },
      'escalation chain edited: the escalation that had ended goes on with what the edit added',
    );
  }

  /** Moves a state persisted with other steps to the equivalent step of `chain`, as it is now. */
  #follow(st: StoredState, chain: EscalationChain, now: number): void {
    const before = st.steps;
    if (!before || sameSteps(before, chain.steps)) return;
    const to = equivalentStep(before, chain.steps, st.step);
    const was = st.step;
    if (st.status === 'running' && st.nextAt !== null) {
      // The step's wait goes on with its new length, counted from when the step ran; when the step
      // is gone, its wait is too, and the step after the equivalent position is due now.
      st.nextAt = to.same && before[was] ? st.nextAt - before[was].waitMs + chain.steps[to.step].waitMs : now;
    }
    if (to.step !== was) st.edits = (st.edits ?? 0) + 1;
    st.step = to.step;
    this.#persist(st);
    this.#d.logger.info?.(
      { chain: chain.name, groupKey: st.groupKey, step: to.step + 1, wasStep: was + 1, steps: chain.steps.length, nextAt: st.nextAt === null ? null : new Date(st.nextAt).toISOString() },
      to.same ? 'escalation chain edited: the escalation goes on from its step in the new chain' : 'escalation chain edited: its current step was removed, the escalation goes on with the next one',
    );
  }

  state(groupKey: string): EscalationState | undefined {
    const st = this.#states.get(groupKey);
    return st ? view(st) : undefined;
  }

  states(): EscalationState[] {
    return [...this.#states.values()].map(view);
  }

  #persist(st: StoredState): void {
    st.updatedAt = this.#d.clock.now();
    const chain = this.#chains.get(st.chain);
    if (chain) st.steps = chain.steps.map((s) => ({ notify: [...s.notify], waitMs: s.waitMs }));
    this.#states.set(st.groupKey, st);
    this.#save.run(st.groupKey, JSON.stringify(st));
  }

  #drop(groupKey: string): void {
    this.#disarm(groupKey);
    this.#states.delete(groupKey);
    this.#delete.run(groupKey);
  }

  #arm(st: EscalationState): void {
    this.#disarm(st.groupKey);
    const key = st.groupKey;
    const handle = this.#d.clock.setTimeout(() => {
      this.#timers.delete(key);
      try {
        this.#d.run(() => this.#advance(key));
      } catch (err) {
        this.#d.onError(err);
      }
    }, Math.max(0, (st.nextAt ?? 0) - this.#d.clock.now()));
    this.#timers.set(key, handle);
  }

  #disarm(groupKey: string): void {
    const t = this.#timers.get(groupKey);
    if (t !== undefined) this.#d.clock.clearTimeout(t);
    this.#timers.delete(groupKey);
  }

  #unacked(alerts: readonly NotifyAlert[]): NotifyAlert[] {
    return alerts.filter((a) => a.status === 'firing' && !this.#d.acks.of(a));
  }

  #stop(st: StoredState, status: EscalationStatus, reason: string, alerts: readonly NotifyAlert[], now: number): void {
    const wasRunning = st.status === 'running';
    st.status = status;
    st.nextAt = null;
    this.#disarm(st.groupKey);
    this.#persist(st);
    if (wasRunning) {
      this.#d.metrics.escalationsStopped.inc({ escalation: st.chain, reason });
      for (const a of alerts) this.#d.timeline.add(a.fingerprint, 'escalation_stopped', { chain: st.chain, reason, step: st.step + 1, round: st.cycle + 1 }, now);
    }
  }

  /** Notifies the current step's receivers with the unacknowledged firing alerts and arms the wait. */
  #executeStep(st: StoredState, group: AggregationGroup, unacked: NotifyAlert[], now: number): void {
    const chain = this.#chains.get(st.chain);
    if (!chain) return;
    const step = chain.steps[st.step];
    const escalation = { chain: chain.name, step: st.step + 1, steps: chain.steps.length, cycle: st.cycle + 1, repeat: chain.repeat };
    for (const receiver of step.notify) {
      this.#d.send({ group, receiver, alerts: unacked, reason: 'escalation', stepTag: `n${st.run}c${st.cycle}s${st.step}${st.edits ? `e${st.edits}` : ''}`, episode: st.episode, escalation }, now);
      if (!st.notified.includes(receiver)) st.notified.push(receiver);
    }
    st.nextAt = now + step.waitMs;
    st.status = 'running';
    this.#persist(st);
    this.#arm(st);
    this.#d.metrics.escalationSteps.inc({ escalation: chain.name });
    for (const a of unacked) this.#d.timeline.add(a.fingerprint, 'escalation_step', { chain: chain.name, step: st.step + 1, steps: chain.steps.length, round: st.cycle + 1, receivers: step.notify }, now);
  }

  onFlush(group: AggregationGroup, firing: NotifyAlert[], resolved: NotifyAlert[], now: number): void {
    const chainName = group.route.opts.escalation as string;
    const chain = this.#chains.get(chainName);
    if (!chain) return;
    const entry = this.#d.nflog.get(group.key, ESCALATION_LOG_RECEIVER);
    let reason = needsUpdate(entry, fingerprints(firing), fingerprints(resolved), true, group.route.opts.repeatIntervalMs, now);
    const known = this.#states.get(group.key);
    const pendingUnacked = this.#unacked(firing);
    if (entry && (reason === undefined || reason === 'repeat') && known?.episode === entry.episode && known.chain === chain.name && pendingUnacked.length > 0) {
      if (known.status === 'muted') {
        // The mute that paused the chain is lifted for some of its alerts: the step that fell due runs now.
        for (const a of pendingUnacked) this.#d.timeline.add(a.fingerprint, 'escalation_resumed', { chain: chain.name }, now);
        this.#nextStep(known, chain, group, pendingUnacked, now);
        if (reason) this.#d.nflog.set(group.key, ESCALATION_LOG_RECEIVER, nextEntry(entry, reason, fingerprints(firing), fingerprints(resolved), now, entry.episode));
        return;
      }
      // An alert of an acknowledged chain is firing unacknowledged: it resolved and fired again
      // between two group ticks (its ack ended with the old episode). Like a new alert, it starts
      // the chain again, although the notification log has seen its fingerprint.
      if (known.status === 'acknowledged') reason = 'new_alerts';
    } else if (entry && (reason === undefined || reason === 'repeat') && known !== undefined && known.chain !== chain.name && pendingUnacked.length > 0) {
      // The route escalates with another chain since a reload or restart: the notification log
      // (one entry per group, whatever the chain) has seen these alerts, but the new chain's people
      // have not been paged; it starts from its first step, as a new receiver is notified. So it
      // does whatever the old chain's state: held by a mute it would never resume (its route's
      // chain is another), ended it would leave the alerts unacknowledged with nobody paging.
      reason = 'new_alerts';
    } else if (entry && (reason === undefined || reason === 'repeat') && known === undefined && pendingUnacked.length > 0) {
      // No chain runs for these alerts although the log has seen them: it was stopped because the
      // route no longer escalated (given a receiver, or its group gone for a while), and the route
      // escalates again (the edit reverted). It starts from its first step, as a chain newly given
      // to the route does; without it the alerts were never escalated again.
      reason = 'new_alerts';
    }
    if (!reason) return;
    const next = nextEntry(entry, reason, fingerprints(firing), fingerprints(resolved), now, episodeStart(firing, now));
    let st = this.#states.get(group.key);
    if (st && (st.episode !== next.episode || st.chain !== chain.name)) {
      this.#drop(group.key);
      st = undefined;
    }
    const visible = [...firing, ...resolved];
    const unacked = this.#unacked(firing);
    const update = (kind: SendRequest['reason'], tag: string) => {
      for (const receiver of st?.notified ?? []) this.#d.send({ group, receiver, alerts: visible, reason: kind, resolvedOnly: reason === 'new_resolved', stepTag: tag, episode: next.episode }, now);
    };

    if (firing.length === 0) {
      // Everything resolved: the resolved notice goes to every receiver notified in the episode.
      update('all_resolved', decisionTag('resolved', entry));
      if (st) {
        this.#stop(st, 'idle', 'resolved', resolved, now);
        this.#drop(group.key);
      }
    } else if (st?.status === 'running') {
      // A repeat tick during the chain sends nothing: the chain's own steps are the reminders
      // (docs/alerting-notifications.md); recording it restarts the repeat clock, so the first
      // reminder comes a repeatInterval after it, not right after the chain's last step.
      if (reason !== 'repeat') update('update', decisionTag('update', entry));
    } else if (unacked.length > 0 && reason !== 'repeat') {
      const before = [...(st?.notified ?? [])];
      const fresh: StoredState = st ?? { groupKey: group.key, chain: chain.name, episode: next.episode, status: 'idle', step: 0, cycle: 0, nextAt: null, notified: [], run: -1, updatedAt: now };
      const restart = st !== undefined;
      fresh.step = 0;
      fresh.cycle = 0;
      fresh.run++;
      st = fresh;
      for (const a of unacked) this.#d.timeline.add(a.fingerprint, 'escalation_started', { chain: chain.name, restart }, now);
      // Receivers told about the group before a restart hear about the new alerts too.
      const stepReceivers = chain.steps[0].notify;
      for (const receiver of before.filter((r) => !stepReceivers.includes(r))) {
        this.#d.send({ group, receiver, alerts: visible, reason: 'update', stepTag: decisionTag('update', entry), episode: next.episode }, now);
      }
      this.#executeStep(st, group, unacked, now);
    } else if (reason === 'repeat') {
      if (unacked.length > 0) {
        for (const receiver of st?.notified ?? []) this.#d.send({ group, receiver, alerts: unacked, reason: 'reminder', stepTag: decisionTag('reminder', entry), episode: next.episode }, now);
      }
    } else {
      update('update', decisionTag('update', entry));
    }
    this.#d.nflog.set(group.key, ESCALATION_LOG_RECEIVER, next);
  }

  /** The wait of the current step is over: the next step, the next round, or the end. */
  #advance(groupKey: string): void {
    const st = this.#states.get(groupKey);
    if (!st || st.status !== 'running') return;
    const chain = this.#chains.get(st.chain);
    const group = this.#d.group(groupKey);
    const now = this.#d.clock.now();
    // Node runs a timer on the event loop's cached, truncated time, so by the clock it can fire a
    // millisecond early: a step is never paged before its wait is over (the timer is set again).
    // Timers count elapsed time; a timer that fires further ahead of nextAt than that means the
    // wall clock was stepped back meanwhile (NTP, a VM resumed, `date -s`): the wait is over, and
    // setting the timer again would page the next step as much later as the step (an hour).
    if (st.nextAt !== null && now < st.nextAt && st.nextAt - now <= TIMER_EARLY_MS) {
      this.#arm(st);
      return;
    }
    if (!chain || !group || group.route.opts.escalation !== st.chain) {
      // The group is gone (its route's grouping or the chain changed in the config since the
      // restart or reload), or its route no longer escalates with this chain (it was given a
      // receiver or another chain): nothing is left to escalate — paging the next step would
      // page people the configuration no longer names — and its state would linger in the API forever.
      this.#stop(st, 'idle', 'gone', [], now);
      this.#drop(groupKey);
      return;
    }
    const visible = this.#d.visible(group, now);
    const firing = visible.filter((a) => a.status === 'firing');
    const unacked = this.#unacked(firing);
    if (unacked.length === 0) {
      const all = [...group.alerts.values()];
      const stillFiring = all.filter((a) => a.status === 'firing');
      if (stillFiring.length === 0) this.#stop(st, 'idle', 'resolved', all, now);
      else if (firing.length > 0 && this.#unacked(stillFiring).length === 0) this.#stop(st, 'acknowledged', 'acknowledged', all, now);
      else this.#stop(st, 'muted', 'muted', all, now);
      return;
    }
    this.#nextStep(st, chain, group, unacked, now);
  }

  /** Runs the step after the last one executed: the next step, the next round, or the end of the chain. */
  #nextStep(st: StoredState, chain: EscalationChain, group: AggregationGroup, unacked: NotifyAlert[], now: number): void {
    if (st.cycle >= chain.repeat) {
      // `repeat` was lowered (a reload or restart) below the rounds already run: the chain has run
      // all the rounds it has now, and the rest of this round is not paged.
      st.step = chain.steps.length - 1;
      st.cycle = chain.repeat - 1;
      this.#stop(st, 'exhausted', 'exhausted', unacked, now);
      return;
    }
    st.step++;
    if (st.step >= chain.steps.length) {
      st.step = 0;
      st.cycle++;
      if (st.cycle >= chain.repeat) {
        st.step = chain.steps.length - 1;
        st.cycle = chain.repeat - 1;
        this.#stop(st, 'exhausted', 'exhausted', unacked, now);
        return;
      }
    }
    this.#executeStep(st, group, unacked, now);
  }

  /** An alert was acknowledged: chains whose firing alerts are now all acknowledged stop at once. */
  onAck(fingerprint: string, now: number): void {
    for (const group of this.#d.groupsOf(fingerprint)) {
      const st = this.#states.get(group.key);
      if (!st || (st.status !== 'running' && st.status !== 'muted')) continue;
      // A paused chain counts its muted alerts too: they resume it when the mute lifts.
      const firing = (st.status === 'muted' ? [...group.alerts.values()] : this.#d.visible(group, now)).filter((a) => a.status === 'firing');
      if (this.#unacked(firing).length === 0) this.#stop(st, 'acknowledged', 'acknowledged', firing, now);
    }
  }

  /**
   * Drops the states of groups that no longer exist once they are as old as the notification log
   * keeps its entries (NFLOG_RETENTION_MS): an acknowledged or exhausted chain whose group went away
   * without a resolution (a config change regrouped its alerts) means nothing after its episode's
   * log entry is gone, as onFlush then starts a new episode.
   */
  gc(now: number, live: (groupKey: string) => boolean): void {
    for (const st of [...this.#states.values()]) {
      if (st.updatedAt < now - NFLOG_RETENTION_MS && !live(st.groupKey)) this.#drop(st.groupKey);
    }
  }

  shutdown(): void {
    for (const t of this.#timers.values()) this.#d.clock.clearTimeout(t);
    this.#timers.clear();
  }
}
