#!/usr/bin/env node
// The published entry point. It only hands argv and the real process streams to main():
// main() returns the exit code, and this is the one place that sets it.
import { runFromProcess } from '../dist/cli/process.js';

await runFromProcess();
