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
export function setValue(text: string): JsonValue {
  const trimmed = text.trim();
  if (/^(\[|-?[0-9]|true$|false$|null$)/.test(trimmed)) {
    try {
      const parsed = JSON.parse(trimmed) as unknown;
      if (Array.isArray(parsed) && parsed.every((v) => v === null || typeof v !== 'object'))
        return parsed as JsonValue;
      if (parsed === null || typeof parsed !== 'object') return parsed as JsonValue;
    } catch {
      // Not JSON after all: a string such as "1024_1536" or "2026 spring".
    }
  }
  return text;
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
  for (const set of sets) {
    if (!Object.hasOwn(vars, set.name)) {
      // Point at the `vars:` key, or at the top of a recipe that has none (not at its first line).
      const hasVars = ctx.index.keyRanges([]).has('vars');
      const message =
        names.length === 0
          ? `--set ${set.name}=…: the recipe declares no vars, so there is no "${set.name}" to override; declare it under vars:`
          : `--set ${set.name}=…: the recipe has no var "${set.name}"${didYouMean(set.name, names)} (--set can only override declared vars)`;
      ctx.error('unknown-set', message, ctx.at(hasVars ? ['vars'] : [], true));
      continue;
    }
    out[set.name] = setValue(set.value);
  }
  return out;
}
