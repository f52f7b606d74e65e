/**
 * The CLI shell: help, usage errors (64), `--set`, `models`, `schema`, and two end-to-end runs
 * of the real binary. Everything else runs in-process through `main(argv, io)`.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { consented } from './helpers/runner.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const recipe = 'recipes/sku-gallery.yaml';

/** Command names as the top-level help lists them, so a new command is covered automatically. */
async function commands(): Promise<string[]> {
  const { stdout } = await runCli(['--help']);
  const section = stdout.split('Commands:\n')[1]!.split('\n\n')[0]!;
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

describe('--help', () => {
  it('the top level lists the commands, examples and exit codes', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Examples:\n  $ faceswap-pipe validate recipes/*.yaml');
    expect(result.stdout).toContain('64 usage, 65 invalid recipe or data, 66 missing file');
    expect(await commands()).toEqual(expect.arrayContaining(['validate', 'plan', 'models', 'schema']));
  });

  it('every command has help with an example of itself, and exits 0', async () => {
    for (const command of await commands()) {
      const result = await runCli([command, '--help']);
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).toMatch(/Examples?:\n/);
      expect(result.stdout, command).toContain(`$ `);
      expect(result.stdout, command).toMatch(new RegExp(`\\bfaceswap-pipe ${command}\\b`));
      expect(result.stderr, command).toBe('');
    }
  });

  it('`help COMMAND` works too, and --version prints the version', async () => {
    expect((await runCli(['help', 'validate'])).stdout).toContain('Usage: faceswap-pipe validate');
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^faceswap-pipe \d+\.\d+\.\d+/);
  });
});

describe('usage errors exit 64', () => {
  const cases: [string, string[], string][] = [
    ['an unknown command', ['frobnicate'], "error: unknown command 'frobnicate'"],
    ['an unknown option', ['validate', '--frobnicate', recipe], "error: unknown option '--frobnicate'"],
    ['a missing argument', ['validate'], "error: missing required argument 'recipe'"],
    ['a missing argument to plan', ['plan'], "error: missing required argument 'recipe'"],
    [
      'an unknown format',
      ['validate', '--format', 'xml', recipe],
      "argument 'xml' is invalid. Allowed choices are text, json.",
    ],
    ['--set without "="', ['validate', '--set', 'dance', recipe], 'expected NAME=VALUE'],
    ['--set with an empty name', ['validate', '--set', '=x', recipe], 'expected NAME=VALUE'],
    [
      'a bad --max-recipe-size',
      ['validate', '--max-recipe-size', 'lots', recipe],
      'expected a size such as 8MB',
    ],
    // An unset variable in `--only "$STAGE"` must not select the whole recipe (and pay for it).
    ...(['--only=', '--only=,', '--from=', '--until=', '--force='] as const).map(
      (option): [string, string[], string] => [
        `an empty ${option.slice(0, -1)}`,
        ['run', option, '--dry-run', recipe],
        'expected a stage id, but the value is empty',
      ],
    ),
    [
      '--fail-fast with --keep-going',
      ['run', '--keep-going', '--fail-fast', '--dry-run', recipe],
      "option '--keep-going' cannot be used with option '--fail-fast'",
    ],
  ];
  it('an undeclared --set name given twice is one error', async () => {
    const result = await runCli(['validate', '--set', 'nope=1', '--set', 'NOPE=2', recipe], { cwd: root });
    expect(result.code).toBe(65);
    expect(result.stderr.match(/the recipe has no var/g)).toHaveLength(1);
  });

  it('a --set value holding an expression is invalid data (65): it would be sent as text', async () => {
    const result = await runCli(['validate', '--set', 'aspect=${{ vars.other }}', recipe], { cwd: root });
    expect(result.code).toBe(65);
    expect(result.stderr).toContain(
      '--set aspect=…: the value holds an expression, but a --set value is data',
    );
  });

  it('a FACESWAP_POLL_INTERVAL_MS that is not a number', async () => {
    const result = await runCli(['run', '--dry-run', recipe], {
      cwd: root,
      env: { FACESWAP_POLL_INTERVAL_MS: '2s' },
    });
    expect(result.code).toBe(64);
    expect(result.stderr).toBe(
      'faceswap-pipe: error: FACESWAP_POLL_INTERVAL_MS="2s" is not a number of milliseconds; fix or unset it\n',
    );
  });

  for (const [what, argv, message] of cases) {
    it(what, async () => {
      const result = await runCli(argv, { cwd: root });
      expect(result.code).toBe(64);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain('(add --help for usage)');
      expect(result.stdout).toBe('');
    });
  }
});

describe('--set', () => {
  it('a name the recipe does not declare is invalid data (65), located at vars:, with a suggestion', async () => {
    const result = await runCli(
      ['validate', '--set', 'ambasador=https://assets.example.com/leo.jpg', recipe],
      { cwd: root },
    );
    expect(result.code).toBe(65);
    expect(result.stderr).toBe(
      'recipes/sku-gallery.yaml:10:1: error: --set ambasador=…: the recipe has no var "ambasador"; did you mean "ambassador"? (--set can only override declared vars)\n' +
        '   10 | vars:\n' +
        '      | ~~~~\n' +
        '1 error\n',
    );
  });

  it('names match as expressions read them (any case); "vars.NAME" is pointed to NAME', async () => {
    const plan = await runCli(['plan', '--set', 'ASPECT=1:1', '--format', 'json', recipe], { cwd: root });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('"aspect_ratio": "1:1"');
    const prefixed = await runCli(['validate', '--set', 'vars.aspect=1:1', recipe], { cwd: root });
    expect(prefixed.code).toBe(65);
    expect(prefixed.stderr).toContain(
      'error: --set vars.aspect=…: the recipe has no var "vars.aspect"; write --set aspect=… (the var\'s name, without "vars.")',
    );
  });

  it('in a recipe without vars, it points at the top and says what to do', async () => {
    const result = await runCli(
      ['validate', '--set', 'x=1', 'test/fixtures/invalid/stage-without-model.yaml'],
      { cwd: root },
    );
    expect(result.code).toBe(65);
    expect(result.stderr).toContain(
      'test/fixtures/invalid/stage-without-model.yaml:1:1: error: --set x=…: the recipe declares no vars, so there is no "x" to override; declare it under vars:\n' +
        '   1 | version: 1\n' +
        '     | ~\n',
    );
  });

  it('a declared name is accepted; its value is typed from JSON when it reads as JSON', async () => {
    const ok = await runCli(
      [
        'validate',
        '--set',
        'ambassador=https://assets.example.com/campaign-2026/ana/portrait-left.jpg',
        recipe,
      ],
      {
        cwd: root,
      },
    );
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    // aspect_ratio must be one of the model's enum values: the override is checked like the recipe.
    const bad = await runCli(['validate', '--set', 'aspect=7:5', recipe], { cwd: root });
    expect(bad.code).toBe(65);
    expect(bad.stderr).toContain('swap field "aspect_ratio" of stage "gallery" must be one of auto, 21:9');
  });

  it('a foreach var given one value with --set says how to give a list with --set', async () => {
    const fixture = 'test/fixtures/invalid/foreach-not-a-list.yaml';
    const result = await runCli(['validate', '--set', 'one=https://assets.example.com/b.jpg', fixture], {
      cwd: root,
    });
    expect(result.code).toBe(65);
    expect(result.stderr).toContain(
      `error: foreach of stage "face" gives a string ("https://assets.example.com/b.jpg") (given with --set one=…), not a list: the stage runs once per item of a list; give the list with --set, as JSON: --set 'one=["https://assets.example.com/b.jpg"]'\n`,
    );
  });

  it("a model's input problem with a value --set gave says so", async () => {
    const result = await runCli(['validate', '--set', 'base_still=5', 'recipes/kontext-to-kling.yaml'], {
      cwd: root,
    });
    expect(result.code).toBe(65);
    expect(result.stderr).toContain(
      `error: input field "image" of stage "face" must be a string, not an integer; a value that is only \${{ }} keeps the type of its result, even in quotes: write "\${{ format('{0}', vars.base_still) }}", or make the var text (base_still: "5") (blackforestlabs/flux-1-kontext/pro/edit) (given with --set base_still=…)`,
    );
    // The recipe's own value says nothing about --set.
    const own = await runCli(['validate', 'recipes/kontext-to-kling.yaml'], { cwd: root });
    expect(own.code).toBe(0);
  });
});

describe('models', () => {
  const ids = [
    'blackforestlabs/flux-1-kontext/pro/edit',
    'community/wan-2-2-animate/api',
    'google/nano-banana-2/edit',
    'kling/kling-2-6/motion-control-pro',
    'openai/gpt-image-2/edit',
  ];

  it('lists every catalog model with its fields', async () => {
    const result = await runCli(['models']);
    expect(result.code).toBe(0);
    for (const id of ids) expect(result.stdout).toContain(`${id}  (`);
    expect(result.stdout).toContain('    images*: string[] - Up to 10 reference image URLs');
    expect(result.stdout).toContain('* required field');
  });

  it('--format json gives the same catalog as data', async () => {
    const result = await runCli(['models', '--format', 'json']);
    expect(result.code).toBe(0);
    const models = JSON.parse(result.stdout) as {
      id: string;
      medium: string;
      fields: { name: string; required: boolean }[];
    }[];
    expect(models.map((m) => m.id)).toEqual(expect.arrayContaining(ids));
    const gpt = models.find((m) => m.id === 'openai/gpt-image-2/edit')!;
    expect(gpt.medium).toBe('still');
    expect(gpt.fields.filter((f) => f.required).map((f) => f.name)).toEqual(['prompt', 'images']);
  });
});

describe('--catalog', () => {
  it('adds or replaces models from a folder; a missing folder is exit 66, a broken schema file 65', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    try {
      const gpt = JSON.parse(
        readFileSync(
          new URL('../schemas/models/openai-gpt-image-2-edit.schema.json', import.meta.url),
          'utf8',
        ),
      ) as { 'x-faceswap': { model: string } };
      gpt['x-faceswap'] = { ...gpt['x-faceswap'], model: 'acme/gpt-image-2-mirror/edit' };
      writeFileSync(join(dir, 'mirror.json'), JSON.stringify(gpt));
      const listed = await runCli(['models', '--catalog', dir]);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('acme/gpt-image-2-mirror/edit');

      const missing = await runCli(['models', '--catalog', join(dir, 'nope')]);
      expect(missing.code).toBe(66);
      expect(missing.stderr).toBe(
        `faceswap-pipe: error: the model catalog folder ${join(dir, 'nope')} does not exist; name a folder of model schema files (--catalog DIR or FACESWAP_CATALOG)\n`,
      );

      writeFileSync(join(dir, 'broken.json'), '{ not json');
      const broken = await runCli(['models', '--catalog', dir]);
      expect(broken.code).toBe(65);
      expect(broken.stderr).toContain('broken.json is not valid JSON');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--catalog cannot switch consent off', () => {
  const unconsented = (model: string) =>
    `version: 1\nname: c\nstages:\n  a:\n    model: ${model}\n    input:\n      identity: face.jpg\n      scene: scene.jpg\n`;

  it('an override that calls a face-swap model no face swap, or drops its identity field, still needs consent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    try {
      const local = JSON.parse(
        readFileSync(new URL('../schemas/models/local-face-swap.schema.json', import.meta.url), 'utf8'),
      ) as { 'x-faceswap': Record<string, unknown> };
      local['x-faceswap'] = { ...local['x-faceswap'], faceSwap: false, identityFields: [] };
      mkdirSync(join(dir, 'cat'));
      writeFileSync(join(dir, 'cat', 'local.json'), JSON.stringify(local));
      // A new model the offline engine would run is a face swap too, whatever its file says.
      local['x-faceswap'] = { ...local['x-faceswap'], model: 'acme/beautify' };
      writeFileSync(join(dir, 'cat', 'acme.json'), JSON.stringify(local));
      writeFileSync(join(dir, 'face.jpg'), 'x');
      writeFileSync(join(dir, 'scene.jpg'), 'x');
      for (const model of ['local/face-swap', 'acme/beautify']) {
        writeFileSync(join(dir, 'r.yaml'), unconsented(model));
        const result = await runCli(['validate', 'r.yaml', '--catalog', join(dir, 'cat')], { cwd: dir });
        expect({ model, code: result.code }).toEqual({ model, code: 77 });
        expect(result.stderr).toContain('but the recipe has no consent: block');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes a folder's valid JSON Schema as is, and names a schema ajv cannot use (exit 65, not an internal error)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    try {
      mkdirSync(join(dir, 'cat'));
      const schema = (prompt: object) => ({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        'x-faceswap': { model: 'acme/edit/v1', medium: 'still' },
        required: ['prompt'],
        // Valid 2020-12 that ajv's strict mode refuses: a pattern with no type, an annotation.
        properties: { prompt, tag: { pattern: '^h', 'x-ui': { order: 1 } } },
        additionalProperties: false,
      });
      const file = join(dir, 'cat', 'acme.json');
      writeFileSync(file, JSON.stringify(schema({ type: 'string' })));
      writeFileSync(
        join(dir, 'r.yaml'),
        'version: 1\nname: c\nstages:\n  a:\n    model: acme/edit/v1\n    input: { prompt: hi, tag: xy }\n',
      );
      const checked = await runCli(['validate', 'r.yaml', '--catalog', 'cat'], { cwd: dir });
      expect(checked.code).toBe(65);
      expect(checked.stderr).toContain(
        'invalid value "xy" for input field "tag" of stage "a": it must match ^h',
      );
      for (const [prompt, why] of [
        [{ type: 'strang' }, 'schema is invalid'],
        [{ $ref: '#/$defs/nope' }, "can't resolve reference #/$defs/nope"],
      ] as const) {
        writeFileSync(file, JSON.stringify(schema(prompt)));
        for (const argv of [['validate', 'r.yaml'], ['models']]) {
          const result = await runCli([...argv, '--catalog', 'cat'], { cwd: dir });
          expect(result.code).toBe(65);
          expect(result.stderr).toContain(
            `model schema cat/acme.json is not a JSON Schema faceswap-pipe can use: ${why}`,
          );
          expect(result.stderr).not.toContain('internal error');
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('schema', () => {
  it('prints the recipe JSON Schema, equal to schemas/recipe.schema.json', async () => {
    const result = await runCli(['schema']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as unknown;
    expect(printed).toEqual(
      JSON.parse(readFileSync(new URL('../schemas/recipe.schema.json', import.meta.url), 'utf8')),
    );
  });
});

describe('the real binary (bin/faceswap-pipe.js)', () => {
  // The bin runs the bundle that `npm run build` makes from tsc's output; test/global-setup.ts
  // rebuilds it before any test file runs whenever a source is newer, so this never checks a
  // stale bundle (and no test rewrites dist/ while others run it).
  it('prints what the in-process CLI prints for every example recipe (validate, plan, models)', async () => {
    const recipes = readdirSync(`${root}/recipes`).filter((f) => f.endsWith('.yaml'));
    const runs = [
      ['models', '--format', 'json'],
      ['validate', ...recipes.map((r) => `recipes/${r}`), '--format', 'json'],
      ...recipes.map((r) => ['plan', `recipes/${r}`, '--format', 'json']),
    ];
    for (const argv of runs) {
      const bundled = await execa('node', ['bin/faceswap-pipe.js', ...argv], { cwd: root, reject: false });
      const inProcess = await runCli(argv, { cwd: root, env: process.env });
      expect({ argv, code: bundled.exitCode, stdout: bundled.stdout.trim() }).toEqual({
        argv,
        code: inProcess.code,
        stdout: inProcess.stdout.trim(),
      });
    }
  }, 120_000);

  // /dev/full refuses every write with ENOSPC: `> plan.json` on a full disk.
  it.skipIf(!existsSync('/dev/full'))(
    'output that cannot be written (a full disk) is one error line and exit 73, not a stack trace or exit 0',
    async () => {
      for (const argv of [['schema'], ['plan', recipe, '--format', 'json'], ['models']]) {
        const result = await execa(
          'sh',
          ['-c', 'node bin/faceswap-pipe.js "$@" > /dev/full', 'sh', ...argv],
          {
            cwd: root,
            reject: false,
          },
        );
        expect({ argv, code: result.exitCode }).toEqual({ argv, code: 73 });
        expect(result.stderr).toBe(
          'faceswap-pipe: error: cannot write the standard output: ENOSPC: no space left on device, write; free some space or send the output elsewhere, then run again',
        );
      }
      // A reader that goes away (| head) is no lost output: nothing is said about it.
      const head = await execa('sh', ['-c', 'node bin/faceswap-pipe.js schema | head -c 1 > /dev/null'], {
        cwd: root,
        reject: false,
      });
      expect(head.stderr).toBe('');
    },
  );

  it('validate prints the same diagnostics as in-process, and exits 65', async () => {
    const fixture = 'test/fixtures/invalid/acceptance';
    const result = await execa('node', ['bin/faceswap-pipe.js', 'validate', `${fixture}.yaml`], {
      cwd: root,
      reject: false,
      env: { NO_COLOR: '1' },
    });
    expect(result.exitCode).toBe(65);
    expect(`exit: ${result.exitCode}\n${result.stderr}\n`).toBe(
      readFileSync(`${root}/${fixture}.expected`, 'utf8'),
    );
  });

  it('plan --format mermaid prints the chain, exit 0', async () => {
    const result = await execa(
      'node',
      ['bin/faceswap-pipe.js', 'plan', 'recipes/kontext-to-kling.yaml', '--format', 'mermaid'],
      {
        cwd: root,
        reject: false,
      },
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('face --> motion');
  });

  it('plan --format mermaid keeps a reserved stage id apart from a stage already named like its prefix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mermaid-'));
    const stage = (id: string, input: string) =>
      `  ${id}:\n    model: blackforestlabs/flux-1-kontext/pro/edit\n    subjects: [ana]\n    input:\n      prompt: p\n      image: ${input}\n`;
    writeFileSync(
      join(dir, 'r.yaml'),
      'version: 1\nname: r\nconsent:\n  subjects: { ana: { release: R-1 } }\n  assets: [{ match: "https://a.example.com/**", rights: owned }]\n  disclosure: { label: AI-generated }\nstages:\n' +
        stage('stage_end', 'https://a.example.com/a.jpg') +
        stage('end', '${{ stages.stage_end.outputs.images[0] }}'),
    );
    try {
      const result = await execa(
        'node',
        [`${root}/bin/faceswap-pipe.js`, 'plan', 'r.yaml', '--format', 'mermaid'],
        {
          cwd: dir,
          reject: false,
        },
      );
      expect(result.exitCode).toBe(0);
      expect(result.stdout.split('\n')).toContain('  stage_end --> stage_end_2');
      expect(result.stdout).toContain('  stage_end_2["end<br/>');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('plan --format mermaid renames ids that start with a keyword before a dash, or hold "--"', async () => {
    // Each of these is a valid stage id that mermaid 11's flowchart parser rejects as a node id.
    const dir = mkdtempSync(join(tmpdir(), 'mermaid-'));
    const ids = ['end-v2', 'style-x', 'class-x', 'graph-x', 'subgraph-x', 'a--b', 'x-end'];
    let text = 'version: 1\nname: r\nstages:\n';
    ids.forEach((id, i) => {
      const image =
        i === 0 ? 'https://assets.example.com/a.jpg' : `\${{ stages.${ids[i - 1]}.outputs.images[0] }}`;
      text += `  ${id}:\n    model: google/nano-banana-2/edit\n    input:\n      prompt: p\n      image_urls: ["${image}"]\n`;
    });
    writeFileSync(join(dir, 'r.yaml'), consented(text));
    try {
      const result = await runCli(['plan', 'r.yaml', '--format', 'mermaid'], { cwd: dir });
      expect(result.code, result.stderr).toBe(0);
      const edges = result.stdout.split('\n').filter((l) => l.includes('-->'));
      expect(edges).toEqual([
        '  stage_end_v2 --> stage_style_x',
        '  stage_style_x --> stage_class_x',
        '  stage_class_x --> stage_graph_x',
        '  stage_graph_x --> stage_subgraph_x',
        '  stage_subgraph_x --> stage_a__b',
        '  stage_a__b --> x-end',
      ]);
      expect(result.stdout).toContain('  stage_end_v2["end-v2<br/>');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
