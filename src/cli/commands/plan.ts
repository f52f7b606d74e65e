import { buildPlan } from '../../plan/plan.js';
import { renderPlanJson, renderPlanMermaid, renderPlanText } from '../../report/plan-render.js';
import { unreachable } from '../../util/unreachable.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import type { Backend } from '../../catalog/model.js';
import type { RecipeOptions } from '../options.js';
import { analyzeForCommand } from '../analyze-for-command.js';

export interface PlanOptions extends RecipeOptions {
  readonly format: 'text' | 'json' | 'mermaid';
  /** Which engine `swap:` stages are routed for (`--engine`). */
  readonly engine?: Backend;
}

/** `faceswap-pipe plan <recipe>`: what a run would do, in order, without doing it. */
export async function planCommand(file: string, options: PlanOptions, io: CliIo): Promise<number> {
  const loaded = await analyzeForCommand(file, options, io, { localFiles: 'warn' });
  if ('exit' in loaded) return loaded.exit;
  const plan = buildPlan(loaded.recipe, loaded.catalog);
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
