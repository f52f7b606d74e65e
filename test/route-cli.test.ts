/** `faceswap-pipe route`: the text a user reads, the JSON tools read, and its usage errors. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = (argv: readonly string[]) => runCli(argv, { cwd: root });

describe('faceswap-pipe route', () => {
  it('explains a decision: inputs and kinds, the rule, the model, the calls, the routes not taken', async () => {
    const result = await cli(['route', 'recipes/hero-still.yaml']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(`hero-still (recipes/hero-still.yaml)

hero: openai/gpt-image-2/edit, 1 call
  wanted:   a still (no "audio" or "video" given)
  inputs:   identity   image  https://assets.example.com/campaign-2026/ana/portrait-front.jpg (by extension .jpg)
            scene      image  https://assets.example.com/campaign-2026/beach/key-visual.jpg (by extension .jpg)
  rule:     an identity image and one scene -> GPT Image 2 Edit: images [scene, identity] with a role-explicit preservation prompt
  model:    openai/gpt-image-2/edit (GPT Image 2 Edit, runcomfy)
  calls:    1 call
  rejected: community/wan-2-2-animate/api: makes a video, and this swap wants a still
            kling/kling-2-6/motion-control-pro: makes a video, and this swap wants a still
            google/nano-banana-2/edit: could serve it (1 call), but a single hero still goes to GPT Image 2 Edit (exact face, explicit roles)
            blackforestlabs/flux-1-kontext/pro/edit: takes no identity image: it changes the face to a prose "describe"
            local/face-swap: could serve it (1 call), but local models are chosen only with --engine local
            local/face-swap-video: makes a video, and this swap wants a still
`);
  });

  it("knows an upstream stage's output is an image because that stage runs a still model", async () => {
    const result = await cli(['route', 'recipes/describe-then-dance.yaml', 'motion']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      '  inputs:   identity   image  ${{ stages.face.outputs.images[0] }} (output of stage "face" (blackforestlabs/flux-1-kontext/pro/edit))\n' +
        '            video      video  https://assets.example.com/campaign-2026/dance.mp4 (by extension .mp4)\n',
    );
    expect(result.stdout).not.toContain('\nface:');
  });

  it('says when a stage is not routed', async () => {
    const result = await cli(['route', 'recipes/kontext-to-kling.yaml', 'face']);
    expect(result.stdout).toBe(
      'summer-launch (recipes/kontext-to-kling.yaml)\n\nface: blackforestlabs/flux-1-kontext/pro/edit, 1 call\n  not routed: the stage gives "model" and "input" itself\n',
    );
  });

  it("--format json has the documented shape, with each call's body", async () => {
    const result = await cli(['route', 'recipes/sku-gallery.yaml', '--format', 'json']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const json = JSON.parse(result.stdout) as {
      recipe: string;
      stages: { id: string; route: Record<string, unknown> }[];
    };
    expect(json.recipe).toBe('sku-gallery');
    const route = json.stages[0]!.route;
    expect(Object.keys(route)).toEqual([
      'model',
      'title',
      'backend',
      'engine',
      'pinned',
      'wanted',
      'wantedBecause',
      'rule',
      'inputs',
      'scenes',
      'layout',
      'chunks',
      'calls',
      'callsBecause',
      'rejected',
      'bodies',
    ]);
    expect(route).toMatchObject({
      model: 'google/nano-banana-2/edit',
      scenes: 45,
      layout: 'chunks',
      calls: 3,
      pinned: false,
    });
    expect((route['inputs'] as unknown[])[0]).toEqual({
      field: 'identity',
      index: null,
      kind: 'image',
      by: 'by extension .jpg',
      value: 'https://assets.example.com/campaign-2026/ana/portrait-front.jpg',
    });
    expect(route['bodies']).toHaveLength(3);
  });

  it('--engine local routes to the offline engine where it serves the swap', async () => {
    const result = await cli(['route', 'recipes/sku-gallery.yaml', '--engine', 'local', '--format', 'json']);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as {
      stages: { model: string; calls: number; route: { bodies: { identity: string; scene: string[] }[] } }[];
    };
    expect(json.stages[0]).toMatchObject({ model: 'local/face-swap', calls: 1 });
    expect(json.stages[0]!.route.bodies[0]!.scene).toHaveLength(45);
  });

  it('an unknown stage is a usage error with a suggestion', async () => {
    const result = await cli(['route', 'recipes/sku-gallery.yaml', 'galery']);
    expect(result).toEqual({
      code: 64,
      stdout: '',
      stderr:
        'faceswap-pipe: error: recipes/sku-gallery.yaml has no stage "galery"; did you mean "gallery"?\n',
    });
  });

  it('a missing recipe file exits 66', async () => {
    const result = await cli(['route', 'test/fixtures/no-such.yaml']);
    expect(result.code).toBe(66);
  });
});

describe('plan shows the route of swap stages', () => {
  it('text: the chosen model and the calls', async () => {
    const result = await cli(['plan', 'recipes/describe-then-dance.yaml']);
    expect(result.stdout).toBe(`describe-then-dance: 2 stages (recipes/describe-then-dance.yaml)
Give the key still a described face, then make that character perform the dance.

#  stage   model                                    needs  calls  retries / timeout
1  face    blackforestlabs/flux-1-kontext/pro/edit  -      1      2 / 15m
2  motion  kling/kling-2-6/motion-control-pro       face   1      1 / 30m

2 model calls; critical path: face -> motion

swap stages, routed (\`faceswap-pipe route\` explains each choice):
  face: blackforestlabs/flux-1-kontext/pro/edit (FLUX Kontext Pro), 1 call
  motion: kling/kling-2-6/motion-control-pro (Kling 2-6 Motion Control Pro), 1 call
`);
  });

  it('json: the generated input, and the route', async () => {
    const result = await cli(['plan', 'recipes/face-from-description.yaml', '--format', 'json']);
    const plan = JSON.parse(result.stdout) as { stages: { input: unknown; route: { rule: string } }[] };
    expect(plan.stages[0]!.input).toEqual({
      prompt:
        'Keep pose, clothing, hair, lighting, and background exactly. Change only the face to that of a 35-year-old woman with high cheekbones, hazel eyes, and a small scar above the right eyebrow. Match skin tone and lighting to the image.',
      image: 'https://assets.example.com/campaign-2026/catalogue/look-12.jpg',
    });
    expect(plan.stages[0]!.route.rule).toBe(
      'a prose "describe" and one scene -> FLUX Kontext Pro: keeps everything but the face, changed to the description',
    );
  });
});

describe('the calls of a batch whose identity comes from another stage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'route-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const scenes = Array.from({ length: 20 }, (_, i) => `        - https://cdn.example.com/s${i + 1}.jpg\n`);
  writeFileSync(
    join(dir, 'upstream-identity.yaml'),
    `version: 1
name: upstream-identity
consent:
  subjects:
    ana: {release: REL-1}
  assets: [{match: "https://cdn.example.com/**", rights: owned}]
  disclosure: {label: AI-generated}
stages:
  face:
    subjects: [ana]
    swap:
      describe: a woman
      scene: https://cdn.example.com/base.jpg
  gallery:
    subjects: [ana]
    swap:
      identity: \${{ stages.face.outputs.images[0] }}
      scene:
${scenes.join('')}`,
  );
  const run = (argv: readonly string[]) => runCli(argv, { cwd: dir, env: { RUNCOMFY_TOKEN: 'x' } });

  it('plan, route and run --dry-run all count its 2 chunks (10 + 10), the identity kept as written', async () => {
    const text = await run(['plan', 'upstream-identity.yaml']);
    expect(text.stdout).toContain(
      '2  gallery  google/nano-banana-2/edit                face   2      2 / 15m\n',
    );
    expect(text.stdout).toContain('\n3 model calls; critical path: face -> gallery\n');

    const json = JSON.parse((await run(['plan', 'upstream-identity.yaml', '--format', 'json'])).stdout) as {
      totalCalls: number;
      stages: { id: string; calls: number; route: { bodies: { image_urls: string[] }[] } }[];
    };
    expect(json.totalCalls).toBe(3);
    const gallery = json.stages.find((s) => s.id === 'gallery')!;
    expect(gallery.calls).toBe(2);
    expect(gallery.route.bodies.map((b) => b.image_urls.length)).toEqual([11, 11]);
    for (const body of gallery.route.bodies)
      expect(body.image_urls[0]).toBe('${{ stages.face.outputs.images[0] }}');
    expect(gallery.route.bodies[1]!.image_urls[1]).toBe('https://cdn.example.com/s11.jpg');

    const route = await run(['route', 'upstream-identity.yaml', 'gallery']);
    expect(route.stdout).toContain('\ngallery: google/nano-banana-2/edit, 2 calls\n');

    const dry = await run(['run', 'upstream-identity.yaml', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('2. gallery (2 calls, after face)\n');
    expect(dry.stdout).toContain('would make 3 runcomfy calls');
  });
});
