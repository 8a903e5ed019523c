// What a group flush sends: mute (silences, inhibition, mute timings, flapping — one Muter) →
// dedup against the notification log → the route's receiver, or its escalation chain.
// Muted alerts stay in the group but are not shown (Alertmanager's MuteStage); when every alert of a
// group is muted nothing happens and the log is left as it was.
import type { Acks } from '../ack/acks.ts';
import type { Muter } from '../inhibit/muter.ts';
import type { Timeline } from '../timeline/timeline.ts';
import type { NotifyAlert } from './alert.ts';
import { episodeStart, ESCALATION_LOG_RECEIVER, needsUpdate, nextEntry, type NotificationLog, type NotifyReason } from './dedup.ts';
import type { AggregationGroup, FlushHandler } from './dispatcher.ts';

export interface SendRequest {
  group: AggregationGroup;
  receiver: string;
  /** Alerts to show (firing and resolved); channels without sendResolved drop the resolved ones. */
  alerts: NotifyAlert[];
  reason: NotifyReason | 'escalation' | 'update' | 'reminder';
  /**
   * Nothing changed since the last message but alerts that resolved: an integration that does not
   * send resolved alerts gets no message (Alertmanager keeps its notification log per integration).
   */
  resolvedOnly?: boolean;
  /** Distinguishes messages with the same alerts (escalation step/cycle, repeat number). */
  stepTag: string;
  /** First notification time of the group's current sequence (threads email). */
  episode: number;
  escalation?: { chain: string; step: number; steps: number; cycle: number; repeat: number };
}

export interface EscalationHandler {
  onFlush(group: AggregationGroup, firing: NotifyAlert[], resolved: NotifyAlert[], now: number): void;
}

export interface StageDeps {
  muter: Muter;
  nflog: NotificationLog;
  acks: Acks;
  timeline: Timeline;
  send(req: SendRequest, now: number): void;
  /** Whether any integration of the receiver sends resolved notices. */
  sendResolved(receiver: string): boolean;
}

export const fingerprints = (alerts: readonly NotifyAlert[]) => new Set(alerts.map((a) => a.fingerprint));

/**
 * Names one decision of the notification log: the reason and the time of the entry it follows.
 * Unique per decision (every decision moves the entry's timestamp) yet the same when a decision is
 * replayed from the same persisted state — which is what an idempotency key needs.
 */
export function decisionTag(reason: string, entry: { timestamp: number } | undefined): string {
  return `${reason}@${entry?.timestamp ?? 0}`;
}

export class NotifyStage implements FlushHandler {
  readonly #d: StageDeps;
  #escalations: EscalationHandler | undefined;
  /** Last mute seen per alert, so the timeline records changes, not every flush. */
  readonly #lastMute = new Map<string, string>();
  /** Firing alerts of routes without a receiver: fingerprint → the transition recorded unrouted (once per episode). */
  readonly #unrouted = new Map<string, number>();

  constructor(deps: StageDeps) {
    this.#d = deps;
  }

  setEscalations(handler: EscalationHandler): void {
    this.#escalations = handler;
  }

  /**
   * A resolved alert that is muted is not shown, and this flush is its last in the group: the
   * notification log forgets it as firing, sending nothing (a mute holds the resolved notice back,
   * as in Alertmanager). Left there, the log would say the receiver still knows it firing, so when
   * it fired again after the mute it was no new alert and waited for repeatInterval (hours) — an
   * alert silenced while firing that resolved under the silence was not notified when it came back.
   */
  #forgetMutedResolutions(group: AggregationGroup, visible: readonly NotifyAlert[]): void {
    const shown = fingerprints(visible);
    const gone = new Set([...group.alerts.values()].filter((a) => a.status === 'resolved' && !shown.has(a.fingerprint)).map((a) => a.fingerprint));
    if (gone.size === 0) return;
    const receiver = group.route.opts.escalation !== undefined ? ESCALATION_LOG_RECEIVER : group.route.opts.receiver;
    const entry = receiver === undefined ? undefined : this.#d.nflog.get(group.key, receiver);
    if (!entry || !entry.firing.some((fp) => gone.has(fp))) return;
    this.#d.nflog.set(group.key, receiver as string, { ...entry, firing: entry.firing.filter((fp) => !gone.has(fp)) });
  }

  /** The group's alerts that are not muted now. */
  visible(group: AggregationGroup, now: number): NotifyAlert[] {
    const scope = { now, muteTimings: group.route.opts.muteTimings, activeTimings: group.route.opts.activeTimings };
    const out: NotifyAlert[] = [];
    for (const a of group.alerts.values()) {
      const mute = this.#d.muter.mutes(a, scope);
      const key = mute ? `${mute.kind}:${mute.by}` : '';
      const memo = `${group.key}\u0000${a.fingerprint}`;
      if ((this.#lastMute.get(memo) ?? '') !== key) {
        if (mute) this.#d.timeline.add(a.fingerprint, 'muted', { kind: mute.kind, by: mute.by, group: group.key }, now);
        else this.#d.timeline.add(a.fingerprint, 'unmuted', { group: group.key }, now);
        if (key) this.#lastMute.set(memo, key);
        else this.#lastMute.delete(memo);
      }
      if (!mute) out.push(a);
    }
    return out;
  }

  /**
   * After a flush, the dispatcher drops the group's resolved alerts (this flush was their last; no
   * alert leaves a group otherwise), so their memos go too, here and nowhere else: kept, every label set that ever fired unrouted or resolved while muted (a
   * pod or request id in a label) stayed in memory for as long as the pipeline ran. A flush that
   * throws keeps its alerts, and their memos, for the next one.
   */
  flush(group: AggregationGroup, now: number): void {
    this.#flush(group, now);
    for (const a of group.alerts.values()) {
      if (a.status !== 'resolved') continue;
      this.#lastMute.delete(`${group.key}\u0000${a.fingerprint}`);
      this.#unrouted.delete(a.fingerprint);
    }
  }

  /** Memos held (tests check they stay bounded by the alerts in groups). */
  get memos(): number {
    return this.#lastMute.size + this.#unrouted.size;
  }

  #flush(group: AggregationGroup, now: number): void {
    const visible = this.visible(group, now);
    this.#forgetMutedResolutions(group, visible);
    if (visible.length === 0) return;
    const firing = visible.filter((a) => a.status === 'firing');
    const resolved = visible.filter((a) => a.status === 'resolved');
    const opts = group.route.opts;
    if (opts.escalation !== undefined && this.#escalations) {
      this.#escalations.onFlush(group, firing, resolved, now);
      return;
    }
    const receiver = opts.receiver;
    if (receiver === undefined) {
      for (const a of firing) {
        if (this.#unrouted.get(a.fingerprint) !== a.transitionId) this.#d.timeline.add(a.fingerprint, 'unrouted', { route: group.route.path }, now);
        this.#unrouted.set(a.fingerprint, a.transitionId);
      }
      return;
    }
    const entry = this.#d.nflog.get(group.key, receiver);
    const reason = needsUpdate(entry, fingerprints(firing), fingerprints(resolved), this.#d.sendResolved(receiver), opts.repeatIntervalMs, now);
    if (!reason) return;
    const next = nextEntry(entry, reason, fingerprints(firing), fingerprints(resolved), now, episodeStart(firing, now));
    this.#d.send({ group, receiver, alerts: visible, reason, resolvedOnly: reason === 'new_resolved', stepTag: decisionTag(reason, entry), episode: next.episode }, now);
    this.#d.nflog.set(group.key, receiver, next);
  }
}
