import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.js';
import { analyzeRecipeFile } from '../src/recipe/analyze.js';
import type { StageId } from '../src/recipe/types.js';
import {
  addMask,
  annotation,
  escapeData,
  escapeProperty,
  groupStart,
  isGithubActions,
  plainLogJson,
  plainLogText,
} from '../src/report/github-commands.js';
import { GithubReporter, stageLocations } from '../src/report/github-reporter.js';
import type { RunEvent } from '../src/run/events.js';
import { dropTimes, normalize, runCli } from './helpers/cli.js';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const KLING = 'kling/kling-2-6/motion-control-pro';

let sb: RunnerSandbox | undefined;
const temps: string[] = [];
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'faceswap-ci-'));
  temps.push(dir);
  return dir;
}

function capture(): { sink: { write(text: string): void }; text(): string } {
  let out = '';
  return { sink: { write: (t: string) => void (out += t) }, text: () => out };
}

describe('workflow commands', () => {
  it('escapes messages and properties by the workflow-command rules', () => {
    expect(escapeData('100% done\r\nnext')).toBe('100%25 done%0D%0Anext');
    expect(escapeProperty('a:b,c%d\ne')).toBe('a%3Ab%2Cc%25d%0Ae');
    expect(
      annotation('error', 'bad: value, 50%\nsecond line', {
        file: 'recipes/a,b.yaml',
        line: 3,
        col: 5,
        endLine: 3,
        endColumn: 11,
        title: 'faceswap-pipe (unknown-key)',
      }),
    ).toBe(
      '::error file=recipes/a%2Cb.yaml,line=3,col=5,endLine=3,endColumn=11,title=faceswap-pipe (unknown-key)::bad: value, 50%25%0Asecond line',
    );
    expect(annotation('notice', 'plain')).toBe('::notice::plain');
  });

  it('keeps text text: a lone CR breaks the line, `::` at a line start and `##[` anywhere are defused', () => {
    expect(plainLogText('bad input\r::error title=Forged::x\nsecond ##[error]legacy\r\n  ::warning::y')).toBe(
      'bad input\n> ::error title=Forged::x\nsecond ## [error]legacy\n>   ::warning::y',
    );
    expect(plainLogText('a\nb\n')).toBe('a\nb\n');
    // .NET trims NEL (U+0085) before `::`; ICU's search skips a soft hyphen inside `##[`.
    expect(plainLogText('\u0085::error::x')).toBe('> \u0085::error::x');
    expect(plainLogText('a #\u00ad#[stop-commands]t')).toBe('a ## [stop-commands]t');
    // NDJSON keeps its value: `[` written as its JSON escape.
    const line = JSON.stringify({ message: 'x ##[stop-commands]tok' });
    expect(plainLogJson(line)).not.toContain('##[');
    expect(JSON.parse(plainLogJson(line))).toEqual({ message: 'x ##[stop-commands]tok' });
  });

  it('a group title is one log line: line breaks become spaces, `##[` is defused', () => {
    // The runner writes `##[group]<title>` unescaped: service text in a title must not start a
    // line of its own (`##[endgroup]` would close the group, `##[error]` show as an error).
    expect(groupStart('[fail] s (not a url\n##[endgroup]\r\n::error::forged 50%)')).toBe(
      '::group::[fail] s (not a url ## [endgroup] ::error::forged 50%25)',
    );
  });

  it('masks each line of a secret, and nothing for short or absent values', () => {
    expect(addMask('tok%en-123')).toEqual(['::add-mask::tok%25en-123']);
    expect(addMask('line-one\nline-two')).toEqual(['::add-mask::line-one', '::add-mask::line-two']);
    expect(addMask('abc')).toEqual([]);
    expect(addMask(undefined)).toEqual([]);
  });

  it('detects GitHub Actions from GITHUB_ACTIONS=true only', () => {
    expect(isGithubActions({ GITHUB_ACTIONS: 'true' })).toBe(true);
    expect(isGithubActions({ GITHUB_ACTIONS: 'false' })).toBe(false);
    expect(isGithubActions({ CI: 'true' })).toBe(false);
  });
});

describe('recipe diagnostics under GitHub Actions', () => {
  const RECIPE = `version: 1
name: typo
stages:
  face:
    model: ${KONTEXT}
    retires: 2
    input:
      prompt: Change only the face
      image: https://assets.example.com/a.jpg
    subjects: [ana]
consent:
  subjects: { ana: { release: REL-1 } }
  assets: [{ match: "https://assets.example.com/**", rights: test }]
  disclosure: { label: AI-generated }
`;

  it('prints each diagnostic as an annotation on the recipe line, relative to the workspace, after the text', async () => {
    const workspace = tempDir();
    mkdirSync(join(workspace, 'recipes'));
    writeFileSync(join(workspace, 'recipes', 'typo.yaml'), RECIPE);
    // The step runs in a sub-folder of the checkout: the annotation path is still the checkout's.
    const result = await runCli(['validate', 'typo.yaml'], {
      cwd: join(workspace, 'recipes'),
      env: { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: workspace },
    });
    expect(result.code).toBe(65);
    expect(result.stdout).toBe('');
    expect(normalize(result.stderr)).toBe(
      'typo.yaml:6:5: error: unknown key "retires" in stage "face"; did you mean "retries"?\n' +
        '   6 |     retires: 2\n' +
        '     |     ~~~~~~~\n' +
        '::error file=recipes/typo.yaml,line=6,col=5,endLine=6,endColumn=11,title=faceswap-pipe (unknown-key)::unknown key "retires" in stage "face"; did you mean "retries"?\n' +
        '1 error\n',
    );
  });

  it('quotes a recipe key that holds a CR or `##[` without forging a command', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'key.yaml'),
      'version: 1\nname: k\n"x\\r::warning title=forged::FORGED ##[stop-commands]t": 2\nstages:\n  a:\n    model: blackforestlabs/flux-1-kontext/pro/edit\n    input: { prompt: p, image: https://assets.example.com/a.jpg }\n',
    );
    const result = await runCli(['validate', 'key.yaml'], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } });
    expect(result.code).toBe(65);
    const lines = result.stderr.split('\n');
    // Our two annotations (the key, and the missing consent); the key's text forged none.
    const commands = lines.filter((l) => l.startsWith('::'));
    expect(commands.map((l) => l.slice(0, 40))).toEqual([
      '::error file=key.yaml,line=3,col=1,endLi',
      '::error file=key.yaml,line=5,col=3,endLi',
    ]);
    expect(result.stderr).not.toMatch(/\r/);
    // Inside a well-formed `::error` line `##[` is message text; in plain lines it is defused.
    expect(lines.filter((l) => !l.startsWith('::') && l.includes('##['))).toEqual([]);
    expect(result.stderr).toContain('> ::warning title=forged::FORGED ## [stop-commands]t');
  });

  it('lists related places of a diagnostic in the annotation message', async () => {
    const result = await runCli(['validate', 'test/fixtures/invalid/duplicate-key.yaml'], {
      env: { GITHUB_ACTIONS: 'true' },
    });
    expect(result.code).toBe(65);
    // The fixture has no consent: block either (its own annotation); the duplicate is the one with a related place.
    const annotations = result.stderr
      .split('\n')
      .filter((l) => l.startsWith('::') && l.includes('(duplicate-key)'));
    expect(annotations).toEqual([
      '::error file=test/fixtures/invalid/duplicate-key.yaml,line=9,col=3,endLine=9,endColumn=6,title=faceswap-pipe (duplicate-key)::duplicate key "face"; each key may appear once in a mapping%0Anote: test/fixtures/invalid/duplicate-key.yaml:4:3: "face" first defined here',
    ]);
  });

  it('keeps --format json clean on stdout and prints no annotations outside GitHub Actions', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'typo.yaml'), RECIPE);
    const json = await runCli(['validate', 'typo.yaml', '--format', 'json'], {
      cwd: dir,
      env: { GITHUB_ACTIONS: 'true' },
    });
    expect(() => JSON.parse(json.stdout) as unknown).not.toThrow();
    const plain = await runCli(['validate', 'typo.yaml'], { cwd: dir, env: { CI: 'true' } });
    expect(plain.stderr).not.toContain('::');
  });
});

/** Events of a real run (the stand-in, `--reporter json`), to feed the GitHub reporter. */
async function recordedEvents(
  scenario: Parameters<typeof sandbox>[0],
  recipeText: string,
): Promise<{ events: RunEvent[]; locations: Map<string, object> }> {
  sb = sandbox(scenario);
  const file = sb.recipe('recipes/chain.yaml', recipeText);
  const result = await sb.run(['run', file, '--reporter', 'json']);
  const events = result.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RunEvent);
  const analysis = await analyzeRecipeFile(file, {
    catalog: Catalog.load([]),
    sets: [],
    maxBytes: 1 << 20,
    cwd: sb.standin.dir,
  });
  const locations = stageLocations(analysis.recipe!, {
    cwd: sb.standin.dir,
    env: { GITHUB_WORKSPACE: sb.standin.dir },
  });
  return { events, locations };
}

const CHAIN = `version: 1
name: chain
defaults:
  retries: 2
stages:
  face:
    model: ${KONTEXT}
    input:
      prompt: Change only the face
      image: https://assets.example.com/ana.jpg
  motion:
    model: ${KLING}
    input:
      character_image_url: \${{ stages.face.outputs.images[0] }}
      reference_video_url: https://assets.example.com/dance.mp4
`;

describe('GithubReporter', () => {
  it('masks the token first, groups each stage, and annotates the retry and the failure on the stage lines', async () => {
    const { events, locations } = await recordedEvents(
      {
        models: {
          [KONTEXT]: { steps: [75] },
          [KLING]: { steps: [{ status: 'failed', error: 'motion model crashed' }] },
        },
      },
      CHAIN,
    );
    const out = capture();
    const reporter = new GithubReporter(out.sink, {
      env: { RUNCOMFY_TOKEN: 'standin-token', GITHUB_ACTIONS: 'true' },
      stageLocations: locations,
    });
    for (const e of events) reporter.event(e);
    reporter.close();
    // Outside GitHub Actions nothing would hide an add-mask line: the token is never printed.
    const elsewhere = capture();
    const forced = new GithubReporter(elsewhere.sink, { env: { RUNCOMFY_TOKEN: 'standin-token' } });
    for (const e of events) forced.event(e);
    forced.close();
    expect(elsewhere.text()).not.toContain('standin-token');
    expect(elsewhere.text().split('\n')[0]).toBe('[run] chain: 2 stages, concurrency 4');
    const text = dropTimes(out.text()).replace(
      /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
      '<id>',
    );
    const lines = text.trimEnd().split('\n');
    // The sandbox adds its consent record (a `subjects:` line per stage), so the stages' lines
    // are those of the file as written, not of CHAIN.
    const written = readFileSync(join(sb!.standin.dir, 'recipes/chain.yaml'), 'utf8').split('\n');
    const faceLine = written.indexOf('  face:') + 1;
    const motionLine = written.indexOf('  motion:') + 1;
    expect(faceLine).toBeGreaterThan(0);
    expect(motionLine).toBeGreaterThan(faceLine);
    expect(lines[0]).toBe('::add-mask::standin-token');
    expect(lines[1]).toBe('[run] chain: 2 stages, concurrency 4');
    expect(lines[2]).toBe('[start] face blackforestlabs/flux-1-kontext/pro/edit');
    expect(lines).toContain(
      `::warning file=recipes/chain.yaml,line=${faceLine},col=3,endLine=${faceLine},endColumn=6,title=Retry%3A face attempt 1 rate limited::API error 429: rate limited; retry in a moment (submit) (exit 75); retrying in <time>`,
    );
    expect(lines).toContain(
      `::error file=recipes/chain.yaml,line=${motionLine},col=3,endLine=${motionLine},endColumn=8,title=Stage motion failed%3A job failed after 1 attempt::the service reports job <id> failed: "motion model crashed"%0A%0Astderr (last lines):%0A{"error":"request failed: \\"motion model crashed\\""}`,
    );
    expect(lines.at(-1)).toMatch(
      /^\[done\] failed: 1 succeeded, 0 cached, 1 failed, 0 skipped in <time> \(exit 1\)$/,
    );
    // Exactly one group per stage, each contiguous and holding only its own stage's lines.
    const groups = groupsOf(lines);
    expect(groups.map((g) => g.title)).toEqual([
      '[ok] face in <time>, 2 attempts, 1 file',
      '[fail] motion job failed: the service reports job <id> failed: "motion model crashed"',
    ]);
    for (const g of groups) {
      const stage = g.title.split(' ')[1]!;
      for (const l of g.body)
        expect(l, `${g.title}: ${l}`).toMatch(new RegExp(`^(\\[\\w+\\] ${stage}\\b|  stderr: )`));
    }
    expect(groups[0]!.body).toContain(
      '[retry] face attempt 1 rate limited (exit 75): API error 429: rate limited; retry in a moment (submit); retrying in <time>',
    );
    expect(groups[1]!.body.at(-1)).toBe('  stderr: {"error":"request failed: \\"motion model crashed\\""}');
  });

  it('keeps the groups of interleaved parallel stages apart and streams one line per start', () => {
    const t = '2026-01-01T00:00:00.000Z';
    const a = 'a' as StageId;
    const b = 'b' as StageId;
    const events: RunEvent[] = [
      {
        type: 'run-start',
        time: t,
        schemaVersion: 1,
        runId: 'r',
        recipe: { name: 'par', file: 'par.yaml', hash: 'h' },
        stages: [
          { id: a, model: 'm/a', needs: [], calls: 1 },
          { id: b, model: 'm/b', needs: [], calls: 4 },
        ],
        concurrency: 4,
        dryRun: false,
      },
      { type: 'stage-start', time: t, stage: a, model: 'm/a', jobs: 1 },
      { type: 'stage-start', time: t, stage: b, model: 'm/b', jobs: 4 },
      { type: 'stage-submitted', time: t, stage: a, item: null, attempt: 1, requestId: 'ra' },
      { type: 'stage-submitted', time: t, stage: b, item: 0, attempt: 1, requestId: 'rb0' },
      { type: 'item-finished', time: t, stage: b, item: 0, ok: true, done: 1, total: 4, failed: 0 },
      { type: 'stage-progress', time: t, stage: a, item: null, state: 'in_progress', queuePosition: null },
      { type: 'item-finished', time: t, stage: b, item: 1, ok: false, done: 2, total: 4, failed: 1 },
      {
        type: 'stage-succeeded',
        time: t,
        stage: a,
        cached: false,
        attempts: 1,
        durationMs: 1500,
        outputs: null,
        files: ['a/ra/x.png'],
      },
      { type: 'item-finished', time: t, stage: b, item: 2, ok: true, done: 3, total: 4, failed: 1 },
      { type: 'item-finished', time: t, stage: b, item: 3, ok: true, done: 4, total: 4, failed: 1 },
      {
        type: 'stage-failed',
        time: t,
        stage: b,
        reason: 'job-failed',
        message: '1 of 4 items failed; item 1: boom\n::error::forged',
        attempts: 4,
        durationMs: 2500,
        exitCode: null,
        stderrTail: null,
      },
      {
        type: 'run-finished',
        time: t,
        status: 'failed',
        exitCode: 1,
        counts: { succeeded: 1, cached: 0, failed: 1, skipped: 0 },
        calls: 5,
        durationMs: 3000,
        record: null,
      },
    ];
    const out = capture();
    const reporter = new GithubReporter(out.sink, { env: {} });
    for (const e of events) reporter.event(e);
    expect(out.text()).toBe(
      [
        '[run] par: 2 stages, concurrency 4',
        '[start] a m/a',
        '[start] b m/b (4 jobs)',
        '[progress] b 1/4 items done',
        '[progress] b 2/4 items done, 1 failed',
        '::group::[ok] a in 1.5s, 1 attempt, 1 file',
        '[start] a m/a',
        '[submit] a request ra',
        '[progress] a in progress',
        '[ok] a in 1.5s, 1 attempt, 1 file',
        '::endgroup::',
        '[progress] b 3/4 items done, 1 failed',
        '::group::[fail] b job failed: 1 of 4 items failed; item 1: boom ::error::forged',
        '[start] b m/b (4 jobs)',
        '[submit] b[0] request rb0',
        '[item] b[0] done (1/4 done)',
        '[item] b[1] failed (2/4 done, 1 failed)',
        '[item] b[2] done (3/4 done, 1 failed)',
        '[item] b[3] done (4/4 done, 1 failed)',
        '[fail] b job failed: 1 of 4 items failed; item 1: boom',
        // A message line that would read as a command is defused.
        '> ::error::forged',
        '::endgroup::',
        '::error title=Stage b failed%3A job failed (4 items%2C 4 attempts)::1 of 4 items failed; item 1: boom%0A::error::forged',
        '[done] failed: 1 succeeded, 0 cached, 1 failed, 0 skipped in 3.0s (exit 1)',
        '',
      ].join('\n'),
    );
  });

  it('defuses a service message that breaks lines with a lone CR or carries a legacy ##[command]', () => {
    const t = '2026-01-01T00:00:00.000Z';
    const out = capture();
    const reporter = new GithubReporter(out.sink, { env: {} });
    reporter.event({ type: 'stage-start', time: t, stage: 'a' as StageId, model: 'm/a', jobs: 1 });
    reporter.event({
      type: 'stage-failed',
      time: t,
      stage: 'a' as StageId,
      reason: 'invalid-input',
      message: 'bad input\r::error title=Forged::FORGED\nsecond ##[error]legacy',
      attempts: 1,
      durationMs: 10,
      exitCode: 65,
      stderrTail: 'Error: x\r::warning::tail ##[stop-commands]tok',
    });
    const lines = out.text().split('\n');
    const commands = lines.filter((l) => l.startsWith('::')).map((l) => l.split('::')[1]!.split(' ')[0]);
    expect(commands).toEqual(['group', 'endgroup', 'error']);
    expect(lines.filter((l) => !l.startsWith('::') && l.includes('##['))).toEqual([]);
    expect(lines).toContain('> ::error title=Forged::FORGED');
    expect(lines).toContain('  stderr: ::warning::tail ## [stop-commands]tok');
  });

  it('flushes the stages still open when the run ends (interrupted) as groups', () => {
    const t = '2026-01-01T00:00:00.000Z';
    const out = capture();
    const reporter = new GithubReporter(out.sink, { env: {} });
    reporter.event({ type: 'stage-start', time: t, stage: 'slow' as StageId, model: 'm/s', jobs: 1 });
    reporter.event({
      type: 'stage-submitted',
      time: t,
      stage: 'slow' as StageId,
      item: null,
      attempt: 1,
      requestId: 'r1',
    });
    reporter.close();
    expect(out.text()).toBe(
      '[start] slow m/s\n::group::[unfinished] slow\n[start] slow m/s\n[submit] slow request r1\n::endgroup::\n',
    );
  });

  it('caps retry warnings (GitHub shows ten per step) and prints later retries as plain lines', () => {
    const t = '2026-01-01T00:00:00.000Z';
    const out = capture();
    const reporter = new GithubReporter(out.sink, { env: {}, maxRetryWarnings: 1 });
    reporter.event({ type: 'stage-start', time: t, stage: 's' as StageId, model: 'm/s', jobs: 1 });
    for (const attempt of [1, 2])
      reporter.event({
        type: 'stage-retry',
        time: t,
        stage: 's' as StageId,
        item: null,
        attempt,
        reason: 'rate-limited',
        message: 'slow down',
        exitCode: 75,
        delayMs: 1000,
        reattach: null,
      });
    expect(out.text()).toBe(
      '[start] s m/s\n::warning title=Retry%3A s attempt 1 rate limited::slow down (exit 75); retrying in 1.0s\n[retry] s attempt 2 rate limited (exit 75): slow down; retrying in 1.0s\n',
    );
  });
});

function groupsOf(lines: readonly string[]): { title: string; body: string[] }[] {
  const groups: { title: string; body: string[] }[] = [];
  let current: { title: string; body: string[] } | undefined;
  for (const l of lines) {
    if (l.startsWith('::group::')) {
      expect(current, 'nested group').toBeUndefined();
      current = { title: l.slice('::group::'.length), body: [] };
    } else if (l === '::endgroup::') {
      groups.push(current!);
      current = undefined;
    } else current?.body.push(l);
  }
  expect(current, 'unclosed group').toBeUndefined();
  return groups;
}
