import type { RuncomfyClient } from '../backends/runcomfy/client.js';
import type { Plan } from '../plan/plan.js';
import { isJsonObject } from '../util/json.js';

/**
 * `run --dry-run`: everything up to the client call. For each stage, the exact command line
 * and the body it would get on stdin (one per item of a `foreach` known before running);
 * values that depend on earlier stages are shown as the expressions that will fill them.
 * Stages of the offline engine show their input and make no client call.
 */
export function renderDryRun(plan: Plan, client: RuncomfyClient): string {
  let out = `${plan.recipe.name}: dry run, no model is called\n`;
  plan.stages.forEach((stage, i) => {
    const body = isJsonObject(stage.input) ? stage.input : {};
    // A routed batch knows each call's body before running (one per chunk or scene).
    const bodies = (stage.bodies ?? [body]).map((b) => (isJsonObject(b) ? b : {}));
    const calls =
      stage.calls === undefined
        ? 'one call per foreach item'
        : stage.calls === 1
          ? '1 call'
          : `${stage.calls} calls`;
    out += `\n${i + 1}. ${stage.id} (${calls}${stage.dependsOn.length ? `, after ${stage.dependsOn.join(', ')}` : ''})\n`;
    if (stage.backend === 'local') {
      // The offline engine runs in this process's worker: no client, no command line.
      out += `   offline engine (${stage.model}), no runcomfy call\n`;
      for (const b of bodies) out += `   input: ${JSON.stringify(b)}\n`;
      return;
    }
    const invocation = client.submitInvocation(stage.model, body);
    out += `   $ ${[invocation.file, ...invocation.args].map(shellQuote).join(' ')}\n`;
    for (const b of bodies) out += `   stdin: ${JSON.stringify(b)}\n`;
  });
  return out;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
