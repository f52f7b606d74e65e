import { HOSTED } from './route-models.js';
import { describeKindSource, type MediaKind } from './route-media.js';
import {
  inputsOf,
  routeName,
  type MediaSeen,
  type ProblemPlace,
  type RouteProblem,
  type SwapIntent,
  type SwapMediaField,
  type Wanted,
} from './route.js';

/**
 * What stops a swap before any route is looked at, in the user's words: inputs of the wrong
 * kind, a missing face or scene, and the combinations the brief's table cannot serve. Each
 * message names the fields to change and the route that would fit (docs/recipes.md lists them).
 */

const KIND_WORDS: Readonly<Record<MediaKind, string>> = {
  image: 'an image',
  video: 'a video',
  audio: 'an audio track',
};

/** The kind of media each swap field takes. */
export const FIELD_KIND: Readonly<Record<SwapMediaField, MediaKind>> = {
  identity: 'image',
  scene: 'image',
  video: 'video',
  audio: 'audio',
};

/** Inputs of a known wrong kind; a scene of unknown kind (the one place the kind decides the route). */
export function kindProblems(intent: SwapIntent): RouteProblem[] {
  const out: RouteProblem[] = [];
  for (const seen of inputsOf(intent)) {
    const want = FIELD_KIND[seen.field];
    const name = seen.index === undefined ? seen.field : `${seen.field}[${seen.index}]`;
    const at: ProblemPlace = {
      field: seen.field,
      ...(seen.index !== undefined && { index: seen.index }),
      value: true,
    };
    if (seen.notOne) {
      out.push({ code: 'invalid-type', severity: 'error', message: notOneMessage(intent, seen, name), at });
      continue;
    }
    if (seen.kind === undefined) {
      // The field names the role of identity, video and audio, so an unknown kind is taken at
      // its word; a scene's kind decides between a still and footage, which route differently.
      if (seen.field !== 'scene' || seen.silent) continue;
      out.push({
        code: 'swap-unknown-medium',
        severity: 'error',
        message: `cannot tell what kind of media "${name}" of stage "${intent.stage}" is (${
          (seen.source as { why: string }).why
        }); a scene must be a still: write it as {url: ${yamlText(seen.text)}, medium: image}`,
        at,
      });
      continue;
    }
    if (seen.kind === want) continue;
    const how = describeKindSource(seen.source);
    const override =
      seen.source.by === 'extension'
        ? ` (if the file is ${KIND_WORDS[want]} despite its extension, write {url: ${yamlText(seen.text)}, medium: ${want}})`
        : '';
    let message: string;
    switch (seen.field) {
      case 'identity':
        message = `"identity" of stage "${intent.stage}" is ${KIND_WORDS[seen.kind]} (${how}), but it must be an image of the face to put in${override}`;
        break;
      case 'scene':
        message =
          seen.kind === 'video'
            ? `"${name}" of stage "${intent.stage}" is a video (${how}), but scenes are stills: a performance whose motion to keep goes in "video" (Kling 2-6 Motion Control Pro); for a spokesperson in existing footage, give the footage's voice track as "audio" (Wan 2-2 Animate)${override}`
            : `"${name}" of stage "${intent.stage}" is ${KIND_WORDS[seen.kind]} (${how}), but a scene must be a still image${override}`;
        break;
      case 'video':
        message = `"video" of stage "${intent.stage}" is ${KIND_WORDS[seen.kind]} (${how}), but it must be a reference video whose motion to keep${override}`;
        break;
      case 'audio':
        message = `"audio" of stage "${intent.stage}" is ${KIND_WORDS[seen.kind]} (${how}), but it must be a voice track${override}`;
        break;
    }
    out.push({ code: 'swap-wrong-medium', severity: 'error', message, at });
  }
  return out;
}

const ONE: Readonly<Record<SwapMediaField, string>> = {
  identity: 'one image of the face to put in',
  scene: 'one still',
  video: 'one reference video',
  audio: 'one voice track',
};

/** A media value known to be a list (or another non-URL) where the field takes one: what to write instead. */
function notOneMessage(intent: SwapIntent, seen: MediaSeen, name: string): string {
  const { is, item } = seen.notOne!;
  const stage = `stage "${intent.stage}"`;
  if (item !== undefined) {
    const head = `"${name}" of ${stage} is ${seen.text}, and foreach item ${item} is ${is}, but ${
      seen.field === 'scene' ? 'a scene taken from a foreach item' : 'it'
    } must be ${ONE[seen.field]}`;
    if (seen.field !== 'scene') return `${head}: make each foreach item one URL`;
    return `${head}: give the stills as one list in "scene" and drop "foreach" (${routeName('nano-banana')} batches them, images back in scene order), give each list its own stage with "scene: [...]", or make each foreach item one still`;
  }
  const head = `"${name}" of ${stage} is ${is} (${seen.text}), but it must be ${ONE[seen.field]}`;
  const whole = /^\$\{\{\s*([^{}]*?)\s*\}\}$/.exec(seen.text)?.[1];
  if (is !== 'a list' || whole === undefined || seen.index !== undefined) return `${head}: give one URL`;
  const one = seen.field === 'identity' ? 'face' : seen.field === 'video' ? 'video' : 'track';
  return `${head}: pick one, e.g. \${{ ${whole}[0] }}, or run one job per ${one} with "foreach: \${{ ${whole} }}" and "${seen.field}: \${{ item }}"`;
}

export function completenessProblems(intent: SwapIntent): RouteProblem[] {
  if (intent.identity && intent.describe !== undefined)
    return [
      {
        code: 'swap-incomplete',
        severity: 'error',
        message: `stage "${intent.stage}" gives both "identity" and "describe": give "identity" (an image of the face to put in) or "describe" (the new face in prose), not both`,
        at: { field: 'describe' },
      },
    ];
  if (!intent.identity && intent.describe === undefined)
    return [
      {
        code: 'swap-incomplete',
        severity: 'error',
        message: `the swap of stage "${intent.stage}" has no face to put in: add "identity" (an image of the face) or "describe" (the new face in prose)`,
        at: {},
      },
    ];
  if (intent.scenes?.count === 0)
    return [
      {
        code: 'swap-incomplete',
        severity: 'error',
        message: `the "scene" list of stage "${intent.stage}" is empty: give at least one still to put the face into, or leave the stage out`,
        at: { field: 'scene', value: true },
      },
    ];
  return [];
}

/** The combinations the brief's table cannot serve, each with the fields to change and the route that would fit. */
export function combinationProblem(intent: SwapIntent, wanted: Wanted): RouteProblem | undefined {
  const stage = `stage "${intent.stage}"`;
  const wan = routeName('wan-animate');
  const kling = routeName('kling-motion');
  if (wanted === 'still') {
    if (intent.video || intent.audio) {
      const given = [intent.audio && '"audio"', intent.video && '"video"'].filter(Boolean).join(' and ');
      return {
        code: 'swap-unservable',
        severity: 'error',
        message: `${stage} asks for "output: still" but gives ${given}: a voice track and a reference video drive video routes only; remove ${given}, or ask for "output: video"`,
        at: { field: 'output', value: true },
        related: [
          ...(intent.audio ? [{ at: { field: 'audio' as const }, message: 'the voice track is here' }] : []),
          ...(intent.video
            ? [{ at: { field: 'video' as const }, message: 'the reference video is here' }]
            : []),
        ],
      };
    }
    if (!intent.scenes)
      return {
        code: 'swap-incomplete',
        severity: 'error',
        message: `the swap of stage "${intent.stage}" makes a still but has no "scene": add "scene" (a still, or a list of stills, to put the face into); for a video, ${
          intent.identity ? '' : `${FROM_PROSE_TO_VIDEO}, and `
        }add "audio" or "video"`,
        at: {},
      };
    if (!intent.identity && intent.scenes.count !== 1) {
      const scenes = intent.scenes.count === undefined ? 'a list of scenes' : `${intent.scenes.count} scenes`;
      return {
        code: 'swap-unservable',
        severity: 'error',
        message: `${stage} gives "describe" with ${scenes}, but ${routeName('flux-kontext')}, the route for a face in prose, edits one image per call: give "identity" (an image of the face) to batch them on ${routeName('nano-banana')}, or run one job per scene with "foreach: <the scene list>" and "scene: \${{ item }}"`,
        at: { field: 'scene', value: true },
      };
    }
    return undefined;
  }
  if (intent.audio && intent.video)
    return {
      code: 'swap-unservable',
      severity: 'error',
      message: `${stage} gives both "audio" and "video", and no route takes both: ${wan} is driven by a voice track and takes no reference video; ${kling} keeps a reference video's motion and takes no voice track. Remove "video" to route to Wan 2-2 Animate, or remove "audio" to route to Kling 2-6 Motion Control Pro`,
      at: {},
      related: [
        { at: { field: 'audio' }, message: 'the voice track is here' },
        { at: { field: 'video' }, message: 'the reference video is here' },
      ],
    };
  if (!intent.audio && !intent.video && !intent.identity)
    return {
      code: 'swap-unservable',
      severity: 'error',
      message: `${stage} asks for "output: video" from "describe" alone, but the video routes animate an image of the character and "describe" is prose: ${FROM_PROSE_TO_VIDEO}, and add "audio", a voice track that drives the mouth (routes to ${HOSTED['wan-animate']}), or "video", a reference performance whose motion to keep (routes to ${HOSTED['kling-motion']}); or ask for "output: still" and add "scene" (routes to ${HOSTED['flux-kontext']})`,
      at: { field: 'output', value: true },
      related: [{ at: { field: 'describe' }, message: 'the description is here' }],
    };
  if (!intent.audio && !intent.video)
    return {
      code: 'swap-unservable',
      severity: 'error',
      message: `${stage} asks for "output: video" but gives neither "audio" nor "video": add "audio", a voice track that drives the mouth (routes to ${HOSTED['wan-animate']}), or "video", a reference performance whose motion to keep (routes to ${HOSTED['kling-motion']}); or ask for "output: still"`,
      at: { field: 'output', value: true },
    };
  if (!intent.identity)
    return {
      code: 'swap-unservable',
      severity: 'error',
      message: `${stage} wants a video, but the video routes animate an image of the character and "describe" is prose: ${FROM_PROSE_TO_VIDEO}`,
      at: { field: 'describe' },
    };
  if (intent.scenes && intent.audio)
    return {
      code: 'swap-unservable',
      severity: 'error',
      message: `${stage} is a talking head: it asks for the face put into "scene" and the result made to speak "audio" in one pass, which no route here does (face and voice in one pass is the ai-avatar-video skill's OmniHuman, outside faceswap-pipe). Split it into two stages: a swap with "identity" and "scene" (GPT Image 2 Edit), then a swap with "identity: \${{ stages.<first stage>.outputs.images[0] }}" and "audio" (Wan 2-2 Animate); or remove "scene" to let Wan 2-2 Animate animate the identity image itself`,
      at: { field: 'scene' },
      related: [{ at: { field: 'audio' }, message: 'the voice track is here' }],
    };
  if (intent.scenes && intent.video)
    return {
      code: 'swap-unservable',
      severity: 'error',
      message: `${stage} gives "scene" with a reference "video", but ${kling} takes no scene: it makes the "identity" image perform the video's motion, and the video is the scene. Remove "scene", or put the face into the scene first with a still stage and use its image as "identity" here`,
      at: { field: 'scene' },
    };
  return undefined;
}

/** How to get a video from a face in prose: the fix that works wherever a video stage has "describe". */
const FROM_PROSE_TO_VIDEO =
  'give "identity" (an image), or make the face first in a stage whose swap has "scene" and "describe" (FLUX Kontext Pro) and use ${{ stages.<that stage>.outputs.images[0] }} as "identity" here (recipes/describe-then-dance.yaml chains the two)';

/** A value as it would be written in YAML flow style inside a message. */
function yamlText(text: string): string {
  return /^[A-Za-z0-9_./:?=&%-]+$/.test(text) ? text : JSON.stringify(text);
}
