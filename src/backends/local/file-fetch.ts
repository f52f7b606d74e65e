import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * Makes `fetch` answer `file:` URLs, which Node's own fetch refuses. Human's model loader fetches
 * `modelBasePath + 'facemesh.json'` and the weights beside it, and we keep the models on disk (the
 * engine must work without network). Installed only inside the engine's worker thread, whose
 * global scope is its own, so the host program's `fetch` is never touched. Other URLs go to the
 * original fetch unchanged.
 */
export function installFileFetch(): void {
  const original = globalThis.fetch;
  const fileFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file:')) return original(input, init);
    try {
      const bytes = await readFile(fileURLToPath(url));
      const type = url.endsWith('.json') ? 'application/json' : 'application/octet-stream';
      return new Response(bytes, { status: 200, headers: { 'content-type': type } });
    } catch {
      return new Response(null, { status: 404, statusText: `not found: ${url}` });
    }
  };
  globalThis.fetch = fileFetch;
}
