import { describe, expect, it } from 'vitest';
import type { AttemptOutcome, Backend } from '../src/backends/backend.js';
import { Catalog } from '../src/catalog/catalog.js';
import { buildPlan } from '../src/plan/plan.js';
import { analyzeLoaded } from '../src/recipe/analyze.js';
import { parseRecipeText } from '../src/recipe/load.js';
import { Executor } from '../src/run/executor.js';
import type { RunEvent } from '../src/run/events.js';
import { consented } from './helpers/runner.js';

const RECIPE = `version: 1
name: one
defaults:
  retries: 2
stages:
  face:
    model: blackforestlabs/flux-1-kontext/pro/edit
    input:
      prompt: Change only the face
      image: https://assets.example.com/ana.jpg
`;

/**
 * One stage whose first submit is rate limited and whose retry succeeds, with a clock that
 * moves on by 1 ms each time it is read (a busy machine: time passes between any two reads).
 * The retry is due `delayMs` after the failure.
 */
async function runRateLimited(delayMs: number): Promise<string> {
  const catalog = Catalog.load();
  const analysis = analyzeLoaded(parseRecipeText('one.yaml', consented(RECIPE)), { catalog, cwd: '/tmp' });
  expect(analysis.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const recipe = analysis.recipe!;
  let calls = 0;
  const backend: Backend = {
    runAttempt: (): Promise<AttemptOutcome> =>
      Promise.resolve(
        ++calls === 1
          ? {
              kind: 'failed',
              failure: { reason: 'rate-limited', message: 'rate limited (429)', exitCode: 75 },
            }
          : { kind: 'succeeded', requestId: 'req-1', output: { images: [] }, files: [] },
      ),
    cancel: () => Promise.resolve('cancelled'),
  };
  let clock = 1_000_000;
  /** Real time (ms) of each event, by type: when the retry was queued and when it started. */
  const seen: { type: RunEvent['type']; at: number }[] = [];
  const run = new Executor({
    recipe,
    plan: buildPlan(recipe, catalog),
    catalog,
    backendFor: () => backend,
    outDir: '/tmp/executor-timer-test',
    concurrency: 4,
    failFast: false,
    signal: new AbortController().signal,
    // Full jitter with random() = 1: the first retry waits exactly baseMs.
    backoff: { baseMs: delayMs, capMs: 60_000, random: () => 1 },
    emit: (e) => seen.push({ type: e.type, at: performance.now() }),
    journal: { submitted: () => Promise.resolve(), stageFinished: () => Promise.resolve() },
    now: () => clock++,
  }).run();
  const timeout = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5_000).unref());
  const outcome = await Promise.race([run.then(() => 'finished' as const), timeout]);
  if (outcome === 'hung') return 'hung';
  expect((await run).status).toBe('succeeded');
  expect(calls).toBe(2);
  // Started when due (a few ms), not found later by some periodic look (a second or more).
  const retry = seen.find((e) => e.type === 'stage-retry')!.at;
  const second = seen.filter((e) => e.type === 'stage-attempt')[1]!.at;
  return second - retry < 500 ? 'finished' : `retried late (${Math.round(second - retry)} ms)`;
}

describe('executor: a rate-limited job waiting for its retry', () => {
  it("is started when its time comes, however the clock moves between the scheduler's looks", async () => {
    const outcomes: string[] = [];
    for (let delayMs = 0; delayMs <= 8; delayMs++)
      outcomes.push(`${delayMs}: ${await runRateLimited(delayMs)}`);
    expect(outcomes).toEqual(Array.from({ length: 9 }, (_, d) => `${d}: finished`));
  });
});
