import type { Catalog } from '../catalog/catalog.js';
import type { Backend, ModelId } from '../catalog/model.js';
import type { KindSource, MediaKind } from './route-media.js';
import { combinationProblem, completenessProblems, kindProblems } from './route-problems.js';
import {
  candidateFor,
  HOSTED,
  routeCandidates,
  type Layout,
  type RouteCandidate,
  type RouteId,
  type SwapOption,
} from './route-models.js';

/**
 * The router: the product brief's table of five face-swap routes as a pure function. It takes
 * a `swap:` stage's intent (with the kind of every input already found) and returns the model
 * to call, how many calls, the rule that fired and why every other route was not taken, or the
 * problems that stop it: combinations no route serves, inputs of the wrong kind, a pinned
 * model that cannot serve the intent. It reads nothing and builds no input; `route-input.ts`
 * turns a decision into the model's input.
 */

export type Wanted = 'still' | 'video';
export type SwapMediaField = 'identity' | 'scene' | 'video' | 'audio';
export type SwapField = SwapMediaField | 'describe' | 'style' | 'output' | SwapOption;

/** One media input as the router saw it. */
export interface MediaSeen {
  readonly field: SwapMediaField;
  /** Position in a `scene` list; absent for a single value (or a whole list known only at run time). */
  readonly index?: number;
  /** Undefined when it cannot be told (see `source.why`). */
  readonly kind: MediaKind | undefined;
  readonly source: KindSource;
  /** The URL, or the expression as written. */
  readonly text: string;
  /** Its kind is unknown because of a problem already reported (an undeclared var, a broken expression): no second diagnostic. */
  readonly silent?: boolean;
  /**
   * Known before running to be no single URL: a var that holds a list, or `${{ item }}` over
   * foreach items that are lists. `is` says what it is instead (`a list`); `item` is the first
   * such foreach item, when that is where it comes from.
   */
  readonly notOne?: { readonly is: string; readonly item?: number };
}

/** The scenes of a swap. */
export interface SceneSet {
  /** How many; undefined for a list that is only known at run time (an upstream stage's outputs). */
  readonly count: number | undefined;
  /** One entry per scene; a single entry for a list known only at run time. */
  readonly items: readonly MediaSeen[];
}

/** What a `swap:` stage asks for, with kinds found (`src/recipe/rules/swap.ts` builds it). */
export interface SwapIntent {
  readonly stage: string;
  readonly identity?: MediaSeen;
  /** The prose description as written, when given. */
  readonly describe?: string;
  readonly scenes?: SceneSet;
  readonly video?: MediaSeen;
  readonly audio?: MediaSeen;
  /** Default `photoreal`. Changes the default prompts, not the route. */
  readonly style: 'photoreal' | 'stylized';
  readonly output?: Wanted;
  /** The optional fields the author set. */
  readonly given: readonly SwapOption[];
  /**
   * `null` when the stage has no `foreach` of its own; otherwise its item count, or undefined
   * when that is only known at run time. A stage that fans out itself must fit one call per item.
   */
  readonly foreachItems: number | undefined | null;
}

export interface RouteOptions {
  readonly catalog: Catalog;
  /** `local` prefers a `local/` model wherever one serves the intent. */
  readonly engine: Backend;
  /** The stage's `model:`, when it pins one (it must exist in the catalog). */
  readonly pinned?: ModelId;
}

/** A route that was not taken, and why. */
export interface RejectedRoute {
  readonly model: ModelId;
  readonly title: string;
  readonly reason: string;
}

/** What the router decided for one stage: everything `route` and `plan` print. */
export interface RouteDecision {
  readonly route: RouteId;
  readonly model: ModelId;
  readonly title: string;
  readonly backend: Backend;
  readonly engine: Backend;
  readonly pinned: boolean;
  readonly wanted: Wanted;
  /** Why that result: `"output: video"`, `"audio" given`, … */
  readonly wantedBecause: string;
  /** The rule that fired, in words. */
  readonly rule: string;
  readonly inputs: readonly MediaSeen[];
  readonly sceneCount: number | undefined;
  readonly layout: Layout;
  /** Model calls; undefined when only known at run time. Multiplied by the stage's own foreach items. */
  readonly calls: number | undefined;
  /** How the calls come about, in words. */
  readonly callsBecause: string;
  readonly rejected: readonly RejectedRoute[];
  readonly style: 'photoreal' | 'stylized';
  /** Optional fields the route passes on; the others were reported unused. */
  readonly takes: readonly SwapOption[];
}

export type SwapProblemCode =
  | 'invalid-type'
  | 'swap-incomplete'
  | 'swap-unservable'
  | 'swap-unknown-medium'
  | 'swap-wrong-medium'
  | 'swap-pinned-model'
  | 'swap-no-local-route'
  | 'swap-unused-field';

/**
 * Where a problem points: a swap field (its key; with `value`, its value; `index` into a scene
 * list), the stage's pinned `model`, or, with no field, the `swap:` key itself.
 */
export interface ProblemPlace {
  readonly field?: SwapField | 'model';
  readonly index?: number;
  readonly value?: boolean;
}

export interface RouteProblem {
  readonly code: SwapProblemCode;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly at: ProblemPlace;
  readonly related?: readonly { readonly at: ProblemPlace; readonly message: string }[];
}

export interface RouteResult {
  readonly decision?: RouteDecision;
  readonly problems: readonly RouteProblem[];
}

const TITLES: Readonly<Record<Exclude<RouteId, 'local'>, string>> = {
  'wan-animate': 'Wan 2-2 Animate',
  'kling-motion': 'Kling 2-6 Motion Control Pro',
  'nano-banana': 'Nano Banana 2 Edit',
  'gpt-image': 'GPT Image 2 Edit',
  'flux-kontext': 'FLUX Kontext Pro',
};

const RULES: Readonly<Record<Exclude<RouteId, 'local'>, string>> = {
  'kling-motion':
    'a reference video ("video") -> Kling 2-6 Motion Control Pro: keeps the source motion (also the route for stylized characters in live action)',
  'wan-animate':
    'a voice track ("audio") without a reference video -> Wan 2-2 Animate: the default for video',
  'nano-banana':
    'an identity image and several scenes -> Nano Banana 2 Edit: one identity across a batch, identity first in image_urls, aspect_ratio and resolution locked',
  'gpt-image':
    'an identity image and one scene -> GPT Image 2 Edit: images [scene, identity] with a role-explicit preservation prompt',
  'flux-kontext':
    'a prose "describe" and one scene -> FLUX Kontext Pro: keeps everything but the face, changed to the description',
};

/** `Title (model/id)` of a hosted route. */
export function routeName(id: Exclude<RouteId, 'local'>): string {
  return `${TITLES[id]} (${HOSTED[id]})`;
}

/** Routes a swap intent. Pure; never throws for bad input. */
export function routeSwap(intent: SwapIntent, options: RouteOptions): RouteResult {
  const problems = [...kindProblems(intent), ...completenessProblems(intent)];
  if (problems.some((p) => p.severity === 'error')) return { problems };
  const wanted = wantedOf(intent);
  const unservable = combinationProblem(intent, wanted.wanted);
  if (unservable) return { problems: [unservable] };

  const candidates = routeCandidates(options.catalog);
  const preferred = preferredRoute(intent, wanted.wanted);
  const preferredCandidate = candidates.find((c) => c.id === preferred);
  const fits = new Map(candidates.map((c) => [c, c.fit(intent, wanted.wanted)] as const));

  let chosen: RouteCandidate | undefined;
  let rule: string;
  const notes: RouteProblem[] = [];
  if (options.pinned !== undefined) {
    const pinned = candidateFor(candidates, options.pinned);
    const fit = pinned && fits.get(pinned)!;
    if (!pinned || !fit || !fit.ok) {
      const server = preferredCandidate ?? candidates.find((c) => fits.get(c)!.ok);
      const why = !pinned
        ? `it is not one of the routes a swap can fill (${candidates
            .filter((c) => c.id !== 'local')
            .map((c) => c.model.id)
            .join(', ')})`
        : (fit as { reason: string }).reason;
      const instead = server
        ? `; ${modelName(server)} serves it: pin that, or remove "model" to let the router choose`
        : '; remove "model" to let the router choose';
      return {
        problems: [
          {
            code: 'swap-pinned-model',
            severity: 'error',
            message: `stage "${intent.stage}" pins ${options.pinned}, which cannot serve this swap: ${pinnedWords(pinned, why)}${instead}`,
            at: { field: 'model', value: true },
          },
        ],
      };
    }
    chosen = pinned;
    rule = `pinned by "model: ${pinned.model.id}" (it serves this swap; the router alone would pick ${
      preferredCandidate ? preferredCandidate.model.id : 'the same'
    })`;
  } else if (options.engine === 'local' && candidates.some((c) => c.id === 'local')) {
    const locals = candidates.filter((c) => c.id === 'local');
    chosen = locals.find((c) => fits.get(c)!.ok);
    if (chosen) {
      rule = `--engine local: ${chosen.model.id} serves an identity image and ${
        wanted.wanted === 'video' ? 'a video' : 'scenes'
      } offline (the hosted route would be ${preferredCandidate?.model.id ?? 'none'})`;
    } else {
      // "Prefer": where no local model serves the swap, the hosted route stays, said loudly.
      const why = locals.map((c) => `${c.model.id} ${(fits.get(c) as { reason: string }).reason}`).join('; ');
      notes.push({
        code: 'swap-no-local-route',
        severity: 'warning',
        message: `--engine local: no local model serves the swap of stage "${intent.stage}" (${why}), so it stays on ${
          preferredCandidate ? modelName(preferredCandidate) : 'the hosted route'
        } and needs RunComfy`,
        at: {},
      });
      chosen = preferredCandidate;
      rule = `${RULES[preferred]} (--engine local: no local model serves it)`;
    }
  } else if (options.engine === 'local') {
    const hosted = preferredCandidate ? modelName(preferredCandidate) : undefined;
    return {
      problems: [
        {
          code: 'swap-no-local-route',
          severity: 'error',
          message: `--engine local: the catalog has no local/ model for the swap of stage "${intent.stage}" (the offline engine's schema, e.g. schemas/models/local-face-swap.schema.json, is not installed)${
            hosted ? `; ${hosted} serves it on RunComfy: run without --engine local` : ''
          }`,
          at: {},
        },
      ],
    };
  } else {
    chosen = preferredCandidate;
    rule = RULES[preferred];
  }
  const unfit = chosen ? fits.get(chosen)! : undefined;
  if (chosen && unfit && !unfit.ok) {
    return {
      problems: [
        {
          code: 'swap-unservable',
          severity: 'error',
          message: `stage "${intent.stage}" routes to ${modelName(chosen)}, which cannot take it as written: ${unfit.reason}${unfit.fix ? `; ${unfit.fix}` : ''}`,
          at: {},
        },
      ],
    };
  }
  if (!chosen) {
    // The preferred route is missing from the catalog (a replaced catalog folder): say which.
    return {
      problems: [
        {
          code: 'swap-unservable',
          severity: 'error',
          message: `stage "${intent.stage}" routes to ${HOSTED[preferred]}, which is not in the model catalog (\`faceswap-pipe models\` lists it)`,
          at: {},
        },
      ],
    };
  }

  const fit = fits.get(chosen) as { ok: true; layout: Layout };
  const rejected = candidates
    .filter((c) => c !== chosen)
    .map((c): RejectedRoute => {
      const f = fits.get(c)!;
      return {
        model: c.model.id,
        title: c.model.title,
        reason: f.ok
          ? `could serve it (${callWords(intent, f.layout)}), but ${lostBecause(c, chosen, options, intent)}`
          : f.reason,
      };
    });
  const calls = callCount(intent, fit.layout);
  const decision: RouteDecision = {
    route: chosen.id,
    model: chosen.model.id,
    title: chosen.model.title,
    backend: chosen.model.backend,
    engine: options.engine,
    pinned: options.pinned !== undefined,
    wanted: wanted.wanted,
    wantedBecause: wanted.because,
    rule,
    inputs: inputsOf(intent),
    sceneCount: intent.scenes?.count,
    layout: fit.layout,
    calls,
    callsBecause: callWords(intent, fit.layout),
    rejected,
    style: intent.style,
    takes: chosen.takes,
  };
  return { decision, problems: [...notes, ...unusedFields(intent, chosen)] };
}

/** The result wanted: `output:` when given, else video when a voice track or a reference video is. */
export function wantedOf(intent: SwapIntent): { wanted: Wanted; because: string } {
  if (intent.output) return { wanted: intent.output, because: `"output: ${intent.output}"` };
  if (intent.video) return { wanted: 'video', because: '"video" given' };
  if (intent.audio) return { wanted: 'video', because: '"audio" given' };
  return { wanted: 'still', because: 'no "audio" or "video" given' };
}

/** The brief's choice for a servable intent. */
function preferredRoute(intent: SwapIntent, wanted: Wanted): Exclude<RouteId, 'local'> {
  if (wanted === 'video') return intent.video ? 'kling-motion' : 'wan-animate';
  if (!intent.identity) return 'flux-kontext';
  return intent.scenes?.count === 1 ? 'gpt-image' : 'nano-banana';
}

function lostBecause(
  loser: RouteCandidate,
  chosen: RouteCandidate,
  options: RouteOptions,
  intent: SwapIntent,
): string {
  if (options.pinned !== undefined) return `the stage pins ${chosen.model.id}`;
  if (loser.id === 'local') return `local models are chosen only with --engine local`;
  if (chosen.id === 'local') return `--engine local prefers ${chosen.model.id}`;
  if (loser.id === 'gpt-image')
    return intent.scenes !== undefined && intent.scenes.count === undefined
      ? `the brief sends a list of scenes to ${chosen.model.title}; known only at run time, the list costs one call per scene on either`
      : `several scenes batch on ${chosen.model.title} in fewer calls`;
  if (loser.id === 'nano-banana')
    return `a single hero still goes to ${chosen.model.title} (exact face, explicit roles)`;
  return `the brief prefers ${chosen.model.title}`;
}

function pinnedWords(pinned: RouteCandidate | undefined, why: string): string {
  return pinned ? `${pinned.id === 'local' ? 'it' : pinned.model.title} ${why}` : why;
}

function callCount(intent: SwapIntent, layout: Layout): number | undefined {
  const per =
    layout.kind === 'single' ? 1 : layout.kind === 'chunks' ? layout.chunks.length : intent.scenes?.count;
  if (per === undefined) return undefined;
  if (intent.foreachItems === null) return per;
  return intent.foreachItems === undefined ? undefined : per * intent.foreachItems;
}

function callWords(intent: SwapIntent, layout: Layout): string {
  const perItem = intent.foreachItems === null ? '' : ' per foreach item';
  switch (layout.kind) {
    case 'single': {
      const n = intent.scenes?.count;
      const what = n === undefined || n <= 1 ? '' : ` with all ${n} scenes`;
      return `1 call${what}${perItem}`;
    }
    case 'chunks': {
      const sizes = layout.chunks.map((c) => c.length).join(' + ');
      return `${layout.chunks.length} calls: ${intent.scenes?.count} scenes, at most ${layout.perCall} per call (${sizes}), the identity first in each; images merged back in scene order`;
    }
    case 'per-scene':
      return intent.scenes?.count === undefined
        ? 'one call per scene: the scene list is only known at run time, so it cannot be split into batches before running'
        : `${intent.scenes.count} calls, one per scene`;
  }
}

/** Every media input of an intent, identity first, then scenes, video, audio. */
export function inputsOf(intent: SwapIntent): MediaSeen[] {
  return [
    ...(intent.identity ? [intent.identity] : []),
    ...(intent.scenes?.items ?? []),
    ...(intent.video ? [intent.video] : []),
    ...(intent.audio ? [intent.audio] : []),
  ];
}

/** Optional fields the chosen route does not use: warnings, since the recipe still runs. */
function unusedFields(intent: SwapIntent, chosen: RouteCandidate): RouteProblem[] {
  return intent.given
    .filter((f) => !chosen.takes.includes(f))
    .map((field) => ({
      code: 'swap-unused-field' as const,
      severity: 'warning' as const,
      message: `"${field}" of stage "${intent.stage}" is not used: ${modelName(chosen)} takes no ${
        field === 'prompt' ? 'prompt' : `"${field}"`
      }${chosen.takes.length > 0 ? ` (it takes ${chosen.takes.map((t) => `"${t}"`).join(', ')})` : ''}`,
      at: { field },
    }));
}

/** `Title (model/id)` for the hosted routes; a local model's id alone (its title is long). */
function modelName(candidate: RouteCandidate): string {
  return candidate.id === 'local' ? candidate.model.id : `${candidate.model.title} (${candidate.model.id})`;
}
