/** A catalog model id, `vendor/model/endpoint`. Branded so it cannot be mixed up with other strings. */
export type ModelId = string & { readonly __brand: 'ModelId' };

/** What a model produces. */
export type Medium = 'still' | 'video';

/** Which backend runs a model: the hosted service through the runcomfy client, or the offline engine. */
export type Backend = 'runcomfy' | 'local';

/** One input field, summarised for `faceswap-pipe models`. */
export interface FieldSummary {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly description?: string;
  /** For URL fields: the kind of media the field takes. */
  readonly media?: 'image' | 'video' | 'audio';
}

/**
 * A model of the catalog, read from a schema file under `schemas/models/` (or an override
 * folder). The input schema is JSON Schema; our own facts live under its `x-faceswap` key.
 */
export interface ModelInfo {
  readonly id: ModelId;
  readonly title: string;
  readonly description: string;
  /** One line for tables. */
  readonly summary: string;
  readonly medium: Medium;
  readonly backend: Backend;
  /** True for the face-swap routes: such stages need recorded consent. */
  readonly faceSwap: boolean;
  /** The model's input JSON Schema (the whole file). */
  readonly inputSchema: Readonly<Record<string, unknown>>;
  /**
   * sha256 of the schema file's canonical JSON: part of every cache key, so editing a
   * model's schema invalidates exactly that model's cached jobs.
   */
  readonly schemaHash: string;
  /** JSON pointers into the input of the fields that carry the identity image. */
  readonly identityFields: readonly string[];
  /** JSON Schema of the `output` object, or null where the service does not document it. */
  readonly outputs: Readonly<Record<string, unknown>> | null;
  /** Alternative sets of required fields (documented conflicts): one set must be complete. */
  readonly requiredOneOf: readonly (readonly string[])[];
  readonly fields: readonly FieldSummary[];
  readonly notes?: string;
  /** The file it was read from. */
  readonly file: string;
}
