// The invocation log (contract §10.9): with RUNCOMFY_STANDIN_LOG set, every process appends one
// JSON line when it ends, whether it exits or is killed by a catchable signal (SIGKILL leaves no
// line). A single append of one line: O_APPEND makes concurrent appends land whole, one after
// the other. Tests count paid submissions (`created: true`) and check overlap from start/end.
//
// Record fields (see scenario.d.ts `LogRecord`):
//   pid, argv, cwd, command ("run" | "status" | "result" | "cancel" | null), model, body,
//   request_id, created, submission ({entry, index} | null), start, end (epoch ms),
//   exit (number | null), signal (string | null)

import fs from 'node:fs';

export class InvocationLog {
  #file;
  #record;
  #written = false;

  /** @param {string | undefined} file the log path; undefined disables logging */
  constructor(file, argv) {
    this.#file = file || undefined;
    this.#record = {
      pid: process.pid,
      argv,
      cwd: process.cwd(),
      command: null,
      model: null,
      body: null,
      request_id: null,
      created: false,
      submission: null,
      start: Date.now(),
      end: null,
      exit: null,
      signal: null,
    };
  }

  /** Merge facts learned along the way (command, model, body, request id …). */
  note(fields) {
    Object.assign(this.#record, fields);
  }

  /** Write the record once; later calls are ignored (a signal can race the normal exit). */
  finish({ exit = null, signal = null }) {
    if (this.#written || this.#file === undefined) return;
    this.#written = true;
    const line = JSON.stringify({ ...this.#record, end: Date.now(), exit, signal }) + '\n';
    fs.appendFileSync(this.#file, line);
  }
}
