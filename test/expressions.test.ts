/** Unit tests of `${{ }}` templates: parsing, references (for the DAG and the checks), evaluation. */
import { describe, expect, it } from 'vitest';
import {
  evaluateTemplate,
  parseTemplate,
  PreparedScope,
  type ExpressionPart,
  type Template,
  type TemplateParse,
} from '../src/recipe/expressions.js';
import type { JsonValue } from '../src/util/json.js';
import { Catalog } from '../src/catalog/catalog.js';
import { analyzeLoaded } from '../src/recipe/analyze.js';
import { parseRecipeText } from '../src/recipe/load.js';
import type { StageId } from '../src/recipe/types.js';

function template(source: string, contexts?: Parameters<typeof parseTemplate>[1]): Template {
  const parsed: TemplateParse = parseTemplate(source, contexts);
  if (parsed.kind !== 'template') throw new Error(`expected a template, got ${JSON.stringify(parsed)}`);
  return parsed.template;
}

function errors(source: string, contexts?: Parameters<typeof parseTemplate>[1]) {
  const parsed = parseTemplate(source, contexts);
  if (parsed.kind !== 'error') throw new Error(`expected errors, got ${parsed.kind}`);
  return parsed.errors.map((e) => ({ ...e, text: source.slice(e.offset, e.offset + e.length) }));
}

function expressions(t: Template): ExpressionPart[] {
  return t.parts.filter((p): p is ExpressionPart => typeof p !== 'string');
}

function evaluate(
  source: string,
  scope: { vars?: JsonValue; stages?: JsonValue; item?: JsonValue; index?: number },
) {
  return evaluateTemplate(
    template(source),
    new PreparedScope({ vars: scope.vars ?? {}, stages: scope.stages ?? {}, ...scope }),
  );
}

describe('parseTemplate', () => {
  it('strings without "${{" are plain, even with braces in them', () => {
    expect(parseTemplate('https://assets.example.com/a.jpg')).toEqual({ kind: 'plain' });
    expect(parseTemplate('{{ not an expression }} and ${ nor this }')).toEqual({ kind: 'plain' });
  });

  it('a string that is exactly one expression is whole (spaces inside the braces are fine)', () => {
    for (const source of ['${{ vars.still }}', '${{vars.still}}', '${{   vars.still }}']) {
      const t = template(source);
      expect(t.whole).toBe(true);
      expect(t.parts).toHaveLength(1);
      expect((t.parts[0] as ExpressionPart).text).toBe('vars.still');
    }
  });

  it('spaces around the braces make it text, as in GitHub Actions (format() of the segments)', () => {
    for (const source of ['  ${{ vars.still }}  ', ' ${{ vars.still }}', '${{ vars.still }}\n']) {
      expect(template(source).whole).toBe(false);
    }
  });

  it('text around an expression, or several expressions, is interpolated', () => {
    const t = template('Use ${{ vars.a }} and ${{ vars.b }}.');
    expect(t.whole).toBe(false);
    expect(t.parts.map((p) => (typeof p === 'string' ? p : `<${p.text}>`))).toEqual([
      'Use ',
      '<vars.a>',
      ' and ',
      '<vars.b>',
      '.',
    ]);
    expect(template('${{ vars.a }}${{ vars.b }}').whole).toBe(false);
  });

  it('"}}" inside a string literal does not end the expression', () => {
    const t = template("${{ format('{0}}}', vars.a) }} tail");
    expect(expressions(t).map((p) => p.text)).toEqual(["format('{0}}}', vars.a)"]);
    expect(t.parts[t.parts.length - 1]).toBe(' tail');
    // '' is an escaped quote inside a literal, not its end.
    expect(expressions(template("${{ format('it''s }} here {0}', vars.a) }}")).map((p) => p.text)).toEqual([
      "format('it''s }} here {0}', vars.a)",
    ]);
  });

  it('records each expression with its offset in the string', () => {
    const source = 'a ${{  vars.x }} b';
    const [part] = expressions(template(source));
    expect(part!.offset).toBe(source.indexOf('vars.x'));
  });
});

describe('references', () => {
  function refs(source: string) {
    return expressions(template(source)).flatMap((p) =>
      p.references.map((r) => ({ ...r, text: source.slice(r.offset, r.offset + r.length) })),
    );
  }

  it('a stage output path, with the offset and length of its text in the string', () => {
    const source = 'image: ${{ stages.face.outputs.images[0] }}';
    expect(refs(source)).toEqual([
      {
        context: 'stages',
        path: ['face', 'outputs', 'images', 0],
        dynamic: false,
        offset: source.indexOf('stages.'),
        length: 'stages.face.outputs.images[0]'.length,
        text: 'stages.face.outputs.images[0]',
      },
    ]);
  });

  it('marks the operands of || that have a default after them', () => {
    const marked = (source: string) => refs(source).map((r) => [r.text, r.defaulted === true]);
    expect(marked("${{ vars.style || 'photoreal' }}")).toEqual([['vars.style', true]]);
    expect(marked("${{ (vars.a) || vars.b || 'x' }}")).toEqual([
      ['vars.a', true],
      ['vars.b', true],
    ]);
    expect(marked("${{ 'x' || vars.mood }}")).toEqual([['vars.mood', false]]);
    expect(marked("${{ vars.a && 'x' || format('{0}', vars.b) }}")).toEqual([
      ['vars.a', false],
      ['vars.b', false],
    ]);
  });

  it('a stage and its results are named in any case, as GitHub Actions reads properties', () => {
    expect(refs('${{ Stages.FACE.Outputs.images[0] }}')).toMatchObject([
      { context: 'stages', path: ['face', 'outputs', 'images', 0] },
    ]);
    expect(refs("${{ stages['Face'].FILES[0] }}")).toMatchObject([{ path: ['face', 'files', 0] }]);
  });

  it('validate reads a stage and its output fields in any case too (no unknown-output)', () => {
    const text = `version: 1
name: anycase
consent:
  subjects: { ana: { release: REL-1 } }
  assets: [{ match: "https://assets.example.com/**", rights: owned }]
  disclosure: { label: AI-generated }
stages:
  a:
    model: openai/gpt-image-2/edit
    subjects: [ana]
    input: { prompt: edit, images: [https://assets.example.com/ana.jpg, https://assets.example.com/b.jpg] }
  b:
    model: openai/gpt-image-2/edit
    subjects: [ana]
    input:
      prompt: edit
      images: ["\${{ Stages.A.Outputs.IMAGES[0] }}", https://assets.example.com/ana.jpg]
`;
    const analysis = analyzeLoaded(parseRecipeText('anycase.yaml', text), {
      catalog: Catalog.load(),
      cwd: '/tmp',
    });
    expect(analysis.diagnostics.map((d) => d.message)).toEqual([]);
    expect(analysis.recipe?.stages.get('b' as StageId)?.dependsOn).toEqual(['a']);
  });

  it("quoted keys and '*' are part of the static path", () => {
    expect(refs("${{ stages.face.outputs['images'][1] }}")).toMatchObject([
      { context: 'stages', path: ['face', 'outputs', 'images', 1], text: "stages.face.outputs['images'][1]" },
    ]);
    expect(refs('${{ stages.face.outputs.images.* }}')).toMatchObject([
      { path: ['face', 'outputs', 'images', { star: true }] },
    ]);
  });

  it('a computed index stops the static path, marks it dynamic, and is itself a reference', () => {
    expect(refs('${{ stages[vars.which].outputs.images[0] }}')).toMatchObject([
      { context: 'stages', path: [], dynamic: true },
      { context: 'vars', path: ['which'], dynamic: false, text: 'vars.which' },
    ]);
  });

  it('every context access in operators and function arguments, in several expressions', () => {
    const found = refs("x ${{ format('{0}-{1}', vars.a, stages.b.files[0]) }} y ${{ vars.c || vars.d }}");
    expect(found.map((r) => `${r.context}:${r.text}`)).toEqual([
      'vars:vars.a',
      'stages:stages.b.files[0]',
      'vars:vars.c',
      'vars:vars.d',
    ]);
  });

  it('offsets are right on a line after a line break inside an expression', () => {
    const source = '${{ format(\n  vars.a) }}';
    expect(refs(source)).toMatchObject([{ text: 'vars.a' }]);
  });
});

describe('syntax errors', () => {
  it('an unclosed "${{" covers the rest of the string', () => {
    expect(errors('x ${{ vars.a')).toEqual([
      {
        code: 'expression-syntax',
        message: 'unclosed "${{": add "}}" to end the expression',
        offset: 2,
        length: 10,
        text: '${{ vars.a',
      },
    ]);
  });

  it('a bad token is pointed at exactly', () => {
    expect(errors('${{ vars.a ; vars.b }}')).toMatchObject([
      { message: 'invalid expression: unexpected ";"', text: ';' },
    ]);
    expect(errors('${{ "text" }}')).toMatchObject([
      {
        message: "invalid expression: strings in expressions take single quotes; write 'text'",
        text: '"text"',
      },
    ]);
  });

  it('an unclosed string literal is named as such, not as an unclosed "${{"', () => {
    expect(errors("${{ format('abc, vars.a) }}")).toMatchObject([
      {
        message:
          "invalid expression: this string is never closed; end it with ' (write '' for a quote inside it)",
        text: "'",
      },
    ]);
  });

  it('an empty expression, and one that ends too early', () => {
    expect(errors('${{ }}')).toMatchObject([{ message: 'empty expression "${{ }}"', text: '${{ }}' }]);
    expect(errors('${{ vars.a == }}')).toMatchObject([
      { message: 'invalid expression: it ends too early; something is missing after this', text: '==' },
    ]);
  });

  it('unknown contexts and functions', () => {
    expect(errors('${{ env.HOME }}')).toMatchObject([
      {
        code: 'unknown-context',
        message:
          'unknown context "env" in expression; recipes can use vars, stages, item, index (declare the value under vars and override it with --set NAME=VALUE)',
        text: 'env',
      },
    ]);
    expect(errors('${{ upper(vars.a) }}')).toMatchObject([{ code: 'expression-syntax', text: 'upper' }]);
  });

  it('item and index exist only where the caller allows them (a foreach stage)', () => {
    expect(errors('${{ item }}', ['vars', 'stages'])).toMatchObject([
      {
        code: 'unknown-context',
        message: '"item" is only available in the input of a stage with foreach',
        text: 'item',
      },
    ]);
    expect(template('${{ item }}', ['vars', 'stages', 'item', 'index']).whole).toBe(true);
  });

  it("a format() string that needs more arguments than the call has, whatever they are (GitHub's own rules)", () => {
    // A stage output as the argument: evaluation cannot run before the run, the check still can.
    expect(errors("${{ format('{0} and {1}', stages.a.outputs.images[0]) }}")).toMatchObject([
      {
        code: 'expression-syntax',
        message:
          "invalid expression: the format string '{0} and {1}' uses more placeholders than the 1 argument after it ({0} is the first); add the missing arguments or remove the extra placeholders",
        text: "'{0} and {1}'",
      },
    ]);
    expect(errors("x ${{ join(FORMAT('{0', vars.a), ',') }}")).toMatchObject([
      { code: 'expression-syntax', text: "'{0'" },
    ]);
    expect(errors("${{ format('{1}', vars.a) }}")[0]?.message).toContain('the 1 argument after it');
    // Escaped braces, repeated placeholders and a computed format string are fine.
    expect(template("${{ format('{{x}} {0} {0}', stages.a.outputs.images[0]) }}").whole).toBe(true);
    expect(template('${{ format(vars.f, stages.a.outputs.images[0]) }}').whole).toBe(true);
  });

  it('every broken expression of a string is reported', () => {
    expect(errors('${{ env.A }} and ${{ vars.b ; }}').map((e) => e.text)).toEqual(['env', ';']);
  });
});

describe('evaluateTemplate', () => {
  const vars = { still: 'https://a.example/x.jpg', scenes: ['a.jpg', 'b.jpg'], n: 3, on: true, none: null };

  it('a whole expression keeps its type: a list stays a list', () => {
    expect(evaluate('${{ vars.scenes }}', { vars })).toEqual({ ok: true, value: ['a.jpg', 'b.jpg'] });
    expect(evaluate('${{ vars.n }}', { vars })).toEqual({ ok: true, value: 3 });
    expect(evaluate('${{ vars.on }}', { vars })).toEqual({ ok: true, value: true });
    expect(
      evaluate('${{ stages.face.outputs }}', { stages: { face: { outputs: { images: ['u'] } } } }),
    ).toEqual({
      ok: true,
      value: { images: ['u'] },
    });
  });

  it('interpolation makes text of scalars', () => {
    expect(evaluate('n=${{ vars.n }} on=${{ vars.on }} none=${{ vars.none }}!', { vars })).toEqual({
      ok: true,
      value: 'n=3 on=true none=!',
    });
  });

  it('interpolating a list or a mapping is an error that says what to do', () => {
    expect(evaluate('all: ${{ vars.scenes }}', { vars })).toEqual({
      ok: false,
      message:
        '"${{ vars.scenes }}" gives a list, which cannot be embedded in text; make the expression the whole value, or use toJSON(...)',
      // Where the offending expression is in the template, for the diagnostic's underline.
      offset: 'all: ${{ '.length,
      length: 'vars.scenes'.length,
    });
    expect(evaluate('x ${{ stages.face }}', { stages: { face: { outputs: {} } } })).toMatchObject({
      ok: false,
      message: expect.stringContaining('gives a mapping') as unknown,
    });
    // toJSON pretty-prints, as in GitHub Actions.
    expect(evaluate('all: ${{ toJSON(vars.scenes) }}', { vars })).toEqual({
      ok: true,
      value: 'all: [\n  "a.jpg",\n  "b.jpg"\n]',
    });
    expect(evaluate("all: ${{ join(vars.scenes, ', ') }}", { vars })).toEqual({
      ok: true,
      value: 'all: a.jpg, b.jpg',
    });
  });

  it("the library's evaluation errors are said in the user's terms, with a fix", () => {
    const message = (source: string, scope: { vars?: JsonValue } = {}) => {
      const result = evaluate(source, scope);
      return result.ok ? undefined : result.message;
    };
    expect(message("${{ fromJSON('') }}")).toBe(
      `cannot evaluate "\${{ fromJSON('') }}": fromJSON was given empty text; give it JSON text ('["a.jpg", "b.jpg"]'), or a default for when it is empty: fromJSON(… || '[]')`,
    );
    // Inside an index, the error is the index's own.
    expect(message("${{ vars.l[fromJSON('')] }}", { vars: { l: [1] } })).toContain(
      'fromJSON was given empty text',
    );
    expect(message('${{ format(vars.cfg, 1) }}', { vars: { cfg: '{"size":"auto"}' } })).toBe(
      `cannot evaluate "\${{ format(vars.cfg, 1) }}": the format string '{"size":"auto"}' is not valid: placeholders are {0}, {1}, …, and a literal brace is written {{ or }}; to insert text that has braces, pass it as an argument: format('{0}', …)`,
    );
    expect(message('${{ format(vars.f, 1) }}', { vars: { f: '{0} {1}' } })).toContain(
      "the format string '{0} {1}' uses more placeholders than the arguments after it",
    );
    expect(message('${{ fromJSON(vars.s) }}', { vars: { s: 'a.jpg' } })).toMatch(
      /fromJSON was given text that is not JSON \(.*\); give it JSON text .*, or write the var as a YAML list and drop fromJSON$/,
    );
    // A mapping read from JSON text is not a list to move into YAML.
    expect(message('${{ fromJSON(vars.cfg).size }}', { vars: { cfg: '{size: auto}' } })).not.toContain(
      'YAML list',
    );
    expect(message("${{ case(vars.m, 'a', 'b') }}", { vars: { m: 'x' } })).toContain(
      'case() takes conditions that are true or false',
    );
  });

  it('indexes, item and index of a fan-out', () => {
    const stages = { face: { outputs: { images: ['one', 'two'] }, files: ['face/0.png'] } };
    expect(evaluate('${{ stages.face.outputs.images[1] }}', { stages })).toEqual({ ok: true, value: 'two' });
    expect(evaluate('${{ stages.face.files[0] }}', { stages })).toEqual({ ok: true, value: 'face/0.png' });
    expect(evaluate('${{ item }}#${{ index }}', { item: 'b.jpg', index: 1 })).toEqual({
      ok: true,
      value: 'b.jpg#1',
    });
  });

  it('missing values are null, as in GitHub Actions', () => {
    expect(evaluate('${{ vars.nope }}', { vars })).toEqual({ ok: true, value: null });
    expect(evaluate('${{ stages.face.outputs.images[0] }}', {})).toEqual({ ok: true, value: null });
  });

  it('a scope with a very large list or mapping is converted without overflowing the stack', () => {
    const big = Array.from({ length: 200_000 }, (_, i) => i);
    const many = Object.fromEntries(big.map((i) => [`v${i}`, i]));
    expect(evaluate('${{ vars.list[199999] }}', { vars: { ...many, list: big } })).toEqual({
      ok: true,
      value: 199_999,
    });
  });
});
