/**
 * When status calls are aimed (src/backends/runcomfy/poll-timing.ts): pure arithmetic over what
 * was observed, so it is tested directly; run.test.ts checks the calls a real run makes.
 */
import { describe, expect, it } from 'vitest';
import { PollTiming } from '../src/backends/runcomfy/poll-timing.js';

const M = 'vendor/model/edit';

describe('PollTiming', () => {
  it('polls a model never seen finishing after half a second, then backs off to the interval', () => {
    const timing = new PollTiming(2_000);
    const targets = timing.targets(M);
    expect(targets).toEqual([]);
    expect(timing.nextDelay(targets, 0, 0)).toBe(500);
    expect(timing.nextDelay(targets, 150, 0)).toBe(350);
    expect(timing.nextDelay(targets, 520, 1)).toBe(1_000);
    expect(timing.nextDelay(targets, 1_530, 2)).toBe(2_000);
    expect(timing.nextDelay(targets, 3_540, 3)).toBe(2_000);
    // An interval shorter than half a second is the first check and the step.
    const quick = new PollTiming(400);
    expect(quick.nextDelay(targets, 0, 0)).toBe(400);
    expect(quick.nextDelay(targets, 900, 1)).toBe(400);
  });

  it('aims the first call at the quickest time a job was seen done, less the quickest status call', () => {
    const timing = new PollTiming(400);
    timing.observed(M, 3_300, 60, true);
    timing.observed(M, 3_100, 50, true);
    timing.observed(M, 3_600, 90, true);
    const targets = timing.targets(M);
    expect(targets).toEqual([3_100]);
    // Launched 50 ms before 3,100 ms after the submit: 3,050 - 10 elapsed.
    expect(timing.nextDelay(targets, 10, 0)).toBe(3_040);
    // A job slower than that is then polled on the interval.
    expect(timing.nextDelay(targets, 3_120, 1)).toBe(400);
  });

  it('never waits more than 15 intervals between calls, however long the job seen done took', () => {
    const timing = new PollTiming(400);
    // One job that queued a long time: the next one is still looked at every 6 s until then.
    timing.observed(M, 60_000, 50, true);
    const targets = timing.targets(M);
    expect(timing.nextDelay(targets, 10, 0)).toBe(6_000);
    expect(timing.nextDelay(targets, 6_010, 1)).toBe(6_000);
    expect(timing.nextDelay(targets, 57_000, 5)).toBe(2_950);
    expect(timing.callEstimate()).toBe(50);
  });

  it('never aims the first call sooner than half a second (or one shorter interval) after the submit', () => {
    const timing = new PollTiming(2_000);
    timing.observed(M, 120, 20, true);
    expect(timing.nextDelay(timing.targets(M), 0, 0)).toBe(500);
    const quick = new PollTiming(400);
    quick.observed(M, 120, 20, true);
    expect(quick.nextDelay(quick.targets(M), 0, 0)).toBe(400);
  });

  it('bisects between "not yet" and "done": a miss at the midpoint goes straight to the upper bound', () => {
    const timing = new PollTiming(400);
    timing.observed(M, 2_000, 40, false);
    timing.observed(M, 2_400, 40, false);
    timing.observed(M, 2_800, 40, true);
    const targets = timing.targets(M);
    expect(targets).toEqual([2_600, 2_800]);
    expect(timing.nextDelay(targets, 0, 0)).toBe(2_560);
    // The call aimed at 2,600 answered "not yet" at 2,610: next, the upper bound.
    expect(timing.nextDelay(targets, 2_610, 1)).toBe(150);
    // A "not yet" above the upper bound (a slower job) does not move the bounds.
    timing.observed(M, 3_000, 40, false);
    expect(timing.targets(M)).toEqual([2_600, 2_800]);
  });

  it('stops bisecting once the bounds are within the jitter of a process start', () => {
    const timing = new PollTiming(400);
    timing.observed(M, 2_590, 40, false);
    timing.observed(M, 2_600, 40, true);
    expect(timing.targets(M)).toEqual([2_600]);
  });

  it('keeps models apart, and forgets all but the 20 most recent samples', () => {
    const timing = new PollTiming(400);
    timing.observed(M, 1_000, 40, true);
    expect(timing.targets('other/model/edit')).toEqual([]);
    for (let i = 0; i < 20; i++) timing.observed(M, 5_000 + i, 40, true);
    expect(timing.targets(M)).toEqual([5_000]);
  });

  it('learns the length of status calls from jobs it only follows', () => {
    const timing = new PollTiming(400);
    timing.observed(M, 3_000, 200, true);
    timing.timed(30);
    expect(timing.nextDelay(timing.targets(M), 0, 0)).toBe(2_970);
  });
});
