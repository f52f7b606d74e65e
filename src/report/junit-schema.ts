import { parseXml } from './junit.js';

/**
 * A validator equivalent to the Jenkins xunit plugin's `junit-10.xsd`
 * (jenkinsci/xunit-plugin, `src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd`,
 * MIT), the schema most JUnit consumers accept, written as a table because no XSD validator
 * installs from npm without native code. It checks what the XSD checks for the elements it
 * declares: the root element, allowed and required attributes, the `SUREFIRE_TIME` pattern of
 * `time` on suites, which child elements each element may hold and in what order, and that
 * text appears only where the schema allows it. It also checks that the document is
 * well-formed XML 1.0 with only legal characters (which an XSD validator's parser enforces).
 *
 * Returns the problems found, as `path: message`; an empty list means valid.
 */
export function checkJunitXml(xml: string): string[] {
  const problems: string[] = [];
  // XML 1.0 `Char`: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF (a lone surrogate is not one).
  const bad = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u.exec(xml);
  if (bad)
    problems.push(
      `document: character U+${bad[0].codePointAt(0)!.toString(16).padStart(4, '0')} is not allowed in XML 1.0`,
    );
  // xmlbuilder2's parser is lenient (it closes unclosed tags), so well-formedness is checked first.
  const malformed = wellFormednessError(xml);
  if (malformed !== undefined) return [...problems, `document: not well-formed XML: ${malformed}`];
  let root: Element;
  try {
    root = parseXml(xml) as Element;
  } catch (cause) {
    return [...problems, `document: not well-formed XML: ${(cause as Error).message}`];
  }
  if (root.nodeName !== 'testsuites' && root.nodeName !== 'testsuite')
    problems.push(`/${root.nodeName}: the root must be <testsuites> or <testsuite>`);
  else checkElement(root, `/${root.nodeName}`, problems);
  return problems;
}

/** `SUREFIRE_TIME` from junit-10.xsd (XSD patterns match the whole value). */
const SUREFIRE_TIME = /^(?:(?:[0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(?:\.[0-9]*)?$/;

interface Attr {
  readonly required?: boolean;
  readonly pattern?: RegExp;
}

/**
 * Content models: `text` (xs:string: text only, no attributes or elements), `choice` (any
 * number of the listed elements in any order, as `<xs:choice maxOccurs="unbounded">`),
 * `sequence` (the listed elements in order, each with its occurrence bounds). `mixed` allows
 * text between the elements.
 */
type Content =
  | { readonly kind: 'text' }
  | { readonly kind: 'choice'; readonly of: readonly string[]; readonly mixed: boolean }
  | {
      readonly kind: 'sequence';
      readonly of: readonly (readonly [string, number, number])[];
      readonly mixed: boolean;
    };

interface Rule {
  readonly attributes: Readonly<Record<string, Attr>>;
  readonly content: Content;
}

const OPTIONAL: Attr = {};
const REQUIRED: Attr = { required: true };
const TEXT: Content = { kind: 'text' };
const MESSAGE_TYPE: Rule = {
  attributes: { type: OPTIONAL, message: OPTIONAL },
  content: { kind: 'choice', of: [], mixed: true },
};
const RERUN: Rule = {
  attributes: { message: OPTIONAL, type: REQUIRED },
  content: {
    kind: 'sequence',
    of: [
      ['stackTrace', 0, 1],
      ['system-out', 0, 1],
      ['system-err', 0, 1],
    ],
    mixed: true,
  },
};

const RULES: Readonly<Record<string, Rule>> = {
  testsuites: {
    attributes: {
      name: OPTIONAL,
      time: { pattern: SUREFIRE_TIME },
      tests: OPTIONAL,
      failures: OPTIONAL,
      errors: OPTIONAL,
    },
    content: { kind: 'sequence', of: [['testsuite', 0, Infinity]], mixed: false },
  },
  testsuite: {
    attributes: {
      name: REQUIRED,
      tests: REQUIRED,
      failures: REQUIRED,
      errors: REQUIRED,
      group: OPTIONAL,
      time: { pattern: SUREFIRE_TIME },
      skipped: OPTIONAL,
      timestamp: OPTIONAL,
      hostname: OPTIONAL,
      id: OPTIONAL,
      package: OPTIONAL,
      file: OPTIONAL,
      log: OPTIONAL,
      url: OPTIONAL,
    },
    content: {
      kind: 'choice',
      of: ['testsuite', 'properties', 'testcase', 'system-out', 'system-err'],
      mixed: false,
    },
  },
  properties: {
    attributes: {},
    content: { kind: 'sequence', of: [['property', 0, Infinity]], mixed: false },
  },
  property: {
    attributes: { name: REQUIRED, value: REQUIRED },
    content: { kind: 'sequence', of: [], mixed: false },
  },
  testcase: {
    attributes: { name: REQUIRED, time: OPTIONAL, classname: OPTIONAL, group: OPTIONAL },
    content: {
      kind: 'choice',
      of: [
        'skipped',
        'error',
        'failure',
        'rerunFailure',
        'rerunError',
        'flakyFailure',
        'flakyError',
        'system-out',
        'system-err',
      ],
      mixed: false,
    },
  },
  failure: MESSAGE_TYPE,
  error: MESSAGE_TYPE,
  skipped: MESSAGE_TYPE,
  rerunFailure: RERUN,
  rerunError: RERUN,
  flakyFailure: RERUN,
  flakyError: RERUN,
  'system-out': { attributes: {}, content: TEXT },
  'system-err': { attributes: {}, content: TEXT },
  stackTrace: { attributes: {}, content: TEXT },
};

/** The parts of the DOM this check reads (xmlbuilder2's nodes implement the DOM). */
interface Element {
  readonly nodeName: string;
  readonly nodeType: number;
  readonly attributes: ArrayLike<{ readonly name: string; readonly value: string }>;
  readonly childNodes: ArrayLike<Element & { readonly data?: string }>;
}

const ELEMENT = 1;
const TEXT_NODE = 3;
const CDATA = 4;

function checkElement(el: Element, path: string, problems: string[]): void {
  const rule = RULES[el.nodeName];
  if (!rule) {
    problems.push(`${path}: element <${el.nodeName}> is not declared by junit-10.xsd`);
    return;
  }
  const seen = new Set<string>();
  for (let i = 0; i < el.attributes.length; i++) {
    const { name, value } = el.attributes[i]!;
    seen.add(name);
    const attr = rule.attributes[name];
    if (!attr) problems.push(`${path}: attribute "${name}" is not allowed on <${el.nodeName}>`);
    else if (attr.pattern && !attr.pattern.test(value))
      problems.push(`${path}: attribute "${name}"="${value}" does not match ${String(attr.pattern)}`);
  }
  for (const [name, attr] of Object.entries(rule.attributes))
    if (attr.required && !seen.has(name)) problems.push(`${path}: required attribute "${name}" is missing`);

  const children: Element[] = [];
  for (let i = 0; i < el.childNodes.length; i++) {
    const node = el.childNodes[i]!;
    if (node.nodeType === ELEMENT) children.push(node);
    else if (node.nodeType === TEXT_NODE || node.nodeType === CDATA) {
      const textAllowed = rule.content.kind === 'text' || rule.content.mixed;
      if (!textAllowed && (node.data ?? '').trim() !== '')
        problems.push(`${path}: text is not allowed in <${el.nodeName}>`);
    }
  }
  const content = rule.content;
  switch (content.kind) {
    case 'text':
      if (children.length > 0)
        problems.push(`${path}: <${el.nodeName}> holds text only, found <${children[0]!.nodeName}>`);
      break;
    case 'choice':
      for (const c of children)
        if (!content.of.includes(c.nodeName))
          problems.push(`${path}: <${c.nodeName}> is not allowed in <${el.nodeName}>`);
      break;
    case 'sequence': {
      let at = 0;
      for (const [name, min, max] of content.of) {
        let n = 0;
        while (at < children.length && children[at]!.nodeName === name && n < max) {
          at++;
          n++;
        }
        if (n < min) problems.push(`${path}: expected at least ${min} <${name}> in <${el.nodeName}>`);
      }
      if (at < children.length)
        problems.push(`${path}: <${children[at]!.nodeName}> is not allowed here in <${el.nodeName}>`);
      break;
    }
  }
  const counts = new Map<string, number>();
  for (const c of children) {
    const n = (counts.get(c.nodeName) ?? 0) + 1;
    counts.set(c.nodeName, n);
    checkElement(c, `${path}/${c.nodeName}[${n}]`, problems);
  }
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const BAD_ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/;

/**
 * The well-formedness rules of XML 1.0 that matter for a report: one root element, tags
 * balanced and properly nested, attributes named, quoted and unique, no `<` in attribute
 * values, only the predefined and numeric entity references, no text outside the root.
 * Comments, processing instructions and CDATA sections are skipped whole. Returns the first
 * problem, or undefined.
 */
export function wellFormednessError(xml: string): string | undefined {
  const stack: string[] = [];
  let rootSeen = false;
  let i = 0;
  const name = (at: number): string | undefined => {
    NAME.lastIndex = at;
    return NAME.exec(xml)?.[0];
  };
  const skipSpace = (at: number) => {
    while (at < xml.length && /\s/.test(xml[at]!)) at++;
    return at;
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    if (BAD_ENTITY.test(text)) return `a bare "&" or an unknown entity in text near offset ${i}`;
    if (text.includes(']]>')) return `"]]>" in text near offset ${i}`;
    if (stack.length === 0 && text.trim() !== '') return `text outside the root element near offset ${i}`;
    if (lt === -1) break;
    const skipTo = (end: string, what: string): number | string => {
      const at = xml.indexOf(end, lt);
      return at === -1 ? `unterminated ${what} at offset ${lt}` : at + end.length;
    };
    let next: number | string | undefined;
    if (xml.startsWith('<?', lt)) next = skipTo('?>', 'processing instruction');
    else if (xml.startsWith('<!--', lt)) next = skipTo('-->', 'comment');
    else if (xml.startsWith('<![CDATA[', lt))
      next =
        stack.length === 0
          ? `CDATA outside the root element at offset ${lt}`
          : skipTo(']]>', 'CDATA section');
    else if (xml.startsWith('<!DOCTYPE', lt))
      next = rootSeen ? `DOCTYPE after the root element at offset ${lt}` : skipTo('>', 'DOCTYPE');
    if (typeof next === 'string') return next;
    if (next !== undefined) {
      i = next;
      continue;
    }
    if (xml.startsWith('</', lt)) {
      const tag = name(lt + 2);
      if (tag === undefined) return `a closing tag without a name at offset ${lt}`;
      const end = skipSpace(lt + 2 + tag.length);
      if (xml[end] !== '>') return `"</${tag}" is not closed with ">" at offset ${lt}`;
      const open = stack.pop();
      if (open !== tag)
        return open === undefined
          ? `"</${tag}>" closes nothing at offset ${lt}`
          : `"</${tag}>" closes <${open}> at offset ${lt}`;
      i = end + 1;
      continue;
    }
    const tag = name(lt + 1);
    if (tag === undefined) return `a bare "<" at offset ${lt}`;
    if (stack.length === 0 && rootSeen) return `a second root element <${tag}> at offset ${lt}`;
    let at = lt + 1 + tag.length;
    const attributes = new Set<string>();
    for (;;) {
      const before = at;
      at = skipSpace(at);
      if (xml.startsWith('/>', at) || xml[at] === '>') break;
      if (at === before) return `attributes of <${tag}> must be separated by space at offset ${at}`;
      const attr = name(at);
      if (attr === undefined) return `a malformed attribute in <${tag}> at offset ${at}`;
      if (attributes.has(attr)) return `attribute "${attr}" repeated in <${tag}>`;
      attributes.add(attr);
      at = skipSpace(at + attr.length);
      if (xml[at] !== '=') return `attribute "${attr}" of <${tag}> has no value`;
      at = skipSpace(at + 1);
      const quote = xml[at];
      if (quote !== '"' && quote !== "'") return `attribute "${attr}" of <${tag}> is not quoted`;
      const close = xml.indexOf(quote, at + 1);
      if (close === -1) return `attribute "${attr}" of <${tag}> is not terminated`;
      const value = xml.slice(at + 1, close);
      if (value.includes('<')) return `"<" in the value of attribute "${attr}" of <${tag}>`;
      if (BAD_ENTITY.test(value)) return `a bare "&" or an unknown entity in attribute "${attr}" of <${tag}>`;
      at = close + 1;
    }
    rootSeen = true;
    if (xml.startsWith('/>', at)) i = at + 2;
    else {
      stack.push(tag);
      i = at + 1;
    }
  }
  if (stack.length > 0) return `<${stack.at(-1)!}> is never closed`;
  return rootSeen ? undefined : 'no root element';
}
