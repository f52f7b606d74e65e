import { Evaluator, Lexer, Parser, data, wellKnownFunctions, type Expr } from '@actions/expressions';
import {
  ContextAccess,
  FunctionCall,
  Grouping,
  IndexAccess,
  Literal,
  Logical,
  Star,
} from '@actions/expressions/ast';
import type { JsonValue } from '../util/json.js';

/**
 * `${{ }}` expressions, with GitHub Actions' own grammar and functions (`@actions/expressions`,
 * the parser GitHub's workflow tooling uses) rather than regular expressions. This module finds
 * expressions inside strings, parses them once, lists what they reference (for the dependency
 * graph and the reference checks) and evaluates them against run-time data.
 */

/** Contexts a recipe may use. `item` and `index` exist only in a `foreach` stage. */
export const RECIPE_CONTEXTS = ['vars', 'stages', 'item', 'index'] as const;
export type ContextName = (typeof RECIPE_CONTEXTS)[number];

/** One segment of a static access path: a key, a list index, or `*`. */
export type AccessSegment = string | number | { readonly star: true };

/**
 * What an expression reads: a context and the literal part of its access path, e.g.
 * `stages.face.outputs.images[0]` is `{context: 'stages', path: ['face', 'outputs', 'images', 0]}`.
 * `dynamic` is true when the path continues with a computed index (`stages[vars.which]`), so
 * only the prefix is known before run time.
 */
export interface Reference {
  readonly context: ContextName;
  readonly path: readonly AccessSegment[];
  readonly dynamic: boolean;
  /** Offset and length of the reference's text within the template string. */
  readonly offset: number;
  readonly length: number;
  /**
   * True when the reference is an operand of `||` with another after it (`vars.style ||
   * 'photoreal'`): an empty or null value there gives way to the default.
   */
  readonly defaulted?: boolean;
}

/** One `${{ … }}` inside a string. */
export interface ExpressionPart {
  readonly text: string;
  readonly expr: Expr;
  /** Offset of `text` (the expression inside the braces) within the template string. */
  readonly offset: number;
  readonly references: readonly Reference[];
}

/**
 * A string value holding one or more expressions. When `whole` is true the string is exactly
 * one expression, nothing around it (as in GitHub Actions), and evaluation keeps the value's
 * type: a list stays a list. Otherwise results are interpolated as text.
 */
export interface Template {
  readonly source: string;
  readonly parts: readonly (string | ExpressionPart)[];
  readonly whole: boolean;
}

export interface TemplateSyntaxError {
  /** `unknown-context` for a name the recipe cannot use (`env`, `secrets`, `item` outside foreach). */
  readonly code: 'expression-syntax' | 'unknown-context';
  readonly message: string;
  /** Offset and length within the template string. */
  readonly offset: number;
  readonly length: number;
}

export type TemplateParse =
  | { readonly kind: 'plain' }
  | { readonly kind: 'template'; readonly template: Template }
  | {
      readonly kind: 'error';
      readonly errors: readonly TemplateSyntaxError[];
      /** The expressions of the string that did parse: their references are still checked. */
      readonly parsed: readonly ExpressionPart[];
    };

const OPEN = '${{';
const CLOSE = '}}';

/** Parses a string's `${{ }}` expressions; `plain` when it has none. Never throws. */
export function parseTemplate(
  source: string,
  contexts: readonly ContextName[] = RECIPE_CONTEXTS,
): TemplateParse {
  if (!source.includes(OPEN)) return { kind: 'plain' };
  const parts: (string | ExpressionPart)[] = [];
  const errors: TemplateSyntaxError[] = [];
  let cursor = 0;
  while (cursor < source.length) {
    const open = source.indexOf(OPEN, cursor);
    if (open < 0) {
      parts.push(source.slice(cursor));
      break;
    }
    if (open > cursor) parts.push(source.slice(cursor, open));
    const start = open + OPEN.length;
    const close = findClose(source, start);
    if (close < 0) {
      const quote = unclosedString(source, start);
      if (quote >= 0 && source.indexOf(CLOSE, quote) >= 0) {
        // The `}}` is there, but inside a string literal that never ends: that is the mistake.
        errors.push({ code: 'expression-syntax', message: rewordSymbol("'"), offset: quote, length: 1 });
      } else {
        errors.push({
          code: 'expression-syntax',
          message: 'unclosed "${{": add "}}" to end the expression',
          offset: open,
          length: source.length - open,
        });
      }
      break;
    }
    const raw = source.slice(start, close);
    const leading = raw.length - raw.trimStart().length;
    const text = raw.trim();
    const offset = start + leading;
    if (text === '') {
      errors.push({
        code: 'expression-syntax',
        message: 'empty expression "${{ }}"',
        offset: open,
        length: close + CLOSE.length - open,
      });
    } else {
      const parsed = parseExpressionCached(text, contexts);
      if (parsed.kind === 'error') {
        errors.push({
          code: parsed.code,
          message: parsed.message,
          offset: offset + parsed.offset,
          length: Math.max(1, parsed.length),
        });
      } else {
        parts.push({
          text,
          expr: parsed.expr,
          offset,
          references: parsed.references.map((r) => ({ ...r, offset: r.offset + offset })),
        });
      }
    }
    cursor = close + CLOSE.length;
  }
  const exprParts = parts.filter((p): p is ExpressionPart => typeof p !== 'string');
  if (errors.length > 0) return { kind: 'error', errors, parsed: exprParts };
  // As in GitHub Actions, only a value that is the expression and nothing else keeps its type:
  // `"  ${{ vars.x }}  "` is text with its spaces, and `" ${{ vars.list }}"` is text too.
  const whole = parts.length === 1 && exprParts.length === 1;
  return { kind: 'template', template: { source, parts: whole ? exprParts : parts, whole } };
}

/** Finds the `}}` that ends an expression, skipping `}}` inside single-quoted string literals. */
function findClose(source: string, from: number): number {
  let inString = false;
  for (let i = from; i < source.length; i++) {
    const c = source[i];
    if (c === "'") {
      if (inString && source[i + 1] === "'") {
        i++;
        continue;
      }
      inString = !inString;
    } else if (!inString && c === '}' && source[i + 1] === '}') {
      return i;
    }
  }
  return -1;
}

/** Where the string literal left open at the end of `source` starts, or -1. */
function unclosedString(source: string, from: number): number {
  let open = -1;
  for (let i = from; i < source.length; i++) {
    if (source[i] !== "'") continue;
    if (open >= 0 && source[i + 1] === "'") i++;
    else open = open >= 0 ? -1 : i;
  }
  return open;
}

/**
 * Parsed expressions by text and allowed contexts. Recipes repeat expressions a lot (every
 * stage of a fan reads `${{ vars.scene }}`), and a parsed expression costs ~1.4 KB and a few
 * microseconds; the trees are never mutated, so equal texts share one. Bounded: cleared when full.
 */
const parsedExpressions = new Map<string, ExpressionParse>();
const MAX_CACHED_EXPRESSIONS = 50_000;

/** The cache key's prefix per contexts list: callers pass a few constant lists, joined once each. */
const contextKeys = new WeakMap<readonly ContextName[], string>();

function parseExpressionCached(text: string, contexts: readonly ContextName[]): ExpressionParse {
  let prefix = contextKeys.get(contexts);
  if (prefix === undefined) contextKeys.set(contexts, (prefix = `${contexts.join(',')}\0`));
  const key = prefix + text;
  let parsed = parsedExpressions.get(key);
  if (parsed === undefined) {
    parsed = parseExpression(text, contexts);
    if (parsedExpressions.size >= MAX_CACHED_EXPRESSIONS) parsedExpressions.clear();
    parsedExpressions.set(key, parsed);
  }
  return parsed;
}

type ExpressionParse =
  | { kind: 'ok'; expr: Expr; references: Reference[] }
  | {
      kind: 'error';
      code: TemplateSyntaxError['code'];
      message: string;
      offset: number;
      length: number;
    };

function parseExpression(text: string, contexts: readonly ContextName[]): ExpressionParse {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const toOffset = (pos: { line: number; column: number }) => (lineStarts[pos.line] ?? 0) + pos.column;
  let expr: Expr;
  try {
    const tokens = new Lexer(text).lex().tokens;
    expr = new Parser(tokens, [...contexts], []).parse();
  } catch (cause) {
    const problem = cause as Error & { pos?: { line: number; column: number }; tok?: { lexeme?: string } };
    // The lexer throws plain errors that carry the position only in their text.
    const lexed = /^Unexpected symbol: '([\s\S]*)'\. Located at position (\d+) within expression: /.exec(
      problem.message,
    );
    if (lexed)
      return {
        kind: 'error',
        code: 'expression-syntax',
        message: rewordSymbol(lexed[1]!),
        offset: Number(lexed[2]) - 1,
        length: lexed[1]!.length,
      };
    const offset = problem.pos ? toOffset(problem.pos) : 0;
    const length = problem.tok?.lexeme?.length ?? 1;
    const code = /^Unrecognized named-value/.test(problem.message) ? 'unknown-context' : 'expression-syntax';
    return { kind: 'error', code, message: rewordParseError(problem.message, contexts), offset, length };
  }
  const badFormat = checkFormatCalls(expr, toOffset);
  if (badFormat) return { kind: 'error', code: 'expression-syntax', ...badFormat };
  const references: Reference[] = [];
  collectReferences(expr, references, toOffset);
  return { kind: 'ok', expr, references };
}

/**
 * `format('{0} and {1}', x)` fails whatever x is. Evaluation finds it only when every argument
 * is known before the run, so a call taking a stage's output would fail when that stage's
 * dependents start, after it was paid for. The format string is put through GitHub's own
 * `format` with as many (empty) arguments as the call has, so the rules are exactly its rules.
 */
function checkFormatCalls(
  node: Expr,
  toOffset: (pos: { line: number; column: number }) => number,
): { message: string; offset: number; length: number } | undefined {
  if (node instanceof FunctionCall && node.functionName.lexeme.toLowerCase() === 'format') {
    const [first, ...rest] = node.args;
    if (first instanceof Literal && first.literal.kind === data.Kind.String) {
      const text = first.literal.coerceString();
      try {
        wellKnownFunctions['format']!.call(first.literal, ...rest.map(() => new data.StringData('')));
      } catch (cause) {
        const tooFew = /references more arguments/.test((cause as Error).message);
        const count = `${rest.length} argument${rest.length === 1 ? '' : 's'}`;
        return {
          message: tooFew
            ? `invalid expression: the format string '${text}' uses more placeholders than the ${count} after it ({0} is the first); add the missing arguments or remove the extra placeholders`
            : `invalid expression: the format string '${text}' is not valid; placeholders are {0}, {1}, …, and a literal brace is written {{ or }}`,
          offset: toOffset(first.token.range.start),
          length: Math.max(1, toOffset(first.token.range.end) - toOffset(first.token.range.start)),
        };
      }
    }
  }
  for (const child of childrenOf(node)) {
    const found = checkFormatCalls(child, toOffset);
    if (found) return found;
  }
  return undefined;
}

function rewordParseError(message: string, contexts: readonly ContextName[]): string {
  const named = /^Unrecognized named-value: '([^']*)'/.exec(message);
  if (named) {
    const name = named[1]!.toLowerCase();
    if ((name === 'item' || name === 'index') && !contexts.includes(name)) {
      return `"${name}" is only available in the input of a stage with foreach`;
    }
    const list = contexts.join(', ');
    // GitHub Actions habits: a recipe has no env or secrets; values come in through vars and --set.
    const hint =
      name === 'env' || name === 'secrets'
        ? ' (declare the value under vars and override it with --set NAME=VALUE)'
        : '';
    return `unknown context "${named[1]}" in expression; recipes can use ${list}${hint}`;
  }
  if (message === 'ErrorExceededMaxLength') return 'expression is too long (over 21000 characters)';
  const fn = /^Unrecognized function: '([^']*)'/.exec(message);
  if (fn)
    return `unknown function "${fn[1]}" in expression (GitHub Actions expression functions are available, e.g. format, join, toJSON)`;
  const end = /^Unexpected end of expression/.exec(message);
  if (end) return 'invalid expression: it ends too early; something is missing after this';
  const symbol = /^Unexpected symbol: '([\s\S]*)'$/.exec(message);
  if (symbol) return rewordSymbol(symbol[1]!);
  const depth = /^Exceeded max expression depth (\d+)/.exec(message);
  if (depth) return `invalid expression: it nests too deeply (more than ${depth[1]!} levels)`;
  const count = /^Too (few|many) parameters supplied: '([^']*)'/.exec(message);
  if (count) return `invalid expression: too ${count[1]!} arguments for ${count[2]!}(…)`;
  const lowered = message.charAt(0).toLowerCase() + message.slice(1);
  return `invalid expression: ${lowered}`;
}

function rewordSymbol(symbol: string): string {
  if (symbol.startsWith("'"))
    return "invalid expression: this string is never closed; end it with ' (write '' for a quote inside it)";
  if (symbol.startsWith('"'))
    return `invalid expression: strings in expressions take single quotes; write '${symbol.replace(/^"|"$/g, '')}'`;
  if (symbol === 'EOF') return 'invalid expression: it ends too early; something is missing after this';
  return `invalid expression: unexpected "${symbol}"`;
}

/**
 * Records every maximal access chain (`stages.face.outputs.images[0]`) rooted at a context.
 * Computed indexes stop the static path and mark the reference dynamic; their own
 * sub-expressions are still visited, so `stages[vars.which]` also references `vars.which`.
 */
function collectReferences(
  node: Expr,
  out: Reference[],
  toOffset: (pos: { line: number; column: number }) => number,
  /** The node is an operand of `||` with another after it. */
  defaulted = false,
): void {
  if (node instanceof Grouping) {
    collectReferences(node.group, out, toOffset, defaulted);
    return;
  }
  if (node instanceof Logical && node.operator.lexeme === '||') {
    const last = node.args.length - 1;
    node.args.forEach((arg, i) => collectReferences(arg, out, toOffset, i < last));
    return;
  }
  const chain = accessChain(node);
  if (chain) {
    const start = toOffset(chain.root.name.range.start);
    const end = chain.end === undefined ? toOffset(chain.root.name.range.end) : toOffset(chain.end);
    const context = chain.root.name.lexeme.toLowerCase() as ContextName;
    out.push({
      context,
      // Property names match in any case, as in GitHub Actions (`stages.Face.Outputs` reads
      // stages.face.outputs; stage ids are lowercase): the stage and the kind are kept lowercase.
      path:
        context === 'stages'
          ? chain.path.map((s, i) => (i < 2 && typeof s === 'string' ? s.toLowerCase() : s))
          : chain.path,
      dynamic: chain.dynamic,
      offset: start,
      length: Math.max(1, end - start),
      ...(defaulted && { defaulted }),
    });
    for (const computed of chain.computed) collectReferences(computed, out, toOffset);
    return;
  }
  if (node instanceof IndexAccess) {
    collectReferences(node.expr, out, toOffset);
    collectReferences(node.index, out, toOffset);
  } else if (node instanceof FunctionCall) {
    for (const arg of node.args) collectReferences(arg, out, toOffset);
  } else {
    for (const child of childrenOf(node)) collectReferences(child, out, toOffset);
  }
}

interface Chain {
  root: ContextAccess;
  path: AccessSegment[];
  dynamic: boolean;
  computed: Expr[];
  end?: { line: number; column: number };
}

function accessChain(node: Expr): Chain | undefined {
  if (node instanceof ContextAccess) return { root: node, path: [], dynamic: false, computed: [] };
  if (!(node instanceof IndexAccess)) return undefined;
  const inner = accessChain(node.expr);
  if (!inner) return undefined;
  const index = node.index;
  if (
    !inner.dynamic &&
    index instanceof Literal &&
    (index.literal.kind === data.Kind.String || index.literal.kind === data.Kind.Number)
  ) {
    const value =
      index.literal.kind === data.Kind.String ? index.literal.coerceString() : Number(index.literal.number());
    inner.path.push(value);
    inner.end = index.token.range.end;
    // `stages.face.outputs['images']`: the closing bracket follows the literal.
    if (index.token.lexeme.startsWith("'") || index.literal.kind === data.Kind.Number) {
      inner.end = { line: index.token.range.end.line, column: index.token.range.end.column + 1 };
    }
  } else if (!inner.dynamic && index instanceof Star) {
    inner.path.push({ star: true });
  } else {
    inner.dynamic = true;
    inner.computed.push(index);
  }
  return inner;
}

function childrenOf(node: Expr): Expr[] {
  const n = node as unknown as Record<string, unknown>;
  const out: Expr[] = [];
  for (const key of ['expr', 'left', 'right', 'group']) {
    const child = n[key];
    if (child && typeof child === 'object' && 'accept' in child) out.push(child as Expr);
  }
  const args = n['args'];
  if (Array.isArray(args)) out.push(...(args as Expr[]));
  return out;
}

/** Values the expressions of one evaluation can see. Absent contexts evaluate to null. */
export interface ExpressionScope {
  readonly vars: JsonValue;
  readonly stages: JsonValue;
  readonly item?: JsonValue;
  readonly index?: number;
}

/**
 * A scope converted once into the library's data model. Converting per expression would redo
 * the same work for every stage of a large recipe.
 */
export class PreparedScope {
  readonly #dictionary: data.Dictionary;

  constructor(scope: ExpressionScope) {
    const full: Record<string, JsonValue> = {
      vars: scope.vars,
      stages: scope.stages,
      item: scope.item ?? null,
      index: scope.index ?? null,
    };
    this.#dictionary = toExpressionData(full) as data.Dictionary;
  }

  get dictionary(): data.Dictionary {
    return this.#dictionary;
  }
}

/** A failed evaluation names, where it can, the expression at fault (offset and length in the template). */
export type Evaluation =
  | { readonly ok: true; readonly value: JsonValue }
  | { readonly ok: false; readonly message: string; readonly offset?: number; readonly length?: number };

/** Evaluates a template: a whole expression keeps its type, anything else becomes text. */
export function evaluateTemplate(template: Template, scope: PreparedScope): Evaluation {
  let current: ExpressionPart | undefined;
  try {
    if (template.whole) {
      const part = template.parts[0] as ExpressionPart;
      current = part;
      return { ok: true, value: fromExpressionData(new Evaluator(part.expr, scope.dictionary).evaluate()) };
    }
    let text = '';
    for (const part of template.parts) {
      if (typeof part === 'string') {
        text += part;
        continue;
      }
      current = part;
      const result = new Evaluator(part.expr, scope.dictionary).evaluate();
      if (result.kind === data.Kind.Array || result.kind === data.Kind.Dictionary) {
        const what = result.kind === data.Kind.Array ? 'a list' : 'a mapping';
        return {
          ok: false,
          message: `"\${{ ${part.text} }}" gives ${what}, which cannot be embedded in text; make the expression the whole value, or use toJSON(...)`,
          offset: part.offset,
          length: part.text.length,
        };
      }
      text += result.coerceString();
    }
    return { ok: true, value: text };
  } catch (cause) {
    return {
      ok: false,
      message: `cannot evaluate ${current ? `"\${{ ${current.text} }}"` : 'expression'}: ${evaluationError(cause, current?.text ?? '')}`,
      ...(current && { offset: current.offset, length: current.text.length }),
    };
  }
}

/**
 * The library's evaluation errors in our words, each with a fix (its fromJSON error hides the
 * parser's). `text` is the failing expression, to tell a var's value from a literal.
 */
function evaluationError(cause: unknown, text: string): string {
  const error = cause as Error & { cause?: unknown };
  const message = error.message;
  // An error inside an index (`a[fromJSON('')]`) is that error.
  if (/^could not evaluate index for index access: /.test(message) && error.cause !== undefined)
    return evaluationError(error.cause, text);
  // A var read as a list (not `fromJSON(vars.cfg).size`, a mapping, which vars cannot hold).
  const fromVar = /\bfromJSON\s*\(\s*vars\.[A-Za-z0-9_-]+\s*\)(?!\s*(\.|\[\s*'))/i.test(text)
    ? ', or write the var as a YAML list and drop fromJSON'
    : '';
  if (/^Error parsing JSON/.test(message))
    return `fromJSON was given text that is not JSON (${error.cause instanceof Error ? error.cause.message : 'it does not parse'}); give it JSON text (strings in double quotes, decimal numbers: '["a.jpg", "b.jpg"]')${fromVar}`;
  if (message === 'empty input')
    return `fromJSON was given empty text; give it JSON text ('["a.jpg", "b.jpg"]'), or a default for when it is empty: fromJSON(… || '[]')`;
  const format =
    /^The following format string (references more arguments than were supplied|is invalid): ([\s\S]*)$/.exec(
      message,
    );
  if (format) {
    const given = format[2]!.length > 60 ? `${format[2]!.slice(0, 57)}...` : format[2]!;
    return format[1]!.startsWith('references')
      ? `the format string '${given}' uses more placeholders than the arguments after it ({0} is the first); add the missing arguments or remove the extra placeholders`
      : `the format string '${given}' is not valid: placeholders are {0}, {1}, …, and a literal brace is written {{ or }}; to insert text that has braces, pass it as an argument: format('{0}', …)`;
  }
  if (/^case predicate must evaluate to a boolean/.test(message))
    return "case() takes conditions that are true or false (a comparison, such as vars.mode == 'hero'), each followed by its value, then a default";
  return message.charAt(0).toLowerCase() + message.slice(1);
}

/**
 * Our JSON into the library's data model. Not `JSON.parse(…, data.reviver)`: the reviver
 * spreads every list and mapping into a constructor call, which overflows the stack for a
 * recipe with some hundred thousand vars or list items.
 */
function toExpressionData(value: JsonValue): data.ExpressionData {
  if (value === null) return new data.Null();
  if (typeof value === 'string') return new data.StringData(value);
  if (typeof value === 'number') return new data.NumberData(value);
  if (typeof value === 'boolean') return new data.BooleanData(value);
  if (Array.isArray(value)) {
    const list = new data.Array();
    for (const item of value as readonly JsonValue[]) list.add(toExpressionData(item));
    return list;
  }
  const dictionary = new data.Dictionary();
  for (const [key, item] of Object.entries(value)) dictionary.add(key, toExpressionData(item));
  return dictionary;
}

function fromExpressionData(value: data.ExpressionData): JsonValue {
  const text = JSON.stringify(value, data.replacer);
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}
