import type { ModelInfo } from '../catalog/model.js';
import { parseTemplate, RECIPE_CONTEXTS } from '../recipe/expressions.js';
import type { ValueNode } from '../recipe/types.js';
import type { DataPath } from '../recipe/yaml-index.js';
import { isJsonObject, type JsonValue } from '../util/json.js';
import type { RouteDecision, SwapField } from './route.js';
import { localFields } from './route-models.js';
import { fluxKontextPrompt, gptImagePrompt, nanoBananaPrompt } from './route-prompts.js';

/**
 * Turns a routing decision into an ordinary model stage: the model's input as a value tree
 * (the swap's own values and expressions, placed in the model's fields), plus, for a decision
 * that takes several calls, a generated `foreach` and `merge: 'images'`. The executor then
 * runs it like any stage written with `model:` and `input:`.
 */

/** A swap block's values as the builder needs them: the URL of every medium, the other fields. */
export interface SwapValues {
  readonly identity?: ValueNode;
  /** One URL node per scene, or one node that gives the whole list at run time. */
  readonly scenes?: { readonly items: readonly ValueNode[] } | { readonly list: ValueNode };
  readonly describe?: ValueNode;
  readonly video?: ValueNode;
  readonly audio?: ValueNode;
  readonly prompt?: ValueNode;
  readonly size?: ValueNode;
  readonly aspect_ratio?: ValueNode;
  readonly resolution?: ValueNode;
  /** Where generated expressions (`${{ item }}`) are said to be: the stage's `swap.scene`. */
  readonly scenePath: DataPath;
}

/** What a `swap:` stage becomes. */
export interface GeneratedStage {
  readonly input: ValueNode;
  /** One job per call: per chunk (a list of URLs each) or per scene. */
  readonly foreach?: ValueNode;
  readonly merge?: 'images';
  /** The swap field each input field comes from, for locating problems; absent: made by the router. */
  readonly sources: Readonly<Record<string, SwapField>>;
}

/** Builds the model stage for a decision. `values` must hold what the decision's route needs. */
export function buildSwapInput(
  decision: RouteDecision,
  values: SwapValues,
  model: ModelInfo,
): GeneratedStage {
  const item = itemNode(values.scenePath);
  const sceneNodes =
    'items' in (values.scenes ?? {}) ? (values.scenes as { items: readonly ValueNode[] }).items : [];
  const sceneList =
    values.scenes === undefined
      ? undefined
      : 'list' in values.scenes
        ? values.scenes.list
        : list([...sceneNodes]);
  const layout = decision.layout;
  const fanOut = (foreach: ValueNode) => ({
    foreach,
    ...(producesImages(model) && { merge: 'images' as const }),
  });
  const prompt = (fallback: string) => values.prompt ?? literal(fallback);

  switch (decision.route) {
    case 'wan-animate':
      return {
        input: map([
          ['image_url', values.identity!],
          ['audio_url', values.audio!],
        ]),
        sources: { image_url: 'identity', audio_url: 'audio' },
      };
    case 'kling-motion':
      return {
        input: map([
          ['character_image_url', values.identity!],
          ['reference_video_url', values.video!],
        ]),
        sources: { character_image_url: 'identity', reference_video_url: 'video' },
      };
    case 'gpt-image': {
      const scene = layout.kind === 'per-scene' ? item : sceneNodes[0]!;
      const input = map([
        ['prompt', prompt(gptImagePrompt(decision.style))],
        ['images', list([scene, values.identity!])],
        ['size', values.size ?? literal('auto')],
      ]);
      const sources = sourcesOf(values, { images: 'scene' }, ['prompt', 'size']);
      return layout.kind === 'per-scene' ? { input, ...fanOut(sceneList!), sources } : { input, sources };
    }
    case 'nano-banana': {
      const locked = [
        ['aspect_ratio', values.aspect_ratio ?? literal('auto')],
        ['resolution', values.resolution ?? literal('1K')],
      ] as const;
      const sources = sourcesOf(values, { image_urls: 'scene' }, ['prompt', 'aspect_ratio', 'resolution']);
      const head = ['prompt', prompt(nanoBananaPrompt(decision.style))] as const;
      switch (layout.kind) {
        case 'single':
          return {
            input: map([head, ['image_urls', list([values.identity!, ...sceneNodes])], ...locked]),
            sources,
          };
        case 'chunks':
          return {
            input: map([head, ['image_urls', item], ...locked]),
            ...fanOut(
              list(layout.chunks.map((c) => list([values.identity!, ...c.map((i) => sceneNodes[i]!)]))),
            ),
            sources,
          };
        case 'per-scene':
          return {
            input: map([head, ['image_urls', list([values.identity!, item])], ...locked]),
            ...fanOut(sceneList!),
            sources,
          };
      }
      break;
    }
    case 'flux-kontext': {
      const text = fluxKontextPrompt(decision.style);
      return {
        input: map([
          ['prompt', values.prompt ?? around(text.before, values.describe!, text.after)],
          ['image', sceneNodes[0]!],
          ...(values.aspect_ratio ? [['aspect_ratio', values.aspect_ratio] as const] : []),
        ]),
        sources: sourcesOf(values, { image: 'scene', prompt: values.prompt ? 'prompt' : 'describe' }, [
          'aspect_ratio',
        ]),
      };
    }
    case 'local': {
      const fields = localFieldsOf(model);
      if (decision.wanted === 'video')
        return {
          input: map([
            [fields.identity, values.identity!],
            [fields.video!, values.video!],
          ]),
          sources: { [fields.identity]: 'identity', [fields.video!]: 'video' },
        };
      const scene = fields.scene!;
      const sources = { [fields.identity]: 'identity', [scene]: 'scene' } as const;
      const asScene = (node: ValueNode) => (fields.sceneIsList ? list([node]) : node);
      switch (layout.kind) {
        case 'single':
          return {
            input: map([
              [fields.identity, values.identity!],
              [
                scene,
                fields.sceneIsList && (sceneNodes.length !== 1 || 'list' in values.scenes!)
                  ? sceneList!
                  : sceneNodes[0]!,
              ],
            ]),
            sources,
          };
        case 'chunks':
          return {
            input: map([
              [fields.identity, values.identity!],
              [scene, item],
            ]),
            ...fanOut(list(layout.chunks.map((c) => list(c.map((i) => sceneNodes[i]!))))),
            sources,
          };
        case 'per-scene':
          return {
            input: map([
              [fields.identity, values.identity!],
              [scene, asScene(item)],
            ]),
            ...fanOut(sceneList!),
            sources,
          };
      }
    }
  }
  throw new Error(`no input builder for route ${decision.route}`);
}

/** The local model's field names (the router checked that they exist). */
function localFieldsOf(model: ModelInfo): {
  identity: string;
  scene?: string;
  sceneIsList: boolean;
  video?: string;
} {
  const fields = localFields(model)!;
  return {
    identity: fields.identity,
    ...(fields.scene && { scene: fields.scene.name }),
    sceneIsList: fields.scene?.list ?? false,
    ...(fields.video !== undefined && { video: fields.video }),
  };
}

/** True when the model's documented output has an `images` list: chunked calls can then be merged. */
function producesImages(model: ModelInfo): boolean {
  const properties = model.outputs?.['properties'];
  return isJsonObject(properties) && 'images' in properties;
}

/** `${{ item }}`, said to be at `path` (the swap's scene field) for any message about it. */
function itemNode(path: DataPath): ValueNode {
  const parsed = parseTemplate('${{ item }}', RECIPE_CONTEXTS);
  if (parsed.kind !== 'template') throw new Error('cannot parse ${{ item }}');
  return { kind: 'template', template: parsed.template, path };
}

function literal(value: string): ValueNode {
  return { kind: 'literal', value };
}

function list(items: readonly ValueNode[]): ValueNode {
  return items.every((i) => i.kind === 'literal')
    ? { kind: 'literal', value: items.map(literalValue) }
    : { kind: 'list', items };
}

function map(entries: readonly (readonly [string, ValueNode])[]): ValueNode {
  return entries.every(([, n]) => n.kind === 'literal')
    ? { kind: 'literal', value: Object.fromEntries(entries.map(([k, n]) => [k, literalValue(n)])) }
    : { kind: 'map', entries };
}

function literalValue(node: ValueNode): JsonValue {
  return node.kind === 'literal' ? node.value : null;
}

/** `fixed` plus each optional field the author gave, which goes to the input field of the same name. */
function sourcesOf(
  values: SwapValues,
  fixed: Readonly<Record<string, SwapField>>,
  optional: readonly ('prompt' | 'size' | 'aspect_ratio' | 'resolution')[],
): Record<string, SwapField> {
  const out: Record<string, SwapField> = { ...fixed };
  for (const field of optional) if (values[field] !== undefined) out[field] = field;
  return out;
}

/**
 * `before + text + after` where `text` is a literal or an expression: an expression is kept as
 * one template (evaluated at run time like any other), a literal is joined now. A description
 * that ends with a full stop loses it, so the sentence does not end twice.
 */
function around(before: string, text: ValueNode, after: string): ValueNode {
  if (text.kind === 'literal')
    return typeof text.value === 'string'
      ? literal(`${before}${text.value.trim().replace(/[.!]+$/, '')}${after}`)
      : text;
  if (text.kind !== 'template') return text;
  const template = text.template;
  return {
    kind: 'template',
    template: {
      source: `${before}${template.source.trim()}${after}`,
      parts: [before, ...template.parts, after],
      whole: false,
    },
    path: text.path,
  };
}
