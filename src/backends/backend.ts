import type { ModelInfo } from '../catalog/model.js';
import type { JsonObject } from '../util/json.js';

/**
 * Why an attempt did not succeed, in our terms. The scheduler decides retries from this alone,
 * so every backend maps its own signals (exit codes, messages, exceptions) onto these.
 * - `rate-limited`: the service said slow down (client exit 75 with 429).
 * - `timed-out`: the attempt's deadline passed, or the client timed out talking to the API (75).
 * - `service-unavailable`: HTTP 5xx (client exit 69).
 * - `transport`: the connection failed (client exit 1, `POST …`/`GET …`).
 * - `missing-download`: the job finished but a trusted output file did not arrive.
 * - `job-failed`: the service ran the job and reports it failed (may have cost money).
 * - `job-cancelled`: the job was cancelled on the service side.
 * - `invalid-input`: the service or client rejected the input (65), or it failed our checks.
 * - `missing-file`: the client could not read a file it was given (66).
 * - `unauthorized`: no token, or the token was rejected (77); fatal for the whole run.
 * - `client-error`: the client was called wrongly (exit 2/64): a bug of ours.
 * - `protocol`: the client answered something we cannot interpret.
 * - `unclear-answer`: the same while following a job we know the id of (status, result: an
 *   unlisted exit code, a result not ready after all, output that does not parse). Asking
 *   again costs nothing, so it is retried by re-attaching to the job, never by resubmitting.
 * - `client-missing`: the client executable could not be started.
 * - `engine-error`: the local engine failed on this input.
 * - `interrupted`: the run was cancelled (Ctrl-C, SIGTERM, --fail-fast).
 * - `postprocess-failed`: the job succeeded but its files could not be labelled or recorded.
 * - `cannot-write`: a file or folder of ours (a job record, the run record, a stage's output
 *   folder, a provenance record) could not be written: a full disk, a read-only file system,
 *   something in the way. Not the service's doing and not a bug: it stops the run (exit 73).
 */
export type FailureReason =
  | 'rate-limited'
  | 'timed-out'
  | 'service-unavailable'
  | 'transport'
  | 'missing-download'
  | 'job-failed'
  | 'job-cancelled'
  | 'invalid-input'
  /** Consent or the prompt screen refuses the job's input, known only at run time (77). */
  | 'not-permitted'
  | 'missing-file'
  | 'unauthorized'
  | 'client-error'
  | 'protocol'
  | 'unclear-answer'
  | 'client-missing'
  | 'engine-error'
  | 'interrupted'
  | 'postprocess-failed'
  | 'cannot-write';

/** A failed attempt, as data. */
export interface AttemptFailure {
  readonly reason: FailureReason;
  /** What went wrong, in the client's own words where it gave some. */
  readonly message: string;
  /** The client's exit code, when a client process ended with one. */
  readonly exitCode?: number;
  /** Last lines of the client's stderr, token redacted. */
  readonly stderrTail?: string;
  /**
   * The remote job this attempt submitted or followed, when known. A retry of a failure with
   * a live job re-attaches to it instead of paying for a new one.
   */
  readonly requestId?: string;
  /** True when the remote job is known to still exist and may finish (so re-attaching makes sense). */
  readonly jobAlive?: boolean;
}

/** One call of one model: what a backend needs to run an attempt. */
export interface AttemptRequest {
  readonly model: ModelInfo;
  readonly input: JsonObject;
  /** Folder for this job's files; the backend may create sub-folders per job. */
  readonly outputRoot: string;
  /** A job submitted earlier (this run or a killed one) to follow instead of submitting anew. */
  readonly reattach?: string;
  /**
   * True when `reattach` comes from an earlier run's record: a job the service reports
   * cancelled then (a killed run's own cancel, or the service's) is submitted anew, as one it no
   * longer knows is. A retry within this run keeps following what it followed.
   */
  readonly resumed?: boolean;
  /**
   * When a resumed job was submitted (epoch ms), if its record says: a job submitted moments
   * before a crash may not be visible on the service yet, so a 404 then is not taken as gone.
   */
  readonly knownSince?: number;
  /** Aborted when the attempt must stop: its deadline, Ctrl-C, --fail-fast. */
  readonly signal: AbortSignal;
  /**
   * Aborted only when the run stops (Ctrl-C, --fail-fast), not at the deadline: for the last
   * step of a job found finished as its deadline fell (fetching its result costs nothing, and
   * downloads have no deadline of their own). Absent: `signal` is used.
   */
  readonly interruptSignal?: AbortSignal;
  /**
   * When the attempt's deadline falls (epoch ms), if it has one: a backend that waits between
   * checks looks once more before it, so a job that finished is not cancelled as timed out.
   */
  readonly deadline?: number;
  /**
   * Why `signal` was aborted, when it was: `deadline` (timed out), `interrupted` (Ctrl-C,
   * --fail-fast: a remote job is cancelled), or `detach`: the run stops for a problem of its own
   * (a file it cannot write) and leaves a remote job running, not cancelled, for the next run to
   * follow up from its record.
   */
  readonly abortReason: () => 'deadline' | 'interrupted' | 'detach';
}

/** What a backend tells the runner while an attempt goes on. */
export interface AttemptHooks {
  /**
   * Called right before a new submission (not a re-attachment). The runner records that a
   * submission is under way and may name a file for the client's stdout, so the request id
   * survives even if the runner is killed before reading it.
   */
  beforeSubmit(): Promise<{ readonly stdoutFile?: string }>;
  /**
   * Called with the request id as soon as the job exists, before waiting for it. The runner
   * records it durably here, so a crash after this point re-attaches instead of paying again.
   */
  submitted(requestId: string): Promise<void>;
  /** Queue and progress changes, for reporters. */
  progress(status: JobStatus): void;
}

export interface JobStatus {
  readonly state: 'in_queue' | 'in_progress';
  readonly queuePosition?: number;
}

export type AttemptOutcome =
  | {
      readonly kind: 'succeeded';
      readonly requestId: string;
      /** The model's `output` object as the service returned it. */
      readonly output: JsonObject;
      /** Absolute paths of the downloaded files, in output order. */
      readonly files: readonly string[];
      /** Things the user should know that did not fail the job (output URLs not downloaded). */
      readonly warnings?: readonly string[];
    }
  | { readonly kind: 'failed'; readonly failure: AttemptFailure };

/** A way of running models: the runcomfy client, or the local engine. */
export interface Backend {
  runAttempt(request: AttemptRequest, hooks: AttemptHooks): Promise<AttemptOutcome>;
  /**
   * Asks the service to cancel a job (on Ctrl-C). Resolves with what happened; never throws.
   */
  cancel(requestId: string): Promise<CancelOutcome>;
}

export type CancelOutcome = 'cancelled' | 'not-cancellable' | 'failed';
