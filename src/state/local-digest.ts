import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isJsonObject, type JsonValue } from '../util/json.js';

/** What a job's record keeps of a local file it read: its content hash, and how to tell it unchanged cheaply. */
export interface LocalFileFacts {
  readonly sha256: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

/**
 * The local files a job of the offline engine reads, for its record: the body names a file by
 * path, and a file replaced under the same name (a new portrait, an edited scene) must not be
 * answered from the cache. Strings are resolved as the engine resolves them
 * (src/backends/local/backend.ts): `file:` URLs decoded, relative paths from the recipe's
 * folder; strings that name no regular file are left out (URLs, prompts, missing files), and so
 * are files under the output folder (an upstream stage's outputs: their request-id folder names
 * them already, and labelling one must not look like a change).
 */
export function localFileDigests(
  body: JsonValue,
  recipeDir: string,
  outDir?: string,
): Record<string, LocalFileFacts> {
  const out: Record<string, LocalFileFacts> = {};
  const outputs = outDir === undefined ? undefined : resolve(outDir) + sep;
  const visit = (value: JsonValue): void => {
    if (typeof value === 'string') {
      if (value === '' || value.length > 4096 || /^https?:/i.test(value) || value in out) return;
      const path = localPath(value, recipeDir);
      if (path === undefined || (outputs !== undefined && resolve(path).startsWith(outputs))) return;
      const facts = fileFacts(path);
      if (facts !== undefined) out[value] = facts;
    } else if (Array.isArray(value)) for (const v of value as readonly JsonValue[]) visit(v);
    else if (isJsonObject(value)) for (const v of Object.values(value)) visit(v);
  };
  visit(body);
  return out;
}

function localPath(value: string, recipeDir: string): string | undefined {
  if (/^file:/i.test(value)) {
    try {
      return fileURLToPath(value);
    } catch {
      return undefined;
    }
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) && !/^[a-z]:[\\/]/i.test(value)) return undefined;
  return isAbsolute(value) ? value : resolve(recipeDir, value);
}

/** Hashes kept for the process by path, size, mtime and inode (a fan-out reads one identity many times). */
const memo = new Map<string, string>();

function fileFacts(path: string): LocalFileFacts | undefined {
  let info;
  try {
    info = statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  if (!info?.isFile()) return undefined;
  const sha256 = fileDigest(path, info);
  return sha256 === undefined ? undefined : { sha256, size: info.size, mtimeMs: info.mtimeMs, ino: info.ino };
}

/**
 * The sha256 of a regular file as `info` (its stat) describes it, or undefined when it cannot be
 * read. Memoised by path, size, mtime and inode, so a file hashed once is not read again.
 */
export function fileDigest(
  path: string,
  info: { readonly size: number; readonly mtimeMs: number; readonly ino: number },
): string | undefined {
  const id = `${path}\0${info.size}\0${info.mtimeMs}\0${info.ino}`;
  const known = memo.get(id);
  if (known !== undefined) return known;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    // In chunks: a video may be larger than one buffer can hold.
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
    }
    const digest = hash.digest('hex');
    memo.set(id, digest);
    return digest;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * True when a local file an offline engine job read has other content now (by what its record
 * kept). A file whose size, mtime and inode are as recorded is not read again (a cached re-run
 * hashes nothing); a file that is gone cannot be compared: the cached result stands, and only a
 * run that has to make it again needs the file.
 */
export function localFilesChanged(recorded: unknown, recipeDir: string | undefined): boolean {
  if (!isJsonObject(recorded) || recipeDir === undefined) return false;
  for (const [value, facts] of Object.entries(recorded)) {
    if (!isJsonObject(facts) || typeof facts['sha256'] !== 'string') continue;
    const path = localPath(value, recipeDir);
    if (path === undefined) continue;
    let info;
    try {
      info = statSync(path, { throwIfNoEntry: false });
    } catch {
      continue;
    }
    if (!info?.isFile()) continue;
    if (info.size === facts['size'] && info.mtimeMs === facts['mtimeMs'] && info.ino === facts['ino'])
      continue;
    const now = fileDigest(path, info);
    if (now !== undefined && now !== facts['sha256']) return true;
  }
  return false;
}
