import { buildPlan } from '../../plan/plan.js';
import { analyzeRecipeFile } from '../../recipe/analyze.js';
import { exitCategory } from '../../recipe/diagnostic.js';
import { renderPlanJson, renderPlanMermaid, renderPlanText } from '../../report/plan-render.js';
import { unreachable } from '../../util/unreachable.js';
import { ExitCode, exitCodeFor } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import type { Backend } from '../../catalog/model.js';
import type { RecipeOptions } from '../options.js';
import { loadCatalog, printDiagnostics } from '../recipe-io.js';

export interface PlanOptions extends RecipeOptions {
  readonly format: 'text' | 'json' | 'mermaid';
  /** Which engine `swap:` stages are routed for (`--engine`). */
  readonly engine?: Backend;
}

/** `faceswap-pipe plan <recipe>`: what a run would do, in order, without doing it. */
export async function planCommand(file: string, options: PlanOptions, io: CliIo): Promise<number> {
  const catalog = loadCatalog(io, options.catalog);
  if ('exit' in catalog) return catalog.exit;
  const analysis = await analyzeRecipeFile(file, {
    catalog,
    sets: options.set,
    maxBytes: options.maxRecipeSize,
    cwd: io.cwd,
    engine: options.engine,
    ...(options.allowInsecureLocal && { allowInsecureLocal: true }),
  });
  printDiagnostics(io, analysis.diagnostics);
  if (!analysis.recipe) return exitCodeFor(exitCategory(analysis.diagnostics));
  const plan = buildPlan(analysis.recipe, catalog);
  switch (options.format) {
    case 'text':
      io.stdout.write(renderPlanText(plan));
      break;
    case 'json':
      io.stdout.write(renderPlanJson(plan));
      break;
    case 'mermaid':
      io.stdout.write(renderPlanMermaid(plan));
      break;
    default:
      return unreachable(options.format);
  }
  return ExitCode.ok;
}
