import { resolve } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { downstreamOf, upstreamOf } from '../plan/dag.js';
import type { Plan } from '../plan/plan.js';
import type { StageId } from '../recipe/types.js';
import { jobKeys } from '../state/cache-key.js';
import { localFilesChanged } from '../state/local-digest.js';
import { outputState } from '../policy/provenance.js';
import type { JobRecord, JobStore, SucceededJob } from '../state/job-store.js';
import type { InputPolicy } from '../policy/input-guard.js';
import type { JsonObject, JsonValue } from '../util/json.js';
import { resolveStageInputs, type StageView } from './stage-input.js';

/** Which stages a run selects: all, or `--only`, `--from`, `--until`. */
export interface Selection {
  readonly only?: readonly StageId[];
  readonly from?: StageId;
  readonly until?: StageId;
}

export interface CacheSettings {
  /** False with `--no-cache`: nothing is read (or written). */
  readonly enabled: boolean;
  /** `--force` (true: every stage) or `--force <stage>`. */
  readonly force: true | ReadonlySet<StageId>;
  readonly urlTtlMs: number;
  /** The recipe's folder: local files of offline engine jobs are keyed by content from it. */
  readonly recipeDir?: string;
  readonly now: number;
}

/**
 * What a run will do with each stage before it starts:
 * - `cached`: every job has a finished record (files present); outputs come from the records.
 * - `run`: something must be called (`why` says what changed).
 * - `unavailable`: a stage the selection needs but does not run, with no usable cached result.
 * - `not-selected`: outside `--only`/`--from`/`--until` and not needed.
 */
export type CacheDecision =
  | {
      readonly kind: 'cached';
      readonly outputs: JsonValue;
      readonly files: readonly string[];
      readonly records: readonly SucceededJob[];
      readonly stale: boolean;
      /** The bodies the records answer (one per job). */ readonly input: JsonValue;
    }
  | {
      readonly kind: 'run';
      readonly why: string;
      /** Ignore finished job records (forced, or refreshing expired URLs). */ readonly bypass: boolean;
      /**
       * The bodies the stage's jobs will send, when its upstream stages are all cached so they
       * are known now (what `--dry-run` prints); absent otherwise.
       */
      readonly bodies?: readonly JsonObject[];
      /**
       * What the run will do with each of those bodies, when the job records were consulted
       * (not forced, not --no-cache): only `submit` is a new, paid job.
       */
      readonly jobs?: readonly PlannedJob[];
      /**
       * Job keys whose finished records are ignored in a stage that is not itself forced: the
       * jobs it shares with a forced stage (they take that stage's new job).
       */
      readonly bypassKeys?: ReadonlySet<string>;
      /**
       * The stage's results, when every job finished before and only files are fetched again:
       * its dependents can be decided now (their inputs will not change).
       */
      readonly known?: { readonly outputs: JsonValue; readonly files: readonly string[] };
    }
  | { readonly kind: 'unavailable'; readonly why: string }
  | { readonly kind: 'not-selected' };

/**
 * One job of a stage that runs: its result is cached (a fan-out's other items run), a job of
 * an earlier run is followed (still in flight, or finished with its files gone: fetched
 * again), or it is submitted.
 */
export type PlannedJob =
  | { readonly kind: 'cached' }
  /** The very request of a forced stage: it takes that stage's new job, no call of its own. */
  | { readonly kind: 'shared'; readonly stage: StageId }
  | { readonly kind: 'follow'; readonly requestId?: string; readonly why: 'in-flight' | 'files-missing' }
  /**
   * A new, paid job; `files-expired`: its earlier result's files are gone, here and on the
   * service; `submit-unanswered`: an earlier run's submit never returned a request id, so there
   * is no job to follow.
   */
  | {
      readonly kind: 'submit';
      readonly why?: 'files-expired' | 'url-expired' | 'local-file-changed' | 'submit-unanswered';
    };

export interface CachePlan {
  readonly decisions: ReadonlyMap<StageId, CacheDecision>;
  /** Records that exist but could not be used (torn, unreadable): reported, then ignored. */
  readonly problems: readonly string[];
  /**
   * Stages of the selection that cannot run: an upstream stage outside the selection has no
   * usable cached result (`missing`), or its cached URLs, which the stage would be sent, are
   * older than `cache.url_ttl` (`expired`).
   */
  /** The recipe's folder the job keys were made with (the executor makes its keys alike). */
  readonly recipeDir?: string;
  readonly blocked: readonly {
    readonly stage: StageId;
    readonly upstream: StageId;
    readonly why: 'missing' | 'expired';
  }[];
}

/**
 * True when a stage that runs may submit a new job (sending its inputs): some job is `submit`,
 * or its jobs are not known yet (forced, --no-cache, or an upstream stage runs).
 */
function sendsNewJob(decision: CacheDecision | undefined): boolean {
  return (
    decision?.kind === 'run' &&
    (decision.jobs === undefined || decision.jobs.some((j) => j.kind === 'submit'))
  );
}

/**
 * Decides, stage by stage in run order, what is cached. A stage's key depends on its resolved
 * input, which depends on its upstream stages' outputs: cached upstream outputs are used to
 * resolve it, and a stage whose upstream will run is itself run (its input may change).
 * Hosted URLs expire: a cached stage older than `url_ttl` whose outputs a running dependent
 * references is run again rather than passing a dead URL (its files are kept).
 */
export async function planCache(
  plan: Plan,
  catalog: Catalog,
  store: JobStore | undefined,
  settings: CacheSettings,
  outDir: string,
  selection: Selection = {},
  policy?: InputPolicy,
): Promise<CachePlan> {
  const deps = new Map(plan.stages.map((s) => [s.id, s.dependsOn] as const));
  const selected = selectedStages(deps, selection);
  const needed = upstreamOf(deps, selected);
  const problems = new Set<string>();
  const refreshed = new Set<StageId>();
  /** Cached stages that send a forced stage's very request, and the keys of forced stages' jobs. */
  const forcedTwins = new Set<StageId>();
  const forcedKeys = new Map<string, StageId>();
  const forced = (id: StageId) => selected.has(id) && (settings.force === true || settings.force.has(id));
  for (let round = 0; ; round++) {
    const decisions = new Map<StageId, CacheDecision>();
    const views = new Map<StageId, StageView>();
    for (const stage of plan.stages) {
      const id = stage.id;
      const isSelected = selected.has(id);
      if (!isSelected && !needed.has(id)) {
        decisions.set(id, { kind: 'not-selected' });
        continue;
      }
      const decision = await decide(id);
      // A stage outside the selection that would run has no result to give, unless it has no
      // job at all (a foreach over an empty list): its empty results are there without running.
      const nothingToRun = decision.kind === 'run' && decision.jobs?.length === 0;
      const final: CacheDecision =
        !isSelected && decision.kind === 'run' && !nothingToRun
          ? { kind: 'unavailable', why: decision.why }
          : decision;
      decisions.set(id, final);
      if (final.kind === 'cached') views.set(id, { outputs: final.outputs, files: final.files });
      else if (final.kind === 'run' && final.known) views.set(id, final.known);
    }

    // Two stages that send the very same request share one job and its record (the executor
    // runs it once). Forcing one gives that request a new result; its twin takes it in this
    // run, so the twin's dependents follow now rather than at some later run.
    const twin = forcedTwin(decisions);
    if (twin && round < plan.stages.length) {
      forcedTwins.add(twin);
      continue;
    }
    // A stale cached stage whose URLs a selected dependent will send in a new job is refreshed.
    // A dependent that only follows its jobs (in flight, or fetching missing files) sends
    // nothing: refreshing for it would abandon a job already paid for and pay again.
    const stale = plan.stages.find((s) => {
      const d = decisions.get(s.id);
      if (d?.kind !== 'cached' || !d.stale || !selected.has(s.id) || refreshed.has(s.id)) return false;
      return plan.stages.some(
        (other) => sendsNewJob(decisions.get(other.id)) && readsOutputsOf(plan, other.id, s.id),
      );
    });
    if (stale && round < plan.stages.length) {
      refreshed.add(stale.id);
      continue;
    }
    const blocked: { stage: StageId; upstream: StageId; why: 'missing' | 'expired' }[] = [];
    for (const stage of plan.stages) {
      if (!selected.has(stage.id)) continue;
      const runs = sendsNewJob(decisions.get(stage.id));
      for (const up of upstreamOf(deps, [stage.id])) {
        if (up === stage.id) continue;
        const d = decisions.get(up);
        if (d?.kind === 'unavailable') blocked.push({ stage: stage.id, upstream: up, why: 'missing' });
        // A job sent a dead URL would be paid for and fail (or worse, succeed on nothing).
        else if (
          runs &&
          !selected.has(up) &&
          d?.kind === 'cached' &&
          d.stale &&
          readsOutputsOf(plan, stage.id, up)
        )
          blocked.push({ stage: stage.id, upstream: up, why: 'expired' });
      }
    }
    return {
      decisions,
      problems: [...problems],
      blocked,
      ...(settings.recipeDir !== undefined && { recipeDir: settings.recipeDir }),
    };

    async function decide(id: StageId): Promise<CacheDecision> {
      const spec = plan.recipe.stages.get(id)!;
      // With every upstream stage cached, the stage's bodies are known now: the job keys come
      // from them, and a stage that runs anyway carries them (what --dry-run prints).
      const upstreamRuns = spec.dependsOn.find((d) => !views.has(d));
      const model = catalog.get(stage(id).model)!;
      // The offline engine's jobs: no hosted URLs to expire, and missing files are made again for free.
      const local = model.backend === 'local';
      const inputs =
        upstreamRuns === undefined
          ? resolveStageInputs(spec, model, plan.recipe.vars, views, policy, {
              schema: false,
              filesBase: outDir,
            })
          : undefined;
      const bodies = inputs?.ok ? { bodies: inputs.bodies } : {};
      if (!settings.enabled)
        return { kind: 'run', why: 'the cache is off (--no-cache)', bypass: true, ...bodies };
      // --force applies to the stages a run selects; stages it only needs come from the cache.
      if (forced(id)) {
        // Forcing asks for new results, not for paying twice: a job of an earlier run still in
        // flight is followed (the executor does so), and gives the new result.
        const jobs = inputs?.ok && store ? await inFlight(jobKeys(model, inputs.bodies)) : [];
        const following = jobs.filter((j) => j.kind === 'follow').length;
        if (following === 0) return { kind: 'run', why: 'forced (--force)', bypass: true, ...bodies };
        return {
          kind: 'run',
          why: `forced (--force); ${following === jobs.length ? (following === 1 ? 'its job' : 'its jobs') : `${following} of its ${jobs.length} jobs`} still in flight from an earlier run ${following === 1 ? 'is' : 'are'} followed, not paid again`,
          bypass: true,
          ...bodies,
          jobs,
        };
      }
      if (forcedTwins.has(id) && inputs?.ok) {
        const keys = jobKeys(model, inputs.bodies);
        const jobs = keys.map((key): PlannedJob => {
          const forced = forcedKeys.get(key);
          return forced === undefined ? { kind: 'cached' } : { kind: 'shared', stage: forced };
        });
        const others = [...new Set(jobs.flatMap((j) => (j.kind === 'shared' ? [`"${j.stage}"`] : [])))];
        return {
          kind: 'run',
          why: `it sends the same request as stage ${others.join(', ')}, which is forced (--force): one job for both`,
          bypass: false,
          bypassKeys: new Set(keys.filter((key) => forcedKeys.has(key))),
          bodies: inputs.bodies,
          jobs,
        };
      }
      if (refreshed.has(id)) {
        const why = 'its cached output URLs are older than cache.url_ttl and a dependent needs them';
        if (!inputs?.ok || !store || inputs.bodies.length <= 1)
          return { kind: 'run', why, bypass: true, ...bodies };
        // A fan-out: only the items whose URLs are past the TTL run again (and are paid for);
        // the others' URLs are still good and stay cached.
        const keys = jobKeys(model, inputs.bodies);
        const old = new Set<string>();
        for (const key of keys) {
          const { record } = await store.read(key);
          if (
            record?.status === 'succeeded' &&
            settings.now - Date.parse(record.finishedAt) > settings.urlTtlMs
          )
            old.add(key);
        }
        return {
          kind: 'run',
          why:
            old.size === keys.length
              ? why
              : `${old.size} of its ${keys.length} items' cached output URLs are older than cache.url_ttl and a dependent needs them (the other items stay cached)`,
          bypass: false,
          bypassKeys: old,
          bodies: inputs.bodies,
          jobs: keys.map((key): PlannedJob =>
            old.has(key) ? { kind: 'submit', why: 'url-expired' } : { kind: 'cached' },
          ),
        };
      }
      if (upstreamRuns) return { kind: 'run', why: `upstream stage "${upstreamRuns}" runs`, bypass: false };
      if (!inputs?.ok || !store) return { kind: 'run', why: 'never run', bypass: false };
      // `foreach` over an empty list: nothing to call, nothing cached; its (empty) results are
      // known now, so its dependents can be decided.
      if (inputs.bodies.length === 0)
        return {
          kind: 'run',
          why: 'its foreach list is empty: no job to run',
          bypass: false,
          bodies: [],
          jobs: [],
          known: { outputs: mergeOutputs(true, spec.merge, []), files: [] },
        };
      const records: SucceededJob[] = [];
      /** Every finished record, files present or not (in job order). */
      const finished: SucceededJob[] = [];
      const jobs: PlannedJob[] = [];
      /**
       * Finished jobs whose record cannot answer: a local file they read changed since, or
       * their files are missing and their hosted URLs are past url_ttl.
       */
      const expired = new Set<string>();
      const keys = jobKeys(model, inputs.bodies);
      for (const key of keys) {
        const lookup = await store.read(key);
        if (lookup.problem) problems.add(lookup.problem);
        const record = lookup.record;
        if (record?.status === 'succeeded' && localFilesChanged(record.localFiles, settings.recipeDir)) {
          expired.add(key);
          jobs.push({ kind: 'submit', why: 'local-file-changed' });
        } else if (
          record?.status === 'succeeded' &&
          filesPresent(
            record,
            outDir,
            !local && settings.now - Date.parse(record.finishedAt) > settings.urlTtlMs,
          )
        ) {
          finished.push(record);
          records.push(record);
          jobs.push({ kind: 'cached' });
        } else if (
          record?.status === 'succeeded' &&
          !local &&
          settings.now - Date.parse(record.finishedAt) > settings.urlTtlMs
        ) {
          // Fetching its files again would ask the service for URLs it no longer hosts (and
          // fail at every run): the job is run again.
          expired.add(key);
          jobs.push({ kind: 'submit', why: 'files-expired' });
        } else if (record?.status === 'succeeded' || record?.status === 'submitted') {
          if (record.status === 'succeeded') finished.push(record);
          jobs.push({
            kind: 'follow',
            requestId: record.requestId,
            why: record.status === 'succeeded' ? 'files-missing' : 'in-flight',
          });
        } else if (record?.status === 'submitting') jobs.push(await submittingJob(record));
        else jobs.push({ kind: 'submit' });
      }
      const fanOut = spec.foreach !== undefined || inputs.fanOut;
      if (records.length < jobs.length)
        return {
          kind: 'run',
          why: whyJobsRun(jobs, local),
          bypass: false,
          bodies: inputs.bodies,
          jobs,
          ...(expired.size > 0 && { bypassKeys: expired }),
          // Files fetched again land where they were (<stage>/<request id>/): same results.
          ...(finished.length === jobs.length && {
            known: {
              outputs: mergeOutputs(
                fanOut,
                spec.merge,
                finished.map((r) => r.output),
              ),
              // Where they are (cached) or will be (fetched again into this run's output folder).
              files: finished.flatMap((r) => r.files),
            },
          }),
        };
      const files = records.flatMap((r) => r.files);
      const outputs = mergeOutputs(
        fanOut,
        spec.merge,
        records.map((r) => r.output),
      );
      const oldest = Math.min(...records.map((r) => Date.parse(r.finishedAt)));
      const input: JsonValue = fanOut ? [...inputs.bodies] : (inputs.bodies[0] ?? null);
      return {
        kind: 'cached',
        outputs,
        files,
        records,
        // The offline engine's outputs are files, not hosted URLs: they do not expire.
        stale: !local && settings.now - oldest > settings.urlTtlMs,
        input,
      };
    }
  }

  /** Per job: followed when an earlier run's job is still in flight, else submitted. */
  async function inFlight(keys: readonly string[]): Promise<PlannedJob[]> {
    const jobs: PlannedJob[] = [];
    for (const key of keys) {
      const { record } = await store!.read(key);
      if (record?.status === 'submitted')
        jobs.push({ kind: 'follow', requestId: record.requestId, why: 'in-flight' });
      else if (record?.status === 'submitting') jobs.push(await submittingJob(record));
      else jobs.push({ kind: 'submit' });
    }
    return jobs;
  }

  /** A submission an earlier run left `submitting`, as the run will take it, without waiting for an answer. */
  async function submittingJob(record: JobRecord & { status: 'submitting' }): Promise<PlannedJob> {
    const submission = await store!.submission(record);
    return submission.kind === 'unanswered'
      ? { kind: 'submit', why: 'submit-unanswered' }
      : {
          kind: 'follow',
          why: 'in-flight',
          ...(submission.kind === 'answered' && { requestId: submission.requestId }),
        };
  }

  function stage(id: StageId) {
    return plan.stages.find((s) => s.id === id)!;
  }

  /** A selected, cached stage one of whose jobs is a job of a forced stage (known bodies only). */
  function forcedTwin(decisions: ReadonlyMap<StageId, CacheDecision>): StageId | undefined {
    if (settings.force === true || settings.force.size === 0) return undefined;
    forcedKeys.clear();
    for (const s of plan.stages) {
      const d = decisions.get(s.id);
      if (d?.kind !== 'run' || !forced(s.id) || !d.bodies) continue;
      for (const key of jobKeys(catalog.get(s.model)!, d.bodies)) forcedKeys.set(key, s.id);
    }
    if (forcedKeys.size === 0) return undefined;
    for (const s of plan.stages) {
      const d = decisions.get(s.id);
      if (d?.kind !== 'cached' || !selected.has(s.id) || forcedTwins.has(s.id)) continue;
      if (d.records.some((r) => forcedKeys.has(r.key))) return s.id;
    }
    return undefined;
  }
}

export function selectedStages(
  deps: ReadonlyMap<StageId, readonly StageId[]>,
  selection: Selection,
): Set<StageId> {
  let set = new Set<StageId>(deps.keys());
  if (selection.only && selection.only.length > 0) set = new Set(selection.only);
  if (selection.from) set = new Set([...set].filter((id) => downstreamOf(deps, [selection.from!]).has(id)));
  if (selection.until) set = new Set([...set].filter((id) => upstreamOf(deps, [selection.until!]).has(id)));
  return set;
}

/** True when `stage`'s expressions read `stages.<upstream>.outputs` (not only its files). */
function readsOutputsOf(plan: Plan, stage: StageId, upstream: StageId): boolean {
  const spec = plan.recipe.stages.get(stage)!;
  return spec.references.some(
    (r) => r.stage === upstream && (r.path.length === 0 || r.path[0] === 'outputs'),
  );
}

/**
 * Why a stage whose records were consulted runs, from what each of its jobs will do. `local`:
 * the offline engine's jobs, which have nothing to fetch from: missing files are made again.
 * `newJobs` replaces the words for the jobs submitted for want of any record (`status` knows
 * whether those items finished before under another input, or never did).
 */
export function whyJobsRun(jobs: readonly PlannedJob[], local: boolean, newJobs?: string): string {
  const count = (kind: PlannedJob['kind'], why?: string) =>
    jobs.filter((j) => j.kind === kind && (why === undefined || (j.kind === 'follow' && j.why === why)))
      .length;
  let expired = jobs.filter((j) => j.kind === 'submit' && j.why === 'files-expired').length;
  const changed = jobs.filter((j) => j.kind === 'submit' && j.why === 'local-file-changed').length;
  const unanswered = jobs.filter((j) => j.kind === 'submit' && j.why === 'submit-unanswered').length;
  const urlExpired = jobs.filter((j) => j.kind === 'submit' && j.why === 'url-expired').length;
  const submit = count('submit') - expired - changed - unanswered - urlExpired;
  const inFlight = count('follow', 'in-flight');
  let missing = count('follow', 'files-missing');
  const reasons: string[] = [];
  if (local && expired + missing > 0) {
    const gone = expired + missing;
    reasons.push(
      `${gone === jobs.length ? 'its' : `${gone} items'`} files are missing; the offline engine makes them again (no cost)`,
    );
    expired = 0;
    missing = 0;
  }
  if (submit > 0)
    reasons.push(
      newJobs ??
        (jobs.length === 1
          ? 'its input changed or it never ran'
          : submit === jobs.length
            ? 'no item has a cached result'
            : `${submit} of ${jobs.length} items have no cached result`),
    );
  if (changed > 0)
    reasons.push(
      `${changed === jobs.length ? 'a local file it reads' : `a local file ${changed} items read`} changed since its cached result was made`,
    );
  if (urlExpired > 0)
    reasons.push(
      `${urlExpired === jobs.length ? 'its' : `${urlExpired} items'`} cached output URLs are older than cache.url_ttl and a dependent needs them`,
    );
  if (unanswered > 0)
    reasons.push(
      `${unanswered === jobs.length ? 'its' : `${unanswered} items'`} earlier submit${unanswered === 1 ? '' : 's'} never returned a request id, so ${unanswered === 1 ? 'it is' : 'they are'} submitted again (a job the cut-off submit may have created cannot be followed without its id)`,
    );
  if (expired > 0)
    reasons.push(
      `${expired === jobs.length ? 'its' : `${expired} items'`} cached files are missing or changed and older than cache.url_ttl (the service no longer has them), so ${expired === 1 ? 'that job runs' : 'those jobs run'} again`,
    );
  if (inFlight > 0)
    reasons.push(
      inFlight === 1
        ? 'a job of an earlier run is still to be followed up (no new job)'
        : `${inFlight} jobs of an earlier run are still to be followed up (no new jobs)`,
    );
  if (missing > 0)
    reasons.push(
      `${missing === jobs.length ? 'its' : `${missing} items'`} cached files are missing or changed; they are fetched again from the finished job${missing === 1 ? '' : 's'} (no new job)`,
    );
  return reasons.join('; ');
}

/** The same merge the executor applies to live results. */
export function mergeOutputs(
  fanOut: boolean,
  merge: 'images' | undefined,
  outputs: readonly JsonValue[],
): JsonValue {
  if (!fanOut) return outputs[0] ?? null;
  if (merge === 'images') {
    return {
      images: outputs.flatMap((o) =>
        o &&
        typeof o === 'object' &&
        !Array.isArray(o) &&
        Array.isArray((o as Record<string, JsonValue>)['images'])
          ? [...((o as Record<string, JsonValue[]>)['images'] ?? [])]
          : [],
      ),
    };
  }
  return [...outputs];
}

/**
 * Whether a finished job's files can be used as they are (synchronous: a stat each, ~3 µs,
 * perf-notes): each in this run's output folder at its place relative to the folder the job's
 * files went to, intact, or only without its provenance record once fetching it again would cost
 * a new job (see outputState). A checkout moved or restored elsewhere keeps its cache; files
 * missing under another output folder (another --out) are fetched again into this one.
 */
function filesPresent(record: SucceededJob, outDir: string, expired: boolean): boolean {
  return record.files.every((file) => {
    const state = outputState(resolve(outDir, file));
    return state === 'intact' || (state === 'unrecorded' && expired);
  });
}
