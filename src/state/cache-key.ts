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
 * `repeat` tells apart the items of one fan-out stage that send the very same body (see
 * {@link jobKeys}); the first of them (0) has the plain key.
 */
export function jobKey(model: ModelInfo, body: JsonObject, repeat = 0): string {
  return createHash('sha256')
    .update(
      canonicalJson({
        format: CACHE_FORMAT_VERSION,
        model: model.id,
        schema: model.schemaHash,
        input: body,
        ...(repeat > 0 && { repeat }),
      }),
    )
    .digest('hex');
}

/**
 * The keys of one stage's jobs, in item order. Items whose bodies are identical (a fan-out
 * over `[a, b, c]` whose input does not use `item`: "make three") are distinct jobs: the plan
 * counts three calls and the user expects three results. The n-th repeat of a body gets key
 * `repeat: n`, so each is paid once, cached on its own, and found again by the next run.
 */
export function jobKeys(model: ModelInfo, bodies: readonly JsonObject[]): string[] {
  const seen = new Map<string, number>();
  return bodies.map((body) => {
    const key = jobKey(model, body);
    const repeat = seen.get(key) ?? 0;
    seen.set(key, repeat + 1);
    return repeat === 0 ? key : jobKey(model, body, repeat);
  });
}
