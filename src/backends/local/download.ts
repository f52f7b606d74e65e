import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { checkSentValue } from '../../policy/url-policy.js';

export interface DownloadOptions {
  /** The attempt's signal: its deadline or a Ctrl-C stops the download. */
  readonly signal: AbortSignal;
  /** Loopback URLs over http too (`--allow-insecure-local`, tests only). */
  readonly allowInsecureLocal: boolean;
  /** Larger bodies are refused (default 2 GiB, the runcomfy client's own cap). */
  readonly maxBytes?: number;
}

/** Redirect hops followed; each is checked against the URL policy like the URL itself. */
const MAX_REDIRECTS = 5;
const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

/** File extensions by content type, for bodies whose URL names none. */
const EXTENSIONS: Readonly<Record<string, string>> = {
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/webp': '.webp',
  'image/gif': '.gif',
  'video/mp4': '.mp4',
  'video/quicktime': '.mov',
  'video/webm': '.webm',
};

/**
 * Fetches a remote input of a local stage into `dir` (the attempt's own folder) and returns the
 * file's path, or the problem in words. The URL was checked before the run (or, coming from an
 * earlier stage, before the attempt) by the URL policy; every redirect hop is checked here
 * again, so a public URL cannot lead the download to a private address.
 */
export async function downloadInput(
  url: string,
  dir: string,
  options: DownloadOptions,
): Promise<{ path: string } | { problem: string; refused?: true }> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const refused = checkSentValue(
      current,
      { kind: 'hosted', model: 'local' },
      { allowInsecureLocal: options.allowInsecureLocal },
    );
    if (refused)
      return {
        problem: `${hop === 0 ? 'it' : `its redirect to ${current}`} ${refused.reason}`,
        refused: true,
      };
    let response: Response;
    try {
      response = await fetch(current, { redirect: 'manual', signal: options.signal });
    } catch (cause) {
      if (options.signal.aborted) throw cause;
      return { problem: `it could not be downloaded (${describeFetchError(cause)})` };
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel();
      if (hop >= MAX_REDIRECTS) return { problem: `it redirects more than ${MAX_REDIRECTS} times` };
      current = new URL(location, current).href;
      continue;
    }
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      return { problem: `its download failed: HTTP ${response.status}` };
    }
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await response.body.cancel();
      return { problem: `it is ${declared} bytes, over the ${maxBytes}-byte limit for an input` };
    }
    const path = join(dir, fileName(url, response.headers.get('content-type')));
    let received = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        done(received > maxBytes ? new Error('too large') : null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(response.body as ReadableStream<Uint8Array>),
        limit,
        createWriteStream(path, { mode: 0o600 }),
        { signal: options.signal },
      );
    } catch (cause) {
      await rm(path, { force: true });
      if (options.signal.aborted) throw cause;
      return {
        problem:
          received > maxBytes
            ? `it is over the ${maxBytes}-byte limit for an input`
            : `its download broke off (${describeFetchError(cause)})`,
      };
    }
    if (received === 0) return { problem: 'its download was empty' };
    return { path };
  }
}

/** `input-<hash of the URL><extension>`: one name per URL, the extension kept for the engine. */
function fileName(url: string, contentType: string | null): string {
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 16);
  const fromPath = /\.([a-z0-9]{1,5})$/i.exec(new URL(url).pathname)?.[0]?.toLowerCase();
  const fromType =
    contentType === null ? undefined : EXTENSIONS[contentType.split(';')[0]!.trim().toLowerCase()];
  return `input-${hash}${fromPath ?? fromType ?? ''}`;
}

function describeFetchError(cause: unknown): string {
  const error = cause as Error & { cause?: { code?: string; message?: string } };
  return error.cause?.code ?? error.cause?.message ?? error.message;
}
