import { execa } from 'execa';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CHAIN_RECIPE, FAST_ENV, sandbox, type RunnerSandbox } from './helpers/runner.js';

const BIN = fileURLToPath(new URL('../bin/faceswap-pipe.js', import.meta.url));
const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const KLING = 'kling/kling-2-6/motion-control-pro';

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

/** `status --format json`'s stages, by stage id. */
async function statusByStage(
  box: RunnerSandbox,
  recipe: string,
): Promise<Record<string, { stage: string; state: string; detail: string }>> {
  const status = await box.run(['status', recipe, '--format', 'json']);
  const { stages } = JSON.parse(status.stdout) as {
    stages: { stage: string; state: string; detail: string }[];
  };
  return Object.fromEntries(stages.map((s) => [s.stage, s]));
}

function submittedModels(box: RunnerSandbox): string[] {
  return box.submissions().map((s) => s.model!);
}

/** The paths of a recipe's job records. */
function jobRecordPaths(box: RunnerSandbox, recipe: string): string[] {
  const dir = join(box.standin.dir, '.faceswap', recipe, 'jobs');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(dir, f));
}

/**
 * Starts `run` of `recipe` and SIGKILLs it once the stand-in has a submission (plus `afterMs`):
 * a run killed with a job in flight, as a crash, a power cut or a CI time limit leaves it.
 */
async function killAfterFirstSubmit(box: RunnerSandbox, recipe: string, afterMs = 0): Promise<void> {
  const first = execa('node', [BIN, 'run', recipe, '--reporter', 'plain'], {
    cwd: box.standin.dir,
    env: { ...box.standin.env, ...FAST_ENV },
    reject: false,
  });
  const deadline = Date.now() + 20_000;
  while (box.submissions().length === 0 && Date.now() < deadline) await sleep(25);
  if (afterMs > 0) await sleep(afterMs);
  first.kill('SIGKILL');
  await first;
}

/** The record of the chain's job for `model` (each model has one job there). */
function chainRecordOf(box: RunnerSandbox, model: string): string {
  return jobRecordPaths(box, 'chain').find((f) => readFileSync(f, 'utf8').includes(model))!;
}

/** The chain's face output, as a path: the newest run's first file of stage "face". */
function chainFaceFile(box: RunnerSandbox): string {
  return join(box.standin.dir, 'outputs/chain', box.runRecord('chain').stages['face']!.files[0]!);
}

/** Rewrites fields of a job record, as a hand edit or another version would. */
function editRecord(path: string, change: Record<string, unknown>): void {
  writeFileSync(path, JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as object), ...change }));
}

const TWO_HOURS_AGO = () => new Date(Date.now() - 7_200_000).toISOString();

function jobRecords(box: RunnerSandbox, recipe: string): { status: string; key: string }[] {
  const dir = join(box.standin.dir, '.faceswap', recipe, 'jobs');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { status: string; key: string });
}

describe('the cache', () => {
  it('keeps records intact when a short token also spells part of a path (no real token is that short)', async () => {
    sb = sandbox({}, { token: 'probe' });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const out = join(sb.standin.dir, 'probe-out');
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--out', out])).code).toBe(0);
    const callsBefore = sb.standin.readLog().length;
    const again = await sb.run(['run', recipe, '--reporter', 'plain', '--out', out]);
    expect(again.code).toBe(0);
    expect(sb.standin.readLog()).toHaveLength(callsBefore);
    expect(
      readFileSync(
        join(
          sb.standin.dir,
          '.faceswap',
          'chain',
          'jobs',
          readdirSync(join(sb.standin.dir, '.faceswap', 'chain', 'jobs')).find((f) => f.endsWith('.json'))!,
        ),
        'utf8',
      ),
    ).toContain('probe-out');
  });

  it("a re-run with another --out fetches the finished jobs' files into it, paying nothing", async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    const other = join(sb.standin.dir, 'other out');
    const moved = await sb.run(['run', recipe, '--reporter', 'plain', '--out', other]);
    expect(moved.code).toBe(0);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    const runs = join(other, 'chain', 'runs');
    const record = JSON.parse(readFileSync(join(runs, readdirSync(runs)[0]!, 'run.json'), 'utf8')) as {
      stages: Record<string, { files: string[] }>;
    };
    for (const stage of ['face', 'motion']) {
      const file = record.stages[stage]!.files[0]!;
      expect(file.startsWith(`${stage}/`)).toBe(true);
      expect(existsSync(join(other, 'chain', file))).toBe(true);
    }
    // And that folder's re-run is cached, calling nothing.
    const calls = sb.standin.readLog().length;
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--out', other])).stdout).toContain(
      'no runcomfy calls',
    );
    expect(sb.standin.readLog()).toHaveLength(calls);
  });

  it('an unchanged re-run makes zero runcomfy calls, reports the stages cached and exits 0', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    const callsBefore = sb.standin.readLog().length;
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    expect(sb.standin.readLog()).toHaveLength(callsBefore);
    expect(again.stdout).toContain('no runcomfy calls (2 stages cached)');
    const record = sb.runRecord('chain');
    expect(record.stages['face']!.status).toBe('cached');
    expect(record.stages['motion']!.status).toBe('cached');
    // The cached run hands the same outputs on: motion's files are the first run's.
    expect(record.stages['motion']!.files[0]).toMatch(/^motion\/[^/]+\/output\.mp4$/);
  });

  it('an edited prompt re-runs exactly that stage and the dependents whose input changes', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    // The dance video only feeds motion: face stays cached.
    await sb.run([
      'run',
      recipe,
      '--reporter',
      'plain',
      '--set',
      'dance=https://assets.example.com/salsa.mp4',
    ]);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KLING]);
    // A new face prompt changes face's output URL, so motion's input changes too.
    sb.recipe(
      'chain.yaml',
      CHAIN_RECIPE.replace('Change only the face', 'Change only the face, add freckles'),
    );
    await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KLING, KONTEXT, KLING]);
    // Back to the original text: both are cached from the first run.
    sb.recipe('chain.yaml', CHAIN_RECIPE);
    const back = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(back.stdout).toContain('no runcomfy calls');
    expect(submittedModels(sb)).toHaveLength(5);
  });

  it('re-runs the producer of expired URLs when a running dependent needs them, keeping its files', async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'chain.yaml',
      CHAIN_RECIPE.replace('defaults:\n', 'cache:\n  url_ttl: 1s\ndefaults:\n'),
    );
    await sb.run(['run', recipe, '--reporter', 'plain']);
    const firstFace = sb.runRecord('chain').stages['face']!.files[0]!;
    await sleep(1_200);
    // Everything cached: stale URLs are not needed by anyone, nothing runs.
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).stdout).toContain('no runcomfy calls');
    // motion must run (new dance): face's URL is too old to hand on, so face runs again first.
    await sb.run([
      'run',
      recipe,
      '--reporter',
      'plain',
      '--set',
      'dance=https://assets.example.com/salsa.mp4',
    ]);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KONTEXT, KLING]);
    expect(existsSync(join(sb.standin.dir, 'outputs/chain', firstFace))).toBe(true);
    // --only motion cannot run face again: it refuses rather than pay for a job sent a dead URL,
    // and its advice keeps the --set the cache is keyed by.
    await sleep(1_200);
    const only = await sb.run([
      'run',
      recipe,
      '--reporter',
      'plain',
      '--set',
      'dance=https://assets.example.com/tango.mp4',
      '--only',
      'motion',
    ]);
    expect(only.code).toBe(65);
    expect(only.stderr).toContain(
      'stage "motion" needs the results of stage "face", which is not selected, and whose cached output URLs are older than cache.url_ttl',
    );
    expect(only.stderr).toContain(
      `--set dance=https://assets.example.com/tango.mp4 --force face --until face`,
    );
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KONTEXT, KLING]);
    // The advice works: face runs again, and then motion alone can run on its fresh URLs.
    const tango = ['--set', 'dance=https://assets.example.com/tango.mp4'];
    expect(
      (await sb.run(['run', recipe, '--reporter', 'plain', ...tango, '--force', 'face', '--until', 'face']))
        .code,
    ).toBe(0);
    expect((await sb.run(['run', recipe, '--reporter', 'plain', ...tango, '--only', 'motion'])).code).toBe(0);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KONTEXT, KLING, KONTEXT, KLING]);
  });

  it('a fan-out stage past url_ttl runs again only the items whose URLs expired', async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'fan.yaml',
      `version: 1
name: fan
cache: { url_ttl: 1h }
vars:
  still: https://assets.example.com/ana.jpg
  dance: https://assets.example.com/dance.mp4
stages:
  face:
    model: ${KONTEXT}
    foreach: [freckles, beard, glasses]
    input:
      prompt: Change only the face, add \${{ item }}
      image: \${{ vars.still }}
  motion:
    model: ${KLING}
    foreach: \${{ stages.face.outputs }}
    input:
      character_image_url: \${{ item.images[0] }}
      reference_video_url: \${{ vars.dance }}
`,
    );
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    // One of face's three jobs finished two hours ago: its URL is dead, the others are fine.
    const beardJob = sb
      .submissions()
      .find((s) => String((s.body as { prompt: string }).prompt).endsWith('beard'))!;
    const beard = jobRecordPaths(sb, 'fan').find((f) =>
      readFileSync(f, 'utf8').includes(beardJob.request_id!),
    )!;
    editRecord(beard, { finishedAt: TWO_HOURS_AGO() });
    const salsa = ['--set', 'dance=https://assets.example.com/salsa.mp4'];
    const dry = await sb.run(['run', recipe, '--dry-run', ...salsa]);
    expect(dry.stdout).toContain(
      "1 of its 3 items' cached output URLs are older than cache.url_ttl and a dependent needs them (the other items stay cached)",
    );
    // status gives the same reason: the input did not change.
    const status = await sb.run(['status', recipe, ...salsa]);
    expect(status.stdout).toContain("1 of its 3 items' cached output URLs are older than cache.url_ttl");
    const faceLine = status.stdout.split('\n').find((l) => l.startsWith('face '))!;
    expect(faceLine).not.toContain('changed since');
    expect((await sb.run(['run', recipe, '--reporter', 'plain', ...salsa])).code).toBe(0);
    const faces = sb.submissions().filter((s) => s.model === KONTEXT);
    const prompts = faces.map((s) => (s.body as { prompt: string }).prompt);
    expect(prompts).toHaveLength(4);
    expect(prompts.at(-1)).toBe('Change only the face, add beard');
    // motion runs all three items again (its dance changed), on face's fresh and cached URLs.
    expect(sb.submissions().filter((s) => s.model === KLING)).toHaveLength(6);
  });

  it('a dependent that only fetches its missing files again does not make its stale producer run (no job paid twice)', async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'chain.yaml',
      CHAIN_RECIPE.replace('defaults:\n', 'cache:\n  url_ttl: 1h\ndefaults:\n'),
    );
    await sb.run(['run', recipe, '--reporter', 'plain']);
    // face finished two hours ago (past url_ttl); motion just now.
    editRecord(chainRecordOf(sb, KONTEXT), { finishedAt: TWO_HOURS_AGO() });
    rmSync(join(sb.standin.dir, 'outputs/chain/motion'), { recursive: true, force: true });
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    // motion's job is asked for its result again (free); face's stale URLs are sent nowhere.
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    expect(sb.runRecord('chain').stages['face']!.status).toBe('cached');
    expect(
      existsSync(join(sb.standin.dir, 'outputs/chain', sb.runRecord('chain').stages['motion']!.files[0]!)),
    ).toBe(true);
  });

  it('files fetched again keep the job finished and its time; past url_ttl the job runs again instead', async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'chain.yaml',
      CHAIN_RECIPE.replace('defaults:\n', 'cache:\n  url_ttl: 1h\ndefaults:\n'),
    );
    await sb.run(['run', recipe, '--reporter', 'plain']);
    const records = () =>
      jobRecordPaths(sb!, 'chain')
        .map(
          (f) =>
            JSON.parse(readFileSync(f, 'utf8')) as { stage: string; status: string; finishedAt?: string },
        )
        .sort((a, b) => a.stage.localeCompare(b.stage));
    const before = records();
    rmSync(join(sb.standin.dir, 'outputs/chain/face'), { recursive: true, force: true });
    const fetched = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(fetched.code).toBe(0);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    // The hosted files' lifetime runs from the job, not from the fetch; the run paid for nothing.
    expect(records()).toEqual(before);
    expect(sb.runRecord('chain')).toMatchObject({ submissions: 0 });

    // face finished two hours ago: past url_ttl, its missing files are gone from the service too.
    editRecord(chainRecordOf(sb, KONTEXT), { finishedAt: TWO_HOURS_AGO() });
    rmSync(join(sb.standin.dir, 'outputs/chain/face'), { recursive: true, force: true });
    const dry = await sb.run(['run', recipe, '--dry-run']);
    expect(dry.stdout).toContain('older than cache.url_ttl (the service no longer has them)');
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    // face runs again (new URLs, so motion's input changed and it runs too).
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KONTEXT, KLING]);
  });

  it('--dry-run and status count only new jobs: cached items are not run, missing files are fetched again', async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'fan.yaml',
      `version: 1
name: fan
vars:
  scenes: [https://assets.example.com/1.jpg, https://assets.example.com/2.jpg, https://assets.example.com/3.jpg]
stages:
  fan:
    model: ${KONTEXT}
    foreach: \${{ vars.scenes }}
    input: { prompt: Change only the face, image: "\${{ item }}" }
  after:
    model: ${KONTEXT}
    input: { prompt: Again, image: "\${{ stages.fan.outputs[0].images[0] }}" }
`,
    );
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    const four = [
      '--set',
      'scenes=["https://assets.example.com/1.jpg","https://assets.example.com/2.jpg","https://assets.example.com/3.jpg","https://assets.example.com/4.jpg"]',
    ];
    const dry = await sb.run(['run', recipe, '--dry-run', ...four]);
    expect(dry.stdout).toContain('fan (1 call)');
    expect(dry.stdout).toContain('runs: 1 of 4 items have no cached result');
    expect(dry.stdout).toContain('4.jpg');
    expect(dry.stdout).not.toMatch(/stdin: .*1\.jpg/);
    const status = await sb.run(['status', recipe, ...four]);
    expect(status.stdout).toContain('a run would call: fan (1 job)');
    // The files of the first item are gone: the next run fetches them from the same job.
    const files = sb.runRecord('fan').stages['fan']!.files;
    rmSync(join(sb.standin.dir, 'outputs/fan', files[0]!.split('/').slice(0, 2).join('/')), {
      recursive: true,
    });
    const again = await sb.run(['run', recipe, '--dry-run']);
    expect(again.stdout).toContain('fan (0 calls)');
    expect(again.stdout).toMatch(
      /follows job \S+ of an earlier run \(its files are fetched again\), no new job/,
    );
    expect(again.stdout).toContain('after: cached, no call');
    const before = sb.submissions().length;
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    expect(sb.submissions()).toHaveLength(before);
  });

  it('--force re-runs every stage (before or after the recipe); --force <stage> only that one; --no-cache neither reads nor writes', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await sb.run(['run', recipe, '--reporter', 'plain']);
    await sb.run(['run', recipe, '--reporter', 'plain', '--force', 'motion']);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KLING]);
    await sb.run(['run', recipe, '--reporter', 'plain', '--force']);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KLING, KONTEXT, KLING]);
    // Written before the recipe, --force still means every stage: a stage id has no "." or "/".
    expect((await sb.run(['run', '--reporter', 'plain', '--force', recipe])).code).toBe(0);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KLING, KONTEXT, KLING, KONTEXT, KLING]);
    expect((await sb.run(['run', '--force', 'motion'])).code).toBe(64);
    const recordsBefore = jobRecords(sb, 'chain').length;
    const other = sb.recipe('other.yaml', CHAIN_RECIPE.replace('name: chain', 'name: other'));
    await sb.run(['run', other, '--reporter', 'plain', '--no-cache']);
    expect(existsSync(join(sb.standin.dir, '.faceswap', 'other', 'jobs'))).toBe(false);
    expect(jobRecords(sb, 'chain')).toHaveLength(recordsBefore);
  });

  it('a truncated job record is reported and treated as absent, never a crash', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await sb.run(['run', recipe, '--reporter', 'plain']);
    const dir = join(sb.standin.dir, '.faceswap', 'chain', 'jobs');
    const face = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(dir, f))
      .find((f) => readFileSync(f, 'utf8').includes(KONTEXT))!;
    writeFileSync(face, readFileSync(face, 'utf8').slice(0, 40));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: job record .* is torn or not JSON/);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KONTEXT, KLING]);
    expect(() => JSON.parse(readFileSync(face, 'utf8')) as unknown).not.toThrow();
  });

  it("a cached output replaced or stripped of its provenance record is fetched again, never recorded as the job's", async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await sb.run(['run', recipe, '--reporter', 'plain']);
    const face = chainFaceFile(sb);
    const original = readFileSync(face);
    writeFileSync(face, Buffer.concat([original, Buffer.from('another picture')]));
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    // The job's own file is back (fetched from the finished job: no new job), and motion is cached.
    expect(readFileSync(face).equals(original)).toBe(true);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    expect(sb.runRecord('chain').stages['motion']!.status).toBe('cached');
    rmSync(`${face}.provenance.json`);
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    expect(existsSync(`${face}.provenance.json`)).toBe(true);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    // A file that is there, the size its job recorded, with only its provenance record gone, is
    // never paid for again, even past url_ttl (a run killed before its stage was recorded).
    for (const path of jobRecordPaths(sb, 'chain'))
      editRecord(path, { finishedAt: '2020-01-01T00:00:00.000Z' });
    rmSync(`${face}.provenance.json`);
    const old = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(old.code).toBe(0);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    expect(existsSync(`${face}.provenance.json`)).toBe(true);
  });

  it('a cached output edited in place (same size) is fetched again; one only touched is kept', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await sb.run(['run', recipe, '--reporter', 'plain']);
    const face = chainFaceFile(sb);
    const original = readFileSync(face);
    const edited = Buffer.from(original);
    edited.writeUInt8(edited.readUInt8(edited.length - 1) ^ 0xff, edited.length - 1);
    writeFileSync(face, edited);
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    expect(readFileSync(face).equals(original)).toBe(true);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    // Touched but unchanged (a checkout copied without its times): its hash still matches.
    const later = new Date(Date.now() + 60_000);
    utimesSync(face, later, later);
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    expect(Math.round(statSync(face).mtimeMs)).toBe(later.getTime());
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
  });

  it('a checkout moved or restored elsewhere keeps its cache, even past url_ttl', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await sb.run(['run', recipe, '--reporter', 'plain']);
    // The records name the output folder where the jobs' files went: as if that was another path.
    for (const path of jobRecordPaths(sb, 'chain'))
      editRecord(path, {
        outRoot: '/home/ci/old-workspace/outputs/chain',
        finishedAt: '2020-01-01T00:00:00.000Z',
      });
    const status = await sb.run(['status', recipe]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/every stage is cached/);
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    expect(sb.runRecord('chain').stages['motion']).toMatchObject({ status: 'cached' });
    expect(existsSync(chainFaceFile(sb))).toBe(true);
  });

  it('a job record with fields of the wrong type (files, finishedAt) is ignored and reported, not a crash', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await sb.run(['run', recipe, '--reporter', 'plain']);
    editRecord(chainRecordOf(sb, KONTEXT), { files: [123] });
    editRecord(chainRecordOf(sb, KLING), { finishedAt: 'garbage' });
    for (const command of ['status', 'run']) {
      const result = await sb.run([command, recipe, ...(command === 'run' ? ['--reporter', 'plain'] : [])]);
      expect({ command, code: result.code }).toEqual({ command, code: 0 });
      expect(result.stderr).toMatch(
        /warning: job record .* is not a record of this faceswap-pipe version \(a field is missing or has the wrong type\)/,
      );
    }
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING, KONTEXT, KLING]);
  });
});

describe('partial runs', () => {
  const DIAMOND = `version: 1
name: parts
stages:
  a:
    model: ${KONTEXT}
    input: { prompt: a, image: https://assets.example.com/a.jpg }
  b:
    model: ${KONTEXT}
    input: { prompt: b, image: "\${{ stages.a.outputs.images[0] }}" }
  c:
    model: ${KONTEXT}
    input: { prompt: c, image: "\${{ stages.b.outputs.images[0] }}" }
  d:
    model: ${KONTEXT}
    input: { prompt: d, image: https://assets.example.com/d.jpg }
`;
  const prompts = (box: RunnerSandbox) => box.submissions().map((s) => (s.body as { prompt: string }).prompt);

  it('--until runs a stage and what it needs; --only fails clearly when an upstream never ran', async () => {
    sb = sandbox();
    const recipe = sb.recipe('parts.yaml', DIAMOND);
    const only = await sb.run(['run', recipe, '--reporter', 'plain', '--only', 'c']);
    expect(only.code).toBe(65);
    expect(only.stderr).toContain(
      'stage "c" needs the results of stage "b", which is not selected and has no cached result for its current input',
    );
    expect(sb.submissions()).toHaveLength(0);
    const until = await sb.run(['run', recipe, '--reporter', 'plain', '--until', 'b']);
    expect(until.code).toBe(0);
    expect(prompts(sb).sort()).toEqual(['a', 'b']);
    expect(sb.runRecord('parts').stages['d']).toMatchObject({ status: 'skipped', reason: 'not-selected' });
  });

  it('--only takes upstream outputs from the cache; --from runs a stage and everything downstream', async () => {
    sb = sandbox();
    const recipe = sb.recipe('parts.yaml', DIAMOND);
    await sb.run(['run', recipe, '--reporter', 'plain', '--until', 'b']);
    const only = await sb.run(['run', recipe, '--reporter', 'plain', '--only', 'c', '--force', 'c']);
    expect(only.code).toBe(0);
    const unselected = await sb.run(['run', recipe, '--dry-run', '--only', 'c', '--force', 'a']);
    expect(unselected.stderr).toContain(
      'warning: --force a: stage "a" is not selected, so it is not run again (its results come from the cache)',
    );
    expect(prompts(sb).sort()).toEqual(['a', 'b', 'c']);
    await sb.run(['run', recipe, '--reporter', 'plain', '--from', 'b', '--force']);
    expect(prompts(sb).sort()).toEqual(['a', 'b', 'b', 'c', 'c']);
    const bad = await sb.run(['run', recipe, '--only', 'cc']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('no stage "cc" in parts.yaml; did you mean "c"?');
    // d is on no path from b: nothing is selected, which is a usage error, not a run that did nothing.
    const none = await sb.run(['run', recipe, '--from', 'b', '--until', 'd']);
    expect(none.code).toBe(64);
    expect(none.stderr).toContain('--from b --until d select no stage');
  });
});

describe('state and locks', () => {
  it('a second run of the same recipe refuses while the first holds the lock (exit 75), never double-submits', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 2_500 } } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const first = execa('node', [BIN, 'run', recipe, '--reporter', 'plain'], {
      cwd: sb.standin.dir,
      env: { ...sb.standin.env, ...FAST_ENV },
      reject: false,
    });
    const deadline = Date.now() + 20_000;
    while (sb.submissions().length === 0 && Date.now() < deadline) await sleep(50);
    const second = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(second.code).toBe(75);
    expect(second.stderr).toMatch(/another run \(pid \d+ on .*\) is using the state folder/);
    expect((await first).exitCode).toBe(0);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
  });

  it('takes over a stale lock left by a dead process, including a zombie that still answers kill(pid, 0)', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    // `sh` starts `true` in the background, then becomes `sleep`, which never reaps it: a zombie.
    const parent = spawn('sh', ['-c', 'true & exec sleep 30'], { stdio: 'ignore' });
    await sleep(300);
    const children = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    const zombie = children[0]!;
    expect(readFileSync(`/proc/${zombie}/stat`, 'utf8')).toMatch(/\) Z /);
    expect(() => process.kill(zombie, 0)).not.toThrow();
    const stateDir = join(sb.standin.dir, '.faceswap', 'chain');
    (await import('node:fs')).mkdirSync(stateDir, { recursive: true });
    writeFileSync(
      join(stateDir, 'lock'),
      JSON.stringify({
        pid: zombie,
        host: hostname(),
        since: '2026-01-01T00:00:00.000Z',
        command: 'faceswap-pipe run',
      }),
    );
    try {
      const result = await sb.run(['run', recipe, '--reporter', 'plain']);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`took over the lock of a run that is gone (pid ${zombie}`);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('status calls a stage whose input changed since it ran "stale", and counts only the jobs a run would make', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    expect((await sb.run(['status', recipe])).stdout).toContain('a run would call nothing');
    sb.recipe(
      'chain.yaml',
      CHAIN_RECIPE.replace('Change only the face', 'Change only the face, add freckles'),
    );
    const status = await sb.run(['status', recipe, '--format', 'json']);
    const json = JSON.parse(status.stdout) as {
      stages: { stage: string; state: string; detail: string }[];
      wouldCall: { stage: string; jobs: number }[];
    };
    expect(json.stages.map((s) => s.state)).toEqual(['stale', 'stale']);
    expect(json.stages[0]!.detail).toContain('its input changed since it last ran');
    expect(json.wouldCall).toEqual([
      { stage: 'face', jobs: 1 },
      { stage: 'motion', jobs: 1 },
    ]);
  });

  it('status tells an item whose job failed from one whose input changed', async () => {
    sb = sandbox({
      models: { default: { base: { queueMs: 0, runMs: 100 }, steps: [{}, { status: 'failed' }, {}] } },
    });
    const fan = (prompt: string) => `version: 1
name: fan
stages:
  fan:
    model: ${KONTEXT}
    foreach: [freckles, beard, glasses]
    input: { prompt: "${prompt} \${{ item }}", image: https://assets.example.com/ana.jpg }
`;
    const recipe = sb.recipe('fan.yaml', fan('Change only the face, add'));
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(1);
    const detail = async () => {
      const status = await sb!.run(['status', recipe, '--format', 'json']);
      return (JSON.parse(status.stdout) as { stages: { state: string; detail: string }[] }).stages[0];
    };
    // Nothing was edited: one item's job failed.
    expect(await detail()).toEqual({
      stage: 'fan',
      model: KONTEXT,
      state: 'stale',
      detail: '1 of 3 items failed or never finished',
      requestIds: [],
      wouldCall: 1,
    });
    // Now the prompt changed too: the items that finished have a new input.
    sb.recipe('fan.yaml', fan('Change only the face, and add'));
    expect((await detail())?.detail).toBe(
      'the input of 2 of 3 items changed since they last ran; 1 of 3 items failed or never finished',
    );
  });

  it('status calls a stage the last run that tried it failed "failed", with why, for that very input only', async () => {
    sb = sandbox({ models: { default: { steps: [{ status: 'failed', error: 'face not found' }] } } });
    const two = (prompt: string) => `version: 1
name: two
defaults: { retries: 0 }
stages:
  a:
    model: ${KONTEXT}
    input: { prompt: "${prompt}", image: https://assets.example.com/ana.jpg }
  b:
    model: ${KONTEXT}
    input: { prompt: "Change only the hair", image: https://assets.example.com/ana.jpg }
`;
    const recipe = sb.recipe('two.yaml', two('Change only the face'));
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--concurrency', '1'])).code).toBe(1);
    const states = () => statusByStage(sb!, recipe);
    // Its job record is gone (the next run submits it again): the run record still knows.
    let now = await states();
    expect(now['a']!.state).toBe('failed');
    expect(now['a']!.detail).toMatch(
      /^failed in the last run that tried it \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\): .*face not found/,
    );
    expect(now['b']!.state).toBe('done');
    expect((await sb.run(['status', recipe])).stdout).toMatch(/a +\S+ +failed +failed in the last run/);
    // A later run that left it out (--only) did not try it: the failure still stands.
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--only', 'b'])).code).toBe(0);
    expect((await states())['a']!.state).toBe('failed');
    // Another input has never run: the failure was not its own.
    sb.recipe('two.yaml', two('Change only the face, add freckles'));
    now = await states();
    expect(now['a']).toMatchObject({ state: 'never-run' });
    expect(now['a']!.detail).not.toContain('face not found');
    sb.recipe('two.yaml', two('Change only the face'));
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    expect(Object.values(await states()).map((s) => s.state)).toEqual(['done', 'done']);
  });

  it('status: a stage whose input could not be made stays "failed" while it still cannot be made', async () => {
    sb = sandbox({
      models: {
        default: { base: { queueMs: 0, runMs: 100 }, steps: [{ status: 'failed', error: 'other broke' }] },
      },
    });
    const recipe = sb.recipe(
      'idx.yaml',
      `version: 1
name: idx
defaults: { retries: 0 }
stages:
  a:
    model: ${KONTEXT}
    input: { prompt: "A", image: https://assets.example.com/ana.jpg }
  c:
    model: ${KONTEXT}
    input: { prompt: "C", image: https://assets.example.com/ana.jpg }
  b:
    model: ${KONTEXT}
    input: { prompt: "B", image: "\${{ stages.a.outputs.images[3] }}" }
`,
    );
    // a fails (the first job), so b never starts; then a succeeds and b fails on its input.
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--only', 'a'])).code).toBe(1);
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--only', 'a,b'])).code).toBe(1);
    const states = () => statusByStage(sb!, recipe);
    const now = await states();
    expect(now['b']).toMatchObject({ state: 'failed' });
    expect(now['b']!.detail).toContain('failed in the last run that tried it');
  });

  it('status: a later run that stopped before starting a failed stage (--fail-fast) does not hide its failure', async () => {
    sb = sandbox({
      models: {
        default: {
          base: { queueMs: 0, runMs: 200 },
          steps: [
            { status: 'failed', error: 'face not found' },
            { status: 'failed', error: 'other broke' },
          ],
        },
      },
    });
    const recipe = sb.recipe(
      'two.yaml',
      `version: 1
name: two
defaults: { retries: 0 }
stages:
  b:
    model: ${KONTEXT}
    input: { prompt: "B prompt", image: https://assets.example.com/ana.jpg }
  c:
    model: ${KONTEXT}
    input: { prompt: "C prompt", image: https://assets.example.com/ana.jpg }
`,
    );
    const stateOf = async (stage: string) => (await statusByStage(sb!, recipe))[stage]!;
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--only', 'c'])).code).toBe(1);
    expect(await stateOf('c')).toMatchObject({ state: 'failed' });
    await sb.run(['run', recipe, '--reporter', 'plain', '--fail-fast', '--concurrency', '1']);
    const c = sb.runRecord('two').stages['c'] as { attempts: unknown[] };
    expect(c.attempts).toEqual([]);
    expect(await stateOf('c')).toMatchObject({ state: 'failed' });
    expect((await stateOf('c')).detail).toContain('face not found');
  });

  it('keeps no submit leftovers: a refused submit leaves no record, a finished one no stdout files', async () => {
    sb = sandbox({ models: { [KONTEXT]: { steps: [75], then: 'repeat-last' } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE.replace('retries: 2', 'retries: 0'));
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(75);
    const jobs = join(sb.standin.dir, '.faceswap', 'chain', 'jobs');
    const status = await sb.run(['status', recipe]);
    expect(status.stdout).not.toContain('submitting');
    expect(readdirSync(jobs).filter((f) => !f.startsWith('.'))).toEqual([]);
    sb.standin.writeScenario({});
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    expect(readdirSync(jobs).filter((f) => f.includes('.submit-'))).toEqual([]);
    expect(readdirSync(jobs).filter((f) => f.endsWith('.json'))).toHaveLength(2);
  });

  it('a submit that never answered is no job in flight: status, --dry-run and clean say what the run does', async () => {
    // A dropped connection at submit: the job may exist, but without a request id nothing can
    // follow it, and the next run submits anew. Saying "followed, not paid again" was wrong.
    sb = sandbox({ models: { [KONTEXT]: { steps: [1], then: 'repeat-last' } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE.replace('retries: 2', 'retries: 0'));
    const standin = sb.standin;
    const submits = () => standin.readLog().filter((r) => r.command === 'run').length;
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).not.toBe(0);
    expect(submits()).toBe(1);
    const status = await sb.run(['status', recipe]);
    expect(status.stdout).not.toContain('running');
    expect(status.stdout).toContain('a run would call: face (1 job), motion (1 job)');
    const dry = await sb.run(['run', recipe, '--dry-run']);
    expect(dry.stdout).toContain(
      'never returned a request id, so it is submitted again (a job the cut-off submit may have created cannot be followed without its id)',
    );
    expect(dry.stdout).not.toContain('not paid again');
    const clean = await sb.run(['clean', recipe, '--keep-outputs']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toContain('removed .faceswap/chain');
    sb.standin.writeScenario({});
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    expect(submits()).toBe(3);
    // Nothing left to clean twice: said so, not "removed".
    await sb.run(['clean', recipe]);
    const again = await sb.run(['clean', recipe]);
    expect(again.stdout).toBe('no state to remove (.faceswap/chain)\nno outputs to remove (outputs/chain)\n');
  });

  it('a lock from another host is respected while its heartbeat is fresh and taken over once it is stale', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const stateDir = join(sb.standin.dir, '.faceswap', 'chain');
    (await import('node:fs')).mkdirSync(stateDir, { recursive: true });
    const lock = join(stateDir, 'lock');
    // A CI job on another runner held it (its pid means nothing here), then was killed.
    writeFileSync(
      lock,
      JSON.stringify({
        pid: 4242,
        host: 'runner-a',
        since: '2026-01-01T00:00:00.000Z',
        command: 'faceswap-pipe run',
      }),
    );
    const fresh = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(fresh.code).toBe(75);
    expect(fresh.stderr).toContain('on runner-a');
    expect(fresh.stderr).toContain('taken over 90 s after its last heartbeat');
    const longAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(lock, longAgo, longAgo);
    const stale = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(stale.code).toBe(0);
    expect(stale.stderr).toContain('took over the lock of a run that is gone (pid 4242');
  });

  it('a lock from another PID namespace of this host (a container sharing the volume) is judged by its heartbeat', async () => {
    // Same hostname, but its pid names a process in another namespace: a dead pid here says
    // nothing about it. Taking such a lock over made two runs pay for the same job.
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const stateDir = join(sb.standin.dir, '.faceswap', 'chain');
    (await import('node:fs')).mkdirSync(stateDir, { recursive: true });
    const lock = join(stateDir, 'lock');
    writeFileSync(
      lock,
      JSON.stringify({
        pid: 2_000_000_000,
        host: hostname(),
        pidNamespace: 'pid:[1]',
        since: '2026-01-01T00:00:00.000Z',
        command: 'faceswap-pipe run',
      }),
    );
    const status = await sb.run(['status', recipe]);
    expect(status.stdout).toContain('a run is in progress');
    const fresh = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(fresh.code).toBe(75);
    expect(fresh.stderr).toContain('another host or in another container');
    const longAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(lock, longAgo, longAgo);
    const stale = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(stale.code).toBe(0);
    expect(stale.stderr).toContain('took over the lock of a run that is gone (pid 2000000000');
  });

  it('a run killed while a job is in flight is resumed by the next run without paying again', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 1_500 } } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await killAfterFirstSubmit(sb, recipe);
    const second = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(second.code).toBe(0);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
    const face = sb.runRecord('chain').stages['face']!;
    expect(face.attempts[0]).toMatchObject({ reattached: true, outcome: 'succeeded' });
  });

  it('--force on a stage whose job a killed run left in flight follows that job, and --dry-run says so', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 1_500 } } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await killAfterFirstSubmit(sb, recipe);
    const dry = await sb.run(['run', recipe, '--dry-run', '--force', 'face']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      'forced (--force); its job still in flight from an earlier run is followed, not paid again',
    );
    expect(dry.stdout).not.toContain(`run ${KONTEXT}`);
    const forced = await sb.run(['run', recipe, '--reporter', 'plain', '--force', 'face']);
    expect(forced.code).toBe(0);
    expect(submittedModels(sb)).toEqual([KONTEXT, KLING]);
  });

  it('a job whose submit a killed run left unanswered counts its age from that submit, not from the resume', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 0 }, steps: [{ submitMs: 3_000 }] } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const first = execa('node', [BIN, 'run', recipe, '--reporter', 'plain', '--only', 'face'], {
      cwd: sb.standin.dir,
      env: { ...sb.standin.env, ...FAST_ENV },
      reject: false,
    });
    const dir = join(sb.standin.dir, '.faceswap', 'chain', 'jobs');
    const record = () =>
      existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith('.json'))
            .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, string>)[0]
        : undefined;
    const deadline = Date.now() + 20_000;
    while (record()?.['status'] !== 'submitting' && Date.now() < deadline) await sleep(25);
    const since = record()!['since']!;
    await sleep(500);
    first.kill('SIGKILL');
    await first;
    expect((await sb.run(['run', recipe, '--reporter', 'plain', '--only', 'face'])).code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    expect(record()).toMatchObject({ status: 'succeeded', finishedAt: since });
  });

  it('a foreach over an empty list is nothing to run: status and --dry-run say so, and its dependents are decided', async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'empty.yaml',
      `version: 1\nname: empty\nvars:\n  scenes: []\nstages:\n  a:\n    model: ${KONTEXT}\n    foreach: \${{ vars.scenes }}\n    input:\n      prompt: Change only the face\n      image: \${{ item }}\n` +
        `  b:\n    model: ${KONTEXT}\n    needs: [a]\n    input:\n      prompt: Change only the face\n      image: https://assets.example.com/b.jpg\n`,
    );
    const status = await sb.run(['status', recipe]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/a +\S+ +never-run +its foreach list is empty: no job to run/);
    const dry = await sb.run(['run', recipe, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('1. a (0 calls)');
    expect(dry.stdout).not.toContain('cached');
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    // Run once: b is cached, and a is still nothing to run rather than "upstream runs".
    const again = await sb.run(['run', recipe, '--dry-run']);
    expect(again.stdout).toContain('b: cached, no call');
    // Selecting only the dependent: the empty stage's (empty) results are there without a run.
    const only = await sb.run(['run', recipe, '--only', 'b', '--reporter', 'plain']);
    expect(only.code, only.stderr).toBe(0);
  });

  it('status shows done, running (with the request id) and never run; clean removes the state', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 60_000 } } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await killAfterFirstSubmit(sb, recipe, 300);
    const id = sb.submissions()[0]!.request_id!;
    const status = await sb.run(['status', recipe]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`face +${KONTEXT} +running +submitted: ${id}`));
    expect(status.stdout).toMatch(/motion .* never-run/);
    // The killed run's job is followed by the next run, not paid for again.
    expect(status.stdout).toContain('a run would call: motion (1 job)');
    const dry = await sb.run(['run', recipe, '--dry-run']);
    expect(dry.stdout).toContain(`follows job ${id} of an earlier run (still in flight), no new job`);
    expect(dry.stdout).toContain(
      'would make 1 runcomfy call; 1 job of an earlier run followed, not paid again',
    );
    const json = JSON.parse((await sb.run(['status', recipe, '--format', 'json'])).stdout) as {
      stages: { stage: string; state: string; requestIds: string[] }[];
    };
    expect(json.stages.map((s) => s.state)).toEqual(['running', 'never-run']);
    expect(json.stages[0]!.requestIds).toEqual([id]);
    // clean would forget a job the service may still be running (and billing): it refuses.
    const refused = await sb.run(['clean', recipe, '--keep-outputs']);
    expect(refused.code).toBe(75);
    expect(refused.stderr).toContain(`1 job is still recorded as in flight: face (${id})`);
    expect(refused.stderr).toContain('or forget it with clean --force');
    expect(existsSync(join(sb.standin.dir, '.faceswap', 'chain', 'jobs'))).toBe(true);
    expect(existsSync(join(sb.standin.dir, '.faceswap', 'chain', 'lock'))).toBe(false);
    const clean = await sb.run(['clean', recipe, '--force']);
    expect(clean.code).toBe(0);
    // Forgotten, but not silently: the id is the only way to cancel it now.
    expect(clean.stderr).toContain(
      `removed the record of 1 job still in flight (clean --force): face (${id})`,
    );
    expect(existsSync(join(sb.standin.dir, '.faceswap', 'chain'))).toBe(false);
    expect(existsSync(join(sb.standin.dir, 'outputs', 'chain'))).toBe(false);
  });

  it('a state folder that is the output folder, or inside it or around it, is refused (64) before anything is written or removed', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    const calls = sb.standin.readLog().length;
    const outputs = join(sb.standin.dir, 'outputs', 'chain');
    const before = readdirSync(outputs).sort();
    const cases: [string[], string][] = [
      [['--state-dir', 'outputs'], 'the state folder outputs/chain is also the output folder outputs/chain'],
      [['--out', '.faceswap'], 'the state folder .faceswap/chain is also the output folder .faceswap/chain'],
      [
        ['--state-dir', 'outputs/chain/state'],
        'the state folder outputs/chain/state/chain is inside the output folder outputs/chain',
      ],
      [
        ['--out', '.faceswap/chain'],
        'the output folder .faceswap/chain/chain is inside the state folder .faceswap/chain',
      ],
    ];
    for (const [folders, what] of cases) {
      for (const command of [
        ['run', recipe, '--reporter', 'plain'],
        ['run', recipe, '--dry-run'],
        ['status', recipe],
        ['clean', recipe, '--keep-outputs'],
        ['clean', recipe],
      ]) {
        const result = await sb.run([...command, ...folders]);
        const label = [...command, ...folders].join(' ');
        expect({ label, code: result.code }).toEqual({ label, code: 64 });
        expect(result.stderr).toBe(
          `faceswap-pipe: error: ${what}; job records and outputs cannot share a folder (clean would remove one with the other).\n` +
            'Pick different folders with --state-dir and --out (by default: .faceswap/ next to the recipe, and outputs/).\n',
        );
      }
    }
    // Nothing was written or removed, and nothing called.
    expect(readdirSync(outputs).sort()).toEqual(before);
    expect(readdirSync(join(sb.standin.dir, '.faceswap', 'chain')).sort()).toEqual(['jobs', 'thumbs']);
    expect(sb.standin.readLog()).toHaveLength(calls);
  });

  it('clean removes the outputs while it holds the lock, so a run that starts meanwhile waits', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    // Enough files that removing the outputs takes a while to watch.
    const outputs = join(sb.standin.dir, 'outputs', 'chain');
    mkdirSync(join(outputs, 'bulk'));
    for (let i = 0; i < 4_000; i++) writeFileSync(join(outputs, 'bulk', `${i}.txt`), 'x');
    const stateDir = join(sb.standin.dir, '.faceswap', 'chain');
    let done = false;
    const clean = execa('node', [BIN, 'clean', recipe], {
      cwd: sb.standin.dir,
      env: { ...sb.standin.env, ...FAST_ENV },
      reject: false,
    }).finally(() => (done = true));
    // Once the job records are gone the outputs are being removed: the lock must be there until they are.
    let removing = 0;
    let unlocked = 0;
    while (!done) {
      if (!existsSync(join(stateDir, 'jobs')) && existsSync(outputs)) {
        removing++;
        if (!existsSync(join(stateDir, 'lock'))) unlocked++;
      }
      await sleep(1);
    }
    expect((await clean).exitCode).toBe(0);
    expect(removing).toBeGreaterThan(0);
    expect(unlocked).toBe(0);
    expect(existsSync(outputs)).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('clean with no state makes no folder: where none can be made (read-only), there is nothing to remove, exit 0', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const nothing = await sb.run(['clean', recipe, '--keep-outputs']);
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stdout).toBe('no state to remove (.faceswap/chain)\n');
    expect(existsSync(join(sb.standin.dir, '.faceswap'))).toBe(false);
    // A file in the way of both folders: nothing can be created there, as on a read-only disk.
    writeFileSync(join(sb.standin.dir, 'taken'), 'x');
    const readOnly = await sb.run(['clean', recipe, '--state-dir', 'taken/state', '--out', 'taken/out']);
    expect(readOnly.code, readOnly.stderr).toBe(0);
    expect(readOnly.stdout).toBe(
      'no state to remove (taken/state/chain)\nno outputs to remove (taken/out/chain)\n',
    );
    expect(readOnly.stderr).toBe('');
  });

  it('a job in flight that the edited recipe no longer asks for: the run promises nothing, status lists it, clean refuses unless --force', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 4_000 } } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    await killAfterFirstSubmit(sb, recipe);
    const id = sb.submissions()[0]!.request_id!;
    sb.standin.writeScenario({});
    sb.recipe(
      'chain.yaml',
      CHAIN_RECIPE.replace('Change only the face', 'Change only the face, add freckles'),
    );
    const run = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /note: took over the lock of a run that is gone \(pid \d+, since [^)]+\); 1 job in flight that no stage asks for any more is not followed up \(faceswap-pipe status lists it\)\n/,
    );
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    const status = await sb.run(['status', recipe]);
    expect(status.stdout).toContain(
      'jobs in flight that no stage asks for any more (submitted for an earlier version of the recipe, or with other --set values):\n' +
        `  face  ${id}\n` +
        'only a run with the --set values they were submitted with follows them up; they may still be running, and billing, on the service: runcomfy cancel <request id> stops one\n\n' +
        'a run would call nothing: every stage is cached\n',
    );
    const json = JSON.parse((await sb.run(['status', recipe, '--format', 'json'])).stdout) as {
      orphaned: unknown;
    };
    expect(json.orphaned).toEqual([{ stage: 'face', requestId: id }]);
    // A run with other --set values could still follow it: clean refuses, with advice for both
    // cases; --force forgets it and says its id.
    const refused = await sb.run(['clean', recipe, '--keep-outputs']);
    expect(refused.code).toBe(75);
    expect(refused.stderr).toBe(
      `faceswap-pipe: error: 1 job still in flight that no stage of chain.yaml asks for with these values: face (${id}).\n` +
        'If the run that submitted it had other --set values, run the recipe with those to follow it up (cleaning would pay for it again); if it belongs to an earlier version of the recipe, forget it with clean --force (runcomfy cancel <request id> stops one on the service).\n',
    );
    expect(existsSync(join(sb.standin.dir, '.faceswap', 'chain', 'jobs'))).toBe(true);
    const clean = await sb.run(['clean', recipe, '--keep-outputs', '--force']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).toBe(
      `faceswap-pipe: warning: removed the record of 1 job still in flight that no stage of chain.yaml asks for any more (it was submitted for an earlier version of the recipe, or with other --set values): face (${id}).\n` +
        'It may still be running, and billing, on the service; runcomfy cancel <request id> stops it.\n',
    );
    expect(existsSync(join(sb.standin.dir, '.faceswap', 'chain'))).toBe(false);
    expect(existsSync(join(sb.standin.dir, 'outputs', 'chain'))).toBe(true);

    // Such a job whose submit has not answered yet: cleaning now would lose the id still to come.
    const jobs = join(sb.standin.dir, '.faceswap', 'chain', 'jobs');
    mkdirSync(jobs, { recursive: true });
    const key = 'f'.repeat(64);
    const stdoutFile = join(jobs, `${key}.submit-1.out`);
    writeFileSync(
      join(jobs, `${key}.json`),
      JSON.stringify({
        v: 1,
        key,
        model: KONTEXT,
        stage: 'face',
        status: 'submitting',
        since: new Date().toISOString(),
        submitter: { pid: 999_999_999 },
        stdoutFile,
      }),
    );
    writeFileSync(`${stdoutFile}.pid`, JSON.stringify({ pid: process.pid }));
    const waiting = await sb.run(['clean', recipe, '--keep-outputs']);
    expect(waiting.code).toBe(75);
    expect(waiting.stderr).toBe(
      'faceswap-pipe: error: 1 submit that no stage of chain.yaml asks for any more has not answered yet: face.\n' +
        'A request id may still come, and only with it can the job be cancelled; clean again in a minute, or forget it with clean --force.\n',
    );
    writeFileSync(stdoutFile, '{"request_id":"late-id","wait":false}\n');
    const answered = await sb.run(['clean', recipe, '--keep-outputs']);
    expect(answered.code).toBe(75);
    expect(answered.stderr).toContain('face (late-id)');
  });

  it('clean needs only the name: a recipe that stopped validating is cleaned all the same', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(0);
    const path = join(sb.standin.dir, recipe);
    writeFileSync(path, readFileSync(path, 'utf8').replace('retries:', 'retires:'));
    expect((await sb.run(['validate', recipe])).code).toBe(65);
    const clean = await sb.run(['clean', recipe]);
    expect(clean.code).toBe(0);
    expect(existsSync(join(sb.standin.dir, '.faceswap', 'chain'))).toBe(false);
    expect(existsSync(join(sb.standin.dir, 'outputs', 'chain'))).toBe(false);
    // Without a usable name there is nothing to find: the usual diagnostics, exit 65.
    writeFileSync(path, 'version: 1\nname: Not A Name\nstages: {}\n');
    expect((await sb.run(['clean', recipe])).code).toBe(65);
  });
});
