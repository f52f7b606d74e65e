// The loader builds the recipe's data in the same walk that checks its shape (src/recipe/load.ts)
// instead of calling yaml's `doc.toJS()`. Whatever the YAML, the data must be what the library
// would have built.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import { parseRecipeText } from '../src/recipe/load.js';

/** Same data: own keys in the same order, same values (Object.is), plain prototypes. */
function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => same(v, b[i]));
  if (a !== null && typeof a === 'object') {
    if (b === null || typeof b !== 'object' || Array.isArray(b)) return false;
    if (Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype)
      return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every(
        (k, i) =>
          k === kb[i] &&
          same(Object.getOwnPropertyDescriptor(a, k)?.value, Object.getOwnPropertyDescriptor(b, k)?.value),
      )
    );
  }
  return Object.is(a, b);
}

function both(text: string): { ours: unknown; library: unknown } {
  const loaded = parseRecipeText('t.yaml', text);
  expect(loaded.diagnostics).toEqual([]);
  const library: unknown = parseDocument(text, { uniqueKeys: false, strict: true, stringKeys: false }).toJS({
    maxAliasCount: 1000,
  });
  return { ours: loaded.data, library };
}

describe('recipe data built by the loader', () => {
  it.each([
    [
      'scalars of every core type',
      'a: 1\nb: 0x1F\nc: 0o17\nd: 1.5e3\ne: .inf\nf: true\ng: ~\nh: "1"\ni: text\nj: 12345678901234567890\n',
    ],
    ['empty values and null keys', 'a:\nb: []\nc: {}\n~: null key\nd: { ? : empty key }\n'],
    ['keys that are not strings in YAML', '1: one\ntrue: yes\n1.5: x\n'],
    [
      'keys that name Object.prototype members',
      '__proto__: { polluted: true }\nconstructor: c\ntoString: t\nhasOwnProperty: h\n',
    ],
    [
      'block and flow collections nested',
      'a:\n  - [1, 2, { b: [c, d] }]\n  - e: |\n      line one\n      line two\n    f: >-\n      folded\n      text\n',
    ],
    ['core tags on collections and scalars', 'a: !!map { b: !!str 1 }\nc: !!seq [!!int "2"]\n'],
    ['anchors and aliases (built by the library)', 'a: &x { b: [1, 2] }\nc: *x\nd: [*x, *x]\n'],
    ['merge keys in a YAML 1.1 document', '%YAML 1.1\n---\nbase: &b { x: 1 }\nderived:\n  <<: *b\n  z: 2\n'],
    ['a merge-looking key in YAML 1.2 is a plain key', '<<: { x: 1 }\ny: 2\n'],
  ])('%s', (_, text) => {
    const { ours, library } = both(text);
    expect(ours).toEqual(library);
    expect(same(ours, library)).toBe(true);
  });

  it('says that YAML 1.1 reads a key such as on, yes or y as a boolean (a stage "on" would be "true")', () => {
    const loaded = parseRecipeText('t.yaml', '%YAML 1.1\n---\nstages:\n  on: {}\n  n: {}\n  "off": {}\n');
    expect(loaded.diagnostics.map((d) => d.message)).toEqual([
      'the key on is read as the boolean true, not as a name: YAML 1.1 (the %YAML 1.1 header) reads on/off/yes/no/y/n as booleans; quote it: "on":',
      'the key n is read as the boolean false, not as a name: YAML 1.1 (the %YAML 1.1 header) reads on/off/yes/no/y/n as booleans; quote it: "n":',
    ]);
  });

  it('matches doc.toJS() on generated documents', () => {
    const key = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', '', 'null', '1', 'true'));
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null)),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(key, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), fc.boolean(), (data, flow) => {
        const text = stringify(data, flow ? { collectionStyle: 'flow' } : {});
        const { ours, library } = both(text);
        expect(ours).toEqual(library);
        expect(same(ours, library)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
