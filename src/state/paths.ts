import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Where a recipe's state lives: `<state dir>/<recipe name>/`, the state dir being `--state-dir`
 * or `.faceswap/` next to the recipe file. Keeping it next to the recipe means the cache
 * follows the recipe (and a CI cache step can save one folder); add `.faceswap/` to .gitignore.
 */
export function recipeStateDir(options: {
  cwd: string;
  recipeFile: string;
  recipeName: string;
  stateDir?: string;
}): string {
  const base =
    options.stateDir !== undefined
      ? resolve(options.cwd, options.stateDir)
      : join(dirname(resolve(options.cwd, options.recipeFile)), '.faceswap');
  return join(base, options.recipeName);
}

/** The folder of run records in a recipe's output folder (so no stage may have this id). */
export const RUNS_FOLDER = 'runs';

/** `<out>/<recipe name>`: where a recipe's files and run records go. */
export function recipeOutDir(options: { cwd: string; out: string; recipeName: string }): string {
  return resolve(options.cwd, options.out, options.recipeName);
}

/**
 * How a recipe's state folder and output folder overlap, if they do (`--state-dir outputs`,
 * `--out .faceswap`, one nested in the other). They must not: `clean --keep-outputs` would
 * remove the outputs with the state, and a plain `clean` the state with the outputs, without
 * the lock and in-flight checks. Compared after resolving symbolic links of the part of each
 * path that exists, so a link to the other folder counts too.
 */
export function foldersOverlap(
  stateDir: string,
  outDir: string,
): 'same' | 'state-inside-outputs' | 'outputs-inside-state' | undefined {
  const state = realPath(stateDir);
  const out = realPath(outDir);
  if (state === out) return 'same';
  if (isInside(state, out)) return 'state-inside-outputs';
  if (isInside(out, state)) return 'outputs-inside-state';
  return undefined;
}

function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** The path with its longest existing ancestor's symbolic links resolved (the rest does not exist yet). */
function realPath(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) {
    try {
      return realpathSync.native(absolute);
    } catch {
      return absolute;
    }
  }
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(realPath(parent), basename(absolute));
}
