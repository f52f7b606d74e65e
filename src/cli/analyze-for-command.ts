import type { Catalog } from '../catalog/catalog.js';
import { analyzeRecipeFile } from '../recipe/analyze.js';
import { exitCategory, type Diagnostic } from '../recipe/diagnostic.js';
import type { Recipe } from '../recipe/types.js';
import { exitCodeFor } from './exit-codes.js';
import type { CliIo } from './io.js';
import type { RecipeOptions } from './options.js';
import { loadCatalog, printDiagnostics } from './recipe-io.js';

/**
 * What every command that reads one recipe does first: load the catalog, analyse the recipe
 * with the shared recipe options, print its diagnostics (warnings too), and either hand back
 * the checked recipe or the exit code the problems call for.
 */
export async function analyzeForCommand(
  file: string,
  options: RecipeOptions,
  io: CliIo,
  print: {
    readonly github?: boolean;
    /**
     * Missing local input files: `warn` prints them as warnings (plan, status: they read the
     * recipe, they need no file); `return` hands them back for the command to decide per stage
     * (run); otherwise they are errors, as `validate` has them.
     */
    readonly localFiles?: 'warn' | 'return';
  } = {},
): Promise<
  | {
      readonly recipe: Recipe;
      readonly catalog: Catalog;
      readonly missingLocalFiles: readonly { readonly stage: string; readonly diagnostic: Diagnostic }[];
    }
  | { readonly exit: number; readonly diagnostics?: readonly Diagnostic[] }
> {
  const catalog = loadCatalog(io, options.catalog);
  if ('exit' in catalog) return catalog;
  const analysis = await analyzeRecipeFile(file, {
    catalog,
    sets: options.set,
    maxBytes: options.maxRecipeSize,
    cwd: io.cwd,
    ...(options.engine && { engine: options.engine }),
    ...(options.allowInsecureLocal && { allowInsecureLocal: true }),
    ...(print.localFiles !== undefined && { deferLocalFiles: true }),
  });
  const missing = analysis.missingLocalFiles ?? [];
  const shown =
    print.localFiles === 'warn' && analysis.recipe
      ? [...analysis.diagnostics, ...missing.map((m) => ({ ...m.diagnostic, severity: 'warning' as const }))]
      : analysis.diagnostics;
  printDiagnostics(io, shown, true, print);
  if (!analysis.recipe)
    return { exit: exitCodeFor(exitCategory(analysis.diagnostics)), diagnostics: analysis.diagnostics };
  return {
    recipe: analysis.recipe,
    catalog,
    missingLocalFiles: print.localFiles === 'return' ? missing : [],
  };
}
