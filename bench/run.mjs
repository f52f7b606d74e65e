#!/usr/bin/env node
// `npm run bench`: every performance goal of the project, measured as ratios in one run.
// Nothing here asserts: the machines are shared and noisy, so figures are printed for people.
//   BENCH=validator,cache,runner,engine  selects sections (default: all)
//
// Each section runs in a process of its own: peak-RSS figures (process.resourceUsage().maxRSS)
// are per process, and in one shared process the engine's peak included the validator's
// in-process 10,000-stage analysis.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SECTIONS = {
  validator: 'validator.mjs',
  cache: 'cache.mjs',
  runner: 'runner.mjs',
  engine: 'local-engine.mjs',
};
const selected = (process.env.BENCH ?? Object.keys(SECTIONS).join(',')).split(',');
const started = Date.now();
let failed = false;
for (const name of selected) {
  const file = SECTIONS[name];
  if (file === undefined) {
    console.error(`bench: unknown section "${name}"; choose from ${Object.keys(SECTIONS).join(', ')}`);
    process.exit(64);
  }
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error(`bench: section ${name} failed (${result.status ?? result.signal})`);
    failed = true;
  }
}
console.log(`bench: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (failed) process.exitCode = 1;
