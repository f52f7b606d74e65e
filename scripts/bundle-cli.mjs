#!/usr/bin/env node
// Bundles the CLI (tsc's output in dist/) into dist/bundle/ for bin/faceswap-pipe.js.
//
// Why: a command such as `validate` loaded about a hundred ES modules (ours, commander, yaml,
// @actions/expressions …), and resolving and linking them cost more than Node's own start-up
// (issue 3 wants validate+plan of a small recipe well under 150 ms of process wall time).
// One bundle with code splitting keeps each command's lazy imports lazy: `validate` loads a few
// chunks, `run` loads its own on demand.
//
// Left outside the bundle: native and WebAssembly packages (sharp, the face detector and its
// TensorFlow backends), which find their own files next to their package, and ajv, which
// schema-check.ts loads lazily with `require` only for schemas that were not precompiled.
// The offline engine's worker thread runs tsc's dist/backends/local/worker-main.js unbundled.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

// commander requires node:child_process at load, only to spawn executable subcommands (which
// faceswap-pipe does not have); loading it (with net, dgram and streams) cost every command ~5 ms.
// commander gets a stand-in that requires the real module on first use.
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'lazy-child-process', namespace: 'lazy' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents:
        "let real;\nconst load = () => (real ??= require('node:child_process'));\n" +
        'module.exports = { spawn: (...args) => load().spawn(...args) };\n',
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: { cli: join(root, 'dist', 'cli', 'process.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  external: ['sharp', '@vladmandic/human', '@tensorflow/*', 'ajv', 'ajv/*'],
  // CommonJS packages inside an ES bundle call `require` for Node's built-ins.
  banner: {
    js: "import { createRequire as __fpCreateRequire } from 'node:module'; const require = __fpCreateRequire(import.meta.url);",
  },
  // yaml's ES module build (the one browsers get) instead of its CommonJS one: the same code,
  // but bundled as ES it needs no CommonJS wrappers and unused parts (stringify) drop out.
  alias: { yaml: join(root, 'node_modules', 'yaml', 'browser', 'index.js') },
  plugins: [lazyChildProcessForCommander],
  legalComments: 'linked',
  // Whitespace and syntax only (names stay, for stack traces): V8 parses a third less source at
  // every start (1.5 MB instead of 2.2 MB; a 20-stage plan ~15 ms faster here). The bin turns on
  // the source maps for --debug, so a stack trace still points into src/.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
console.log('bundle-cli: dist/bundle/cli.js');
