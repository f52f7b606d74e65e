#!/usr/bin/env node
// The published entry point. It only hands argv and the real process streams to main():
// main() returns the exit code, and this is the one place that sets it. It loads the bundle that
// `npm run build` makes (scripts/bundle-cli.mjs): one file per command instead of ~100 modules.
import { runFromProcess } from '../dist/bundle/cli.js';

await runFromProcess();
