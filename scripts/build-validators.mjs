#!/usr/bin/env node
// Generates dist/recipe/validators.generated.js: ajv's standalone code for the recipe schema and
// every built-in model schema, keyed by their canonical JSON (src/recipe/schema-check.ts looks them up).
// Runs after tsc in `npm run build`. A schema edited after the build simply misses its key and
// is compiled with ajv at run time, so a stale file can slow a run down but never mislead it.
import { build } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { createAjv, schemaKey } = await import(join(root, 'dist/recipe/schema-check.js'));
const require = createRequire(import.meta.url);
const standaloneCode = require('ajv/dist/standalone/index.js').default;

const schemas = [JSON.parse(readFileSync(join(root, 'schemas/recipe.schema.json'), 'utf8'))];
for (const name of readdirSync(join(root, 'schemas/models'))
  .filter((n) => n.endsWith('.json'))
  .sort()) {
  // Model schemas are compiled without their $id (src/catalog/input-check.ts), so key them that way.
  const { $id: _id, ...schema } = JSON.parse(readFileSync(join(root, 'schemas/models', name), 'utf8'));
  schemas.push(schema);
}

const ajv = createAjv({ standalone: true });
const exports = {};
const keys = [];
schemas.forEach((schema, i) => {
  const ref = `urn:faceswap-pipe:schema:${i}`;
  ajv.addSchema({ ...schema, $id: ref });
  exports[`v${i}`] = ref;
  keys.push(schemaKey(schema));
});
let code = standaloneCode(ajv, exports).replace(/^"use strict";/, '');
code += `\nexport const validators = {\n${keys.map((key, i) => `  ${JSON.stringify(key)}: v${i},`).join('\n')}\n};\n`;
// ajv's ESM output still calls require() for its two runtime helpers (deep equality, string
// length in code points). esbuild copies them in: resolving and loading them through Node's
// CommonJS loader cost every validate ~4 ms of its start-up.
await build({
  stdin: { contents: code, resolveDir: root, sourcefile: 'validators.generated.js', loader: 'js' },
  outfile: join(root, 'dist/recipe/validators.generated.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // Whitespace and syntax only, as the CLI's bundle (scripts/bundle-cli.mjs): less to parse.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
console.log(`build-validators: ${schemas.length} schemas precompiled`);
