/**
 * Every broken recipe under test/fixtures/invalid/ with the exact text `faceswap-pipe validate`
 * prints for it, run from the repository root. `NAME.expected` holds `exit: CODE` on its first
 * line, then stderr verbatim. After a deliberate change to the diagnostics, regenerate with
 *
 *     UPDATE_EXPECTED=1 npx vitest run test/validator-fixtures.test.ts
 *
 * and read every changed file as a user would before committing it.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { normalize, runCli } from './helpers/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = 'test/fixtures/invalid';
const update = process.env['UPDATE_EXPECTED'] === '1';
const names = readdirSync(join(root, dir))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

async function validate(argv: readonly string[], tmp: readonly string[] = []): Promise<string> {
  const result = await runCli(['validate', ...argv], { cwd: root });
  expect(result.stdout).toBe('');
  return `exit: ${result.code}\n${normalize(result.stderr, tmp)}`;
}

function compare(actual: string, expectedFile: string): void {
  if (update) {
    writeFileSync(expectedFile, actual);
    return;
  }
  if (!existsSync(expectedFile)) {
    throw new Error(
      `${expectedFile} is missing; run UPDATE_EXPECTED=1 npx vitest run test/validator-fixtures.test.ts`,
    );
  }
  expect(actual).toBe(readFileSync(expectedFile, 'utf8'));
}

describe('invalid recipe fixtures', () => {
  it('has at least 30 fixtures, each with its expected output', () => {
    expect(names.length).toBeGreaterThanOrEqual(30);
    const expected = readdirSync(join(root, dir)).filter((f) => f.endsWith('.expected'));
    if (!update) expect(expected.map((f) => f.slice(0, -'.expected'.length)).sort()).toEqual(names);
  });

  for (const name of names) {
    it(name, async () => {
      const actual = await validate([`${dir}/${name}.yaml`]);
      compare(actual, join(root, dir, `${name}.expected`));
      // Whatever the file holds, the answer is a diagnostic and a data or missing-file code.
      expect(actual).toMatch(/^exit: (65|66)\n/);
      expect(actual).not.toContain('internal error');
    });
  }
});

describe('files that cannot be read as recipes', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'faceswap-fixtures-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('a missing file exits 66', async () => {
    expect(await validate([`${dir}/no-such-recipe.yaml`])).toBe(
      'exit: 66\n' +
        'test/fixtures/invalid/no-such-recipe.yaml: error: no such file: test/fixtures/invalid/no-such-recipe.yaml\n' +
        '1 error\n',
    );
  });

  it('a directory exits 66', async () => {
    expect(await validate([dir])).toBe(
      'exit: 66\n' +
        'test/fixtures/invalid: error: test/fixtures/invalid is a directory; give the path of a recipe file (.yaml)\n' +
        '1 error\n',
    );
  });

  it('a file over the 8 MB default limit is refused before parsing, naming the option', async () => {
    const big = join(tmp, 'huge.yaml');
    const text = `version: 1\nname: huge\ndescription: ${'x'.repeat(8 * 1024 * 1024)}\n`;
    writeFileSync(big, text);
    expect(await validate([big], [tmp])).toBe(
      'exit: 65\n' +
        `<tmp>/huge.yaml: error: <tmp>/huge.yaml is ${text.length} bytes, over the 8 MB (8388608 bytes) limit for recipes; ` +
        'raise it with --max-recipe-size if the file is really meant to be this large\n' +
        '1 error\n',
    );
  });

  it('--max-recipe-size lowers the limit', async () => {
    // The example's size changes as it is edited: compute the figure the message must show.
    const kb = (statSync(join(root, 'recipes/kontext-to-kling.yaml')).size / 1024).toFixed(1);
    expect(await validate(['--max-recipe-size', '1KB', 'recipes/kontext-to-kling.yaml'])).toBe(
      'exit: 65\n' +
        `recipes/kontext-to-kling.yaml: error: recipes/kontext-to-kling.yaml is ${kb} KB, over the 1 KB limit for recipes; ` +
        'raise it with --max-recipe-size if the file is really meant to be this large\n' +
        '1 error\n',
    );
  });

  it('--max-recipe-size raises the limit', async () => {
    const big = join(tmp, 'large.yaml');
    writeFileSync(big, `version: 1\nname: large\ndescription: ${'x'.repeat(9 * 1024 * 1024)}\nstages: {}\n`);
    const out = await validate(['--max-recipe-size', '16MB', big], [tmp]);
    expect(out).toBe(
      'exit: 65\n' +
        '<tmp>/large.yaml:4:9: error: "stages" must have at least 1 entry\n' +
        '   4 | stages: {}\n' +
        '     |         ~~\n' +
        '1 error\n',
    );
  });

  it('past the 1,000 foreach items analysis expands, a count of items with a problem says it is a lower bound', async () => {
    const recipe = join(tmp, 'many-items.yaml');
    const scenes = Array.from(
      { length: 3000 },
      (_, i) => `https://assets.example.com/s${i}.${i < 2 ? 'jpg' : 'mp4'}`,
    );
    writeFileSync(
      recipe,
      [
        'version: 1',
        'name: many-items',
        'consent: {subjects: {ana: {release: REL-1}}, assets: [{match: "https://assets.example.com/**", rights: owned}], disclosure: {label: AI-generated}}',
        `vars: {sizes: [auto, auto], scenes: ${JSON.stringify(scenes)}}`,
        'stages:',
        '  shots:',
        '    model: openai/gpt-image-2/edit',
        '    subjects: [ana]',
        '    foreach: ${{ vars.scenes }}',
        '    input:',
        '      prompt: Image 1 is the scene, image 2 the face.',
        "      images: ['${{ item }}', https://assets.example.com/ana.jpg]",
        '      size: ${{ vars.sizes[index] }}',
        '',
      ].join('\n'),
    );
    const out = await validate([recipe], [tmp]);
    expect(out).toContain(
      'error: input field "images[0]" of stage "shots" (foreach item 2) takes an image, but https://assets.example.com/s2.mp4 is a video (by its extension .mp4); give an image URL (.jpg, .jpeg, .png, .webp, .gif); at least 997 more foreach items here too (only the first 1,000 of 3,000 items are checked before running)\n',
    );
    expect(out).toContain(
      'error: input field "size" of stage "shots" must be one of auto, 1024_1024, 1024_1536, 1536_1024, not null (openai/gpt-image-2/edit), for foreach item 2; at least 997 more items too (only the first 1,000 of 3,000 items are checked before running)\n',
    );
  });

  it('several files: every problem of every file, one exit code (65 beats 66)', async () => {
    const files = [`${dir}/no-such-recipe.yaml`, `${dir}/version-2.yaml`, 'recipes/sku-gallery.yaml'];
    const result = await runCli(['validate', ...files], { cwd: root });
    expect(result.code).toBe(65);
    expect(result.stdout).toBe('ok recipes/sku-gallery.yaml (sku-gallery: 1 stage)\n');
    expect(result.stderr).toContain('test/fixtures/invalid/no-such-recipe.yaml: error: no such file');
    expect(result.stderr).toContain(
      'test/fixtures/invalid/version-2.yaml:1:10: error: unsupported recipe version 2',
    );
    // version-2.yaml has two errors: its version, and the consent record a face-swap stage needs.
    expect(result.stderr.trimEnd().split('\n').pop()).toBe('3 errors in 2 of 3 recipes');
  });
});
