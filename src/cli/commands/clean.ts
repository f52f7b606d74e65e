import { existsSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { buildPlan } from '../../plan/plan.js';
import type { StageId } from '../../recipe/types.js';
import { planCache } from '../../run/cache-plan.js';
import { describeInFlight, inFlightJobs, type InFlightJob, type RecipeJobs } from '../../run/in-flight.js';
import { acquireLock } from '../../state/lock.js';
import { JobStore } from '../../state/job-store.js';
import { recipeOutDir, recipeStateDir } from '../../state/paths.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import type { RecipeOptions } from '../options.js';
import { analyzeForCommand } from '../analyze-for-command.js';
import { refuseOverlappingFolders } from '../state-folders.js';
import { loadRecipeFile } from '../../recipe/load.js';
import { isJsonObject } from '../../util/json.js';

export interface CleanOptions extends RecipeOptions {
  readonly keepOutputs: boolean;
  readonly out: string;
  readonly stateDir?: string;
  /** Forget jobs still recorded as in flight (they may be running, and billing, on the service). */
  readonly force?: boolean;
}

/**
 * `faceswap-pipe clean <recipe>`: removes the recipe's state (job records: the cache and the
 * ids of jobs to follow) and, unless --keep-outputs, its output folder. Refuses while a run
 * holds the state's lock, or a job is recorded in flight (unless --force): it would be
 * forgotten while still billing, and paid for again by a run that would have followed it.
 */
export async function cleanCommand(file: string, options: CleanOptions, io: CliIo): Promise<number> {
  // Only the recipe's name is needed to find its state: a recipe that stopped validating (a
  // typo since, a consent rule or model it no longer meets) can still be cleaned.
  let name = await recipeName(file, options, io);
  if (name === undefined) {
    const loaded = await analyzeForCommand(file, options, io, { localFiles: 'warn' });
    if ('exit' in loaded) return loaded.exit;
    name = loaded.recipe.name;
  }
  const stateDir = recipeStateDir({
    cwd: io.cwd,
    recipeFile: file,
    recipeName: name,
    ...(options.stateDir !== undefined && { stateDir: options.stateDir }),
  });
  const outDir = recipeOutDir({ cwd: io.cwd, out: options.out, recipeName: name });
  const overlap = refuseOverlappingFolders(stateDir, outDir, io);
  if (overlap !== undefined) return overlap;
  // Taking the lock makes the state folder: whether there was any state is known only before.
  const hadState = existsSync(stateDir);
  const hadOutputs = existsSync(outDir);
  const shown = (dir: string) => relative(io.cwd, dir) || dir;
  if (!hadState && (options.keepOutputs || !hadOutputs)) {
    // Nothing to remove, so nothing to lock: making a state folder just to lock it would leave
    // one behind a run never made, and fail where none can be made (a read-only checkout).
    io.stdout.write(
      `no state to remove (${shown(stateDir)})\n` +
        (options.keepOutputs ? '' : `no outputs to remove (${shown(outDir)})\n`),
    );
    return ExitCode.ok;
  }
  const lock = await acquireLock(stateDir, `faceswap-pipe clean ${file}`);
  if (!lock.acquired) {
    io.stderr.write(
      `faceswap-pipe: error: a run (pid ${lock.holder.pid}, since ${lock.holder.since}) is using ${relative(io.cwd, stateDir) || stateDir}; wait for it to finish\n`,
    );
    return ExitCode.tempFail;
  }
  let followed: readonly InFlightJob[] = [];
  let orphaned: readonly InFlightJob[] = [];
  try {
    // A job an earlier (killed) run submitted may still run, and bill, on the service: its
    // record is the only way a run can follow it up instead of paying for it again. One that no
    // stage asks for with this command's values belongs to an earlier version of the recipe
    // (no run follows it) or to a run with other --set values (which does): only the user can
    // tell, so it holds clean back too, with advice for both; --force forgets it, printing its
    // request id, the only way left to cancel it.
    const store = new JobStore(stateDir, (t) => t);
    ({ followed, orphaned } = await inFlightJobs(store, () => recipeJobs(file, options, io, store, outDir)));
    const waiting = orphaned.filter((job) => job.requestId === undefined);
    const answered = orphaned.filter((job) => job.requestId !== undefined);
    const refusal = [
      ...(followed.length > 0 ? [stillFollowed(followed, file)] : []),
      ...(answered.length > 0 ? [notAskedFor(answered, file)] : []),
      ...(waiting.length > 0 ? [notAnswered(waiting, file)] : []),
    ];
    if (refusal.length > 0 && options.force !== true) {
      io.stderr.write(refusal.join(''));
      return ExitCode.tempFail;
    }
    // Everything but the lock goes while it is held, outputs included, so a run that starts
    // meanwhile waits rather than writing into a folder being removed.
    for (const entry of await readdir(stateDir)) {
      if (entry !== 'lock') await rm(join(stateDir, entry), { recursive: true, force: true });
    }
    if (!options.keepOutputs) await rm(outDir, { recursive: true, force: true });
  } finally {
    await lock.release();
  }
  await rmdir(stateDir).catch(() => undefined);
  if (orphaned.length > 0)
    io.stderr.write(
      forgotten(
        orphaned,
        `that no stage of ${file} asks for any more (${orphaned.length === 1 ? 'it was' : 'they were'} submitted for an earlier version of the recipe, or with other --set values)`,
      ),
    );
  if (followed.length > 0) io.stderr.write(forgotten(followed, '(clean --force)'));
  io.stdout.write(hadState ? `removed ${shown(stateDir)}\n` : `no state to remove (${shown(stateDir)})\n`);
  if (!options.keepOutputs)
    io.stdout.write(hadOutputs ? `removed ${shown(outDir)}\n` : `no outputs to remove (${shown(outDir)})\n`);
  return ExitCode.ok;
}

/** The refusal for jobs in flight that a run of the recipe follows up. */
function stillFollowed(jobs: readonly InFlightJob[], file: string): string {
  const [it, is] = jobs.length === 1 ? ['it', 'job is'] : ['them', 'jobs are'];
  return (
    `faceswap-pipe: error: ${jobs.length} ${is} still recorded as in flight: ${listed(jobs, 5)}.\n` +
    `The service may still be running (and billing) ${it}; cleaning would forget ${it} and the next run would pay again.\n` +
    `Run the recipe once to follow ${it} up (faceswap-pipe run ${file}), or forget ${it} with clean --force.\n`
  );
}

/**
 * The refusal for jobs in flight that no stage of the recipe asks for with this command's
 * values. They may be an earlier version's (no run follows them) or a run's with other `--set`
 * values (a run with those values follows them; cleaning would make it pay again): which, only
 * the user knows.
 */
function notAskedFor(jobs: readonly InFlightJob[], file: string): string {
  const [n, it, they] =
    jobs.length === 1 ? ['1 job', 'it', 'it belongs'] : [`${jobs.length} jobs`, 'them', 'they belong'];
  return (
    `faceswap-pipe: error: ${n} still in flight that no stage of ${file} asks for with these values: ${listed(jobs, 5)}.\n` +
    `If the run that submitted ${it} had other --set values, run the recipe with those to follow ${it} up (cleaning would pay for ${it} again); if ${they} to an earlier version of the recipe, forget ${it} with clean --force (runcomfy cancel <request id> stops one on the service).\n`
  );
}

/**
 * The refusal for submits no stage asks for any more whose answer may still come (the submit
 * process outlives a killed run for a while): cleaning now would lose the request id.
 */
function notAnswered(jobs: readonly InFlightJob[], file: string): string {
  const [n, it] = jobs.length === 1 ? ['1 submit', 'it'] : [`${jobs.length} submits`, 'them'];
  return (
    `faceswap-pipe: error: ${n} that no stage of ${file} asks for any more ${jobs.length === 1 ? 'has' : 'have'} not answered yet: ${jobs.map((j) => j.stage).join(', ')}.\n` +
    `A request id may still come, and only with it can the job be cancelled; clean again in a minute, or forget ${it} with clean --force.\n`
  );
}

/** The warning for jobs in flight whose records clean removed: they go on, and bill, regardless; the ids are the only way to stop them. */
function forgotten(jobs: readonly InFlightJob[], which: string): string {
  const one = jobs.length === 1;
  return (
    `faceswap-pipe: warning: removed the record${one ? '' : 's'} of ${jobs.length} job${one ? '' : 's'} still in flight ${which}: ${listed(jobs)}.\n` +
    `${one ? 'It' : 'They'} may still be running, and billing, on the service; runcomfy cancel <request id> stops ${one ? 'it' : 'one'}.\n`
  );
}

function listed(jobs: readonly InFlightJob[], most = Infinity): string {
  const shown = jobs.slice(0, most).map(describeInFlight).join(', ');
  return jobs.length > most ? `${shown}, …` : shown;
}

/**
 * What the recipe asks for now (with this command's --set values), to tell jobs a run follows
 * up from ones of an earlier version; undefined when it does not validate (clean needs no
 * valid recipe, so its problems are not printed: every job in flight then counts as followed).
 */
async function recipeJobs(
  file: string,
  options: CleanOptions,
  io: CliIo,
  store: JobStore,
  outDir: string,
): Promise<RecipeJobs | undefined> {
  const quiet: CliIo = { ...io, stderr: { write: () => undefined } };
  const loaded = await analyzeForCommand(file, options, quiet, { localFiles: 'warn' });
  if ('exit' in loaded) return undefined;
  const plan = buildPlan(loaded.recipe, loaded.catalog);
  const settings = {
    enabled: true,
    force: new Set<StageId>(),
    urlTtlMs: loaded.recipe.cacheUrlTtlMs,
    recipeDir: dirname(resolve(io.cwd, file)),
    now: Date.now(),
  };
  const cache = await planCache(plan, loaded.catalog, store, settings, outDir);
  return { plan, catalog: loaded.catalog, cache };
}

/** The `name:` of a recipe file that parses, whatever else is wrong with it. */
async function recipeName(file: string, options: CleanOptions, io: CliIo): Promise<string | undefined> {
  const loaded = await loadRecipeFile(file, { cwd: io.cwd, maxBytes: options.maxRecipeSize });
  const name = isJsonObject(loaded.data) ? loaded.data['name'] : undefined;
  return typeof name === 'string' && name.length <= 100 && RECIPE_NAME.test(name) ? name : undefined;
}

/** The recipe schema's name pattern (it names folders). */
const RECIPE_NAME = /^[a-z0-9][a-z0-9-]*$/;
