import { analyzeRecipeFile } from '../../recipe/analyze.js';
import { exitCategory, hasErrors, type Diagnostic } from '../../recipe/diagnostic.js';
import { countSummary } from '../../report/diagnostics-text.js';
import { exitCodeFor } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import type { Backend } from '../../catalog/model.js';
import type { RecipeOptions } from '../options.js';
import { loadCatalog, printDiagnostics, printDiagnosticsJson } from '../recipe-io.js';

export interface ValidateOptions extends RecipeOptions {
  readonly format: 'text' | 'json';
  /** Which engine `swap:` stages are routed for (`--engine`). */
  readonly engine?: Backend;
}

/** `faceswap-pipe validate <recipe...>`: every problem of every recipe, then one exit code. */
export async function validateCommand(
  files: readonly string[],
  options: ValidateOptions,
  io: CliIo,
): Promise<number> {
  const catalog = loadCatalog(io, options.catalog);
  if ('exit' in catalog) return catalog.exit;
  const all: Diagnostic[] = [];
  for (const file of files) {
    const analysis = await analyzeRecipeFile(file, {
      catalog,
      sets: options.set,
      maxBytes: options.maxRecipeSize,
      cwd: io.cwd,
      engine: options.engine,
      ...(options.allowInsecureLocal && { allowInsecureLocal: true }),
    });
    all.push(...analysis.diagnostics);
    if (options.format === 'text') {
      printDiagnostics(io, analysis.diagnostics, false);
      if (!hasErrors(analysis.diagnostics) && analysis.recipe) {
        const count = analysis.recipe.stages.size;
        io.stdout.write(`ok ${file} (${analysis.recipe.name}: ${count} stage${count === 1 ? '' : 's'})\n`);
      }
    }
  }
  if (options.format === 'json') printDiagnosticsJson(io, all);
  else if (all.length > 0) {
    const failing = new Set(all.filter((d) => d.severity === 'error').map((d) => d.location?.file.path)).size;
    const where = files.length > 1 && failing > 0 ? ` in ${failing} of ${files.length} recipes` : '';
    io.stderr.write(`${countSummary(all)}${where}\n`);
  }
  return exitCodeFor(exitCategory(all));
}
