import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { makeDir, makeDirSync } from '../util/make-dir.js';
import { atPath } from '../util/write-problem.js';

/**
 * Writes a file so that readers see the old content or the new, never a torn mix: write a
 * temporary file in the same folder, fsync it, rename it over the target, fsync the folder.
 * A crash at any point leaves at worst a stray temporary file, which readers ignore.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  /**
   * `durable: false` skips both fsyncs: still atomic for readers, but a power cut may lose the
   * new content. For derived files that are rebuilt at will (report.html), not for records.
   */
  options: { mode?: number; dirMode?: number; durable?: boolean } = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const dir = dirname(path);
  const temp = tempBeside(path);
  try {
    await makeDir(dir, options.dirMode);
    const handle = await open(temp, 'w', options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } catch (cause) {
      await handle.close();
      await rm(temp, { force: true });
      throw cause;
    }
    await handle.close();
    try {
      await rename(temp, path);
    } catch (cause) {
      await rm(temp, { force: true });
      throw cause;
    }
  } catch (cause) {
    // A full disk fails the write through the handle, which names no file; the temporary
    // file's name means nothing to a user. Either way the error is about `path`.
    throw atPath(cause, path, temp);
  }
  if (durable) await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse fsync on folders; the rename is still atomic there.
  }
}

/**
 * {@link writeFileAtomic}, synchronously, with the same options. For the last moment of a
 * process (a second Ctrl-C) when no promise will settle again, and for the files a run writes
 * once it has nothing else to do (its record, manifest and contact sheet at the end): each
 * asynchronous step is a trip through the thread pool that, on a machine whose cores V8's
 * compiler threads keep busy, waits its turn for one (see src/state/lock.ts).
 */
export function writeFileAtomicSync(
  path: string,
  data: string | Uint8Array,
  options: { mode?: number; dirMode?: number; durable?: boolean } = {},
): void {
  const durable = options.durable ?? true;
  const dir = dirname(path);
  const temp = tempBeside(path);
  try {
    makeDirSync(dir, options.dirMode);
    const fd = openSync(temp, 'w', options.mode ?? 0o644);
    try {
      writeFileSync(fd, data);
      if (durable) fsyncSync(fd);
    } catch (cause) {
      closeSync(fd);
      rmSync(temp, { force: true });
      throw cause;
    }
    closeSync(fd);
    try {
      renameSync(temp, path);
    } catch (cause) {
      rmSync(temp, { force: true });
      throw cause;
    }
  } catch (cause) {
    throw atPath(cause, path, temp);
  }
  if (durable) syncDirSync(dir);
}

function syncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // as in syncDir
  }
}

/** A temporary file's name in the target's folder, unique to this process and write. */
function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}
