import type { RuncomfyClient } from '../backends/runcomfy/client.js';
import type { Plan, PlannedStage } from '../plan/plan.js';
import type { CachePlan } from '../run/cache-plan.js';
import { isJsonObject } from '../util/json.js';

/**
 * `run --dry-run`: everything up to the client call, for the same selection and cache the run
 * would use. For each stage that would call a model, the exact command line and the body it
 * would get on stdin (one per item of a `foreach` known before running), and why it runs;
 * values that depend on earlier stages are shown as the expressions that will fill them.
 * Stages served from the cache, or left out by --only/--from/--until, say so and show no call.
 * Stages of the offline engine show their input and make no client call.
 */
export function renderDryRun(plan: Plan, client: RuncomfyClient, cache?: CachePlan): string {
  let out = `${plan.recipe.name}: dry run, no model is called\n`;
  let calls = 0;
  let unknownCalls = false;
  let cached = 0;
  let skipped = 0;
  plan.stages.forEach((stage, i) => {
    const decision = cache?.decisions.get(stage.id);
    const after = stage.dependsOn.length ? `, after ${stage.dependsOn.join(', ')}` : '';
    if (decision?.kind === 'not-selected') {
      skipped++;
      out += `\n${i + 1}. ${stage.id}: not selected (--only, --from, --until), not run\n`;
      return;
    }
    if (decision?.kind === 'cached') {
      cached++;
      const files = decision.files.length;
      out += `\n${i + 1}. ${stage.id}: cached, no call (the result of an earlier run${files ? `, ${files} file${files === 1 ? '' : 's'}` : ''})\n`;
      return;
    }
    if (stage.calls === undefined) unknownCalls = true;
    else if (stage.backend !== 'local') calls += stage.calls;
    out += `\n${i + 1}. ${stage.id} (${callCount(stage)}${after})\n`;
    if (decision?.kind === 'run') out += `   runs: ${decision.why}\n`;
    const body = isJsonObject(stage.input) ? stage.input : {};
    // A routed batch knows each call's body before running (one per chunk or scene).
    const bodies = (stage.bodies ?? [body]).map((b) => (isJsonObject(b) ? b : {}));
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
  const callText = `${calls}${unknownCalls ? '+' : ''} runcomfy call${calls === 1 && !unknownCalls ? '' : 's'}`;
  const parts = [`would make ${callText}`];
  if (cached > 0) parts.push(`${cached} stage${cached === 1 ? '' : 's'} cached`);
  if (skipped > 0) parts.push(`${skipped} not selected`);
  out += `\n${parts.join('; ')}${unknownCalls ? ' (a foreach list known only at run time adds one call per item)' : ''}\n`;
  return out;
}

function callCount(stage: PlannedStage): string {
  if (stage.calls === undefined) return 'one call per foreach item';
  return stage.calls === 1 ? '1 call' : `${stage.calls} calls`;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
