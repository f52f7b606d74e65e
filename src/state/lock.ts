import { hostname } from 'node:os';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidNamespace, processAlive, processStartTime } from './process-alive.js';
import { makeDirSync } from '../util/make-dir.js';
import { atPath } from '../util/write-problem.js';

export interface LockOwner {
  readonly pid: number;
  readonly startTime?: string;
  readonly host: string;
  /** The holder's PID namespace (see {@link pidNamespace}); absent in locks of older versions. */
  readonly pidNamespace?: string;
  readonly since: string;
  readonly command: string;
}

export type LockResult =
  | {
      readonly acquired: true;
      readonly release: () => Promise<void>;
      /** {@link release}, synchronously, for a process that exits at once. */
      readonly releaseNow: () => void;
      readonly tookOverFrom?: LockOwner;
    }
  | { readonly acquired: false; readonly holder: LockOwner };

const UNKNOWN: LockOwner = { pid: 0, host: '?', since: '?', command: '?' };

/**
 * One run per recipe state folder at a time: two runs would both see a job as missing and both
 * pay for it. The lock is a file created exclusively (`O_EXCL`). A lock whose owner is gone
 * (killed, power loss, a zombie) is taken over; to keep two runs from both deciding a lock is
 * stale and each removing the other's fresh one, only the holder of a second, short-lived
 * `lock.takeover` file may remove a stale lock, after checking again.
 *
 * A lock held on another host (a state folder on a shared disk, or restored from a CI cache
 * after the job that held it was killed), or in another PID namespace of this host (two
 * containers sharing a hostname and a volume), cannot be checked by pid. Its holder touches the file
 * every {@link HEARTBEAT_MS}; one untouched for {@link FOREIGN_STALE_MS} belongs to a run that is
 * gone, and is taken over like a dead process's.
 */
export async function acquireLock(stateDir: string, command: string): Promise<LockResult> {
  // Creating and removing the lock is synchronous: a few syscalls on a tiny file, once per run,
  // with nothing else to do meanwhile. Through the thread pool, each step waited its turn for a
  // core V8's compiler threads kept busy: ~8 ms of a cached 200-stage re-run instead of ~1.
  makeDirSync(stateDir, 0o700);
  const path = join(stateDir, 'lock');
  const takeover = join(stateDir, 'lock.takeover');
  const startTime = processStartTime();
  const namespace = pidNamespace();
  const me: LockOwner = {
    pid: process.pid,
    ...(startTime !== undefined && { startTime }),
    host: hostname(),
    ...(namespace !== undefined && { pidNamespace: namespace }),
    since: new Date().toISOString(),
    command,
  };
  let tookOverFrom: LockOwner | undefined;
  for (let tries = 0; tries < 50; tries++) {
    if (createExclusive(path, me)) {
      const heartbeat = setInterval(() => {
        const now = new Date();
        void utimes(path, now, now).catch(() => undefined);
      }, HEARTBEAT_MS);
      heartbeat.unref();
      return {
        acquired: true,
        release: () => {
          clearInterval(heartbeat);
          releaseIfMineNow(path, me);
          return Promise.resolve();
        },
        releaseNow: () => {
          clearInterval(heartbeat);
          releaseIfMineNow(path, me);
        },
        ...(tookOverFrom && { tookOverFrom }),
      };
    }
    const holder = await readOwner(path);
    if (holder && !(await isStale(holder, path))) return { acquired: false, holder };
    if (!holder && (await ageMs(path)) < 2_000) {
      // Empty or torn: either its owner died mid-write, or it is being written right now.
      await sleep(50);
      continue;
    }
    if (!createExclusive(takeover, me)) {
      const other = await readOwner(takeover);
      if (!other || (await isStale(other, takeover))) await rm(takeover, { force: true });
      else await sleep(20);
      continue;
    }
    try {
      const again = await readOwner(path);
      if ((!again && (await ageMs(path)) >= 2_000) || (again && (await isStale(again, path)))) {
        tookOverFrom = again ?? holder ?? UNKNOWN;
        await rm(path, { force: true });
      }
    } finally {
      await rm(takeover, { force: true });
    }
  }
  return { acquired: false, holder: (await readOwner(path)) ?? UNKNOWN };
}

/** How often a run touches its lock, so other hosts can tell it is alive. */
export const HEARTBEAT_MS = 15_000;
/** A lock from another host untouched this long is stale (six missed heartbeats; clock skew allowed for). */
export const FOREIGN_STALE_MS = 90_000;

/**
 * Whether a lock's holder can be checked by its pid here: the same host and, where both are
 * known, the same PID namespace. Otherwise only its heartbeat tells whether it is alive.
 */
export function checkableByPid(owner: LockOwner): boolean {
  return (
    owner.host === hostname() && (owner.pidNamespace === undefined || owner.pidNamespace === pidNamespace())
  );
}

/** Whether the holder of the lock file at `path` is gone (see {@link acquireLock}). */
export async function isStale(owner: LockOwner, path: string): Promise<boolean> {
  if (checkableByPid(owner)) return !processAlive(owner.pid, owner.startTime);
  return (await ageMs(path)) >= FOREIGN_STALE_MS;
}

function createExclusive(path: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw cause;
  }
  try {
    // No fsync: a lock torn by a power cut reads as empty, and an empty lock older than two
    // seconds is taken over (above), so durability would buy nothing but a disk flush per run.
    writeFileSync(fd, JSON.stringify(owner) + '\n');
  } catch (cause) {
    // A full disk: the empty lock is not left for the next run to wait on, and the error names it.
    closeSync(fd);
    rmSync(path, { force: true });
    throw atPath(cause, path);
  }
  closeSync(fd);
  return true;
}

function releaseIfMineNow(path: string, me: LockOwner): void {
  let current: Partial<LockOwner> | undefined;
  try {
    current = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
  } catch {
    return;
  }
  if (current.pid === me.pid && current.since === me.since) rmSync(path, { force: true });
}

/** The owner written in a lock file; undefined when absent or torn (a crash between create and write). */
export async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return undefined;
    return parsed as LockOwner;
  } catch {
    return undefined;
  }
}

async function ageMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Infinity;
  }
}
