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
  for (const name of names) latest = Math.max(latest, statSync(join(dir, name)).mtimeMs);
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
  await execa('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
