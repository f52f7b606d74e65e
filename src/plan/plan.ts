import type { Catalog } from '../catalog/catalog.js';
import type { Backend, Medium, ModelId } from '../catalog/model.js';
import { PreparedScope, type Template } from '../recipe/expressions.js';
import { isStatic, resolveValue } from '../recipe/resolve.js';
import type { Recipe, StageId, StageSpec, ValueNode } from '../recipe/types.js';
import type { JsonValue } from '../util/json.js';
import { criticalPathOrder } from './dag.js';
import type { RouteDecision } from './route.js';
import type { Mutable } from '../util/mutable.js';

/** One stage as it will run: what `plan` prints, before anything runs. */
export interface PlannedStage {
  readonly id: StageId;
  readonly model: ModelId;
  readonly medium: Medium;
  readonly backend: Backend;
  readonly dependsOn: readonly StageId[];
  readonly dependents: readonly StageId[];
  /** Model calls the stage makes; undefined when a `foreach` list is only known at run time. */
  readonly calls: number | undefined;
  /** The input as far as it is known now: expressions on other stages' results are kept as written. */
  readonly input: JsonValue;
  readonly retries: number;
  readonly timeoutMs: number;
  /** Model calls on the longest chain from this stage to the end, itself included. */
  readonly criticalPath: number;
  /** For a `swap:` stage: why this model, and how many calls. */
  readonly route?: RouteDecision;
  /**
   * For a `swap:` or `foreach` stage: the body of each call as far as it is known now (one per
   * item, chunk or scene); undefined when the calls are only known at run time.
   */
  readonly bodies?: readonly JsonValue[];
}

export interface Plan {
  readonly recipe: Recipe;
  /** Topological order; among ready stages the longest remaining chain first. */
  readonly stages: readonly PlannedStage[];
  /** Sum of `calls`, or undefined when some stage's count is only known at run time. */
  readonly totalCalls: number | undefined;
  /** The longest chain of stages, the lower bound on a run's length. */
  readonly criticalPath: readonly StageId[];
}

/** Plans a checked recipe. Pure: reads nothing, runs nothing. */
export function buildPlan(recipe: Recipe, catalog: Catalog): Plan {
  const deps = new Map<StageId, readonly StageId[]>();
  for (const stage of recipe.stages.values()) deps.set(stage.id, stage.dependsOn);
  const scope = new PreparedScope({ vars: recipe.vars, stages: {} });
  const calls = new Map<StageId, number | undefined>();
  for (const stage of recipe.stages.values()) calls.set(stage.id, countCalls(stage, scope));
  const { order, remaining } = criticalPathOrder(deps, (id) => Math.max(1, calls.get(id) ?? 1));
  const dependents = new Map<StageId, StageId[]>();
  for (const [id, list] of deps)
    for (const d of list) (dependents.get(d) ?? dependents.set(d, []).get(d)!).push(id);

  const stages = order.map((id): PlannedStage => {
    const spec = recipe.stages.get(id)!;
    const model = catalog.get(spec.model!)!;
    const after = dependents.get(id);
    const planned: Mutable<PlannedStage> = {
      id,
      model: model.id,
      medium: model.medium,
      backend: model.backend,
      dependsOn: spec.dependsOn,
      dependents: after === undefined ? [] : after.length > 1 ? after.sort() : after,
      calls: calls.get(id),
      input: staticView(spec.input, scope),
      retries: spec.retries,
      timeoutMs: spec.timeoutMs,
      criticalPath: remaining.get(id) ?? 1,
    };
    if (spec.route) planned.route = spec.route;
    if (spec.route || spec.foreach) planned.bodies = callBodies(spec, recipe.vars);
    return planned;
  });
  const known = stages.map((s) => s.calls);
  const totalCalls = known.every((c) => c !== undefined)
    ? known.reduce<number>((a, b) => a + b, 0)
    : undefined;
  return { recipe, stages, totalCalls, criticalPath: longestChain(stages) };
}

/** 1 per stage; the item count for a `foreach` whose list is known before running. */
function countCalls(stage: StageSpec, scope: PreparedScope): number | undefined {
  if (!stage.foreach) return 1;
  return foreachItems(stage.foreach, scope)?.length;
}

/**
 * The items of a `foreach` as far as known now, or undefined when the list itself is only
 * known at run time. A list written out (or generated: the router's chunks) has a known length
 * even when an item reads another stage's results (a chunk's identity from an upstream stage);
 * such an item keeps its expression as `${{ … }}` text.
 */
function foreachItems(node: ValueNode, scope: PreparedScope): JsonValue[] | undefined {
  const list = resolveValue(node, scope, isStatic, templateText);
  if (list.errors.length > 0 || !Array.isArray(list.value)) return undefined;
  return list.value as JsonValue[];
}

/** Each call's body as far as known now: per item of a known `foreach`, else the one input. */
function callBodies(stage: StageSpec, vars: Readonly<Record<string, JsonValue>>): JsonValue[] | undefined {
  const scope = new PreparedScope({ vars, stages: {} });
  if (!stage.foreach) return [staticView(stage.input, scope)];
  const items = foreachItems(stage.foreach, scope);
  if (!items) return undefined;
  const withItem = (t: Template) =>
    t.parts.every((p) => typeof p === 'string' || p.references.every((r) => r.context !== 'stages'));
  return items.map((item, index) =>
    staticView(stage.input, new PreparedScope({ vars, stages: {}, item, index }), withItem),
  );
}

/** The input with static expressions evaluated and the others kept as `${{ … }}` text. */
function staticView(
  node: ValueNode,
  scope: PreparedScope,
  ready: (t: Template) => boolean = isStatic,
): JsonValue {
  return resolveValue(node, scope, ready, templateText).value;
}

function templateText(template: Template): string {
  return template.source;
}

function longestChain(stages: readonly PlannedStage[]): StageId[] {
  const byId = new Map(stages.map((s) => [s.id, s]));
  const roots = stages.filter((s) => s.dependsOn.length === 0);
  let current = roots.sort((a, b) => b.criticalPath - a.criticalPath || (a.id < b.id ? -1 : 1))[0];
  const chain: StageId[] = [];
  while (current) {
    chain.push(current.id);
    const next = current.dependents
      .map((id) => byId.get(id)!)
      .sort((a, b) => b.criticalPath - a.criticalPath || (a.id < b.id ? -1 : 1))[0];
    current = next;
  }
  return chain;
}
