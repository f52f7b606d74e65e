import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root folder: the nearest folder above this module that holds a `package.json`.
 * The module runs from `src/` (tests), `dist/` (compiled) and `dist/bundle/` (the bin's bundle,
 * scripts/bundle-cli.mjs), so a fixed relative URL would be wrong in one of them.
 */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

export const SCHEMAS_DIR = join(PACKAGE_ROOT, 'schemas');

/** Where `npm run build` puts tsc's output, whichever of the layouts above is running. */
export const DIST_DIR = join(PACKAGE_ROOT, 'dist');

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return dirname(start);
  }
}
