import type { JsonValue } from '../util/json.js';
import { evaluateTemplate, type PreparedScope, type Template } from './expressions.js';
import type { ValueNode } from './types.js';
import type { DataPath } from './yaml-index.js';

/** A value tree evaluated as far as the scope allows. */
export interface Resolution {
  readonly value: JsonValue;
  /** Paths (relative to the resolved value) whose templates could not be evaluated yet. */
  readonly unknown: readonly DataPath[];
  /** Evaluation failures, with the template's own data path in the recipe. */
  readonly errors: readonly ResolutionError[];
}

export interface ResolutionError {
  readonly path: DataPath;
  readonly message: string;
  /** The template, and where in it the failing expression is, when that is known. */
  readonly source?: string;
  readonly offset?: number;
  readonly length?: number;
}

/**
 * Evaluates a value tree. Templates for which `ready` says no (they read a stage that has not
 * run, say) become placeholders (`null`, or what `placeholder` gives) listed in `unknown`, so
 * static checks can skip them; at run time every template is ready and `unknown` is empty.
 */
export function resolveValue(
  node: ValueNode,
  scope: PreparedScope,
  ready: (template: Template) => boolean = () => true,
  placeholder: (template: Template) => JsonValue = () => null,
): Resolution {
  const unknown: DataPath[] = [];
  const errors: ResolutionError[] = [];
  // One path, grown and shrunk as the walk goes: copied only for the rare unknown value, where a
  // fresh array per node made large recipes allocate (and collect) one array per value.
  const at: (string | number)[] = [];
  const walk = (n: ValueNode): JsonValue => {
    switch (n.kind) {
      case 'literal':
        return n.value;
      case 'template': {
        if (!ready(n.template)) {
          unknown.push([...at]);
          return placeholder(n.template);
        }
        const result = evaluateTemplate(n.template, scope);
        if (!result.ok) {
          errors.push({
            path: n.path,
            message: result.message,
            ...(result.offset !== undefined && {
              source: n.template.source,
              offset: result.offset,
              length: result.length,
            }),
          });
          unknown.push([...at]);
          return null;
        }
        return result.value;
      }
      case 'list': {
        const out: JsonValue[] = [];
        for (let i = 0; i < n.items.length; i++) {
          at.push(i);
          out.push(walk(n.items[i]!));
          at.pop();
        }
        return out;
      }
      case 'map': {
        const out: Record<string, JsonValue> = {};
        for (const [key, child] of n.entries) {
          at.push(key);
          out[key] = walk(child);
          at.pop();
        }
        return out;
      }
    }
  };
  const value = walk(node);
  return { value, unknown, errors };
}

/** True when a template reads only `vars` (and functions), so it can be evaluated before any run. */
export function isStatic(template: Template): boolean {
  return template.parts.every(
    (p) => typeof p === 'string' || p.references.every((r) => r.context === 'vars'),
  );
}

/** Var names lower-cased, as expressions match them (`vars.Scene` reads `scene`). */
export function declaredNames(names: Iterable<string>): ReadonlySet<string> {
  return new Set([...names].map((name) => name.toLowerCase()));
}

/**
 * True when a template reads only vars, and only declared ones, so it can be evaluated before
 * any run. A template reading an undeclared var is reported by the reference checks; evaluating
 * it as well would add a second, misleading problem ("must be a string, not null").
 */
export function readsDeclaredVars(
  template: Template,
  declared: ReadonlySet<string>,
  /** `item` and `index` count as known too: a `foreach` item is bound. */
  withItem = false,
): boolean {
  return template.parts.every(
    (p) =>
      typeof p === 'string' ||
      p.references.every((r) =>
        r.context === 'vars'
          ? typeof r.path[0] !== 'string' || declared.has(r.path[0].toLowerCase())
          : withItem && (r.context === 'item' || r.context === 'index'),
      ),
  );
}

/** True when `path` equals or lies under one of `prefixes`. */
export function isUnder(path: DataPath, prefixes: readonly DataPath[]): boolean {
  return prefixes.some(
    (prefix) =>
      prefix.length <= path.length && prefix.every((segment, i) => String(segment) === String(path[i])),
  );
}
