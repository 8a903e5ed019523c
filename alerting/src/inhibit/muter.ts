// One interface for everything that keeps an alert out of a notification: silences, inhibition
// and mute/active timings. Alertmanager's MuteStage/TimeMuteStage in one shape
// (https://prometheus.io/docs/alerting/latest/configuration/#time_interval): a muted alert stays in
// its group (it still keeps the group from resolving) but is not shown to the receiver.
// Flapping is not a mute: the rules engine sends the transition that starts the flapping,
// annotated, and holds back the next ones until the alert settles.
import type { NotifyAlert } from '../dispatch/alert.ts';

export type MuteKind = 'silence' | 'inhibition' | 'mute_timing';

export interface Mute {
  kind: MuteKind;
  /** What mutes it: silence id, inhibition rule + source fingerprint, timing name. */
  by: string;
}

/** Where the decision is taken: the time and the route's timings (timings are per route, not inherited). */
export interface MuteScope {
  now: number;
  muteTimings?: readonly string[];
  activeTimings?: readonly string[];
}

export interface Muter {
  mutes(alert: NotifyAlert, scope: MuteScope): Mute | undefined;
}

/** The first mute of the given muters, in order. */
export function composeMuters(...muters: Muter[]): Muter {
  return {
    mutes(alert, scope) {
      for (const m of muters) {
        const mute = m.mutes(alert, scope);
        if (mute) return mute;
      }
      return undefined;
    },
  };
}
