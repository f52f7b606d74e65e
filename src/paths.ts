import { fileURLToPath } from 'node:url';

/**
 * The package's root folder. This file sits one level below it both as source (`src/`) and
 * compiled (`dist/`), so the same relative URL works in tests and in the published bin.
 */
export const PACKAGE_ROOT = fileURLToPath(new URL('../', import.meta.url));

export const SCHEMAS_DIR = fileURLToPath(new URL('../schemas/', import.meta.url));
