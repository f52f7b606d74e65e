import { isJsonObject } from '../../util/json.js';
import { didYouMean } from '../../util/suggest.js';
import type { AnalysisContext } from '../context.js';
import type { AccessSegment, Reference, Template } from '../expressions.js';
import { STAGE_ID_PATTERN, type StageId, type StageSpec } from '../types.js';
import type { DataPath } from '../yaml-index.js';
import { templatesOf } from './build-stages.js';

/**
 * Checks what expressions point at: vars that exist, stages that exist (and are not the stage
 * itself), and, where a model documents its output, output paths it can produce.
 */
export function checkReferences(
  ctx: AnalysisContext,
  stages: ReadonlyMap<StageId, StageSpec>,
  varNames: readonly string[],
): void {
  for (const stage of stages.values()) {
    // A routed `swap:` stage's generated input and foreach reuse the swap's own expressions
    // (the same parsed references): each one written is checked, and reported, once.
    const checked = new Set<Reference>();
    for (const node of [stage.swap, stage.input, stage.foreach]) {
      if (node) checkTemplates(ctx, stages, varNames, stage, templatesOf(node), checked);
    }
  }
  for (const broken of ctx.brokenTemplates) {
    const stage = broken.path[0] === 'stages' ? stages.get(broken.path[1] as StageId) : undefined;
    if (stage) checkTemplates(ctx, stages, varNames, stage, [broken], new Set());
  }
}

function checkTemplates(
  ctx: AnalysisContext,
  stages: ReadonlyMap<StageId, StageSpec>,
  varNames: readonly string[],
  stage: StageSpec,
  templates: readonly { readonly template: Template; readonly path: DataPath }[],
  checked: Set<Reference>,
): void {
  for (const { template, path } of templates) {
    for (const part of template.parts) {
      if (typeof part === 'string') continue;
      for (const ref of part.references) {
        if (checked.has(ref)) continue;
        checked.add(ref);
        const at = () => ctx.atText(path, template.source, ref.offset, ref.length);
        const problem = referenceProblem(ctx, stages, varNames, stage, ref);
        if (problem) ctx.error(problem.code, problem.message, at());
      }
    }
  }
}

type Problem = {
  code: 'unknown-var' | 'unknown-stage' | 'unknown-output' | 'self-reference';
  message: string;
};

function referenceProblem(
  ctx: AnalysisContext,
  stages: ReadonlyMap<StageId, StageSpec>,
  varNames: readonly string[],
  stage: StageSpec,
  ref: Reference,
): Problem | undefined {
  const [head, kind, ...rest] = ref.path;
  switch (ref.context) {
    case 'vars':
      if (typeof head === 'string' && !varNames.some((v) => v.toLowerCase() === head.toLowerCase())) {
        const close = varNames.length === 0 ? '' : didYouMean(head, varNames);
        // In GitHub Actions an unset var is empty and `||` gives the default; here vars are
        // declared, so an empty one is what lets the default apply (and --set can fill it).
        const hint =
          close ||
          (ref.defaulted
            ? `; declare it empty under vars (${head}: '') for the default after || to apply, as it does for an unset var in GitHub Actions (--set ${head}=… then gives a value)`
            : varNames.length > 0
              ? `; the recipe's vars are ${someNames(varNames)}`
              : '');
        const none = varNames.length === 0 ? ' (the recipe declares no vars)' : '';
        return { code: 'unknown-var', message: `unknown var "${head}"${none}${hint}` };
      }
      return undefined;
    case 'stages': {
      // The run orders stages by their references, so each must name its stage before it runs.
      if (head === undefined && ref.dynamic)
        return {
          code: 'unknown-stage',
          message: `name the stage here (stages.NAME or stages['NAME']): a stage chosen by an expression (stages[…]) is known only while the run goes, and the run orders its stages before it starts`,
        };
      // `stages.*` and the whole context (`toJSON(stages)`) read stages without naming them.
      if (head === undefined || (typeof head === 'object' && 'star' in head))
        return {
          code: 'unknown-stage',
          message: `name the stage here (stages.NAME or stages['NAME']): ${head === undefined ? 'the whole stages context' : 'stages.*'} does not say which stages this one needs, and the run starts a stage when the stages it names are done; name each one instead`,
        };
      if (typeof head === 'number')
        return {
          code: 'unknown-stage',
          message: `stages are named, not numbered: write stages.NAME (one of ${[...stages.keys()]
            .slice(0, 5)
            .map((id) => `"${id}"`)
            .join(', ')}${stages.size > 5 ? ', …' : ''})`,
        };
      if (typeof head !== 'string') return undefined;
      const target = stages.get(head as StageId);
      if (!target) {
        // A stage whose id is itself invalid (`Face:`) is reported at the id, with the name to
        // use; references ignore case, so this one reads that stage once the id is fixed. Nor
        // is such an id suggested: a reference to it would not read it either.
        const [valid, invalid] = partition([...stages.keys()], (id) => STAGE_ID_PATTERN.test(id));
        if (invalid.some((id) => id.toLowerCase() === head.toLowerCase())) return undefined;
        const others = valid.filter((id) => id !== stage.id);
        const hint =
          didYouMean(head, valid) || (others.length > 0 ? `; the other stages are ${someNames(others)}` : '');
        return { code: 'unknown-stage', message: `unknown stage "${head}"${hint}` };
      }
      if (target.id === stage.id) {
        return {
          code: 'self-reference',
          message: `stage "${stage.id}" refers to its own results; a stage can only use the results of other stages`,
        };
      }
      if (kind === undefined || typeof kind !== 'string') return undefined;
      if (kind !== 'outputs' && kind !== 'files') {
        return {
          code: 'unknown-output',
          message: `stage results have "outputs" (the model's output object) and "files" (downloaded files), not "${kind}"${didYouMean(kind, ['outputs', 'files'])}`,
        };
      }
      if (kind === 'files') {
        const next = rest[0];
        if (typeof next === 'string')
          return {
            code: 'unknown-output',
            message: `stages.${head}.files is a list of file paths; index it with a number, e.g. files[0]`,
          };
        return undefined;
      }
      return outputPathProblem(ctx, target, rest);
    }
    case 'item':
    case 'index':
      return undefined;
  }
}

/** Walks a model's documented output schema along the referenced path. */
function outputPathProblem(
  ctx: AnalysisContext,
  target: StageSpec,
  path: readonly AccessSegment[],
): Problem | undefined {
  const model = target.model === undefined ? undefined : ctx.catalog.get(target.model);
  if (!model?.outputs) return undefined;
  let segments = path;
  // A fan-out stage's outputs are the list of its items' outputs, in item order.
  // (A batch the router split into chunks merges back into one output: not a list.)
  if (target.foreach && target.merge === undefined) {
    const first = segments[0];
    if (first === undefined) return undefined;
    if (typeof first === 'string') {
      return {
        code: 'unknown-output',
        message: `stage "${target.id}" runs once per foreach item, so its outputs are a list; index it first, e.g. stages.${target.id}.outputs[0].${first}`,
      };
    }
    segments = segments.slice(1);
  }
  let schema: Record<string, unknown> | undefined = model.outputs;
  const walked: string[] = [];
  for (const segment of segments) {
    if (!schema) return undefined;
    if (typeof segment === 'string') {
      const properties: Record<string, Record<string, unknown>> = isJsonObject(schema['properties'])
        ? (schema['properties'] as Record<string, Record<string, unknown>>)
        : {};
      // Property names match in any case, as the expression library (and GitHub) reads them.
      const name = Object.hasOwn(properties, segment)
        ? segment
        : Object.keys(properties).find((k) => k.toLowerCase() === segment.toLowerCase());
      const next: Record<string, unknown> | undefined = name === undefined ? undefined : properties[name];
      if (!next) {
        if (schema['additionalProperties'] === false) {
          const place = walked.length === 0 ? 'output field' : `field under output "${walked.join('.')}"`;
          const known = Object.keys(properties);
          const hint =
            didYouMean(segment, known) ||
            (known.length > 0 ? ` (it has ${known.map((k) => `"${k}"`).join(', ')})` : '');
          return {
            code: 'unknown-output',
            message: `stage "${target.id}" runs ${model.id}, which produces no ${place} "${segment}"${hint}`,
          };
        }
        return undefined;
      }
      schema = next;
      walked.push(name!);
    } else {
      if (schema['type'] !== 'array') {
        if (schema['type'] === undefined) return undefined;
        if (walked.length === 0)
          return {
            code: 'unknown-output',
            message:
              target.merge === 'images'
                ? `stage "${target.id}" is a batch split into several calls, whose images are merged back into one output in scene order; index the images instead, e.g. stages.${target.id}.outputs.images[${typeof segment === 'number' ? segment : 0}]`
                : `stage "${target.id}" has one output (an object), not a list; name a field of it, e.g. stages.${target.id}.outputs.${Object.keys(isJsonObject(schema['properties']) ? schema['properties'] : {})[0] ?? 'images'}`,
          };
        return {
          code: 'unknown-output',
          message: `output field "${walked.join('.')}" of ${model.id} is not a list, so it cannot be indexed`,
        };
      }
      schema = isJsonObject(schema['items']) ? schema['items'] : undefined;
      walked.push(typeof segment === 'number' ? `[${segment}]` : '[*]');
    }
  }
  return undefined;
}

/** The items that pass `test`, and those that do not. */
function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const pass: T[] = [];
  const fail: T[] = [];
  for (const item of items) (test(item) ? pass : fail).push(item);
  return [pass, fail];
}

/** `"a", "b", "c"`, or the first six and `…`: the names a reference could have meant. */
function someNames(names: readonly string[]): string {
  const shown = names.slice(0, 6).map((n) => `"${n}"`);
  return names.length > 6 ? `${shown.join(', ')}, …` : shown.join(', ');
}
