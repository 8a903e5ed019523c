import { describe, expect, it } from 'vitest';
import { equivalentStep, sameSteps } from './equivalent-step.ts';

/** Steps from `a b+c d`: one step per word, its receivers joined by +, all waits 1. */
const steps = (s: string) => s.split(' ').map((w) => ({ notify: w.split('+'), waitMs: 1 }));

describe('equivalentStep', () => {
  it.each([
    { name: 'unchanged', before: 'slack email sms', after: 'slack email sms', step: 1, want: { step: 1, same: true } },
    { name: 'a step inserted before', before: 'slack email sms', after: 'pager slack email sms', step: 1, want: { step: 2, same: true } },
    { name: 'a step inserted after', before: 'slack email sms', after: 'slack email pager sms', step: 1, want: { step: 1, same: true } },
    { name: 'a step before removed', before: 'slack email sms', after: 'email sms', step: 1, want: { step: 0, same: true } },
    { name: 'the current step removed', before: 'slack email sms', after: 'slack sms', step: 1, want: { step: 0, same: false } },
    { name: 'the first step removed while current', before: 'slack email sms', after: 'email sms', step: 0, want: { step: -1, same: false } },
    { name: 'a receiver added to the current step', before: 'slack email sms', after: 'slack email+sms sms', step: 1, want: { step: 1, same: true } },
    { name: 'the current step replaced', before: 'slack email sms', after: 'slack pager sms', step: 1, want: { step: 0, same: false } },
    { name: 'a receiver in two steps: the order decides', before: 'slack email slack+sms', after: 'pager slack email slack+sms', step: 2, want: { step: 3, same: true } },
    { name: 'the current step merged with the one before', before: 'slack email sms', after: 'slack+email sms', step: 1, want: { step: 0, same: true } },
    { name: 'the current step split', before: 'slack email+phone sms', after: 'slack email phone sms', step: 1, want: { step: 2, same: true } },
    { name: 'a step with the current receiver inserted after it', before: 'slack email', after: 'slack slack email', step: 0, want: { step: 1, same: true } },
    { name: 'every step replaced', before: 'slack email', after: 'pager', step: 1, want: { step: -1, same: false } },
  ])('$name', ({ before, after, step, want }) => {
    expect(equivalentStep(steps(before), steps(after), step)).toEqual(want);
  });

  it('sameSteps compares receivers in order and waits', () => {
    expect(sameSteps(steps('a b'), steps('a b'))).toBe(true);
    expect(sameSteps(steps('a b'), steps('b a'))).toBe(false);
    expect(sameSteps(steps('a'), [{ notify: ['a'], waitMs: 2 }])).toBe(false);
  });
});
