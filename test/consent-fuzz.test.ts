/**
 * Hostile input for the policy rules (the loader's own fuzzing is in fuzz-validator.test.ts):
 * generated consent blocks, subject lists, globs and URLs of every shape must end as
 * diagnostics with valid locations, never an exception; the prompt screen must never throw and
 * always point inside the text it was given.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.js';
import { screenPrompt } from '../src/policy/prompt-screen.js';
import { checkSentValue } from '../src/policy/url-policy.js';
import { analyzeLoaded } from '../src/recipe/analyze.js';
import { parseRecipeText } from '../src/recipe/load.js';
import { renderDiagnostic } from '../src/report/diagnostics-text.js';

const catalog = Catalog.load();

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '**',
    '*',
    '[',
    '{a,b',
    '!(x)',
    '../**',
    '/etc/**',
    'https://**',
    'file:///**',
    '\\\\server\\share',
    '',
    ' ',
  ),
);
const url = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.constantFrom(
    'http://[::ffff:127.0.0.1]/a',
    'https://[fe80::1%25eth0]/a',
    'https://0177.0.0.1/a',
    'https://user:@x.example/a',
    'file:',
    'https:',
    'https://',
    'data:,',
    '../../../../etc/passwd',
    'C:\\\\x.jpg',
    'https://xn--nxasmq6b.example/a',
  ),
  text,
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  text,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(text, { maxLength: 3 }),
);

const consent = fc.record(
  {
    subjects: fc.oneof(
      fc.dictionary(
        fc.constantFrom('ana', 'leo', 'x'),
        fc.record(
          {
            release: anyValue,
            images: fc.oneof(fc.array(text, { maxLength: 3 }), anyValue),
            expires: fc.oneof(
              fc.constantFrom('2020-01-01', '2099-12-31', '2027-02-30', '9999-99-99'),
              anyValue,
            ),
          },
          { requiredKeys: [] },
        ),
        { maxKeys: 3 },
      ),
      anyValue,
    ),
    assets: fc.oneof(
      fc.array(fc.record({ match: fc.oneof(text, anyValue), rights: anyValue }, { requiredKeys: [] }), {
        maxLength: 3,
      }),
      anyValue,
    ),
    disclosure: fc.oneof(fc.record({ label: anyValue }, { requiredKeys: [] }), anyValue),
  },
  { requiredKeys: [] },
);

const recipe = fc.record({
  consent: fc.option(fc.oneof(consent, anyValue), { nil: undefined }),
  subjects: fc.option(
    fc.oneof(fc.array(fc.constantFrom('ana', 'leo', 'nobody'), { maxLength: 3 }), anyValue),
    { nil: undefined },
  ),
  image: url,
  scenes: fc.array(url, { maxLength: 3 }),
  prompt: fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 60 }),
    fc.constantFrom('a nude child', 'as a 12-year-old', 'n\u200bude'),
  ),
});

describe('policy rules on hostile recipes', () => {
  it('end as located diagnostics, never an exception', () => {
    fc.assert(
      fc.property(recipe, (r) => {
        const doc: Record<string, unknown> = {
          version: 1,
          name: 'fuzz',
          ...(r.consent !== undefined && { consent: r.consent }),
          stages: {
            face: {
              model: 'google/nano-banana-2/edit',
              ...(r.subjects !== undefined && { subjects: r.subjects }),
              input: { prompt: r.prompt, image_urls: [r.image, ...r.scenes] },
            },
            swap: {
              ...(r.subjects !== undefined && { subjects: r.subjects }),
              swap: { identity: r.image, scene: r.scenes },
            },
          },
        };
        const source = stringify(doc, { lineWidth: 0 });
        const analysis = analyzeLoaded(parseRecipeText('fuzz.yaml', source), { catalog, cwd: '/tmp' });
        for (const d of analysis.diagnostics) {
          for (const place of [d.location, ...(d.related ?? [])]) {
            if (!place?.range) continue;
            expect(place.range.start).toBeGreaterThanOrEqual(0);
            expect(place.range.end).toBeLessThanOrEqual(source.length);
          }
          expect(renderDiagnostic(d)).not.toContain('internal error');
        }
      }),
      { numRuns: 400 },
    );
  });

  it('the URL policy classifies any string without throwing', () => {
    fc.assert(
      fc.property(url, fc.boolean(), (value, allow) => {
        for (const receiver of [
          { kind: 'hosted', model: 'm' },
          { kind: 'local', model: 'm', recipeDir: '/r' },
          { kind: 'unrouted', recipeDir: '/r' },
        ] as const)
          checkSentValue(value, receiver, { allowInsecureLocal: allow });
      }),
      { numRuns: 2000 },
    );
  });

  it('the prompt screen never throws and points inside its text', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.constantFrom('', ' nude', ' as a child', ' 12-year-old'),
        (noise, word) => {
          const prompt = `${noise}${word}`;
          const result = screenPrompt(prompt);
          if (result.refused) {
            expect(result.offset).toBeGreaterThanOrEqual(0);
            expect(result.offset + result.length).toBeLessThanOrEqual(prompt.length);
            expect(result.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
