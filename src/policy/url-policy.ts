import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasScheme, localKey } from './glob.js';
import { ADDRESS_WORDS, classifyHost } from './ip-address.js';

/**
 * The trust boundary for what is sent to models. Values come from the recipe's author (literals,
 * vars, `--set`) or from earlier stages' outputs; either way, before anything is sent:
 * - only `https://` URLs (plain `http://` only to loopback, and only with `--allow-insecure-local`);
 * - no credentials in a URL: no `user:password@`, no `token=`/`api_key=`-style query parameters
 *   (a presigned URL's signature is fine: it grants one object for a limited time);
 * - no IP-literal hosts in loopback, private, link-local, metadata or other non-public ranges
 *   (loopback is allowed with `--allow-insecure-local`, for tests);
 * - hosted models get URLs only: a local path or `file:` URL is refused with a way forward, since
 *   the runcomfy client uploads nothing;
 * - the offline (`local`) models take local paths, which must stay inside the recipe's folder
 *   and name a file that exists.
 * Violations are invalid input data (exit 65; a missing file 66), not refusals.
 */
export interface UrlPolicyOptions {
  /** Allow loopback hosts, over http too (tests only; CI examples never set it). */
  readonly allowInsecureLocal: boolean;
  /**
   * Also refuse a local path that names no file (`local-file-missing`). Analysis asks; the
   * run-time guard does not: the offline engine says so itself when it reads the file, and a
   * cached stage whose file was moved away keeps its result (its job key is not the file's).
   */
  readonly checkExists?: boolean;
}

/** What receives the value: a hosted model, an offline one, or a `swap:` stage not routed yet. */
export type Receiver =
  | { readonly kind: 'hosted'; readonly model: string }
  | { readonly kind: 'local'; readonly model: string; readonly recipeDir: string | undefined }
  | { readonly kind: 'unrouted'; readonly recipeDir: string };

export type UrlProblemCode =
  | 'url-not-https'
  | 'url-credentials'
  | 'url-private-host'
  | 'url-invalid'
  | 'local-file-hosted'
  | 'path-outside-recipe'
  | 'local-file-missing';

/** A refused value; `reason` completes a sentence that starts with where the value is. */
export interface UrlProblem {
  readonly code: UrlProblemCode;
  readonly reason: string;
}

/** Query parameters that carry a standing credential rather than a one-object signature. */
const CREDENTIAL_PARAMS = new Set([
  'token',
  'access_token',
  'id_token',
  'refresh_token',
  'api_key',
  'apikey',
  'api-key',
  'password',
  'passwd',
  'pwd',
  'secret',
  'client_secret',
  'private_token',
  'auth',
  'authorization',
]);

/**
 * Checks one value that will be sent as a media reference (a field the model documents as an
 * image, video or audio, or any value that is a URL). Returns the problem, or undefined when the
 * value may be sent.
 */
export function checkSentValue(
  value: string,
  receiver: Receiver,
  options: UrlPolicyOptions,
): UrlProblem | undefined {
  const trimmed = value.trim();
  if (trimmed === '') {
    return {
      code: 'url-invalid',
      reason: `is empty; give ${receiver.kind === 'hosted' ? 'the public https:// URL of the file' : "an https:// URL or the path of a file in the recipe's folder"}`,
    };
  }
  if (!hasScheme(trimmed)) return checkPath(trimmed, receiver, options.checkExists === true);
  const scheme = trimmed.slice(0, trimmed.indexOf(':')).toLowerCase();
  if (scheme === 'file') {
    if (receiver.kind === 'hosted') return hostedLocal(trimmed, receiver.model, 'a file: URL');
    let path: string;
    try {
      path = fileURLToPath(trimmed);
    } catch {
      return { code: 'url-invalid', reason: `is not a usable file: URL (${shorten(trimmed)})` };
    }
    return checkPath(path, receiver, options.checkExists === true);
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return { code: 'url-invalid', reason: `is not a valid URL (${shorten(trimmed)})` };
  }
  if (scheme !== 'https' && scheme !== 'http') {
    return {
      code: 'url-not-https',
      reason: `is a ${scheme}: URL (${shorten(trimmed)}); only https:// URLs may be sent to models`,
    };
  }
  if (url.username !== '' || url.password !== '') {
    return {
      code: 'url-credentials',
      reason: `carries credentials in the URL (${shorten(redactUserinfo(url))}); remove the user:password@ part: models must fetch inputs without standing secrets (a presigned URL, whose signature is in the query string, is fine)`,
    };
  }
  for (const name of url.searchParams.keys()) {
    if (CREDENTIAL_PARAMS.has(name.toLowerCase())) {
      return {
        code: 'url-credentials',
        reason: `carries a credential in its query string ("${name}=…"); use a presigned URL (X-Amz-Signature=…, X-Goog-Signature=…, an Azure SAS sig=…) that grants this one file for a limited time instead`,
      };
    }
  }
  const host = classifyHost(url.hostname);
  const loopbackAllowed = host === 'loopback' && options.allowInsecureLocal;
  if (host !== 'public' && !loopbackAllowed) {
    const hint = host === 'loopback' ? ' (tests may allow loopback with --allow-insecure-local)' : '';
    return {
      code: 'url-private-host',
      reason: `points at ${url.hostname}, ${ADDRESS_WORDS[host]}; models may only be sent URLs of public hosts${hint}`,
    };
  }
  if (scheme === 'http' && !loopbackAllowed) {
    return {
      code: 'url-not-https',
      reason: `is an http:// URL (${shorten(trimmed)}); only https:// URLs may be sent to models`,
    };
  }
  return undefined;
}

function checkPath(path: string, receiver: Receiver, checkExists: boolean): UrlProblem | undefined {
  if (receiver.kind === 'hosted') return hostedLocal(path, receiver.model, 'a local file');
  if (receiver.recipeDir === undefined) return undefined;
  if (localKey(path, receiver.recipeDir) === undefined) {
    return {
      code: 'path-outside-recipe',
      reason: `is the path ${path}, which is outside the recipe's folder; local models read only files in the recipe's folder or below it`,
    };
  }
  // A symbolic link in the folder may lead out of it: what counts is the file that is read.
  const target = realTarget(resolve(receiver.recipeDir, path));
  const folder = realTarget(receiver.recipeDir);
  if (target !== undefined && folder !== undefined && localKey(target, folder) === undefined) {
    return {
      code: 'path-outside-recipe',
      reason: `is the path ${path}, a link to ${target}, which is outside the recipe's folder; local models read only files in the recipe's folder or below it (copy the file in rather than linking it)`,
    };
  }
  if (!checkExists) return undefined;
  // Found now rather than when the stage starts, after the stages before it have run.
  if (target === undefined) {
    return {
      code: 'local-file-missing',
      reason: `is the path ${path}, but no such file exists (local paths are relative to the recipe's folder); check the name, or add the file`,
    };
  }
  if (!isFile(target)) {
    return {
      code: 'local-file-missing',
      reason: `is the path ${path}, which is a folder, not a file; give the path of an image or video file`,
    };
  }
  return undefined;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The real path of an existing file (links resolved), or undefined. */
function realTarget(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function hostedLocal(value: string, model: string, what: string): UrlProblem {
  return {
    code: 'local-file-hosted',
    reason: `is ${what} (${shorten(value)}), but ${model} runs on RunComfy, which needs a public https:// URL (the runcomfy client uploads nothing); publish the file (your asset bucket or CDN) and put its https:// URL here, covered by a consent.assets rule`,
  };
}

function redactUserinfo(url: URL): string {
  return `${url.protocol}//***@${url.host}${url.pathname}`;
}

function shorten(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A URL as it may be written into records: without user:password and without the query string
 * (a presigned URL's signature is a temporary credential: it opens the file for anyone who has
 * it). The kept part names the same asset.
 */
export function recordableUrl(value: string): string {
  if (!hasScheme(value)) return value;
  try {
    const url = new URL(value);
    if (url.protocol === 'file:') return value;
    const query = url.search === '' ? '' : '?…';
    return `${url.protocol}//${url.host}${url.pathname}${query}`;
  } catch {
    return value;
  }
}
