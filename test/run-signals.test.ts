import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_ENV, sandbox, type RunnerSandbox } from './helpers/runner.js';

const BIN = fileURLToPath(new URL('../bin/faceswap-pipe.js', import.meta.url));
const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const KLING = 'kling/kling-2-6/motion-control-pro';

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** `faceswap-pipe run` of a one-stage Kontext recipe, as a real child process. */
function runOneStage(box: RunnerSandbox) {
  const recipe = box.recipe(
    'one.yaml',
    `version: 1\nname: one\nstages:\n  a:\n    model: ${KONTEXT}\n    input: { prompt: a, image: https://assets.example.com/1.jpg }\n`,
  );
  return spawnRun(box, recipe);
}

/** `faceswap-pipe run <recipe>` as a real child process of the sandbox. */
function spawnRun(box: RunnerSandbox, recipe: string) {
  return execa('node', [BIN, 'run', recipe, '--reporter', 'plain'], {
    cwd: box.standin.dir,
    env: { ...box.standin.env, ...FAST_ENV, FACESWAP_SUBMIT_GRACE_MS: '3000' },
    reject: false,
  });
}

describe('signals (a real faceswap-pipe process)', () => {
  it('SIGINT cancels every in-flight job, says which could not be cancelled, records the run and exits 130', async () => {
    // Kontext jobs stay queued (cancellable); the Kling job starts running at once (not cancellable).
    sb = sandbox({
      models: { [KONTEXT]: { base: { queueMs: null } }, [KLING]: { base: { queueMs: 0, runMs: null } } },
    });
    const recipe = sb.recipe(
      'wide.yaml',
      `version: 1
name: wide
stages:
  one:
    model: ${KONTEXT}
    input: { prompt: a, image: https://assets.example.com/1.jpg }
  two:
    model: ${KONTEXT}
    input: { prompt: b, image: https://assets.example.com/2.jpg }
  dance:
    model: ${KLING}
    input: { character_image_url: https://assets.example.com/c.png, reference_video_url: https://assets.example.com/d.mp4 }
  after:
    model: ${KONTEXT}
    input: { prompt: c, image: "\${{ stages.one.outputs.images[0] }}" }
`,
    );
    const child = spawnRun(sb, recipe);
    await until(() => sb!.submissions().length === 3, 'three submissions');
    await sleep(200);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    const cancels = sb.standin.readLog().filter((r) => r.command === 'cancel');
    expect(new Set(cancels.map((c) => c.request_id))).toEqual(
      new Set(sb.submissions().map((s) => s.request_id)),
    );
    expect(result.stderr).toContain('SIGINT received; cancelling in-flight jobs');
    expect(result.stdout).toContain('cannot be cancelled; it will run to completion and may bill');
    const record = sb.runRecord('wide');
    expect(record.status).toBe('interrupted');
    expect(record.exitCode).toBe(130);
    expect(record.stages['after']).toMatchObject({ status: 'skipped', reason: 'interrupted' });
    expect(record.stages['one']!.status).toBe('failed');
  });

  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} is handled like Ctrl-C`, async () => {
      // SIGHUP: a closed terminal or a dropped ssh session (it used to kill the runner outright,
      // leaving the record "running" and the lock behind).
      sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: null } } } });
      const child = runOneStage(sb);
      await until(() => sb!.submissions().length === 1, 'a submission');
      child.kill(signal);
      const result = await child;
      expect(result.exitCode).toBe(130);
      expect(sb.standin.readLog().filter((r) => r.command === 'cancel')).toHaveLength(1);
      expect(sb.runRecord('one').status).toBe('interrupted');
      expect(existsSync(join(sb.standin.dir, '.faceswap', 'one', 'lock'))).toBe(false);
    });
  }

  it('a run whose reader goes away (| head) goes on to its end and exits with its own code', async () => {
    // Exiting 0 at the first write after the pipe closed told CI that a run succeeded while its
    // paid jobs were still running (and left its record "running" and its lock behind).
    sb = sandbox({
      models: { [KONTEXT]: { base: { queueMs: 0, runMs: 1500 }, steps: [65], then: 'repeat-last' } },
    });
    const child = runOneStage(sb);
    child.stdout.once('data', () => child.stdout.destroy());
    const result = await child;
    expect(result.exitCode).toBe(1);
    expect(sb.runRecord('one').status).toBe('failed');
    expect(existsSync(join(sb.standin.dir, '.faceswap', 'one', 'lock'))).toBe(false);
  });

  it('SIGTERM during a submit that never answers stops that client after a grace period and exits 130', async () => {
    sb = sandbox({ models: { [KONTEXT]: { steps: [{ submit: 'hang' }] } } });
    const child = runOneStage(sb);
    // The submit is running once the runner wrote its pid beside the state record's stdout file
    // (the stand-in logs a process only when it ends).
    const state = join(sb.standin.dir, '.faceswap');
    await until(
      () =>
        existsSync(state) &&
        readdirSync(state, { recursive: true }).some((f) => String(f).endsWith('.out.pid')),
      'the submit process',
    );
    await sleep(300);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.stdout).toContain(
      '[fail] a interrupted: the run was interrupted while the submit was still waiting for the service; the client did not answer within 3 s more and was stopped, so a job may exist on the service without a known request id',
    );
    // The hung submit was stopped by a signal, not left behind.
    const submit = sb.standin.readLog().find((r) => r.command === 'run');
    expect(submit?.signal).toBe('SIGTERM');
    expect(sb.submissions()).toHaveLength(0);
  });

  it('a second Ctrl-C exits at once, recording the run as interrupted with its job in flight, and frees the lock', async () => {
    // The Kling job runs forever (cannot be cancelled); the Kontext submit never answers, so
    // after the first Ctrl-C the run waits up to 3 s for that client: the second comes first.
    sb = sandbox({
      models: { [KONTEXT]: { steps: [{ submit: 'hang' }] }, [KLING]: { base: { queueMs: 0, runMs: null } } },
    });
    const recipe = sb.recipe(
      'two.yaml',
      `version: 1
name: two
stages:
  one:
    model: ${KONTEXT}
    input: { prompt: a, image: https://assets.example.com/1.jpg }
  dance:
    model: ${KLING}
    input: { character_image_url: https://assets.example.com/c.png, reference_video_url: https://assets.example.com/d.mp4 }
`,
    );
    const summary = join(sb.standin.dir, 'step-summary.md');
    const child = execa('node', [BIN, 'run', recipe, '--reporter', 'plain', '--junit', 'reports/junit.xml'], {
      cwd: sb.standin.dir,
      env: { ...sb.standin.env, ...FAST_ENV, FACESWAP_SUBMIT_GRACE_MS: '3000', GITHUB_STEP_SUMMARY: summary },
      reject: false,
    });
    const state = join(sb.standin.dir, '.faceswap');
    await until(
      () =>
        sb!.submissions().length === 1 &&
        readdirSync(state, { recursive: true }).some((f) => String(f).endsWith('.out.pid')),
      'the Kling job and the hanging submit',
    );
    await sleep(300);
    child.kill('SIGINT');
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await until(() => stderr.includes('SIGINT received'), 'the first signal to be handled');
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(stderr).toContain(
      'exiting now; jobs still running on the service are followed up by the next run',
    );
    const record = sb.runRecord('two');
    expect(record.status).toBe('interrupted');
    expect(record.exitCode).toBe(130);
    expect(record.endedAt).not.toBeNull();
    const kling = sb.submissions()[0]!;
    expect(record.inFlight.map((f) => f.requestId)).toContain(kling.request_id);
    expect(existsSync(join(state, 'lock'))).toBe(false);
    // The CI outputs asked for are written even so (GitHub's cancel is SIGINT, then SIGTERM).
    const junit = readFileSync(join(sb.standin.dir, 'reports/junit.xml'), 'utf8');
    expect(junit).toContain('<property name="run.status" value="interrupted"/>');
    expect(readFileSync(summary, 'utf8')).toContain('### faceswap-pipe: two');
    // The stage whose paid job still runs is interrupted, with that job, not "not run, 0 paid".
    expect(record.stages['dance']).toMatchObject({
      status: 'failed',
      failure: { reason: 'interrupted' },
      attempts: [{ requestId: kling.request_id, outcome: 'failed', reattached: false }],
    });
    expect(junit).toMatch(/<testcase [^>]*name="dance"[^>]*>\s*<error [^>]*type="interrupted"/);
    expect(readFileSync(summary, 'utf8')).toMatch(/\b1 job paid\b/);
    // The contact sheet is left to `report`: the summary says so rather than link a missing file.
    expect(readFileSync(summary, 'utf8')).toContain('contact sheet: not written (the run exited at once;');
  });
});
