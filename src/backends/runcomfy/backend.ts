import { readdir, rename, rm, stat } from 'node:fs/promises';
import { processAlive } from '../../state/process-alive.js';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  AttemptFailure,
  AttemptHooks,
  AttemptOutcome,
  AttemptRequest,
  Backend,
  CancelOutcome,
} from '../backend.js';
import type { RemoteState, RuncomfyClient } from './client.js';
import { isTrustedOutputUrl, matchDownloads, outputUrls } from './downloads.js';
import { PollTiming } from './poll-timing.js';
import { makeDir } from '../../util/make-dir.js';

export interface RuncomfyBackendOptions {
  /** How often to ask for a job's status. The client's own default is 2 s. */
  readonly pollIntervalMs: number;
}

/**
 * Runs one attempt of a hosted model through the client: submit (or re-attach), record the
 * request id, poll until the job ends, fetch the result into a folder of its own, and check
 * that every trusted output URL became a file (the client exits 0 even when downloads fail).
 */
export class RuncomfyBackend implements Backend {
  readonly #client: RuncomfyClient;
  readonly #options: RuncomfyBackendOptions;
  readonly #timing: PollTiming;

  constructor(client: RuncomfyClient, options: RuncomfyBackendOptions) {
    this.#client = client;
    this.#options = options;
    this.#timing = new PollTiming(options.pollIntervalMs);
  }

  async runAttempt(request: AttemptRequest, hooks: AttemptHooks): Promise<AttemptOutcome> {
    let requestId = request.reattach;
    if (requestId !== undefined) {
      // A job recorded by an earlier attempt or run: if the service no longer knows it (404 -> 65),
      // it is submitted anew; any other answer is handled by the polling below. Exit 65 also
      // stands for other 4xx answers (contract section 6): only a "not found" means the job is
      // gone, and anything else is asked again later rather than risking a second paid job.
      const probe = await this.#client.status(requestId, request.signal);
      if (probe.ok && probe.value.state === 'cancelled' && request.resumed === true) requestId = undefined;
      else if (!probe.ok && probe.failure.exitCode === 65) {
        if (!NOT_FOUND.test(probe.failure.message))
          return failed({
            ...probe.failure,
            reason: 'unclear-answer',
            message: `job ${requestId} could not be looked up (${probe.failure.message}); it is not submitted again while it may still exist`,
            requestId,
            jobAlive: true,
          });
        requestId = undefined;
      }
    }
    if (requestId === undefined) {
      // The submit is not stopped at once when the attempt is: killing the client mid-request
      // may leave a paid job with an unknown id (contract section 7), and it is one short API
      // call, after which the job is cancelled. But a submit that does not answer must not
      // outlive the attempt's deadline, or a Ctrl-C, by more than a grace period.
      const { stdoutFile } = await hooks.beforeSubmit();
      const submitted = await this.#client.submit(
        request.model.id,
        request.input,
        stdoutFile,
        abortedAfter(request.signal, SUBMIT_GRACE_MS),
      );
      if (!submitted.ok) {
        if (request.signal.aborted && submitted.failure.reason === 'interrupted') {
          const deadline = request.abortReason() === 'deadline';
          return failed({
            reason: deadline ? 'timed-out' : 'interrupted',
            message: `${deadline ? 'the attempt timed out' : 'the run was interrupted'} while the submit was still waiting for the service; the client was stopped ${SUBMIT_GRACE_MS / 1000} s later, so a job may exist on the service without a known request id`,
          });
        }
        return failed(submitted.failure);
      }
      requestId = submitted.value;
    }
    const submittedAt = Date.now();
    await hooks.submitted(requestId);

    const fresh = request.reattach === undefined || requestId !== request.reattach;
    const finalState = await this.#waitForEnd(requestId, request, hooks, fresh ? submittedAt : undefined);
    if ('failure' in finalState) return failed(finalState.failure);
    switch (finalState.state) {
      case 'completed':
        return this.#collect(requestId, request);
      case 'failed': {
        const record = await this.#client.result(requestId, undefined, request.signal);
        const detail = record.ok
          ? record.value.error
          : record.failure.message.replace(/^request failed:\s*/, '');
        return failed({
          reason: 'job-failed',
          message: `the service reports job ${requestId} failed${detail ? `: ${detail}` : ''}`,
          requestId,
          jobAlive: false,
          ...(!record.ok &&
            record.failure.stderrTail !== undefined && { stderrTail: record.failure.stderrTail }),
        });
      }
      case 'cancelled':
        return failed({
          reason: 'job-cancelled',
          message: `job ${requestId} was cancelled on the service`,
          requestId,
          jobAlive: false,
        });
    }
  }

  cancel(requestId: string): Promise<CancelOutcome> {
    return this.#client.cancel(requestId);
  }

  async #waitForEnd(
    requestId: string,
    request: AttemptRequest,
    hooks: AttemptHooks,
    /** When this attempt's submit returned; undefined for a job followed from earlier. */
    submittedAt: number | undefined,
  ): Promise<{ state: 'completed' | 'failed' | 'cancelled' } | { failure: AttemptFailure }> {
    const model = request.model.id;
    const timing = this.#timing;
    const targets = submittedAt === undefined ? [] : timing.targets(model);
    let last: string | undefined;
    for (let calls = 0; ; calls++) {
      const delay =
        submittedAt === undefined
          ? calls === 0
            ? 0
            : this.#options.pollIntervalMs
          : timing.nextDelay(targets, Date.now() - submittedAt, calls);
      if (delay > 0) await this.#pause(delay, request.signal);
      if (request.signal.aborted) return { failure: await this.#stopped(requestId, request) };
      const asked = Date.now();
      const status = await this.#client.status(requestId, request.signal);
      if (status.ok) {
        // Only fresh jobs teach how long jobs take, and a failed job may have ended early.
        const answered = Date.now();
        const state = status.value.state;
        if (submittedAt === undefined || state === 'failed' || state === 'cancelled')
          timing.timed(answered - asked);
        else timing.observed(model, answered - submittedAt, answered - asked, state === 'completed');
      }
      if (!status.ok) {
        if (request.signal.aborted) return { failure: await this.#stopped(requestId, request) };
        // Polling failed but the job lives on (and bills): the retry re-attaches to it.
        return { failure: { ...status.failure, requestId, jobAlive: true } };
      }
      const state: RemoteState = status.value.state;
      if (state === 'completed' || state === 'failed' || state === 'cancelled') return { state };
      const key = `${state}:${status.value.queuePosition ?? ''}`;
      if (key !== last) {
        last = key;
        hooks.progress({
          state,
          ...(status.value.queuePosition !== undefined && { queuePosition: status.value.queuePosition }),
        });
      }
    }
  }

  async #pause(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      // Aborted while sleeping: the caller looks at the signal next.
    }
  }

  /** The attempt was stopped (deadline or Ctrl-C): cancel the remote job, say what happened. */
  async #stopped(requestId: string, request: AttemptRequest): Promise<AttemptFailure> {
    const outcome = await this.#client.cancel(requestId);
    const why = request.abortReason() === 'deadline' ? 'the attempt timed out' : 'the run was interrupted';
    const what =
      outcome === 'cancelled'
        ? `job ${requestId} was cancelled on the service`
        : outcome === 'not-cancellable'
          ? `job ${requestId} was already running and cannot be cancelled; it will run to completion and may bill`
          : `cancelling job ${requestId} failed; it may still run and bill`;
    return {
      reason: request.abortReason() === 'deadline' ? 'timed-out' : 'interrupted',
      message: `${why}; ${what}`,
      requestId,
      // A job that could not be cancelled keeps running: the next attempt follows it instead of paying again.
      jobAlive: outcome !== 'cancelled',
    };
  }

  /**
   * Fetches a finished job's result into a fresh folder of this process, checks it, then moves
   * it into place (`<stage>/<request id>/`). The client never overwrites (it adds -1 suffixes),
   * and a result process orphaned by a killed run may still be writing its own folder: neither
   * can mix files into the final folder this way.
   */
  async #collect(requestId: string, request: AttemptRequest): Promise<AttemptOutcome> {
    const name = safeSegment(requestId);
    const dir = join(request.outputRoot, name);
    const partial = join(request.outputRoot, `.${name}.partial-${process.pid}`);
    await makeDir(request.outputRoot);
    await removeAbandonedPartials(request.outputRoot, name);
    await rm(partial, { recursive: true, force: true });
    const result = await this.#client.result(requestId, partial, request.signal);
    if (!result.ok) {
      await rm(partial, { recursive: true, force: true });
      // The job is finished and paid for: a deadline that falls while its files download is a
      // timeout like any other, and the retry fetches them again (downloads have no deadline of
      // their own, contract section 5); a Ctrl-C leaves the job for the next run to collect.
      if (result.failure.reason === 'interrupted' && request.signal.aborted) {
        const deadline = request.abortReason() === 'deadline';
        return failed({
          reason: deadline ? 'timed-out' : 'interrupted',
          message: `${deadline ? 'the attempt timed out' : 'the run was interrupted'} while fetching the result of finished job ${requestId}; the job is not submitted again, its result is fetched anew`,
          requestId,
          jobAlive: true,
        });
      }
      return failed({ ...result.failure, requestId, jobAlive: true });
    }
    if (result.value.state !== undefined && result.value.state !== 'completed') {
      return failed({
        reason: 'unclear-answer',
        message: `job ${requestId}: status said completed but the result says ${result.value.state}`,
        requestId,
        jobAlive: true,
      });
    }
    const trusted = outputUrls(result.value.output).filter(isTrustedOutputUrl);
    const present = await nonEmptyFiles(partial);
    const { ordered, missing } = matchDownloads(trusted, present);
    if (missing.length > 0) {
      await rm(partial, { recursive: true, force: true });
      return failed({
        reason: 'missing-download',
        message: `job ${requestId} finished but ${missing.length} of its output file(s) did not download (or arrived empty): ${missing.join(', ')}`,
        requestId,
        jobAlive: true,
      });
    }
    await rm(dir, { recursive: true, force: true });
    if (present.length > 0) await rename(partial, dir);
    else await rm(partial, { recursive: true, force: true });
    return {
      kind: 'succeeded',
      requestId,
      output: result.value.output,
      files: ordered.map((file) => join(dir, file)),
    };
  }
}

/**
 * The files in a result folder that have content. An empty file is not a download: the client
 * saves the reply of a redirect it would not follow, probably empty (contract section 5), and
 * no image or video is zero bytes.
 */
async function nonEmptyFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const info = await stat(join(dir, entry.name)).catch(() => undefined);
    if (info !== undefined && info.size > 0) names.push(entry.name);
  }
  return names;
}

/** Partial result folders of this job left by runs that are gone. */
async function removeAbandonedPartials(root: string, name: string): Promise<void> {
  const prefix = `.${name}.partial-`;
  for (const entry of await readdir(root).catch(() => [] as string[])) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length));
    if (pid !== process.pid && !processAlive(pid))
      await rm(join(root, entry), { recursive: true, force: true });
  }
}

function failed(failure: AttemptFailure): AttemptOutcome {
  return { kind: 'failed', failure };
}

/** Request ids are opaque: make one safe as a folder name. */
export function safeSegment(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return cleaned === '' ? 'job' : cleaned.slice(0, 120);
}

/** The answer for a request id the service does not know (HTTP 404, `API error 404: … not found`). */
const NOT_FOUND = /\b404\b|not found/i;

/** How long a submit may go on after its attempt was stopped (deadline or Ctrl-C). */
const SUBMIT_GRACE_MS = 3_000;

/** A signal that aborts `ms` after `signal` does. */
function abortedAfter(signal: AbortSignal, ms: number): AbortSignal {
  const controller = new AbortController();
  const arm = () => setTimeout(() => controller.abort(), ms).unref();
  if (signal.aborted) arm();
  else signal.addEventListener('abort', arm, { once: true });
  return controller.signal;
}
