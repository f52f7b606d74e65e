import type { RuncomfyClient } from '../backends/runcomfy/client.js';
import type { Plan } from '../plan/plan.js';
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
  let followed = 0;
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
    // The bodies as the cache plan resolved them (its upstream stages are cached, so their
    // results fill the expressions), else as far as the plan knows them: a routed batch knows
    // each call's body (one per chunk or scene); expressions on other stages stay as written.
    const all = decision?.kind === 'run' ? decision.bodies : undefined;
    // Where the job records were read, only new submissions are calls: cached items are not
    // run, and jobs of an earlier run are followed (status, result), not paid for again.
    const jobs = decision?.kind === 'run' ? decision.jobs : undefined;
    const known = all && jobs ? all.filter((_, j) => jobs[j]?.kind === 'submit') : all;
    const follows = (jobs ?? []).filter((j) => j.kind === 'follow');
    const shared = (jobs ?? []).flatMap((j) => (j.kind === 'shared' ? [j.stage] : []));
    followed += follows.length;
    const count = known ? known.length : stage.calls;
    // The offline engine makes no runcomfy call, known or not.
    if (stage.backend !== 'local') {
      if (count === undefined) unknownCalls = true;
      else calls += count;
    }
    out += `\n${i + 1}. ${stage.id} (${callCount(count)}${after})\n`;
    if (decision?.kind === 'run') out += `   runs: ${decision.why}\n`;
    for (const job of follows)
      out += `   follows ${job.kind === 'follow' && job.requestId ? `job ${job.requestId}` : 'the submission'} of an earlier run (${job.kind === 'follow' && job.why === 'files-missing' ? 'its files are fetched again' : 'still in flight'}), no new job\n`;
    for (const other of new Set(shared))
      out += `   takes the new job of stage "${other}" (the very same request), no call of its own\n`;
    if (known && known.length === 0) return;
    const planned = isJsonObject(stage.input) ? stage.input : {};
    const bodies = (known ?? stage.bodies ?? [planned]).map((b) => (isJsonObject(b) ? b : {}));
    const body = known ? (bodies[0] ?? planned) : planned;
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
  if (followed > 0)
    parts.push(`${followed} job${followed === 1 ? '' : 's'} of an earlier run followed, not paid again`);
  if (cached > 0) parts.push(`${cached} stage${cached === 1 ? '' : 's'} cached`);
  if (skipped > 0) parts.push(`${skipped} not selected`);
  out += `\n${parts.join('; ')}${unknownCalls ? ' (a foreach list known only at run time adds one call per item)' : ''}\n`;
  return out;
}

function callCount(calls: number | undefined): string {
  if (calls === undefined) return 'one call per foreach item';
  return calls === 1 ? '1 call' : `${calls} calls`;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
