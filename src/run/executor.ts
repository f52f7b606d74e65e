import { outputState } from '../policy/provenance.js';
import { dirname, relative, resolve as resolvePath, sep } from 'node:path';
import type { AttemptFailure, Backend } from '../backends/backend.js';
import type { Catalog } from '../catalog/catalog.js';
import type { ModelInfo } from '../catalog/model.js';
import type { Plan } from '../plan/plan.js';
import type { Recipe, StageId, StageSpec } from '../recipe/types.js';
import type { JsonObject, JsonValue } from '../util/json.js';
import type { RunEvent } from './events.js';
import type { AttemptRecord, RunStatus, SkipReason, StageFailure, StageResult } from './result.js';
import { decideRetry, isTransient, type BackoffSettings } from './retry.js';
import { resolveStageInputs, type StageView } from './stage-input.js';
import type { CacheDecision, CachePlan } from './cache-plan.js';
import { mergeOutputs } from './cache-plan.js';
import { jobKeys } from '../state/cache-key.js';
import { localFileDigests, localFilesChanged } from '../state/local-digest.js';
import type { JobStore } from '../state/job-store.js';
import type { InputPolicy } from '../policy/input-guard.js';
import { writeProblemOf, type WriteProblem } from '../util/write-problem.js';

/** Where the executor reports durable facts; `src/state` implements it. */
export interface RunJournal {
  /** A job exists on the service: record its id before waiting for it (a crash then re-attaches). */
  submitted(
    stage: StageId,
    item: number | null,
    attempt: number,
    requestId: string,
    body: JsonObject,
    /** True when the job was submitted earlier (an earlier attempt or run) and is followed again. */
    followed?: boolean,
  ): Promise<void>;
  /** A stage is final: record it (its files are downloaded and checked by now). */
  stageFinished(result: StageResult): Promise<void>;
  /** A stage's jobs are known (its input resolved): it runs from now on. Not written by itself. */
  stageStarted?(stage: StageId, input: JsonValue, fanOut: boolean): void;
  /** One job is final (an item of a fan-out, say): no longer in flight. Not written by itself. */
  jobFinished?(
    stage: StageId,
    item: number | null,
    attempts: readonly AttemptRecord[],
    result: { readonly output: JsonValue; readonly files: readonly string[] } | undefined,
  ): void;
}

export interface ExecutorOptions {
  readonly recipe: Recipe;
  readonly plan: Plan;
  readonly catalog: Catalog;
  readonly backendFor: (model: ModelInfo) => Backend;
  /** The run's output folder, `outputs/<recipe name>`; stage files are reported relative to it. */
  readonly outDir: string;
  readonly concurrency: number;
  readonly failFast: boolean;
  /** Aborted on Ctrl-C / SIGTERM: stop starting jobs, cancel running ones. */
  readonly signal: AbortSignal;
  readonly backoff: BackoffSettings;
  readonly emit: (event: RunEvent) => void;
  readonly journal: RunJournal;
  /**
   * The cache: what the pre-run pass decided per stage, and the job records (absent with
   * --no-cache: nothing is read or written then).
   */
  readonly cache?: { readonly plan?: CachePlan; readonly store?: JobStore };
  /** URL policy, prompt screen and consent applied to every resolved body before it is sent. */
  readonly inputPolicy?: InputPolicy;
  /**
   * Runs when all of a stage's jobs succeeded, before the stage is recorded and its dependents
   * start (provenance records, embedded disclosure labels). A failure fails the stage.
   */
  readonly beforeRecord?: (
    finished: FinishedStage,
  ) => Promise<{ readonly ok: true } | { readonly ok: false; readonly message: string }>;
  readonly now?: () => number;
}

/**
 * Submit failures after which no job exists: the client answered with the service's refusal
 * (429, a 4xx, a 5xx, a rejected token) or never sent the request. A dropped connection or a
 * timeout is not among them: such a submit may have created a job (contract section 6).
 */
const REFUSED_AT_SUBMIT: ReadonlySet<AttemptFailure['reason']> = new Set([
  'rate-limited',
  'invalid-input',
  'unauthorized',
  'service-unavailable',
  'missing-file',
  'client-error',
  'client-missing',
]);

/** The request id given for a job that has none (a failed item of a fan-out): matches no path. */
const NO_REQUEST = '\u0000no-request';

/** A stage whose jobs all succeeded, as {@link ExecutorOptions.beforeRecord} sees it. */
export interface FinishedStage {
  readonly spec: StageSpec;
  readonly model: ModelInfo;
  readonly input: JsonValue;
  readonly outputs: JsonValue;
  /** Relative to the run's output folder. */
  readonly files: readonly string[];
  readonly requestIds: readonly string[];
  /** Every job came from the cache: its files were recorded by the run that made them. */
  readonly cached: boolean;
}

export interface ExecutionResult {
  readonly status: RunStatus;
  readonly results: ReadonlyMap<StageId, StageResult>;
  /** Jobs submitted (paid) during this run; re-attachments do not count. */
  readonly submissions: number;
  /** A token problem stopped the run. */
  readonly unauthorized: boolean;
  /**
   * A file or folder of the run's own could not be written (the first such problem): the run
   * stopped starting jobs, and left the ones it was following on the service for the next run.
   */
  readonly cannotWrite?: WriteProblem;
  /** Jobs this run stopped following without cancelling them (request ids), after `cannotWrite`. */
  readonly leftOnService: readonly string[];
}

type StopCause = 'interrupted' | 'fail-fast' | 'unauthorized' | 'cannot-write';

interface Job {
  readonly stage: StageState;
  readonly item: number | null;
  readonly body: JsonObject;
  /** The cache key (see src/state/cache-key.ts). */
  readonly key: string;
  /** Its result came from a finished record: no call was made. */
  cached: boolean;
  readonly attempts: AttemptRecord[];
  unavailable: number;
  reattach: string | undefined;
  /** `reattach` comes from the record of an earlier run (resume after a crash), not a retry of this one. */
  resumed?: boolean;
  /** When that record's job was submitted (epoch ms), if the record says. */
  knownSince?: number;
  notBefore: number;
  state: 'waiting' | 'running' | 'succeeded' | 'failed';
  controller?: AbortController;
  /** Aborted when the run stops (Ctrl-C, --fail-fast), not at the attempt's deadline. */
  interrupt?: AbortController;
  result?: { output: JsonObject; files: string[]; requestId: string; warnings?: readonly string[] };
  failure?: AttemptFailure & { retryable: boolean };
}

interface StageState {
  readonly spec: StageSpec;
  readonly model: ModelInfo;
  readonly order: number;
  readonly priority: number;
  unfinishedDeps: number;
  phase: 'pending' | 'active' | 'done';
  jobs: Job[];
  input: JsonValue;
  startedAt: number;
  /** The beforeRecord hook has run (it runs once). */
  hooked: boolean;
  /** Outputs and files of a stage answered wholly from the cache plan. */
  cachedView?: StageView;
}

/**
 * Runs a plan: every stage whose dependencies are done, up to the global and per-model
 * limits, longest remaining chain first; retries with backoff; follows live jobs instead of
 * paying twice; stops cleanly on Ctrl-C. It decides everything and draws nothing: what it does
 * goes out as events.
 */
export class Executor {
  readonly #o: ExecutorOptions;
  readonly #now: () => number;
  readonly #stages = new Map<StageId, StageState>();
  readonly #dependents = new Map<StageId, StageId[]>();
  readonly #results = new Map<StageId, StageResult>();
  readonly #views = new Map<StageId, StageView>();
  readonly #waiting: Job[] = [];
  readonly #running = new Set<Job>();
  /**
   * The first job of this run with each key. Two stages that send the very same request are
   * one job: the second waits while the first runs and then takes its result, instead of
   * paying for a second job whose record would overwrite the first's.
   */
  readonly #byKey = new Map<string, Job>();
  /**
   * Jobs counted against `--concurrency` and the per-model limits: from the start of an attempt
   * until the service says the job ended (the download that follows does not load the service).
   */
  #slots = 0;
  readonly #slotsByModel = new Map<string, number>();
  readonly #blockedUntil = new Map<string, number>();
  #pendingFinishes = 0;
  #submissions = 0;
  #stop: StopCause | undefined;
  #stopDetail = '';
  /** The first file of ours that could not be written; it stops the run (exit 73). */
  #cannotWrite: WriteProblem | undefined;
  /**
   * Attempts stopped from now on leave their remote jobs running instead of cancelling them: the
   * run stops because it cannot write its files, not because anyone asked to stop paying, and
   * the job records let the next run follow them up. Without job records (--no-cache) nothing
   * would, so they are cancelled as at a Ctrl-C.
   */
  #detach = false;
  readonly #leftOnService = new Set<string>();
  #wake: (() => void) | undefined;

  constructor(options: ExecutorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    options.plan.stages.forEach((planned, order) => {
      const spec = options.recipe.stages.get(planned.id)!;
      this.#stages.set(planned.id, {
        spec,
        model: options.catalog.get(planned.model)!,
        order,
        priority: planned.criticalPath,
        unfinishedDeps: spec.dependsOn.length,
        phase: 'pending',
        jobs: [],
        input: null,
        startedAt: 0,
        hooked: false,
      });
      for (const dep of spec.dependsOn)
        (this.#dependents.get(dep) ?? this.#dependents.set(dep, []).get(dep)!).push(planned.id);
    });
  }

  async run(): Promise<ExecutionResult> {
    const onAbort = () => this.#interrupted();
    this.#o.signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.#o.signal.aborted) onAbort();
      for (const stage of this.#stages.values()) {
        if (this.#decision(stage)?.kind === 'not-selected')
          this.#skip(stage, 'not-selected', 'not selected by --only, --from or --until');
      }
      for (const stage of this.#stages.values()) {
        if (stage.unfinishedDeps === 0 && stage.phase === 'pending') this.#activate(stage);
      }
      for (;;) {
        // One reading of the clock decides both which jobs are due and which need a timer. Read
        // twice, a job due in the very millisecond the clock passed in between was neither (not
        // due yet, then no longer in the future): it waited with no timer, and with nothing
        // running nothing woke the loop again.
        const now = this.#now();
        this.#startEligible(now);
        if (
          this.#running.size === 0 &&
          this.#pendingFinishes === 0 &&
          (this.#waiting.length === 0 || this.#stop)
        )
          break;
        await this.#waitForChange(this.#nextTimer(now));
      }
      this.#skipTheRest();
      while (this.#pendingFinishes > 0) await this.#waitForChange(undefined);
      return {
        status:
          this.#stop === 'interrupted'
            ? 'interrupted'
            : [...this.#results.values()].some(
                  (r) => r.status === 'failed' || (r.status === 'skipped' && r.reason !== 'not-selected'),
                )
              ? 'failed'
              : 'succeeded',
        results: this.#results,
        submissions: this.#submissions,
        unauthorized: this.#stop === 'unauthorized',
        ...(this.#cannotWrite && { cannotWrite: this.#cannotWrite }),
        leftOnService: [...this.#leftOnService],
      };
    } finally {
      this.#o.signal.removeEventListener('abort', onAbort);
    }
  }

  /** A stage whose dependencies are done: resolve its inputs and queue its jobs. */
  #activate(stage: StageState): void {
    if (this.#stop) return;
    stage.phase = 'active';
    stage.startedAt = this.#now();
    const decision = this.#decision(stage);
    if (decision?.kind === 'cached') {
      this.#finishCached(stage, decision);
      return;
    }
    const inputs = resolveStageInputs(
      stage.spec,
      stage.model,
      this.#o.recipe.vars,
      this.#views,
      this.#o.inputPolicy,
      { filesBase: this.#o.outDir },
    );
    this.#emit({
      type: 'stage-start',
      stage: stage.spec.id,
      model: stage.model.id,
      jobs: inputs.ok ? inputs.bodies.length : 0,
    });
    if (!inputs.ok) {
      this.#finishStage(stage, {
        reason: inputs.notPermitted ? 'not-permitted' : 'invalid-input',
        message: inputs.message,
        retryable: false,
      });
      return;
    }
    stage.input = inputs.fanOut ? [...inputs.bodies] : inputs.bodies[0]!;
    this.#o.journal.stageStarted?.(stage.spec.id, stage.input, inputs.fanOut);
    const keys = jobKeys(stage.model, inputs.bodies);
    stage.jobs = inputs.bodies.map((body, i) => ({
      stage,
      item: inputs.fanOut ? i : null,
      body,
      key: keys[i]!,
      cached: false,
      attempts: [],
      unavailable: 0,
      reattach: undefined,
      notBefore: 0,
      state: 'waiting' as const,
    }));
    if (stage.jobs.length === 0) {
      this.#finishStage(stage);
      return;
    }
    const store = this.#o.cache?.store;
    if (!store) {
      for (const job of stage.jobs) this.#enqueue(job);
      return;
    }
    this.#pendingFinishes++;
    const bypass = (job: Job) =>
      decision?.kind === 'run' && (decision.bypass || decision.bypassKeys?.has(job.key) === true);
    void Promise.all(stage.jobs.map((job) => this.#resume(job, store, bypass(job))))
      .catch(() => undefined)
      .finally(() => {
        this.#pendingFinishes--;
        for (const job of stage.jobs) {
          if (job.state === 'waiting') this.#enqueue(job);
        }
        if (stage.jobs.every((j) => j.state === 'succeeded'))
          this.#jobSettled(stage.jobs[stage.jobs.length - 1]!);
        this.#signalChange();
      });
  }

  /**
   * What the job records say about a job before it runs: finished (reuse it), submitted or
   * being submitted by a run that died (follow that job instead of paying again), or nothing.
   * With `bypass` (forced, or refreshing expired URLs) finished records are ignored.
   */
  async #resume(job: Job, store: JobStore, bypass: boolean): Promise<void> {
    const { record } = await store.read(job.key);
    if (!record) return;
    switch (record.status) {
      case 'succeeded': {
        if (bypass || localFilesChanged(record.localFiles, this.#o.cache?.plan?.recipeDir)) return;
        // Relative to the output folder, wherever it is now (a moved checkout keeps its cache).
        const files = [...record.files];
        if (
          !files.every((f) => {
            // Unrecorded files are taken as they are here: the plan already chose to fetch
            // them again while that was free.
            const state = outputState(resolvePath(this.#o.outDir, f));
            return state === 'intact' || state === 'unrecorded';
          })
        ) {
          // Its files are gone: fetched again from the job, or (if the service no longer has it) paid anew.
          job.reattach = record.requestId;
          job.resumed = true;
          job.knownSince = Date.parse(record.finishedAt);
          return;
        }
        job.state = 'succeeded';
        job.cached = true;
        job.result = { output: record.output, files, requestId: record.requestId };
        return;
      }
      case 'submitted':
        job.reattach = record.requestId;
        job.resumed = true;
        job.knownSince = Date.parse(record.submittedAt);
        return;
      case 'submitting': {
        const id = await store.pendingRequestId(record);
        if (id !== undefined) {
          job.reattach = id;
          job.resumed = true;
          job.knownSince = Date.parse(record.since);
        }
        return;
      }
    }
  }

  /** A stage every job of which is cached: its results come from the records, nothing runs. */
  #finishCached(stage: StageState, decision: CacheDecision & { kind: 'cached' }): void {
    stage.input = decision.input;
    stage.jobs = decision.records.map((record, i) => ({
      stage,
      item: decision.records.length > 1 || stage.spec.foreach ? i : null,
      body: {},
      key: record.key,
      cached: true,
      attempts: [],
      unavailable: 0,
      reattach: undefined,
      notBefore: 0,
      state: 'succeeded' as const,
      result: { output: record.output, files: [], requestId: record.requestId },
    }));
    stage.cachedView = { outputs: decision.outputs, files: [...decision.files] };
    this.#finishStage(stage);
  }

  #decision(stage: StageState): CacheDecision | undefined {
    return this.#o.cache?.plan?.decisions.get(stage.spec.id);
  }

  #enqueue(job: Job): void {
    job.state = 'waiting';
    this.#waiting.push(job);
    this.#waiting.sort(
      (a, b) =>
        b.stage.priority - a.stage.priority || a.stage.order - b.stage.order || (a.item ?? 0) - (b.item ?? 0),
    );
  }

  #startEligible(now: number): void {
    if (this.#stop) return;
    /** Jobs that take the outcome of a twin: settled after the loop, which may queue more jobs. */
    const adopted: [Job, Job][] = [];
    for (let i = 0; i < this.#waiting.length && this.#slots < this.#o.concurrency;) {
      const job = this.#waiting[i]!;
      const model = job.stage.model.id;
      const eligible =
        job.notBefore <= now &&
        (this.#blockedUntil.get(model) ?? 0) <= now &&
        (this.#slotsByModel.get(slotOf(job.stage.model)) ?? 0) < this.#modelLimit(job.stage.model);
      if (!eligible) {
        i++;
        continue;
      }
      const twin = this.#byKey.get(job.key);
      if (twin !== undefined && twin !== job) {
        if (twin.state !== 'succeeded' && twin.state !== 'failed') {
          i++;
          continue;
        }
        // The very same request: the same outcome, paid once (a failed job is not paid for
        // again without retry_on, and one still alive is not followed by two stages).
        this.#waiting.splice(i, 1);
        adopted.push([job, twin]);
        continue;
      }
      this.#byKey.set(job.key, job);
      this.#waiting.splice(i, 1);
      void this.#runAttempt(job);
    }
    // One at a time: a job is marked settled just before its own turn, so only the last of a
    // stage's jobs sees them all settled and finishes the stage (once).
    for (const [job, twin] of adopted) {
      if (twin.state === 'succeeded') {
        job.state = 'succeeded';
        job.cached = true;
        job.result = twin.result!;
      } else {
        job.state = 'failed';
        job.failure = {
          ...twin.failure!,
          message: `the same request as ${jobLabel(twin.stage.spec.id, twin.item)}, which failed: ${twin.failure!.message}`,
        };
      }
      this.#jobSettled(job);
    }
    if (adopted.length > 0) this.#signalChange();
  }

  #modelLimit(model: ModelInfo): number {
    const limit = this.#o.recipe.concurrencyPerModel;
    const set =
      limit === undefined ? Infinity : typeof limit === 'number' ? limit : (limit[model.id] ?? Infinity);
    // The offline engine swaps on one worker: a second local job would only wait for it, its
    // stage's timeout running meanwhile. Local jobs take turns instead, whatever their model.
    return model.backend === 'local' ? Math.min(set, LOCAL_WORKERS) : set;
  }

  async #runAttempt(job: Job): Promise<void> {
    const { stage } = job;
    const stageId = stage.spec.id;
    const attempt = job.attempts.length + 1;
    const controller = new AbortController();
    let abortReason: 'deadline' | 'interrupted' = 'interrupted';
    const deadlineAt = Date.now() + stage.spec.timeoutMs;
    const deadline = setTimeout(() => {
      abortReason = 'deadline';
      controller.abort();
    }, stage.spec.timeoutMs);
    const interrupt = new AbortController();
    job.state = 'running';
    job.controller = controller;
    job.interrupt = interrupt;
    this.#running.add(job);
    this.#slots++;
    const slot = slotOf(stage.model);
    this.#slotsByModel.set(slot, (this.#slotsByModel.get(slot) ?? 0) + 1);
    const startedAt = this.#now();
    const reattach = job.reattach;
    // The content of the local files an offline engine job reads, as it starts: kept with its
    // record, so a later run whose file changed under the same name does not reuse it.
    const recipeDir = this.#o.cache?.plan?.recipeDir;
    const localFiles =
      stage.model.backend === 'local' && recipeDir !== undefined
        ? localFileDigests(job.body, recipeDir, this.#o.outDir)
        : undefined;
    this.#emit({
      type: 'stage-attempt',
      stage: stageId,
      item: job.item,
      attempt,
      reattach: reattach ?? null,
    });
    let requestId: string | undefined = reattach;
    /** A submit was recorded and its client started: a job may exist before its id is known. */
    let submitting = false;
    try {
      const outcome = await this.#o.backendFor(stage.model).runAttempt(
        {
          model: stage.model,
          input: job.body,
          outputRoot: `${this.#o.outDir}/${stageId}`,
          ...(reattach !== undefined && {
            reattach,
            resumed: job.resumed === true,
            ...(job.resumed === true && job.knownSince !== undefined && !Number.isNaN(job.knownSince)
              ? { knownSince: job.knownSince }
              : {}),
          }),
          signal: controller.signal,
          interruptSignal: interrupt.signal,
          deadline: deadlineAt,
          abortReason: () =>
            abortReason === 'deadline' ? 'deadline' : this.#detach ? 'detach' : 'interrupted',
        },
        {
          beforeSubmit: async () => {
            const store = this.#o.cache?.store;
            const stdoutFile = await store?.submitting(job.key, stage.model.id, jobLabel(stageId, job.item));
            submitting = true;
            return stdoutFile === undefined ? {} : { stdoutFile };
          },
          submitted: async (id) => {
            requestId = id;
            // The job exists and is paid for, whatever the records below manage: it is counted
            // first, and each record is tried even if the other cannot be written (the job
            // record lets the next run follow the job; the run record lists it).
            if (id !== reattach) {
              this.#submissions++;
              this.#emit({ type: 'stage-submitted', stage: stageId, item: job.item, attempt, requestId: id });
            }
            const recorded = await Promise.allSettled([
              this.#o.cache?.store?.submitted(job.key, stage.model.id, jobLabel(stageId, job.item), id),
              this.#o.journal.submitted(stageId, job.item, attempt, id, job.body, id === reattach),
            ]);
            for (const r of recorded) if (r.status === 'rejected') throw r.reason;
          },
          progress: (status) =>
            this.#emit({
              type: 'stage-progress',
              stage: stageId,
              item: job.item,
              state: status.state,
              queuePosition: status.queuePosition ?? null,
            }),
        },
      );
      const endedAt = this.#now();
      // A job followed from before, unless the service no longer knew it and a new one was submitted.
      const reattached = reattach !== undefined && requestId === reattach;
      const base = { attempt, item: job.item, reattached, startedAt, endedAt };
      if (outcome.kind === 'succeeded') {
        // The record is written only now, after the files are downloaded and checked.
        await this.#o.cache?.store?.succeeded(job.key, stage.model.id, jobLabel(stageId, job.item), {
          requestId: outcome.requestId,
          output: outcome.output,
          files: outcome.files,
          outRoot: this.#o.outDir,
          ...(localFiles && { localFiles }),
        });
        job.attempts.push({ ...base, requestId: outcome.requestId, outcome: 'succeeded' });
        job.state = 'succeeded';
        const warnings = [
          ...(outcome.warnings ?? []),
          ...batchCountWarning(stage.spec, job.item, outcome.output),
        ];
        job.result = {
          output: outcome.output,
          files: outcome.files.map((f) => relative(this.#o.outDir, f)),
          requestId: outcome.requestId,
          ...(warnings.length > 0 && { warnings }),
        };
      } else {
        // A submit the service refused outright created no job: nothing to follow or show.
        if (requestId === undefined && REFUSED_AT_SUBMIT.has(outcome.failure.reason))
          await this.#o.cache?.store?.submitRefused(job.key);
        this.#attemptFailed(job, outcome.failure, base, requestId);
      }
    } catch (cause) {
      // A backend must return failures as values; anything thrown is a bug, kept as data for
      // the record, or a file of ours that could not be written, which stops the run.
      const problem = this.#ourWriteProblem(cause);
      if (problem) this.#cannotWriteStop(problem);
      this.#attemptFailed(
        job,
        problem
          ? {
              reason: 'cannot-write',
              message:
                problem.reason +
                (requestId !== undefined
                  ? this.#o.cache?.store
                    ? `; job ${requestId} is left on the service, and the next run follows it up`
                    : `; job ${requestId} may still run on the service (with --no-cache no record lets a later run follow it)`
                  : submitting
                    ? '; the submit may have created a job whose request id could not be read'
                    : ''),
            }
          : { reason: 'protocol', message: `internal error in the backend: ${(cause as Error).message}` },
        {
          attempt,
          item: job.item,
          reattached: reattach !== undefined && requestId === reattach,
          startedAt,
          endedAt: this.#now(),
        },
        requestId,
      );
    } finally {
      clearTimeout(deadline);
      this.#running.delete(job);
      // The slot is held for the whole attempt: submit, waiting, and fetching the result.
      // Counting a job only until the service said it ended let the next submission overlap
      // this one's result call, which an invocation log shows as one job more than allowed.
      this.#slots--;
      this.#slotsByModel.set(slot, (this.#slotsByModel.get(slot) ?? 1) - 1);
      this.#signalChange();
      job.controller = undefined;
      job.interrupt = undefined;
    }
    const settled = job.state as Job['state'];
    if (settled === 'succeeded' || settled === 'failed') this.#jobSettled(job);
    this.#signalChange();
  }

  #attemptFailed(
    job: Job,
    failure: AttemptFailure,
    base: Omit<AttemptRecord, 'requestId' | 'outcome'>,
    requestId: string | undefined,
  ): void {
    const stageId = job.stage.spec.id;
    if (failure.reason === 'service-unavailable') job.unavailable++;
    const decision =
      this.#stop === undefined
        ? decideRetry(
            failure,
            job.attempts.length + 1,
            {
              retries: job.stage.spec.retries,
              retryOn: job.stage.spec.retryOn,
              unavailableSoFar: job.unavailable,
            },
            this.#o.backoff,
          )
        : ({ retry: false, retryable: false } as const);
    job.attempts.push({
      ...base,
      requestId: failure.requestId ?? requestId ?? null,
      outcome: 'failed',
      reason: failure.reason,
      retryable: decision.retry || decision.retryable,
      message: failure.message,
      ...(failure.exitCode !== undefined && { exitCode: failure.exitCode }),
      ...(failure.stderrTail !== undefined && { stderrTail: failure.stderrTail }),
    });
    if (failure.reason === 'unauthorized')
      this.#halt('unauthorized', `stage "${stageId}": ${failure.message}`);
    if (decision.retry) {
      job.reattach = decision.reattach;
      job.resumed = false;
      job.notBefore = this.#now() + decision.delayMs;
      if (failure.reason === 'rate-limited') {
        // The whole model backs off, not only this job: its other submissions would hit the same limit.
        const model = job.stage.model.id;
        this.#blockedUntil.set(model, Math.max(this.#blockedUntil.get(model) ?? 0, job.notBefore));
      }
      this.#emit({
        type: 'stage-retry',
        stage: stageId,
        item: job.item,
        attempt: base.attempt,
        reason: failure.reason,
        message: failure.message,
        exitCode: failure.exitCode ?? null,
        delayMs: decision.delayMs,
        reattach: decision.reattach ?? null,
      });
      this.#enqueue(job);
      return;
    }
    job.state = 'failed';
    job.failure = { ...failure, retryable: decision.retryable && isTransient(failure.reason) };
    const id = failure.requestId ?? requestId;
    if (this.#detach && id !== undefined && failure.jobAlive !== false) this.#leftOnService.add(id);
    const store = this.#o.cache?.store;
    if (
      store &&
      (failure.reason === 'job-failed' || failure.reason === 'job-cancelled' || failure.jobAlive === false)
    ) {
      // The service ended this job (or we cancelled it: a deadline, Ctrl-C, --fail-fast): a later
      // run submits it again rather than following a job that will never finish.
      this.#pendingFinishes++;
      void store
        .forget(job.key)
        .catch(() => undefined)
        .finally(() => {
          this.#pendingFinishes--;
          this.#signalChange();
        });
    }
  }

  /** One job is final; when it is its stage's last, the stage is. */
  #jobSettled(job: Job): void {
    const stage = job.stage;
    this.#o.journal.jobFinished?.(
      stage.spec.id,
      job.item,
      job.attempts,
      job.result && { output: job.result.output, files: job.result.files },
    );
    if (job.item !== null) {
      const done = stage.jobs.filter((j) => j.state === 'succeeded' || j.state === 'failed').length;
      const failed = stage.jobs.filter((j) => j.state === 'failed').length;
      this.#emit({
        type: 'item-finished',
        stage: stage.spec.id,
        item: job.item,
        ok: job.state === 'succeeded',
        done,
        total: stage.jobs.length,
        failed,
      });
    }
    if (stage.jobs.every((j) => j.state === 'succeeded' || j.state === 'failed')) {
      const failedJobs = stage.jobs.filter((j) => j.state === 'failed');
      if (failedJobs.length === 0) this.#finishStage(stage);
      else {
        const first = failedJobs[0]!.failure!;
        const fanOut = job.item !== null;
        this.#finishStage(stage, {
          reason: first.reason,
          message: fanOut
            ? `${failedJobs.length} of ${stage.jobs.length} items failed; item ${failedJobs[0]!.item}: ${first.message}`
            : first.message,
          retryable: failedJobs.every((j) => j.failure!.retryable),
          ...(first.exitCode !== undefined && { exitCode: first.exitCode }),
          ...(first.stderrTail !== undefined && { stderrTail: first.stderrTail }),
          ...(fanOut && { items: failedJobs.map((j) => j.item!) }),
        });
      }
    }
  }

  #finishStage(stage: StageState, failure?: StageFailure): void {
    const hook = this.#o.beforeRecord;
    // A fan-out stage that failed keeps the files of the items that succeeded: they are
    // labelled and recorded like any other output before the stage is recorded as failed.
    const someSucceeded = stage.jobs.some((j) => j.result !== undefined);
    if (hook && !stage.hooked && stage.jobs.length > 0 && (!failure || someSucceeded)) {
      stage.hooked = true;
      this.#pendingFinishes++;
      const merged = this.#merged(stage);
      void hook({
        spec: stage.spec,
        model: stage.model,
        input: stage.input,
        ...merged,
        // One per job, in job order; a failed item has none (and no files).
        requestIds: stage.jobs.map((j) => j.result?.requestId ?? NO_REQUEST),
        cached: stage.jobs.every((j) => j.cached),
      })
        .then(
          (r) =>
            r.ok
              ? undefined
              : { reason: 'postprocess-failed' as const, message: r.message, retryable: false },
          (cause: unknown) => {
            const problem = this.#ourWriteProblem(cause);
            if (problem) this.#cannotWriteStop(problem);
            return {
              reason: problem ? ('cannot-write' as const) : ('postprocess-failed' as const),
              message: problem?.reason ?? (cause as Error).message,
              retryable: false,
            };
          },
        )
        .then((hookFailure) => this.#finishStage(stage, failure ?? hookFailure))
        .finally(() => {
          this.#pendingFinishes--;
          this.#signalChange();
        });
      return;
    }
    stage.phase = 'done';
    const id = stage.spec.id;
    const { outputs, files } = this.#merged(stage);
    const attempts = stage.jobs.flatMap((j) => j.attempts).sort((a, b) => a.startedAt - b.startedAt);
    const endedAt = this.#now();
    // A stage's time is its work: from its first attempt, not from when it became ready (a
    // stage of a wide run may wait long for a --concurrency slot). Every report uses this.
    const startedAt = attempts[0]?.startedAt ?? stage.startedAt;
    const base = { stage: id, model: stage.model.id, input: stage.input, attempts, startedAt, endedAt };
    let result: StageResult;
    if (failure) {
      result = { ...base, status: 'failed', failure, outputs, files };
      this.#emit({
        type: 'stage-failed',
        stage: id,
        reason: failure.reason,
        message: failure.message,
        attempts: attempts.length,
        durationMs: endedAt - startedAt,
        exitCode: failure.exitCode ?? null,
        stderrTail: failure.stderrTail ?? null,
      });
      if (this.#o.failFast && failure.reason !== 'interrupted')
        this.#halt('fail-fast', `stage "${id}" failed and --fail-fast is set`);
    } else {
      const requestIds = stage.jobs.map((j) => j.result!.requestId);
      const cached = stage.jobs.length > 0 && stage.jobs.every((j) => j.cached);
      result = { ...base, status: cached ? 'cached' : 'succeeded', outputs, files, requestIds };
      this.#views.set(id, { outputs, files });
      const warnings = stage.jobs.flatMap((j) => (j.cached ? [] : (j.result!.warnings ?? [])));
      this.#emit({
        type: 'stage-succeeded',
        stage: id,
        cached,
        attempts: attempts.length,
        durationMs: endedAt - startedAt,
        outputs,
        files,
        ...(warnings.length > 0 && { warnings }),
      });
    }
    this.#results.set(id, result);
    this.#pendingFinishes++;
    void this.#o.journal
      .stageFinished(result)
      .catch((cause: unknown) => this.#journalFailed(cause))
      .finally(() => {
        this.#pendingFinishes--;
        if (result.status === 'succeeded' || result.status === 'cached') this.#releaseDependents(id);
        else this.#skipDownstream(id);
        this.#signalChange();
      });
  }

  /** A stage's outputs and files as later stages see them. */
  #merged(stage: StageState): { outputs: JsonValue; files: string[] } {
    if (stage.cachedView) return { outputs: stage.cachedView.outputs, files: [...stage.cachedView.files] };
    const fanOut = stage.jobs.some((j) => j.item !== null) || stage.spec.foreach !== undefined;
    return {
      // A merged batch is in scene order only when every chunk succeeded; otherwise keep the
      // per-chunk outputs (null for the failed ones) so nothing shifts.
      outputs: mergeOutputs(
        fanOut,
        stage.jobs.every((j) => j.result) ? stage.spec.merge : undefined,
        stage.jobs.map((j) => j.result?.output ?? null),
      ),
      files: stage.jobs.flatMap((j) => j.result?.files ?? []),
    };
  }

  #releaseDependents(id: StageId): void {
    for (const next of this.#dependents.get(id) ?? []) {
      const stage = this.#stages.get(next)!;
      stage.unfinishedDeps--;
      if (stage.unfinishedDeps === 0 && stage.phase === 'pending') this.#activate(stage);
    }
  }

  #skipDownstream(failed: StageId): void {
    const queue = [...(this.#dependents.get(failed) ?? [])];
    while (queue.length > 0) {
      const id = queue.shift()!;
      const stage = this.#stages.get(id)!;
      if (stage.phase !== 'pending') continue;
      const upstream = this.#results.get(failed);
      const stopped =
        upstream?.status === 'skipped' ||
        (upstream?.status === 'failed' && upstream.failure.reason === 'interrupted');
      if (this.#stop && stopped) this.#skip(stage, this.#stop, this.#stopDetail);
      else {
        const what = upstream?.status === 'skipped' ? 'was skipped' : 'failed';
        this.#skip(stage, 'dependency-failed', `needs stage "${failed}", which ${what}`);
      }
      queue.push(...(this.#dependents.get(id) ?? []));
    }
  }

  #skip(stage: StageState, reason: SkipReason, message: string): void {
    stage.phase = 'done';
    const now = this.#now();
    const result: StageResult = {
      stage: stage.spec.id,
      model: stage.model.id,
      input: null,
      attempts: [],
      startedAt: now,
      endedAt: now,
      status: 'skipped',
      reason,
      message,
    };
    this.#results.set(stage.spec.id, result);
    this.#emit({ type: 'stage-skipped', stage: stage.spec.id, reason, message });
    this.#pendingFinishes++;
    void this.#o.journal
      .stageFinished(result)
      .catch((cause: unknown) => this.#journalFailed(cause))
      .finally(() => {
        this.#pendingFinishes--;
        this.#signalChange();
      });
  }

  /**
   * A {@link WriteProblem} about a file or folder of this run's own: under its output folder or
   * its state folder (or naming none: a full disk). A file the run only reads (a local input the
   * engine cannot open) is not one: that fails its stage, it does not stop the run as exit 73.
   */
  #ourWriteProblem(cause: unknown): WriteProblem | undefined {
    const problem = writeProblemOf(cause);
    if (problem?.path === undefined) return problem;
    const store = this.#o.cache?.store;
    const roots = [this.#o.outDir, ...(store ? [dirname(store.dir)] : [])].map((r) => resolvePath(r));
    const path = resolvePath(problem.path);
    return roots.some((root) => path === root || path.startsWith(root + sep)) ? problem : undefined;
  }

  /**
   * The run record could not be written after a stage. The job records are what resumes a run,
   * so this costs no money, but an output folder that refuses files will refuse the next
   * stage's too: a file of ours that cannot be written stops the run. Anything else is left to
   * the record's final write.
   */
  #journalFailed(cause: unknown): void {
    const problem = this.#ourWriteProblem(cause);
    if (problem) this.#cannotWriteStop(problem);
  }

  /**
   * A file of ours cannot be written: no job starts from now on, and the jobs being followed
   * are left on the service for the next run (see {@link #detach}). The first problem is the
   * one reported.
   */
  #cannotWriteStop(problem: WriteProblem): void {
    if (this.#cannotWrite) return;
    this.#cannotWrite = problem;
    if (this.#stop !== 'interrupted') this.#detach = this.#o.cache?.store !== undefined;
    this.#halt('cannot-write', `the run stopped: ${problem.reason}`);
  }

  /** Ctrl-C: jobs stopped from now on are cancelled, as the user asked, even after a cannot-write stop. */
  #interrupted(): void {
    this.#detach = false;
    this.#halt('interrupted', 'the run was interrupted');
  }

  /** Stops starting work. Running attempts are stopped too, except after a token problem (they may still succeed). */
  #halt(cause: StopCause, detail: string): void {
    if (this.#stop === 'interrupted') return;
    if (this.#stop === undefined || cause === 'interrupted') {
      this.#stop = cause;
      this.#stopDetail = detail;
    }
    if (cause !== 'unauthorized')
      for (const job of this.#running) {
        job.controller?.abort();
        job.interrupt?.abort();
      }
    this.#signalChange();
  }

  /** After the loop: whatever never ran is skipped, with the reason the run stopped. */
  #skipTheRest(): void {
    for (const job of this.#waiting.splice(0)) {
      if (job.state !== 'waiting') continue;
      // Waiting to follow its job again (a retry): it stays on the service, and in its record.
      if (this.#detach && job.reattach !== undefined) this.#leftOnService.add(job.reattach);
      job.state = 'failed';
      const last = job.attempts[job.attempts.length - 1];
      job.failure = {
        reason: 'interrupted',
        message: `${this.#stopDetail}${last?.message ? `; last attempt: ${last.message}` : ''}`,
        retryable: false,
      };
    }
    for (const stage of [...this.#stages.values()].sort((a, b) => a.order - b.order)) {
      if (
        stage.phase === 'active' &&
        stage.jobs.every((j) => j.state === 'succeeded' || j.state === 'failed')
      ) {
        const failed = stage.jobs.filter((j) => j.state === 'failed');
        if (failed.length > 0 && !this.#results.has(stage.spec.id)) {
          this.#finishStage(stage, {
            reason: 'interrupted',
            message: failed[0]!.failure!.message,
            retryable: false,
          });
        }
      }
      if (stage.phase === 'pending') {
        const reason: SkipReason = this.#stop ?? 'dependency-failed';
        this.#skip(stage, reason, this.#stopDetail || 'not run');
      }
    }
  }

  /**
   * How long until the first waiting job that was not yet due at `now` (the time
   * {@link #startEligible} went by) is due; 0 if that time has passed since.
   */
  #nextTimer(now: number): number | undefined {
    if (this.#stop) return undefined;
    let next = Infinity;
    for (const job of this.#waiting) {
      const at = Math.max(job.notBefore, this.#blockedUntil.get(job.stage.model.id) ?? 0);
      if (at > now) next = Math.min(next, at);
    }
    return next === Infinity ? undefined : Math.max(0, next - this.#now());
  }

  #waitForChange(timeoutMs: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(resolve, timeoutMs);
      this.#wake = () => {
        if (timer) clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  #signalChange(): void {
    this.#wake?.();
  }

  #emit(event: DistributiveOmit<RunEvent, 'time'>): void {
    this.#o.emit({ ...event, time: new Date(this.#now()).toISOString() });
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/**
 * A routed batch call that did not return one image per scene it was sent: its stage's merged
 * `images[i]` is scene i only when every call does (the brief's batch route; the contract leaves
 * the count to the model, `number_of_images` defaulting to 1). Said, not failed: the job is paid
 * for and its images are real.
 */
function batchCountWarning(spec: StageSpec, item: number | null, output: JsonObject): string[] {
  const layout = spec.route?.layout;
  const images = output['images'];
  if (!layout || !Array.isArray(images)) return [];
  const scenes = spec.route?.sceneCount;
  // One call per scene (a scene list known only at run time, or a route that takes one scene
  // per call): each is sent one scene, and their images are merged in scene order too.
  const perScene = layout.kind === 'per-scene' && item !== null && scenes !== 1;
  const sent =
    layout.kind === 'chunks'
      ? item === null
        ? undefined
        : layout.chunks[item]?.length
      : layout.kind === 'single' && item === null
        ? scenes
        : perScene
          ? 1
          : undefined;
  if (sent === undefined || (sent <= 1 && !perScene) || images.length === sent) return [];
  const call =
    layout.kind === 'chunks'
      ? `call ${item! + 1} of ${layout.chunks.length}`
      : perScene
        ? `the call for scene ${item + 1}${scenes === undefined ? '' : ` of ${scenes}`}`
        : 'the call';
  return [
    `${call} was sent ${sent} scene${sent === 1 ? '' : 's'} and returned ${images.length} image${images.length === 1 ? '' : 's'}: stages.${spec.id}.outputs.images[i] is no longer scene i from this call on; check the model's output before using its images by index`,
  ];
}

/** Jobs of the offline engine at once: it has one worker thread. */
const LOCAL_WORKERS = 1;

/** What a job's slot is counted against: its model, or the one offline engine for local models. */
function slotOf(model: ModelInfo): string {
  return model.backend === 'local' ? 'local/*' : model.id;
}

/** `face` or `gallery[3]`: how job records name the job that wrote them. */
function jobLabel(stage: StageId, item: number | null): string {
  return item === null ? stage : `${stage}[${item}]`;
}
