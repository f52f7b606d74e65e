/** Every example recipe in recipes/ is valid, warning-free, and plans as documented. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const recipes = readdirSync(new URL('../recipes/', import.meta.url))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => `recipes/${f}`);

describe('recipes/', () => {
  it('holds the three example campaigns of the brief, at least', () => {
    expect(recipes).toEqual(
      expect.arrayContaining([
        'recipes/kontext-to-kling.yaml',
        'recipes/sku-gallery.yaml',
        'recipes/spokesperson-video.yaml',
      ]),
    );
  });

  for (const recipe of recipes) {
    it(`${recipe} validates with no errors and no warnings`, async () => {
      const result = await runCli(['validate', recipe], { cwd: root });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        new RegExp(`^ok ${recipe.replace(/[.]/g, '\\.')} \\([a-z0-9-]+: \\d+ stages?\\)\\n$`),
      );
    });

    it(`${recipe} plans`, async () => {
      const result = await runCli(['plan', recipe], { cwd: root });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    });
  }

  it('validates all of them in one call', async () => {
    const result = await runCli(['validate', ...recipes], { cwd: root });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(recipes.length);
  });
});

describe('plan of the Kontext-then-Kling chain', () => {
  const chain = 'recipes/kontext-to-kling.yaml';

  it('--format mermaid draws the edge face --> motion', async () => {
    const result = await runCli(['plan', chain, '--format', 'mermaid'], { cwd: root });
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('flowchart LR');
    expect(result.stdout).toContain('  face --> motion\n');
  });

  it('--format json has the documented shape', async () => {
    const result = await runCli(['plan', chain, '--format', 'json'], { cwd: root });
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as Record<string, unknown> & { stages: Record<string, unknown>[] };
    expect(Object.keys(plan)).toEqual(['recipe', 'file', 'totalCalls', 'criticalPath', 'stages']);
    expect(plan).toMatchObject({
      recipe: 'summer-launch',
      file: chain,
      totalCalls: 2,
      criticalPath: ['face', 'motion'],
    });
    expect(plan.stages.map((s) => Object.keys(s))).toEqual(
      plan.stages.map(() => [
        'id',
        'model',
        'medium',
        'backend',
        'needs',
        'dependents',
        'calls',
        'retries',
        'timeoutMs',
        'input',
      ]),
    );
    expect(plan.stages).toEqual([
      {
        id: 'face',
        model: 'blackforestlabs/flux-1-kontext/pro/edit',
        medium: 'still',
        backend: 'runcomfy',
        needs: [],
        dependents: ['motion'],
        calls: 1,
        retries: 2,
        timeoutMs: 15 * 60_000,
        input: {
          prompt: expect.stringContaining('Change only the face') as unknown,
          // vars are resolved before anything runs...
          image: 'https://assets.example.com/campaign-2026/ana-portrait.jpg',
        },
      },
      {
        id: 'motion',
        model: 'kling/kling-2-6/motion-control-pro',
        medium: 'video',
        backend: 'runcomfy',
        needs: ['face'],
        dependents: [],
        calls: 1,
        retries: 1,
        timeoutMs: 30 * 60_000,
        input: {
          // ...while references to other stages' results are kept as written.
          character_image_url: '${{ stages.face.outputs.images[0] }}',
          reference_video_url: 'https://assets.example.com/campaign-2026/dance.mp4',
        },
      },
    ]);
  });

  it('--set overrides a var in the plan', async () => {
    const result = await runCli(
      ['plan', chain, '--format', 'json', '--set', 'dance=https://assets.example.com/salsa.mp4'],
      { cwd: root },
    );
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as { stages: { input: Record<string, unknown> }[] };
    expect(plan.stages[1]!.input['reference_video_url']).toBe('https://assets.example.com/salsa.mp4');
  });

  it('--set with a list-shaped value that is not a JSON list of scalars is an error at the var, not text', async () => {
    for (const [value, words] of [
      ['[https://assets.example.com/a.mp4]', 'looks like a list but is not valid JSON'],
      ['[{"url":"https://assets.example.com/a.mp4"}]', 'is a list of lists or mappings'],
    ] as const) {
      const result = await runCli(['validate', chain, '--set', `dance=${value}`], { cwd: root });
      expect(result.code).toBe(65);
      expect(result.stderr).toContain(`error: --set dance=…: the value ${words}`);
    }
    // Text that only starts with a bracket is still text.
    const text = await runCli(['plan', chain, '--format', 'json', '--set', 'dance=[draft] https://x'], {
      cwd: root,
    });
    expect(text.stderr).not.toContain('looks like a list');
  });
});

describe('needs', () => {
  it('takes one stage id on its own, as GitHub Actions does, and orders by it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'needs-'));
    const file = join(dir, 'needs.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'name: needs-one',
        'consent:',
        '  subjects: { ana: { release: REL-1 } }',
        '  assets: [{ match: https://assets.example.com/**, rights: owned }]',
        '  disclosure: { label: AI-generated }',
        'stages:',
        '  later:',
        '    model: google/nano-banana-2/edit',
        '    subjects: [ana]',
        '    needs: first',
        '    input: { prompt: Make it golden hour, image_urls: [https://assets.example.com/b.jpg] }',
        '  first:',
        '    model: google/nano-banana-2/edit',
        '    subjects: [ana]',
        '    input: { prompt: Make it dusk, image_urls: [https://assets.example.com/a.jpg] }',
        '',
      ].join('\n'),
    );
    try {
      const result = await runCli(['plan', file, '--format', 'json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const plan = JSON.parse(result.stdout) as { stages: { id: string; needs: string[] }[] };
      expect(plan.stages.map((s) => [s.id, s.needs])).toEqual([
        ['first', []],
        ['later', ['first']],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('plan of a long chain', () => {
  it('the text keeps both ends of a long critical path; JSON lists all of it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'long-chain-'));
    try {
      const stages = Array.from(
        { length: 40 },
        (_, i) =>
          `  s${i}:\n    model: blackforestlabs/flux-1-kontext/pro/edit\n    subjects: [ana]\n    input:\n      prompt: restyle the scene\n      image: ${i === 0 ? 'https://assets.example.com/a.jpg' : `\${{ stages.s${i - 1}.outputs.images[0] }}`}\n`,
      ).join('');
      const consent =
        'consent:\n  subjects:\n    ana: { release: REL-TEST-0001 }\n  assets:\n    - { match: "https://assets.example.com/**", rights: test inputs }\n  disclosure: { label: AI-generated }\n';
      writeFileSync(join(dir, 'long.yaml'), `version: 1\nname: long\nstages:\n${stages}${consent}`);
      const text = await runCli(['plan', 'long.yaml'], { cwd: dir });
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(
        '40 model calls; critical path: s0 -> s1 -> s2 -> s3 -> s4 -> … (30 more) … -> s35 -> s36 -> s37 -> s38 -> s39\n',
      );
      const json = await runCli(['plan', 'long.yaml', '--format', 'json'], { cwd: dir });
      expect((JSON.parse(json.stdout) as { criticalPath: string[] }).criticalPath).toHaveLength(40);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
