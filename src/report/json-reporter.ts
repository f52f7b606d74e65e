import type { TextSink } from '../cli/io.js';
import type { RunEvent, RunObserver } from '../run/events.js';

/** `--reporter json`: one event per line (NDJSON), schema in schemas/run-events.schema.json. */
export class JsonReporter implements RunObserver {
  readonly #out: TextSink;

  constructor(out: TextSink) {
    this.#out = out;
  }

  event(e: RunEvent): void {
    this.#out.write(`${JSON.stringify(e)}\n`);
  }
}
