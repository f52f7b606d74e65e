/**
 * Where each character of a YAML scalar's value was written. A block scalar drops its
 * indentation and folds lines, a quoted one folds lines and decodes escapes, so an offset in
 * the value is not an offset in the text: this replays the YAML 1.2 rules over the scalar's
 * source and records, for every character of the value, the source text that produced it.
 */

/** Per character of a scalar's value, the half-open source offsets (relative to the scalar's text) that produced it. */
export interface ScalarSourceMap {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

/**
 * Maps `value` back onto `raw`, the scalar's source text from its first character (a quote,
 * `|`, `>` or the first character of a plain scalar) to its end. Undefined when replaying the
 * source does not give `value` exactly (a style this does not model, a value the caller took
 * from elsewhere): a wrong place is worse than a vague one.
 */
export function scalarSourceMap(raw: string, value: string): ScalarSourceMap | undefined {
  const first = raw.charAt(0);
  let built: Built | undefined;
  if (first === '|' || first === '>') built = blockScalar(raw, value);
  else if (first === '"' || first === "'") {
    if (raw.length < 2 || raw.charAt(raw.length - 1) !== first) return undefined;
    built = flowScalar(raw, 1, raw.length - 1, first === '"' ? 'double' : 'single');
  } else built = flowScalar(raw, 0, raw.length, 'plain');
  if (!built || built.text.join('') !== value) return undefined;
  return { starts: built.starts, ends: built.ends };
}

class Built {
  readonly text: string[] = [];
  readonly starts: number[] = [];
  readonly ends: number[] = [];

  push(text: string, start: number, end: number): void {
    // A character outside the BMP is two UTF-16 units of the value, both from the same source.
    for (let k = 0; k < text.length; k++) {
      this.text.push(text.charAt(k));
      this.starts.push(start);
      this.ends.push(end);
    }
  }
}

/** One character of a flow scalar's line, as written. */
interface Item {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** Unescaped white space, which folding trims at the end of a line. */
  readonly white: boolean;
}

interface FlowLine {
  readonly items: Item[];
  /** Offset and length of the line break that ends the line; -1 for the last line. */
  breakAt: number;
  breakLength: number;
  /** Ends with `\` before the break (double-quoted only): the break is dropped, not folded. */
  escaped: boolean;
}

/** Length of the line break at `i`, or 0. */
function breakLength(raw: string, i: number): number {
  const c = raw.charCodeAt(i);
  if (c === 10) return 1;
  if (c === 13) return raw.charCodeAt(i + 1) === 10 ? 2 : 1;
  return 0;
}

const isWhite = (c: string): boolean => c === ' ' || c === '\t';

/** Plain, single- and double-quoted scalars: escapes, then line folding (YAML 1.2 §7.3, §6.5). */
function flowScalar(
  raw: string,
  from: number,
  to: number,
  style: 'plain' | 'single' | 'double',
): Built | undefined {
  const lines: FlowLine[] = [{ items: [], breakAt: -1, breakLength: 0, escaped: false }];
  let line = lines[0]!;
  let i = from;
  const endLine = (at: number, escaped: boolean): void => {
    const length = breakLength(raw, at);
    line.breakAt = at;
    line.breakLength = length;
    line.escaped = escaped;
    line = { items: [], breakAt: -1, breakLength: 0, escaped: false };
    lines.push(line);
    i = at + length;
    // A continuation line's indentation is not part of the value.
    while (i < to && isWhite(raw.charAt(i))) i++;
  };
  while (i < to) {
    const c = raw.charAt(i);
    if (breakLength(raw, i) > 0) {
      endLine(i, false);
      continue;
    }
    if (style === 'double' && c === '\\') {
      if (breakLength(raw, i + 1) > 0) {
        endLine(i + 1, true);
        continue;
      }
      const escape = decodeEscape(raw, i);
      if (!escape) return undefined;
      line.items.push({ text: escape.text, start: i, end: i + escape.length, white: false });
      i += escape.length;
      continue;
    }
    if (style === 'single' && c === "'" && raw.charAt(i + 1) === "'") {
      line.items.push({ text: "'", start: i, end: i + 2, white: false });
      i += 2;
      continue;
    }
    line.items.push({ text: c, start: i, end: i + 1, white: isWhite(c) });
    i++;
  }
  // White space before an unescaped break is folded away with it.
  for (const l of lines) {
    if (l.breakAt < 0 || l.escaped) continue;
    while (l.items.length > 0 && l.items[l.items.length - 1]!.white) l.items.pop();
  }
  const out = new Built();
  const emit = (l: FlowLine) => {
    for (const item of l.items) out.push(item.text, item.start, item.end);
  };
  emit(lines[0]!);
  let last = 0;
  for (let k = 1; k < lines.length; k++) {
    const l = lines[k]!;
    // Lines between the first and the last with nothing on them are empty lines: each one is
    // a line feed, and the break before them is dropped.
    if (l.items.length === 0 && k < lines.length - 1) continue;
    const before = lines[last]!;
    const empties = lines.slice(last + 1, k);
    if (empties.length === 0) {
      if (!before.escaped) out.push(' ', before.breakAt, before.breakAt + before.breakLength);
    } else {
      for (const e of empties) out.push('\n', e.breakAt, e.breakAt + e.breakLength);
    }
    emit(l);
    last = k;
  }
  return out;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  '\t': '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\x85',
  _: '\xa0',
  L: '\u2028',
  P: '\u2029',
};

/** A double-quoted escape at `i` (the backslash): the text it stands for and its length. */
function decodeEscape(raw: string, i: number): { text: string; length: number } | undefined {
  const c = raw.charAt(i + 1);
  const simple = SIMPLE_ESCAPES[c];
  if (simple !== undefined) return { text: simple, length: 2 };
  const digits = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
  if (digits === 0) return undefined;
  const hex = raw.slice(i + 2, i + 2 + digits);
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== digits) return undefined;
  const code = parseInt(hex, 16);
  if (code > 0x10ffff) return undefined;
  return { text: String.fromCodePoint(code), length: 2 + digits };
}

/** One line of a block scalar's content, its indentation removed. */
interface BlockLine {
  /** Offset of the first character after the indentation. */
  readonly start: number;
  readonly text: string;
  readonly breakAt: number;
  readonly breakLength: number;
}

/** Literal (`|`) and folded (`>`) scalars, with their chomping and indentation indicators (§8.1). */
function blockScalar(raw: string, value: string): Built | undefined {
  let i = 1;
  let chomp: 'clip' | 'strip' | 'keep' = 'clip';
  let indicator = 0;
  for (; i < raw.length && /[-+1-9]/.test(raw.charAt(i)); i++) {
    const c = raw.charAt(i);
    if (c === '-') chomp = 'strip';
    else if (c === '+') chomp = 'keep';
    else indicator = Number(c);
  }
  while (i < raw.length && breakLength(raw, i) === 0) i++; // white space and a comment
  i += breakLength(raw, i);
  const body = i;
  if (indicator === 0) return blockWith(raw, body, autoIndent(raw, body), chomp, raw.charAt(0) === '>');
  // The indicator counts from the parent's indentation, which the scalar's text does not show:
  // try each indentation the first lines allow and keep the one that gives the value.
  for (let indent = indicator; indent <= indicator + autoIndent(raw, body); indent++) {
    const built = blockWith(raw, body, indent, chomp, raw.charAt(0) === '>');
    if (built && built.text.join('') === value) return built;
  }
  return undefined;
}

/** The indentation of the first line with text on it (§8.1.1.1). */
function autoIndent(raw: string, from: number): number {
  let i = from;
  while (i < raw.length) {
    let spaces = 0;
    while (raw.charAt(i + spaces) === ' ') spaces++;
    const after = i + spaces;
    const length = breakLength(raw, after);
    if (after >= raw.length) return spaces;
    if (length === 0) return spaces;
    i = after + length;
  }
  return 0;
}

function blockWith(
  raw: string,
  from: number,
  indent: number,
  chomp: 'clip' | 'strip' | 'keep',
  folded: boolean,
): Built | undefined {
  const lines: BlockLine[] = [];
  let i = from;
  while (i < raw.length) {
    let lineEnd = i;
    while (lineEnd < raw.length && breakLength(raw, lineEnd) === 0) lineEnd++;
    let spaces = 0;
    while (spaces < indent && raw.charAt(i + spaces) === ' ') spaces++;
    const text = raw.slice(Math.min(i + spaces, lineEnd), lineEnd);
    // A less indented line with text on it ends the scalar.
    if (spaces < indent && text.trim() !== '') break;
    const length = breakLength(raw, lineEnd);
    lines.push({
      start: i + spaces,
      text: spaces < indent ? '' : text,
      breakAt: length > 0 ? lineEnd : -1,
      breakLength: length,
    });
    i = lineEnd + length;
  }
  let lastText = -1;
  lines.forEach((l, k) => {
    if (l.text !== '') lastText = k;
  });
  const out = new Built();
  const pushText = (l: BlockLine) => {
    for (let k = 0; k < l.text.length; k++) out.push(l.text.charAt(k), l.start + k, l.start + k + 1);
  };
  const pushBreak = (l: BlockLine) => {
    if (l.breakAt >= 0) out.push('\n', l.breakAt, l.breakAt + l.breakLength);
  };
  const spaced = (l: BlockLine) => isWhite(l.text.charAt(0));
  let previous: BlockLine | undefined;
  let empties: BlockLine[] = [];
  for (let k = 0; k <= lastText; k++) {
    const l = lines[k]!;
    if (l.text === '') {
      empties.push(l);
      continue;
    }
    if (previous === undefined) {
      for (const e of empties) pushBreak(e);
    } else if (!folded || spaced(previous) || spaced(l)) {
      pushBreak(previous);
      for (const e of empties) pushBreak(e);
    } else if (empties.length === 0) {
      out.push(' ', previous.breakAt, previous.breakAt + previous.breakLength);
    } else {
      for (const e of empties) pushBreak(e);
    }
    pushText(l);
    previous = l;
    empties = [];
  }
  if (previous === undefined || chomp === 'strip') return out;
  pushBreak(previous);
  if (chomp === 'keep') for (const l of lines.slice(lastText + 1)) pushBreak(l);
  return out;
}
