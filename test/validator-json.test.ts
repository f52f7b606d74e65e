/**
 * `validate --format json`: the documented array (docs/diagnostics.md) for editors and CI,
 * compared field by field for a recipe with problems of several kinds, a warning, and a file
 * that does not exist (which has no position).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const acceptance = 'test/fixtures/invalid/acceptance.yaml';
const typo = 'test/fixtures/invalid/unknown-model-field.yaml';
const missing = 'test/fixtures/invalid/no-such-recipe.yaml';

const FIELDS = ['file', 'line', 'column', 'endLine', 'endColumn', 'severity', 'code', 'message', 'related'];

describe('validate --format json', () => {
  it('prints every diagnostic as one JSON array on stdout, nothing on stderr', async () => {
    const result = await runCli(['validate', '--format', 'json', acceptance, typo, missing], { cwd: root });
    expect(result.code).toBe(65);
    expect(result.stderr).toBe('');
    const all = JSON.parse(result.stdout) as Record<string, unknown>[];
    for (const d of all) expect(Object.keys(d)).toEqual(FIELDS);
    // These fixtures have no consent block, so each face-swap recipe also gets that refusal
    // (its exact text is tested in test/consent.test.ts); the rest is compared in full.
    expect(
      all
        .filter((d) => d['code'] === 'consent-missing')
        .map((d) => [d['file'], d['line'], d['column'], d['severity']]),
    ).toEqual([
      [acceptance, 8, 3, 'error'],
      [typo, 4, 3, 'error'],
    ]);
    const diagnostics = all.filter((d) => d['code'] !== 'consent-missing');
    expect(diagnostics).toEqual([
      {
        file: acceptance,
        line: 8,
        column: 3,
        endLine: 8,
        endColumn: 7,
        severity: 'error',
        code: 'dependency-cycle',
        message: 'dependency cycle: face -> motion -> face; a stage cannot depend on its own results',
        related: [
          {
            file: acceptance,
            line: 12,
            column: 18,
            endLine: 12,
            endColumn: 45,
            message: '"face" depends on "motion" here',
          },
          {
            file: acceptance,
            line: 17,
            column: 32,
            endLine: 17,
            endColumn: 61,
            message: '"motion" depends on "face" here',
          },
        ],
      },
      {
        file: acceptance,
        line: 13,
        column: 5,
        endLine: 13,
        endColumn: 12,
        severity: 'error',
        code: 'unknown-key',
        message: 'unknown key "retires" in stage "face"; did you mean "retries"?',
        related: [],
      },
      {
        file: acceptance,
        line: 15,
        column: 12,
        endLine: 15,
        endColumn: 45,
        severity: 'error',
        code: 'unknown-model',
        message:
          'unknown model "kling/kling-2-6/motion-contrl-pro" in stage "motion"; did you mean "kling/kling-2-6/motion-control-pro"?',
        related: [],
      },
      {
        file: acceptance,
        line: 21,
        column: 5,
        endLine: 21,
        endColumn: 10,
        severity: 'error',
        code: 'model-input',
        message:
          'the input of stage "hero" is missing the required field "images" of openai/gpt-image-2/edit',
        related: [],
      },
      {
        file: missing,
        line: null,
        column: null,
        endLine: null,
        endColumn: null,
        severity: 'error',
        code: 'file-not-found',
        message: `no such file: ${missing}`,
        related: [],
      },
      {
        file: typo,
        line: 6,
        column: 5,
        endLine: 6,
        endColumn: 10,
        severity: 'error',
        code: 'model-input',
        message:
          'the input of stage "face" is missing the required field "prompt" of blackforestlabs/flux-1-kontext/pro/edit',
        related: [],
      },
      {
        file: typo,
        line: 7,
        column: 7,
        endLine: 7,
        endColumn: 12,
        severity: 'warning',
        code: 'unknown-model-field',
        message:
          'blackforestlabs/flux-1-kontext/pro/edit does not document the input field "promt" (it is sent as written); did you mean "prompt"?',
        related: [],
      },
    ]);
  });

  it('endLine/endColumn point just past the underlined text, as the text format underlines it', async () => {
    const json = await runCli(['validate', '--format', 'json', acceptance], { cwd: root });
    const text = await runCli(['validate', acceptance], { cwd: root });
    const first = (JSON.parse(json.stdout) as { column: number; endColumn: number }[])[0]!;
    const underline = text.stderr.split('\n')[2]!;
    expect(underline.indexOf('~') - underline.indexOf('|') - 1).toBe(first.column);
    expect(underline.trimEnd().length - underline.indexOf('~')).toBe(first.endColumn - first.column);
  });

  it('a valid recipe gives an empty array and exit 0', async () => {
    const result = await runCli(['validate', '--format', 'json', 'recipes/kontext-to-kling.yaml'], {
      cwd: root,
    });
    expect(result).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
  });

  it('a missing file alone exits 66', async () => {
    const result = await runCli(['validate', '--format', 'json', missing], { cwd: root });
    expect(result.code).toBe(66);
    expect((JSON.parse(result.stdout) as { code: string }[]).map((d) => d.code)).toEqual(['file-not-found']);
  });
});
