#!/usr/bin/env node
// The published entry point. It only hands argv and the real process streams to main():
// main() returns the exit code, and this is the one place that sets it. It loads the bundle that
// `npm run build` makes (scripts/bundle-cli.mjs): one file per command instead of ~100 modules.
import module from 'node:module';

// Node >= 22.1 can keep V8's compiled code between runs (as TypeScript's tsc does); Node 20
// has no such cache and skips this.
module.enableCompileCache?.();

// The bundle is minified; its source maps make a --debug stack trace point into src/. Enabled
// only then: reading them costs time, and only modules loaded after this call are mapped.
if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true);

const { runFromProcess } = await import('../dist/bundle/cli.js');
await runFromProcess();
