#!/usr/bin/env node
// `npm run bench`: every performance goal of the project, measured as ratios in one run.
// Nothing here asserts: the machines are shared and noisy, so figures are printed for people.
//   BENCH=validator,cache,runner,engine  selects sections (default: all)
import { runValidatorBench } from './validator.mjs';
import { runCacheBench } from './cache.mjs';
import { runRunnerBench } from './runner.mjs';
import { runLocalEngineBench } from './local-engine.mjs';

const selected = new Set((process.env.BENCH ?? 'validator,cache,runner,engine').split(','));
const started = Date.now();
if (selected.has('validator')) await runValidatorBench();
if (selected.has('cache')) await runCacheBench();
if (selected.has('runner')) await runRunnerBench();
if (selected.has('engine')) await runLocalEngineBench();
console.log(`bench: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
