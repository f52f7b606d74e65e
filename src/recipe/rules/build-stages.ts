import type { ModelId } from '../../catalog/model.js';
import { DURATION_PATTERN, parseDuration } from '../../util/duration.js';
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

/** A stage's (or the defaults') timeout in ms; one longer than {@link MAX_TIMEOUT_MS} is an error. */
function checkTimeout(ctx: AnalysisContext, value: unknown, path: DataPath): number | undefined {
  if (typeof value !== 'string' || !new RegExp(DURATION_PATTERN).test(value)) return undefined;
  const ms = parseDuration(value);
  if (ms !== undefined && ms <= MAX_TIMEOUT_MS) return ms;
  ctx.error(
    'invalid-value',
    `timeout ${String(value)} is longer than the longest supported, 24d; write 24d or less (a stage that needs longer is better split)`,
    ctx.at(path),
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
  if (isJsonObject(data['defaults'])) checkTimeout(ctx, data['defaults']['timeout'], ['defaults', 'timeout']);
  for (const [key, value] of Object.entries(raw)) {
    const id = key as StageId;
    const stage = isJsonObject(value) ? (value as Record<string, unknown>) : {};
    const base: DataPath = ['stages', id];
    const hasForeach = stage['foreach'] !== undefined;
    const inputContexts: ContextName[] = hasForeach ? [...RECIPE_CONTEXTS] : ['vars', 'stages'];
    const input = toValueNode(ctx, stage['input'] ?? {}, [...base, 'input'], inputContexts);
    const swap =
      stage['swap'] === undefined
        ? undefined
        : toValueNode(ctx, stage['swap'], [...base, 'swap'], inputContexts);
    const foreach = hasForeach
      ? toValueNode(ctx, stage['foreach'], [...base, 'foreach'], ['vars', 'stages'])
      : undefined;
    // A list of ids, or one id on its own (`needs: face`), as GitHub Actions allows.
    const rawNeeds = stage['needs'];
    const needs = Array.isArray(rawNeeds)
      ? (rawNeeds as unknown[]).filter((n): n is StageId => typeof n === 'string')
      : typeof rawNeeds === 'string'
        ? [rawNeeds as StageId]
        : [];
    const references = [input, swap, foreach].flatMap((node) => (node ? stageReferences(node) : []));
    const dependsOn = [...new Set<StageId>([...needs, ...references.map((r) => r.stage)])].sort();
    const timeout = checkTimeout(ctx, stage['timeout'], [...base, 'timeout']);
    stages.set(id, {
      id,
      ...(typeof stage['description'] === 'string' && { description: stage['description'] }),
      ...(typeof stage['model'] === 'string' && { model: stage['model'] as ModelId }),
      input,
      ...(swap && { swap }),
      ...(foreach && { foreach }),
      needs,
      references,
      dependsOn,
      retries: validRetries(stage['retries']) ?? defaults.retries,
      timeoutMs: timeout ?? defaults.timeoutMs,
      retryOn: validRetryOn(stage['retry_on']) ?? defaults.retryOn,
      subjects: Array.isArray(stage['subjects'])
        ? (stage['subjects'] as unknown[]).filter((s): s is string => typeof s === 'string')
        : [],
    });
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
  if (typeof value === 'string') {
    const parsed = parseTemplate(value, contexts);
    switch (parsed.kind) {
      case 'plain':
        return { kind: 'literal', value };
      case 'error':
        ctx.brokenValues.push(path);
        for (const problem of parsed.errors) {
          ctx.error(problem.code, problem.message, ctx.atText(path, value, problem.offset, problem.length));
        }
        return { kind: 'literal', value };
      case 'template':
        return { kind: 'template', template: parsed.template, path };
    }
  }
  if (Array.isArray(value)) {
    const items = value.map((item, i) => toValueNode(ctx, item, [...path, i], contexts));
    return items.every((i) => i.kind === 'literal')
      ? { kind: 'literal', value: value as JsonValue }
      : { kind: 'list', items };
  }
  if (isJsonObject(value)) {
    const entries = Object.entries(value).map(
      ([k, v]) => [k, toValueNode(ctx, v, [...path, k], contexts)] as const,
    );
    return entries.every(([, n]) => n.kind === 'literal')
      ? { kind: 'literal', value: value }
      : { kind: 'map', entries };
  }
  return { kind: 'literal', value: (value ?? null) as JsonValue };
}

/** Every template in a value tree, with its data path. */
export function templatesOf(node: ValueNode): { template: Template; path: DataPath }[] {
  switch (node.kind) {
    case 'literal':
      return [];
    case 'template':
      return [{ template: node.template, path: node.path }];
    case 'list':
      return node.items.flatMap(templatesOf);
    case 'map':
      return node.entries.flatMap(([, n]) => templatesOf(n));
  }
}

function stageReferences(node: ValueNode): StageReference[] {
  const out: StageReference[] = [];
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
  return out;
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
