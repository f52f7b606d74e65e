// Downloads without network (contract §5):
//
// - candidates: every string in `output` starting with http:// or https://, at any depth, keys in
//   sorted order, arrays in order, exact duplicates dropped;
// - trusted hosts only: the parsed host ends in .runcomfy.net or .runcomfy.com (IP literals never
//   do); the others are reported as skipped and change nothing else;
// - flat layout in --output-dir, created only when some URL is trusted; name = last non-empty
//   path segment, sanitized; never overwrite: <stem>-1.<ext> … <stem>-999.<ext>, then <stem>-many;
// - a failed download prints `   ⚠ <url>: <error>`, leaves no file, and the exit code stays 0.
//
// "Fetching" copies the scenario's fixture file for that URL, fails as the scenario says, or
// writes placeholder bytes (placeholder-bytes.mjs).

import fs from 'node:fs';
import { CliError, ioErrorText, StandinError } from './errors.mjs';
import { sortedKeys } from './json-text.mjs';
import { placeholderBytes } from './placeholder-bytes.mjs';

const TRUSTED_SUFFIXES = ['.runcomfy.net', '.runcomfy.com'];

/** Every http(s) URL in a JSON value, in the client's order, without duplicates. */
export function collectUrls(value, found = []) {
  if (typeof value === 'string') {
    const isUrl = value.startsWith('http://') || value.startsWith('https://');
    if (isUrl && !found.includes(value)) found.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectUrls(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const key of sortedKeys(value)) collectUrls(value[key], found);
  }
  return found;
}

/** The client's trusted-host check: WHATWG parsing, so `https://127.0.0.1\@x.runcomfy.net` is 127.0.0.1. */
export function isTrustedUrl(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
  const host = parsed.hostname.toLowerCase();
  return TRUSTED_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

/**
 * The file name the client saves a URL under (before the never-overwrite suffix). §5 says "last
 * non-empty path segment, percent-escapes kept as-is" without saying of what: `parsed` takes it
 * from the WHATWG-parsed URL (`\` is a separator, spaces escaped), `written` from the URL as
 * written (query and fragment cut off), as a client that does not normalise would.
 * @param {string} url
 * @param {'parsed' | 'written'} [fileNames]
 */
export function fileNameFromUrl(url, fileNames = 'parsed') {
  let segment = '';
  if (fileNames === 'written') {
    const path = url
      .split('#')[0]
      .split('?')[0]
      .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
    segment = path.split('/').findLast((part) => part !== '') ?? '';
  } else {
    try {
      // pathname excludes query and fragment; WHATWG resolves `..` and `\` as the client's parser does.
      segment = new URL(url).pathname.split('/').findLast((part) => part !== '') ?? '';
    } catch {
      segment = '';
    }
  }
  return sanitizeFileName(segment);
}

/**
 * One safe path component. We follow the 0.2.0 source we have, which also replaces
 * `: * ? " < > |` and control characters (the contract's narrower variant replaces only `/` `\`);
 * outer whitespace, then outer dots, are trimmed; empty becomes `output`.
 */
export function sanitizeFileName(raw) {
  // eslint-disable-next-line no-control-regex
  const cleaned = raw.replace(/[/\\:*?"<>|\u0000-\u001f\u007f-\u009f]/g, '_');
  const trimmed = cleaned.trim().replace(/^\.+|\.+$/g, '');
  return trimmed === '' ? 'output' : trimmed;
}

/** `dir` joined with `name` as Rust's Path::join displays it (`.` stays: `./result.png`). */
function joinForDisplay(dir, name) {
  if (dir === '') return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** The first free name: `name`, then `<stem>-1.<ext>` … `<stem>-999.<ext>`, then `<stem>-many`. */
export function freePath(dir, name) {
  const candidate = joinForDisplay(dir, name);
  if (!fs.existsSync(candidate)) return candidate;
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const extension = dot > 0 ? name.slice(dot + 1) : undefined;
  for (let i = 1; i < 1000; i++) {
    const next = joinForDisplay(dir, extension === undefined ? `${stem}-${i}` : `${stem}-${i}.${extension}`);
    if (!fs.existsSync(next)) return next;
  }
  return joinForDisplay(dir, `${stem}-many`);
}

/**
 * Download every trusted URL of `output` into `outputDir`, reporting as the client does.
 * @param {unknown} output the result's `output` (never the whole record)
 * @param {string} outputDir
 * @param {import('./reporter.mjs').Reporter} reporter
 * @param {(url: string) => {file: string} | {fail: 'http' | 'connect'} | {redirect: string} | undefined} ruleFor
 *   the scenario's rule for a URL (undefined = placeholder bytes)
 * @param {boolean} [anyHost] an early 0.1.x client, which downloads from every host (§5)
 * @param {'parsed' | 'written'} [fileNames] which reading of §5's file naming (see fileNameFromUrl)
 */
export function downloadOutputs(output, outputDir, reporter, ruleFor, anyHost = false, fileNames = 'parsed') {
  const urls = collectUrls(output);
  const trusted = anyHost ? urls : urls.filter(isTrustedUrl);
  const untrusted = anyHost ? [] : urls.filter((url) => !isTrustedUrl(url));

  if (untrusted.length > 0) {
    reporter.progress(
      '⚠',
      'skip',
      `Skipped ${untrusted.length} URL(s) outside trusted hosts (downloads disabled for non-RunComfy CDNs)`,
    );
    for (const url of untrusted) reporter.detail(`(not downloaded) ${url}`);
  }
  if (trusted.length === 0) return;

  if (outputDir !== '' && !fs.existsSync(outputDir)) {
    try {
      fs.mkdirSync(outputDir, { recursive: true });
    } catch (error) {
      throw new CliError(`create output dir ${outputDir}`, { causes: [ioErrorText(error)] });
    }
  }
  reporter.progress('📥', 'download', `Downloading ${trusted.length} file(s) to ${outputDir}`);
  for (const url of trusted) {
    const result = downloadOne(url, outputDir, ruleFor(url), fileNames);
    reporter.detail(result.ok ? result.path : `⚠ ${url}: ${result.error}`);
  }
}

function downloadOne(url, outputDir, rule, fileNames) {
  // As in the client, the message is only the outermost context of the failure.
  if (rule?.fail === 'connect') return { ok: false, error: `GET ${url}` };
  if (rule?.fail === 'http') return { ok: false, error: `download ${url}` };
  const target = freePath(outputDir, fileNameFromUrl(url, fileNames));
  let bytes;
  if (rule?.file !== undefined) {
    try {
      bytes = fs.readFileSync(rule.file);
    } catch (error) {
      throw new StandinError(`scenario fixture for ${url} is unreadable: ${error.message}`);
    }
  } else if (rule?.redirect !== undefined) {
    // §5: redirects are followed to trusted hosts only; an untrusted hop is not followed and the
    // 3xx reply itself is saved, an empty file.
    bytes = isTrustedUrl(rule.redirect) ? placeholderBytes(rule.redirect, target) : Buffer.alloc(0);
  } else {
    bytes = placeholderBytes(url, target);
  }
  try {
    fs.writeFileSync(target, bytes);
  } catch {
    fs.rmSync(target, { force: true });
    return { ok: false, error: `create ${target}` };
  }
  return { ok: true, path: target };
}
