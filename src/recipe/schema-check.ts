import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Ajv2020, ErrorObject } from 'ajv/dist/2020.js';
import { DIST_DIR } from '../paths.js';
import { canonicalJson } from '../util/json.js';
import type { DataPath } from './yaml-index.js';

/**
 * One schema violation in our own terms: where (a data path, not a JSON pointer string), which
 * rule, and the rule's parameters. The wording for users is made by the callers, who know
 * whether the data is a recipe, a model input or a stage output.
 */
export interface SchemaIssue {
  readonly path: DataPath;
  readonly keyword: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** The schema object that holds the failing keyword (for descriptions, enums, limits). */
  readonly schema: Readonly<Record<string, unknown>>;
  /** The value that failed (absent for missing keys). */
  readonly data: unknown;
  /** For `propertyNames` problems: the offending key itself. */
  readonly propertyName?: string;
  /** Where the keyword sits in the schema, e.g. `#/$defs/stage/properties/retries/type`. */
  readonly schemaPath: string;
  /** ajv's own text, a fallback for keywords we do not reword. */
  readonly fallback: string;
}

export interface CompiledSchema {
  check(value: unknown): SchemaIssue[];
}

/** The ajv options every schema is compiled with, at build time and at run time alike. */
export const AJV_OPTIONS = {
  allErrors: true,
  strict: true,
  allowUnionTypes: true,
  verbose: true,
  validateFormats: false,
} as const;

/** Our annotation keywords (`x-…`), declared so ajv's strict mode still catches real typos. */
export const ANNOTATION_KEYWORDS = ['x-faceswap', 'x-media'] as const;

/** A validator as ajv compiles it: true, or false with `errors` set. */
type Validator = ((value: unknown) => boolean) & { errors?: ErrorObject[] | null };

/**
 * Validators compiled ahead of time by `scripts/build-validators.mjs` (into
 * `dist/recipe/validators.generated.js`), by schema hash. Compiling the recipe schema with ajv
 * at start-up cost about as much as validating a whole recipe; with these, ajv is not even
 * loaded unless a schema changed after the build or comes from a `--catalog` folder.
 */
let precompiled: ReadonlyMap<string, Validator> = new Map();

let preloading: Promise<void> | undefined;

/**
 * Loads the ahead-of-time validators when the build made them. Idempotent. They are looked up in
 * `dist/` whichever layout runs (sources under vitest, tsc's output, the bin's bundle): a
 * validator is only used for the exact schema it was generated from, so a stale build is safe.
 */
export function preloadValidators(): Promise<void> {
  preloading ??= import(pathToFileURL(join(DIST_DIR, 'recipe', 'validators.generated.js')).href).then(
    (module: { validators?: Record<string, Validator> }) => {
      precompiled = new Map(Object.entries(module.validators ?? {}));
    },
    () => {
      // No generated module: every schema is compiled with ajv on first use.
    },
  );
  return preloading;
}

/**
 * The key the build and the run time use for a schema: its canonical JSON itself. Exact (no
 * hash to collide) and cheap: a map lookup hashes the string natively, where sha256 meant
 * loading node:crypto on every start.
 */
export function schemaKey(schema: object): string {
  return canonicalJson(schema);
}

/**
 * The one module that imports ajv, and only when a schema has no precompiled validator:
 * `require` keeps that import lazy and synchronous (ajv is CommonJS).
 */
export class SchemaChecker {
  #ajv: Ajv2020 | undefined;

  compile(schema: object): CompiledSchema {
    const validate: Validator = precompiled.get(schemaKey(schema)) ?? this.#compiler().compile(schema);
    return {
      check(value: unknown): SchemaIssue[] {
        if (validate(value)) return [];
        return (validate.errors ?? []).map(toIssue);
      },
    };
  }

  #compiler(): Ajv2020 {
    // What is compiled here was not compiled at build time: a --catalog folder's schema (a
    // team's own, valid JSON Schema with its own annotations, say) or one edited since the
    // build. ajv's strict mode is for our schemas, and the build applies it to them.
    if (!this.#ajv) this.#ajv = createAjv({ strict: false });
    return this.#ajv;
  }
}

/**
 * A configured ajv instance. The build script (scripts/build-validators.mjs) uses it with
 * `standalone` to generate the ahead-of-time validators, so both paths share every option.
 */
export function createAjv(
  options: { readonly standalone?: boolean; readonly strict?: boolean } = {},
): Ajv2020 {
  const require = createRequire(import.meta.url);
  const { Ajv2020: AjvClass } = require('ajv/dist/2020.js') as { Ajv2020: new (options: object) => Ajv2020 };
  const ajv = new AjvClass({
    ...AJV_OPTIONS,
    ...(options.strict === false && { strict: false }),
    ...(options.standalone && { code: { source: true, esm: true } }),
  });
  for (const keyword of ANNOTATION_KEYWORDS)
    ajv.addKeyword({ keyword, schemaType: ['object', 'string', 'null'] });
  return ajv;
}

function toIssue(e: ErrorObject): SchemaIssue {
  return {
    path: parsePointer(e.instancePath),
    keyword: e.keyword,
    params: e.params as Record<string, unknown>,
    schema: e.parentSchema ?? {},
    data: e.data,
    ...(e.propertyName !== undefined && { propertyName: e.propertyName }),
    schemaPath: e.schemaPath,
    fallback: e.message ?? e.keyword,
  };
}

/** `/stages/face/input/images/3` -> ['stages', 'face', 'input', 'images', 3]. */
export function parsePointer(pointer: string): DataPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((raw) => {
      const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : segment;
    });
}
