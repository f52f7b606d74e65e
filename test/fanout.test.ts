/**
 * `foreach` fan-out through the executor, against the runcomfy stand-in: 40 items at
 * concurrency 4 with two scripted failures on one item, then success; a permanently failing
 * item that fails its stage (dependents skipped) while the other items' outputs and files are
 * kept. Which item meets a scripted step is up to the scheduler, so each test finds it in the
 * invocation log by the body it sent (every item's body names its own scene).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogRecord } from './standin/harness.js';
import { jobIntervals, maxOverlap, sandbox, type RunnerSandbox } from './helpers/runner.js';

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const NANO = 'google/nano-banana-2/edit';
const FAST = { queueMs: 0, runMs: 0 };

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

const scene = (i: number) => `https://assets.example.com/scenes/scene-${String(i).padStart(2, '0')}.jpg`;

function fanOutRecipe(items: number, extra = ''): string {
  const list = Array.from({ length: items }, (_, i) => `      - ${scene(i)}\n`).join('');
  return `version: 1
name: fanout
consent:
  subjects:
    mara: {release: REL-7}
  assets: [{match: "https://assets.example.com/**", rights: owned}]
  disclosure: {label: AI-generated}
${extra}stages:
  many:
    model: ${KONTEXT}
    subjects: [mara]
    foreach:
${list}    input:
      prompt: Change only the face, job \${{ index }}
      image: \${{ item }}
  after:
    model: ${KONTEXT}
    subjects: [mara]
    input:
      prompt: Change only the face again
      image: \${{ stages.many.outputs[0].images[0] }}
`;
}

/** The item a log record's body belongs to. */
function itemOf(record: LogRecord): number {
  const image = (record.body as { image: string }).image;
  return Number(/scene-(\d+)\.jpg$/.exec(image)?.[1] ?? NaN);
}

describe('foreach', () => {
  it('--dry-run shows the body of each item when the list is known before running', async () => {
    sb = sandbox();
    const recipe = sb.recipe('fanout.yaml', fanOutRecipe(3));
    const result = await sb.run(['run', recipe, '--dry-run']);
    expect(result.code).toBe(0);
    expect(sb.standin.readLog()).toEqual([]);
    for (let i = 0; i < 3; i++)
      expect(result.stdout).toContain(
        `stdin: {"prompt":"Change only the face, job ${i}","image":"${scene(i)}"}`,
      );
    expect(result.stdout).not.toContain('${{ item }}');
  });

  it('runs 40 items at concurrency 4; an item that fails twice then succeeds is followed, not resubmitted', async () => {
    // The first submission's job fails its first two result calls (HTTP 503, exit 69): the
    // runner asks again (free, within the attempt), and the third call fetches the result.
    sb = sandbox({
      models: {
        [KONTEXT]: {
          base: FAST,
          steps: [{ ...FAST, faults: [{ on: 'result', call: [1, 2], error: 69 }] }],
        },
      },
    });
    const recipe = sb.recipe('fanout.yaml', fanOutRecipe(40));
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--concurrency', '4']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const subs = sb.submissions();
    expect(subs).toHaveLength(41); // 40 items, then "after"; nothing paid twice
    const items = subs.filter((s) => (s.body as { prompt: string }).prompt.includes('job '));
    expect(items.map(itemOf).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const unlucky = items.find((s) => s.submission?.index === 0)!;
    const k = itemOf(unlucky);
    expect((unlucky.body as { prompt: string }).prompt).toBe(`Change only the face, job ${k}`);

    // A job's life in the log runs from its submit to its last status call, so the retried job's backoff
    // (when it holds no slot) would count as running: measure the other 39.
    const jobs = jobIntervals(sb.standin.readLog());
    jobs.delete(unlucky.request_id!);
    expect(maxOverlap(jobs.values())).toBeLessThanOrEqual(4);
    expect(maxOverlap(jobs.values())).toBeGreaterThan(1);

    const record = sb.runRecord('fanout');
    const many = record.stages['many']!;
    expect(many.status).toBe('succeeded');
    const attempts = many.attempts as unknown as {
      item: number;
      outcome: string;
      reason?: string;
      reattached: boolean;
      requestId: string;
    }[];
    expect(attempts).toHaveLength(40);
    const mine = attempts.filter((a) => a.item === k);
    expect(mine.map((a) => [a.outcome, a.reason ?? null, a.reattached])).toEqual([
      ['succeeded', null, false],
    ]);
    expect(
      sb.standin.readLog().filter((r) => r.command === 'result' && r.request_id === unlucky.request_id),
    ).toHaveLength(3);
    expect(new Set(mine.map((a) => a.requestId))).toEqual(new Set([unlucky.request_id]));
    // Outputs are the per-item outputs in item order, whatever order the jobs finished in.
    const idOf = new Map(items.map((s) => [itemOf(s), s.request_id!]));
    expect(many.outputs).toEqual(
      Array.from({ length: 40 }, (_, i) => ({
        images: [`https://files.runcomfy.net/${idOf.get(i)}/result.png`],
      })),
    );
    expect(many.files).toEqual(Array.from({ length: 40 }, (_, i) => `many/${idOf.get(i)}/result.png`));
    expect(record.stages['after']!.status).toBe('succeeded');
    const after = subs.find((s) => !(s.body as { prompt: string }).prompt.includes('job '))!;
    expect((after.body as { image: string }).image).toBe(
      `https://files.runcomfy.net/${idOf.get(0)}/result.png`,
    );
  });

  it('retries a rate-limited submit of one item twice (per-model concurrency 1), then succeeds', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: FAST, steps: [75, 75] } } });
    const recipe = sb.recipe('fanout.yaml', fanOutRecipe(8, `defaults:\n  concurrency_per_model: 1\n`));
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--concurrency', '4']);
    expect(result.code).toBe(0);
    const runs = sb.standin.readLog().filter((r) => r.command === 'run');
    // The two 75s were both item 0's submits (one job at a time, item 0 first); no job was created for them.
    expect(runs.slice(0, 3).map((r) => [itemOf(r), r.exit, r.created])).toEqual([
      [0, 75, false],
      [0, 75, false],
      [0, 0, true],
    ]);
    expect(sb.submissions()).toHaveLength(9);
    const attempts = sb.runRecord('fanout').stages['many']!.attempts as unknown as {
      item: number;
      outcome: string;
      reason?: string;
    }[];
    expect(attempts.filter((a) => a.item === 0).map((a) => [a.outcome, a.reason ?? null])).toEqual([
      ['failed', 'rate-limited'],
      ['failed', 'rate-limited'],
      ['succeeded', null],
    ]);
  });

  it('a permanently failing item fails the stage and skips its dependents, while the other items finish and are kept', async () => {
    sb = sandbox({
      models: { [KONTEXT]: { base: FAST, steps: [{ ...FAST, status: 'failed', error: 'face not found' }] } },
    });
    const recipe = sb.recipe('fanout.yaml', fanOutRecipe(40));
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--concurrency', '4']);
    expect(result.code).toBe(1);
    const subs = sb.submissions();
    expect(subs).toHaveLength(40); // no retry of a failed job without retry_on: [failed]; "after" never runs
    const failed = subs.find((s) => s.submission?.index === 0)!;
    const k = itemOf(failed);

    const record = sb.runRecord('fanout');
    const many = record.stages['many']!;
    expect(many.status).toBe('failed');
    expect(many.failure).toMatchObject({ reason: 'job-failed' });
    expect(many.failure!.message).toMatch(new RegExp(`^1 of 40 items failed; item ${k}: `));
    const outputs = many.outputs as unknown[];
    expect(outputs).toHaveLength(40);
    expect(outputs.map((o, i) => (o === null ? i : -1)).filter((i) => i >= 0)).toEqual([k]);
    expect(many.files).toHaveLength(39);
    for (const file of many.files) {
      expect(existsSync(join(sb.standin.dir, 'outputs/fanout', file))).toBe(true);
      // The items that succeeded are labelled and recorded like any output, failed stage or not.
      expect(existsSync(join(sb.standin.dir, 'outputs/fanout', `${file}.provenance.json`))).toBe(true);
    }
    const runs = join(sb.standin.dir, 'outputs/fanout/runs');
    const manifest = JSON.parse(
      readFileSync(join(runs, readdirSync(runs).sort().at(-1)!, 'manifest.json'), 'utf8'),
    ) as { outputs: { file: string; stage: string }[] };
    expect(manifest.outputs.filter((o) => o.stage === 'many')).toHaveLength(39);
    expect(record.stages['after']).toMatchObject({ status: 'skipped', reason: 'dependency-failed' });
  });

  it('a re-run after a failed item runs only that item; the others are reported cached, not unfinished', async () => {
    sb = sandbox({
      models: { [KONTEXT]: { base: FAST, steps: [{ ...FAST, status: 'failed', error: 'face not found' }] } },
    });
    const recipe = sb.recipe('fanout.yaml', fanOutRecipe(4));
    const first = await sb.run(['run', recipe, '--reporter', 'plain', '--concurrency', '1']);
    expect(first.code).toBe(1);
    const junit = join(sb.standin.dir, 'junit.xml');
    const again = await sb.run(['run', recipe, '--reporter', 'plain', '--junit', junit]);
    expect(again.code).toBe(0);
    expect(sb.submissions()).toHaveLength(4 + 1 + 1); // the failed item and "after", once more
    const xml = readFileSync(junit, 'utf8');
    expect(xml).not.toContain('<skipped');
    expect(xml).toMatch(/<testsuite [^>]*skipped="0"/);
    const runs = join(sb.standin.dir, 'outputs/fanout/runs');
    const html = readFileSync(join(runs, readdirSync(runs).sort().at(-1)!, 'report.html'), 'utf8');
    expect(html).toContain('4 items: 1 succeeded, 3 cached.');
    expect(html).not.toContain('not finished');
  });
});

describe('a fan-out stage that fails again', () => {
  it('reports the items it took from the cache as cached, not unfinished', async () => {
    const fail = { ...FAST, status: 'failed', error: 'face not found' };
    sb = sandbox({ models: { [KONTEXT]: { base: FAST, steps: [fail, FAST, FAST, FAST, fail] } } });
    const recipe = sb.recipe('fanout.yaml', fanOutRecipe(4));
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--concurrency', '1'])).code).toBe(1);
    const junit = join(sb.standin.dir, 'junit.xml');
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--junit', junit])).code).toBe(1);
    expect(sb.submissions()).toHaveLength(5);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).not.toContain('this item did not finish');
    expect((xml.match(/<failure /g) ?? []).length).toBe(1);
  });
});

describe('swap stages over lists known only at run time', () => {
  it("goes one call per scene over an upstream stage's images, identity first, and merges in order", async () => {
    const NANO = 'google/nano-banana-2/edit';
    const three = { images: [1, 2, 3].map((n) => `https://files.runcomfy.net/{request_id}/${n}.png`) };
    sb = sandbox({ models: { [NANO]: { base: { ...FAST, output: three } } } });
    const recipe = sb.recipe(
      'relay.yaml',
      `version: 1
name: relay
vars:
  face: https://assets.example.com/ana/face.jpg
consent:
  subjects:
    ana: {release: REL-1, images: ["https://assets.example.com/ana/**"]}
  assets: [{match: "https://assets.example.com/**", rights: owned}]
  disclosure: {label: AI-generated}
stages:
  batch:
    subjects: [ana]
    swap:
      identity: \${{ vars.face }}
      scene: [https://assets.example.com/1.jpg, https://assets.example.com/2.jpg, https://assets.example.com/3.jpg]
  again:
    subjects: [ana]
    swap:
      identity: \${{ vars.face }}
      scene: \${{ stages.batch.outputs.images }}
`,
    );
    const plan = await sb.run(['plan', recipe]);
    expect(plan.stdout).toContain('2  again  google/nano-banana-2/edit  batch  ?      2 / 15m\n');
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const subs = sb.submissions();
    expect(subs).toHaveLength(4);
    const first = subs[0]!;
    const upstream = [1, 2, 3].map((n) => `https://files.runcomfy.net/${first.request_id}/${n}.png`);
    const again = subs.slice(1);
    expect(again.map((s) => (s.body as { image_urls: string[] }).image_urls).sort()).toEqual(
      upstream.map((u) => ['https://assets.example.com/ana/face.jpg', u]),
    );
    const byScene = upstream.map((u) =>
      again.find((s) => (s.body as { image_urls: string[] }).image_urls[1] === u)!,
    );
    expect(sb.runRecord('relay').stages['again']!.outputs).toEqual({
      images: byScene.flatMap((s) =>
        [1, 2, 3].map((n) => `https://files.runcomfy.net/${s.request_id}/${n}.png`),
      ),
    });
  });

  it('items that send the very same request are still one job each: paid once each, cached each', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: FAST } } });
    // "Make three": nothing in the input depends on the item.
    const recipe = sb.recipe(
      'three.yaml',
      `version: 1
name: three
stages:
  variants:
    model: ${KONTEXT}
    foreach: [a, b, c]
    input:
      prompt: Change only the face to a woman with freckles
      image: ${scene(1)}
`,
    );
    const first = await sb.run(['run', recipe, '--reporter', 'plain', '--concurrency', '3']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(sb.submissions()).toHaveLength(3);
    const files = (record: ReturnType<RunnerSandbox['runRecord']>) => record.stages['variants']!.files;
    const made = files(sb.runRecord('three'));
    expect(new Set(made).size).toBe(3);
    // Unchanged: no call, and each item gets its own result back, not the first one's three times.
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    expect(sb.submissions()).toHaveLength(3);
    expect(files(sb.runRecord('three'))).toEqual(made);
  });

  it('two stages that send the very same request share one job', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 300 } } } });
    const stage = (id: string) =>
      `  ${id}:\n    model: ${KONTEXT}\n    input:\n      prompt: Change only the face\n      image: ${scene(2)}\n`;
    const recipe = sb.recipe(
      'twins.yaml',
      `version: 1\nname: twins\nstages:\n${stage('left')}${stage('right')}`,
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    const record = sb.runRecord('twins');
    expect(record.stages['left']!.outputs).toEqual(record.stages['right']!.outputs);
  });

  it('--force on one of two stages that share a request re-runs both now, so nothing is left stale for a later run', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: FAST } } });
    const stage = (id: string) =>
      `  ${id}:\n    model: ${KONTEXT}\n    input:\n      prompt: Change only the face\n      image: ${scene(5)}\n`;
    const after = (id: string, up: string) =>
      `  ${id}:\n    model: ${KONTEXT}\n    input:\n      prompt: Relight ${id}\n      image: \${{ stages.${up}.outputs.images[0] }}\n`;
    // A fan-out whose first item is the very same request too; its second item is its own.
    const fan = `  fan:\n    model: ${KONTEXT}\n    foreach: [${scene(5)}, ${scene(6)}]\n    input:\n      prompt: Change only the face\n      image: \${{ item }}\n`;
    const recipe = sb.recipe(
      'forced-twins.yaml',
      `version: 1\nname: forced-twins\nstages:\n${stage('left')}${stage('right')}${fan}${after('after-left', 'left')}${after('after-right', 'right')}`,
    );
    const first = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(sb.submissions()).toHaveLength(4);

    const dry = await sb.run(['run', recipe, '--dry-run', '--force', 'left']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      'it sends the same request as stage "left", which is forced (--force): one job for both',
    );
    expect(dry.stdout).toContain(
      'takes the new job of stage "left" (the very same request), no call of its own',
    );
    expect(dry.stdout).toContain('would make 3 runcomfy calls');
    const forced = await sb.run(['run', recipe, '--reporter', 'plain', '--force', 'left']);
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    // One new job for the three requests, both dependents re-run with it; the fan-out's own item stays cached.
    expect(sb.submissions()).toHaveLength(7);
    const record = sb.runRecord('forced-twins');
    expect(record.stages['right']!.outputs).toEqual(record.stages['left']!.outputs);
    // Nothing is stale afterwards: the next run is all cached.
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    expect(sb.submissions()).toHaveLength(7);
  });

  it("a fan-out stage whose items all take a twin stage's results finishes once, and its dependents wait for the rest", async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: FAST }, [NANO]: { base: { queueMs: 0, runMs: 1200 } } } });
    const fan = (id: string) =>
      `  ${id}:\n    model: ${KONTEXT}\n    foreach: [a, b]\n    input:\n      prompt: Change only the face\n      image: ${scene(3)}\n`;
    const recipe = sb.recipe(
      'twinfan.yaml',
      `version: 1\nname: twinfan\nstages:\n${fan('left')}${fan('right')}` +
        `  slow:\n    model: ${NANO}\n    input:\n      prompt: Change only the face\n      image_urls: [${scene(4)}]\n` +
        `  final:\n    model: ${KONTEXT}\n    needs: [left]\n    input:\n      prompt: Change only the face\n      image: \${{ stages.slow.outputs.images[0] }}\n`,
    );
    const result = await sb.run(['run', recipe, '--reporter', 'json', '--concurrency', '1']);
    expect(result.code, result.stderr).toBe(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; stage?: string });
    for (const id of ['left', 'right', 'slow', 'final'])
      expect(
        events.filter((e) => e.type === 'stage-succeeded' && e.stage === id),
        id,
      ).toHaveLength(1);
    // Two identical foreach stages: two jobs (one per item), shared by both stages.
    expect(sb.submissions().filter((r) => r.model === KONTEXT)).toHaveLength(3);
  });
});
