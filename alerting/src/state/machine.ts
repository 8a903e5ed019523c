import type { Cond } from '../rules/evaluate.ts';
import type { ErrorPolicy, FlappingSettings, NoDataPolicy } from '../rules/schema.ts';
import type { AlertState } from '../types.ts';

// The state machine of one alert instance — a pure function of (state, observation, rule, now).
//
//   inactive ─breach─▶ pending ─held for `for`─▶ firing ─clear (after keepFiringFor)─▶ resolved
//       ▲                 │ clear                   │                                    │
//       └─────────────────┘                         └────────── breach ◀─────────────────┘ (new episode)
//
// Hysteresis: an instance is "active" from a breach (value past `threshold`) until the value is
// strictly past `clearThreshold`; values in between keep the previous decision.
// `nodata` and `error` are states of their own layered over the normal state (`baseState`): a
// failed evaluation or missing data never moves an alert to resolved. When data returns, the
// normal machine continues from `baseState`; leaving nodata/error for a non-active state is
// reported as `resolved`. From a normal state they wait out `for` in `pending` first, as a breach
// does. What missing data means is the rule's `noData` policy:
//   nodata (default) → the `nodata` state · keepLast → the last decision stands ·
//   alerting → active · ok → not active.
// Flap detection follows Nagios (https://assets.nagios.com/downloads/nagioscore/docs/nagioscore/4/en/flapping.html):
// the last `window` states are kept; each change between consecutive states weighs 0.75 (oldest)
// … 1.25 (newest); the weighted changes as a percent of the `window - 1` possible changes start
// flapping at >= `high` and stop it at <= `low`. Pending and firing count as one state (a
// problem), inactive and resolved as another (ok), so a normal episode is two changes.

export type BaseState = 'inactive' | 'pending' | 'firing' | 'resolved';

export interface InstanceState {
  state: AlertState;
  /** The normal state underneath (equal to `state` unless state is nodata or error). */
  baseState: BaseState;
  /** Hysteresis memory: the last breach/clear decision. */
  active: boolean;
  pendingSince: number | null;
  lastActiveAt: number | null;
  /** Start of the current episode (first pending/firing, or start of nodata/error from ok). */
  startsAt: number | null;
  endsAt: number | null;
  /** When the current state was entered. */
  since: number;
  value: number | null;
  error: string | null;
  /** One character per evaluation (o ok, a problem, n nodata, e error), newest last, at most `window`. */
  flapHistory: string;
  flapping: boolean;
  flapPercent: number;
}

export type StepInput =
  | { kind: 'data'; cond: Cond; value: number }
  /** No series for this instance, but absence means ok (promql filter rules, the rule-level instance of a grouped rule). */
  | { kind: 'absent' }
  | { kind: 'nodata' }
  | { kind: 'error'; error: string };

export interface StepParams {
  forMs: number;
  keepFiringForMs: number;
  noData: NoDataPolicy;
  onError: ErrorPolicy;
  flapping: FlappingSettings;
}

export interface StepResult {
  next: InstanceState;
  /** `next.state !== prev.state`. */
  changed: boolean;
  flap?: 'start' | 'stop';
}

export function initialState(now: number): InstanceState {
  return {
    state: 'inactive',
    baseState: 'inactive',
    active: false,
    pendingSince: null,
    lastActiveAt: null,
    startsAt: null,
    endsAt: null,
    since: now,
    value: null,
    error: null,
    flapHistory: '',
    flapping: false,
    flapPercent: 0,
  };
}

function stateClass(s: AlertState): string {
  switch (s) {
    case 'pending':
    case 'firing': return 'a';
    case 'nodata': return 'n';
    case 'error': return 'e';
    default: return 'o';
  }
}

/** Nagios percent state change over a history padded (at the old end) to `window` entries. */
export function flapPercent(history: string, window: number): number {
  if (window < 3 || history.length < 2) return 0;
  const pad = window - history.length;
  let weighted = 0;
  for (let i = 1; i < history.length; i++) {
    if (history[i] === history[i - 1]) continue;
    const x = i + pad; // position in the full window, 1 … window-1
    weighted += ((x - 1) * (1.25 - 0.75)) / (window - 2) + 0.75;
  }
  return (weighted * 100) / (window - 1);
}

export function hasStateChanges(history: string): boolean {
  for (let i = 1; i < history.length; i++) if (history[i] !== history[i - 1]) return true;
  return false;
}

const isAbnormal = (s: AlertState) => s === 'nodata' || s === 'error';

/** A firing alert whose last breach is more recent than keepFiringFor. */
export function holdsFiring(prev: InstanceState, p: Pick<StepParams, 'keepFiringForMs'>, now: number): boolean {
  return prev.state === 'firing' && p.keepFiringForMs > 0 && prev.lastActiveAt !== null && now - prev.lastActiveAt < p.keepFiringForMs;
}

export function step(prev: InstanceState, input: StepInput, p: StepParams, now: number): StepResult {
  const s: InstanceState = { ...prev };
  let abnormal: 'nodata' | 'error' | undefined;
  let active: boolean;
  let value: number | null;
  /** Firing held by keepFiringFor through missing data: nothing moves, the anchor included. */
  let keepFiring = false;
  switch (input.kind) {
    case 'error':
      // What a failed evaluation means is the rule's `onError` policy (Grafana's error handling):
      // error (default) → the `error` state · keepLast → the last decision stands, as Grafana's
      // Keep Last State: `for` and keepFiringFor run on, so a pending alert fires once `for` has
      // passed (Prometheus would leave it pending) · alerting → active · ok → not active.
      value = null;
      active = prev.active;
      if (p.onError === 'error') {
        abnormal = 'error';
        s.error = input.error;
      } else if (p.onError === 'alerting') active = true;
      else if (p.onError === 'ok') active = false;
      // keepLast: an alert in nodata or error stays so (its error message too); left to the
      // branch below, a failure was read as data saying ok and moved it to firing or resolved.
      else if (isAbnormal(prev.state)) abnormal = prev.state as 'nodata' | 'error';
      else value = prev.value;
      break;
    case 'nodata':
      value = null;
      active = prev.active;
      if (p.noData === 'nodata' && holdsFiring(prev, p, now)) {
        // keepFiringFor covers missing data as it covers a clear (Prometheus keeps an alert whose
        // series vanished firing for keep_firing_for): a scrape gap shorter than it notifies nobody.
        value = prev.value;
        keepFiring = true;
      } else if (p.noData === 'nodata') abnormal = 'nodata';
      else if (p.noData === 'alerting') active = true;
      else if (p.noData === 'ok') active = false;
      else value = prev.value; // keepLast
      break;
    case 'absent':
      // The series is gone, not measured ok: the alert keeps its last value, as Prometheus' resolved
      // alert does, so a resolved notice reads "at 95%", not "at NaN%".
      active = false;
      value = prev.value;
      break;
    case 'data':
      active = input.cond === 'breach' ? true : input.cond === 'ok' ? false : prev.active;
      value = input.value;
      break;
  }

  if (abnormal) {
    s.value = null;
    if (abnormal === 'nodata') s.error = null;
    if (!isAbnormal(prev.state) && s.baseState !== 'firing' && p.forMs > 0) {
      // Like Grafana, nodata and error honour the pending period (normal → pending → nodata/error):
      // a gap or a failure shorter than `for` notifies nobody, as a breach shorter than `for` does.
      if (s.baseState !== 'pending') {
        s.baseState = 'pending';
        s.pendingSince = now;
        s.startsAt = now;
        s.endsAt = null;
      }
      s.state = now - (s.pendingSince ?? now) >= p.forMs ? abnormal : 'pending';
    } else {
      if (!isAbnormal(prev.state) && (s.baseState === 'inactive' || s.baseState === 'resolved')) {
        s.startsAt = now;
        s.endsAt = null;
      }
      s.state = abnormal;
    }
  } else {
    s.error = null;
    s.value = value;
    s.active = active;
    let base = s.baseState;
    if (keepFiring) {
      // stays firing; lastActiveAt is not moved, so keepFiringFor runs out during a long gap
    } else if (active) {
      s.lastActiveAt = now;
      if (base === 'inactive' || base === 'resolved') {
        s.endsAt = null;
        s.startsAt = now;
        if (p.forMs <= 0) base = 'firing';
        else {
          base = 'pending';
          s.pendingSince = now;
        }
      } else if (base === 'pending' && s.pendingSince !== null && now - s.pendingSince >= p.forMs) {
        base = 'firing';
      }
    } else if (base === 'pending') {
      base = 'inactive';
      s.pendingSince = null;
    } else if (base === 'firing') {
      const held = p.keepFiringForMs > 0 && s.lastActiveAt !== null && now - s.lastActiveAt < p.keepFiringForMs;
      if (!held) {
        base = 'resolved';
        s.endsAt = now;
      }
    }
    if (base === 'firing') s.pendingSince = null;
    if (isAbnormal(prev.state) && (base === 'inactive' || base === 'resolved')) {
      // Data is back and says ok: the nodata/error episode is over.
      base = 'resolved';
      s.endsAt = now;
    }
    s.baseState = base;
    s.state = base;
  }
  const changed = s.state !== prev.state;
  if (changed) s.since = now;

  let flap: StepResult['flap'];
  if (p.flapping.enabled) {
    s.flapHistory = (prev.flapHistory + stateClass(s.state)).slice(-p.flapping.window);
    s.flapPercent = Math.round(flapPercent(s.flapHistory, p.flapping.window) * 100) / 100;
    if (!prev.flapping && s.flapPercent >= p.flapping.high) {
      s.flapping = true;
      flap = 'start';
    } else if (prev.flapping && s.flapPercent <= p.flapping.low) {
      s.flapping = false;
      flap = 'stop';
    }
  } else {
    s.flapHistory = '';
    s.flapPercent = 0;
    if (prev.flapping) {
      s.flapping = false;
      flap = 'stop';
    }
  }
  return flap ? { next: s, changed, flap } : { next: s, changed };
}
