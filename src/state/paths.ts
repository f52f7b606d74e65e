import { dirname, join, resolve } from 'node:path';

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
