import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DIST_DIR } from '../../paths.js';
import type { WorkerConfig } from './worker-protocol.js';

/**
 * Starts the engine's worker thread.
 *
 * Built (`dist/`, or the bin's bundle), the worker is tsc's compiled `worker-main.js`. Run from the
 * TypeScript sources (vitest, which transforms the modules it imports but not a Worker's), there
 * is only `worker-main.ts`, which Node 20 cannot load; the worker then first registers module
 * hooks that transpile our `.ts` files with the project's own `typescript` (a dev dependency,
 * present whenever sources are run). The hooks only strip types; no type checking happens there.
 */
export function spawnWorker(config: WorkerConfig): Worker {
  // From tsc's output or the bin's bundle (dist/bundle/), the worker is tsc's compiled module.
  const compiled = join(DIST_DIR, 'backends', 'local', 'worker-main.js');
  if (!import.meta.url.endsWith('.ts') && existsSync(compiled))
    return new Worker(compiled, { workerData: config });
  const source = new URL('./worker-main.ts', import.meta.url);
  const typescript = pathToFileURL(createRequire(import.meta.url).resolve('typescript')).href;
  const hooks = `data:text/javascript,${encodeURIComponent(TS_HOOKS.replace('TYPESCRIPT_URL', JSON.stringify(typescript)))}`;
  const bootstrap = `require('node:module').register(${JSON.stringify(hooks)}); import(${JSON.stringify(source.href)});`;
  return new Worker(bootstrap, { eval: true, workerData: config });
}

/** Module hooks for running our `.ts` sources: `./x.js` falls back to `./x.ts`, which is transpiled. */
const TS_HOOKS = `
let ts;
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (specifier.endsWith('.js') && context.parentURL && context.parentURL.endsWith('.ts')) {
      return next(specifier.slice(0, -3) + '.ts', context);
    }
    throw error;
  }
}
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  ts ??= (await import(TYPESCRIPT_URL)).default;
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const file = fileURLToPath(url);
  const out = ts.transpileModule(await readFile(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, inlineSourceMap: true },
  });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}
`;
