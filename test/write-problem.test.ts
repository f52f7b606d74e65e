/**
 * A file of ours that cannot be written is reported with the file it was (exit 73), even when
 * the error named none (a full disk fails the write through a file handle) or named a
 * temporary file the user never asked for.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../src/state/atomic.js';
import { atPath, describeWriteProblem, writeProblemOf } from '../src/util/write-problem.js';

const dir = mkdtempSync(join(tmpdir(), 'write-problem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `FileHandle.writeFile` throws on a full disk: a code and a syscall, no path. */
function handleError(code: string, text: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}, write`), { code, errno: -28, syscall: 'write' });
}

describe('write problems', () => {
  it('names the file a full disk refused, and says to free space', () => {
    const named = atPath(handleError('ENOSPC', 'no space left on device'), '/out/run/manifest.json');
    expect(named).toMatchObject({
      code: 'ENOSPC',
      syscall: 'write',
      path: '/out/run/manifest.json',
      message: "ENOSPC: no space left on device, write '/out/run/manifest.json'",
    });
    expect(describeWriteProblem(writeProblemOf(named)!)).toBe(
      'cannot create /out/run/manifest.json: no space left on the device (ENOSPC); free some space, or choose another folder (--out, --state-dir), then run again',
    );
  });

  it('keeps the path of an error about something else on the way (a folder), and replaces a temporary name', () => {
    const folder = Object.assign(new Error('ENOTDIR: not a directory'), {
      code: 'ENOTDIR',
      path: '/out/jobs',
    });
    expect(atPath(folder, '/out/jobs/k.json')).toBe(folder);
    const temp = Object.assign(
      new Error("EISDIR: illegal operation on a directory, rename '/o/.r.tmp' -> '/o/r'"),
      {
        code: 'EISDIR',
        syscall: 'rename',
        path: '/o/.r.tmp',
      },
    );
    expect(atPath(temp, '/o/r', '/o/.r.tmp')).toMatchObject({ path: '/o/r', code: 'EISDIR' });
  });

  it('is a full disk even with no file named, but not a permission error or a vanished file', () => {
    expect(writeProblemOf(handleError('ENOSPC', 'no space left on device'))?.reason).toBe(
      'cannot create a file or folder: no space left on the device (ENOSPC)',
    );
    expect(writeProblemOf(Object.assign(new Error('EACCES'), { code: 'EACCES' }))).toBeUndefined();
    expect(
      writeProblemOf(Object.assign(new Error('ENOENT'), { code: 'ENOENT', syscall: 'open', path: '/x' })),
    ).toBeUndefined();
    expect(writeProblemOf(new Error('a bug'))).toBeUndefined();
  });

  it('an atomic write names its target, not its temporary file, and leaves no temporary file', async () => {
    const target = join(dir, 'run.json');
    mkdirSync(target);
    await expect(writeFileAtomic(target, '{}')).rejects.toMatchObject({ code: 'EISDIR', path: target });
    expect(() => writeFileAtomicSync(target, '{}')).toThrow(
      expect.objectContaining({ code: 'EISDIR', path: target }) as Error,
    );
    expect(readdirSync(dir)).toEqual(['run.json']);
  });
});
