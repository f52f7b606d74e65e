import { existsSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
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
 * holds the state's lock: its jobs would be forgotten while still billing.
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
  try {
    // A job an earlier (killed) run submitted may still run, and bill, on the service: its
    // record is the only way a run can follow it up instead of paying for it again.
    // A submit that never returned a request id (and never will) left nothing to follow.
    const store = new JobStore(stateDir, (t) => t);
    const inFlight: string[] = [];
    for (const r of await store.all()) {
      if (r.status === 'submitted') inFlight.push(`${r.stage} (${r.requestId})`);
      if (r.status !== 'submitting') continue;
      const submission = await store.submission(r);
      if (submission.kind === 'answered') inFlight.push(`${r.stage} (${submission.requestId})`);
      else if (submission.kind === 'pending') inFlight.push(`${r.stage} (submit not answered yet)`);
    }
    if (inFlight.length > 0 && options.force !== true) {
      io.stderr.write(
        `faceswap-pipe: error: ${inFlight.length} job${inFlight.length === 1 ? ' is' : 's are'} still recorded as in flight: ${inFlight.slice(0, 5).join(', ')}${inFlight.length > 5 ? ', …' : ''}.\n` +
          `The service may still be running (and billing) ${inFlight.length === 1 ? 'it' : 'them'}; cleaning would forget ${inFlight.length === 1 ? 'it' : 'them'} and the next run would pay again.\n` +
          `Run the recipe once to follow ${inFlight.length === 1 ? 'it' : 'them'} up (faceswap-pipe run ${file}), or forget ${inFlight.length === 1 ? 'it' : 'them'} with clean --force.\n`,
      );
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
  io.stdout.write(hadState ? `removed ${shown(stateDir)}\n` : `no state to remove (${shown(stateDir)})\n`);
  if (!options.keepOutputs)
    io.stdout.write(hadOutputs ? `removed ${shown(outDir)}\n` : `no outputs to remove (${shown(outDir)})\n`);
  return ExitCode.ok;
}

/** The `name:` of a recipe file that parses, whatever else is wrong with it. */
async function recipeName(file: string, options: CleanOptions, io: CliIo): Promise<string | undefined> {
  const loaded = await loadRecipeFile(file, { cwd: io.cwd, maxBytes: options.maxRecipeSize });
  const name = isJsonObject(loaded.data) ? loaded.data['name'] : undefined;
  return typeof name === 'string' && name.length <= 100 && RECIPE_NAME.test(name) ? name : undefined;
}

/** The recipe schema's name pattern (it names folders). */
const RECIPE_NAME = /^[a-z0-9][a-z0-9-]*$/;
