import type { Backend } from '../../catalog/model.js';
import { buildPlan } from '../../plan/plan.js';
import { analyzeRecipeFile } from '../../recipe/analyze.js';
import { exitCategory } from '../../recipe/diagnostic.js';
import { renderRouteJson, renderRouteText } from '../../report/route-render.js';
import { didYouMean } from '../../util/suggest.js';
import { unreachable } from '../../util/unreachable.js';
import { ExitCode, exitCodeFor } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import type { RecipeOptions } from '../options.js';
import { loadCatalog, printDiagnostics } from '../recipe-io.js';

export interface RouteOptions extends RecipeOptions {
  readonly format: 'text' | 'json';
  readonly engine: Backend;
}

/**
 * `faceswap-pipe route <recipe> [stage]`: why each stage runs the model it runs. For a `swap:`
 * stage: the inputs seen and their kinds, the rule that fired, the model, the calls, and the
 * routes not taken with the reason; a stage written with `model:` + `input:` says so.
 */
export async function routeCommand(
  file: string,
  stage: string | undefined,
  options: RouteOptions,
  io: CliIo,
): Promise<number> {
  const catalog = loadCatalog(io, options.catalog);
  if ('exit' in catalog) return catalog.exit;
  const analysis = await analyzeRecipeFile(file, {
    catalog,
    sets: options.set,
    maxBytes: options.maxRecipeSize,
    cwd: io.cwd,
    engine: options.engine,
  });
  printDiagnostics(io, analysis.diagnostics);
  if (!analysis.recipe) return exitCodeFor(exitCategory(analysis.diagnostics));
  const plan = buildPlan(analysis.recipe, catalog);
  // In the order written, which is how a reader looks for a stage.
  const written = [...analysis.recipe.stages.keys()];
  let stages = written.map((id) => plan.stages.find((s) => s.id === id)!);
  if (stage !== undefined) {
    stages = stages.filter((s) => s.id === stage);
    if (stages.length === 0) {
      const hint = didYouMean(stage, written) || ` (it has ${written.map((s) => `"${s}"`).join(', ')})`;
      io.stderr.write(`faceswap-pipe: error: ${file} has no stage "${stage}"${hint}\n`);
      return ExitCode.usage;
    }
  }
  switch (options.format) {
    case 'text':
      io.stdout.write(renderRouteText(plan, stages));
      break;
    case 'json':
      io.stdout.write(renderRouteJson(plan, stages));
      break;
    default:
      return unreachable(options.format);
  }
  return ExitCode.ok;
}
