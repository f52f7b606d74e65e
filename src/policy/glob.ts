import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import picomatch from 'picomatch';

/**
 * The one module that imports picomatch. Consent globs (`consent.assets[].match`,
 * `consent.subjects.*.images`) name either URLs or local files relative to the recipe's folder;
 * both are matched as `/`-separated text with picomatch's globs (`*` within one path segment,
 * `**` across segments, `{a,b}`, `[0-9]`), dot segments included.
 *
 * What a value is compared as (see {@link matchKey}):
 * - a URL: `scheme://host[:port]/path` after WHATWG parsing, so `..` and `.` segments are
 *   resolved, the scheme and host are lower case, and the query string, fragment and any
 *   user:password are dropped (a presigned URL's signature does not change which asset it is);
 *   the path is percent-decoded, in values and patterns alike (`Summer Shoot` = `Summer%20Shoot`);
 * - a local path: relative to the recipe's folder, normalised, `/`-separated.
 */
export interface GlobMatcher {
  readonly pattern: string;
  matches(key: string): boolean;
}

export function compileGlob(pattern: string): GlobMatcher {
  const normalised = normalisePattern(pattern);
  const test = picomatch(normalised, { dot: true, nocase: false });
  return { pattern, matches: (key) => test(key) };
}

/** What a recipe value is matched as; undefined for a local path that leaves the recipe's folder. */
export function matchKey(value: string, recipeDir: string): string | undefined {
  if (hasScheme(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return undefined;
    }
    const path = decodePath(url.pathname);
    if (url.host === '') return `${url.protocol}${path}`;
    return `${url.protocol}//${url.host}${path}`;
  }
  return localKey(value, recipeDir);
}

/**
 * Every form a recipe value is matched as. A `file:` URL is also the local path it names, taken
 * relative to the recipe's folder when it lies inside it, so `file:///…/assets/ana.jpg` is
 * covered by the rule `assets/*.jpg` (the offline engine reads the same file either way).
 */
export function matchKeys(value: string, recipeDir: string): string[] {
  const key = matchKey(value, recipeDir);
  const keys = key === undefined ? [] : [key];
  if (/^file:/i.test(value)) {
    let path: string | undefined;
    try {
      path = fileURLToPath(value);
    } catch {
      path = undefined;
    }
    const local = path === undefined ? undefined : localKey(path, recipeDir);
    if (local !== undefined && !keys.includes(local)) keys.push(local);
  }
  return keys;
}

/** A local path relative to the recipe's folder, or undefined when it leaves the folder. */
export function localKey(value: string, recipeDir: string): string | undefined {
  const rel = relative(recipeDir, resolve(recipeDir, value));
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

/** True for `https://…`, `file:…`, `data:…`: a scheme of two letters or more (so `C:\x` is a path). */
export function hasScheme(value: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]+:/.test(value);
}

/**
 * A URL path as people write it: the parser turns `Summer Shoot/场景` into
 * `Summer%20Shoot/%E5%9C%BA%E6%99%AF`, so values and patterns are both compared decoded (and a
 * pattern written with `%20` still matches). Reserved escapes (`%2F`, `%3F`, …) stay encoded.
 */
function decodePath(path: string): string {
  try {
    return decodeURI(path);
  } catch {
    return path;
  }
}

function normalisePattern(pattern: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]+:\/\/)([^/]*)(.*)$/.exec(pattern);
  if (match) return `${match[1]!.toLowerCase()}${match[2]!.toLowerCase()}${decodePath(match[3] ?? '')}`;
  return pattern.replace(/\\/g, '/').replace(/^\.\//, '');
}
