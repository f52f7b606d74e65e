/**
 * Every example recipe in recipes/ that runs on RunComfy, run end to end against the runcomfy
 * stand-in: it exits 0, and what `plan --format json` said (model, number of calls, the body
 * of each call) is what the invocation log shows was sent. `route` prints a decision for every
 * stage. (recipes/local-demo.yaml runs on the offline engine: test/local-run.test.ts.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const FAST = { models: { default: { base: { queueMs: 0, runMs: 0 } } } };

interface PlannedJson {
  id: string;
  model: string;
  backend: string;
  calls: number;
  input: unknown;
  route?: { bodies: unknown[] | null; model: string };
}

const recipes = readdirSync(new URL('../recipes/', import.meta.url))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

async function planOf(file: string): Promise<{ recipe: string; stages: PlannedJson[] }> {
  const result = await runCli(['plan', `recipes/${file}`, '--format', 'json'], { cwd: root });
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as { recipe: string; stages: PlannedJson[] };
}

/** A planned body with `${{ stages.X.outputs.… }}` filled from the run record. */
function fill(planned: unknown, outputs: Record<string, unknown>): unknown {
  if (typeof planned === 'string') {
    const m = /^\$\{\{ stages\.([a-z][a-z0-9_-]*)\.outputs\.images\[(\d+)\] \}\}$/.exec(planned);
    if (m) return (outputs[m[1]!] as { images: string[] }).images[Number(m[2])];
    expect(planned).not.toContain('${{');
    return planned;
  }
  if (Array.isArray(planned)) return planned.map((p) => fill(p, outputs));
  if (planned !== null && typeof planned === 'object')
    return Object.fromEntries(Object.entries(planned).map(([k, v]) => [k, fill(v, outputs)]));
  return planned;
}

/** The route each pattern's recipe documents: stage -> [model, calls]. */
const ROUTES: Record<string, Record<string, [string, number]>> = {
  'brand-spokesperson.yaml': { spokesperson: ['community/wan-2-2-animate/api', 1] },
  'sku-gallery.yaml': { gallery: ['google/nano-banana-2/edit', 3] },
  'stylized-character.yaml': { performance: ['kling/kling-2-6/motion-control-pro', 1] },
  'hero-still.yaml': { hero: ['openai/gpt-image-2/edit', 1] },
  'face-from-description.yaml': { face: ['blackforestlabs/flux-1-kontext/pro/edit', 1] },
  'describe-then-dance.yaml': {
    face: ['blackforestlabs/flux-1-kontext/pro/edit', 1],
    motion: ['kling/kling-2-6/motion-control-pro', 1],
  },
};

const sortJson = (list: unknown[]) => list.map((b) => JSON.stringify(b)).sort();

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

describe('example recipes against the stand-in', () => {
  it("covers the brief's patterns", () => {
    expect(recipes).toEqual(
      expect.arrayContaining([
        'brand-spokesperson.yaml',
        'sku-gallery.yaml',
        'stylized-character.yaml',
        'hero-still.yaml',
        'face-from-description.yaml',
        'kontext-to-kling.yaml',
        'describe-then-dance.yaml',
      ]),
    );
  });

  for (const file of recipes) {
    it(`${file}: runs to exit 0, sending what plan said`, async () => {
      const plan = await planOf(file);
      if (plan.stages.some((s) => s.backend !== 'runcomfy')) return; // the offline engine's recipes
      for (const [id, [model, calls]] of Object.entries(ROUTES[file] ?? {}))
        expect(
          plan.stages.find((s) => s.id === id),
          id,
        ).toMatchObject({ model, calls, route: { model } });
      sb = sandbox(FAST);
      const recipe = sb.recipe(file, readFileSync(new URL(`../recipes/${file}`, import.meta.url), 'utf8'));
      const result = await sb.run(['run', recipe, '--reporter', 'plain']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const record = sb.runRecord(plan.recipe);
      expect(record.status).toBe('succeeded');
      const outputs = Object.fromEntries(Object.entries(record.stages).map(([id, s]) => [id, s.outputs]));
      const subs = sb.submissions();
      expect(subs).toHaveLength(plan.stages.reduce((n, s) => n + s.calls, 0));
      for (const stage of plan.stages) {
        const mine = subs.filter((s) =>
          record.stages[stage.id]!.attempts.some((a) => a.requestId === s.request_id),
        );
        expect(mine, stage.id).toHaveLength(stage.calls);
        for (const s of mine) expect(s.model).toBe(stage.model);
        const bodies = stage.route ? stage.route.bodies! : [stage.input];
        expect(sortJson(mine.map((s) => s.body)), stage.id).toEqual(
          sortJson(bodies.map((b) => fill(b, outputs))),
        );
      }
    });

    it(`${file}: route prints a decision for every stage`, async () => {
      const result = await runCli(['route', `recipes/${file}`], { cwd: root });
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const plan = await planOf(file);
      for (const stage of plan.stages) {
        expect(result.stdout).toContain(`\n${stage.id}: ${stage.model}, `);
        if (stage.route)
          expect(result.stdout).toMatch(
            new RegExp(`\\n${stage.id}: [^\\n]+\\n  wanted: {3}a (still|video) `),
          );
      }
    });
  }
});
