import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SCHEMAS_DIR } from '../paths.js';
import { sha256Hex } from '../util/sha256.js';
import { canonicalJson, isJsonObject } from '../util/json.js';
import { inputChecker } from './input-check.js';
import type { Backend, FieldSummary, Medium, ModelId, ModelInfo } from './model.js';

/** Thrown for a catalog file that cannot be used; the CLI reports it as a usage/data problem. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  /** True when the named folder does not exist or is not a folder (exit 66, not 65). */
  readonly missing: boolean;

  constructor(message: string, missing = false) {
    super(message);
    this.missing = missing;
  }
}

/**
 * The models faceswap-pipe knows: the built-in schema files, then any override folders (a
 * file there replaces the built-in entry with the same model id, or adds a model). The
 * runcomfy contract says the live catalog is the authority and the documented field names
 * still conflict, so every schema is plain data a team can fix without a release.
 */
export class Catalog {
  readonly #models: Map<string, ModelInfo>;

  private constructor(models: Map<string, ModelInfo>) {
    this.#models = models;
  }

  /**
   * `overrideDirs` relative to `cwd` (the command's folder; default this process's), and named
   * in messages as given.
   */
  static load(overrideDirs: readonly string[] = [], cwd = process.cwd()): Catalog {
    const models = new Map<string, ModelInfo>();
    const builtIn = join(SCHEMAS_DIR, 'models');
    for (const dir of [builtIn, ...overrideDirs]) {
      let names: string[];
      try {
        names = readdirSync(resolve(cwd, dir))
          .filter((n) => n.endsWith('.json'))
          .sort();
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR')
          throw new CatalogError(
            `the model catalog folder ${dir} ${code === 'ENOENT' ? 'does not exist' : 'is not a folder'}; name a folder of model schema files (--catalog DIR or FACESWAP_CATALOG)`,
            true,
          );
        throw new CatalogError(`cannot read the model catalog folder ${dir}: ${(cause as Error).message}`);
      }
      for (const name of names) {
        const info = readModelFile(join(dir, name), resolve(cwd, dir, name));
        const known = models.get(info.id);
        const model = known && dir !== builtIn ? keepConsentFacts(known, info) : info;
        // A folder's schema is compiled now, so a schema ajv cannot use is this folder's
        // problem named as such, not an internal error halfway through checking a recipe.
        if (dir !== builtIn) usableSchema(model, join(dir, name));
        models.set(info.id, model);
      }
    }
    return new Catalog(models);
  }

  get(id: string): ModelInfo | undefined {
    return this.#models.get(id);
  }

  /** Every model, sorted by id. */
  all(): ModelInfo[] {
    return [...this.#models.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  ids(): string[] {
    return this.all().map((m) => m.id);
  }
}

/**
 * An override file may fix a model's fields, not switch off consent: a model that swaps faces
 * stays a face swap, and its identity fields stay identity fields (issue 7: no flag skips the
 * check, and a catalog folder is one more way to pass one).
 */
function keepConsentFacts(known: ModelInfo, override: ModelInfo): ModelInfo {
  return {
    ...override,
    faceSwap: known.faceSwap || override.faceSwap,
    identityFields: [...new Set([...known.identityFields, ...override.identityFields])],
  };
}

function usableSchema(model: ModelInfo, file: string): void {
  try {
    inputChecker(model);
  } catch (cause) {
    throw new CatalogError(
      `model schema ${file} is not a JSON Schema faceswap-pipe can use: ${(cause as Error).message}; fix the file or remove it from the catalog folder`,
    );
  }
}

/** `file` as the user named it (for messages), `path` to read. */
function readModelFile(file: string, path: string): ModelInfo {
  let schema: unknown;
  const text = readFileSync(path, 'utf8');
  try {
    schema = JSON.parse(text);
  } catch (cause) {
    throw new CatalogError(`model schema ${file} is not valid JSON: ${(cause as Error).message}`);
  }
  if (!isJsonObject(schema) || !isJsonObject(schema['x-faceswap'])) {
    throw new CatalogError(`model schema ${file} has no "x-faceswap" object naming the model`);
  }
  const meta = schema['x-faceswap'] as Record<string, unknown>;
  const id = meta['model'];
  if (typeof id !== 'string' || !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)+$/.test(id)) {
    throw new CatalogError(
      `model schema ${file}: x-faceswap.model must be a model id like vendor/model/endpoint`,
    );
  }
  const medium = meta['medium'] === 'video' ? 'video' : ('still' satisfies Medium);
  const backend: Backend = meta['backend'] === 'local' || id.startsWith('local/') ? 'local' : 'runcomfy';
  const outputs = meta['outputs'];
  return {
    id: id as ModelId,
    title: typeof schema['title'] === 'string' ? schema['title'] : id,
    description: typeof schema['description'] === 'string' ? schema['description'] : '',
    summary: typeof meta['summary'] === 'string' ? meta['summary'] : '',
    medium,
    backend,
    // The offline engine does one thing, swap the face of `identity` in: any model it runs is
    // a face swap with that identity field, whatever its file says.
    faceSwap: backend === 'local' || meta['faceSwap'] === true,
    inputSchema: schema,
    identityFields:
      backend === 'local'
        ? [...new Set(['/identity', ...stringList(meta['identityFields'])])]
        : stringList(meta['identityFields']),
    outputs: isJsonObject(outputs) ? outputs : null,
    requiredOneOf: Array.isArray(meta['requiredOneOf'])
      ? (meta['requiredOneOf'] as unknown[]).map(stringList)
      : [],
    fields: summariseFields(schema),
    ...(typeof meta['notes'] === 'string' && { notes: meta['notes'] }),
    file,
    // Only the cache needs it: hashing every schema on each load cost validate time.
    get schemaHash(): string {
      const hash = sha256Hex(canonicalJson(schema));
      Object.defineProperty(this, 'schemaHash', { value: hash, enumerable: true });
      return hash;
    },
  };
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function summariseFields(schema: Record<string, unknown>): FieldSummary[] {
  const properties = isJsonObject(schema['properties'])
    ? (schema['properties'] as Record<string, Record<string, unknown>>)
    : {};
  const required = new Set(stringList(schema['required']));
  return Object.entries(properties).map(([name, field]) => {
    const media =
      field['x-media'] ??
      (isJsonObject(field['items']) ? (field['items'] as Record<string, unknown>)['x-media'] : undefined);
    return {
      name,
      type: typeWord(field),
      required: required.has(name),
      ...(typeof field['description'] === 'string' && { description: field['description'] }),
      ...((media === 'image' || media === 'video' || media === 'audio') && { media }),
    };
  });
}

function typeWord(field: Record<string, unknown>): string {
  if (Array.isArray(field['enum'])) return (field['enum'] as unknown[]).map(String).join(' | ');
  const type = field['type'];
  if (type === 'array') {
    const items = isJsonObject(field['items']) ? typeWord(field['items']) : 'any';
    return `${items}[]`;
  }
  if (Array.isArray(type)) return type.join(' | ');
  return typeof type === 'string' ? type : 'any';
}
