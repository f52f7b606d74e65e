import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isJsonObject, type JsonValue } from '../util/json.js';

/**
 * The content of the local files a job of the offline engine reads, for its cache key: the
 * body names a file by path, and a file replaced under the same name (a new portrait, an edited
 * scene) must not be answered from the cache. Strings are resolved as the engine resolves them
 * (src/backends/local/backend.ts): `file:` URLs decoded, relative paths from the recipe's
 * folder; strings that name no regular file are left out (URLs, prompts, missing files).
 *
 * Hashes are kept for the process by path, size, mtime and inode (perf-notes: hashing a large
 * video costs a second; a fan-out reads one identity many times).
 */
export function localFileDigests(body: JsonValue, recipeDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (value: JsonValue): void => {
    if (typeof value === 'string') {
      if (value === '' || value.length > 4096 || /^https?:/i.test(value) || value in out) return;
      const path = localPath(value, recipeDir);
      const digest = path === undefined ? undefined : fileDigest(path);
      if (digest !== undefined) out[value] = digest;
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

const memo = new Map<string, string>();

function fileDigest(path: string): string | undefined {
  let info;
  try {
    info = statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  if (!info?.isFile()) return undefined;
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
 * True when a local file an offline engine job read has other content now (by the hashes its
 * record kept). A file that is gone cannot be compared: the cached result stands, and only a run
 * that has to make it again needs the file.
 */
export function localFilesChanged(
  recorded: Readonly<Record<string, string>> | undefined,
  body: JsonValue,
  recipeDir: string | undefined,
): boolean {
  if (!recorded || recipeDir === undefined) return false;
  const now = localFileDigests(body, recipeDir);
  return Object.entries(recorded).some(
    ([value, digest]) => now[value] !== undefined && now[value] !== digest,
  );
}
