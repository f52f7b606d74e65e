import { writeFileSync } from 'node:fs';
import { processStartTime } from '../../state/process-alive.js';
import { isJsonObject, parseClientPayload, type JsonObject } from '../../util/json.js';
import type { Redactor } from '../../policy/redact.js';
import { brokenTokenFile, tail } from '../../policy/redact.js';
import type { AttemptFailure, CancelOutcome } from '../backend.js';
import { runProcess, type ProcessResult } from '../process.js';
import { classifyExit, type ClientPhase } from './classify.js';

/** A job's state as `status` reports it, normalised (the client accepts `succeeded`, `canceled`, any case). */
export type RemoteState = 'in_queue' | 'in_progress' | 'completed' | 'failed' | 'cancelled';

export interface ClientSettings {
  /** The `runcomfy` executable: a name looked up on PATH, or a path. */
  readonly executable: string;
  /** The environment the client runs with (token, config dir, API base…). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly redact: Redactor;
}

export type ClientCall<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: AttemptFailure };

/** One invocation, for dry runs and logs: the exact command line and the body sent on stdin. */
export interface Invocation {
  readonly file: string;
  readonly args: readonly string[];
  readonly stdin?: string;
}

/**
 * The runcomfy command-line client, one method per subcommand, every one in `--output json`
 * mode. Bodies always go on stdin (`--input-file -`): prompts and signed URLs stay out of argv,
 * `ps` and logs. Follows runcomfy-contract.md section 4's approach A: submit with `--no-wait`
 * so the request id is known before waiting, then `status` and `result`.
 */
export class RuncomfyClient {
  readonly #settings: ClientSettings;
  #calls = 0;

  constructor(settings: ClientSettings) {
    this.#settings = settings;
  }

  /** Client processes started so far (every subcommand counts). */
  get calls(): number {
    return this.#calls;
  }

  submitInvocation(model: string, body: JsonObject): Invocation {
    return {
      file: this.#settings.executable,
      args: ['--output', 'json', 'run', model, '--input-file', '-', '--no-wait'],
      stdin: JSON.stringify(body),
    };
  }

  /**
   * Submits a job; the request id on success. `signal` stops the client (the backend aborts it
   * only a grace period after the attempt was stopped: see there for why). With
   * `stdoutFile`, the client's answer (the id) goes to that file and the child's pid to
   * `<stdoutFile>.pid`, so a runner killed meanwhile can find the job afterwards.
   */
  async submit(
    model: string,
    body: JsonObject,
    stdoutFile?: string,
    signal?: AbortSignal,
  ): Promise<ClientCall<string>> {
    const invocation = this.submitInvocation(model, body);
    const result = await this.#run(invocation, signal, stdoutFile);
    const failure = this.#failure(result, 'submit');
    // A client stopped just as it answered may have printed the id: the job then exists.
    const answered = 'stdout' in result ? requestIdIn(result.stdout) : undefined;
    if (failure && !(result.kind === 'stopped' && answered !== undefined)) return { ok: false, failure };
    const id = answered;
    if (id === undefined) {
      return {
        ok: false,
        failure: { reason: 'protocol', message: 'the client accepted the job but printed no request_id' },
      };
    }
    return { ok: true, value: id };
  }

  async status(
    id: string,
    signal?: AbortSignal,
  ): Promise<ClientCall<{ state: RemoteState; queuePosition?: number; unknown?: string }>> {
    const result = await this.#run(
      { file: this.#settings.executable, args: ['--output', 'json', 'status', id] },
      signal,
    );
    const failure = this.#failure(result, 'status', id);
    if (failure) return { ok: false, failure };
    const parsed = parseClientPayload((result as { stdout: string }).stdout);
    if (!isJsonObject(parsed)) {
      return {
        ok: false,
        failure: {
          reason: 'unclear-answer',
          message: `unexpected status output for request ${id}`,
          requestId: id,
          jobAlive: true,
        },
      };
    }
    // A missing field is null (contract section 4), and the service may name states the client
    // knows nothing of: neither says the job ended, so it is followed on until it does or the
    // attempt's deadline passes.
    const raw = parsed['status'];
    const known = normaliseState(raw);
    const state = known ?? 'in_progress';
    const position = parsed['queue_position'];
    return {
      ok: true,
      value: {
        state,
        ...(typeof position === 'number' && { queuePosition: position }),
        ...(known === undefined && typeof raw === 'string' && { unknown: raw }),
      },
    };
  }

  /**
   * The whole error chain of a failed `status` (pretty mode prints `Error: <message>: <cause>…`;
   * json mode only the top-level message, contract section 4), or undefined if it succeeded
   * or said nothing. Asked only to tell a job the service does not know from other 4xx.
   */
  async statusErrorChain(id: string, signal?: AbortSignal): Promise<string | undefined> {
    const timeout = AbortSignal.timeout(CLIENT_CALL_TIMEOUT_MS);
    const result = await this.#run(
      { file: this.#settings.executable, args: ['status', id] },
      signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    );
    if (result.kind !== 'exited' || result.exitCode === 0) return undefined;
    const text = this.#settings.redact(result.stderr.trim());
    return text === '' ? undefined : text;
  }

  /**
   * Fetches a finished job's record and downloads its files into `outputDir`. A failed or
   * cancelled job exits 1 after printing the record; the failure then carries the job's error.
   */
  async result(
    id: string,
    outputDir: string | undefined,
    signal?: AbortSignal,
  ): Promise<ClientCall<{ state: RemoteState | undefined; output: JsonObject; error?: string }>> {
    const args = [
      '--output',
      'json',
      'result',
      id,
      ...(outputDir === undefined ? ['--no-download'] : ['--output-dir', outputDir]),
    ];
    const result = await this.#run({ file: this.#settings.executable, args }, signal);
    const failure = this.#failure(result, 'result', id);
    if (failure) return { ok: false, failure };
    const record = parseClientPayload((result as { stdout: string }).stdout);
    if (!isJsonObject(record))
      return {
        ok: false,
        failure: {
          reason: 'unclear-answer',
          message: `unexpected result output for request ${id}`,
          requestId: id,
          jobAlive: true,
        },
      };
    const output = isJsonObject(record['output']) ? record['output'] : {};
    const error = record['error'];
    return {
      ok: true,
      value: {
        state: normaliseState(record['status']),
        output,
        ...(error !== undefined &&
          error !== null && { error: typeof error === 'string' ? error : JSON.stringify(error) }),
      },
    };
  }

  /**
   * Asks the service to cancel a job. Only queued jobs can be; never throws. The answer's
   * `status` is kept with the outcome: a job that could not be cancelled because it has already
   * ended (`completed`, `failed`) is not running on, and its result can be had.
   */
  async cancel(id: string): Promise<{ outcome: CancelOutcome; state?: RemoteState }> {
    const result = await this.#run(
      { file: this.#settings.executable, args: ['--output', 'json', 'cancel', id] },
      AbortSignal.timeout(CLIENT_CALL_TIMEOUT_MS),
    );
    if (result.kind !== 'exited' || result.exitCode !== 0) return { outcome: 'failed' };
    const parsed = parseClientPayload(result.stdout);
    const outcome = isJsonObject(parsed) ? parsed['outcome'] : undefined;
    const state = isJsonObject(parsed) ? normaliseState(parsed['status']) : undefined;
    const known = state === undefined ? {} : { state };
    if (outcome === 'cancelled') return { outcome: 'cancelled', ...known };
    if (outcome === 'not_cancellable') return { outcome: 'not-cancellable', ...known };
    return { outcome: state === 'cancelled' ? 'cancelled' : 'not-cancellable', ...known };
  }

  /** `runcomfy --version`, for the run record; undefined when it cannot be read. */
  async version(): Promise<string | undefined> {
    const result = await this.#run(
      { file: this.#settings.executable, args: ['--version'] },
      AbortSignal.timeout(CLIENT_CALL_TIMEOUT_MS),
    );
    if (result.kind !== 'exited' || result.exitCode !== 0) return undefined;
    // `runcomfy <semver> (<sha>, <date>)`; the last such line, should a notice precede it.
    const lines = result.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    return lines.findLast((l) => l.startsWith('runcomfy ')) ?? lines.at(-1);
  }

  async #run(invocation: Invocation, signal?: AbortSignal, stdoutFile?: string): Promise<ProcessResult> {
    this.#calls++;
    return runProcess({
      ...(stdoutFile !== undefined && {
        stdoutFile,
        onSpawn: (pid: number) => {
          const startTime = processStartTime(pid);
          try {
            writeFileSync(
              `${stdoutFile}.pid`,
              JSON.stringify({ pid, ...(startTime !== undefined && { startTime }) }),
              { mode: 0o600 },
            );
          } catch {
            // A hint only (a fresh stdout file without it counts as a live submit for a while,
            // src/state/job-store.ts). Thrown, it would abandon a submit already under way
            // (a full disk), and with it the request id this run can still read and record.
          }
        },
      }),
      file: invocation.file,
      args: invocation.args,
      ...(invocation.stdin !== undefined && { input: invocation.stdin }),
      env: this.#settings.env,
      cwd: this.#settings.cwd,
      ...(signal && { signal }),
      stopSignal: 'SIGTERM',
    });
  }

  #failure(result: ProcessResult, phase: ClientPhase, requestId?: string): AttemptFailure | undefined {
    let failure = classifyExit(result, phase);
    if (!failure) return undefined;
    // An exit 1 we cannot place, with a token file the client cannot use: that is why (it fails
    // every call alike, so it stops the run like a missing token).
    if (failure.exitCode === 1 && (failure.reason === 'protocol' || failure.reason === 'unclear-answer')) {
      const broken = brokenTokenFile(this.#settings.env);
      if (broken !== undefined)
        failure = {
          reason: 'unauthorized',
          message: `the runcomfy client cannot use its token file: ${broken} (it said: ${failure.message}); run \`runcomfy login\` again, fix or remove token.json, or set RUNCOMFY_TOKEN`,
          exitCode: 1,
        };
    }
    const stderr = 'stderr' in result ? result.stderr : '';
    const redact = this.#settings.redact;
    return {
      ...failure,
      message: redact(failure.message),
      ...(stderr.trim() !== '' && { stderrTail: redact(tail(stderr)) }),
      ...(requestId !== undefined && { requestId }),
    };
  }
}

/**
 * A bound for client calls that have no attempt deadline of their own (cancel, --version, an
 * error chain): past the client's 60 s API timeout and 10 s connect timeout (contract section
 * 5), so a slow answer that still comes is read rather than reported as a failure.
 */
const CLIENT_CALL_TIMEOUT_MS = 75_000;

/** The `request_id` of a `--no-wait` answer, if `stdout` holds one. */
function requestIdIn(stdout: string): string | undefined {
  const parsed = parseClientPayload(stdout);
  const id = isJsonObject(parsed) ? parsed['request_id'] : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function normaliseState(value: unknown): RemoteState | undefined {
  if (typeof value !== 'string') return undefined;
  switch (value.toLowerCase()) {
    case 'in_queue':
    case 'queued':
      return 'in_queue';
    case 'in_progress':
    case 'running':
      return 'in_progress';
    case 'completed':
    case 'succeeded':
      return 'completed';
    case 'failed':
      return 'failed';
    case 'cancelled':
    case 'canceled':
      return 'cancelled';
    default:
      return undefined;
  }
}
