import type { Catalog } from '../catalog/catalog.js';
import type { ModelId, ModelInfo } from '../catalog/model.js';
import { isJsonObject } from '../util/json.js';
import type { SwapIntent, Wanted } from './route.js';

/**
 * The routes a `swap:` stage can take: the brief's five hosted endpoints, and any `local/`
 * model of the catalog whose schema says how to fill it. Each route answers one question,
 * "can you serve this intent, and in how many calls?", with a reason when it cannot; the
 * router (`route.ts`) decides which of those that can serve is chosen.
 */

export type RouteId = 'wan-animate' | 'kling-motion' | 'nano-banana' | 'gpt-image' | 'flux-kontext' | 'local';

/** Optional swap fields that only some routes use. */
export type SwapOption = 'prompt' | 'size' | 'aspect_ratio' | 'resolution';

/**
 * How a route spreads the scenes over model calls.
 * - `single`: one call takes everything.
 * - `chunks`: scene indexes per call (a batch over the per-call image limit), in scene order.
 * - `per-scene`: one call per scene (a route that takes one scene per call, or a scene list
 *   whose length is only known at run time, which cannot be chunked before running).
 */
export type Layout =
  | { readonly kind: 'single' }
  | { readonly kind: 'chunks'; readonly chunks: readonly (readonly number[])[]; readonly perCall: number }
  | { readonly kind: 'per-scene' };

/** Whether a route serves an intent; when not, why, and (where the recipe can be changed to fit) how. */
export type Fit =
  | { readonly ok: true; readonly layout: Layout }
  | { readonly ok: false; readonly reason: string; readonly fix?: string };

/** Field names of a `local/` model, read from its schema (`x-faceswap.identityFields`, `x-media`). */
export interface LocalFields {
  readonly identity: string;
  /** The scene field: a list (several scenes per call, up to `max`) or one URL. */
  readonly scene?: { readonly name: string; readonly list: boolean; readonly max: number | undefined };
  readonly video?: string;
  /** Required fields the router has nothing to fill with. */
  readonly unfillable: readonly string[];
}

export interface RouteCandidate {
  readonly id: RouteId;
  readonly model: ModelInfo;
  /** The optional swap fields this route passes on (the others are reported as unused). */
  readonly takes: readonly SwapOption[];
  readonly local?: LocalFields;
  fit(intent: SwapIntent, wanted: Wanted): Fit;
}

export const HOSTED = {
  'wan-animate': 'community/wan-2-2-animate/api',
  'kling-motion': 'kling/kling-2-6/motion-control-pro',
  'nano-banana': 'google/nano-banana-2/edit',
  'gpt-image': 'openai/gpt-image-2/edit',
  'flux-kontext': 'blackforestlabs/flux-1-kontext/pro/edit',
} as const satisfies Record<Exclude<RouteId, 'local'>, string>;

/** Scenes per Nano Banana 2 call when its schema does not say: 20 images, the identity first. */
const NANO_SCENES_PER_CALL = 19;

/** Every route the catalog has: the hosted ones present in it, then the `local/` face-swap models. */
export function routeCandidates(catalog: Catalog): RouteCandidate[] {
  const out: RouteCandidate[] = [];
  const hosted = (id: Exclude<RouteId, 'local'>, make: (m: ModelInfo) => RouteCandidate) => {
    const model = catalog.get(HOSTED[id]);
    if (model) out.push(make(model));
  };
  hosted('wan-animate', (model) => ({
    id: 'wan-animate',
    model,
    takes: [],
    fit: (intent, wanted) =>
      videoFit(intent, wanted, model, 'audio') ?? { ok: true, layout: { kind: 'single' } },
  }));
  hosted('kling-motion', (model) => ({
    id: 'kling-motion',
    model,
    takes: [],
    fit: (intent, wanted) =>
      videoFit(intent, wanted, model, 'video') ?? { ok: true, layout: { kind: 'single' } },
  }));
  hosted('gpt-image', (model) => ({
    id: 'gpt-image',
    model,
    takes: ['prompt', 'size'],
    fit: (intent, wanted) => {
      const no = stillFit(intent, wanted, model);
      if (no) return no;
      const count = intent.scenes!.count;
      if (count === 1) return { ok: true, layout: { kind: 'single' } };
      // One output frame per call: several scenes become one call per scene, [scene, identity]
      // each, so a call never carries more than two of its ten images.
      if (intent.foreachItems !== null)
        return {
          ok: false,
          reason: `takes one scene per call, and this stage already runs one job per foreach item`,
        };
      return { ok: true, layout: { kind: 'per-scene' } };
    },
  }));
  hosted('nano-banana', (model) => ({
    id: 'nano-banana',
    model,
    takes: ['prompt', 'aspect_ratio', 'resolution'],
    fit: (intent, wanted) => {
      const no = stillFit(intent, wanted, model);
      if (no) return no;
      return batchLayout(intent, nanoScenesPerCall(model));
    },
  }));
  hosted('flux-kontext', (model) => ({
    id: 'flux-kontext',
    model,
    takes: ['prompt', 'aspect_ratio'],
    fit: (intent, wanted) => {
      if (wanted !== 'still') return { ok: false, reason: `makes a still, and this swap wants a video` };
      if (intent.identity)
        return {
          ok: false,
          reason: `takes no identity image: it changes the face to a prose "describe"`,
        };
      if (!intent.scenes) return { ok: false, reason: `needs a "scene" to edit` };
      if (intent.scenes.count !== 1)
        return {
          ok: false,
          reason:
            intent.scenes.count === undefined
              ? `edits one image per call, and "scene" is a list`
              : `edits one image per call, and there are ${intent.scenes.count} scenes`,
        };
      return { ok: true, layout: { kind: 'single' } };
    },
  }));
  for (const model of catalog.all()) {
    if (model.backend !== 'local') continue;
    const local = localFields(model);
    out.push({
      id: 'local',
      model,
      takes: [],
      ...(local && { local }),
      fit: (intent, wanted) => localFit(intent, wanted, model, local),
    });
  }
  return out;
}

/** Nano Banana 2's scenes per call: its `image_urls.maxItems` less the identity. */
export function nanoScenesPerCall(model: ModelInfo): number {
  const max = listMax(model, 'image_urls');
  return max !== undefined && max >= 2 ? max - 1 : NANO_SCENES_PER_CALL;
}

/** Why a video route cannot serve, or undefined when it can. `driver` is the input it is driven by. */
function videoFit(
  intent: SwapIntent,
  wanted: Wanted,
  model: ModelInfo,
  driver: 'audio' | 'video',
): Fit | undefined {
  if (wanted !== 'video') return { ok: false, reason: `makes a video, and this swap wants a still` };
  if (!intent.identity)
    return { ok: false, reason: `animates an image of the character, and "describe" is prose` };
  if (driver === 'audio') {
    if (!intent.audio)
      return { ok: false, reason: `is driven by a voice track ("audio"), and none is given` };
    if (intent.video)
      return { ok: false, reason: `takes no reference video: the motion of "video" would be lost` };
  } else {
    if (!intent.video)
      return { ok: false, reason: `keeps the motion of a reference video ("video"), and none is given` };
    if (intent.audio) return { ok: false, reason: `takes no voice track ("audio")` };
  }
  if (intent.scenes)
    return {
      ok: false,
      reason:
        driver === 'audio'
          ? `takes no scene: it animates the identity image itself`
          : `takes no scene: the reference video is the scene`,
    };
  void model;
  return undefined;
}

/** Why an identity-image still route cannot serve, or undefined when it can. */
function stillFit(intent: SwapIntent, wanted: Wanted, model: ModelInfo): Fit | undefined {
  void model;
  if (wanted !== 'still') return { ok: false, reason: `makes a still, and this swap wants a video` };
  if (!intent.identity) return { ok: false, reason: `needs an identity image, and "describe" is prose` };
  if (!intent.scenes) return { ok: false, reason: `needs a "scene" to put the face into` };
  return undefined;
}

/** A batch route's calls: chunks of at most `perCall` scenes, or one per scene when the count is unknown. */
function batchLayout(intent: SwapIntent, perCall: number): Fit {
  const count = intent.scenes!.count;
  if (count === undefined) {
    if (intent.foreachItems !== null)
      return {
        ok: false,
        reason: `cannot split a scene list known only at run time inside a foreach job`,
      };
    return { ok: true, layout: { kind: 'per-scene' } };
  }
  if (count <= perCall) return { ok: true, layout: { kind: 'single' } };
  if (intent.foreachItems !== null) {
    // A job is one body and one call (the executor's model): a foreach job is not split again,
    // and a stage's outputs cannot be both per item and merged per chunk.
    const chunks = chunk(count, perCall);
    return {
      ok: false,
      reason: `takes at most ${perCall} scenes per call, and this stage runs one job per foreach item with all ${count} scenes in each, which a foreach job cannot split into calls`,
      fix: `drop "foreach" and write one stage per foreach item (a stage without foreach splits its ${count} scenes into ${chunks.length} calls, ${chunks.map((c) => c.length).join(' + ')}, images back in scene order), or give each foreach job at most ${perCall} scenes (split "scene" over several stages with the same foreach)`,
    };
  }
  return { ok: true, layout: { kind: 'chunks', chunks: chunk(count, perCall), perCall } };
}

/**
 * Splits `count` scene indexes into the fewest calls of at most `perCall`, as even as possible
 * (45 at 19 per call: 15 + 15 + 15, not 19 + 19 + 7), earlier calls taking the remainder: the
 * calls then take about as long as each other. Scene order is kept across and within calls.
 */
export function chunk(count: number, perCall: number): number[][] {
  const calls = Math.ceil(count / perCall);
  const base = Math.floor(count / calls);
  const extra = count % calls;
  const out: number[][] = [];
  let next = 0;
  for (let c = 0; c < calls; c++) {
    const size = base + (c < extra ? 1 : 0);
    out.push(Array.from({ length: size }, (_, i) => next + i));
    next += size;
  }
  return out;
}

function localFit(intent: SwapIntent, wanted: Wanted, model: ModelInfo, local: LocalFields | undefined): Fit {
  if (!local)
    return {
      ok: false,
      reason: `its schema names no identity field (x-faceswap.identityFields) for the router to fill`,
    };
  if (local.unfillable.length > 0)
    return {
      ok: false,
      reason: `requires ${local.unfillable.map((f) => `"${f}"`).join(', ')}, which a swap does not give`,
    };
  if (!intent.identity) return { ok: false, reason: `takes an identity image, not a prose "describe"` };
  if (model.medium !== wanted)
    return { ok: false, reason: `makes a ${model.medium}, and this swap wants a ${wanted}` };
  if (intent.audio) return { ok: false, reason: `takes no voice track ("audio")` };
  if (wanted === 'video') {
    if (!local.video) return { ok: false, reason: `its schema has no video field` };
    if (!intent.video) return { ok: false, reason: `swaps the face in a "video", and none is given` };
    if (intent.scenes) return { ok: false, reason: `takes no scene: the video is the scene` };
    return { ok: true, layout: { kind: 'single' } };
  }
  if (!local.scene) return { ok: false, reason: `its schema has no scene image field` };
  if (!intent.scenes) return { ok: false, reason: `needs a "scene" to put the face into` };
  if (!local.scene.list) {
    if (intent.scenes.count === 1) return { ok: true, layout: { kind: 'single' } };
    if (intent.foreachItems !== null)
      return {
        ok: false,
        reason: `takes one scene per call, and this stage already runs one job per foreach item`,
      };
    return { ok: true, layout: { kind: 'per-scene' } };
  }
  return batchLayout(intent, local.scene.max ?? Number.MAX_SAFE_INTEGER);
}

/**
 * Reads a `local/` model's field names from its schema: the identity field from
 * `x-faceswap.identityFields` (a top-level JSON pointer), the scene field as the other
 * top-level property whose `x-media` (or its items') is `image`, a video field with `x-media:
 * video`. Undefined when there is no identity field.
 */
export function localFields(model: ModelInfo): LocalFields | undefined {
  const pointer = model.identityFields[0];
  if (pointer === undefined || !/^\/[^/]+$/.test(pointer)) return undefined;
  const identity = pointer.slice(1);
  const properties = isJsonObject(model.inputSchema['properties'])
    ? (model.inputSchema['properties'] as Record<string, Record<string, unknown>>)
    : {};
  if (!(identity in properties)) return undefined;
  let scene: LocalFields['scene'];
  let video: string | undefined;
  for (const [name, field] of Object.entries(properties)) {
    if (name === identity || !isJsonObject(field)) continue;
    // A field may offer several shapes (`anyOf: [one URL, a list of URLs]`): look at each.
    const variants = [
      field,
      ...['anyOf', 'oneOf'].flatMap((k) => (Array.isArray(field[k]) ? (field[k] as unknown[]) : [])),
    ].filter((v): v is Record<string, unknown> => isJsonObject(v));
    const mediaOf = (v: Record<string, unknown>) =>
      v['x-media'] ??
      (isJsonObject(v['items']) ? (v['items'] as Record<string, unknown>)['x-media'] : undefined);
    const media = variants.map(mediaOf).find((m) => m !== undefined);
    if (media === 'image' && !scene) {
      const array = variants.find((v) => v['type'] === 'array');
      scene = {
        name,
        list: array !== undefined,
        max: array && typeof array['maxItems'] === 'number' ? array['maxItems'] : undefined,
      };
    } else if (media === 'video' && video === undefined) video = name;
  }
  const required = Array.isArray(model.inputSchema['required'])
    ? (model.inputSchema['required'] as unknown[]).filter((r): r is string => typeof r === 'string')
    : [];
  const fillable = new Set([identity, scene?.name, video].filter((f): f is string => f !== undefined));
  const unfillable = required.filter((r) => !fillable.has(r));
  return { identity, ...(scene && { scene }), ...(video !== undefined && { video }), unfillable };
}

function listMax(model: ModelInfo, field: string): number | undefined {
  const properties = model.inputSchema['properties'];
  if (!isJsonObject(properties)) return undefined;
  const spec = properties[field];
  return isJsonObject(spec) && typeof spec['maxItems'] === 'number' ? spec['maxItems'] : undefined;
}

/** The route of a model id, when it is one. */
export function candidateFor(
  candidates: readonly RouteCandidate[],
  model: ModelId,
): RouteCandidate | undefined {
  return candidates.find((c) => c.model.id === model);
}
