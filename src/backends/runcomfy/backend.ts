import { readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { processAlive } from '../../state/process-alive.js';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  AttemptFailure,
  AttemptHooks,
  AttemptOutcome,
  AttemptRequest,
  Backend,
  CancelOutcome,
} from '../backend.js';
import type { RuncomfyClient } from './client.js';
import { isTrustedOutputUrl, matchDownloads, outputUrls } from './downloads.js';
import { PollTiming } from './poll-timing.js';
import { makeDir } from '../../util/make-dir.js';
import { atPath } from '../../util/write-problem.js';

export interface RuncomfyBackendOptions {
  /** How often to ask for a job's status. The client's own default is 2 s. */
  readonly pollIntervalMs: number;
  /**
   * How long a submit may go on after its attempt was stopped before it is killed. Default
   * {@link SUBMIT_GRACE_MS}: past the client's own API timeout, so only a hung client is killed.
   */
  readonly submitGraceMs?: number;
  /** How long the service may deny knowing a job this run submitted before it counts as gone. */
  readonly notFoundGraceMs?: number;
  /**
   * The client is a 0.1.x build (its `--version`): early ones download output URLs from every
   * host, not only RunComfy's (contract sections 5 and 11), which changes which file is whose.
   */
  readonly anyHostClient?: boolean;
  /** For the jitter of the back-off between failed status checks. Default Math.random. */
  readonly random?: () => number;
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
  /**
   * Since when the service has answered each job's status with a 4xx (65), across the attempts
   * of this run: an attempt whose deadline is shorter than the grace period must not start the
   * count again, or a job that is gone would never count as gone.
   */
  readonly #rejectedSince = new Map<string, number>();

  constructor(client: RuncomfyClient, options: RuncomfyBackendOptions) {
    this.#client = client;
    this.#options = options;
    this.#timing = new PollTiming(options.pollIntervalMs);
  }

  async runAttempt(request: AttemptRequest, hooks: AttemptHooks): Promise<AttemptOutcome> {
    let requestId = request.reattach;
    let followed: Followed | undefined;
    if (requestId !== undefined) {
      // A job recorded by an earlier attempt or run is followed. One an earlier run recorded
      // that the service no longer knows (404), or reports cancelled (that run's own cancel,
      // or the service's), is submitted anew at once; anything else is followed on.
      await hooks.submitted(requestId);
      followed = await this.#waitForEnd(requestId, request, hooks, undefined);
      if ('gone' in followed && request.resumed === true) {
        requestId = undefined;
        followed = undefined;
      }
    }
    if (requestId === undefined) {
      // Found gone just as the attempt was stopped: nothing is submitted after a stop.
      if (request.signal.aborted)
        return failed(
          stopFailure(request, ' before the job the service no longer knows was submitted again'),
        );
      const submitted = await this.#submit(request, hooks);
      if ('failure' in submitted) return failed(submitted.failure);
      requestId = submitted.requestId;
      await hooks.submitted(requestId);
      // A submit that answered after the attempt was stopped: its job is cancelled like any other.
      followed = request.signal.aborted
        ? await this.#stopped(requestId, request)
        : await this.#waitForEnd(requestId, request, hooks, submitted.at);
    }
    const finalState = followed!;
    if ('failure' in finalState) return failed(finalState.failure);
    if ('gone' in finalState)
      return failed({ reason: 'unclear-answer', message: finalState.gone, requestId, jobAlive: false });
    // A job that has ended is taken as it ended, whatever the deadline says (its result costs
    // nothing, and downloads have no deadline of their own, contract section 5): only a stop of
    // the run ends fetching it.
    const signal = request.interruptSignal ?? request.signal;
    switch (finalState.state) {
      case 'completed':
        return this.#collect(requestId, request, signal);
      case 'failed': {
        const record = await this.#client.result(requestId, undefined, signal);
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

  /**
   * Submits the job. A submit is not stopped when its attempt is: killing the client mid-request
   * may leave a paid job with an unknown id (contract sections 7 and 11), and the client's own
   * API timeout (60 s) ends it anyway; the job it answers with is then cancelled. Only a client
   * that outlives that by far is killed, and the job it may have created is reported.
   */
  async #submit(
    request: AttemptRequest,
    hooks: AttemptHooks,
  ): Promise<{ requestId: string; at: number } | { failure: AttemptFailure }> {
    const { stdoutFile } = await hooks.beforeSubmit();
    const graceMs = this.#options.submitGraceMs ?? SUBMIT_GRACE_MS;
    const submitted = await this.#client.submit(
      request.model.id,
      request.input,
      stdoutFile,
      abortedAfter(request.signal, graceMs),
    );
    if (submitted.ok) return { requestId: submitted.value, at: Date.now() };
    // The client's answer goes to a file in the state folder. On a full disk it cannot write
    // it and fails in its own words, or none (they go to a file beside it): that is ours to
    // report, not the client's, and the job it may have created cannot be named.
    if (stdoutFile !== undefined && (await unwrittenForLackOfSpace(stdoutFile)))
      throw atPath(
        Object.assign(new Error('ENOSPC: no space left on device, write'), {
          code: 'ENOSPC',
          syscall: 'write',
        }),
        stdoutFile,
      );
    if (request.signal.aborted && submitted.failure.reason === 'interrupted')
      return {
        failure: stopFailure(
          request,
          ` while the submit was still waiting for the service; the client did not answer within ${formatSeconds(graceMs)} more and was stopped, so a job may exist on the service without a known request id`,
        ),
      };
    return { failure: submitted.failure };
  }

  async cancel(requestId: string): Promise<CancelOutcome> {
    return (await this.#client.cancel(requestId)).outcome;
  }

  /**
   * Polls a job until it ends, the attempt is stopped, or the service no longer knows it. A
   * status check that fails (429, 5xx, a dropped connection, a 4xx about the job) costs nothing
   * and the job runs on (and bills) whatever the client says: it is asked again, backing off,
   * until the attempt's deadline; only a fatal answer (no token, a bad call) ends the attempt.
   */
  async #waitForEnd(
    requestId: string,
    request: AttemptRequest,
    hooks: AttemptHooks,
    /** When this attempt's submit returned; undefined for a job followed from earlier. */
    submittedAt: number | undefined,
  ): Promise<Followed> {
    const model = request.model.id;
    const timing = this.#timing;
    const targets = submittedAt === undefined ? [] : timing.targets(model);
    const resumed = submittedAt === undefined && request.resumed === true;
    const graceMs = this.#options.notFoundGraceMs ?? NOT_FOUND_GRACE_MS;
    // A job an earlier run recorded may have expired on the service; one submitted moments
    // before that run was killed may not be visible yet, like one this run submitted.
    const settled =
      resumed && (request.knownSince === undefined || Date.now() - request.knownSince >= graceMs);
    let last: string | undefined;
    let failures = 0;
    let lastFailure: AttemptFailure | undefined;
    /** The service has answered about the job in this attempt. */
    let seen = false;
    /** No status call of this attempt has failed: when it was seen done says how long jobs take. */
    let clean = true;
    /** The last look before the deadline was taken. */
    let lastLook = false;
    for (let calls = 0; ; calls++) {
      let delay =
        failures > 0
          ? this.#pollBackoff(failures)
          : submittedAt === undefined
            ? calls === 0
              ? 0
              : this.#options.pollIntervalMs
            : timing.nextDelay(targets, Date.now() - submittedAt, calls);
      // A job that finished before the deadline is collected, not cancelled as timed out: when
      // the next wait would pass the deadline, look once more just before it.
      if (request.deadline !== undefined && !lastLook) {
        // Room for that status call and, if it says done, the result call and its download.
        const latest = request.deadline - Date.now() - 3 * timing.callEstimate() - LAST_LOOK_MARGIN_MS;
        if (delay > latest && latest > 0) {
          delay = latest;
          lastLook = true;
        }
      }
      if (delay > 0) await this.#pause(delay, request.signal);
      if (request.signal.aborted) return this.#stopped(requestId, request, lastFailure);
      const asked = Date.now();
      const status = await this.#client.status(requestId, request.signal);
      if (!status.ok) {
        if (request.signal.aborted) return this.#stopped(requestId, request, lastFailure);
        if (!ASK_AGAIN.has(status.failure.reason))
          return { failure: { ...status.failure, requestId, jobAlive: true } };
        failures++;
        clean = false;
        lastFailure = status.failure;
        if (status.failure.exitCode === 65) {
          const now = Date.now();
          const since = this.#rejectedSince.get(requestId) ?? now;
          this.#rejectedSince.set(requestId, since);
          // A 404 said in so many words ends a job an earlier run recorded long ago at once.
          // Otherwise only a rejection that lasts counts: the job may just not be visible yet,
          // and the words of a 4xx are not fixed (contract section 8), so a status check that
          // keeps failing with one for the grace period means the job is gone, 404 or not.
          const notFound = await this.#notFound(requestId, status.failure, request.signal);
          if (notFound && settled && !seen) {
            this.#rejectedSince.delete(requestId);
            return { gone: `the service no longer knows job ${requestId} (404)` };
          }
          if (now - since >= graceMs) {
            this.#rejectedSince.delete(requestId);
            return {
              gone: notFound
                ? `the service has not known job ${requestId} for ${formatSeconds(now - since)} (404), so it counts as gone`
                : `the service has rejected every status check of job ${requestId} for ${formatSeconds(now - since)} (${status.failure.message}), so it counts as gone`,
            };
          }
        } else this.#rejectedSince.delete(requestId);
        continue;
      }
      failures = 0;
      lastFailure = undefined;
      this.#rejectedSince.delete(requestId);
      // Only fresh jobs teach how long jobs take, and a failed job may have ended early.
      const answered = Date.now();
      let state = status.value.state;
      // A job seen done only after failed checks may have ended long before: not a duration.
      if (submittedAt === undefined || state === 'failed' || state === 'cancelled' || !clean)
        timing.timed(answered - asked);
      else timing.observed(model, answered - submittedAt, answered - asked, state === 'completed');
      if (state === 'cancelled' && resumed && !seen)
        return { gone: `job ${requestId} was cancelled on the service before this run` };
      seen = true;
      if (status.value.unknown !== undefined) {
        // A state the client does not know: the client's own `run` decides by the result
        // record's status (contract section 8), so ask that, without downloading anything.
        // A failed or cancelled job's `result` exits 1 after printing its record.
        const record = await this.#client.result(requestId, undefined, request.signal);
        if (record.ok && record.value.state !== undefined) state = record.value.state;
        else if (!record.ok && record.failure.reason === 'job-failed') state = 'failed';
        else if (!record.ok && record.failure.reason === 'job-cancelled') state = 'cancelled';
      }
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

  /**
   * Whether a 65 from `status` means the service does not know the job. JSON mode prints only
   * the top-level message (contract section 4), which may not name the HTTP status; the
   * same question in pretty mode prints the whole error chain, causes included.
   */
  async #notFound(requestId: string, failure: AttemptFailure, signal: AbortSignal): Promise<boolean> {
    if (NOT_FOUND.test(failure.message)) return true;
    const chain = await this.#client.statusErrorChain(requestId, signal);
    return chain !== undefined && NOT_FOUND.test(chain);
  }

  /** The wait before asking again after `failures` failed status checks in a row. */
  #pollBackoff(failures: number): number {
    const ceiling = Math.min(POLL_BACKOFF_CAP_MS, this.#options.pollIntervalMs * 2 ** failures);
    return Math.round(ceiling * (0.5 + (this.#options.random ?? Math.random)() / 2));
  }

  async #pause(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      // Aborted while sleeping: the caller looks at the signal next.
    }
  }

  /**
   * The attempt was stopped (deadline or Ctrl-C): cancel the remote job, say what happened. The
   * cancel answer gives the job's status too (contract section 4): a job that could not be
   * cancelled because it had already ended is no timeout, and at the deadline its end is taken
   * as it is (its result fetched: that costs nothing, and downloads have no deadline of their
   * own, contract section 5), unless the run itself is being stopped.
   */
  async #stopped(
    requestId: string,
    request: AttemptRequest,
    /** The last status check that failed, if the attempt was still asking again. */
    lastFailure?: AttemptFailure,
  ): Promise<Followed> {
    if (request.abortReason() === 'detach') {
      const asking = lastFailure ? ` (its status could not be read lately: ${lastFailure.message})` : '';
      return {
        failure: {
          ...stopFailure(
            request,
            `${asking}; job ${requestId} is left on the service, not cancelled, and the next run follows it up`,
          ),
          requestId,
          jobAlive: true,
        },
      };
    }
    const { outcome, state } = await this.#client.cancel(requestId);
    const ended =
      outcome === 'not-cancellable' && (state === 'completed' || state === 'failed') ? state : undefined;
    if (
      ended !== undefined &&
      request.abortReason() === 'deadline' &&
      request.interruptSignal?.aborted === false
    )
      return { state: ended };
    const what =
      outcome === 'cancelled'
        ? `job ${requestId} was cancelled on the service`
        : ended === 'completed'
          ? `job ${requestId} had already finished, so its result is taken without paying again when it is run next`
          : ended === 'failed'
            ? `job ${requestId} had already failed on the service`
            : outcome === 'not-cancellable'
              ? `job ${requestId} was already running and cannot be cancelled; it will run to completion and may bill`
              : `cancelling job ${requestId} failed; it may still run and bill`;
    const asking = lastFailure ? ` (its status could not be read lately: ${lastFailure.message})` : '';
    return {
      failure: {
        ...stopFailure(request, `${asking}; ${what}`),
        requestId,
        // A job that could not be cancelled keeps running (or is done): the next attempt follows it instead of paying again.
        jobAlive: outcome !== 'cancelled',
      },
    };
  }

  /**
   * Fetches a finished job's result into a fresh folder of this process, checks it, then moves
   * it into place (`<stage>/<request id>/`). The client never overwrites (it adds -1 suffixes),
   * and a result process orphaned by a killed run may still be writing its own folder: neither
   * can mix files into the final folder this way.
   *
   * Fetching a finished job's result costs nothing, so a call that fails for a reason that may
   * pass (429, 5xx, a dropped connection; a 4xx or an unfinished record briefly, as the record
   * may lag the status, contract section 11), or files that did not all arrive, are asked for
   * again, backing off, up to {@link RESULT_TRIES} times, without using the stage's retries.
   */
  async #collect(requestId: string, request: AttemptRequest, signal: AbortSignal): Promise<AttemptOutcome> {
    const name = safeSegment(requestId);
    const dir = join(request.outputRoot, name);
    const partial = join(request.outputRoot, `.${name}.partial-${process.pid}`);
    await makeDir(request.outputRoot);
    await removeAbandonedPartials(request.outputRoot, name);
    for (let tries = 1; ; tries++) {
      await rm(partial, { recursive: true, force: true });
      const fetched = await this.#fetchResult(requestId, partial, dir, signal, tries);
      if (fetched.kind === 'succeeded') return fetched;
      await rm(partial, { recursive: true, force: true });
      if (signal.aborted) return failed(stoppedFetching(requestId, request, signal));
      if (fetched.kind === 'failed' || tries >= RESULT_TRIES) return failed(fetched.failure);
      await this.#pause(this.#pollBackoff(tries), signal);
      if (signal.aborted) return failed(stoppedFetching(requestId, request, signal));
    }
  }

  /** One `result` call of {@link #collect}: the outcome, or a failure worth asking again about. */
  async #fetchResult(
    requestId: string,
    partial: string,
    dir: string,
    signal: AbortSignal,
    tries: number,
  ): Promise<AttemptOutcome | { readonly kind: 'again'; readonly failure: AttemptFailure }> {
    const result = await this.#client.result(requestId, partial, signal);
    if (!result.ok) {
      // A record that says the job failed or was cancelled ends it, whatever the status call
      // said (`run` decides by the result's status, contract section 8): a retry submits anew.
      const ended = result.failure.reason === 'job-failed' || result.failure.reason === 'job-cancelled';
      const failure: AttemptFailure = { ...result.failure, requestId, jobAlive: !ended };
      if (signal.aborted) return failed(failure);
      const passing = ASK_AGAIN.has(failure.reason) || (failure.exitCode === 65 && tries < NOT_READY_TRIES);
      return passing ? { kind: 'again', failure } : failed(failure);
    }
    const state = result.value.state;
    if (state !== undefined && state !== 'completed') {
      const failure: AttemptFailure = {
        reason: 'unclear-answer',
        message: `job ${requestId}: status said completed but the result says ${state}`,
        requestId,
        jobAlive: true,
      };
      return state === 'in_queue' || state === 'in_progress' ? { kind: 'again', failure } : failed(failure);
    }
    const urls = outputUrls(result.value.output);
    const trusted = urls.filter(isTrustedOutputUrl);
    const { all, empty } = await filesIn(partial);
    const { ordered, byUrl, missing } = matchFiles(urls, trusted, all, this.#options.anyHostClient === true);
    const skipped = urls.filter((url) => !isTrustedOutputUrl(url) && !byUrl.has(url));
    if (missing.length > 0)
      return {
        kind: 'again',
        failure: {
          reason: 'missing-download',
          message: `job ${requestId} finished but ${missing.length} of its output file(s) did not download: ${missing.join(', ')}`,
          requestId,
          jobAlive: true,
        },
      };
    // An empty file is the reply of a redirect the client would not follow off the trusted
    // hosts (contract section 5): asking again gives the same. Such an output is a URL only.
    const redirected = trusted.filter((url) => empty.has(byUrl.get(url)!));
    for (const file of empty) await rm(join(partial, file), { force: true });
    const files = ordered.filter((file) => !empty.has(file));
    await rm(dir, { recursive: true, force: true });
    if (files.length > 0) await rename(partial, dir);
    else await rm(partial, { recursive: true, force: true });
    const warnings = [
      // The client downloads only from RunComfy's hosts and says nothing of the rest in json
      // mode (contract section 5): such outputs live only as URLs, which expire.
      ...(skipped.length > 0
        ? [
            `job ${requestId}: ${counted(skipped, 'output URL')} outside the hosts the client downloads from (*.runcomfy.net, *.runcomfy.com), so ${skipped.length === 1 ? 'it is' : 'they are'} passed on as ${skipped.length === 1 ? 'a URL' : 'URLs'} but not kept as files: ${listed(skipped)}`,
          ]
        : []),
      ...(redirected.length > 0
        ? [
            `job ${requestId}: ${counted(redirected, 'output URL')} downloaded empty (probably a redirect off the hosts the client trusts, which it does not follow), so ${redirected.length === 1 ? 'it is' : 'they are'} passed on as ${redirected.length === 1 ? 'a URL' : 'URLs'} but not kept as files: ${listed(redirected)}`,
          ]
        : []),
    ];
    return {
      kind: 'succeeded',
      requestId,
      output: result.value.output,
      files: files.map((file) => join(dir, file)),
      ...(warnings.length > 0 && { warnings }),
    };
  }
}

/**
 * Which file the client saved for which URL. A 0.2.0 client downloads the trusted URLs only.
 * Early 0.1.x builds download from every host (contract section 5), and their files take their
 * names in the order of all URLs; which 0.1.x builds do is not known, so for any 0.1.x client
 * (`anyHost`) the files are matched to every URL where that explains them, and a trusted URL
 * whose file would otherwise be an untrusted URL's counts as missing: a file from another host
 * is never taken for the job's own. Only a trusted URL with no file is missing.
 */
function matchFiles(
  urls: readonly string[],
  trusted: readonly string[],
  files: readonly string[],
  anyHost: boolean,
): ReturnType<typeof matchDownloads> {
  const match = matchDownloads(trusted, files);
  if (!anyHost || trusted.length === urls.length) return match;
  const everyHost = matchDownloads(urls, files);
  return { ...everyHost, missing: everyHost.missing.filter(isTrustedOutputUrl) };
}

/** "1 output URL is" / "3 output URLs are". */
function counted(list: readonly unknown[], noun: string): string {
  return `${list.length} ${noun}${list.length === 1 ? ' is' : 's are'}`;
}

function listed(urls: readonly string[]): string {
  return `${urls.slice(0, 3).join(', ')}${urls.length > 3 ? ', …' : ''}`;
}

/**
 * A stop while the result of a finished job was being fetched: only a stop of the run (the
 * deadline does not end a fetch), unless the backend was given no signal for that alone.
 */
function stoppedFetching(requestId: string, request: AttemptRequest, signal: AbortSignal): AttemptFailure {
  const reason =
    signal !== request.interruptSignal && request.abortReason() === 'deadline' ? 'timed-out' : 'interrupted';
  const stopped = request.abortReason() === 'detach' ? 'the run stopped' : 'the run was interrupted';
  return {
    reason,
    message: `${reason === 'timed-out' ? 'the attempt timed out' : stopped} while fetching the result of finished job ${requestId}; the job is not submitted again, its result is fetched anew`,
    requestId,
    jobAlive: true,
  };
}

/**
 * The files in a result folder, and which of them are empty. An empty file is not a download: the
 * client saves the reply of a redirect it would not follow, probably empty (contract section
 * 5), and no image or video is zero bytes.
 */
async function filesIn(dir: string): Promise<{ all: string[]; empty: Set<string> }> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const all: string[] = [];
  const empty = new Set<string>();
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const info = await stat(join(dir, entry.name)).catch(() => undefined);
    if (info === undefined) continue;
    all.push(entry.name);
    if (info.size === 0) empty.add(entry.name);
  }
  return { all, empty };
}

/** True when `file` is empty and its file system has no room left for anyone but root. */
async function unwrittenForLackOfSpace(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size === 0 && (await statfs(dirname(file))).bavail === 0;
  } catch {
    return false;
  }
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

/**
 * The failure of an attempt that was stopped: `timed-out` at its deadline, else `interrupted`;
 * `detail` continues the sentence (" while …", "; …").
 */
function stopFailure(request: AttemptRequest, detail: string): AttemptFailure {
  const why = request.abortReason();
  return {
    reason: why === 'deadline' ? 'timed-out' : 'interrupted',
    message: `${why === 'deadline' ? 'the attempt timed out' : why === 'detach' ? 'the run stopped' : 'the run was interrupted'}${detail}`,
  };
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

/** How following a job ended; `gone`: the service does not know it (any more), and why. */
type Followed =
  | { readonly state: 'completed' | 'failed' | 'cancelled' }
  | { readonly failure: AttemptFailure }
  | { readonly gone: string };

/**
 * How long a submit may go on after its attempt was stopped (deadline or Ctrl-C): the client's
 * API calls time out after 60 s and its connections after 10 s (contract section 5).
 */
export const SUBMIT_GRACE_MS = 75_000;

/** How long a job this run submitted may be unknown to the service (404) before it counts as gone. */
export const NOT_FOUND_GRACE_MS = 60_000;

/** How often the result of a finished job is asked for before its fetch counts as failed. */
const RESULT_TRIES = 5;

/** How often a 4xx from `result` is asked again about: the record may lag the status briefly. */
const NOT_READY_TRIES = 3;

/** How long before an attempt's deadline its last status call should have answered. */
const LAST_LOOK_MARGIN_MS = 250;

/** The longest wait between status checks that keep failing. */
const POLL_BACKOFF_CAP_MS = 30_000;

/** Status checks that failed this way are asked again: the job runs on whatever the client said. */
const ASK_AGAIN: ReadonlySet<AttemptFailure['reason']> = new Set([
  'rate-limited',
  'timed-out',
  'service-unavailable',
  'transport',
  'unclear-answer',
  'interrupted',
]);

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** A signal that aborts `ms` after `signal` does. */
function abortedAfter(signal: AbortSignal, ms: number): AbortSignal {
  const controller = new AbortController();
  const arm = () => setTimeout(() => controller.abort(), ms).unref();
  if (signal.aborted) arm();
  else {
    signal.addEventListener('abort', arm, { once: true });
    // Not kept past the submit: the attempt's signal lives on while the job is followed.
    controller.signal.addEventListener('abort', () => signal.removeEventListener('abort', arm), {
      once: true,
    });
  }
  return controller.signal;
}
