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
 * The file name the client gives a URL before de-duplication, in both known variants (one
 * also replaces `: * ? " < > |` and control characters). Percent-escapes are kept as-is.
 */
export function baseNames(url: string): string[] {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return ['output'];
  }
  const segments = path.split('/').filter((s) => s !== '');
  const last = segments[segments.length - 1] ?? '';
  const plain = tidy(last.replace(/[/\\]/g, '_'));
  // eslint-disable-next-line no-control-regex
  const strict = tidy(last.replace(/[/\\:*?"<>|\u0000-\u001f\u007f]/g, '_'));
  return [...new Set([plain, strict])];
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
 */
export function matchDownloads(
  urls: readonly string[],
  files: readonly string[],
): { ordered: string[]; byUrl: Map<string, string>; missing: string[] } {
  const available = new Set(files);
  const ordered: string[] = [];
  const byUrl = new Map<string, string>();
  const missing: string[] = [];
  for (const url of urls) {
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
    if (hit === undefined) missing.push(url);
    else {
      available.delete(hit);
      ordered.push(hit);
      byUrl.set(url, hit);
    }
  }
  return { ordered: [...ordered, ...[...available].sort()], byUrl, missing };
}
