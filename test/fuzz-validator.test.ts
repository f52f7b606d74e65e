/**
 * Property-based tests of the validator: thousands of generated malformed recipes, each of which
 * must end as diagnostics (never an exception, never "internal error"), exit 65, with at least
 * one error at a line and column.
 *
 * Every generated recipe starts from a valid one (a random DAG of catalog models with correct
 * inputs, checked valid by the first property) and gets noise plus at least one mutation that is
 * sure to break it, applied last so noise cannot undo it. Most properties call the analysis
 * in-process on text (`parseRecipeText` + `analyzeLoaded`); one runs a sample through the CLI.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.js';
import { exitCodeFor } from '../src/cli/exit-codes.js';
import { analyzeLoaded } from '../src/recipe/analyze.js';
import { exitCategory, type Diagnostic } from '../src/recipe/diagnostic.js';
import { parseRecipeText } from '../src/recipe/load.js';
import { toJsonDiagnostic } from '../src/report/diagnostics-json.js';
import { renderDiagnostic } from '../src/report/diagnostics-text.js';
import { runCli } from './helpers/cli.js';

const catalog = Catalog.load();

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Recipe = { [key: string]: Json };

// ---------------------------------------------------------------------------------------------
// Valid recipes

interface ModelShape {
  readonly id: string;
  /** A correct input whose source image is `image`. */
  readonly input: (image: string) => { [key: string]: Json };
  /** Removing any one of these breaks the input (required, or part of every complete field set). */
  readonly essential: readonly string[];
  /** True when the model documents `outputs.images`, so later stages may reference it. */
  readonly still: boolean;
}

const MODELS: readonly ModelShape[] = [
  {
    id: 'blackforestlabs/flux-1-kontext/pro/edit',
    input: (image) => ({ prompt: 'Keep everything; change only the face', image }),
    essential: ['prompt', 'image'],
    still: true,
  },
  {
    id: 'openai/gpt-image-2/edit',
    input: (image) => ({
      prompt: 'Put the exact face from image 2 into image 1',
      images: [image, 'https://assets.example.com/face.jpg'],
      size: '1024_1536',
    }),
    essential: ['prompt', 'images'],
    still: true,
  },
  {
    id: 'google/nano-banana-2/edit',
    input: (image) => ({
      prompt: 'Replace the face in each image with the face in the first image',
      image_urls: [image, 'https://assets.example.com/sku-01.jpg'],
      aspect_ratio: '4:5',
      resolution: '2K',
    }),
    essential: ['prompt', 'image_urls'],
    still: true,
  },
  {
    id: 'kling/kling-2-6/motion-control-pro',
    input: (image) => ({ character_image_url: image, reference_video_url: '${{ vars.dance }}' }),
    essential: ['character_image_url', 'reference_video_url'],
    still: false,
  },
  {
    id: 'community/wan-2-2-animate/api',
    input: (image) => ({ image_url: image, audio_url: 'https://assets.example.com/voice.mp3' }),
    essential: ['image_url', 'audio_url'],
    still: false,
  },
];

const STAGE_IDS = ['face', 'motion', 'hero', 'gallery', 'touchup', 'voice', 'b-roll', 'final_cut'];

interface Base {
  readonly recipe: Recipe;
  /** Stage ids in the order written; each stage only references earlier ones (no cycles). */
  readonly ids: readonly string[];
  readonly models: readonly ModelShape[];
}

const baseRecipe: fc.Arbitrary<Base> = fc
  .record({
    ids: fc.shuffledSubarray(STAGE_IDS, { minLength: 1, maxLength: 5 }),
    models: fc.array(fc.constantFrom(...MODELS), { minLength: 5, maxLength: 5 }),
    sources: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
    retries: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
    timeout: fc.option(fc.constantFrom('90s', '15m', '2h', '1d'), { nil: undefined }),
  })
  .map(({ ids, models, sources, retries, timeout }) => {
    const stages: { [key: string]: Json } = {};
    const used = models.slice(0, ids.length);
    ids.forEach((id, i) => {
      const earlierStills = ids.slice(0, i).filter((_, j) => used[j]!.still);
      const pick = sources[i]! % (earlierStills.length + 2);
      const image =
        pick === 0
          ? '${{ vars.still }}'
          : pick === 1
            ? 'https://assets.example.com/still.jpg'
            : `\${{ stages.${earlierStills[pick - 2]!}.outputs.images[0] }}`;
      stages[id] = { model: used[i]!.id, input: used[i]!.input(image), subjects: ['ana'] };
    });
    const defaults: { [key: string]: Json } = {};
    if (retries !== undefined) defaults['retries'] = retries;
    if (timeout !== undefined) defaults['timeout'] = timeout;
    const recipe: Recipe = {
      version: 1,
      name: 'fuzz-campaign',
      description: 'generated',
      vars: { still: 'https://assets.example.com/ana.jpg', dance: 'https://assets.example.com/dance.mp4' },
      ...(Object.keys(defaults).length > 0 && { defaults }),
      stages,
      // Face-swap stages need a consent record; the base recipe is valid, so it has one.
      consent: {
        subjects: { ana: { release: 'REL-FUZZ-0001' } },
        assets: [{ match: 'https://assets.example.com/**', rights: 'generated test assets' }],
        disclosure: { label: 'AI-generated' },
      },
    };
    return { recipe, ids, models: used };
  });

// ---------------------------------------------------------------------------------------------
// Noise: changes that may or may not make a recipe invalid

const exprToken = fc.constantFrom(
  'vars',
  'stages',
  'item',
  'index',
  'env',
  'secrets',
  '.',
  '[',
  ']',
  '(',
  ')',
  "'",
  '"',
  '==',
  '!=',
  '&&',
  '||',
  '!',
  '<',
  '>=',
  '1',
  '0.5',
  '-3',
  'true',
  'null',
  'NaN',
  'face',
  'still',
  'images',
  'outputs',
  'files',
  '*',
  'format',
  'join',
  'toJSON',
  'fromJSON',
  'contains',
  ',',
  ' ',
  '}}',
  '${{',
  '\n',
  '\t',
  'x',
  '0',
);
const randomExpression = fc.array(exprToken, { maxLength: 14 }).map((tokens) => `\${{ ${tokens.join('')} }}`);
const unicodeText = fc.string({ unit: 'binary', maxLength: 40 });
const anyScalar: fc.Arbitrary<Json> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  unicodeText,
  randomExpression,
);
const anyJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    anyScalar,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** Every path to a string in the recipe below `stages`, where expressions live. */
function stringPaths(value: Json, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringPaths(v, [...path, i]));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => stringPaths(v, [...path, k]));
  return [];
}

function allPaths(value: Json, path: (string | number)[] = []): (string | number)[][] {
  const here = path.length > 0 ? [path] : [];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => allPaths(v, [...path, i]))];
  if (value && typeof value === 'object')
    return [...here, ...Object.entries(value).flatMap(([k, v]) => allPaths(v, [...path, k]))];
  return here;
}

function setAt(root: Json, path: readonly (string | number)[], value: Json): void {
  let node = root as { [key: string]: Json };
  for (const segment of path.slice(0, -1)) node = node[segment as string] as { [key: string]: Json };
  node[path[path.length - 1] as string] = value;
}

function nested(depth: number): Json {
  let value: Json = 'bottom';
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

type Mutation = (recipe: Recipe, base: Base) => void;
type Obj = { [key: string]: Json };

function isObj(value: Json | undefined): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A stage's mapping, or undefined when noise has replaced it (or `stages`) with something else. */
function stageOf(recipe: Recipe, id: string): Obj | undefined {
  const stages = recipe['stages'];
  const stage = isObj(stages) ? stages[id] : undefined;
  return isObj(stage) ? stage : undefined;
}

function inputOf(recipe: Recipe, id: string): Obj | undefined {
  const input = stageOf(recipe, id)?.['input'];
  return isObj(input) ? input : undefined;
}

/** The break of last resort, for when noise has removed what a break meant to change. */
function breakVersion(recipe: Recipe): void {
  recipe['version'] = 2;
}

const noise: fc.Arbitrary<Mutation> = fc.oneof(
  // A string below `stages` becomes a random expression, random unicode, or gains one.
  fc
    .tuple(fc.nat(), fc.oneof(randomExpression, unicodeText), fc.boolean())
    .map(([n, text, append]): Mutation => (recipe) => {
      const paths = stringPaths(recipe['stages'] ?? null, ['stages']);
      const path = paths[n % paths.length];
      if (!path) return;
      const old = path.reduce<Json>((v, k) => (v as { [key: string]: Json })[k as string]!, recipe);
      setAt(recipe, path, append && typeof old === 'string' ? `${old} ${text}` : text);
    }),
  // Any value anywhere becomes any other value.
  fc.tuple(fc.nat(), anyJson).map(([n, value]): Mutation => (recipe) => {
    const paths = allPaths(recipe).filter((p) => !(p.length === 1 && p[0] === 'version'));
    const path = paths[n % paths.length];
    if (path) setAt(recipe, path, value);
  }),
  // A big scalar.
  fc.integer({ min: 1_000, max: 300_000 }).map((size): Mutation => (recipe) => {
    recipe['description'] = 'é'.repeat(size);
  }),
  // Deep nesting, below and above the limit.
  fc.integer({ min: 1, max: 120 }).map((depth): Mutation => (recipe) => {
    const vars = recipe['vars'];
    if (isObj(vars)) vars['deep'] = nested(depth);
  }),
  // The same object in two places: `yaml` writes an anchor and an alias.
  fc.nat().map((n): Mutation => (recipe, base) => {
    const input = inputOf(recipe, base.ids[n % base.ids.length]!);
    const vars = recipe['vars'];
    if (input && isObj(vars)) vars['shared'] = input;
  }),
  // One anchored value aliased a few times, or around the expansion limit (1,000).
  fc
    .tuple(fc.nat(), fc.oneof(fc.integer({ min: 2, max: 20 }), fc.integer({ min: 995, max: 1_010 })))
    .map(([n, times]): Mutation => (recipe, base) => {
      const input = inputOf(recipe, base.ids[n % base.ids.length]!);
      const vars = recipe['vars'];
      if (input && isObj(vars)) vars['many'] = Array.from({ length: times }, () => input);
    }),
  // Extra vars, with names that may be invalid.
  fc
    .dictionary(fc.string({ maxLength: 10 }), anyScalar, { maxKeys: 4 })
    .map((extra): Mutation => (recipe) => {
      const vars = recipe['vars'];
      if (isObj(vars))
        for (const [k, v] of Object.entries(extra)) if (k !== 'still' && k !== 'dance') vars[k] = v;
    }),
);

// ---------------------------------------------------------------------------------------------
// Breaks: mutations that always leave the recipe invalid

const notVersion1 = fc.oneof(
  fc.integer().filter((n) => n !== 1),
  fc.constantFrom('1', 'one', '1.0', 1.5, null, true),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const badName = fc.oneof(
  fc.constantFrom('', 'Summer Launch', '-x', 'a_b', 'UPPER', 'x'.repeat(101), 'héllo'),
  fc.integer(),
  fc.constant(null),
);
const badDuration = fc.oneof(
  fc.constantFrom('15 minutes', '0s', '15', 'm', '1.5h', '-1m', '15M', ''),
  fc.integer(),
  fc.constant(null),
);
const badExpression = fc.constantFrom(
  '${{ vars.still',
  '${{ vars.still ; vars.dance }}',
  "${{ 'unterminated }}",
  '${{ "double" }}',
  '${{ env.STILL }}',
  '${{ secrets.TOKEN }}',
  '${{ item }}',
  '${{ index }}',
  '${{ vars. }}',
  '${{ }}',
  '${{ nosuchfn(1) }}',
  '${{ format() }}',
  '${{ vars.nope }}',
  '${{ stages.nope.outputs.images[0] }}',
  '${{ stages.face.output }}',
);

const breakMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom('version', 'name', 'stages').map(
    (key): Mutation =>
      (recipe) =>
        void delete recipe[key],
  ),
  notVersion1.map(
    (v): Mutation =>
      (recipe) =>
        void (recipe['version'] = v),
  ),
  badName.map(
    (v): Mutation =>
      (recipe) =>
        void (recipe['name'] = v),
  ),
  fc
    .tuple(fc.nat(), fc.constantFrom('retires', 'modle', 'inputs', 'need', 'timout', 'retry-on', 'foreach_'))
    .map(([n, key]): Mutation => (recipe, base) => {
      const stage = stageOf(recipe, base.ids[n % base.ids.length]!);
      if (stage) stage[key] = 2;
      else breakVersion(recipe);
    }),
  fc
    .tuple(fc.nat(), fc.constantFrom('retries', 'timeout', 'retry_on', 'needs', 'input', 'model'), fc.nat())
    .map(([n, key, k]): Mutation => (recipe, base) => {
      const stage = stageOf(recipe, base.ids[n % base.ids.length]!);
      const bad: Record<string, Json[]> = {
        retries: ['two', -1, 21, 1.5, [], {}],
        timeout: ['15 minutes', 900, '0m', null],
        retry_on: [['timeout'], 'failed', [1], ['failed', 'failed']],
        // A single id is valid (`needs: face`, as in GitHub Actions); a malformed one is not.
        needs: ['Not An Id', 7, [1], ['Not An Id'], ['nope-stage']],
        input: ['text', [1, 2], 3],
        model: [7, ['x'], 'midjourney/v7/edit', 'openai/gpt-image-2/edits'],
      };
      if (stage) stage[key] = bad[key]![k % bad[key]!.length]!;
      else breakVersion(recipe);
    }),
  // A required model field removed.
  fc.tuple(fc.nat(), fc.nat()).map(([n, k]): Mutation => (recipe, base) => {
    const i = n % base.ids.length;
    const essential = base.models[i]!.essential;
    const input = inputOf(recipe, base.ids[i]!);
    if (input) delete input[essential[k % essential.length]!];
    else breakVersion(recipe);
  }),
  // A value the model's schema refuses.
  fc.nat().map((n): Mutation => (recipe, base) => {
    const i = n % base.ids.length;
    const input = inputOf(recipe, base.ids[i]!);
    if (!input) return breakVersion(recipe);
    switch (base.models[i]!.id) {
      case 'openai/gpt-image-2/edit':
        if (n % 2 === 0) input['size'] = '2048x2048';
        else input['images'] = Array.from({ length: 11 }, (_, j) => `https://assets.example.com/${j}.jpg`);
        break;
      case 'google/nano-banana-2/edit':
        input['image_urls'] = Array.from({ length: 21 }, (_, j) => `https://assets.example.com/${j}.jpg`);
        break;
      default:
        input[base.models[i]!.essential[0]!] = 42;
    }
  }),
  // A broken expression in the first essential field.
  fc.tuple(fc.nat(), badExpression).map(([n, expr]): Mutation => (recipe, base) => {
    const i = n % base.ids.length;
    const input = inputOf(recipe, base.ids[i]!);
    // `stages.face.output` is an unknown output, a self-reference or an unknown stage: always an error.
    if (input) input[base.models[i]!.essential[0]!] = expr;
    else breakVersion(recipe);
  }),
  // A stage that references itself, or a cycle through `needs`.
  fc.tuple(fc.nat(), fc.boolean()).map(([n, viaNeeds]): Mutation => (recipe, base) => {
    const first = stageOf(recipe, base.ids[0]!);
    const last = stageOf(recipe, base.ids[base.ids.length - 1]!);
    const id = base.ids[n % base.ids.length]!;
    const input = inputOf(recipe, id);
    if (viaNeeds && first && last) {
      first['needs'] = [base.ids[base.ids.length - 1]!];
      last['needs'] = [base.ids[0]!];
    } else if (input) {
      input['prompt'] = `\${{ stages.${id}.outputs.images[0] }}`;
    } else breakVersion(recipe);
  }),
  badDuration.map(
    (v): Mutation =>
      (recipe) =>
        void (recipe['defaults'] = { timeout: v }),
  ),
  fc.constantFrom('stage', 'default', 'var', 'Stages', 'steps', 'jobs').map(
    (key): Mutation =>
      (recipe) =>
        void (recipe[key] = {}),
  ),
  fc.constantFrom('Face Edit', '1st', 'UPPER', '_x', 'a'.repeat(65)).map((id): Mutation => (recipe) => {
    const stages = recipe['stages'];
    if (isObj(stages))
      stages[id] = { model: MODELS[0]!.id, input: MODELS[0]!.input('https://a.example/x.jpg') };
    else breakVersion(recipe);
  }),
  fc.constantFrom<Json>([], 'stages', 7, null, {}).map(
    (v): Mutation =>
      (recipe) =>
        void (recipe['stages'] = v),
  ),
);

const broken = fc
  .tuple(
    baseRecipe,
    fc.array(noise, { maxLength: 3 }),
    fc.array(breakMutation, { minLength: 1, maxLength: 3 }),
  )
  .map(([base, noises, breaks]) => {
    const recipe = structuredClone(base.recipe);
    for (const m of noises) m(recipe, base);
    for (const m of breaks) m(recipe, base);
    return { base, recipe, text: stringify(recipe, { aliasDuplicateObjects: true, lineWidth: 0 }) };
  });

// ---------------------------------------------------------------------------------------------
// Assertions

function analyze(text: string | Uint8Array): { diagnostics: readonly Diagnostic[]; source: string } {
  const loaded = parseRecipeText('fuzz.yaml', text);
  const analysis = analyzeLoaded(loaded, { catalog });
  return { diagnostics: analysis.diagnostics, source: loaded.source.text };
}

/** Exit 65, an error at a line and column, and every diagnostic printable in both formats. */
function expectInvalid({
  diagnostics,
  source,
}: {
  diagnostics: readonly Diagnostic[];
  source: string;
}): void {
  expect(exitCodeFor(exitCategory(diagnostics))).toBe(65);
  expect(diagnostics.some((d) => d.severity === 'error' && d.location?.range !== undefined)).toBe(true);
  for (const d of diagnostics) {
    for (const place of [d.location, ...(d.related ?? [])]) {
      const range = place?.range;
      if (!range) continue;
      expect(range.start).toBeGreaterThanOrEqual(0);
      expect(range.end).toBeGreaterThanOrEqual(range.start);
      expect(range.start).toBeLessThanOrEqual(source.length);
    }
    const text = renderDiagnostic(d);
    expect(text).not.toContain('internal error');
    // A message built from a missing value shows "undefined"; the recipe itself may say it, too.
    if (!source.includes('undefined')) expect(text).not.toContain('undefined');
    const json = toJsonDiagnostic(d);
    if (d.location?.range) expect(json.line).toBeGreaterThanOrEqual(1);
  }
}

const UTF8 = new TextEncoder();

describe('validator fuzzing', () => {
  it('the generated base recipes are valid (so every failure below comes from a mutation)', () => {
    fc.assert(
      fc.property(baseRecipe, (base) => {
        const { diagnostics } = analyze(stringify(base.recipe, { lineWidth: 0 }));
        expect(diagnostics).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('recipes with wrong keys, types, values, models, inputs, expressions and cycles', () => {
    fc.assert(
      fc.property(broken, ({ text }) => {
        expectInvalid(analyze(text));
      }),
      { numRuns: 800 },
    );
  });

  it('recipes cut at a random byte (mid-line, mid-key, mid-character)', () => {
    // `version` is written last, so every strict prefix that drops its "1" lacks it.
    const truncated = fc.tuple(broken, fc.double({ min: 0, max: 1, noNaN: true })).map(([{ recipe }, at]) => {
      const { version: _version, ...rest } = recipe;
      const bytes = UTF8.encode(`${stringify(rest, { lineWidth: 0 })}version: 1\n`);
      return bytes.subarray(0, Math.floor(at * (bytes.length - 2)));
    });
    fc.assert(
      fc.property(truncated, (bytes) => {
        expectInvalid(analyze(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('recipes with random YAML fragments spliced in between lines', () => {
    const fragment = fc.oneof(
      fc.constantFrom(
        '&a [*a]',
        '*undefined',
        '!!js/function "f"',
        '!foo bar',
        '---',
        '...',
        '? [a]',
        ': b',
        '<<: *x',
        'key: |',
        'key: >-',
        '"unterminated',
        "'unterminated",
        '[1, 2',
        '{a: 1',
        ']',
        '}',
        '- item',
        '-',
        '\tkey: tab',
        '\ufeff',
        '\u0000',
        '%YAML 1.2',
        '@reserved',
        '`tick',
        '# comment',
        'a: b: c',
        'x: &anchor',
        'dup: 1\ndup: 2',
        'stages:',
        'version: 1',
        'name: fine',
      ),
      fc.string({ unit: fc.constantFrom(...'[]{}:,-?|>!&*#\'"%@` \t\nabc1'.split('')), maxLength: 30 }),
      unicodeText,
    );
    const spliced = fc
      .tuple(
        broken,
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fragment), { minLength: 1, maxLength: 5 }),
      )
      .map(([{ recipe }, inserts]) => {
        const { version: _version, ...rest } = recipe;
        const lines = stringify(rest, { lineWidth: 0 }).split('\n');
        for (const [at, indent, text] of inserts)
          lines.splice(at % (lines.length + 1), 0, ' '.repeat(indent) + text);
        // An unsupported version first: fragments go below it, so none can repair it.
        return `version: 2\n${lines.join('\n')}`;
      });
    fc.assert(
      fc.property(spliced, (text) => {
        expectInvalid(analyze(text));
      }),
      { numRuns: 400 },
    );
  });

  it('recipes with random bytes (NUL, invalid UTF-8, control characters) inserted', () => {
    const withBytes = fc
      .tuple(
        broken,
        fc.array(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 6 })), {
          minLength: 1,
          maxLength: 4,
        }),
      )
      .map(([{ text }, inserts]) => {
        let bytes = UTF8.encode(`version: 2\n${text}`);
        for (const [at, junk] of inserts) {
          const i = 11 + (at % (bytes.length - 10));
          bytes = new Uint8Array([...bytes.subarray(0, i), ...junk, ...bytes.subarray(i)]);
        }
        return bytes;
      });
    fc.assert(
      fc.property(withBytes, (bytes) => {
        expectInvalid(analyze(bytes));
      }),
      { numRuns: 200 },
    );
  });

  describe('through the CLI', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'faceswap-fuzz-'));
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));
    let n = 0;

    it('exits 65 with file:line:col diagnostics on stderr and nothing on stdout', async () => {
      await fc.assert(
        fc.asyncProperty(broken, async ({ text }) => {
          const file = join(tmp, `r${n++}.yaml`);
          writeFileSync(file, text);
          const result = await runCli(['validate', file]);
          expect(result.code).toBe(65);
          expect(result.stdout).toBe('');
          expect(result.stderr).toMatch(
            new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error: `, 'm'),
          );
          expect(result.stderr).not.toContain('internal error');
        }),
        { numRuns: 150 },
      );
    });
  });
});

describe('hostile input', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'faceswap-hostile-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  async function validateFile(name: string, content: string | Uint8Array) {
    const file = join(tmp, name);
    writeFileSync(file, content);
    return runCli(['validate', file]);
  }

  function expectLocated(stderr: string, name: string): void {
    expect(stderr).toMatch(
      new RegExp(`^${join(tmp, name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error: `, 'm'),
    );
    expect(stderr).not.toContain('internal error');
  }

  it('a "billion laughs" alias bomb', async () => {
    let text = 'version: 1\nname: lol\nvars:\n  l0: &l0 "lol"\n';
    for (let i = 1; i <= 12; i++)
      text += `  l${i}: &l${i} [${Array.from({ length: 10 }, () => `*l${i - 1}`).join(', ')}]\n`;
    text +=
      'stages:\n  a:\n    model: openai/gpt-image-2/edit\n    input: {prompt: "${{ vars.l12 }}", images: [x]}\n';
    const result = await validateFile('bomb.yaml', text);
    expect(result.code).toBe(65);
    expectLocated(result.stderr, 'bomb.yaml');
    expect(result.stderr).toContain('too many alias expansions');
  });

  it('10,000 nested "[" (unclosed) and 10,000 nested lists (closed)', async () => {
    for (const [name, text] of [
      ['open.yaml', '['.repeat(10_000)],
      ['closed.yaml', `version: 1\nname: deep\nvars:\n  x: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`],
      ['maps.yaml', `a: ${'{a: '.repeat(10_000)}`],
    ] as const) {
      const result = await validateFile(name, text);
      expect(result.code).toBe(65);
      expectLocated(result.stderr, name);
      expect(result.stderr).toMatch(/nests (deeper|too deeply)/);
    }
  });

  it('a block mapping nested 1,000 and 2,000 levels deep (the parser itself runs out of stack)', async () => {
    for (const [name, levels] of [
      ['indent.yaml', 1_000],
      ['deeper.yaml', 2_000],
    ] as const) {
      const keys = Array.from({ length: levels }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`);
      const text = `version: 1\nname: deep\nvars:\n${keys.join('\n')}\n${'  '.repeat(levels + 1)}v\nstages: {}\n`;
      const result = await validateFile(name, text);
      expect(result.code).toBe(65);
      expectLocated(result.stderr, name);
      expect(result.stderr).toMatch(/nests (deeper|too deeply)/);
    }
  });

  it('a 5 MB single scalar, and a recipe whose description is 5 MB', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024);
    const alone = await validateFile('scalar.yaml', big);
    expect(alone.code).toBe(65);
    expectLocated(alone.stderr, 'scalar.yaml');
    // The excerpt is cut to a window, not 5 MB of text.
    expect(alone.stderr.length).toBeLessThan(1_000);
    const inRecipe = await validateFile(
      'described.yaml',
      `version: 1\nname: big\ndescription: ${big}\nstages: {}\n`,
    );
    expect(inRecipe.code).toBe(65);
    expectLocated(inRecipe.stderr, 'described.yaml');
  });

  it('100,000 vars and a 100,000-item list (no call spreads them onto the stack)', async () => {
    const vars = Array.from({ length: 100_000 }, (_, i) => `  v${i}: ${i}`).join('\n');
    const list = `  list: [${Array.from({ length: 100_000 }, (_, i) => i).join(', ')}]`;
    const result = await validateFile(
      'wide.yaml',
      `version: 1\nname: wide\nvars:\n${vars}\n${list}\nstages: {}\n`,
    );
    expect(result.code).toBe(65);
    expectLocated(result.stderr, 'wide.yaml');
  });

  it('NUL bytes, invalid UTF-8 and UTF-16', async () => {
    const cases: [string, Uint8Array][] = [
      ['nul.yaml', UTF8.encode('version: 1\nname: x\0y\nstages: {}\n')],
      ['latin1.yaml', new Uint8Array([...UTF8.encode('version: 1\nname: caf'), 0xe9, 0x0a])],
      ['overlong.yaml', new Uint8Array([...UTF8.encode('name: '), 0xc0, 0xaf, 0x0a])],
      [
        'utf16.yaml',
        new Uint8Array([0xff, 0xfe, ...[...'version: 1\n'].flatMap((c) => [c.charCodeAt(0), 0])]),
      ],
      ['random.bin', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)],
    ];
    for (const [name, bytes] of cases) {
      const result = await validateFile(name, bytes);
      expect(result.code).toBe(65);
      expectLocated(result.stderr, name);
    }
  });

  it('a directory in place of a file exits 66', async () => {
    mkdirSync(join(tmp, 'recipe.yaml'));
    const result = await runCli(['validate', join(tmp, 'recipe.yaml')]);
    expect(result.code).toBe(66);
    expect(result.stderr).toContain('is a directory');
    expect(result.stderr).not.toContain('internal error');
  });
});
