import type { Backend, ModelInfo } from '../../catalog/model.js';
import {
  routeSwap,
  type MediaSeen,
  type ProblemPlace,
  type RouteDecision,
  type SceneSet,
  type SwapField,
  type SwapIntent,
  type SwapMediaField,
} from '../../plan/route.js';
import { buildSwapInput, type GeneratedStage, type SwapValues } from '../../plan/route-input.js';
import { FIELD_KIND } from '../../plan/route-problems.js';
import { kindFromUrl, type KindSource, type MediaKind } from '../../plan/route-media.js';
import type { SwapOption } from '../../plan/route-models.js';
import { isJsonObject, kindOf, type JsonValue } from '../../util/json.js';
import type { AnalysisContext } from '../context.js';
import type { DiagnosticLocation } from '../diagnostic.js';
import { fieldPath } from '../describe.js';
import { PreparedScope, type Template } from '../expressions.js';
import { declaredNames, isUnder, readsDeclaredVars, resolveValue } from '../resolve.js';
import type { StageId, StageSpec, ValueNode } from '../types.js';
import type { DataPath } from '../yaml-index.js';
import { checkInput } from './model-input.js';
import { MAX_STATIC_ITEMS, readsItem } from '../../policy/sent-values.js';

/**
 * Turns every `swap:` stage into an ordinary model stage: finds the kind of each of its inputs,
 * asks the router (`src/plan/route.ts`) for a route, reports what stops it at the swap block or
 * the field to change, and puts the route's model, its generated input (and, for a batch split
 * into calls, a generated `foreach` and `merge: 'images'`) into the stage. The generated input
 * is checked against the model's schema here, with problems pointed at the swap field they
 * come from. Stages are routed upstream first, so an expression on another swap stage's
 * results knows what that stage produces.
 */
export function routeSwapStages(
  ctx: AnalysisContext,
  stages: ReadonlyMap<StageId, StageSpec>,
  vars: Readonly<Record<string, JsonValue>>,
  engine: Backend,
): Map<StageId, StageSpec> {
  const out = new Map(stages);
  let anySwap = false;
  for (const stage of stages.values()) if (stage.swap) anySwap = true;
  if (!anySwap) return out;
  const declared = declaredNames(Object.keys(vars));
  const scope = new PreparedScope({ vars, stages: {} });
  const done = new Set<StageId>();
  const visiting = new Set<StageId>();
  const ready = (template: Template) => readsDeclaredVars(template, declared);

  const visit = (id: StageId): void => {
    if (done.has(id) || visiting.has(id)) return;
    visiting.add(id);
    const spec = out.get(id)!;
    for (const dep of spec.dependsOn) if (out.has(dep)) visit(dep);
    if (spec.swap) {
      const routed = routeStage(spec, spec.swap);
      if (routed) out.set(id, routed);
    }
    visiting.delete(id);
    done.add(id);
  };

  /** Reads a swap stage's intent, routes it, and builds the model stage; undefined when it cannot be. */
  const routeStage = (spec: StageSpec, swap: ValueNode): StageSpec | undefined => {
    const base: DataPath = ['stages', spec.id];
    const swapPath: DataPath = [...base, 'swap'];
    // A swap that is not a mapping is reported by the recipe schema.
    if (!(swap.kind === 'map' || (swap.kind === 'literal' && isJsonObject(swap.value)))) return undefined;
    checkWritten(spec.id, swap, swapPath);
    if (ctx.index.keyRanges(base).has('input')) {
      ctx.error(
        'model-or-swap',
        `stage "${spec.id}" gives both "input" and "swap": give "swap" (faceswap-pipe builds the input) or "model" with "input", not both`,
        ctx.at([...base, 'input'], true),
      );
      return undefined;
    }
    // An unknown pinned model is reported by the model checks.
    if (spec.model !== undefined && !ctx.catalog.get(spec.model)) return undefined;

    const foreachItems = userForeachItems(spec);
    const reader = new IntentReader(spec, swap, foreachItems.items, foreachItems.broken);
    const intent = reader.intent(foreachItems.count);
    const result = routeSwap(intent, {
      catalog: ctx.catalog,
      engine,
      ...(spec.model !== undefined && { pinned: spec.model }),
    });
    for (const problem of result.problems) {
      const related = (problem.related ?? []).map((r) => ({ ...place(spec.id, r.at), message: r.message }));
      if (problem.severity === 'error')
        ctx.error(
          problem.code,
          problem.message,
          place(spec.id, problem.at),
          related.length > 0 ? related : undefined,
        );
      else ctx.warn(problem.code, problem.message, place(spec.id, problem.at));
    }
    const decision = result.decision;
    if (!decision) return undefined;
    const model = ctx.catalog.get(decision.model)!;
    const generated = buildSwapInput(decision, reader.values(swapPath), model);
    checkGenerated(spec, model, generated, decision);
    return {
      ...spec,
      model: decision.model,
      input: generated.input,
      ...(generated.foreach && { foreach: generated.foreach }),
      ...(generated.merge && { merge: generated.merge }),
      route: decision,
    };
  };

  /**
   * What the vars alone already break in the swap as written, reported now rather than when the
   * stage runs: an expression that fails (a list embedded in text), and a `describe` whose
   * var is not text. The generated input cannot say it: its prompt wraps `describe` in the
   * route's sentence, and its failures would point at the wrong place.
   */
  const checkWritten = (id: StageId, swap: ValueNode, swapPath: DataPath): void => {
    for (const problem of resolveValue(swap, scope, ready).errors) {
      const at =
        problem.source !== undefined && problem.offset !== undefined
          ? ctx.atText(problem.path, problem.source, problem.offset, problem.length ?? 1)
          : ctx.at(problem.path);
      ctx.error('expression-syntax', problem.message, at);
    }
    const describe = childOf(swap, 'describe');
    if (describe?.kind !== 'template' || !describe.template.whole || !ready(describe.template)) return;
    const resolved = resolveValue(describe, scope, ready);
    const value = resolved.value;
    if (resolved.errors.length > 0 || !(Array.isArray(value) || isJsonObject(value))) return;
    ctx.error(
      'invalid-type',
      `swap field "describe" of stage "${id}" must be text, the new face in prose, but ${describe.template.source} is ${kindOf(value)}: write the description itself (or a var that holds it); an image of the face goes in "identity"`,
      ctx.at([...swapPath, 'describe']),
    );
  };

  /**
   * The items of the stage's own `foreach`, when known before running. `broken` when the vars
   * alone already make it fail or give no list: the model checks report that at the foreach,
   * so its items are not "known only at run time" either.
   */
  const userForeachItems = (
    spec: StageSpec,
  ): { count: number | undefined | null; items: JsonValue[] | undefined; broken: boolean } => {
    if (!spec.foreach) return { count: null, items: undefined, broken: false };
    const resolved = resolveValue(spec.foreach, scope, ready);
    if (resolved.unknown.length > 0 || !Array.isArray(resolved.value)) {
      const broken = resolved.errors.length > 0 || resolved.unknown.length === 0;
      return { count: undefined, items: undefined, broken };
    }
    return { count: resolved.value.length, items: resolved.value as JsonValue[], broken: false };
  };

  const place = (id: StageId, at: ProblemPlace): DiagnosticLocation => {
    const base: DataPath = ['stages', id];
    if (at.field === undefined) return ctx.at([...base, 'swap'], true);
    if (at.field === 'model') return ctx.at([...base, 'model'], at.value !== true);
    const path: DataPath = [...base, 'swap', at.field, ...(at.index !== undefined ? [at.index] : [])];
    return ctx.at(path, at.value !== true);
  };

  /**
   * Checks the generated input against the model's schema, once per generated job where the
   * jobs are known now, and points each problem at the swap field its value came from.
   */
  const checkGenerated = (
    spec: StageSpec,
    model: ModelInfo,
    generated: GeneratedStage,
    decision: RouteDecision,
  ) => {
    let items: (JsonValue | undefined)[] = [undefined];
    // The router's calls, or else the stage's own foreach when the swap reads its items
    // (`aspect_ratio: ${{ item }}`); a swap that does not is checked once.
    const over =
      generated.foreach ?? (spec.swap !== undefined && readsItem(spec.swap) ? spec.foreach : undefined);
    if (over) {
      const list = resolveValue(over, scope, ready);
      items =
        list.unknown.length === 0 && Array.isArray(list.value)
          ? (list.value as JsonValue[]).slice(0, MAX_STATIC_ITEMS)
          : [undefined];
    }
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const bound = item !== undefined;
      const jobScope = bound ? new PreparedScope({ vars, stages: {}, item, index }) : scope;
      const jobReady = (t: Template) => readsDeclaredVars(t, declared, bound);
      const resolved = resolveValue(generated.input, jobScope, jobReady);
      if (!isJsonObject(resolved.value)) return;
      // The stage's own foreach items are named; the router's calls are not the author's.
      const which = bound && !generated.foreach ? ` (foreach item ${index})` : '';
      const describe = (path: DataPath) => {
        const head = path[0];
        const field = typeof head === 'string' ? generated.sources[head] : undefined;
        return field !== undefined && field === head && path.length === 1
          ? `swap field "${field}" of stage "${spec.id}"${which}`
          : `input field "${fieldPath(path)}" that the swap of stage "${spec.id}"${which} builds for ${decision.model}`;
      };
      const broken = ctx.brokenValues.filter((p) => isUnder(p, [['stages', spec.id, 'swap']]));
      const unknown = broken.length > 0 ? [[] as DataPath] : resolved.unknown;
      for (const problem of checkInput(model, resolved.value, spec.id, unknown, describe)) {
        // The same problem in every item (a field that does not read the item) is said once.
        const key = which === '' ? problem.message : problem.message.split(which).join('');
        if (seen.has(key)) continue;
        seen.add(key);
        const head = problem.path[0];
        const field = typeof head === 'string' ? generated.sources[head] : undefined;
        const location = place(spec.id, field === undefined ? {} : { field, value: true });
        if (problem.severity === 'error') ctx.error(problem.code, problem.message, location);
        else ctx.warn(problem.code, problem.message, location);
      }
    });
  };

  /** Reads the swap block: media with their kinds, the other fields, the value nodes to build from. */
  class IntentReader {
    readonly #spec: StageSpec;
    readonly #swap: ValueNode;
    readonly #foreachItems: JsonValue[] | undefined;
    /** The foreach fails (or gives no list) with the vars alone: reported at the foreach. */
    readonly #foreachBroken: boolean;
    #scenes: { set: SceneSet; values: NonNullable<SwapValues['scenes']> } | undefined;
    #urls = new Map<SwapMediaField, ValueNode>();

    constructor(
      spec: StageSpec,
      swap: ValueNode,
      foreachItems: JsonValue[] | undefined,
      foreachBroken: boolean,
    ) {
      this.#spec = spec;
      this.#swap = swap;
      this.#foreachItems = foreachItems;
      this.#foreachBroken = foreachBroken;
    }

    intent(foreachCount: number | undefined | null): SwapIntent {
      const identity = this.#media('identity');
      const video = this.#media('video');
      const audio = this.#media('audio');
      this.#scenes = this.#readScenes();
      const describe = this.#child('describe');
      const style = this.#literal('style');
      const output = this.#literal('output');
      const given = (['prompt', 'size', 'aspect_ratio', 'resolution'] as const).filter(
        (f): f is SwapOption => this.#child(f) !== undefined,
      );
      return {
        stage: this.#spec.id,
        ...(identity && { identity }),
        ...(describe && { describe: textOf(describe) }),
        ...(this.#scenes && { scenes: this.#scenes.set }),
        ...(video && { video }),
        ...(audio && { audio }),
        style: style === 'stylized' ? 'stylized' : 'photoreal',
        ...((output === 'still' || output === 'video') && { output }),
        given,
        foreachItems: foreachCount,
      };
    }

    values(swapPath: DataPath): SwapValues {
      const opt = (f: SwapField) => this.#child(f);
      const entries = {
        identity: this.#urls.get('identity'),
        scenes: this.#scenes?.values,
        describe: opt('describe'),
        video: this.#urls.get('video'),
        audio: this.#urls.get('audio'),
        prompt: opt('prompt'),
        size: opt('size'),
        aspect_ratio: opt('aspect_ratio'),
        resolution: opt('resolution'),
      };
      const values: Record<string, unknown> = { scenePath: [...swapPath, 'scene'] };
      for (const [k, v] of Object.entries(entries)) if (v !== undefined) values[k] = v;
      return values as unknown as SwapValues;
    }

    #child(key: string): ValueNode | undefined {
      return childOf(this.#swap, key);
    }

    #literal(key: string): JsonValue | undefined {
      const node = this.#child(key);
      return node?.kind === 'literal' ? node.value : undefined;
    }

    #media(field: Exclude<SwapMediaField, 'scene'>): MediaSeen | undefined {
      const node = this.#child(field);
      if (!node) return undefined;
      const read = this.#readMedia(field, node, undefined);
      this.#urls.set(field, read.url);
      return read.seen;
    }

    /** One media value: a URL, an expression, or `{url, medium}`. */
    #readMedia(
      field: SwapMediaField,
      node: ValueNode,
      index: number | undefined,
    ): { seen: MediaSeen; url: ValueNode } {
      const at = index === undefined ? {} : { index };
      const url = childOf(node, 'url');
      if (url !== undefined) {
        const medium = childOf(node, 'medium');
        const kind = medium?.kind === 'literal' ? medium.value : undefined;
        if (kind === 'image' || kind === 'video' || kind === 'audio') {
          // "medium" says the kind of one URL; a list in its place is still no URL.
          const notOne = url.kind === 'template' ? this.#kindOf(url).notOne : undefined;
          if (notOne) return { seen: { field, ...at, ...this.#kindOf(url), kind: undefined }, url };
          return { seen: { field, ...at, kind, source: { by: 'medium' }, text: textOf(url) }, url };
        }
        // A medium that is none of those was reported by the recipe schema (with the choices),
        // for a single scene; inside a list the schema's message is vaguer, so the router says it.
        if (medium !== undefined && index === undefined)
          return {
            seen: {
              field,
              ...at,
              kind: undefined,
              source: { by: 'unknown', why: 'its medium is not image, video or audio' },
              text: textOf(url),
              silent: true,
            },
            url,
          };
        return { seen: { field, ...at, ...this.#kindOf(url, field) }, url };
      }
      return { seen: { field, ...at, ...this.#kindOf(node, field) }, url: node };
    }

    /** The kind of a URL value, and its text (a var's value when it has one). */
    #kindOf(
      node: ValueNode,
      field?: SwapMediaField,
    ): {
      kind: MediaKind | undefined;
      source: KindSource;
      text: string;
      silent?: boolean;
      notOne?: MediaSeen['notOne'];
    } {
      if (node.kind === 'literal') {
        if (typeof node.value !== 'string')
          return {
            kind: undefined,
            source: { by: 'unknown', why: 'it is not a URL' },
            text: JSON.stringify(node.value),
            silent: true,
          };
        return { ...kindFromUrl(node.value), text: node.value };
      }
      if (node.kind !== 'template')
        return { kind: undefined, source: { by: 'unknown', why: 'it is not a URL' }, text: '', silent: true };
      const template = node.template;
      const text = template.source;
      if (ctx.brokenValues.some((p) => isUnder(p, [node.path])))
        return {
          kind: undefined,
          source: { by: 'unknown', why: 'the expression is broken' },
          text,
          silent: true,
        };
      const refs = template.parts.flatMap((p) => (typeof p === 'string' ? [] : p.references));
      if (
        refs.some(
          (r) =>
            r.context === 'vars' && typeof r.path[0] === 'string' && !declared.has(r.path[0].toLowerCase()),
        )
      )
        return { kind: undefined, source: { by: 'unknown', why: 'an undeclared var' }, text, silent: true };
      if (ready(template)) {
        const resolved = resolveValue(node, scope, ready);
        const value = resolved.value;
        if (typeof value === 'string') return { ...kindFromUrl(value), text: value };
        const notUrl = { kind: undefined, source: { by: 'unknown', why: 'it is not a URL' }, text } as const;
        // A failed evaluation is reported with the swap's other expressions (checkWritten).
        if (resolved.errors.length > 0) return { ...notUrl, silent: true };
        return { ...notUrl, notOne: { is: kindOf(value) } };
      }
      // `${{ item }}` of a foreach over an upstream stage's results is what that stage makes.
      const foreach = this.#spec.foreach;
      const itemRefs =
        refs.some((r) => r.context === 'item') && !this.#foreachItems && foreach?.kind === 'template';
      const stageRef = itemRefs
        ? foreach.template.parts
            .flatMap((p) => (typeof p === 'string' ? [] : p.references))
            .find((r) => r.context === 'stages' && typeof r.path[0] === 'string')
        : refs.find((r) => r.context === 'stages' && typeof r.path[0] === 'string');
      if (stageRef) {
        const upstream = out.get(stageRef.path[0] as StageId);
        const model = upstream?.model === undefined ? undefined : ctx.catalog.get(upstream.model);
        if (!upstream || !model)
          return {
            kind: undefined,
            source: { by: 'unknown', why: 'the stage it reads has no model' },
            text,
            silent: true,
          };
        return {
          kind: model.medium === 'video' ? 'video' : 'image',
          source: { by: 'upstream', stage: upstream.id, model: model.id },
          text,
        };
      }
      if (refs.some((r) => r.context === 'item')) {
        const items = this.#foreachItems;
        if (!items && this.#foreachBroken)
          return { kind: undefined, source: { by: 'unknown', why: 'the foreach fails' }, text, silent: true };
        if (!items)
          return {
            kind: undefined,
            source: { by: 'unknown', why: 'the foreach items are only known at run time' },
            text,
          };
        const values = items.map(
          (i, index) => resolveValue(node, new PreparedScope({ vars, stages: {}, item: i, index })).value,
        );
        // A mapping item may be a media value ({url, medium}): its kind is told below, if at all.
        const notString = values.findIndex((v) => typeof v !== 'string' && !isJsonObject(v));
        if (notString >= 0)
          return {
            kind: undefined,
            source: { by: 'unknown', why: 'the foreach items are not URLs' },
            text,
            notOne: { is: kindOf(values[notString]), item: notString },
          };
        const found = values.map((v) => (typeof v === 'string' ? kindFromUrl(v) : undefined));
        const kinds = new Set(found.map((f) => f?.kind));
        const [only] = [...kinds];
        if (kinds.size === 1 && only !== undefined)
          return { kind: only, source: { by: 'foreach-items' }, text };
        // Items of several kinds: one known to be the wrong kind for this field is an error
        // (an .mp4 item as identity), named by its index; the others are left to run time.
        const want = field === undefined ? undefined : FIELD_KIND[field];
        const wrong = found.findIndex((f) => f?.kind !== undefined && f.kind !== want);
        if (want !== undefined && wrong >= 0) {
          const { kind, source } = found[wrong]!;
          return {
            kind,
            source: {
              by: 'foreach-items',
              item: wrong,
              ...(source.by === 'extension' && { extension: source.extension }),
            },
            text,
          };
        }
        return {
          kind: undefined,
          source: { by: 'unknown', why: 'the foreach items are not all of one known kind' },
          text,
        };
      }
      return { kind: undefined, source: { by: 'unknown', why: 'its value is only known at run time' }, text };
    }

    /** `scene`: one still, a list written out, a var holding a list, or an upstream stage's list. */
    #readScenes(): { set: SceneSet; values: NonNullable<SwapValues['scenes']> } | undefined {
      const node = this.#child('scene');
      if (!node) return undefined;
      const itemsOf = (nodes: readonly ValueNode[]) => {
        const read = nodes.map((n, i) => this.#readMedia('scene', n, i));
        return {
          set: { count: read.length, items: read.map((r) => r.seen) },
          values: { items: read.map((r) => r.url) },
        };
      };
      if (node.kind === 'literal' && Array.isArray(node.value))
        return itemsOf((node.value as JsonValue[]).map((value) => ({ kind: 'literal', value })));
      if (node.kind === 'list') return itemsOf(node.items);
      if (node.kind === 'template' && !ctx.brokenValues.some((p) => isUnder(p, [node.path]))) {
        if (ready(node.template)) {
          const value = resolveValue(node, scope, ready).value;
          if (Array.isArray(value)) {
            const read = itemsOf((value as JsonValue[]).map((v) => ({ kind: 'literal', value: v })));
            // The recipe schema checks a list written out; a var's list is checked here.
            const items = read.set.items.map((seen, i) => {
              const v = (value as JsonValue[])[i];
              return typeof v === 'string' || isJsonObject(v) ? seen : { ...seen, notOne: { is: kindOf(v) } };
            });
            return { ...read, set: { ...read.set, items } };
          }
        } else if (this.#isUpstreamList(node.template)) {
          const read = this.#readMedia('scene', node, undefined);
          return { set: { count: undefined, items: [read.seen] }, values: { list: node } };
        }
      }
      const one = this.#readMedia('scene', node, undefined);
      return { set: { count: 1, items: [one.seen] }, values: { items: [one.url] } };
    }

    /** True when a whole expression reads a list from an upstream stage (`outputs.images`, `files`). */
    #isUpstreamList(template: Template): boolean {
      if (!template.whole) return false;
      const part = template.parts[0];
      if (typeof part === 'string' || part === undefined || part.references.length !== 1) return false;
      const ref = part.references[0]!;
      if (ref.context !== 'stages' || ref.dynamic || typeof ref.path[0] !== 'string') return false;
      const upstream = out.get(ref.path[0] as StageId);
      const [, kind, ...rest] = ref.path;
      if (!upstream) return false;
      if (kind === 'files') return rest.length === 0;
      if (kind !== 'outputs') return false;
      const model = upstream.model === undefined ? undefined : ctx.catalog.get(upstream.model);
      // `outputs.*.images[0]` of a fan-out: one value per item, so a list.
      if (rest.some((segment) => typeof segment === 'object')) return true;
      let segments = rest;
      if (upstream.foreach && upstream.merge === undefined) {
        // The bare outputs of a fan-out are the items' output objects, not URLs.
        if (segments.length === 0) return false;
        segments = segments.slice(1);
      }
      let schema: Record<string, unknown> | undefined = model?.outputs ?? undefined;
      for (const segment of segments) {
        if (!schema) return false;
        if (typeof segment === 'string') {
          const properties = isJsonObject(schema['properties'])
            ? (schema['properties'] as Record<string, unknown>)
            : {};
          const next = properties[segment];
          schema = isJsonObject(next) ? next : undefined;
        } else {
          schema = isJsonObject(schema['items']) ? schema['items'] : undefined;
        }
      }
      return schema?.['type'] === 'array';
    }
  }

  for (const id of stages.keys()) visit(id);
  return out;
}

/** A child of a mapping node (literal or not). */
function childOf(node: ValueNode, key: string): ValueNode | undefined {
  if (node.kind === 'literal') {
    if (!isJsonObject(node.value) || !(key in node.value)) return undefined;
    return { kind: 'literal', value: node.value[key]! };
  }
  if (node.kind === 'map') return node.entries.find(([k]) => k === key)?.[1];
  return undefined;
}

/** A value's text for `route`: the string, or the expression as written. */
function textOf(node: ValueNode): string {
  if (node.kind === 'literal')
    return typeof node.value === 'string' ? node.value : JSON.stringify(node.value);
  if (node.kind === 'template') return node.template.source;
  return '';
}
