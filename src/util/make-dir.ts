import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`: creates a folder and any missing parents. Used instead of Node's
 * `mkdir(…, { recursive: true })`, which never returns when a parent refuses new entries with
 * ENOENT rather than EACCES (a folder under /proc, for one: seen on Node 20 and 22, sync and
 * async alike) and so turned `--state-dir /proc/x` into a hang at 100% CPU. Here each missing
 * folder is created once, from the top down, and the first failure is thrown as it is.
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
      // Made meanwhile by another process: fine, if it is a folder.
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST' || !(await stat(dir)).isDirectory()) throw cause;
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
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(dir).isDirectory()) throw cause;
    }
  }
}

function notADirectory(path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`ENOTDIR: not a directory, mkdir '${path}'`);
  error.code = 'ENOTDIR';
  error.path = path;
  return error;
}
