/**
 * A run whose own files cannot be written (a full disk, a read-only or broken state or output
 * folder) says what could not be written, where and what to do, and exits 73: the machine's
 * state, not a bug (70) and not the client's doing. Tests cannot fill a disk without root, so a
 * folder is put where a file goes, or a file where a folder goes, while the run goes on.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SchemaChecker } from '../src/recipe/schema-check.js';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const NANO = 'google/nano-banana-2/edit';

const ONE_STAGE = `version: 1
name: one
stages:
  face:
    model: ${KONTEXT}
    input: { prompt: Change only the face, image: https://assets.example.com/ana.jpg }
`;

/**
 * Once the run's folder exists (its record is written before anything is submitted), does
 * `block` to it. Returns the run folder, once it has.
 */
function whenRunStarts(
  box: RunnerSandbox,
  recipeName: string,
  block: (runDir: string) => void,
): () => string | undefined {
  const runs = join(box.standin.dir, 'outputs', recipeName, 'runs');
  let done: string | undefined;
  const timer = setInterval(() => {
    const run = existsSync(runs) ? readdirSync(runs)[0] : undefined;
    if (run === undefined || !existsSync(join(runs, run, 'run.json'))) return;
    done = join(runs, run);
    block(done);
    clearInterval(timer);
  }, 5);
  timer.unref();
  return () => {
    clearInterval(timer);
    return done;
  };
}

/** A folder where `name` goes in the run's folder, once the run has started. */
function blockInRunDir(box: RunnerSandbox, recipeName: string, name: string): () => string | undefined {
  const started = whenRunStarts(box, recipeName, (runDir) => {
    rmSync(join(runDir, name), { force: true });
    mkdirSync(join(runDir, name));
  });
  return () => {
    const runDir = started();
    return runDir === undefined ? undefined : join(runDir, name);
  };
}

/** `text` as a regular expression that matches it literally. */
function literally(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('a run that cannot write its own files', () => {
  it('a manifest.json it cannot write: still records how it ended, prints its summary and reports, exit 73', async () => {
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 800 } } } });
    const recipe = sb.recipe('one.yaml', ONE_STAGE);
    const blocked = blockInRunDir(sb, 'one', 'manifest.json');
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    const manifest = blocked();
    expect(manifest).toBeDefined();
    expect(result.stderr).not.toContain('internal error');
    expect(result.stderr).toMatch(
      new RegExp(
        literally(
          `faceswap-pipe: error: cannot create ${manifest!}: a folder is in the way of a file (EISDIR); choose another folder (--out, --state-dir) or fix the file system, then run again\n`,
        ) + '$',
      ),
    );
    expect(result.code).toBe(73);
    // The summary and the contact sheet, as after any run.
    expect(result.stdout).toMatch(/\nstage +model +status/);
    expect(result.stdout).toContain('1 job submitted');
    expect(result.stdout).toContain('contact sheet:');
    // The record says how the run ended, not "running" forever.
    const record = sb.runRecord('one');
    expect(record).toMatchObject({ status: 'failed', exitCode: 73 });
    expect(record.endedAt).not.toBeNull();
  });

  it("a file where a stage's output folder goes: the run stops, leaves its jobs on the service uncancelled, exit 73; the next run follows them", async () => {
    sb = sandbox({
      models: {
        [KONTEXT]: { base: { queueMs: 0, runMs: 100 } },
        [NANO]: { base: { queueMs: 0, runMs: 4000 } },
      },
    });
    const recipe = sb.recipe(
      'lw.yaml',
      `version: 1
name: lw
stages:
  face:
    model: ${KONTEXT}
    input: { prompt: Change only the face, image: https://assets.example.com/ana.jpg }
  slow:
    model: ${NANO}
    input: { prompt: swap, image_urls: [https://assets.example.com/b.jpg] }
  later:
    model: ${KONTEXT}
    input: { prompt: later, image: "\${{ stages.slow.outputs.images[0] }}" }
`,
    );
    const inTheWay = join(sb.standin.dir, 'outputs', 'lw', 'face');
    mkdirSync(join(sb.standin.dir, 'outputs', 'lw'), { recursive: true });
    writeFileSync(inTheWay, 'not a folder');
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(73);
    expect(result.stdout).not.toContain('unexpected client answer');
    const [faceId, slowId] = [KONTEXT, NANO].map(
      (m) => sb!.submissions().find((s) => s.model === m)!.request_id!,
    );
    expect(result.stdout).toContain(
      `[fail] face a file of the run could not be written: cannot create ${inTheWay}: a file is in the way of a folder (ENOTDIR); job ${faceId} is left on the service, and the next run follows it up\n`,
    );
    expect(result.stdout).toContain('2 jobs submitted');
    expect(result.stderr).toContain(
      `faceswap-pipe: error: cannot create ${inTheWay}: a file is in the way of a folder (ENOTDIR); choose another folder (--out, --state-dir) or fix the file system, then run again\n`,
    );
    // The job whose folder was in the way first, then the one that was still running.
    expect(result.stderr).toContain(
      `faceswap-pipe: note: 2 jobs were left running on the service, not cancelled (${faceId}, ${slowId}); the next run follows them up instead of paying again\n`,
    );
    // Nothing new was started, and nothing was cancelled: the running job bills on either way.
    expect(sb.submissions()).toHaveLength(2);
    expect(sb.standin.readLog().filter((r) => r.command === 'cancel')).toEqual([]);
    const record = sb.runRecord('lw');
    expect(record).toMatchObject({ status: 'failed', exitCode: 73 });
    expect(record.stages['face']!.failure?.reason).toBe('cannot-write');
    expect(record.stages['slow']!.failure).toMatchObject({ reason: 'interrupted' });
    expect(record.stages['slow']!.failure!.message).toContain(
      `job ${slowId} is left on the service, not cancelled, and the next run follows it up`,
    );
    expect(record.stages['later']).toMatchObject({ status: 'skipped', reason: 'cannot-write' });

    // Fixed: the next run follows both jobs (paid once) and submits only what never ran.
    rmSync(inTheWay);
    sb.standin.writeScenario({ models: { default: { base: { queueMs: 0, runMs: 50 } } } });
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    expect(
      sb
        .submissions()
        .map((s) => s.model)
        .sort(),
    ).toEqual([KONTEXT, KONTEXT, NANO]);
    const next = sb.runRecord('lw');
    expect(next.stages['face']!.attempts[0]).toMatchObject({ requestId: faceId, reattached: true });
    expect(next.stages['slow']!.attempts[0]).toMatchObject({ requestId: slowId, reattached: true });
  });

  it('with --no-cache no record lets a later run follow a job, so the jobs in flight are cancelled as at Ctrl-C', async () => {
    sb = sandbox({
      models: { [KONTEXT]: { base: { queueMs: 0, runMs: 100 } }, [NANO]: { base: { queueMs: 5000 } } },
    });
    const recipe = sb.recipe(
      'nc.yaml',
      `version: 1
name: nc
stages:
  face:
    model: ${KONTEXT}
    input: { prompt: Change only the face, image: https://assets.example.com/ana.jpg }
  slow:
    model: ${NANO}
    input: { prompt: swap, image_urls: [https://assets.example.com/b.jpg] }
`,
    );
    const inTheWay = join(sb.standin.dir, 'outputs', 'nc', 'face');
    mkdirSync(join(inTheWay, '..'), { recursive: true });
    writeFileSync(inTheWay, 'not a folder');
    const result = await sb.run(['run', recipe, '--reporter', 'plain', '--no-cache']);
    expect(result.code).toBe(73);
    const [faceId, slowId] = [KONTEXT, NANO].map(
      (m) => sb!.submissions().find((s) => s.model === m)!.request_id!,
    );
    expect(result.stdout).toContain(
      `job ${faceId} may still run on the service (with --no-cache no record lets a later run follow it)`,
    );
    expect(
      sb.standin
        .readLog()
        .filter((r) => r.command === 'cancel')
        .map((r) => r.request_id),
    ).toEqual([slowId]);
    expect(sb.runRecord('nc').stages['slow']!.failure!.message).toContain(
      `job ${slowId} was cancelled on the service`,
    );
    expect(result.stderr).not.toContain('left running');
  });

  it('a run record it cannot write once a job is paid: counts the job, leaves it for the next run, exit 73', async () => {
    // The submit answers after a second: time to put a folder where the record goes.
    sb = sandbox({ models: { [KONTEXT]: { base: { queueMs: 0, runMs: 100, submitMs: 1000 } } } });
    const recipe = sb.recipe('one.yaml', ONE_STAGE);
    const blocked = blockInRunDir(sb, 'one', 'run.json');
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    const runJson = blocked();
    expect(runJson).toBeDefined();
    expect(result.code).toBe(73);
    const id = sb.submissions()[0]!.request_id!;
    expect(sb.submissions()).toHaveLength(1);
    expect(result.stdout).toContain('1 job submitted');
    expect(result.stdout).toContain(`run record: outputs/one/runs/`);
    expect(result.stdout).toContain('(not finished: it could not be written)');
    expect(result.stderr).toContain(
      `faceswap-pipe: error: cannot create ${runJson!}: a folder is in the way of a file (EISDIR)`,
    );
    expect(result.stderr).toContain(
      `faceswap-pipe: note: a job was left running on the service, not cancelled (${id}); the next run follows it up instead of paying again\n`,
    );
    // The job record has it: the next run follows the job instead of paying again.
    const again = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(again.code).toBe(0);
    expect(sb.submissions()).toHaveLength(1);
    expect(sb.runRecord('one').stages['face']!.attempts[0]).toMatchObject({
      requestId: id,
      reattached: true,
    });
  });

  it('its NDJSON events name the reasons, and validate against schemas/run-events.schema.json', async () => {
    sb = sandbox();
    // One job at a time: "face" goes first, and "other" is still waiting when the run stops.
    const recipe = sb.recipe(
      'four.yaml',
      `version: 1
name: four
stages:
  face:
    model: ${KONTEXT}
    input: { prompt: Change only the face, image: https://assets.example.com/ana.jpg }
  motion:
    model: ${KONTEXT}
    input: { prompt: again, image: "\${{ stages.face.outputs.images[0] }}" }
  other:
    model: ${KONTEXT}
    input: { prompt: other, image: https://assets.example.com/b.jpg }
  later:
    model: ${KONTEXT}
    input: { prompt: later, image: "\${{ stages.other.outputs.images[0] }}" }
`,
    );
    const jobs = join(sb.standin.dir, '.faceswap', 'four', 'jobs');
    mkdirSync(join(jobs, '..'), { recursive: true });
    writeFileSync(jobs, 'not a folder');
    const result = await sb.run(['run', recipe, '--reporter', 'json', '-j', '1']);
    expect(result.code).toBe(73);
    const check = new SchemaChecker().compile(
      JSON.parse(
        readFileSync(new URL('../schemas/run-events.schema.json', import.meta.url), 'utf8'),
      ) as object,
    );
    const events = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; stage?: string; reason?: string });
    for (const event of events) expect(check.check(event), JSON.stringify(event)).toEqual([]);
    const reasons = events
      .filter((e) => e.reason !== undefined)
      .map((e) => `${e.stage} ${e.type} ${e.reason}`);
    expect(reasons.sort()).toEqual([
      'face stage-failed cannot-write',
      'later stage-skipped cannot-write',
      'motion stage-skipped dependency-failed',
      'other stage-failed interrupted',
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'run-finished', exitCode: 73 });
    expect(sb.submissions()).toEqual([]);
  });

  it('a file where the job records go: nothing is submitted without its record, exit 73', async () => {
    sb = sandbox();
    const recipe = sb.recipe('one.yaml', ONE_STAGE);
    const jobs = join(sb.standin.dir, '.faceswap', 'one', 'jobs');
    mkdirSync(join(jobs, '..'), { recursive: true });
    writeFileSync(jobs, 'not a folder');
    const result = await sb.run(['run', recipe, '--reporter', 'plain']);
    expect(result.code).toBe(73);
    expect(sb.submissions()).toEqual([]);
    expect(result.stdout).toContain(
      `[fail] face a file of the run could not be written: cannot create ${jobs}: a file is in the way of a folder (ENOTDIR)\n`,
    );
    expect(result.stderr).toContain(
      `faceswap-pipe: error: cannot create ${jobs}: a file is in the way of a folder (ENOTDIR); choose another folder (--out, --state-dir) or fix the file system, then run again\n`,
    );
    expect(result.stderr).not.toContain('left running');
  });
});
