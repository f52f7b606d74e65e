/**
 * When to ask the service about a job. Every status call is a client process, and a job holds
 * its --concurrency slot until a status call sees it finished (and its result is fetched), so both polling too often and
 * seeing the end late cost: the first in processes (CPU), the second in slot time, which on a
 * wide campaign is makespan. Polling on a fixed grid sees the end up to a whole interval late.
 *
 * What is learned, per model, in ms after the submit returned: when a job was seen done
 * (an upper bound of how long such jobs take) and when one was seen still queued or running
 * (a lower bound). A status call is aimed to answer at the quickest time a job of that model was
 * seen done, launched as long before as the quickest recent status call took (mostly the
 * client's start-up). When the bounds are apart, the first call goes halfway between them: a
 * "not yet" there raises the lower bound and the next call goes to the upper one, a "done"
 * lowers the upper bound; a model with steady job times is soon seen done within the start-up
 * jitter. Nothing depends on these guesses but timing.
 *
 * A model not seen done yet is first asked about half a second after the submit (or one
 * interval, if that is shorter), then after 1 s, 2 s… up to the interval, which then holds: a
 * quick job is not kept waiting a whole interval (2 s by default) before anyone looks, and a
 * long one costs one or two extra calls, only while no job of its model has been seen done.
 * No call is aimed sooner than that first half second.
 */
export class PollTiming {
  readonly #intervalMs: number;
  readonly #done = new Map<string, number[]>();
  readonly #pending = new Map<string, number[]>();
  readonly #calls: number[] = [];

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * When to aim the status calls of a job of `model` just submitted, ascending, in ms after its
   * submit returned: taken once per job, so a job that is slower than the guesses costs at most
   * one call per guess before polling falls back to the interval.
   */
  targets(model: string): readonly number[] {
    const done = this.#done.get(model);
    if (!done || done.length === 0) return [];
    const upper = Math.min(...done);
    const below = (this.#pending.get(model) ?? []).filter((ms) => ms < upper);
    if (below.length === 0) return [upper];
    const lower = Math.max(...below);
    return upper - lower > CLOSE_ENOUGH_MS ? [(lower + upper) / 2, upper] : [upper];
  }

  /**
   * How long to wait before the next status call of a job submitted `elapsedMs` ago, aimed at
   * `targets`, after `calls` status calls for it so far.
   */
  nextDelay(targets: readonly number[], elapsedMs: number, calls: number): number {
    const interval = this.#intervalMs;
    const first = Math.min(interval, FIRST_CHECK_MS);
    const floor = calls === 0 ? Math.max(0, first - elapsedMs) : 0;
    const call = this.callEstimate();
    for (const target of targets) {
      const launch = target - call - elapsedMs;
      // One job seen done late (a long queue) must not make the next ones wait that long unseen.
      if (launch > 0) return Math.min(Math.max(floor, launch), interval * MAX_AIMED_INTERVALS);
    }
    // Never seen done: back off from the first check to the interval. Slower than every job
    // seen done: the interval.
    if (targets.length === 0) return calls === 0 ? floor : Math.min(interval, first * 2 ** calls);
    return calls === 0 ? floor : interval;
  }

  /**
   * A status call of a fresh job of `model` answered `atMs` after the submit returned, after
   * taking `callMs`; `done` when the job had ended.
   */
  observed(model: string, atMs: number, callMs: number, done: boolean): void {
    remember(this.#calls, callMs);
    const samples = done ? this.#done : this.#pending;
    const list = samples.get(model) ?? [];
    remember(list, atMs);
    samples.set(model, list);
  }

  /** How long a status call is expected to take: the quickest recent one (0 before any). */
  callEstimate(): number {
    return this.#calls.length > 0 ? Math.min(...this.#calls) : 0;
  }

  /** A status call of a job followed from an earlier attempt: only its duration teaches anything. */
  timed(callMs: number): void {
    remember(this.#calls, callMs);
  }
}

/** The longest aimed wait between two status calls, in poll intervals (30 s at the default 2 s). */
const MAX_AIMED_INTERVALS = 15;

/** The earliest check of a job, and the start of the back-off for a model not seen done yet. */
const FIRST_CHECK_MS = 500;

/** Bounds this close count as known: finer than the jitter of a process start. */
const CLOSE_ENOUGH_MS = 20;

/** Keeps the 20 most recent samples: job times drift with the service's load. */
function remember(samples: number[], ms: number): void {
  samples.push(ms);
  if (samples.length > 20) samples.shift();
}
