import {
  isCollection,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type YAMLError,
} from 'yaml';
import { error, type Diagnostic } from './diagnostic.js';
import type { SourceFile, SourceRange } from './source.js';

/**
 * The `yaml` library's parse errors in our words and at the place a user should look, each said
 * once. One mistake often makes several errors: `prompt: ${{ format('a: {0}', x) }}` is a nested
 * key to the parser, then an unexpected quoted string further along the line. Where a mistake
 * is explained (the fix shown), the parser's other words about the same line are left out.
 */
export function yamlErrorDiagnostics(
  doc: Document,
  source: SourceFile,
  problems: readonly YAMLError[],
): Diagnostic[] {
  const said = new Set<string>();
  const found = problems.map((problem) => {
    const plain = problem.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim();
    const explained = explainedError(doc, source, problem, plain);
    const diagnostic =
      explained ??
      error('yaml-syntax', `invalid YAML: ${plain.charAt(0).toLowerCase()}${plain.slice(1)}`, {
        file: source,
        ...rangeAt(source, problem.pos),
      });
    return { diagnostic, explained: explained !== undefined, line: lineOf(source, diagnostic) };
  });
  const explainedLines = new Set(found.filter((f) => f.explained).map((f) => f.line));
  const out: Diagnostic[] = [];
  for (const { diagnostic, explained, line } of found) {
    if (!explained && line !== undefined && explainedLines.has(line)) continue;
    const key = `${diagnostic.location?.range?.start ?? -1}:${diagnostic.message}`;
    if (said.has(key)) continue;
    said.add(key);
    out.push(diagnostic);
  }
  return out;
}

function lineOf(source: SourceFile, diagnostic: Diagnostic): number | undefined {
  const start = diagnostic.location?.range?.start;
  return start === undefined ? undefined : source.position(start).line;
}

/**
 * A parse error the parser words in its own terms, rewritten where we know the mistake. The
 * library reports an unclosed quote or bracket where it noticed it (often the end of the file);
 * the opening quote or bracket is what needs fixing, so those point there instead.
 */
function explainedError(
  doc: Document,
  source: SourceFile,
  problem: YAMLError,
  plain: string,
): Diagnostic | undefined {
  const at = { file: source, ...rangeAt(source, problem.pos) };
  const expression = unquotedFlowExpression(source, problem.pos[0]);
  if (expression) return expression;
  switch (problem.code) {
    case 'TAB_AS_INDENT':
      return error('yaml-syntax', 'tabs cannot indent YAML; use spaces', at);
    case 'MULTIPLE_DOCS':
      return error(
        'yaml-syntax',
        'a recipe file holds one YAML document; remove the extra "---" section',
        at,
      );
    case 'MISSING_CHAR': {
      const quote = /^Missing closing (["'])quote/.exec(plain)?.[1];
      const opening = quote === undefined ? undefined : unclosedQuote(doc, source, quote, problem.pos[0]);
      if (quote !== undefined && opening !== undefined) {
        return error(
          'yaml-syntax',
          `invalid YAML: this quoted string is never closed; add the closing ${quote} where the text ends`,
          { file: source, range: opening },
        );
      }
      break;
    }
    case 'BAD_INDENT': {
      if (/^All mapping items must start at the same column/.test(plain)) {
        return error(
          'yaml-syntax',
          'invalid YAML: this key is not lined up with the other keys of its mapping; indent it like them',
          at,
        );
      }
      const flow = unclosedFlowError(doc, source, plain, problem.pos[0]);
      if (flow) return flow;
      break;
    }
    case 'BLOCK_AS_IMPLICIT_KEY': {
      const colon = colonInValue(source, problem.pos[0]);
      if (colon) return colon;
      break;
    }
    default:
      break;
  }
  return undefined;
}

/** The source line an offset is on (without its line break), and the offset it starts at. */
function lineAround(source: SourceFile, at: number): { lineStart: number; line: string } {
  const { line, column } = source.position(at);
  return { lineStart: Math.min(at, source.text.length) - column + 1, line: source.lineText(line) };
}

/**
 * `image_urls: [${{ vars.s }}, …]` or `input: { image: ${{ vars.s }} }`: inside [ ] or { } the
 * braces of an unquoted expression are YAML's own, so the parser's words are about flow
 * collections. The fix is to quote the expression, which the message shows.
 */
function unquotedFlowExpression(source: SourceFile, at: number): Diagnostic | undefined {
  const { lineStart, line } = lineAround(source, at);
  let quote: string | undefined;
  let flow = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return undefined;
    if (c === '"' || c === "'") quote = c;
    else if (line.startsWith('${{', i)) {
      if (flow === 0) return undefined;
      const close = line.indexOf('}}', i + 3);
      const end = close < 0 ? line.length : close + 2;
      const expr = line.slice(i, end);
      return error(
        'yaml-syntax',
        `invalid YAML: an expression inside [ ] or { } must be quoted, or YAML reads its braces as its own; write "${expr}"`,
        { file: source, range: { start: lineStart + i, end: lineStart + end } },
      );
    } else if ((c === '[' || c === '{') && opensFlow(line, i, flow)) flow++;
    else if ((c === ']' || c === '}') && flow > 0) flow--;
  }
  return undefined;
}

/**
 * Whether a bracket at `i` starts a flow collection: where a value starts (after `key: `, a
 * list's `- `, the line's indentation) or, inside one, after `,` or another bracket. A bracket
 * in the middle of plain text (`Keep [the pose`) is just text.
 */
function opensFlow(line: string, i: number, flow: number): boolean {
  const before = line.slice(0, i).trimEnd();
  if (before === '') return true;
  const last = before[before.length - 1]!;
  if (last === ':' || (last === '-' && /(^|\s)-$/.test(before))) return true;
  return flow > 0 && (last === ',' || last === '[' || last === '{');
}

/**
 * `prompt: Keep the pose: change only the face`: YAML reads the second ": " as a nested key
 * ("nested mappings are not allowed in compact mappings"). Very common in prompts; the fix is
 * to quote the value, which the message shows.
 */
function colonInValue(source: SourceFile, at: number): Diagnostic | undefined {
  const { lineStart, line } = lineAround(source, at);
  const match = /^(\s*(?:- )?)([^\s:#][^:#]*?):[ \t]+(\S.*?)\s*$/.exec(line);
  if (!match) return undefined;
  const [, lead, key, written] = match as unknown as [string, string, string, string];
  // A comment after the value is not part of it.
  const value = written.replace(/\s+#.*$/, '');
  if (!/:[ \t]/.test(value) || /^["'[{|>]/.test(value)) return undefined;
  const start = lineStart + line.indexOf(value, lead.length + key.length + 1);
  const quoted = `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return error(
    'yaml-syntax',
    `invalid YAML: this value has ": " in it, which YAML reads as the start of another key; quote the whole value: ${key}: ${quoted}`,
    { file: source, range: { start, end: start + value.length } },
  );
}

/** "Flow sequence in block collection must be … end with a ]": points at the unclosed bracket. */
function unclosedFlowError(
  doc: Document,
  source: SourceFile,
  plain: string,
  before: number,
): Diagnostic | undefined {
  const kind = /^Flow (sequence|map) in block collection/.exec(plain)?.[1];
  if (kind === undefined) return undefined;
  const [open, close, what] = kind === 'sequence' ? ['[', ']', 'list'] : ['{', '}', 'mapping'];
  const opening = unclosedFlow(doc, source, close, before);
  if (opening === undefined) return undefined;
  return error(
    'yaml-syntax',
    `invalid YAML: this "${open}" is never closed; end the ${what} with "${close}" (a flow ${what} continued on the next lines must be indented)`,
    { file: source, range: opening },
  );
}

/**
 * The library's position as a range. A one-character position on indentation moves to the
 * text after it, so the underline starts where the misplaced key does.
 */
function rangeAt(source: SourceFile, pos: readonly number[] | undefined): { range?: SourceRange } {
  if (!pos || pos.length < 2) return {};
  let start = pos[0]!;
  const end = Math.max(pos[1]!, start + 1);
  if (end - start === 1) {
    let text = start;
    while (source.text[text] === ' ') text++;
    if (text < source.text.length && source.text[text] !== '\n' && source.text[text] !== '\r') start = text;
  }
  return { range: { start, end: Math.max(end, start + 1) } };
}

/** The last quoted scalar before `before` whose text does not end with its closing quote. */
function unclosedQuote(
  doc: Document,
  source: SourceFile,
  quote: string,
  before: number,
): SourceRange | undefined {
  const type = quote === '"' ? 'QUOTE_DOUBLE' : 'QUOTE_SINGLE';
  let found: SourceRange | undefined;
  for (const node of nodesOf(doc)) {
    const range = node.range;
    if (
      !isScalar(node) ||
      node.type !== type ||
      !range ||
      range[0] >= before ||
      (found && found.start > range[0])
    )
      continue;
    const text = source.text.slice(range[0], range[1]).trimEnd();
    if (text.length < 2 || !text.endsWith(quote)) found = { start: range[0], end: range[1] };
  }
  return found;
}

/** The innermost (last opened) flow collection before `before` that is not closed with `close`. */
function unclosedFlow(
  doc: Document,
  source: SourceFile,
  close: string,
  before: number,
): SourceRange | undefined {
  let found: SourceRange | undefined;
  for (const node of nodesOf(doc)) {
    const range = node.range;
    const ofKind = close === ']' ? isSeq(node) : isMap(node);
    if (
      !ofKind ||
      !isCollection(node) ||
      !node.flow ||
      !range ||
      range[0] >= before ||
      (found && found.start > range[0])
    )
      continue;
    const text = source.text.slice(range[0], range[1]).trimEnd();
    if (!text.endsWith(close)) found = { start: range[0], end: range[0] + 1 };
  }
  return found;
}

/** Every node of the document, without recursion (a broken file may nest very deeply). */
function* nodesOf(doc: Document): Generator<Node> {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isPair(node)) stack.push(node.value, node.key);
    else if (isNode(node)) {
      yield node;
      if (isCollection(node)) for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
    }
  }
}
