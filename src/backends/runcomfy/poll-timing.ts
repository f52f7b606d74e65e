/**
 * When to ask the service about a job. Every status call is a client process, and a job holds
 * its --concurrency slot until a status call sees it finished, so both polling too often and
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
 * jitter. Nothing depends on these guesses but timing: a job never seen done is polled every
 * interval, and no call is ever aimed sooner than one interval after the submit.
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
   * `targets`. `first`: no status call was made for this job yet.
   */
  nextDelay(targets: readonly number[], elapsedMs: number, first: boolean): number {
    const interval = this.#intervalMs;
    const floor = first ? Math.max(0, interval - elapsedMs) : 0;
    const call = this.#calls.length > 0 ? Math.min(...this.#calls) : 0;
    for (const target of targets) {
      const launch = target - call - elapsedMs;
      if (launch > 0) return Math.max(floor, launch);
    }
    return first ? floor : interval;
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

  /** A status call of a job followed from an earlier attempt: only its duration teaches anything. */
  timed(callMs: number): void {
    remember(this.#calls, callMs);
  }
}

/** Bounds this close count as known: finer than the jitter of a process start. */
const CLOSE_ENOUGH_MS = 20;

/** Keeps the 20 most recent samples: job times drift with the service's load. */
function remember(samples: number[], ms: number): void {
  samples.push(ms);
  if (samples.length > 20) samples.shift();
}
