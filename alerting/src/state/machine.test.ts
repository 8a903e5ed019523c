import { describe, expect, it } from 'vitest';
import type { AlertState } from '../types.ts';
import { flapPercent, initialState, step, type InstanceState, type StepInput, type StepParams } from './machine.ts';

const T0 = Date.UTC(2025, 0, 1);
const S = 1000;

const base: StepParams = {
  forMs: 0,
  keepFiringForMs: 0,
  noData: 'nodata',
  onError: 'error',
  flapping: { enabled: false, window: 21, high: 20, low: 5 },
};

const breach = (value = 95): StepInput => ({ kind: 'data', cond: 'breach', value });
const ok = (value = 10): StepInput => ({ kind: 'data', cond: 'ok', value });
const hold = (value = 85): StepInput => ({ kind: 'data', cond: 'hold', value });
const nodata: StepInput = { kind: 'nodata' };
const error: StepInput = { kind: 'error', error: 'boom' };

/** Runs inputs at 1 s spacing (or the given times) and returns the state after each. */
function run(inputs: Array<StepInput | [number, StepInput]>, params: Partial<StepParams> = {}, start?: InstanceState) {
  const p = { ...base, ...params };
  let st = start ?? initialState(T0);
  const states: AlertState[] = [];
  let t = T0;
  for (const x of inputs) {
    const [at, input] = Array.isArray(x) ? [T0 + x[0], x[1]] : [(t += S), x];
    st = step(st, input, p, at).next;
    states.push(st.state);
  }
  return { states, st };
}

describe('state machine', () => {
  it.each([
    { name: 'breach without for fires at once', inputs: [breach()], want: ['firing'] },
    { name: 'ok stays inactive', inputs: [ok(), ok()], want: ['inactive', 'inactive'] },
    { name: 'firing then ok resolves', inputs: [breach(), ok()], want: ['firing', 'resolved'] },
    { name: 'resolved then breach starts a new episode', inputs: [breach(), ok(), ok(), breach()], want: ['firing', 'resolved', 'resolved', 'firing'] },
    { name: 'error from inactive is error', inputs: [error], want: ['error'] },
    { name: 'error while firing is error, never resolved', inputs: [breach(), error, error], want: ['firing', 'error', 'error'] },
    { name: 'nodata while firing is nodata, never resolved', inputs: [breach(), nodata, nodata, nodata], want: ['firing', 'nodata', 'nodata', 'nodata'] },
    { name: 'nodata then data active again: firing', inputs: [breach(), nodata, breach()], want: ['firing', 'nodata', 'firing'] },
    { name: 'nodata then data ok: resolved (data decides)', inputs: [breach(), nodata, ok()], want: ['firing', 'nodata', 'resolved'] },
    { name: 'error then data ok from inactive: resolved ends the error episode', inputs: [error, ok()], want: ['error', 'resolved'] },
    { name: 'error then nodata then firing', inputs: [error, nodata, breach()], want: ['error', 'nodata', 'firing'] },
    { name: 'absent (promql filter mode) resolves a firing alert', inputs: [breach(), { kind: 'absent' } as StepInput], want: ['firing', 'resolved'] },
  ])('$name', ({ inputs, want }) => {
    expect(run(inputs).states).toEqual(want);
  });

  it.each([
    { name: 'pending until `for` has passed', inputs: [[0, breach()], [30 * S, breach()], [59 * S, breach()], [60 * S, breach()]] as Array<[number, StepInput]>, want: ['pending', 'pending', 'pending', 'firing'] },
    { name: 'pending aborted by ok goes back to inactive', inputs: [[0, breach()], [30 * S, ok()], [60 * S, breach()]] as Array<[number, StepInput]>, want: ['pending', 'inactive', 'pending'] },
    { name: 'pending restarts its timer after an abort', inputs: [[0, breach()], [30 * S, ok()], [40 * S, breach()], [70 * S, breach()], [100 * S, breach()]] as Array<[number, StepInput]>, want: ['pending', 'inactive', 'pending', 'pending', 'firing'] },
  ])('for=60s: $name', ({ inputs, want }) => {
    expect(run(inputs, { forMs: 60 * S }).states).toEqual(want);
  });

  it.each([
    { name: 'keeps firing within keepFiringFor', inputs: [[0, breach()], [10 * S, ok()], [50 * S, ok()]] as Array<[number, StepInput]>, want: ['firing', 'firing', 'firing'] },
    { name: 'resolves once keepFiringFor has passed since the last breach', inputs: [[0, breach()], [10 * S, ok()], [60 * S, ok()]] as Array<[number, StepInput]>, want: ['firing', 'firing', 'resolved'] },
    { name: 'a breach inside keepFiringFor restarts it', inputs: [[0, breach()], [40 * S, breach()], [90 * S, ok()], [100 * S, ok()]] as Array<[number, StepInput]>, want: ['firing', 'firing', 'firing', 'resolved'] },
    { name: 'missing data within keepFiringFor keeps firing (a scrape gap notifies nobody)', inputs: [[0, breach()], [10 * S, nodata], [50 * S, nodata], [55 * S, breach()]] as Array<[number, StepInput]>, want: ['firing', 'firing', 'firing', 'firing'] },
    { name: 'missing data past keepFiringFor since the last breach is nodata', inputs: [[0, breach()], [10 * S, nodata], [60 * S, nodata]] as Array<[number, StepInput]>, want: ['firing', 'firing', 'nodata'] },
    { name: 'a clear then missing data: nodata once keepFiringFor has passed, not resolved', inputs: [[0, breach()], [10 * S, ok()], [30 * S, nodata], [70 * S, nodata]] as Array<[number, StepInput]>, want: ['firing', 'firing', 'firing', 'nodata'] },
  ])('keepFiringFor=60s: $name', ({ inputs, want }) => {
    expect(run(inputs, { keepFiringForMs: 60 * S }).states).toEqual(want);
  });

  it.each([
    { name: 'hold after a breach keeps firing (fire > 90, clear < 80: 85 stays)', inputs: [breach(95), hold(85), hold(81)], want: ['firing', 'firing', 'firing'] },
    { name: 'ok below the clear threshold resolves', inputs: [breach(95), hold(85), ok(79)], want: ['firing', 'firing', 'resolved'] },
    { name: 'hold from inactive does not fire', inputs: [ok(50), hold(85), hold(89)], want: ['inactive', 'inactive', 'inactive'] },
  ])('hysteresis: $name', ({ inputs, want }) => {
    expect(run(inputs).states).toEqual(want);
  });

  it.each([
    { name: 'nodata (default) → nodata state', policy: 'nodata' as const, want: ['firing', 'nodata'] },
    { name: 'keepLast → stays firing', policy: 'keepLast' as const, want: ['firing', 'firing'] },
    { name: 'alerting → stays firing', policy: 'alerting' as const, want: ['firing', 'firing'] },
    { name: 'ok → resolves', policy: 'ok' as const, want: ['firing', 'resolved'] },
  ])('noData policy while firing: $name', ({ policy, want }) => {
    expect(run([breach(), nodata], { noData: policy }).states).toEqual(want);
  });

  it.each([
    { name: 'alerting policy fires from inactive on missing data', policy: 'alerting' as const, want: ['firing'] },
    { name: 'keepLast from inactive stays inactive', policy: 'keepLast' as const, want: ['inactive'] },
    { name: 'nodata from inactive is nodata', policy: 'nodata' as const, want: ['nodata'] },
  ])('noData policy from inactive: $name', ({ policy, want }) => {
    expect(run([nodata], { noData: policy }).states).toEqual(want);
  });

  it.each([
    { name: 'error (default) → error state', policy: 'error' as const, want: ['firing', 'error'], fromInactive: ['error'] },
    { name: 'keepLast → stays as it was', policy: 'keepLast' as const, want: ['firing', 'firing'], fromInactive: ['inactive'] },
    { name: 'alerting → firing', policy: 'alerting' as const, want: ['firing', 'firing'], fromInactive: ['firing'] },
    { name: 'ok → resolves', policy: 'ok' as const, want: ['firing', 'resolved'], fromInactive: ['inactive'] },
  ])('onError policy: $name', ({ policy, want, fromInactive }) => {
    expect(run([breach(), error], { onError: policy }).states).toEqual(want);
    expect(run([error], { onError: policy }).states).toEqual(fromInactive);
  });

  it('onError keepLast keeps a nodata or error alert as it was: a failed evaluation is not data saying ok', () => {
    // nodata alert, then Prometheus down: keepLast must not resolve it (a resolved notice, then
    // nodata again at the next good evaluation, would page twice for one gap).
    expect(run([breach(), nodata, error, error], { onError: 'keepLast' }).states).toEqual(['firing', 'nodata', 'nodata', 'nodata']);
    expect(run([nodata, error], { onError: 'keepLast' }).states).toEqual(['nodata', 'nodata']);
    // An error alert (the rule said onError: error until a reload) stays an error alert too.
    const { st } = run([breach(), error]);
    expect(run([error], { onError: 'keepLast' }, st).states).toEqual(['error']);
  });

  it('keepLast is Grafana\'s Keep Last State: a failed or empty evaluation repeats the last result, so a pending alert still fires once `for` has passed', () => {
    // Grafana (resultKeepLast): Pending whose pending period has passed → Alerting. Prometheus,
    // which has no such policy, would leave it pending until an evaluation succeeds.
    const inputs: Array<[number, StepInput]> = [[0, breach()], [15 * S, error], [30 * S, error]];
    expect(run(inputs, { forMs: 30 * S, onError: 'keepLast' }).states).toEqual(['pending', 'pending', 'firing']);
    const gap: Array<[number, StepInput]> = [[0, breach()], [15 * S, nodata], [30 * S, nodata]];
    expect(run(gap, { forMs: 30 * S, noData: 'keepLast' }).states).toEqual(['pending', 'pending', 'firing']);
  });

  it('keeps startsAt across nodata and back to firing; sets endsAt when resolved', () => {
    let st = initialState(T0);
    st = step(st, breach(), base, T0 + 1 * S).next;
    st = step(st, nodata, base, T0 + 2 * S).next;
    st = step(st, breach(), base, T0 + 3 * S).next;
    expect(st.startsAt).toBe(T0 + 1 * S);
    expect(st.since).toBe(T0 + 3 * S);
    st = step(st, ok(), base, T0 + 4 * S).next;
    expect(st).toMatchObject({ state: 'resolved', endsAt: T0 + 4 * S, startsAt: T0 + 1 * S });
  });

  it('keeps the pending timer through an error shorter than `for`', () => {
    const p = { ...base, forMs: 60 * S };
    let st = initialState(T0);
    st = step(st, breach(), p, T0).next;
    st = step(st, error, p, T0 + 30 * S).next;
    expect(st.state).toBe('pending');
    expect(st.error).toBe('boom');
    st = step(st, breach(), p, T0 + 60 * S).next;
    expect(st.state).toBe('firing');
  });

  it.each([
    { name: 'nodata', input: nodata },
    { name: 'error', input: error },
  ])('$name from a normal state waits out `for` in pending, like a breach (Grafana)', ({ name, input }) => {
    const p = { ...base, forMs: 60 * S };
    let st = step(initialState(T0), ok(), p, T0).next;
    st = step(st, input, p, T0 + 15 * S).next;
    expect(st).toMatchObject({ state: 'pending', startsAt: T0 + 15 * S });
    const gapOver = step(st, ok(), p, T0 + 30 * S).next; // a short gap notifies nobody
    expect(gapOver.state).toBe('inactive');
    st = step(st, input, p, T0 + 60 * S).next;
    expect(st.state).toBe('pending');
    st = step(st, input, p, T0 + 75 * S).next;
    expect(st).toMatchObject({ state: name, startsAt: T0 + 15 * S });
    st = step(st, ok(), p, T0 + 90 * S).next;
    expect(st).toMatchObject({ state: 'resolved', endsAt: T0 + 90 * S });
  });

  it('a firing alert goes to nodata at once, whatever `for` is', () => {
    const p = { ...base, forMs: 60 * S };
    let st = step(initialState(T0), breach(), p, T0).next;
    st = step(st, breach(), p, T0 + 60 * S).next;
    expect(st.state).toBe('firing');
    expect(step(st, nodata, p, T0 + 75 * S).next.state).toBe('nodata');
  });
});

describe('flap detection (Nagios weighting)', () => {
  it.each([
    { name: 'no change', history: 'ooooooooooooooooooooo', want: 0 },
    { name: 'every evaluation changes', history: 'oaoaoaoaoaoaoaoaoaoao', want: 100 },
    { name: 'one change, newest (weight 1.25)', history: 'ooooooooooooooooooooa', want: 6.25 },
    { name: 'one change, oldest (weight 0.75)', history: 'oaaaaaaaaaaaaaaaaaaaa', want: 3.75 },
    { name: 'short history is padded at the old end', history: 'oa', want: 6.25 },
  ])('percent: $name', ({ history, want }) => {
    expect(flapPercent(history, 21)).toBeCloseTo(want, 6);
  });

  const flapParams: Partial<StepParams> = { flapping: { enabled: true, window: 21, high: 20, low: 5 } };

  it('starts flapping at the high mark and stops at the low mark', () => {
    const p = { ...base, ...flapParams };
    let st = initialState(T0);
    const marks: Array<{ i: number; flap: string }> = [];
    let t = T0;
    // 6 oscillations: firing/resolved alternate → flapping; then a long stable ok run → stops.
    const inputs = [...Array.from({ length: 6 }, (_, i) => (i % 2 ? ok() : breach())), ...Array.from({ length: 30 }, () => ok())];
    inputs.forEach((input, i) => {
      const r = step(st, input, p, (t += S));
      st = r.next;
      if (r.flap) marks.push({ i, flap: r.flap });
    });
    expect(marks[0]).toEqual({ i: 4, flap: 'start' }); // 4 changes among the newest states: 4 × ~1.23 × 5% ≥ 20%
    expect(marks[1].flap).toBe('stop');
    expect(marks[1].i).toBeGreaterThan(20); // only once the changes slide out of the window
    expect(marks).toHaveLength(2);
    expect(st.flapping).toBe(false);
  });

  it('a normal episode (fire once, resolve once) is not flapping', () => {
    const { st } = run([breach(), breach(), breach(), ok(), ok()], flapParams);
    expect(st.flapping).toBe(false);
    expect(st.flapPercent).toBeGreaterThan(0);
  });

  it('pending → firing is not counted as a change', () => {
    const { st } = run([[0, breach()], [60 * S, breach()]], { ...flapParams, forMs: 60 * S });
    expect(st.state).toBe('firing');
    expect(st.flapHistory).toBe('aa');
  });
});
