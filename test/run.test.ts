import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { SchemaChecker } from '../src/recipe/schema-check.js';
import { CHAIN_RECIPE, jobIntervals, maxOverlap, sandbox, type RunnerSandbox } from './helpers/runner.js';

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const REPO = fileURLToPath(new URL('..', import.meta.url));
const NANO = 'google/nano-banana-2/edit';

/** A recipe of Kontext stages with the given dependencies (`{b: ['a']}` = b uses a's output). */
function kontextRecipe(name: string, deps: Record<string, string[]>, extra = ''): string {
  let text = `version: 1\nname: ${name}\n${extra}stages:\n`;
  for (const [id, needs] of Object.entries(deps)) {
    const image =
      needs.length > 0
        ? `\${{ stages.${needs[0]}.outputs.images[0] }}`
        : 'https://assets.example.com/scene.jpg';
    text += `  ${id}:\n    model: ${KONTEXT}\n    input:\n      prompt: edit ${id}\n      image: ${image}\n`;
    if (needs.length > 1) text += `    needs: [${needs.slice(1).join(', ')}]\n`;
  }
  return text;
}

/**
 * The first job stays queued and its first `calls` status checks answer 404 (the service does
 * not know it); the job submitted after it runs normally.
 */
function deniedJob(calls: number) {
  return {
    models: {
      [KONTEXT]: {
        base: { queueMs: 0, runMs: 100 },
        steps: [
          {
            queueMs: null,
            faults: [
              {
                on: 'status' as const,
                call: Array.from({ length: calls }, (_, i) => i + 1),
                error: { http: 404 },
              },
            ],
          },
        ],
      },
    },
  };
}

describe('run against the runcomfy stand-in', () => {
  it('runs the Kontext -> Kling chain, passing the first output URL into the second stage', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const subs = sb.submissions();
    expect(subs.map((s) => s.model)).toEqual([KONTEXT, 'kling/kling-2-6/motion-control-pro']);
    const faceId = subs[0]!.request_id!;
    expect(subs[1]!.body).toEqual({
      character_image_url: `https://files.runcomfy.net/${faceId}/result.png`,
      reference_video_url: 'https://assets.example.com/dance.mp4',
    });
    // Bodies go on stdin, never in argv.
    for (const s of subs)
      expect(s.argv).toEqual(['--output', 'json', 'run', s.model, '--input-file', '-', '--no-wait']);
    const record = sb.runRecord('chain');
    expect(record.status).toBe('succeeded');
    expect(record.stages['face']!.files).toEqual([`face/${faceId}/result.png`]);
    expect(
      readFileSync(join(sb.standin.dir, 'outputs/chain', record.stages['face']!.files[0]!)).length,
    ).toBeGreaterThan(0);
    expect(result.stdout).toContain('2 jobs submitted');
  });

  it.each([
    ['model + input', 'chain.yaml', CHAIN_RECIPE],
    [
      'swap:',
      'describe-then-dance.yaml',
      readFileSync(join(REPO, 'recipes/describe-then-dance.yaml'), 'utf8'),
    ],
  ])(
    'names the upstream stage whose output does not fit the next model (%s stage), before paying for it',
    async (_kind, name, text) => {
      // Kontext answers with no image: the Kling stage's character_image_url resolves to nothing.
      sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 50, output: { images: [] } } } } });
      const result = await sb.run(['run', sb.recipe(name, text), '--reporter', 'plain']);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('[start] motion kling/kling-2-6/motion-control-pro\n');
      expect(result.stdout).toContain(
        '[fail] motion invalid input: input field "character_image_url" of stage "motion" is empty; it must be a string (kling/kling-2-6/motion-control-pro); the value comes from stage "face" (${{ stages.face.outputs.images[0] }}): check that stage\'s output',
      );
      expect(sb.submissions().map((s) => s.model)).toEqual([KONTEXT]);
    },
  );

  it('retries a 75 twice, then succeeds with 3 attempts recorded (exit 0)', async () => {
    sb = sandbox({ models: { [KONTEXT]: { steps: [75, 75] } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    const attempts = sb.runRecord('chain').stages['face']!.attempts;
    expect(attempts.map((a) => [a.outcome, a.reason ?? null, a.exitCode ?? null])).toEqual([
      ['failed', 'rate-limited', 75],
      ['failed', 'rate-limited', 75],
      ['succeeded', null, null],
    ]);
    expect(result.stdout).toMatch(/\[retry\] face attempt 1 rate limited \(exit 75\)/);
  });

  it('asks again after a failed status check (5xx): same attempt, same job, nothing submitted twice', async () => {
    sb = sandbox({
      models: {
        // Long enough that the second status call still meets the job running on a loaded machine.
        [KONTEXT]: { base: { queueMs: 0, runMs: 2500, faults: [{ on: 'status', call: 2, error: 69 }] } },
      },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    // Polling is free and the job runs on (and bills) whatever one status call said: a failed
    // check does not use up the stage's retries, which are for paid attempts.
    const attempts = sb.runRecord('one').stages['a']!.attempts;
    expect(attempts).toEqual([expect.objectContaining({ outcome: 'succeeded', reattached: false })]);
    const statuses = sb.standin.readLog().filter((r) => r.command === 'status');
    expect(statuses.map((r) => r.exit)).toContain(69);
    expect(statuses.at(-1)!.exit).toBe(0);
  });

  it('never resubmits on a 4xx about a job that is not "not found"; six failed checks in a row cost no retry', async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: {
          base: {
            queueMs: 0,
            // Long enough that the polls after the faults still meet the job running on a loaded machine.
            runMs: 3000,
            faults: [
              { on: 'status', call: 2, error: 69 },
              { on: 'status', call: 3, error: { http: 400 } },
              { on: 'status', call: [4, 5, 6, 7], error: { http: 429 } },
            ],
          },
        },
      },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }, 'defaults:\n  retries: 1\n'));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    const attempts = sb.runRecord('one').stages['a']!.attempts;
    expect(attempts.map((a) => [a.outcome, a.reason ?? null])).toEqual([['succeeded', null]]);
  });

  it('keeps following a job it just submitted while the service briefly denies knowing it (404)', async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: {
          base: { queueMs: 0, runMs: 1500, faults: [{ on: 'status', call: [1, 2], error: { http: 404 } }] },
        },
      },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    expect(sb.runRecord('one').stages['a']!.attempts).toHaveLength(1);
  });

  it('submits anew a job this run submitted only once the service has denied knowing it for the grace period', async () => {
    sb = sandbox(deniedJob(8));
    // The client's json mode prints only the top-level message (contract section 4): here it
    // does not say 404, and the runner asks in pretty mode, whose error chain does.
    const wrapper = join(sb.standin.dir, 'runcomfy-wrapper');
    writeFileSync(
      wrapper,
      `#!/bin/sh
if [ "$1" = --output ] && [ "$3" = status ]; then
` +
        `  "${join(sb.standin.binDir, 'runcomfy')}" "$@" 2>"$0.err"; code=$?
` +
        `  sed -e 's/API error 404: status not found/status lookup failed/' "$0.err" >&2; exit $code
fi
` +
        `if [ "$1" = status ]; then
` +
        `  "${join(sb.standin.binDir, 'runcomfy')}" "$@" 2>"$0.err"; code=$?
` +
        `  sed -e 's/API error 404: status not found/status lookup failed: HTTP 404 Not Found/' "$0.err" >&2; exit $code
fi
` +
        `exec "${join(sb.standin.binDir, 'runcomfy')}" "$@"
`,
      { mode: 0o755 },
    );
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--runcomfy', wrapper], {
      FACESWAP_NOT_FOUND_GRACE_MS: '300',
    });
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
    const attempts = sb.runRecord('one').stages['a']!.attempts;
    expect(attempts.map((a) => [a.outcome, a.reason ?? null])).toEqual([
      ['failed', 'unclear-answer'],
      ['succeeded', null],
    ]);
    expect(attempts[0]!.message).toMatch(/has not known job \S+ for \d+ s \(404\), so it counts as gone/);
  });

  it('counts a job as gone when every status check is rejected for the grace period, whatever the words (no 404 said)', async () => {
    sb = sandbox(deniedJob(8));
    // Neither mode says 404 or "not found": the contract does not fix the words of a 4xx.
    const wrapper = join(sb.standin.dir, 'runcomfy-opaque');
    writeFileSync(
      wrapper,
      `#!/bin/sh
"${join(sb.standin.binDir, 'runcomfy')}" "$@" 2>"$0.err"; code=$?
sed -e 's/API error 404: status not found/request lookup rejected: REQUEST_UNKNOWN/' "$0.err" >&2; exit $code
`,
      { mode: 0o755 },
    );
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--runcomfy', wrapper], {
      FACESWAP_NOT_FOUND_GRACE_MS: '300',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
    const attempts = sb.runRecord('one').stages['a']!.attempts;
    expect(attempts[0]!.message).toMatch(
      /has rejected every status check of job \S+ for \d+ s \(.*REQUEST_UNKNOWN.*\), so it counts as gone/,
    );
  });

  it('keeps counting how long the service has denied a job across attempts shorter than the grace period', async () => {
    sb = sandbox(deniedJob(60));
    // Each attempt ends (deadline) before the grace period has passed; the count goes on.
    const recipe = sb.recipe(
      'one.yaml',
      kontextRecipe('one', { a: [] }, 'defaults:\n  timeout: 2s\n  retries: 3\n'),
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain'], {
      FACESWAP_NOT_FOUND_GRACE_MS: '3000',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
    const attempts = sb.runRecord('one').stages['a']!.attempts;
    expect(attempts[0]).toMatchObject({ outcome: 'failed', reason: 'timed-out' });
    expect(attempts.at(-1)).toMatchObject({ outcome: 'succeeded', reattached: false });
  });

  it('a job it cancelled itself (deadline) is not followed by the next run, which submits anew', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: null } } } });
    const recipe = sb.recipe(
      'one.yaml',
      kontextRecipe('one', { a: [] }, 'defaults:\n  timeout: 1s\n  retries: 0\n'),
    );
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(75);
    expect(sb.standin.readLog().filter((r) => r.command === 'cancel')).toHaveLength(1);
    sb.standin.writeScenario({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 0 } } } });
    // A deadline a loaded machine's three client calls (submit, status, result) can meet; the
    // timeout is not part of the job's key.
    sb.recipe('one.yaml', kontextRecipe('one', { a: [] }, 'defaults:\n  timeout: 30s\n  retries: 0\n'));
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
    expect(sb.runRecord('one').stages['a']!.attempts[0]).toMatchObject({ reattached: false });
  });

  it('a recorded job cancelled on the service while no run followed it is submitted anew on resume', async () => {
    sb = sandbox({
      models: { [KONTEXT]: { base: { queueMs: 60_000, faults: [{ on: 'status', call: 1, error: 77 }] } } },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    // The run stops on a rejected token with the job queued and recorded as submitted…
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(77);
    const id = sb.submissions()[0]!.request_id!;
    // …and someone cancels it on the service meanwhile.
    const cancel = await execa('runcomfy', ['--output', 'json', 'cancel', id], {
      env: sb.standin.env,
      reject: false,
    });
    expect(cancel.stdout).toContain('"outcome":"cancelled"');
    sb.standin.writeScenario({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 0 } } } });
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
  });

  it('submits again a recorded job the service no longer knows (404 on re-attach)', async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: { base: { queueMs: 0, runMs: 600, faults: [{ on: 'status', call: 1, error: 77 }] } },
      },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    // The token is rejected mid-poll: the run stops, the job stays recorded as submitted.
    expect((await sb.run(['run', recipe, '--reporter', 'plain'])).code).toBe(77);
    expect(sb.submissions()).toHaveLength(1);
    // The service forgets it (its state is gone), so following it answers 404.
    rmSync(sb.standin.statePath, { recursive: true, force: true });
    sb.standin.writeScenario({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 0 } } } });
    // The job was recorded a moment ago, and a job that new may just not be visible yet: it is
    // given the grace period (shortened here) before it counts as gone.
    const again = await sb.run(['run', recipe, '--reporter', 'plain'], {
      FACESWAP_NOT_FOUND_GRACE_MS: '300',
    });
    expect(again.code).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
    const lookups = sb.standin.readLog().filter((r) => r.command === 'status');
    expect(lookups.some((r) => r.exit === 65)).toBe(true);
    // The job it ended with is a new, paid one, not the one it looked for.
    expect(sb.runRecord('one').stages['a']!.attempts.at(-1)).toMatchObject({
      reattached: false,
      requestId: sb.submissions()[1]!.request_id,
    });
  });

  it('stops the run on a token file the client cannot read (exit 1 from every call) as on a missing token: exit 77', async () => {
    sb = sandbox({}, { token: null });
    writeFileSync(join(sb.standin.configDir, 'token.json'), '{"access_token": ');
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(77);
    const stage = sb.runRecord('chain').stages['face']!;
    expect(stage.failure?.reason).toBe('unauthorized');
    expect(stage.failure?.message).toContain('cannot read its token file');
    expect(sb.runRecord('chain').stages['motion']!.status).toBe('skipped');
  });

  it("refuses a swap: fan-out whose item puts in a face no subject's record has (77, nothing submitted)", async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'faces.yaml',
      `version: 1
name: faces
consent:
  subjects: { ana: { release: REL-1, images: ["https://assets.example.com/ana/**"] } }
  assets: [{ match: "https://assets.example.com/**", rights: owned }]
  disclosure: { label: AI-generated }
stages:
  a:
    subjects: [ana]
    foreach: [https://assets.example.com/ana/p.jpg, https://assets.example.com/bob/p.jpg]
    swap: { identity: "\${{ item }}", scene: https://assets.example.com/s/a.jpg }
`,
    );
    // Known before running: the run is refused like validate (77), nothing is submitted.
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(77);
    expect(sb.submissions()).toHaveLength(0);
    expect(result.stderr).toContain(
      'identity image "https://assets.example.com/bob/p.jpg" (swap field "identity" of stage "a" (foreach item 1)) is not one of the images recorded for subject "ana"',
    );
  });

  it('a consent refusal known only at run time stops that stage and the run exits 77, as validate would', async () => {
    sb = sandbox();
    const recipe = sb.recipe(
      'late.yaml',
      `version: 1
name: late
consent:
  subjects: { ana: { release: REL-1, images: ["https://assets.example.com/ana*"] } }
  assets: [{ match: "https://assets.example.com/**", rights: owned }]
  disclosure: { label: AI-generated }
stages:
  face:
    model: ${KONTEXT}
    subjects: [ana]
    input: { prompt: Change only the face, image: https://assets.example.com/ana.jpg }
  motion:
    model: kling/kling-2-6/motion-control-pro
    subjects: [ana]
    input:
      character_image_url: "\${{ stages.face.outputs.images[0] && 'https://assets.example.com/bob.png' }}"
      reference_video_url: https://assets.example.com/dance.mp4
`,
    );
    expect((await sb.run(['validate', recipe])).code).toBe(0);
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(77);
    expect(sb.submissions()).toHaveLength(1);
    const stage = sb.runRecord('late').stages['motion']!;
    expect(stage.failure?.reason).toBe('not-permitted');
    expect(result.stdout).toContain('[fail] motion not permitted:');
  });

  it('knows a broken token file by the file itself, whatever the words of the exit 1', async () => {
    sb = sandbox({}, { token: null });
    writeFileSync(join(sb.standin.configDir, 'token.json'), '{"access_token": ');
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--reporter', 'plain'], {
      RUNCOMFY_STANDIN_TOKEN_ERROR: 'failed to load saved credentials',
    });
    expect(result.code).toBe(77);
    const stage = sb.runRecord('chain').stages['face']!;
    expect(stage.failure?.reason).toBe('unauthorized');
    expect(stage.failure?.message).toContain('token.json is not valid JSON');
    expect(stage.failure?.message).toContain('failed to load saved credentials');
    expect(sb.standin.readLog().filter((r) => r.command === 'run')).toHaveLength(1);
  });

  it.each([
    [65, 'invalid-input', 1],
    [77, 'unauthorized', 77],
  ])('does not retry exit %i (%s); exits %i', async (exit, reason, code) => {
    sb = sandbox({ models: { [KONTEXT]: { steps: [exit as 65 | 77] } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(code);
    const stage = sb.runRecord('chain').stages['face']!;
    expect(stage.attempts).toHaveLength(1);
    expect(stage.failure?.reason).toBe(reason);
    expect(sb.runRecord('chain').stages['motion']!.status).toBe('skipped');
    expect(sb.standin.readLog().filter((r) => r.command === 'run')).toHaveLength(1);
  });

  it('skips the dependents of a failed job while independent stages finish; exit 1', async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: { base: { runMs: 100 } },
        [NANO]: { steps: [{ status: 'failed', error: 'NSFW filter' }] },
      },
    });
    const recipe = sb.recipe(
      'mixed.yaml',
      `version: 1
name: mixed
stages:
  gallery:
    model: ${NANO}
    input: { prompt: swap, image_urls: [https://assets.example.com/a.jpg, https://assets.example.com/b.jpg] }
  after:
    model: ${KONTEXT}
    input: { prompt: touch up, image: "\${{ stages.gallery.outputs.images[0] }}" }
  later:
    model: ${KONTEXT}
    input: { prompt: again, image: "\${{ stages.after.outputs.images[0] }}" }
  alone:
    model: ${KONTEXT}
    input: { prompt: independent, image: https://assets.example.com/c.jpg }
`,
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(1);
    const record = sb.runRecord('mixed');
    expect(record.stages['gallery']!.status).toBe('failed');
    expect(record.stages['gallery']!.failure?.reason).toBe('job-failed');
    expect(record.stages['gallery']!.attempts).toHaveLength(1);
    expect(record.stages['after']).toMatchObject({ status: 'skipped', reason: 'dependency-failed' });
    expect(record.stages['later']).toMatchObject({ status: 'skipped', reason: 'dependency-failed' });
    expect(record.stages['alone']!.status).toBe('succeeded');
    expect(result.stdout).toContain('[skip] after needs stage "gallery", which failed');
  });

  it('--fail-fast stops starting stages after the first failure and cancels running jobs', async () => {
    sb = sandbox({
      models: {
        [NANO]: { steps: [{ status: 'failed', queueMs: 0, runMs: 50 }] },
        [KONTEXT]: { base: { queueMs: null } },
      },
    });
    const recipe = sb.recipe(
      'ff.yaml',
      `version: 1
name: ff
stages:
  broken:
    model: ${NANO}
    input: { prompt: swap, image_urls: [https://assets.example.com/a.jpg] }
  slow:
    model: ${KONTEXT}
    input: { prompt: slow, image: https://assets.example.com/b.jpg }
  later:
    model: ${KONTEXT}
    input: { prompt: later, image: "\${{ stages.slow.outputs.images[0] }}" }
`,
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--fail-fast']);
    expect(result.code).toBe(1);
    const record = sb.runRecord('ff');
    expect(record.stages['broken']!.failure?.reason).toBe('job-failed');
    expect(record.stages['slow']!.failure?.reason).toBe('interrupted');
    expect(record.stages['later']).toMatchObject({ status: 'skipped', reason: 'fail-fast' });
    const slowId = sb.submissions().find((s) => s.model === KONTEXT)!.request_id;
    expect(
      sb.standin.readLog().filter((r) => r.command === 'cancel' && r.request_id === slowId),
    ).toHaveLength(1);
  });

  it('retries a failed job only when the stage opts in with retry_on: [failed]', async () => {
    sb = sandbox({ models: { [KONTEXT]: { steps: [{ status: 'failed' }] } } });
    const recipe = sb.recipe(
      'one.yaml',
      kontextRecipe('one', { a: [] }, 'defaults:\n  retry_on: [failed]\n'),
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
  });

  it('a job whose result record says failed (status said completed) is submitted again under retry_on, not followed', async () => {
    // The contract: `run` decides by the result's status. Following the same dead job again
    // spent the stage's retry on asking about it.
    sb = sandbox({ models: { [KONTEXT]: { steps: [{ queueMs: 0, runMs: 50, resultStatus: 'failed' }] } } });
    const recipe = sb.recipe(
      'one.yaml',
      kontextRecipe('one', { a: [] }, 'defaults:\n  retries: 1\n  retry_on: [failed]\n'),
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
    const attempts = sb.runRecord('one').stages['a']!.attempts;
    expect(attempts.map((a) => [a.outcome, a.reattached])).toEqual([
      ['failed', false],
      ['succeeded', false],
    ]);
  });

  it('runs the two middle stages of a diamond in parallel', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 600 } } } });
    const recipe = sb.recipe(
      'diamond.yaml',
      kontextRecipe('diamond', { top: [], left: ['top'], right: ['top'], bottom: ['left', 'right'] }),
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    const byBody = new Map(
      sb.submissions().map((s) => [String((s.body as { prompt: string }).prompt), s.request_id!]),
    );
    const jobs = jobIntervals(sb.standin.readLog());
    const left = jobs.get(byBody.get('edit left')!)!;
    const right = jobs.get(byBody.get('edit right')!)!;
    const top = jobs.get(byBody.get('edit top')!)!;
    const bottom = jobs.get(byBody.get('edit bottom')!)!;
    // Both middle jobs were alive at the same time, after top and before bottom.
    expect(Math.max(left.start, right.start)).toBeLessThan(Math.min(left.end, right.end));
    expect(Math.min(left.start, right.start)).toBeGreaterThanOrEqual(top.end);
    expect(bottom.start).toBeGreaterThanOrEqual(Math.max(left.end, right.end));
  });

  it('honours --concurrency and per-model limits (from the invocation log)', async () => {
    sb = sandbox({ models: { default: { base: { queueMs: 0, runMs: 300 } } } });
    let text = `version: 1\nname: wide\ndefaults:\n  concurrency_per_model:\n    ${NANO}: 1\nstages:\n`;
    for (let i = 0; i < 6; i++)
      text += `  k${i}:\n    model: ${KONTEXT}\n    input: { prompt: p${i}, image: https://assets.example.com/${i}.jpg }\n`;
    for (let i = 0; i < 3; i++)
      text += `  n${i}:\n    model: ${NANO}\n    input: { prompt: p${i}, image_urls: [https://assets.example.com/${i}.jpg] }\n`;
    const recipe = sb.recipe('wide.yaml', text);
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--concurrency', '3']);
    expect(result.code).toBe(0);
    const jobs = [...jobIntervals(sb.standin.readLog()).values()];
    expect(jobs).toHaveLength(9);
    expect(maxOverlap(jobs)).toBeLessThanOrEqual(3);
    expect(maxOverlap(jobs)).toBeGreaterThanOrEqual(2);
    expect(maxOverlap(jobs, NANO)).toBe(1);
  });

  it("a stage's time is its work, not its wait for a --concurrency slot, in every report alike", async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 1500 } } } });
    const recipe = sb.recipe('queue.yaml', kontextRecipe('queue', { a: [], b: [] }));
    const junit = join(sb.standin.dir, 'junit.xml');
    const result = await sb.run([
      'run',
      recipe,
      '--reporter',
      'json',
      '--concurrency',
      '1',
      '--junit',
      junit,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const record = sb.runRecord('queue').stages as unknown as Record<
      string,
      { startedAt: number; endedAt: number; attempts: { startedAt: number; endedAt: number }[] }
    >;
    const events = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; stage?: string; durationMs?: number });
    const [first, second] = ['a', 'b'].map((id) => record[id]!).sort((x, y) => x.startedAt - y.startedAt);
    // The second stage was ready at once but waited for the first one's slot.
    expect(second!.startedAt).toBeGreaterThanOrEqual(first!.attempts[0]!.endedAt);
    for (const id of ['a', 'b']) {
      const stage = record[id]!;
      expect(stage.startedAt).toBe(stage.attempts[0]!.startedAt);
      const ms = stage.endedAt - stage.startedAt;
      expect(ms).toBeLessThan(second!.endedAt - first!.startedAt - 500);
      const event = events.find((e) => e.type === 'stage-succeeded' && e.stage === id)!;
      expect(Math.abs(event.durationMs! - ms)).toBeLessThanOrEqual(1);
      expect(readFileSync(junit, 'utf8')).toMatch(
        new RegExp(`<testcase name="${id}"[^>]* time="${(ms / 1000).toFixed(3)}"`),
      );
    }
  });

  it('looks at a job once more before its deadline rather than cancel one that finished unseen', async () => {
    // The model's first job queued 7 s, so later jobs are aimed at ~7 s; the second stage's job
    // is done at once and its attempt ends at 4 s: it must be seen done, and its result fetched,
    // before that (two client processes, slow on a loaded machine).
    sb = sandbox({
      models: { [KONTEXT]: { base: { queueMs: 0, runMs: 100 }, steps: [{ queueMs: 7000, runMs: 100 }] } },
    });
    const recipe = sb.recipe(
      'aim.yaml',
      `version: 1\nname: aim\nstages:\n  a:\n    model: ${KONTEXT}\n    input: { prompt: edit a, image: https://assets.example.com/a.jpg }\n` +
        `  b:\n    model: ${KONTEXT}\n    needs: [a]\n    timeout: 4s\n    retries: 0\n    input: { prompt: edit b, image: https://assets.example.com/b.jpg }\n`,
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain'], {
      FACESWAP_POLL_INTERVAL_MS: '5000',
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(sb.standin.readLog().filter((r) => r.command === 'cancel')).toEqual([]);
    expect(sb.runRecord('aim').stages['b']!.attempts).toEqual([
      expect.objectContaining({ outcome: 'succeeded' }),
    ]);
  });

  it('polls a fresh job only after an interval, and a model it has seen finish less often', async () => {
    // Jobs long next to a status call (each one a process start, slow on a loaded machine), so
    // the first job's interval polling makes clearly more calls than the later ones' aimed calls.
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 4000 } } } });
    const recipe = sb.recipe('chain2.yaml', kontextRecipe('chain2', { a: [], b: ['a'] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain'], { FACESWAP_POLL_INTERVAL_MS: '100' });
    expect(result.code).toBe(0);
    const log = sb.standin.readLog();
    const order = sb.submissions().map((s) => s.request_id!);
    expect(order).toHaveLength(2);
    const statusCalls = order.map((id) => log.filter((r) => r.command === 'status' && r.request_id === id));
    for (const [i, id] of order.entries()) {
      const submit = log.find((r) => r.command === 'run' && r.request_id === id)!;
      // Never at once: the job was just created. (Sleeps only get longer on a loaded machine.)
      expect(statusCalls[i]![0]!.start - submit.end).toBeGreaterThanOrEqual(100);
    }
    // The first job of the model is polled every interval; the later ones start near its duration.
    const [first, ...later] = statusCalls.map((calls) => calls.length);
    for (const n of later) expect(n).toBeLessThan(first!);
  });

  it('cancels the remote job when an attempt times out, and counts the timeout as retryable (exit 75)', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: null } } } });
    const recipe = sb.recipe(
      'slow.yaml',
      kontextRecipe('slow', { a: [] }, 'defaults:\n  timeout: 1s\n  retries: 0\n'),
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(75);
    const log = sb.standin.readLog();
    const id = sb.submissions()[0]!.request_id;
    expect(log.filter((r) => r.command === 'cancel' && r.request_id === id)).toHaveLength(1);
    const stage = sb.runRecord('slow').stages['a']!;
    expect(stage.failure?.reason).toBe('timed-out');
    expect(stage.failure?.message).toContain('cancelled on the service');
  });

  it('stops a submit that never answers after the deadline and a grace period; the retry submits again', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 50 }, steps: [{ submit: 'hang' }] } } });
    // 5 s, as below: the retry (submit, status, result: three client processes) needs room on a
    // loaded machine.
    const recipe = sb.recipe(
      'hang.yaml',
      kontextRecipe('hang', { a: [] }, 'defaults:\n  timeout: 5s\n  retries: 1\n'),
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain'], { FACESWAP_SUBMIT_GRACE_MS: '1000' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      '[retry] a attempt 1 timed out: the attempt timed out while the submit was still waiting for the service; the client did not answer within 1 s more and was stopped, so a job may exist on the service without a known request id',
    );
    const runs = sb.standin.readLog().filter((r) => r.command === 'run');
    expect(runs.map((r) => r.signal)).toEqual(['SIGTERM', null]);
    expect(sb.submissions()).toHaveLength(1);
    expect(sb.runRecord('hang').stages['a']!.attempts.map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
  });

  it('lets a slow submit answer after the deadline, then cancels the job it created instead of losing it', async () => {
    sb = sandbox({
      models: { [KONTEXT]: { base: { queueMs: 0, runMs: 50 }, steps: [{ submitMs: 6000, queueMs: null }] } },
    });
    // The deadline leaves the retry (submit, status, result: three client processes) room on a
    // loaded machine: 3 s was too little with three copies of this file running at once.
    const recipe = sb.recipe(
      'slow.yaml',
      kontextRecipe('slow', { a: [] }, 'defaults:\n  timeout: 5s\n  retries: 1\n'),
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    const log = sb.standin.readLog();
    // The first submit was not killed: it answered, and the job it made was cancelled while queued.
    const [first, second] = sb.submissions();
    expect(log.find((r) => r.command === 'run' && r.request_id === first!.request_id)!.signal).toBeNull();
    expect(log.filter((r) => r.command === 'cancel').map((r) => r.request_id)).toEqual([first!.request_id]);
    const attempts = sb.runRecord('slow').stages['a']!.attempts;
    expect(attempts[0]).toMatchObject({
      outcome: 'failed',
      reason: 'timed-out',
      requestId: first!.request_id,
    });
    expect(attempts[0]!.message).toContain('was cancelled on the service');
    expect(attempts[1]).toMatchObject({
      outcome: 'succeeded',
      requestId: second!.request_id,
      reattached: false,
    });
  });

  it('--dry-run prints the exact commands and makes zero calls', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--dry-run']);
    expect(result.code).toBe(0);
    expect(sb.standin.readLog()).toEqual([]);
    expect(result.stdout).toContain(`$ runcomfy --output json run ${KONTEXT} --input-file - --no-wait`);
    expect(result.stdout).toContain('"character_image_url":"${{ stages.face.outputs.images[0] }}"');
  });

  it('--dry-run answers for this very command: cached stages, --force and --only as the run would take them', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    expect((await sb.run(['run', recipe])).code).toBe(0);
    const calls = sb.standin.readLog().length;
    const runs = readdirSync(join(sb.standin.dir, 'outputs', 'chain', 'runs')).length;

    const again = await sb.run(['run', recipe, '--dry-run']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('\n1. face: cached, no call (the result of an earlier run, 1 file)\n');
    expect(again.stdout).toContain('\n2. motion: cached, no call (the result of an earlier run, 1 file)\n');
    expect(again.stdout).not.toContain('$ runcomfy');
    expect(again.stdout).toContain('\nwould make 0 runcomfy calls; 2 stages cached\n');

    const forced = await sb.run(['run', recipe, '--dry-run', '--force', 'motion']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('\n1. face: cached, no call');
    expect(forced.stdout).toContain(
      '\n2. motion (1 call, after face)\n   runs: forced (--force)\n   $ runcomfy ',
    );
    // The forced stage's body as it will be sent: the cached upstream's result URL filled in.
    expect(forced.stdout).toMatch(
      /"character_image_url":"https:\/\/files\.runcomfy\.net\/[^"]+\/result\.png"/,
    );
    expect(forced.stdout).toContain('\nwould make 1 runcomfy call; 1 stage cached\n');

    const only = await sb.run(['run', recipe, '--dry-run', '--only', 'face', '--force']);
    expect(only.code).toBe(0);
    expect(only.stdout).toContain('\n1. face (1 call)\n   runs: forced (--force)\n');
    expect(only.stdout).toContain('\n2. motion: not selected (--only, --from, --until), not run\n');
    expect(only.stdout).toContain('\nwould make 1 runcomfy call; 1 not selected\n');

    // A changed input downstream of a cached stage: the body is shown as it will be sent, the
    // cached stage's result URL in place of the expression.
    const changed = await sb.run([
      'run',
      recipe,
      '--dry-run',
      '--set',
      'dance=https://assets.example.com/other-dance.mp4',
    ]);
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain(
      '\n2. motion (1 call, after face)\n   runs: its input changed or it never ran\n',
    );
    expect(changed.stdout).toMatch(
      /stdin: \{"character_image_url":"https:\/\/files\.runcomfy\.net\/[^"]+\/result\.png","reference_video_url":"https:\/\/assets\.example\.com\/other-dance\.mp4"\}/,
    );

    // Dry runs call nothing and record nothing.
    expect(sb.standin.readLog()).toHaveLength(calls);
    expect(readdirSync(join(sb.standin.dir, 'outputs', 'chain', 'runs'))).toHaveLength(runs);
  });

  it('--dry-run stops like the run when a selected stage needs one that never ran (exit 65)', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--dry-run', '--only', 'motion']);
    expect(result.code).toBe(65);
    expect(result.stderr).toContain(
      'faceswap-pipe: error: stage "motion" needs the results of stage "face", which is not selected and has no cached result for its current input.\n',
    );
    expect(result.stdout).toBe('');
  });

  it('a --junit or --summary file that cannot be written fails an otherwise good run with exit 73', async () => {
    sb = sandbox();
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    // A folder where the report file should go.
    const taken = join(sb.standin.dir, 'report.xml');
    mkdirSync(taken);
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--junit', taken, '--summary', taken]);
    expect(result.code).toBe(73);
    expect(result.stderr).toContain(`error: could not write the JUnit report ${taken}:`);
    expect(result.stderr).toContain(`error: could not write the job summary ${taken}:`);
    // The run itself is recorded as it went, with the exit code the process ends with, and its
    // contact sheet (made after the record says so) is written.
    expect(sb.runRecord('chain')).toMatchObject({ status: 'succeeded', exitCode: 73 });
    expect(result.stdout).toContain('contact sheet:');
    // The job summary, made after the JUnit report failed, says so too.
    const summary = join(sb.standin.dir, 'summary.md');
    const again = await sb.run([
      'run',
      recipe,
      '--reporter',
      'plain',
      '--junit',
      taken,
      '--summary',
      summary,
    ]);
    expect(again.code).toBe(73);
    expect(readFileSync(summary, 'utf8')).toContain('exit 73');
  });

  it('emits NDJSON events that validate against schemas/run-events.schema.json', async () => {
    sb = sandbox({ models: { [KONTEXT]: { steps: [75] } } });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--reporter', 'json']);
    expect(result.code).toBe(0);
    const schema = JSON.parse(
      readFileSync(new URL('../schemas/run-events.schema.json', import.meta.url), 'utf8'),
    ) as object;
    const check = new SchemaChecker().compile(schema);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string });
    for (const event of events) expect(check.check(event), JSON.stringify(event)).toEqual([]);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('run-start');
    expect(types.at(-1)).toBe('run-finished');
    for (const type of ['stage-start', 'stage-attempt', 'stage-retry', 'stage-succeeded'])
      expect(types).toContain(type);
  });

  it('never writes the token into any output, record or message', async () => {
    const token = 'tok-SECRET-7f3a9c1e5b';
    sb = sandbox(
      { models: { [KONTEXT]: { steps: [75, { status: 'failed', error: `bad token ${token}` }] } } },
      { token },
    );
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--reporter', 'json']);
    expect(result.stdout + result.stderr).not.toContain(token);
    const { execSync } = await import('node:child_process');
    const hits = execSync(`grep -rl -- ${token} outputs .faceswap || true`, {
      cwd: sb.standin.dir,
      encoding: 'utf8',
    });
    expect(hits).toBe('');
    for (const log of sb.standin.readLog()) expect(log.argv.join(' ')).not.toContain(token);
  });

  it('asks again for a result that answers 400 after the job completed, within the attempt, never resubmitting', async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: {
          base: { queueMs: 0, runMs: 50, faults: [{ on: 'result', call: 1, error: { http: 400 } }] },
        },
      },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }, 'defaults:\n  retries: 0\n'));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    expect(sb.standin.readLog().filter((r) => r.command === 'result')).toHaveLength(2);
    const attempts = sb.runRecord('one').stages['a']!.attempts;
    expect(attempts.map((a) => [a.outcome, a.reason ?? null, a.reattached])).toEqual([
      ['succeeded', null, false],
    ]);
  });

  it("a 5xx or 429 while fetching a finished job's result is asked again without using the stage's retries", async () => {
    // retries: 0, and the result call fails twice: fetching a finished job's result costs nothing.
    sb = sandbox({
      models: {
        [KONTEXT]: {
          base: { queueMs: 0, runMs: 50, faults: [{ on: 'result', call: [1, 2], error: 69 }] },
          steps: [{ queueMs: 0, runMs: 50, faults: [{ on: 'result', call: [1, 2], error: 75 }] }],
        },
      },
    });
    const recipe = sb.recipe('two.yaml', kontextRecipe('two', { a: [], b: [] }, 'defaults:\n  retries: 0\n'));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
    const record = sb.runRecord('two');
    for (const id of ['a', 'b'])
      expect(record.stages[id]!.attempts.map((a) => [a.outcome, a.reattached])).toEqual([
        ['succeeded', false],
      ]);
  });

  it('an output downloaded empty (a redirect off the trusted hosts) is passed on as a URL with a warning, not failed', async () => {
    const url = 'https://files.runcomfy.net/{request_id}/result.png';
    const kept = 'https://files.runcomfy.net/{request_id}/kept.png';
    sb = sandbox({
      models: { [KONTEXT]: { base: { queueMs: 0, runMs: 50, output: { images: [url, kept] } } } },
      downloads: {
        [url]: { redirect: 'https://cdn.example.com/{request_id}/result.png' },
        [kept]: { redirect: 'https://eu.files.runcomfy.net/{request_id}/kept.png' },
      },
    });
    const recipe = sb.recipe('chain.yaml', CHAIN_RECIPE);
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(2);
    const face = sb.runRecord('chain').stages['face']!;
    const id = face.attempts[0]!.requestId!;
    expect(face.outputs).toEqual({
      images: [`https://files.runcomfy.net/${id}/result.png`, `https://files.runcomfy.net/${id}/kept.png`],
    });
    // The trusted redirect was followed and kept; the empty reply of the other is no file.
    expect(face.files).toEqual([`face/${id}/kept.png`]);
    expect(result.stdout + result.stderr).toContain(
      `job ${id}: 1 output URL is downloaded empty (probably a redirect off the hosts the client trusts, which it does not follow), so it is passed on as a URL but not kept as files: https://files.runcomfy.net/${id}/result.png`,
    );
    // The downstream stage got the URL.
    const motion = sb.submissions().find((s) => s.model === 'kling/kling-2-6/motion-control-pro')!;
    expect((motion.body as { character_image_url: string }).character_image_url).toBe(
      `https://files.runcomfy.net/${id}/result.png`,
    );
  });

  it('keeps the files of a client that names them from the URL as written (the contract leaves the reading open)', async () => {
    // "last non-empty path segment, percent-escapes kept as-is": of the URL as written, `a\b.png`
    // is saved as a_b.png and `my result.png` as is; the WHATWG reading gives b.png and my%20result.png.
    const backslash = 'https://files.runcomfy.net/{request_id}/a\\b.png';
    const spaced = 'https://files.runcomfy.net/{request_id}/my result.png';
    const odd = 'https://files.runcomfy.net/{request_id}/x%2e%2e/r\u00e9sum\u00e9 v2.png';
    sb = sandbox({
      fileNames: 'written',
      models: {
        [KONTEXT]: { base: { queueMs: 0, runMs: 50, output: { images: [backslash, spaced, odd] } } },
      },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code, result.stderr).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    const stage = sb.runRecord('one').stages['a']!;
    const id = stage.attempts[0]!.requestId!;
    expect(stage.files).toEqual([
      `a/${id}/a_b.png`,
      `a/${id}/my result.png`,
      `a/${id}/r\u00e9sum\u00e9 v2.png`,
    ]);
  });

  it('keeps every file of an early 0.1.x client, which downloads from any host, matched to its own URL', async () => {
    const elsewhere = 'https://storage.googleapis.com/bucket/{request_id}/output.png';
    const ours = 'https://files.runcomfy.net/{request_id}/output.png';
    sb = sandbox({
      downloadAnyHost: true,
      models: { [KONTEXT]: { base: { queueMs: 0, runMs: 50, output: { images: [elsewhere, ours] } } } },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('[warn]');
    const stage = sb.runRecord('one').stages['a']!;
    const id = stage.attempts[0]!.requestId!;
    // The client named them in URL order: output.png for the first, output-1.png for the second.
    expect(stage.files).toEqual([`a/${id}/output.png`, `a/${id}/output-1.png`]);
    const bytes = (file: string) => readFileSync(join(sb!.standin.dir, 'outputs/one', file), 'latin1');
    expect(bytes(stage.files[0]!)).toContain(elsewhere.replace('{request_id}', id));
    expect(bytes(stage.files[1]!)).toContain(ours.replace('{request_id}', id));
    // Its own file failed to download: the other host's file of the same name is never taken
    // for it (it would be labelled and recorded as the job's).
    sb.standin.writeScenario({
      downloadAnyHost: true,
      models: { [KONTEXT]: { base: { queueMs: 0, runMs: 50, output: { images: [elsewhere, ours] } } } },
      downloads: { [ours]: { fail: 'http' } },
    });
    const failing = await sb.run(['run', recipe, '--reporter', 'plain', '--force']);
    expect(failing.code).toBe(75);
    expect(sb.runRecord('one').stages['a']!.failure?.reason).toBe('missing-download');
  });

  it('a job seen completed keeps having its result fetched past the deadline (fetching is free)', async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: {
          base: { queueMs: 0, runMs: 0, faults: [{ on: 'result', call: [1, 2, 3], error: 69 }] },
        },
      },
    });
    const recipe = sb.recipe(
      'one.yaml',
      kontextRecipe('one', { a: [] }, 'defaults:\n  retries: 0\n  timeout: 1s\n'),
    );
    // Backing off between result calls (0.5-1 s, then 1-2 s…) passes the 1 s deadline.
    const result = await sb.run(['run', recipe, '--reporter', 'plain'], { FACESWAP_POLL_INTERVAL_MS: '500' });
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    expect(sb.standin.readLog().filter((r) => r.command === 'result')).toHaveLength(4);
  });

  it('a job found finished by the cancel at its deadline is collected, not reported as running and billing', async () => {
    // Every status check fails (503) and backs off past the deadline; the cancel there answers
    // that the job had completed (not_cancellable): its result is fetched, no retry needed.
    sb = sandbox({
      models: {
        [KONTEXT]: {
          base: { queueMs: 0, runMs: 50, faults: [{ on: 'status', call: [1, 2, 3, 4, 5, 6], error: 69 }] },
        },
      },
    });
    const recipe = sb.recipe(
      'one.yaml',
      kontextRecipe('one', { a: [] }, 'defaults:\n  retries: 0\n  timeout: 2s\n'),
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain'], {
      FACESWAP_POLL_INTERVAL_MS: '5000',
    });
    expect(result.stdout).not.toContain('may bill');
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    const log = sb.standin.readLog();
    expect(log.filter((r) => r.command === 'cancel')).toHaveLength(1);
    expect(sb.runRecord('one').stages['a']!.attempts.map((a) => a.outcome)).toEqual(['succeeded']);
  });

  it('reads a sniffed 77 whose message is a bare request line as a dropped connection, not a bad token', async () => {
    // The client's sniffing turns a connection error to a URL holding "401" into 77 (contract section 6).
    sb = sandbox({
      sniffErrors: true,
      models: {
        [KONTEXT]: {
          base: { queueMs: 0, runMs: 300, faults: [{ on: 'status', call: 1, error: 'transport' }] },
        },
      },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain'], {
      RUNCOMFY_MODEL_API_BASE: 'http://127.0.0.1:4010/v1',
    });
    const log = sb.standin.readLog().filter((r) => r.command === 'status');
    expect(log[0]!.exit).toBe(77);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    // A dropped connection while polling is asked again in the same attempt; a bad token would stop the run.
    expect(sb.runRecord('one').stages['a']!.attempts).toEqual([
      expect.objectContaining({ outcome: 'succeeded', reattached: false }),
    ]);
  });

  it('expects files only for the URLs the client downloads (exact scheme case, no trailing-dot host)', async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: {
          base: {
            queueMs: 0,
            runMs: 0,
            output: {
              images: [
                'https://files.runcomfy.net/{request_id}/result.png',
                'HTTPS://files.runcomfy.net/{request_id}/upper.png',
                'https://files.runcomfy.net./{request_id}/dot.png',
              ],
            },
          },
        },
      },
    });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    const stage = sb.runRecord('one').stages['a']!;
    expect(stage.files).toHaveLength(1);
    expect(stage.files[0]).toMatch(/result\.png$/);
    // The client skips the trailing-dot host without a word in json mode: the run says so.
    expect(result.stdout).toMatch(
      /\[warn\] a job \S+: 1 output URL is outside the hosts the client downloads from \(\*\.runcomfy\.net, \*\.runcomfy\.com\), so it is passed on as a URL but not kept as files: https:\/\/files\.runcomfy\.net\.\/\S+\/dot\.png/,
    );
  });

  it('follows a job whose status answers null or a state it does not know, until it completes', async () => {
    // Long enough that polls meet the job running even on a loaded machine.
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 2000 } } } });
    // A client whose status says nothing useful while the job runs (a missing field is null,
    // contract section 4), or names a state of its own, then a noise line before each payload.
    const wrapper = join(sb.standin.dir, 'runcomfy-wrapper');
    writeFileSync(
      wrapper,
      `#!/bin/sh\necho 'notice: a newer runcomfy is available'\n` +
        `if [ "$3" = status ]; then "${join(sb.standin.binDir, 'runcomfy')}" "$@" | sed -e 's/"status":"in_progress"/"status":null/' -e 's/"status":"in_queue"/"status":"warming_up"/'; exit 0; fi\n` +
        `exec "${join(sb.standin.binDir, 'runcomfy')}" "$@"\n`,
      { mode: 0o755 },
    );
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }));
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--runcomfy', wrapper]);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    expect(sb.runRecord('one').stages['a']!.attempts).toHaveLength(1);
    expect(sb.standin.readLog().filter((r) => r.command === 'status').length).toBeGreaterThan(1);
    const record = sb.runRecord('one') as unknown as { runcomfy: string };
    expect(record.runcomfy).toMatch(/^runcomfy \d/);
  });

  it("lets a finished job's download run past the attempt's deadline: no timeout, no retry, no new job", async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 0 } } } });
    // The first `result` (the download) takes longer than the attempt may.
    const wrapper = join(sb.standin.dir, 'runcomfy-wrapper');
    const marker = join(sb.standin.dir, 'slow-once');
    writeFileSync(
      wrapper,
      `#!/bin/sh\nif [ "$3" = result ] && [ ! -e "${marker}" ]; then : > "${marker}"; sleep 6; fi\n` +
        `exec "${join(sb.standin.binDir, 'runcomfy')}" "$@"\n`,
      { mode: 0o755 },
    );
    const recipe = sb.recipe(
      'one.yaml',
      kontextRecipe('one', { a: [] }, 'defaults:\n  timeout: 3s\n  retries: 0\n'),
    );
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--runcomfy', wrapper]);
    expect(result.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    const attempts = sb.runRecord('one').stages['a']!.attempts;
    expect(attempts.map((a) => [a.outcome, a.reason ?? null, a.reattached])).toEqual([
      ['succeeded', null, false],
    ]);
  });

  it('takes an empty downloaded file for the reply of an unfollowed redirect: no file, no fetch again', async () => {
    sb = sandbox({
      downloads: { 'https://files.runcomfy.net/{request_id}/result.png': { file: 'empty.png' } },
    });
    writeFileSync(join(sb.standin.dir, 'empty.png'), '');
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }, 'defaults:\n  retries: 1\n'));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(0);
    const stage = sb.runRecord('one').stages['a']!;
    expect(stage.files).toEqual([]);
    expect(stage.attempts).toHaveLength(1);
    expect(result.stdout).toMatch(/\[warn\] a job \S+: 1 output URL is downloaded empty/);
    expect(sb.standin.readLog().filter((r) => r.command === 'result')).toHaveLength(1);
    expect(sb.submissions()).toHaveLength(1);
  });

  it('fails a stage whose trusted output URL did not download', async () => {
    sb = sandbox({ downloads: { 'https://files.runcomfy.net/{request_id}/result.png': { fail: 'http' } } });
    const recipe = sb.recipe('one.yaml', kontextRecipe('one', { a: [] }, 'defaults:\n  retries: 1\n'));
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(75);
    const stage = sb.runRecord('one').stages['a']!;
    expect(stage.failure?.reason).toBe('missing-download');
    expect(stage.failure?.message).toContain('did not download');
    // The retry re-fetched the same job rather than paying again.
    expect(sb.submissions()).toHaveLength(1);
  });
});
