/**
 * A run whose own files cannot be written (a full disk, a read-only or broken state or output
 * folder) says what could not be written, where and what to do, and exits 73: the machine's
 * state, not a bug (70) and not the client's doing. Tests cannot fill a disk without root, so a
 * folder is put where a file goes, or a file where a folder goes, while the run goes on.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

let sb: RunnerSandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';

const ONE_STAGE = `version: 1
name: one
stages:
  face:
    model: ${KONTEXT}
    input: { prompt: Change only the face, image: https://assets.example.com/ana.jpg }
`;

/**
 * Once the run's folder exists (its record is written before anything is submitted), puts a
 * folder where `name` goes in it. Returns the path it blocked, once it has.
 */
function blockInRunDir(box: RunnerSandbox, recipeName: string, name: string): () => string | undefined {
  const runs = join(box.standin.dir, 'outputs', recipeName, 'runs');
  let blocked: string | undefined;
  const timer = setInterval(() => {
    const run = existsSync(runs) ? readdirSync(runs)[0] : undefined;
    if (run === undefined || !existsSync(join(runs, run, 'run.json'))) return;
    blocked = join(runs, run, name);
    mkdirSync(blocked);
    clearInterval(timer);
  }, 5);
  timer.unref();
  return () => {
    clearInterval(timer);
    return blocked;
  };
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
        `faceswap-pipe: error: cannot create ${manifest!.replace(/[.]/g, '\\.')}: a folder is in the way of a file \\(EISDIR\\); choose another folder \\(--out, --state-dir\\) or fix the file system, then run again\\n$`,
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
});
