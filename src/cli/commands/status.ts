import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Plan } from '../../plan/plan.js';
import { makeRedactor } from '../../policy/redact.js';
import type { StageId } from '../../recipe/types.js';
import { buildPlan } from '../../plan/plan.js';
import { planCache, whyJobsRun, type CacheDecision } from '../../run/cache-plan.js';
import { resolveStageInputs, type StageView } from '../../run/stage-input.js';
import type { Catalog } from '../../catalog/catalog.js';
import { inFlightJobs } from '../../run/in-flight.js';
import { JobStore } from '../../state/job-store.js';
import { isStale, readOwner } from '../../state/lock.js';
import { recipeOutDir, recipeStateDir, RUNS_FOLDER } from '../../state/paths.js';
import { readRunDataSync, type RecordedStage, type RunRecordFile } from '../../report/html/run-data.js';
import { canonicalJson, type JsonValue } from '../../util/json.js';
import { unreachable } from '../../util/unreachable.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import type { RecipeOptions } from '../options.js';
import { analyzeForCommand } from '../analyze-for-command.js';
import { refuseOverlappingFolders } from '../state-folders.js';

export interface StatusOptions extends RecipeOptions {
  readonly format: 'text' | 'json';
  readonly out: string;
  readonly stateDir?: string;
}

/** One stage's state as `status` shows it. */
interface StageStatus {
  readonly stage: StageId;
  readonly model: string;
  readonly state: 'done' | 'stale' | 'running' | 'failed' | 'never-run';
  readonly detail: string;
  readonly requestIds: readonly string[];
  /** Jobs a run would submit or follow for this stage (0 when done). */
  readonly wouldCall: number | null;
}

/**
 * `faceswap-pipe status <recipe>`: per stage, done (cached), stale (cached, URLs past
 * url_ttl), running (a job recorded as submitted, with its id), failed (in the last run, which
 * the newest run record in the output folder tells), or never run; the jobs in
 * flight no stage asks for any more (no run follows them); and what a run would call. Reads
 * the state folder; changes nothing and calls nothing.
 */
export async function statusCommand(file: string, options: StatusOptions, io: CliIo): Promise<number> {
  const loaded = await analyzeForCommand(file, options, io, { localFiles: 'warn' });
  if ('exit' in loaded) return loaded.exit;
  const { recipe, catalog } = loaded;
  const plan = buildPlan(recipe, catalog);
  const stateDir = recipeStateDir({
    cwd: io.cwd,
    recipeFile: file,
    recipeName: recipe.name,
    ...(options.stateDir !== undefined && { stateDir: options.stateDir }),
  });
  const outDir = recipeOutDir({ cwd: io.cwd, out: options.out, recipeName: recipe.name });
  const overlap = refuseOverlappingFolders(stateDir, outDir, io);
  if (overlap !== undefined) return overlap;
  const store = new JobStore(stateDir, makeRedactor(io.env));
  const cache = await planCache(
    plan,
    catalog,
    store,
    {
      enabled: true,
      force: new Set(),
      urlTtlMs: recipe.cacheUrlTtlMs,
      recipeDir: dirname(resolve(io.cwd, file)),
      now: Date.now(),
    },
    outDir,
  );
  const stages: StageStatus[] = [];
  // Read once, and only if some stage is to run: which stages finished before under any input.
  let labels: Promise<Set<string>> | undefined;
  const finished = () => (labels ??= store.finishedLabels());
  // A failed job's record is dropped (the next run submits it again): the run records in the
  // output folder are what still know that a stage failed, with which input, and why.
  const history = new RunHistory(outDir, makeRedactor(io.env));
  for (const stage of plan.stages)
    stages.push(
      await stageStatus(plan, stage.id, cache.decisions, store, catalog, outDir, finished, history),
    );
  // Jobs of an earlier version of the recipe: no stage follows them, so the table has no row for them.
  const { orphaned } = await inFlightJobs(store, () => Promise.resolve({ plan, catalog, cache }));
  const lockPath = join(stateDir, 'lock');
  const owner = await readOwner(lockPath);
  const activeRun = owner && !(await isStale(owner, lockPath)) ? owner : undefined;
  const toCall = stages.filter((s) => s.wouldCall !== 0);

  if (options.format === 'json') {
    io.stdout.write(
      JSON.stringify(
        {
          recipe: recipe.name,
          file,
          stateDir,
          activeRun: activeRun ?? null,
          problems: cache.problems,
          stages,
          orphaned: orphaned.map((j) => ({ stage: j.stage, requestId: j.requestId ?? null })),
          wouldCall: toCall.map((s) => ({ stage: s.stage, jobs: s.wouldCall })),
        },
        null,
        2,
      ) + '\n',
    );
    return ExitCode.ok;
  }
  for (const problem of cache.problems) io.stderr.write(`faceswap-pipe: warning: ${problem}\n`);
  let out = `${recipe.name} (${file}); state: ${relative(io.cwd, stateDir) || stateDir}\n`;
  if (activeRun) out += `a run is in progress: pid ${activeRun.pid} since ${activeRun.since}\n`;
  const rows = stages.map((s) => [s.stage, s.model, s.state, s.detail]);
  const header = ['stage', 'model', 'state', 'detail'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  out +=
    '\n' +
    [header, ...rows]
      .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  '))
      .join('\n') +
    '\n\n';
  if (orphaned.length > 0) {
    const width = Math.max(...orphaned.map((j) => j.stage.length));
    out +=
      'jobs in flight that no stage asks for any more (submitted for an earlier version of the recipe, or with other --set values):\n' +
      orphaned
        .map((j) => `  ${j.stage.padEnd(width)}  ${j.requestId ?? '(submit not answered yet)'}\n`)
        .join('') +
      'only a run with the --set values they were submitted with follows them up; they may still be running, and billing, on the service: runcomfy cancel <request id> stops one\n\n';
  }
  if (toCall.length === 0) {
    // No new job; a stage may still be followed up (in flight) or have its files fetched again.
    // Stages that run with no new job: local ones make their files again, hosted ones follow
    // jobs of earlier runs or fetch their files again. A cached stage with old URLs does neither.
    const runs = (s: StageStatus) => cache.decisions.get(s.stage)?.kind === 'run';
    const local = (s: StageStatus) => catalog.get(s.model)?.backend === 'local';
    const remade = stages.some((s) => runs(s) && local(s));
    const followed = stages.some((s) => runs(s) && !local(s));
    const why = stages.some((s) => s.state === 'never-run')
      ? 'no stage has a job to submit'
      : !remade && !followed
        ? 'every stage is cached'
        : [
            ...(remade ? ['the offline engine makes missing files again'] : []),
            ...(followed ? ['jobs of earlier runs are followed up, or their files fetched again'] : []),
          ].join('; ');
    out += `a run would call nothing: ${why}\n`;
  } else {
    const jobs = toCall.map(
      (s) =>
        `${s.stage} (${s.wouldCall === null ? 'jobs known at run time' : `${s.wouldCall} job${s.wouldCall === 1 ? '' : 's'}`})`,
    );
    out += `a run would call: ${jobs.join(', ')}\n`;
  }
  io.stdout.write(out);
  return ExitCode.ok;
}

async function stageStatus(
  plan: Plan,
  id: StageId,
  decisions: ReadonlyMap<StageId, CacheDecision>,
  store: JobStore,
  catalog: Catalog,
  outDir: string,
  finished: () => Promise<ReadonlySet<string>>,
  history: RunHistory,
): Promise<StageStatus> {
  const decision = decisions.get(id)!;
  const planned = plan.stages.find((s) => s.id === id)!;
  const base = { stage: id, model: planned.model as string };
  switch (decision.kind) {
    case 'cached': {
      const when = utcMinute(Math.min(...decision.records.map((r) => Date.parse(r.finishedAt))));
      const files = decision.files.length;
      return {
        ...base,
        state: decision.stale ? 'stale' : 'done',
        detail: `${decision.stale ? 'cached URLs older than cache.url_ttl; ' : ''}finished ${when} UTC, ${files} file${files === 1 ? '' : 's'}`,
        requestIds: decision.records.map((r) => r.requestId),
        wouldCall: 0,
      };
    }
    case 'run': {
      // Jobs recorded as submitted belong to a run that is still going or was killed: a run follows them.
      const spec = plan.recipe.stages.get(id)!;
      const model = catalog.get(planned.model)!;
      const views = new Map<StageId, StageView>();
      for (const [stage, d] of decisions)
        if (d.kind === 'cached') views.set(stage, { outputs: d.outputs, files: d.files });
      const inputs = resolveStageInputs(spec, model, plan.recipe.vars, views, undefined, {
        filesBase: outDir,
      });
      const running: string[] = [];
      // Items of a fan-out that finished in an earlier run are not called again, and jobs of
      // an earlier run are followed, not paid for again: only new submissions count.
      let toRun = 0;
      if (inputs.ok && decision.jobs) {
        for (const job of decision.jobs) {
          if (job.kind === 'submit') toRun++;
          else if (job.kind === 'follow' && job.why === 'in-flight')
            running.push(job.requestId ?? '(submitting)');
        }
      } else if (inputs.ok) toRun = inputs.bodies.length;
      const wouldCall = inputs.ok ? toRun : (planned.calls ?? null);
      if (running.length > 0)
        return {
          ...base,
          state: 'running',
          detail: `submitted: ${running.join(', ')}`,
          requestIds: running,
          wouldCall,
        };
      // Finished before, but not with this input (or its URLs expired): stale, not never run.
      const labels = await finished();
      const ranBefore =
        decision.bypass ||
        (decision.jobs?.some((j) => j.kind === 'follow' && j.why === 'files-missing') ?? false) ||
        someLabel(labels, jobLabelsOf(id));
      // The last run that tried this stage failed it, with the very input it has now: failed,
      // not never run. (A fan-out with items cached says which items below; a failure of an
      // earlier input, or a stage the user stopped, is not this input's.)
      // A stage whose input could not be made (a missing upstream value, a consent refusal)
      // failed before any body existed: it still fails when its input still cannot be made
      // from the same cached upstream results.
      const cachedItems = decision.jobs?.some((j) => j.kind === 'cached') ?? false;
      const tried = cachedItems ? undefined : history.lastTry(id);
      const failure =
        tried?.result.status === 'failed' && tried.result.failure.reason !== 'interrupted'
          ? tried.result.failure
          : undefined;
      const upstreamCached = spec.dependsOn.every((d) => views.has(d));
      const same =
        failure !== undefined &&
        (inputs.ok
          ? history.sameInput(tried!.result.input, inputs.fanOut ? inputs.bodies : inputs.bodies[0]!)
          : upstreamCached &&
            tried!.result.input === null &&
            (failure.reason === 'invalid-input' || failure.reason === 'not-permitted'));
      if (failure && same)
        return {
          ...base,
          state: 'failed',
          detail: `failed in the last run that tried it (${utcMinute(tried!.startedAt)} UTC): ${failure.message.split('\n')[0]}`,
          requestIds: [],
          wouldCall,
        };
      // With the jobs known, each new one is told apart: its item finished before (so its input
      // changed) or never did (it failed, was cancelled, or never ran). Otherwise an upstream
      // stage runs, or the records were not consulted.
      let detail = decision.why;
      if (inputs.ok && decision.jobs) {
        const label = (item: number) => (inputs.fanOut ? `${id}[${item}]` : id);
        const fresh = decision.jobs.flatMap((j, item) => (j.kind === 'submit' && !j.why ? [item] : []));
        const changed = fresh.filter((item) => labels.has(label(item))).length;
        if (fresh.length > 0)
          detail = whyJobsRun(
            decision.jobs,
            model.backend === 'local',
            newJobWords(changed, fresh.length - changed, decision.jobs.length),
          );
      } else if (ranBefore && !decision.bypass)
        detail = `its input changed since it last ran (${decision.why})`;
      return {
        ...base,
        state: ranBefore ? 'stale' : 'never-run',
        detail,
        requestIds: [],
        wouldCall,
      };
    }
    case 'unavailable':
    case 'not-selected':
      return { ...base, state: 'never-run', detail: 'not selected', requestIds: [], wouldCall: 0 };
    default:
      return unreachable(decision);
  }
}

/**
 * What a stage's new jobs are for: items that finished before under another input (`changed`)
 * and items that never finished under any (`unfinished`: failed, cancelled, killed, or new), of
 * `total`. Undefined where the cache plan's words say it already (no item finished before).
 */
function newJobWords(changed: number, unfinished: number, total: number): string | undefined {
  if (changed === total) return 'its input changed since it last ran';
  const words = [
    ...(changed > 0 ? [`the input of ${changed} of ${total} items changed since they last ran`] : []),
    ...(unfinished > 0 && unfinished < total
      ? [`${unfinished} of ${total} items failed or never finished`]
      : []),
  ];
  return words.length > 0 ? words.join('; ') : undefined;
}

/** The labels a stage's job records carry: `face`, or `face[3]` for an item of a fan-out. */
function jobLabelsOf(stage: StageId): (label: string) => boolean {
  return (label) => label === stage || (label.startsWith(`${stage}[`) && label.endsWith(']'));
}

function someLabel(labels: ReadonlySet<string>, matches: (label: string) => boolean): boolean {
  for (const label of labels) if (matches(label)) return true;
  return false;
}

/** `2026-11-30 07:44`: a time as status shows it (UTC). */
function utcMinute(time: string | number): string {
  return new Date(time).toISOString().replace('T', ' ').slice(0, 16);
}

/**
 * The run records in a recipe's output folder, newest first (folders are named by their start
 * time), read on demand. A torn or unreadable record (a run killed before writing it) is passed
 * over; only the newest {@link MAX_RUNS_READ} folders are looked at.
 */
class RunHistory {
  readonly #runs: string;
  readonly #redact: (text: string) => string;
  #names: string[] | undefined;
  readonly #records: (RunRecordFile | undefined)[] = [];

  constructor(outDir: string, redact: (text: string) => string) {
    this.#runs = join(outDir, RUNS_FOLDER);
    this.#redact = redact;
  }

  /** The newest run that tried the stage (started it), with its result. */
  lastTry(stage: StageId): { readonly startedAt: string; readonly result: RecordedStage } | undefined {
    for (let i = 0; i < Math.min(this.#folders().length, MAX_RUNS_READ); i++) {
      const record = this.#record(i);
      const result = record?.stages[stage];
      // A run that never started the stage did not try it: left out (--only), skipped after
      // an upstream failure or --fail-fast, or stopped before its first attempt.
      if (
        !record ||
        !result ||
        result.status === 'skipped' ||
        (result.status === 'failed' &&
          result.failure.reason === 'interrupted' &&
          result.attempts.length === 0)
      )
        continue;
      return { startedAt: record.startedAt, result };
    }
    return undefined;
  }

  /** Whether a recorded input is this one (records hold it with secrets masked). */
  sameInput(recorded: JsonValue, current: JsonValue | readonly JsonValue[]): boolean {
    return canonicalJson(recorded) === canonicalJson(JSON.parse(this.#redact(JSON.stringify(current))));
  }

  #folders(): string[] {
    if (this.#names === undefined) {
      try {
        this.#names = readdirSync(this.#runs)
          .filter((n) => !n.startsWith('.'))
          .sort()
          .reverse();
      } catch {
        this.#names = [];
      }
    }
    return this.#names;
  }

  #record(i: number): RunRecordFile | undefined {
    if (!(i in this.#records)) {
      try {
        this.#records[i] = readRunDataSync(join(this.#runs, this.#folders()[i]!)).record;
      } catch {
        this.#records[i] = undefined;
      }
    }
    return this.#records[i];
  }
}

/** How many run folders `status` reads back at most, looking for a stage's last try. */
const MAX_RUNS_READ = 20;
