/**
 * Batch chunking end to end, against the runcomfy stand-in: the SKU-gallery recipe's 45 scenes
 * become exactly 3 Nano Banana 2 calls (in the invocation log and in `plan`), each with the
 * identity first and 15 scenes in order; the merged `images` come back in scene (= chunk)
 * order. A pinned GPT Image 2 batch goes one call per scene with [scene, identity].
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const NANO = 'google/nano-banana-2/edit';
const GPT = 'openai/gpt-image-2/edit';
const FAST = { models: { default: { base: { queueMs: 0, runMs: 0 } } } };

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

interface PlanJson {
  totalCalls: number;
  stages: {
    id: string;
    model: string;
    calls: number;
    route?: { bodies: Record<string, unknown>[]; chunks: number[][] };
  }[];
}

describe('the SKU gallery: 45 scenes in 3 Nano Banana 2 calls', () => {
  const text = readFileSync(new URL('../recipes/sku-gallery.yaml', import.meta.url), 'utf8');
  const scenes = [...text.matchAll(/^ {8}- (https:\S+)$/gm)].map((m) => m[1]!);
  const identity = 'https://assets.example.com/campaign-2026/ana/portrait-front.jpg';

  it('plan says 3 calls, and shows each call with the identity first and aspect_ratio / resolution locked', async () => {
    expect(scenes).toHaveLength(45);
    const result = await runCli(['plan', 'recipes/sku-gallery.yaml', '--format', 'json'], { cwd: root });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const plan = JSON.parse(result.stdout) as PlanJson;
    expect(plan.totalCalls).toBe(3);
    const stage = plan.stages[0]!;
    expect(stage).toMatchObject({ id: 'gallery', model: NANO, calls: 3 });
    expect(stage.route!.bodies.map((b) => b['image_urls'])).toEqual([
      [identity, ...scenes.slice(0, 15)],
      [identity, ...scenes.slice(15, 30)],
      [identity, ...scenes.slice(30, 45)],
    ]);
    for (const body of stage.route!.bodies)
      expect(body).toMatchObject({ aspect_ratio: '4:5', resolution: '2K' });
    const textPlan = await runCli(['plan', 'recipes/sku-gallery.yaml'], { cwd: root });
    expect(textPlan.stdout).toContain('1  gallery  google/nano-banana-2/edit  -      3      2 / 15m\n');
    expect(textPlan.stdout).toContain(
      '  gallery: google/nano-banana-2/edit (Nano Banana 2 Edit), 3 calls: 45 scenes, at most 19 per call (15 + 15 + 15), the identity first in each; images merged back in scene order\n',
    );
  });

  it('run makes exactly 3 calls, identity first in each, and merges the images in scene order', async () => {
    sb = sandbox(FAST);
    const recipe = sb.recipe('sku-gallery.yaml', text);
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const subs = sb.submissions();
    expect(subs.map((s) => s.model)).toEqual([NANO, NANO, NANO]);
    // Submission order is up to the scheduler; the chunk a call carries is in its body.
    const byChunk = [...subs].sort((a, b) => {
      const first = (s: typeof a) => scenes.indexOf((s.body as { image_urls: string[] }).image_urls[1]!);
      return first(a) - first(b);
    });
    const bodies = byChunk.map(
      (s) => s.body as { image_urls: string[]; aspect_ratio: string; resolution: string; prompt: string },
    );
    for (const body of bodies) {
      expect(body.image_urls[0]).toBe(identity);
      expect(body.image_urls).toHaveLength(16);
      expect(body).toMatchObject({ aspect_ratio: '4:5', resolution: '2K' });
      expect(body.prompt).toBe(bodies[0]!.prompt);
    }
    expect(bodies.flatMap((b) => b.image_urls.slice(1))).toEqual(scenes);

    const stage = sb.runRecord('sku-gallery').stages['gallery']!;
    expect(stage.status).toBe('succeeded');
    // The stand-in answers one image per call, named by its request id: the merged list is in chunk order.
    expect(stage.outputs).toEqual({
      images: byChunk.map((s) => `https://files.runcomfy.net/${s.request_id}/result.png`),
    });
    expect(stage.files).toEqual(byChunk.map((s) => `gallery/${s.request_id}/result.png`));
    expect(result.stdout).toContain('3 jobs submitted');
    // One image for fifteen scenes (the contract's number_of_images defaults to 1): said, since
    // images[i] is then not scene i.
    for (const call of [1, 2, 3])
      expect(result.stdout).toContain(
        `[warn] gallery call ${call} of 3 was sent 15 scenes and returned 1 image: stages.gallery.outputs.images[i] is no longer scene i from this call on`,
      );
  });
});

describe('GPT Image 2, pinned for several scenes', () => {
  it('makes one call per scene with images [scene, identity], and merges the images in scene order', async () => {
    sb = sandbox(FAST);
    const recipe = sb.recipe(
      'heroes.yaml',
      `version: 1
name: heroes
consent:
  subjects:
    ana: {release: REL-1, images: ["https://assets.example.com/ana/**"]}
  assets: [{match: "https://assets.example.com/**", rights: owned}]
  disclosure: {label: AI-generated}
stages:
  heroes:
    model: ${GPT}
    subjects: [ana]
    swap:
      identity: https://assets.example.com/ana/face.jpg
      scene:
        - https://assets.example.com/s1.jpg
        - https://assets.example.com/s2.jpg
        - https://assets.example.com/s3.jpg
`,
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const subs = sb.submissions();
    expect(subs).toHaveLength(3);
    const images = subs.map((s) => (s.body as { images: string[] }).images);
    for (const list of images) {
      expect(list).toHaveLength(2);
      expect(list[1]).toBe('https://assets.example.com/ana/face.jpg');
    }
    const order = [1, 2, 3].map((n) =>
      subs.find(
        (s) => (s.body as { images: string[] }).images[0] === `https://assets.example.com/s${n}.jpg`,
      )!,
    );
    expect(sb.runRecord('heroes').stages['heroes']!.outputs).toEqual({
      images: order.map((s) => `https://files.runcomfy.net/${s.request_id}/result.png`),
    });
  });
});

describe('one call per scene: what comes back is checked', () => {
  it('warns when a call for one scene returns several images (outputs.images[i] is no longer scene i)', async () => {
    sb = sandbox({
      models: {
        [GPT]: {
          base: {
            queueMs: 0,
            runMs: 0,
            output: {
              images: [
                'https://files.runcomfy.net/{request_id}/a.png',
                'https://files.runcomfy.net/{request_id}/b.png',
              ],
            },
          },
        },
      },
    });
    const recipe = sb.recipe(
      'pergpt.yaml',
      `version: 1
name: pergpt
stages:
  g:
    model: ${GPT}
    swap:
      identity: https://assets.example.com/ana/a.jpg
      scene: [https://assets.example.com/s/1.jpg, https://assets.example.com/s/2.jpg, https://assets.example.com/s/3.jpg]
`,
    );
    const run = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(run.code).toBe(0);
    expect((sb.runRecord('pergpt').stages['g']!.outputs as { images: string[] }).images).toHaveLength(6);
    expect(run.stdout).toMatch(
      /\[warn\] g .*the call for scene 1 of 3 was sent 1 scene and returned 2 images: stages\.g\.outputs\.images\[i\] is no longer scene i/,
    );
  });

  it('a scene list that comes out empty at run time fails the stage, as an empty list written in the recipe is an error', async () => {
    sb = sandbox({
      models: {
        'blackforestlabs/flux-1-kontext/pro/edit': { base: { queueMs: 0, runMs: 0, output: { images: [] } } },
        default: { base: { queueMs: 0, runMs: 0 } },
      },
    });
    const recipe = sb.recipe(
      'empty.yaml',
      `version: 1
name: empty
stages:
  a:
    swap: {describe: "a man", scene: "https://assets.example.com/s/1.jpg"}
  b:
    swap: {identity: "https://assets.example.com/ana/a.jpg", scene: "\${{ stages.a.outputs.images }}"}
`,
    );
    const run = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(run.code).toBe(1);
    const b = sb.runRecord('empty').stages['b'] as { status: string; failure?: { message: string } };
    expect(b.status).toBe('failed');
    expect(b.failure!.message).toBe(
      'the "scene" list of stage "b" is empty (it comes from the results of stage "a"): a face swap needs at least one still to put the face into',
    );
  });
});
