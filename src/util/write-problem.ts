import { dirname, resolve } from 'node:path';
import { DanglingLinkError } from './make-dir.js';

/**
 * A file or folder of ours (a record, an output, a report, the lock) that could not be written
 * for a reason of the machine's: a read-only file system, no permission, a full disk or quota,
 * something in the way, a parent that refuses new entries, a link to nothing. Never a bug, and
 * never the model service's doing: the command says what, where and what to do, and exits 73.
 */
export interface WriteProblem {
  readonly code: string;
  /** What could not be written, as the error named it; undefined when it named nothing. */
  readonly path: string | undefined;
  /** `cannot create <path>: <why> (<code>)`: what happened, for a stage's failure or a record. */
  readonly reason: string;
  /** What to do about it (`free some space, or choose another folder …, then run again`). */
  readonly advice: string;
}

/** The problem `cause` describes when it is a {@link WriteProblem}; undefined for anything else. */
export function writeProblemOf(cause: unknown): WriteProblem | undefined {
  if (cause instanceof DanglingLinkError) {
    const target = resolve(dirname(cause.path), cause.target);
    return {
      code: cause.code,
      path: cause.path,
      reason: `cannot create ${cause.path}: it is a symbolic link to ${cause.target}${target === cause.target ? '' : ` (${target})`}, which does not exist (a cache or volume that is not mounted?)`,
      advice:
        'create the target, remove the link, or choose another folder (--out, --state-dir), then run again',
    };
  }
  const error = cause as NodeJS.ErrnoException | undefined;
  const code = error?.code;
  if (typeof code !== 'string') return undefined;
  const why = WHY[code];
  // ENOENT from anything but mkdir is a file that vanished (or a bug), not a folder refusing entries.
  if (why === undefined || (code === 'ENOENT' && error?.syscall !== 'mkdir')) return undefined;
  const path = typeof error?.path === 'string' ? error.path : undefined;
  // Permissions or a name in the way without a name may be about something else than a write.
  if (path === undefined && !ONLY_WRITES.has(code)) return undefined;
  return {
    code,
    path,
    reason: `cannot create ${path ?? 'a file or folder'}: ${why} (${code})`,
    advice:
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'free some space, or choose another folder (--out, --state-dir), then run again'
        : 'choose another folder (--out, --state-dir) or fix the file system, then run again',
  };
}

/** The one line a command prints for a {@link WriteProblem}: what, where, why and what to do. */
export function describeWriteProblem(problem: WriteProblem): string {
  return `${problem.reason}; ${problem.advice}`;
}

/**
 * `cause` naming the file it was about: a write through a file handle names none (ENOSPC from
 * `FileHandle.writeFile`), and a temporary file's name (`replacing`) means nothing to a user.
 * An error that names another path already (a folder on the way) is returned as it is.
 */
export function atPath(cause: unknown, path: string, replacing?: string): unknown {
  const error = cause as NodeJS.ErrnoException | undefined;
  if (typeof error?.code !== 'string' || cause instanceof DanglingLinkError) return cause;
  if (error.path !== undefined && error.path !== replacing) return cause;
  // Node's own form: `ENOSPC: no space left on device, write '<path>'`.
  const head = /^[A-Z][A-Z0-9_]*: [^,]*/.exec(error.message)?.[0] ?? error.code;
  const named: NodeJS.ErrnoException = new Error(`${head}, ${error.syscall ?? 'write'} '${path}'`, { cause });
  named.code = error.code;
  if (error.errno !== undefined) named.errno = error.errno;
  if (error.syscall !== undefined) named.syscall = error.syscall;
  named.path = path;
  return named;
}

const WHY: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  ENOTDIR: 'a file is in the way of a folder',
  EISDIR: 'a folder is in the way of a file',
  // fs.rm's own code for a folder where it expected a file (a folder named like the lock file).
  ERR_FS_EISDIR: 'a folder is in the way of a file',
  ENOENT: 'its parent folder does not accept new entries',
  ELOOP: 'a symbolic link on the way points back at itself',
};

/** Codes only a write gives: a full disk, a quota, a read-only file system. */
const ONLY_WRITES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);
