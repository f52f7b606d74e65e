import type { Worker } from 'node:worker_threads';
import { spawnWorker } from './spawn-worker.js';
import { cancelled, engineError } from './failures.js';
import type { EngineFailure } from './types.js';
import type { WorkerConfig, WorkerReply, WorkerRequest } from './worker-protocol.js';

/** Distributes `Omit` over a union, so each request variant keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** What became of one request. */
export type WorkerOutcome =
  | { readonly kind: 'reply'; readonly reply: WorkerReply }
  | { readonly kind: 'cancelled'; readonly timedOut: boolean }
  | { readonly kind: 'crashed'; readonly message: string };

/** Whether the models could be loaded, and how long it took. */
export type WorkerStart =
  | { readonly kind: 'ready'; readonly millis: number }
  | { readonly kind: 'crashed'; readonly message: string };

interface Job {
  readonly request: WithoutId<WorkerRequest>;
  readonly transfer: ArrayBuffer[];
  readonly signal: AbortSignal | undefined;
  settle: (outcome: WorkerOutcome) => void;
  id?: number;
}

interface Live {
  readonly worker: Worker;
  readonly ready: Promise<WorkerStart>;
}

/**
 * Owns the worker thread: a queue of requests run one at a time, each with its own AbortSignal.
 *
 * Aborting a queued request just drops it. Aborting the running one terminates the thread (tfjs
 * and the pixel loops cannot be interrupted any other way) and the next request starts a new
 * thread, paying the model load again. A thread that dies fails only the request it was running.
 */
export class WorkerClient {
  readonly #config: WorkerConfig;
  readonly #queue: Job[] = [];
  #live: Live | undefined;
  #running: Job | undefined;
  #nextId = 1;
  #closed = false;

  constructor(config: WorkerConfig) {
    this.#config = config;
  }

  /** Starts the thread if needed and waits for the models. */
  async start(): Promise<WorkerStart> {
    const live = this.#ensureLive();
    live.worker.ref();
    const start = await live.ready;
    this.#updateRef();
    return start;
  }

  request(
    request: WithoutId<WorkerRequest>,
    transfer: ArrayBuffer[],
    signal?: AbortSignal,
  ): Promise<WorkerOutcome> {
    return new Promise((resolve) => {
      if (this.#closed) return resolve({ kind: 'crashed', message: 'the local engine was closed' });
      if (signal?.aborted) return resolve(cancelledBy(signal));
      const job: Job = { request, transfer, signal, settle: () => undefined };
      const onAbort = (): void => this.#abort(job);
      job.settle = (outcome) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(job);
      this.#pump();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0))
      job.settle({ kind: 'crashed', message: 'the local engine was closed' });
    this.#running?.settle({ kind: 'crashed', message: 'the local engine was closed' });
    this.#running = undefined;
    await this.#kill();
  }

  #abort(job: Job): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
    } else if (this.#running === job) {
      this.#running = undefined;
      void this.#kill();
    } else {
      return;
    }
    job.settle(cancelledBy(job.signal));
    this.#pump();
    this.#updateRef();
  }

  #pump(): void {
    if (this.#running !== undefined || this.#closed) return;
    const job = this.#queue.shift();
    if (job === undefined) return;
    this.#running = job;
    const live = this.#ensureLive();
    live.worker.ref();
    void live.ready.then((start) => {
      if (this.#running !== job) return; // aborted while the models loaded
      if (start.kind === 'crashed') return this.#finish(job, start);
      job.id = this.#nextId++;
      live.worker.postMessage({ ...job.request, id: job.id }, job.transfer);
    });
  }

  #finish(job: Job, outcome: WorkerOutcome): void {
    if (this.#running !== job) return;
    this.#running = undefined;
    job.settle(outcome);
    this.#pump();
    this.#updateRef();
  }

  /**
   * An idle engine must not keep the host process alive (a forgotten `close()` would hang the
   * CLI), but a busy one must: while a request runs, nothing else may hold the event loop open.
   */
  #updateRef(): void {
    if (this.#running === undefined) this.#live?.worker.unref();
  }

  #ensureLive(): Live {
    if (this.#live !== undefined) return this.#live;
    const worker = spawnWorker(this.#config);
    let markReady: (start: WorkerStart) => void = () => undefined;
    const ready = new Promise<WorkerStart>((resolve) => (markReady = resolve));
    const live: Live = { worker, ready };
    this.#live = live;
    const died = (message: string): void => {
      if (this.#live !== live) return;
      this.#live = undefined;
      markReady({ kind: 'crashed', message });
      const job = this.#running;
      if (job !== undefined) this.#finish(job, { kind: 'crashed', message });
    };
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'ready') return markReady({ kind: 'ready', millis: reply.millis });
      if (reply.type === 'load-failed') {
        died(`the face models could not be loaded: ${reply.message}`);
        void worker.terminate();
        return;
      }
      const job = this.#running;
      if (job !== undefined && job.id === reply.id) this.#finish(job, { kind: 'reply', reply });
    });
    worker.on('error', (error) => died(`the engine's worker failed: ${error.message}`));
    worker.on('exit', (code) => died(`the engine's worker stopped (exit code ${code})`));
    return live;
  }

  async #kill(): Promise<void> {
    const live = this.#live;
    this.#live = undefined;
    if (live !== undefined) await live.worker.terminate();
  }
}

function cancelledBy(signal: AbortSignal | undefined): WorkerOutcome {
  const reason: unknown = signal?.reason;
  return { kind: 'cancelled', timedOut: reason instanceof DOMException && reason.name === 'TimeoutError' };
}

/** The reply of the expected type, or the failure that stands for anything else. */
export function replyOf<T extends WorkerReply['type']>(
  outcome: WorkerOutcome,
  type: T,
): Extract<WorkerReply, { type: T }> | EngineFailure {
  switch (outcome.kind) {
    case 'cancelled':
      return cancelled(outcome.timedOut);
    case 'crashed':
      return engineError(outcome.message);
    case 'reply':
      break;
  }
  const reply = outcome.reply;
  if (reply.type === type) return reply as Extract<WorkerReply, { type: T }>;
  if (reply.type === 'error') return engineError(reply.message);
  return engineError(`the worker answered ${reply.type} instead of ${type}`);
}
