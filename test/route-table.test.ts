/**
 * The router as a table: every combination of the intent axes (result wanted, identity image or
 * prose, no / one / several scenes, reference video, voice track, style) either maps to the
 * brief's route or gives the documented error. The expectation below is written from the
 * brief's table and docs/recipes.md ("Routing"), independently of the router's code.
 */
import { describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.js';
import type { ModelId } from '../src/catalog/model.js';
import { routeSwap, type MediaSeen, type SwapIntent } from '../src/plan/route.js';
import { chunk } from '../src/plan/route-models.js';
import { extensionOf, kindFromUrl } from '../src/plan/route-media.js';

const catalog = Catalog.load();
/** The catalog without its `local/` models: how the router behaves before the offline engine's schemas exist. */
const hostedOnly = {
  get: (id: string) => (id.startsWith('local/') ? undefined : catalog.get(id)),
  all: () => catalog.all().filter((m) => m.backend !== 'local'),
  ids: () => catalog.ids().filter((id) => !id.startsWith('local/')),
} as unknown as Catalog;

const WAN = 'community/wan-2-2-animate/api';
const KLING = 'kling/kling-2-6/motion-control-pro';
const NANO = 'google/nano-banana-2/edit';
const GPT = 'openai/gpt-image-2/edit';
const FLUX = 'blackforestlabs/flux-1-kontext/pro/edit';

function media(field: MediaSeen['field'], kind: MediaSeen['kind'], index?: number): MediaSeen {
  const ext = kind === 'video' ? 'mp4' : kind === 'audio' ? 'mp3' : 'jpg';
  return {
    field,
    ...(index !== undefined && { index }),
    kind,
    source: { by: 'extension', extension: ext },
    text: `https://assets.example.com/${field}${index ?? ''}.${ext}`,
  };
}

interface Axes {
  output: 'still' | 'video' | undefined;
  face: 'image' | 'prose';
  scenes: 0 | 1 | 3 | 45;
  video: boolean;
  audio: boolean;
  style: 'photoreal' | 'stylized';
}

function intentOf(a: Axes): SwapIntent {
  return {
    stage: 's',
    ...(a.face === 'image' ? { identity: media('identity', 'image') } : { describe: 'a tall man' }),
    ...(a.scenes > 0 && {
      scenes: {
        count: a.scenes,
        items: Array.from({ length: a.scenes }, (_, i) =>
          media('scene', 'image', a.scenes === 1 ? undefined : i),
        ),
      },
    }),
    ...(a.video && { video: media('video', 'video') }),
    ...(a.audio && { audio: media('audio', 'audio') }),
    style: a.style,
    ...(a.output && { output: a.output }),
    given: [],
    foreachItems: null,
  };
}

type Expected = { model: string; calls: number } | { code: string; says: string };

/** The documented table (docs/recipes.md, "Routing"). */
function expected(a: Axes): Expected {
  const wanted = a.output ?? (a.video || a.audio ? 'video' : 'still');
  if (wanted === 'still') {
    if (a.video || a.audio) return { code: 'swap-unservable', says: 'asks for "output: still" but gives' };
    if (a.scenes === 0) return { code: 'swap-incomplete', says: 'makes a still but has no "scene"' };
    if (a.face === 'prose')
      return a.scenes === 1
        ? { model: FLUX, calls: 1 }
        : { code: 'swap-unservable', says: `gives "describe" with ${a.scenes} scenes` };
    if (a.scenes === 1) return { model: GPT, calls: 1 };
    return { model: NANO, calls: Math.ceil(a.scenes / 19) };
  }
  if (a.audio && a.video)
    return { code: 'swap-unservable', says: 'gives both "audio" and "video", and no route takes both' };
  // Adding "audio" or "video" would not help a face in prose: the message says what does.
  if (!a.audio && !a.video && a.face === 'prose')
    return { code: 'swap-unservable', says: 'asks for "output: video" from "describe" alone' };
  if (!a.audio && !a.video)
    return {
      code: 'swap-unservable',
      says: 'asks for "output: video" but gives neither "audio" nor "video"',
    };
  if (a.face === 'prose')
    return { code: 'swap-unservable', says: 'wants a video, but the video routes animate an image' };
  if (a.scenes > 0 && a.audio) return { code: 'swap-unservable', says: 'is a talking head' };
  if (a.scenes > 0) return { code: 'swap-unservable', says: 'gives "scene" with a reference "video"' };
  return a.video ? { model: KLING, calls: 1 } : { model: WAN, calls: 1 };
}

const combinations: Axes[] = [];
for (const output of [undefined, 'still', 'video'] as const)
  for (const face of ['image', 'prose'] as const)
    for (const scenes of [0, 1, 3, 45] as const)
      for (const video of [false, true])
        for (const audio of [false, true])
          for (const style of ['photoreal', 'stylized'] as const)
            combinations.push({ output, face, scenes, video, audio, style });

function label(a: Axes): string {
  return [
    `output=${a.output ?? '-'}`,
    a.face === 'image' ? 'identity' : 'describe',
    `scenes=${a.scenes}`,
    a.video ? 'video' : '',
    a.audio ? 'audio' : '',
    a.style,
  ]
    .filter(Boolean)
    .join(' ');
}

describe('the routing table', () => {
  it(`covers all ${combinations.length} combinations of the intent axes`, () => {
    expect(combinations).toHaveLength(3 * 2 * 4 * 2 * 2 * 2);
  });

  it.each(combinations.map((a) => [label(a), a] as const))('%s', (_name, axes) => {
    const result = routeSwap(intentOf(axes), { catalog, engine: 'runcomfy' });
    const want = expected(axes);
    if ('model' in want) {
      expect(result.problems).toEqual([]);
      expect(result.decision).toMatchObject({
        model: want.model,
        calls: want.calls,
        pinned: false,
        style: axes.style,
      });
    } else {
      expect(result.decision).toBeUndefined();
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatchObject({ code: want.code, severity: 'error' });
      expect(result.problems[0]!.message).toContain(want.says);
    }
  });

  it('explains each rejected route of a decision', () => {
    const decision = routeSwap(
      intentOf({
        output: undefined,
        face: 'image',
        scenes: 45,
        video: false,
        audio: false,
        style: 'photoreal',
      }),
      {
        catalog: hostedOnly,
        engine: 'runcomfy',
      },
    ).decision!;
    expect(decision.rule).toMatch(/^an identity image and several scenes -> Nano Banana 2 Edit/);
    expect(decision.layout).toEqual({ kind: 'chunks', perCall: 19, chunks: chunk(45, 19) });
    expect(decision.rejected).toEqual([
      { model: WAN, title: 'Wan 2-2 Animate', reason: 'makes a video, and this swap wants a still' },
      {
        model: KLING,
        title: 'Kling 2-6 Motion Control Pro',
        reason: 'makes a video, and this swap wants a still',
      },
      {
        model: GPT,
        title: 'GPT Image 2 Edit',
        reason:
          'could serve it (45 calls, one per scene), but several scenes batch on Nano Banana 2 Edit in fewer calls',
      },
      {
        model: FLUX,
        title: 'FLUX Kontext Pro',
        reason: 'takes no identity image: it changes the face to a prose "describe"',
      },
    ]);
  });
});

describe('chunking', () => {
  it.each([
    [19, 19, [19]],
    [20, 19, [10, 10]],
    [38, 19, [19, 19]],
    [39, 19, [13, 13, 13]],
    [45, 19, [15, 15, 15]],
    [46, 19, [16, 15, 15]],
  ])('%i scenes at %i per call -> %j', (count, per, sizes) => {
    const chunks = chunk(count, per);
    expect(chunks.map((c) => c.length)).toEqual(sizes);
    expect(chunks.flat()).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('never gives GPT Image 2 more than 10 images: a pinned batch is one call per scene, [scene, identity]', () => {
    const intent = intentOf({
      output: undefined,
      face: 'image',
      scenes: 45,
      video: false,
      audio: false,
      style: 'photoreal',
    });
    const decision = routeSwap(intent, { catalog, engine: 'runcomfy', pinned: GPT as ModelId }).decision!;
    expect(decision).toMatchObject({ model: GPT, pinned: true, layout: { kind: 'per-scene' }, calls: 45 });
  });

  it('a scene list known only at run time goes one call per scene on Nano Banana 2 (it cannot be chunked before running)', () => {
    const intent: SwapIntent = {
      ...intentOf({
        output: undefined,
        face: 'image',
        scenes: 0,
        video: false,
        audio: false,
        style: 'photoreal',
      }),
      scenes: {
        count: undefined,
        items: [
          {
            field: 'scene',
            kind: 'image',
            source: { by: 'upstream', stage: 'a', model: NANO },
            text: '${{ stages.a.outputs.images }}',
          },
        ],
      },
    };
    const decision = routeSwap(intent, { catalog, engine: 'runcomfy' }).decision;
    expect(decision).toMatchObject({ model: NANO, layout: { kind: 'per-scene' }, calls: undefined });
    // GPT Image 2 would make as many calls here: it loses to the brief's rule, not to batching.
    expect(decision!.rejected.find((r) => r.model === GPT)?.reason).toMatch(
      /but the brief sends a list of scenes to Nano Banana 2 Edit; known only at run time, the list costs one call per scene on either$/,
    );
  });
});

describe('pinned models are checked against the intent', () => {
  const gallery = intentOf({
    output: undefined,
    face: 'image',
    scenes: 12 as 3,
    video: false,
    audio: false,
    style: 'photoreal',
  });

  it('FLUX Kontext with an identity image and 12 scenes names the route that serves it', () => {
    const result = routeSwap(
      { ...gallery, scenes: { count: 12, items: gallery.scenes!.items } },
      { catalog, engine: 'runcomfy', pinned: FLUX as ModelId },
    );
    expect(result.problems).toEqual([
      {
        code: 'swap-pinned-model',
        severity: 'error',
        message: `stage "s" pins ${FLUX}, which cannot serve this swap: FLUX Kontext Pro takes no identity image: it changes the face to a prose "describe"; Nano Banana 2 Edit (${NANO}) serves it: pin that, or remove "model" to let the router choose`,
        at: { field: 'model', value: true },
      },
    ]);
  });

  it('a pinned model that can serve is kept, and says what the router would have picked', () => {
    const one = intentOf({
      output: undefined,
      face: 'image',
      scenes: 1,
      video: false,
      audio: false,
      style: 'photoreal',
    });
    const decision = routeSwap(one, { catalog, engine: 'runcomfy', pinned: NANO as ModelId }).decision!;
    expect(decision).toMatchObject({ model: NANO, pinned: true, calls: 1 });
    expect(decision.rule).toBe(
      `pinned by "model: ${NANO}" (it serves this swap; the router alone would pick ${GPT})`,
    );
  });

  it('Wan pinned for a reference video is refused', () => {
    const dance = intentOf({
      output: undefined,
      face: 'image',
      scenes: 0,
      video: true,
      audio: false,
      style: 'stylized',
    });
    const result = routeSwap(dance, { catalog, engine: 'runcomfy', pinned: WAN as ModelId });
    expect(result.problems[0]!.message).toBe(
      `stage "s" pins ${WAN}, which cannot serve this swap: Wan 2-2 Animate is driven by a voice track ("audio"), and none is given; Kling 2-6 Motion Control Pro (${KLING}) serves it: pin that, or remove "model" to let the router choose`,
    );
  });
});

describe('--engine local', () => {
  const still = intentOf({
    output: undefined,
    face: 'image',
    scenes: 3,
    video: false,
    audio: false,
    style: 'photoreal',
  });

  it('prefers local/face-swap for an identity image and scenes', () => {
    const decision = routeSwap(still, { catalog, engine: 'local' }).decision!;
    expect(decision).toMatchObject({ model: 'local/face-swap', backend: 'local', engine: 'local', calls: 1 });
    expect(decision.rule).toBe(
      `--engine local: local/face-swap serves an identity image and scenes offline (the hosted route would be ${NANO})`,
    );
  });

  it('prefers local/face-swap-video for an identity image and a video', () => {
    const video = intentOf({
      output: undefined,
      face: 'image',
      scenes: 0,
      video: true,
      audio: false,
      style: 'photoreal',
    });
    expect(routeSwap(video, { catalog, engine: 'local' }).decision).toMatchObject({
      model: 'local/face-swap-video',
    });
  });

  it('keeps the hosted route, with a warning, where no local model serves the swap', () => {
    const prose = intentOf({
      output: undefined,
      face: 'prose',
      scenes: 1,
      video: false,
      audio: false,
      style: 'photoreal',
    });
    const result = routeSwap(prose, { catalog, engine: 'local' });
    expect(result.decision).toMatchObject({ model: FLUX });
    expect(result.problems).toEqual([
      {
        code: 'swap-no-local-route',
        severity: 'warning',
        message:
          '--engine local: no local model serves the swap of stage "s" (local/face-swap takes an identity image, not a prose "describe"; local/face-swap-video takes an identity image, not a prose "describe"), so it stays on FLUX Kontext Pro (blackforestlabs/flux-1-kontext/pro/edit) and needs RunComfy',
        at: {},
      },
    ]);
  });

  it('is an error when the catalog has no local model at all', () => {
    const result = routeSwap(still, { catalog: hostedOnly, engine: 'local' });
    expect(result.decision).toBeUndefined();
    expect(result.problems).toEqual([
      {
        code: 'swap-no-local-route',
        severity: 'error',
        message: `--engine local: the catalog has no local/ model for the swap of stage "s" (the offline engine's schema, e.g. schemas/models/local-face-swap.schema.json, is not installed); Nano Banana 2 Edit (${NANO}) serves it on RunComfy: run without --engine local`,
        at: {},
      },
    ]);
  });
});

describe('media kinds', () => {
  it.each([
    ['https://a.example.com/x.JPG', 'image'],
    ['https://a.example.com/x.jpeg?sig=abc#frag', 'image'],
    ['https://a.example.com/x.webp', 'image'],
    ['https://a.example.com/x.gif', 'image'],
    ['https://a.example.com/x.png', 'image'],
    ['https://a.example.com/x.mov', 'video'],
    ['https://a.example.com/x.mkv', 'video'],
    ['https://a.example.com/x.webm', 'video'],
    ['https://a.example.com/x.mp4', 'video'],
    ['https://a.example.com/x.m4a', 'audio'],
    ['https://a.example.com/x.flac', 'audio'],
    ['https://a.example.com/x.ogg', 'audio'],
    ['https://a.example.com/x.aac', 'audio'],
    ['https://a.example.com/x.wav', 'audio'],
    ['https://a.example.com/x.mp3', 'audio'],
    ['https://a.example.com/asset/1234', undefined],
    ['https://a.example.com/x.psd', undefined],
    ['https://a.example.com/.hidden', undefined],
  ])('%s is %s', (url, kind) => {
    expect(kindFromUrl(url).kind).toBe(kind);
  });

  it('reads the extension of the last path segment only', () => {
    expect(extensionOf('https://cdn.example.com/v1.2/asset')).toBeUndefined();
    expect(extensionOf('assets/grace-hopper.jpg')).toBe('jpg');
  });
});
