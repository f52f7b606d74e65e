// Sleeping, synchronously (lock retries) and asynchronously (polling, scripted latencies).

const cell = new Int32Array(new SharedArrayBuffer(4));

/** Block the thread for `ms` milliseconds (Atomics.wait works on Node's main thread). */
export function sleepSync(ms) {
  Atomics.wait(cell, 0, 0, ms);
}

/** setTimeout's ceiling (about 24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Resolve after `ms` milliseconds; `Infinity` never resolves but keeps the process alive. */
export function sleep(ms) {
  return new Promise((resolve) => {
    const step = (left) => {
      if (left <= 0) return resolve();
      const chunk = Math.min(left, MAX_TIMER_MS);
      setTimeout(() => step(left - chunk), chunk);
    };
    step(ms);
  });
}
