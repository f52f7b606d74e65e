import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // dist/ (the bundle the real binary runs) is rebuilt first when stale: test/global-setup.ts.
    globalSetup: ['test/global-setup.ts'],
    // Child processes (the CLI, the runcomfy stand-in) make some tests slow on a shared 2-core box.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: one worker on a 2-core CI machine.
    // Most of the suite waits on those child processes (job durations, polling), so two files
    // at a time use the machine better: 240 s instead of 370 s here, same results.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
