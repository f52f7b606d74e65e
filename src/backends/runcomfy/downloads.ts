import type { JsonValue } from '../../util/json.js';

/**
 * Which output URLs the client downloads and under which names (runcomfy-contract.md
 * section 5). The client exits 0 even when a download failed or was skipped, so the runner
 * checks the output folder against this list itself.
 */

/**
 * Every http(s) string in `output`, keys in sorted order, arrays in order, duplicates dropped.
 * The prefix is compared as the client does, case and all: `HTTPS://…` is not downloaded.
 */
export function outputUrls(output: JsonValue): string[] {
  const seen = new Set<string>();
  const walk = (value: JsonValue): void => {
    if (typeof value === 'string') {
      if (value.startsWith('https://') || value.startsWith('http://')) seen.add(value);
    } else if (Array.isArray(value)) {
      for (const item of value as readonly JsonValue[]) walk(item);
    } else if (value !== null && typeof value === 'object') {
      const record = value as Readonly<Record<string, JsonValue>>;
      for (const key of Object.keys(record).sort()) walk(record[key]!);
    }
  };
  walk(output);
  return [...seen];
}

/**
 * True when the client would download this URL: the parsed host ends in `.runcomfy.net` or
 * `.runcomfy.com`. Compared as parsed, nothing trimmed: `files.runcomfy.net.` (a trailing dot)
 * does not end so, and the client skips it. An IP literal never ends so either.
 */
export function isTrustedOutputUrl(url: string): boolean {
  let host: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
    host = parsed.hostname;
  } catch {
    return false;
  }
  return host.endsWith('.runcomfy.net') || host.endsWith('.runcomfy.com');
}

/**
 * The file name the client gives a URL before de-duplication, in every reading of the contract's
 * "last non-empty path segment, percent-escapes kept as-is" a client may make: the segment of
 * the parsed URL (WHATWG: `\` is a `/`, spaces and non-ASCII are escaped), of the URL as
 * written (`a\b.png` -> `a_b.png`, `my result.png`), and percent-decoded; each in both known
 * variants (one also replaces `: * ? " < > |` and control characters). Most likely first.
 */
export function baseNames(url: string): string[] {
  let parsed = '';
  try {
    parsed = lastSegment(new URL(url).pathname);
  } catch {
    // not a URL the client could fetch either; named from its text below
  }
  const written = lastSegment(
    url
      .split('#')[0]!
      .split('?')[0]!
      .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, ''),
  );
  let decoded = parsed;
  try {
    decoded = decodeURIComponent(parsed);
  } catch {
    // a stray `%`: no decoded reading
  }
  const names: string[] = [];
  for (const segment of [parsed, written, decoded]) {
    names.push(tidy(segment.replace(/[/\\]/g, '_')));
    // eslint-disable-next-line no-control-regex
    names.push(tidy(segment.replace(/[/\\:*?"<>|\u0000-\u001f\u007f]/g, '_')));
  }
  return [...new Set(names)];
}

function lastSegment(path: string): string {
  return path.split('/').findLast((s) => s !== '') ?? '';
}

function tidy(name: string): string {
  const trimmed = name
    .trim()
    .replace(/^\.+|\.+$/g, '')
    .trim();
  return trimmed === '' ? 'output' : trimmed;
}

/** `a.tar.gz` -> `a.tar-1.gz`, `name` -> `name-1`: the client's suffixes for taken names. */
export function suffixed(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)}-${n}${name.slice(dot)}` : `${name}-${n}`;
}

/**
 * Matches the trusted URLs of an output to the files found in the folder. Returns the files in
 * URL order (then any extra files, by name), each URL's file, and the URLs that have no file.
 *
 * The folder is fresh for each fetch: when one URL is left without a file and one file matches
 * no URL's predicted name (a client that names files in a way the contract leaves open), it is
 * that URL's file. With more than one of each, which is which cannot be told for sure (files
 * written in the same clock tick have no order), so those URLs count as missing.
 */
export function matchDownloads(
  urls: readonly string[],
  files: readonly string[],
): { ordered: string[]; byUrl: Map<string, string>; missing: string[] } {
  const available = new Set(files);
  const byUrl = new Map<string, string>();
  for (const url of urls) {
    if (byUrl.has(url)) continue;
    let hit: string | undefined;
    for (const base of baseNames(url)) {
      if (available.has(base)) hit = base;
      for (let n = 1; hit === undefined && n <= 999; n++) {
        const candidate = suffixed(base, n);
        if (available.has(candidate)) hit = candidate;
        else if (n > files.length) break;
      }
      if (hit !== undefined) break;
    }
    if (hit !== undefined) {
      available.delete(hit);
      byUrl.set(url, hit);
    }
  }
  let missing = urls.filter((url) => !byUrl.has(url));
  if (missing.length === 1 && available.size === 1) {
    byUrl.set(missing[0]!, [...available][0]!);
    available.clear();
    missing = [];
  }
  const ordered = urls.flatMap((url) => (byUrl.has(url) ? [byUrl.get(url)!] : []));
  return { ordered: [...ordered, ...[...available].sort()], byUrl, missing };
}
