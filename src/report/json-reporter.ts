import type { TextSink } from '../cli/io.js';
import type { RunEvent, RunObserver } from '../run/events.js';

/**
 * `--reporter json`: one event per line (NDJSON), schema in schemas/run-events.schema.json.
 *
 * Lines emitted in one go (200 cached stages finish in a single pass) are written together, at
 * the end of the current task: one write instead of one per line, which cost a cached 200-stage
 * re-run ~8 ms of pipe writes. Nothing waits longer than that, so the stream stays live.
 */
export class JsonReporter implements RunObserver {
  readonly #out: TextSink;
  #pending: string[] = [];

  constructor(out: TextSink) {
    this.#out = out;
  }

  event(e: RunEvent): void {
    if (this.#pending.length === 0) queueMicrotask(() => this.#flush());
    this.#pending.push(`${JSON.stringify(e)}\n`);
  }

  close(): void {
    this.#flush();
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#out.write(text);
  }
}
