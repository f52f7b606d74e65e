import { mkdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, readlink, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`: creates a folder and any missing parents. Used instead of Node's
 * `mkdir(…, { recursive: true })`, which never returns when a parent refuses new entries with
 * ENOENT rather than EACCES (a folder under /proc, for one: seen on Node 20 and 22, sync and
 * async alike) and so turned `--state-dir /proc/x` into a hang at 100% CPU. Here each missing
 * folder is created once, from the top down, and the first failure is thrown as it is, except
 * a symbolic link to a missing target, which is thrown as a {@link DanglingLinkError}.
 */
export async function makeDir(path: string, mode?: number): Promise<void> {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      if ((await stat(dir)).isDirectory()) break;
      throw notADirectory(dir);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw cause;
      missing.push(dir);
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, mode === undefined ? undefined : { mode });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
      // Made meanwhile by another process: fine, if it is a folder. A name that stat could not
      // find and mkdir finds taken is a symbolic link whose target is missing.
      let isFolder: boolean;
      try {
        isFolder = (await stat(dir)).isDirectory();
      } catch (again) {
        const target = await readlink(dir).catch(() => undefined);
        throw target === undefined ? again : new DanglingLinkError(dir, target);
      }
      if (!isFolder) throw notADirectory(dir);
    }
  }
}

/** {@link makeDir}, synchronously. */
export function makeDirSync(path: string, mode?: number): void {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      if (statSync(dir).isDirectory()) break;
      throw notADirectory(dir);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw cause;
      missing.push(dir);
    }
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, mode === undefined ? undefined : { mode });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
      let isFolder: boolean;
      try {
        isFolder = statSync(dir).isDirectory();
      } catch (again) {
        let target: string | undefined;
        try {
          target = readlinkSync(dir);
        } catch {
          throw again;
        }
        throw new DanglingLinkError(dir, target);
      }
      if (!isFolder) throw notADirectory(dir);
    }
  }
}

/**
 * A folder to create is a symbolic link to something that does not exist: a cache or volume
 * that is not mounted (common in CI), or a link left behind. Neither is created through it:
 * the user decides whether the target should exist. `code`, `syscall` and `path` are those of
 * the mkdir that found the name taken.
 */
export class DanglingLinkError extends Error {
  readonly code = 'ENOENT';
  readonly syscall = 'mkdir';
  /** The link (absolute). */
  readonly path: string;
  /** What the link points to, as it is written (may be relative to the link's folder). */
  readonly target: string;

  constructor(path: string, target: string) {
    super(`ENOENT: symbolic link to a missing target, mkdir '${path}' -> '${target}'`);
    this.name = 'DanglingLinkError';
    this.path = path;
    this.target = target;
  }
}

function notADirectory(path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`ENOTDIR: not a directory, mkdir '${path}'`);
  error.code = 'ENOTDIR';
  error.path = path;
  return error;
}
