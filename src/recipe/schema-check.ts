import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
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

/**
 * The one module that imports ajv. Annotation keywords of ours (`x-…`) are declared so ajv's
 * strict mode still catches real typos in our schemas.
 */
export class SchemaChecker {
  readonly #ajv: Ajv2020;

  constructor() {
    this.#ajv = new Ajv2020({
      allErrors: true,
      strict: true,
      allowUnionTypes: true,
      verbose: true,
      validateFormats: false,
    });
    for (const keyword of ['x-faceswap', 'x-media'])
      this.#ajv.addKeyword({ keyword, schemaType: ['object', 'string', 'null'] });
  }

  compile(schema: object): CompiledSchema {
    const validate: ValidateFunction = this.#ajv.compile(schema);
    return {
      check(value: unknown): SchemaIssue[] {
        if (validate(value)) return [];
        return (validate.errors ?? []).map(toIssue);
      },
    };
  }
}

function toIssue(e: ErrorObject): SchemaIssue {
  return {
    path: parsePointer(e.instancePath),
    keyword: e.keyword,
    params: e.params as Record<string, unknown>,
    schema: (e.parentSchema ?? {}),
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
