import type { JsonValue } from '../util/json.js';
import { didYouMean } from '../util/suggest.js';
import type { AnalysisContext } from './context.js';

/** One `--set NAME=VALUE` from the command line, already split. */
export interface SetOverride {
  readonly name: string;
  readonly value: string;
}

/**
 * Splits `NAME=VALUE`; undefined when there is no `=` (a usage error the CLI reports).
 */
export function parseSetArgument(text: string): SetOverride | undefined {
  const eq = text.indexOf('=');
  if (eq <= 0) return undefined;
  return { name: text.slice(0, eq), value: text.slice(eq + 1) };
}

/**
 * The value of a `--set`: JSON when it reads as a JSON list, number, boolean or null
 * (`--set count=3`, `--set 'scenes=["https://…/a.jpg","https://…/b.jpg"]'`), otherwise the
 * text itself, so URLs and prompts need no quoting.
 */
export function setValue(text: string): { readonly value: JsonValue } | { readonly problem: string } {
  const trimmed = text.trim();
  // `[…]` from end to end is meant as a list: one that does not parse, or holds mappings (vars
  // are scalars or lists of them), is a mistake to report, not a string to send to a model.
  const listShaped = trimmed.startsWith('[') && trimmed.endsWith(']');
  if (/^(\[|-?[0-9]|true$|false$|null$)/.test(trimmed)) {
    try {
      const parsed = JSON.parse(trimmed) as unknown;
      if (Array.isArray(parsed) && parsed.every((v) => v === null || typeof v !== 'object'))
        return { value: parsed as JsonValue };
      if (parsed === null || typeof parsed !== 'object') return { value: parsed as JsonValue };
      if (listShaped)
        return { problem: 'is a list of lists or mappings; a var holds a scalar or a list of scalars' };
    } catch (cause) {
      if (listShaped)
        return {
          problem: `looks like a list but is not valid JSON (${(cause as Error).message}); write it as a JSON list with double quotes, e.g. ["https://…/a.jpg","https://…/b.jpg"]`,
        };
      // Not JSON after all: a string such as "1024_1536" or "2026 spring".
    }
  }
  return { value: text };
}

/**
 * Vars whose names differ only by case: expressions read `vars.NAME` in any case (as GitHub
 * Actions does), so `vars.still` could not tell `Still` from `still`, nor `--set` which to set.
 */
export function checkVarNames(ctx: AnalysisContext, declared: Readonly<Record<string, JsonValue>>): void {
  const byLower = new Map<string, string>();
  for (const name of Object.keys(declared)) {
    const first = byLower.get(name.toLowerCase());
    if (first === undefined) {
      byLower.set(name.toLowerCase(), name);
      continue;
    }
    ctx.error(
      'duplicate-key',
      `vars "${first}" and "${name}" differ only by case, and expressions read vars.NAME in any case (as GitHub Actions does); rename one`,
      ctx.at(['vars', name], true),
      [{ ...ctx.at(['vars', first], true), message: `"${first}" is defined here` }],
    );
  }
}

/**
 * A var's value is data, not an expression: `${{ }}` in it would reach the model as those very
 * characters (expressions are evaluated in input, swap and foreach, which may read the var).
 */
export function checkVarValues(ctx: AnalysisContext, declared: Readonly<Record<string, JsonValue>>): void {
  for (const [name, value] of Object.entries(declared)) {
    const items = Array.isArray(value) ? (value as readonly JsonValue[]) : [value];
    items.forEach((item, index) => {
      if (typeof item !== 'string' || !item.includes('${{')) return;
      ctx.expressionVarValues.add(item);
      ctx.error(
        'invalid-value',
        `var "${name}" holds an expression (${item.length > 60 ? `${item.slice(0, 57)}...` : item}), but vars are data: expressions are evaluated only in input, swap and foreach; write the value itself, or put the expression where the var is used`,
        ctx.at(Array.isArray(value) ? ['vars', name, index] : ['vars', name]),
      );
    });
  }
}

/** Applies `--set` overrides to the recipe's vars; names that are not declared are errors. */
export function applySets(
  ctx: AnalysisContext,
  vars: Record<string, JsonValue>,
  sets: readonly SetOverride[],
): Record<string, JsonValue> {
  // Copying a recipe's vars costs time in proportion to their number; most runs set none.
  if (sets.length === 0) return vars;
  const out = { ...vars };
  const names = Object.keys(vars);
  /** Undeclared names already reported: `--set x=1 --set x=2` is one mistake. */
  const unknown = new Set<string>();
  for (const set of sets) {
    // Names are matched as expressions read them (`vars.NAME` ignores case, as in GitHub Actions).
    const name = Object.hasOwn(vars, set.name)
      ? set.name
      : names.find((n) => n.toLowerCase() === set.name.toLowerCase());
    if (name === undefined) {
      if (unknown.has(set.name.toLowerCase())) continue;
      unknown.add(set.name.toLowerCase());
      // Point at the `vars:` key, or at the top of a recipe that has none (not at its first line).
      const hasVars = ctx.index.keyRanges([]).has('vars');
      const bare = set.name.replace(/^vars\./i, '');
      const hint =
        bare !== set.name && names.some((n) => n.toLowerCase() === bare.toLowerCase())
          ? `; write --set ${bare}=… (the var's name, without "vars.")`
          : didYouMean(set.name, names);
      const message =
        names.length === 0
          ? `--set ${set.name}=…: the recipe declares no vars, so there is no "${set.name}" to override; declare it under vars:`
          : `--set ${set.name}=…: the recipe has no var "${set.name}"${hint} (--set can only override declared vars)`;
      ctx.error('unknown-set', message, ctx.at(hasVars ? ['vars'] : [], true));
      continue;
    }
    if (set.value.includes('${{')) {
      ctx.error(
        'invalid-set',
        `--set ${set.name}=…: the value holds an expression, but a --set value is data, taken as written (the model would get "\${{" as text); give the value itself`,
        ctx.at(['vars', name]),
      );
      continue;
    }
    const parsed = setValue(set.value);
    if ('problem' in parsed) {
      ctx.error('invalid-set', `--set ${set.name}=…: the value ${parsed.problem}`, ctx.at(['vars', name]));
      continue;
    }
    out[name] = parsed.value;
  }
  return out;
}
