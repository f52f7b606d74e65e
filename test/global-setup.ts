/**
 * Builds dist/ once, before any test file runs, when it is older than its sources. Many tests run
 * the real binary (bin/faceswap-pipe.js loads dist/bundle/), and test files run in parallel: a
 * file that rebuilt dist/ itself raced the others that were executing it at the time.
 */
import { execa } from 'execa';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Newest modification time of the files under `dir` (0 when it does not exist). */
function newest(dir: string): number {
  let latest = 0;
  let names: string[];
  try {
    names = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      latest = Math.max(latest, statSync(join(dir, name)).mtimeMs);
    } catch {
      // gone since the listing (an editor's temporary file), or a dangling link
    }
  }
  return latest;
}

export default async function setup(): Promise<void> {
  const inputs = Math.max(
    ...['src', 'schemas', 'scripts'].map((d) => newest(join(root, d))),
    ...['package.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(join(root, f)).mtimeMs),
  );
  let built = 0;
  try {
    built = statSync(join(root, 'dist', 'bundle', 'cli.js')).mtimeMs;
  } catch {
    // never built
  }
  if (built > inputs) return;
  // As `npm run build`, but a type error elsewhere in the tree must not stop every test: tsc
  // still emits, and the tests that run the binary then show what is wrong.
  const steps: [string, string[]][] = [
    ['node_modules/typescript/bin/tsc', ['-p', 'tsconfig.build.json']],
    ['scripts/build-validators.mjs', []],
    ['scripts/bundle-cli.mjs', []],
  ];
  for (const [script, args] of steps) {
    const result = await execa('node', [script, ...args], { cwd: root, reject: false, all: true });
    if (result.exitCode !== 0)
      console.warn(`test/global-setup: ${script} failed (exit ${result.exitCode}):\n${result.all}`);
  }
}
