// Where each character of a scalar's value was written, for every YAML scalar style: what
// places a problem inside a block scalar, a folded line or an escape on its own line and column.
import { parseDocument, type Scalar } from 'yaml';
import { describe, expect, it } from 'vitest';
import { textRange } from '../src/recipe/context.js';
import { scalarSourceMap } from '../src/recipe/scalar-source.js';

/** The scalar at `v:` in `text`, its source and its value. */
function scalar(text: string): { start: number; end: number; value: string } {
  const doc = parseDocument(text);
  expect(doc.errors).toEqual([]);
  const node = doc.get('v', true) as Scalar<string>;
  return { start: node.range![0], end: node.range![1], value: node.value };
}

/** The source text underlined for `piece`'s `nth` occurrence in the value at `v:`. */
function located(text: string, piece: string, nth = 0): string {
  const { start, end, value } = scalar(text);
  let offset = value.indexOf(piece);
  for (let k = 0; k < nth; k++) offset = value.indexOf(piece, offset + 1);
  const range = textRange(text, { start, end }, value, offset, piece.length);
  return text.slice(range.start, range.end);
}

/** `line:column` of `piece`'s `nth` occurrence, for pieces whose text appears more than once. */
function position(text: string, piece: string, nth = 0): string {
  const { start, end, value } = scalar(text);
  let offset = value.indexOf(piece);
  for (let k = 0; k < nth; k++) offset = value.indexOf(piece, offset + 1);
  const at = textRange(text, { start, end }, value, offset, piece.length).start;
  const before = text.slice(0, at).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

describe('scalar source maps', () => {
  it('places each occurrence of a repeated piece in a folded block scalar', () => {
    const text = 'v: >-\n  Keep the pose of ${{ vars.who }} and\n  the hair of ${{ vars.who }}.\n';
    expect(position(text, 'vars.who', 0)).toBe('2:24');
    expect(position(text, 'vars.who', 1)).toBe('3:19');
    expect(located(text, 'vars.who', 1)).toBe('vars.who');
  });

  it('reads literal scalars with indentation and chomping indicators', () => {
    const text = 'v: |+2\n    more\n  x ${{ a == == 2 }}\n\nz: 1\n';
    expect(scalar(text).value).toBe('  more\nx ${{ a == == 2 }}\n\n');
    expect(position(text, '==', 1)).toBe('3:14');
    expect(position(text, 'more')).toBe('2:5');
  });

  it('decodes escapes and line continuations in double-quoted scalars', () => {
    const text = 'v: "tab\\there \\u00e9 \\\n   ${{ x) }}\n\n   last ${{ x }}"\n';
    expect(located(text, ')')).toBe(')');
    expect(position(text, ')')).toBe('2:9');
    expect(located(text, '\t')).toBe('\\t');
    expect(located(text, 'é')).toBe('\\u00e9');
    expect(position(text, '${{ x }}')).toBe('4:9');
  });

  it("reads '' in single-quoted scalars and folds plain multi-line ones", () => {
    expect(located("v: 'it''s ${{ a }}\n  and ${{ a }}'\n", '${{ a }}', 1)).toBe('${{ a }}');
    expect(position("v: 'it''s ${{ a }}\n  and ${{ a }}'\n", '${{ a }}', 0)).toBe('1:11');
    expect(position('v: plain ${{ a }}\n  over ${{ a }}\n', '${{ a }}', 1)).toBe('2:8');
  });

  it('ends a piece that spans a folded line break where its last character was written', () => {
    const text = 'v: >\n  ${{ vars\n  .who }}\n';
    expect(located(text, 'vars .who')).toBe('vars\n  .who');
  });

  it('keeps single-line plain and quoted scalars exactly as before', () => {
    expect(located('v: "a ${{ b }}"\n', 'b')).toBe('b');
    expect(located('v: a ${{ b }}\n', '${{ b }}')).toBe('${{ b }}');
  });

  it('gives back the value of any scalar it maps, each character from its own source', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <T>(list: readonly T[]): T => list[random(list.length)]!;
    const words = ['a', 'bc', '${{ x }}', ' ', '  ', '\t', 'é', '😀', "'", '"', '\\', '#'];
    let mapped = 0;
    for (let t = 0; t < 1000; t++) {
      const lines = Array.from({ length: 1 + random(4) }, () =>
        Array.from({ length: 1 + random(3) }, () => pick(words)).join(''),
      );
      const style = pick(['|', '>', '"', "'"]);
      const indent = pick(['    ', '     ']);
      let text: string;
      if (style === '"') {
        const body = lines
          .map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))
          .join(pick(['\n' + indent, '\\\n' + indent, '\n\n' + indent, ' \n' + indent]));
        text = `k:\n  v: "${body}"\n`;
      } else if (style === "'") {
        const body = lines.map((l) => l.replace(/'/g, "''")).join(pick(['\n' + indent, '\n\n' + indent]));
        text = `k:\n  v: '${body}'\n`;
      } else {
        const header = style + pick(['', '-', '+', '2', '+1']);
        text = `k:\n  v: ${header}\n${lines.map((l) => `${indent}${pick(['', ' '])}${l}`).join('\n')}\n\nz: 1\n`;
      }
      if (random(3) === 0) text = text.replace(/\n/g, '\r\n');
      const doc = parseDocument(text);
      const node = (doc.get('k', true) as { get?: (k: string, n: true) => unknown } | undefined)?.get?.(
        'v',
        true,
      ) as Scalar<unknown> | undefined;
      if (doc.errors.length > 0 || !node || typeof node.value !== 'string' || node.value.trim() === '')
        continue;
      const raw = text.slice(node.range![0], node.range![1]);
      const map = scalarSourceMap(raw, node.value);
      expect(map, JSON.stringify(raw)).toBeDefined();
      mapped++;
      for (let i = 0; i < node.value.length; i++) {
        const c = node.value.charAt(i);
        const written = raw.slice(map!.starts[i], map!.ends[i]);
        const folded = (c === ' ' || c === '\n') && /^\r?\n?$/.test(written) && written !== '';
        const escaped = written.startsWith('\\') || written === "''" || /[\ud800-\udfff]/.test(c);
        if (!folded && !escaped) expect(written, `${JSON.stringify(raw)} at ${i}`).toBe(c);
      }
    }
    expect(mapped).toBeGreaterThan(500);
  });

  it('maps nothing it cannot replay exactly', () => {
    expect(scalarSourceMap('|\n  a\n', 'something else')).toBeUndefined();
    expect(scalarSourceMap('"a\\q"', 'a?')).toBeUndefined();
  });
});
