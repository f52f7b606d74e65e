// Signals as the client treats them (contract §7):
//
// - By default SIGINT, SIGTERM and SIGHUP kill the process (no exit code). We still catch them,
//   but only to write the invocation log line, then re-raise the same signal with the default
//   disposition restored, so the parent sees "killed by SIGINT/SIGTERM".
// - While `run` polls, SIGINT is captured instead: it wakes the poller, which cancels the job
//   and exits 1. The client never uninstalls its handler, so after polling SIGINT stays captured
//   and is simply ignored (contract: "after polling: ignored (inferred)").
// - SIGTERM is never handled beyond the log line: no remote cancel.

const LETHAL = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export class Signals {
  #onLethal;
  #handlers = new Map();
  #sigintCaptured = false;
  #sigintPending = false;
  #wake = undefined;

  /** @param {(signal: string) => void} onLethal called once before the process dies by a signal */
  constructor(onLethal) {
    this.#onLethal = onLethal;
    for (const signal of LETHAL) {
      const handler = () => this.#received(signal);
      this.#handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  /** From now on SIGINT is captured (see `sleep` and `takeSigint`), never lethal. */
  captureSigint() {
    this.#sigintCaptured = true;
  }

  /** True once if a captured SIGINT arrived since the last call. */
  takeSigint() {
    const pending = this.#sigintPending;
    this.#sigintPending = false;
    return pending;
  }

  /**
   * Wait `ms`, or less if a captured SIGINT arrives (one that arrived earlier ends it at once).
   * @returns {Promise<'timer' | 'sigint'>}
   */
  sleep(ms) {
    if (this.takeSigint()) return Promise.resolve('sigint');
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish('timer'), Math.min(ms, 2 ** 31 - 1));
      const finish = (why) => {
        clearTimeout(timer);
        this.#wake = undefined;
        if (why === 'sigint') this.#sigintPending = false;
        resolve(why);
      };
      this.#wake = () => finish('sigint');
    });
  }

  #received(signal) {
    if (signal === 'SIGINT' && this.#sigintCaptured) {
      this.#sigintPending = true;
      this.#wake?.();
      return;
    }
    this.#onLethal(signal);
    // Drop our listener so the default disposition is back, then die by the same signal.
    process.removeListener(signal, this.#handlers.get(signal));
    process.kill(process.pid, signal);
  }
}
