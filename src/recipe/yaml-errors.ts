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
 * The `yaml` library's parse errors in our words and at the place a user should look. The
 * library reports an unclosed quote or bracket where it noticed it (often the end of the file);
 * the opening quote or bracket is what needs fixing, so those point there instead.
 */
export function yamlErrorDiagnostic(doc: Document, source: SourceFile, problem: YAMLError): Diagnostic {
  const plain = problem.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim();
  const at = { file: source, ...rangeAt(problem.pos) };
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
      const kind = /^Flow (sequence|map) in block collection/.exec(plain)?.[1];
      const opening =
        kind === undefined
          ? undefined
          : unclosedFlow(doc, source, kind === 'sequence' ? ']' : '}', problem.pos[0]);
      if (kind !== undefined && opening !== undefined) {
        const [open, close, what] = kind === 'sequence' ? ['[', ']', 'list'] : ['{', '}', 'mapping'];
        return error(
          'yaml-syntax',
          `invalid YAML: this "${open}" is never closed; end the ${what} with "${close}" (a flow ${what} continued on the next lines must be indented)`,
          {
            file: source,
            range: opening,
          },
        );
      }
      break;
    }
    default:
      break;
  }
  return error('yaml-syntax', `invalid YAML: ${plain.charAt(0).toLowerCase()}${plain.slice(1)}`, at);
}

function rangeAt(pos: readonly number[] | undefined): { range?: SourceRange } {
  if (!pos || pos.length < 2) return {};
  const start = pos[0]!;
  return { range: { start, end: Math.max(pos[1]!, start + 1) } };
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
