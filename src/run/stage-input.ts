import { isAbsolute, join } from 'node:path';
import type { ModelInfo } from '../catalog/model.js';
import { guardBody, STRICT_INPUT_POLICY, upstreamStrings, type InputPolicy } from '../policy/input-guard.js';
import { PreparedScope } from '../recipe/expressions.js';
import { templatesOf } from '../recipe/rules/build-stages.js';
import { checkInput } from '../recipe/rules/model-input.js';
import { resolveValue } from '../recipe/resolve.js';
import type { StageId, StageSpec, ValueNode } from '../recipe/types.js';
import type { DataPath } from '../recipe/yaml-index.js';
import { describeValue, isJsonObject, kindOf, type JsonObject, type JsonValue } from '../util/json.js';

/** What later stages see of a finished stage: `stages.<id>.outputs` and `stages.<id>.files`. */
export interface StageView {
  readonly outputs: JsonValue;
  readonly files: readonly string[];
}

export type StageInputs =
  | {
      readonly ok: true;
      readonly bodies: readonly JsonObject[];
      readonly fanOut: boolean;
      readonly warnings: readonly string[];
    }
  | {
      readonly ok: false;
      readonly message: string;
      /** Consent or the prompt screen refused it (the run exits 77), rather than invalid data. */
      readonly notPermitted?: true;
    };

/**
 * Evaluates a stage's input against the stages that finished before it, one body per job
 * (per foreach item), and checks each against the model's schema again: an upstream output
 * that does not fit is caught here, before any money is spent, naming the stage it came from.
 */
export function resolveStageInputs(
  stage: StageSpec,
  model: ModelInfo,
  vars: Readonly<Record<string, JsonValue>>,
  finished: ReadonlyMap<StageId, StageView>,
  /** The trust boundary for the resolved bodies (src/policy/input-guard.ts); strict by default. */
  policy: InputPolicy = STRICT_INPUT_POLICY,
  /**
   * `schema: false` skips the model-schema check, for cache lookups only: a body that has a
   * finished job record passed that check when it ran (the job key covers the model's schema),
   * and a body that has none is resolved and checked again before it runs.
   */
  options: {
    readonly schema?: boolean;
    /**
     * The run's output folder, which `stages.X.files` are relative to. The offline engine reads
     * files relative to the recipe's folder, so an upstream file given to a local model whole is
     * made a path under this folder (after the trust check, which knows it as upstream's own).
     */
    readonly filesBase?: string;
  } = {},
): StageInputs {
  const stages: Record<string, JsonValue> = {};
  // Only the stages this one references: converting every finished stage for every stage made
  // large recipes quadratic.
  for (const id of stage.dependsOn) {
    const view = finished.get(id);
    if (view) stages[id] = { outputs: view.outputs, files: [...view.files] };
  }
  let items: readonly JsonValue[] | undefined;
  if (stage.foreach) {
    const list = resolveValue(stage.foreach, new PreparedScope({ vars, stages }));
    if (list.errors.length > 0)
      return { ok: false, message: `foreach of stage "${stage.id}": ${list.errors[0]!.message}` };
    if (!Array.isArray(list.value)) {
      return {
        ok: false,
        message: `foreach of stage "${stage.id}" must give a list, but it gave ${kindOf(list.value)} (${describeValue(list.value)})`,
      };
    }
    items = list.value;
    // A swap's scenes known only now (one call per scene): none is no face swap at all, as an
    // empty scene list written in the recipe is an error. (An empty foreach of the author's own
    // is nothing to do.)
    if (items.length === 0 && stage.route?.layout.kind === 'per-scene') {
      const from = stage.dependsOn.map((id) => `"${id}"`).join(', ');
      return {
        ok: false,
        message: `the "scene" list of stage "${stage.id}" is empty${from === '' ? '' : ` (it comes from the results of stage ${from})`}: a face swap needs at least one still to put the face into`,
      };
    }
  }
  const bodies: JsonObject[] = [];
  const warnings: string[] = [];
  const count = items?.length ?? 1;
  let upstream: Set<string> | undefined;
  // Upstream files are anchored under the outputs folder for local models only (see options).
  const files =
    model.backend === 'local' && options.filesBase !== undefined ? upstreamFiles(stage, finished) : undefined;
  for (let index = 0; index < count; index++) {
    const scope = new PreparedScope({ vars, stages, ...(items && { item: items[index]!, index }) });
    const resolved = resolveValue(stage.input, scope);
    const where = items ? ` (item ${index})` : '';
    if (resolved.errors.length > 0)
      return { ok: false, message: `stage "${stage.id}"${where}: ${resolved.errors[0]!.message}` };
    if (!isJsonObject(resolved.value))
      return {
        ok: false,
        message: `the input of stage "${stage.id}"${where} must be a mapping, not ${kindOf(resolved.value)}`,
      };
    for (const problem of options.schema === false ? [] : checkInput(model, resolved.value, stage.id)) {
      if (problem.severity === 'warning') {
        if (index === 0) warnings.push(problem.message);
        continue;
      }
      return { ok: false, message: `${problem.message}${where}${origin(stage, problem.path)}` };
    }
    upstream ??= upstreamStrings(stage.dependsOn.flatMap((id) => finished.get(id) ?? []));
    const refused = guardBody(stage, model, resolved.value, items ? index : undefined, upstream, policy);
    if (refused !== undefined)
      return { ok: false, message: refused.message, ...(refused.notPermitted && { notPermitted: true }) };
    bodies.push(
      files === undefined
        ? resolved.value
        : (anchorFiles(resolved.value, files, options.filesBase!) as JsonObject),
    );
  }
  return { ok: true, bodies, fanOut: items !== undefined, warnings };
}

/** Every file the stages this one depends on downloaded or made, as `stages.X.files` gives them. */
function upstreamFiles(stage: StageSpec, finished: ReadonlyMap<StageId, StageView>): ReadonlySet<string> {
  return new Set(stage.dependsOn.flatMap((id) => finished.get(id)?.files ?? []));
}

/** The value with each string that is one of `files` made a path under `base`. */
function anchorFiles(value: JsonValue, files: ReadonlySet<string>, base: string): JsonValue {
  if (files.size === 0) return value;
  if (typeof value === 'string') return files.has(value) && !isAbsolute(value) ? join(base, value) : value;
  if (Array.isArray(value)) return (value as readonly JsonValue[]).map((v) => anchorFiles(v, files, base));
  if (isJsonObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, anchorFiles(v, files, base)]));
  return value;
}

/**
 * `; the value comes from stage "face" (${{ stages.face.outputs.images }})` for a problem at
 * `path` of the input. Found by walking the input's value tree along `path`, not by where the
 * expressions are written: a `swap:` stage's input is built by the router from its `swap:`
 * fields, so its expressions sit at other places in the recipe than the fields they fill.
 */
function origin(stage: StageSpec, path: DataPath): string {
  const node = nodeAt(stage.input, path);
  for (const { template } of node ? templatesOf(node) : []) {
    const upstream = [
      ...new Set(
        template.parts.flatMap((p) =>
          typeof p === 'string'
            ? []
            : p.references
                .filter((r) => r.context === 'stages')
                .flatMap((r) => (typeof r.path[0] === 'string' ? [r.path[0]] : [])),
        ),
      ),
    ];
    if (upstream.length > 0) {
      const names = upstream.map((s) => `"${s}"`).join(', ');
      return `; the value comes from stage ${names} (${template.source.trim()}): check that stage's output`;
    }
  }
  return '';
}

/**
 * The node of a value tree that gives the value at `path`: the node there, or the expression
 * above it whose result holds it (`images: ${{ stages.a.outputs.images }}` gives `images[0]`).
 */
function nodeAt(node: ValueNode, path: DataPath): ValueNode | undefined {
  let here = node;
  for (const segment of path) {
    if (here.kind === 'template') return here;
    if (here.kind === 'map') {
      const entry = here.entries.find(([key]) => key === String(segment));
      if (!entry) return undefined;
      here = entry[1];
    } else if (here.kind === 'list') {
      const item = typeof segment === 'number' ? here.items[segment] : undefined;
      if (!item) return undefined;
      here = item;
    } else return undefined;
  }
  return here;
}
