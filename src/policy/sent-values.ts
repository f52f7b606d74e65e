import type { ModelInfo } from '../catalog/model.js';
import { PreparedScope, type Template } from '../recipe/expressions.js';
import { declaredNames, readsDeclaredVars, resolveValue } from '../recipe/resolve.js';
import type { StageId, StageSpec, ValueNode } from '../recipe/types.js';
import type { DataPath } from '../recipe/yaml-index.js';
import { isJsonObject, type JsonValue } from '../util/json.js';
import { hasScheme } from './glob.js';
import type { MediaKind } from '../plan/route-media.js';
import type { Mutable } from '../util/mutable.js';

/**
 * Every string a stage sends to its model, with what policy needs to know about it: whether it
 * is a media reference (a field the model documents as image, video or audio, or any URL), an
 * identity image, or text (prompts); whether the recipe's author wrote it (a literal, a var,
 * `--set`, a `foreach` item from those) or it comes from an earlier stage's outputs; and where
 * in the recipe it was written, for diagnostics.
 */
export interface SentValue {
  /** `input` for a model stage, `swap` for a `swap:` stage. */
  readonly root: 'input' | 'swap';
  /** Path below the root: `['image_urls', 0]`. */
  readonly field: DataPath;
  readonly value: string;
  readonly media: boolean;
  readonly identity: boolean;
  readonly origin: ValueOrigin;
  /** The recipe data path of the node the value was written at (a literal, or the template that made it). */
  readonly at: DataPath;
  /** True when `at` is where this very string is written (a literal), so a piece of it can be underlined. */
  readonly literal: boolean;
  /** The var a template read, when it is exactly `${{ vars.NAME }}` (its value is written there). */
  readonly fromVar?: string;
  /** The `foreach` item the value belongs to. */
  readonly item?: number;
  /**
   * With `item`: how many items the foreach has, all of them. Analysis expands only the first
   * MAX_STATIC_ITEMS, so a count of items with a problem says when it is a lower bound.
   */
  readonly itemCount?: number;
}

export type ValueOrigin =
  { readonly kind: 'author' } | { readonly kind: 'upstream'; readonly stages: readonly StageId[] };

const AUTHOR: ValueOrigin = { kind: 'author' };

/** Items of a `foreach` list that analysis expands; the rest are checked when the stage runs. */
export const MAX_STATIC_ITEMS = 1000;

/**
 * What follows "…, for foreach item 2" when `more` other items have the same problem, as far as
 * analysis looked: past MAX_STATIC_ITEMS items the count is a lower bound, and says so.
 */
export function moreItems(more: number, total: number, noun = 'item', where = ''): string {
  const cut = total > MAX_STATIC_ITEMS;
  const others =
    more > 0 ? `; ${cut ? 'at least ' : ''}${more} more ${noun}${more === 1 ? '' : 's'}${where} too` : '';
  const checked = cut
    ? ` (only the first ${MAX_STATIC_ITEMS.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} items are checked before running)`
    : '';
  return others + checked;
}

/** Which fields of a root carry media, and which the identity image. */
export interface FieldRoles {
  isMedia(field: DataPath): boolean;
  isIdentity(field: DataPath): boolean;
  /** The kind of media a field takes (`x-media`), when the schema names exactly one. */
  mediaKind(field: DataPath): MediaKind | undefined;
}

/** Field roles from a model's schema (`x-media`) and catalog facts (`identityFields`). */
const rolesCache = new WeakMap<ModelInfo, FieldRoles>();

export function modelRoles(model: ModelInfo | undefined): FieldRoles {
  if (!model) return computeRoles(undefined);
  let roles = rolesCache.get(model);
  if (!roles) rolesCache.set(model, (roles = computeRoles(model)));
  return roles;
}

function computeRoles(model: ModelInfo | undefined): FieldRoles {
  // name -> whether the field itself, and/or the items of a list in it, carry media (a field may
  // allow both through anyOf/oneOf: "one path, or a list of paths").
  const media = new Map<string, { field: boolean; items: boolean; kind: MediaKind | undefined }>();
  const properties =
    model && isJsonObject(model.inputSchema['properties']) ? model.inputSchema['properties'] : {};
  for (const [name, raw] of Object.entries(properties)) {
    const branches = [raw, ...alternatives(raw)].filter(isJsonObject);
    const field = branches.some((b) => typeof b['x-media'] === 'string');
    const items = branches.some((b) => isJsonObject(b['items']) && typeof b['items']['x-media'] === 'string');
    const kinds = new Set(
      branches.flatMap((b) => [b['x-media'], isJsonObject(b['items']) ? b['items']['x-media'] : undefined]),
    );
    kinds.delete(undefined);
    const [only] = kinds;
    const kind = kinds.size === 1 && isMediaKind(only) ? only : undefined;
    if (field || items) media.set(name, { field, items, kind });
  }
  const identity = new Set(model?.identityFields ?? []);
  const isMedia = (field: DataPath) => {
    const kind = typeof field[0] === 'string' ? media.get(field[0]) : undefined;
    if (!kind) return false;
    return (
      (kind.field && field.length === 1) || (kind.items && field.length === 2 && typeof field[1] === 'number')
    );
  };
  return {
    isMedia,
    isIdentity: (field) => identity.size > 0 && identity.has(pointer(field)),
    mediaKind: (field) => (isMedia(field) ? media.get(field[0] as string)!.kind : undefined),
  };
}

function alternatives(schema: JsonValue): JsonValue[] {
  if (!isJsonObject(schema)) return [];
  return ['anyOf', 'oneOf'].flatMap((k) => (Array.isArray(schema[k]) ? (schema[k] as JsonValue[]) : []));
}

/** A `swap:` stage's media fields: `identity`, `scene` (one or a list), `video`, `audio`, each a URL or `{url}`. */
export const SWAP_ROLES: FieldRoles = {
  isMedia: (field) => {
    const [head, ...rest] = field;
    if (head !== 'identity' && head !== 'scene' && head !== 'video' && head !== 'audio') return false;
    const tail = head === 'scene' && typeof rest[0] === 'number' ? rest.slice(1) : rest;
    return tail.length === 0 || (tail.length === 1 && tail[0] === 'url');
  },
  isIdentity: (field) => field[0] === 'identity' && (field.length === 1 || field[1] === 'url'),
  // The router finds and checks the kind of each swap field itself (rules/swap.ts).
  mediaKind: () => undefined,
};

function isMediaKind(value: unknown): value is MediaKind {
  return value === 'image' || value === 'video' || value === 'audio';
}

/** JSON pointer of a path, as the catalog's `identityFields` are written. */
export function pointer(field: DataPath): string {
  return field.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

interface WalkContext {
  readonly root: 'input' | 'swap';
  readonly base: DataPath;
  readonly roles: FieldRoles;
  /** Stages a `foreach` list reads: items from it count as upstream values. */
  readonly foreachStages: readonly StageId[];
  readonly item: number | undefined;
  /** With `item`: the foreach's length, all items. */
  readonly itemCount?: number;
  readonly out: SentValue[];
}

interface Inherited {
  readonly origin: ValueOrigin;
  readonly at: DataPath;
  readonly fromVar?: string;
  /** `at` is the value's own place (below a literal), so it follows the value down. */
  readonly exact: boolean;
  /** The value reads `item` or `index`: it belongs to one foreach item. */
  readonly perItem?: boolean;
}

/** Walks a written value tree alongside its evaluated JSON, collecting every string. */
function walk(
  ctx: WalkContext,
  node: ValueNode | undefined,
  value: JsonValue,
  field: DataPath,
  from: Inherited | undefined,
): void {
  let here = from;
  if (node !== undefined) {
    switch (node.kind) {
      case 'literal':
        here = { origin: AUTHOR, at: [...ctx.base, ...field], exact: true };
        node = undefined;
        break;
      case 'template':
        here = templateOrigin(node.template, node.path, ctx.foreachStages);
        node = undefined;
        break;
      case 'list':
        if (!Array.isArray(value)) return;
        node.items.forEach((child, i) =>
          walk(ctx, child, (value as readonly JsonValue[])[i] ?? null, [...field, i], here),
        );
        return;
      case 'map':
        if (!isJsonObject(value)) return;
        for (const [key, child] of node.entries) walk(ctx, child, value[key] ?? null, [...field, key], here);
        return;
    }
  }
  if (here === undefined) return;
  if (typeof value === 'string') {
    // An empty prompt or option sends nothing; an empty media field is refused by the URL policy.
    if (value === '' && !ctx.roles.isMedia(field)) return;
    const media = ctx.roles.isMedia(field) || looksLikeUrl(value);
    const sent: Mutable<SentValue> = {
      root: ctx.root,
      field,
      value,
      media,
      identity: ctx.roles.isIdentity(field),
      origin: here.origin,
      at: here.at,
      literal: here.exact,
    };
    if (here.fromVar !== undefined) sent.fromVar = here.fromVar;
    // A swap: stage's literal identity is the same for every item: it names no item.
    if (ctx.item !== undefined && (ctx.root !== 'swap' || here.perItem === true)) {
      sent.item = ctx.item;
      if (ctx.itemCount !== undefined) sent.itemCount = ctx.itemCount;
    }
    ctx.out.push(sent);
    return;
  }
  const inner: Inherited = here;
  const deeper = (sub: string | number): Inherited =>
    inner.exact ? { ...inner, at: [...inner.at, sub] } : inner;
  if (Array.isArray(value))
    (value as readonly JsonValue[]).forEach((v, i) => walk(ctx, undefined, v, [...field, i], deeper(i)));
  else if (isJsonObject(value))
    for (const [k, v] of Object.entries(value)) walk(ctx, undefined, v, [...field, k], deeper(k));
}

function templateOrigin(template: Template, path: DataPath, foreachStages: readonly StageId[]): Inherited {
  const stages = new Set<StageId>();
  let vars = 0;
  let varName: string | undefined;
  let perItem = false;
  for (const part of template.parts) {
    if (typeof part === 'string') continue;
    for (const ref of part.references) {
      if (ref.context === 'item' || ref.context === 'index') perItem = true;
      if (ref.context === 'stages' && typeof ref.path[0] === 'string') stages.add(ref.path[0] as StageId);
      if (ref.context === 'item') for (const s of foreachStages) stages.add(s);
      if (ref.context === 'vars') {
        vars++;
        if (typeof ref.path[0] === 'string') varName = ref.path[0];
      }
    }
  }
  const single =
    template.whole && vars === 1 && stages.size === 0 && template.parts.length === 1 ? varName : undefined;
  if (stages.size > 0)
    return { origin: { kind: 'upstream', stages: [...stages].sort() }, at: path, exact: false, perItem };
  return {
    origin: AUTHOR,
    at: path,
    exact: false,
    perItem,
    ...(single !== undefined && { fromVar: single }),
  };
}

/** True for values that are URLs whatever field they sit in (`https://…`, `file:…`, `data:…`). */
export function looksLikeUrl(value: string): boolean {
  const v = value.trim();
  return (
    /^[A-Za-z][A-Za-z0-9+.-]+:\/\//.test(v) || (hasScheme(v) && /^(file|data|blob|javascript|ftp):/i.test(v))
  );
}

/** The stages a value tree's expressions read. */
/** Whether a value tree reads `item` or `index` (a stage's own foreach). */
export function readsItem(node: ValueNode): boolean {
  switch (node.kind) {
    case 'literal':
      return false;
    case 'template':
      return node.template.parts.some(
        (p) =>
          typeof p !== 'string' && p.references.some((r) => r.context === 'item' || r.context === 'index'),
      );
    case 'list':
      return node.items.some(readsItem);
    case 'map':
      return node.entries.some(([, child]) => readsItem(child));
  }
}

export function stagesRead(node: ValueNode | undefined): StageId[] {
  const out = new Set<StageId>();
  const visit = (n: ValueNode): void => {
    switch (n.kind) {
      case 'literal':
        return;
      case 'template':
        for (const part of n.template.parts)
          if (typeof part !== 'string')
            for (const ref of part.references)
              if (ref.context === 'stages' && typeof ref.path[0] === 'string')
                out.add(ref.path[0] as StageId);
        return;
      case 'list':
        n.items.forEach(visit);
        return;
      case 'map':
        n.entries.forEach(([, c]) => visit(c));
        return;
    }
  };
  if (node) visit(node);
  return [...out].sort();
}

function rootsOf(
  stage: StageSpec,
  model: ModelInfo | undefined,
): { root: 'input' | 'swap'; node: ValueNode; roles: FieldRoles }[] {
  if (stage.swap) return [{ root: 'swap', node: stage.swap, roles: SWAP_ROLES }];
  return [{ root: 'input', node: stage.input, roles: modelRoles(model) }];
}

/**
 * What a stage sends, as far as it is known before anything runs: literals, vars (after
 * `--set`) and the items of a `foreach` over them. Values that depend on other stages are not
 * known yet and are left out (they are checked when the stage runs).
 */
export function staticSentValues(
  stage: StageSpec,
  model: ModelInfo | undefined,
  vars: Readonly<Record<string, JsonValue>>,
  /** `vars` already prepared (one conversion for all the stages of a recipe). */
  prepared: PreparedScope = new PreparedScope({ vars, stages: {} }),
): SentValue[] {
  const declared = declaredVars(vars);
  const varsOnly = (t: Template) => readsDeclaredVars(t, declared);
  const foreachStages = stagesRead(stage.foreach);
  let items: readonly JsonValue[] | undefined;
  let itemCount: number | undefined;
  // A `swap:` stage is checked as written: the router's chunking into calls adds no values, but
  // the items of its own foreach (`identity: ${{ item }}`) are values like any other.
  if (stage.foreach && (stage.swap === undefined || readsItem(stage.swap)) && foreachStages.length === 0) {
    const list = resolveValue(stage.foreach, prepared, varsOnly);
    if (list.unknown.length === 0 && list.errors.length === 0 && Array.isArray(list.value)) {
      items = list.value.slice(0, MAX_STATIC_ITEMS);
      itemCount = list.value.length;
    }
  }
  const ready = (t: Template) => readsDeclaredVars(t, declared, items !== undefined);
  const out: SentValue[] = [];
  const runs: (number | undefined)[] = items ? items.map((_, i) => i) : [undefined];
  for (const item of runs) {
    const scope =
      item !== undefined && items
        ? new PreparedScope({ vars, stages: {}, item: items[item]!, index: item })
        : prepared;
    for (const { root, node, roles } of rootsOf(stage, model)) {
      const resolved = resolveValue(node, scope, ready);
      walk(
        { root, base: ['stages', stage.id, root], roles, foreachStages, item, itemCount, out },
        node,
        resolved.value,
        [],
        undefined,
      );
    }
  }
  return dedupe(out);
}

/**
 * What one job of a stage sends, once its body is resolved at run time. The body is walked
 * alongside `stage.input` (for a routed `swap:` stage, the input the router built), so values
 * keep their origin: written by the author, or read from earlier stages.
 */
export function resolvedSentValues(
  stage: StageSpec,
  model: ModelInfo | undefined,
  body: JsonValue,
  item?: number,
): SentValue[] {
  const out: SentValue[] = [];
  const base: DataPath = ['stages', stage.id, 'input'];
  const ctx = {
    root: 'input' as const,
    base,
    roles: modelRoles(model),
    foreachStages: stagesRead(stage.foreach),
    item,
    out,
  };
  walk(ctx, stage.input, body, [], undefined);
  return out;
}

/** The vars' names, lower-cased (as expressions read them), once per vars object. */
const declaredCache = new WeakMap<object, ReadonlySet<string>>();

function declaredVars(vars: Readonly<Record<string, JsonValue>>): ReadonlySet<string> {
  let declared = declaredCache.get(vars);
  if (!declared) declaredCache.set(vars, (declared = declaredNames(Object.keys(vars))));
  return declared;
}

function dedupe(values: SentValue[]): SentValue[] {
  if (values.length < 2) return values;
  const seen = new Set<string>();
  return values.filter((v) => {
    const key = `${v.root}\u0000${v.field.join('\u0000')}\u0000${v.value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
