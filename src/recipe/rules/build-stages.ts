import type { ModelId } from '../../catalog/model.js';
import { DURATION_PATTERN, parseDuration } from '../../util/duration.js';
import { RUNS_FOLDER } from '../../state/paths.js';
import { isJsonObject, type JsonValue } from '../../util/json.js';
import type { AnalysisContext } from '../context.js';
import { parseTemplate, RECIPE_CONTEXTS, type ContextName, type Template } from '../expressions.js';
import {
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  type RetryOn,
  type StageId,
  type StageReference,
  type StageSpec,
  type ValueNode,
} from '../types.js';
import type { DataPath } from '../yaml-index.js';
import type { Mutable } from '../../util/mutable.js';

/** What a stage without `foreach` (and any `foreach:` list itself) may read. */
const STATIC_CONTEXTS: readonly ContextName[] = ['vars', 'stages'];

/** Stage defaults as the recipe's `defaults:` block gives them (schema-checked elsewhere). */
export interface StageDefaults {
  readonly retries: number;
  readonly timeoutMs: number;
  readonly retryOn: readonly RetryOn[];
}

export function readDefaults(data: Record<string, unknown>): StageDefaults {
  const defaults = isJsonObject(data['defaults']) ? (data['defaults'] as Record<string, unknown>) : {};
  return {
    retries: validRetries(defaults['retries']) ?? DEFAULT_RETRIES,
    timeoutMs:
      (typeof defaults['timeout'] === 'string' ? parseDuration(defaults['timeout']) : undefined) ??
      DEFAULT_TIMEOUT_MS,
    retryOn: validRetryOn(defaults['retry_on']) ?? [],
  };
}

/**
 * The longest attempt timeout: Node's timers hold at most 2^31-1 ms (24.8 days), and a longer
 * delay fires after 1 ms, which timed out every attempt at once.
 */
export const MAX_TIMEOUT_MS = 24 * 86_400_000;

const DURATION = new RegExp(DURATION_PATTERN);

/** A stage's (or the defaults') timeout in ms; one longer than {@link MAX_TIMEOUT_MS} is an error. */
function checkTimeout(ctx: AnalysisContext, value: unknown, base: DataPath): number | undefined {
  if (typeof value !== 'string' || !DURATION.test(value)) return undefined;
  const ms = parseDuration(value);
  if (ms !== undefined && ms <= MAX_TIMEOUT_MS) return ms;
  ctx.error(
    'invalid-value',
    `timeout ${String(value)} is longer than the longest supported, 24d; write 24d or less (a stage that needs longer is better split)`,
    ctx.at([...base, 'timeout']),
  );
  return MAX_TIMEOUT_MS;
}

/**
 * Builds the typed stages from the data, leniently: the schema check has already reported
 * wrong shapes, so here a wrong-typed field simply falls back to its default, and analysis
 * goes on to find the problems the schema cannot see (models, expressions, references, cycles).
 */
export function buildStages(
  ctx: AnalysisContext,
  data: Record<string, unknown>,
  defaults: StageDefaults,
): Map<StageId, StageSpec> {
  const stages = new Map<StageId, StageSpec>();
  const raw = isJsonObject(data['stages']) ? (data['stages'] as Record<string, unknown>) : {};
  if (isJsonObject(data['defaults'])) checkTimeout(ctx, data['defaults']['timeout'], ['defaults']);
  for (const [key, value] of Object.entries(raw)) {
    const id = key as StageId;
    // A stage's files go to outputs/<recipe>/<stage>/, beside the run records' folder.
    if (key === RUNS_FOLDER)
      ctx.error(
        'invalid-value',
        `stage id "${RUNS_FOLDER}" is reserved: outputs/<recipe name>/${RUNS_FOLDER}/ holds the run records, and a stage's files go to outputs/<recipe name>/<stage id>/; rename the stage`,
        ctx.at(['stages', key], true),
      );
    const stage = isJsonObject(value) ? (value as Record<string, unknown>) : {};
    const base: DataPath = ['stages', id];
    const hasForeach = stage['foreach'] !== undefined;
    const inputContexts = hasForeach ? RECIPE_CONTEXTS : STATIC_CONTEXTS;
    // `input:` written but empty stays null (the schema says it is empty; the model's
    // required fields would only repeat it); no `input` key at all is an empty mapping.
    const input = toValueNode(
      ctx,
      stage['input'] === undefined ? {} : stage['input'],
      [...base, 'input'],
      inputContexts,
    );
    const swap =
      stage['swap'] === undefined
        ? undefined
        : toValueNode(ctx, stage['swap'], [...base, 'swap'], inputContexts);
    const foreach = hasForeach
      ? toValueNode(ctx, stage['foreach'], [...base, 'foreach'], STATIC_CONTEXTS)
      : undefined;
    // A list of ids, or one id on its own (`needs: face`), as GitHub Actions allows.
    const rawNeeds = stage['needs'];
    const needs = Array.isArray(rawNeeds)
      ? (rawNeeds as unknown[]).filter((n): n is StageId => typeof n === 'string')
      : typeof rawNeeds === 'string'
        ? [rawNeeds as StageId]
        : [];
    const references: StageReference[] = [];
    for (const node of [input, swap, foreach]) if (node) stageReferences(node, references);
    const timeout = checkTimeout(ctx, stage['timeout'], base);
    const spec: Mutable<StageSpec> = {
      id,
      input,
      needs,
      references,
      dependsOn: dependencies(needs, references),
      retries: validRetries(stage['retries']) ?? defaults.retries,
      timeoutMs: timeout ?? defaults.timeoutMs,
      retryOn: validRetryOn(stage['retry_on']) ?? defaults.retryOn,
      subjects: Array.isArray(stage['subjects'])
        ? (stage['subjects'] as unknown[]).filter((s): s is string => typeof s === 'string')
        : [],
    };
    if (typeof stage['description'] === 'string') spec.description = stage['description'];
    // The catalog's own string for a known id: every later rule looks the model up by it, and
    // an id string parsed from the file would be hashed and compared afresh in each lookup.
    if (typeof stage['model'] === 'string')
      spec.model = ctx.catalog.get(stage['model'])?.id ?? (stage['model'] as ModelId);
    if (swap) spec.swap = swap;
    if (foreach) spec.foreach = foreach;
    stages.set(id, spec);
  }
  return stages;
}

/** Turns written data into a {@link ValueNode}, parsing every `${{ }}` once and reporting syntax errors. */
export function toValueNode(
  ctx: AnalysisContext,
  value: unknown,
  path: DataPath,
  contexts: readonly ContextName[],
): ValueNode {
  // One path, grown and shrunk as the walk goes, copied only where a template or an error keeps
  // it: a fresh array per value made a 10,000-stage recipe allocate one for every literal.
  const at: (string | number)[] = [...path];
  const walk = (value: unknown): ValueNode => {
    if (typeof value === 'string') {
      const parsed = parseTemplate(value, contexts);
      switch (parsed.kind) {
        case 'plain':
          return { kind: 'literal', value };
        case 'error': {
          const here = [...at];
          ctx.brokenValues.push(here);
          if (parsed.parsed.length > 0)
            ctx.brokenTemplates.push({
              template: { source: value, parts: parsed.parsed, whole: false },
              path: here,
            });
          for (const problem of parsed.errors) {
            ctx.error(
              problem.code,
              commentCut(ctx, here, problem.message) ?? problem.message,
              ctx.atText(here, value, problem.offset, problem.length),
            );
          }
          return { kind: 'literal', value };
        }
        case 'template':
          return { kind: 'template', template: parsed.template, path: [...at] };
      }
    }
    if (Array.isArray(value)) {
      let literal = true;
      const items: ValueNode[] = [];
      for (let i = 0; i < value.length; i++) {
        at.push(i);
        const item = walk(value[i]);
        at.pop();
        if (item.kind !== 'literal') literal = false;
        items.push(item);
      }
      return literal ? { kind: 'literal', value: value as JsonValue } : { kind: 'list', items };
    }
    if (isJsonObject(value)) {
      let literal = true;
      const entries: (readonly [string, ValueNode])[] = [];
      for (const key of Object.keys(value)) {
        at.push(key);
        const node = walk(value[key]);
        at.pop();
        if (node.kind !== 'literal') literal = false;
        entries.push([key, node]);
      }
      return literal ? { kind: 'literal', value } : { kind: 'map', entries };
    }
    return { kind: 'literal', value: (value ?? null) as JsonValue };
  };
  return walk(value);
}

/**
 * `prompt: ${{ format('a #b') }}` unquoted: YAML ends a plain value at " #" (a comment), so
 * the expression lost its end. Said, with the fix, when the source shows that is what happened.
 */
function commentCut(ctx: AnalysisContext, path: DataPath, message: string): string | undefined {
  if (!message.startsWith('unclosed "${{"')) return undefined;
  const range = ctx.index.valueRange(path);
  if (!range) return undefined;
  const after = ctx.source.text.slice(range.end, range.end + 200);
  return /^[ \t]+#[^\n]*\}\}/.test(after)
    ? 'the value ends before " #", which YAML reads as the start of a comment, so its "${{" is left unclosed: quote the whole value'
    : undefined;
}

/** Every template in a value tree, with its data path. */
export function templatesOf(
  node: ValueNode,
  out: { template: Template; path: DataPath }[] = [],
): { template: Template; path: DataPath }[] {
  switch (node.kind) {
    case 'literal':
      break;
    case 'template':
      out.push({ template: node.template, path: node.path });
      break;
    case 'list':
      for (const item of node.items) templatesOf(item, out);
      break;
    case 'map':
      for (const [, child] of node.entries) templatesOf(child, out);
      break;
  }
  return out;
}

/** `needs` plus every referenced stage, sorted, without duplicates. */
function dependencies(needs: readonly StageId[], references: readonly StageReference[]): StageId[] {
  if (needs.length === 0 && references.length === 1) return [references[0]!.stage];
  return [...new Set<StageId>([...needs, ...references.map((r) => r.stage)])].sort();
}

function stageReferences(node: ValueNode, out: StageReference[]): void {
  for (const { template, path } of templatesOf(node)) {
    for (const part of template.parts) {
      if (typeof part === 'string') continue;
      for (const ref of part.references) {
        const head = ref.path[0];
        if (ref.context !== 'stages' || typeof head !== 'string') continue;
        out.push({
          stage: head as StageId,
          path: ref.path.slice(1),
          at: path,
          source: template.source,
          offset: ref.offset,
          length: ref.length,
        });
      }
    }
  }
}

function validRetries(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 20
    ? value
    : undefined;
}

function validRetryOn(value: unknown): RetryOn[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter((v): v is RetryOn => v === 'failed' || v === 'cancelled');
}
