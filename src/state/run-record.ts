import { join } from 'node:path';
import type { Redactor } from '../policy/redact.js';
import type { Recipe, StageId } from '../recipe/types.js';
import type { RunJournal } from '../run/executor.js';
import type { AttemptRecord, RunStatus, StageResult } from '../run/result.js';
import type { JsonObject, JsonValue } from '../util/json.js';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';

export const RUN_RECORD_VERSION = 1;

/** A job known to exist on the service whose stage has not finished yet. */
interface InFlight {
  readonly stage: StageId;
  readonly item: number | null;
  readonly attempt: number;
  readonly requestId: string;
  readonly submittedAt: string;
  /** A job of an earlier run this one followed, not one it paid for. */
  readonly reattached: boolean;
}

export interface RunRecordHeader {
  readonly runId: string;
  readonly recipe: Recipe;
  /** The recipe path as the user gave it. */
  readonly recipeFile: string;
  readonly version: string;
  readonly clientVersion: string | null;
  readonly options: Readonly<Record<string, unknown>>;
  readonly startedAt: string;
}

/**
 * `outputs/<recipe>/runs/<timestamp>/run.json`: what a run did, rewritten atomically after every
 * submission and every finished stage, so a run that dies keeps what it finished and the ids of
 * the jobs it was following. Everything written passes the redactor: the token never lands here.
 */
export class RunRecord implements RunJournal {
  readonly path: string;
  readonly #header: RunRecordHeader;
  readonly #redact: Redactor;
  readonly #stages = new Map<StageId, StageResult>();
  readonly #inFlight = new Map<string, InFlight>();
  /** Stages that started (their jobs known) and have not finished: their input, and whether they fan out. */
  readonly #started = new Map<StageId, { readonly input: JsonValue; readonly fanOut: boolean }>();
  /** The jobs that are final while their stage is not (items of a fan-out): attempts and results. */
  readonly #settled = new Map<
    StageId,
    {
      attempts: AttemptRecord[];
      results: Map<number | null, { output: JsonValue; files: readonly string[] }>;
    }
  >();
  #status: RunStatus | 'running' = 'running';
  #exitCode: number | null = null;
  #endedAt: string | null = null;
  #submissions = 0;
  /** The write in flight (or last done), and the one queued behind it that new changes join. */
  #current: Promise<void> = Promise.resolve();
  #next: Promise<void> | undefined;

  constructor(runDir: string, header: RunRecordHeader, redact: Redactor) {
    this.path = join(runDir, 'run.json');
    this.#header = header;
    this.#redact = redact;
  }

  async submitted(
    stage: StageId,
    item: number | null,
    attempt: number,
    requestId: string,
    _body: JsonObject,
    followed = false,
  ): Promise<void> {
    this.#inFlight.set(`${stage}/${item ?? ''}`, {
      stage,
      item,
      attempt,
      requestId,
      submittedAt: new Date().toISOString(),
      reattached: followed,
    });
    // Jobs this run paid for: a job followed again (re-attached, files fetched again) is not one.
    if (!followed) this.#submissions++;
    await this.write();
  }

  stageStarted(stage: StageId, input: JsonValue, fanOut: boolean): void {
    this.#started.set(stage, { input, fanOut });
  }

  jobFinished(
    stage: StageId,
    item: number | null,
    attempts: readonly AttemptRecord[],
    result: { readonly output: JsonValue; readonly files: readonly string[] } | undefined,
  ): void {
    this.#inFlight.delete(`${stage}/${item ?? ''}`);
    const settled = this.#settled.get(stage) ?? {
      attempts: [] as AttemptRecord[],
      results: new Map<number | null, { output: JsonValue; files: readonly string[] }>(),
    };
    settled.attempts.push(...attempts);
    if (result) settled.results.set(item, result);
    this.#settled.set(stage, settled);
  }

  async stageFinished(result: StageResult): Promise<void> {
    this.#started.delete(result.stage);
    this.#settled.delete(result.stage);
    this.#stages.set(result.stage, result);
    for (const key of [...this.#inFlight.keys()])
      if (key.startsWith(`${result.stage}/`)) this.#inFlight.delete(key);
    // A stage served from the cache is not work a crash could lose: the job store holds it and
    // the next run serves it again. It joins the next write (a submission, a finished stage, the
    // end) instead of costing one: the executor releases dependents when this resolves, so a
    // 200-stage cached re-run wrote the record once per level of its graph (9 writes, ~30 ms).
    if (result.status === 'cached') return;
    await this.write();
  }

  /**
   * Records how the run ended, once every stage is done: after the writes in flight, and
   * synchronously (nothing else is left to do; see writeFileAtomicSync).
   */
  async finish(status: RunStatus, exitCode: number): Promise<void> {
    this.#status = status;
    this.#exitCode = exitCode;
    this.#endedAt = new Date().toISOString();
    await (this.#next ?? this.#current).catch(() => undefined);
    writeFileAtomicSync(this.path, this.#text(), { mode: 0o600 });
  }

  /**
   * Records the run as interrupted, synchronously: the process is about to exit at once (a
   * second Ctrl-C) and no write in flight will finish. Jobs still in flight stay listed; the job
   * store has their request ids, and the next run re-attaches to them.
   */
  abandon(): void {
    this.#status = 'interrupted';
    this.#exitCode = 130;
    this.#endedAt = new Date().toISOString();
    this.#interruptInFlight();
    writeFileAtomicSync(this.path, this.#text(), { mode: 0o600 });
  }

  /**
   * Writes the record. Writes are serialised (versions never go backwards) and coalesced: calls
   * made while a write is in flight share the one write that follows it, which then holds
   * everything known by then. 200 cached stages finishing at once cost two writes, not 200
   * fsyncs. Job ids are durable in the job store already; this record is the run's account.
   */
  write(): Promise<void> {
    if (this.#next) return this.#next;
    const run = async () => {
      await this.#current.catch(() => undefined);
      this.#next = undefined;
      await writeFileAtomic(this.path, this.#text(), { mode: 0o600 });
    };
    const pending = run();
    this.#next = pending;
    this.#current = pending;
    return pending;
  }

  #text(): string {
    return this.#redact(JSON.stringify(this.#snapshot(), null, 2) + '\n');
  }

  /**
   * Each stage that was running is recorded as interrupted, with what it did so far: the items
   * that finished keep their attempts, outputs and files, and the jobs still on the service are
   * listed (the report, the summary and JUnit then say so, and count them as paid), not as
   * never run.
   */
  #interruptInFlight(): void {
    const now = Date.now();
    const byStage = new Map<StageId, InFlight[]>();
    for (const id of this.#started.keys()) byStage.set(id, []);
    for (const job of this.#inFlight.values())
      byStage.set(job.stage, [...(byStage.get(job.stage) ?? []), job]);
    for (const [stage, jobs] of byStage) {
      const model = this.#header.recipe.stages.get(stage)?.model;
      if (model === undefined || this.#stages.has(stage)) continue;
      const started = this.#started.get(stage);
      const settled = this.#settled.get(stage);
      const ids = jobs.map((j) => j.requestId);
      const message =
        jobs.length === 0
          ? 'the run exited at once while this stage ran (a submit that had not answered yet is looked for by the next run)'
          : `the run exited at once while ${jobs.length === 1 ? 'this job' : 'these jobs'} ran on the service; the next run follows ${jobs.length === 1 ? 'it' : 'them'} up`;
      const attempts: AttemptRecord[] = [
        ...(settled?.attempts ?? []),
        ...jobs.map((j) => ({
          attempt: j.attempt,
          item: j.item,
          requestId: j.requestId,
          reattached: j.reattached,
          startedAt: Date.parse(j.submittedAt),
          endedAt: now,
          outcome: 'failed' as const,
          reason: 'interrupted' as const,
          retryable: true,
          message,
        })),
      ];
      const results =
        settled?.results ?? new Map<number | null, { output: JsonValue; files: readonly string[] }>();
      const items = started?.fanOut && Array.isArray(started.input) ? started.input.length : undefined;
      const order = items === undefined ? [null] : Array.from({ length: items }, (_, i) => i);
      this.#stages.set(stage, {
        stage,
        model,
        input: started?.input ?? null,
        attempts,
        startedAt: attempts.length > 0 ? Math.min(...attempts.map((a) => a.startedAt)) : now,
        endedAt: now,
        status: 'failed',
        failure: {
          reason: 'interrupted',
          message: ids.length > 0 ? `${message} (${ids.join(', ')})` : message,
          retryable: true,
        },
        outputs:
          items === undefined
            ? (results.get(null)?.output ?? null)
            : order.map((i) => results.get(i)?.output ?? null),
        files: order.flatMap((i) => results.get(i)?.files ?? []),
      });
    }
  }

  #snapshot(): Record<string, unknown> {
    const h = this.#header;
    const stages: Record<string, unknown> = {};
    for (const id of h.recipe.stages.keys()) {
      const result = this.#stages.get(id);
      if (result)
        stages[id] = { ...result, stage: undefined, needs: h.recipe.stages.get(id)?.dependsOn ?? [] };
    }
    return {
      schemaVersion: RUN_RECORD_VERSION,
      runId: h.runId,
      faceswapPipe: h.version,
      runcomfy: h.clientVersion,
      recipe: { name: h.recipe.name, file: h.recipeFile, hash: h.recipe.hash },
      options: h.options,
      startedAt: h.startedAt,
      endedAt: this.#endedAt,
      status: this.#status,
      exitCode: this.#exitCode,
      submissions: this.#submissions,
      inFlight: [...this.#inFlight.values()],
      stages,
    };
  }
}

/** A run's folder name: its start time, safe on every file system (`2026-11-28T04-30-12.345Z`). */
export function runFolderName(date: Date): string {
  return date.toISOString().replace(/:/g, '-');
}
