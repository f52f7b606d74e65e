import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createAjv, schemaKey } from '../src/recipe/schema-check.js';

/**
 * The build precompiles every built-in schema with ajv's standalone code generator
 * (scripts/build-validators.mjs). These must report exactly what ajv compiled at run time
 * reports: the CLI uses the former, most tests the latter.
 */
type Validator = ((value: unknown) => boolean) & { errors?: unknown[] | null };

const generated = new URL('../dist/recipe/validators.generated.js', import.meta.url);
const schemas: [string, object][] = [
  [
    'recipe',
    JSON.parse(readFileSync(new URL('../schemas/recipe.schema.json', import.meta.url), 'utf8')) as object,
  ],
];
for (const name of readdirSync(new URL('../schemas/models/', import.meta.url)).filter((n) =>
  n.endsWith('.json'),
)) {
  const { $id: _id, ...schema } = JSON.parse(
    readFileSync(new URL(`../schemas/models/${name}`, import.meta.url), 'utf8'),
  ) as Record<string, unknown>;
  schemas.push([name, schema]);
}

const samples: unknown[] = [
  {},
  { version: 2, name: 'Bad Name', stages: [] },
  {
    version: 1,
    name: 'ok',
    stages: { Face: { model: 3, retries: 'two', timeout: '15 minutes', input: [] } },
    extra: true,
  },
  {
    prompt: '',
    images: Array.from({ length: 11 }, () => 'x'),
    size: '2048x2048',
    image_urls: [],
    number_of_images: 9,
  },
  { identity: 1, scene: [], face_index: -1, character_orientation: 'sideways', keep_original_sound: 'yes' },
];

describe('precompiled validators', () => {
  it('exist for every built-in schema and report the same issues as ajv at run time', async () => {
    const module = (await import(generated.href)) as { validators: Record<string, Validator> };
    const ajv = createAjv();
    for (const [name, schema] of schemas) {
      const precompiled = module.validators[schemaKey(schema)];
      expect(precompiled, `no precompiled validator for ${name}; run npm run build`).toBeDefined();
      const runtime = ajv.compile(schema) as Validator;
      for (const sample of samples) {
        precompiled!(sample);
        runtime(sample);
        const strip = (errors: unknown[] | null | undefined) =>
          JSON.parse(
            JSON.stringify(errors ?? [], (key, value: unknown) =>
              key === 'schema' || key === 'parentSchema' ? undefined : value,
            ),
          ) as unknown;
        expect(strip(precompiled!.errors), `${name}: ${JSON.stringify(sample)}`).toEqual(
          strip(runtime.errors),
        );
      }
    }
  });
});
