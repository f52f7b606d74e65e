/**
 * makeDir replaces Node's `mkdir(…, { recursive: true })`, which never returns when a parent
 * refuses new entries with ENOENT (a folder under /proc), and the CLI reports an output or state
 * folder it cannot create as exit 73 with a way forward, not as an internal error.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DanglingLinkError, makeDir, makeDirSync } from '../src/util/make-dir.js';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'make-dir-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const procfs = existsSync('/proc/self/stat');

describe('makeDir', () => {
  it('creates missing parents, with the mode, and accepts a folder that exists', async () => {
    const deep = join(dir, 'a', 'b', 'c');
    await makeDir(deep, 0o700);
    expect(statSync(deep).isDirectory()).toBe(true);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o700 & ~process.umask());
    await makeDir(deep);
    makeDirSync(join(deep, 'd'));
    expect(statSync(join(deep, 'd')).isDirectory()).toBe(true);
  });

  it('refuses a file in the way (ENOTDIR), async and sync', async () => {
    writeFileSync(join(dir, 'file'), 'x');
    await expect(makeDir(join(dir, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(() => makeDirSync(join(dir, 'file'))).toThrow(/ENOTDIR/);
  });

  it('refuses a symbolic link to a missing target, naming both, async and sync', async () => {
    const link = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere', 'x'), link);
    const expected = { code: 'ENOENT', path: link, target: join(dir, 'nowhere', 'x') };
    await expect(makeDir(join(link, 'sub'))).rejects.toBeInstanceOf(DanglingLinkError);
    await expect(makeDir(join(link, 'sub'))).rejects.toMatchObject(expected);
    expect(() => makeDirSync(link)).toThrow(DanglingLinkError);
    expect(() => makeDirSync(link)).toThrow(expect.objectContaining(expected) as Error);
    // Nothing was created through the link.
    expect(existsSync(join(dir, 'nowhere'))).toBe(false);
  });

  it.runIf(procfs)(
    'fails at once under a parent that refuses new entries (/proc), where Node loops forever',
    async () => {
      await expect(makeDir('/proc/faceswap-pipe-test/state')).rejects.toMatchObject({ code: 'ENOENT' });
      expect(() => makeDirSync('/proc/faceswap-pipe-test/state')).toThrow(/ENOENT/);
    },
  );
});

describe('a folder the run cannot create', () => {
  const recipe = fileURLToPath(new URL('../recipes/local-demo.yaml', import.meta.url));

  it.runIf(procfs)(
    '--state-dir under /proc: exit 73, naming the folder and the options to change',
    async () => {
      const result = await runCli(
        ['run', recipe, '--state-dir', '/proc/faceswap-pipe-test', '--out', join(dir, 'out')],
        {
          cwd: dir,
        },
      );
      expect(result.stderr).toContain(
        'cannot create /proc/faceswap-pipe-test: its parent folder does not accept new entries (ENOENT); choose another folder (--out, --state-dir)',
      );
      expect(result.stderr).not.toContain('internal error');
      expect(result.code).toBe(73);
    },
  );

  it('--out with a file in the way: exit 73', async () => {
    writeFileSync(join(dir, 'taken'), 'x');
    const result = await runCli(
      ['run', recipe, '--out', join(dir, 'taken', 'out'), '--state-dir', join(dir, 'state')],
      {
        cwd: dir,
      },
    );
    expect(result.stderr).toMatch(/cannot create .*taken.*: a file is in the way of a folder \(ENOTDIR\)/);
    expect(result.code).toBe(73);
  });

  // CI restores the state folder from a cache mount that may be missing: a link to nothing.
  it.each([
    ['run', '--state-dir'],
    ['run', '--out'],
  ])(
    '%s with %s a symbolic link to a missing target: exit 73, naming the link and its target',
    async (command, option) => {
      const case_ = mkdtempSync(join(dir, 'link-'));
      const link = join(case_, 'linked');
      symlinkSync('missing-target', link);
      const other =
        option === '--out' ? ['--state-dir', join(case_, 'state')] : ['--out', join(case_, 'out')];
      const result = await runCli([command, recipe, option, link, ...other], { cwd: case_ });
      expect(result.stderr).toContain(
        `error: cannot create ${link}: it is a symbolic link to missing-target (${join(case_, 'missing-target')}), which does not exist (a cache or volume that is not mounted?); create the target, remove the link, or choose another folder (--out, --state-dir), then run again\n`,
      );
      expect(result.stderr).not.toContain('internal error');
      expect(result.code).toBe(73);
      expect(existsSync(join(case_, 'missing-target'))).toBe(false);
    },
  );

  it('clean with --state-dir a symbolic link to a missing target has no state to remove, and makes none', async () => {
    const case_ = mkdtempSync(join(dir, 'link-'));
    const link = join(case_, 'linked');
    symlinkSync('missing-target', link);
    const result = await runCli(['clean', recipe, '--state-dir', link, '--out', join(case_, 'out')], {
      cwd: case_,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('no state to remove');
    expect(existsSync(join(case_, 'missing-target'))).toBe(false);
  });

  it('--state-dir through a symbolic link loop: exit 73', async () => {
    const case_ = mkdtempSync(join(dir, 'loop-'));
    symlinkSync('b', join(case_, 'a'));
    symlinkSync('a', join(case_, 'b'));
    const result = await runCli(
      ['run', recipe, '--state-dir', join(case_, 'a', 'state'), '--out', join(case_, 'out')],
      { cwd: case_ },
    );
    expect(result.stderr).toMatch(
      /cannot create .*: a symbolic link on the way points back at itself \(ELOOP\)/,
    );
    expect(result.code).toBe(73);
  });

  it('a folder where the lock file goes: exit 73', async () => {
    mkdirSync(join(dir, 'state', 'local-demo', 'lock'), { recursive: true });
    const result = await runCli(
      ['run', recipe, '--out', join(dir, 'out'), '--state-dir', join(dir, 'state')],
      {
        cwd: dir,
      },
    );
    expect(result.stderr).toContain(
      `cannot create ${join(dir, 'state', 'local-demo', 'lock')}: a folder is in the way of a file (ERR_FS_EISDIR)`,
    );
    expect(result.code).toBe(73);
  });
});
