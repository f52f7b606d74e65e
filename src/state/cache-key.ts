import { createHash } from 'node:crypto';
import type { ModelInfo } from '../catalog/model.js';
import { canonicalJson, type JsonObject } from '../util/json.js';

/**
 * Bump when the meaning of a job record or of the key changes: every old record then misses,
 * which costs money once but can never hand back a wrong result.
 */
export const CACHE_FORMAT_VERSION = 1;

/**
 * A job's identity: sha256 over the model id, the model schema's hash, the canonical
 * (sorted-key) fully resolved input body and the cache format version. Two jobs with the same
 * key would send the same request to the same model: the second one never needs to be paid for.
 */
export function jobKey(model: ModelInfo, body: JsonObject): string {
  return createHash('sha256')
    .update(
      canonicalJson({ format: CACHE_FORMAT_VERSION, model: model.id, schema: model.schemaHash, input: body }),
    )
    .digest('hex');
}
