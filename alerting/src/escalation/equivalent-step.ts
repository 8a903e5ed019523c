// Where a running escalation stands in its chain after the chain's steps were edited (a reload or a
// restart with a changed config), as PagerDuty moves an open incident to the new policy: from the
// equivalent position, never notifying a step already notified again.
//
// The old and new steps are aligned as a longest common subsequence, two steps being the same step
// when they notify a receiver in common (a step given or relieved of a receiver, merged with
// another, or given a new wait, is still that step); steps only in the new chain were inserted,
// steps only in the old one removed.

export interface StepLike {
  notify: readonly string[];
  waitMs: number;
}

export interface EquivalentStep {
  /**
   * The new chain's step that stands for the old `step` (0-based; the last executed), or when the
   * old step has none (removed, or its receivers all replaced), the last new step aligned with an
   * old step before it: -1 when there is none. The chain goes on with the step after it.
   */
  step: number;
  /** Whether `step` is the old step itself (its wait goes on), rather than the one before it. */
  same: boolean;
}

const shares = (a: StepLike, b: StepLike) => a.notify.some((r) => b.notify.includes(r));

export function equivalentStep(before: readonly StepLike[], after: readonly StepLike[], step: number): EquivalentStep {
  const n = before.length;
  const m = after.length;
  const table = () => Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  // pre[i][j]: the longest alignment of before[..i) with after[..j); suf[i][j]: of before[i..) with after[j..).
  const pre = table();
  const suf = table();
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) pre[i][j] = shares(before[i - 1], after[j - 1]) ? pre[i - 1][j - 1] + 1 : Math.max(pre[i - 1][j], pre[i][j - 1]);
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) suf[i][j] = shares(before[i], after[j]) ? suf[i + 1][j + 1] + 1 : Math.max(suf[i + 1][j], suf[i][j + 1]);
  }
  // Among the longest alignments, one that keeps the current step (steps merged into it, a receiver
  // in two steps), else the furthest a step before it reaches; the furthest new step, so that none
  // already paged is paged again.
  let same = -1;
  let beforeIt = -1;
  for (let i = 0; i <= step && i < n; i++) {
    for (let j = 0; j < m; j++) {
      if (!shares(before[i], after[j]) || pre[i][j] + 1 + suf[i + 1][j + 1] !== suf[0][0]) continue;
      if (i === step) same = Math.max(same, j);
      else beforeIt = Math.max(beforeIt, j);
    }
  }
  return same >= 0 ? { step: same, same: true } : { step: beforeIt, same: false };
}

/** Whether two chains have the same steps (receivers in order, waits). */
export function sameSteps(a: readonly StepLike[], b: readonly StepLike[]): boolean {
  return a.length === b.length && a.every((s, i) => s.waitMs === b[i].waitMs && s.notify.length === b[i].notify.length && s.notify.every((r, k) => r === b[i].notify[k]));
}
