import type { Catalog } from '../catalog/catalog.js';
import type { Plan } from '../plan/plan.js';
import { jobKeys } from '../state/cache-key.js';
import type { JobStore } from '../state/job-store.js';
import type { CachePlan } from './cache-plan.js';

/** A job an earlier run left in flight (killed, or stopped at once), as its record has it. */
export interface InFlightJob {
  readonly key: string;
  /** The stage (and item) that recorded it: `face`, `gallery[3]`. */
  readonly stage: string;
  /** Undefined while its submit has not answered: the id may still come. */
  readonly requestId?: string;
}

/**
 * The jobs recorded as in flight, split by whether the recipe as it is now asks for them
 * (`recipe` is read only when some job is in flight; undefined: it is not known, so all are
 * taken as followed).
 * - `followed`: one of its jobs has that key, or may have once an upstream stage has run (a
 *   stage of the same model whose input is not known yet, or not selected): a run follows it up
 *   rather than paying for it again.
 * - `orphaned`: no stage asks for that key any more (a prompt edited, a stage removed, other
 *   `--set` values, the model's schema changed). No run follows it up; it may still run, and
 *   bill, on the service, and only its request id can stop it (`runcomfy cancel`).
 * A submit that never answered and never will is no job in flight: it is in neither list.
 */
export async function inFlightJobs(
  store: JobStore,
  recipe: () => Promise<RecipeJobs | undefined>,
): Promise<{ readonly followed: InFlightJob[]; readonly orphaned: InFlightJob[] }> {
  const followed: InFlightJob[] = [];
  const orphaned: InFlightJob[] = [];
  let asked: ((key: string, model: string) => boolean) | undefined;
  for (const record of await store.all()) {
    let job: InFlightJob;
    if (record.status === 'submitted')
      job = { key: record.key, stage: record.stage, requestId: record.requestId };
    else if (record.status === 'submitting') {
      const submission = await store.submission(record);
      if (submission.kind === 'unanswered') continue;
      job = {
        key: record.key,
        stage: record.stage,
        ...(submission.kind === 'answered' && { requestId: submission.requestId }),
      };
    } else continue;
    asked ??= askedFor(await recipe());
    (asked(record.key, record.model) ? followed : orphaned).push(job);
  }
  return { followed, orphaned };
}

/**
 * What the recipe as it is now asks for: its plan, and the cache decisions made with the
 * current `--set` values (they are part of each job's input, so of its key).
 */
export interface RecipeJobs {
  readonly plan: Plan;
  readonly catalog: Catalog;
  readonly cache: CachePlan;
}

/** Whether the recipe may ask for a job key; without a recipe (it does not validate), every key. */
function askedFor(recipe: RecipeJobs | undefined): (key: string, model: string) => boolean {
  if (!recipe) return () => true;
  const wanted = new Set<string>();
  /** Models of stages whose job keys are not known now. */
  const open = new Set<string>();
  for (const stage of recipe.plan.stages) {
    const decision = recipe.cache.decisions.get(stage.id);
    const model = recipe.catalog.get(stage.model);
    if (decision?.kind === 'cached') for (const r of decision.records) wanted.add(r.key);
    else if (decision?.kind === 'run' && decision.bodies && model)
      for (const key of jobKeys(model, decision.bodies)) wanted.add(key);
    else open.add(stage.model);
  }
  return (key, model) => wanted.has(key) || open.has(model);
}

/** `face (4f1c…)`, or `face (submit not answered yet)`. */
export function describeInFlight(job: InFlightJob): string {
  return `${job.stage} (${job.requestId ?? 'submit not answered yet'})`;
}
